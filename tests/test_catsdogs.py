"""cats_and_dogs_filtered: layout checks, the stand-in, the archive's checks and extraction, load (no network)."""
from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from course_utils.data import catsdogs, downloads
from course_utils.data.catsdogs import CatsDogsLayoutError
from course_utils.data.generated import DataLayoutError, manifest
from course_utils.errors import CourseError
from course_utils.setup import files

SMALL = {"train": {"cats": 4, "dogs": 4}, "validation": {"cats": 2, "dogs": 2}}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A small generated data set (12 images) shared by the read-only tests."""
    return catsdogs._make_stand_in(tmp_path_factory.mktemp("gen") / "set", 12, image_size=32, seed=3)


@pytest.fixture
def small(tmp_path, monkeypatch):
    """``load`` on a small data set: ``$KERAS_HOME`` in ``tmp_path``, :data:`SMALL` counts.

    Gives ``(datasets folder, archive)``; ``archive(zip_path, url)`` makes the asset that of ``zip_path`` (its
    size), served at ``url``.
    """
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", SMALL)

    folder = tmp_path / "kh" / "datasets"

    def archive(zip_path: Path, url: str = "http://127.0.0.1:9/never.zip") -> None:
        monkeypatch.setattr(catsdogs, "ARCHIVE", dataclasses.replace(
            catsdogs.ARCHIVE, urls=(url,), size=zip_path.stat().st_size))

    return folder, archive


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve(monkeypatch):
    """``serve(path)``: the URL of ``path`` on a local HTTP server (nothing leaves the machine)."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    servers = []

    def start(path: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(path.parent))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/{path.name}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def zip_folder(folder: Path, zip_path: Path, top: str = "cats_and_dogs_filtered", extra: dict | None = None) -> Path:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder)}")
        archive.writestr(f"{top}/vectorize.py", "# the real archive carries a script too\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return zip_path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the stand-in ---------------------------------------------------------------------------------

def test_generated_set_has_the_real_layout_and_balanced_counts(generated):
    counts = catsdogs.check_layout(generated, SMALL)
    assert counts == SMALL
    assert manifest(generated)["settings"] == {  # what a rebuild is decided on
        "num_images": 12, "image_size": 32, "seed": 3, "counts": SMALL}
    names = sorted(p.name for p in (generated / "train" / "cats").iterdir())
    assert all(n.endswith(".jpg") for n in names)


def test_generated_images_are_jpegs_of_the_requested_size_and_splits_differ(generated):
    from PIL import Image

    train, _ = catsdogs.list_images(generated, "train")
    validation, _ = catsdogs.list_images(generated, "validation")
    with Image.open(train[0]) as image:
        assert image.format == "JPEG" and image.size == (32, 32) and image.mode == "RGB"
    train_pixels = {np.asarray(Image.open(p)).tobytes() for p in train}
    assert not any(np.asarray(Image.open(p)).tobytes() in train_pixels for p in validation)


def test_a_shuffled_folder_dataset_reshuffles_per_pass_and_a_new_one_repeats_the_order(generated):
    """Why lesson 05 builds a new training dataset for each run instead of reusing one."""

    def labels_of(dataset, batches=4):
        return np.concatenate([y.numpy().ravel() for _, y in dataset.repeat().take(batches)])

    def folder_dataset():
        return keras.utils.image_dataset_from_directory(
            generated / "train", label_mode="binary", image_size=(32, 32), batch_size=2, shuffle=True, seed=0)

    dataset = folder_dataset()
    first_pass = labels_of(dataset)
    orders = {tuple(labels_of(dataset)) for _ in range(5)}
    assert len(orders) > 1  # every new pass over the same dataset has another order
    assert first_pass.tolist() == labels_of(folder_dataset()).tolist()  # a new dataset starts over


def test_generated_classes_differ_in_colour(generated):
    from PIL import Image

    paths, labels = catsdogs.list_images(generated, "train")
    means = np.array([np.asarray(Image.open(p), dtype=float).mean(axis=(0, 1)) for p in paths])
    cats, dogs = means[labels == 0].mean(0), means[labels == 1].mean(0)
    assert np.abs(cats - dogs).max() > 30  # a learnable signal, not noise


def test_generated_set_is_reused_or_rebuilt_when_settings_change(tmp_path):
    first = catsdogs._make_stand_in(tmp_path / "set", 12, image_size=32)
    stamp = (first / "COURSE_MANIFEST.json").stat().st_mtime_ns
    assert catsdogs._make_stand_in(tmp_path / "set", 12, image_size=32) == first
    assert (first / "COURSE_MANIFEST.json").stat().st_mtime_ns == stamp
    catsdogs._make_stand_in(tmp_path / "set", 18, image_size=32)
    assert catsdogs._count_images(first)["train"] == {"cats": 6, "dogs": 6}
    assert listing(tmp_path) == ["set"]  # no building folder left


def test_generated_counts_split_two_to_one():
    assert catsdogs._generated_counts(60) == {"train": {"cats": 20, "dogs": 20},
                                             "validation": {"cats": 10, "dogs": 10}}
    assert catsdogs._generated_counts(3000) == catsdogs._FULL_COUNTS
    with pytest.raises(ValueError, match="too small"):
        catsdogs._generated_counts(2)


def test_generated_counts_at_the_smallest_size():
    assert catsdogs._generated_counts(4) == {"train": {"cats": 1, "dogs": 1}, "validation": {"cats": 1, "dogs": 1}}
    assert catsdogs._generated_counts(41) == {  # 13.7 validation images round to 14, the rest to an even 26
        "train": {"cats": 13, "dogs": 13}, "validation": {"cats": 7, "dogs": 7}}


def test_generated_defaults_are_150_pixels_and_seed_0(tmp_path):
    from PIL import Image

    root = catsdogs._make_stand_in(tmp_path / "a", 4)
    paths, _ = catsdogs.list_images(root, "validation")
    assert Image.open(paths[0]).size == (150, 150)
    seeded = catsdogs._make_stand_in(tmp_path / "b", 4, seed=0)
    other = catsdogs._make_stand_in(tmp_path / "c", 4, seed=1)
    for split in catsdogs._SPLITS:
        for a, b, c in zip(catsdogs.list_images(root, split)[0], catsdogs.list_images(seeded, split)[0],
                           catsdogs.list_images(other, split)[0]):
            assert a.read_bytes() == b.read_bytes() != c.read_bytes()  # seeded: the same images every time


def test_generated_set_uses_the_size_and_rebuilds_when_images_are_missing(tmp_path):
    from PIL import Image

    root = catsdogs._make_stand_in(tmp_path / "set", 12, image_size=40)
    assert catsdogs._count_images(root) == {"train": {"cats": 4, "dogs": 4}, "validation": {"cats": 2, "dogs": 2}}
    assert Image.open(catsdogs.list_images(root, "train")[0][0]).size == (40, 40)
    sorted((root / "train" / "dogs").iterdir())[0].unlink()  # same settings, one image gone: built again
    catsdogs._make_stand_in(tmp_path / "set", 12, image_size=40)
    assert catsdogs._count_images(root)["train"] == {"cats": 4, "dogs": 4}


def test_generated_set_is_built_in_a_hidden_folder_beside_it_and_a_failure_leaves_nothing(tmp_path, monkeypatch):
    written = []
    real_write = catsdogs.write_image_folder

    def spy(root, *args, **kwargs):
        written.append(Path(root))
        return real_write(root, *args, **kwargs)

    monkeypatch.setattr(catsdogs, "write_image_folder", spy)
    catsdogs._make_stand_in(tmp_path / "set", 4, image_size=16)
    assert [p.parent.parent for p in written] == [tmp_path] * 2
    assert all(p.parent.name.startswith(".set.") and p.parent.name.endswith(".part") for p in written)

    def failing(root, *args, **kwargs):
        real_write(root, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(catsdogs, "write_image_folder", failing)
    with pytest.raises(OSError, match="disk full"):
        catsdogs._make_stand_in(tmp_path / "other" / "set", 4, image_size=16)
    assert listing(tmp_path / "other") == []


# --- layout checks ----------------------------------------------------------------------------------

def test_list_images_gives_sorted_paths_and_binary_labels(generated):
    paths, labels = catsdogs.list_images(generated, "validation")
    assert len(paths) == 4 and labels.tolist() == [0, 0, 1, 1]
    assert [p.parent.name for p in paths] == ["cats", "cats", "dogs", "dogs"]
    assert paths == sorted(paths)
    with pytest.raises(ValueError, match="unknown split 'test'"):
        catsdogs.list_images(generated, "test")


def test_list_images_labels_are_int64(generated):
    _, labels = catsdogs.list_images(generated, "train")
    assert labels.dtype == np.int64 and labels.tolist() == [0] * 4 + [1] * 4


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda root: shutil.rmtree(root / "validation"), "the 'validation' folder is missing"),
        (lambda root: shutil.rmtree(root / "train" / "dogs"), "the train/dogs folder is missing"),
        (lambda root: [p.unlink() for p in (root / "train" / "cats").iterdir()], "train/cats has no .jpg images"),
    ],
)
def test_a_broken_layout_names_the_problem_and_the_way_out(generated, tmp_path, damage, problem):
    root = copy_tree(generated, tmp_path / "copy")
    damage(root)
    with pytest.raises(CatsDogsLayoutError) as err:
        catsdogs.check_layout(root)
    message = str(err.value)
    assert problem in message
    assert "{train,validation}/{cats,dogs}/*.jpg" in message and "CATS_DOGS" in message and "PROFILE=quick" in message
    assert isinstance(err.value, DataLayoutError) and isinstance(err.value, ValueError)
    assert isinstance(err.value, CourseError)


