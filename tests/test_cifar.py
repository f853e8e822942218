"""course_utils.data.cifar: the CIFAR-10 loader (real path tested on a fake archive), stand-in, statistics, pipeline.

No test reaches the network: downloads go through a fake ``opener`` given
to :func:`course_utils.data.downloads.fetch`, serving local bytes or failing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import cifar

PER_BATCH = 10_000  # tf.keras.datasets.cifar10 expects exactly this many images per batch file


def _batch(first_red: int, labels: np.ndarray) -> dict:
    planes = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)  # CIFAR stores channels first
    planes[:, 0] = labels[:, None, None]  # red = label
    planes[:, 1] = 100
    planes[:, 2] = 200
    planes[0, 0, 0, 0] = first_red
    return {b"data": planes.reshape(len(labels), -1), b"labels": labels.tolist()}


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    """A cifar-10-python.tar.gz in the real layout with recognisable pixels (about 1 MB)."""
    folder = tmp_path_factory.mktemp("fake_cifar")
    inner = folder / "cifar-10-batches-py"
    inner.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        labels = rng.integers(0, 10, PER_BATCH).astype(np.uint8)
        (inner / f"data_batch_{i}").write_bytes(pickle.dumps(_batch(7 + i, labels)))
    test_labels = np.arange(PER_BATCH, dtype=np.uint8) % 10
    (inner / "test_batch").write_bytes(pickle.dumps(_batch(99, test_labels)))
    archive = folder / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(inner, arcname="cifar-10-batches-py")
    return archive


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Response(io.BytesIO):
    headers: dict = {}


def _no_sleep(seconds):
    return None


@pytest.fixture
def opener():
    """``serve(path)`` gives an opener that returns the file's bytes; ``fail()`` one that raises URLError."""
    requested: list[str] = []

    def serve(source: Path):
        def open_url(url, timeout):
            requested.append(url)
            return _Response(Path(source).read_bytes())
        return {"opener": open_url, "sleep": _no_sleep, "progress": False}

    def fail():
        def open_url(url, timeout):
            requested.append(url)
            raise urllib.error.URLError("no network in tests")
        return {"opener": open_url, "sleep": _no_sleep, "progress": False}

    return serve, fail, requested


@pytest.fixture
def fake_is_real(monkeypatch, fake_archive):
    """Make the fake archive pass as CIFAR-10: the published hash we check, and Keras's own check."""
    from tf_keras.src.utils import data_utils

    monkeypatch.setattr(cifar, "CIFAR10_ARCHIVE",
                        dataclasses.replace(cifar.CIFAR10_ARCHIVE, sha256=_sha256(fake_archive)))
    monkeypatch.setattr(data_utils, "validate_file", lambda *args, **kwargs: True)


# --- the generated stand-in -------------------------------------------------------------

def test_generated_has_cifar_shapes_and_all_classes():
    (x_train, y_train), (x_test, y_test) = cifar.load_cifar10("generated", train_limit=120, test_limit=40, seed=3)
    assert x_train.shape == (120, 32, 32, 3) and x_test.shape == (40, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10))
    again = cifar.load_cifar10("generated", train_limit=120, test_limit=40, seed=3)
    np.testing.assert_array_equal(again[0][0], x_train)
    assert not np.array_equal(x_train[:40], x_test)  # train and test are different draws


def test_generated_needs_sizes_and_unknown_source_is_named():
    with pytest.raises(ValueError, match="train_limit and test_limit"):
        cifar.load_cifar10("generated")
    with pytest.raises(ValueError, match="'keras'"):
        cifar.load_cifar10("tfds")


