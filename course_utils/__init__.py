"""Shared, tested helpers for the transfer-learning course notebooks.

Importing the package sets ``TF_USE_LEGACY_KERAS=1`` (Keras 2, needed by TF
Hub) and, when TensorFlow was already imported with Keras 3, stops with a
message that says to restart the kernel.
"""
from __future__ import annotations

import os as _os
import sys as _sys

from course_utils.setup import env as _env

_os.environ["TF_USE_LEGACY_KERAS"] = "1"
if _os.environ.get("COURSE_OFFLINE") == "1":
    _env.block_network()
if "tensorflow" in _sys.modules:
    _env.check_keras2()

from course_utils.course.report import comparison_table, record, record_figure  # noqa: E402
from course_utils.errors import CourseError  # noqa: E402
from course_utils.setup.env import KerasVersionError  # noqa: E402
from course_utils.setup.lesson import start_lesson  # noqa: E402
from course_utils.setup.profiles import ProfileError, resolve_profile  # noqa: E402

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
