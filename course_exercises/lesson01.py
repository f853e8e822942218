"""Lesson 01 exercises: freeze and prove it, a new head that gives probabilities, a cut by name.

Each works on a fresh :func:`digit_cnn` (untrained: the checks look at what the model does, not at its
accuracy). What trains is what ``fit`` updates, ``model.trainable_weights`` (empty when the model itself is frozen;
else, in Keras 3, every weight whose own flag is on, nested parts included), never a layer's own flag; a head is
checked end to end (what it outputs, for which input, computed from which features); a count is a function the check
calls on the learner's model and on models frozen other ways, so a number typed from somewhere else cannot pass.
"""
from __future__ import annotations

import keras
import numpy as np

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, layers_within, not_probabilities, require_model
from course_utils.models import is_keras, keras_of

LAYER_NAMES = ("add_channel", "conv1", "pool1", "conv2", "pool2", "conv3", "flatten", "digits")


def digit_cnn() -> keras.Model:
    """The lesson's small CNN (28x28 digits -> 10 logits), freshly built with random weights (Keras 3)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Reshape((28, 28, 1), name="add_channel"),
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


def _sample(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((n, 28, 28)).astype("float32")


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _biases(layers) -> int:
    return sum(int(layer.bias.shape[0]) for layer in layers if getattr(layer, "bias", None) is not None)


def _training(model, layers) -> list:
    """The layers among ``layers`` that ``fit`` on ``model`` would update (some weight in trainable_weights)."""
    updated = {id(w) for w in model.trainable_weights}
    return [layer for layer in layers if any(id(w) in updated for w in layer.weights)]


def _and(names) -> str:
    names = list(names)
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _probes():
    """Models frozen other ways, with what fit trains in each: the learner's count must agree on every one."""
    fresh = digit_cnn()
    container = digit_cnn()
    container.trainable = False  # the model itself frozen ...
    container.get_layer("digits").trainable = True  # ... then one layer switched back on: still frozen
    head_only = digit_cnn()
    for layer in head_only.layers:
        layer.trainable = layer.name == "digits"
    return [("a fresh digit_cnn() (nothing frozen)", fresh),
            ("a digit_cnn() frozen with model.trainable = False and then get_layer('digits').trainable = True",
             container),
            ("a digit_cnn() with only `digits` trainable, layer by layer", head_only)]


@exercise("01", 1, "freeze conv1 and conv2, prove it", hints="""
    - Loop over cnn.layers and set `layer.trainable` from the layer's name, or call cnn.get_layer('conv1') and
      cnn.get_layer('conv2'). Do not set cnn.trainable = False: a frozen model trains no layer inside it.
    - count_trainable(model) adds up the sizes of model.trainable_weights (each weight has a .shape, np.prod(shape)
      values): that list is what fit updates. Reading layer.trainable flags is not the same (see hint 3).
    - A layer's own flag does not say whether it trains: after model.trainable = False, a layer switched back on
      still does not train, and model.trainable_weights is empty. The check tries your function on such a model.
""", solution="""
    for layer in cnn.layers:
        layer.trainable = layer.name not in ("conv1", "conv2")


    def count_trainable(model):  # noqa: F811 - replaces the None above
        return int(sum(np.prod(w.shape) for w in model.trainable_weights))


    print([(layer.name, layer.trainable) for layer in cnn.layers], count_trainable(cnn))
""")
def ex1(count_trainable, cnn) -> str:
    return _ex1(count_trainable, cnn)


