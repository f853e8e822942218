import numpy as np
import pytest
import tensorflow as tf

from course_utils.show.timing import EpochTimer, Stopwatch


def test_epoch_timer_records_every_epoch():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    timer = EpochTimer()
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.times) == 3 and all(t > 0 for t in timer.times)
    assert timer.steady == pytest.approx(sum(timer.times[1:]) / 2)
    assert timer.total == pytest.approx(sum(timer.times))


def test_epoch_timer_without_epochs_explains():
    with pytest.raises(ValueError, match="callbacks="):
        EpochTimer().steady  # noqa: B018 (the access itself is under test)


def test_stopwatch():
    with Stopwatch() as sw:
        sum(range(1000))
    assert sw.seconds > 0
