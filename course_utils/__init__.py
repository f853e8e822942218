"""Shared, tested helpers for the transfer-learning course notebooks.

Importing the package changes nothing outside it: no environment variable, no
patched module. The lessons use Keras 3; the TF Hub lessons import ``tf_keras``
themselves for their hub models. The offline guard belongs to the test harness and the runner's kernels
(:func:`course_utils.setup.env.offline_environment`).
"""
from __future__ import annotations

from course_utils.course.report import comparison_table, record, record_figure
from course_utils.errors import CourseError
from course_utils.setup.lesson import start_lesson
from course_utils.setup.profiles import ProfileError, resolve_profile

__all__ = [
    "CourseError",
    "ProfileError",
    "comparison_table",
    "record",
    "record_figure",
    "resolve_profile",
    "start_lesson",
]
