import json

import nbformat
import pytest

from course_utils import references, report, runner


def _notebook(path, *sources):
    cells = [nbformat.v4.new_code_cell("PROFILE = None")]
    cells[0].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
                   "language_info": {"name": "python"}}
    nbformat.write(nb, path)


def test_failing_notebook_is_reported_and_the_rest_still_runs(tmp_path, capsys):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "98_broken.ipynb", "x = 1", "raise ValueError('boom in the lesson')")
    _notebook(books / "99_fine.ipynb", "import os\nassert os.environ['COURSE_PROFILE'] == PROFILE == 'quick'")
    build = tmp_path / "build"
    code = runner.main(["--profile", "quick", "--notebooks", str(books), "--build", str(build)])
    assert code == 1
    out = capsys.readouterr().out
    assert "[1/2] 98_broken.ipynb" in out and "[2/2] 99_fine.ipynb" in out
    runs = {r["notebook"]: r for r in json.loads((build / "runs.json").read_text())}
    assert runs["98_broken.ipynb"]["status"] == "failed"
    assert runs["98_broken.ipynb"]["failing_cell"] == 4  # execution count: parameters, injected, x = 1, raise
    assert runs["98_broken.ipynb"]["error"] == "ValueError: boom in the lesson"
    assert runs["99_fine.ipynb"]["status"] == "ok"
    report = (build / "report.md").read_text()
    assert "**FAILED**" in report and "boom in the lesson" in report
    assert (build / "executed" / "99_fine.html").exists()
    assert (build / "report.html").read_text().startswith("<!doctype html>")


def test_all_ok_exits_zero(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "97_ok.ipynb", "print('fine')")
    assert runner.main(["--notebooks", str(books), "--build", str(tmp_path / "b"), "--profile", "quick"]) == 0


def test_only_unknown_lesson(tmp_path):
    with pytest.raises(SystemExit, match="no notebook for lesson"):
        runner.find_notebooks(tmp_path, ["07"])


def test_format_value():
    assert report.format_value("test_accuracy", 0.9876) == "98.8%"
    assert report.format_value("epoch_time_s", 1.23456, "s") == "1.23 s"
    assert report.format_value("params", 1234567) == "1,234,567"


def test_markdown_report_lists_figures_beside_references():
    run = runner.NotebookRun("01_x.ipynb", "01", status="ok", seconds=3.0, records={
        "lesson": "01", "title": "T", "profile": "quick", "data": "D", "weights": "W",
        "figures": [{"name": "test_accuracy", "value": 0.5, "unit": "", "note": "", "reference": "almost 99%"},
                    {"name": "head_outputs", "value": 10, "unit": "", "note": "Dense(10)", "reference": ""}],
    })
    text = runner.render_markdown([run], "quick", 3.0)
    # the same rows the notebook's closing table shows, from report.comparison
    assert ("| test_accuracy | 50.0% | almost 99% after 3 epochs | "
            + references.QUICK_IS_NOT_LIKE_FOR_LIKE + " |") in text
    assert "| accuracy_after_1_epoch | not recorded in this run |" in text
    assert "| head_outputs | 10 (Dense(10)) |" in text  # figures the lesson did not report: their own table
    assert "not the lessons' results" in text


def test_a_notebook_over_its_time_limit_is_reported_as_timeout(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "96_slow.ipynb", "while True:  # a cell that never ends\n    sum(range(10_000))")
    _notebook(books / "97_after.ipynb", "print('still runs')")
    build = tmp_path / "build"
    code = runner.main(["--profile", "quick", "--notebooks", str(books), "--build", str(build), "--timeout", "3"])
    assert code == 1
    runs = {r["notebook"]: r for r in json.loads((build / "runs.json").read_text())}
    assert runs["96_slow.ipynb"]["status"] == "timeout"
    assert "time limit of 3 s" in runs["96_slow.ipynb"]["error"] or "Timeout" in runs["96_slow.ipynb"]["error"]
    assert runs["96_slow.ipynb"]["seconds"] < 30
    assert runs["97_after.ipynb"]["status"] == "ok"
    assert "**TIMEOUT**" in (build / "report.md").read_text()


def test_tensorflow_start_up_lines_are_stripped_but_real_warnings_stay(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import tensorflow")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=(
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1795505937.662269    5040 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
            "E0000 00:00:1795505940.514439    5040 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
            "UserWarning: something the learner should see\n")),
        nbformat.v4.new_output("stream", name="stdout", text="I0000 looks like a log line but is stdout\n"),
    ]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert runner.strip_tensorflow_log_lines(path) == 3
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert outputs[0]["text"] == "UserWarning: something the learner should see\n"
    assert outputs[1]["name"] == "stdout"
