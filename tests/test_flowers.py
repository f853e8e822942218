"""course_utils.data.flowers: tf_flowers made loadable for the notebook's own tfds.load, from both sources."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image
from tensorflow_datasets.datasets.tf_flowers import tf_flowers_dataset_builder as real_tf_flowers

from course_utils.data import flowers, generated

SPLIT = ["train[:10%]", "train[10%:25%]", "train[25%:]"]  # the lesson's test, validation, train

# One clearly different colour per class, so a loaded image tells which folder it came from.
COLOURS = {"dandelion": (250, 220, 0), "daisy": (255, 255, 255), "tulips": (230, 0, 0),
           "sunflowers": (255, 140, 0), "roses": (160, 0, 120)}


def write_folder(root, per_class=6, classes=flowers._CLASS_NAMES, seed=0):
    """A small flower_photos folder: constant-colour JPEGs of varying sizes."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = (int(v) for v in rng.integers(20, 60, size=2))
            Image.new("RGB", (width, height), COLOURS.get(name, (0, 0, 0))).save(root / name / f"{name}_{i}.jpg")
    return root


def jpg_counts(root):
    return {name: len(list((root / name).glob("*.jpg"))) for name in flowers._CLASS_NAMES}


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "flower_photos")


@pytest.fixture
def tfds_dir(tmp_path, monkeypatch):
    path = tmp_path / "tfds"
    monkeypatch.setenv("TFDS_DATA_DIR", str(path))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(flowers._FOLDER_ENV_VAR, raising=False)
    return path


def tfds_load(data_dir, split=SPLIT):
    """The notebook's own call."""
    return tfds.load("tf_flowers", split=split, as_supervised=True, with_info=True, data_dir=data_dir)


def label_of(image) -> str:
    """The class whose colour is closest to the image's mean colour."""
    mean = np.asarray(image, dtype=float).reshape(-1, 3).mean(axis=0)
    return min(COLOURS, key=lambda name: np.abs(mean - COLOURS[name]).sum())


# --------------------------------------------------------------------------- folder checks


def test_class_names_are_tf_flowers_label_order(tmp_path):
    real = tfds.builder("tf_flowers", data_dir=str(tmp_path)).info.features["label"].names
    assert list(flowers._CLASS_NAMES) == real


def test_find_flower_folder_accepts_the_folder_or_its_parent(folder):
    assert flowers._find_flower_folder(folder) == folder
    assert flowers._find_flower_folder(folder.parent) == folder  # the folder the .tgz unpacked into


def test_missing_folder_says_the_layout_and_what_to_do(tmp_path):
    with pytest.raises(flowers.FlowersDataError) as err:
        flowers._find_flower_folder(tmp_path / "nowhere")
    message = str(err.value)
    assert "\n" not in message
    assert "no flower folder at" in message and flowers._EXPECTED_LAYOUT in message
    assert "FLOWERS_DIR" in message and "PROFILE='quick'" in message


def test_archive_instead_of_folder(tmp_path):
    archive = tmp_path / "flower_photos.tgz"
    archive.write_bytes(b"not unpacked")
    with pytest.raises(flowers.FlowersDataError, match="is a file, not a folder: unpack it first"):
        flowers._find_flower_folder(archive)


def test_missing_class_folders(tmp_path):
    root = write_folder(tmp_path / "flower_photos", classes=("daisy", "dandelion", "tulips"))
    with pytest.raises(flowers.FlowersDataError, match=r"no class folder\(s\) roses, sunflowers: expected"):
        flowers._find_flower_folder(root)


def test_extra_class_folder(folder):
    write_folder(folder, per_class=1, classes=("cats",))
    with pytest.raises(flowers.FlowersDataError, match=r"unexpected folder\(s\) cats besides the 5 classes"):
        flowers._find_flower_folder(folder)


def test_hidden_folders_are_ignored(folder):
    (folder / ".ipynb_checkpoints").mkdir()  # Jupyter makes these
    assert flowers._find_flower_folder(folder) == folder
    assert sum(jpg_counts(folder).values()) == 30


