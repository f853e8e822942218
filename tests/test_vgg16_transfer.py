"""course_utils.models.vgg16_bridge: the 7x7 bridge, the weight copy, the builder, costs and timing.

VGG16 with its top has 138 million parameters (about 0.55 GB): it is built
once for this module, with random weights (no download), as the source whose
fc1 and fc2 the transfer models must carry.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
import tensorflow as tf

from course_utils import features as feature_cache
from course_utils import models
from course_utils.data import downloads
from course_utils.models import standins, weights
from course_utils.models import vgg16_bridge as vt

FC1_PARAMS = 25088 * 4096 + 4096
FC2_PARAMS = 4096 * 4096 + 4096
OUTPUT_PARAMS = 4096 * 10 + 10
BASE_PARAMS = 14_714_688


@pytest.fixture(scope="module")
def source():
    tf.keras.utils.set_random_seed(0)
    model = vt.load_vgg16(include_top=True, weights=None)
    yield model
    del model


def _reference_adaptive_pool(x: np.ndarray, out: int) -> np.ndarray:
    """PyTorch's AdaptiveAvgPool2d written as loops, channels last."""
    batch, height, width, channels = x.shape
    result = np.zeros((batch, out, out, channels), dtype=np.float64)
    for i in range(out):
        h0, h1 = math.floor(i * height / out), math.ceil((i + 1) * height / out)
        for j in range(out):
            w0, w1 = math.floor(j * width / out), math.ceil((j + 1) * width / out)
            result[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return result


# --- the bridge ----------------------------------------------------------------------------

def test_feature_map_size_after_five_pools():
    assert [vt.feature_map_size(s) for s in (32, 64, 70, 200, 224)] == [1, 2, 2, 6, 7]
    with pytest.raises(ValueError, match="at least 32x32"):
        vt.feature_map_size(16)


def test_adaptive_pool_matrix_follows_pytorch():
    np.testing.assert_array_equal(vt.adaptive_pool_matrix(1, 7), np.ones((7, 1)))
    np.testing.assert_array_equal(vt.adaptive_pool_matrix(7, 7), np.eye(7))
    two = vt.adaptive_pool_matrix(2, 7)
    np.testing.assert_array_equal(two[:, 0], [1, 1, 1, 0.5, 0, 0, 0])
    np.testing.assert_array_equal(vt.adaptive_pool_matrix(14, 7)[3], [0] * 6 + [0.5, 0.5] + [0] * 6)
    for n in (1, 2, 3, 5, 9, 14):
        np.testing.assert_allclose(vt.adaptive_pool_matrix(n).sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        vt.adaptive_pool_matrix(0)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 9])
def test_bridge_matches_pytorch_arithmetic(size):
    x = np.random.default_rng(size).normal(size=(2, size, size, 4)).astype(np.float32)
    out = vt.AdaptiveAveragePooling2D(7)(tf.constant(x)).numpy()
    assert out.shape == (2, 7, 7, 4)
    np.testing.assert_allclose(out, _reference_adaptive_pool(x, 7), rtol=1e-5, atol=1e-6)


def test_bridge_tiles_a_1x1_map_and_keeps_a_7x7_map():
    one = tf.random.normal((3, 1, 1, 512))
    np.testing.assert_allclose(vt.AdaptiveAveragePooling2D()(one), tf.tile(one, (1, 7, 7, 1)), rtol=1e-6)
    seven = tf.random.normal((1, 7, 7, 8))
    np.testing.assert_allclose(vt.AdaptiveAveragePooling2D()(seven), seven, rtol=1e-6)


def test_bridge_config_round_trip_and_unknown_size_error():
    layer = vt.AdaptiveAveragePooling2D(5, name="b")
    clone = vt.AdaptiveAveragePooling2D.from_config(layer.get_config())
    assert clone.output_size == 5 and clone.name == "b"
    assert tuple(layer.compute_output_shape(tf.TensorShape([None, 2, 2, 3]))) == (None, 5, 5, 3)
    with pytest.raises(ValueError, match="fixed input_shape"):
        vt.AdaptiveAveragePooling2D()(tf.keras.Input((None, None, 512)))


