import numpy as np
import pytest
import tensorflow as tf

from course_utils import models


def small_model():
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(8, activation="relu", input_shape=(4,), name="hidden1"),
            tf.keras.layers.Dense(6, activation="relu", name="hidden2"),
            tf.keras.layers.Dense(3, name="out"),
        ],
        name="small",
    )


def test_find_layer_by_index_and_name():
    model = small_model()
    assert models.find_layer(model, -2).name == "hidden2"
    assert models.find_layer(model, "out") is model.layers[-1]


def test_find_layer_bad_name_lists_valid_names():
    with pytest.raises(models.LayerNotFoundError, match=r"no layer named 'hiden2'.*hidden1, hidden2, out"):
        models.find_layer(small_model(), "hiden2")


def test_find_layer_bad_index_gives_the_range():
    with pytest.raises(models.LayerNotFoundError, match=r"index 5 is out of range.*-3 to 2"):
        models.find_layer(small_model(), 5)


def test_find_layer_wrong_type():
    with pytest.raises(TypeError):
        models.find_layer(small_model(), 1.5)


def test_parameter_counts_of_a_frozen_model():
    model = small_model()
    model.trainable = False
    assert models.parameter_counts(model)["trainable"] == 0
    assert models.parameter_counts(model)["total"] == (4 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3)


def test_freeze_first_counts_and_flags():
    model = small_model()
    frozen = models.freeze_first(model, 2)
    assert frozen == ["hidden1", "hidden2"]
    assert [layer.trainable for layer in model.layers] == [False, False, True]
    assert models.parameter_counts(model)["trainable"] == 6 * 3 + 3


def test_freeze_first_out_of_range():
    with pytest.raises(models.LayerNotFoundError, match="has 3 layers"):
        models.freeze_first(small_model(), 4)


def test_trainable_report_catches_the_typo():
    model = small_model()
    layers = tf.keras.layers
    for layer in model.layers[:2]:  # noqa: B007 (the typo under test)
        layers.trainable = False  # the lesson's typo: nothing is frozen
    del layers.trainable
    report = models.trainable_report(model)
    assert report["trainable"].all()
    for layer in model.layers[:2]:
        layer.trainable = False
    report = models.trainable_report(model)
    assert report["trainable"].tolist() == [False, False, True]
    assert report["trainable_params"].tolist() == [0, 0, 21]
    assert report["params"].tolist() == [40, 54, 21]


def test_summarize_trainable():
    model = small_model()
    model.layers[0].trainable = False
    text = models.summarize_trainable(model)
    assert "2 of 3 layers train" in text and "75" in text and "115" in text


def test_load_saved_model_missing_file(tmp_path):
    with pytest.raises(models.ModelFileError, match="no saved model at .*run the cell that trains and saves it"):
        models.load_saved_model(tmp_path / "nope.keras")


