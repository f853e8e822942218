"""CIFAR-10 for lesson 06: the real data set (or a learner's local copy) and its offline stand-in.

The lesson loads its data with one call, ``load_data()``, whatever the
profile; :func:`loader` says which function that is:

- ``loader("keras")`` is ``tf.keras.datasets.cifar10.load_data`` itself,
  with ``cache_dir`` set to ``$KERAS_HOME`` (tf_keras's own ``get_file``
  ignores ``KERAS_HOME`` and writes to ``~/.keras`` unless told otherwise).
  The archive is fetched first with :func:`course_utils.data.downloads.fetch`:
  verified against its published SHA-256 before it is moved into place. A
  classroom without internet passes the ``cifar-10-python.tar.gz`` it
  already has as ``archive=``.
- ``loader("generated")`` is the quick profile's stand-in,
  :func:`generated_load_data`: 10 classes of generated 32x32 colour images
  (:func:`course_utils.data.generated.make_images`), returned exactly as Keras returns
  CIFAR-10 (uint8 images ``[N, 32, 32, 3]``, uint8 labels ``[N, 1]``).

The module also holds the normalisation helpers the lesson compares (the
dataset's own per-channel statistics versus the ImageNet ones VGG16 expects)
and the ``tf.data`` pipeline that resizes and preprocesses batch by batch.
:func:`load_cifar10` is the older one-call loader (labels flattened to int64).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from course_utils.data import downloads
from course_utils.setup import env
from course_utils.data.generated import make_images

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
# The name tf.keras.datasets.cifar10 looks for in <cache>/datasets/.
KERAS_ARCHIVE_NAME = "cifar-10-batches-py.tar.gz"
KERAS_FOLDER_NAME = "cifar-10-batches-py"

# The statistics torchvision's ImageNet models were trained with (RGB, [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# What Keras's VGG16 weights (converted from the original Caffe model) expect:
# BGR order, 0-255 pixels, this mean pixel subtracted, no division by a std.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class CifarDataError(RuntimeError):
    """CIFAR-10 could not be found, downloaded or read; the message says what to do."""


OFFLINE_HINT = "or run the notebook with PROFILE = 'quick' (offline, generated data)"

# Saved under the name tf.keras.datasets.cifar10 looks for; the same bytes as
# cifar-10-python.tar.gz on the CIFAR-10 page.
CIFAR10_ARCHIVE = downloads.Asset(
    name="CIFAR-10 (python version)",
    filename=KERAS_ARCHIVE_NAME,
    urls=(CIFAR10_URL,),
    sha256=CIFAR10_SHA256,
    provenance="SHA-256 published by Keras (file_hash in tf_keras/src/datasets/cifar10.py)",
)


def keras_cache_dir() -> Path:
    """``$KERAS_HOME`` (``start_lesson`` sets it to the project's data folder), else ``data/keras``."""
    return Path(os.environ.get("KERAS_HOME") or env.data_dir() / "keras")


def fetch_archive(cache_dir: str | Path | None = None, *, archive: str | Path | None = None,
                  **fetch_options) -> Path:
    """The verified CIFAR-10 archive in ``<cache_dir>/datasets``, downloaded or copied from ``archive``.

    :func:`course_utils.data.downloads.fetch` does the work (temporary name, size
    and SHA-256 check, atomic move); ``fetch_options`` go to it (tests pass an
    ``opener``). Errors become one :class:`CifarDataError` that says what to do.
    """
    folder = Path(cache_dir or keras_cache_dir()) / "datasets"
    published = "CIFAR-10 publishes it as cifar-10-python.tar.gz: give that file's path as CIFAR10_ARCHIVE"
    try:
        return downloads.fetch(CIFAR10_ARCHIVE, folder, local_copy=archive, **fetch_options)
    except FileNotFoundError as exc:
        raise CifarDataError(
            f"no CIFAR-10 archive at {archive}: download cifar-10-python.tar.gz from {CIFAR10_URL} and give "
            f"its path as CIFAR10_ARCHIVE, or leave CIFAR10_ARCHIVE = None to download it, " + OFFLINE_HINT
        ) from exc
    except downloads.DownloadError as exc:
        raise CifarDataError(f"{exc} ({published}.)") from exc


def _load_keras(cache_dir: Path, archive: str | Path | None, fetch_options: dict):
    import tensorflow as tf

    fetch_archive(cache_dir, archive=archive, **fetch_options)
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data(cache_dir=str(cache_dir))
    except FileNotFoundError as exc:
        raise CifarDataError(
            f"the extracted folder {cache_dir / 'datasets' / KERAS_FOLDER_NAME} is incomplete "
            f"({exc.filename}): delete that folder (keep the .tar.gz beside it) and run again"
        ) from exc
    return (x_train, y_train.reshape(-1).astype("int64")), (x_test, y_test.reshape(-1).astype("int64"))


def load_cifar10(source: str = "keras", *, train_limit: int | None = None,
                 test_limit: int | None = None, archive: str | Path | None = None,
                 cache_dir: str | Path | None = None, seed: int = 0, **fetch_options):
    """``(x_train, y_train), (x_test, y_test)``: uint8 ``[N, 32, 32, 3]`` and int64 labels 0-9.

    ``source="keras"`` is the real CIFAR-10 (50,000 / 10,000), downloaded once
    into ``<cache_dir>/datasets`` or installed from ``archive`` (a local
    ``cifar-10-python.tar.gz``); ``fetch_options`` go to :func:`fetch_archive`.
    ``source="generated"`` is the offline stand-in; it then needs both limits
    (its sizes). Limits keep the first ``n`` images of a split.
    """
    if source == "keras":
        (x_train, y_train), (x_test, y_test) = _load_keras(
            Path(cache_dir or keras_cache_dir()), archive, fetch_options)
    elif source == "generated":
        if not train_limit or not test_limit:
            raise ValueError("source='generated' needs train_limit and test_limit (the sizes to generate)")
        x_train, y_train = make_images(train_limit, 32, len(CLASS_NAMES), seed=seed)
        x_test, y_test = make_images(test_limit, 32, len(CLASS_NAMES), seed=seed + 1)
        y_train, y_test = y_train.astype("int64"), y_test.astype("int64")
    else:
        raise ValueError(f"unknown CIFAR-10 source {source!r}: use 'keras' (the real data) or 'generated'")
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit is not None:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    return (x_train, y_train), (x_test, y_test)


def generated_load_data(train_size: int, test_size: int, *, seed: int = 0):
    """The quick profile's CIFAR-10 stand-in, shaped as ``tf.keras.datasets.cifar10.load_data`` returns it.

    ``(x_train, y_train), (x_test, y_test)``: uint8 images ``[N, 32, 32, 3]``
    and uint8 labels ``[N, 1]``. Each class has its own hue and stripe
    pattern under noise (:func:`course_utils.data.generated.make_images`), so a
    classifier can learn them; the test images are drawn with ``seed + 1``.
    """
    if not train_size or not test_size or train_size < 1 or test_size < 1:
        raise ValueError(f"the generated stand-in needs positive sizes, got train {train_size}, test {test_size}")
    x_train, y_train = make_images(int(train_size), 32, len(CLASS_NAMES), seed=seed)
    x_test, y_test = make_images(int(test_size), 32, len(CLASS_NAMES), seed=seed + 1)
    return ((x_train, y_train.astype("uint8").reshape(-1, 1)),
            (x_test, y_test.astype("uint8").reshape(-1, 1)))


def loader(source: str = "keras", *, archive: str | Path | None = None, cache_dir: str | Path | None = None,
           train_size: int | None = None, test_size: int | None = None, seed: int = 0,
           **fetch_options) -> functools.partial:
    """The profile's ``load_data``: call it with no arguments, as ``tf.keras.datasets.cifar10.load_data()``.

    ``source="keras"``: ``tf.keras.datasets.cifar10.load_data`` with
    ``cache_dir`` bound to ``cache_dir`` (default :func:`keras_cache_dir`),
    after the verified archive is in ``<cache_dir>/datasets`` (downloaded
    once, or copied from ``archive``; ``fetch_options`` go to
    :func:`fetch_archive`). An extracted folder left incomplete is reported
    here, before Keras trips over it.
    ``source="generated"``: :func:`generated_load_data` with the sizes bound.
    The returned ``functools.partial`` names the function in ``.func``.
    """
    if source == "keras":
        import tensorflow as tf

        cache = Path(cache_dir or keras_cache_dir())
        fetch_archive(cache, archive=archive, **fetch_options)
        _check_extracted(cache / "datasets" / KERAS_FOLDER_NAME)
        return functools.partial(tf.keras.datasets.cifar10.load_data, cache_dir=str(cache))
    if source == "generated":
        if not train_size or not test_size:
            raise ValueError("source='generated' needs train_size and test_size (the sizes to generate)")
        return functools.partial(generated_load_data, int(train_size), int(test_size), seed=seed)
    raise ValueError(f"unknown CIFAR-10 source {source!r}: use 'keras' (the real data) or 'generated'")


BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def _check_extracted(folder: Path) -> None:
    """An extracted CIFAR-10 folder must hold all six batch files (Keras does not extract again)."""
    if not folder.is_dir():
        return  # Keras extracts the verified archive on first use
    missing = [name for name in BATCH_FILES if not (folder / name).is_file()]
    if missing:
        raise CifarDataError(
            f"the extracted folder {folder} is incomplete ({', '.join(missing)} missing): delete that folder "
            "(keep the .tar.gz beside it) and run again"
        )


def split_validation(images: np.ndarray, labels: np.ndarray, fraction: float = 0.1):
    """``(x_train, y_train), (x_valid, y_valid)``: the last ``fraction`` of the training set held out.

    The lecture held out 10% of the 50,000 training images for validation
    (its learning-rate schedule watches validation accuracy).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    n_valid = max(1, int(round(len(images) * fraction)))
    if n_valid >= len(images):
        raise ValueError(f"{len(images)} images are too few to hold out {fraction:.0%} for validation")
    cut = len(images) - n_valid
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def channel_stats(images: np.ndarray, chunk: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units.

    Computed in chunks (sum and sum of squares), so 50,000 images never become
    one big float copy.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images [N, H, W, 3], got shape {images.shape}")
    total = np.zeros(3)
    squares = np.zeros(3)
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 1, 2))
        squares += np.square(block).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean, std


def standardize(images, mean: Sequence[float], std: Sequence[float]):
    """The PyTorch/torchvision way: pixels to [0, 1], minus the mean, divided by the std (RGB)."""
    images = np.asarray(images, dtype=np.float32) / 255.0
    return (images - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)


def caffe_preprocess_with(mean_rgb: Sequence[float]) -> Callable:
    """A ``preprocess_input`` look-alike that subtracts *your* mean pixel instead of ImageNet's.

    Keras's VGG16 weights expect BGR pixels in 0-255 with the ImageNet mean
    pixel subtracted (``vgg16.preprocess_input``). This does the same with a
    mean given in [0, 1] RGB units, e.g. the dataset's own from
    :func:`channel_stats`. Works on NumPy arrays and tensors.

    The function is a ``functools.partial`` holding the mean pixel, so its
    ``repr`` (and the feature cache's key for it) shows the values.
    """
    mean_bgr = tuple(float(v) for v in np.asarray(mean_rgb, dtype=np.float64)[::-1] * 255.0)
    return functools.partial(subtract_mean_bgr, mean_bgr=mean_bgr)


def subtract_mean_bgr(images, mean_bgr: Sequence[float]):
    """RGB images in 0-255 to BGR minus ``mean_bgr`` (Caffe style; NumPy arrays or tensors)."""
    images = images[..., ::-1]  # RGB -> BGR
    return images - np.asarray(mean_bgr, dtype=np.float32)


def image_dataset(images: np.ndarray, labels: np.ndarray | None = None, *, image_size: int, batch_size: int,
                  preprocess: Callable, shuffle: bool = False, seed: int = 0):
    """A batched ``tf.data.Dataset`` of ``(preprocessed float32 images, labels)`` (images only without labels).

    Images are resized (bilinear) to ``image_size`` batch by batch, so 50,000
    CIFAR images upsampled to 224x224 never sit in memory at once (they would
    take 30 GB as float32). Without ``labels`` (what ``predict`` needs) the
    dataset yields the images alone.
    """
    import tensorflow as tf

    if labels is not None and len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    dataset = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if labels is None:
        def prepare(batch):
            return prepare_images(batch, image_size, preprocess)
    else:
        prepare = example_preprocessor(image_size, preprocess)  # works on a batch as on one image
    return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def prepare_images(images, image_size: int, preprocess: Callable):
    """uint8 images (one ``[H, W, 3]`` or a batch) as the model sees them: float32, resized, preprocessed.

    Bilinear resizing treats every image on its own, so a batch gives the
    same values as its images one by one.
    """
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if tuple(images.shape[-3:-1]) != (image_size, image_size):
        images = tf.image.resize(images, (image_size, image_size), method="bilinear")
    return preprocess(images)


def prepare_example(image, label, *, image_size: int, preprocess: Callable):
    """``(image, label)`` with the image through :func:`prepare_images`."""
    return prepare_images(image, image_size, preprocess), label


def example_preprocessor(image_size: int, preprocess: Callable) -> functools.partial:
    """``prepare_example`` for one input size and preprocessing, as a ``functools.partial``.

    What :func:`image_dataset` maps over its batches and what the feature
    cache maps over the raw ``(image, label)`` pairs (``preprocess=``): the
    partial's arguments (the size, the preprocessing function by name or,
    for :func:`caffe_preprocess_with`, with its mean) are part of the cache key.
    """
    return functools.partial(prepare_example, image_size=int(image_size), preprocess=preprocess)
