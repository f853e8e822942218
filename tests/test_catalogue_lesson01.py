"""Lesson 01's exercise checks, called directly on a catalogue of answers: for each exercise, wrong answers a
learner could write (each rejected with its own message) and right answers written in unusual ways (accepted).

The checks judge what the model does: what trains is what ``fit`` updates (the test below runs an optimizer
step to hold the check to that), a head is judged by its output for real inputs, a count is a function the check
calls on the learner's model and on models frozen other ways.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from catalogue import right, wrong

from course_exercises import lesson01
from course_exercises.lesson01 import digit_cnn, ex1, ex2, ex3


def count_trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def freeze(cnn, names=("conv1", "conv2")):
    for name in names:
        cnn.get_layer(name).trainable = False
    return cnn


def changed_by_a_step(model, classes: int = 10, logits: bool = True) -> list[str]:
    """The layers whose weights one optimizer step of fit changes (the ground truth of "what trains")."""
    before = {layer.name: [w.numpy().copy() for w in layer.weights] for layer in model.layers}
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
    x = np.random.default_rng(1).random((8, 28, 28)).astype("float32")
    model.fit(x, np.arange(8) % classes, epochs=1, batch_size=8, verbose=0)
    return [layer.name for layer in model.layers
            if any(not np.array_equal(old, w.numpy()) for old, w in zip(before[layer.name], layer.weights))]


# ------------------------------------------------------------------ 01.1 freeze conv1 and conv2, prove it
def test_ex1_what_trains_is_what_an_optimizer_step_changes():
    """The two ways to freeze from the issue: the check's verdict follows what a fit step changes, not the flags."""
    container = digit_cnn()
    container.trainable = False
    container.get_layer("conv3").trainable = True
    container.get_layer("digits").trainable = True
    assert changed_by_a_step(container) == []  # the flags say conv3 and digits train; fit changes nothing
    assert wrong(ex1, count_trainable, container).startswith("cnn.trainable = False froze the model itself")
    cnn = freeze(digit_cnn())
    assert changed_by_a_step(cnn) == ["conv3", "digits"]
    assert right(ex1, count_trainable, cnn).endswith("in conv3 and digits, and count_trainable agrees with fit on "
                                                     "your cnn and on three models frozen other ways.")