def test_empty_class_folder(folder):
    for path in (folder / "roses").iterdir():
        path.unlink()
    (folder / "roses" / "notes.txt").write_text("no photos here")
    with pytest.raises(flowers.FlowersDataError, match=r"roses holds no \.jpg images: expected"):
        flowers._find_flower_folder(folder)


def test_the_folder_files_are_the_class_folders_jpgs_keyed_as_the_real_builder_keys_them(folder):
    (folder / "LICENSE.txt").write_text("CC-BY")  # the real archive has one at the top
    (folder / "daisy" / "thumbs.db").write_text("x")
    write_folder(folder, per_class=3, classes=("daisy",), seed=1)  # overwrites 3, keeps 6
    keys = [key for key, _ in flowers._folder_files(folder)]
    assert len(keys) == 30 and keys == sorted(keys) and keys[0] == "daisy/daisy_0.jpg"


def test_fingerprint_changes_with_the_folder(folder):
    first = flowers._folder_fingerprint(folder)
    assert flowers._folder_fingerprint(folder) == first and len(first) == 12
    Image.new("RGB", (9, 9)).save(folder / "roses" / "extra.jpg")
    assert flowers._folder_fingerprint(folder) != first


def test_local_builder_yields_the_real_builders_keys_and_labels(folder, tmp_path):
    builder = flowers._local_builder(folder, tmp_path / "tfds")
    assert builder.name == "tf_flowers" and str(builder.version) == "3.0.1"
    (split,) = builder._split_generators(dl_manager=None)
    # The real builder's own _generate_examples turns our file list into examples.
    examples = dict(real_tf_flowers.Builder._generate_examples(None, **split.gen_kwargs))
    assert len(examples) == 30
    assert "daisy/daisy_0.jpg" in examples  # the key the real archive gives that photo
    assert {record["label"] for record in examples.values()} == set(flowers._CLASS_NAMES)


# --------------------------------------------------------------------------- loading


def test_a_local_copy_loads_through_the_notebooks_tfds_load_with_real_splits(folder, tfds_dir, capsys):
    data_dir = flowers.load("real", local_copy=folder)
    out = capsys.readouterr().out
    assert "local copy: 30 photos in" in out and "prepared 30 images" in out
    assert data_dir == tfds_dir / "local_flowers" / flowers._folder_fingerprint(folder)
    (test, valid, train), info = tfds_load(data_dir)  # download=True, TFDS's default: nothing to download
    assert info.name == "tf_flowers"
    assert info.features["label"].names == list(flowers._CLASS_NAMES)
    assert {s: info.splits[s].num_examples for s in SPLIT} == dict(zip(SPLIT, [3, 5, 22]))  # TFDS rounds 7.5 up
    assert [sum(1 for _ in d) for d in (test, valid, train)] == [3, 5, 22]
    seen = set()
    for image, label in test.concatenate(valid).concatenate(train):
        assert label_of(image) == flowers._CLASS_NAMES[int(label)]  # label order is tf_flowers'
        seen.add(image.shape)
    assert len(seen) > 5  # the sizes vary, as in the real photos
    prepared = list((tfds_dir / "local_flowers").iterdir())
    assert prepared == [data_dir] and (data_dir / "tf_flowers" / "3.0.1").is_dir()


def test_local_folder_is_prepared_once_and_again_when_it_changes(folder, tfds_dir, capsys):
    flowers.load("real", local_copy=folder)
    assert "prepared 30 images" in capsys.readouterr().out
    flowers.load("real", local_copy=folder)
    assert "prepared 30 images" not in capsys.readouterr().out
    Image.new("RGB", (20, 30), COLOURS["roses"]).save(folder / "roses" / "new.jpg")
    _, info = tfds_load(flowers.load("real", local_copy=folder), "train")
    assert "prepared 31 images" in capsys.readouterr().out
    assert info.splits["train"].num_examples == 31


