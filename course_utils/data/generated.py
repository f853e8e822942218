"""Generated image sets: the quick profile's stand-in for every real data set.

Generated images carry a real, learnable signal: every class has its own
colour and stripe orientation, blurred by noise, random brightness and a
random phase, so a small head on top of even a random-init backbone beats
chance, and "accuracy above chance" is a check that can fail.
"""
from __future__ import annotations

import colorsys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from course_utils.errors import CourseError
from course_utils.setup.files import build_once, read_manifest, write_manifest

__all__ = ["DataLayoutError", "build_stand_in", "built_here", "make_images", "manifest", "write_image_folder"]

_KIND = "generated data"  # the manifest of a generated set: the settings it was built with and what was made
_OLD_STAMP = "COURSE_GENERATED.json"  # a generated set's mark up to v0.2.0: enough to rebuild it in place


class DataLayoutError(CourseError, ValueError):
    """Data on disk that does not have the layout a loader expects."""


def make_images(num_images: int, image_size: int | tuple[int, int] = 32, num_classes: int = 2,
                *, imbalance: Sequence[float] | None = None, signal: float = 1.0,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated uint8 RGB images ``[N, H, W, 3]`` and int labels ``[N]``.

    ``imbalance`` gives relative class weights (``[1, 3]`` for about 25% / 75%);
    the counts are exact, then shuffled. ``signal`` scales how strongly the
    class colour and stripes show through the noise (0 = pure noise).
    """
    if num_images < 1 or num_classes < 2:
        raise ValueError("need at least 1 image and 2 classes")
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    weights = np.ones(num_classes) if imbalance is None else np.asarray(imbalance)
    if weights.shape != (num_classes,) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"imbalance must give {num_classes} non-negative weights, got {list(imbalance)}")
    rng = np.random.default_rng(seed)
    proportions = weights / weights.sum()
    counts = np.floor(proportions * num_images).astype(int)
    counts[np.argmax(proportions)] += num_images - counts.sum()
    labels = np.repeat(np.arange(num_classes), counts)
    rng.shuffle(labels)

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= max(height - 1, 1)
    xx /= max(width - 1, 1)
    images = np.empty((num_images, height, width, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        hue = label / num_classes
        colour = np.array(colorsys.hsv_to_rgb(hue, 0.75, 0.9), dtype=np.float32)
        angle = np.pi * label / num_classes
        frequency = 3.0 + 2.0 * (label % 3)
        phase = rng.uniform(0, 2 * np.pi)
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
        brightness = rng.uniform(0.7, 1.1)
        base = rng.uniform(0.25, 0.6, size=3).astype(np.float32)
        pattern = base + signal * (colour - base)[None, None, :] * (0.6 + 0.4 * stripes[..., None])
        noise = rng.normal(0.0, 0.12, size=(height, width, 3))
        images[i] = (np.clip(pattern * brightness + noise, 0.0, 1.0) * 255).astype(np.uint8)
    return images, labels


def write_image_folder(root: str | Path, images: np.ndarray, labels: np.ndarray,
                       class_names: Sequence[str]) -> dict[str, int]:
    """Write ``root/<class name>/<class name>.<n>.jpg``; returns the count per class."""
    from PIL import Image

    root = Path(root)
    counts = {name: 0 for name in class_names}
    for name in class_names:
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        name = class_names[int(label)]
        Image.fromarray(image).save(root / name / f"{name}.{i:05d}.jpg", quality=95)
        counts[name] += 1
    return counts


def manifest(root: str | Path) -> dict | None:
    """``{"settings": ..., "made": ...}`` of the generated set at ``root`` (its manifest), or ``None``."""
    return read_manifest(root, _KIND)


def built_here(root: str | Path) -> bool:
    """True when the course generated ``root`` (now, or before the manifests): it may be rebuilt in place."""
    return manifest(root) is not None or (Path(root) / _OLD_STAMP).is_file()


def build_stand_in(root: str | Path, settings: dict, write: Callable[[Path], object], *,
                   complete: Callable[[Path], bool] = lambda path: True) -> Path:
    """``root`` written by ``write(staging)`` through ``files.build_once``, its manifest holding ``settings``
    and what ``write`` returns: reused while the settings match and ``complete(root)`` holds."""
    def ready(path: Path) -> bool:
        noted = manifest(path)
        return noted is not None and noted.get("settings") == settings and complete(path)

    def build(staging: Path) -> None:
        write_manifest(staging, _KIND, settings=settings, made=write(staging))

    return build_once(root, build, ready=ready)
