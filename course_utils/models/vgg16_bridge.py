"""VGG16 from ImageNet to a new 10-class task, with PyTorch's 7x7 bridge rebuilt in Keras.

torchvision's VGG16 puts ``AdaptiveAvgPool2d((7, 7))`` between the
convolutions and the classifier, so its pretrained ``fc1`` (25088 -> 4096)
accepts any input size: a 1x1 or 2x2 feature map is spread to 7x7 first.
Keras's VGG16 flattens ``block5_pool`` directly, so with its top it only
takes 224x224 inputs. This module rebuilds the bridge
(:class:`AdaptiveAveragePooling2D`, the same arithmetic as PyTorch's).

The lesson notebook builds ``VGG16 convolutions -> bridge -> Flatten -> fc1
-> fc2 -> Dense(10)`` itself, with fc1 and fc2 *copied* from the ImageNet
model with its top; :func:`build_vgg16_transfer` is the same recipe,
packaged for tests. The ImageNet weight files come from the course's shared
registry, :mod:`course_utils.models.weights` (downloaded once, verified);
:func:`base_weights` adds the quick profile's offline stand-in for the
convolutional base (:func:`build_stand_in_weights`). The rest is
measurement: the size of the base's features (:func:`base_feature_bytes`,
about 100 KB per image at 224x224), multiply-adds per image and the time of
a training step.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_utils.models import weights as course_weights

layers = tf.keras.layers

FC_LAYERS = ("fc1", "fc2")
BRIDGE_SIZE = 7
FEATURE_CHANNELS = 512


class WeightsError(RuntimeError):
    """VGG16 weights that could not be found, downloaded or copied; the message says what to do."""


# --- the bridge ---------------------------------------------------------------------------

def feature_map_size(input_size: int) -> int:
    """Height (= width) of VGG16's last feature map: five 2x2 max-pools halve the size five times."""
    if input_size < 32:
        raise ValueError(f"VGG16 needs inputs of at least 32x32 pixels, got {input_size}")
    size = input_size
    for _ in range(5):
        size //= 2
    return size


def adaptive_pool_matrix(input_size: int, output_size: int = BRIDGE_SIZE) -> np.ndarray:
    """``[output_size, input_size]`` averaging weights of PyTorch's adaptive average pooling.

    Output cell ``i`` averages input cells ``floor(i * n / m)`` up to
    ``ceil((i + 1) * n / m)`` (exclusive), for ``n`` inputs and ``m`` outputs.
    From 1 input every output copies it; from 7 to 7 it is the identity.
    """
    if input_size < 1 or output_size < 1:
        raise ValueError(f"sizes must be positive, got {input_size} -> {output_size}")
    matrix = np.zeros((output_size, input_size), dtype=np.float32)
    for i in range(output_size):
        start = (i * input_size) // output_size
        end = -((-(i + 1) * input_size) // output_size)  # ceil without floats
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class AdaptiveAveragePooling2D(layers.Layer):
    """PyTorch's ``AdaptiveAvgPool2d`` for channels-last Keras tensors: any HxW to ``output_size``.

    It has no weights. The input's height and width must be known when the
    model is built (they are: the VGG16 base gets a fixed ``input_shape``).
    """

    def __init__(self, output_size: int = BRIDGE_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.output_size = int(output_size)

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                "AdaptiveAveragePooling2D needs a known height and width: give the VGG16 "
                "base a fixed input_shape, e.g. (32, 32, 3)"
            )
        self._rows = tf.constant(adaptive_pool_matrix(height, self.output_size))
        self._cols = tf.constant(adaptive_pool_matrix(width, self.output_size))
        super().build(input_shape)

    def call(self, inputs):  # pragma: no mutate block (Keras reads the signature; a mutmut wrapper hides it)
        rows = tf.cast(self._rows, inputs.dtype)
        cols = tf.cast(self._cols, inputs.dtype)
        return tf.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], self.output_size, self.output_size, input_shape[3]])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


# --- weights ------------------------------------------------------------------------------

