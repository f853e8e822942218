import json
import re
from html.parser import HTMLParser

import nbformat
import pytest

from course_utils.course import references, report, runner


def _notebook(path, *sources):
    cells = [nbformat.v4.new_code_cell("PROFILE = None")]
    cells[0].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
                   "language_info": {"name": "python"}}
    nbformat.write(nb, path)


FAKE_TF_LINE = ("E0000 00:00:1796153984.956886   10019 cuda_platform.cc:52] failed call to cuInit: "
                "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")


def test_failing_notebook_is_reported_and_the_rest_still_runs(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # ipykernel copies the process's own output into cells except under pytest
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "98_broken.ipynb", "x = 1", "raise ValueError('boom in the lesson')")
    _notebook(books / "99_fine.ipynb", "import os\nassert os.environ['COURSE_PROFILE'] == PROFILE == 'quick'",
              f"os.write(2, {FAKE_TF_LINE + chr(10)!r}.encode())  # what TensorFlow's C++ code does at import",
              "import sys\nprint('UserWarning: something the learner should see', file=sys.stderr)")
    build = tmp_path / "build"
    code = runner.main(["--profile", "quick", "--notebooks", str(books), "--build", str(build)])
    assert code == 1
    out, err = capfd.readouterr()  # file-descriptor level: the kernel processes write here too unless redirected
    assert re.search(r"^98_broken\.ipynb +FAILED +\d+\.\d s +\d+ MB peak in cell \[4\]: ValueError: boom in the lesson$",
                     out, re.M)
    assert re.search(r"^99_fine\.ipynb +ok +\d+\.\d s +\d+ MB peak$", out, re.M)
    assert re.search(r"see \S+98_broken\.html and the kernel log \S+logs/98_broken\.log$", out, re.M)
    assert "without encryption" not in out + err and "cell/s" not in err  # no progress bar unless asked for
    assert "E0000" not in out + err and FAKE_TF_LINE in (build / "logs" / "99_fine.log").read_text()
    assert "Kernel is running over TCP without encryption" in (build / "logs" / "98_broken.log").read_text()
    printed = [o for cell in nbformat.read(build / "executed" / "99_fine.ipynb", as_version=4).cells
               for o in cell.get("outputs", []) if o.output_type == "stream"]  # the C++ line stays out, Python's in
    assert [o.get("text") for o in printed] == ["UserWarning: something the learner should see\n"]
    runs = {r["notebook"]: r for r in json.loads((build / "runs.json").read_text())}
    assert runs["98_broken.ipynb"]["status"] == "failed"
    assert runs["98_broken.ipynb"]["failing_cell"] == 4  # execution count: parameters, injected, x = 1, raise
    assert runs["98_broken.ipynb"]["error"] == "ValueError: boom in the lesson"
    assert runs["98_broken.ipynb"]["log"] == str((build / "logs" / "98_broken.log").resolve())
    assert runs["99_fine.ipynb"]["status"] == "ok"
    report = (build / "report.md").read_text()
    assert "**FAILED**" in report and "boom in the lesson" in report
    assert (build / "executed" / "99_fine.html").exists()
    page = (build / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<strong>FAILED</strong>" in page and "**" not in page


def test_progress_bar_over_the_cells_when_asked(tmp_path, capfd):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "97_ok.ipynb", "print('fine')", "x = 2")
    assert runner.main(["--notebooks", str(books), "--build", str(tmp_path / "b"), "--progress"]) == 0
    out, err = capfd.readouterr()
    assert re.search(r"97_ok\.ipynb: +\d+%\|.*\| \d/4 \[", err), err  # 4 cells: parameters, injected, two
    assert re.search(r"^97_ok\.ipynb +ok +\d+\.\d s +\d+ MB peak$", out, re.M)


