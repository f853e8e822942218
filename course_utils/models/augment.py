"""Image augmentation the current way, and how the lesson's ImageDataGenerator maps onto it.

The lesson augments with ``ImageDataGenerator(rescale=1/255, rotation_range=40, width_shift_range=0.2,
height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)``. Keras 3 keeps that
generator only as a deprecated legacy copy (``tf.keras.preprocessing.image.ImageDataGenerator``; no
``keras.preprocessing.image.ImageDataGenerator``); the current way is a stack of Keras preprocessing
layers in a ``tf.data`` map (or inside the model). Keras 3 has ``keras.layers.RandomShear``, but with
another meaning: ``x_factor`` is a shear *factor* (x moves by factor times y, in pixels), about the
image's top-left corner, in both directions with a random sign; ``shear_range`` is an *angle in
degrees* about the image centre. :class:`RandomShear` therefore applies the generator's own matrix.
Two more details: ``rotation_range`` is in degrees too (``RandomRotation`` takes a fraction of a turn:
40 / 360; ``shear_range=0.2`` is under 0.3 px at the border of a 150 px image, next to nothing), and the
generator fills with ``"nearest"`` where the layers default to ``"reflect"``.
"""
from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

__all__ = ["RandomShear", "mapping_table"]

_LESSON_GENERATOR_ARGS: dict[str, Any] = {"rescale": 1.0 / 255, "rotation_range": 40, "width_shift_range": 0.2,
                                         "height_shift_range": 0.2, "shear_range": 0.2, "zoom_range": 0.2,
                                         "horizontal_flip": True}


def _shear_transforms(angles_deg, height, width):
    """Projective-transform rows (``keras.ops.image.affine_transform``) for a shear about the centre.

    The same matrix ``ImageDataGenerator.apply_transform`` uses for ``shear``
    (counter-clockwise, degrees): an output pixel at column ``x``, row ``y``
    samples the input at ``x - sin(a) (y - cy)``, ``cy + cos(a) (y - cy)``.
    """
    angles = ops.convert_to_tensor(angles_deg, "float32") * (math.pi / 180.0)
    cy = (ops.cast(height, "float32") - 1.0) / 2.0
    sin, cos, zeros, ones = ops.sin(angles), ops.cos(angles), ops.zeros_like(angles), ops.ones_like(angles)
    return ops.stack([ones, -sin, sin * cy, zeros, cos, cy - cos * cy, zeros, zeros], axis=1)


class RandomShear(keras.layers.Layer):
    """Random shear by an angle in ``[-degrees, degrees]``, like ``shear_range`` of ImageDataGenerator.

    Active only with ``training=True``; at inference it returns its input. One angle per image, drawn
    with ``keras.random.uniform`` from the layer's own ``keras.random.SeedGenerator`` (``seed``, or
    ``keras.utils.set_random_seed`` when ``seed`` is None).
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
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=True):
        inputs = ops.convert_to_tensor(inputs)
        if not keras.backend.is_float_dtype(inputs.dtype):
            inputs = ops.cast(inputs, self.compute_dtype)
        if not training or self.degrees == 0:
            return inputs
        unbatched = len(inputs.shape) == 3
        images = ops.expand_dims(inputs, 0) if unbatched else inputs
        shape = ops.shape(images)
        angles = keras.random.uniform((shape[0],), minval=-self.degrees, maxval=self.degrees, seed=self.generator)
        output = ops.image.affine_transform(images, _shear_transforms(angles, shape[1], shape[2]),
                                            interpolation=self.interpolation, fill_mode=self.fill_mode,
                                            fill_value=self.fill_value)
        return ops.squeeze(output, 0) if unbatched else output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "degrees": self.degrees, "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value, "seed": self.seed}


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


def _layer_call(layer) -> str:
    """A layer written as the call that makes it, e.g. ``RandomRotation(factor=0.1111, fill_mode='nearest')``."""
    name, config = type(layer).__name__, layer.get_config()
    return f"{name}(" + ", ".join(f"{key}={_short(config[key])!r}" for key in _CALL_KEYS.get(name, ())) + ")"


# the lesson's argument: (the layer that does it now, what it does, note)
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
                    "keras.layers.RandomShear takes a factor (x moves by factor x y px) about the top-left "
                    "corner with a random sign, not degrees about the centre: course_utils.models.augment."
                    "RandomShear applies the generator's own shear matrix. 0.2 degrees moves a pixel at the border of a "
                    "150 px image by under 0.3 px: the lesson's shear is nearly a no-op"),
    "zoom_range": ("RandomZoom", "zoom width and height independently by a factor in [0.8, 1.2]",
                   "RandomZoom draws the two factors independently when width_factor is given "
                   "(without it, it keeps the aspect ratio)"),
    "horizontal_flip": ("RandomFlip", "mirror left-right with probability 1/2", ""),
}
_COLUMNS = ("ImageDataGenerator", "what it does", "current way (Keras 3)", "note")


def mapping_table(stack):
    """A table (pandas DataFrame): each of the lesson's ImageDataGenerator arguments, what it does, and the layer
    of ``stack`` (the lesson's own augmentation ``Sequential``) that does it now, written from that layer's config.
    """
    import pandas as pd

    calls = {type(layer).__name__: _layer_call(layer) for layer in stack.layers}
    rows = []
    for key, value in _LESSON_GENERATOR_ARGS.items():
        layer, what, note = _MAPPING[key]
        text = "rescale=1./255" if key == "rescale" else f"{key}={value!r}"
        rows.append((text, what, calls.get(layer, f"(no {layer} layer in the stack)"), note))
    rows.append(("fill_mode='nearest' (default)",
                 "pixels moved in from outside copy the nearest edge pixel (the default 'nearest')",
                 "fill_mode='nearest' on each geometric layer",
                 "the layers default to 'reflect': pass fill_mode='nearest' to each geometric layer"))
    rows.append(("(all geometric changes in one affine transform)", "one resampling per image",
                 "one resampling per layer", "the same range of transforms; chaining adds a little blur"))
    return pd.DataFrame(rows, columns=list(_COLUMNS))
