"""Committed notebooks: stripped, parameterised, on the python3 kernel, badge in sync."""
import json
import re
from pathlib import Path

import pytest

from course_utils.course import links
from course_utils.setup import profiles

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_lesson_has_a_notebook():
    assert NOTEBOOKS, "no notebooks found"
    assert {p.name[:2] for p in NOTEBOOKS} <= set(profiles.LESSONS)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, json.loads(request.param.read_text())


def test_no_outputs_committed(notebook):
    path, nb = notebook
    dirty = [
        i for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"
    assert "widgets" not in nb.get("metadata", {})


def test_parameters_cell_comes_first_among_code_cells(notebook):
    path, nb = notebook
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), path.name
    assert "PROFILE = None" in "".join(code[0]["source"])


def test_setup_cell_starts_the_lesson_and_hub_lessons_import_tf_keras_themselves(notebook):
    # Source check where the words are the lesson: a learner sees which Keras the notebook imports.
    from course_utils.setup.compat import HUB_LESSONS

    path, nb = notebook
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    if path.name[:2] != "03":  # lesson 03's models are all built around hub.KerasLayer
        assert re.search(r"^import keras$", source, re.M), "the lessons use Keras 3: import keras"
    assert bool(re.search(r"^import tf_keras$", source, re.M)) is (path.name[:2] in HUB_LESSONS), (
        "only the TF Hub lessons (02, 03) import tf_keras, for the models around hub.KerasLayer")
    assert re.search(r'start_lesson\(\s*"' + path.name[:2] + '"', source), "setup must call start_lesson"


def test_kernelspec_is_python3(notebook):
    _, nb = notebook
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["kernelspec"]["language"] == "python"


def test_colab_badge_agrees_with_links(notebook):
    path, nb = notebook
    first = "".join(nb["cells"][0]["source"])
    assert links.colab_url(path.name) in first, f"{path.name}: badge does not match course_utils.course.links"


def test_every_notebook_follows_the_course_layout(notebook):
    """CONVENTIONS.md's layout, the same for every lesson: a "What you will learn" paragraph first; at the end our
    figures beside the original lesson's, then the takeaways; at most 1,600 markdown words, 200 a cell (exercises
    included). The headings are the layout's words, checked once here for all six."""
    path, nb = notebook
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert "what you will learn" in markdown[0].lower() or "what you will learn" in markdown[1].lower(), path.name
    headings = [line for cell in markdown for line in cell.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Ours beside the original lesson", "## Takeaways"], (path.name, headings[-2:])
    words = [len(re.findall(r"\w+", cell)) for cell in markdown]
    assert sum(words) <= 1600 and max(words) <= 200, (path.name, sum(words), max(words))


def test_papermill_can_read_every_parameter(notebook):
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    path, nb = notebook
    parsed = _infer_parameters(load_notebook_node(str(path)))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    names = [line.split("=")[0].strip() for line in "".join(code[0]["source"]).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert [p.name for p in parsed] == names, f"{path.name}: papermill cannot parse some parameter lines"


def _cells(nb):
    return [(c.cell_type, c.source.strip(), c.metadata.get("tags", []), c.metadata.get("nbgrader"))
            for c in nb.cells]


def test_paired_script_is_in_step(notebook):
    """Each notebook has a committed percent-format script (jupytext) with the same cells."""
    import jupytext

    path, _ = notebook
    script = path.with_suffix(".py")
    assert script.exists(), f"{path.name} has no paired script {script.name}: run `make sync`"
    ours, theirs = _cells(jupytext.read(path)), _cells(jupytext.read(script))
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        assert a == b, f"{path.name} and {script.name} differ at cell {i}: run `make sync` (jupytext --sync)"
    assert len(ours) == len(theirs), (
        f"{path.name} has {len(ours)} cells, {script.name} {len(theirs)}: run `make sync` (jupytext --sync)")