# --- the model -----------------------------------------------------------------------------

def _retrain_classifier_only(model):
    for layer in model.layers:
        layer.trainable = False
    for name in ("fc1", "fc2", "output"):
        model.get_layer(name).trainable = True


def test_source_is_vgg16_with_its_imagenet_classifier(source):
    assert source.input_shape == (None, 224, 224, 3)
    assert source.get_layer("fc1").kernel.shape == (25088, 4096)
    assert source.get_layer("predictions").units == 1000


@pytest.mark.parametrize("size, feature_size", [(32, 1), (224, 7)])
def test_transfer_model_carries_the_source_fc_weights(source, size, feature_size):
    model = vt.build_vgg16_transfer(size, source, weights=None)
    try:
        assert [layer.name for layer in model.layers] == [
            "image", "vgg16", "bridge", "flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "output"]
        assert model.get_layer("vgg16").output_shape == (None, feature_size, feature_size, 512)
        assert model.get_layer("bridge").output_shape == (None, 7, 7, 512)
        assert model.output_shape == (None, 10)
        for name in ("fc1", "fc2"):
            for ours, theirs in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
                np.testing.assert_array_equal(ours, theirs)
            assert vt.max_weight_difference(model.get_layer(name), source.get_layer(name)) == 0.0
        _retrain_classifier_only(model)
        counts = models.trainable_report(model).set_index("layer")["trainable_params"]
        assert counts["vgg16"] == 0
        assert (counts["fc1"], counts["fc2"], counts["output"]) == (FC1_PARAMS, FC2_PARAMS, OUTPUT_PARAMS)
        assert models.parameter_counts(model)["non_trainable"] == BASE_PARAMS
        if size == 32:  # one forward pass works and gives logits for 10 classes
            assert model(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 10)
    finally:
        del model


def test_a_new_fc1_is_not_the_source_until_copied(source):
    base = tf.keras.layers.Dense(4096, name="fc1")
    holder = tf.keras.Sequential([tf.keras.Input((25088,)), base])
    assert vt.max_weight_difference(holder.get_layer("fc1"), source.get_layer("fc1")) > 0
    assert vt.copy_dense_weights(source, holder, ["fc1"]) == ["fc1"]
    assert vt.max_weight_difference(holder.get_layer("fc1"), source.get_layer("fc1")) == 0.0


def test_copy_dense_weights_names_the_mismatch(source):
    wrong = tf.keras.Sequential([tf.keras.Input((512,)), tf.keras.layers.Dense(4096, name="fc1")])
    with pytest.raises(ValueError, match=r"cannot copy 'fc1'.*\(25088, 4096\).*\(512, 4096\)"):
        vt.copy_dense_weights(source, wrong, ["fc1"])


def test_max_weight_difference_needs_equal_shapes():
    a = tf.keras.layers.Dense(2)
    a.build((None, 3))
    b = tf.keras.layers.Dense(3)
    b.build((None, 3))
    assert vt.max_weight_difference(a, a) == 0.0
    with pytest.raises(ValueError, match="differently shaped"):
        vt.max_weight_difference(a, b)


# --- weights -------------------------------------------------------------------------------

def test_load_vgg16_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="224x224 inputs only"):
        vt.load_vgg16(True, None, input_size=32)
    with pytest.raises(ValueError, match="give input_size"):
        vt.load_vgg16(False, None)
    with pytest.raises(vt.WeightsError, match="no VGG16 weights file"):
        vt.load_vgg16(False, str(tmp_path / "missing.h5"), 32)


@pytest.fixture(scope="module")
def notop_weights(tmp_path_factory):
    """A random-init no-top VGG16 saved as an .h5 weights file (the format Keras downloads)."""
    tf.keras.utils.set_random_seed(1)
    model = vt.load_vgg16(False, None, 32)
    path = tmp_path_factory.mktemp("weights") / weights.asset_for("vgg16", False).filename
    model.save_weights(str(path))
    first_kernel = model.get_layer("block1_conv1").get_weights()[0]
    del model
    return path, first_kernel


