
import keras
import numpy as np
import pytest
import tf_keras

from course_utils import models

# Every test of a real Keras model runs with both Keras packages: Keras 3 (most lessons) and tf_keras
# (the models the TF Hub lessons build around hub.KerasLayer).
KERASES = {"keras": keras, "tf_keras": tf_keras}


@pytest.fixture(params=list(KERASES))
def K(request):
    return KERASES[request.param]


def small_model(K=keras):
    return K.Sequential(
        [
            K.Input((4,)),
            K.layers.Dense(8, activation="relu", name="hidden1"),
            K.layers.Dense(6, activation="relu", name="hidden2"),
            K.layers.Dense(3, name="out"),
        ],
        name="small",
    )


def test_parameter_counts_of_a_frozen_model(K):
    model = small_model(K)
    model.trainable = False
    assert models.parameter_counts(model)["trainable"] == 0
    assert models.parameter_counts(model)["total"] == (4 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3)


def test_trainable_report_catches_the_typo(K):
    model = small_model(K)
    layers = K.layers
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


def test_summarize_trainable(K):
    model = small_model(K)
    model.layers[0].trainable = False
    text = models.summarize_trainable(model)
    assert "2 of 3 layers train" in text and "75" in text and "115" in text


# --- exact behaviour (mutation testing, issue 17) -------------------------------------------

def _model_with_batchnorm(K):
    return K.Sequential([
        K.Input((4,)),
        K.layers.Dense(8, name="dense"),
        K.layers.BatchNormalization(name="bn"),
        K.layers.Dropout(0.5, name="drop"),
        K.layers.Dense(1200, name="wide"),
    ], name="bn_model")


def test_parameter_counts_split_trainable_from_moving_statistics(K):
    counts = models.parameter_counts(_model_with_batchnorm(K))
    dense, bn_trainable, bn_moving, wide = 4 * 8 + 8, 2 * 8, 2 * 8, 8 * 1200 + 1200
    assert counts == {"trainable": dense + bn_trainable + wide, "non_trainable": bn_moving,
                      "total": dense + bn_trainable + bn_moving + wide}


def test_trainable_report_is_one_exact_row_per_layer(K):
    model = _model_with_batchnorm(K)
    model.layers[0].trainable = False
    report = models.trainable_report(model)
    assert report.index.name == "index" and report.index.tolist() == [0, 1, 2, 3]
    assert list(report.columns) == ["layer", "type", "trainable", "params", "trainable_params"]
    assert report["layer"].tolist() == ["dense", "bn", "drop", "wide"]
    assert report["type"].tolist() == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    assert report["trainable"].tolist() == [False, True, True, True]
    assert report["params"].tolist() == [40, 32, 0, 10800]
    assert report["trainable_params"].tolist() == [0, 16, 0, 10800]


def test_summarize_trainable_counts_only_layers_with_weights_and_separates_thousands(K):
    model = _model_with_batchnorm(K)
    assert models.summarize_trainable(model) == (
        "bn_model: 3 of 4 layers train; trainable params 10,856 / total 10,872")
    model.layers[-1].trainable = False
    assert models.summarize_trainable(model) == "bn_model: 2 of 4 layers train; trainable params 56 / total 10,872"


def test_is_keras_takes_the_objects_of_either_keras(K):
    model = small_model(K)
    assert models.is_keras(model) and models.is_keras(model, "Sequential")
    assert models.is_keras(model.layers[0], "Dense") and models.is_keras(model.layers[0], "Layer")
    assert not models.is_keras(model.layers[0], "Conv2D") and not models.is_keras(model.layers[0])
    assert not models.is_keras(np.zeros(3), "Layer") and not models.is_keras("model")
    with pytest.raises(ValueError, match="'Denze' is not a Keras model or layer class"):
        models.is_keras(model, "Denze")


def test_a_layer_switched_on_inside_a_frozen_model_is_reported_frozen(K):
    # The trap of exercise 01.1: freeze the whole model, then switch two of its layers back on.
    # Keras keeps the model's own flag False, so fit updates nothing; the report must say so.
    model = small_model(K)
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


def _changed_by_fit(model, K):
    """The parameters per top-level layer whose values one epoch of ``fit`` changed."""
    before = [[w.numpy().copy() for w in layer.weights] for layer in model.layers]
    model.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0)
    return [sum(int(np.prod(w.shape)) for old, w in zip(olds, layer.weights) if not np.array_equal(old, w.numpy()))
            for olds, layer in zip(before, model.layers)]


def test_a_nested_base_counts_only_what_fit_updates(K):
    # A base model inside a bigger one (lesson 04 and 06's shape): the row of the base counts
    # the base's weights that fit updates, whatever the base's inner layers say.
    base = small_model(K)
    outer = K.Sequential([K.Input((4,)), base, K.layers.Dense(2, name="head")], name="outer")
    base.trainable = False
    base.get_layer("out").trainable = True  # switched back on inside its frozen parent
    report = models.trainable_report(outer)
    assert report["layer"].tolist() == ["small", "head"]
    # tf_keras: still frozen under its parent. Keras 3: trainable_weights takes it, and fit updates it.
    inner = 0 if K is tf_keras else 6 * 3 + 3
    assert report["trainable"].tolist() == [bool(inner), True]
    assert report["trainable_params"].tolist() == [inner, 3 * 2 + 2]
    assert models.summarize_trainable(outer).startswith(f"outer: {1 + bool(inner)} of 2 layers train; "
                                                        f"trainable params {inner + 8} /")
    assert _changed_by_fit(outer, K) == report["trainable_params"].tolist()  # the report is what fit does
    base.trainable = True
    base.get_layer("hidden1").trainable = False
    report = models.trainable_report(outer)
    assert report["trainable_params"].tolist() == [54 + 21, 8]
    assert _changed_by_fit(outer, K) == [54 + 21, 8]


def test_keras_of_names_the_package_of_a_model_or_layer(K):
    model = small_model(K)
    assert models.keras_of(model) is K and models.keras_of(model.layers[0]) is K
    with pytest.raises(TypeError, match="list is not a Keras model or layer"):
        models.keras_of([model])