def test_generated_load_data_returns_what_keras_returns():
    (x_train, y_train), (x_test, y_test) = cifar.generated_load_data(120, 40, seed=3)
    assert x_train.shape == (120, 32, 32, 3) and x_test.shape == (40, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8  # as tf.keras.datasets.cifar10 gives them
    assert y_train.shape == (120, 1) and y_test.shape == (40, 1)  # labels as a column
    assert set(np.unique(y_train)) == set(range(10))
    np.testing.assert_array_equal(cifar.generated_load_data(120, 40, seed=3)[0][0], x_train)
    with pytest.raises(ValueError, match="positive sizes"):
        cifar.generated_load_data(0, 40)


def test_generated_classes_are_learnable_from_their_colour():
    """The stand-in carries signal: a linear model on each image's mean colour beats chance (10%) by far."""
    from sklearn.linear_model import LogisticRegression

    (x_train, y_train), (x_test, y_test) = cifar.generated_load_data(200, 100, seed=0)
    colour = lambda x: x.reshape(len(x), -1, 3).mean(axis=1) / 255.0  # noqa: E731
    model = LogisticRegression(max_iter=2000).fit(colour(x_train), y_train.ravel())
    assert model.score(colour(x_test), y_test.ravel()) > 0.5


def test_loader_generated_is_called_like_keras_load_data():
    load_data = cifar.loader("generated", train_size=30, test_size=10, seed=1)
    assert load_data.func is cifar.generated_load_data
    (x_train, y_train), (x_test, y_test) = load_data()  # no arguments, as tf.keras.datasets.cifar10.load_data()
    assert x_train.shape == (30, 32, 32, 3) and y_test.shape == (10, 1)
    np.testing.assert_array_equal(x_train, cifar.generated_load_data(30, 10, seed=1)[0][0])
    with pytest.raises(ValueError, match="train_size and test_size"):
        cifar.loader("generated")
    with pytest.raises(ValueError, match="'keras'"):
        cifar.loader("tfds")


def test_class_names():
    assert len(cifar.CLASS_NAMES) == 10 and cifar.CLASS_NAMES[0] == "airplane" and cifar.CLASS_NAMES[9] == "truck"


# --- the real loader, on a fake archive -------------------------------------------------------

def test_local_archive_is_installed_and_read(tmp_path, fake_archive, fake_is_real, opener):
    _, fail, requested = opener
    cache = tmp_path / "keras"
    (x_train, y_train), (x_test, y_test) = cifar.load_cifar10(
        "keras", archive=fake_archive, cache_dir=cache, train_limit=25_000, **fail()
    )
    assert requested == []  # nothing was downloaded
    assert (cache / "datasets" / cifar.KERAS_ARCHIVE_NAME).is_file()
    assert fake_archive.is_file()  # the learner's file stays where it was
    assert not list((cache / "datasets").glob("*.part"))
    assert x_train.shape == (25_000, 32, 32, 3) and x_test.shape == (10_000, 32, 32, 3)
    assert y_train.dtype == np.int64 and y_train.ndim == 1
    assert tuple(x_train[0, 0, 0]) == (8, 100, 200)  # channels moved last: red, green, blue
    assert tuple(x_test[0, 0, 0]) == (99, 100, 200)
    np.testing.assert_array_equal(x_test[1:, 0, 0, 0], y_test[1:])  # red plane = label
    np.testing.assert_array_equal(y_test[:10], np.arange(10))


def test_loader_keras_is_tf_keras_load_data_on_the_verified_archive(tmp_path, fake_archive, fake_is_real, opener):
    import tensorflow as tf

    _, fail, requested = opener
    cache = tmp_path / "keras"
    load_data = cifar.loader("keras", archive=fake_archive, cache_dir=cache, **fail())
    assert load_data.func is tf.keras.datasets.cifar10.load_data
    assert load_data.keywords == {"cache_dir": str(cache)}
    assert requested == [] and (cache / "datasets" / cifar.KERAS_ARCHIVE_NAME).is_file()
    (x_train, y_train), (x_test, y_test) = load_data()
    assert x_train.shape == (50_000, 32, 32, 3) and y_train.shape == (50_000, 1)
    assert tuple(x_test[0, 0, 0]) == (99, 100, 200)
    np.testing.assert_array_equal(y_test[:10, 0], np.arange(10))


def test_loader_keras_explains_an_incomplete_extracted_folder(tmp_path, fake_archive, fake_is_real):
    folder = tmp_path / "keras" / "datasets" / cifar.KERAS_FOLDER_NAME
    folder.mkdir(parents=True)  # extraction interrupted earlier
    (folder / "data_batch_1").write_bytes(b"")
    with pytest.raises(cifar.CifarDataError, match=r"incomplete \(data_batch_2, .*test_batch missing\)"):
        cifar.loader("keras", archive=fake_archive, cache_dir=tmp_path / "keras")


def test_download_goes_to_keras_home(tmp_path, monkeypatch, fake_archive, fake_is_real, opener):
    serve, _, requested = opener
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    (x_train, _), (x_test, _) = cifar.load_cifar10("keras", train_limit=10, test_limit=5, **serve(fake_archive))
    assert requested == [cifar.CIFAR10_URL]
    datasets = tmp_path / "home" / "datasets"
    assert (datasets / cifar.KERAS_ARCHIVE_NAME).is_file()
    assert (datasets / cifar.KERAS_FOLDER_NAME / "test_batch").is_file()
    assert not list(datasets.glob("*.part"))
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (5, 32, 32, 3)
    cifar.load_cifar10("keras", train_limit=10, test_limit=5, **serve(fake_archive))
    assert len(requested) == 1  # the verified archive is reused


def test_offline_without_archive_says_what_to_do(tmp_path, opener):
    _, fail, _ = opener
    with pytest.raises(cifar.CifarDataError) as info:
        cifar.load_cifar10("keras", cache_dir=tmp_path, **fail())
    message = str(info.value)
    assert "CIFAR10_ARCHIVE" in message and "PROFILE=quick" in message and "cifar-10-python.tar.gz" in message
    assert str(tmp_path / "datasets" / cifar.KERAS_ARCHIVE_NAME) in message
    assert list((tmp_path / "datasets").iterdir()) == []


def test_a_wrong_download_is_not_kept(tmp_path, opener):
    serve, _, _ = opener
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"an error page, not CIFAR-10")
    with pytest.raises(cifar.CifarDataError, match="does not match the published file"):
        cifar.fetch_archive(tmp_path / "cache", **serve(bogus))
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_incomplete_extracted_folder_is_explained(tmp_path, fake_archive, fake_is_real):
    cache = tmp_path / "keras"
    (cache / "datasets" / cifar.KERAS_FOLDER_NAME).mkdir(parents=True)  # extraction interrupted earlier
    with pytest.raises(cifar.CifarDataError, match="incomplete"):
        cifar.load_cifar10("keras", archive=fake_archive, cache_dir=cache)


