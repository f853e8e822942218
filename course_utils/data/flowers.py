"""tf_flowers for lesson 03: where ``tfds.load("tf_flowers")`` reads, for three sources.

The notebook makes the ``tfds.load`` call itself; :func:`resolve_source`
only prepares what it reads and returns its ``data_dir`` and ``download``::

    where = flowers.resolve_source(cfg.flowers_source, folder=cfg.flowers_dir,
                                   num_images=cfg.num_images, seed=cfg.seed)
    (test, valid, train), info = tfds.load(
        "tf_flowers", split=cfg.split, as_supervised=True, with_info=True,
        data_dir=where.data_dir, download=where.download)

The sources:

- ``"tfds"`` (full profile): TFDS downloads the archive (about 220 MB) once
  into ``$TFDS_DATA_DIR`` (the project's ``data/tfds``) and prepares it.
- a local ``flower_photos/`` folder (an offline classroom): the unpacked
  archive, ``flower_photos/{daisy,dandelion,roses,sunflowers,tulips}/*.jpg``,
  is prepared once into a local TFDS dataset by a builder that reuses the
  real tf_flowers builder and only points it at the local files. The
  features, the class names, the label order and the example keys are the
  real ones, so ``train[:10%]`` picks the same photos as the download would.
- ``"generated"`` (quick profile): a small set of generated 5-class images
  (colour and stripes per class, sizes that vary like the photos) written in
  the ``flower_photos`` layout, then prepared exactly like a local folder.

Small checks the notebook prints (:func:`count_examples`, :func:`image_shapes`,
:func:`batch_layout`). :func:`load_flowers` (resolve and load in one call),
``format_image``, :func:`make_batches` and :func:`collect_predictions` are
older helpers the lesson no longer calls: it writes its ``format_image``,
pipeline and batch-by-batch prediction loop in the notebook.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.datasets.tf_flowers import tf_flowers_dataset_builder as _tf_flowers

from course_utils.data import generated as course_data
from course_utils.setup import env
from course_utils.data import images
from course_utils.setup.files import build_lock, replace_folder

DATASET = "tf_flowers"
#: tf_flowers' label order (label 0 is dandelion); a local folder gets the same.
CLASS_NAMES: tuple[str, ...] = ("dandelion", "daisy", "tulips", "sunflowers", "roses")
#: The lesson's split: test, validation, train = 10% / 15% / 75% of the one ``train`` split.
SPLIT: tuple[str, str, str] = ("train[:10%]", "train[10%:25%]", "train[25%:]")
EXPECTED_LAYOUT = "flower_photos/{daisy,dandelion,roses,sunflowers,tulips}/*.jpg"
DOWNLOAD_HOST = "download.tensorflow.org"
SOURCES = ("tfds", "folder", "generated")
FOLDER_ENV_VAR = "COURSE_FLOWERS_DIR"
GENERATED_STAMP = "COURSE_GENERATED.json"
PREPARED_STAMP = "COURSE_SOURCE.json"
GENERATED_SIGNAL = 0.4


class FlowersDataError(course_data.DataLayoutError):
    """tf_flowers cannot be loaded: a bad local folder, or no way to download it."""


def _how_to_fix() -> str:
    return (
        f"expected {EXPECTED_LAYOUT} (the unpacked flower_photos.tgz); point FLOWERS_DIR "
        f"(or ${FOLDER_ENV_VAR}) at that folder, or run with PROFILE='quick' offline"
    )


# --------------------------------------------------------------------------- local folder


def find_flower_folder(folder: str | Path) -> Path:
    """The ``flower_photos`` folder at ``folder`` (or directly inside it), checked.

    Raises :class:`FlowersDataError` with a one-line message for a missing
    folder, a file (e.g. the .tgz not yet unpacked), missing or unexpected
    class folders, and a class folder without ``.jpg`` images.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise FlowersDataError(f"no flower folder at {folder}: {_how_to_fix()}")
    if not folder.is_dir():
        raise FlowersDataError(
            f"{folder} is a file, not a folder: unpack it first (tar xzf flower_photos.tgz); {_how_to_fix()}"
        )
    subfolders = _class_dirs(folder)
    if not set(subfolders) & set(CLASS_NAMES) and "flower_photos" in subfolders:
        folder = subfolders["flower_photos"]
        subfolders = _class_dirs(folder)
    missing = sorted(set(CLASS_NAMES) - set(subfolders))
    if missing:
        raise FlowersDataError(f"{folder} has no class folder(s) {', '.join(missing)}: {_how_to_fix()}")
    extra = sorted(set(subfolders) - set(CLASS_NAMES))
    if extra:
        raise FlowersDataError(
            f"{folder} has unexpected folder(s) {', '.join(extra)} besides the 5 classes: {_how_to_fix()}"
        )
    for name in sorted(CLASS_NAMES):
        if not _jpgs(subfolders[name]):
            raise FlowersDataError(f"{subfolders[name]} holds no .jpg images: {_how_to_fix()}")
    return folder


