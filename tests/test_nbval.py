"""nbval, the instructors' way to validate notebooks committed without outputs: `make nbval [PROFILE=quick|full]`.

`make nbval` calls ``python -m course_utils.course.runner --nbval``, which runs
``pytest --nbval-lax`` over the notebooks with the kernel inheriting the
environment (``COURSE_PROFILE`` picks the profile; in the quick profile the
offline guard, ``env.offline_environment``, keeps it off the network).
The test runs it on a small notebook of its own: every lesson is executed once
already, in the notebook tests.
"""
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_utils.course import runner
from course_utils.setup import env

ROOT = Path(__file__).resolve().parent.parent
REFUSED = ("offline guard: refused to look up 'course-offline-check.invalid'; the quick profile and the tests must "
           "never need the network")


def _small_notebook(path: Path, expected_profile: str) -> Path:
    """A notebook shaped like a lesson where it matters to nbval: a parameters cell with ``PROFILE = None``, two
    ``# NBVAL_CHECK_OUTPUT`` cells whose stored outputs are compared (the offline guard's refusal, the profile the
    kernel resolved), and an unmarked cell whose stored output is not what it prints."""
    profile = nbformat.v4.new_code_cell('PROFILE = None  # "full" or "quick"', metadata={"tags": ["parameters"]})
    guard = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\n"
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('course-offline-check.invalid', 443)\n"
        "except OSError as refused:\n"
        "    print(refused)",
        execution_count=2,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text=REFUSED + "\n")])
    checked = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\nfrom course_utils import resolve_profile\nprint(resolve_profile(PROFILE))",
        execution_count=3,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text=expected_profile + "\n")])
    unmarked = nbformat.v4.new_code_cell(  # stored output differs from what it prints: --nbval-lax does not compare
        "print('printed now')", execution_count=4,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="stored before\n")])
    notebook = nbformat.v4.new_notebook(cells=[profile, guard, checked, unmarked])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def _nbval(notebook: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The runner's nbval command, from an environment without the tests' own offline guard and profile: the guard
    and the profile in the kernel are the ones the command puts there (without the guard, the lookup goes to a
    resolver and fails otherwise; without the profile, PROFILE = None resolves to full)."""
    command, extra = runner._nbval_command([notebook], "quick", tmp_path / "records")
    outside = {k: v for k, v in os.environ.items() if k not in ("COURSE_OFFLINE", "PYTHONPATH", "COURSE_PROFILE")}
    pythonpath = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e and e != str(env._OFFLINE_SITE)]
    outside.update({"PYTHONPATH": os.pathsep.join(pythonpath)} if pythonpath else {})
    return subprocess.run(command, env={**outside, **extra}, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.notebooks
def test_nbval_lax_runs_every_cell_and_compares_only_the_marked_ones(tmp_path):
    """`make nbval`'s command, on a small notebook (the lessons themselves run once, in the notebook tests): the
    kernel takes the profile from COURSE_PROFILE, is offline from its first line, and a marked cell's output is
    compared with the stored one."""
    passing = _nbval(_small_notebook(tmp_path / "quick.ipynb", "quick"), tmp_path)
    assert passing.returncode == 0, passing.stdout[-4000:] + passing.stderr[-2000:]
    assert re.search(r"\b4 passed\b", passing.stdout), passing.stdout[-2000:]  # one nbval item per code cell

    stored_full = _nbval(_small_notebook(tmp_path / "stored_full.ipynb", "full"), tmp_path)  # stored: not what runs
    assert stored_full.returncode == 1, stored_full.stdout[-4000:]
    assert re.search(r"\b1 failed, 3 passed\b", stored_full.stdout), stored_full.stdout[-2000:]
    assert "::Cell 2 " in stored_full.stdout and "'full\\n' == 'quick\\n'" in stored_full.stdout  # stored vs printed


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
