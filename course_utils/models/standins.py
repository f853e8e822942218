"""The quick profile's stand-ins for ImageNet weights: every recipe in one place.

A stand-in is a weights file in Keras 3's ``.weights.h5`` format, built offline from
random filters, read by the same ``weights=`` / ``load_weights`` call as the
real file. It is NOT ImageNet features; it lets the lessons run without the
network. Each recipe is fixed (seed, model, calibration images), so the file
is the same on every machine:

* InceptionV3 no-top (lesson 05): Keras's random init, then every BatchNorm
  layer's statistics measured on 32 generated images (:func:`calibrate_batchnorm`).
* VGG19 no-top (lesson 04) and VGG16 no-top (lesson 06): random zero-mean
  filters scaled layer by layer to unit variance on crops of scikit-image's
  photos (:func:`_stand_in_init`).

Each file gets a manifest beside it (``<file>.manifest.json``: its SHA-256 and recipe), so a damaged copy is
noticed and rebuilt.
A recipe seeds the random generators of the process it runs in (Keras builds
its layers from them), so :func:`stand_in_file` runs it in a Python process of
its own: the caller's Python, NumPy, TensorFlow and Keras generators stay as
they were, built or not.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import classroom, env, files

__all__ = ["RECIPES", "StandInBuildError", "calibrate_batchnorm", "layer_rms", "stand_in_file"]

# The standard deviation VGG16's last convolution's output gets on the calibration photos.
_VGG16_LAST_STD = 0.1


def calibrate_batchnorm(model, images) -> int:
    """Set every BatchNormalization layer's moving mean and variance to ``images``' statistics.

    One forward pass in training mode with momentum 0: each layer normalises
    with the batch statistics (computed on the already-normalised output of
    the layers before it) and stores them as its moving statistics. Returns
    the number of layers set. A random-init network keeps the initial
    statistics (mean 0, variance 1) otherwise, and its activations shrink
    layer after layer: at ``mixed7`` of InceptionV3 they are about 1e-3, too
    small for a head to learn from at the lesson's learning rate.
    """
    import tensorflow as tf

    from course_utils.models import is_keras

    batchnorms = [layer for layer in model.layers if is_keras(layer, "BatchNormalization")]
    momenta = [layer.momentum for layer in batchnorms]
    try:
        for layer in batchnorms:
            layer.momentum = 0.0
        model(tf.convert_to_tensor(images, tf.float32), training=True)
    finally:
        for layer, momentum in zip(batchnorms, momenta):
            layer.momentum = momentum
    return len(batchnorms)


def _stand_in_init(model, images, *, seed: int = 0, last_std: float | None = None) -> list[float]:
    """Give every convolution of ``model`` random, zero-mean, variance-preserving filters; returns the scales.

    Keras's default (Glorot-uniform) initialisation roughly halves the signal
    at each ReLU convolution: at VGG19's ``block5_pool`` the features are
    about 1e-4, far too small for a new head to learn from in a few steps.
    So, layer after layer: draw He-normal filters, subtract each filter's
    mean (a trained filter responds to contrast, not to overall brightness,
    and without this one shared brightness component dominates all 512
    features), set the bias to 0, then divide the filters by the standard
    deviation of the layer's output on ``images`` (LSUV, "layer-sequential
    unit-variance" initialisation). No labels are involved.

    ``last_std`` (VGG16's recipe) scales the last convolution's output to
    that standard deviation instead of 1, so that VGG16's fc1, which sees 49
    copies of each of the 512 features, starts with logits of a sensible
    size (with 1 the quick profile's SGD diverged to nan). The two recipes
    apply the scale as they always did (VGG19 divides, VGG16 multiplies), so
    both files stay the same bit for bit.
    """
    import tensorflow as tf

    from course_utils.models import is_keras

    rng = np.random.default_rng(seed)
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    convolutions = [layer for layer in model.layers if is_keras(layer, "Conv2D")]
    scales = []
    for layer in model.layers:
        if is_keras(layer, "InputLayer"):
            continue
        if is_keras(layer, "Conv2D"):
            kernel, bias = layer.get_weights()
            kernel = rng.normal(0.0, np.sqrt(2.0 / np.prod(kernel.shape[:3])), kernel.shape).astype(np.float32)
            kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
            bias = np.zeros_like(bias)
            layer.set_weights([kernel, bias])
            std = float(tf.math.reduce_std(layer(x)))
            if not np.isfinite(std) or std <= 0:
                raise ValueError(f"{layer.name}: output has no variance on the calibration images")
            if last_std is None:
                layer.set_weights([kernel / std, bias])
                scales.append(1.0 / std)
            else:
                scale = (last_std if layer is convolutions[-1] else 1.0) / std
                layer.set_weights([kernel * scale, bias])
                scales.append(scale)
        x = layer(x)
    return scales


def _inception_v3(*, input_shape=(150, 150, 3), seed: int = 0, calibration_images=None):
    """A random-init (``weights=None``) no-top InceptionV3 with calibrated BatchNorm statistics.

    The convolutions are random. Only the BatchNorm statistics are measured,
    on ``calibration_images`` (default: 32 generated images in 0..1, see
    :func:`calibrate_batchnorm`), so activations keep a usable scale. Seeds
    the random generators with ``seed`` first, so the weights are reproducible.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.applications.InceptionV3(input_shape=input_shape, include_top=False, weights=None)
    if calibration_images is None:
        from course_utils.data import generated

        images, _ = generated.make_images(32, tuple(input_shape[:2]), num_classes=2, seed=seed + 7919)
        calibration_images = images.astype("float32") / 255.0
    calibrate_batchnorm(model, calibration_images)
    return model


def _lsuv_vgg(application, calibration, seed: int, last_std: float | None = None):
    """``application`` (VGG19 or VGG16) without its top, seeded, then :func:`_stand_in_init` on ``calibration``."""
    import keras

    keras.utils.set_random_seed(seed)
    model = application(weights=None, include_top=False, input_shape=calibration.shape[1:])
    _stand_in_init(model, calibration, seed=seed, last_std=last_std)
    return model


def _vgg19(*, seed: int = 0):
    """A no-top VGG19 for 32x32 inputs, calibrated on 64 crops of the photos scikit-image ships
    (:func:`course_utils.data.photos.photo_crops`): natural images unrelated to the task."""
    import keras

    from course_utils.data.photos import photo_crops

    return _lsuv_vgg(keras.applications.vgg19.VGG19, photo_crops(64, 32, seed=seed), seed)


def _vgg16(*, seed: int = 0):
    """A no-top VGG16 calibrated on the same crops in 0-255 through ``vgg16.preprocess_input``, as the
    lesson's images are, with its last convolution's std 0.1. Its weights load into a VGG16 base of any
    input size (convolution weights do not depend on it)."""
    import keras

    from course_utils.data.photos import photo_crops

    calibration = keras.applications.vgg16.preprocess_input(photo_crops(64, 32, seed=seed) * 255.0)
    return _lsuv_vgg(keras.applications.vgg16.VGG16, calibration, seed, last_std=_VGG16_LAST_STD)


class _Recipe(NamedTuple):
    title: str
    filename: str
    build: Callable[..., object]  # build(seed=...) -> a model with the stand-in weights
    how: str


RECIPES = {
    "inception_v3_notop": _Recipe("InceptionV3 no-top", "inception_v3_random_init_notop.weights.h5", _inception_v3,
                                 "random init, BatchNorm statistics measured"),
    "vgg19_notop": _Recipe("VGG19 no-top", "vgg19_notop_course_stand_in.weights.h5", _vgg19,
                          "random, zero-mean filters, LSUV-scaled"),
    "vgg16_notop": _Recipe("VGG16 no-top", "vgg16_notop_course_stand_in_v1.weights.h5", _vgg16,
                          "random zero-mean filters, LSUV-scaled"),
}


_KIND = "stand-in weights"  # a stand-in file's manifest, ``<file>.manifest.json`` beside it: its SHA-256


def _weights_file_is_intact(path: str | Path) -> bool:
    """True when ``path`` is a file matching the SHA-256 in its manifest (a damaged or half-written one does not)."""
    noted = files.read_manifest(path, _KIND) if Path(path).is_file() else None
    return noted is not None and noted.get("sha256") == files.sha256(path)


class StandInBuildError(CourseError, RuntimeError):
    """The process that builds a stand-in weights file failed (the message carries the end of its output)."""


def _build_weights(name: str, staging: Path, seed: int) -> None:
    """Run the recipe ``RECIPES[name]`` in a new Python process (it inherits the environment, the offline
    guard among it) and save the weights it builds to ``staging``."""
    done = subprocess.run([sys.executable, "-m", __name__, name, str(staging), str(seed)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StandInBuildError(f"building the stand-in {RECIPES[name].title} weights failed (exit {done.returncode}); "
                                f"the build process said:\n{(done.stdout + done.stderr)[-3000:]}")


def stand_in_file(name: str, *, seed: int = 0) -> Path:
    """The stand-in weights file for ``name`` (a key of :data:`RECIPES`), built once.

    A classroom's shared folder (``classroom.find_data``) is read first; otherwise the
    file is built in ``env.keras_home()/models`` (by :func:`_build_weights`, in a process of its own) through
    ``files.build_once`` (of several processes one builds, the others wait and reuse it), with its
    SHA-256 in its manifest beside it (``<file>.manifest.json``), so a damaged file is rebuilt.
    """
    recipe = RECIPES[name]
    own = env.keras_home() / "models" / recipe.filename
    found = classroom.find_data(own, what=f"the stand-in {recipe.title} weights")  # a classroom's shared copy first
    if found != own and _weights_file_is_intact(found):
        say(f"stand-in {recipe.title} weights: {found}")
        return found
    own.parent.mkdir(parents=True, exist_ok=True)
    built = []

    def build(staging: Path) -> None:
        _build_weights(name, staging, seed)
        files.write_manifest(own, _KIND, sha256=files.sha256(staging), recipe=name, seed=seed)
        built.append(staging)

    files.build_once(own, build, ready=_weights_file_is_intact)
    say(f"built stand-in {recipe.title} weights ({recipe.how}): {own}" if built
        else f"stand-in {recipe.title} weights: {own}")
    return own


def layer_rms(model, images, *, layer_names=None):
    """A table of each layer's output root-mean-square on ``images``: does the signal survive?"""
    import pandas as pd
    import tensorflow as tf

    from course_utils.models import is_keras, keras_of

    chosen = [layer for layer in model.layers
              if (layer_names is None and (is_keras(layer, "Conv2D") or is_keras(layer, "MaxPooling2D")))
              or (layer_names is not None and layer.name in layer_names)]
    if not chosen:
        raise ValueError("no layer to measure: pass layer_names that the model has")
    probe = keras_of(model).Model(model.inputs, [layer.output for layer in chosen])
    outputs = probe(tf.convert_to_tensor(np.asarray(images, dtype=np.float32)), training=False)
    if len(chosen) == 1:
        outputs = [outputs]
    rows = [{"layer": layer.name, "output RMS": float(np.sqrt(np.mean(np.square(out.numpy()))))}
            for layer, out in zip(chosen, outputs)]
    return pd.DataFrame(rows).set_index("layer")


if __name__ == "__main__":  # build_weights: python -m course_utils.models.standins NAME STAGING SEED
    _name, _staging, _seed = sys.argv[1:]
    # Keras 3 names its weights format by the suffix: write <staging>.weights.h5, then move it to staging.
    _named = Path(_staging + ".weights.h5")
    RECIPES[_name].build(seed=int(_seed)).save_weights(_named)
    os.replace(_named, _staging)
