"""The loaders' unreadable-image check on a JPEG cut inside its image data (issue 17, item 5).

A download that stops early leaves a JPEG whose header is complete: PIL
opens it and reports its size, and only decoding every byte finds the
missing scan data (the real flower_photos copy has such a file). A file
cut inside its header fails already when opened, so the fixtures that cut
there never exercised the decode. Here each loader of a learner's own
folder (cactus, cats and dogs, flowers) meets a JPEG cut a few hundred bytes
before its end, well past the start of its scan data, and must name it and
leave it out before training, as only a notebook run showed before.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFile

from course_utils.data import cactus, catsdogs, flowers

SOS = b"\xff\xda"  # JPEG "start of scan": the entropy-coded image data follow this marker
CUT = 300  # bytes cut from the end, all of them image data


def noisy_jpeg(path, size=(64, 64), seed=0, colour=None):
    """A JPEG of noise (so its scan data are long), optionally around one colour."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3))
    if colour is not None:
        pixels = np.clip(np.asarray(colour) + (pixels - 128) // 8, 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path, format="JPEG", quality=95)
    return path


def cut_inside_its_data(path, cut=CUT):
    """Drop the last ``cut`` bytes of a JPEG, checking they lie inside the scan data, not the header."""
    data = path.read_bytes()
    start_of_scan = data.index(SOS)
    assert len(data) - cut > start_of_scan + 100, "the file is too small to cut inside its data"
    path.write_bytes(data[:-cut])
    return path


def test_the_fixture_opens_but_does_not_decode(tmp_path):
    """What makes this case hard: the header is whole, so opening (and reading the size) succeeds."""
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # PIL's default: a short file fails to decode
    path = cut_inside_its_data(noisy_jpeg(tmp_path / "cut.jpg"))
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.size == (64, 64) and image.mode == "RGB"
        with pytest.raises(OSError, match="truncated"):
            image.load()


# --- cactus: the rows of unreadable images are left out before training ----------------------------

def test_cactus_check_names_and_drops_a_jpeg_cut_in_its_data(tmp_path, capsys):
    root = tmp_path / "cactus"
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    for i, name in enumerate(names):
        noisy_jpeg(root / "train" / name, size=(32, 32), seed=i)
    (root / "train.csv").write_text("id,has_cactus\n" + "".join(f"{n},{i % 2}\n" for i, n in enumerate(names)))
    cut_inside_its_data(root / "train" / "c.jpg", cut=200)  # a 32x32 JPEG: 200 bytes are data too

    # the notebook's own read, then the loader's check
    table, image_dir = cactus.check_cactus_table(pd.read_csv(root / "train.csv"), root)
    assert table["id"].tolist() == ["a.jpg", "b.jpg", "d.jpg"]
    assert table["has_cactus"].tolist() == [0, 1, 1]  # the other rows keep their labels
    out = capsys.readouterr().out
    assert "3 readable images; skipped 1 unreadable: c.jpg (corrupt or truncated" in out
    assert "until then their rows are left out" in out
    assert (image_dir / "c.jpg").stat().st_size > 0  # the learner's file stays


# --- cats and dogs: a learner's folder trains on a checked view without the file ---------------------

def test_catsdogs_local_folder_leaves_out_a_jpeg_cut_in_its_data(tmp_path, monkeypatch, capsys):
    root = tmp_path / "usb" / "cats_and_dogs_filtered"
    counts = {"train": {"cats": 2, "dogs": 2}, "validation": {"cats": 1, "dogs": 1}}
    seed = 0
    for split, per_class in counts.items():
        for name, n in per_class.items():
            for i in range(n):
                noisy_jpeg(root / split / name / f"{name}.{i}.jpg", seed=seed)
                seed += 1
    cut_inside_its_data(root / "train" / "dogs" / "dogs.1.jpg")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(catsdogs, "_FULL_COUNTS", counts)  # a small copy of the real layout
    view = catsdogs.load("real", local_copy=root)
    assert view != root and view.name == "cats_and_dogs_filtered_checked"
    assert sorted(p.name for p in (view / "train" / "dogs").iterdir()) == ["dogs.0.jpg"]
    assert catsdogs._count_images(view) == {"train": {"cats": 2, "dogs": 1}, "validation": {"cats": 1, "dogs": 1}}
    out = capsys.readouterr().out
    assert "5 readable images; skipped 1 unreadable: dogs.1.jpg (corrupt or truncated" in out
    assert (root / "train" / "dogs" / "dogs.1.jpg").exists()  # nothing of the learner's is removed


# --- flowers: the local folder is prepared for tfds.load without the file ---------------------------

FLOWER_COLOURS = {"dandelion": (250, 220, 0), "daisy": (255, 255, 255), "tulips": (230, 0, 0),
                  "sunflowers": (255, 140, 0), "roses": (160, 0, 120)}


def test_flowers_local_folder_leaves_out_a_jpeg_cut_in_its_data(tmp_path, monkeypatch, capsys):
    import tensorflow_datasets as tfds

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    folder = tmp_path / "flower_photos"
    for k, name in enumerate(flowers._CLASS_NAMES):
        for i in range(2):
            noisy_jpeg(folder / name / f"{name}_{i}.jpg", seed=10 * k + i, colour=FLOWER_COLOURS[name])
    cut_inside_its_data(folder / "roses" / "roses_1.jpg")

    data_dir = flowers.load("real", local_copy=folder)
    out = capsys.readouterr().out
    assert "skipped 1 unreadable: roses_1.jpg (corrupt or truncated" in out
    assert "prepared 9 images" in out
    (train,), info = tfds.load("tf_flowers", split=["train"], as_supervised=True, with_info=True,
                               data_dir=data_dir)
    assert info.splits["train"].num_examples == 9
    labels = sorted(int(label) for _, label in train)  # every example decodes
    assert labels.count(flowers._CLASS_NAMES.index("roses")) == 1
    assert (folder / "roses" / "roses_1.jpg").exists()  # the learner's folder is untouched
