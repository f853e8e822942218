"""Lesson 04 Part A's photos and the ImageNet class names, offline."""
import hashlib
import json

import numpy as np
import pytest

from course_utils.data import downloads, photos


@pytest.fixture
def keras_class_index():
    """Restore Keras's class-index cache after a test filled it."""
    module = photos._keras_imagenet_utils()
    saved = module.CLASS_INDEX
    yield module
    module.CLASS_INDEX = saved


def test_bundled_photos_are_written_as_files_load_img_reads_at_224(tmp_path):
    import tensorflow as tf

    paths = photos.write_bundled_photos(tmp_path)
    assert [p.name for p in paths] == [f"{name}.jpg" for name in photos.BUNDLED_PHOTOS]
    for path in paths:
        array = tf.keras.utils.img_to_array(tf.keras.utils.load_img(path, target_size=(224, 224)))
        assert array.shape == (224, 224, 3) and array.max() > 100  # a real photo, not a blank
    assert not list(tmp_path.glob("*.part"))


def test_writing_again_keeps_the_existing_files(tmp_path):
    first = photos.write_bundled_photos(tmp_path, ["coffee"])[0]
    stamp = first.stat().st_mtime_ns
    again = photos.write_bundled_photos(tmp_path, ["coffee"])[0]
    assert again == first and again.stat().st_mtime_ns == stamp


def test_default_folder_is_under_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert photos.photo_folder() == tmp_path / "photos"
    assert photos.write_bundled_photos(names=["rocket"])[0] == tmp_path / "photos" / "rocket.jpg"


def test_bundled_photo_is_uint8_rgb_and_unknown_names_are_listed():
    cat = photos.bundled_photo("chelsea")
    assert cat.dtype == np.uint8 and cat.ndim == 3 and cat.shape[-1] == 3
    with pytest.raises(photos.PhotoError, match="no bundled photo 'pug'; choose from chelsea, coffee"):
        photos.bundled_photo("pug")


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
        photos.check_photo(text)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(photos.PhotoError, match="not a photo Keras can read"):
        photos.check_photo(broken)


def test_photo_crops_are_natural_image_patches_in_0_1():
    crops = photos.photo_crops(12, size=32, seed=3)
    assert crops.shape == (12, 32, 32, 3) and crops.dtype == np.float32
    assert 0.0 <= crops.min() and crops.max() <= 1.0
    assert crops.std(axis=(1, 2, 3)).min() > 0.005  # not flat
    assert np.array_equal(crops, photos.photo_crops(12, size=32, seed=3))
    assert not np.array_equal(crops, photos.photo_crops(12, size=32, seed=4))
    with pytest.raises(ValueError, match="num_crops >= 1"):
        photos.photo_crops(0)
    with pytest.raises(ValueError, match="size <= short_side"):
        photos.photo_crops(2, size=128, short_side=96)


def test_placeholder_index_has_the_real_files_shape():
    index = photos.placeholder_class_index()
    assert len(index) == 1000 and index["0"] == ["quick_000", "placeholder_000"]
    assert all(name.startswith("placeholder_") for _, name in index.values())


def test_placeholder_class_index_lets_decode_predictions_run_offline(tmp_path, keras_class_index):
    import tensorflow as tf

    messages = []
    path = photos.prepare_class_index("placeholder", tmp_path, printer=messages.append)
    assert path.name == photos.PLACEHOLDER_FILENAME and "PLACEHOLDER" in path.name
    assert not (tmp_path / photos.CLASS_INDEX_FILENAME).exists()  # never the real file's name
    assert "placeholder" in messages[0]
    scores = np.zeros((1, 1000), np.float32)
    scores[0, 7] = 0.9
    scores[0, 3] = 0.1
    top = tf.keras.applications.vgg19.decode_predictions(scores, top=2)[0]
    assert [name for _, name, _ in top] == ["placeholder_007", "placeholder_003"]
    assert photos.class_index_is_placeholder()


def _fake_real_index(tmp_path, monkeypatch, entries=1000):
    """A class-index file in the cache folder whose MD5 the patched asset publishes."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(entries)}
    index["0"] = ["n01440764", "tench"]
    payload = json.dumps(index).encode()
    (tmp_path / photos.CLASS_INDEX_FILENAME).write_bytes(payload)
    asset = photos.IMAGENET_CLASS_INDEX
    monkeypatch.setattr(photos, "IMAGENET_CLASS_INDEX", downloads.Asset(
        asset.name, asset.filename, asset.urls, md5=hashlib.md5(payload).hexdigest()))


def test_real_class_index_is_verified_and_loaded_into_keras(tmp_path, monkeypatch, keras_class_index):
    import tensorflow as tf

    _fake_real_index(tmp_path, monkeypatch)
    path = photos.prepare_class_index("keras", tmp_path, printer=lambda *_: None)
    assert path == tmp_path / photos.CLASS_INDEX_FILENAME
    scores = np.zeros((1, 1000), np.float32)
    scores[0, 0] = 1.0
    assert tf.keras.applications.vgg19.decode_predictions(scores, top=1)[0][0][1] == "tench"
    assert not photos.class_index_is_placeholder()


def test_a_file_that_is_not_a_class_index_is_refused(tmp_path, monkeypatch, keras_class_index):
    _fake_real_index(tmp_path, monkeypatch, entries=3)
    with pytest.raises(ValueError, match="not an ImageNet class index"):
        photos.prepare_class_index("keras", tmp_path, printer=lambda *_: None)


def test_real_class_index_offline_says_where_to_put_it(tmp_path, keras_class_index):
    before = keras_class_index.CLASS_INDEX
    with pytest.raises(downloads.OfflineError) as err:
        photos.prepare_class_index("keras", tmp_path, printer=lambda *_: None, retries=1)
    text = str(err.value)
    assert photos.CLASS_INDEX_FILENAME in text and str(tmp_path) in text and "PROFILE=quick" in text
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    assert keras_class_index.CLASS_INDEX is before


def test_unknown_class_index_source(tmp_path):
    with pytest.raises(ValueError, match="use 'keras' or 'placeholder'"):
        photos.prepare_class_index("imagenet", tmp_path)
