"""Lesson 05 exercises: cut InceptionV3 at mixed6, augment the training data only, place the Dropout."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, require_model

IMAGE_SIZE = 150


def backbone(image_size: int = IMAGE_SIZE) -> tf.keras.Model:
    """InceptionV3 without its top at ``image_size`` (random weights), every layer frozen, as in the lesson: a few
    seconds to build; the lesson's ``pre_trained_model`` (real weights in full) works the same in this exercise."""
    model = tf.keras.applications.InceptionV3(input_shape=(image_size, image_size, 3), include_top=False, weights=None)
    model.trainable = False  # every layer, as the lesson's loop does
    return model


def _head_size(shape) -> int:
    flat = int(np.prod(shape))
    return flat * 1024 + 1024 + 1024 + 1


@exercise("05", 1, "cut at mixed6 and predict the head's size", hints="""
    - pre_trained.get_layer('mixed6').output_shape gives (None, height, width, channels); Flatten turns it into height x
      width x channels values.
    - Dense(1024) on n values: n x 1024 weights + 1024 biases. Dense(1): 1024 weights + 1 bias.
""", solution="""
    mixed6 = pre_trained.get_layer("mixed6")
    print(mixed6.output_shape)
    h, w, c = mixed6.output_shape[1:]
    mixed6_head_params = (h * w * c) * 1024 + 1024 + 1024 + 1
    x = tf.keras.layers.Flatten()(mixed6.output)
    x = tf.keras.layers.Dense(1024, activation="relu")(x)
    x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    model_mixed6 = tf.keras.Model(pre_trained.input, x)
""")
def ex1(mixed6_head_params, model_mixed6) -> str:
    model = require_model(model_mixed6, "model_mixed6")
    names = [layer.name for layer in model.layers]
    expect("mixed6" in names, "model_mixed6 has no layer mixed6: you cut earlier. Build the head on "
                              "pre_trained.get_layer('mixed6').output.")
    expect("mixed7" not in names, "model_mixed6 still contains mixed7: build the head on get_layer('mixed6').output "
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
    expect(trainable == expected and model.output_shape[-1] == 1, f"your head has {trainable:,} trainable parameters "
                                                                  f"and {model.output_shape[-1]} output(s); the "
                                                                  "lesson's head (Flatten, Dense(1024, relu), "
                                                                  f"Dense(1, sigmoid)) on mixed6 has {expected:,} and "
                                                                  "1.")
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", None)
    expect(activation == "sigmoid", f"the output unit's activation is {activation}: one probability for 'dog' needs "
                                    "sigmoid.")
    answer = as_int(mixed6_head_params, "mixed6_head_params")
    flat = int(np.prod(shape))
    size = f"{model.input_shape[1]}x{model.input_shape[2]}"
    return judge(answer, expected, f"mixed6 gives {shape[0]}x{shape[1]}x{shape[2]} at {size}, the same shape as "
                 f"mixed7 (mixed3 to mixed7 all keep that grid), so the head has the same {expected:,} parameters: "
                 f"{flat:,} x 1,024 + 1,024, then 1,024 + 1.", [
        (flat * 1024 + 1024, f"{answer:,} is {flat:,} x 1,024 + 1,024: something is missing. Dense(1024) has "
                             f"{flat:,} x 1,024 weights and 1,024 biases; the output Dense(1) adds 1,024 weights and 1 bias."),
        (expected - 1, f"{answer:,} leaves out the output unit's bias (1)."),
        (flat * 1024, f"{answer:,} counts only the first Dense layer's weights: add its 1,024 biases and the output "
                      "unit (1,024 weights + 1 bias)."),
        (flat, f"{answer:,} is the number of values after Flatten, not the head's parameters."),
        (_head_size((17, 17, 768)), f"{answer:,} is the head for 299x299 inputs (a 17x17x768 map); this model takes "
                                    f"{size}."),
    ], f"{answer:,} is not the head's size: read pre_trained.get_layer('mixed6').output_shape, "
       "then count Flatten (no weights), Dense(1024) and Dense(1).")


def sample_batch() -> np.ndarray:
    """Four 64x64 RGB images as float32 in 0-255, as image_dataset_from_directory gives them."""
    rng = np.random.default_rng(7)
    base = rng.random((4, 8, 8, 3))
    return np.kron(base, np.ones((1, 8, 8, 1))).astype("float32") * 255.0  # blocky, so a shift shows


@exercise("05", 2, "augment the training data only", hints="""
    - Build the random layers once (RandomRotation, RandomTranslation, RandomZoom, RandomFlip) in a tf.keras.Sequential,
      outside the function.
    - Inside prepare: images / 255.0 always; random_changes(images, training=True) only if training.
""", solution="""
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
""")
def ex2(prepare) -> str:
    expect(callable(prepare), f"prepare should be a function of (images, training), not {type(prepare).__name__}.")
    images = sample_batch()
    expected = images / 255.0
    first = np.asarray(prepare(tf.constant(images), training=False), dtype="float64")
    second = np.asarray(prepare(tf.constant(images), training=False), dtype="float64")
    expect(first.shape == images.shape, f"prepare changed the shape from {images.shape} to {first.shape}.")
    expect(first.max() <= 1.5, f"validation values go up to {first.max():.0f}: rescale them to [0, 1] (divide by 255, "
                               "the lesson's rescale=1/255).")
    expect(not (0 < first.max() <= 1 / 255 + 1e-6), "validation values are at most 1/255: you rescaled twice.")
    expect(np.allclose(first, second, atol=1e-5), "two calls with training=False gave different images: augmentation "
                                                  "runs on the validation data too. Apply it only when training is "
                                                  "True.")
    expect(np.allclose(first, expected, atol=1e-4), "with training=False the images should only be rescaled (images / "
                                                    "255), nothing else.")
    augmented = [np.asarray(prepare(tf.constant(images), training=True), dtype="float64") for _ in range(3)]
    expect(all(a.shape == images.shape for a in augmented), "prepare(images, training=True) changed the shape of the "
                                                            "batch.")
    expect(max(a.max() for a in augmented) <= 1.5, "training values go above 1: rescale the training images too.")
    expect(not all(np.allclose(a, expected, atol=1e-4) for a in augmented), "training images come out unchanged: when "
                                                                            "training is True, pass them through the "
                                                                            "random layers, called with "
                                                                            "training=True (in inference mode they "
                                                                            "do nothing).")
    changed = float(np.mean([np.mean(~np.isclose(a, expected, atol=1e-3)) for a in augmented]))
    return (f"validation: only rescaled, the same on every call; training: rescaled and randomly changed "
            f"({changed:.0%} of the values differ on average).")


def mixed7_features() -> tf.keras.layers.Layer:
    """``tf.keras.Input(shape=(7, 7, 768))``: stands for mixed7's output at 150x150."""
    return tf.keras.Input(shape=(7, 7, 768), name="mixed7_output")


@exercise("05", 3, "Dropout in the right place", hints="""
    - The lesson's head: Flatten, Dense(1024, relu), Dense(1, sigmoid). Dropout goes between the two Dense layers.
    - tf.keras.layers.Dropout(rate): rate is the fraction of values set to zero during training.
""", solution="""
    x = tf.keras.layers.Flatten()(features)
    x = tf.keras.layers.Dense(1024, activation="relu")(x)
    x = tf.keras.layers.Dropout(0.2)(x)
    x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    head = tf.keras.Model(features, x)
""")
def ex3(head) -> str:
    model = require_model(head, "head")
    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    kinds = [type(layer).__name__ for layer in layers]
    expect("Dropout" in kinds, "head has no Dropout layer: add Dropout(0.2) after the Dense(1024).")
    expect(kinds.count("Dropout") <= 1, "head has more than one Dropout layer; the lesson adds one, after the "
                                        "Dense(1024).")
    dropout = layers[kinds.index("Dropout")]
    dense = [layer for layer in layers if isinstance(layer, tf.keras.layers.Dense)]
    expect(len(dense) == 2 and dense[0].units == 1024 and dense[1].units == 1,
           "the head should have two Dense layers: Dense(1024, relu) and Dense(1, sigmoid).")
    position = layers.index(dropout)
    expect(position != len(layers) - 1, "Dropout comes after the output: it would zero the predictions themselves. "
                                        "Put it between Dense(1024) and Dense(1).")
    expect(position >= layers.index(dense[0]), "Dropout comes before the Dense(1024): it drops input features. The "
                                               "lesson drops the Dense(1024)'s outputs: put it right after that "
                                               "layer.")
    expect(abs(dropout.rate - 0.2) <= 1e-9, f"Dropout({dropout.rate:g}) drops {dropout.rate:.0%} of the values in "
                                            "training: the rate is the fraction dropped, and the lesson's "
                                            "Dropout(0.2) drops 20%.")
    sample = np.random.default_rng(0).random((2, 7, 7, 768)).astype("float32")
    expect(np.allclose(model(sample, training=False), model(sample, training=False)),
           "the head gives different outputs on two identical calls in inference mode.")
    return (f"Dropout(0.2) between Dense(1024) and the output adds no parameters (still "
            f"{model.count_params():,}); it drops 20% of the 1,024 activations in fit() only, "
            "never in evaluate() or predict().")
