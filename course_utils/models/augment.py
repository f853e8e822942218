"""Image augmentation the current way, and how the lesson's ImageDataGenerator maps onto it.

The lesson augments with ``ImageDataGenerator(rescale=1/255, rotation_range=40,
width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
zoom_range=0.2, horizontal_flip=True)``. ``ImageDataGenerator`` is
deprecated; the current way is a stack of Keras preprocessing layers, applied
to the training data in a ``tf.data`` map (or inside the model). tf_keras
2.21 has layers for rotation, translation, zoom and flips, but none for
shear, so :class:`RandomShear` below adds one with the generator's meaning
(an angle in degrees) and the same transform.

Two details the mapping must get right:

* ``rotation_range`` and ``shear_range`` are *degrees* in the generator;
  ``RandomRotation`` takes a fraction of a full turn (40 degrees = 40 / 360).
  ``shear_range=0.2`` is therefore plus or minus 0.2 degrees: under 0.3 px at
  the border of a 150 px image, so the lesson's shear does next to nothing.
* The generator fills uncovered pixels with ``fill_mode="nearest"`` by
  default; the layers default to ``"reflect"``. We pass ``"nearest"``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

LESSON_GENERATOR_ARGS: dict[str, Any] = {
    "rescale": 1.0 / 255,
    "rotation_range": 40,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 0.2,
    "zoom_range": 0.2,
    "horizontal_flip": True,
}
SUPPORTED_ARGS = tuple(LESSON_GENERATOR_ARGS) + ("fill_mode",)


def shear_transforms(angles_deg, height, width):
    """Projective-transform rows (``ImageProjectiveTransformV3``) for a shear about the centre.

    The same matrix ``ImageDataGenerator.apply_transform`` uses for ``shear``
    (counter-clockwise, degrees): an output pixel at column ``x``, row ``y``
    samples the input at ``x - sin(a) (y - cy)``, ``cy + cos(a) (y - cy)``.
    """
    angles = tf.convert_to_tensor(angles_deg, tf.float32) * (math.pi / 180.0)
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    sin, cos = tf.sin(angles), tf.cos(angles)
    zeros = tf.zeros_like(angles)
    ones = tf.ones_like(angles)
    return tf.stack([ones, -sin, sin * cy, zeros, cos, cy - cos * cy, zeros, zeros], axis=1)


class RandomShear(tf.keras.__internal__.layers.BaseRandomLayer):
    """Random shear by an angle in ``[-degrees, degrees]``, like ``shear_range`` of ImageDataGenerator.

    Active only when called with ``training=True`` (as all random
    preprocessing layers): at inference it returns its input unchanged.
    """

    def __init__(self, degrees: float, fill_mode: str = "nearest", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs):
        super().__init__(seed=seed, force_generator=True, **kwargs)
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0 (a range -degrees..degrees), got {degrees}")
        if fill_mode not in ("reflect", "wrap", "constant", "nearest"):
            raise ValueError(f"fill_mode must be reflect, wrap, constant or nearest, not {fill_mode!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be nearest or bilinear, not {interpolation!r}")
        self.degrees = float(degrees)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value
        self.seed = seed

    def call(self, inputs, training=True):
        inputs = tf.convert_to_tensor(inputs)
        if not inputs.dtype.is_floating:
            inputs = tf.cast(inputs, self.compute_dtype)
        if not training or self.degrees == 0:
            return inputs
        unbatched = inputs.shape.rank == 3
        images = tf.expand_dims(inputs, 0) if unbatched else inputs
        shape = tf.shape(images)
        angles = self._random_generator.random_uniform(
            shape=[shape[0]], minval=-self.degrees, maxval=self.degrees
        )
        output = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=shear_transforms(angles, shape[1], shape[2]),
            output_shape=shape[1:3],
            fill_value=tf.cast(self.fill_value, tf.float32),
            interpolation=self.interpolation.upper(),
            fill_mode=self.fill_mode.upper(),
        )
        output = tf.squeeze(output, 0) if unbatched else output
        output.set_shape(inputs.shape)
        return output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "degrees": self.degrees,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }


def build_augmentation(*, rescale: float | None = None, rotation_range: float = 0,
                       width_shift_range: float = 0, height_shift_range: float = 0,
                       shear_range: float = 0, zoom_range: float = 0, horizontal_flip: bool = False,
                       fill_mode: str = "nearest", seed: int | None = None,
                       name: str = "augmentation") -> tf.keras.Sequential:
    """A ``Sequential`` of preprocessing layers for ``ImageDataGenerator``'s arguments.

    Takes the generator's argument names and meanings (degrees, fractions,
    a zoom range ``z`` meaning ``[1 - z, 1 + z]`` for width and height
    independently). Only arguments that are set produce a layer, so
    ``build_augmentation(rescale=1/255)`` is the lesson's validation
    generator: rescaling and nothing else.
    """
    layers = tf.keras.layers
    stack = []
    seeds = iter(range(0 if seed is None else seed, 10**9))

    def next_seed():
        return None if seed is None else next(seeds)

    if rescale is not None:
        stack.append(layers.Rescaling(rescale, name="rescale"))
    if rotation_range:
        stack.append(layers.RandomRotation(rotation_range / 360.0, fill_mode=fill_mode,
                                           seed=next_seed(), name="rotation"))
    if width_shift_range or height_shift_range:
        stack.append(layers.RandomTranslation(height_shift_range, width_shift_range, fill_mode=fill_mode,
                                              seed=next_seed(), name="shift"))
    if shear_range:
        stack.append(RandomShear(shear_range, fill_mode=fill_mode, seed=next_seed(), name="shear"))
    if zoom_range:
        stack.append(layers.RandomZoom((-zoom_range, zoom_range), (-zoom_range, zoom_range),
                                       fill_mode=fill_mode, seed=next_seed(), name="zoom"))
    if horizontal_flip:
        stack.append(layers.RandomFlip("horizontal", seed=next_seed(), name="flip"))
    return tf.keras.Sequential(stack, name=name)


_CALL_KEYS = {
    "Rescaling": ("scale",),
    "RandomRotation": ("factor", "fill_mode"),
    "RandomTranslation": ("height_factor", "width_factor", "fill_mode"),
    "RandomShear": ("degrees", "fill_mode"),
    "RandomZoom": ("height_factor", "width_factor", "fill_mode"),
    "RandomFlip": ("mode",),
}


def _short(value):
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, (tuple, list)):
        return tuple(_short(v) for v in value)
    return value


def layer_call(layer) -> str:
    """A layer written as the call that makes it, e.g. ``RandomRotation(factor=0.1111, fill_mode='nearest')``."""
    name = type(layer).__name__
    config = layer.get_config()
    keys = _CALL_KEYS.get(name, ())
    args = ", ".join(f"{key}={_short(config[key])!r}" for key in keys)
    return f"{name}({args})"


def layer_calls(model) -> list[str]:
    """:func:`layer_call` for every layer of a ``Sequential``: compare two stacks with it."""
    return [layer_call(layer) for layer in model.layers]


_NOTES = {
    "rescale": ("pixel values times 1/255, into [0, 1]",
                "the lesson's validation generator has this and nothing else: validation images "
                "are rescaled, never augmented"),
    "rotation_range": ("rotate by a random angle in [-40, 40] degrees",
                       "the layer's factor is a fraction of a full turn: 40 / 360 = 0.1111"),
    "width_shift_range": ("shift sideways by up to 20% of the width",
                          "one RandomTranslation layer does both shifts"),
    "height_shift_range": ("shift up/down by up to 20% of the height",
                           "height_factor comes first in RandomTranslation"),
    "shear_range": ("shear by a random angle in [-0.2, 0.2] DEGREES",
                    "tf_keras 2.21 has no shear layer: course_utils.models.augment.RandomShear applies the "
                    "generator's own shear matrix. 0.2 degrees moves a pixel at the border of a "
                    "150 px image by under 0.3 px: the lesson's shear is nearly a no-op"),
    "zoom_range": ("zoom width and height independently by a factor in [0.8, 1.2]",
                   "RandomZoom draws the two factors independently when width_factor is given "
                   "(without it, it keeps the aspect ratio)"),
    "horizontal_flip": ("mirror left-right with probability 1/2", ""),
    "fill_mode": ("pixels moved in from outside copy the nearest edge pixel (the default 'nearest')",
                  "the layers default to 'reflect': pass fill_mode='nearest' to each geometric layer"),
}
_LAYER_FOR = {
    "rescale": "Rescaling",
    "rotation_range": "RandomRotation",
    "width_shift_range": "RandomTranslation",
    "height_shift_range": "RandomTranslation",
    "shear_range": "RandomShear",
    "zoom_range": "RandomZoom",
    "horizontal_flip": "RandomFlip",
}


def _arg_text(key: str, value) -> str:
    if key == "rescale" and math.isclose(value, 1 / 255):
        return "rescale=1./255"
    return f"{key}={value!r}"


def mapping_table(**generator_args):
    """A table (pandas DataFrame): each ImageDataGenerator argument, what it does, its layer now.

    With no arguments it describes :data:`LESSON_GENERATOR_ARGS`. The
    "current way" column is written from the layers :func:`build_augmentation`
    really builds, so the table cannot drift from the code.
    """
    import pandas as pd

    args = dict(generator_args or LESSON_GENERATOR_ARGS)
    unknown = sorted(set(args) - set(SUPPORTED_ARGS))
    if unknown:
        raise TypeError(f"no mapping for ImageDataGenerator argument(s) {unknown}; supported: {SUPPORTED_ARGS}")
    fill_mode = args.get("fill_mode", "nearest")
    stack = build_augmentation(**args)
    calls = {type(layer).__name__: layer_call(layer) for layer in stack.layers}
    rows = []
    for key, value in args.items():
        if key == "fill_mode":
            continue
        what, note = _NOTES[key]
        rows.append({
            "ImageDataGenerator": _arg_text(key, value),
            "what it does": what,
            "current way (tf_keras 2.21)": calls.get(_LAYER_FOR[key], "(no layer: value is 0/False)"),
            "note": note,
        })
    what, note = _NOTES["fill_mode"]
    rows.append({
        "ImageDataGenerator": f"fill_mode={fill_mode!r} (default)" if "fill_mode" not in args
        else f"fill_mode={fill_mode!r}",
        "what it does": what,
        "current way (tf_keras 2.21)": f"fill_mode={fill_mode!r} on each geometric layer",
        "note": note,
    })
    rows.append({
        "ImageDataGenerator": "(all geometric changes in one affine transform)",
        "what it does": "one resampling per image",
        "current way (tf_keras 2.21)": "one resampling per layer",
        "note": "the same range of transforms; chaining adds a little blur",
    })
    return pd.DataFrame(rows)


def generator_versions(image, count: int, seed: int = 0, **generator_args) -> np.ndarray:
    """``count`` versions of one image from the lesson's (deprecated) ImageDataGenerator.

    For comparison with the layers; needs scipy. ``image`` is ``[H, W, 3]``
    with values in 0..255; the result is float32 ``[count, H, W, 3]``,
    rescaled the way the arguments say.
    """
    args = dict(generator_args or LESSON_GENERATOR_ARGS)
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**args)
    image = np.asarray(image, dtype="float32")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        version = generator.random_transform(image, seed=int(rng.integers(0, 2**31 - 1)))
        out.append(generator.standardize(np.array(version)))
    return np.stack(out).astype("float32")


def layer_versions(augmentation, image, count: int) -> np.ndarray:
    """``count`` versions of one image through ``augmentation`` with ``training=True``."""
    batch = tf.repeat(tf.convert_to_tensor(image, tf.float32)[None], count, axis=0)
    return augmentation(batch, training=True).numpy()