def test_missing_folder_and_wrong_counts(generated, tmp_path):
    with pytest.raises(CatsDogsLayoutError, match="no such folder"):
        catsdogs.check_layout(tmp_path / "nothing")
    with pytest.raises(CatsDogsLayoutError, match="train/cats: 4 images, expected 1000"):
        catsdogs.check_layout(generated, catsdogs._FULL_COUNTS)


def test_other_files_are_ignored(generated, tmp_path):
    root = copy_tree(generated, tmp_path / "copy")
    (root / "vectorize.py").write_text("")
    (root / "train" / "cats" / "notes.txt").write_text("")
    assert catsdogs.check_layout(root, SMALL) == SMALL


# --- the archive's checks ---------------------------------------------------------------------------

def test_check_zip_accepts_a_good_archive_and_rejects_bad_ones(generated, tmp_path):
    good = zip_folder(generated, tmp_path / "good.zip")
    catsdogs._check_zip(good)

    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(downloads.VerificationError, match="not a zip archive"):
        catsdogs._check_zip(tmp_path / "text.zip")

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("cats_and_dogs_filtered/train/cats/cat.0.jpg", b"A" * 5000)
    data = bytearray(damaged.read_bytes())
    data[data.index(b"A" * 100) + 50] = ord("B")  # one changed byte inside the member
    damaged.write_bytes(bytes(data))
    with pytest.raises(downloads.VerificationError, match="CRC-32|damaged"):
        catsdogs._check_zip(damaged)

    evil = zip_folder(generated, tmp_path / "evil.zip", extra={"../../escape.txt": "x"})
    with pytest.raises(downloads.VerificationError, match="unsafe member path"):
        catsdogs._check_zip(evil)