def test_all_ok_exits_zero_and_a_relative_build_folder_is_the_callers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "97_ok.ipynb", "import os, pathlib\n"
              "pathlib.Path(os.environ['COURSE_RECORDS_DIR'], 'probe').write_text('written by the kernel')")
    assert runner.main(["--notebooks", "nb", "--build", "b", "--profile", "quick"]) == 0
    assert (tmp_path / "b" / "records" / "probe").exists()  # the kernel runs in nb/, yet writes to ./b
    assert not (books / "b").exists()


def test_only_unknown_lesson(tmp_path):
    with pytest.raises(SystemExit, match="no notebook for lesson"):
        runner.find_notebooks(tmp_path, ["07"])


def test_shown():
    assert report.shown({"name": "test_accuracy", "value": 0.9876}) == "98.8%"
    assert report.shown({"name": "epoch_time_s", "value": 1.23456, "unit": "s"}) == "1.23 s"
    assert report.shown({"name": "params", "value": 1234567}) == "1,234,567"


def test_markdown_report_lists_figures_beside_references():
    run = runner.NotebookRun("01_x.ipynb", "01", status="ok", seconds=3.0, records={
        "lesson": "01", "title": "T", "profile": "quick", "data": "D", "weights": "W",
        "figures": [{"name": "test_accuracy", "value": 0.5, "unit": "", "note": "", "reference": "almost 99%"},
                    {"name": "head_outputs", "value": 10, "unit": "", "note": "Dense(10)", "reference": ""}],
    })
    text = runner._render_markdown([run], "quick", 3.0)
    # the same rows the notebook's closing table shows, from report.comparison
    assert ("| test_accuracy | 50.0% | almost 99% after 3 epochs | "
            + references.QUICK_IS_NOT_LIKE_FOR_LIKE + " |") in text
    assert "| accuracy_after_1_epoch | not recorded in this run |" in text
    assert "| head_outputs | 10 (Dense(10)) |" in text  # figures the lesson did not report: their own table
    assert "not the lessons' results" in text


def test_a_notebook_over_its_time_limit_is_reported_as_timeout(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "96_slow.ipynb", "import time\n"
                                       "while True:  # a cell that never ends (asleep: the other worker keeps the core)\n"
                                       "    time.sleep(0.1)")
    _notebook(books / "97_after.ipynb", "print('still runs')")
    build = tmp_path / "build"
    # 10 s: the limit covers the kernel's start too, which took over 3 s once in a loaded `make test`
    code = runner.main(["--profile", "quick", "--notebooks", str(books), "--build", str(build), "--timeout", "10"])
    assert code == 1
    runs = {r["notebook"]: r for r in json.loads((build / "runs.json").read_text())}
    assert runs["96_slow.ipynb"]["status"] == "timeout"
    assert "time limit of 10 s" in runs["96_slow.ipynb"]["error"] or "Timeout" in runs["96_slow.ipynb"]["error"]
    assert runs["96_slow.ipynb"]["seconds"] < 30
    assert runs["97_after.ipynb"]["status"] == "ok"
    assert "**TIMEOUT**" in (build / "report.md").read_text()


