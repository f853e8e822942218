"""Lesson 05 exercises: cut InceptionV3 at mixed6, prepare the training data only, place the Dropout.

The checks judge what the learner's objects *do*: a head is run end to end on known features and its
output compared with what Flatten, Dense(1024, relu) and Dense(1, sigmoid) compute from the head's own
weights; "random" means two calls on the same images differ; what trains is ``model.trainable_weights``
(what ``fit`` updates); a count is compared with the learner's own model.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_int, count_params, exercise, expect, judge, layers_within, require_model
from course_utils.models import is_keras, keras_of

IMAGE_SIZE = 150


def backbone(image_size: int = IMAGE_SIZE) -> keras.Model:
    """InceptionV3 without its top at ``image_size`` (random weights), every layer frozen, as in the lesson: a few
    seconds to build; the lesson's ``pre_trained_model`` (real weights in full) works the same in this exercise."""
    model = keras.applications.InceptionV3(input_shape=(image_size, image_size, 3), include_top=False, weights=None)
    model.trainable = False  # every layer, as the lesson's loop does
    return model


def _head_size(shape) -> int:
    flat = int(np.prod(shape))
    return flat * 1024 + 1024 + 1024 + 1


def _find(model, name: str):
    """``(container, layer)``: the layer called ``name`` in ``model`` or in a model nested in it, else ``None``."""
    for layer in model.layers:
        if layer.name == name:
            return model, layer
    for layer in model.layers:
        if is_keras(layer, "Model"):
            found = _find(layer, name)
            if found:
                return found
    return None


def _activation(layer) -> str | None:
    return getattr(getattr(layer, "activation", None), "__name__", None)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _same(values, reference) -> bool:
    """``values`` equal ``reference`` to 1% of the reference's largest magnitude: a scale-free comparison, so
    small logits (a random-weights base gives small features) are told apart as well as large ones."""
    values, reference = np.asarray(values, dtype="float64"), np.asarray(reference, dtype="float64")
    return values.shape == reference.shape and bool(np.all(np.abs(values - reference)
                                                           <= 1e-2 * np.abs(reference).max() + 1e-9))


def _is_sigmoid_of(probabilities, logits) -> bool:
    """``probabilities`` are sigmoid(``logits``): compared as logits while float32 can tell them apart."""
    p = np.asarray(probabilities, dtype="float64")
    if np.any(p <= 1e-6) or np.any(p >= 1 - 1e-6):  # saturated: compare the probabilities themselves
        return np.allclose(p, _sigmoid(logits), rtol=0, atol=1e-5)
    return _same(np.log(p) - np.log1p(-p), logits)


