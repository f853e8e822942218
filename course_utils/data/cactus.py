"""Lesson 04's data: Kaggle's Aerial Cactus Identification, or its generated stand-in.

The data set is a CSV plus a folder of images::

    train.csv            id,has_cactus          (17,500 rows, 13,136 with has_cactus = 1)
    train/<id>           one 32x32 JPEG per row (Kaggle's zip nests it as train/train/)

:func:`load` gives that folder for either source. The notebook reads ``train.csv``
itself (``pd.read_csv``); :func:`check_cactus_table` then checks the copy before a
single epoch runs: the two columns, labels that are 0 or 1, ids that are unique, and
every listed image present (missing ones are named and counted).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np

from course_utils.data import images
from course_utils.data.generated import DataLayoutError, build_stand_in, make_images
from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import classroom, env, files, profiles

__all__ = ["CactusDataError", "KaggleSetupError", "check_cactus_table", "load", "write_kaggle_layout"]

_COMPETITION = "aerial-cactus-identification"
_COMPETITION_URL = f"https://www.kaggle.com/c/{_COMPETITION}"
_CSV_NAME = "train.csv"
_ID_COLUMN = "id"
_LABEL_COLUMN = "has_cactus"
_IMAGE_FOLDER = "train"
_FOLDER_NAME = "aerial_cactus"
_GENERATED_FOLDER_NAME = "aerial_cactus_generated"
_IMAGE_SIZE = 32
_IMBALANCE = (1, 3)  # has_cactus 0 : 1, as in the real data (4,364 : 13,136)
# The most the competition's zip, and the train.zip inside it, may unpack to: the real ones are about 25 MB.
_MAX_UNPACKED = 200 << 20

_LAYOUT_HELP = (
    f"expected {_CSV_NAME} (columns {_ID_COLUMN},{_LABEL_COLUMN}) beside a folder {_IMAGE_FOLDER}/ "
    f"(or {_IMAGE_FOLDER}/{_IMAGE_FOLDER}/) holding one 32x32 JPEG per id. Point the notebook's CACTUS_DIR "
    "parameter at your copy of the Kaggle data (the folder or the competition's "
    ".zip), or run with PROFILE=quick (generated images, offline)."
)


class CactusDataError(DataLayoutError, CourseError):
    """A copy of the cactus data that is not laid out (or labelled) as the loader expects."""


class KaggleSetupError(CourseError, RuntimeError):
    """The Kaggle download cannot run here (no client, no token, rules not accepted, no network)."""


def _layout_error(where: Path | str, problem: str) -> CactusDataError:
    return CactusDataError(f"{where}: {problem}; {_LAYOUT_HELP}")


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0, progress: bool = True,
         num_images: int | None = None) -> Path:
    """The folder holding ``train.csv`` and the images (``train/`` or ``train/train/``), for ``source``.

    ``"real"``: ``local_copy`` if given (a folder, read where it is, or the competition's
    ``.zip``, installed at ``<data>/aerial_cactus``); else that folder (or the classroom's shared
    copy); else the competition downloaded once through the Kaggle API (``progress``: its
    output; :class:`KaggleSetupError` lists the setup steps) and installed.
    ``"stand-in"``: :func:`_make_stand_in` in ``<data>/quick/aerial_cactus_generated``.
    """
    if profiles.check_source(source, "the cactus data") == "stand-in":
        if local_copy is not None:
            say(f"note: the quick profile uses generated images; CACTUS_DIR={local_copy} is not used")
        if not num_images:
            raise ValueError("the generated stand-in needs num_images")
        root = _make_stand_in(env.data_dir() / "quick" / _GENERATED_FOLDER_NAME, num_images, seed=seed)
        say(f"generated stand-in data: {root}")
        return root
    target = env.data_dir() / _FOLDER_NAME
    if local_copy is not None:
        local = Path(local_copy).expanduser()
        if local.is_file():
            return _install_zip(local, target)
        if not local.is_dir():
            raise _layout_error(local, "no such file or folder (the local copy you named)")
        if not (local / _CSV_NAME).is_file():  # the notebook reads it next: say now that it is not there
            present = sorted(p.name for p in local.iterdir())[:8]
            raise _layout_error(local, f"no {_CSV_NAME} here (found: {', '.join(present) or 'nothing'})")
        say(f"your local copy: {local}")
        return local
    found = classroom.find_data(target, what="the aerial cactus Kaggle data")  # a classroom's shared copy first
    if (found / _CSV_NAME).is_file():
        say(f"Kaggle data already installed at {found}")
        return found
    download = files.build_once(target.with_name(_FOLDER_NAME + "_download"),
                                functools.partial(_download, progress=progress))
    return _install_zip(min(download.glob("*.zip")), target)


def _find_image_folder(root: str | Path, sample_ids) -> Path:
    """The folder under ``root`` that holds the listed images: ``train/train``, ``train`` or ``root``."""
    root = Path(root)
    sample = [str(i) for i in list(sample_ids)[:20]]
    candidates = [root / _IMAGE_FOLDER / _IMAGE_FOLDER, root / _IMAGE_FOLDER, root]
    for folder in candidates:
        if folder.is_dir() and any((folder / name).is_file() for name in sample):
            return folder
    looked = ", ".join(str(c) for c in candidates[:2])
    raise _layout_error(root, f"no image folder holding the ids listed in {_CSV_NAME} (looked in {looked})")


def _show(values, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_cactus_table(table, root: str | Path):
    """``(table, image_dir)``: ``train.csv`` as the learner read it (any dtypes), checked against ``root``
    (:class:`CactusDataError` names the problem), with ``id`` as str, ``has_cactus`` as int 0/1 and
    the rows of unreadable images left out (named and counted)."""
    root = Path(root).expanduser()
    csv = root / _CSV_NAME
    table = table.copy()
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in (_ID_COLUMN, _LABEL_COLUMN) if c not in table.columns]
    if missing:
        raise _layout_error(csv, f"missing column(s) {', '.join(missing)}; its columns are {', '.join(table.columns)}")
    if table.empty:
        raise _layout_error(csv, "no rows")
    table = table[[_ID_COLUMN, _LABEL_COLUMN]]
    table = table.astype(object).where(table.notna(), "").astype(str)  # as read: numbers, strings or blanks
    table[_ID_COLUMN] = table[_ID_COLUMN].str.strip()
    lines = table.index + 2  # CSV line numbers (line 1 is the header)
    blank = table[_ID_COLUMN] == ""
    if blank.any():
        raise _layout_error(csv, f"{int(blank.sum())} row(s) have an empty id (lines {_show(lines[blank])})")
    duplicated = table[_ID_COLUMN].duplicated()
    if duplicated.any():
        names = table.loc[duplicated, _ID_COLUMN].unique()
        raise _layout_error(csv, f"{len(names)} id(s) appear more than once: {_show(names)}")
    labels = table[_LABEL_COLUMN].str.strip()
    valid = labels.isin(["0", "1", "0.0", "1.0"])
    if not valid.all():
        bad = [f"{value!r} (line {line})" for value, line in zip(labels[~valid], lines[~valid])]
        raise CactusDataError(
            f"{csv}: {_LABEL_COLUMN} must be 0 or 1, but {int((~valid).sum())} of {len(table)} rows have "
            f"other values: {_show(bad)}. Fix or remove those rows (the loader never guesses a label)."
        )
    table[_LABEL_COLUMN] = labels.astype(float).astype(int)
    image_dir = _find_image_folder(root, table[_ID_COLUMN])
    on_disk = set(os.listdir(image_dir))
    absent = [name for name in table[_ID_COLUMN] if name not in on_disk]
    if absent:
        raise CactusDataError(
            f"{image_dir}: {len(absent)} of {len(table)} images listed in {_CSV_NAME} are missing: "
            f"{_show(absent)}. A partial copy? Extract the competition's train.zip again, or delete "
            "the folder and let the notebook download it (or run with PROFILE=quick, offline)."
        )
    scan = images.scan_images(image_dir / name for name in table[_ID_COLUMN])
    if scan.bad:  # found before training, not mid-epoch; the files themselves are left alone
        say(f"{image_dir}: {scan.summary()}; until then their rows are left out")
        table = table[~table[_ID_COLUMN].isin({p.name for p in scan.bad})]
    return table.reset_index(drop=True), image_dir


def write_kaggle_layout(root: str | Path, images: np.ndarray, labels, *, seed: int = 0) -> Path:
    """Write ``root/train.csv`` and ``root/train/<id>`` (JPEG; ids of 32 random hex digits, as Kaggle's)."""
    import pandas as pd
    from PIL import Image

    root = Path(root)
    folder = root / _IMAGE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = []
    for image in images:
        name = f"{rng.bytes(16).hex()}.jpg"
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(folder / name, format="JPEG", quality=95)
        ids.append(name)
    pd.DataFrame({_ID_COLUMN: ids, _LABEL_COLUMN: [int(v) for v in labels]}).to_csv(root / _CSV_NAME, index=False)
    return root


def _stratified_order(labels, *, seed: int = 0) -> np.ndarray:
    """A row order that spreads every class evenly through the table (random within each class).

    ``validation_split`` takes the *first* rows: in random order a few hundred rows can put 85%
    positives there instead of 75%; spread evenly, every slice keeps the proportions (within one image).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    position = np.empty(len(labels), dtype=float)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rng.shuffle(members)
        position[members] = (np.arange(len(members)) + rng.uniform(0.25, 0.75)) / len(members)
    return np.argsort(position, kind="stable")


def _make_stand_in(root: str | Path, num_images: int, *, seed: int = 0, signal: float = 1.0) -> Path:
    """The quick profile's data at ``root``: ``num_images`` generated 32x32 images (:func:`generated.make_images`),
    about 75% ``has_cactus = 1``; built once, again when the settings recorded beside it change."""
    settings = {"num_images": int(num_images), "seed": int(seed), "signal": float(signal),
                "imbalance": list(_IMBALANCE), "image_size": _IMAGE_SIZE, "order": "stratified"}

    def write(staging: Path) -> None:
        pictures, labels = make_images(num_images, _IMAGE_SIZE, 2, imbalance=_IMBALANCE, signal=signal, seed=seed)
        order = _stratified_order(labels, seed=seed)
        write_kaggle_layout(staging, pictures[order], labels[order], seed=seed)

    return build_stand_in(root, settings, write, complete=lambda path: (path / _CSV_NAME).is_file())


def _setup_message(reason: str) -> str:
    """What to do when the Kaggle download cannot run, in one paragraph."""
    return (
        f"{reason}. The full profile downloads the Kaggle competition '{_COMPETITION}': "
        "(1) pip install kaggle (in the course: pip install -e '.[kaggle]'); (2) on kaggle.com open "
        "Settings > API > Create New Token and save the "
        "kaggle.json it gives you as ~/.kaggle/kaggle.json (chmod 600), or set KAGGLE_USERNAME and "
        f"KAGGLE_KEY; (3) accept the competition's rules once at {_COMPETITION_URL}/rules. Already have the "
        f"data? Set the notebook's CACTUS_DIR to the folder holding {_CSV_NAME} and "
        f"{_IMAGE_FOLDER}/, or to the competition's .zip. PROFILE=quick runs offline with generated images."
    )


def _kaggle_api():
    """An authenticated ``KaggleApi``; :class:`KaggleSetupError` with the steps when that cannot be."""
    if importlib.util.find_spec("kaggle") is None:
        raise KaggleSetupError(_setup_message("The `kaggle` package is not installed"))
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi  # importing kaggle signs in already

        api = KaggleApi()
        api.authenticate()
    except SystemExit:  # no token: the client prints where it looked for one, then exits
        raise KaggleSetupError(_setup_message("No Kaggle API token was found (the client says above where it "
                                             "looked)")) from None
    except Exception as err:
        raise KaggleSetupError(_setup_message(f"The Kaggle client could not sign in ({err})")) from None
    return api


def _download_failure(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    if "403" in text or "Forbidden" in text:
        return _setup_message(f"Kaggle refused the download (403 Forbidden): accept the rules at "
                             f"{_COMPETITION_URL}/rules while signed in, then run again ({text})")
    if "401" in text or "Unauthorized" in text:
        return _setup_message(f"Kaggle rejected the API token (401): create a new token ({text})")
    return _setup_message(f"The download from Kaggle failed ({text}); no network here?")


def _install_zip(archive: str | Path, target: str | Path) -> Path:
    """The competition's ``.zip`` (or any zip of ``train.csv`` and its images) installed once at ``target``.

    :func:`course_utils.setup.files.extract_zip` extracts it (a nested ``train.zip`` too, each up to
    :data:`_MAX_UNPACKED` bytes); the folder of the top-most ``train.csv``, checked as the notebook reads
    it, becomes ``target``. A different zip than the one installed there replaces the install.
    """
    import pandas as pd

    archive = Path(archive)

    def arrange(staging: Path) -> Path:
        for inner in sorted(staging.rglob("*.zip")):
            if inner.name == f"{_IMAGE_FOLDER}.zip":  # Kaggle's images (test.zip is not needed)
                files.extract_zip(inner, inner.with_suffix(""), max_unpacked=_MAX_UNPACKED)
            inner.unlink()
        csvs = sorted(staging.rglob(_CSV_NAME), key=lambda p: len(p.parts))
        if not csvs:
            raise _layout_error(archive, f"no {_CSV_NAME} inside")
        table, _ = check_cactus_table(pd.read_csv(csvs[0]), csvs[0].parent)
        say(f"installed {len(table):,} images and {_CSV_NAME} at {target}")
        return csvs[0].parent

    try:
        return files.extract_zip(archive, target, arrange=arrange, ready=lambda path: (path / _CSV_NAME).is_file(),
                                 max_unpacked=_MAX_UNPACKED)
    except files.ZipError as err:
        raise CactusDataError(f"{err}; download it again, or {_LAYOUT_HELP}") from None


def _download(folder: Path, *, progress: bool = True) -> None:
    """Download the competition's zip through the Kaggle API into ``folder``."""
    api = _kaggle_api()
    folder.mkdir(parents=True)
    say(f"downloading the Kaggle competition {_COMPETITION} (about 25 MB) ...")
    try:
        api.competition_download_files(_COMPETITION, path=str(folder), quiet=not progress)
    except (Exception, SystemExit) as err:
        raise KaggleSetupError(_download_failure(err)) from None
    if not any(folder.glob("*.zip")):
        raise KaggleSetupError(_setup_message(f"The Kaggle download left no .zip in {folder}"))
