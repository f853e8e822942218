"""nbval, the instructors' way to validate notebooks committed without outputs: `make nbval [PROFILE=quick|full]`.

`make nbval` calls ``python -m course_utils.course.runner --nbval``, which runs
``pytest --nbval-lax`` over the notebooks with the kernel inheriting the
environment (``COURSE_PROFILE`` picks the profile; in the quick profile the
offline guard, ``env.offline_environment``, keeps it off the network).
"""
import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_utils.course import runner
from course_utils.setup import env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.notebooks
def test_nbval_lax_validates_lesson_01_in_the_quick_profile(tmp_path):
    """The nbval proof itself: lesson 01 (the shortest, about 15 s) is executed here a second time in this test run.

    CONVENTIONS asks for each notebook once per run; this extra execution is
    the one run that proves `make nbval` works, so it is accepted here.
    """
    notebooks = runner.find_notebooks(ROOT / "notebooks", ["01"])
    command, extra = runner._nbval_command(notebooks, "quick", tmp_path / "records")
    environment = {**os.environ, **extra}
    result = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    code_cells = [c for c in nbformat.read(notebooks[0], as_version=4).cells if c.cell_type == "code"]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) == len(code_cells), result.stdout[-2000:]  # one nbval item per code cell
    record = json.loads((tmp_path / "records" / "lesson_01.json").read_text())
    assert record["profile"] == "quick"  # the kernel took COURSE_PROFILE from the environment


def test_nbval_command_is_lax_offline_in_quick_and_online_in_full(tmp_path):
    books = [ROOT / "notebooks" / "01_x.ipynb"]
    quick_cmd, quick_env = runner._nbval_command(books, "quick", tmp_path)
    full_cmd, full_env = runner._nbval_command(books, "full", tmp_path)
    assert quick_cmd[1:4] == ["-m", "pytest", "--nbval-lax"] and quick_cmd[-1] == str(books[0])
    assert quick_env["COURSE_PROFILE"] == "quick" and quick_env["COURSE_OFFLINE"] == "1"
    assert quick_env["PYTHONPATH"].split(os.pathsep)[0] == str(env._OFFLINE_SITE)  # the guard, from the first line
    assert full_env["COURSE_PROFILE"] == "full" and "COURSE_OFFLINE" not in full_env and "PYTHONPATH" not in full_env
    assert "--nbval-cell-timeout=43200" in full_cmd


def test_make_nbval_runs_the_runners_nbval_in_the_given_profile():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^nbval: .*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no nbval target in the Makefile"
    assert "-m course_utils.course.runner --nbval --profile $(PROFILE)" in recipe.group(1)
