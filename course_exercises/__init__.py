"""Exercises for the lessons: ``check()``, ``hint()`` and ``solution()`` in the notebook.

Each lesson module (``lesson01`` ... ``lesson06``) defines ``ex1``, ``ex2`` and ``ex3``, each with
:func:`exercise` on its checker. In the notebook::

    from course_exercises.lesson01 import ex1, ex2, ex3
    ex1.check(trainable_params, net)   # says what is right or what is wrong
    ex1.hint()                          # a nudge (ex1.hint(2): the next one)
    ex1.solution()                      # prints the code of a solution

What an exercise needs (a fresh model, a batch of images) the lesson module builds itself, so it runs in
both profiles, offline, in seconds, whatever the notebook's variable names. The answer cells hold the
solution between nbgrader's ``### BEGIN SOLUTION`` and ``### END SOLUTION`` marks, after ``answer = None``
(``grading.py`` writes the student version).

**When does a check fail?** A learner doing Run All must not be stopped by an unanswered exercise, and a
wrong answer should be *explained*, not turned into a stack trace: ``check()`` prints ``waiting for your
answer`` or ``not yet: <what is wrong>`` and returns. nbgrader's autograder gives a test cell its points
unless it raises, and it sets ``NBGRADER_EXECUTION`` (``"autograde"`` or ``"validate"``) for exactly this
(nbgrader FAQ); with it set, ``check()`` raises :class:`ExerciseFailed` (an ``AssertionError``) with the
same message. The checks never print to stderr on success (nbgrader scores such a cell 0), so warnings
raised while checking are silenced.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import math
import os
import re
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from course_utils.errors import CourseError

__all__ = ["Exercise", "ExerciseFailed", "Verdict", "Wrong", "exercise", "expect", "grading_mode", "judge"]

GRADING_VARIABLE = "NBGRADER_EXECUTION"


class Wrong(CourseError):
    """Raised by a checker: the answer is wrong, and the message says what is wrong."""


class ExerciseFailed(CourseError, AssertionError):
    """A wrong or missing answer while nbgrader grades or validates the notebook."""


@dataclass(frozen=True)
class Verdict:
    """What a check found: ``status`` is ``"correct"``, ``"wrong"`` or ``"waiting"``."""

    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def grading_mode() -> bool:
    """True while nbgrader autogrades or validates (it sets ``NBGRADER_EXECUTION``)."""
    return bool(os.environ.get(GRADING_VARIABLE))


def is_missing(value) -> bool:
    """An answer not given yet: ``None`` or ``...``."""
    return value is None or value is Ellipsis


@contextlib.contextmanager
def _quiet():
    """No Python warnings and no TensorFlow warnings while a check runs (nbgrader scores stderr as 0)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


class Exercise:
    """One exercise: what to do, how to check it, hints and a solution.

    ``checker(*answers)`` returns a sentence for a right answer and raises :class:`Wrong` with a specific
    message for a wrong one. ``answers`` names what ``check`` takes, in order (``("trainable_params", "net")``).
    """

    def __init__(self, lesson: str, number: int, title: str, answers: Sequence[str],
                 checker: Callable[..., str], hints: Sequence[str], solution: str):
        self.lesson, self.number, self.title, self.answers = lesson, number, title, tuple(answers)
        self._checker, self._hints = checker, tuple(hints)
        self._solution = textwrap.dedent(solution).strip("\n")

    @property
    def label(self) -> str:
        return f"Exercise {self.lesson}.{self.number} ({self.title})"

    def __repr__(self) -> str:
        n = self.number
        return f"<{self.label}: ex{n}.check({', '.join(self.answers)}), ex{n}.hint(), ex{n}.solution()>"

    def verdict(self, *answers) -> Verdict:
        """Check without printing or raising: the :class:`Verdict` (what ``check`` prints)."""
        if len(answers) != len(self.answers):
            return Verdict("wrong", f"check takes {len(self.answers)} argument(s): check({', '.join(self.answers)})")
        missing = [name for name, value in zip(self.answers, answers) if is_missing(value)]
        if missing:
            return Verdict("waiting", f"set `{missing[0]}` in the cell above and run this cell again "
                                      f"(ex{self.number}.hint() for a hint).")
        try:
            with _quiet():
                message = self._checker(*answers)
        except Wrong as wrong:
            return Verdict("wrong", str(wrong))
        except Exception as error:  # the learner's object broke the check: say so, do not crash Run All
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return Verdict("wrong", f"your answer could not be checked: {type(error).__name__}: {first}")
        return Verdict("correct", message)

    def check(self, *answers) -> None:
        """Print whether the answer is right and, if not, what is wrong. Never raises for a learner; under
        nbgrader (``NBGRADER_EXECUTION`` set) a wrong or missing answer raises :class:`ExerciseFailed`."""
        verdict = self.verdict(*answers)
        heading = {"correct": "correct", "wrong": "not yet", "waiting": "waiting for your answer"}[verdict.status]
        text = f"{self.label} - {heading}: {verdict.message}"
        if grading_mode() and not verdict.correct:
            raise ExerciseFailed(text)
        print(text, flush=True)

    def hint(self, number: int = 1) -> None:
        """Print hint ``number`` (1 first); says how many more there are."""
        if not 1 <= number <= len(self._hints):
            print(f"{self.label} has hints 1 to {len(self._hints)}.")
            return
        more = f" (more: ex{self.number}.hint({number + 1}))" if number < len(self._hints) else ""
        print(f"Hint {number} for {self.label}{more}: {self._hints[number - 1]}")

    def solution(self) -> None:
        """Print the code of a solution."""
        print(f"Solution to {self.label}:\n\n{self._solution}")

    @property
    def solution_code(self) -> str:
        return self._solution


