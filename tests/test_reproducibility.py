"""Runs can be repeated: the same figures from a fresh kernel and from a second pass in one kernel.

Lesson 01 (the cheapest) is executed once more here, on purpose: once through
the runner (shared with test_notebook_01) and twice in a row in a single
kernel, the way a learner re-runs "Run All" without restarting.
"""
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
TIMING = ("_s", "speedup")


def _comparable(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if not k.endswith(TIMING)}


def test_lesson_01_rerun_in_one_kernel_repeats_the_fresh_run(course_run, tmp_path, monkeypatch):
    fresh = _comparable(course_run.figures("01"))
    nb = nbformat.read(ROOT / "notebooks" / "01_own_model_head_swap.ipynb", as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += '\nPROFILE = "quick"'
    monkeypatch.setenv("COURSE_RECORDS_DIR", str(tmp_path))
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    passes = []
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on any error
            saved = json.loads((tmp_path / "lesson_01.json").read_text())
            passes.append(_comparable({f["name"]: f["value"] for f in saved["figures"]}))
    assert passes[0].keys() == fresh.keys() == passes[1].keys()
    for name, value in fresh.items():
        assert passes[0][name] == pytest.approx(value, abs=1e-6), f"{name}: fresh kernel vs first pass"
        assert passes[1][name] == pytest.approx(value, abs=1e-6), f"{name}: second pass in the same kernel"


def test_lesson_05_repeats_exactly_in_a_second_fresh_run(course_run, tmp_path, monkeypatch):
    """Lesson 05 is the one with random augmentation and parallel input: the hardest to repeat."""
    from course_utils.course import runner

    first = _comparable(course_run.figures("05"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    (run,) = runner.run_all(runner.find_notebooks(ROOT / "notebooks", ["05"]), tmp_path / "build", "quick", 600)
    assert run.status == "ok", run.error
    second = _comparable({f["name"]: f["value"] for f in run.records["figures"]})
    second.pop("full_schedule_estimate_h", None)
    first.pop("full_schedule_estimate_h", None)  # derived from a timing
    assert second.keys() == first.keys()
    for name, value in first.items():
        assert second[name] == pytest.approx(value, abs=1e-6), name
