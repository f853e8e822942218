"""The quick profile's stand-ins for ImageNet weights: every recipe in one place.

A stand-in is a weights file in Keras's ``.h5`` format, built offline from
random filters, read by the same ``weights=`` / ``load_weights`` call as the
real file. It is NOT ImageNet features; it lets the lessons run without the
network. Each recipe is fixed (seed, model, calibration images), so the file
is the same on every machine:

* InceptionV3 no-top (lesson 05): Keras's random init, then every BatchNorm
  layer's statistics measured on 32 generated images (:func:`calibrate_batchnorm`).
* VGG19 no-top (lesson 04) and VGG16 no-top (lesson 06): random zero-mean
  filters scaled layer by layer to unit variance on crops of scikit-image's
  photos (:func:`stand_in_init`).

Each file gets a ``.sha256`` beside it, so a damaged copy is noticed and rebuilt.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from course_utils.setup.files import sha256

INCEPTION_V3_FILENAME = "inception_v3_random_init_notop.h5"
VGG19_FILENAME = "vgg19_notop_course_stand_in.h5"
VGG16_FILENAME = "vgg16_notop_course_stand_in_v1.h5"
# The standard deviation VGG16's last convolution's output gets on the calibration photos.
VGG16_LAST_STD = 0.1


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

    batchnorms = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batchnorms]
    try:
        for layer in batchnorms:
            layer.momentum = 0.0
        model(tf.convert_to_tensor(images, tf.float32), training=True)
    finally:
        for layer, momentum in zip(batchnorms, momenta):
            layer.momentum = momentum
    return len(batchnorms)


def stand_in_init(model, images, *, seed: int = 0, last_std: float | None = None) -> list[float]:
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

    layers = tf.keras.layers
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
            if last_std is None:
                layer.set_weights([kernel / std, bias])
                scales.append(1.0 / std)
            else:
                scale = (last_std if layer is convolutions[-1] else 1.0) / std
                layer.set_weights([kernel * scale, bias])
                scales.append(scale)
        x = layer(x)
    return scales


def build_inception_v3(path: str | Path, *, input_shape=(150, 150, 3), seed: int = 0,
                       calibration_images=None) -> Path:
    """Save the weights of a random-init (``weights=None``) no-top InceptionV3 as ``.h5``.

    The quick profile's stand-in for the ImageNet file: the convolutions are
    random. Only the BatchNorm statistics are measured, on
    ``calibration_images`` (default: 32 generated images in 0..1, see
    :func:`calibrate_batchnorm`), so activations keep a usable scale. Seeds
    the random generators with ``seed`` first, so the file is reproducible.
    """
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.applications.InceptionV3(input_shape=input_shape, include_top=False, weights=None)
    if calibration_images is None:
        from course_utils.data import generated

        images, _ = generated.make_images(32, tuple(input_shape[:2]), num_classes=2, seed=seed + 7919)
        calibration_images = images.astype("float32") / 255.0
    calibrate_batchnorm(model, calibration_images)
    return save_weights_file(model, path)


def build_vgg19(path: str | Path, *, seed: int = 0, image_size: int = 32, calibration_images=None) -> Path:
    """Save a no-top VGG19 initialised by :func:`stand_in_init` as ``.h5`` (Keras's weights format).

    ``calibration_images`` default: 64 crops of the photos scikit-image ships
    (:func:`course_utils.data.photos.photo_crops`), natural images unrelated to
    the task.
    """
    import tensorflow as tf

    from course_utils.data.photos import photo_crops

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if calibration_images is None:
        calibration_images = photo_crops(64, image_size, seed=seed)
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.applications.vgg19.VGG19(weights=None, include_top=False,
                                              input_shape=(image_size, image_size, 3))
    stand_in_init(model, calibration_images, seed=seed)
    return save_weights_file(model, path)


def build_vgg16(path: str | Path, *, seed: int = 0, calibration_images=None) -> Path:
    """Save a no-top VGG16 initialised by :func:`stand_in_init` (last std 0.1) as ``.h5``.

    ``calibration_images`` (RGB, 0-255) default: 64 crops of 32x32 from the
    photos scikit-image ships, put through ``vgg16.preprocess_input`` as the
    lesson's images are. The file loads into a VGG16 base of any input size
    (convolution weights do not depend on it).
    """
    import tensorflow as tf

    from course_utils.data.photos import photo_crops

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if calibration_images is None:
        calibration_images = photo_crops(64, 32, seed=seed) * 255.0
    calibration = tf.keras.applications.vgg16.preprocess_input(np.array(calibration_images, dtype=np.float32))
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.applications.vgg16.VGG16(include_top=False, weights=None,
                                              input_shape=tuple(calibration.shape[1:]))
    stand_in_init(model, calibration, seed=seed, last_std=VGG16_LAST_STD)
    return save_weights_file(model, path)


def save_weights_file(model, path: str | Path) -> Path:
    """Save ``model``'s weights as ``.h5`` at ``path`` atomically, with a ``.sha256`` file beside it.

    The sidecar lets :func:`weights_file_is_intact` tell a complete file from
    a damaged or half-written one.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        model.save_weights(str(tmp), save_format="h5")
        digest = sha256(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return path


def weights_file_is_intact(path: str | Path) -> bool:
    """True when ``path`` exists and matches the SHA-256 written beside it by :func:`save_weights_file`."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    if not (path.is_file() and sidecar.is_file()):
        return False
    return sidecar.read_text().split()[0] == sha256(path)


def layer_rms(model, images, *, layer_names=None):
    """A table of each layer's output root-mean-square on ``images``: does the signal survive?"""
    import pandas as pd
    import tensorflow as tf

    chosen = [layer for layer in model.layers
              if (layer_names is None and isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.MaxPooling2D)))
              or (layer_names is not None and layer.name in layer_names)]
    if not chosen:
        raise ValueError("no layer to measure: pass layer_names that the model has")
    probe = tf.keras.Model(model.inputs, [layer.output for layer in chosen])
    outputs = probe(tf.convert_to_tensor(np.asarray(images, dtype=np.float32)), training=False)
    if len(chosen) == 1:
        outputs = [outputs]
    rows = [{"layer": layer.name, "output RMS": float(np.sqrt(np.mean(np.square(out.numpy()))))}
            for layer, out in zip(chosen, outputs)]
    return pd.DataFrame(rows).set_index("layer")