class _Page(HTMLParser):
    """The report's tables (header cells, rows) and images, each with the lesson section it sits in."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.strong, self.pre = [], [], [], 0
        self._section, self._cell, self._in_strong = None, None, False
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id")
        elif tag == "table":
            self.tables.append({"section": self._section, "header": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self._cell = [tag, ""]
        elif tag == "img":
            self.images.append({"section": self._section, "alt": attrs.get("alt"), "src": attrs.get("src", "")})
        elif tag == "strong":
            self._in_strong = True
            self.strong.append("")
        elif tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        elif tag in ("th", "td") and self._cell:
            kind, text = self._cell
            (self.tables[-1]["header"] if kind == "th" else self.tables[-1]["rows"][-1]).append(text.strip())
            self._cell = None
        elif tag == "strong":
            self._in_strong = False

    def handle_data(self, data):
        if self._cell:
            self._cell[1] += data
        if self._in_strong:
            self.strong[-1] += data


def test_html_report_renders_tables_and_puts_each_plot_beside_its_table(tmp_path):
    import matplotlib.pyplot as plt

    records = tmp_path / "records"
    records.mkdir()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(records / "lesson_01_key_plot.png")
    plt.close(fig)
    ok = runner.NotebookRun("01_x.ipynb", "01", status="ok", seconds=3.0, records={
        "lesson": "01", "title": "Head swap <and> freezing", "profile": "quick", "data": "D", "weights": "W",
        "plots": ["lesson_01_key_plot.png"],
        "figures": [{"name": "test_accuracy", "value": 0.5, "unit": "", "note": "", "reference": ""},
                    {"name": "head_outputs", "value": 10, "unit": "", "note": "", "reference": ""}]})
    failed = runner.NotebookRun("02_y.ipynb", "02", status="failed", seconds=1.0, failing_cell=7,
                                error="ValueError: a | b <script>")
    text = runner._render_markdown([ok, failed], "quick", 4.0)
    page = _Page()
    page.feed(runner._render_html(text, [ok, failed], records))

    summary = page.tables[0]
    assert summary["section"] is None and summary["header"][:3] == ["Lesson", "Notebook", "Status"]
    assert [row[0] for row in summary["rows"] if row] == ["01", "02"]
    lesson_01 = [t for t in page.tables if t["section"] == "lesson-01"]
    assert [t["header"][0] for t in lesson_01] == ["figure", "Other figure"]  # comparison, then other figures
    assert ["head_outputs", "10"] in lesson_01[1]["rows"]
    (img,) = page.images
    assert img["section"] == "lesson-01" and img["src"].startswith("data:image/png;base64,")
    assert "FAILED" in page.strong and "quick" in page.strong
    assert page.pre == 0
    html_text = runner._render_html(text, [ok, failed], records)
    assert "|---" not in html_text and "**" not in html_text
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text  # errors are text, never markup


def test_each_notebooks_peak_memory_is_its_kernels(tmp_path):
    # Binder gives a notebook about 2 GB: the runner records each kernel's peak (Linux's VmHWM), so a
    # notebook that holds 400 MB more than another shows it, whatever ran before it.
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "95_big.ipynb", "big = bytearray(400 * 2**20)\nbig[::4096] = b'x' * len(big[::4096])")
    _notebook(books / "96_small.ipynb", "x = 1")
    assert runner.main(["--notebooks", str(books), "--build", str(tmp_path / "b")]) == 0
    peaks = {r["notebook"]: r["peak_memory_mb"] for r in json.loads((tmp_path / "b" / "runs.json").read_text())}
    assert peaks["95_big.ipynb"] - peaks["96_small.ipynb"] > 380, peaks
    assert 20 < peaks["96_small.ipynb"] < 400, peaks
    assert "| Peak memory |" in (tmp_path / "b" / "report.md").read_text()


OFFLINE_CELL = """import socket
from course_utils.setup.env import NetworkBlockedError
assert getattr(socket.socket.connect, "__module__", None) == "course_utils.setup.env", "no guard: not trying, so no packet leaves"
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1: reserved for documentation
except NetworkBlockedError as refused:
    print("refused:", refused)
else:
    raise AssertionError("a quick-profile kernel reached a non-local address")
"""


def test_a_quick_profile_kernel_refuses_the_network_from_its_first_line(tmp_path, monkeypatch):
    # The test harness's own guard is taken out of the environment: the kernel must get it from the runner.
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "94_offline.ipynb", OFFLINE_CELL)
    (run,) = runner.run_all([books / "94_offline.ipynb"], tmp_path / "build", "quick", timeout=300)
    assert run.status == "ok", run.error
    executed = nbformat.read(tmp_path / "build" / "executed" / "94_offline.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for cell in executed.cells for o in cell.get("outputs", []))
    assert "refused: offline guard: refused a connection to ('192.0.2.1', 80)" in printed
