"""The augmentation pipeline: the lesson's ImageDataGenerator arguments as preprocessing layers."""
from __future__ import annotations

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.models import augment

LESSON = augment._LESSON_GENERATOR_ARGS
SCRIPT = Path(__file__).resolve().parent.parent / "notebooks" / "05_inception_mixed7_dropout.py"


def make_augmentation():
    """The lesson's stack, built by notebook 05's own ``make_augmentation``."""
    (function,) = [node for node in ast.parse(SCRIPT.read_text()).body
                   if isinstance(node, ast.FunctionDef) and node.name == "make_augmentation"]
    namespace = {"tf": tf, "keras": keras, "layers": keras.layers, "augment": augment}
    exec(ast.unparse(function), namespace)
    return namespace["make_augmentation"]()


def smooth_images(count: int = 4, size: int = 48, seed: int = 0) -> np.ndarray:
    """Images in 0..255 with structure everywhere (gradients and blobs), float32 [N, H, W, 3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / size
    images = []
    for _ in range(count):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        image = np.stack([np.sin(a * 6 * xx) ** 2, np.cos(b * 6 * yy) ** 2, (xx * c + yy) % 1.0], axis=-1)
        images.append(image * 255)
    return np.stack(images).astype("float32")


def test_the_lesson_arguments_are_the_lessons():
    assert LESSON == {"rescale": 1 / 255, "rotation_range": 40, "width_shift_range": 0.2,
                      "height_shift_range": 0.2, "shear_range": 0.2, "zoom_range": 0.2, "horizontal_flip": True}


def test_training_output_has_the_input_shape_and_the_rescaled_range():
    keras.utils.set_random_seed(1)
    stack = make_augmentation()
    images = smooth_images()
    out = stack(images, training=True).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


def test_augmentation_changes_training_images():
    keras.utils.set_random_seed(1)
    stack = make_augmentation()
    images = smooth_images()
    rescaled = images / 255
    out = stack(images, training=True).numpy()
    changed = np.abs(out - rescaled).mean(axis=(1, 2, 3))
    assert (changed > 0.01).all()  # every image moved
    again = stack(images, training=True).numpy()
    assert np.abs(again - out).mean() > 0.01  # a new draw each call


def test_validation_images_are_only_rescaled():
    images = smooth_images()
    np.testing.assert_allclose(make_augmentation()(images, training=False).numpy(), images / 255, atol=1e-6)


def test_the_stack_works_in_a_tf_data_map_on_uint8_batches():
    keras.utils.set_random_seed(2)
    stack = make_augmentation()
    images = smooth_images(6).astype("uint8")
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(6))).batch(3)
    ds = ds.map(lambda x, y: (stack(tf.cast(x, tf.float32), training=True), y))
    batches = [x.numpy() for x, _ in ds]
    assert [b.shape for b in batches] == [(3, 48, 48, 3)] * 2
    assert all(0.0 <= b.min() and b.max() <= 1.0 + 1e-6 for b in batches)


def test_a_stack_built_after_the_same_seed_repeats_its_draws_but_a_reused_stack_moves_on():
    """Why lesson 05 re-seeds and builds new layers for each run: the layers' generator keeps its state."""
    images = smooth_images()
    keras.utils.set_random_seed(3)
    first_run = make_augmentation()(images, training=True).numpy()
    keras.utils.set_random_seed(3)
    stack = make_augmentation()
    second_run = stack(images, training=True).numpy()
    np.testing.assert_array_equal(second_run, first_run)
    reused = stack(images, training=True).numpy()  # the same layers again: their generator moved on
    assert np.abs(reused - first_run).mean() > 0.01
    keras.utils.set_random_seed(3)
    keras.layers.Dense(4).build((None, 8))  # building a model between the seed and the layers moves them
    assert np.abs(make_augmentation()(images, training=True).numpy() - first_run).mean() > 0.01


# --- RandomShear --------------------------------------------------------------------------------

def test_shear_transform_matches_image_data_generator():
    image = smooth_images(1, size=50)[0] / 255
    reference = tf.keras.preprocessing.image.apply_affine_transform(
        image, shear=20, row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest", order=1
    )
    ours = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
        image[None].astype("float32"), augment._shear_transforms([20.0], 50, 50), interpolation="bilinear",
        fill_mode="nearest"))[0]
    assert np.abs(ours - reference).max() < 1e-4
    mirrored = augment._shear_transforms([-20.0], 50, 50)
    assert not np.allclose(np.asarray(mirrored), np.asarray(augment._shear_transforms([20.0], 50, 50)))