@pytest.mark.parametrize("member", ["/etc/cron.d/evil", "\\windows\\evil.txt", "C:/evil.txt"])
def test_check_zip_refuses_absolute_and_drive_member_paths(generated, tmp_path, member):
    archive = zip_folder(generated, tmp_path / "evil.zip", extra={member: "x"})
    with pytest.raises(downloads.VerificationError, match="unsafe member path"):
        catsdogs._check_zip(archive)


def test_check_zip_accepts_a_colon_past_the_first_part_of_a_member_path(generated, tmp_path):
    catsdogs._check_zip(zip_folder(generated, tmp_path / "ok.zip", extra={"cats_and_dogs_filtered/notes/a:b.txt": "x"}))


def test_check_zip_reports_damaged_compressed_data_as_a_verification_error(tmp_path):
    """A deflated member whose bytes were damaged fails in zlib, not in the CRC: still 'damaged zip'."""
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cats_and_dogs_filtered/train/cats/cat.0.jpg", np.random.default_rng(0).bytes(200) * 40)
    data = bytearray(damaged.read_bytes())
    start = 30 + len("cats_and_dogs_filtered/train/cats/cat.0.jpg")  # the local header, then the deflated data
    for i in range(start + 20, start + 60):
        data[i] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(downloads.VerificationError) as err:
        catsdogs._check_zip(damaged)
    message = str(err.value)
    assert message.startswith(f"{damaged}: damaged zip (") and "download cats_and_dogs_filtered.zip again" in message