def test_ex1_wrong_answers_each_have_their_own_message():
    typo = digit_cnn()
    for layer in typo.layers[1:5]:  # noqa: B007 - the lesson's typo
        keras.layers.trainable = False
    del keras.layers.trainable
    container = digit_cnn()
    container.trainable = False
    container.get_layer("conv3").trainable = True
    container.get_layer("digits").trainable = True
    everything = digit_cnn()
    everything.trainable = False
    one_too_many = digit_cnn()
    for layer in one_too_many.layers[1:6]:
        layer.trainable = False
    only_conv1 = freeze(digit_cnn(), ["conv1"])
    cnn = freeze(digit_cnn())

    def by_flags(model):  # reads each layer's own flag: right on cnn, wrong under a frozen parent
        return sum(layer.count_params() for layer in model.layers if layer.trainable)

    messages = {
        "typo": wrong(ex1, count_trainable, typo),
        "container": wrong(ex1, count_trainable, container),
        "all frozen": wrong(ex1, count_trainable, everything),
        "slice too long": wrong(ex1, count_trainable, one_too_many),
        "conv2 left": wrong(ex1, count_trainable, only_conv1),
        "typed number": wrong(ex1, 85_386, cnn),
        "whole model": wrong(ex1, lambda model: model.count_params(), cnn),
        "kernels only": wrong(ex1, lambda model: sum(int(np.prod(w.shape)) for w in model.trainable_weights
                                                     if len(w.shape) > 1), cnn),
        "flags": wrong(ex1, by_flags, cnn),
        "a constant": wrong(ex1, lambda model: 85_386, cnn),
    }
    assert messages["typo"].startswith("every layer still trains, conv1 and conv2 too.")
    assert messages["container"] == (
        "cnn.trainable = False froze the model itself, so nothing in it trains (cnn.trainable_weights is empty), "
        "although conv3 and digits say trainable=True: Keras trains no layer under a frozen parent. Leave "
        "cnn.trainable as it is and set the flag on conv1 and conv2 only (cnn = digit_cnn() for a fresh copy).")
    assert messages["all frozen"].startswith("every layer is frozen (cnn.trainable = False freezes them all)")
    assert messages["slice too long"] == ("conv3 frozen too: freeze only conv1 and conv2 (if you used a slice, "
                                          "cnn.layers[a:b] stops before index b).")
    assert messages["conv2 left"] == "conv2 still trains: freeze conv1 and conv2."
    assert messages["typed number"] == (
        "count_trainable should be a function of a model (def count_trainable(model): ...), not int: the check "
        "calls it on your cnn and on models frozen other ways.")
    assert messages["whole model"] == ("count_trainable(cnn) gives 104,202, every parameter of the model: frozen "
                                       "weights do not train, so count only model.trainable_weights.")
    assert messages["kernels only"] == ("count_trainable(cnn) gives 85,248: the kernels but not the biases; every "
                                        "Dense and Conv2D unit has one bias too.")
    assert messages["flags"] == (
        "count_trainable gives 11,530 for a digit_cnn() frozen with model.trainable = False and then "
        "get_layer('digits').trainable = True, the parameters of the layers whose own flag says trainable; fit "
        "trains 0 there: under a frozen parent no layer trains, whatever its flag. Count model.trainable_weights.")
    assert messages["a constant"] == (
        "count_trainable gives 85,386 for a fresh digit_cnn() (nothing frozen); fit trains 104,202 there "
        "(model.trainable_weights): your function must read the model it is given.")
    assert len(set(messages.values())) == len(messages)


@pytest.mark.parametrize("count", [
    count_trainable,
    lambda model: np.int64(sum(np.prod(w.shape) for w in model.trainable_weights)),  # numpy
    lambda model: tf.add_n([tf.size(w) for w in model.trainable_weights] or [tf.constant(0)]),  # tf.Tensor
    lambda model: float(sum(w.numpy().size for w in model.trainable_weights)),  # a whole float
], ids=["python", "numpy", "tensor", "float"])
def test_ex1_right_answers_written_in_unusual_ways(count):
    by_slice = digit_cnn()
    for layer in by_slice.layers[:5]:  # add_channel, conv1, pool1, conv2, pool2: the layers without weights do not matter
        layer.trainable = False
    assert "85,386 parameters train, in conv3 and digits" in right(ex1, count, by_slice)
    switched_back = digit_cnn()
    switched_back.trainable = False
    switched_back.trainable = True  # a frozen model switched back on, then the two layers by name
    assert right(ex1, count, freeze(switched_back)).startswith("conv1 and conv2 are frozen (18,816 parameters)")


