"""Check image files before training, and read them as RGB whatever they were saved as.

A learner's own folder can hold anything: a truncated download, a ``.txt``
that slipped in, a greyscale scan, a CMYK JPEG, a PNG with transparency.
:func:`scan_images` finds the unreadable ones *before* training (not in the
middle of an epoch), reports them by name and count, and keeps the rest;
:func:`_load_rgb` converts greyscale, palette, CMYK and alpha images to plain
RGB instead of rejecting them.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup.files import build_once

__all__ = ["ImageFileError", "ScanResult", "check_image", "clean_view", "scan_images"]

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}


class ImageFileError(CourseError, ValueError):
    """An image file that cannot be read safely (unreadable, truncated, or too large to decode)."""


def _too_large(err: Exception) -> str:
    from PIL import Image

    return (f"too large to decode safely ({err}; Pillow's limit is {Image.MAX_IMAGE_PIXELS:,} pixels): "
            "a decompression bomb or a huge scan - replace it with a smaller copy")


@dataclass
class ScanResult:
    """Readable files, unreadable files with the reason, and files needing conversion."""

    good: list[Path] = field(default_factory=list)
    bad: dict[Path, str] = field(default_factory=dict)
    converted: dict[Path, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{len(self.good)} readable images"
        if self.converted:
            modes = sorted(set(self.converted.values()))
            text += f" ({len(self.converted)} will be converted to RGB from {', '.join(modes)})"
        if self.bad:
            shown = ", ".join(f"{p.name} ({why})" for p, why in list(self.bad.items())[:5])
            more = f" and {len(self.bad) - 5} more" if len(self.bad) > 5 else ""
            text += f"; skipped {len(self.bad)} unreadable: {shown}{more} - re-download or replace them to use them"
        return text


def check_image(path: str | Path) -> str:
    """The image's mode (``"RGB"``, ``"L"``, ``"CMYK"``, ``"RGBA"`` ...); raises :class:`ImageFileError`
    (a ``ValueError``) if unreadable or too large to decode safely."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.suffix.lower() not in _IMAGE_SUFFIXES:
        raise ImageFileError(f"not an image file type ({path.suffix or 'no suffix'})")
    if path.stat().st_size == 0:
        raise ImageFileError("empty file")
    try:
        with Image.open(path) as image:
            mode = image.mode
            image.load()  # decodes every byte: a truncated file fails here, not mid-epoch
    except UnidentifiedImageError:
        raise ImageFileError("not a readable image") from None
    except Image.DecompressionBombError as err:  # the header alone says so: nothing is decoded
        raise ImageFileError(_too_large(err)) from None
    except OSError as err:
        raise ImageFileError(f"corrupt or truncated ({str(err).splitlines()[0]})") from None
    return mode


def scan_images(paths: Iterable[str | Path]) -> ScanResult:
    """Open every file once; sort them into good, bad (with the reason) and to-convert."""
    result = ScanResult()
    for path in map(Path, paths):
        try:
            mode = check_image(path)
        except ValueError as err:
            result.bad[path] = str(err)
            continue
        result.good.append(path)
        if mode != "RGB":
            result.converted[path] = mode
    return result


def _load_rgb(path: str | Path) -> np.ndarray:
    """The image as uint8 RGB ``[H, W, 3]``; alpha is composited on white."""
    from PIL import Image

    try:
        opened = Image.open(path)
    except Image.DecompressionBombError as err:
        raise ImageFileError(f"{path}: {_too_large(err)}") from None
    with opened as image:
        # Alpha, or a transparent colour (palette index, grey level or RGB key), becomes white.
        if image.mode in ("RGBA", "LA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(background, rgba).convert("RGB")
        else:
            rgb = image.convert("RGB")
        return np.asarray(rgb)  # uint8, as RGB images are


def clean_view(source: str | Path, target: str | Path, *,
               files: Iterable[str | Path] | None = None) -> tuple[Path, ScanResult]:
    """A view of the folder tree at ``source`` (or of its ``files``) at ``target``, built afresh:
    readable images linked, odd ones converted to RGB, unreadable ones left out and named.
    The learner's folder is never changed."""
    from PIL import Image

    source, target = Path(source), Path(target)
    if files is None:
        files = sorted(p for p in source.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts))
    result = scan_images(files)

    def build(staging: Path) -> None:
        staging.mkdir(parents=True)  # an empty view is still a folder
        for path in result.good:
            out = staging / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            if path in result.converted:  # as a JPEG: tf.data pipelines may decode JPEG only
                Image.fromarray(_load_rgb(path)).save(out.with_suffix(".jpg"), quality=95)
            else:
                try:
                    out.symlink_to(path.resolve())
                except OSError:
                    shutil.copyfile(path, out)

    build_once(target, build, ready=lambda path: False)
    say(f"{source}: {result.summary()}")
    return target, result