def _class_dirs(folder: Path) -> dict[str, Path]:
    """``{lower-case name: path}`` of the sub-folders, hidden ones (``.ipynb_checkpoints``) skipped."""
    return {p.name.lower(): p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _jpgs(class_folder: Path) -> list[Path]:
    return sorted(p for p in class_folder.iterdir() if p.is_file() and p.name.endswith(".jpg"))


def count_folder(folder: str | Path) -> dict[str, int]:
    """``{class name: number of .jpg images}`` of a checked flower folder, in label order."""
    by_name = _class_dirs(find_flower_folder(folder))
    return {name: len(_jpgs(by_name[name])) for name in CLASS_NAMES}


def _folder_files(folder: Path) -> list[tuple[str, Path]]:
    """``[("daisy/x.jpg", path), ...]``: the keys the real builder gives, sorted."""
    files = []
    for class_folder in sorted(_class_dirs(folder).values()):
        for path in _jpgs(class_folder):
            files.append((f"{class_folder.name}/{path.name}", path))
    return files


def folder_fingerprint(folder: str | Path) -> str:
    """A short hash of a flower folder's file names and sizes (changes when the folder does)."""
    folder = find_flower_folder(folder)
    digest = hashlib.sha1()
    for key, path in _folder_files(folder):
        digest.update(f"{key}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:12]


class _LocalFlowers(_tf_flowers.Builder, skip_registration=True):
    """The real tf_flowers builder, reading a local folder instead of downloading the archive.

    Same name, version, features, label order and example keys
    (``"<class>/<file>.jpg"``), so the prepared files are what
    ``tfds.load("tf_flowers")`` reads, and splits like ``train[:10%]`` pick
    the same examples as for the downloaded dataset.
    """

    name = DATASET
    pkg_dir_path = Path(_tf_flowers.__file__).parent  # README/citation of the real dataset
    source_folder: Path | None = None

    def _split_generators(self, dl_manager):
        files = [(f"flower_photos/{key}", str(path)) for key, path in _folder_files(self.source_folder)]
        return [tfds.core.SplitGenerator(name=tfds.Split.TRAIN, gen_kwargs={"images_dir_path": files})]


def local_builder(folder: str | Path, data_dir: str | Path) -> tfds.core.DatasetBuilder:
    """A tf_flowers builder that prepares the checked local ``folder`` into ``data_dir``."""
    folder = find_flower_folder(folder)
    builder_cls = type("LocalFlowers", (_LocalFlowers,), {"source_folder": folder, "name": DATASET},
                       skip_registration=True)
    return builder_cls(data_dir=str(data_dir))


@contextlib.contextmanager
def _absl_quiet(quiet: bool = True):
    from absl import logging as absl_logging

    before = absl_logging.get_verbosity()
    if quiet:
        absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(before)


def prepare_local_flowers(folder: str | Path, data_dir: str | Path | None = None, *,
                          quiet: bool = True) -> Path:
    """Prepare a local flower folder once as the TFDS dataset ``tf_flowers``; returns its data_dir.

    The dataset goes to ``<data_dir>/local_flowers/<fingerprint>`` (``data_dir``
    defaults to ``$TFDS_DATA_DIR``), so a changed folder gets a fresh copy and
    the real download in ``<data_dir>/tf_flowers`` is never touched. TFDS
    writes into an ``incomplete.*`` folder and renames it when done, so an
    interrupted preparation leaves nothing half-written. Pass the result to
    ``tfds.load("tf_flowers", data_dir=..., download=False)``.
    """
    folder = find_flower_folder(folder)
    base = Path(data_dir) if data_dir is not None else tfds_data_dir()
    target = base / "local_flowers" / folder_fingerprint(folder)
    shared = env.find_data(target, what=f"tf_flowers prepared from {folder}")
    if shared != target and (shared / PREPARED_STAMP).exists():
        return shared  # the classroom's copy, read only
    # One run prepares it (cross-process lock); TFDS's own incomplete.* folders of a killed run go first.
    with build_lock(target):
        for stale in (target.rglob("incomplete.*") if target.is_dir() else []):
            shutil.rmtree(stale, ignore_errors=True)
        with _absl_quiet(quiet):  # TFDS warns about the empty folder it is about to fill
            builder = local_builder(folder, target)
            prepared = builder.is_prepared()
        if not prepared:
            photos = [p for name in CLASS_NAMES for p in _jpgs(_class_dirs(folder)[name])]
            scan = images.scan_images(photos)
            if scan.bad or scan.converted:  # found now, not mid-epoch; the learner's folder stays as it is
                view, _ = images.clean_view(folder, target.with_name(target.name + "_checked"), files=photos)
                with _absl_quiet(quiet):
                    builder = local_builder(view, target)
            start = time.perf_counter()
            out = io.StringIO()
            with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext(), _absl_quiet(quiet):
                tfds.disable_progress_bar()
                try:
                    builder.download_and_prepare(
                        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
                    )
                finally:
                    tfds.enable_progress_bar()
            total = len(scan.good)
            (target / PREPARED_STAMP).write_text(json.dumps({"folder": str(folder), "images": total}))
            print(f"prepared {total} images from {folder} as tf_flowers in {target} "
                  f"({time.perf_counter() - start:.1f} s, once)")
    return target


# --------------------------------------------------------------------------- generated folder


def make_generated_flowers(root: str | Path, num_images: int = 300, *, seed: int = 0,
                           signal: float = GENERATED_SIGNAL, base_size: int = 64,
                           size_range: tuple[int, int] = (90, 260)) -> dict[str, int]:
    """Write generated 5-class images in the ``flower_photos`` layout at ``root``; returns counts.

    Each class has its own colour and stripe direction
    (:func:`course_utils.data.generated.make_images`); every image is resized to its own
    random height and width in ``size_range``, as the real photos vary.
    ``signal`` (see ``make_images``) is weak enough that a head on a random
    stand-in extractor learns the classes but makes some mistakes. Built
    in ``<root>.building`` and moved into place; an existing folder made with
    the same settings is reused; a folder the course did not generate is
    never overwritten.
    """
    from PIL import Image

    root = Path(root)
    settings = {"num_images": int(num_images), "seed": int(seed), "signal": float(signal),
                "base_size": int(base_size),
                "size_range": list(size_range), "version": 1}
    stamp = root / GENERATED_STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("settings") == settings:
        return json.loads(stamp.read_text())["counts"]
    if root.exists() and not stamp.exists():
        raise FlowersDataError(
            f"{root} exists and was not generated by the course: not overwriting it "
            "(choose an empty folder for generated images)"
        )
    if num_images < 5 * len(CLASS_NAMES):
        raise ValueError(f"num_images must be at least {5 * len(CLASS_NAMES)} (5 per class), got {num_images}")
    images, labels = course_data.make_images(num_images, base_size, len(CLASS_NAMES),
                                             signal=signal, seed=seed)
    rng = np.random.default_rng(seed + 1)
    low, high = size_range
    resized = []
    for image in images:
        height, width = (int(v) for v in rng.integers(low, high + 1, size=2))
        resized.append(np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR)))
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    counts = course_data.write_image_folder(building, resized, labels, CLASS_NAMES)
    (building / GENERATED_STAMP).write_text(json.dumps({"settings": settings, "counts": counts}))
    replace_folder(building, root)
    return counts


