"""Lesson 04 Part A: photos to classify (scikit-image's, written as JPEG files; yours added by
:func:`photo_paths`), and the ImageNet class names to read the answer.

Class names: Keras's ``decode_predictions`` reads ``imagenet_class_index.json`` from
``~/.keras/models`` whatever ``KERAS_HOME`` says (and downloads it there); no public API
points it elsewhere, so :func:`prepare_class_index` gets the file the course's way and
:func:`decode_predictions` decodes with it by Keras's rule.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from course_utils.data import downloads
from course_utils.data.images import check_image
from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import env, files, profiles

__all__ = ["BUNDLED_PHOTOS", "ClassIndexError", "PhotoError", "decode_predictions", "photo_crops", "photo_paths",
           "prepare_class_index"]

# name in skimage.data -> what the photo shows
BUNDLED_PHOTOS: dict[str, str] = {
    "chelsea": "Chelsea the cat (a tabby)",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket on its launch pad",
    "astronaut": "astronaut Eileen Collins",
}

_PLACEHOLDER_FILENAME = "imagenet_class_index_PLACEHOLDER_quick_profile.json"
_NUM_IMAGENET_CLASSES = 1000

# The file Keras's decode_predictions downloads, with the MD5 Keras checks it against.
_IMAGENET_CLASS_INDEX = downloads.Asset(
    name="ImageNet class index (names of the 1,000 classes)",
    filename="imagenet_class_index.json",
    urls=("https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",),
    md5="c2c37ea517e94d9795004a39431a14cb",
    provenance="MD5 published by Keras (the file_hash its imagenet_utils.decode_predictions checks)",
)


class PhotoError(CourseError, FileNotFoundError):
    """A photo path that does not exist or is not an image file."""


class ClassIndexError(CourseError, ValueError):
    """A class-index file that is not ImageNet's 1,000 ``[wnid, name]`` pairs, or none prepared yet."""


def _bundled_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos (:data:`BUNDLED_PHOTOS`) as uint8 RGB ``[H, W, 3]``."""
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())[..., :3].astype(np.uint8)  # all four are RGB


def _write_bundled_photos(folder: str | Path | None = None) -> list[Path]:
    """Write the bundled photos as ``<folder>/<name>.jpg`` (default ``<data>/photos``; kept if there)."""
    from PIL import Image

    folder = Path(folder) if folder is not None else env.data_dir() / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for name in BUNDLED_PHOTOS:  # build_once: one writer among runs at once; never half a file
        files.build_once(folder / f"{name}.jpg", lambda staging, name=name: Image.fromarray(_bundled_photo(name)).save(
            staging, format="JPEG", quality=95))
    return [folder / f"{name}.jpg" for name in BUNDLED_PHOTOS]


def _check_photo(path: str | Path) -> Path:
    """``path`` as a Path if it is a readable image file; else a :class:`PhotoError` saying what to do."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PhotoError(f"photo not found: {path}. Put the full path of a .jpg or .png file in MY_PHOTOS "
                         "(a list of paths), or leave MY_PHOTOS = None to use the bundled photos only.")
    try:
        check_image(path)
    except ValueError as err:
        raise PhotoError(f"{path} is not a photo Keras can read ({err}); use a .jpg or .png file") from None
    return path


def photo_paths(own: Iterable[str | Path] | str | Path | None = None, folder: str | Path | None = None) -> list[Path]:
    """The bundled photos (written once as files), then the learner's own photos, checked."""
    own = [own] if isinstance(own, (str, Path)) else own or []
    extra = [_check_photo(p) for p in own]  # checked first: a wrong path fails before anything is written
    return _write_bundled_photos(folder) + extra


def photo_crops(num_crops: int, size: int = 32, seed: int = 0, short_side: int = 96) -> np.ndarray:
    """Random crops of the bundled photos (short side shrunk first), float32 in [0, 1]: natural-image statistics."""
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    shrunk = []
    for name in BUNDLED_PHOTOS:
        image = _bundled_photo(name).astype(np.float32) / 255.0
        scale = short_side / min(image.shape[:2])
        shape = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        shrunk.append(resize(image, shape, anti_aliasing=True).astype(np.float32))
    crops = []
    for i in range(num_crops):
        image = shrunk[i % len(shrunk)]
        top, left = rng.integers(0, image.shape[0] - size + 1), rng.integers(0, image.shape[1] - size + 1)
        crops.append(image[top:top + size, left:left + size])
    return np.clip(np.stack(crops), 0.0, 1.0)


def _placeholder_class_index(num_classes: int = _NUM_IMAGENET_CLASSES) -> dict[str, list[str]]:
    """``{"0": ["quick_000", "placeholder_000"], ...}``: the real file's shape, generated names."""
    return {str(i): [f"quick_{i:03d}", f"placeholder_{i:03d}"] for i in range(num_classes)}


def prepare_class_index(source: str = "real", *, local_copy: str | Path | None = None, progress: bool = True) -> Path:
    """Load the names :func:`decode_predictions` reads; returns the file (in ``env.keras_home()/models``):
    ``"real"``: Keras's, verified, or your ``local_copy``; ``"stand-in"``: ``placeholder_NNN`` names."""
    folder = env.keras_home() / "models"
    if profiles.check_source(source, "the ImageNet class names") == "real":
        path = downloads.fetch(_IMAGENET_CLASS_INDEX, folder, local_copy=local_copy, progress=progress)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        path = files.build_once(folder / _PLACEHOLDER_FILENAME,
                                lambda staging: staging.write_text(json.dumps(_placeholder_class_index())))
        say(f"class names: {_NUM_IMAGENET_CLASSES} generated placeholders ({path.name}); "
            "the quick profile's random VGG19 predicts nothing real")
    _read_class_index(path)  # a file that is not a class index is refused here, not at the first decode
    return path


def _read_class_index(path: str | Path) -> dict[str, list[str]]:
    """The class index in ``path`` (``{"0": [wnid, name], ...}``), checked: 1,000 entries of two names."""
    index = json.loads(Path(path).read_text())
    if not isinstance(index, dict) or len(index) != _NUM_IMAGENET_CLASSES or any(
            len(index.get(str(i), ())) != 2 for i in range(_NUM_IMAGENET_CLASSES)):
        raise ClassIndexError(f"{path} is not an ImageNet class index (1,000 entries of [wnid, name])")
    return index


def decode_predictions(preds, top: int = 5, *, class_index: str | Path | None = None) -> list[list[tuple[str, str, float]]]:
    """Keras's ``decode_predictions``: per image, the ``top`` classes as ``(wnid, name, score)``, likeliest first;
    the names are read from ``class_index``, the file :func:`prepare_class_index` returned."""
    if class_index is None:
        raise ClassIndexError("no class names: pass class_index=, the file photos.prepare_class_index(cfg.source) "
                              "returned")
    index, preds = _read_class_index(class_index), np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != _NUM_IMAGENET_CLASSES:
        raise ValueError(f"decode_predictions expects predictions of shape (samples, 1000), got {preds.shape}")
    # Keras's own steps (the stable sort Keras runs after them changes nothing), so ties come out the same
    return [[(*index[str(i)], pred[i]) for i in pred.argsort()[-top:][::-1]] for pred in preds]
