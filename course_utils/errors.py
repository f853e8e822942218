"""The one base class of every error the course raises on purpose.

``except CourseError`` catches them all; each subclass also keeps the
built-in base a caller would expect (``ValueError``, ``OSError``, ...).
Every message says what went wrong and what to do next.
"""

__all__ = ["CourseError"]


class CourseError(Exception):
    """An error the course raises on purpose, with a message that says what to do."""