def test_the_real_archive_asset_is_honest_about_its_checks():
    asset = catsdogs.ARCHIVE
    assert asset.urls == ("https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",  # the original
                          # TensorFlow's tutorial's address since 2025-11-11: a second mirror, checked the same way
                          "https://storage.googleapis.com/download.tensorflow.org/example_images/cats_and_dogs_filtered.zip")
    assert asset.sha256 is None and asset.md5 is None  # none is published: none is invented
    assert asset.size == 68_606_236
    assert "no checksum is published" in asset.provenance
    assert catsdogs._check_zip in asset.extra_checks


def test_extract_zip_writes_nothing_for_an_unsafe_archive(generated, tmp_path):
    evil = zip_folder(generated, tmp_path / "evil.zip", extra={"../escape.txt": "x"})
    with pytest.raises(files.ZipError, match="unsafe member path '../escape.txt'") as err:
        files.extract_zip(evil, tmp_path / "out" / "data")
    assert isinstance(err.value, CourseError) and isinstance(err.value, ValueError)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


# --- load("real"): the learner's zip, the download, the learner's folder -----------------------------

def test_a_learners_zip_is_verified_extracted_and_moved_into_place(generated, tmp_path, small, capsys):
    folder, archive = small
    mine = zip_folder(generated, tmp_path / "my.zip")
    archive(mine)
    root = catsdogs.load("real", local_copy=mine)
    assert root == folder / "cats_and_dogs_filtered"
    assert catsdogs.check_layout(root, SMALL) == SMALL
    assert (root / "vectorize.py").exists()
    assert listing(folder) == ["cats_and_dogs_filtered", "cats_and_dogs_filtered.zip"]  # no temporary folder left
    assert mine.exists()  # the learner's archive stays where it was
    assert "extracted to" in capsys.readouterr().out


def test_a_learners_zip_replaces_an_incomplete_extracted_folder(generated, tmp_path, small):
    folder, archive = small
    half = copy_tree(generated, folder / "cats_and_dogs_filtered")
    shutil.rmtree(half / "validation")
    mine = zip_folder(generated, tmp_path / "my.zip")
    archive(mine)
    assert catsdogs.check_layout(catsdogs.load("real", local_copy=mine), SMALL) == SMALL


def test_a_learners_wrong_zip_is_refused_and_nothing_is_kept(generated, tmp_path, small):
    folder, archive = small
    archive(zip_folder(generated, tmp_path / "my.zip"))
    wrong = tmp_path / "wrong.zip"
    wrong.write_bytes(b"PK not really")
    with pytest.raises(downloads.VerificationError, match="your copy"):
        catsdogs.load("real", local_copy=wrong)
    assert not folder.exists() or listing(folder) == []


def test_an_incomplete_archive_leaves_nothing_behind(generated, tmp_path, small):
    folder, archive = small
    partial = copy_tree(generated, tmp_path / "partial")
    shutil.rmtree(partial / "validation" / "dogs")
    mine = zip_folder(partial, tmp_path / "cats_and_dogs_filtered.zip")
    archive(mine)
    with pytest.raises(CatsDogsLayoutError, match="validation/dogs folder is missing"):
        catsdogs.load("real", local_copy=mine)
    assert listing(folder) == ["cats_and_dogs_filtered.zip"]  # the verified archive; no folder, no leftover


