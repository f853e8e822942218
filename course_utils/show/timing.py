"""Time training epochs: a Keras callback and a small summary."""
from __future__ import annotations

import time

import tensorflow as tf


class EpochTimer(tf.keras.callbacks.Callback):
    """Records the wall time of every epoch in ``self.times`` (seconds).

    The first epoch includes graph tracing; :attr:`steady` drops it when
    there is more than one epoch, which is the fairer per-epoch figure.
    """

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    @property
    def steady(self) -> float:
        """Mean epoch time without the first (tracing) epoch, when there are two or more."""
        if not self.times:
            raise ValueError("EpochTimer saw no epoch: pass it in callbacks=[...] to fit()")
        times = self.times[1:] if len(self.times) > 1 else self.times
        return sum(times) / len(times)

    @property
    def total(self) -> float:
        return sum(self.times)


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