def load_vgg16(include_top: bool, weights: str | None = "imagenet", input_size: int | None = None):
    """Keras's VGG16 with ``weights`` = ``"imagenet"``, ``None`` (random init) or a weights-file path.

    With its top the model takes 224x224 only (its ``fc1`` expects exactly
    7x7x512); without its top ``input_size`` picks the input. ``"imagenet"``
    is the verified file :func:`course_utils.models.weights.resolve` provides: in
    ``$KERAS_HOME/models`` (the project's data folder), downloaded once and
    checked against the MD5 Keras publishes, or a good copy Keras saved
    earlier in ``~/.keras/models``; offline, its error says where to put the
    file and that ``PROFILE = 'quick'`` runs without it.
    """
    VGG16 = tf.keras.applications.vgg16.VGG16
    if include_top and input_size not in (None, 224):
        raise ValueError(f"VGG16 with its top takes 224x224 inputs only, not {input_size}")
    if not include_top and input_size is None:
        raise ValueError("give input_size for VGG16 without its top (e.g. 32 or 224)")
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise WeightsError(f"no VGG16 weights file at {weights}: use 'imagenet', None or a .h5 path")
    weights = course_weights.resolve("vgg16", weights, include_top=include_top)
    if include_top:
        return VGG16(include_top=True, weights=weights)
    try:
        return VGG16(include_top=False, weights=weights, input_shape=(input_size, input_size, 3))
    except OSError as exc:
        raise WeightsError(f"cannot read the VGG16 weights file {weights} ({exc}): delete it and run again") from exc


# --- the quick profile's stand-in for the ImageNet convolutions ------------------------------

STAND_IN_FILENAME = "vgg16_notop_course_stand_in_v1.h5"
WEIGHT_SOURCES = ("imagenet", "stand-in", None)
# The standard deviation the last convolution's output gets on the calibration photos.
STAND_IN_LAST_STD = 0.1


def stand_in_init(model, images, *, seed: int = 0, last_std: float = STAND_IN_LAST_STD) -> list[float]:
    """Random, zero-mean, variance-preserving filters for every convolution of ``model``; returns the scales.

    Keras's default (Glorot-uniform) initialisation roughly halves the signal
    at each of VGG16's 13 ReLU convolutions: on the quick profile's images
    the 1x1x512 features at 32x32 were about 0.07, all nearly alike, and the
    retrained fc1/fc2 stayed at chance. So, layer after layer: He-normal
    filters, each filter's mean subtracted (a trained filter responds to
    contrast, not overall brightness), bias 0, then the filters divided by
    the standard deviation of the layer's output on ``images`` (LSUV,
    "layer-sequential unit-variance"); the last convolution is scaled to
    ``last_std`` instead of 1, so that fc1, which sees 49 copies of each of
    the 512 features, starts with logits of a sensible size (with 1 the
    quick profile's SGD diverged to nan). No labels are involved.
    """
    rng = np.random.default_rng(seed)
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    convolutions = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    scales = []
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.Conv2D):
            kernel, bias = layer.get_weights()
            kernel = rng.normal(0.0, np.sqrt(2.0 / np.prod(kernel.shape[:3])), kernel.shape).astype(np.float32)
            kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
            bias = np.zeros_like(bias)
            layer.set_weights([kernel, bias])
            std = float(tf.math.reduce_std(layer(x)))
            if not np.isfinite(std) or std <= 0:
                raise ValueError(f"{layer.name}: output has no variance on the calibration images")
            target = last_std if layer is convolutions[-1] else 1.0
            layer.set_weights([kernel * (target / std), bias])
            scales.append(target / std)
        x = layer(x)
    return scales


def build_stand_in_weights(path: str | Path, *, seed: int = 0, calibration_images=None) -> Path:
    """Save a no-top VGG16 initialised by :func:`stand_in_init` as ``.h5`` (Keras's weights format).

    ``calibration_images`` (RGB, 0-255) default: 64 crops of 32x32 from the
    photos scikit-image ships (:func:`course_utils.data.photos.photo_crops`),
    natural images unrelated to the task, put through
    ``vgg16.preprocess_input`` as the lesson's images are. The file loads
    into a VGG16 base of any input size (convolution weights do not depend
    on it). Saved atomically with a ``.sha256`` file beside it.
    """
    from course_utils.data.photos import photo_crops
    from course_utils.models.standins import save_weights_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if calibration_images is None:
        calibration_images = photo_crops(64, 32, seed=seed) * 255.0
    calibration = tf.keras.applications.vgg16.preprocess_input(np.array(calibration_images, dtype=np.float32))
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.applications.vgg16.VGG16(include_top=False, weights=None,
                                              input_shape=tuple(calibration.shape[1:]))
    stand_in_init(model, calibration, seed=seed)
    return save_weights_file(model, path)


