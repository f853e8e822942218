"""Time training epochs: a Keras callback and a small summary.

:class:`EpochTimer` goes into ``fit`` of a Keras 3 model (most lessons) or of a ``tf_keras`` model (the
TF Hub lessons). The two ``fit`` loops differ in what they ask of a callback: Keras 3's only calls the
``on_*`` hooks, so a ``tf_keras`` callback runs there too; ``tf_keras``'s needs its own
``tf_keras.callbacks.Callback``. So an ``EpochTimer`` is a ``tf_keras`` callback where ``tf_keras`` is
imported (both fits take it) and a Keras 3 callback where it is not (no ``tf_keras`` model can exist
there); the timing code is the same in both.
"""
from __future__ import annotations

import sys
import time

__all__ = ["EpochTimer", "Stopwatch"]


class EpochTimer:
    """Records the wall time of every epoch in ``self.times`` (seconds): ``callbacks=[EpochTimer()]``.

    The first epoch includes graph tracing; :attr:`steady` drops it when
    there is more than one epoch, which is the fairer per-epoch figure.
    """

    def __new__(cls, *args, **kwargs):
        if cls is EpochTimer:  # EpochTimer(): the subclass that is also the callback class of the Keras in use
            cls = _timer_class()
        return super().__new__(cls)

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start: float | None = None

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


_CLASSES: dict[str, type] = {}


def _timer_class() -> type:
    """``EpochTimer`` joined with ``tf_keras.callbacks.Callback`` when ``tf_keras`` is imported (its ``fit``
    needs that class; Keras 3's ``fit`` takes it as well), else with ``keras.callbacks.Callback``."""
    if "tf_keras" in sys.modules:
        name, callbacks = "tf_keras", sys.modules["tf_keras"].callbacks
    else:
        import keras

        name, callbacks = "keras", keras.callbacks
    if name not in _CLASSES:
        _CLASSES[name] = type("EpochTimer", (EpochTimer, callbacks.Callback),
                              {"__module__": __name__, "__doc__": EpochTimer.__doc__})
    return _CLASSES[name]


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
