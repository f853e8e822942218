"""Lesson 04 Part A: photos to classify, and the ImageNet class names to read the answer.

Photos. The lesson downloads three photos from Wikimedia. The course needs
photos that work offline, so it uses ones scikit-image installs with itself
(Chelsea the cat, a cup of coffee, a rocket on its launch pad, an
astronaut). :func:`write_bundled_photos` writes them as ordinary JPEG files,
so the lesson's ``load_img(path, target_size=(224, 224))`` reads them exactly
like any photo on disk; a learner adds their own with :func:`photo_paths`.

Class names. ``vgg19.decode_predictions`` turns the 1,000 scores into names
with ``imagenet_class_index.json``, which Keras downloads on first use (into
``~/.keras/models``, whatever ``KERAS_HOME`` says, and checked against an MD5
that Keras publishes). :func:`prepare_class_index` fills Keras's own cache of
that file before the call, so the lesson's ``decode_predictions`` line runs
unchanged in both profiles:

* ``"keras"`` (full): the real file, fetched once into the project's
  ``data/keras/models`` and verified against Keras's MD5;
* ``"placeholder"`` (quick, offline): 1,000 generated names
  ``placeholder_000`` ... ``placeholder_999``, written to a file whose name
  says so. The quick profile's VGG19 has random weights, so its
  "predictions" mean nothing, and the names say that too.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from course_utils.data import downloads
from course_utils.setup import files

# name in skimage.data -> what the photo shows
BUNDLED_PHOTOS: dict[str, str] = {
    "chelsea": "Chelsea the cat (a tabby)",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket on its launch pad",
    "astronaut": "astronaut Eileen Collins",
}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}

CLASS_INDEX_FILENAME = "imagenet_class_index.json"
PLACEHOLDER_FILENAME = "imagenet_class_index_PLACEHOLDER_quick_profile.json"
PLACEHOLDER_PREFIX = "placeholder"
NUM_IMAGENET_CLASSES = 1000
CLASS_INDEX_SOURCES = ("keras", "placeholder")

# The file decode_predictions downloads, with the MD5 Keras checks it against.
IMAGENET_CLASS_INDEX = downloads.Asset(
    name="ImageNet class index (names of the 1,000 classes)",
    filename=CLASS_INDEX_FILENAME,
    urls=("https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",),
    md5="c2c37ea517e94d9795004a39431a14cb",
    provenance="MD5 published by Keras (file_hash in tf_keras/src/applications/imagenet_utils.py)",
)


class PhotoError(FileNotFoundError):
    """A photo path that does not exist or is not an image file."""


def photo_folder() -> Path:
    """``<data>/photos``: where the bundled photos are written as files."""
    from course_utils.setup.env import data_dir

    return data_dir() / "photos"


def bundled_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as uint8 RGB ``[H, W, 3]``."""
    if name not in BUNDLED_PHOTOS:
        raise PhotoError(f"no bundled photo {name!r}; choose from {', '.join(BUNDLED_PHOTOS)}")
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3].astype(np.uint8)


def write_bundled_photos(folder: str | Path | None = None, names: Sequence[str] | None = None) -> list[Path]:
    """Write the bundled photos as ``<folder>/<name>.jpg`` (kept if already there); returns the paths."""
    from PIL import Image

    folder = Path(folder) if folder is not None else photo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names if names is not None else list(BUNDLED_PHOTOS):
        path = folder / f"{name}.jpg"
        files.build_once(path, lambda staging, name=name: Image.fromarray(bundled_photo(name)).save(
            staging, format="JPEG", quality=95))  # one writer among runs at once; never half a file
        paths.append(path)
    return paths


def check_photo(path: str | Path) -> Path:
    """``path`` as a Path if it is a readable image file; else a :class:`PhotoError` saying what to do."""
    from course_utils.data.images import check_image

    path = Path(path).expanduser()
    if not path.is_file():
        raise PhotoError(
            f"photo not found: {path}. Put the full path of a .jpg or .png file in MY_PHOTOS "
            "(a list of paths), or leave MY_PHOTOS = None to use the bundled photos only."
        )
    try:
        check_image(path)
    except ValueError as err:
        raise PhotoError(f"{path} is not a photo Keras can read ({err}); use a .jpg or .png file") from None
    return path