def test_an_archive_with_another_top_folder_name_is_extracted(generated, tmp_path, small):
    folder, archive = small
    mine = zip_folder(generated, tmp_path / "renamed.zip", top="cats_and_dogs_v2")
    archive(mine)
    root = catsdogs.load("real", local_copy=mine)
    assert root == folder / "cats_and_dogs_filtered" and catsdogs.check_layout(root, SMALL) == SMALL


def test_an_archive_with_other_counts_is_refused(generated, tmp_path, small, monkeypatch):
    folder, archive = small
    mine = zip_folder(generated, tmp_path / "served.zip")
    archive(mine)
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", {"train": {"cats": 5, "dogs": 4}, "validation": {"cats": 2, "dogs": 2}})
    with pytest.raises(CatsDogsLayoutError, match=r"incomplete or different data set \(train/cats: 4 images, expected 5\)"):
        catsdogs.load("real", local_copy=mine)
    assert "cats_and_dogs_filtered" not in listing(folder)


def test_a_run_killed_mid_extraction_leaves_a_hidden_folder_the_next_run_removes(generated, tmp_path, small):
    folder, archive = small
    mine = zip_folder(generated, tmp_path / "cats_and_dogs_filtered.zip")
    archive(mine)
    (folder / ".cats_and_dogs_filtered.123-dead.part" / "train").mkdir(parents=True)  # a killed run's staging
    root = catsdogs.load("real", local_copy=mine)
    assert listing(folder) == ["cats_and_dogs_filtered", "cats_and_dogs_filtered.zip"]
    assert catsdogs.check_layout(root, SMALL) == SMALL


def test_download_verifies_extracts_and_then_reuses(generated, tmp_path, small, serve, capsys):
    folder, archive = small
    (tmp_path / "served").mkdir()
    source = zip_folder(generated, tmp_path / "served" / "cats_and_dogs_filtered.zip")
    archive(source, serve(source))
    root = catsdogs.load("real", progress=False)
    assert root == folder / "cats_and_dogs_filtered"
    assert listing(folder) == ["cats_and_dogs_filtered", "cats_and_dogs_filtered.zip"]
    out = capsys.readouterr().out
    assert "cats_and_dogs_filtered archive: downloading http://127.0.0.1" in out
    assert "extracted to" in out and "(train: 4 cats, 4 dogs; validation: 2 cats, 2 dogs)" in out
    source.unlink()  # a second run needs neither the network nor the archive
    assert catsdogs.load("real") == root
    assert "cats_and_dogs_filtered: found" in capsys.readouterr().out


def test_a_damaged_download_is_rejected_and_nothing_is_kept(generated, tmp_path, small, serve):
    folder, archive = small
    (tmp_path / "served").mkdir()
    source = zip_folder(generated, tmp_path / "served" / "a.zip")
    archive(source, serve(source))
    source.write_bytes(b"\0" * source.stat().st_size)  # same size, not a zip: only the content check can catch it
    with pytest.raises(downloads.VerificationError, match="not a zip archive"):
        catsdogs.load("real", progress=False)
    assert listing(folder) == []


def test_a_changed_extracted_folder_says_how_to_start_again(generated, small):
    folder, _ = small
    root = copy_tree(generated, folder / "cats_and_dogs_filtered")
    shutil.rmtree(root / "validation" / "cats")
    with pytest.raises(CatsDogsLayoutError, match=r"To download and extract it again, delete .*cats_and_dogs_filtered\.$"):
        catsdogs.load("real")
    assert root.exists()  # never deleted for the learner


def test_an_extracted_folder_with_missing_images_says_how_to_start_again(generated, small):
    folder, _ = small
    root = copy_tree(generated, folder / "cats_and_dogs_filtered")
    (root / "train" / "cats" / sorted(p.name for p in (root / "train" / "cats").iterdir())[0]).unlink()
    with pytest.raises(CatsDogsLayoutError, match=r"train/cats: 3 images, expected 4.*To download and extract it again"):
        catsdogs.load("real")


