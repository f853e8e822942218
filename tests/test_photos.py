"""Lesson 04 Part A's photos and the ImageNet class names, offline."""
import hashlib
import json

import numpy as np
import pytest

from course_utils.data import downloads, photos


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    yield tmp_path / "keras"


def test_bundled_photos_are_written_as_files_load_img_reads_at_224(tmp_path):
    import tensorflow as tf

    paths = photos._write_bundled_photos(tmp_path)
    assert [p.name for p in paths] == [f"{name}.jpg" for name in photos.BUNDLED_PHOTOS]
    for path in paths:
        array = tf.keras.utils.img_to_array(tf.keras.utils.load_img(path, target_size=(224, 224)))
        assert array.shape == (224, 224, 3) and array.max() > 100  # a real photo, not a blank
    assert not list(tmp_path.glob("*.part"))


def test_writing_again_keeps_the_existing_files(tmp_path):
    first = photos._write_bundled_photos(tmp_path)[1]
    stamp = first.stat().st_mtime_ns
    again = photos._write_bundled_photos(tmp_path)[1]
    assert again == first and again.stat().st_mtime_ns == stamp


def test_default_folder_is_under_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert photos._write_bundled_photos()[2] == tmp_path / "photos" / "rocket.jpg"


def test_bundled_photo_is_uint8_rgb():
    for name in photos.BUNDLED_PHOTOS:
        image = photos._bundled_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3


def test_own_photos_come_after_the_bundled_ones(tmp_path):
    from PIL import Image

    mine = tmp_path / "mine" / "my_dog.png"
    mine.parent.mkdir()
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(mine)
    paths = photos.photo_paths([str(mine)], folder=tmp_path / "bundled")
    assert paths[-1] == mine and len(paths) == len(photos.BUNDLED_PHOTOS) + 1
    assert photos.photo_paths(mine, folder=tmp_path / "bundled")[-1] == mine  # a single path works too
    assert len(photos.photo_paths(None, folder=tmp_path / "bundled")) == len(photos.BUNDLED_PHOTOS)


def test_a_missing_or_unreadable_photo_says_what_to_do(tmp_path):
    with pytest.raises(photos.PhotoError, match=r"photo not found: .*nope\.jpg.*MY_PHOTOS"):
        photos.photo_paths([tmp_path / "nope.jpg"], folder=tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    with pytest.raises(photos.PhotoError, match="not a photo Keras can read"):
        photos._check_photo(text)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(photos.PhotoError, match="not a photo Keras can read"):
        photos._check_photo(broken)


def test_photo_crops_are_natural_image_patches_in_0_1():
    crops = photos.photo_crops(12, size=32, seed=3)
    assert crops.shape == (12, 32, 32, 3) and crops.dtype == np.float32
    assert 0.0 <= crops.min() and crops.max() <= 1.0
    assert crops.std(axis=(1, 2, 3)).min() > 0.005  # not flat
    assert np.array_equal(crops, photos.photo_crops(12, size=32, seed=3))
    assert not np.array_equal(crops, photos.photo_crops(12, size=32, seed=4))


def test_placeholder_index_has_the_real_files_shape():
    index = photos._placeholder_class_index()
    assert len(index) == 1000 and index["0"] == ["quick_000", "placeholder_000"]
    assert all(name.startswith("placeholder_") for _, name in index.values())


def test_placeholder_class_names_decode_offline(keras_home, capsys):
    path = photos.prepare_class_index("stand-in")
    assert path == keras_home / "models" / photos._PLACEHOLDER_FILENAME and "PLACEHOLDER" in path.name
    assert not (keras_home / "models" / photos._IMAGENET_CLASS_INDEX.filename).exists()  # never the real file's name
    assert capsys.readouterr().out == (f"[course] class names: 1000 generated placeholders ({photos._PLACEHOLDER_FILENAME}); "
                                       "the quick profile's random VGG19 predicts nothing real\n")
    scores = np.zeros((2, 1000), np.float32)
    scores[0, 7], scores[0, 3], scores[1, 999] = 0.9, 0.1, 0.5
    top = photos.decode_predictions(scores, top=2, class_index=path)
    assert top[0] == [("quick_007", "placeholder_007", np.float32(0.9)),
                      ("quick_003", "placeholder_003", np.float32(0.1))]
    assert top[1][0][1] == "placeholder_999" and len(photos.decode_predictions(scores, class_index=path)[0]) == 5  # Keras's top=5
    stamp = path.stat().st_mtime_ns
    assert photos.prepare_class_index("stand-in") == path and path.stat().st_mtime_ns == stamp  # written once


def test_decode_predictions_needs_prepared_names_and_keras_shaped_scores(keras_home):
    from course_utils.errors import CourseError

    with pytest.raises(photos.ClassIndexError) as err:
        photos.decode_predictions(np.zeros((1, 1000)))
    assert str(err.value) == ("no class names: pass class_index=, the file photos.prepare_class_index(cfg.source) "
                              "returned")
    assert isinstance(err.value, CourseError) and isinstance(err.value, ValueError)
    names = photos.prepare_class_index("stand-in")
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\), got \(1, 10\)"):
        photos.decode_predictions(np.zeros((1, 10)), class_index=names)


def _fake_real_index(keras_home, monkeypatch, entries=1000):
    """A class-index file in Keras's models folder whose MD5 the patched asset publishes."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(entries)}
    index["0"] = ["n01440764", "tench"]
    payload = json.dumps(index).encode()
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / photos._IMAGENET_CLASS_INDEX.filename).write_bytes(payload)
    asset = photos._IMAGENET_CLASS_INDEX
    monkeypatch.setattr(photos, "_IMAGENET_CLASS_INDEX", downloads.Asset(
        asset.name, asset.filename, asset.urls, md5=hashlib.md5(payload).hexdigest()))


def test_real_class_index_is_verified_and_decodes(keras_home, monkeypatch):
    _fake_real_index(keras_home, monkeypatch)
    path = photos.prepare_class_index("real")
    assert path == keras_home / "models" / "imagenet_class_index.json"
    scores = np.zeros((1, 1000), np.float32)
    scores[0, 0] = 1.0
    assert photos.decode_predictions(scores, top=1, class_index=path) == [[("n01440764", "tench", np.float32(1.0))]]


def test_a_file_that_is_not_a_class_index_is_refused(keras_home, monkeypatch):
    _fake_real_index(keras_home, monkeypatch, entries=3)
    with pytest.raises(photos.ClassIndexError, match="not an ImageNet class index"):
        photos.prepare_class_index("real")


def test_real_class_index_offline_says_where_to_put_it(keras_home):
    with pytest.raises(downloads.OfflineError) as err:
        photos.prepare_class_index("real", progress=False)
    text = str(err.value)
    assert "imagenet_class_index.json" in text and str(keras_home / "models") in text and "PROFILE=quick" in text
    assert list((keras_home / "models").iterdir()) == []  # no partial file left behind


def test_a_learners_class_index_copy_is_verified_and_used(keras_home, monkeypatch, tmp_path):
    _fake_real_index(keras_home, monkeypatch)
    mine = tmp_path / "usb.json"
    (keras_home / "models" / "imagenet_class_index.json").rename(mine)
    path = photos.prepare_class_index("real", local_copy=mine)
    assert path == keras_home / "models" / "imagenet_class_index.json"
    assert mine.exists() and photos.decode_predictions(np.eye(1, 1000), top=1, class_index=path)[0][0][1] == "tench"


def test_unknown_class_index_source(keras_home):
    with pytest.raises(ValueError, match="unknown source 'keras' for the ImageNet class names"):
        photos.prepare_class_index("keras")