# ------------------------------------------------------------------ 01.2 a three-class head that gives probabilities
def test_ex2_wrong_answers_each_have_their_own_message():
    keras.utils.set_random_seed(0)
    cnn = digit_cnn()
    flat, dense = cnn.layers[-2].output, keras.layers.Dense
    other = digit_cnn()
    hidden = dense(64, activation="relu")(flat)
    messages = {
        "logits": wrong(ex2, keras.Model(cnn.inputs, dense(3)(flat)), cnn),
        "old head": wrong(ex2, keras.Model(cnn.inputs, dense(3, activation="softmax")(cnn.layers[-1].output)), cnn),
        "cnn itself": wrong(ex2, cnn, cnn),
        "feature map": wrong(ex2, keras.Model(cnn.inputs, dense(3, activation="softmax")(
            cnn.get_layer("conv3").output)), cnn),
        "not reused": wrong(ex2, keras.Model(other.inputs, dense(3, activation="softmax")(other.layers[-2].output)),
                            cnn),
        "two layers": wrong(ex2, keras.Model(cnn.inputs, dense(3, activation="softmax")(hidden)), cnn),
        "sigmoid": wrong(ex2, keras.Model(cnn.inputs, dense(3, activation="sigmoid")(flat)), cnn),
        "relu first": wrong(ex2, keras.Model(cnn.inputs, keras.layers.Softmax()(dense(3, activation="relu")(
            flat))), cnn),
        "four classes": wrong(ex2, keras.Model(cnn.inputs, dense(4, activation="softmax")(flat)), cnn),
        "head frozen": wrong(ex2, keras.Model(cnn.inputs, dense(3, activation="softmax", trainable=False,
                                                                   name="frozen_head")(flat)), cnn),
    }
    everything = digit_cnn()  # the whole new model frozen: the head cannot learn either
    whole = keras.Model(everything.inputs, dense(3, activation="softmax")(everything.layers[-2].output),
                           name="three_way")
    whole.trainable = False
    messages["model frozen"] = wrong(ex2, whole, everything)
    assert messages["logits"] == (
        "your model's outputs: these are logits (some are negative), not probabilities: softmax turns each row "
        "into probabilities. Give the new Dense layer activation='softmax'.")
    assert messages["old head"] == ("your new Dense sits on top of the old head `digits` (10 logits): take the "
                                    "features from cnn.layers[-2] (flatten), not cnn.layers[-1].")
    assert messages["cnn itself"] == ("your model gives 10 outputs per image (the old head's 10: is `digits` still "
                                      "the last layer?); three classes need Dense(3).")
    assert messages["feature map"] == (
        "for 4 images your model gives an output of shape (4, 3, 3, 3), not one row per image: a Dense layer on a "
        "feature map (conv3's 3x3x128) scores every position on its own. Put the head on the Flatten's output, "
        "cnn.layers[-2].output.")
    assert messages["not reused"].startswith("your model does not reuse cnn's layers")
    assert messages["two layers"].startswith("your head has 2 new layers with weights (")
    assert messages["sigmoid"].startswith("your model's outputs: each value lies in [0, 1] but the rows do not sum "
                                          "to 1: sigmoid scores every class on its own")
    assert messages["relu first"].startswith("your outputs are probabilities, but not the softmax of your Dense(3) "
                                             "applied to cnn's flatten features")
    assert messages["four classes"] == "your model gives 4 outputs per image; three classes need Dense(3)."
    assert messages["head frozen"] == (
        "your new Dense(3) (frozen_head) has trainable=False: fit would never change its random weights. Freeze "
        "cnn's layers if you like, never the new head.")
    assert messages["model frozen"] == (
        "three_way is frozen (trainable = False), so your new Dense(3) is frozen with it: fit would never change its "
        "random weights. Freeze cnn's layers if you like, never the new head.")
    assert len(set(messages.values())) == len(messages)