def test_local_archive_missing_or_wrong(tmp_path):
    with pytest.raises(cifar.CifarDataError, match="no CIFAR-10 archive at"):
        cifar.fetch_archive(tmp_path, archive=tmp_path / "nope.tar.gz")
    wrong = tmp_path / "cifar-10-python.tar.gz"
    wrong.write_bytes(b"not cifar")
    with pytest.raises(cifar.CifarDataError, match="does not match the published file"):
        cifar.fetch_archive(tmp_path / "cache", archive=wrong)
    assert wrong.read_bytes() == b"not cifar"
    assert not (tmp_path / "cache" / "datasets" / cifar.KERAS_ARCHIVE_NAME).exists()


def test_keras_cache_dir_follows_keras_home_then_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert cifar.keras_cache_dir() == tmp_path / "kh"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    assert cifar.keras_cache_dir() == tmp_path / "data" / "keras"


# --- splitting, statistics, preprocessing ----------------------------------------------------

def test_split_validation_holds_out_the_last_tenth():
    images = np.arange(50).reshape(50, 1, 1, 1)
    labels = np.arange(50)
    (x_tr, y_tr), (x_va, y_va) = cifar.split_validation(images, labels, 0.1)
    assert len(x_tr) == 45 and len(x_va) == 5
    np.testing.assert_array_equal(y_va, [45, 46, 47, 48, 49])
    with pytest.raises(ValueError, match="between 0 and 1"):
        cifar.split_validation(images, labels, 1.5)
    with pytest.raises(ValueError, match="too few"):
        cifar.split_validation(images[:1], labels[:1], 0.5)


