"""tf_flowers for lesson 03: make ``tfds.load("tf_flowers")`` able to load, for both sources.

The notebook makes the ``tfds.load`` call itself (it is the lesson's subject); :func:`load` only
gets tf_flowers ready for it and returns the ``data_dir`` to pass. A local folder is prepared by
the real tf_flowers builder pointed at the local files (``_LocalFlowers``): the features, label
order and example keys are the real ones, so ``train[:10%]`` picks the photos the download
would. By hand as no public TFDS API does it: ``tfds.folder_dataset.ImageFolder`` is another
dataset (own name, alphabetical labels), and tf_flowers' builder never reads
``DownloadConfig(manual_dir=...)``.
"""
from __future__ import annotations

import contextlib
import io
import os
import socket
import time
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.datasets.tf_flowers import tf_flowers_dataset_builder as _tf_flowers

from course_utils.data import generated, images
from course_utils.messages import say
from course_utils.setup import classroom, env
from course_utils.setup.files import build_once, digest, read_manifest, write_manifest
from course_utils.setup.profiles import check_source

__all__ = ["FlowersDataError", "load"]

_DATASET = "tf_flowers"
#: tf_flowers' label order (label 0 is dandelion); a local folder gets the same.
_CLASS_NAMES: tuple[str, ...] = ("dandelion", "daisy", "tulips", "sunflowers", "roses")
_EXPECTED_LAYOUT = "flower_photos/{daisy,dandelion,roses,sunflowers,tulips}/*.jpg"
_DOWNLOAD_HOST = "download.tensorflow.org"
_FOLDER_ENV_VAR = "COURSE_FLOWERS_DIR"
_KIND = "tfds flowers"  # a prepared folder's manifest: the source folder and its image count
_LAYOUT_HELP = (f"expected {_EXPECTED_LAYOUT} (the unpacked flower_photos.tgz); point FLOWERS_DIR "
               f"(or ${_FOLDER_ENV_VAR}) at that folder, or run with PROFILE='quick' offline")


class FlowersDataError(generated.DataLayoutError):
    """tf_flowers cannot be loaded: a bad local folder, or no way to download it."""


# --------------------------------------------------------------------------- local folder


def _find_flower_folder(folder: str | Path) -> Path:
    """The ``flower_photos`` folder at ``folder`` (or directly inside it), checked: else a one-line
    :class:`FlowersDataError` saying what is wrong and how to fix it."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise FlowersDataError(f"no flower folder at {folder}: {_LAYOUT_HELP}")
    if not folder.is_dir():
        raise FlowersDataError(
            f"{folder} is a file, not a folder: unpack it first (tar xzf flower_photos.tgz); {_LAYOUT_HELP}"
        )
    subfolders = _class_dirs(folder)
    if not set(subfolders) & set(_CLASS_NAMES) and "flower_photos" in subfolders:
        folder = subfolders["flower_photos"]
        subfolders = _class_dirs(folder)
    missing = sorted(set(_CLASS_NAMES) - set(subfolders))
    if missing:
        raise FlowersDataError(f"{folder} has no class folder(s) {', '.join(missing)}: {_LAYOUT_HELP}")
    extra = sorted(set(subfolders) - set(_CLASS_NAMES))
    if extra:
        raise FlowersDataError(
            f"{folder} has unexpected folder(s) {', '.join(extra)} besides the 5 classes: {_LAYOUT_HELP}"
        )
    for name in sorted(_CLASS_NAMES):
        if not _jpgs(subfolders[name]):
            raise FlowersDataError(f"{subfolders[name]} holds no .jpg images: {_LAYOUT_HELP}")
    return folder


def _class_dirs(folder: Path) -> dict[str, Path]:
    """``{lower-case name: path}`` of the sub-folders, hidden ones (``.ipynb_checkpoints``) skipped."""
    return {p.name.lower(): p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _jpgs(class_folder: Path) -> list[Path]:
    return sorted(p for p in class_folder.iterdir() if p.is_file() and p.name.endswith(".jpg"))


def _folder_files(folder: Path) -> list[tuple[str, Path]]:
    """``[("daisy/x.jpg", path), ...]``: the keys the real builder gives, sorted."""
    files = []
    for class_folder in sorted(_class_dirs(folder).values()):
        for path in _jpgs(class_folder):
            files.append((f"{class_folder.name}/{path.name}", path))
    return files


def _folder_fingerprint(folder: str | Path) -> str:
    """A short hash of a flower folder's file names and sizes (changes when the folder does)."""
    folder = _find_flower_folder(folder)
    return digest("".join(f"{key}:{path.stat().st_size}\n" for key, path in _folder_files(folder)), 12)