def _ex1(count_trainable, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    with_weights = [layer for layer in cnn.layers if layer.weights]
    training = _training(cnn, with_weights)
    names = [layer.name for layer in training]
    flagged = [layer.name for layer in with_weights if layer.trainable]
    if not cnn.trainable and flagged:
        raise Wrong(f"cnn.trainable = False froze the model itself, so nothing in it trains (cnn.trainable_weights "
                    f"is empty), although {_and(flagged)} say{'s' if len(flagged) == 1 else ''} trainable=True: "
                    "Keras trains no layer under a frozen parent. Leave cnn.trainable as it is and set the flag on "
                    "conv1 and conv2 only (cnn = digit_cnn() for a fresh copy).")
    expect(training, "every layer is frozen (cnn.trainable = False freezes them all): conv3 and digits must keep "
                     "training; freeze only conv1 and conv2.")
    expect(len(training) < len(with_weights), "every layer still trains, conv1 and conv2 too. Set the flag on each "
                                              "layer object (`layer.trainable = False` or `cnn.get_layer('conv1')."
                                              "trainable = False`); `layers.trainable = False` sets an attribute on "
                                              "the Keras module and freezes nothing.")
    still = [name for name in names if name in ("conv1", "conv2")]
    expect(not still, f"{_and(still)} still train{'s' if len(still) == 1 else ''}: freeze conv1 and conv2.")
    extra = [layer.name for layer in with_weights if layer.name not in ("conv1", "conv2") and layer not in training]
    expect(not extra, f"{_and(extra)} frozen too: freeze only conv1 and conv2 (if you used a slice, "
                      "cnn.layers[a:b] stops before index b).")
    expect(callable(count_trainable), "count_trainable should be a function of a model (def count_trainable(model): "
                                      f"...), not {type(count_trainable).__name__}: the check calls it on your cnn "
                                      "and on models frozen other ways.")
    expected, total = count_params(cnn.trainable_weights), count_params(cnn.weights)
    answer = as_int(count_trainable(cnn), "count_trainable(cnn)")
    judge(answer, expected, "", [
        (total, f"count_trainable(cnn) gives {answer:,}, every parameter of the model: frozen weights do not "
                "train, so count only model.trainable_weights."),
        (total - expected, f"count_trainable(cnn) gives {answer:,}, the number of frozen parameters; the question "
                           "asks how many still train."),
        (expected - _biases(training), f"count_trainable(cnn) gives {answer:,}: the kernels but not the biases; "
                                       "every Dense and Conv2D unit has one bias too."),
        (len(training), f"count_trainable(cnn) gives {answer}, a number of layers; count their parameters (the "
                        "values in their weights)."),
    ], f"count_trainable(cnn) gives {answer:,}, not the number of parameters fit would train in cnn: add up the "
       "sizes of model.trainable_weights.")
    for what, probe in _probes():
        right = count_params(probe.trainable_weights)
        got = as_int(count_trainable(probe), f"count_trainable({what})")
        flags = count_params([w for layer in probe.layers if layer.trainable for w in layer.weights])
        expect(got == right or got != flags, f"count_trainable gives {got:,} for {what}, the parameters of the "
               f"layers whose own flag says trainable; fit trains {right:,} there: under a frozen parent no layer "
               "trains, whatever its flag. Count model.trainable_weights.")
        expect(got == right, f"count_trainable gives {got:,} for {what}; fit trains {right:,} there "
                             "(model.trainable_weights): your function must read the model it is given.")
    return (f"conv1 and conv2 are frozen ({total - expected:,} parameters); {expected:,} parameters train, in "
            f"{_and(names)}, and count_trainable agrees with fit on your cnn and on three models frozen other ways.")


@exercise("01", 2, "a three-class head that gives probabilities", hints="""
    - The lesson's head swap: features = cnn.layers[-2].output, then a new Dense on them, then
      keras.Model(cnn.inputs, outputs).
    - Probabilities: Dense(3, activation='softmax'). Without an activation a Dense layer gives logits.
""", solution="""
    features = cnn.layers[-2].output
    probabilities = keras.layers.Dense(3, activation="softmax", name="three_classes")(features)
    three_way = keras.Model(cnn.inputs, probabilities)
""")
def ex2(three_way, cnn) -> str:
    return _ex2(three_way, cnn)


def _ex2(three_way, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    model = require_model(three_way, "three_way")
    sample = _sample()
    out = model(sample, training=False)
    expect(not isinstance(out, (list, tuple, dict)), "three_way has several outputs; build it with one: "
                                                      "keras.Model(cnn.inputs, probabilities).")
    out = np.asarray(out)
    flatten = cnn.get_layer("flatten")
    if out.ndim != 2:
        raise Wrong(f"for {len(sample)} images your model gives an output of shape {out.shape}, not one row per "
                    "image: a Dense layer on a feature map (conv3's 3x3x128) scores every position on its own. Put "
                    "the head on the Flatten's output, cnn.layers[-2].output.")
    if out.shape[1] != 3:
        old = " (the old head's 10: is `digits` still the last layer?)" if out.shape[1] == 10 else ""
        raise Wrong(f"your model gives {out.shape[1]} outputs per image{old}; three classes need Dense(3).")
    mine = layers_within(model, models=True)
    expect(any(layer is cnn.get_layer("conv1") for layer in mine),
           "your model does not reuse cnn's layers: build it from cnn's input (cnn.inputs) and "
           "cnn.layers[-2].output, so the new head sits on what cnn has learnt.")
    cnn_layers = layers_within(cnn, models=True)
    new = [layer for layer in mine if layer.weights and not is_keras(layer, "Model")  # not a container
           and not any(layer is old for old in cnn_layers)]
    expect(new, "your model has no new layer with weights: the head is a new Dense(3) on the features.")
    expect(len(new) == 1, f"your head has {len(new)} new layers with weights ({_and(layer.name for layer in new)}): "
                          "the task asks for one new output layer on the features.")
    (dense,) = new
    kernel = getattr(dense, "kernel", None)
    expect(is_keras(dense, "Dense") and kernel is not None,
           f"your new layer {dense.name} is a {type(dense).__name__}; the head is a Dense(3).")
    width = int(flatten.output.shape[-1])
    fan_in = int(kernel.shape[0])
    expect(fan_in != 10, "your new Dense sits on top of the old head `digits` (10 logits): take the features from "
                         "cnn.layers[-2] (flatten), not cnn.layers[-1].")
    expect(fan_in == width, f"your Dense(3) reads {fan_in:,} numbers per image; cnn's flatten gives {width:,}: take "
                            "the features from cnn.layers[-2].output.")
    features = np.asarray(keras_of(cnn).Model(cnn.inputs, flatten.output)(sample, training=False))
    logits = features @ np.asarray(kernel) + (np.asarray(dense.bias) if getattr(dense, "bias", None) is not None else 0)
    problem = not_probabilities(out, dense)
    expect(not problem, f"your model's outputs: {problem} Give the new Dense layer activation='softmax'.")
    expect(np.allclose(out, _softmax(logits), atol=1e-5),
           "your outputs are probabilities, but not the softmax of your Dense(3) applied to cnn's flatten features: "
           "something between the features and the softmax changes them; use Dense(3, activation='softmax') right "
           "on cnn.layers[-2].output.")
    updated = {id(w) for w in model.trainable_weights}
    if not all(id(w) in updated for w in dense.weights):
        keep = "fit would never change its random weights. Freeze cnn's layers if you like, never the new head."
        expect(model.trainable, f"three_way is frozen (trainable = False), so your new Dense(3) is frozen with it: "
                                f"{keep}")
        expect(dense.trainable, f"your new Dense(3) ({dense.name}) has trainable=False: {keep}")
        raise Wrong(f"your new Dense(3) ({dense.name}) has weights that fit would not update (they are not in "
                    f"three_way.trainable_weights: frozen one by one, or, in tf_keras, under a frozen part): {keep}")
    params = count_params(dense.weights)
    biases = " + 3 biases" if getattr(dense, "bias", None) is not None else ", no biases"
    return (f"3 probabilities per image, summing to 1: the softmax of your Dense(3) on cnn's {width:,} flatten "
            f"features; {params:,} new parameters ({width:,} x 3 weights{biases}).")


@exercise("01", 3, "a feature extractor cut at conv2, by name", hints="""
    - get_layer('conv2') finds a layer by name; its .output is the tensor to end the model at.
    - keras.Model(inputs, outputs) with cnn.inputs as inputs builds a model from cnn's own layers.
""", solution="""
    conv2_model = keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
    print(conv2_model.output.shape)
""")
def ex3(conv2_model, cnn) -> str:
    return _ex3(conv2_model, cnn)


def _ex3(conv2_model, cnn) -> str:
    cnn = require_model(cnn, "cnn")
    model = require_model(conv2_model, "conv2_model")
    conv2 = cnn.get_layer("conv2")
    expected_shape = tuple(conv2.output.shape)
    if not model.built:  # a Sequential with no keras.Input first: build it for cnn's images, as its first call would
        try:
            model.build(tuple(cnn.inputs[0].shape))
        except Exception as error:  # noqa: BLE001 - whatever the call raises, the learner's fix is the same
            raise Wrong(f"conv2_model has no input yet and cannot take cnn's 28x28 digit images "
                        f"({type(error).__name__}): start it at cnn.inputs.") from None
    inputs = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else None
    expect(inputs == tuple(cnn.inputs[0].shape), f"your model takes inputs of shape {inputs}; it should take cnn's "
                                                 f"{tuple(cnn.inputs[0].shape)} digit images: start it at cnn.inputs.")
    shape = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if shape != expected_shape:
        names = {tuple(layer.output.shape): layer.name for layer in cnn.layers}
        where = f" ({names[shape]}'s output)" if shape in names else ""
        raise Wrong(f"your model's output has shape {shape}{where}; conv2's output is {expected_shape}: "
                    "end the model at cnn.get_layer('conv2').output.")
    mine = layers_within(model, models=True)
    expect(any(layer is conv2 for layer in mine), "your conv2 is a new layer with random weights of its own: "
                                                  "build the model from cnn's own tensors (cnn.inputs, "
                                                  "cnn.get_layer('conv2').output) so it reuses what cnn has learnt.")
    sample = _sample()
    reference = np.asarray(keras_of(cnn).Model(cnn.inputs, conv2.output)(sample, training=False))
    expect(np.allclose(np.asarray(model(sample, training=False)), reference, atol=1e-5),
           "your model ends in a layer of conv2's shape, but on the same images it does not give conv2's output: "
           "build it as keras.Model(cnn.inputs, cnn.get_layer('conv2').output).")
    return (f"the model ends at conv2 with {expected_shape[1]}x{expected_shape[2]}x{expected_shape[3]} feature maps "
            "and shares its weights with cnn: train cnn and this model sees the change.")