def photo_paths(own: Iterable[str | Path] | str | Path | None = None, folder: str | Path | None = None) -> list[Path]:
    """The bundled photos (written once as files), then the learner's own photos, checked."""
    if isinstance(own, (str, Path)):
        own = [own]
    extra = [check_photo(p) for p in (own or [])]
    return write_bundled_photos(folder) + extra


def photo_crops(num_crops: int, size: int = 32, seed: int = 0, short_side: int = 96) -> np.ndarray:
    """Random ``size`` x ``size`` crops of the bundled photos, float32 in [0, 1].

    Each photo is first shrunk so its short side is ``short_side`` pixels, so
    a crop holds a recognisable piece of a scene (fur, a saucer's rim, sky and
    metal). Natural-image statistics without labels: the quick profile uses
    them to scale its stand-in weights (:func:`course_utils.data.cactus.build_stand_in_weights`).
    """
    from skimage.transform import resize

    if num_crops < 1 or size < 1 or short_side < size:
        raise ValueError(f"need num_crops >= 1 and 1 <= size <= short_side, got {num_crops}, {size}, {short_side}")
    rng = np.random.default_rng(seed)
    shrunk = []
    for name in BUNDLED_PHOTOS:
        image = bundled_photo(name).astype(np.float32) / 255.0
        scale = short_side / min(image.shape[:2])
        shape = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        shrunk.append(resize(image, shape, anti_aliasing=True).astype(np.float32))
    crops = np.empty((num_crops, size, size, 3), np.float32)
    for i in range(num_crops):
        image = shrunk[i % len(shrunk)]
        top = rng.integers(0, image.shape[0] - size + 1)
        left = rng.integers(0, image.shape[1] - size + 1)
        crops[i] = image[top:top + size, left:left + size]
    return np.clip(crops, 0.0, 1.0)


# --- the ImageNet class names ------------------------------------------------------------------

def _keras_imagenet_utils():
    """The tf_keras module whose ``CLASS_INDEX`` global ``decode_predictions`` reads."""
    from tf_keras.src.applications import imagenet_utils

    return imagenet_utils


def placeholder_class_index(num_classes: int = NUM_IMAGENET_CLASSES) -> dict[str, list[str]]:
    """``{"0": ["quick_000", "placeholder_000"], ...}``: the real file's shape, generated names."""
    return {str(i): [f"quick_{i:03d}", f"{PLACEHOLDER_PREFIX}_{i:03d}"] for i in range(num_classes)}


def _check_class_index(index: dict, source: Path) -> dict[str, list[str]]:
    if not isinstance(index, dict) or len(index) != NUM_IMAGENET_CLASSES or any(
        str(i) not in index or len(index[str(i)]) != 2 for i in range(NUM_IMAGENET_CLASSES)
    ):
        raise ValueError(f"{source} is not an ImageNet class index (1,000 entries of [wnid, name])")
    return index


def class_index_is_placeholder() -> bool:
    """True when ``decode_predictions`` would print the quick profile's generated names."""
    index = _keras_imagenet_utils().CLASS_INDEX
    return bool(index) and str(index.get("0", ["", ""])[1]).startswith(PLACEHOLDER_PREFIX)


def prepare_class_index(source: str, folder: str | Path | None = None, *, printer=print, **fetch_options) -> Path:
    """Fill Keras's class-index cache for ``decode_predictions``; returns the file used.

    ``"keras"``: the real ``imagenet_class_index.json`` in ``folder`` (default
    ``$KERAS_HOME/models``), downloaded and verified once (see
    :mod:`course_utils.data.downloads`; offline, the error says where to put a
    copy). ``"placeholder"``: generated names, no network, written to
    :data:`PLACEHOLDER_FILENAME` so the file can never pass for the real one.
    """
    if source not in CLASS_INDEX_SOURCES:
        raise ValueError(f"unknown class index source {source!r}: use 'keras' or 'placeholder'")
    folder = Path(folder) if folder is not None else downloads.keras_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if source == "keras":
        path = downloads.fetch(IMAGENET_CLASS_INDEX, folder, printer=printer, **fetch_options)
    else:
        path = files.build_once(folder / PLACEHOLDER_FILENAME,
                                lambda staging: staging.write_text(json.dumps(placeholder_class_index())))
        printer(f"class names: {NUM_IMAGENET_CLASSES} generated placeholders ({path.name}); "
                "the quick profile's random VGG19 predicts nothing real")
    index = _check_class_index(json.loads(path.read_text()), path)
    _keras_imagenet_utils().CLASS_INDEX = index
    return path