def _check_head(model, run, features: list[np.ndarray], feature_shape, what: str, on: str) -> int:
    """Raise :class:`Wrong` unless ``model`` is the lesson's head (Flatten, Dense(1024, relu), Dense(1, sigmoid))
    on ``features``. ``run()`` is the model's output in inference mode; ``features`` the candidate values the head
    should sit on (each a batch of ``feature_shape`` maps, or a function that computes one, called only if the
    ones before it do not fit). Returns the head's size, from its trainable weights."""
    output = np.asarray(run(), dtype="float64")
    if not np.allclose(output, np.asarray(run(), dtype="float64"), rtol=1e-5, atol=1e-6):
        raise Wrong(f"{what} gives a different output on every call in inference mode (training=False): a layer in it "
                    "is called with training=True, so it drops units in evaluate() and predict() too. Call Dropout "
                    "without training=...: fit() switches it on, evaluate() and predict() off.")
    flat, channels = int(np.prod(feature_shape)), int(feature_shape[-1])
    if output.ndim > 2:
        raise Wrong(f"{what} gives an output of shape {(None, *output.shape[1:])}, one prediction per cell of the "
                    f"{feature_shape[0]}x{feature_shape[1]} grid: Dense acts on the last axis only, so without "
                    "Flatten it never sees the whole map. Put Flatten() before Dense(1024).")
    expect(output.shape[-1] == 1, f"{what} has {output.shape[-1]} outputs; the lesson's head ends in one unit, the "
                                  "probability of 'dog': Dense(1, activation='sigmoid').")
    weights = model.trainable_weights
    shapes = [tuple(int(d) for d in w.shape) for w in weights]
    expected = [(flat, 1024), (1024,), (1024, 1), (1,)]
    if shapes != expected:
        if len(shapes) == 4 and shapes[0] == (channels, 1024):
            raise Wrong(f"the Dense(1024) of {what} sees {channels} values per image, not the {flat:,} of the "
                        f"flattened {'x'.join(map(str, feature_shape))} map: you pooled where the lesson flattens. "
                        "Use Flatten() (GlobalAveragePooling2D keeps only the channel averages).")
        if len(shapes) == 4 and shapes[0][0] == flat and shapes[0][1] != 1024:
            raise Wrong(f"the hidden Dense layer of {what} has {shapes[0][1]} units; the lesson's has 1024.")
        raise Wrong(f"the trainable weights of {what} have shapes {shapes}; the lesson's head trains exactly "
                    f"{expected} (Flatten has none, then Dense(1024) and Dense(1)). Build the head from these three "
                    "layers only.")
    w1, b1, w2, b2 = weights[0], *(np.asarray(w, dtype="float64") for w in weights[1:])
    dense = [layer for layer in layers_within(model) if is_keras(layer, "Dense")]
    hidden = []  # the Dense(1024)'s pre-activations on each candidate, computed as needed
    for candidate in features:
        values = np.asarray(candidate() if callable(candidate) else candidate, dtype="float32")
        hidden.append(np.asarray(tf.matmul(values.reshape(len(values), -1), w1), dtype="float64") + b1)
        if _is_sigmoid_of(output, np.maximum(hidden[-1], 0.0) @ w2 + b2):
            return count_params(model.trainable_weights)
    for pre in hidden:  # not the lesson's head: say what it computes instead
        if _same(output, np.maximum(pre, 0.0) @ w2 + b2):
            raise Wrong(f"the output unit of {what} has no sigmoid: it gives logits (any real number), not the "
                        "probability of 'dog'. Use Dense(1, activation='sigmoid').")
        if np.allclose(output, 1.0):
            raise Wrong(f"{what} always outputs 1.0: softmax over a single unit is always 1. One unit for two "
                        "classes needs sigmoid: Dense(1, activation='sigmoid').")
        if _is_sigmoid_of(output, pre @ w2 + b2):
            raise Wrong(f"the Dense(1024) of {what} has no activation: without relu the two Dense layers collapse "
                        "into one linear map. Use Dense(1024, activation='relu').")
    hidden_activation = _activation(dense[0]) if dense else None
    if hidden_activation not in (None, "relu", "linear"):
        raise Wrong(f"the Dense(1024) of {what} uses {hidden_activation}; the lesson's uses relu.")
    output_activation = _activation(dense[-1]) if dense else None
    if output_activation not in (None, "sigmoid", "linear"):
        raise Wrong(f"the output unit of {what} uses {output_activation}; one probability for 'dog' needs sigmoid.")
    raise Wrong(f"the output of {what} is not Flatten, Dense(1024, relu) and Dense(1, sigmoid) applied to {on}: "
                "build the head directly on that output, with nothing in between.")


def _probe_images(size: int = IMAGE_SIZE) -> np.ndarray:
    """Four fixed 0-255 images, dark to bright, for running a model end to end."""
    noise = np.random.default_rng(11).uniform(0, 255, (4, size, size, 3))
    return (noise * np.linspace(0.25, 1.0, 4)[:, None, None, None]).astype("float32")


@exercise("05", 1, "cut at mixed6 and predict the head's size", hints="""
    - pre_trained.get_layer('mixed6').output.shape gives (None, height, width, channels); Flatten turns it into
      height x width x channels values.
    - Dense(1024) on n values: n x 1024 weights + 1024 biases. Dense(1): 1024 weights + 1 bias.
""", solution="""
    mixed6 = pre_trained.get_layer("mixed6")
    print(mixed6.output.shape)
    h, w, c = mixed6.output.shape[1:]
    mixed6_head_params = (h * w * c) * 1024 + 1024 + 1024 + 1
    x = keras.layers.Flatten()(mixed6.output)
    x = keras.layers.Dense(1024, activation="relu")(x)
    x = keras.layers.Dense(1, activation="sigmoid")(x)
    model_mixed6 = keras.Model(pre_trained.input, x)
""")
def ex1(mixed6_head_params, model_mixed6) -> str:
    return _ex1(mixed6_head_params, model_mixed6)


