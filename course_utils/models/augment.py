"""Image augmentation the current way, and how the lesson's ImageDataGenerator maps onto it.

The lesson augments with ``ImageDataGenerator(rescale=1/255, rotation_range=40, width_shift_range=0.2,
height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)``, which is deprecated;
the current way is a stack of Keras preprocessing layers in a ``tf.data`` map (or inside the model).
tf_keras 2.21 has no shear layer, so :class:`RandomShear` adds one with the generator's meaning and
transform. Two details: ``rotation_range`` and ``shear_range`` are *degrees* (``RandomRotation`` takes
a fraction of a turn: 40 / 360; ``shear_range=0.2`` is under 0.3 px at the border of a 150 px image,
next to nothing), and the generator fills with ``"nearest"`` where the layers default to ``"reflect"``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

LESSON_GENERATOR_ARGS: dict[str, Any] = {"rescale": 1.0 / 255, "rotation_range": 40, "width_shift_range": 0.2,
                                         "height_shift_range": 0.2, "shear_range": 0.2, "zoom_range": 0.2,
                                         "horizontal_flip": True}
SUPPORTED_ARGS = (*LESSON_GENERATOR_ARGS, "fill_mode")


def shear_transforms(angles_deg, height, width):
    """Projective-transform rows (``ImageProjectiveTransformV3``) for a shear about the centre.

    The same matrix ``ImageDataGenerator.apply_transform`` uses for ``shear``
    (counter-clockwise, degrees): an output pixel at column ``x``, row ``y``
    samples the input at ``x - sin(a) (y - cy)``, ``cy + cos(a) (y - cy)``.
    """
    angles = tf.convert_to_tensor(angles_deg, tf.float32) * (math.pi / 180.0)
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    sin, cos, zeros, ones = tf.sin(angles), tf.cos(angles), tf.zeros_like(angles), tf.ones_like(angles)
    return tf.stack([ones, -sin, sin * cy, zeros, cos, cy - cos * cy, zeros, zeros], axis=1)


class RandomShear(tf.keras.layers.Layer):
    """Random shear by an angle in ``[-degrees, degrees]``, like ``shear_range`` of ImageDataGenerator.

    Active only with ``training=True``; at inference it returns its input. The angles come from a public
    ``RandomBrightness`` on one zero pixel per image, which draws one uniform per image from Keras's own
    seeded generator: ``seed`` and ``set_random_seed`` give the stream the private BaseRandomLayer gave.
    """

    def __init__(self, degrees: float, fill_mode: str = "nearest", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0 (a range -degrees..degrees), got {degrees}")
        if fill_mode not in ("reflect", "wrap", "constant", "nearest"):
            raise ValueError(f"fill_mode must be reflect, wrap, constant or nearest, not {fill_mode!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be nearest or bilinear, not {interpolation!r}")
        self.degrees, self.fill_mode, self.interpolation = float(degrees), fill_mode, interpolation
        self.fill_value, self.seed = fill_value, seed
        # uniform [0, 1) per image: 0 + u, times (1 - 0), clipped to [0, 1] leaves u exact
        self.uniform = tf.keras.layers.RandomBrightness((0.0, 1.0), value_range=(0.0, 1.0), seed=seed)

    def call(self, inputs, training=True):
        inputs = tf.convert_to_tensor(inputs)
        if not inputs.dtype.is_floating:
            inputs = tf.cast(inputs, self.compute_dtype)
        if not training or self.degrees == 0:
            return inputs
        unbatched = inputs.shape.rank == 3
        images = tf.expand_dims(inputs, 0) if unbatched else inputs
        shape = tf.shape(images)
        low, high = tf.constant(-self.degrees, tf.float32), tf.constant(self.degrees, tf.float32)
        drawn = tf.reshape(self.uniform(tf.zeros([shape[0], 1, 1, 1]), training=True), [-1])
        angles = drawn * (high - low) + low  # as tf.random.Generator.uniform scales its draws
        output = tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=shear_transforms(angles, shape[1], shape[2]), output_shape=shape[1:3],
            fill_value=tf.cast(self.fill_value, tf.float32), interpolation=self.interpolation.upper(),
            fill_mode=self.fill_mode.upper())
        output.set_shape(images.shape)
        return tf.squeeze(output, 0) if unbatched else output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "degrees": self.degrees, "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value, "seed": self.seed}


def build_augmentation(*, rescale: float | None = None, rotation_range: float = 0,
                       width_shift_range: float = 0, height_shift_range: float = 0,
                       shear_range: float = 0, zoom_range: float = 0, horizontal_flip: bool = False,
                       fill_mode: str = "nearest", seed: int | None = None,
                       name: str = "augmentation") -> tf.keras.Sequential:
    """A ``Sequential`` of preprocessing layers for ``ImageDataGenerator``'s arguments and meanings.

    Degrees, fractions, a zoom range ``z`` meaning ``[1 - z, 1 + z]`` for width and height independently.
    Only arguments that are set make a layer: ``build_augmentation(rescale=1/255)`` is the lesson's
    validation generator. ``seed`` seeds the random layers in turn (``seed``, ``seed + 1``, ...).
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
    if isinstance(value, (tuple, list)):
        return tuple(_short(v) for v in value)
    return float(f"{value:.4g}") if isinstance(value, float) else value


