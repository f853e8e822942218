"""Lesson 02's exercise checks, called directly on a catalogue of answers: for each exercise, wrong answers a
learner could write (each rejected with its own message) and right answers written in unusual ways (accepted).

What trains is what ``fit`` updates (a hub layer inside a sub-model counts, a frozen Dense head does not), Part
B's head is checked end to end, numbers may be Python, numpy or tf.Tensor.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras
from catalogue import right, wrong

from course_exercises.lesson02 import ex1, ex2, ex3, example_logits, feature_module, inception_with_top

Dense = tf_keras.layers.Dense  # Part B's head: hub.KerasLayer lives in tf_keras models


@pytest.fixture(scope="module")
def with_top():
    return inception_with_top()  # the exercise's own model: 75x75, random weights, the ImageNet top


# ------------------------------------------------------------------ 02.1 what include_top adds
def test_ex1_wrong_answers_each_have_their_own_message(with_top):
    total = with_top.count_params()
    no_top = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    messages = {
        "no biases": wrong(ex1, 2_048_000, with_top),
        "whole model": wrong(ex1, total, with_top),
        "without the top": wrong(ex1, total - 2_049_000, with_top),
        "features": wrong(ex1, 2048, with_top),
        "a string": wrong(ex1, "2,049,000", with_top),
        "no top": wrong(ex1, 2_049_000, no_top),
        "off": wrong(ex1, 2_049_005, with_top),
    }
    assert messages["no biases"] == "2,048,000 counts the weights but not the 1,000 biases (one per output unit)."
    assert messages["whole model"] == (f"{total:,} is the whole model; the question asks only for its top "
                                       "(avg_pool, predictions), the layers after the last feature map.")
    assert messages["without the top"].startswith(f"{total - 2_049_000:,} is the model without its top")
    assert messages["features"] == ("2,048 is a number of features or classes, not of parameters: the Dense layer "
                                    "has one weight per (input, output) pair plus one bias per output.")
    assert messages["a string"] == "top_params should be a number, not str"
    assert messages["no top"] == "this model has no top: pass a model built with include_top=True."
    assert messages["off"].startswith("2,049,005 is not what the top adds")
    assert len(set(messages.values())) == len(messages)


@pytest.mark.parametrize("written", ["2048 * 1000 + 1000", "np.int64(2_049_000)", "tf.constant(2_049_000)",
                                     "tf.add_n([tf.size(w) for w in with_top.get_layer('predictions').weights])",
                                     "2_049_000.0"])
def test_ex1_right_answers_written_in_unusual_ways(with_top, written):
    answer = eval(written, {"np": np, "tf": tf, "with_top": with_top})
    assert right(ex1, answer, with_top).startswith("include_top=True adds 2,049,000 parameters (avg_pool, "
                                                   "predictions): 2,048 x 1,000 weights + 1,000 biases.")



def test_ex1_takes_the_model_from_either_keras():
    legacy = tf_keras.applications.InceptionV3(weights=None, include_top=True, input_shape=(75, 75, 3))
    assert right(ex1, 2_049_000, legacy).startswith("include_top=True adds 2,049,000 parameters (avg_pool, "
                                                    "predictions): 2,048 x 1,000 weights + 1,000 biases.")
    assert wrong(ex1, legacy.count_params(), legacy).endswith("the layers after the last feature map.")
# ------------------------------------------------------------------ 02.2 a trainable TF Hub layer
def head(*layers):
    return list(layers) or [Dense(128, activation="relu"), Dense(64, activation="relu"), Dense(5)]


def part_b(hub_trainable=True, layers=None, input_shape=(64, 64, 3)):
    return tf_keras.Sequential([hub.KerasLayer(feature_module(), trainable=hub_trainable, input_shape=input_shape)]
                               + (layers or head()))


def test_ex2_wrong_answers_each_have_their_own_message():
    frozen_dense = head()
    for layer in frozen_dense:
        layer.trainable = False
    inner = tf_keras.Sequential([hub.KerasLayer(feature_module(), trainable=True, input_shape=(64, 64, 3))])
    inner.trainable = False
    in_frozen_sub_model = tf_keras.Sequential([inner] + head())
    inner.layers[0].trainable = True  # switched back on inside its frozen parent: still frozen
    trainable = part_b()
    messages = {
        "hub frozen": wrong(ex2, 270_853, part_b(hub_trainable=False)),
        "Dense frozen": wrong(ex2, 66_464, part_b(layers=frozen_dense)),
        "frozen parent": wrong(ex2, 270_853, in_frozen_sub_model),
        "softmax head": wrong(ex2, 337_317, part_b(layers=head(Dense(128, activation="relu"),
                                                             Dense(64, activation="relu"),
                                                             Dense(5, activation="softmax")))),
        "no relu": wrong(ex2, 337_317, part_b(layers=head(Dense(128), Dense(64), Dense(5)))),
        "softmax layer": wrong(ex2, 337_317, part_b(layers=head(Dense(128, activation="relu"),
                                                              Dense(64, activation="relu"), Dense(5),
                                                              tf_keras.layers.Softmax()))),
        "224 inputs": wrong(ex2, 337_317, part_b(input_shape=(224, 224, 3))),
        "no hub layer": wrong(ex2, 5, tf_keras.Sequential([Dense(5, input_shape=(2048,))])),
        "Keras 3, no hub layer": wrong(ex2, 5, keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(),
                                                               keras.layers.Dense(5)])),
        "Dense only": wrong(ex2, 270_853, trainable),
        "with moving statistics": wrong(ex2, 337_381, trainable),
        "hub only": wrong(ex2, 66_464, trainable),
    }
    assert messages["hub frozen"] == ("the hub layer is frozen (hub.KerasLayer's default is trainable=False): pass "
                                      "trainable=True.")
    names = [layer.name for layer in frozen_dense]
    assert messages["Dense frozen"] == (f"{names[0]}, {names[1]} and {names[2]} are frozen: the new Dense layers "
                                        "must train (they start from random weights).")
    assert messages["frozen parent"] == (
        f"the hub layer sits in {inner.name}, which is frozen (trainable = False): fit trains nothing under a frozen "
        f"parent, whatever the hub layer's own flag says. Leave {inner.name} trainable and pass trainable=True to "
        "hub.KerasLayer.")
    assert messages["softmax head"] == ("the last Dense(5) has activation 'softmax': Part B's gives logits (no "
                                        "activation), as its loss (from_logits=True) expects.")
    assert messages["no relu"].startswith("the hidden Dense layers have activations ['linear', 'linear']; Part B's "
                                          "use relu")
    assert messages["softmax layer"] == ("hub_model's outputs are probabilities (a softmax after the last Dense): "
                                         "Part B's model gives logits, as its loss (from_logits=True) expects; "
                                         "drop the softmax.")
    assert messages["224 inputs"] == ("hub_model takes inputs of shape (None, 224, 224, 3); build it for 64x64 "
                                      "images: input_shape=(64, 64, 3).")
    assert messages["no hub layer"].startswith("hub_model has no hub.KerasLayer")
    assert messages["Keras 3, no hub layer"] == messages["no hub layer"]  # walked in either Keras
    assert messages["Dense only"] == ("270,853 counts only the Dense layers: with trainable=True the hub module's "
                                      "66,464 weights train too.")
    assert messages["with moving statistics"] == (
        "337,381 includes the module's 64 non-trainable values (bn_moving_mean, bn_moving_variance): count "
        "model.trainable_weights only.")
    assert messages["hub only"] == "66,464 counts only the hub module: the Dense layers train too."
    assert len(set(messages.values())) == len(messages) - 1  # the two without a hub layer share theirs


def test_ex2_right_answers_written_in_unusual_ways():
    expected = ("337,317 parameters train: 66,464 inside the hub module and 270,853 in the Dense layers; the "
                "module's 64 non-trainable values (bn_moving_mean, bn_moving_variance) never train, even with "
                "trainable=True.")
    nested = tf_keras.Sequential([tf_keras.Sequential([hub.KerasLayer(feature_module(), trainable=True,
                                                                      input_shape=(64, 64, 3))], name="base")]
                                 + head())
    assert right(ex2, np.int64(337_317), nested) == expected  # a hub layer inside a sub-model
    images = tf_keras.Input((64, 64, 3))
    x = hub.KerasLayer(feature_module(), trainable=True)(images)
    for layer in head():
        x = layer(x)
    functional = tf_keras.Model(images, x)
    assert right(ex2, tf.add_n([tf.size(w) for w in functional.trainable_weights]), functional) == expected
    model = part_b()
    assert right(ex2, sum(w.numpy().size for w in model.trainable_weights), model) == expected
    relu = tf_keras.layers.ReLU
    separate = part_b(layers=head(Dense(128), relu(), Dense(64), tf_keras.layers.Activation("relu"), Dense(5)))
    assert right(ex2, 337_317, separate) == expected  # relu as layers of their own: the same model
    as_object = part_b(layers=head(Dense(128, activation=relu()), Dense(64, activation=tf.nn.relu), Dense(5)))
    assert right(ex2, 337_317.0, as_object) == expected  # relu passed as a layer object and as tf.nn.relu


# ------------------------------------------------------------------ 02.3 from logits to probabilities
def test_ex3_wrong_answers_each_have_their_own_message():
    logits = example_logits()
    probabilities = tf.nn.softmax(logits).numpy()
    classes = probabilities.argmax(1)
    messages = {
        "logits": wrong(ex3, logits, classes),
        "columns": wrong(ex3, tf.nn.softmax(logits, axis=0).numpy(), classes),
        "three rows": wrong(ex3, probabilities[:3], classes),
        "not softmax": wrong(ex3, np.abs(logits) / np.abs(logits).sum(axis=1, keepdims=True), classes),
        "argmax over images": wrong(ex3, probabilities, probabilities.argmax(0)),
        "one class": wrong(ex3, probabilities, classes[:1]),
        "wrong classes": wrong(ex3, probabilities, (classes + 1) % 5),
    }
    assert messages["logits"] == ("probabilities: these are logits (some are negative), not probabilities: softmax "
                                  "turns each row into probabilities.")
    assert messages["columns"] == ("probabilities: each column sums to 1, not each row: apply softmax over the "
                                   "classes (axis=-1), not over the images.")
    assert messages["three rows"] == ("probabilities has shape (3, 5); expected (5, 5): one row of 5 per image.")
    assert messages["not softmax"] == ("each row sums to 1, but these are not the softmax of the logits: use "
                                       "tf.nn.softmax(logits).")
    assert messages["argmax over images"] == ("predicted takes argmax over the images (axis 0); the class of each "
                                              "image is the argmax over its row (axis=1 or -1).")
    assert messages["one class"] == ("predicted has 1 values; expected 5, one class per image (argmax over axis 1).")
    assert messages["wrong classes"].startswith("predicted [")
    assert len(set(messages.values())) == len(messages)


def test_ex3_right_answers_written_in_unusual_ways():
    import scipy.special

    logits = example_logits()
    expected = right(ex3, tf.nn.softmax(logits).numpy(), np.argmax(logits, axis=1))
    assert expected.startswith("probabilities sum to 1 per image; the predicted classes are [1, 2, 0, 4, 3]")
    assert right(ex3, tf.nn.softmax(logits), tf.argmax(logits, axis=-1)) == expected  # tensors, int64
    assert right(ex3, scipy.special.softmax(logits, axis=1), [1, 2, 0, 4, 3]) == expected  # scipy, a list


# ---- found by mutation testing
# Wrong answers whose whole message the learner reads, and right answers that tell a careful check from a careless
# one; each kills surviving mutants of course_exercises/lesson02.py (named in the test's docstring).
def test_ex2_more_wrong_answers_and_their_whole_messages():
    """Kills x__ex2__mutmut_3, 6, 7 (the hub layer given for the model), x__ex2__mutmut_18 (two hub layers),
    x__ex2__mutmut_43 (a frozen sub-model without the hub layer blamed) and x__and__mutmut_6, 7 (two names)."""
    hub_layer = hub.KerasLayer(feature_module(), trainable=True, input_shape=(64, 64, 3))
    assert wrong(ex2, 337_317, hub_layer) == "hub_model should be a Keras model, not KerasLayer"
    images = tf_keras.Input((64, 64, 3))  # Part B's frozen hub layer kept beside the trainable one
    both = tf_keras.layers.Average()([hub.KerasLayer(feature_module(), trainable=True)(images),
                                      hub.KerasLayer(feature_module(1))(images)])
    for layer in head():
        both = layer(both)
    assert wrong(ex2, 337_317, tf_keras.Model(images, both)) == "hub_model has 2 hub layers; Part B's model has one."
    preprocess = tf_keras.Sequential([tf_keras.layers.Rescaling(1.0, input_shape=(64, 64, 3))], name="preprocess")
    preprocess.trainable = False  # frozen, and without weights: not what stops the hub layer
    default = tf_keras.Sequential([preprocess, hub.KerasLayer(feature_module())] + head())
    assert wrong(ex2, 270_853, default) == ("the hub layer is frozen (hub.KerasLayer's default is trainable=False): "
                                            "pass trainable=True.")
    hidden_frozen = head()
    for layer in hidden_frozen[:2]:
        layer.trainable = False
    names = [layer.name for layer in hidden_frozen]
    assert wrong(ex2, 337_317, part_b(layers=hidden_frozen)) == (
        f"{names[0]} and {names[1]} are frozen: the new Dense layers must train (they start from random weights).")


def test_ex3_more_right_answers_written_in_unusual_ways():
    """Classes as a column (keepdims=True) and probabilities rounded for printing are right. Kills x__ex3__mutmut_46
    (the column not flattened) and x__ex3__mutmut_39 (the check's tolerance dropped to numpy's default)."""
    logits = example_logits()
    probabilities = tf.nn.softmax(logits).numpy()
    expected = ("probabilities sum to 1 per image; the predicted classes are [1, 2, 0, 4, 3] (the same as argmax of "
                "the logits: softmax keeps the order).")
    assert right(ex3, probabilities, np.argmax(probabilities, axis=1, keepdims=True)) == expected
    assert right(ex3, np.round(probabilities, 5), probabilities.argmax(1)) == expected


def test_the_exercise_data_is_what_the_notebook_says():
    """The logits are float32 rows of five, as Part A's new_model returns them (kills x_example_logits__mutmut_25);
    the stand-in module is reproducible from its seed and differs between seeds (kills
    xǁ_FeatureVectorModuleǁ__init____mutmut_6 and x_feature_module__mutmut_2, where the seed is dropped)."""
    logits = example_logits()
    assert (logits.dtype, logits.shape) == (np.float32, (5, 5))
    images = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    first, again, other = (feature_module(seed)(images).numpy() for seed in (0, 0, 1))
    assert first.shape == (2, 2048)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