def test_keras_random_shear_means_something_else_than_shear_range():
    """Why the course keeps its own layer: Keras 3's RandomShear at the factor of a 20-degree shear (tan 20)
    shears about the top-left corner, so it moves the image where the generator's shear about the centre does not."""
    image = smooth_images(1, size=50)[0] / 255
    reference = tf.keras.preprocessing.image.apply_affine_transform(
        image, shear=20, row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest", order=1)
    factor = float(np.tan(np.radians(20)))
    keras_layer = keras.layers.RandomShear(x_factor=(factor, factor), fill_mode="nearest", seed=0)
    keras_out = keras.ops.convert_to_numpy(keras_layer(image[None].astype("float32"), training=True))[0]
    assert np.abs(keras_out - reference).max() > 0.2  # far from the generator's image, whichever sign it drew
    with pytest.raises(ValueError, match="range"):
        keras.layers.RandomShear(x_factor=20)  # degrees are no factor: it takes 0..1


def test_random_shear_range_is_in_degrees():
    images = smooth_images(8, size=150)
    big = augment.RandomShear(30, seed=0)(images, training=True).numpy()
    tiny = augment.RandomShear(0.2, seed=0)(images, training=True).numpy()
    assert np.abs(big - images).mean() > 5  # 30 degrees: clearly visible
    # 0.2 degrees: a border pixel moves by under 0.3 px, so values change by a fraction of a grey level
    assert np.abs(tiny - images).mean() < 1.0
    assert np.abs(tiny - images).max() > 0  # but it is applied


def test_random_shear_is_identity_at_inference_and_for_zero_degrees():
    images = smooth_images()
    layer = augment.RandomShear(10)
    np.testing.assert_array_equal(layer(images, training=False).numpy(), images)
    np.testing.assert_array_equal(augment.RandomShear(0)(images, training=True).numpy(), images)


def test_random_shear_accepts_single_images_and_round_trips_its_config():
    image = smooth_images(1)[0]
    out = augment.RandomShear(15, seed=3)(image, training=True)
    assert out.shape == image.shape
    layer = augment.RandomShear(15, fill_mode="reflect", interpolation="nearest", seed=3)
    clone = augment.RandomShear.from_config(layer.get_config())
    assert (clone.degrees, clone.fill_mode, clone.interpolation, clone.seed) == (15.0, "reflect", "nearest", 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"degrees": -1}, "degrees must be >= 0"), ({"degrees": 1, "fill_mode": "mirror"}, "fill_mode"),
     ({"degrees": 1, "interpolation": "bicubic"}, "interpolation")],
)
def test_random_shear_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.RandomShear(**kwargs)


# --- the mapping table and the comparison helpers -------------------------------------------------

def test_mapping_table_puts_each_lesson_argument_beside_the_notebooks_layer():
    table = augment.mapping_table(make_augmentation())
    args = table["ImageDataGenerator"].tolist()
    assert args[:7] == ["rescale=1./255", "rotation_range=40", "width_shift_range=0.2", "height_shift_range=0.2",
                        "shear_range=0.2", "zoom_range=0.2", "horizontal_flip=True"]
    assert table["current way (Keras 3)"].tolist()[:7] == [
        "Rescaling(scale=0.003922)",
        "RandomRotation(factor=(-0.1111, 0.1111), fill_mode='nearest')",  # Keras 3 stores the range
        "RandomTranslation(height_factor=0.2, width_factor=0.2, fill_mode='nearest')",
        "RandomTranslation(height_factor=0.2, width_factor=0.2, fill_mode='nearest')",
        "RandomShear(degrees=0.2, fill_mode='nearest')",
        "RandomZoom(height_factor=(-0.2, 0.2), width_factor=(-0.2, 0.2), fill_mode='nearest')",
        "RandomFlip(mode='horizontal')",
    ]
    assert "40 / 360" in table.loc[1, "note"]
    assert "DEGREES" in table.loc[4, "what it does"] and "top-left" in table.loc[4, "note"]


def test_mapping_table_shows_a_layer_the_stack_lacks():
    table = augment.mapping_table(keras.Sequential([keras.layers.Rescaling(1 / 255)]))
    assert table["current way (Keras 3)"].tolist()[:2] == ["Rescaling(scale=0.003922)",
                                                                 "(no RandomRotation layer in the stack)"]


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_mapping_table_ends_with_fill_mode_and_the_resampling_row():
    table = augment.mapping_table(make_augmentation())
    assert list(table.columns) == ["ImageDataGenerator", "what it does", "current way (Keras 3)", "note"]
    assert table.iloc[-2].tolist() == [
        "fill_mode='nearest' (default)",
        "pixels moved in from outside copy the nearest edge pixel (the default 'nearest')",
        "fill_mode='nearest' on each geometric layer",
        "the layers default to 'reflect': pass fill_mode='nearest' to each geometric layer"]
    assert table.iloc[-1].tolist() == [
        "(all geometric changes in one affine transform)", "one resampling per image",
        "one resampling per layer", "the same range of transforms; chaining adds a little blur"]


