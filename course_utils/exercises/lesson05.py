"""Lesson 05 exercises: cut InceptionV3 at mixed6, augment the training data only, place the Dropout."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course_utils.exercises import Exercise, Wrong, as_int, count_params, require_model

IMAGE_SIZE = 150


# ---------------------------------------------------------------- exercise 1
def backbone(image_size: int = IMAGE_SIZE) -> tf.keras.Model:
    """InceptionV3 without its top at ``image_size`` (random weights), every layer frozen, as in the lesson.

    A few seconds to build; the lesson's ``pre_trained_model`` (real weights in
    the full profile) works the same in this exercise.
    """
    model = tf.keras.applications.InceptionV3(input_shape=(image_size, image_size, 3), include_top=False,
                                              weights=None)
    for layer in model.layers:
        layer.trainable = False
    return model


def _head_size(shape) -> int:
    flat = int(np.prod(shape))
    return flat * 1024 + 1024 + 1024 + 1


def _check_mixed6(mixed6_head_params, model_mixed6) -> str:
    model = require_model(model_mixed6, "model_mixed6")
    names = [layer.name for layer in model.layers]
    if "mixed6" not in names:
        raise Wrong("model_mixed6 has no layer mixed6: you cut earlier. Build the head on "
                    "pre_trained.get_layer('mixed6').output.")
    if "mixed7" in names:
        raise Wrong("model_mixed6 still contains mixed7: build the head on get_layer('mixed6').output "
                    "(the layers after the cut then drop out of the model).")
    cut = names.index("mixed6")
    backbone_layers = model.layers[: cut + 1]
    training = [layer.name for layer in backbone_layers if layer.trainable and layer.weights]
    if training:
        raise Wrong(f"{len(training)} InceptionV3 layers train (the first: {training[0]}): freeze the backbone "
                    "(every layer up to mixed6) before you train the head.")
    shape = tuple(int(d) for d in model.get_layer("mixed6").output_shape[1:])
    expected = _head_size(shape)
    trainable = count_params(model.trainable_weights)
    if trainable != expected or model.output_shape[-1] != 1:
        raise Wrong(f"your head has {trainable:,} trainable parameters and {model.output_shape[-1]} output(s); the "
                    "lesson's head (Flatten, Dense(1024, relu), Dense(1, sigmoid)) on mixed6 has "
                    f"{expected:,} and 1.")
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", None)
    if activation != "sigmoid":
        raise Wrong(f"the output unit's activation is {activation}: one probability for 'dog' needs sigmoid.")
    answer = as_int(mixed6_head_params, "mixed6_head_params")
    flat = int(np.prod(shape))
    if answer == expected:
        return (f"mixed6 gives {shape[0]}x{shape[1]}x{shape[2]} at {model.input_shape[1]}x{model.input_shape[2]}, "
                f"the same shape as mixed7 (mixed3 to mixed7 all keep that grid), so the head has the same "
                f"{expected:,} parameters: {flat:,} x 1,024 + 1,024, then 1,024 + 1.")
    if answer == flat * 1024 + 1024:
        raise Wrong(f"{answer:,} is {flat:,} x 1,024 + 1,024: something is missing. Dense(1024) has {flat:,} x 1,024 "
                    "weights and 1,024 biases; the output Dense(1) adds 1,024 weights and 1 bias.")
    if answer == expected - 1:
        raise Wrong(f"{answer:,} leaves out the output unit's bias (1).")
    if answer == flat * 1024:
        raise Wrong(f"{answer:,} counts only the first Dense layer's weights: add its 1,024 biases and the output "
                    "unit (1,024 weights + 1 bias).")
    if answer == flat:
        raise Wrong(f"{answer:,} is the number of values after Flatten, not the head's parameters.")
    if answer == _head_size((17, 17, 768)):
        raise Wrong(f"{answer:,} is the head for 299x299 inputs (a 17x17x768 map); this model takes "
                    f"{model.input_shape[1]}x{model.input_shape[2]}.")
    raise Wrong(f"{answer:,} is not the head's size: read pre_trained.get_layer('mixed6').output_shape, "
                "then count Flatten (no weights), Dense(1024) and Dense(1).")


ex1 = Exercise(
    "05", 1, "cut at mixed6 and predict the head's size", ("mixed6_head_params", "model_mixed6"), _check_mixed6,
    hints=[
        "pre_trained.get_layer('mixed6').output_shape gives (None, height, width, channels); Flatten turns it "
        "into height x width x channels values.",
        "Dense(1024) on n values: n x 1024 weights + 1024 biases. Dense(1): 1024 weights + 1 bias.",
    ],
    solution="""
        mixed6 = pre_trained.get_layer("mixed6")
        print(mixed6.output_shape)
        h, w, c = mixed6.output_shape[1:]
        mixed6_head_params = (h * w * c) * 1024 + 1024 + 1024 + 1
        x = tf.keras.layers.Flatten()(mixed6.output)
        x = tf.keras.layers.Dense(1024, activation="relu")(x)
        x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
        model_mixed6 = tf.keras.Model(pre_trained.input, x)
    """,
)


# ---------------------------------------------------------------- exercise 2
def sample_batch() -> np.ndarray:
    """Four 64x64 RGB images as float32 in 0-255, as image_dataset_from_directory gives them."""
    rng = np.random.default_rng(7)
    base = rng.random((4, 8, 8, 3))
    return np.kron(base, np.ones((1, 8, 8, 1))).astype("float32") * 255.0  # blocky, so a shift shows


def _check_prepare(prepare) -> str:
    if not callable(prepare):
        raise Wrong(f"prepare should be a function of (images, training), not {type(prepare).__name__}.")
    images = sample_batch()
    expected = images / 255.0
    first = np.asarray(prepare(tf.constant(images), training=False), dtype="float64")
    second = np.asarray(prepare(tf.constant(images), training=False), dtype="float64")
    if first.shape != images.shape:
        raise Wrong(f"prepare changed the shape from {images.shape} to {first.shape}.")
    if first.max() > 1.5:
        raise Wrong(f"validation values go up to {first.max():.0f}: rescale them to [0, 1] (divide by 255, the "
                    "lesson's rescale=1/255).")
    if 0 < first.max() <= 1 / 255 + 1e-6:
        raise Wrong("validation values are at most 1/255: you rescaled twice.")
    if not np.allclose(first, second, atol=1e-5):
        raise Wrong("two calls with training=False gave different images: augmentation runs on the validation data "
                    "too. Apply it only when training is True.")
    if not np.allclose(first, expected, atol=1e-4):
        raise Wrong("with training=False the images should only be rescaled (images / 255), nothing else.")
    augmented = [np.asarray(prepare(tf.constant(images), training=True), dtype="float64") for _ in range(3)]
    if any(a.shape != images.shape for a in augmented):
        raise Wrong("prepare(images, training=True) changed the shape of the batch.")
    if max(a.max() for a in augmented) > 1.5:
        raise Wrong("training values go above 1: rescale the training images too.")
    if all(np.allclose(a, expected, atol=1e-4) for a in augmented):
        raise Wrong("training images come out unchanged: when training is True, pass them through the random "
                    "layers, called with training=True (in inference mode they do nothing).")
    changed = float(np.mean([np.mean(~np.isclose(a, expected, atol=1e-3)) for a in augmented]))
    return (f"validation: only rescaled, the same on every call; training: rescaled and randomly changed "
            f"({changed:.0%} of the values differ on average).")


ex2 = Exercise(
    "05", 2, "augment the training data only", ("prepare",), _check_prepare,
    hints=[
        "Build the random layers once (RandomRotation, RandomTranslation, RandomZoom, RandomFlip) in a "
        "tf.keras.Sequential, outside the function.",
        "Inside prepare: images / 255.0 always; random_changes(images, training=True) only if training.",
    ],
    solution="""
        random_changes = tf.keras.Sequential([
            tf.keras.layers.RandomRotation(40 / 360, fill_mode="nearest"),
            tf.keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
            tf.keras.layers.RandomZoom(0.2, fill_mode="nearest"),
            tf.keras.layers.RandomFlip("horizontal"),
        ])

        def prepare_images(images, training):
            images = tf.cast(images, tf.float32) / 255.0
            if training:
                images = random_changes(images, training=True)
            return images

        prepare = prepare_images
    """,
)


# ---------------------------------------------------------------- exercise 3
def mixed7_features() -> tf.keras.layers.Layer:
    """``tf.keras.Input(shape=(7, 7, 768))``: stands for mixed7's output at 150x150."""
    return tf.keras.Input(shape=(7, 7, 768), name="mixed7_output")