def test_ex2_right_answers_written_in_unusual_ways():
    expected = ("3 probabilities per image, summing to 1: the softmax of your Dense(3) on cnn's 1,152 flatten "
                "features; 3,459 new parameters (1,152 x 3 weights + 3 biases).")
    cnn = digit_cnn()
    sequential = keras.Sequential(cnn.layers[:-1] + [keras.layers.Dense(3, activation="softmax")])
    assert right(ex2, sequential, cnn) == expected
    cnn = digit_cnn()
    softmax_layer = keras.layers.Softmax()(keras.layers.Dense(3)(cnn.get_layer("flatten").output))
    assert right(ex2, keras.Model(cnn.inputs, softmax_layer), cnn) == expected
    cnn = digit_cnn()
    base = keras.Model(cnn.inputs, cnn.layers[-2].output, name="base")  # a nested base
    assert right(ex2, keras.Sequential([base, keras.layers.Dense(3, activation="softmax")]), cnn) == expected
    cnn = digit_cnn()
    own_flatten = keras.layers.Flatten()(cnn.get_layer("conv3").output)  # the same features, its own Flatten
    assert right(ex2, keras.Model(cnn.inputs, keras.layers.Dense(3, activation="softmax")(own_flatten)),
                 cnn) == expected
    cnn = digit_cnn()
    cnn.trainable = False  # the base frozen, as the lesson does: the head still trains
    assert right(ex2, keras.Model(cnn.inputs, keras.layers.Dense(3, activation="softmax")(cnn.layers[-2].output)),
                 cnn) == expected
    # Keras 3: only the model given to fit and each weight's own flag decide what trains, so a head switched back
    # on inside a frozen part trains (in tf_keras it would not); an optimizer step shows it.
    cnn = digit_cnn()
    part = keras.Sequential([keras.layers.Dense(3, activation="softmax", name="three")], name="part")
    part.trainable = False
    part.get_layer("three").trainable = True
    switched_on = keras.Model(cnn.inputs, part(cnn.layers[-2].output))
    assert right(ex2, switched_on, cnn) == expected
    assert "part" in changed_by_a_step(switched_on, classes=3, logits=False)
    cnn = digit_cnn()
    no_bias = keras.layers.Dense(3, activation="softmax", use_bias=False)(cnn.layers[-2].output)
    assert right(ex2, keras.Model(cnn.inputs, no_bias), cnn) == (
        "3 probabilities per image, summing to 1: the softmax of your Dense(3) on cnn's 1,152 flatten features; "
        "3,456 new parameters (1,152 x 3 weights, no biases).")


# ------------------------------------------------------------------ 01.3 a feature extractor cut at conv2, by name
def test_ex3_wrong_answers_each_have_their_own_message():
    cnn = digit_cnn()
    other = digit_cnn()
    conv2 = cnn.get_layer("conv2")
    maps = keras.Input((13, 13, 32))
    messages = {
        "pool2": wrong(ex3, keras.Model(cnn.inputs, cnn.get_layer("pool2").output), cnn),
        "conv2's input": wrong(ex3, keras.Model(cnn.inputs, conv2.input), cnn),
        "a copy": wrong(ex3, keras.Model(other.inputs, other.get_layer("conv2").output), cnn),
        "a layer": wrong(ex3, conv2, cnn),
        "own input": wrong(ex3, keras.Model(maps, conv2(maps)), cnn),
        "no input": wrong(ex3, keras.Sequential([conv2]), cnn),  # unbuilt, and conv2 alone cannot take digits
    }
    assert messages["pool2"] == ("your model's output has shape (None, 5, 5, 64) (pool2's output); conv2's output "
                                 "is (None, 11, 11, 64): end the model at cnn.get_layer('conv2').output.")
    assert messages["conv2's input"].startswith("your model's output has shape (None, 13, 13, 32) (pool1's output)")
    assert messages["a copy"].startswith("your conv2 is a new layer with random weights of its own")
    assert messages["a layer"] == "conv2_model should be a Keras model, not Conv2D"
    assert messages["own input"] == ("your model takes inputs of shape (None, 13, 13, 32); it should take cnn's "
                                     "(None, 28, 28) digit images: start it at cnn.inputs.")
    assert messages["no input"] == ("conv2_model has no input yet and cannot take cnn's 28x28 digit images "
                                    "(ValueError): start it at cnn.inputs.")
    assert len(set(messages.values())) == len(messages)