def test_load_vgg16_from_a_weights_file_and_as_imagenet(monkeypatch, notop_weights):
    path, first_kernel = notop_weights
    model = vt.load_vgg16(False, str(path), 64)
    assert model.output_shape == (None, 2, 2, 512)
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], first_kernel)
    requested = []
    monkeypatch.setattr(weights, "imagenet_weights_file",
                        lambda model, include_top, **options: requested.append((model, include_top)) or path)
    model = vt.load_vgg16(False, "imagenet", 32)
    assert requested == [("vgg16", False)]  # the shared registry of course_utils.models.weights
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], first_kernel)


def test_vgg16_weight_files_are_the_ones_tf_keras_downloads():
    import inspect

    from tf_keras.src.applications import vgg16 as keras_vgg16

    source = inspect.getsource(keras_vgg16)
    assert weights.asset_for("vgg16", True).urls[0] == keras_vgg16.WEIGHTS_PATH
    assert weights.asset_for("vgg16", False).urls[0] == keras_vgg16.WEIGHTS_PATH_NO_TOP
    for top in (True, False):
        assert f'file_hash="{weights.asset_for("vgg16", top).md5}"' in source
    assert not hasattr(vt, "WEIGHTS_FILES")  # one registry only: course_utils.models.weights


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    """An empty KERAS_HOME, and HOME moved so that no real ~/.keras copy is seen."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "kh"


def _register(monkeypatch, path):
    """Make the registered MD5 of the no-top file that of ``path`` (a stand-in for the real file)."""
    asset = weights.asset_for("vgg16", False)
    monkeypatch.setitem(weights.IMAGENET_WEIGHTS, ("vgg16", False),
                        dataclasses.replace(asset, md5=downloads.file_digest(path).md5))


def test_imagenet_uses_a_verified_file_in_keras_home(monkeypatch, keras_home, notop_weights):
    path, first_kernel = notop_weights
    _register(monkeypatch, path)
    (keras_home / "models").mkdir(parents=True)
    shutil.copy(path, keras_home / "models" / path.name)
    model = vt.load_vgg16(False, "imagenet", 32)  # no download: the verified file is there
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], first_kernel)


def test_imagenet_reuses_a_verified_earlier_keras_copy(monkeypatch, keras_home, tmp_path, notop_weights):
    path, first_kernel = notop_weights
    _register(monkeypatch, path)
    legacy = tmp_path / "home" / ".keras" / "models" / path.name
    legacy.parent.mkdir(parents=True)
    shutil.copy(path, legacy)
    model = vt.load_vgg16(False, "imagenet", 32)
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], first_kernel)
    assert not (keras_home / "models" / path.name).exists()  # used in place, not copied


def test_imagenet_offline_says_what_to_do(keras_home):
    with pytest.raises(downloads.OfflineError) as info:
        vt.load_vgg16(False, "imagenet", 32)
    message = str(info.value)
    assert "PROFILE=quick" in message and str(keras_home / "models") in message
    assert weights.asset_for("vgg16", False).filename in message
    assert list((keras_home / "models").iterdir()) == []  # nothing half-downloaded left behind


def test_an_unreadable_weights_file_says_to_delete_it(tmp_path):
    broken = tmp_path / "vgg16_notop.h5"
    broken.write_bytes(b"not an h5 file")
    with pytest.raises(vt.WeightsError, match="delete it and run again"):
        vt.load_vgg16(False, str(broken), 32)


# --- cached features: disk space -----------------------------------------------------------

def test_base_feature_bytes_at_both_sizes():
    assert vt.base_feature_bytes(32, 1) == 512 * 4
    assert vt.base_feature_bytes(224, 1) == 25088 * 4
    assert 5.0e9 < vt.base_feature_bytes(224, 50_000) < 5.1e9  # the lesson's 224 run: about 5 GB


def _fake_entry(root, count, shape):
    folder = root / f"{count:016d}{shape[0]:016d}"
    folder.mkdir(parents=True)
    manifest = {"count": count, "files": {"features.bin": {"shape": shape}}}
    (folder / feature_cache.MANIFEST).write_text(json.dumps(manifest))


def test_check_feature_space_counts_what_is_still_to_write(tmp_path):
    root = tmp_path / "features"
    plan = vt.check_feature_space(224, [100, 10], root, free=10**9)
    assert plan == {"bytes": 110 * 25088 * 4, "to_write": 110 * 25088 * 4, "free": 10**9}
    _fake_entry(root, 100, [7, 7, 512])
    _fake_entry(root, 10, [1, 1, 512])  # the 32x32 features of 10 images: no use at 224
    plan = vt.check_feature_space(224, [100, 10], root, free=10**9)
    assert plan["to_write"] == 10 * 25088 * 4 and plan["bytes"] == 110 * 25088 * 4
    assert vt.check_feature_space(32, [100], root, free=10**9)["to_write"] == 100 * 2048  # other shape
    assert vt.check_feature_space(224, [5], tmp_path / "not" / "yet")["free"] > 0  # nearest existing parent


def test_check_feature_space_refuses_and_says_what_to_do(tmp_path):
    with pytest.raises(vt.FeatureSpaceError) as info:
        vt.check_feature_space(224, [50_000], tmp_path, free=2 * 10**9)
    message = str(info.value)
    assert "5.0 GB" in message and "2.0 GB" in message and str(tmp_path) in message
    assert "CACHE_FEATURES = False" in message and "LARGE_TRAIN_LIMIT" in message


# --- cost and timing -----------------------------------------------------------------------

def test_multiply_adds_counts_convolutions_and_dense_layers_in_nested_models():
    inner = tf.keras.Sequential([tf.keras.Input((8, 8, 2)), tf.keras.layers.Conv2D(4, 3, padding="same")])
    outer = tf.keras.Sequential([tf.keras.Input((8, 8, 2)), inner, tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(5)])
    assert vt.multiply_adds(outer) == {"convolutions": 8 * 8 * 3 * 3 * 2 * 4, "dense": 256 * 5}


def test_multiply_adds_of_vgg16_at_two_sizes():
    small = vt.multiply_adds(vt.load_vgg16(False, None, 32))["convolutions"]
    large = vt.multiply_adds(vt.load_vgg16(False, None, 224))["convolutions"]
    assert large == 49 * small and 15.3e9 < large < 15.4e9  # VGG16's well-known 15.5 GFLOPs less the dense part


def test_time_train_steps_returns_seconds_and_checks_arguments():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 4), np.float32), np.zeros((8, 2), np.float32)
    before = model.get_weights()[0].copy()
    seconds = vt.time_train_steps(model, x, y, steps=2, warmup=1)
    assert 0.0 < seconds < 30.0
    assert not np.array_equal(before, model.get_weights()[0])  # it really trained
    with pytest.raises(ValueError, match="steps >= 1"):
        vt.time_train_steps(model, x, y, steps=0)


def test_plot_pool_matrices_draws_one_panel_per_size():
    import matplotlib.pyplot as plt

    fig = vt.plot_pool_matrices([1, 2, 7])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["1 -> 7", "2 -> 7", "7 -> 7"]
    assert fig.axes[1].images[0].get_array().shape == (7, 2)
    plt.close(fig)


# --- the quick profile's stand-in base ---------------------------------------------------------

def test_stand_in_init_gives_unit_variance_layers_and_a_small_last_one():
    tf.keras.utils.set_random_seed(0)
    model = vt.load_vgg16(False, None, 32)
    images = tf.keras.applications.vgg16.preprocess_input(
        np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)).astype(np.float32))
    scales = vt.stand_in_init(model, images, seed=0)
    convolutions = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert len(scales) == len(convolutions) == 13
    x = images
    stds = {}
    for layer in model.layers[1:]:
        x = layer(x)
        if layer in convolutions:
            stds[layer.name] = float(tf.math.reduce_std(x))
            kernel, bias = layer.get_weights()
            np.testing.assert_allclose(kernel.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)  # zero-mean filters
            assert not bias.any()
    for name, std in stds.items():
        expected = vt.STAND_IN_LAST_STD if name == "block5_conv3" else 1.0
        assert std == pytest.approx(expected, rel=1e-3), name


def test_base_weights_builds_the_stand_in_once_and_loads_at_any_size(tmp_path):
    said = []
    path = vt.base_weights("stand-in", folder=tmp_path, printer=said.append)
    assert path == str(tmp_path / vt.STAND_IN_FILENAME) and standins.weights_file_is_intact(path)
    assert said[0].startswith("built stand-in VGG16 no-top weights")
    stamp = (tmp_path / vt.STAND_IN_FILENAME).stat().st_mtime_ns
    assert vt.base_weights("stand-in", folder=tmp_path, printer=said.append) == path
    assert said[1].startswith("stand-in VGG16 no-top weights:")  # reused, not rebuilt
    assert (tmp_path / vt.STAND_IN_FILENAME).stat().st_mtime_ns == stamp
    small = tf.keras.applications.vgg16.VGG16(include_top=False, weights=path, input_shape=(32, 32, 3))
    large = tf.keras.applications.vgg16.VGG16(include_top=False, weights=path, input_shape=(64, 64, 3))
    np.testing.assert_array_equal(small.get_layer("block3_conv2").get_weights()[0],
                                  large.get_layer("block3_conv2").get_weights()[0])
    (tmp_path / vt.STAND_IN_FILENAME).write_bytes(b"damaged")
    vt.base_weights("stand-in", folder=tmp_path, printer=said.append)
    assert said[2].startswith("built stand-in") and standins.weights_file_is_intact(path)


def test_base_weights_other_sources(monkeypatch):
    assert vt.base_weights(None) is None
    requested = []
    monkeypatch.setattr(weights, "resolve", lambda model, source, include_top: requested.append(
        (model, source, include_top)) or "/somewhere/vgg16_notop.h5")
    assert vt.base_weights("imagenet") == "/somewhere/vgg16_notop.h5"
    assert requested == [("vgg16", "imagenet", False)]  # the shared registry of course_utils.models.weights
    with pytest.raises(vt.WeightsError, match="'imagenet', 'stand-in' or None"):
        vt.base_weights("random")


@pytest.fixture(scope="module")
def stand_in_file(tmp_path_factory):
    return vt.base_weights("stand-in", folder=tmp_path_factory.mktemp("stand_in"), printer=lambda text: None)


def test_stand_in_features_let_a_linear_model_learn_the_generated_classes(stand_in_file):
    """Why the quick profile has a stand-in base: its 32x32 features carry the generated classes."""
    from sklearn.linear_model import LogisticRegression

    from course_utils.data import cifar

    (x_train, y_train), (x_test, y_test) = cifar.generated_load_data(200, 100, seed=0)
    prepare = tf.keras.applications.vgg16.preprocess_input
    base = tf.keras.applications.vgg16.VGG16(include_top=False, weights=stand_in_file, input_shape=(32, 32, 3))
    features = base.predict(prepare(x_train.astype(np.float32)), verbose=0).reshape(200, -1)
    test_features = base.predict(prepare(x_test.astype(np.float32)), verbose=0).reshape(100, -1)
    assert 0.05 < float(features.std()) < 2.0  # a sensible size for fc1, which sees 49 copies of each value
    score = LogisticRegression(max_iter=2000).fit(features, y_train.ravel()).score(test_features, y_test.ravel())
    assert score > 0.5  # chance: 10%


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_multiply_adds_adds_up_every_dense_layer():
    model = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(4), tf.keras.layers.Dense(3)])
    assert vt.multiply_adds(model) == {"convolutions": 0, "dense": 6 * 4 + 4 * 3}


class _CountingModel:
    """Stands in for a compiled model: counts train_on_batch calls."""

    def __init__(self):
        self.calls = 0

    def train_on_batch(self, images, labels):
        self.calls += 1


def test_time_train_steps_defaults_and_the_smallest_settings():
    model = _CountingModel()
    assert vt.time_train_steps(model, None, None) >= 0.0 and model.calls == 1 + 5  # one warm-up, five timed
    model = _CountingModel()
    vt.time_train_steps(model, None, None, steps=1, warmup=0)
    assert model.calls == 1
    with pytest.raises(ValueError, match=r"^need steps >= 1 and warmup >= 0, got steps=3, warmup=-1$"):
        vt.time_train_steps(model, None, None, steps=3, warmup=-1)


def test_plot_pool_matrices_draws_weights_from_0_to_1_in_blue_with_labels():
    import matplotlib.pyplot as plt

    fig = vt.plot_pool_matrices([2, 7], output_size=5)
    assert tuple(fig.get_size_inches()) == pytest.approx((6.4, 3.4))
    assert fig._suptitle.get_text() == "Adaptive average pooling: the weight each output cell gives each input cell"
    for ax, size in zip(fig.axes, (2, 7)):
        image = ax.images[0]
        assert image.get_cmap().name == "Blues" and image.get_clim() == (0, 1)
        np.testing.assert_array_equal(image.get_array(), vt.adaptive_pool_matrix(size, 5))
        assert ax.get_aspect() == "auto" and ax.get_title() == f"{size} -> 5"
        assert ax.get_xlabel() == "input row (or column)" and ax.get_ylabel() == "output row"
        assert list(ax.get_xticks()) == list(range(size)) and list(ax.get_yticks()) == list(range(5))
    single = vt.plot_pool_matrices([3])
    assert len(single.axes) == 1
    plt.close(fig)
    plt.close(single)


def test_max_weight_difference_is_the_largest_gap_and_zero_without_weights():
    a = tf.keras.layers.Dense(2)
    a.build((None, 3))
    b = tf.keras.layers.Dense(2)
    b.build((None, 3))
    kernel = np.zeros((3, 2), np.float32)
    a.set_weights([kernel, np.zeros(2, np.float32)])
    kernel[1, 1] = -0.75
    b.set_weights([kernel, np.array([0.25, 0.0], np.float32)])
    assert vt.max_weight_difference(a, b) == 0.75
    assert vt.max_weight_difference(tf.keras.layers.Flatten(), tf.keras.layers.Flatten()) == 0.0


def test_stand_in_file_is_the_documented_recipe(tmp_path):
    """VGG16 without its top, stand_in_init(seed) on 64 32x32 crops(seed) of the photos, Caffe-preprocessed."""
    from course_utils.data.photos import photo_crops

    path = vt.build_stand_in_weights(tmp_path / "new" / "models" / "w.h5", seed=1)  # parent folders made
    loaded = tf.keras.applications.vgg16.VGG16(include_top=False, weights=str(path), input_shape=(32, 32, 3))
    calibration = tf.keras.applications.vgg16.preprocess_input(photo_crops(64, 32, seed=1) * 255.0)
    tf.keras.utils.set_random_seed(1)
    expected = tf.keras.applications.vgg16.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    vt.stand_in_init(expected, calibration, seed=1)
    assert len(loaded.weights) == len(expected.weights) == 26
    for ours, theirs in zip(loaded.weights, expected.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_base_weights_passes_the_seed_and_says_what_it_built(tmp_path, monkeypatch):
    calls = []

    def build(path, seed=0):  # the real one makes the folder and builds VGG16: a tiny model stands in
        calls.append((path, seed))
        path.parent.mkdir(parents=True, exist_ok=True)
        return standins.save_weights_file(tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)]),
                                           path)

    monkeypatch.setattr(vt, "build_stand_in_weights", build)
    said = []
    path = vt.base_weights("stand-in", seed=3, folder=tmp_path, printer=said.append)
    assert calls == [(tmp_path / vt.STAND_IN_FILENAME, 3)]
    assert said == [f"built stand-in VGG16 no-top weights (random zero-mean filters, LSUV-scaled): {path}"]
    assert vt.base_weights("stand-in", folder=tmp_path, printer=said.append) == path
    assert said[1] == f"stand-in VGG16 no-top weights: {path}" and len(calls) == 1
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert vt.base_weights("stand-in", printer=said.append) == str(tmp_path / "kh" / "models" / vt.STAND_IN_FILENAME)
    assert calls[-1][1] == 0  # seed 0 by default
