"""VGG16 from ImageNet to a new 10-class task, with PyTorch's 7x7 bridge rebuilt in Keras.

torchvision's VGG16 puts ``AdaptiveAvgPool2d((7, 7))`` between the
convolutions and the classifier, so its pretrained ``fc1`` (25088 -> 4096)
accepts any input size: a 1x1 or 2x2 feature map is spread to 7x7 first.
Keras's VGG16 flattens ``block5_pool`` directly, so with its top it only
takes 224x224 inputs. This module rebuilds the bridge
(:class:`AdaptiveAveragePooling2D`, the same arithmetic as PyTorch's); the
lesson notebook builds ``VGG16 convolutions -> bridge -> Flatten -> fc1 ->
fc2 -> Dense(10)`` itself. The rest is measurement: multiply-adds per image
and the time of a training step.
"""
from __future__ import annotations

import timeit
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from course_utils.models import is_keras

__all__ = ["AdaptiveAveragePooling2D", "feature_map_size", "multiply_adds", "plot_pool_matrices", "time_train_steps"]

_layers = keras.layers

_BRIDGE_SIZE = 7


# --- the bridge ---------------------------------------------------------------------------

def feature_map_size(input_size: int) -> int:
    """Height (= width) of VGG16's last feature map: five 2x2 max-pools halve the size five times."""
    if input_size < 32:
        raise ValueError(f"VGG16 needs inputs of at least 32x32 pixels, got {input_size}")
    return input_size // 2**5


def _adaptive_pool_matrix(input_size: int, output_size: int = _BRIDGE_SIZE) -> np.ndarray:
    """``[output_size, input_size]`` averaging weights of PyTorch's adaptive average pooling.

    Output cell ``i`` averages input cells ``floor(i * n / m)`` up to
    ``ceil((i + 1) * n / m)`` (exclusive), for ``n`` inputs and ``m`` outputs.
    From 1 input every output copies it; from 7 to 7 it is the identity.
    """
    if input_size < 1 or output_size < 1:
        raise ValueError(f"sizes must be positive, got {input_size} -> {output_size}")
    matrix = np.zeros((output_size, input_size), dtype=np.float32)
    for i in range(output_size):
        start = (i * input_size) // output_size
        end = -((-(i + 1) * input_size) // output_size)  # ceil without floats
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class AdaptiveAveragePooling2D(_layers.Layer):
    """PyTorch's ``AdaptiveAvgPool2d`` for channels-last Keras tensors: any HxW to ``output_size``.

    It has no weights. The input's height and width must be known when the
    model is built (they are: the VGG16 base gets a fixed ``input_shape``).
    """

    def __init__(self, output_size: int = _BRIDGE_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.output_size = int(output_size)

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                "AdaptiveAveragePooling2D needs a known height and width: give the VGG16 "
                "base a fixed input_shape, e.g. (32, 32, 3)"
            )
        self.row_weights = tf.constant(_adaptive_pool_matrix(height, self.output_size))
        self.col_weights = tf.constant(_adaptive_pool_matrix(width, self.output_size))
        super().build(input_shape)

    def call(self, inputs):  # pragma: no mutate block (Keras reads the signature; a mutmut wrapper hides it)
        rows = tf.cast(self.row_weights, inputs.dtype)
        cols = tf.cast(self.col_weights, inputs.dtype)
        return tf.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size, self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


# --- cost ---------------------------------------------------------------------------------

def multiply_adds(model) -> dict[str, int]:
    """Multiply-adds per image, ``{"convolutions": ..., "dense": ...}`` (nested models included).

    A Conv2D costs ``out_h * out_w * k_h * k_w * c_in * c_out``, a Dense
    ``inputs * units``; pooling, the bridge and activations are left out.
    """
    totals = {"convolutions": 0, "dense": 0}

    def visit(layer):
        if is_keras(layer, "Model"):
            for inner in layer.layers:
                visit(inner)
        elif is_keras(layer, "Conv2D"):
            _, out_h, out_w, c_out = layer.output.shape  # Keras 3 layers have no output_shape
            k_h, k_w, c_in, _ = layer.kernel.shape
            totals["convolutions"] += int(out_h * out_w * k_h * k_w * c_in * c_out)
        elif is_keras(layer, "Dense"):
            totals["dense"] += int(layer.kernel.shape[0] * layer.kernel.shape[1])

    visit(model)
    return totals


def time_train_steps(model, images, labels, steps: int = 5, warmup: int = 1) -> float:
    """Seconds of the fastest of ``steps`` ``train_on_batch`` calls on the same batch (a compiled model).

    ``warmup`` untimed steps absorb graph tracing. The fastest step is the estimate, as ``timeit``
    advises: other programs on the machine can only slow a step down.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    for _ in range(warmup):
        model.train_on_batch(images, labels)
    return min(timeit.repeat(lambda: model.train_on_batch(images, labels), number=1, repeat=steps))


def plot_pool_matrices(input_sizes: Sequence[int], output_size: int = _BRIDGE_SIZE):
    """One heat map per input size: which input cells each of the 7 output cells averages."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(input_sizes), figsize=(3.2 * len(input_sizes), 3.4), squeeze=False)
    for ax, size in zip(axes[0], input_sizes):
        matrix = _adaptive_pool_matrix(size, output_size)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_title(f"{size} -> {output_size}")
        ax.set_xlabel("input row (or column)")
        ax.set_ylabel("output row")
        ax.set_xticks(range(size))
        ax.set_yticks(range(output_size))
    fig.suptitle("Adaptive average pooling: the weight each output cell gives each input cell")
    fig.tight_layout()
    return fig
