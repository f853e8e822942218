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


@pytest.mark.parametrize("outputs", [10, 15])
def test_replace_head_output_size_and_shared_weights(outputs):
    model = small_model()
    new = models.replace_head(model, outputs)
    assert new.output_shape == (None, outputs)
    assert new.layers[-2] is model.layers[-2]  # shared, not copied
    x = np.ones((2, 4), "float32")
    assert new(x).shape == (2, outputs)


def test_replace_head_from_named_layer():
    new = models.replace_head(small_model(), 2, from_layer="hidden1")
    assert [layer.name for layer in new.layers][-2:] == ["hidden1", "new_head"]


def test_cut_at():
    cut = models.cut_at(small_model(), "hidden2")
    assert cut.output_shape == (None, 6)


def test_freeze_all_leaves_nothing_trainable():
    model = small_model()
    models.freeze_all(model)
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
