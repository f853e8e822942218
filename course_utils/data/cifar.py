"""CIFAR-10 for lesson 06: the data (real or stand-in), the statistics the lesson compares, the pipeline.

:func:`load` returns what ``keras.datasets.cifar10.load_data()`` returns, without Keras touching a file:
the verified archive (a classroom's shared copy read where it is) is unpacked by :func:`_unpack` (locked,
staged, checked by content) and read by :func:`_read_folder` as Keras's ``load_batch`` reads it (keras
``datasets/cifar.py``: ``pickle.load(f, encoding="bytes")``, ``data.reshape(N, 3, 32, 32)``; ``cifar10.py``
moves channels last, labels a uint8 column), with an unpickler that builds nothing but NumPy arrays.
"""
from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from course_utils.data import downloads
from course_utils.data.generated import make_images
from course_utils.errors import CourseError
from course_utils.setup import env, files, profiles

__all__ = ["CLASS_NAMES", "CifarDataError", "IMAGENET_MEAN", "IMAGENET_STD", "caffe_preprocess_with", "channel_stats",
           "image_dataset", "load"]

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
# The names tf_keras's (Keras 2) cifar10.load_data uses in <cache>/datasets/ (a classroom's shared folder may have
# them). Keras 3's loader saves the same archive as cifar-10-batches-py-target (unpacked into ..._extracted/):
# not looked for here, so a folder Keras 3 filled is downloaded again (the SHA-256 check is the same).
_KERAS_ARCHIVE_NAME = "cifar-10-batches-py.tar.gz"
_KERAS_FOLDER_NAME = "cifar-10-batches-py"
_BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_IMAGES_PER_BATCH = 10_000
# Six batch files of about 31 MB (10,000 images x 3,072 bytes, their labels and file names), batches.meta, readme.html.
_MAX_UNPACKED_BYTES = 200 * 2**20
_KIND = "cifar-10 batches"  # the unpacked folder's manifest, written last: the SHA-256 of each batch file
# What a CIFAR-10 batch pickle may build: NumPy arrays (the module moved in NumPy 2), nothing else.
_PICKLE_GLOBALS = {(f"numpy.{core}.{module}", name) for core in ("core", "_core")
                  for module, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer"))}
_PICKLE_GLOBALS |= {("numpy", "ndarray"), ("numpy", "dtype")}

# The statistics torchvision's ImageNet models were trained with (RGB, [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CifarDataError(CourseError, RuntimeError):
    """CIFAR-10 could not be found, downloaded or read; the message says what to do."""


# Saved under the name tf_keras's cifar10 loader looks for; the bytes of cifar-10-python.tar.gz.
_CIFAR10_ARCHIVE = downloads.Asset(
    name="CIFAR-10 (python version)",
    filename=_KERAS_ARCHIVE_NAME,
    urls=(_CIFAR10_URL,),
    sha256=_CIFAR10_SHA256,
    provenance="SHA-256 published by Keras (file_hash in keras/src/datasets/cifar10.py, as in tf_keras)",
)


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0, progress: bool = True,
         train_size: int | None = None, test_size: int | None = None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images ``[N, 32, 32, 3]``, uint8 labels ``[N, 1]``.

    ``"real"``: CIFAR-10 (50,000 / 10,000) from the verified archive in ``$KERAS_HOME/datasets``,
    downloaded once (``progress``: its progress bar), copied from ``local_copy`` (your
    ``cifar-10-python.tar.gz``) or read in a classroom's shared folder, unpacked once beside it
    (:func:`_unpack`) and read by :func:`_read_folder`; sizes, if given, keep the first images.
    ``"stand-in"``: ``train_size`` and ``test_size`` generated images
    (:func:`course_utils.data.generated.make_images`, 10 classes; test drawn with ``seed + 1``).
    """
    if profiles.check_source(source, "CIFAR-10") == "stand-in":
        if not train_size or not test_size or train_size < 1 or test_size < 1:
            raise ValueError(f"the generated stand-in needs positive sizes, got train {train_size}, test {test_size}")
        x_train, y_train = make_images(int(train_size), 32, len(CLASS_NAMES), seed=seed)
        x_test, y_test = make_images(int(test_size), 32, len(CLASS_NAMES), seed=seed + 1)
        return ((x_train, y_train.astype("uint8").reshape(-1, 1)),
                (x_test, y_test.astype("uint8").reshape(-1, 1)))
    datasets = env.keras_home() / "datasets"
    archive = _fetch_archive(datasets, local_copy=local_copy, progress=progress)
    (x_train, y_train), (x_test, y_test) = _read_folder(_unpack(archive, datasets / _KERAS_FOLDER_NAME))
    return (x_train[:train_size], y_train[:train_size]), (x_test[:test_size], y_test[:test_size])


def _fetch_archive(folder: Path, *, local_copy: str | Path | None = None, progress: bool = True) -> Path:
    """The verified CIFAR-10 archive in ``folder``: :func:`downloads.fetch`, its errors as one :class:`CifarDataError`."""
    published = "CIFAR-10 publishes it as cifar-10-python.tar.gz: give that file's path as CIFAR10_ARCHIVE"
    try:
        return downloads.fetch(_CIFAR10_ARCHIVE, folder, local_copy=local_copy, progress=progress)
    except FileNotFoundError as exc:
        raise CifarDataError(
            f"no CIFAR-10 archive at {local_copy}: download cifar-10-python.tar.gz from {_CIFAR10_URL} and give "
            f"its path as CIFAR10_ARCHIVE, or leave CIFAR10_ARCHIVE = None to download it, or run the notebook "
            "with PROFILE = 'quick' (offline, generated data)"
        ) from exc
    except downloads.DownloadError as exc:
        raise CifarDataError(f"{exc} ({published}.)") from exc


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which no CIFAR-10 batch holds")
        return super().find_class(module, name)


def _parse_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file's bytes as ``(images [10000, 32, 32, 3] uint8, labels [10000] uint8)``, else :class:`CifarDataError`."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
        pixels, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except Exception as err:  # a damaged pickle raises nearly anything; the message names it
        raise CifarDataError(f"{where} is not a CIFAR-10 batch ({type(err).__name__}: {err})") from err
    shape = (_IMAGES_PER_BATCH, 3 * 32 * 32)
    if pixels.dtype != np.uint8 or pixels.shape != shape or labels.shape != shape[:1]:
        raise CifarDataError(f"{where} is not a CIFAR-10 batch: images {pixels.dtype} {pixels.shape}, labels "
                             f"{labels.shape}; expected uint8 {shape} and ({_IMAGES_PER_BATCH},)")
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= len(CLASS_NAMES):
        raise CifarDataError(f"{where} is not a CIFAR-10 batch: labels outside 0-9")
    return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def _checked(folder: Path) -> dict | None:
    """The folder's manifest (the unpack writes it last) for this archive and every batch, else ``None``."""
    noted = files.read_manifest(folder, _KIND) or {}
    try:
        listed = all(len(noted["files"][name]["sha256"]) == 64 for name in _BATCH_FILES)
    except (KeyError, TypeError):
        return None
    return noted if listed and noted.get("archive_sha256") == _CIFAR10_ARCHIVE.sha256 else None


def _unpack(archive: Path, target: Path) -> Path:
    """``target``: the batches of the verified ``archive``, unpacked once, checked, put in place.

    :func:`course_utils.setup.files.extract_tar` (build lock, staging folder, ``filter="data"``, a cap of
    :data:`_MAX_UNPACKED_BYTES`); each batch must parse to 10,000 images with labels 0-9, and its size and
    SHA-256 go into its manifest (``COURSE_MANIFEST.json``), written last. A folder without it (one unpacked by
    Keras) is unpacked again; a killed unpack leaves only a staging folder. The archive is only read.
    """
    fix = f"not the CIFAR-10 archive: delete it and run again, or get a fresh copy from {_CIFAR10_URL}"

    def arrange(staging: Path) -> Path:
        inner, noted = staging / _KERAS_FOLDER_NAME, {}
        for name in _BATCH_FILES:
            if not (inner / name).is_file():
                raise CifarDataError(f"{archive} has no {_KERAS_FOLDER_NAME}/{name}: {fix}")
            data = (inner / name).read_bytes()
            try:
                _parse_batch(data, f"{name} in {archive}")
            except CifarDataError as err:
                raise CifarDataError(f"{err}: {fix}") from err
            noted[name] = {"bytes": len(data), "sha256": files.digest(data)}
        files.write_manifest(inner, _KIND, archive_sha256=_CIFAR10_ARCHIVE.sha256, files=noted)
        return inner

    try:
        return files.extract_tar(archive, target, max_bytes=_MAX_UNPACKED_BYTES, arrange=arrange,
                                 ready=lambda path: _checked(path) is not None)
    except files.TarError as err:
        raise CifarDataError(f"{err}: {fix}") from err
    except OSError as err:  # a read-only or full data folder: files.writing_error's words, as every loader's
        raise CifarDataError(f"could not unpack CIFAR-10: {files.writing_error(err, target.parent)}") from err


def _read_folder(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` from an unpacked folder, each file checked against its SHA-256."""
    noted, parts = _checked(folder), []
    for name in _BATCH_FILES:
        data = (folder / name).read_bytes() if noted else b""
        if not noted or files.digest(data) != noted["files"][name]["sha256"]:
            raise CifarDataError(f"{folder / name} is not the file unpacked from the verified archive (damaged or "
                                 f"changed since): delete the folder {folder} (keep the .tar.gz beside it) and run again")
        parts.append(_parse_batch(data, str(folder / name)))
    x_train = np.concatenate([images for images, _ in parts[:-1]])
    y_train = np.concatenate([labels for _, labels in parts[:-1]]).reshape(-1, 1)
    return (x_train, y_train), (np.ascontiguousarray(parts[-1][0]), parts[-1][1].reshape(-1, 1))


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
            return _prepare_images(batch, image_size, preprocess)
    else:
        def prepare(batch, batch_labels):
            return _prepare_images(batch, image_size, preprocess), batch_labels
    return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _prepare_images(images, image_size: int, preprocess: Callable):
    """uint8 images (one ``[H, W, 3]`` or a batch; the same values either way) as float32, resized, preprocessed."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if tuple(images.shape[-3:-1]) != (image_size, image_size):
        images = tf.image.resize(images, (image_size, image_size), method="bilinear")
    return preprocess(images)