def test_channel_stats_match_numpy_and_work_in_chunks():
    images = np.random.default_rng(1).integers(0, 256, (23, 8, 8, 3), dtype=np.uint8)
    mean, std = cifar.channel_stats(images, chunk=7)
    reference = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 1, 2)), rtol=1e-9)
    np.testing.assert_allclose(std, reference.std(axis=(0, 1, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        cifar.channel_stats(images[..., 0])


def test_standardize_is_the_torchvision_formula():
    images = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    out = cifar.standardize(images, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    np.testing.assert_allclose(out[0, 0, 0], [2.0, 1.0, 0.5])


def test_caffe_preprocess_with_imagenet_mean_equals_keras_preprocess_input():
    from tensorflow.keras.applications import vgg16

    images = np.random.default_rng(2).uniform(0, 255, (4, 5, 5, 3)).astype(np.float32)
    imagenet_rgb = np.asarray(cifar.CAFFE_MEAN_BGR)[::-1] / 255.0
    ours = cifar.caffe_preprocess_with(imagenet_rgb)(images)
    np.testing.assert_allclose(ours, vgg16.preprocess_input(images.copy()), atol=1e-3)
    shifted = cifar.caffe_preprocess_with(imagenet_rgb + 0.01)(images)
    np.testing.assert_allclose(ours - shifted, 2.55, atol=1e-3)  # one more 0.01 * 255 subtracted


def test_image_dataset_resizes_and_preprocesses_batch_by_batch():
    images = np.random.default_rng(3).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(10)
    same = cifar.image_dataset(images, labels, image_size=32, batch_size=4, preprocess=lambda x: x / 255.0)
    batches = list(same)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype.name == "float32" and float(np.max(batches[0][0])) <= 1.0
    np.testing.assert_allclose(batches[0][0].numpy(), images[:4] / 255.0, rtol=1e-6)
    big = cifar.image_dataset(images, labels, image_size=64, batch_size=4, preprocess=lambda x: x,
                              shuffle=True, seed=0)
    x, y = next(iter(big))
    assert tuple(x.shape) == (4, 64, 64, 3)
    assert sorted(np.concatenate([b[1].numpy() for b in big])) == list(range(10))
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        cifar.image_dataset(images, labels[:9], image_size=32, batch_size=4, preprocess=lambda x: x)


def test_image_dataset_without_labels_gives_images_only():
    images = np.random.default_rng(5).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    batches = list(cifar.image_dataset(images, image_size=64, batch_size=4, preprocess=lambda x: x - 1.0))
    assert [tuple(b.shape) for b in batches] == [(4, 64, 64, 3), (1, 64, 64, 3)]  # tensors, not (x, y) pairs
    np.testing.assert_allclose(np.concatenate(batches),
                               cifar.prepare_images(images, 64, lambda x: x - 1.0).numpy(), rtol=1e-6)


def test_caffe_preprocess_with_shows_its_mean_and_keys_the_feature_cache_by_it():
    from course_utils import features as feature_cache

    one, other = cifar.caffe_preprocess_with((0.5, 0.4, 0.3)), cifar.caffe_preprocess_with((0.5, 0.4, 0.31))
    assert "mean_bgr=(76.5, 102.0, 127.5)" in repr(one)  # BGR, 0-255
    np.testing.assert_allclose(cifar.subtract_mean_bgr(np.zeros((1, 3), np.float32), (1.0, 2.0, 3.0)),
                               [[-1.0, -2.0, -3.0]])
    assert (feature_cache.callable_fingerprint(cifar.example_preprocessor(32, one))
            != feature_cache.callable_fingerprint(cifar.example_preprocessor(32, other)))


def test_example_preprocessor_matches_the_batch_pipeline_image_by_image():
    from tensorflow.keras.applications import vgg16

    images = np.random.default_rng(4).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(6)
    for size in (32, 48):
        prepare = cifar.example_preprocessor(size, vgg16.preprocess_input)
        batched = np.concatenate([x.numpy() for x, _ in cifar.image_dataset(
            images, labels, image_size=size, batch_size=4, preprocess=vgg16.preprocess_input)])
        one_by_one = np.stack([prepare(image, label)[0].numpy() for image, label in zip(images, labels)])
        assert one_by_one.shape == (6, size, size, 3)
        np.testing.assert_allclose(one_by_one, batched, rtol=1e-6, atol=1e-4)
        assert prepare(images[0], labels[0])[1] == labels[0]
    assert (prepare.keywords["image_size"], prepare.keywords["preprocess"]) == (48, vgg16.preprocess_input)


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_loader_keras_defaults_to_keras_home(tmp_path, monkeypatch, fake_archive, fake_is_real, opener):
    _, fail, requested = opener
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    load_data = cifar.loader("keras", archive=fake_archive, **fail())
    assert load_data.keywords == {"cache_dir": str(tmp_path / "kh")}
    assert (tmp_path / "kh" / "datasets" / cifar.KERAS_ARCHIVE_NAME).is_file() and requested == []


def test_fetch_archive_messages_say_what_to_do(tmp_path, monkeypatch, opener):
    _, fail, _ = opener
    missing = tmp_path / "nope.tar.gz"
    with pytest.raises(cifar.CifarDataError) as err:
        cifar.fetch_archive(tmp_path, archive=missing)
    assert str(err.value) == (
        f"no CIFAR-10 archive at {missing}: download cifar-10-python.tar.gz from {cifar.CIFAR10_URL} and give "
        "its path as CIFAR10_ARCHIVE, or leave CIFAR10_ARCHIVE = None to download it, or run the notebook "
        "with PROFILE = 'quick' (offline, generated data)")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(cifar.CifarDataError) as err:
        cifar.fetch_archive(**fail())  # default folder: $KERAS_HOME/datasets
    message = str(err.value)
    assert str(tmp_path / "kh" / "datasets" / cifar.KERAS_ARCHIVE_NAME) in message
    assert message.endswith("(CIFAR-10 publishes it as cifar-10-python.tar.gz: give that file's path as "
                            "CIFAR10_ARCHIVE.)")


def test_generated_test_images_are_drawn_with_seed_plus_one():
    from course_utils.data.generated import make_images

    (x_train, y_train), (x_test, y_test) = cifar.generated_load_data(20, 7, seed=4)
    np.testing.assert_array_equal(x_train, make_images(20, 32, 10, seed=4)[0])
    np.testing.assert_array_equal(x_test, make_images(7, 32, 10, seed=5)[0])
    np.testing.assert_array_equal(y_test.ravel(), make_images(7, 32, 10, seed=5)[1])
    one = cifar.generated_load_data(1, 1)  # the smallest sizes, seed 0 by default
    np.testing.assert_array_equal(one[0][0], make_images(1, 32, 10, seed=0)[0])


@pytest.mark.parametrize("train, test", [(0, 5), (5, 0), (-1, 5), (5, -2), (None, 5)])
def test_generated_sizes_must_be_positive(train, test):
    with pytest.raises(ValueError, match=rf"^the generated stand-in needs positive sizes, got train {train}, test {test}$"):
        cifar.generated_load_data(train, test)


def test_loader_generated_defaults_and_message():
    load_data = cifar.loader("generated", train_size=12.0, test_size=4)
    assert load_data.args == (12, 4) and load_data.keywords == {"seed": 0}
    with pytest.raises(ValueError, match=r"^source='generated' needs train_size and test_size \(the sizes to generate\)$"):
        cifar.loader("generated", train_size=12)


def test_an_incomplete_extracted_folder_names_what_is_missing(tmp_path):
    folder = tmp_path / cifar.KERAS_FOLDER_NAME
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_3", "test_batch"):
        (folder / name).write_bytes(b"x")
    with pytest.raises(cifar.CifarDataError) as err:
        cifar._check_extracted(folder)
    assert str(err.value) == (f"the extracted folder {folder} is incomplete (data_batch_2, data_batch_4, "
                              "data_batch_5 missing): delete that folder (keep the .tar.gz beside it) and run again")
    for name in ("data_batch_2", "data_batch_4", "data_batch_5"):
        (folder / name).write_bytes(b"x")
    cifar._check_extracted(folder)  # complete: nothing to say


def test_channel_stats_of_a_flat_image_is_zero_not_nan_and_needs_three_channels():
    flat = np.full((3, 4, 4, 3), 5, dtype=np.uint8)
    mean, std = cifar.channel_stats(flat)
    np.testing.assert_allclose(mean, 5 / 255)
    assert np.array_equal(std, [0.0, 0.0, 0.0])  # rounding makes this variance slightly negative: clamped, not nan
    with pytest.raises(ValueError, match=r"got shape \(3, 4, 4, 1\)"):
        cifar.channel_stats(flat[..., :1])


def test_image_dataset_shuffles_with_its_seed_and_again_every_pass():
    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1).repeat(32, 1).repeat(32, 2).repeat(3, 3)
    labels = np.arange(40)

    def order(dataset):
        return np.concatenate([y.numpy() for _, y in dataset]).tolist()

    one = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x, shuffle=True, seed=3)
    same = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x, shuffle=True, seed=3)
    first = order(one)
    assert first == order(same) and sorted(first) == list(range(40)) and first != list(range(40))
    assert order(one) != first  # a new order on the next pass (epoch)
    plain = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x)
    assert order(plain) == list(range(40))


