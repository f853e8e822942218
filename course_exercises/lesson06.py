"""Lesson 06 exercises: fc1 without the bridge, retrain the classifier the Keras way, a head for any size.

The checks judge what the learner's own model does: the count in 06.1 comes from the learner's VGG16, 06.2
reads what ``fit`` would update (``model.trainable_weights``, which Keras empties under any frozen parent,
whatever the children's own flags say), and 06.3 runs the model at two sizes and follows the gradient from
its output back to VGG16's last convolution.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, layers_within, require_model
from course_utils.models import is_keras

UNITS = 4096
# The number of filters of VGG16's 13 convolutions, block1_conv1 to block5_conv3.
VGG16_FILTERS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
BUILD_BASE = "keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))"


def convolutions(model) -> list:
    """Every Conv2D layer of ``model``, nested models included, in the order Keras lists them."""
    return [layer for layer in layers_within(model) if is_keras(layer, "Conv2D")]


def dense_layers(model) -> list:
    """Every Dense layer of ``model``, nested models included."""
    return [layer for layer in layers_within(model) if is_keras(layer, "Dense")]


def not_vgg16(model, what: str, build: str) -> str | None:
    """Why the convolutions of ``model`` are not VGG16's 13, or None when they are."""
    filters = tuple(int(layer.filters) for layer in convolutions(model))
    if filters == VGG16_FILTERS:
        return None
    if not filters:
        return f"{what} has no convolution at all: there is no VGG16 in it. Start from {build}."
    if filters == VGG16_FILTERS[:len(filters)]:
        return (f"{what} holds only the first {len(filters)} of VGG16's 13 convolutions (it ends at "
                f"{convolutions(model)[-1].name}): the layers after it sit on a cut VGG16. Use the whole base, "
                "up to its output after block5.")
    return (f"{what} has {len(filters)} convolution{'s' if len(filters) > 1 else ''} with "
            f"{', '.join(map(str, filters[:6]))}"
            f"{', ...' if len(filters) > 6 else ''} filters, not VGG16's 13 (64, 64, 128, 128, 256, ..., 512): "
            f"build the base with {build}.")


@exercise("06", 1, "fc1's size at 32x32 without the bridge", hints="""
    - VGG16 has five max-pooling layers; each halves the image. The last block has 512 channels.
    - vgg16_32.output.shape is (None, h, w, 512). fc1 is Dense(4096) on the flattened map: (h x w x 512) x 4,096
      weights + 4,096 biases.
""", solution="""
    vgg16_32 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    h, w, c = vgg16_32.output.shape[1:]   # 1, 1, 512
    fc1_params = (h * w * c) * 4096 + 4096
""")
def ex1(fc1_params, vgg16_32) -> str:
    return _ex1(fc1_params, vgg16_32)


