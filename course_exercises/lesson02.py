"""Lesson 02 exercises: what include_top costs, a trainable TF Hub layer, logits to probabilities.

The checks judge the model, not its flags: what trains is what ``fit`` updates (``model.trainable_weights``,
gathered through every parent, so a hub layer inside a sub-model counts), and Part B's head is checked end to
end (its Dense layers, their activations, and that the model's output is that head on the hub layer's features).
Counts are compared with the learner's own model; numbers may be Python, numpy or ``tf.Tensor``.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, layers_within, not_probabilities, require_model
from course_utils.models import is_keras

FEATURES = 2048  # Inception-v3's feature vector


def inception_with_top(image_size: int = 75):
    """InceptionV3 with its ImageNet top (Keras 3, as Part A), random weights, at its smallest input size (the
    top's size does not depend on it): a few seconds to build; the lesson's ``base_model`` works the same here."""
    import keras

    return keras.applications.InceptionV3(weights=None, include_top=True, input_shape=(image_size, image_size, 3))


def _top_layers(model):
    """The layers after the last feature map (4-D output): the classifier ``include_top=True`` adds."""
    ranks = [len(layer.output.shape) if not isinstance(layer.output, (list, tuple)) else 0 for layer in model.layers]
    last_map = max((i for i, rank in enumerate(ranks) if rank == 4), default=None)
    return [] if last_map is None else model.layers[last_map + 1:]


@exercise("02", 1, "what include_top adds", hints="""
    - InceptionV3's top is two layers: global average pooling (no weights) and the Dense(1000) classifier named
      'predictions'. Look at with_top.layers[-2:].
    - A Dense layer from n inputs to m outputs has n x m weights and m biases; layer.count_params() counts both.
""", solution="""
    top_params = sum(layer.count_params() for layer in with_top.layers[-2:])  # avg_pool, predictions
    print(f"{top_params:,}")
""")
def ex1(top_params, with_top) -> str:
    return _ex1(top_params, with_top)


def _ex1(top_params, with_top) -> str:
    model = require_model(with_top, "with_top")
    top = _top_layers(model)
    expected = sum(layer.count_params() for layer in top)
    expect(top and expected, "this model has no top: pass a model built with include_top=True.")
    answer = as_int(top_params, "top_params")
    dense = [layer for layer in top if getattr(layer, "kernel", None) is not None]
    names = ", ".join(layer.name for layer in top)
    shapes = " + ".join(f"{layer.kernel.shape[0]:,} x {layer.kernel.shape[1]:,} weights + "
                        f"{layer.kernel.shape[1]:,} biases" for layer in dense)
    biases = sum(int(layer.bias.shape[0]) for layer in dense if getattr(layer, "bias", None) is not None)
    total, sizes = model.count_params(), dense[-1].kernel.shape if dense else (None, None)
    features_or_classes = (f"{answer:,} is a number of features or classes, not of parameters: the Dense layer has "
                           "one weight per (input, output) pair plus one bias per output.")
    return judge(answer, expected, f"include_top=True adds {expected:,} parameters ({names}): {shapes}. That is "
                 f"{expected / total:.0%} of the model; the new Dense(5) head needs only "
                 f"{(sizes[0] or 0) * 5 + 5:,}.", [
        (expected - biases, f"{answer:,} counts the weights but not the {biases:,} biases (one per output unit)."),
        (total, f"{answer:,} is the whole model; the question asks only for its top ({names}), "
                "the layers after the last feature map."),
        (total - expected, f"{answer:,} is the model without its top (what include_top=False keeps); "
                           "the question asks what the top adds."),
        (sizes[0], features_or_classes), (sizes[1], features_or_classes),
    ], f"{answer:,} is not what the top adds: sum count_params() over the layers after the last "
       f"feature map ({names}).")


class _FeatureVectorModule(tf.Module):
    """A tiny stand-in with the TF Hub image feature-vector interface: images in [0, 1] -> 2048 features.
    Like Inception-v3 it keeps BatchNorm-style moving statistics, variables that never train."""

    def __init__(self, seed: int = 0):
        super().__init__(name="feature_vector_stand_in")
        rng = np.random.default_rng(seed)
        self.kernel = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, 32)).astype("float32"), name="conv_kernel")
        self.gamma = tf.Variable(np.ones(32, "float32"), name="bn_gamma")
        self.beta = tf.Variable(np.zeros(32, "float32"), name="bn_beta")
        self.moving_mean = tf.Variable(np.zeros(32, "float32"), trainable=False, name="bn_moving_mean")
        self.moving_variance = tf.Variable(np.ones(32, "float32"), trainable=False, name="bn_moving_variance")
        self.projection = tf.Variable(rng.normal(0, 0.1, (32, FEATURES)).astype("float32"), name="projection")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        h = tf.nn.conv2d(images, self.kernel, 2, "SAME")
        h = (h - self.moving_mean) / tf.sqrt(self.moving_variance + 1e-3) * self.gamma + self.beta
        return tf.nn.relu(tf.matmul(tf.reduce_mean(tf.nn.relu(h), axis=[1, 2]), self.projection))


def feature_module(seed: int = 0) -> tf.Module:
    """A small callable with the TF Hub feature-vector interface, for ``hub.KerasLayer(module, ...)``."""
    return _FeatureVectorModule(seed)


def _dense_head(model, hub_layer):
    """The Dense layers of ``model`` (outside the hub layer), in the order they are chained (each reads the
    previous one's units, the first the hub layer's features); None when they do not form one chain."""
    dense = [m for m in layers_within(model) if is_keras(m, "Dense") and m is not hub_layer]
    chain, width = [], FEATURES
    while dense:
        following = [layer for layer in dense if int(layer.kernel.shape[0]) == width]
        if len(following) != 1:
            return None
        chain.append(following[0])
        dense.remove(following[0])
        width = int(following[0].kernel.shape[1])
    return chain


def _and(names) -> str:
    names = list(names)
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _activation(layer) -> str:
    return getattr(layer.activation, "__name__", str(layer.activation))


@exercise("02", 2, "count what trains in a trainable TF Hub model", hints="""
    - hub.KerasLayer(module, trainable=True, input_shape=(64, 64, 3)) then Part B's tf_keras.Sequential: Dense(128,
      relu), Dense(64, relu), Dense(5) (hub.KerasLayer is a tf_keras layer: a Keras 3 model refuses it).
    - hub_model.trainable_weights lists every weight that fit() would change; sum np.prod(w.shape).