def test_prepare_images_casts_to_float32_even_without_resizing():
    images = np.full((2, 32, 32, 3), 7, dtype=np.uint8)
    out = cifar.prepare_images(images, 32, lambda x: x / 2)
    assert out.dtype.name == "float32" and float(out[0, 0, 0, 0]) == 3.5
    assert cifar.example_preprocessor(32.0, cifar.subtract_mean_bgr).keywords["image_size"] == 32


def test_loader_is_keras_by_default_and_passes_fetch_options_on(tmp_path, fake_archive, fake_is_real, opener):
    serve, _, requested = opener
    load_data = cifar.loader(cache_dir=tmp_path / "keras", **serve(fake_archive))  # no archive: downloaded
    assert requested == [cifar.CIFAR10_URL] and load_data.keywords == {"cache_dir": str(tmp_path / "keras")}


def test_channel_stats_of_images_that_are_not_square():
    images = np.random.default_rng(6).integers(0, 256, (5, 7, 3, 3), dtype=np.uint8)
    mean, std = cifar.channel_stats(images)
    reference = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 1, 2)), rtol=1e-9)
    np.testing.assert_allclose(std, reference.std(axis=(0, 1, 2)), rtol=1e-6)


def test_caffe_preprocessing_keeps_float32_images_float32():
    import tensorflow as tf

    out = cifar.caffe_preprocess_with((0.5, 0.4, 0.3))(np.zeros((1, 2, 2, 3), np.float32))  # as the notebook's sample
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], [-76.5, -102.0, -127.5], rtol=1e-6)
    assert cifar.caffe_preprocess_with((0.5, 0.4, 0.3))(tf.zeros((1, 2, 2, 3))).dtype == tf.float32


def test_generated_test_labels_are_uint8_too_and_image_dataset_shuffles_with_seed_0_by_default():
    _, (_, y_test) = cifar.generated_load_data(10, 5)
    assert y_test.dtype == np.uint8 and y_test.shape == (5, 1)
    images = np.zeros((30, 32, 32, 3), np.uint8)
    labels = np.arange(30)

    def order(**kwargs):
        dataset = cifar.image_dataset(images, labels, image_size=32, batch_size=10, preprocess=lambda x: x,
                                      shuffle=True, **kwargs)
        return np.concatenate([y.numpy() for _, y in dataset]).tolist()

    assert order() == order(seed=0) != order(seed=1)
