"""``make test`` runs two pytest-xdist workers; tests/conftest.py puts a lesson's notebook tests in one
``xdist_group`` so the notebook runs once. pytest-xdist 3.8 marks the group by rewriting the test's id, which
pytest 9.2 no longer reads (pytest-dev/pytest-xdist#1386): the groups then vanish without an error and every
lesson runs once per worker. This runs the real hook on four lesson tests and checks they share one worker."""
from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_lessons_notebook_tests_run_in_one_worker(pytester):
    pytester.makeconftest(
        f"""
import importlib.util, os, pytest
spec = importlib.util.spec_from_file_location("course_conftest", {str(CONFTEST)!r})
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)
pytest_collection_modifyitems = course.pytest_collection_modifyitems

@pytest.fixture
def course_run():
    return os.environ["PYTEST_XDIST_WORKER"]
"""
    )
    tests = "\n".join(
        f"def test_lesson_01_part_{i}(course_run):\n    print('WORKER', course_run)\n" for i in range(4)
    )
    pytester.makepyfile(test_notebook_01=tests)
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "--dist", "loadgroup", "-v", "-s")
    result.assert_outcomes(passed=4)
    workers = {line.split()[0] for line in result.outlines if "PASSED" in line and "test_lesson_01_part" in line}
    assert len(workers) == 1, f"lesson 01's tests ran in {sorted(workers)}: the xdist groups were lost"
    assert all("@lesson01" in line for line in result.outlines if "PASSED" in line)