def base_weights(source: str | None, *, seed: int = 0, folder: str | Path | None = None, printer=print,
                 **fetch_options) -> str | None:
    """What to pass as ``VGG16(include_top=False, weights=...)`` for the profile's ``source``.

    ``"imagenet"``: the path of Keras's VGG16 no-top ImageNet file, fetched
    once into ``$KERAS_HOME/models`` and verified (:func:`course_utils.models.weights.resolve`).
    ``"stand-in"``: the quick profile's offline file (built once, checked on
    reuse): random filters, NOT ImageNet features. ``None``: Keras's random init.
    """
    if source is None:
        return None
    if source == "imagenet":
        return course_weights.resolve("vgg16", "imagenet", include_top=False, **fetch_options)
    if source != "stand-in":
        raise WeightsError(f"unknown VGG16 weights source {source!r}: use 'imagenet', 'stand-in' or None")
    from course_utils.models.standins import weights_file_is_intact
    from course_utils.setup import env

    path = (Path(folder) if folder is not None else env.keras_home() / "models") / STAND_IN_FILENAME
    if weights_file_is_intact(path):
        printer(f"stand-in VGG16 no-top weights: {path}")
    else:
        build_stand_in_weights(path, seed=seed)
        printer(f"built stand-in VGG16 no-top weights (random zero-mean filters, LSUV-scaled): {path}")
    return str(path)


def copy_dense_weights(source, target, names: Iterable[str] = FC_LAYERS) -> list[str]:
    """Copy the weights of the layers ``names`` from ``source`` to ``target``; returns the names.

    A shape mismatch (e.g. an fc1 that does not see 7x7x512 features) is an
    error that names the layer and both shapes.
    """
    copied = []
    for name in names:
        weights = source.get_layer(name).get_weights()
        layer = target.get_layer(name)
        shapes = [w.shape for w in layer.get_weights()]
        if shapes != [w.shape for w in weights]:
            raise ValueError(
                f"cannot copy {name!r}: the source has shapes {[w.shape for w in weights]}, "
                f"the target {shapes} (does the bridge give {BRIDGE_SIZE}x{BRIDGE_SIZE}x{FEATURE_CHANNELS}?)"
            )
        layer.set_weights(weights)
        copied.append(name)
    return copied


def max_weight_difference(a, b) -> float:
    """The largest absolute difference between two layers' (or models') weights."""
    wa, wb = a.get_weights(), b.get_weights()
    if [w.shape for w in wa] != [w.shape for w in wb]:
        raise ValueError("the two have differently shaped weights")
    return float(max((np.max(np.abs(x - y)) for x, y in zip(wa, wb)), default=0.0))


# --- the model ----------------------------------------------------------------------------

def build_vgg16_transfer(input_size: int, source, *, weights: str | None = "imagenet",
                         num_classes: int = 10, dropout: float = 0.5):
    """VGG16 convolutions -> 7x7 bridge -> Flatten -> fc1 -> fc2 -> new ``Dense(num_classes)``.

    ``source`` is VGG16 *with* its top (:func:`load_vgg16` ``(True, ...)``):
    its fc1 and fc2 weights are copied in. The convolutional base (a nested
    model named ``vgg16``) gets ``weights`` for ``input_size``. Dropout after
    fc1 and fc2 is what torchvision's classifier (and the original VGG
    training) has; Keras's inference-only top leaves it out. Everything is
    trainable as built: freezing is the caller's, visible step. The output
    layer gives logits.
    """
    base = load_vgg16(False, weights, input_size)
    inputs = tf.keras.Input((input_size, input_size, 3), name="image")
    features = base(inputs)
    bridged = AdaptiveAveragePooling2D(BRIDGE_SIZE, name="bridge")(features)
    x = layers.Flatten(name="flatten")(bridged)
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    x = layers.Dropout(dropout, name="fc2_dropout")(x)
    outputs = layers.Dense(num_classes, name="output")(x)
    model = tf.keras.Model(inputs, outputs, name=f"vgg16_transfer_{input_size}")
    copy_dense_weights(source, model)
    return model


# --- cached features: how much disk they take -------------------------------------------

class FeatureSpaceError(RuntimeError):
    """The disk lacks room for the features the cache would write; the message says what to do."""


