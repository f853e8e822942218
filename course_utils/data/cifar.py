"""CIFAR-10 for lesson 06: the data (real or stand-in), the statistics the lesson compares, the pipeline.

:func:`load` returns what ``tf.keras.datasets.cifar10.load_data()`` returns; for the real data
it *is* that call, once the archive sits verified where Keras looks for it (tf_keras's own
``get_file`` would write to ``~/.keras`` and cannot take a learner's copy).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from course_utils.data import downloads
from course_utils.data.generated import make_images
from course_utils.errors import CourseError
from course_utils.setup import env, profiles

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
# The name tf.keras.datasets.cifar10 looks for in <cache>/datasets/.
KERAS_ARCHIVE_NAME = "cifar-10-batches-py.tar.gz"
KERAS_FOLDER_NAME = "cifar-10-batches-py"
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

# The statistics torchvision's ImageNet models were trained with (RGB, [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CifarDataError(CourseError, RuntimeError):
    """CIFAR-10 could not be found, downloaded or read; the message says what to do."""


# Saved under the name tf.keras.datasets.cifar10 looks for; the bytes of cifar-10-python.tar.gz.
CIFAR10_ARCHIVE = downloads.Asset(
    name="CIFAR-10 (python version)",
    filename=KERAS_ARCHIVE_NAME,
    urls=(CIFAR10_URL,),
    sha256=CIFAR10_SHA256,
    provenance="SHA-256 published by Keras (file_hash in tf_keras/src/datasets/cifar10.py)",
)


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0, progress: bool = True,
         train_size: int | None = None, test_size: int | None = None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images ``[N, 32, 32, 3]``, uint8 labels ``[N, 1]``.

    ``"real"``: CIFAR-10 (50,000 / 10,000) read by ``tf.keras.datasets.cifar10.load_data`` from
    ``$KERAS_HOME/datasets`` once the archive there is verified: downloaded once (``progress``:
    its progress bar) or copied from ``local_copy`` (your ``cifar-10-python.tar.gz``); sizes, if
    given, keep the first images. ``"stand-in"``: ``train_size`` and ``test_size`` generated
    images (:func:`course_utils.data.generated.make_images`, 10 classes; test drawn with ``seed + 1``).
    """
    if profiles.check_source(source, "CIFAR-10") == "stand-in":
        if not train_size or not test_size or train_size < 1 or test_size < 1:
            raise ValueError(f"the generated stand-in needs positive sizes, got train {train_size}, test {test_size}")
        x_train, y_train = make_images(int(train_size), 32, len(CLASS_NAMES), seed=seed)
        x_test, y_test = make_images(int(test_size), 32, len(CLASS_NAMES), seed=seed + 1)
        return ((x_train, y_train.astype("uint8").reshape(-1, 1)),
                (x_test, y_test.astype("uint8").reshape(-1, 1)))
    import tensorflow as tf

    home = env.keras_home()
    fetch_archive(home / "datasets", local_copy=local_copy, progress=progress)
    _check_extracted(home / "datasets" / KERAS_FOLDER_NAME)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data(cache_dir=str(home))
    return (x_train[:train_size], y_train[:train_size]), (x_test[:test_size], y_test[:test_size])


def fetch_archive(folder: Path, *, local_copy: str | Path | None = None, progress: bool = True) -> Path:
    """The verified CIFAR-10 archive in ``folder``: :func:`downloads.fetch`, its errors as one :class:`CifarDataError`."""
    published = "CIFAR-10 publishes it as cifar-10-python.tar.gz: give that file's path as CIFAR10_ARCHIVE"
    try:
        return downloads.fetch(CIFAR10_ARCHIVE, folder, local_copy=local_copy, progress=progress)
    except FileNotFoundError as exc:
        raise CifarDataError(
            f"no CIFAR-10 archive at {local_copy}: download cifar-10-python.tar.gz from {CIFAR10_URL} and give "
            f"its path as CIFAR10_ARCHIVE, or leave CIFAR10_ARCHIVE = None to download it, or run the notebook "
            "with PROFILE = 'quick' (offline, generated data)"
        ) from exc
    except downloads.DownloadError as exc:
        raise CifarDataError(f"{exc} ({published}.)") from exc


def _check_extracted(folder: Path) -> None:
    """An extracted CIFAR-10 folder must hold all six batch files (Keras does not extract again)."""
    missing = [name for name in BATCH_FILES if folder.is_dir() and not (folder / name).is_file()]  # none: Keras extracts
    if missing:
        raise CifarDataError(
            f"the extracted folder {folder} is incomplete ({', '.join(missing)} missing): delete that folder "
            "(keep the .tar.gz beside it) and run again"
        )


def channel_stats(images: np.ndarray, chunk: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images in [0, 1] units, in chunks (no big float copy)."""
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


def caffe_preprocess_with(mean_rgb: Sequence[float]) -> Callable:
    """``vgg16.preprocess_input`` (RGB 0-255 to BGR minus a mean pixel) with *your* mean, given in [0, 1] RGB
    (e.g. the dataset's own from :func:`channel_stats`); for NumPy arrays or tensors."""
    mean_bgr = (np.asarray(mean_rgb)[::-1] * 255.0).astype(np.float32)
    return lambda images: images[..., ::-1] - mean_bgr


def image_dataset(images: np.ndarray, labels: np.ndarray | None = None, *, image_size: int, batch_size: int,
                  preprocess: Callable, shuffle: bool = False, seed: int = 0):
    """A batched ``tf.data.Dataset`` of ``(preprocessed float32 images, labels)`` (images alone without labels).

    Resized (bilinear) batch by batch: 50,000 images at 224x224 would take 30 GB as float32.
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
        def prepare(batch, batch_labels):
            return prepare_images(batch, image_size, preprocess), batch_labels
    return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def prepare_images(images, image_size: int, preprocess: Callable):
    """uint8 images (one ``[H, W, 3]`` or a batch; the same values either way) as float32, resized, preprocessed."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if tuple(images.shape[-3:-1]) != (image_size, image_size):
        images = tf.image.resize(images, (image_size, image_size), method="bilinear")
    return preprocess(images)
