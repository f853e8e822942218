"""Proofs of the notebooks' own model surgery: *show* what trains, in either Keras.

The notebooks write the head swap, the cut and the freezing loop themselves; these helpers
report which layers and how many parameters really train.
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_keras", "keras_of", "parameter_counts", "summarize_trainable", "trainable_report"]


def _kerases() -> tuple:
    """The Keras packages this process has imported: Keras 3 (``keras``, which ``tf.keras`` is since
    TensorFlow 2.16) and, in the TF Hub lessons, ``tf_keras``. Imports nothing: an object
    made by one of them means that one is imported already."""
    import sys

    return tuple(module for module in (sys.modules.get("keras"), sys.modules.get("tf_keras")) if module is not None)


def is_keras(obj, kind: str = "Model") -> bool:
    """``isinstance(obj, keras.<kind>)`` for Keras 3 or ``tf_keras``: ``kind`` is ``"Model"``, ``"Layer"``,
    ``"Sequential"`` or a layer class in ``keras.layers`` (``"Dense"``, ``"Conv2D"``, ...). One test for
    the objects of both Keras packages, so a check written once takes the learner's model from either."""
    modules = _kerases()
    if not modules:  # no Keras imported: nothing can be a Keras object
        return False
    classes = []
    for module in modules:
        cls = getattr(module, kind, None) if kind in ("Model", "Sequential") else getattr(module.layers, kind, None)
        if isinstance(cls, type):
            classes.append(cls)
    if not classes:
        raise ValueError(f"{kind!r} is not a Keras model or layer class")
    return isinstance(obj, tuple(classes))


def keras_of(obj):
    """The Keras package (``keras`` or ``tf_keras``) whose model or layer ``obj`` is: build a model
    around ``obj``'s layers with ``keras_of(obj).Model(...)`` and it is one Keras throughout."""
    for module in _kerases():
        if isinstance(obj, module.layers.Layer):
            return module
    raise TypeError(f"{type(obj).__name__} is not a Keras model or layer (neither keras nor tf_keras)")


def _count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def parameter_counts(model) -> dict[str, int]:
    """``{"trainable": ..., "non_trainable": ..., "total": ...}`` parameter counts."""
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def _trains(model) -> set[int]:
    """The ids of the variables ``fit`` updates: ``model.trainable_weights``, which Keras gathers
    recursively and empties when the model's own flag is off. Under a frozen *inner* model the two
    Keras differ: tf_keras leaves out every weight below it; Keras 3 freezes by switching each weight's
    own flag, so a layer switched back on inside a frozen inner model trains again (fit updates it)."""
    return {id(w) for w in model.trainable_weights}


def _effective_rows(model):
    """One tuple per top-level layer: name, type, whether it trains (its flag as Keras applies it, or
    ``fit`` updates some of its weights), parameters, parameters that ``fit`` updates."""
    training = _trains(model)
    for layer in model.layers:
        weights = layer.weights
        trained = [w for w in weights if id(w) in training]
        # Its own flag counts only while the model around it is trainable too; a frozen inner model with a
        # layer switched back on inside it still trains in Keras 3 (its weights are in trainable_weights).
        flag = bool(model.trainable and layer.trainable) or bool(trained)
        yield layer.name, type(layer).__name__, flag, _count(weights), _count(trained)


def trainable_report(model):
    """A table (pandas DataFrame): layer, type, trains, parameters, trainable parameters.

    The counts come from what ``fit`` updates (``model.trainable_weights``), not from each
    layer's own ``trainable`` flag: a layer switched back on inside a frozen model still
    shows 0 trainable parameters, because ``fit`` will not change it (in Keras 3 the same layer
    inside a frozen *inner* model does train, and shows it). Read it after every
    freezing step: it is the check that would have caught the lesson's
    ``layers.trainable = False`` typo.
    """
    import pandas as pd

    return pd.DataFrame(list(_effective_rows(model)),
                        columns=["layer", "type", "trainable", "params", "trainable_params"]).rename_axis("index")


def summarize_trainable(model) -> str:
    """One line: how many layers and parameters train (as ``fit`` sees them), e.g. for a markdown cell."""
    counts = parameter_counts(model)
    layers_training = sum(1 for row in _effective_rows(model) if row[4])
    return (
        f"{model.name}: {layers_training} of {len(model.layers)} layers train; "
        f"trainable params {counts['trainable']:,} / total {counts['total']:,}"
    )