def test_load_saved_model_wrong_suffix(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("not a model")
    with pytest.raises(models.ModelFileError, match="not a .keras or .h5 file"):
        models.load_saved_model(path)


def test_load_saved_model_round_trip(tmp_path):
    model = small_model()
    path = tmp_path / "m.keras"
    model.save(path)
    again = models.load_saved_model(path)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(model(x), again(x), rtol=1e-6)


# --- exact behaviour (mutation testing, issue 17) -------------------------------------------

class _Layer:
    def __init__(self, name):
        self.name = name


class _Model:
    """Just what find_layer reads: a name and a list of named layers."""

    def __init__(self, count, name="fake"):
        self.name = name
        self.layers = [_Layer(f"l{i}") for i in range(count)]


@pytest.mark.parametrize("key, index", [(0, 0), (2, 2), (-1, 2), (-3, 0), (np.int64(1), 1), (np.int32(-2), 1)])
def test_find_layer_every_valid_index_including_numpy_ints(key, index):
    model = _Model(3)
    assert models.find_layer(model, key) is model.layers[index]


@pytest.mark.parametrize("key", [3, -4, 100, np.int64(3)])
def test_find_layer_index_just_outside_is_refused_with_the_exact_range(key):
    with pytest.raises(models.LayerNotFoundError) as err:
        models.find_layer(_Model(3, "small"), key)
    assert str(err.value) == f"layer index {key} is out of range: 'small' has 3 layers (valid indices -3 to 2)"


@pytest.mark.parametrize("key, kind", [(True, "bool"), (1.0, "float"), (None, "NoneType"), (b"out", "bytes")])
def test_find_layer_refuses_other_keys_by_type(key, kind):
    with pytest.raises(TypeError) as err:
        models.find_layer(_Model(3), key)
    assert str(err.value) == f"layer key must be an int index or a str name, not {kind}"


def test_find_layer_by_name_returns_the_first_with_that_name():
    model = _Model(3)
    model.layers[2].name = "l1"
    assert models.find_layer(model, "l1") is model.layers[1]
    with pytest.raises(models.LayerNotFoundError, match="valid names: l0, l1, l1$"):
        models.find_layer(model, "l2")


@pytest.mark.parametrize("count", [1, 40])
def test_find_layer_bad_name_lists_every_name_up_to_forty(count):
    with pytest.raises(models.LayerNotFoundError) as err:
        models.find_layer(_Model(count, "m"), "nope")
    names = ", ".join(f"l{i}" for i in range(count))
    assert str(err.value) == f"no layer named 'nope' in 'm'; valid names: {names}"


def test_find_layer_bad_name_of_a_big_model_shows_the_first_and_last_twenty():
    with pytest.raises(models.LayerNotFoundError) as err:
        models.find_layer(_Model(41, "big"), "mixed77")
    first = ", ".join(f"l{i}" for i in range(20))
    last = ", ".join(f"l{i}" for i in range(21, 41))
    assert str(err.value) == f"no layer named 'mixed77' in 'big'; valid names: {first}, ..., {last}"


def test_error_classes_are_what_callers_catch():
    assert issubclass(models.LayerNotFoundError, LookupError)
    assert issubclass(models.ModelFileError, FileNotFoundError)


@pytest.mark.parametrize("n, flags", [(0, [True, True, True]), (1, [False, True, True]), (3, [False, False, False])])
def test_freeze_first_at_the_boundaries_and_unfreezes_the_rest(n, flags):
    model = small_model()
    for layer in model.layers:
        layer.trainable = False
    frozen = models.freeze_first(model, n)
    assert frozen == ["hidden1", "hidden2", "out"][:n]
    assert [layer.trainable for layer in model.layers] == flags


@pytest.mark.parametrize("n", [-1, 4])
def test_freeze_first_refuses_just_outside_with_the_exact_message(n):
    model = small_model()
    with pytest.raises(models.LayerNotFoundError) as err:
        models.freeze_first(model, n)
    assert str(err.value) == f"cannot freeze the first {n} layers: 'small' has 3 layers"
    assert all(layer.trainable for layer in model.layers)  # nothing changed


def _model_with_batchnorm():
    return tf.keras.Sequential([
        tf.keras.layers.Dense(8, input_shape=(4,), name="dense"),
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Dropout(0.5, name="drop"),
        tf.keras.layers.Dense(1200, name="wide"),
    ], name="bn_model")


def test_parameter_counts_split_trainable_from_moving_statistics():
    counts = models.parameter_counts(_model_with_batchnorm())
    dense, bn_trainable, bn_moving, wide = 4 * 8 + 8, 2 * 8, 2 * 8, 8 * 1200 + 1200
    assert counts == {"trainable": dense + bn_trainable + wide, "non_trainable": bn_moving,
                      "total": dense + bn_trainable + bn_moving + wide}


def test_trainable_report_is_one_exact_row_per_layer():
    model = _model_with_batchnorm()
    model.layers[0].trainable = False
    report = models.trainable_report(model)
    assert report.index.name == "index" and report.index.tolist() == [0, 1, 2, 3]
    assert list(report.columns) == ["layer", "type", "trainable", "params", "trainable_params"]
    assert report["layer"].tolist() == ["dense", "bn", "drop", "wide"]
    assert report["type"].tolist() == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    assert report["trainable"].tolist() == [False, True, True, True]
    assert report["params"].tolist() == [40, 32, 0, 10800]
    assert report["trainable_params"].tolist() == [0, 16, 0, 10800]


def test_summarize_trainable_counts_only_layers_with_weights_and_separates_thousands():
    model = _model_with_batchnorm()
    assert models.summarize_trainable(model) == (
        "bn_model: 3 of 4 layers train; trainable params 10,856 / total 10,872")
    model.layers[-1].trainable = False
    assert models.summarize_trainable(model) == "bn_model: 2 of 4 layers train; trainable params 56 / total 10,872"


class _FakeKeras:
    def __init__(self):
        self.calls = []
        self.models = self

    def load_model(self, path, **kwargs):
        self.calls.append((path, kwargs))
        return "loaded"


@pytest.mark.parametrize("name, make", [("m.keras", "file"), ("saved_model", "folder"), ("weird.suffix", "folder")])
def test_load_saved_model_hands_files_and_folders_to_keras_with_the_options(tmp_path, monkeypatch, name, make):
    fake = _FakeKeras()
    monkeypatch.setattr(models, "_keras", lambda: fake)
    path = tmp_path / name
    if make == "file":
        path.write_bytes(b"model")
    else:
        path.mkdir()
    assert models.load_saved_model(str(path), compile=False) == "loaded"
    assert fake.calls == [(path, {"compile": False, "safe_mode": True})]


def _model_with_code(marker):
    """A model whose Lambda layer writes ``marker`` whenever it runs (building the model runs it once)."""
    def spy(x, marker=str(marker)):
        with open(marker, "w") as f:
            f.write("code ran")
        return x

    inputs = tf.keras.Input((2,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(tf.keras.layers.Lambda(spy)(inputs)))
    marker.unlink()
    return model


def test_a_legacy_h5_model_is_refused_before_its_code_can_run(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "model.h5"
    _model_with_code(marker).save(path)  # the .h5 suffix picks the legacy format
    with pytest.raises(models.UnsafeModelError) as err:
        models.load_saved_model(path)
    assert str(err.value).startswith(f"{path} is a legacy HDF5 model file: the course does not load those, because "
                                     "tf_keras's HDF5 loader ignores safe_mode")
    assert not marker.exists()
    tf.keras.models.load_model(path, safe_mode=True)  # what the check prevents: the loader runs the Lambda
    assert marker.read_text() == "code ran"


def test_a_keras_file_with_code_is_refused_in_safe_mode(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "model.keras"
    _model_with_code(marker).save(path)
    with pytest.raises(models.UnsafeModelError, match="holds Python code .a Lambda layer., which safe mode"):
        models.load_saved_model(path)
    with pytest.raises(models.UnsafeModelError, match="load_saved_model always loads with safe_mode=True"):
        models.load_saved_model(path, safe_mode=False)
    assert not marker.exists()


def test_load_saved_model_messages_are_exact(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(models.ModelFileError) as err:
        models.load_saved_model(missing)
    assert str(err.value) == (f"no saved model at {missing}: run the cell that trains and saves it first "
                              "(or point MODEL_PATH at your own .keras file)")
    wrong = tmp_path / "model.pb"
    wrong.write_bytes(b"x")
    with pytest.raises(models.ModelFileError) as err:
        models.load_saved_model(wrong)
    assert str(err.value) == f"{wrong} is not a .keras or .h5 file; save with model.save('name.keras')"


def test_a_layer_switched_on_inside_a_frozen_model_is_reported_frozen():
    # The trap of exercise 01.1: freeze the whole model, then switch two of its layers back on.
    # Keras keeps the model's own flag False, so fit updates nothing; the report must say so.
    model = small_model()
    model.trainable = False
    model.get_layer("hidden2").trainable = True
    model.get_layer("out").trainable = True
    report = models.trainable_report(model)
    assert report["trainable"].tolist() == [False, False, False]
    assert report["trainable_params"].tolist() == [0, 0, 0]
    assert models.summarize_trainable(model).startswith("small: 0 of 3 layers train; trainable params 0 /")
    model.compile(optimizer="sgd", loss="mse")
    before = [w.numpy().copy() for w in model.weights]
    model.fit(np.ones((4, 4)), np.ones((4, 3)), epochs=1, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))  # fit changed nothing


def test_a_nested_base_counts_only_what_fit_updates():
    # A base model inside a bigger one (lesson 04 and 06's shape): the row of the base counts
    # the base's weights that fit updates, whatever the base's inner layers say.
    base = small_model()
    outer = tf.keras.Sequential([base, tf.keras.layers.Dense(2, name="head")], name="outer")
    base.trainable = False
    base.get_layer("out").trainable = True  # inside a frozen parent: still frozen
    report = models.trainable_report(outer)
    assert report["layer"].tolist() == ["small", "head"]
    assert report["trainable"].tolist() == [False, True]
    assert report["trainable_params"].tolist() == [0, 3 * 2 + 2]
    base.trainable = True
    base.get_layer("hidden1").trainable = False
    report = models.trainable_report(outer)
    assert report["trainable_params"].tolist() == [54 + 21, 8]