def _ex1(mixed6_head_params, model_mixed6) -> str:
    model = require_model(model_mixed6, "model_mixed6")
    found = _find(model, "mixed6")
    expect(found is not None, "model_mixed6 has no layer mixed6: you cut earlier. Build the head on "
                              "pre_trained.get_layer('mixed6').output.")
    expect(_find(model, "mixed7") is None, "model_mixed6 still contains mixed7: build the head on "
                                           "get_layer('mixed6').output (the layers after the cut then drop out of "
                                           "the model).")
    container, mixed6 = found
    cut = keras_of(container).Model(container.inputs, mixed6.output)  # the base up to mixed6, its weights shared
    size = tuple(int(d) for d in cut.inputs[0].shape[1:3])
    expect(size == (IMAGE_SIZE, IMAGE_SIZE), f"model_mixed6 takes {size[0]}x{size[1]} images; pre_trained takes "
                                             f"{IMAGE_SIZE}x{IMAGE_SIZE}: build the model on pre_trained.")
    base = {id(w) for w in cut.weights}
    training = [w for w in model.trainable_weights if id(w) in base]
    if training:
        raise Wrong(f"{len(training)} weights of the InceptionV3 base train ({count_params(training):,} parameters, "
                    f"the first: {training[0].name}): freeze the backbone (pre_trained.trainable = False) before you "
                    "train the head; model_mixed6.trainable_weights is what fit updates.")
    shape = tuple(int(d) for d in mixed6.output.shape[1:])
    images = _probe_images()
    # the features mixed6 gives, for the raw pixels and for the two usual preprocessings inside the model
    features = [lambda pixels=pixels: cut(pixels, training=False) for pixels in (images, images / 127.5 - 1,
                                                                                 images / 255)]
    expected = _check_head(model, lambda: model(images, training=False), features, shape, "model_mixed6",
                           "mixed6's output")
    answer = as_int(mixed6_head_params, "mixed6_head_params")
    flat = int(np.prod(shape))
    return judge(answer, expected, f"mixed6 gives {shape[0]}x{shape[1]}x{shape[2]} at {IMAGE_SIZE}x{IMAGE_SIZE}, the "
                 "same shape as mixed7 (mixed3 to mixed7 all keep that grid), so your head has the same "
                 f"{expected:,} trainable parameters: {flat:,} x 1,024 + 1,024, then 1,024 + 1.", [
        (flat * 1024 + 1024, f"{answer:,} is {flat:,} x 1,024 + 1,024: something is missing. Dense(1024) has "
                             f"{flat:,} x 1,024 weights and 1,024 biases; the output Dense(1) adds 1,024 weights and 1 bias."),
        (expected - 1, f"{answer:,} leaves out the output unit's bias (1)."),
        (flat * 1024, f"{answer:,} counts only the first Dense layer's weights: add its 1,024 biases and the output "
                      "unit (1,024 weights + 1 bias)."),
        (flat, f"{answer:,} is the number of values after Flatten, not the head's parameters."),
        (_head_size((17, 17, 768)), f"{answer:,} is the head for 299x299 inputs (a 17x17x768 map); this model takes "
                                    f"{IMAGE_SIZE}x{IMAGE_SIZE}."),
        (model.count_params(), f"{answer:,} is every parameter of model_mixed6, the frozen base included: count "
                               "only the head's (what trains)."),
    ], f"{answer:,} is not your head's size ({flat:,} values after Flatten): read "
       "pre_trained.get_layer('mixed6').output.shape, then count Flatten (no weights), Dense(1024) and Dense(1).")


def sample_batch() -> np.ndarray:
    """Four 64x64 RGB images as float32 in 0-255, as image_dataset_from_directory gives them."""
    rng = np.random.default_rng(7)
    base = rng.random((4, 8, 8, 3))
    return np.kron(base, np.ones((1, 8, 8, 1))).astype("float32") * 255.0  # blocky, so a shift shows


def _share_of_values_kept(changed: np.ndarray, original: np.ndarray, tolerance: float = 1e-3) -> float:
    """The share of the values of ``changed`` that are (within ``tolerance``) values of ``original``, or 0 or -1
    (what a constant fill of 0 becomes after or before the scaling)."""
    values = np.unique(np.concatenate([original.ravel(), [-1.0, 0.0]]))
    flat = changed.ravel()
    at = np.clip(np.searchsorted(values, flat), 1, len(values) - 1)
    nearest = np.minimum(np.abs(flat - values[at - 1]), np.abs(flat - values[at]))
    return float(np.mean(nearest <= tolerance))