def exercise(lesson: str, number: int, title: str, *, hints: str, solution: str):
    """Make the decorated checker an :class:`Exercise`: what ``check`` takes are the checker's parameters;
    ``hints`` is a text of ``- `` items, one hint each. mutmut does not mutate a decorated function, so in the
    lesson modules ``exN`` only passes its answers on to ``_exN``, which holds the checks (docs/MUTATION.md)."""
    def make(checker: Callable[..., str]) -> Exercise:
        answers = tuple(inspect.signature(checker).parameters)
        paragraphs = [" ".join(item.split()) for item in re.split(r"^\s*- ", hints, flags=re.M)[1:]]
        return Exercise(lesson, number, title, answers, checker, hints=paragraphs, solution=solution)

    return make


def expect(condition, message: str) -> None:
    """:class:`Wrong` with ``message`` unless ``condition`` holds: one check of an answer."""
    if not condition:
        raise Wrong(message)


def judge(answer, expected, right: str, slips: Sequence[tuple[object, str]], otherwise: str) -> str:
    """``right`` when ``answer == expected``; else :class:`Wrong` with the message of the first slip whose
    value is ``answer`` (the usual mistakes, each named), else ``otherwise``."""
    if answer == expected:
        return right
    raise Wrong(next((message for value, message in slips if answer == value), otherwise))


def count_params(weights) -> int:
    """The number of values in a list of weights (``model.trainable_weights`` and the like)."""
    return sum(math.prod(int(dim) for dim in weight.shape) for weight in weights)


def as_number(value, what: str) -> float | int:
    """``value`` as a Python number, whether the learner wrote it as a Python number, a numpy scalar or a
    one-element array, or a ``tf.Tensor`` (``tf.size``, ``tf.reduce_sum`` ...); else :class:`Wrong`."""
    import numbers

    import numpy as np

    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a tf.Tensor or a Keras variable
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Wrong(f"{what} should be a number, not {type(value).__name__}")
    return value


def as_int(value, what: str) -> int:
    """``value`` as an int (see :func:`as_number` for the forms taken), or :class:`Wrong` saying a whole
    number was expected."""
    number = as_number(value, what)
    if float(number) != int(number):
        raise Wrong(f"{what} should be a whole number, not {number}")
    return int(number)


def not_probabilities(out, last_layer=None) -> str | None:
    """Why ``out`` (rows of class scores) are not probabilities, or None when they are: names the usual cause
    (logits from a Dense layer without an activation, sigmoid where softmax was meant, softmax on the wrong axis)."""
    import numpy as np

    out = np.asarray(out, dtype="float64")
    if out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=-1), 1.0, atol=1e-4):
        return None
    activation = getattr(getattr(last_layer, "activation", None), "__name__", None)
    if activation == "sigmoid":
        return ("each value lies in [0, 1] but the rows do not sum to 1: sigmoid scores every class on its own; "
                "one class out of several needs softmax.")
    if out.ndim == 2 and out.min() >= 0 and np.allclose(out.sum(axis=0), 1.0, atol=1e-4):
        return "each column sums to 1, not each row: apply softmax over the classes (axis=-1), not over the images."
    if out.min() < 0:
        return "these are logits (some are negative), not probabilities: softmax turns each row into probabilities."
    return "the rows do not sum to 1, so these are not probabilities: softmax turns each row into probabilities."


def require_model(value, what: str):
    """``value`` if it is a Keras model (Keras 3, or tf_keras in the TF Hub lessons), else :class:`Wrong`."""
    from course_utils.models import is_keras

    if not is_keras(value, "Model"):
        raise Wrong(f"{what} should be a Keras model, not {type(value).__name__}")
    return value


def layers_within(model, *, models: bool = False) -> list:
    """The layers inside ``model`` in order, nested models opened up (each model's public ``layers``, in either
    Keras): the layers that are not models, or with ``models=True`` the nested models too, each before its own
    layers. A layer reached twice is listed once; a hub.KerasLayer has no ``layers``, so it is one layer here."""
    found, seen = [], set()

    def visit(container) -> None:
        for layer in getattr(container, "layers", None) or []:
            if id(layer) not in seen:
                seen.add(id(layer))
                if models or not hasattr(layer, "layers"):
                    found.append(layer)
                if hasattr(layer, "layers"):
                    visit(layer)

    visit(model)
    return found