def test_a_learners_folder_is_used_where_it_is(generated, tmp_path, small):
    folder, _ = small
    mine = copy_tree(generated, tmp_path / "usb" / "cats_and_dogs_filtered")
    assert catsdogs.load("real", local_copy=mine.parent) == mine
    assert catsdogs.load("real", local_copy=mine) == mine
    assert not folder.exists()  # nothing copied
    empty = tmp_path / "empty_usb"
    (empty / "photos").mkdir(parents=True)
    with pytest.raises(CatsDogsLayoutError, match="empty_usb: neither it nor a folder inside it has train/"):
        catsdogs.load("real", local_copy=empty)


def test_a_learners_folder_named_otherwise_is_found_beside_other_folders(generated, tmp_path, small, capsys):
    usb = tmp_path / "usb"
    mine = copy_tree(generated, usb / "my_copy")  # not called cats_and_dogs_filtered
    (usb / "__MACOSX").mkdir()  # what unzipping on a Mac leaves beside it
    (usb / "readme.txt").write_text("")
    assert catsdogs.load("real", local_copy=usb) == mine
    assert "cats_and_dogs_filtered: using your folder " + str(mine) in capsys.readouterr().out
    (usb / "other" / "train").mkdir(parents=True)  # two candidates: neither is chosen
    with pytest.raises(CatsDogsLayoutError, match="neither it nor a folder inside it has train/"):
        catsdogs.load("real", local_copy=usb)


def test_a_learners_folder_with_other_counts_is_refused(generated, tmp_path, small):
    mine = copy_tree(generated, tmp_path / "usb" / "cats_and_dogs_filtered")
    (mine / "validation" / "dogs" / sorted(p.name for p in (mine / "validation" / "dogs").iterdir())[0]).unlink()
    with pytest.raises(CatsDogsLayoutError, match="validation/dogs: 1 images, expected 2"):
        catsdogs.load("real", local_copy=mine)


def test_a_learners_folder_with_broken_and_odd_images_trains_on_a_checked_view(tmp_path, small, monkeypatch, capsys):
    from PIL import Image

    folder, _ = small
    root = tmp_path / "mine" / "cats_and_dogs_filtered"
    counts = {"train": {"cats": 2, "dogs": 2}, "validation": {"cats": 1, "dogs": 1}}
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", counts)
    for split, per_class in counts.items():
        for name, n in per_class.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(root / split / name / f"{name}.{i}.jpg")
    (root / "train" / "cats" / "cats.0.jpg").write_bytes(b"")  # an empty download
    Image.fromarray(np.full((8, 8), 50, np.uint8)).save(root / "train" / "dogs" / "dogs.1.jpg")  # greyscale
    view = catsdogs.load("real", local_copy=root)
    assert view == folder / "cats_and_dogs_filtered_checked"
    assert sorted(p.name for p in (view / "train" / "cats").iterdir()) == ["cats.1.jpg"]
    assert Image.open(view / "train" / "dogs" / "dogs.1.jpg").mode == "RGB"
    assert (root / "train" / "cats" / "cats.0.jpg").exists()  # nothing of the learner's is removed
    assert "skipped 1 unreadable: cats.0.jpg (empty file)" in capsys.readouterr().out


def test_a_learners_folder_with_only_greyscale_images_trains_on_a_converted_view(generated, tmp_path, small):
    from PIL import Image

    mine = copy_tree(generated, tmp_path / "usb" / "cats_and_dogs_filtered")
    grey = sorted((mine / "train" / "cats").iterdir())[0]
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(grey)
    view = catsdogs.load("real", local_copy=mine)
    assert view.name == "cats_and_dogs_filtered_checked"
    assert Image.open(view / "train" / "cats" / grey.name).mode == "RGB"


def test_a_classrooms_shared_copy_is_read_where_it_is(generated, tmp_path, monkeypatch, capsys):
    from course_utils.setup import classroom

    mine, shared = tmp_path / "mine", tmp_path / "shared"
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", SMALL)
    copy_tree(generated, shared / "keras" / "datasets" / "cats_and_dogs_filtered")
    classroom.write_manifest(shared)  # as `make classroom-data` does
    root = catsdogs.load("real")  # the real asset: a download would fail offline
    assert root == shared / "keras" / "datasets" / "cats_and_dogs_filtered"
    assert "cats_and_dogs_filtered: found" in capsys.readouterr().out and not mine.exists()


