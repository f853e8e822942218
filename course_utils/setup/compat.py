"""Which TensorFlow and Keras versions the course supports, checked with a clear message.

The course pins TensorFlow 2.21 with Keras 3 (and tf-keras 2.21 for the TF Hub
lessons), but Colab and Kaggle ship their own versions. ``course_utils`` works
on TensorFlow 2.16 and later, where Keras 3 is TensorFlow's Keras; the TF Hub
lessons (02, 03) also need the ``tf-keras`` release that matches TensorFlow,
because ``hub.KerasLayer`` works only inside a ``tf_keras`` model (tensorflow/hub#903).
"""
from __future__ import annotations

import re
from importlib import metadata

from course_utils.errors import CourseError

__all__ = ["HUB_LESSONS", "StackError", "check_stack", "installed"]

_MIN_TENSORFLOW = (2, 16)
_MIN_KERAS = (3, 0)
HUB_LESSONS = ("02", "03")  # the lessons that build models around hub.KerasLayer, with tf_keras


class StackError(CourseError, RuntimeError):
    """The installed TensorFlow / Keras cannot run the course."""


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", text)[:2])  # "2.20.0rc1": (2, 20)


def installed(package: str) -> str | None:
    """The installed version of ``package``, or ``None`` (imports nothing)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_stack(tensorflow_version: str | None = None, keras_version: str | None = None,
                tf_keras_version: str | None = None, *, hub: bool = False) -> list[str]:
    """Raise :class:`StackError` for an unusable stack; return warnings for a workable one.

    ``hub``: the lesson builds TF Hub models, so ``tf-keras`` must be there too.
    """
    tf_version = tensorflow_version or installed("tensorflow") or installed("tensorflow-cpu")
    if tf_version is None:
        raise StackError("TensorFlow is not installed: run `make venv` (or pip install -e .) first")
    if _version_tuple(tf_version) < _MIN_TENSORFLOW:
        raise StackError(
            f"TensorFlow {tf_version} is too old for this course (it needs 2.16 or later, with Keras 3): "
            "pip install -U 'tensorflow>=2.16' then restart the kernel"
        )
    keras3 = keras_version or installed("keras")
    if keras3 is None or _version_tuple(keras3) < _MIN_KERAS:
        raise StackError(f"Keras {keras3 or '(not installed)'} is not Keras 3: pip install -U 'keras>=3' "
                         "then restart the kernel")
    tf_minor = ".".join(tf_version.split(".")[:2])
    tf_keras_found = tf_keras_version or installed("tf-keras")
    warnings = []
    if hub and tf_keras_found is None:
        raise StackError(
            f"tf-keras (which hub.KerasLayer needs) is not installed: pip install 'tf-keras=={tf_minor}.*' "
            "then restart the kernel"
        )
    if hub and _version_tuple(tf_keras_found) != _version_tuple(tf_version):
        warnings.append(
            f"tf-keras {tf_keras_found} does not match TensorFlow {tf_version}: pip install 'tf-keras=={tf_minor}.*' "
            "if you see errors"
        )
    return warnings