class _LocalFlowers(_tf_flowers.Builder, skip_registration=True):
    """The real tf_flowers builder (name, version, features, label order, example keys), reading
    ``source_folder`` instead of downloading the archive."""

    name = _DATASET
    pkg_dir_path = Path(_tf_flowers.__file__).parent  # README/citation of the real dataset
    source_folder: Path | None = None

    def _split_generators(self, dl_manager):
        files = [(f"flower_photos/{key}", str(path)) for key, path in _folder_files(self.source_folder)]
        return [tfds.core.SplitGenerator(name=tfds.Split.TRAIN, gen_kwargs={"images_dir_path": files})]


def _local_builder(folder: str | Path, data_dir: str | Path) -> tfds.core.DatasetBuilder:
    """A tf_flowers builder that prepares the checked local ``folder`` into ``data_dir``."""
    builder = _LocalFlowers(data_dir=str(data_dir))
    builder.source_folder = _find_flower_folder(folder)
    return builder


@contextlib.contextmanager
def _tfds_quiet(progress: bool = True):
    """TFDS's own messages and log lines off (the course prints one line); its progress bar if ``progress``.

    By hand: TFDS has no public switch for its log lines; absl's ``set_verbosity`` is the public one.
    """
    from absl import logging as absl_logging

    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    tfds.display_progress_bar(progress)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tfds.display_progress_bar(True)
        absl_logging.set_verbosity(before)


def _prepare_local_flowers(folder: str | Path, data_dir: str | Path | None = None, *,
                          progress: bool = True) -> Path:
    """Prepare a local flower folder once as the TFDS dataset ``tf_flowers``; returns its ``data_dir``.

    In ``<data_dir>/local_flowers/<fingerprint>`` (``data_dir``: ``$TFDS_DATA_DIR``), so a
    changed folder gets a fresh copy; a classroom's prepared copy is read where it is.
    Unreadable photos are named and left out, odd ones converted (in a checked view, never
    in the learner's folder). Through ``files.build_once``: one process prepares, others wait.
    """
    folder = _find_flower_folder(folder)
    base = Path(data_dir) if data_dir is not None else _tfds_data_dir()
    target = base / "local_flowers" / _folder_fingerprint(folder)
    shared = classroom.find_data(target, what=f"tf_flowers prepared from {folder}")
    if shared != target and read_manifest(shared, _KIND) is not None:
        return shared  # the classroom's copy, read only

    def build(staging: Path) -> None:
        photos = [p for name in _CLASS_NAMES for p in _jpgs(_class_dirs(folder)[name])]
        scan = images.scan_images(photos)
        source = folder
        if scan.bad or scan.converted:  # found now, not mid-epoch
            source, _ = images.clean_view(folder, target.with_name(target.name + "_checked"), files=photos)
        start = time.perf_counter()
        with _tfds_quiet(progress):
            _local_builder(source, staging).download_and_prepare(
                download_config=tfds.download.DownloadConfig(try_download_gcs=False))
        write_manifest(staging, _KIND, folder=str(folder), images=len(scan.good))
        say(f"prepared {len(scan.good)} images from {folder} as tf_flowers in {target} "
            f"({time.perf_counter() - start:.1f} s, once)")

    return build_once(target, build, ready=lambda path: read_manifest(path, _KIND) is not None)


