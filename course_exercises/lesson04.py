"""Lesson 04 exercises: VGG19's preprocessing, the size of Part B's head, the fine-tuning phase."""
from __future__ import annotations

import functools

import keras
import numpy as np

from course_exercises import Wrong, as_int, as_number, count_params, exercise, expect, judge, require_model
from course_utils.models import is_keras

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # the ImageNet mean pixel VGG's Caffe weights were trained with


@functools.lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    import skimage.data
    from PIL import Image

    return np.asarray(Image.fromarray(skimage.data.coffee()).resize((224, 224)), dtype="uint8")


def photo() -> np.ndarray:
    """A 224x224 RGB photo (scikit-image's coffee cup) as uint8, values 0-255, no batch axis."""
    return _photo().copy()


@exercise("04", 1, "the preprocessing VGG19 expects", hints="""
    - Every Keras application has its own preprocess_input; the one that matches VGG19 is
      keras.applications.vgg19.preprocess_input. It wants pixels 0-255.
    - Add the batch axis with np.expand_dims(coffee, 0) and convert to float32 first (preprocess_input changes a float
      array in place).
""", solution="""
    batch = keras.applications.vgg19.preprocess_input(np.expand_dims(coffee.astype("float32"), 0))
    print("range:", batch.min(), "to", batch.max(), "| channel means (B, G, R):", batch.mean(axis=(0, 1, 2)))
""")
def ex1(batch) -> str:
    return _ex1(batch)


def _ex1(batch) -> str:
    batch = np.asarray(batch)
    raw = _photo().astype(float)
    expect(batch.shape != raw.shape, "batch has no batch axis (224, 224, 3): predict() wants (1, 224, 224, 3); "
                                     "np.expand_dims(coffee, 0) adds it.")
    expect(batch.shape == (1,) + raw.shape, f"batch has shape {batch.shape}; expected (1, 224, 224, 3): the photo with "
                                            "a batch axis.")
    x = raw[None]
    expected = keras.applications.vgg19.preprocess_input(x.copy())
    if np.allclose(batch, expected, atol=1e-3):
        return (f"caffe-style input: channels flipped to BGR, the ImageNet mean pixel subtracted, no scaling; "
                f"values from {batch.min():.1f} to {batch.max():.1f}.")
    mean = np.array(CAFFE_MEAN_BGR)
    mean_rgb = mean[::-1]
    candidates = [
        (x, "these are the raw pixels (0 to 255, RGB): VGG19 also needs the channels flipped to BGR and the "
            "ImageNet mean pixel subtracted. vgg19.preprocess_input does both."),
        (x / 255.0, "values in [0, 1] (divided by 255): that is the TF Hub models' convention. VGG19's weights "
                    "expect caffe-style input: BGR, 0-255 minus the ImageNet mean pixel, no scaling "
                    "(vgg19.preprocess_input)."),
        (x / 127.5 - 1.0, "values in [-1, 1]: that is the 'tf' preprocessing of MobileNet and Inception. VGG19 "
                          "expects caffe-style input: BGR, 0-255 minus the ImageNet mean pixel "
                          "(vgg19.preprocess_input)."),
        ((x / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
         "ImageNet mean/std normalisation in RGB (the 'torch' mode, PyTorch's): Keras's VGG19 weights come from "
         "Caffe: BGR, 0-255 minus the mean pixel, no std (vgg19.preprocess_input)."),
        (x - mean_rgb, "the mean pixel is subtracted but the channels are still in RGB order: VGG19 expects BGR "
                       "(vgg19.preprocess_input flips them)."),
        ((x / 255.0)[..., ::-1] - mean,
         "vgg19.preprocess_input on pixels already divided by 255: it subtracts the mean pixel in 0-255 units, so "
         "every value lands near -100. Give it the 0-255 photo (no rescale=1/255 before it)."),
        ((x[..., ::-1] - mean)[..., ::-1] - mean,
         "preprocessed twice (the channels flipped back to RGB, the mean pixel subtracted twice): call "
         "vgg19.preprocess_input once; it changes a float array in place."),
    ]
    for candidate, message in candidates:
        expect(not np.allclose(batch, candidate, atol=1e-3), message)
    raise Wrong(f"values from {batch.min():.1f} to {batch.max():.1f} are not what VGG19 expects: use "
                "keras.applications.vgg19.preprocess_input on the 0-255 photo.")


@functools.lru_cache(maxsize=1)
def _vgg19_32() -> tuple[tuple[int, ...], int]:
    """VGG19's output shape at 32x32 without the top, and its number of parameters."""
    base = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    return tuple(int(d) for d in base.outputs[0].shape[1:]), base.count_params()


@exercise("04", 2, "the size of Part B's head at 32x32", hints="""
    - Each of VGG19's five max-pooling layers halves the image: 32 -> 16 -> 8 -> 4 -> 2 -> 1. The last block has 512
      channels.
    - Flatten has no weights; Dense(2) has (inputs x 2) weights and 2 biases.
""", solution="""
    vgg19_32 = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    print(vgg19_32.output.shape)  # (None, 1, 1, 512)
    head_params = 1 * 1 * 512 * 2 + 2
""")
def ex2(head_params) -> str:
    return _ex2(head_params)


def _ex2(head_params) -> str:
    answer = as_int(head_params, "head_params")
    (h, w, c), base_params = _vgg19_32()
    flat = h * w * c
    expected = flat * 2 + 2
    with_base = f"{answer:,} includes the frozen VGG19 base; the head is only Flatten + Dense(2)."
    return judge(answer, expected, f"at 32x32 five poolings leave a {h}x{w}x{c} feature map; Flatten gives {flat:,} "
                 f"values and Dense(2) has {flat:,} x 2 weights + 2 biases = {expected:,}: Part B trains only these.", [
        (7 * 7 * c * 2 + 2, f"{answer:,} is the head for 224x224 inputs (a 7x7x{c} map, 25,088 values after "
                            f"Flatten); at 32x32 the map is {h}x{w}x{c}."),
        (flat * 2, f"{answer:,} counts the weights but not the 2 biases of Dense(2)."),
        (2 * 2 * c * 2 + 2, f"{answer:,} assumes a 2x2 map, after four poolings; VGG19 has five "
                            "(block1_pool to block5_pool): 32 / 2**5 = 1."),
        (flat, f"{answer:,} is the number of values after Flatten; Dense(2) has two weights per value, plus biases."),
        (base_params + expected, with_base), (base_params, with_base),
    ], f"{answer:,} is not the head's size: work out VGG19's output shape at 32x32 (base.output.shape), "
       "then Flatten, then Dense(2).")


FIRST_PHASE_LEARNING_RATE = 1e-3


def frozen_model() -> keras.Model:
    """Part B's model after its first phase: a frozen VGG19 (32x32, random weights), Flatten, Dense(2, softmax),
    compiled with Adam at 1e-3 and trained (one step) as the head was."""
    base = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    for layer in base.layers:
        layer.trainable = False
    x = keras.layers.Flatten()(base.output)
    outputs = keras.layers.Dense(2, activation="softmax", name="cactus")(x)
    model = keras.Model(base.input, outputs, name="vgg19_part_b")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=FIRST_PHASE_LEARNING_RATE),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    # One step of the first phase, as Part B's head has trained: Keras 3 then keeps training what was trainable
    # at that step until the model is compiled again (before any step, a change of trainable would count at once).
    images, labels = _step_batch(model)
    model.train_on_batch(images, labels)
    return model


