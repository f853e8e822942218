"""Lesson 06 exercises: fc1 without the bridge, retrain the classifier the Keras way, a head for any size."""
from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, require_model

UNITS = 4096


@functools.lru_cache(maxsize=1)
def _vgg16_32_fc1() -> tuple[tuple[int, ...], int]:
    """A VGG16 built with its top for 32x32 inputs (random weights): its last feature map and fc1's size."""
    model = tf.keras.applications.VGG16(weights=None, include_top=True, input_shape=(32, 32, 3), classes=10)
    return tuple(int(d) for d in model.get_layer("block5_pool").output_shape[1:]), model.get_layer("fc1").count_params()


@exercise("06", 1, "fc1's size at 32x32 without the bridge", hints="""
    - VGG16 has five max-pooling layers; each halves the image. The last block has 512 channels.
    - fc1 is Dense(4096) on the flattened map: (h x w x 512) x 4,096 weights + 4,096 biases.
""", solution="""
    vgg16_32 = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    h, w, c = vgg16_32.output_shape[1:]   # 1, 1, 512
    fc1_params = (h * w * c) * 4096 + 4096
""")
def ex1(fc1_params) -> str:
    answer = as_int(fc1_params, "fc1_params")
    (h, w, c), expected = _vgg16_32_fc1()
    flat = h * w * c
    return judge(answer, expected, f"at 32x32 the last feature map is {h}x{w}x{c}, so Flatten gives {flat:,} values "
                 f"and fc1 has {flat:,} x 4,096 + 4,096 = {expected:,} parameters: the ImageNet fc1 (25,088 inputs, "
                 "102,764,544 parameters) does not fit it.", [
        (7 * 7 * c * UNITS + UNITS, f"{answer:,} is fc1 on a 7x7x{c} map (25,088 values): that is 224x224 inputs, or "
                                    f"32x32 with the bridge. Without it the 32x32 map is {h}x{w}x{c}."),
        (flat * UNITS, f"{answer:,} counts the weights but not fc1's 4,096 biases."),
        (UNITS * UNITS + UNITS, f"{answer:,} is fc2 (4,096 inputs x 4,096 units + 4,096 biases); fc1's inputs are the "
                                "flattened feature map."),
        (2 * 2 * c * UNITS + UNITS, f"{answer:,} assumes a 2x2 map, after four poolings; VGG16 has five: 32 / 2**5 = 1."),
    ], f"{answer:,} is not fc1's size at 32x32 without the bridge: find the last feature map's shape "
       "(block5_pool), flatten it, then count weights and biases of Dense(4096).")


def transfer_model() -> tf.keras.Model:
    """The lesson's recipe without the bridge: a VGG16 base (32x32, random weights), Flatten, fc1, fc2, output;
    every layer trainable, as it comes out of Keras."""
    inputs = tf.keras.Input(shape=(32, 32, 3))
    base = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    x = base(inputs)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = tf.keras.layers.Dense(UNITS, activation="relu", name="fc1")(x)
    x = tf.keras.layers.Dense(UNITS, activation="relu", name="fc2")(x)
    outputs = tf.keras.layers.Dense(10, name="output")(x)
    return tf.keras.Model(inputs, outputs, name="vgg16_cifar10_exercise")


@exercise("06", 2, "retrain fc1, fc2 and the output, the Keras way", hints="""
    - Two loops: every layer's trainable = False; then transfer.get_layer(name).trainable = True for fc1, fc2 and
      output.
    - Keras's flag is layer.trainable (requires_grad is PyTorch's). Count with transfer.trainable_weights.
""", solution="""
    for layer in transfer.layers:
        layer.trainable = False
    for name in ("fc1", "fc2", "output"):
        transfer.get_layer(name).trainable = True
    trainable_params = int(sum(np.prod(w.shape) for w in transfer.trainable_weights))
""")
def ex2(trainable_params, transfer) -> str:
    model = require_model(transfer, "transfer")
    base = model.get_layer("vgg16")
    base_trainable = count_params(base.trainable_weights)
    expect(not base_trainable, f"the convolutional base still trains ({base_trainable:,} parameters): freeze every "
                               "layer first, then re-enable fc1, fc2 and output.")
    for name in ("fc1", "fc2"):
        layer = model.get_layer(name)
        if not layer.trainable:
            pytorch = " You set requires_grad, PyTorch's flag: Keras never reads it." if hasattr(
                layer, "requires_grad") else ""
            raise Wrong(f"{name} is frozen: set transfer.get_layer('{name}').trainable = True.{pytorch}")
    expect(model.get_layer("output").trainable, "the new output layer is frozen: it is new, so it must train.")
    answer = as_int(trainable_params, "trainable_params")
    expected = count_params(model.trainable_weights)
    output_only = model.get_layer("output").count_params()
    parts = ", ".join(f"{name} {model.get_layer(name).count_params():,}" for name in ("fc1", "fc2", "output"))
    biases = sum(int(model.get_layer(name).bias.shape[0]) for name in ("fc1", "fc2", "output"))
    return judge(answer, expected, f"{expected:,} parameters train ({parts}); the base's {base.count_params():,} stay "
                 f"frozen. The lecture's requires_grad line left only the output's {output_only:,} training.", [
        (model.count_params(), f"{answer:,} is every parameter, the frozen base's too: count "
                               "transfer.trainable_weights only."),
        (output_only, f"{answer:,} is only the output layer: what trained in the lecture's code. fc1 and fc2 train too."),
        (expected - biases, f"{answer:,} leaves out the {biases:,} biases of fc1, fc2 and output."),
    ], f"{answer:,} is not the number of trainable parameters: add up the sizes of transfer.trainable_weights.")


@exercise("06", 3, "a head for any input size", hints="""
    - tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3)) accepts any size from
      32x32 up.
    - GlobalAveragePooling2D turns (n, n, 512) into 512 values whatever n is; Flatten gives n x n x 512.
""", solution="""
    any_base = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    pooled = tf.keras.layers.GlobalAveragePooling2D()(any_base.output)
    hidden = tf.keras.layers.Dense(256, activation="relu")(pooled)
    any_size = tf.keras.Model(any_base.input, tf.keras.layers.Dense(10)(hidden))
    print(any_size(np.zeros((1, 32, 32, 3))).shape, any_size(np.zeros((1, 64, 64, 3))).shape)
""")
def ex3(any_size) -> str:
    model = require_model(any_size, "any_size")
    outputs = {}
    for size in (32, 64):
        try:
            out = model(np.zeros((1, size, size, 3), "float32"), training=False)
        except Exception as error:  # Keras says which shape it wanted
            first = str(error).strip().splitlines()[0][:160]
            raise Wrong(f"your model fails on {size}x{size} inputs ({type(error).__name__}: {first}). Build the base "
                        "with input_shape=(None, None, 3) and pool the feature map instead of Flatten.") from None
        outputs[size] = tuple(out.shape)
    if outputs[32] != outputs[64] or outputs[32] != (1, 10):
        expect(len(outputs[64]) != 4, f"at 64x64 the output has shape {outputs[64]}: the Dense layers ran on every "
                                      "cell of the feature map. Pool it to one vector first (GlobalAveragePooling2D).")
        raise Wrong(f"outputs have shapes {outputs[32]} at 32x32 and {outputs[64]} at 64x64; both should be (1, 10).")
    return ("the same weights give 10 logits at 32x32 and at 64x64: global pooling turns any n x n x 512 map into "
            "512 values, so the layers after it never depend on the input size.")