def _ex1(fc1_params, vgg16_32) -> str:
    model = require_model(vgg16_32, "vgg16_32")
    build = "keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))"
    reason = not_vgg16(model, "vgg16_32", build)
    expect(reason is None, reason)
    pools = [layer for layer in layers_within(model) if is_keras(layer, "MaxPooling2D")]
    expect(len(pools) >= 5, f"vgg16_32 has {len(pools)} of VGG16's 5 max-pooling layers (it ends at "
                            f"{layers_within(model)[-1].name}): its output is not the base's. Use the whole base, built "
                            "with include_top=False.")
    expect(not dense_layers(model), f"vgg16_32 has its top (its output has shape {tuple(model.outputs[0].shape)}): "
                                    "build it with include_top=False; fc1 is the layer you are sizing, so it must "
                                    "not be in it yet.")
    expect(len(model.outputs[0].shape) == 4, f"vgg16_32 pools its feature map (its output has shape "
                                         f"{tuple(model.outputs[0].shape)}): leave pooling=None, so that its output is "
                                         "the map that Flatten hands to fc1.")
    size = tuple(model.inputs[0].shape[1:3])
    expect(size == (32, 32), "vgg16_32 takes any image size, so its output shape holds None: build it with "
                             "input_shape=(32, 32, 3)." if None in size else
           f"vgg16_32 takes {size[0]}x{size[1]} images: build it with input_shape=(32, 32, 3), the size asked.")
    answer = as_int(fc1_params, "fc1_params")
    h, w, c = (int(d) for d in model.outputs[0].shape[1:])
    flat = h * w * c
    expected = flat * UNITS + UNITS
    return judge(answer, expected, f"at 32x32 the last feature map is {h}x{w}x{c}, so Flatten gives {flat:,} values "
                 f"and fc1 has {flat:,} x 4,096 + 4,096 = {expected:,} parameters: the ImageNet fc1 (25,088 inputs, "
                 f"{7 * 7 * c * UNITS + UNITS:,} parameters) does not fit it.", [
        (7 * 7 * c * UNITS + UNITS, f"{answer:,} is fc1 on a 7x7x{c} map (25,088 values): that is 224x224 inputs, or "
                                    f"32x32 with the bridge. Without it the 32x32 map is {h}x{w}x{c}."),
        (flat * UNITS, f"{answer:,} counts the weights but not fc1's 4,096 biases."),
        (UNITS * UNITS + UNITS, f"{answer:,} is fc2 (4,096 inputs x 4,096 units + 4,096 biases); fc1's inputs are the "
                                "flattened feature map."),
        (2 * 2 * c * UNITS + UNITS, f"{answer:,} assumes a 2x2 map, after four poolings; VGG16 has five: 32 / 2**5 = 1."),
        (model.count_params(), f"{answer:,} is vgg16_32's own parameters, the convolutions; fc1 comes after them."),
    ], f"{answer:,} is not fc1's size at 32x32 without the bridge: flatten vgg16_32's output shape, then count "
       "weights and biases of Dense(4096).")