def test_a_shared_folder_without_the_data_says_so_and_the_run_makes_its_own(generated, tmp_path, monkeypatch,
                                                                              small, serve, capsys):
    from course_utils.setup import classroom

    _, archive = small
    mine, shared = tmp_path / "mine", tmp_path / "shared"
    shared.mkdir()
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(classroom, "_reported_missing", set())
    (tmp_path / "served").mkdir()
    source = zip_folder(generated, tmp_path / "served" / "a.zip")
    archive(source, serve(source))
    root = catsdogs.load("real", progress=False)
    assert root == mine / "keras" / "datasets" / "cats_and_dogs_filtered"
    assert "shared data: cats_and_dogs_filtered (extracted) is not in the shared folder" in capsys.readouterr().out


def test_a_folder_extracted_by_another_run_while_waiting_is_used(generated, tmp_path, small, monkeypatch):
    """Two runs at once: the second waits for the lock, then finds the first one's folder and extracts nothing."""
    import contextlib

    folder, archive = small
    mine = zip_folder(generated, tmp_path / "my.zip")
    archive(mine)

    @contextlib.contextmanager
    def lock(target, timeout=-1):  # the other run finishes just as this one takes the lock
        copy_tree(generated, folder / "cats_and_dogs_filtered")
        files.write_manifest(folder / "cats_and_dogs_filtered", "zip extraction",  # as extract_zip leaves it
                             archive="cats_and_dogs_filtered.zip", sha256=files.sha256(mine))
        yield

    monkeypatch.setattr(files, "_build_lock", lock)
    monkeypatch.setattr(files.zipfile.ZipFile, "extractall", lambda *args: pytest.fail("extracted again"))
    assert catsdogs.load("real", local_copy=mine) == folder / "cats_and_dogs_filtered"


# --- load: the sources ------------------------------------------------------------------------------

def test_load_stand_in_goes_to_keras_home_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    root = catsdogs.load("stand-in", num_images=12, image_size=32, local_copy="/somewhere")
    assert root == tmp_path / "kh" / "datasets" / catsdogs._GENERATED_FOLDER_NAME
    out = capsys.readouterr().out
    assert "your copy /somewhere is not used" in out
    assert f"generated stand-in data at {root} (train: 4 cats, 4 dogs; validation: 2 cats, 2 dogs)" in out
    with pytest.raises(ValueError, match=r"^source='stand-in' needs num_images$"):
        catsdogs.load("stand-in")


def test_load_passes_size_and_seed_on_and_defaults_to_150_pixels_seed_0(tmp_path, monkeypatch):
    from PIL import Image

    def train_bytes(root):
        return [p.read_bytes() for p in catsdogs.list_images(root, "train")[0]]

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    root = catsdogs.load("stand-in", num_images=4, image_size=24, seed=5)
    assert Image.open(catsdogs.list_images(root, "train")[0][0]).size == (24, 24)
    assert train_bytes(root) == train_bytes(catsdogs._make_stand_in(tmp_path / "again", 4, image_size=24, seed=5))
    default = catsdogs.load("stand-in", num_images=4)
    assert Image.open(catsdogs.list_images(default, "train")[0][0]).size == (150, 150)
    assert train_bytes(default) == train_bytes(catsdogs._make_stand_in(tmp_path / "s0", 4))


def test_load_real_is_the_default_and_an_unknown_source_is_named(tmp_path, small, monkeypatch):
    fetched = []
    monkeypatch.setattr(catsdogs.downloads, "fetch", lambda *args, **kwargs: fetched.append(kwargs) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        catsdogs.load()
    assert fetched == [{"local_copy": None, "progress": True}]
    with pytest.raises(ValueError, match="unknown source 'download' for cats_and_dogs_filtered"):
        catsdogs.load("download")


def test_keras_home_defaults_to_the_data_folder(generated, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", SMALL)
    copy_tree(generated, tmp_path / "keras" / "datasets" / "cats_and_dogs_filtered")
    assert catsdogs.load("real") == tmp_path / "keras" / "datasets" / "cats_and_dogs_filtered"
