import sys

import keras
import numpy as np
import pytest
import tf_keras

from course_utils.show.timing import EpochTimer, Stopwatch

KERASES = {"keras": keras, "tf_keras": tf_keras}  # Keras 3 (most lessons), tf_keras (the TF Hub lessons)


def _fit_three_epochs(package, timer):
    model = package.Sequential([package.Input((2,)), package.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[timer])


@pytest.mark.parametrize("name", KERASES)
def test_epoch_timer_records_every_epoch_in_the_fit_of_either_keras(name):
    timer = EpochTimer()  # one class for both fits: made before the model, as the lessons do
    _fit_three_epochs(KERASES[name], timer)
    assert isinstance(timer, EpochTimer)
    assert len(timer.times) == 3 and all(t > 0 for t in timer.times)
    assert timer.steady == pytest.approx(sum(timer.times[1:]) / 2)
    assert timer.total == pytest.approx(sum(timer.times))


def test_without_tf_keras_imported_it_is_a_keras_3_callback(monkeypatch):
    # The lessons that never import tf_keras get a plain Keras 3 callback (and import no tf_keras for it).
    monkeypatch.delitem(sys.modules, "tf_keras")
    timer = EpochTimer()
    assert isinstance(timer, keras.callbacks.Callback) and not isinstance(timer, tf_keras.callbacks.Callback)
    assert "tf_keras" not in sys.modules
    _fit_three_epochs(keras, timer)
    assert len(timer.times) == 3


def test_each_timer_keeps_its_own_times():
    first, second = EpochTimer(), EpochTimer()
    _fit_three_epochs(keras, first)
    assert len(first.times) == 3 and second.times == []


def test_epoch_timer_without_epochs_explains():
    with pytest.raises(ValueError, match="callbacks="):
        EpochTimer().steady  # noqa: B018 (the access itself is under test)


def test_stopwatch():
    with Stopwatch() as sw:
        sum(range(1000))
    assert sw.seconds > 0