@exercise("05", 2, "augment the training data only", hints="""
    - Build the random layers once (RandomRotation, RandomTranslation, RandomZoom, RandomFlip) in a keras.Sequential,
      outside the function.
    - Inside prepare: keras.applications.inception_v3.preprocess_input(images) always (pixels / 127.5 - 1, the
      range InceptionV3 was trained on); random_changes(images, training=True) only if training.
""", solution="""
    random_changes = keras.Sequential([
        keras.layers.RandomRotation(40 / 360, fill_mode="nearest"),
        keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
        keras.layers.RandomZoom(0.2, fill_mode="nearest"),
        keras.layers.RandomFlip("horizontal"),
    ])

    def prepare_images(images, training):
        images = keras.applications.inception_v3.preprocess_input(tf.cast(images, tf.float32))
        if training:
            images = random_changes(images, training=True)
        return images

    prepare = prepare_images
""")
def ex2(prepare) -> str:
    return _ex2(prepare)


def _call(prepare, images, training: bool):
    """``prepare(images, training)``: a Keras model or layer takes ``training`` only as a keyword (Keras 3), a
    function positionally (any name for its second parameter works)."""
    if is_keras(prepare, "Layer"):
        return prepare(tf.constant(images), training=training)
    return prepare(tf.constant(images), training)


def _ex2(prepare) -> str:
    expect(callable(prepare), f"prepare should be a function of (images, training), not {type(prepare).__name__}.")
    images = sample_batch()
    expected = images / 127.5 - 1.0  # inception_v3.preprocess_input
    first = _call(prepare, images, False)
    if isinstance(first, (tuple, list)):
        raise Wrong(f"prepare returns a {type(first).__name__} of {len(first)} items; it should return the batch of "
                    f"images alone (a tensor or an array of shape {images.shape}).")
    first = np.asarray(first, dtype="float64")
    second = np.asarray(_call(prepare, images, False), dtype="float64")
    expect(first.shape == images.shape, f"prepare changed the shape from {images.shape} to {first.shape}.")
    expect(first.max() <= 1.5, f"validation values go up to {first.max():.0f}: scale them to [-1, 1] with "
                               "keras.applications.inception_v3.preprocess_input (pixels / 127.5 - 1).")
    expect(not np.allclose(first, images / 255.0, atol=1e-4),
           "validation values are in [0, 1]: that is the lesson's rescale=1/255, but InceptionV3 was trained on "
           "pixels in [-1, 1]. Use keras.applications.inception_v3.preprocess_input (pixels / 127.5 - 1).")
    expect(not (first.max() - first.min() < 0.1), f"validation values lie in [{first.min():.3f}, {first.max():.3f}]: "
                                                  "you scaled twice. Scale the 0-255 pixels once.")
    expect(np.allclose(first, second, atol=1e-5), "two calls with training=False gave different images: augmentation "
                                                  "runs on the validation data too. Apply it only when training is "
                                                  "True.")
    expect(np.allclose(first, expected, atol=1e-4), "with training=False the images should only be scaled to "
                                                    "[-1, 1] (preprocess_input: pixels / 127.5 - 1), nothing else.")
    augmented = [np.asarray(_call(prepare, images, True), dtype="float64") for _ in range(4)]
    expect(all(a.shape == images.shape for a in augmented), "prepare(images, training=True) changed the shape of the "
                                                            "batch.")
    expect(max(a.max() for a in augmented) <= 1.5, "training values go above 1: scale the training images too.")
    expect(min(a.min() for a in augmented) < -0.5, "training values are not in [-1, 1] like the validation values: "
                                                   "scale both the same way (preprocess_input), then augment.")
    expect(not all(np.allclose(a, expected, atol=1e-4) for a in augmented), "training images come out unchanged: "
                                                                            "when training is True, pass them "
                                                                            "through the random layers, called "
                                                                            "with training=True (in inference mode "
                                                                            "they do nothing).")
    expect(not all(np.allclose(a, augmented[0], atol=1e-4) for a in augmented[1:]),
           "training images change, but the same way on every call: that is not random augmentation. Use random "
           "layers (RandomFlip, RandomRotation ...) built once, outside prepare: a layer built inside with a fixed "
           "seed, or tf.image.flip_left_right, repeats itself.")
    # Rotation, shift, zoom and flip move pixels: inside the sample's 8x8 blocks the scaled values come through
    # unchanged, only in new places. Brightness, contrast or noise change the values themselves.
    kept = np.median([_share_of_values_kept(a[i, ..., c], expected[i, ..., c]) for a in augmented
                      for i in range(len(images)) for c in range(images.shape[-1])])
    expect(kept >= 0.2, f"training images change in value, not in place (only {kept:.0%} of the values are the "
                         "image's own): brightness, contrast or noise is not the task's augmentation. Rotation, shift, "
                         "zoom and flip move the pixels and keep their values: use RandomRotation, "
                         "RandomTranslation, RandomZoom and RandomFlip, and nothing else.")
    changed = float(np.mean([np.mean(~np.isclose(a, expected, atol=1e-3)) for a in augmented]))
    return (f"validation: only scaled to [-1, 1], the same on every call; training: scaled and randomly changed, "
            f"differently on each call ({changed:.0%} of the values differ on average).")