def test_real_source_prefers_a_local_copy_named_in_the_environment(folder, tfds_dir, monkeypatch, capsys):
    monkeypatch.setenv(flowers._FOLDER_ENV_VAR, str(folder))
    monkeypatch.setattr(flowers, "_can_reach", lambda *a, **k: pytest.fail("must not probe the network"))
    assert flowers.load("real", progress=False) == tfds_dir / "local_flowers" / flowers._folder_fingerprint(folder)
    assert f"local copy: 30 photos in {folder}" in capsys.readouterr().out


def test_real_source_offline_fails_at_once_with_advice(tfds_dir, monkeypatch):
    probed = []
    monkeypatch.setattr(flowers, "_can_reach", lambda host, port=443, timeout=5.0: probed.append(host) or False)
    with pytest.raises(flowers.FlowersDataError) as err:
        flowers.load("real")
    assert probed == [flowers._DOWNLOAD_HOST]
    message = str(err.value)
    assert "cannot be reached" in message and "FLOWERS_DIR" in message and "\n" not in message


def test_real_source_online_leaves_the_download_to_tfds_load(tfds_dir, monkeypatch):
    monkeypatch.setattr(flowers, "_can_reach", lambda *a, **k: True)
    assert flowers.load("real") == tfds_dir and not (tfds_dir / "local_flowers").exists()


