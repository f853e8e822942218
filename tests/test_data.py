import numpy as np
import pytest
from PIL import Image

from course_utils.data import generated, mnist
from course_utils.setup import files


def test_make_images_shapes_and_types():
    images, labels = generated.make_images(30, 24, 3, seed=1)
    assert images.shape == (30, 24, 24, 3) and images.dtype == np.uint8
    assert labels.shape == (30,) and set(labels) == {0, 1, 2}


def test_make_images_rectangular():
    images, _ = generated.make_images(4, (16, 20), 2)
    assert images.shape == (4, 16, 20, 3)


def test_imbalance_gives_exact_proportions():
    _, labels = generated.make_images(400, 8, 2, imbalance=[1, 3])
    assert np.bincount(labels).tolist() == [100, 300]


def test_same_seed_same_images_other_seed_other_images():
    a, _ = generated.make_images(5, 8, 2, seed=3)
    b, _ = generated.make_images(5, 8, 2, seed=3)
    c, _ = generated.make_images(5, 8, 2, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _nearest_centroid_accuracy(images, labels):
    features = images.reshape(len(images), -1, images.shape[-1]).mean(axis=1)
    half = len(images) // 2
    centroids = np.stack([features[:half][labels[:half] == k].mean(0) for k in np.unique(labels)])
    predicted = np.argmin(((features[half:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return (predicted == labels[half:]).mean()


def test_generated_classes_are_learnable():
    images, labels = generated.make_images(400, 16, 5, seed=0)
    assert _nearest_centroid_accuracy(images, labels) > 0.6  # chance is 0.2


def test_zero_signal_is_not_learnable():
    images, labels = generated.make_images(400, 16, 5, seed=0, signal=0.0)
    assert _nearest_centroid_accuracy(images, labels) < 0.4


@pytest.mark.parametrize("bad", [[1], [1, -1], [0, 0]])
def test_bad_imbalance_is_rejected(bad):
    with pytest.raises(ValueError, match="imbalance must give 2 non-negative weights"):
        generated.make_images(10, 8, 2, imbalance=bad)


def test_write_image_folder_layout(tmp_path):
    images, labels = generated.make_images(12, 16, 2, seed=0)
    counts = generated.write_image_folder(tmp_path, images, labels, ["cats", "dogs"])
    assert sum(counts.values()) == 12
    files = sorted(tmp_path.glob("*/*.jpg"))
    assert len(files) == 12 and {f.parent.name for f in files} == {"cats", "dogs"}
    assert Image.open(files[0]).size == (16, 16)


def test_digits_stand_in_is_mnist_shaped():
    from sklearn.datasets import load_digits

    (x_train, y_train), (x_test, y_test) = mnist.load("stand-in")
    assert x_train.shape[1:] == (28, 28) and x_train.dtype == np.float32
    # scaled like MNIST / 255: black is exactly 0, the brightest pixel exactly 1
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert not x_train[:, :4].any() and not x_train[:, :, -4:].any()  # MNIST's empty 4-px margin
    # every digit of scikit-learn's set, once: the label counts are the bundled set's own
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == np.bincount(load_digits().target).tolist()
    assert len(x_train) == int(0.8 * 1797)


def test_unknown_source_names_the_two_there_are():
    from course_utils.errors import CourseError

    with pytest.raises(ValueError, match="unknown source 'digits' for MNIST: use 'real' .* or 'stand-in'") as err:
        mnist.load("digits")
    assert isinstance(err.value, CourseError)


def _fake_mnist(path, n=12):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), y_train=np.arange(n) % 10,
             x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), y_test=np.arange(4))


def test_mnist_offline_names_the_file_the_place_and_quick(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    from course_utils.data.downloads import OfflineError

    with pytest.raises(OfflineError) as err:
        mnist.load("real")
    message = str(err.value)
    assert f"Could not download MNIST from {mnist._MNIST_URL}" in message
    assert mnist._MNIST_URL == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert str(tmp_path / "datasets" / "mnist.npz") in message and "PROFILE=quick" in message
    assert not list((tmp_path / "datasets").iterdir())  # nothing half-written


def test_mnist_local_copy_with_the_wrong_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    from course_utils.data.downloads import VerificationError

    copy = tmp_path / "mnist.npz"
    _fake_mnist(copy)
    with pytest.raises(VerificationError, match="SHA-256"):
        mnist.load("real", local_copy=copy)
    assert copy.exists() and not list((tmp_path / "keras" / "datasets").iterdir())


def test_mnist_reads_a_verified_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    _fake_mnist(tmp_path / "datasets" / "mnist.npz")
    monkeypatch.setattr(mnist, "_MNIST_SHA256", files.sha256(tmp_path / "datasets" / "mnist.npz"))
    (x_train, y_train), (x_test, y_test) = mnist.load("real")
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.float32
    assert x_test.shape == (4, 28, 28) and y_train.dtype == np.int64
    with np.load(tmp_path / "datasets" / "mnist.npz") as raw:  # the file's bytes, divided by 255
        np.testing.assert_array_equal(x_train, raw["x_train"].astype("float32") / 255.0)
        np.testing.assert_array_equal(x_test, raw["x_test"].astype("float32") / 255.0)
        assert y_train.tolist() == raw["y_train"].tolist() and y_test.tolist() == raw["y_test"].tolist()


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_digits_stand_in_is_seeded_and_its_images_match_their_labels():
    (x_a, y_a), (xt_a, yt_a) = mnist.load("stand-in")
    (x_b, y_b), _ = mnist.load("stand-in", seed=0)
    (x_c, y_c), _ = mnist.load("stand-in", seed=1)
    np.testing.assert_array_equal(x_a, x_b)  # seed 0 by default, the same split every time
    assert y_a.tolist() == y_b.tolist() and y_a.tolist() != y_c.tolist()
    assert (x_a.reshape(len(x_a), -1).max(axis=1) > 0.5).all()  # every image holds a digit
    # images and labels belong together: nearest class mean, train -> test, far above chance (0.1)
    means = np.stack([x_a[y_a == k].mean(axis=0) for k in range(10)])
    predicted = np.argmin(((xt_a[:, None] - means[None]) ** 2).sum(axis=(2, 3)), axis=1)
    assert (predicted == yt_a).mean() > 0.8
    assert yt_a.dtype == np.int64


def test_mnist_is_the_default_source_and_the_data_folder_the_default_place_never_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home = tmp_path / "home" / ".keras" / "datasets"  # Keras's own default: never read by the course
    home.mkdir(parents=True)
    _fake_mnist(home / "mnist.npz", n=3)
    folder = tmp_path / "data" / "keras" / "datasets"
    folder.mkdir(parents=True)
    _fake_mnist(folder / "mnist.npz")
    monkeypatch.setattr(mnist, "_MNIST_SHA256", files.sha256(folder / "mnist.npz"))
    (x_train, _), (_, y_test) = mnist.load()
    assert x_train.shape == (12, 28, 28) and y_test.dtype == np.int64 and y_test.tolist() == [0, 1, 2, 3]


def test_a_mnist_file_with_python_objects_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    path = tmp_path / "datasets" / "mnist.npz"
    np.savez(path, x_train=np.array([object()] * 2, dtype=object), y_train=np.arange(2),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.arange(1))
    monkeypatch.setattr(mnist, "_MNIST_SHA256", files.sha256(path))
    with pytest.raises(ValueError, match="allow_pickle=False"):  # never unpickled
        mnist.load("real")


def test_a_refused_mnist_copy_says_where_the_checksum_comes_from(tmp_path, monkeypatch):
    from course_utils.data.downloads import VerificationError

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    copy = tmp_path / "mnist.npz"
    _fake_mnist(copy)
    with pytest.raises(VerificationError) as err:
        mnist.load("real", local_copy=copy)
    assert "(expected values: the file_hash in tf_keras/datasets/mnist.py)" in str(err.value)


# make_images is deterministic: these hashes pin the quick profile's generated pixels (numpy 2.4.6, the course's pin).
RECORDED_RGB = "4050dec4212aed34682f6f5df24985f45c7d936dd7e172f611bba52984d6cf88"


def test_make_images_is_recorded():
    import hashlib

    rgb, labels = generated.make_images(6, (5, 7), 4, seed=0)
    assert (hashlib.sha256(rgb.tobytes()).hexdigest(), labels.tolist()) == (RECORDED_RGB, [1, 0, 3, 2, 0, 0])


def test_make_images_defaults_and_smallest_sizes():
    images, labels = generated.make_images(4)
    expected, expected_labels = generated.make_images(4, 32, 2, signal=1.0, seed=0)
    np.testing.assert_array_equal(images, expected)
    assert images.shape == (4, 32, 32, 3) and labels.tolist() == expected_labels.tolist()
    assert generated.make_images(1, 8, 2)[0].shape == (1, 8, 8, 3)  # one image is enough
    for bad in ((0, 8, 2), (5, 8, 1)):
        with pytest.raises(ValueError, match=r"^need at least 1 image and 2 classes$"):
            generated.make_images(*bad)


def test_imbalance_weights_zero_fractions_and_the_remainder():
    assert set(generated.make_images(6, 8, 2, imbalance=[0, 1])[1]) == {1}  # a class may be left out
    assert np.bincount(generated.make_images(6, 8, 2, imbalance=[0.5, 0.5])[1]).tolist() == [3, 3]
    # floor(10 x [0.25, 0.25, 0.5]) = [2, 2, 5]: the one left over goes to the largest class
    assert np.bincount(generated.make_images(10, 8, 3, imbalance=[1, 1, 2])[1]).tolist() == [2, 2, 6]
    with pytest.raises(ValueError, match="non-negative"):
        generated.make_images(10, 8, 2, imbalance=[2, -1])  # a positive sum does not excuse a negative weight


def test_data_stand_ins_leave_the_global_random_generators_alone(tmp_path):
    """Each data stand-in draws from a NumPy Generator of its own seed, so building one (a cold data folder)
    or not (a warm one) leaves the notebook on the same random path."""
    import random

    import sklearn.datasets  # noqa: F401  (its first import draws from Python's generator: a library's, not ours)
    import tensorflow as tf

    from course_utils.data import cactus, catsdogs, cifar, flowers, photos

    def next_draws():
        return [random.random(), float(np.random.random()), float(tf.random.uniform([])),
                tf.keras.initializers.GlorotUniform()((3,)).numpy().tolist()]

    tf.keras.utils.set_random_seed(321)
    expected = next_draws()
    tf.keras.utils.set_random_seed(321)
    generated.make_images(8, 16, num_classes=2, seed=1)
    photos.photo_crops(4, 16, seed=1)
    mnist.load("stand-in", seed=1)
    cifar.load("stand-in", train_size=20, test_size=10, seed=1)
    cactus._make_stand_in(tmp_path / "cactus", 40, seed=1)
    flowers._make_stand_in(tmp_path / "flowers", 25, seed=1)
    catsdogs._make_stand_in(tmp_path / "catsdogs", 40, image_size=32, seed=1)
    assert next_draws() == expected