def _check_dropout(head) -> str:
    model = require_model(head, "head")
    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    kinds = [type(layer).__name__ for layer in layers]
    if "Dropout" not in kinds:
        raise Wrong("head has no Dropout layer: add Dropout(0.2) after the Dense(1024).")
    if kinds.count("Dropout") > 1:
        raise Wrong("head has more than one Dropout layer; the lesson adds one, after the Dense(1024).")
    dropout = layers[kinds.index("Dropout")]
    dense = [layer for layer in layers if isinstance(layer, tf.keras.layers.Dense)]
    if len(dense) != 2 or dense[0].units != 1024 or dense[1].units != 1:
        raise Wrong("the head should have two Dense layers: Dense(1024, relu) and Dense(1, sigmoid).")
    position = layers.index(dropout)
    if position == len(layers) - 1:
        raise Wrong("Dropout comes after the output: it would zero the predictions themselves. Put it between "
                    "Dense(1024) and Dense(1).")
    if position < layers.index(dense[0]):
        raise Wrong("Dropout comes before the Dense(1024): it drops input features. The lesson drops the "
                    "Dense(1024)'s outputs: put it right after that layer.")
    if abs(dropout.rate - 0.2) > 1e-9:
        raise Wrong(f"Dropout({dropout.rate:g}) drops {dropout.rate:.0%} of the values in training: the rate is the "
                    "fraction dropped, and the lesson's Dropout(0.2) drops 20%.")
    sample = np.random.default_rng(0).random((2, 7, 7, 768)).astype("float32")
    if not np.allclose(model(sample, training=False), model(sample, training=False)):
        raise Wrong("the head gives different outputs on two identical calls in inference mode.")
    return (f"Dropout(0.2) between Dense(1024) and the output adds no parameters (still "
            f"{model.count_params():,}); it drops 20% of the 1,024 activations in fit() only, "
            "never in evaluate() or predict().")


ex3 = Exercise(
    "05", 3, "Dropout in the right place", ("head",), _check_dropout,
    hints=[
        "The lesson's head: Flatten, Dense(1024, relu), Dense(1, sigmoid). Dropout goes between the two Dense layers.",
        "tf.keras.layers.Dropout(rate): rate is the fraction of values set to zero during training.",
    ],
    solution="""
        x = tf.keras.layers.Flatten()(features)
        x = tf.keras.layers.Dense(1024, activation="relu")(x)
        x = tf.keras.layers.Dropout(0.2)(x)
        x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
        head = tf.keras.Model(features, x)
    """,
)
