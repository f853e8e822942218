"""The feature cache: one predict, then reads; the key's five parts, checked on read; refusals; entries not trusted."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import features as fc
from course_utils.data.generated import make_images
from course_utils.errors import CourseError
from course_utils.setup import classroom

SIZE = 16
layers = keras.layers


def make_extractor(seed: int = 0, activation: str = "relu", filters: int = 4, extra=()):
    keras.utils.set_random_seed(seed)
    extractor = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        layers.Conv2D(filters, 3, strides=2, activation=activation),
        *extra,
        layers.GlobalAveragePooling2D(),
    ], name="tiny_extractor")
    extractor.trainable = False
    return extractor


@pytest.fixture(scope="module")
def arrays():
    images, labels = make_images(24, SIZE, 3, seed=0)
    return images.astype("float32") / 255.0, labels.astype("int64")


@pytest.fixture
def root(tmp_path):
    return tmp_path / "features"


@pytest.fixture
def extractor():
    return make_extractor()


def batches(arrays, batch_size: int = 8):
    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def entries(root):
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_the_same_features_as_predict_and_the_labels_in_their_order(extractor, arrays, root, capsys):
    images, labels = arrays
    features, kept = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    np.testing.assert_allclose(features, extractor.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(kept, labels)
    assert features.shape == (24, 4) and kept.dtype == np.int64
    (entry,) = entries(root)
    assert sorted(p.name for p in (root / entry).iterdir()) == ["COURSE_MANIFEST.json", "features.npy", "labels.npy"]
    about = json.loads((root / entry / "COURSE_MANIFEST.json").read_text())
    assert about["key"] == "tiny" and about["rows"] == 24 and about["extractor"] == "tiny_extractor"
    assert "computed 24 feature rows in" in capsys.readouterr().out


def test_the_second_call_reads_the_file_and_does_not_call_predict(extractor, arrays, root, monkeypatch, capsys):
    first, first_labels = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)

    def refuse(*args, **kwargs):
        raise AssertionError("predict was called on a hit")

    monkeypatch.setattr(extractor, "predict", refuse)
    capsys.readouterr()
    features, labels = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert isinstance(features, np.memmap) and isinstance(labels, np.memmap)
    np.testing.assert_array_equal(features, first)
    np.testing.assert_array_equal(labels, first_labels)
    assert capsys.readouterr().out.startswith("[course] feature cache: read 24 feature rows from ")
    assert len(entries(root)) == 1


def test_one_predict_with_the_trace_of_the_callers_own_predict(extractor, arrays, root, monkeypatch):
    """The physical limit: the labels ride along in the same pass, and predict is not traced again."""
    extractor.predict(batches(arrays).take(1), verbose=0)  # the caller's warm-up
    traced = extractor.predict_function.experimental_get_tracing_count()
    calls = []
    predict = extractor.predict
    monkeypatch.setattr(extractor, "predict", lambda *a, **k: calls.append(1) or predict(*a, **k))
    reads = tf.Variable(0)

    def count(images, labels):
        reads.assign_add(1)
        return images, labels

    fc.cached_predict(extractor, batches(arrays).map(count), key="tiny", folder=root)
    assert len(calls) == 1 and int(reads.numpy()) == 3  # three batches, each read once
    assert extractor.predict_function.experimental_get_tracing_count() == traced


def test_arrays_with_labels_given_and_images_without_labels(extractor, arrays, root):
    images, labels = arrays
    features, kept = fc.cached_predict(extractor, images, key="tiny arrays", labels=labels, folder=root,
                                       batch_size=5)
    np.testing.assert_array_equal(kept, labels)
    np.testing.assert_allclose(features, extractor.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    only, none = fc.cached_predict(extractor, tf.data.Dataset.from_tensor_slices(images).batch(8), key="tiny",
                                   folder=root)
    assert none is None and only.shape == (24, 4)
    assert len(entries(root)) == 2
    with pytest.raises(fc.FeatureCacheError, match="images or \\(images, labels\\)"):
        triple = tf.data.Dataset.from_tensor_slices((images, labels, labels)).batch(8)
        fc.cached_predict(extractor, triple, key="three", folder=root)


def test_the_key_changes_with_the_weights_the_architecture_the_key_and_the_data_spec(arrays, root):
    extractor = make_extractor()
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert len(entries(root)) == 1
    fc.cached_predict(make_extractor(), batches(arrays), key="tiny", folder=root)  # rebuilt: new layer names
    assert len(entries(root)) == 1
    saved = extractor.get_weights()
    extractor.set_weights([w + 0.5 for w in saved])
    changed, _ = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert len(entries(root)) == 2
    np.testing.assert_allclose(changed, extractor.predict(arrays[0], verbose=0), rtol=1e-5, atol=1e-6)
    extractor.set_weights(saved)
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)  # restored: the first entry
    assert len(entries(root)) == 2
    fc.cached_predict(make_extractor(activation="tanh"), batches(arrays), key="tiny", folder=root)
    assert len(entries(root)) == 3
    fc.cached_predict(extractor, batches(arrays), key="tiny, other preprocessing", folder=root)
    assert len(entries(root)) == 4
    rebatched, _ = fc.cached_predict(extractor, batches(arrays, batch_size=6), key="tiny", folder=root)
    assert len(entries(root)) == 4  # the same rows in 4 batches, not 3: the same features, a hit
    np.testing.assert_allclose(rebatched, extractor.predict(arrays[0], verbose=0), rtol=1e-5, atol=1e-6)


def test_key_parts_are_digests_of_public_apis(extractor, arrays):
    parts = fc._entry_key(extractor, batches(arrays), "tiny")
    assert set(parts) == {"key", "data", "architecture", "weights"} and parts["key"] == "tiny"
    assert parts["data"] == "tf.data [([None, 16, 16, 3], 'float32'), ([None], 'int64')]"
    assert fc._data_spec(arrays[0], arrays[1]) == "array [24, 16, 16, 3] <f4 labels [24] <i8"
    assert fc._architecture_digest(extractor) == fc._architecture_digest(make_extractor(seed=3))  # weights apart
    assert fc._weights_digest(extractor) != fc._weights_digest(make_extractor(seed=3))
    assert fc._architecture_digest(extractor) != fc._architecture_digest(make_extractor(filters=5))
    for empty in ("", "  ", None):
        with pytest.raises(fc.FeatureCacheError, match="give key= a name for the data and its preprocessing"):
            fc._entry_key(extractor, batches(arrays), empty)


def test_a_trainable_extractor_is_refused_with_its_message(arrays, root):
    extractor = make_extractor()
    extractor.trainable = True
    with pytest.raises(fc.BackboneNotFrozenError) as caught:
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert str(caught.value) == (
        "the extractor 'tiny_extractor' has 2 trainable weight tensors, so its features change while "
        "training; freeze it first (extractor.trainable = False) or train the whole model on images")
    assert isinstance(caught.value, CourseError) and isinstance(caught.value, RuntimeError)
    assert not root.exists()


class RandomSquint(layers.Layer):
    """A home-made augmentation layer: caught by its class name."""

    def call(self, inputs, training=None):
        return inputs


@pytest.mark.parametrize("layer", [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1),
                                   layers.GaussianNoise(0.1), RandomSquint(name="squint")])
def test_a_random_layer_inside_the_extractor_is_refused(arrays, root, layer):
    extractor = make_extractor(extra=[layer])
    with pytest.raises(fc.AugmentationError, match=f"{type(layer).__name__} layer '{layer.name}' is inside "
                                                   "the extractor 'tiny_extractor'"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    nested = keras.Sequential([keras.Sequential([layers.RandomZoom(0.1)], name="inner"), extractor])
    nested.trainable = False
    assert [type(found).__name__ for found in fc._random_layers(nested)][0] in ("RandomZoom", type(layer).__name__)
    assert {type(found).__name__ for found in fc._random_layers(nested)} == {"RandomZoom", type(layer).__name__}


def test_dropout_inside_the_extractor_is_fine(arrays, root):
    extractor = make_extractor(extra=[layers.Dropout(0.5)])
    features, _ = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    np.testing.assert_allclose(features, extractor.predict(arrays[0], verbose=0), rtol=1e-5, atol=1e-6)


def test_a_write_that_fails_midway_leaves_nothing_and_the_next_call_computes(extractor, arrays, root, monkeypatch):
    save = np.save

    def save_then_fail(path, array):
        save(path, array)
        raise OSError("disk full")

    monkeypatch.setattr(fc.np, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert entries(root) == []
    monkeypatch.setattr(fc.np, "save", save)
    features, labels = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert features.shape == (24, 4) and len(labels) == 24 and len(entries(root)) == 1


def test_an_entry_that_cannot_be_read_is_computed_again(extractor, arrays, root, capsys):
    first = np.array(fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)[0])
    (entry,) = root.iterdir()
    data = (entry / "features.npy").read_bytes()
    (entry / "features.npy").write_bytes(data[:-10])  # truncated
    capsys.readouterr()
    again, _ = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert "computed 24 feature rows" in capsys.readouterr().out
    np.testing.assert_array_equal(again, first)
    (entry / "labels.npy").write_bytes(b"not an array")
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert "computed 24 feature rows" in capsys.readouterr().out


def test_the_default_folder_is_under_the_data_dir(extractor, arrays, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)
    fc.cached_predict(extractor, batches(arrays), key="tiny")
    assert len(entries(tmp_path / "data" / "features")) == 1


def test_an_entry_in_the_shared_folder_is_read_there_and_nothing_is_written(extractor, arrays, monkeypatch, tmp_path):
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))  # the instructor fills the shared folder
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)
    built, _ = fc.cached_predict(extractor, batches(arrays), key="tiny")
    classroom.write_manifest(shared)  # as `make classroom-data` does
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))  # the learner
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(extractor, "predict", None)
    features, _ = fc.cached_predict(extractor, batches(arrays), key="tiny")
    assert str(features.filename).startswith(str(shared))
    np.testing.assert_array_equal(features, built)
    assert not (mine / "features").exists()


# --- the key's parts, one behaviour each (mutation testing found these unheld) ----------------------

class Scale(keras.layers.Layer):
    """A plain layer (no to_json: the key falls back to get_config) with a config JSON cannot hold."""

    def __init__(self, factor, reverse_config=False, **kwargs):
        super().__init__(**kwargs)
        self.factor, self.reverse_config = factor, reverse_config

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        config = {**super().get_config(), "factor": self.factor}
        return dict(reversed(config.items())) if self.reverse_config else config


class Shift(Scale):
    pass


def test_a_plain_layer_is_keyed_by_its_class_and_config_in_any_key_order():
    two, three = Scale(np.float32(2.0)), Scale(np.float32(3.0))  # np.float32: JSON needs repr for it
    assert fc._architecture_digest(two) != fc._architecture_digest(three)
    assert fc._architecture_digest(two) == fc._architecture_digest(Scale(np.float32(2.0), name="other_name"))
    assert fc._architecture_digest(Shift(np.float32(2.0))) != fc._architecture_digest(two)  # same config, other class
    assert fc._architecture_digest(Scale(np.float32(2.0), reverse_config=True)) == fc._architecture_digest(two)


def _two_branches(first_is_max: bool):
    inputs = keras.Input((4, 4, 3))
    average = keras.layers.GlobalAveragePooling2D()(inputs)
    largest = keras.layers.GlobalMaxPooling2D()(inputs)
    joined = keras.layers.Concatenate()([largest, average] if first_is_max else [average, largest])
    return keras.Model(inputs, joined)


def test_the_wiring_between_layers_is_part_of_the_key():
    # the same layers in the same order, joined the other way round: other features, another key
    assert fc._architecture_digest(_two_branches(True)) != fc._architecture_digest(_two_branches(False))
    assert fc._architecture_digest(_two_branches(True)) == fc._architecture_digest(_two_branches(True))


def test_labels_given_as_an_array_are_part_of_the_data_spec(arrays):
    images, labels = arrays
    with_labels = fc._entry_key(keras.layers.Flatten(), images, "k", labels)["data"]
    assert with_labels != fc._entry_key(keras.layers.Flatten(), images, "k")["data"]
    assert with_labels != fc._entry_key(keras.layers.Flatten(), images, "k", labels[:-1])["data"]


@pytest.mark.parametrize("key", ["", "   ", None])
def test_a_missing_key_says_how_to_name_one(arrays, key):
    with pytest.raises(fc.FeatureCacheError) as error:
        fc._entry_key(keras.layers.Flatten(), arrays[0], key)
    assert str(error.value) == ("give key= a name for the data and its preprocessing, e.g. "
                                "key='flowers train, 224 px, [-1, 1]'; change it when either changes")


# --- wrong hits the key once gave: each is now another entry or a refusal, never stale features ------

def halved(arrays):
    return arrays[0] * 0.5, arrays[1]


def relabelled(arrays):
    return arrays[0], (arrays[1] + 1) % 3


def kept_rows(keep):
    return lambda arrays: batches(arrays).unbatch().filter(lambda x, y: keep(y)).batch(8)  # tf.data: count unknown


@pytest.mark.parametrize("first, second", [
    (batches, lambda arrays: batches(halved(arrays))),  # other pixel values, same shapes
    (batches, lambda arrays: batches(relabelled(arrays))),  # other label values
    (batches, lambda arrays: batches(arrays).map(lambda x, y: (x * 0.5, y))),  # a map added to the pipeline
    (kept_rows(lambda y: y >= 0), kept_rows(lambda y: y > 0)),  # another filter
    (kept_rows(lambda y: y >= 0), lambda arrays: kept_rows(lambda y: y >= 0)(arrays).take(2)),  # fewer batches
], ids=["pixels", "labels", "map", "filter", "batch count"])
def test_other_data_under_the_same_key_is_refused_and_nothing_is_served(extractor, arrays, root, first, second):
    fc.cached_predict(extractor, first(arrays), key="tiny", folder=root)
    (entry,) = entries(root)
    with pytest.raises(fc.FeatureCacheError) as caught:
        fc.cached_predict(extractor, second(arrays), key="tiny", folder=root)
    message = str(caught.value)  # other labels: "content, labels (...) differ"
    assert message.startswith(f"the feature cache entry {root / entry} does not match this call: content")
    assert message.endswith(
        " differ, so nothing was read from it. If the data, their pipeline or the extractor changed, give key= a new "
        f"name; else delete {root / entry} and run again (a pipeline that shuffles differs every pass: cache the "
        "unshuffled batches)")
    assert isinstance(caught.value, CourseError)
    features, _ = fc.cached_predict(extractor, second(arrays), key="tiny, changed", folder=root)  # a new name
    assert len(entries(root)) == 2
    np.testing.assert_allclose(features, extractor.predict(second(arrays), verbose=0), rtol=1e-5, atol=1e-6)


def test_other_arrays_under_the_same_key_are_refused(extractor, arrays, root):
    fc.cached_predict(extractor, arrays[0], labels=arrays[1], key="tiny", folder=root)
    for images, labels in (halved(arrays), relabelled(arrays)):
        with pytest.raises(fc.FeatureCacheError, match=r"does not match this call: content(, labels .*)? differ"):
            fc.cached_predict(extractor, images, labels=labels, key="tiny", folder=root)


def named_after_its_activation(activation: str):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), layers.Flatten(),
                              layers.Dense(3, activation=activation, name=activation)])
    model.trainable = False
    return model


def test_a_layer_named_like_a_config_value_keeps_that_value_in_the_key(arrays, root):
    """Dense(name="relu") with relu and Dense(name="tanh") with tanh: once one key, the tanh model got relu features."""
    relu, tanh = named_after_its_activation("relu"), named_after_its_activation("tanh")
    assert fc._architecture_digest(relu) != fc._architecture_digest(tanh)
    fc.cached_predict(relu, batches(arrays), key="tiny", folder=root)
    features, _ = fc.cached_predict(tanh, batches(arrays), key="tiny", folder=root)
    assert len(entries(root)) == 2
    np.testing.assert_allclose(features, tanh.predict(arrays[0], verbose=0), rtol=1e-5, atol=1e-6)
    assert float(np.min(features)) < 0  # tanh's features, not relu's


def test_the_entry_manifest_is_checked_on_read(extractor, arrays, root):
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    (entry,) = entries(root)
    about = json.loads((root / entry / "COURSE_MANIFEST.json").read_text())
    (root / entry / "COURSE_MANIFEST.json").write_text(json.dumps({**about, "weights": "0" * 64}))
    with pytest.raises(fc.FeatureCacheError, match=f"the feature cache entry {root / entry} does not match this "
                                                   "call: weights differ, so nothing was read from it"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    (root / entry / "COURSE_MANIFEST.json").write_text(json.dumps({key: value for key, value in about.items() if key != "key"}))
    with pytest.raises(fc.FeatureCacheError, match="does not match this call: key differ"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)


def test_another_entrys_files_in_an_entry_folder_are_refused(extractor, arrays, root):
    fc.cached_predict(extractor, batches(halved(arrays)), key="other", folder=root)
    (other,) = entries(root)
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    (entry,) = set(entries(root)) - {other}
    for name in ("features.npy", "labels.npy", "COURSE_MANIFEST.json"):  # a whole entry copied over another
        (root / entry / name).write_bytes((root / other / name).read_bytes())
    with pytest.raises(fc.FeatureCacheError, match="does not match this call: key, content differ"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)


def test_stored_labels_that_are_not_the_batches_labels_are_refused(extractor, arrays, root):
    """A planted entry: the right manifest, every label 0."""
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    (entry,) = entries(root)
    np.save(root / entry / "labels.npy", np.zeros(24, np.int64))
    with pytest.raises(fc.FeatureCacheError, match="labels \\(the stored ones are not this call's\\) differ"):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    fc.cached_predict(extractor, arrays[0], labels=arrays[1], key="given", folder=root)
    (given,) = set(entries(root)) - {entry}
    np.save(root / given / "labels.npy", np.zeros(24, np.int64))
    with pytest.raises(fc.FeatureCacheError, match="labels .* differ"):
        fc.cached_predict(extractor, arrays[0], labels=arrays[1], key="given", folder=root)


def test_the_content_digest_of_a_pass_equals_the_one_computed_in_predict(extractor, arrays, root):
    fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    (entry,) = entries(root)
    digest, carried = fc._content_digest(batches(arrays, batch_size=5))
    assert json.loads((root / entry / "COURSE_MANIFEST.json").read_text())["content"] == digest
    np.testing.assert_array_equal(carried, arrays[1])
    assert fc._content_digest(tf.data.Dataset.from_tensor_slices(arrays[0]).batch(8)) != (digest, None)


def test_a_keras_3_dtype_policy_is_part_of_the_key_and_not_taken_for_a_layer_name():
    """Keras 3 writes a layer's dtype as a DTypePolicy config with a "name" field: float32 and bfloat16 features
    differ, so their keys must too; a layer called "float32" is still a name, replaced by its position."""
    def dense(dtype, name="dense"):
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((4,)), layers.Dense(3, dtype=dtype, name=name)])

    assert fc._architecture_digest(dense("float32")) != fc._architecture_digest(dense("bfloat16"))
    assert fc._architecture_digest(dense("float32", "float32")) == fc._architecture_digest(dense("float32", "other"))


def test_compiling_the_extractor_does_not_change_its_key():
    extractor = make_extractor()
    before = fc._architecture_digest(extractor)
    extractor.compile(optimizer="sgd", loss="mse")
    assert fc._architecture_digest(extractor) == before


def test_a_tf_keras_extractor_is_checked_keyed_and_cached_like_a_keras_3_one(arrays, root):
    """The TF Hub lessons build Keras 2 (tf_keras) models: one code path takes both."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    extractor = tf_keras.Sequential([tf_keras.Input((SIZE, SIZE, 3)), tf_keras.layers.Conv2D(4, 3, strides=2),
                                     tf_keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(fc.BackboneNotFrozenError):
        fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    noisy = tf_keras.Sequential([tf_keras.Input((SIZE, SIZE, 3)), tf_keras.layers.GaussianNoise(0.1), extractor])
    noisy.trainable = False
    with pytest.raises(fc.AugmentationError, match="GaussianNoise"):
        fc.cached_predict(noisy, batches(arrays), key="tiny", folder=root)
    extractor.trainable = False
    features, _ = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    again, _ = fc.cached_predict(extractor, batches(arrays), key="tiny", folder=root)
    assert len(entries(root)) == 1
    np.testing.assert_allclose(features, extractor.predict(arrays[0], verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again, features)