def transfer_model() -> keras.Model:
    """The lesson's recipe without the bridge: a VGG16 base (32x32, random weights), Flatten, fc1, fc2, output;
    every layer trainable, as it comes out of Keras."""
    inputs = keras.Input(shape=(32, 32, 3))
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    x = base(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(UNITS, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(UNITS, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name="vgg16_cifar10_exercise")


RETRAINED = ("fc1", "fc2", "output")


@exercise("06", 2, "retrain fc1, fc2 and the output, the Keras way", hints="""
    - Two loops: every layer's trainable = False; then transfer.get_layer(name).trainable = True for fc1, fc2 and
      output. Not transfer.trainable = False: a layer trains only while every model around it is trainable.
    - Keras's flag is layer.trainable (requires_grad is PyTorch's). What fit updates is transfer.trainable_weights:
      add up their sizes.
""", solution="""
    for layer in transfer.layers:
        layer.trainable = False
    for name in ("fc1", "fc2", "output"):
        transfer.get_layer(name).trainable = True
    trainable_params = int(sum(np.prod(w.shape) for w in transfer.trainable_weights))
""")
def ex2(trainable_params, transfer) -> str:
    return _ex2(trainable_params, transfer)


def _ex2(trainable_params, transfer) -> str:
    model = require_model(transfer, "transfer")
    names = {layer.name for layer in model.layers}
    for name in RETRAINED:
        expect(name in names, f"transfer has no layer named {name!r}: run transfer = transfer_model() again and "
                              "change only the trainable flags.")
    training = {id(w) for w in model.trainable_weights}  # what compile + fit would update
    retrained = {name: model.get_layer(name) for name in RETRAINED}
    if not model.trainable:
        raise Wrong("transfer.trainable = False froze the whole model: Keras trains a layer only while every model "
                    "around it is trainable too, so fc1, fc2 and output do not train whatever their own flags say "
                    "(transfer.trainable_weights is empty). Leave transfer trainable and set the flag layer by "
                    "layer: loop over transfer.layers.")
    still = {layer.name: count_params([w for w in layer.weights if id(w) in training])
             for layer in model.layers if layer.name not in RETRAINED}
    still = {name: n for name, n in still.items() if n}
    expect(not still, f"{', '.join(still)} still train{'s' if len(still) == 1 else ''} "
                      f"({sum(still.values()):,} parameters): the convolutional base must be frozen. Freeze every "
                      "layer first, then re-enable fc1, fc2 and output.")
    for name, layer in retrained.items():
        if not all(id(w) in training for w in layer.weights):
            if name == "output":
                raise Wrong("the new output layer is frozen: it starts from random weights, so it must train.")
            pytorch = " You set requires_grad, PyTorch's flag: Keras never reads it." if hasattr(
                layer, "requires_grad") else ""
            raise Wrong(f"{name} is frozen: set transfer.get_layer('{name}').trainable = True.{pytorch}")
    answer = as_int(trainable_params, "trainable_params")
    expected = count_params(model.trainable_weights)
    sizes = {name: layer.count_params() for name, layer in retrained.items()}
    parts = ", ".join(f"{name} {n:,}" for name, n in sizes.items())
    biases = sum(int(layer.bias.shape[0]) for layer in retrained.values())
    base = model.count_params() - expected
    return judge(answer, expected, f"{expected:,} parameters train ({parts}); the base's {base:,} stay frozen. The "
                 f"lecture's requires_grad line left only the output's {sizes['output']:,} training.", [
        (model.count_params(), f"{answer:,} is every parameter, the frozen base's too: count "
                               "transfer.trainable_weights only."),
        (sizes["output"], f"{answer:,} is only the output layer: what trained in the lecture's code. fc1 and fc2 "
                          "train too."),
        (expected - biases, f"{answer:,} leaves out the {biases:,} biases of fc1, fc2 and output."),
        (sizes["fc1"] + sizes["fc2"], f"{answer:,} is fc1 and fc2 alone: the new output layer trains too."),
        (base, f"{answer:,} is what stays frozen (the convolutional base): the question asks what trains."),
        (len(model.trainable_weights), f"{answer:,} is the number of weight tensors (a kernel and a bias per layer) "
                                       "in transfer.trainable_weights: add up their sizes instead."),
    ], f"{answer:,} is not the number of trainable parameters: add up the sizes of transfer.trainable_weights.")


@exercise("06", 3, "a head for any input size", hints="""
    - keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3)) accepts any size from
      32x32 up.
    - GlobalAveragePooling2D turns (n, n, 512) into 512 values whatever n is; Flatten gives n x n x 512.
""", solution="""
    any_base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(any_base.output)
    hidden = keras.layers.Dense(256, activation="relu")(pooled)
    any_size = keras.Model(any_base.input, keras.layers.Dense(10)(hidden))
    print(any_size(np.zeros((1, 32, 32, 3))).shape, any_size(np.zeros((1, 64, 64, 3))).shape)
""")
def ex3(any_size) -> str:
    return _ex3(any_size)


def _ex3(any_size) -> str:
    model = require_model(any_size, "any_size")
    reason = not_vgg16(model, "any_size", BUILD_BASE)
    expect(reason is None, reason)
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
        expect(outputs[32] != outputs[64], f"the output has shape {outputs[32]} at both sizes; CIFAR-10 needs 10 "
                                           "values per image, one per class: end with Dense(10).")
        raise Wrong(f"outputs have shapes {outputs[32]} at 32x32 and {outputs[64]} at 64x64; both should be (1, 10).")
    last = convolutions(model)[-1]
    images = tf.random.stateless_uniform((1, 32, 32, 3), seed=(0, 6), minval=-100.0, maxval=100.0)
    with tf.GradientTape() as tape:
        out = model(images, training=False)
    expect(tape.gradient(out, last.kernel) is not None,
           f"the output does not depend on VGG16's last convolution ({last.name}): the head sits on something else. "
           "Put it on the base's output.")
    return ("the same weights give 10 logits at 32x32 and at 64x64: global pooling turns any n x n x 512 map into "
            "512 values, so the layers after it never depend on the input size.")
