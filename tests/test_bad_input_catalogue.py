"""The catalogue of bad input: every case asserts the exact message a learner reads,
and that nothing was lost or half-written. docs/INSTRUCTORS.md lists the cases.

Each case is a function ``case(tmp_path) -> (call, exception, message, check)``:
``call()`` must raise ``exception`` whose text is exactly ``message``; ``check()``
then proves the files around it are as they were (or absent, never partial).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from course_utils.data import cactus, catsdogs, downloads, flowers, generated, images
from course_utils.models import hub, weights
from course_utils.setup import compat, files, profiles

FLOWERS_FIX = flowers._LAYOUT_HELP
CATSDOGS_FIX = catsdogs._LAYOUT_HELP
RE_DOWNLOAD = "re-download or replace them to use them"


def _nothing(*_):
    return None


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _jpeg(path, size=(16, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), 120, np.uint8)).save(path)


def _flowers(root, skip=(), extra=(), empty=()):
    for name in flowers._CLASS_NAMES:
        if name in skip:
            continue
        (root / name).mkdir(parents=True)
        if name not in empty:
            _jpeg(root / name / "a.jpg")
    for name in extra:
        (root / name).mkdir(parents=True)
    return root


def _catsdogs(root, skip_split=None, empty=None):
    for split in ("train", "validation"):
        if split == skip_split:
            continue
        for name in ("cats", "dogs"):
            (root / split / name).mkdir(parents=True)
            if (split, name) != empty:
                _jpeg(root / split / name / f"{name}.0.jpg")
    return root


ASSET = downloads.Asset(name="Demo weights", filename="demo.h5",
                        urls=("https://example.invalid/demo.h5",), size=5,
                        sha256="0" * 64, provenance="the test's own figures")


# --- profiles and settings ---------------------------------------------------------------

def case_unknown_profile(tmp_path):
    return (lambda: profiles.resolve_profile("fast"), profiles.ProfileError,
            "unknown profile 'fast' (from the PROFILE parameter): use 'full' (real data and weights) "
            "or 'quick' (offline, small, seconds)", _nothing)


def case_unknown_profile_in_environment(tmp_path):
    def call():
        os.environ["COURSE_PROFILE"] = "gpu"
        try:
            profiles.resolve_profile(None)
        finally:
            os.environ["COURSE_PROFILE"] = "quick"
    return (call, profiles.ProfileError,
            "unknown profile 'gpu' (from the $COURSE_PROFILE): use 'full' (real data and weights) "
            "or 'quick' (offline, small, seconds)", _nothing)


def case_unknown_setting(tmp_path):
    valid = ", ".join(sorted(profiles.lesson_settings("01", "quick")._values.keys() - {"lesson", "profile"}))
    return (lambda: profiles.lesson_settings("01", "quick", epoch=3), profiles.ProfileError,
            f"lesson 01 has no setting 'epoch' to override; valid: {valid}", _nothing)


def case_unknown_lesson(tmp_path):
    return (lambda: profiles.lesson_settings("09", "quick"), profiles.ProfileError,
            "unknown lesson '09': the course has 01, 02, 03, 04, 05, 06", _nothing)


# --- models ------------------------------------------------------------------------------

def case_hub_lesson_without_tf_keras(tmp_path):
    # Keras 3 is there, tf-keras is not: lessons 02 and 03 (hub.KerasLayer) say what to install.
    def call():
        from unittest import mock

        with mock.patch.object(compat, "installed", lambda package: None if package == "tf-keras" else "2.21.0"):
            compat.check_stack("2.21.0", "3.15.1", hub=True)
    return (call, compat.StackError,
            "tf-keras (which hub.KerasLayer needs) is not installed: pip install 'tf-keras==2.21.*' then restart the kernel",
            _nothing)


def case_keras_2_installed_as_keras(tmp_path):
    return (lambda: compat.check_stack("2.21.0", "2.15.0"), compat.StackError,
            "Keras 2.15.0 is not Keras 3: pip install -U 'keras>=3' then restart the kernel", _nothing)


# --- a learner's flower folder -----------------------------------------------------------

def case_flowers_missing_folder(tmp_path):
    folder = tmp_path / "flower_photos"
    return (lambda: flowers._find_flower_folder(folder), flowers.FlowersDataError,
            f"no flower folder at {folder}: {FLOWERS_FIX}", lambda: not folder.exists())


def case_flowers_archive_not_unpacked(tmp_path):
    archive = tmp_path / "flower_photos.tgz"
    archive.write_bytes(b"\x1f\x8b archive")
    return (lambda: flowers._find_flower_folder(archive), flowers.FlowersDataError,
            f"{archive} is a file, not a folder: unpack it first (tar xzf flower_photos.tgz); {FLOWERS_FIX}",
            lambda: archive.read_bytes() == b"\x1f\x8b archive")


def case_flowers_missing_class(tmp_path):
    root = _flowers(tmp_path / "flower_photos", skip=("roses", "tulips"))
    before = _tree(root)
    return (lambda: flowers._find_flower_folder(root), flowers.FlowersDataError,
            f"{root} has no class folder(s) roses, tulips: {FLOWERS_FIX}", lambda: _tree(root) == before)


def case_flowers_unexpected_class(tmp_path):
    root = _flowers(tmp_path / "flower_photos", extra=("lilies",))
    before = _tree(root)
    return (lambda: flowers._find_flower_folder(root), flowers.FlowersDataError,
            f"{root} has unexpected folder(s) lilies besides the 5 classes: {FLOWERS_FIX}",
            lambda: _tree(root) == before)


def case_flowers_empty_class(tmp_path):
    root = _flowers(tmp_path / "flower_photos", empty=("daisy",))
    return (lambda: flowers._find_flower_folder(root), flowers.FlowersDataError,
            f"{root / 'daisy'} holds no .jpg images: {FLOWERS_FIX}", lambda: (root / "daisy").is_dir())


# --- a learner's cats-and-dogs folder and archive ----------------------------------------

def case_catsdogs_no_folder(tmp_path):
    root = tmp_path / "cats_and_dogs_filtered"
    return (lambda: catsdogs.check_layout(root), catsdogs.CatsDogsLayoutError,
            f"{root}: no such folder; {CATSDOGS_FIX}", lambda: not root.exists())


def case_catsdogs_missing_split(tmp_path):
    root = _catsdogs(tmp_path / "cats_and_dogs_filtered", skip_split="validation")
    before = _tree(root)
    return (lambda: catsdogs.check_layout(root), catsdogs.CatsDogsLayoutError,
            f"{root}: the 'validation' folder is missing; {CATSDOGS_FIX}", lambda: _tree(root) == before)


def case_catsdogs_empty_class(tmp_path):
    root = _catsdogs(tmp_path / "cats_and_dogs_filtered", empty=("train", "dogs"))
    before = _tree(root)
    return (lambda: catsdogs.check_layout(root), catsdogs.CatsDogsLayoutError,
            f"{root}: train/dogs has no .jpg images; {CATSDOGS_FIX}", lambda: _tree(root) == before)


def case_catsdogs_truncated_zip(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("cats_and_dogs_filtered/train/cats/cat.0.jpg", b"x" * 5000)
    broken = tmp_path / "cats_and_dogs_filtered.zip"
    broken.write_bytes(good.read_bytes()[:-60])
    return (lambda: catsdogs._check_zip(broken), downloads.VerificationError,
            f"{broken} is not a zip archive (truncated or not the right file); download "
            "cats_and_dogs_filtered.zip again, or point CATS_DOGS at a good copy",
            lambda: _tree(tmp_path) == ["cats_and_dogs_filtered.zip", "good.zip"])


# --- a learner's aerial-cactus copy (train.csv + train/) ----------------------------------

def _cactus(root, rows, files=None, header="id,has_cactus"):
    (root / "train").mkdir(parents=True)
    (root / "train.csv").write_text(header + "\n" + "".join(f"{i},{label}\n" for i, label in rows))
    for name in files if files is not None else [i for i, _ in rows]:
        _jpeg(root / "train" / name, size=(32, 32))
    return root


def case_cactus_wrong_columns(tmp_path):
    root = _cactus(tmp_path / "cactus", [("a.jpg", 1)], header="image,label")
    before = _tree(root)
    return (lambda: cactus.check_cactus_table(pd.read_csv(root / "train.csv"), root), cactus.CactusDataError,
            f"{root / 'train.csv'}: missing column(s) id, has_cactus; its columns are image, label; {cactus._LAYOUT_HELP}",
            lambda: _tree(root) == before)


def case_cactus_label_outside_0_1(tmp_path):
    root = _cactus(tmp_path / "cactus", [("a.jpg", 1), ("b.jpg", "yes"), ("c.jpg", 2)])
    return (lambda: cactus.check_cactus_table(pd.read_csv(root / "train.csv"), root), cactus.CactusDataError,
            f"{root / 'train.csv'}: has_cactus must be 0 or 1, but 2 of 3 rows have other values: "
            "'yes' (line 3), '2' (line 4). Fix or remove those rows (the loader never guesses a label).",
            lambda: (root / "train.csv").read_text().count("\n") == 4)


def case_cactus_ids_without_images(tmp_path):
    root = _cactus(tmp_path / "cactus", [("a.jpg", 1), ("b.jpg", 0), ("c.jpg", 1)], files=["a.jpg"])
    before = _tree(root)
    return (lambda: cactus.check_cactus_table(pd.read_csv(root / "train.csv"), root), cactus.CactusDataError,
            f"{root / 'train'}: 2 of 3 images listed in train.csv are missing: b.jpg, c.jpg. A partial copy? "
            "Extract the competition's train.zip again, or delete the folder and let the notebook download it "
            "(or run with PROFILE=quick, offline).",
            lambda: _tree(root) == before)


# --- downloads and local copies ------------------------------------------------------------

def case_download_offline(tmp_path):
    cache = tmp_path / "cache"
    target = cache / "demo.h5"
    return (lambda: downloads.fetch(ASSET, cache, progress=False),
            downloads.OfflineError,
            downloads._offline_message(ASSET, target, "https://example.invalid/demo.h5: NetworkBlockedError: "
                                      "offline guard: refused to look up 'example.invalid'; the quick profile and "
                                      "the tests must never need the network"),
            lambda: _tree(cache) == [])


def case_local_copy_wrong_checksum(tmp_path):
    mine = tmp_path / "my_demo.h5"
    mine.write_bytes(b"12345")
    cache = tmp_path / "cache"
    digest = files.sha256(mine)
    return (lambda: downloads.fetch(ASSET, cache, local_copy=mine),
            downloads.VerificationError,
            f"Demo weights: your copy {mine} does not match the published file: SHA-256 {digest}, "
            f"expected {'0' * 64} (expected values: the test's own figures). Your file was not changed; get a "
            "fresh copy from https://example.invalid/demo.h5, or run with PROFILE=quick (offline).",
            lambda: mine.read_bytes() == b"12345" and _tree(cache) == [])


def case_local_copy_missing(tmp_path):
    mine = tmp_path / "nowhere" / "demo.h5"
    cache = tmp_path / "cache"
    return (lambda: downloads.fetch(ASSET, cache, local_copy=mine),
            FileNotFoundError,
            f"Demo weights: no file at {mine} (the local copy you named). Expected demo.h5; "
            "or leave the local-copy parameter empty to download it.",
            lambda: _tree(cache) == [])


def case_weights_name_unknown(tmp_path):
    return (lambda: weights.pretrained("vgg_19", "real"), weights.WeightsError,
            "no pretrained weights registered for 'vgg_19'; known: inception_v3, inception_v3_notop, vgg16, "
            "vgg16_notop, vgg19, vgg19_notop", _nothing)


def case_hub_stand_in_over_real_download(tmp_path):
    os.environ["TFHUB_CACHE_DIR"] = str(tmp_path)
    handle = "https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5"
    real = tmp_path / hub.cache_key(handle)
    real.mkdir()
    (real / "saved_model.pb").write_bytes(b"the real module")
    return (lambda: hub._install_stand_in(handle, dim=8), hub.HubCacheError,
            f"{real} holds a real download of {handle}; the quick profile keeps its stand-ins in data/quick/tfhub "
            "- check TFHUB_CACHE_DIR",
            lambda: (real / "saved_model.pb").read_bytes() == b"the real module")


# --- images a learner points the course at -----------------------------------------------

def _scan_case(tmp_path, name, content, reason):
    folder = tmp_path / "imgs"
    _jpeg(folder / "ok.jpg")
    bad = folder / name
    bad.write_bytes(content)

    def call():
        raise ValueError(images.scan_images(sorted(folder.iterdir())).summary())
    return (call, ValueError,
            f"1 readable images; skipped 1 unreadable: {name} ({reason}) - {RE_DOWNLOAD}",
            lambda: bad.read_bytes() == content)


def case_truncated_jpeg(tmp_path):
    _jpeg(tmp_path / "src.jpg", size=(64, 64))
    content = (tmp_path / "src.jpg").read_bytes()[:300]
    (tmp_path / "src.jpg").unlink()
    case = _scan_case(tmp_path, "half.jpg", content, "")
    reason = images.scan_images([tmp_path / "imgs" / "half.jpg"]).bad[tmp_path / "imgs" / "half.jpg"]
    assert reason.startswith("corrupt or truncated")
    return (case[0], case[1], f"1 readable images; skipped 1 unreadable: half.jpg ({reason}) - {RE_DOWNLOAD}",
            case[3])


def case_html_saved_as_jpeg(tmp_path):
    return _scan_case(tmp_path, "photo.jpg", b"<html>404 not found</html>", "not a readable image")


def case_non_image_file(tmp_path):
    return _scan_case(tmp_path, "notes.txt", b"my notes", "not an image file type (.txt)")


def case_empty_image_file(tmp_path):
    return _scan_case(tmp_path, "zero.jpg", b"", "empty file")


def case_bad_class_weights(tmp_path):
    return (lambda: generated.make_images(10, 8, 2, imbalance=[1, -1]), ValueError,
            "imbalance must give 2 non-negative weights, got [1, -1]", _nothing)


CASES = [value for name, value in sorted(globals().items()) if name.startswith("case_")]


def test_the_catalogue_has_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__[5:])
def test_bad_input_gives_the_exact_message_and_loses_nothing(case, tmp_path):
    call, exception, message, check = case(tmp_path)
    with pytest.raises(exception) as err:
        call()
    assert str(err.value) == message
    assert check() in (None, True), "files were lost or half-written"
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.building"))
