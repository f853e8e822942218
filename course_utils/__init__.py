"""Shared, tested helpers for the transfer-learning course notebooks.

Importing the package changes nothing outside it: no environment variable, no
patched module. The notebook's setup cell sets ``TF_USE_LEGACY_KERAS=1`` (Keras
2, needed by TF Hub) before TensorFlow is imported; :func:`start_lesson` stops
with a message that says to restart the kernel when TensorFlow runs Keras 3.
The offline guard belongs to the test harness and the runner's kernels
(:func:`course_utils.setup.env.offline_environment`).
"""
from __future__ import annotations

from course_utils.course.report import comparison_table, record, record_figure
from course_utils.errors import CourseError
from course_utils.setup.env import KerasVersionError
from course_utils.setup.lesson import start_lesson
from course_utils.setup.profiles import ProfileError, resolve_profile

__all__ = [
    "CourseError",
    "KerasVersionError",
    "ProfileError",
    "comparison_table",
    "record",
    "record_figure",
    "resolve_profile",
    "start_lesson",
]
__version__ = "0.1.0"