def _make_stand_in(root: str | Path, num_images: int = 300, *, seed: int = 0, signal: float = 0.4,
                  base_size: int = 64, size_range: tuple[int, int] = (90, 260)) -> dict[str, int]:
    """The quick profile's ``flower_photos`` at ``root``, built once (:func:`generated.build_stand_in`);
    returns the counts. :func:`generated.make_images` at ``base_size``, each resized to its own
    height and width in ``size_range`` (as photos vary), with a ``signal`` weak enough that a head
    on a random stand-in extractor learns the classes but makes some mistakes. A folder the
    course did not generate is never overwritten.
    """
    from PIL import Image

    root = Path(root)
    settings = {"classes": list(_CLASS_NAMES), "num_images": int(num_images), "seed": int(seed),
                "signal": float(signal), "base_size": int(base_size), "size_range": list(size_range), "version": 2}

    def write(staging: Path) -> dict[str, int]:
        pictures, labels = generated.make_images(num_images, base_size, len(_CLASS_NAMES), signal=signal, seed=seed)
        rng = np.random.default_rng(seed + 1)
        sizes = [tuple(int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2)) for _ in pictures]
        pictures = [np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
                    for image, (height, width) in zip(pictures, sizes)]
        return generated.write_image_folder(staging, pictures, labels, _CLASS_NAMES)

    if root.exists() and not generated.built_here(root):
        raise FlowersDataError(f"{root} exists and was not generated by the course: not overwriting it "
                               "(choose an empty folder for generated images)")
    if num_images < 5 * len(_CLASS_NAMES):
        raise ValueError(f"num_images must be at least {5 * len(_CLASS_NAMES)} (5 per class), got {num_images}")
    return generated.manifest(generated.build_stand_in(root, settings, write))["made"]


# --------------------------------------------------------------------------- the loader


def _tfds_data_dir() -> Path:
    """``$TFDS_DATA_DIR`` (``start_lesson`` sets it to the project's ``data/tfds``)."""
    value = os.environ.get("TFDS_DATA_DIR")
    if not value:
        raise FlowersDataError("TFDS_DATA_DIR is not set: run the notebook's setup cell (start_lesson) first")
    return Path(value)


def _can_reach(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to ``host`` opens (the tests replace this; they never connect)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0,
         progress: bool = True, num_images: int | None = None) -> Path:
    """Get tf_flowers ready for ``tfds.load`` from ``source``; returns the ``data_dir`` to pass it.

    ``"real"`` (full profile): the learner's ``local_copy`` (else ``$COURSE_FLOWERS_DIR``), the
    unpacked ``flower_photos/`` folder, prepared once; else TFDS's own download (220 MB, once)
    into ``$TFDS_DATA_DIR``, which ``tfds.load`` makes (offline, a :class:`FlowersDataError` at
    once). ``"stand-in"`` (quick): ``num_images`` (300) generated images
    (:func:`_make_stand_in`), prepared the same way. ``progress``: TFDS's bar while preparing.
    """
    check_source(source, "the flowers (lesson 03)")
    base = _tfds_data_dir()
    if source == "stand-in":
        if local_copy:
            say(f"stand-in source: FLOWERS_DIR={local_copy} is ignored; the generated images are used")
        root = env.data_dir() / "quick" / "flower_photos"  # your own (quick to make); its prepared copy may be shared
        counts = _make_stand_in(root, num_images or 300, seed=seed)
        say(f"{sum(counts.values())} generated images in {root} (flower_photos layout)")
        return _prepare_local_flowers(root, base, progress=progress)
    local_copy = local_copy or os.environ.get(_FOLDER_ENV_VAR) or None
    if local_copy:
        folder = _find_flower_folder(local_copy)
        say(f"local copy: {len(_folder_files(folder))} photos in {folder}")
        return _prepare_local_flowers(folder, base, progress=progress)
    shared = classroom.find_data(base / _DATASET, what="tf_flowers (the real download)")
    if shared != base / _DATASET and shared.is_dir():
        return shared.parent  # the classroom's copy, read only
    with _tfds_quiet(progress):
        prepared = tfds.builder(_DATASET, data_dir=str(base)).is_prepared()
    if not prepared and not _can_reach(_DOWNLOAD_HOST, 443):
        raise FlowersDataError(
            f"tf_flowers is not in {base} and {_DOWNLOAD_HOST} cannot be reached to download it "
            f"(about 220 MB, once): connect to the internet, or {_LAYOUT_HELP}"
        )
    return base