def mixed7_features() -> keras.layers.Layer:
    """``keras.Input(shape=(7, 7, 768))``: stands for mixed7's output at 150x150."""
    return keras.Input(shape=(7, 7, 768), name="mixed7_output")


@exercise("05", 3, "Dropout in the right place", hints="""
    - The lesson's head: Flatten, Dense(1024, relu), Dense(1, sigmoid). Dropout goes between the two Dense layers.
    - keras.layers.Dropout(rate): rate is the fraction of values set to zero during training.
""", solution="""
    x = keras.layers.Flatten()(features)
    x = keras.layers.Dense(1024, activation="relu")(x)
    x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.Dense(1, activation="sigmoid")(x)
    head = keras.Model(features, x)
""")
def ex3(head) -> str:
    return _ex3(head)


def _ex3(head) -> str:
    model = require_model(head, "head")
    sample = np.random.default_rng(0).random((2, 7, 7, 768)).astype("float32")
    try:
        model(sample, training=False)
    except Exception as error:  # noqa: BLE001 - any failure means the head does not take mixed7's output
        raise Wrong(f"head cannot take mixed7's 7x7x768 output ({type(error).__name__}): build it on features "
                    "(or an Input of shape (7, 7, 768)).") from None
    layers = [layer for layer in layers_within(model) if not is_keras(layer, "InputLayer")]
    kinds = [type(layer).__name__ for layer in layers]
    expect("Dropout" in kinds, "head has no Dropout layer: add Dropout(0.2) after the Dense(1024).")
    expect(kinds.count("Dropout") <= 1, "head has more than one Dropout layer; the lesson adds one, after the "
                                        "Dense(1024).")
    dropout = layers[kinds.index("Dropout")]
    dense = [layer for layer in layers if is_keras(layer, "Dense")]
    expect(len(dense) == 2, f"head has {len(dense)} Dense layers; the lesson's has two: Dense(1024, relu) and "
                            "Dense(1, sigmoid).")
    position = layers.index(dropout)
    expect(position < layers.index(dense[1]), "Dropout comes after the output unit: it would zero the predictions "
                                              "themselves. Put it between Dense(1024) and Dense(1).")
    expect(position > layers.index(dense[0]), "Dropout comes before the Dense(1024): it drops input features. The "
                                              "lesson drops the Dense(1024)'s outputs: put it right after that "
                                              "layer.")
    expect(abs(dropout.rate - 0.2) <= 1e-9, f"Dropout({dropout.rate:g}) drops {dropout.rate:.0%} of the values in "
                                            "training: the rate is the fraction dropped, and the lesson's "
                                            "Dropout(0.2) drops 20%.")
    size = _check_head(model, lambda: model(sample, training=False), [sample], (7, 7, 768), "head",
                       "mixed7's 7x7x768 output")
    in_training = [np.asarray(model(sample, training=True)) for _ in range(3)]
    expect(not all(np.allclose(out, in_training[0]) for out in in_training[1:]),
           "in training, head gives the same output on every call: its Dropout drops nothing. Call the layer "
           "without training=False, so that fit switches it on.")
    return (f"Dropout(0.2) between Dense(1024) and the output adds no parameters (still {size:,} trainable); it "
            "drops 20% of the 1,024 activations in fit() only (training=True), never in evaluate() or predict().")