def test_layer_call_of_a_layer_without_a_mapping_names_it_without_arguments():
    assert augment._layer_call(keras.layers.Dense(3)) == "Dense()"


def test_layer_call_shows_the_shears_own_fill_mode():
    assert augment._layer_call(augment.RandomShear(1, fill_mode="reflect")) == "RandomShear(degrees=1.0, fill_mode='reflect')"


def test_shear_transforms_take_float64_angles():
    transforms = augment._shear_transforms(np.array([20.0, -5.0]), 50, 50)
    assert transforms.dtype == tf.float32 and tuple(transforms.shape) == (2, 8)
    np.testing.assert_allclose(transforms.numpy(), augment._shear_transforms([20.0, -5.0], 50, 50).numpy())


# --- RandomShear, as the mutation run showed it unguarded --------------------------------------------

def test_random_shear_fills_with_zero_or_the_nearest_pixel_and_accepts_every_fill_mode():
    ones = np.ones((2, 40, 40, 3), np.float32)
    constant = augment.RandomShear(30, fill_mode="constant", seed=0)(ones, training=True).numpy()
    assert constant.min() == 0.0  # the corners moved in from outside: fill_value 0 by default
    nearest = augment.RandomShear(30, fill_mode="nearest", seed=0)(ones, training=True).numpy()
    np.testing.assert_allclose(nearest, 1.0)  # nothing but copies of edge pixels
    for mode in ("reflect", "wrap"):
        assert augment.RandomShear(5, fill_mode=mode).fill_mode == mode


def test_random_shear_is_seeded_and_named():
    # Called with training=True: whether it shears without the argument depends on call's signature,
    # which mutmut's wrapper replaces, so such a test would fail under mutmut for every mutant.
    images = smooth_images(2, size=40)
    first = augment.RandomShear(10, seed=3, name="my_shear")
    again = augment.RandomShear(10, seed=3)
    assert first.name == "my_shear"
    out = first(images, training=True).numpy()
    assert np.abs(out - images).mean() > 0.1
    np.testing.assert_array_equal(out, again(images, training=True).numpy())  # the same seed, the same shear


def test_random_shear_draws_angles_both_ways_within_the_range(monkeypatch):
    drawn = []
    real = augment._shear_transforms

    def spy(angles, height, width):
        drawn.append((angles.numpy(), int(height), int(width)))
        return real(angles, height, width)

    monkeypatch.setattr(augment, "_shear_transforms", spy)
    augment.RandomShear(10, seed=1)(np.zeros((64, 40, 60, 3), np.float32), training=True)
    ((angles, height, width),) = drawn
    assert (height, width) == (40, 60)
    assert np.abs(angles).max() <= 10 and angles.min() < -5 and angles.max() > 5


def test_random_shear_of_one_degree_still_shears_and_takes_uint8():
    images = smooth_images(1, size=150).astype(np.uint8)
    out = augment.RandomShear(1.0, seed=0)(images, training=True)
    assert out.dtype == tf.float32
    assert np.abs(out.numpy() - images).max() > 0


def test_random_shear_keeps_the_shape_of_one_grey_image_and_in_a_tf_data_map():
    grey = np.random.default_rng(0).random((20, 30, 1)).astype(np.float32)
    layer = augment.RandomShear(15, seed=2)
    assert tuple(layer(grey, training=True).shape) == (20, 30, 1)
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((4, 20, 30, 3), np.float32)).batch(2)
    mapped = dataset.map(lambda x: layer(x, training=True))
    assert mapped.element_spec.shape.as_list() == [None, 20, 30, 3]


def test_random_shear_draws_the_stream_a_seeded_keras_generator_draws(monkeypatch):
    """One uniform per image from keras.random.SeedGenerator(seed), in [-degrees, degrees]: seeded draws that
    move on between calls, as Keras 3's own random layers draw."""
    drawn = []
    real = augment._shear_transforms
    monkeypatch.setattr(augment, "_shear_transforms",
                        lambda a, h, w: drawn.append(keras.ops.convert_to_numpy(a)) or real(a, h, w))
    layer = augment.RandomShear(10, seed=4)
    for _ in range(2):
        layer(np.zeros((5, 8, 8, 3), np.float32), training=True)
    generator = keras.random.SeedGenerator(4)
    expected = [keras.ops.convert_to_numpy(keras.random.uniform((5,), -10.0, 10.0, seed=generator)) for _ in drawn]
    assert len(drawn) == 2 and not np.array_equal(drawn[0], drawn[1])
    for angles, want in zip(drawn, expected):
        np.testing.assert_array_equal(angles, want)
    assert isinstance(layer, keras.layers.Layer) and type(layer).__mro__[1] is keras.layers.Layer
