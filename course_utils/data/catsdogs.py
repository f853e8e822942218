"""cats_and_dogs_filtered: download, extract, check, or generate a stand-in in the same layout.

The data set is a folder::

    cats_and_dogs_filtered/
        train/cats/*.jpg        1,000 images
        train/dogs/*.jpg        1,000
        validation/cats/*.jpg     500
        validation/dogs/*.jpg     500

The ``full`` profile downloads ``cats_and_dogs_filtered.zip`` (the lesson's
URL), verifies it and extracts it into a temporary folder that is moved into
place only when its layout is complete. A learner who already has the zip
or the extracted folder passes its path instead. The ``quick`` profile writes
generated two-class JPEGs in the same layout, so the notebook reads both with
the same code.

No checksum of the archive is published. We verify what can be verified
honestly: its size (the Content-Length the bucket serves, seen in public
download logs), the CRC-32 of every member of the zip, and the layout and
image counts after extraction.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from course_utils.data import downloads, images
from course_utils.setup import env
from course_utils.data.generated import DataLayoutError, make_images, write_image_folder
from course_utils.setup.files import build_lock, replace_folder

FOLDER_NAME = "cats_and_dogs_filtered"
GENERATED_FOLDER_NAME = "cats_and_dogs_generated"
SPLITS = ("train", "validation")
CLASS_NAMES = ("cats", "dogs")  # label 0 = cats, 1 = dogs (alphabetical, as Keras orders them)
IMAGE_SUFFIXES = (".jpg", ".jpeg")
FULL_COUNTS: dict[str, dict[str, int]] = {
    "train": {"cats": 1000, "dogs": 1000},
    "validation": {"cats": 500, "dogs": 500},
}
GENERATED_MARKER = "COURSE_GENERATED.txt"

LAYOUT_HELP = (
    "expected {train,validation}/{cats,dogs}/*.jpg inside it. Point the notebook's CATS_DOGS "
    "parameter at your copy of cats_and_dogs_filtered (the .zip or the extracted folder), or run "
    "with PROFILE=quick (generated images, offline)."
)


class CatsDogsLayoutError(DataLayoutError):
    """A folder that is not laid out like cats_and_dogs_filtered."""


def _layout_error(root: Path, problem: str) -> CatsDogsLayoutError:
    return CatsDogsLayoutError(f"{root}: {problem}; " + LAYOUT_HELP)


def check_zip(path: str | Path) -> None:
    """A readable zip whose members all pass their CRC-32 and stay inside the folder.

    Raises :class:`downloads.VerificationError` otherwise (so :func:`downloads.fetch`
    treats it like a wrong checksum).
    """
    path = Path(path)
    again = f"; download {FOLDER_NAME}.zip again, or point CATS_DOGS at a good copy"
    if not zipfile.is_zipfile(path):
        raise downloads.VerificationError(f"{path} is not a zip archive (truncated or not the right file){again}")
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            parts = Path(name).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise downloads.VerificationError(f"{path}: unsafe member path {name!r}; not extracting it")
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:  # zlib: damaged deflated data
            raise downloads.VerificationError(f"{path}: damaged zip ({err}){again}") from err
        if bad is not None:
            raise downloads.VerificationError(f"{path}: member {bad!r} fails its CRC-32 check (damaged archive){again}")


ARCHIVE = downloads.Asset(
    name="cats_and_dogs_filtered archive",
    filename="cats_and_dogs_filtered.zip",
    urls=("https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",),
    size=68_606_236,
    provenance=(
        "no checksum is published for this archive; 68,606,236 bytes is the Content-Length the "
        "bucket serves (public download logs); every member's CRC-32 and the layout are checked too"
    ),
    extra_checks=(check_zip,),
)


def count_images(root: str | Path) -> dict[str, dict[str, int]]:
    """``{split: {class: number of .jpg files}}`` for the folders that exist."""
    root = Path(root)
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts[split] = {}
        for name in CLASS_NAMES:
            folder = root / split / name
            if folder.is_dir():
                counts[split][name] = sum(
                    1 for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                )
    return counts


def check_layout(root: str | Path, expected: Mapping[str, Mapping[str, int]] | None = None
                 ) -> dict[str, dict[str, int]]:
    """Check ``root`` has ``{train,validation}/{cats,dogs}/*.jpg``; returns the counts.

    ``expected`` (e.g. :data:`FULL_COUNTS`) also checks the exact counts.
    Other files (the real archive has a ``vectorize.py``) are ignored. The
    error names what is missing and how to point the course at a local copy.
    """
    root = Path(root)
    if not root.is_dir():
        raise _layout_error(root, "no such folder")
    for split in SPLITS:
        if not (root / split).is_dir():
            raise _layout_error(root, f"the {split!r} folder is missing")
        for name in CLASS_NAMES:
            if not (root / split / name).is_dir():
                raise _layout_error(root, f"the {split}/{name} folder is missing")
    counts = count_images(root)
    for split in SPLITS:
        for name in CLASS_NAMES:
            if counts[split][name] == 0:
                raise _layout_error(root, f"{split}/{name} has no .jpg images")
    if expected is not None:
        wrong = [
            f"{split}/{name}: {counts[split][name]} images, expected {expected[split][name]}"
            for split in expected for name in expected[split]
            if counts[split][name] != expected[split][name]
        ]
        if wrong:
            raise _layout_error(root, "incomplete or different data set (" + "; ".join(wrong) + ")")
    return counts


def list_images(root: str | Path, split: str) -> tuple[list[Path], np.ndarray]:
    """Sorted image paths of ``split`` and their labels (0 = cats, 1 = dogs)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    root = Path(root)
    check_layout(root)
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(CLASS_NAMES):
        found = sorted(p for p in (root / split / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += found
        labels += [label] * len(found)
    return paths, np.asarray(labels, dtype="int64")  # pragma: no mutate (numpy 2: ints are int64 everywhere)


def _find_data_root(folder: Path) -> Path:
    """The folder holding ``train/`` and ``validation/``: ``folder`` or one level down."""
    if (folder / "train").is_dir():
        return folder
    candidates = [p for p in folder.iterdir() if p.is_dir() and (p / "train").is_dir()]
    if len(candidates) == 1:
        return candidates[0]
    return folder / FOLDER_NAME


def extract_archive(zip_path: str | Path, folder: str | Path, *,
                    expected: Mapping[str, Mapping[str, int]] | None = FULL_COUNTS) -> Path:
    """Extract ``zip_path`` and move its data folder to ``folder/cats_and_dogs_filtered``.

    Extraction goes to a temporary folder next to the target; only a complete
    layout is moved into place, so an interrupted extraction leaves nothing
    that a later run would use.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / FOLDER_NAME
    check_zip(zip_path)
    for stale in folder.glob(f".{FOLDER_NAME}.extracting-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}.extracting-", dir=folder))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        inner = _find_data_root(tmp)
        check_layout(inner, expected)
        replace_folder(inner, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def download_cats_and_dogs(folder: str | Path, *, local_copy: str | Path | None = None,
                           asset: downloads.Asset = ARCHIVE,
                           expected: Mapping[str, Mapping[str, int]] | None = FULL_COUNTS,
                           **fetch_options) -> Path:
    """The data folder of cats_and_dogs_filtered under ``folder``, fetched if needed.

    ``local_copy`` may be the zip (verified, then extracted here) or an
    extracted folder (checked and used where it is). ``fetch_options`` go to
    :func:`downloads.fetch` (retries, opener...).
    """
    folder = Path(folder)
    if local_copy is not None and Path(local_copy).is_dir():
        root = _find_data_root(Path(local_copy))
        if not (root / "train").is_dir():
            raise _layout_error(Path(local_copy), "neither it nor a folder inside it has train/ and validation/")
        counts = check_layout(root, expected)
        print(f"cats_and_dogs_filtered: using your folder {root} ({_describe(counts)})")
        scan = images.scan_images(p for split in SPLITS for name in CLASS_NAMES
                                  for p in sorted((root / split / name).iterdir()) if p.is_file())
        if scan.bad or scan.converted:  # train on a clean view; the learner's folder stays as it is
            view, _ = images.clean_view(root, folder / (FOLDER_NAME + "_checked"))
            return view
        return root
    final = folder / FOLDER_NAME
    if local_copy is None:  # a classroom's shared, read-only copy is read where it is (env.find_data)
        final = env.find_data(final, what="cats_and_dogs_filtered (extracted)")
    if final.exists() and local_copy is None:
        try:  # only a complete, checked folder is ever moved here; someone changed this one
            counts = check_layout(final, expected)
        except CatsDogsLayoutError as err:
            raise CatsDogsLayoutError(f"{err} To download and extract it again, delete {final}.") from None
        print(f"cats_and_dogs_filtered: found {final} ({_describe(counts)})")
        return final
    with build_lock(folder / FOLDER_NAME):  # one run downloads and extracts; the others wait, then reuse it
        if local_copy is None and (folder / FOLDER_NAME).exists():
            return download_cats_and_dogs(folder, asset=asset, expected=expected, **fetch_options)
        archive = downloads.fetch(asset, folder, local_copy=local_copy, **fetch_options)
        root = extract_archive(archive, folder, expected=expected)
    print(f"cats_and_dogs_filtered: extracted to {root} ({_describe(count_images(root))})")
    return root


def _describe(counts: Mapping[str, Mapping[str, int]]) -> str:
    return "; ".join(
        f"{split}: " + ", ".join(f"{n:,} {name}" for name, n in counts[split].items()) for split in counts
    )


def generated_counts(num_images: int, validation_fraction: float = 1 / 3) -> dict[str, dict[str, int]]:
    """How :func:`make_quick_cats_and_dogs` splits ``num_images`` (balanced classes)."""
    validation = int(round(num_images * validation_fraction / 2)) * 2
    train = (num_images - validation) // 2 * 2
    if train < 2 or validation < 2:
        raise ValueError(f"num_images={num_images} is too small: need at least 2 images per split")
    return {
        "train": {"cats": train // 2, "dogs": train // 2},
        "validation": {"cats": validation // 2, "dogs": validation // 2},
    }


def make_quick_cats_and_dogs(folder: str | Path, num_images: int, *, image_size: int = 150,
                             seed: int = 0, validation_fraction: float = 1 / 3) -> Path:
    """Generated two-class JPEGs in the cats_and_dogs_filtered layout; returns the data folder.

    The two classes differ in colour and stripe direction (see
    :func:`course_utils.data.generated.make_images`), so a classifier can learn them.
    Train and validation come from different seeds: no image is in both.
    A folder generated earlier with the same settings is reused.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / GENERATED_FOLDER_NAME
    counts = generated_counts(num_images, validation_fraction)
    marker = (
        f"Generated stand-in for cats_and_dogs_filtered (course quick profile): NOT cats and dogs.\n"
        f"num_images={num_images} image_size={image_size} seed={seed} counts={counts}\n"
    )
    if (final / GENERATED_MARKER).is_file() and (final / GENERATED_MARKER).read_text() == marker:
        try:
            check_layout(final, counts)
            return final
        except CatsDogsLayoutError:
            pass
    tmp = Path(tempfile.mkdtemp(prefix=f".{GENERATED_FOLDER_NAME}.building-", dir=folder))
    try:
        for offset, split in enumerate(SPLITS):
            total = sum(counts[split].values())
            images, labels = make_images(total, image_size, num_classes=2, seed=seed + 101 * offset)
            write_image_folder(tmp / split, images, labels, CLASS_NAMES)
        check_layout(tmp, counts)
        (tmp / GENERATED_MARKER).write_text(marker)
        replace_folder(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def default_folder() -> Path:
    """``$KERAS_HOME/datasets`` (where ``tf.keras.utils.get_file`` keeps data sets), else ``<data>/keras/datasets``.

    ``start_lesson`` points ``KERAS_HOME`` at ``data/keras`` (full) or
    ``data/quick/keras`` (quick), so generated data never sits beside real data.
    """
    from course_utils.setup.env import data_dir

    return Path(os.environ.get("KERAS_HOME") or data_dir() / "keras") / "datasets"


def prepare_cats_and_dogs(source: str, folder: str | Path | None = None, *, num_images: int | None = None,
                          image_size: int = 150, seed: int = 0,
                          local_copy: str | Path | None = None, **fetch_options) -> Path:
    """The data folder for the profile's ``source``: ``"download"`` or ``"generated"``.

    ``folder`` defaults to :func:`default_folder`.
    """
    folder = Path(folder) if folder is not None else default_folder()
    if source == "download":
        return download_cats_and_dogs(folder, local_copy=local_copy, **fetch_options)
    if source == "generated":
        if num_images is None:
            raise ValueError("source='generated' needs num_images")
        if local_copy is not None:
            print(f"note: the quick profile generates its images; your copy {local_copy} is not used")
        with build_lock(Path(folder) / GENERATED_FOLDER_NAME):  # one run writes it, the others reuse it
            root = make_quick_cats_and_dogs(folder, num_images, image_size=image_size, seed=seed)
        print(f"generated stand-in data at {root} ({_describe(count_images(root))})")
        return root
    raise ValueError(f"unknown cats-and-dogs source {source!r}: use 'download' or 'generated'")
