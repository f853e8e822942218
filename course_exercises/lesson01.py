"""Lesson 01 exercises: freeze and prove it, a new head that gives probabilities, a cut by name.

Each works on a fresh :func:`digit_cnn` (untrained: the checks look at structure, not accuracy).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, not_probabilities, require_model

LAYER_NAMES = ("add_channel", "conv1", "pool1", "conv2", "pool2", "conv3", "flatten", "digits")


def digit_cnn() -> tf.keras.Model:
    """The lesson's small CNN (28x28 digits -> 10 logits), freshly built with random weights."""
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Reshape((28, 28, 1), input_shape=(28, 28), name="add_channel"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Conv2D(128, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, name="digits"),
        ],
        name="digit_cnn",
    )


def _biases(layers) -> int:
    return sum(int(layer.bias.shape[0]) for layer in layers if getattr(layer, "bias", None) is not None)


@exercise("01", 1, "freeze conv1 and conv2, prove it", hints="""
    - Loop over cnn.layers and set `layer.trainable` from the layer's name, or call cnn.get_layer('conv1') and
      cnn.get_layer('conv2'). Then look at the flags.
    - cnn.trainable_weights lists the weights that still train; each has a .shape, and np.prod(shape) values. Layers
      without weights (pooling, flatten) do not matter here.
""", solution="""
    for layer in cnn.layers:
        layer.trainable = layer.name not in ("conv1", "conv2")
    trainable_params = int(sum(np.prod(w.shape) for w in cnn.trainable_weights))
    print([(layer.name, layer.trainable) for layer in cnn.layers], trainable_params)
""")
def ex1(trainable_params, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    with_weights = [layer for layer in cnn.layers if layer.weights]
    wanted_frozen = {"conv1", "conv2"}
    expect(not all(layer.trainable for layer in with_weights), "every layer still trains, conv1 and conv2 too. Set "
                                                               "the flag on each layer object (`layer.trainable = "
                                                               "False` or `cnn.get_layer('conv1').trainable = "
                                                               "False`); `layers.trainable = False` sets an "
                                                               "attribute on the Keras module and freezes nothing.")
    expect(any(layer.trainable for layer in with_weights), "every layer is frozen (cnn.trainable = False freezes them "
                                                           "all): conv3 and digits must keep training; freeze only "
                                                           "conv1 and conv2.")
    still = [layer.name for layer in with_weights if layer.name in wanted_frozen and layer.trainable]
    expect(not still, f"{' and '.join(still)} still train{'s' if len(still) == 1 else ''}: freeze conv1 and conv2.")
    extra = [layer.name for layer in with_weights if layer.name not in wanted_frozen and not layer.trainable]
    expect(not extra, f"{', '.join(extra)} frozen too: freeze only conv1 and conv2 (if you used a slice, "
                      "cnn.layers[a:b] stops before index b).")
    answer = as_int(trainable_params, "trainable_params")
    trainable_layers = [layer for layer in with_weights if layer.trainable]
    expected, total = count_params(cnn.trainable_weights), count_params(cnn.weights)
    return judge(answer, expected, f"conv1 and conv2 are frozen ({total - expected:,} parameters); {expected:,} "
                 f"parameters train, in {' and '.join(layer.name for layer in trainable_layers)}.", [
        (total, f"{answer:,} is every parameter of the model: frozen weights do not train, "
                "so count only cnn.trainable_weights."),
        (total - expected, f"{answer:,} is the number of frozen parameters; the question asks how many still train."),
        (expected - _biases(trainable_layers),
         f"{answer:,} counts the kernels but not the biases: every Dense and Conv2D unit has one bias too."),
        (len(trainable_layers), f"{answer} is a number of layers; count their parameters (the values in their weights)."),
    ], f"{answer:,} is not the number of trainable parameters: add up the sizes of "
       "cnn.trainable_weights (or use course_utils.models.parameter_counts(cnn)).")


@exercise("01", 2, "a three-class head that gives probabilities", hints="""
    - The lesson's head swap: features = cnn.layers[-2].output, then a new Dense on them, then
      tf.keras.Model(cnn.inputs, outputs).
    - Probabilities: Dense(3, activation='softmax'). Without an activation a Dense layer gives logits.
""", solution="""
    features = cnn.layers[-2].output
    probabilities = tf.keras.layers.Dense(3, activation="softmax", name="three_classes")(features)
    three_way = tf.keras.Model(cnn.inputs, probabilities)
""")
def ex2(three_way, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    model = require_model(three_way, "three_way")
    outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if outputs != 3:
        old = " (the old head's 10: is `digits` still the last layer?)" if outputs == 10 else ""
        raise Wrong(f"your model gives {outputs} outputs per image{old}; three classes need Dense(3).")
    reused = [layer.name for layer in model.layers if any(layer is mine for mine in cnn.layers)]
    expect("conv1" in reused, "your model does not reuse cnn's layers: build it from cnn's input (cnn.inputs) and "
                              "cnn.layers[-2].output, so the new head sits on what cnn has learnt.")
    expect("digits" not in reused, "your new Dense sits on top of the old head `digits` (10 logits): take the "
                                   "features from cnn.layers[-2] (flatten), not cnn.layers[-1].")
    sample = np.random.default_rng(0).random((4, 28, 28)).astype("float32")
    problem = not_probabilities(model(sample, training=False), model.layers[-1])
    expect(not problem, f"your model's outputs: {problem} Give the new Dense layer activation='softmax'.")
    features = cnn.get_layer("flatten").output_shape[-1]
    return (f"3 probabilities per image, summing to 1, computed from cnn's {features:,} flatten features; "
            f"{count_params(model.layers[-1].weights):,} new parameters ({features:,} x 3 + 3).")


@exercise("01", 3, "a feature extractor cut at conv2, by name", hints="""
    - get_layer('conv2') finds a layer by name; its .output is the tensor to end the model at.
    - tf.keras.Model(inputs, outputs) with cnn.inputs as inputs builds a model from cnn's own layers.
""", solution="""
    conv2_model = tf.keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
    print(conv2_model.output_shape)
""")
def ex3(conv2_model, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    model = require_model(conv2_model, "conv2_model")
    conv2 = cnn.get_layer("conv2")
    expected = conv2.output_shape
    if model.output_shape != expected:
        names = {layer.output_shape: layer.name for layer in cnn.layers}
        where = f" ({names[model.output_shape]}'s output)" if model.output_shape in names else ""
        raise Wrong(f"your model's output has shape {model.output_shape}{where}; conv2's output is {expected}: "
                    "end the model at cnn.get_layer('conv2').output.")
    expect(any(layer is conv2 for layer in model.layers), "your conv2 is a new layer with random weights of its own: "
                                                          "build the model from cnn's own tensors (cnn.inputs, "
                                                          "cnn.get_layer('conv2').output) so it reuses what cnn has "
                                                          "learnt.")
    return (f"the model ends at conv2 with {expected[1]}x{expected[2]}x{expected[3]} feature maps and shares "
            "its weights with cnn: train cnn and this model sees the change.")
