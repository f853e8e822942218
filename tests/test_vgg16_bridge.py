"""course_utils.models.vgg16_bridge: the 7x7 bridge, costs and timing."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.models import vgg16_bridge as vt


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
    np.testing.assert_array_equal(vt._adaptive_pool_matrix(1, 7), np.ones((7, 1)))
    np.testing.assert_array_equal(vt._adaptive_pool_matrix(7, 7), np.eye(7))
    two = vt._adaptive_pool_matrix(2, 7)
    np.testing.assert_array_equal(two[:, 0], [1, 1, 1, 0.5, 0, 0, 0])
    np.testing.assert_array_equal(vt._adaptive_pool_matrix(14, 7)[3], [0] * 6 + [0.5, 0.5] + [0] * 6)
    for n in (1, 2, 3, 5, 9, 14):
        np.testing.assert_allclose(vt._adaptive_pool_matrix(n).sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        vt._adaptive_pool_matrix(0)


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
    assert tuple(layer.compute_output_shape((None, 2, 2, 3))) == (None, 5, 5, 3)
    with pytest.raises(ValueError, match="fixed input_shape"):
        vt.AdaptiveAveragePooling2D()(keras.Input((None, None, 512)))


@pytest.mark.parametrize("size, feature_size", [(32, 1), (224, 7)])
def test_the_bridge_gives_a_keras_vgg16_base_the_input_the_pretrained_fc1_takes(size, feature_size):
    base = keras.applications.vgg16.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
    bridged = vt.AdaptiveAveragePooling2D(name="bridge")(base.output)
    assert tuple(base.output.shape) == (None, feature_size, feature_size, 512)
    assert tuple(bridged.shape) == (None, 7, 7, 512) and 7 * 7 * 512 == 25088  # fc1's kernel: (25088, 4096)


# --- cost and timing -----------------------------------------------------------------------

def test_multiply_adds_counts_convolutions_and_dense_layers_in_nested_models():
    inner = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3, padding="same")])
    outer = keras.Sequential([keras.Input((8, 8, 2)), inner, keras.layers.Flatten(),
                              keras.layers.Dense(5)])
    assert vt.multiply_adds(outer) == {"convolutions": 8 * 8 * 3 * 3 * 2 * 4, "dense": 256 * 5}


def test_multiply_adds_takes_a_tf_keras_model_too():
    """One code path for Keras 3 and the tf_keras (Keras 2) models of the TF Hub lessons."""
    import tf_keras

    inner = tf_keras.Sequential([tf_keras.Input((8, 8, 2)), tf_keras.layers.Conv2D(4, 3, strides=2, padding="same")])
    outer = tf_keras.Sequential([tf_keras.Input((8, 8, 2)), inner, tf_keras.layers.Flatten(), tf_keras.layers.Dense(5)])
    assert vt.multiply_adds(outer) == {"convolutions": 4 * 4 * 3 * 3 * 2 * 4, "dense": 64 * 5}


def test_multiply_adds_of_vgg16_at_two_sizes():
    vgg16 = keras.applications.vgg16.VGG16
    small = vt.multiply_adds(vgg16(include_top=False, weights=None, input_shape=(32, 32, 3)))["convolutions"]
    large = vt.multiply_adds(vgg16(include_top=False, weights=None, input_shape=(224, 224, 3)))["convolutions"]
    assert large == 49 * small and 15.3e9 < large < 15.4e9  # VGG16's well-known 15.5 GFLOPs less the dense part


def test_time_train_steps_returns_seconds_and_checks_arguments():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
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


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_multiply_adds_adds_up_every_dense_layer():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(3)])
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
        np.testing.assert_array_equal(image.get_array(), vt._adaptive_pool_matrix(size, 5))
        assert ax.get_aspect() == "auto" and ax.get_title() == f"{size} -> 5"
        assert ax.get_xlabel() == "input row (or column)" and ax.get_ylabel() == "output row"
        assert list(ax.get_xticks()) == list(range(size)) and list(ax.get_yticks()) == list(range(5))
    single = vt.plot_pool_matrices([3])
    assert len(single.axes) == 1
    plt.close(fig)
    plt.close(single)