def test_real_source_uses_an_already_downloaded_dataset_without_probing(folder, tfds_dir, monkeypatch):
    # Put a prepared tf_flowers where a full run's download would be.
    builder = flowers._local_builder(folder, tfds_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    monkeypatch.setattr(flowers, "_can_reach", lambda *a, **k: pytest.fail("must not probe the network"))
    assert flowers.load("real") == tfds_dir
    (test, valid, train), info = tfds_load(tfds_dir)
    assert sum(1 for _ in test) == 3 and info.splits["train"].num_examples == 30


def test_stand_in_source_is_prepared_the_same_way(tfds_dir, tmp_path, capsys):
    data_dir = flowers.load("stand-in", num_images=100, local_copy="/ignored")
    out = capsys.readouterr().out
    assert "stand-in source: FLOWERS_DIR=/ignored is ignored" in out
    assert "100 generated images in" in out and "prepared 100 images" in out
    (test, valid, train), info = tfds_load(data_dir)
    assert {s: info.splits[s].num_examples for s in SPLIT} == dict(zip(SPLIT, [10, 15, 75]))
    root = tmp_path / "data" / "quick" / "flower_photos"
    assert jpg_counts(root) == {name: 20 for name in flowers._CLASS_NAMES}
    assert len({tuple(image.shape) for image, _ in train.take(10)}) > 1


def test_progress_shows_tfds_own_bar_while_preparing_and_nothing_else(folder, tfds_dir, capsys):
    flowers._prepare_local_flowers(folder, tfds_dir / "a", progress=False)
    quiet = capsys.readouterr()
    assert quiet.err == "" and len(quiet.out.splitlines()) == 1
    flowers._prepare_local_flowers(folder, tfds_dir / "b")
    shown = capsys.readouterr()
    assert "Generating" in shown.err and len(shown.out.splitlines()) == 1  # TFDS's own lines stay out
    assert "Downloading and preparing" not in shown.out


def test_load_errors(tfds_dir, monkeypatch):
    from course_utils.errors import CourseError

    with pytest.raises(ValueError, match=r"unknown source 'tfds' for the flowers \(lesson 03\)"):
        flowers.load("tfds")
    with pytest.raises(flowers.FlowersDataError, match="no flower folder at"):
        flowers.load("real", local_copy=tfds_dir / "nowhere")
    monkeypatch.delenv("TFDS_DATA_DIR")
    with pytest.raises(flowers.FlowersDataError, match="TFDS_DATA_DIR is not set") as err:
        flowers.load("stand-in")
    assert isinstance(err.value, CourseError) and isinstance(err.value, ValueError)
    assert isinstance(err.value, generated.DataLayoutError)


def test_can_reach_a_local_port_only_when_it_listens():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        assert flowers._can_reach("127.0.0.1", port, timeout=2)
    finally:
        server.close()
    assert not flowers._can_reach("127.0.0.1", port, timeout=2)


# --------------------------------------------------------------------------- generated folder


def test_make_stand_in(tmp_path):
    root = tmp_path / "flower_photos"
    counts = flowers._make_stand_in(root, 50, seed=3)
    assert counts == {name: 10 for name in flowers._CLASS_NAMES}
    assert jpg_counts(root) == counts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flower_photos"]  # no staging folder left
    sizes = {Image.open(p).size for p in root.glob("*/*.jpg")}
    assert len(sizes) > 10 and all(90 <= w <= 260 and 90 <= h <= 260 for w, h in sizes)
    # The classes differ in colour: mean hue of a class is far from the others'.
    means = {name: np.mean([np.asarray(Image.open(p), float).mean(axis=(0, 1)) for p in (root / name).glob("*.jpg")],
                           axis=0) for name in flowers._CLASS_NAMES}
    assert min(np.abs(means[a] - means[b]).sum() for a in means for b in means if a != b) > 15


def test_make_stand_in_reuses_or_rebuilds(tmp_path):
    root = tmp_path / "flower_photos"
    flowers._make_stand_in(root, 25)
    first = root / "roses" / sorted(p.name for p in (root / "roses").iterdir())[0]
    stamp = first.stat().st_mtime_ns
    flowers._make_stand_in(root, 25)
    assert first.stat().st_mtime_ns == stamp  # same settings: reused
    flowers._make_stand_in(root, 30)
    assert sum(jpg_counts(root).values()) == 30
    with pytest.raises(ValueError, match="at least 25"):
        flowers._make_stand_in(tmp_path / "small", 10)


def test_make_stand_in_never_overwrites_real_photos(folder):
    before = jpg_counts(folder)
    with pytest.raises(generated.DataLayoutError, match="was not generated by the course: not overwriting"):
        flowers._make_stand_in(folder, 50)
    assert jpg_counts(folder) == before


# --------------------------------------------------------------------------- pipeline


def test_the_real_split_sizes_are_367_551_2752():
    """What the notebook says about the full dataset, from TFDS's own split arithmetic."""
    from tensorflow_datasets.core import naming

    template = naming.ShardedFileTemplate(data_dir="/unused", dataset_name="tf_flowers", split="train",
                                          filetype_suffix="tfrecord")
    splits = tfds.core.SplitDict([tfds.core.SplitInfo(name="train", shard_lengths=[3670], num_bytes=0,
                                                      filename_template=template)])
    assert [splits[s].num_examples for s in SPLIT] == [367, 551, 2752]


def test_the_lessons_indexing_breaks_when_the_batch_exceeds_the_split():
    """Why 1024 'failed' in the lesson: first-batch labels indexed with range(BATCH_SIZE)."""
    labels_of_first_batch = np.zeros(367)  # batch(1024) over the 367 test images: one batch of 367
    with pytest.raises(IndexError):
        [labels_of_first_batch[i] for i in range(1024)]


def test_unreadable_photos_are_named_and_skipped_odd_ones_converted(folder, tfds_dir, capsys):
    (folder / "daisy" / "daisy_0.jpg").write_bytes(b"")  # an empty download
    Image.new("L", (30, 20), 128).save(folder / "tulips" / "grey.jpg")
    before = sorted(p.name for p in folder.rglob("*"))
    _, info = tfds_load(flowers.load("real", local_copy=folder), "train")
    out = capsys.readouterr().out
    assert "(1 will be converted to RGB from L); skipped 1 unreadable: daisy_0.jpg (empty file)" in out
    assert "prepared 30 images" in out  # 30 + grey.jpg - the empty file
    assert info.splits["train"].num_examples == 30
    assert sorted(p.name for p in folder.rglob("*")) == before  # the learner's folder is untouched


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

# The quick profile's generated flowers are deterministic: for 25 images and seed 0, the sizes of
# the files in path order and the bytes of the first one (Pillow 13.0.0, the course's pin).
GENERATED_25_SIZES = [(159, 133), (146, 229), (124, 244), (134, 175), (172, 175), (252, 219), (162, 238),
                      (218, 238), (224, 167), (257, 109), (143, 132), (231, 136), (94, 104), (182, 233),
                      (141, 111), (177, 170), (183, 200), (112, 257), (218, 93), (254, 218), (114, 95),
                      (252, 230), (167, 111), (158, 155), (137, 100)]
GENERATED_25_FIRST = ("daisy/daisy.00007.jpg", "ec259da3e69706573f21e63bf790cafeb03803624c0e51c6e60c0176a3c63fb0")


def test_generated_flowers_are_recorded_for_seed_0(tmp_path):
    import hashlib

    root = tmp_path / "flower_photos"
    flowers._make_stand_in(root, 25, seed=0)
    files = sorted(root.glob("*/*.jpg"))
    assert [Image.open(p).size for p in files] == GENERATED_25_SIZES
    first = files[0]
    assert (first.relative_to(root).as_posix(), hashlib.sha256(first.read_bytes()).hexdigest()) == GENERATED_25_FIRST
    again = flowers._make_stand_in(tmp_path / "again" / "flower_photos", 25, seed=0)
    assert again == jpg_counts(root)
    assert [p.read_bytes() for p in sorted((tmp_path / "again" / "flower_photos").glob("*/*.jpg"))] == [
        p.read_bytes() for p in files]


def test_generated_flowers_manifest_records_the_settings_and_the_defaults(tmp_path):
    root = tmp_path / "flower_photos"
    counts = flowers._make_stand_in(root)  # the quick profile's defaults
    assert sum(counts.values()) == 300
    assert generated.manifest(root) == {
        "settings": {"classes": list(flowers._CLASS_NAMES), "num_images": 300, "seed": 0, "signal": 0.4,
                     "base_size": 64, "size_range": [90, 260], "version": 2},
        "made": counts,
    }
    assert {Image.open(p).size for p in list(root.glob("*/*.jpg"))[:3]} != {(64, 64)}  # resized from 64


def test_generated_flowers_without_signal_have_no_class_colours(tmp_path):
    root = tmp_path / "flower_photos"
    flowers._make_stand_in(root, 50, seed=3, signal=0.0, size_range=(20, 30))
    means = {name: np.mean([np.asarray(Image.open(p), float).mean(axis=(0, 1)) for p in (root / name).glob("*.jpg")],
                           axis=0) for name in flowers._CLASS_NAMES}
    # some classes look alike (about 8 apart; above 55 for every pair at the default signal 0.4)
    assert min(np.abs(means[a] - means[b]).sum() for a in means for b in means if a != b) < 20


def test_generated_flowers_replace_a_half_built_folder_left_by_a_crash(tmp_path, monkeypatch):
    root = tmp_path / "flower_photos"
    stale = tmp_path / ".flower_photos.123-abcdef01.part"  # a killed build's staging folder
    (stale / "daisy").mkdir(parents=True)
    Image.new("RGB", (9, 9)).save(stale / "daisy" / "left_over.jpg")
    written = []
    real = generated.write_image_folder
    monkeypatch.setattr(generated, "write_image_folder",
                        lambda folder, *a, **k: written.append(Path(folder)) or real(folder, *a, **k))
    flowers._make_stand_in(root, 25)
    assert len(written) == 1 and written[0].name.startswith(".flower_photos.")  # built beside, then renamed
    assert written[0] != stale and not written[0].exists()
    assert not (root / "daisy" / "left_over.jpg").exists() and not stale.exists()
    assert sum(jpg_counts(root).values()) == 25


def test_a_folder_the_course_did_not_make_is_named_and_kept(folder):
    with pytest.raises(generated.DataLayoutError) as err:
        flowers._make_stand_in(folder, 50)
    assert str(err.value) == (f"{folder} exists and was not generated by the course: not overwriting it "
                              "(choose an empty folder for generated images)")


def test_a_set_generated_before_the_manifests_is_rebuilt_in_place(tmp_path):
    """Up to v0.2.0 a generated set carried COURSE_GENERATED.json: it is the course's own, so it is rebuilt (now with
    a manifest), not refused as a learner's folder."""
    root = tmp_path / "flower_photos"
    (root / "daisy").mkdir(parents=True)
    (root / "daisy" / "daisy.00000.jpg").write_bytes(b"old")
    (root / "COURSE_GENERATED.json").write_text('{"settings": {}, "made": {}}')
    counts = flowers._make_stand_in(root, 25)
    assert sum(counts.values()) == 25 == sum(jpg_counts(root).values())
    assert generated.manifest(root)["made"] == counts and not (root / "COURSE_GENERATED.json").exists()


def test_can_reach_tries_https_for_five_seconds(monkeypatch):
    calls = []

    class Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def connect(address, timeout=None):
        calls.append((address, timeout))
        return Connection()

    monkeypatch.setattr(flowers.socket, "create_connection", connect)
    assert flowers._can_reach("example.invalid")
    assert calls == [(("example.invalid", 443), 5.0)]


def test_generated_flowers_seeds_draw_other_images_not_only_other_sizes(tmp_path):
    def pixels(seed):
        root = tmp_path / f"s{seed}" / "flower_photos"
        flowers._make_stand_in(root, 25, seed=seed, size_range=(64, 64))  # no resizing: the images as drawn
        return sorted(p.read_bytes() for p in root.glob("*/*.jpg"))

    assert pixels(0) != pixels(1)


def test_prepare_prints_one_line_and_records_what_it_prepared(folder, tfds_dir, capsys):
    import json

    target = flowers._prepare_local_flowers(folder)  # data_dir: $TFDS_DATA_DIR
    assert target == tfds_dir / "local_flowers" / flowers._folder_fingerprint(folder)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[course] prepared 30 images from {folder} as tf_flowers in {target} (")
    assert json.loads((target / "COURSE_MANIFEST.json").read_text()) == {
        "kind": "tfds flowers", "folder": str(folder), "images": 30}


def test_prepare_removes_tfds_incomplete_folders_left_by_a_killed_run(folder, tfds_dir):
    target = tfds_dir / "local_flowers" / flowers._folder_fingerprint(folder)
    stale = target / "tf_flowers" / "incomplete.Q2X7"
    stale.mkdir(parents=True)
    (stale / "tf_flowers-train.tfrecord-00000-of-00001").write_bytes(b"half")
    flowers._prepare_local_flowers(folder)
    assert not list(target.rglob("incomplete.*"))


def test_prepare_checks_only_the_class_photos_and_converts_in_a_checked_view(folder, tfds_dir, capsys):
    (folder / "LICENSE.txt").write_text("CC-BY")  # the real archive has one at the top: not a photo to check
    Image.new("L", (30, 20), 128).save(folder / "tulips" / "grey.jpg")
    target = flowers._prepare_local_flowers(folder)
    out = capsys.readouterr().out
    assert "31 readable images (1 will be converted to RGB from L)" in out and "LICENSE" not in out
    view = target.with_name(target.name + "_checked")
    assert Image.open(view / "tulips" / "grey.jpg").mode == "RGB"


def test_prepare_reads_a_classrooms_prepared_copy_or_names_the_missing_one(folder, tmp_path, monkeypatch, capsys):
    from course_utils.setup import classroom

    mine, shared = tmp_path / "mine", tmp_path / "shared"
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(classroom, "_reported_missing", set())
    shared.mkdir()
    own = flowers._prepare_local_flowers(folder, mine / "tfds")
    assert f"shared data: tf_flowers prepared from {folder} is not in the shared folder" in capsys.readouterr().out
    relative = own.relative_to(mine)
    shutil.copytree(own, shared / relative)
    classroom.write_manifest(shared)  # as `make classroom-data` does
    shutil.rmtree(own)
    assert flowers._prepare_local_flowers(folder, mine / "tfds") == shared / relative
    assert "prepared" not in capsys.readouterr().out and not own.exists()