def base_feature_bytes(input_size: int, num_images: int) -> int:
    """Bytes of the VGG16 base's float32 features (an n x n x 512 map per image) for ``num_images``.

    At 32x32 a map is 1x1x512 (2 KB per image); at 224x224 it is 7x7x512 =
    25,088 values (about 100 KB per image, 5 GB for 50,000 images).
    """
    side = feature_map_size(input_size)
    return int(num_images) * side * side * FEATURE_CHANNELS * 4


def _free_bytes(folder: Path) -> int:
    import shutil

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def check_feature_space(input_size: int, counts: Sequence[int], root: str | Path | None = None, *,
                        free: int | None = None, margin: float = 1.05) -> dict[str, int]:
    """The disk the cached base features of splits of ``counts`` images need; raises when it lacks room.

    ``root`` is the feature cache folder (default
    :func:`course_utils.features.features_root`). A split whose entry
    looks present already (an entry there with the same number of images
    and the same feature shape) is counted as reused, not written again.
    Returns ``{"bytes": all features, "to_write": still to write, "free": free bytes}``;
    raises :class:`FeatureSpaceError` when ``to_write * margin`` exceeds the
    free space (``free`` overrides the measured figure, for tests).
    """
    from course_utils import features as feature_cache

    root = Path(root) if root is not None else feature_cache.features_root()
    side = feature_map_size(input_size)
    shape = [side, side, FEATURE_CHANNELS]
    present = [entry["count"] for entry in feature_cache.FeatureCache(root).entries()
               if entry.get("files", {}).get("features.bin", {}).get("shape") == shape]
    total = to_write = 0
    for count in counts:
        nbytes = base_feature_bytes(input_size, count)
        total += nbytes
        if count in present:
            present.remove(count)
        else:
            to_write += nbytes
    free = _free_bytes(root) if free is None else int(free)
    if to_write * margin > free:
        raise FeatureSpaceError(
            f"the cached features need {to_write / 1e9:.1f} GB under {root} but only {free / 1e9:.1f} GB "
            "are free: free some space there, point COURSE_DATA_DIR at a disk with room, train on fewer "
            "images (LARGE_TRAIN_LIMIT), or set CACHE_FEATURES = False (no disk needed; every epoch then "
            "runs the convolutions again)"
        )
    return {"bytes": total, "to_write": to_write, "free": free}


# --- cost ---------------------------------------------------------------------------------

def multiply_adds(model) -> dict[str, int]:
    """Multiply-adds per image, ``{"convolutions": ..., "dense": ...}`` (nested models included).

    A Conv2D costs ``out_h * out_w * k_h * k_w * c_in * c_out``, a Dense
    ``inputs * units``; pooling, the bridge and activations are left out.
    """
    totals = {"convolutions": 0, "dense": 0}

    def visit(layer):
        if isinstance(layer, tf.keras.Model):
            for inner in layer.layers:
                visit(inner)
        elif isinstance(layer, layers.Conv2D):
            _, out_h, out_w, c_out = layer.output_shape
            k_h, k_w, c_in, _ = layer.kernel.shape
            totals["convolutions"] += int(out_h * out_w * k_h * k_w * c_in * c_out)
        elif isinstance(layer, layers.Dense):
            totals["dense"] += int(layer.kernel.shape[0] * layer.kernel.shape[1])

    visit(model)
    return totals


def time_train_steps(model, images, labels, steps: int = 5, warmup: int = 1) -> float:
    """Seconds of the fastest of ``steps`` ``train_on_batch`` calls on the same batch.

    ``warmup`` untimed steps absorb graph tracing. The fastest step, not the
    mean, is the estimate (as ``timeit`` does): other programs on the machine
    can only slow a step down, so the minimum is the least disturbed figure.
    The model must be compiled.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    for _ in range(warmup):
        model.train_on_batch(images, labels)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(images, labels)
        times.append(time.perf_counter() - start)
    return float(min(times))


def plot_pool_matrices(input_sizes: Sequence[int], output_size: int = BRIDGE_SIZE):
    """One heat map per input size: which input cells each of the 7 output cells averages."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(input_sizes), figsize=(3.2 * len(input_sizes), 3.4), squeeze=False)
    for ax, size in zip(axes[0], input_sizes):
        matrix = adaptive_pool_matrix(size, output_size)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_title(f"{size} -> {output_size}")
        ax.set_xlabel("input row (or column)")
        ax.set_ylabel("output row")
        ax.set_xticks(range(size))
        ax.set_yticks(range(output_size))
    fig.suptitle("Adaptive average pooling: the weight each output cell gives each input cell")
    fig.tight_layout()
    return fig
