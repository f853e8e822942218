"""cats_and_dogs_filtered for lesson 05: ``{train,validation}/{cats,dogs}/*.jpg`` (1,000 / 500 per class).

:func:`load` gives that folder for the real data (downloaded, or the learner's copy) and
for its generated stand-in, so the notebook reads both with the same code.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from course_utils.data import downloads, images
from course_utils.data.generated import DataLayoutError, build_stand_in, make_images, write_image_folder
from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import classroom, env, files, profiles

__all__ = ["ARCHIVE", "CLASS_NAMES", "CatsDogsLayoutError", "check_layout", "list_images", "load"]

_FOLDER_NAME = "cats_and_dogs_filtered"
_GENERATED_FOLDER_NAME = "cats_and_dogs_generated"
_SPLITS = ("train", "validation")
CLASS_NAMES = ("cats", "dogs")  # label 0 = cats, 1 = dogs (alphabetical, as Keras orders them)
_IMAGE_SUFFIXES = (".jpg", ".jpeg")
_FULL_COUNTS = {"train": {"cats": 1000, "dogs": 1000}, "validation": {"cats": 500, "dogs": 500}}
_MAX_UNPACKED = 256 << 20  # the archive (68.6 MB of JPEGs) unpacks to about as much

_LAYOUT_HELP = (
    "expected {train,validation}/{cats,dogs}/*.jpg inside it. Point the notebook's CATS_DOGS "
    "parameter at your copy of cats_and_dogs_filtered (the .zip or the extracted folder), or run "
    "with PROFILE=quick (generated images, offline)."
)


class CatsDogsLayoutError(DataLayoutError, CourseError):
    """A folder that is not laid out like cats_and_dogs_filtered."""


def _layout_error(root: Path, problem: str) -> CatsDogsLayoutError:
    return CatsDogsLayoutError(f"{root}: {problem}; " + _LAYOUT_HELP)


def _check_zip(path: str | Path) -> None:
    """:func:`files.check_zip` as a download check: :func:`downloads.fetch` keeps no damaged archive."""
    try:
        files.check_zip(path, _MAX_UNPACKED)
    except files.ZipError as err:
        raise downloads.VerificationError(
            f"{err}; download {_FOLDER_NAME}.zip again, or point CATS_DOGS at a good copy") from err


ARCHIVE = downloads.Asset(
    name="cats_and_dogs_filtered archive",
    filename="cats_and_dogs_filtered.zip",
    # the original address, and the one TensorFlow's transfer-learning tutorial moved to on 2025-11-11
    urls=("https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
          "https://storage.googleapis.com/download.tensorflow.org/example_images/cats_and_dogs_filtered.zip"),
    size=68_606_236,
    provenance=(
        "no checksum is published for this archive; 68,606,236 bytes is the Content-Length the "
        "bucket serves (public download logs); every member's CRC-32 and the layout are checked too"
    ),
    extra_checks=(_check_zip,),
)


def _count_images(root: str | Path) -> dict[str, dict[str, int]]:
    """``{split: {class: number of .jpg files}}`` for the folders that exist."""
    folders = {split: {name: Path(root) / split / name for name in CLASS_NAMES} for split in _SPLITS}
    return {split: {name: sum(p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES for p in folder.iterdir())
                    for name, folder in by_name.items() if folder.is_dir()} for split, by_name in folders.items()}


def check_layout(root: str | Path, expected: Mapping[str, Mapping[str, int]] | None = None
                 ) -> dict[str, dict[str, int]]:
    """The counts of ``root``'s ``{train,validation}/{cats,dogs}/*.jpg``, checked (and against ``expected``).

    Other files (the real archive has a ``vectorize.py``) are ignored. The error names
    what is missing and how to point the course at a local copy.
    """
    root = Path(root)
    if not root.is_dir():
        raise _layout_error(root, "no such folder")
    for split in _SPLITS:
        if not (root / split).is_dir():
            raise _layout_error(root, f"the {split!r} folder is missing")
        for name in CLASS_NAMES:
            if not (root / split / name).is_dir():
                raise _layout_error(root, f"the {split}/{name} folder is missing")
    counts = _count_images(root)
    empty = [f"{split}/{name}" for split in _SPLITS for name in CLASS_NAMES if counts[split][name] == 0]
    if empty:
        raise _layout_error(root, f"{empty[0]} has no .jpg images")
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
    if split not in _SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {_SPLITS}")
    root = Path(root)
    check_layout(root)
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(CLASS_NAMES):
        found = sorted(p for p in (root / split / name).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        paths += found
        labels += [label] * len(found)
    return paths, np.asarray(labels, dtype="int64")  # pragma: no mutate (numpy 2: ints are int64 everywhere)


def _describe(counts: Mapping[str, Mapping[str, int]]) -> str:
    return "; ".join(
        f"{split}: " + ", ".join(f"{n:,} {name}" for name, n in counts[split].items()) for split in counts
    )


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0, progress: bool = True,
         num_images: int | None = None, image_size: int = 150) -> Path:
    """The data folder, ``<it>/{train,validation}/{cats,dogs}/*.jpg``, for ``source``.

    ``"real"``: ``local_copy`` if given (a folder, checked and read where it is, or through a
    checked view when images are unreadable or not RGB; or the zip, verified and extracted);
    else ``$KERAS_HOME/datasets/cats_and_dogs_filtered`` (or the classroom's shared copy),
    downloaded (``progress``: its progress bar), verified and extracted there once.
    ``"stand-in"``: :func:`_make_stand_in` in ``$KERAS_HOME/datasets/cats_and_dogs_generated``.
    """
    folder = env.keras_home() / "datasets"
    if profiles.check_source(source, "cats_and_dogs_filtered") == "stand-in":
        if num_images is None:
            raise ValueError("source='stand-in' needs num_images")
        if local_copy is not None:
            say(f"note: the quick profile generates its images; your copy {local_copy} is not used")
        root = _make_stand_in(folder / _GENERATED_FOLDER_NAME, num_images, image_size=image_size, seed=seed)
        say(f"generated stand-in data at {root} ({_describe(_count_images(root))})")
        return root
    if local_copy is not None and Path(local_copy).is_dir():
        return _learners_folder(Path(local_copy), folder)
    final = folder / _FOLDER_NAME
    if local_copy is None:  # a classroom's shared, read-only copy is read where it is (classroom.find_data)
        found = classroom.find_data(final, what="cats_and_dogs_filtered (extracted)")
        if found.exists():
            try:  # only a complete, checked folder is ever moved here; someone changed this one
                counts = check_layout(found, _FULL_COUNTS)
            except CatsDogsLayoutError as err:
                raise CatsDogsLayoutError(f"{err} To download and extract it again, delete {found}.") from None
            say(f"cats_and_dogs_filtered: found {found} ({_describe(counts)})")
            return found
    archive = downloads.fetch(ARCHIVE, folder, local_copy=local_copy, progress=progress)
    root = files.extract_zip(archive, final, arrange=_data_root, ready=lambda path: _holds(path, _FULL_COUNTS),
                             max_unpacked=_MAX_UNPACKED)
    say(f"cats_and_dogs_filtered: extracted to {root} ({_describe(_count_images(root))})")
    return root


def _data_root(folder: Path) -> Path:
    """The folder holding ``train/`` and ``validation/`` (``folder`` or the one inside it that does), checked."""
    found = [folder] if (folder / "train").is_dir() else [p for p in folder.iterdir() if (p / "train").is_dir()]
    if len(found) != 1:
        raise _layout_error(folder, "neither it nor a folder inside it has train/ and validation/")
    check_layout(found[0], _FULL_COUNTS)
    return found[0]


def _holds(root: Path, counts: Mapping[str, Mapping[str, int]]) -> bool:
    try:
        return check_layout(root, counts) == counts
    except CatsDogsLayoutError:
        return False


def _learners_folder(local: Path, folder: Path) -> Path:
    """The learner's extracted copy, checked; a checked view under ``folder`` when images need it."""
    root = _data_root(local)
    say(f"cats_and_dogs_filtered: using your folder {root} ({_describe(_count_images(root))})")
    scan = images.scan_images(p for split in _SPLITS for name in CLASS_NAMES
                              for p in sorted((root / split / name).iterdir()) if p.is_file())
    if scan.bad or scan.converted:  # train on a clean view; the learner's folder stays as it is
        view, _ = images.clean_view(root, folder / (_FOLDER_NAME + "_checked"))
        return view
    return root


def _generated_counts(num_images: int) -> dict[str, dict[str, int]]:
    """How :func:`_make_stand_in` splits ``num_images``: a third for validation, as the real set; balanced classes."""
    validation = int(round(num_images / 3 / 2)) * 2
    train = (num_images - validation) // 2 * 2
    if train < 2 or validation < 2:
        raise ValueError(f"num_images={num_images} is too small: need at least 2 images per split")
    return {"train": {"cats": train // 2, "dogs": train // 2},
            "validation": {"cats": validation // 2, "dogs": validation // 2}}


def _make_stand_in(root: str | Path, num_images: int, *, image_size: int = 150, seed: int = 0) -> Path:
    """Generated two-class JPEGs (:func:`generated.make_images`, other seeds for train and validation)
    in the cats_and_dogs_filtered layout at ``root``, built once and again when the settings change."""
    counts = _generated_counts(num_images)
    settings = {"num_images": num_images, "image_size": image_size, "seed": seed, "counts": counts}

    def write(staging: Path) -> None:
        for offset, split in enumerate(_SPLITS):
            total = sum(counts[split].values())
            pictures, labels = make_images(total, image_size, num_classes=2, seed=seed + 101 * offset)
            write_image_folder(staging / split, pictures, labels, CLASS_NAMES)
        check_layout(staging, counts)

    return build_stand_in(root, settings, write, complete=lambda path: _holds(path, counts))