# --- interim: the two callers' entry points, until weights.pretrained replaces them ----------

def prepare_weights_file(source: str, folder: str | Path | None = None, *,
                         local_copy: str | Path | None = None, seed: int = 0, **fetch_options) -> Path:
    """The local InceptionV3 no-top weights file for the profile's ``source`` ("download" or "stand-in")."""
    from course_utils.data import downloads
    from course_utils.setup import env
    from course_utils.setup.files import build_lock

    folder = Path(folder) if folder is not None else env.keras_home() / "models"
    if source == "download":
        return downloads.fetch(downloads.INCEPTION_V3_NOTOP, folder, local_copy=local_copy, **fetch_options)
    if source == "stand-in":
        if local_copy is not None:
            print(f"note: the quick profile uses random-init weights; your copy {local_copy} is not used")
        path = folder / INCEPTION_V3_FILENAME
        shared = env.find_data(path, what="the random-init stand-in weights file")  # a classroom's copy first
        if shared != path and weights_file_is_intact(shared):
            print(f"random-init stand-in weights file at {shared}")
            return shared
        with build_lock(path):  # one run builds it; the others wait and reuse it
            if not weights_file_is_intact(path):
                build_inception_v3(path, seed=seed)
                print(f"built a random-init stand-in weights file at {path}")
            else:
                print(f"random-init stand-in weights file at {path}")
        return path
    raise ValueError(f"unknown weights source {source!r}: use 'download' or 'stand-in'")


def vgg19_base_weights(source: str, *, seed: int = 0, folder: str | Path | None = None, printer=print,
                       **fetch_options) -> str:
    """What lesson 04's Parts B and C pass as ``VGG19(weights=...)`` ("imagenet" or "stand-in")."""
    from course_utils.setup import env
    from course_utils.setup.files import build_lock

    if source == "imagenet":
        from course_utils.models import weights

        return weights.resolve("vgg19", "imagenet", include_top=False, **fetch_options)
    if source != "stand-in":
        raise ValueError(f"unknown weights source {source!r}: use one of imagenet, stand-in")
    own = (Path(folder) if folder is not None else env.keras_home() / "models") / VGG19_FILENAME
    path = env.find_data(own, what="the stand-in VGG19 no-top weights")  # a classroom's shared copy first
    if weights_file_is_intact(path):
        printer(f"stand-in VGG19 no-top weights: {path}")
        return str(path)
    with build_lock(own):  # one run builds it; the others wait and reuse it
        if weights_file_is_intact(own):
            printer(f"stand-in VGG19 no-top weights: {own}")
        else:
            build_vgg19(own, seed=seed)
            printer(f"built stand-in VGG19 no-top weights (random, zero-mean filters, LSUV-scaled): {own}")
    return str(own)