""", solution="""
    hub_layer = hub.KerasLayer(module, trainable=True, input_shape=(64, 64, 3))
    hub_model = tf_keras.Sequential([
        hub_layer,
        tf_keras.layers.Dense(128, activation="relu"),
        tf_keras.layers.Dense(64, activation="relu"),
        tf_keras.layers.Dense(5),
    ])
    trainable_params = int(sum(np.prod(w.shape) for w in hub_model.trainable_weights))
    print(f"{trainable_params:,} trainable")
""")
def ex2(trainable_params, hub_model) -> str:
    return _ex2(trainable_params, hub_model)


def _ex2(trainable_params, hub_model) -> str:
    import tensorflow_hub as hub

    model = require_model(hub_model, "hub_model")
    hub_layers = [m for m in layers_within(model) if isinstance(m, hub.KerasLayer)]
    expect(hub_layers, "hub_model has no hub.KerasLayer: put hub.KerasLayer(module, trainable=True, ...) first.")
    expect(len(hub_layers) == 1, f"hub_model has {len(hub_layers)} hub layers; Part B's model has one.")
    (hub_layer,) = hub_layers
    updated = {id(w) for w in model.trainable_weights}
    in_hub = [w for w in hub_layer.weights if id(w) in updated]
    if not in_hub:
        parents = [m.name for m in [model, *layers_within(model, models=True)]
                   if is_keras(m, "Model") and not m.trainable and any(inner is hub_layer for inner in layers_within(m))]
        expect(not parents, f"the hub layer sits in {_and(parents)}, which is frozen (trainable = False): fit "
                            "trains nothing under a frozen parent, whatever the hub layer's own flag says. Leave "
                            f"{_and(parents)} trainable and pass trainable=True to hub.KerasLayer.")
        raise Wrong("the hub layer is frozen (hub.KerasLayer's default is trainable=False): pass trainable=True.")
    images = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    inputs = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else None
    expect(inputs == (None, 64, 64, 3), f"hub_model takes inputs of shape {inputs}; build it for 64x64 images: "
                                        "input_shape=(64, 64, 3).")
    head = _dense_head(model, hub_layer)
    expect(head, "hub_model's Dense layers do not form one chain on the hub layer's 2,048 features: Part B's head "
                 "is Dense(128, relu), Dense(64, relu), Dense(5), in that order, on the hub layer.")
    units = [int(layer.kernel.shape[1]) for layer in head]
    expect(units == [128, 64, 5], f"hub_model's head has Dense layers of {', '.join(map(str, units))} units; Part B's "
                                  "is Dense(128, relu), Dense(64, relu), Dense(5).")
    frozen_head = [layer.name for layer in head if not all(id(w) in updated for w in layer.trainable_weights)
                   or not layer.trainable_weights]
    expect(not frozen_head, f"{_and(frozen_head)} {'is' if len(frozen_head) == 1 else 'are'} frozen: the new "
                            "Dense layers must train (they start from random weights).")
    # Part B's head computed from its Dense layers' own weights: relu after the two hidden ones, logits at the end.
    # The learner's model must give the same output, however it spells relu (an activation argument, a ReLU or an
    # Activation layer of its own).
    part_b = hub_layer(images)
    for i, layer in enumerate(head):
        part_b = tf.matmul(part_b, layer.kernel) + (layer.bias if getattr(layer, "bias", None) is not None else 0)
        part_b = tf.nn.relu(part_b) if i < 2 else part_b
    out = np.asarray(model(images, training=False))
    if not np.allclose(out, part_b, atol=1e-4):
        last = _activation(head[-1])
        expect(last == "linear", f"the last Dense(5) has activation {last!r}: Part B's gives logits (no activation), "
                                 "as its loss (from_logits=True) expects.")
        expect(not np.allclose(out, tf.nn.softmax(part_b), atol=1e-4),
               "hub_model's outputs are probabilities (a softmax after the last Dense): Part B's model gives logits, "
               "as its loss (from_logits=True) expects; drop the softmax.")
        hidden = [_activation(layer) for layer in head[:2]]
        expect(hidden == ["relu", "relu"], f"the hidden Dense layers have activations {hidden}; Part B's use relu "
                                           "(without one, two Dense layers in a row are one linear map).")
        raise Wrong("hub_model's output is not its Dense layers applied to the hub layer's features: build it as "
                    "Sequential([hub_layer, Dense(128, relu), Dense(64, relu), Dense(5)]).")
    answer = as_int(trainable_params, "trainable_params")
    expected = count_params(model.trainable_weights)
    in_hub_count = count_params(in_hub)
    fixed = hub_layer.non_trainable_weights
    frozen = count_params(fixed)
    names = ", ".join(sorted({w.name.split("/")[-1].split(":")[0] for w in fixed})) or "none"
    head_count = expected - in_hub_count
    return judge(answer, expected, f"{expected:,} parameters train: {in_hub_count:,} inside the hub module and "
                 f"{head_count:,} in the Dense layers; the module's {frozen:,} non-trainable values ({names}) never "
                 "train, even with trainable=True.", [
        (head_count, f"{answer:,} counts only the Dense layers: with trainable=True the hub module's "
                     f"{in_hub_count:,} weights train too."),
        (expected + frozen, f"{answer:,} includes the module's {frozen:,} non-trainable values ({names}): count "
                            "model.trainable_weights only."),
        (in_hub_count, f"{answer:,} counts only the hub module: the Dense layers train too."),
    ], f"{answer:,} is not the number of trainable parameters: add up the sizes of hub_model.trainable_weights.")


def example_logits() -> np.ndarray:
    """Five rows of five logits, like those Part A's new_model gives for the five random images."""
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 1.5, (5, 5))
    logits[np.arange(5), [1, 2, 0, 4, 3]] += 4.0
    return logits.round(3).astype("float32")


