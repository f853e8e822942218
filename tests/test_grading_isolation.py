"""Autograding runs a student's code: a submission that reads a planted secret, writes the gradebook and
connects out fails at all three, and its grade is still recorded (course_exercises.sandbox)."""
from __future__ import annotations

import socket

import nbformat
import pytest


def _cell(source: str, grade_id: str | None = None, *, solution: bool = False, grade: bool = False):
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": grade,
                                     "schema_version": 3, "task": False, **({"points": 1} if grade else {})}
    return cell


ATTACK = '''\
import _socket
import os

report = {}
for what, path in (("secret", SECRET), ("home secret", os.path.expanduser("~/.kaggle/kaggle.json"))):
    try:
        with open(path) as f:
            report[what] = "READ " + f.read()
    except OSError as err:
        report[what] = "refused " + type(err).__name__
try:
    with open(GRADEBOOK, "ab") as f:
        f.write(b"tampered")
    report["gradebook"] = "WRITTEN"
except OSError as err:
    report["gradebook"] = "refused " + type(err).__name__
try:
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    report["connect"] = "CONNECTED"
except OSError as err:
    report["connect"] = "refused " + type(err).__name__
print(sorted(report.items()))
'''


# What the attack meets: as root the kernel runs as nobody (the files are not its own); without root it keeps
# the instructor's user id, and the home folder and the course folder are hidden under empty, read-only mounts.
REFUSED = {True: {"secret": "refused PermissionError", "home secret": "refused FileNotFoundError",
                  "gradebook": "refused PermissionError", "connect": "refused OSError"},
           False: {"secret": "refused FileNotFoundError", "home secret": "refused FileNotFoundError",
                   "gradebook": "refused OSError", "connect": "refused OSError"}}


@pytest.mark.parametrize("rootless", [False, True], ids=["as-this-user", "without-root"])
def test_a_submission_cannot_read_secrets_write_the_gradebook_or_connect_out(tmp_path, monkeypatch, rootless):
    """A submission reads the instructor's planted Kaggle token, appends to the gradebook and connects to a
    socket this test listens on: all three fail, and the grade is recorded. ``without-root`` takes the path an
    instructor without root gets (user namespace and mounts) even when the tests run as root."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        pytest.fail("nbgrader is not installed: `make test` installs the grading extra (pip install -e '.[grading]')")
    from course_exercises import grading, sandbox

    if rootless:
        monkeypatch.setattr(sandbox, "as_root", lambda: False)

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    secret = home / ".kaggle" / "kaggle.json"
    secret.write_text('{"username": "instructor", "key": "s3cr3t"}')
    secret.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    course = tmp_path / "course"
    gradebook = course / "gradebook.db"

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # on this machine only: never an outside address
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [_cell("answer = None\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "answer", solution=True),
                _cell('assert answer == 42, "answer should be 42"', "check", grade=True)]
    instructor = tmp_path / "instructor" / "01_isolation.ipynb"
    instructor.parent.mkdir()
    nbformat.write(nb, instructor)
    (student,) = grading.generate_student([instructor], course, tmp_path / "student")

    released = nbformat.read(student, as_version=4)
    released.cells[0].source = released.cells[0].source.replace("# YOUR CODE HERE", "answer = 42")
    planted = f"SECRET = {str(secret)!r}\nGRADEBOOK = {str(gradebook)!r}\nPORT = {port}\n"
    released.cells.insert(1, nbformat.v4.new_code_cell(planted + ATTACK))
    submitted = tmp_path / "submitted" / "01_isolation.ipynb"
    submitted.parent.mkdir()
    nbformat.write(released, submitted)
    before = gradebook.read_bytes()

    try:
        grades = grading.autograde(submitted, "mallory", course, timeout=120)
        try:
            listener.accept()[0].close()
            connected = True
        except BlockingIOError:  # nothing arrived
            connected = False
    finally:
        listener.close()

    graded = nbformat.read(grades.notebook, as_version=4)
    printed = "".join(out.get("text", "") for out in graded.cells[1].outputs)
    assert printed.strip() == str(sorted(REFUSED[sandbox.as_root()].items())), printed
    assert not connected
    assert b"tampered" not in gradebook.read_bytes() and gradebook.read_bytes() != before  # the grader wrote it
    assert [(s.grade_id, s.score, s.max_score) for s in grades.scores] == [("check", 1.0, 1.0)]
    assert grades.table().splitlines()[0] == "01_isolation.ipynb: 1 / 1 points"