def test_ex3_right_answers_written_in_unusual_ways():
    expected = ("the model ends at conv2 with 11x11x64 feature maps and shares its weights with cnn: train cnn and "
                "this model sees the change.")
    cnn = digit_cnn()
    assert right(ex3, keras.Sequential([cnn.get_layer(n) for n in ("add_channel", "conv1", "pool1", "conv2")]),
                 cnn) == expected
    cnn = digit_cnn()  # Keras 3's way to give a Sequential its input
    assert right(ex3, keras.Sequential([keras.Input((28, 28))] + cnn.layers[:4]), cnn) == expected
    cnn = digit_cnn()
    nested = keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
    assert right(ex3, keras.Sequential([nested]), cnn) == expected


def test_the_probes_are_frozen_as_they_say():
    counts = [count_trainable(model) for _, model in lesson01._probes()]
    assert counts == [104_202, 0, 11_530]


def test_the_checks_take_tf_keras_models_too():
    """One code path for both Keras packages (issue 25 item 4): the lesson's CNN built with tf_keras, as the TF Hub
    lessons build their models, is judged by the same checks with the same verdicts."""
    import tf_keras

    def tf_keras_cnn():
        layers = tf_keras.layers
        return tf_keras.Sequential([
            layers.Reshape((28, 28, 1), input_shape=(28, 28), name="add_channel"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"), layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"), layers.MaxPooling2D(name="pool2"),
            layers.Conv2D(128, 3, activation="relu", name="conv3"), layers.Flatten(name="flatten"),
            layers.Dense(10, name="digits")], name="digit_cnn")

    assert "85,386 parameters train, in conv3 and digits" in right(ex1, count_trainable, freeze(tf_keras_cnn()))
    cnn = tf_keras_cnn()
    head = tf_keras.layers.Dense(3, activation="softmax")(cnn.layers[-2].output)
    assert right(ex2, tf_keras.Model(cnn.inputs, head), cnn).startswith("3 probabilities per image")
    cnn = tf_keras_cnn()
    assert wrong(ex2, tf_keras.Model(cnn.inputs, tf_keras.layers.Dense(3)(cnn.layers[-2].output)), cnn).startswith(
        "your model's outputs: these are logits")
    cnn = tf_keras_cnn()
    assert right(ex3, tf_keras.Model(cnn.inputs, cnn.get_layer("conv2").output), cnn).startswith(
        "the model ends at conv2 with 11x11x64 feature maps")


