"""Instructors: student notebooks without solutions, and offline autograding, with nbgrader.

    python -m course_exercises.grading student [NOTEBOOK ...] [--lessons 01 03] [--out build/student]
    python -m course_exercises.grading autograde SUBMITTED.ipynb [--student NAME]

nbgrader (``pip install -e ".[grading]"``) works in a *course directory* (``--course-dir``, default
``build/grading``): ``source/<assignment>/<notebook>.ipynb`` is the instructor's version, one assignment per
lesson (``lesson01`` ... ``lesson06``) from ``notebooks/NN_*.ipynb``.

``student`` runs nbgrader's ``generate_assignment``: each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
region becomes a comment (not ``raise NotImplementedError()``, so the student version runs from top to
bottom), outputs are cleared, the locked cells' checksums go into ``gradebook.db``, and the notebooks are
copied to ``build/student``. ``autograde`` copies a submission to ``submitted/<student>/<assignment>/`` and
runs nbgrader's ``autograde``: it restores the locked cells, executes the notebook (offline, quick profile
unless the environment says otherwise; the checks raise because nbgrader sets ``NBGRADER_EXECUTION``) and
prints the score and failing message of every test cell. It generates the student version first if missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.errors import CourseError
from course_utils.setup.env import checkout_root, environment

ROOT = checkout_root() or Path.cwd()
NOTEBOOKS = ROOT / "notebooks"
COURSE_DIR = ROOT / "build" / "grading"
STUDENT_DIR = ROOT / "build" / "student"
CODE_STUB = "# YOUR CODE HERE"
# What the notebook's kernel sees while autograding: offline, quick profile, no plots on screen.
GRADING_ENVIRONMENT = {"COURSE_PROFILE": "quick", "COURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                       "MPLBACKEND": "Agg"}


class GradingError(CourseError, RuntimeError):
    """nbgrader is missing, or one of its steps failed (the message carries its log)."""


def assignment_for(notebook: str | Path) -> str:
    """``lesson01`` for ``01_own_model_head_swap.ipynb``: one nbgrader assignment per lesson."""
    match = re.match(r"(\d\d)_", Path(notebook).name)
    if not match:
        raise GradingError(f"{Path(notebook).name}: a lesson notebook's name starts with its number, e.g. 01_...ipynb")
    return f"lesson{match.group(1)}"


def _api(course_dir: Path, timeout: int):
    try:
        from nbgrader.apps import NbGraderAPI
    except ImportError:
        raise GradingError("nbgrader is not installed: pip install -e '.[grading]' "
                           "(make student and make autograde install it)") from None
    from traitlets.config import Config

    _tools_on_path()
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.Execute.timeout = timeout
    # The submission's kernel runs isolated (course_exercises.sandbox: another user, no network, no home folder,
    # no gradebook); nbgrader's steps, and the gradebook they write, stay here.
    from nbgrader.converters import Autograde

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = ["course_exercises.sandbox.IsolatedExecute" if step.__name__ == "Execute"
                                                else step for step in steps]
    config.IsolatedKernelManager.course_root = str(Path(course_dir).resolve())
    return NbGraderAPI(config=config)


def _tools_on_path() -> None:
    """nbgrader runs its environment's ``alembic``: put that bin/ on PATH (``.venv/bin/python -m`` does not)."""
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and (Path(bin_dir) / "alembic").exists():
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _run(step: str, call, *args, **kwargs) -> None:
    """Run one nbgrader API step (its SQLAlchemy warnings are nbgrader's business, not the instructor's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = call(*args, **kwargs)
    if not result.get("success"):
        details = (result.get("error") or "") + "\n" + (result.get("log") or "")
        raise GradingError(f"nbgrader {step} failed:\n{details.strip()[-4000:]}")


def generate_student(notebooks: list[Path], course_dir: Path = COURSE_DIR, out_dir: Path | None = STUDENT_DIR,
                     timeout: int = 600) -> list[Path]:
    """The student version of each notebook (solutions removed); returns the released notebooks."""
    course_dir, released = Path(course_dir), []
    api = _api(course_dir, timeout)
    for notebook in notebooks:
        notebook = Path(notebook)
        assignment = assignment_for(notebook)
        source = course_dir / "source" / assignment
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, source / notebook.name)
        _run(f"generate_assignment {assignment}", api.generate_assignment, assignment, force=True, create=True)
        student = course_dir / "release" / assignment / notebook.name
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            student = Path(shutil.copy2(student, Path(out_dir) / notebook.name))
        released.append(student)
    return released


@dataclass
class Score:
    grade_id: str
    score: float
    max_score: float
    message: str = ""


@dataclass
class Grades:
    notebook: Path
    scores: list[Score] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s.score for s in self.scores)

    @property
    def max_total(self) -> float:
        return sum(s.max_score for s in self.scores)

    def table(self) -> str:
        return "\n".join([f"{self.notebook.name}: {self.total:g} / {self.max_total:g} points"] + [
            f"  {s.grade_id:<16} {s.score:g} / {s.max_score:g}" + (f"  {s.message}" if s.message else "")
            for s in self.scores])


def _failure_messages(notebook: Path) -> dict[str, str]:
    """grade_id -> the error a test cell raised, from the autograded notebook."""
    messages = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        if meta.get("grade") and cell["cell_type"] == "code" and errors:
            messages[meta["grade_id"]] = f"{errors[-1]['ename']}: {errors[-1]['evalue']}"
    return messages


def autograde(submission: str | Path, student: str = "student", course_dir: Path = COURSE_DIR,
              source: str | Path | None = None, timeout: int = 600) -> Grades:
    """Autograde one submitted notebook offline; returns the score of every test cell."""
    submission, course_dir = Path(submission), Path(course_dir)
    assignment = assignment_for(submission)
    if not (course_dir / "release" / assignment / submission.name).exists():
        source = Path(source) if source else NOTEBOOKS / submission.name
        if not source.exists():
            raise GradingError(f"no instructor notebook {source} to grade {submission.name} against: "
                               "run `make student` first or pass --source")
        generate_student([source], course_dir, out_dir=None, timeout=timeout)
    course_dir.chmod(0o700)  # the gradebook and every submission: the instructor's alone (course_exercises.sandbox)
    target = course_dir / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(submission, target / submission.name)
    with environment(GRADING_ENVIRONMENT, keep_set=True):
        api = _api(course_dir, timeout)
        _run(f"autograde {assignment}", api.autograde, assignment, student, force=True, create=True)
    graded = course_dir / "autograded" / student / assignment / submission.name
    messages = _failure_messages(graded)
    from nbgrader.api import Gradebook

    grades = Grades(graded)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        warnings.simplefilter("ignore")
        notebook = gradebook.find_submission_notebook(submission.stem, assignment, student)
        for grade in sorted(notebook.grades, key=lambda g: g.name):
            grades.scores.append(Score(grade.name, float(grade.score), float(grade.max_score),
                                       messages.get(grade.name, "")))
    return grades


def _lesson_notebooks(lessons: list[str] | None) -> list[Path]:
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if lessons:
        found = [p for p in found if p.name[:2] in lessons]
    if not found:
        raise GradingError(f"no lesson notebooks {lessons or ''} in {NOTEBOOKS}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_exercises.grading", description=__doc__.split("\n")[0])
    parser.add_argument("--course-dir", type=Path, default=COURSE_DIR, help="nbgrader's course directory")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell when autograding")
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser("student", help="write the student notebooks (no solutions)")
    student.add_argument("notebooks", nargs="*", type=Path,
                         help="instructor notebooks (default: the lessons in notebooks/)")
    student.add_argument("--lessons", nargs="*", help="lesson numbers, e.g. 01 03 (default: all)")
    student.add_argument("--out", type=Path, default=STUDENT_DIR, help="where the student notebooks go")
    grade = sub.add_parser("autograde", help="autograde a submitted notebook, offline")
    grade.add_argument("notebook", type=Path, help="the submitted notebook (its name says the lesson: 01_...ipynb)")
    grade.add_argument("--student", default="student", help="the student's id in the gradebook")
    grade.add_argument("--source", type=Path, help="the instructor notebook (default: notebooks/<same name>)")
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            notebooks = args.notebooks or _lesson_notebooks(args.lessons)
            for path in generate_student(notebooks, args.course_dir, args.out):
                print(f"student version: {path}")
        else:
            print(autograde(args.notebook, args.student, args.course_dir, args.source, args.timeout).table())
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