@exercise("02", 3, "from logits to probabilities and classes", hints="""
    - tf.nn.softmax(logits, axis=-1) turns each row of logits into probabilities.
    - np.argmax(probabilities, axis=1): one class per row (image).
""", solution="""
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    predicted = np.argmax(probabilities, axis=1)
""")
def ex3(probabilities, predicted) -> str:
    return _ex3(probabilities, predicted)


def _ex3(probabilities, predicted) -> str:
    logits = example_logits()
    probs = np.asarray(probabilities, dtype="float64")
    expect(probs.shape == logits.shape, f"probabilities has shape {probs.shape}; expected {logits.shape}: one row of 5 "
                                        "per image.")
    problem = not_probabilities(probs)
    expect(not problem, f"probabilities: {problem}")
    expected = tf.nn.softmax(logits, axis=-1).numpy()
    expect(np.allclose(probs, expected, atol=1e-4), "each row sums to 1, but these are not the softmax of the logits: "
                                                    "use tf.nn.softmax(logits).")
    labels = np.asarray(predicted).reshape(-1)
    expect(labels.shape == (5,), f"predicted has {labels.size} values; expected 5, one class per image (argmax over "
                                 "axis 1).")
    right = expected.argmax(axis=1)
    expect(not np.array_equal(labels, expected.argmax(axis=0)) or np.array_equal(labels, right),
           "predicted takes argmax over the images (axis 0); the class of each image is the argmax over its row "
           "(axis=1 or -1).")
    expect(np.array_equal(labels, right), f"predicted {labels.tolist()} is not the most probable class of each image.")
    return (f"probabilities sum to 1 per image; the predicted classes are {right.tolist()} "
            f"(the same as argmax of the logits: softmax keeps the order).")