# ---- found by mutation testing
# Wrong answers whose whole message the learner reads, and right answers that tell a careful check from a careless
# one; each kills surviving mutants of course_exercises/lesson01.py (named in the test's docstring).
def test_ex1_more_wrong_answers_and_their_whole_messages():
    """Kills x__ex1__mutmut_3, 6, 7, 20, 22, 23, 39, 40, 49, 50, 52, 53, 54, 56, 57, 60, 61, 71, 76, 108, 112, 113,
    118, 127, 128, 129, 135, 136, 137, 138, 143."""
    typo = digit_cnn()
    for layer in typo.layers[1:5]:  # noqa: B007 - the lesson's typo
        keras.layers.trainable = False
    del keras.layers.trainable
    everything = digit_cnn()
    everything.trainable = False
    head_back_on = digit_cnn()  # the model frozen, then only the head switched back on
    head_back_on.trainable = False
    head_back_on.get_layer("digits").trainable = True

    def sizes(model):  # forgot to add them up
        return [int(np.prod(w.shape)) for w in model.trainable_weights]

    def when_trainable(model):  # no else: None for a frozen model
        if model.trainable:
            return count_trainable(model)

    assert wrong(ex1, count_trainable, freeze(digit_cnn()).layers) == "cnn should be a Keras model, not list"
    assert wrong(ex1, count_trainable, head_back_on) == (
        "cnn.trainable = False froze the model itself, so nothing in it trains (cnn.trainable_weights is empty), "
        "although digits says trainable=True: Keras trains no layer under a frozen parent. Leave cnn.trainable as "
        "it is and set the flag on conv1 and conv2 only (cnn = digit_cnn() for a fresh copy).")
    assert wrong(ex1, count_trainable, everything) == (
        "every layer is frozen (cnn.trainable = False freezes them all): conv3 and digits must keep training; "
        "freeze only conv1 and conv2.")
    assert wrong(ex1, count_trainable, typo) == (
        "every layer still trains, conv1 and conv2 too. Set the flag on each layer object (`layer.trainable = "
        "False` or `cnn.get_layer('conv1').trainable = False`); `layers.trainable = False` sets an attribute on the "
        "Keras module and freezes nothing.")
    assert wrong(ex1, count_trainable, freeze(digit_cnn(), ["conv2"])) == (
        "conv1 still trains: freeze conv1 and conv2.")
    assert wrong(ex1, count_trainable, freeze(digit_cnn(), ["conv3", "digits"])) == (  # the top frozen, not the bottom
        "conv1 and conv2 still train: freeze conv1 and conv2.")
    cnn = freeze(digit_cnn())
    assert wrong(ex1, sizes, cnn) == "count_trainable(cnn) should be a number, not list"
    assert wrong(ex1, lambda model: len(model.trainable_weights), cnn) == (
        "count_trainable(cnn) gives 4, not the number of parameters fit would train in cnn: add up the sizes of "
        "model.trainable_weights.")
    assert wrong(ex1, lambda model: sum(int(np.prod(w.shape)) for w in model.non_trainable_weights), cnn) == (
        "count_trainable(cnn) gives 18,816, the number of frozen parameters; the question asks how many still "
        "train.")
    assert wrong(ex1, lambda model: sum(1 for layer in model.layers if layer.trainable_weights), cnn) == (
        "count_trainable(cnn) gives 2, a number of layers; count their parameters (the values in their weights).")
    assert wrong(ex1, when_trainable, cnn) == (
        "count_trainable(a digit_cnn() frozen with model.trainable = False and then get_layer('digits').trainable "
        "= True) should be a number, not NoneType")


def test_ex3_a_dropout_after_conv2_is_judged_in_inference():
    """A feature extractor ending in Dropout (as one puts before a new head) gives conv2's output in inference, the
    mode the features are used in: accepted. Kills x__ex3__mutmut_103 (the learner's model called with
    training=True)."""
    cnn = digit_cnn()
    cut = keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
    assert right(ex3, keras.Sequential([cut, keras.layers.Dropout(0.5)]), cnn) == (
        "the model ends at conv2 with 11x11x64 feature maps and shares its weights with cnn: train cnn and this "
        "model sees the change.")


def test_ex1_a_frozen_model_switched_back_on_by_an_off_by_one_slice():
    """Three layers named in one message: kills x__and__mutmut_4 (three names joined with "and" alone)."""
    cnn = digit_cnn()
    cnn.trainable = False
    for layer in cnn.layers[3:]:  # meant: from conv3 on
        layer.trainable = True
    assert wrong(ex1, count_trainable, cnn) == (
        "cnn.trainable = False froze the model itself, so nothing in it trains (cnn.trainable_weights is empty), "
        "although conv2, conv3 and digits say trainable=True: Keras trains no layer under a frozen parent. Leave "
        "cnn.trainable as it is and set the flag on conv1 and conv2 only (cnn = digit_cnn() for a fresh copy).")


def test_ex2_a_head_with_dropout_is_judged_in_inference():
    """Dropout before the new Dense(3), a common head: in inference the model gives the softmax of the Dense on the
    features, so it is right. Kills x__ex2__mutmut_21 (the learner's model called with training=True)."""
    cnn = digit_cnn()
    with_dropout = keras.Sequential(cnn.layers[:-1] + [keras.layers.Dropout(0.5),
                                                        keras.layers.Dense(3, activation="softmax")])
    assert right(ex2, with_dropout, cnn) == (
        "3 probabilities per image, summing to 1: the softmax of your Dense(3) on cnn's 1,152 flatten features; "
        "3,459 new parameters (1,152 x 3 weights + 3 biases).")