def layer_call(layer) -> str:
    """A layer written as the call that makes it, e.g. ``RandomRotation(factor=0.1111, fill_mode='nearest')``."""
    name, config = type(layer).__name__, layer.get_config()
    return f"{name}(" + ", ".join(f"{key}={_short(config[key])!r}" for key in _CALL_KEYS.get(name, ())) + ")"


def layer_calls(model) -> list[str]:
    """:func:`layer_call` for every layer of a ``Sequential``: compare two stacks with it."""
    return [layer_call(layer) for layer in model.layers]


# argument: (the layer it maps to, what it does, note)
_MAPPING = {
    "rescale": ("Rescaling", "pixel values times 1/255, into [0, 1]",
                "the lesson's validation generator has this and nothing else: validation images "
                "are rescaled, never augmented"),
    "rotation_range": ("RandomRotation", "rotate by a random angle in [-40, 40] degrees",
                       "the layer's factor is a fraction of a full turn: 40 / 360 = 0.1111"),
    "width_shift_range": ("RandomTranslation", "shift sideways by up to 20% of the width",
                          "one RandomTranslation layer does both shifts"),
    "height_shift_range": ("RandomTranslation", "shift up/down by up to 20% of the height",
                           "height_factor comes first in RandomTranslation"),
    "shear_range": ("RandomShear", "shear by a random angle in [-0.2, 0.2] DEGREES",
                    "tf_keras 2.21 has no shear layer: course_utils.models.augment.RandomShear applies the "
                    "generator's own shear matrix. 0.2 degrees moves a pixel at the border of a "
                    "150 px image by under 0.3 px: the lesson's shear is nearly a no-op"),
    "zoom_range": ("RandomZoom", "zoom width and height independently by a factor in [0.8, 1.2]",
                   "RandomZoom draws the two factors independently when width_factor is given "
                   "(without it, it keeps the aspect ratio)"),
    "horizontal_flip": ("RandomFlip", "mirror left-right with probability 1/2", ""),
    "fill_mode": ("", "pixels moved in from outside copy the nearest edge pixel (the default 'nearest')",
                  "the layers default to 'reflect': pass fill_mode='nearest' to each geometric layer"),
}
COLUMNS = ("ImageDataGenerator", "what it does", "current way (tf_keras 2.21)", "note")


def mapping_table(**generator_args):
    """A table (pandas DataFrame): each ImageDataGenerator argument, what it does, its layer now.

    With no arguments it describes :data:`LESSON_GENERATOR_ARGS`. The "current way" column is
    written from the layers :func:`build_augmentation` really builds, so it cannot drift from the code.
    """
    import pandas as pd

    args = dict(generator_args or LESSON_GENERATOR_ARGS)
    unknown = sorted(set(args) - set(SUPPORTED_ARGS))
    if unknown:
        raise TypeError(f"no mapping for ImageDataGenerator argument(s) {unknown}; supported: {SUPPORTED_ARGS}")
    fill_mode = args.get("fill_mode", "nearest")
    calls = {type(layer).__name__: layer_call(layer) for layer in build_augmentation(**args).layers}
    rows = []
    for key, value in args.items():
        if key != "fill_mode":
            layer, what, note = _MAPPING[key]
            text = "rescale=1./255" if key == "rescale" and math.isclose(value, 1 / 255) else f"{key}={value!r}"
            rows.append((text, what, calls.get(layer, "(no layer: value is 0/False)"), note))
    _, what, note = _MAPPING["fill_mode"]
    given = f"fill_mode={fill_mode!r}" + ("" if "fill_mode" in args else " (default)")
    rows.append((given, what, f"fill_mode={fill_mode!r} on each geometric layer", note))
    rows.append(("(all geometric changes in one affine transform)", "one resampling per image",
                 "one resampling per layer", "the same range of transforms; chaining adds a little blur"))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def generator_versions(image, count: int, seed: int = 0, **generator_args) -> np.ndarray:
    """``count`` versions of one image from the lesson's (deprecated) ImageDataGenerator.

    For comparison with the layers; needs scipy. ``image`` is ``[H, W, 3]`` in 0..255; the result
    is float32 ``[count, H, W, 3]``, rescaled the way the arguments say.
    """
    args = dict(generator_args or LESSON_GENERATOR_ARGS)
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**args)
    image, rng = np.asarray(image, dtype="float32"), np.random.default_rng(seed)
    seeds = [int(rng.integers(0, 2**31 - 1)) for _ in range(count)]
    out = [generator.standardize(np.array(generator.random_transform(image, seed=s))) for s in seeds]
    return np.stack(out).astype("float32")


def layer_versions(augmentation, image, count: int) -> np.ndarray:
    """``count`` versions of one image through ``augmentation`` with ``training=True``."""
    batch = tf.repeat(tf.convert_to_tensor(image, tf.float32)[None], count, axis=0)
    return augmentation(batch, training=True).numpy()