def generated_folder() -> Path:
    """Where the quick profile writes its generated ``flower_photos``: ``data/quick/flower_photos``."""
    return env.data_dir() / "quick" / "flower_photos"


# --------------------------------------------------------------------------- the loader


def tfds_data_dir() -> Path:
    """``$TFDS_DATA_DIR`` (``start_lesson`` sets it to the project's ``data/tfds``)."""
    value = os.environ.get("TFDS_DATA_DIR")
    if not value:
        raise FlowersDataError(
            "TFDS_DATA_DIR is not set: run the notebook's setup cell (start_lesson) first, "
            "or pass data_dir="
        )
    return Path(value)


def _can_reach(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to ``host`` opens (the tests replace this; they never connect)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class FlowersSource:
    """Where ``tfds.load("tf_flowers")`` reads from, and whether it may download."""

    kind: str
    data_dir: Path
    download: bool
    folder: Path | None = None

    def load_kwargs(self) -> dict:
        return {"data_dir": str(self.data_dir), "download": self.download}


def resolve_source(source: str = "tfds", *, folder: str | Path | None = None,
                   num_images: int | None = None, seed: int = 0,
                   data_dir: str | Path | None = None, verbose: bool = True) -> FlowersSource:
    """Make tf_flowers loadable from ``source`` and say where it will be read.

    ``"tfds"``: the real download into ``data_dir`` (default ``$TFDS_DATA_DIR``),
    unless ``folder`` (or ``$COURSE_FLOWERS_DIR``) names a local
    ``flower_photos`` copy, which is then prepared and used instead.
    ``"folder"``: that local copy (``folder`` required). ``"generated"``: a
    generated folder of ``num_images`` images, prepared the same way.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown flowers source {source!r}: use one of {', '.join(SOURCES)}")
    base = Path(data_dir) if data_dir is not None else tfds_data_dir()
    say = print if verbose else (lambda *args, **kwargs: None)
    if source == "generated":
        if folder:
            say(f"quick profile: FLOWERS_DIR={folder} is ignored; the generated images are used")
        root = generated_folder()  # your own (quick to make); its prepared copy may come from the shared folder
        with build_lock(root):  # one run writes it, the others wait and reuse it
            counts = make_generated_flowers(root, num_images or 300, seed=seed)
        say(f"{sum(counts.values())} generated images in {root} (flower_photos layout)")
        return FlowersSource("generated", prepare_local_flowers(root, base), False, root)
    folder = folder or os.environ.get(FOLDER_ENV_VAR) or None
    if source == "folder" and not folder:
        raise FlowersDataError(f"source 'folder' needs a folder: {_how_to_fix()}")
    if folder:
        checked = find_flower_folder(folder)
        say(f"local copy: {sum(count_folder(checked).values())} photos in {checked}")
        return FlowersSource("folder", prepare_local_flowers(checked, base), False, checked)
    shared = env.find_data(base / DATASET, what="tf_flowers (the real download)")
    if shared != base / DATASET and shared.is_dir():
        return FlowersSource("tfds", shared.parent, False, None)  # the classroom's copy, read only
    builder = tfds.builder(DATASET, data_dir=str(base))
    if not builder.is_prepared() and not _can_reach(DOWNLOAD_HOST, 443):
        raise FlowersDataError(
            f"tf_flowers is not in {base} and {DOWNLOAD_HOST} cannot be reached to download it "
            f"(about 220 MB, once): connect to the internet, or {_how_to_fix()}"
        )
    return FlowersSource("tfds", base, True, None)


def load_flowers(split: Sequence[str] | str = SPLIT, source: str = "tfds", *,
                 folder: str | Path | None = None, num_images: int | None = None,
                 seed: int = 0, data_dir: str | Path | None = None, verbose: bool = True):
    """``(datasets, info)`` from ``tfds.load("tf_flowers", split, as_supervised=True, with_info=True)``.

    The one call every source goes through (see :func:`resolve_source`);
    ``datasets`` is a list when ``split`` is a list (the lesson's
    ``(test, valid, train)``).
    """
    where = resolve_source(source, folder=folder, num_images=num_images, seed=seed,
                           data_dir=data_dir, verbose=verbose)
    split = list(split) if not isinstance(split, str) else split
    if verbose:
        print(f"tfds.load({DATASET!r}, split={split!r}, as_supervised=True, with_info=True, "
              f"data_dir={str(where.data_dir)!r}, download={where.download})   # source: {where.kind}")
    try:
        return tfds.load(DATASET, split=split, as_supervised=True, with_info=True, **where.load_kwargs())
    except Exception as exc:
        if where.download:
            raise FlowersDataError(
                f"tfds.load('tf_flowers') failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                f"if the download is the problem, {_how_to_fix()}"
            ) from exc
        raise


def count_examples(dataset) -> int:
    """How many examples a dataset yields, by iterating it (the lesson's manual check)."""
    return sum(1 for _ in dataset)


def split_sizes(info, split: Sequence[str] = SPLIT) -> dict[str, int]:
    """``{split string: number of examples}`` from the metadata (``info.splits[...]``)."""
    return {s: int(info.splits[s].num_examples) for s in split}


def image_shapes(dataset, count: int = 5) -> list[tuple[int, ...]]:
    """The shapes of the first ``count`` images of a supervised dataset."""
    return [tuple(int(d) for d in image.shape) for image, _ in dataset.take(count)]


# --------------------------------------------------------------------------- pipeline


def format_image(image, label, size: int = 224):
    """Resize to ``size`` x ``size`` and scale to [0, 1]: the lesson's ``format_image``."""
    image = tf.image.resize(image, (size, size)) / 255.0
    return image, label


def make_batches(train, valid, test, *, size: int, batch_size: int, num_train: int):
    """The lesson's pipeline for one model's image ``size``.

    train: ``shuffle(num_train // 4).map(format_image).batch(B).prefetch(1)``;
    validation and test: the same without the shuffle, so their order is fixed.
    """
    fmt = functools.partial(format_image, size=size)
    train_batches = train.shuffle(max(1, num_train // 4)).map(fmt).batch(batch_size).prefetch(1)
    validation_batches = valid.map(fmt).batch(batch_size).prefetch(1)
    test_batches = test.map(fmt).batch(batch_size).prefetch(1)
    return train_batches, validation_batches, test_batches


def batch_layout(num_examples: int, batch_size: int) -> list[int]:
    """The sizes of the batches ``batch(batch_size)`` makes of ``num_examples`` (last may be short)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    full, rest = divmod(num_examples, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


# --------------------------------------------------------------------------- predictions


@dataclass
class Predictions:
    """Logits and labels of a whole dataset, gathered batch by batch, plus the first images."""

    logits: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    batch_sizes: list[int]

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.logits, axis=-1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predicted == self.labels))

    def names(self, class_names: Sequence[str]) -> tuple[list[str], list[str]]:
        """``(true names, predicted names)`` for every example."""
        return ([class_names[int(i)] for i in self.labels], [class_names[int(i)] for i in self.predicted])

    def first(self, count: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(images, true labels, predicted labels)`` of the first ``count`` examples that kept
        their image (all kept images by default): what a prediction grid needs."""
        count = len(self.images) if count is None else min(count, len(self.images))
        return self.images[:count], self.labels[:count], self.predicted[:count]

    def __len__(self) -> int:
        return len(self.labels)


def collect_predictions(model, batches, keep_images: int = 30) -> Predictions:
    """Run ``model`` over every batch and keep logits and labels *from the same batch*.

    Correct for any batch size and even for a shuffled dataset, unlike
    indexing ``model.predict(ds)`` with ``range(BATCH_SIZE)``. Only the first
    ``keep_images`` images are kept (a whole test split at 299x299 would not
    fit in memory comfortably).
    """
    logits, labels, images, sizes = [], [], [], []
    kept = 0
    for image_batch, label_batch in batches:
        logits.append(np.asarray(model(image_batch, training=False)))
        labels.append(np.asarray(label_batch))
        sizes.append(int(label_batch.shape[0]))
        if kept < keep_images:
            take = np.asarray(image_batch[: keep_images - kept])
            images.append(take)
            kept += len(take)
    if not labels:
        raise ValueError("the dataset yielded no batches: check the split sizes")
    return Predictions(
        logits=np.concatenate(logits),
        labels=np.concatenate(labels),
        images=np.concatenate(images) if images else np.empty((0,)),
        batch_sizes=sizes,
    )
