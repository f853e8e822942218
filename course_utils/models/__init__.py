"""Proofs of the notebooks' own model surgery: find a layer, freeze the first n, *show* what trains.

The notebooks write the head swap, the cut and the freezing loop themselves; these helpers
report which layers and how many parameters really train.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from course_utils.errors import CourseError


class ModelFileError(CourseError, FileNotFoundError):
    """A saved model file that is missing or not a Keras model file."""


class UnsafeModelError(CourseError, ValueError):
    """A saved model that would run Python code when loaded (a legacy ``.h5``, a ``Lambda`` in safe mode)."""


def _saved_by_keras_2(path: Path) -> str | None:
    """The ``keras_version`` a ``.keras`` file's ``metadata.json`` names when it is a Keras 2 one (saved by
    ``tf_keras``), else ``None`` (Keras 3, or not a readable ``.keras`` archive: Keras says what is wrong)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            version = str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return version if version.startswith("2.") else None


def _keras(path: Path | None = None):
    """The Keras that loads ``path``: ``tf_keras`` for a ``.keras`` file it saved (Keras 3 cannot rebuild
    tf_keras's classes), Keras 3 for everything else."""
    if path is not None and path.is_file() and (version := _saved_by_keras_2(path)):
        try:
            import tf_keras
        except ImportError:
            raise ModelFileError(f"{path} was saved by tf_keras {version} (the TF Hub lessons' Keras), which is not "
                                 "installed: pip install tf-keras (the version that matches TensorFlow)") from None
        return tf_keras
    import keras

    return keras


def kerases() -> tuple:
    """The Keras packages this process has imported: Keras 3 (``keras``, which ``tf.keras`` is since
    TensorFlow 2.16) and, in the TF Hub lessons, ``tf_keras``. Imports nothing: an object
    made by one of them means that one is imported already."""
    import sys

    return tuple(module for module in (sys.modules.get("keras"), sys.modules.get("tf_keras")) if module is not None)


def is_keras(obj, kind: str = "Model") -> bool:
    """``isinstance(obj, keras.<kind>)`` for Keras 3 or ``tf_keras``: ``kind`` is ``"Model"``, ``"Layer"``,
    ``"Sequential"`` or a layer class in ``keras.layers`` (``"Dense"``, ``"Conv2D"``, ...). One test for
    the objects of both Keras packages, so a check written once takes the learner's model from either."""
    modules = kerases()
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
    for module in kerases():
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


def load_saved_model(path: str | Path, **kwargs):
    """``keras.models.load_model`` with a clear error when the file is not there, and no code run on load.

    A ``.keras`` file loads with ``safe_mode`` on: a ``Lambda`` layer's Python code in it is refused
    (:class:`UnsafeModelError`). It loads with the Keras that saved it (its ``metadata.json``): Keras 3,
    or ``tf_keras`` for a file a TF Hub lesson's model wrote (Keras 3 cannot rebuild tf_keras's classes), so
    the model comes back as the same Keras's object. A legacy ``.h5`` file is refused outright:
    tf_keras's HDF5 loader ignores ``safe_mode`` and rebuilds a ``Lambda`` layer's code, which runs while
    the model is put back together. Converting it once, where the file is trusted, is one line (the
    message says it).
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(
            f"no saved model at {path}: run the cell that trains and saves it first "
            "(or point MODEL_PATH at your own .keras file)"
        )
    if path.is_file() and path.suffix not in (".keras", ".h5"):
        raise ModelFileError(f"{path} is not a .keras or .h5 file; save with model.save('name.keras')")
    if path.is_file() and path.suffix == ".h5":
        raise UnsafeModelError(
            f"{path} is a legacy HDF5 model file: the course does not load those, because tf_keras's HDF5 loader "
            "ignores safe_mode and runs the Python code of any Lambda layer in it while loading. If you trust "
            "where it comes from, convert it once: keras.models.load_model(path).save('name.keras') (tf_keras "
            "instead of keras for a file tf_keras saved), then load the .keras file (safe mode refuses code in it)"
        )
    if kwargs.get("safe_mode", True) is not True:
        raise UnsafeModelError("load_saved_model always loads with safe_mode=True; for a file you trust, "
                               "call keras.models.load_model(path, safe_mode=False) yourself")
    kwargs["safe_mode"] = True
    try:
        return _keras(path).models.load_model(path, **kwargs)
    except ValueError as err:
        if "safe_mode" not in str(err):
            raise
        raise UnsafeModelError(f"{path} holds Python code (a Lambda layer), which safe mode does not load: "
                               f"{err}") from None
