"""Which TensorFlow versions the course supports, checked with a clear message.

The course pins TensorFlow 2.21 with tf-keras 2.21, but Colab and Kaggle ship
their own TensorFlow. ``course_utils`` works on the TF 2.x releases that have
a matching ``tf-keras`` (2.15 and later) and says plainly when a version is
too old or the Keras 2 package is missing.
"""
from __future__ import annotations

import re
from importlib import metadata

from course_utils.errors import CourseError

MIN_TENSORFLOW = (2, 15)


class StackError(CourseError, RuntimeError):
    """The installed TensorFlow / tf-keras cannot run the course."""


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", text)[:2])  # "2.20.0rc1": (2, 20)


def _installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_stack(tensorflow_version: str | None = None, tf_keras_version: str | None = None) -> list[str]:
    """Raise :class:`StackError` for an unusable stack; return warnings for a workable one."""
    tf_version = tensorflow_version or _installed("tensorflow") or _installed("tensorflow-cpu")
    if tf_version is None:
        raise StackError("TensorFlow is not installed: run `make venv` (or pip install -e .) first")
    if _version_tuple(tf_version) < MIN_TENSORFLOW:
        raise StackError(
            f"TensorFlow {tf_version} is too old for this course (it needs 2.15 or later, with tf-keras): "
            "pip install -U 'tensorflow>=2.15' then restart the kernel"
        )
    keras2 = tf_keras_version or _installed("tf-keras")
    tf_minor = ".".join(tf_version.split(".")[:2])
    if keras2 is None:
        raise StackError(
            f"tf-keras (Keras 2) is not installed: pip install 'tf-keras=={tf_minor}.*' then restart the kernel"
        )
    warnings = []
    if _version_tuple(keras2) != _version_tuple(tf_version):
        warnings.append(
            f"tf-keras {keras2} does not match TensorFlow {tf_version}: pip install 'tf-keras=={tf_minor}.*' "
            "if you see errors"
        )
    return warnings