def _step_batch(model: keras.Model, sparse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The batch of 4 random images and labels every training step of this module takes (one shape, one trace)."""
    rng = np.random.default_rng(4)
    images = rng.random((4,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    classes = np.array([0, 1, 0, 1])
    return images, classes if sparse else keras.utils.to_categorical(classes, 2)


def _layers_with_weights(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers that hold weights, looking inside nested models (a base added as one layer of a Sequential)."""
    return list(_frozen_parents(model))


def _frozen_parents(model: keras.Model, frozen: str | None = None) -> dict[keras.layers.Layer, str | None]:
    """Each layer that holds weights (nested models included), with the name of a model around it whose
    ``trainable`` is False (``fit`` trains nothing inside it, whatever the layer's own flag), or None."""
    frozen = frozen or (None if model.trainable else model.name)
    found = {}
    for layer in model.layers:
        if is_keras(layer):
            found.update(_frozen_parents(layer, frozen))
        elif layer.weights:
            found[layer] = frozen
    return found


def _what_a_step_changes(model: keras.Model) -> set[str]:
    """The names of the layers (nested ones included) whose weights one training step (``train_on_batch``, the step
    ``fit`` takes) changes; the model's weights and its optimizer's state are put back afterwards."""
    weights = model.get_weights()
    before = {layer.name: layer.get_weights() for layer in _layers_with_weights(model)}
    optimizer = model.optimizer
    saved = {id(v): v.numpy() for v in optimizer.variables}
    try:
        # A sparse loss takes class indices, the others one-hot rows; the loss's name or its class's is in its str().
        sparse = "sparse" in str(model.loss).lower()
        try:
            model.train_on_batch(*_step_batch(model, sparse))
        except ValueError as err:  # Keras 3: an optimizer built for other variables refuses the new ones
            if "Unknown variable" not in str(err):
                raise
            raise Wrong("the optimizer was built for the variables that trained before the change, and Keras 3 "
                        "refuses new ones: compile again with a new optimizer, keras.optimizers.Adam(learning_rate="
                        "fine_tune_rate), not model.optimizer.") from None
        return {layer.name for layer in _layers_with_weights(model)
                if any(not np.array_equal(b, a) for b, a in zip(before[layer.name], layer.get_weights()))}
    finally:
        model.set_weights(weights)
        for variable in optimizer.variables:  # the step's moments and iteration count, undone (new ones start at 0)
            variable.assign(saved.get(id(variable), np.zeros(variable.shape, variable.dtype)))


@exercise("04", 3, "the fine-tuning phase: unfreeze block5", hints="""
    - Layer names tell the block: block5_conv1 ... block5_pool. layer.name.startswith('block5') selects them.
    - After changing trainable, compile again (the change takes effect only then) with
      keras.optimizers.Adam(learning_rate=fine_tune_rate).
""", solution="""
    fine_tune_rate = 1e-5
    for layer in part_b.layers:
        if layer.name.startswith("block5"):
            layer.trainable = True
    part_b.compile(optimizer=keras.optimizers.Adam(learning_rate=fine_tune_rate),
                   loss="categorical_crossentropy", metrics=["accuracy"])
""")
def ex3(fine_tune_rate, part_b) -> str:
    return _ex3(fine_tune_rate, part_b)


def _ex3(fine_tune_rate, part_b) -> str:
    model = require_model(part_b, "part_b")
    expect(getattr(model, "optimizer", None) is not None, "the model is not compiled: compile it again after changing trainable.")
    chosen = as_number(fine_tune_rate, "fine_tune_rate")
    layers = _layers_with_weights(model)
    block5 = [layer.name for layer in layers if layer.name.startswith("block5")]
    early = [layer.name for layer in layers if layer.name.startswith("block") and layer.name not in block5]
    head = [layer.name for layer in layers if not layer.name.startswith("block")]
    changed = _what_a_step_changes(model)
    moved_early = [name for name in early if name in changed]
    if moved_early:
        raise Wrong(f"{len(moved_early)} layers before block5 train too (the first: {moved_early[0]}): unfreeze only "
                    "block5; the early blocks hold the most general features.")
    still = [name for name in block5 if name not in changed]
    if still:
        parents = _frozen_parents(model)
        inside = sorted({parents[layer] for layer in layers if layer.name in still and parents[layer]})
        if inside:
            raise Wrong(f"{', '.join(still)} sit inside {inside[0]!r}, whose trainable is False: set that model's "
                        "trainable to True and block5's layers' trainable to True, the layers before block5 False, "
                        "then compile again.")
        flagged = [layer.name for layer in layers if layer.name in still and layer.trainable]
        expect(not flagged, f"{', '.join(flagged)} {'is' if len(flagged) == 1 else 'are'} marked trainable but did not "
                            "change in a training step: compile again after changing trainable (the change takes "
                            "effect only then).")
        raise Wrong(f"{', '.join(still)} still frozen: make every layer of block5 trainable.")
    expect(all(name in changed for name in head), "the Dense head did not change in a training step: it keeps "
                                                  "training in the second phase (leave it trainable).")
    rate = float(np.asarray(model.optimizer.learning_rate))
    expect(np.isclose(rate, chosen, rtol=1e-3), f"the model is compiled with a learning rate of {rate:g}, not your "
                                                f"fine_tune_rate {chosen:g}: compile again after changing trainable, "
                                                "with learning_rate=fine_tune_rate.")
    expect(rate < FIRST_PHASE_LEARNING_RATE, f"the learning rate is {rate:g}, the first phase's: recompile with a rate "
                                             "10 to 100 times lower (1e-4 to 1e-5), or the large updates undo the "
                                             "pretrained weights. (A change of trainable takes effect only when you "
                                             "compile.)")
    expect(FIRST_PHASE_LEARNING_RATE / 100 * (1 - 1e-3) <= rate <= FIRST_PHASE_LEARNING_RATE / 10 * (1 + 1e-3),
           f"a learning rate of {rate:g} is not 10 to 100 times lower than the first phase's 0.001: try 1e-4 or 1e-5.")
    trains = count_params(model.trainable_weights)
    return (f"a training step changes block5's {len(block5)} convolutions and the head ({trains:,} parameters) at a "
            f"learning rate {FIRST_PHASE_LEARNING_RATE / rate:.0f} times lower; blocks 1 to 4 stay as they were.")
