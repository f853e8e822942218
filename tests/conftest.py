"""Shared test setup: offline (here and in every Python process a test starts), Agg plots, an isolated
data folder, and the notebook runs.

Every notebook is executed at most once per test session, in the quick
profile, through the same runner `make lessons` uses; the lesson tests ask
for it with ``course_run.lesson("03")``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Before anything imports TensorFlow or course_utils.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["MPLBACKEND"] = "Agg"
os.environ["COURSE_PROFILE"] = "quick"

from course_utils.course import runner  # noqa: E402
from course_utils.setup import env  # noqa: E402

env.block_network()  # the offline guard: this process refuses non-local connections and lookups,
os.environ.update(env.offline_environment())  # and so does every Python process a test starts


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the marker (it appends "@group" to the id)
def pytest_collection_modifyitems(config, items):
    """``make test`` runs two pytest-xdist workers with ``--dist loadgroup``: a test that reads a lesson's
    notebook run (``course_run``; tests/test_notebook_NN.py, or a test named test_lesson_NN_...) joins that
    lesson's group, so each lesson is executed once, in one worker."""
    for item in items:
        found = re.search(r"(?:test_notebook_|::test_lesson_)(0[1-6])", item.nodeid)
        if found and "course_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(f"lesson{found.group(1)}"))


@pytest.fixture(scope="session", autouse=True)
def isolated_data_dir(tmp_path_factory):
    """Everything the tests download or build goes to a fresh folder, not data/. Under pytest-xdist the
    workers share one (every build in it is locked and staged, so each stand-in is built once)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "course_data"
    folder.mkdir(exist_ok=True)
    os.environ["COURSE_DATA_DIR"] = str(folder)
    os.environ["COURSE_RECORDS_DIR"] = str(tmp_path_factory.mktemp("records"))
    return folder


class CourseRun:
    """Runs each lesson's notebook once, on first request, and keeps the result."""

    def __init__(self, build: Path):
        self.build = build
        self._runs: dict[str, runner.NotebookRun] = {}

    def lesson(self, lesson: str) -> runner.NotebookRun:
        if lesson not in self._runs:
            notebooks = runner.find_notebooks(ROOT / "notebooks", [lesson])
            (run,) = runner.run_all(notebooks, self.build, "quick", timeout=600)
            self._runs[lesson] = run
        return self._runs[lesson]

    def figures(self, lesson: str) -> dict:
        run = self.lesson(lesson)
        assert run.status == "ok", f"lesson {lesson} notebook {run.status}: cell [{run.failing_cell}] {run.error}"
        return {f["name"]: f["value"] for f in run.records["figures"]}

    def executed(self, lesson: str):
        import nbformat

        run = self.lesson(lesson)
        return nbformat.read(self.build / "executed" / run.notebook, as_version=4)


@pytest.fixture(scope="session")
def course_run(tmp_path_factory, isolated_data_dir):
    return CourseRun(tmp_path_factory.mktemp("build"))
