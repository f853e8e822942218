"""The Colab badge, the install cell and the README all derive from course_utils.course.links."""
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from course_utils.course import links

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_carries_the_colab_cell(path):
    assert links.colab_setup_source() in _cells(path), (
        f"{path.name}: its Colab cell is not course_utils.course.links.colab_setup_source(): run `make colab-cell`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_badge_agrees(path):
    assert links.colab_url(path.name) in (ROOT / "README.md").read_text()


def test_colab_cell_is_a_no_op_outside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    namespace = {}
    exec(links.colab_setup_source(), namespace)
    assert namespace["IN_COLAB"] is False and calls == []


def _run_colab_cell(monkeypatch, tensorflow_loaded=False, **environ):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    if tensorflow_loaded:
        monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", types.ModuleType("tensorflow")))
    else:
        monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.delenv(links.PIP_TARGET_VAR, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    exec(links.colab_setup_source(), {})
    return calls


@pytest.mark.parametrize("tensorflow_loaded", [False, True])
def test_colab_cell_installs_in_one_resolution_holding_colabs_tensorflow(monkeypatch, capsys, tensorflow_loaded):
    from importlib.metadata import version

    (install,) = _run_colab_cell(monkeypatch, tensorflow_loaded)
    assert install[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert links._pip_target() in install
    assert "--no-deps" not in install  # course_utils' ranges are resolved with everything else: no conflict report
    tf_version = version("tensorflow")
    assert f"tensorflow=={tf_version}" in install, "Colab's TensorFlow must stay where it is"
    assert f"tf-keras=={'.'.join(tf_version.split('.')[:2])}.*" in install
    assert capsys.readouterr().out == "", "the cell only installs: no restart, whether TensorFlow is loaded or not"


def test_colab_cell_installs_from_the_folder_or_wheel_an_environment_variable_names(monkeypatch):
    (install,) = _run_colab_cell(monkeypatch, **{links.PIP_TARGET_VAR: "/tmp/dist/course_utils-0.1.0-py3-none-any.whl"})
    assert "/tmp/dist/course_utils-0.1.0-py3-none-any.whl" in install
    assert links._pip_target() not in install


def _stale_pair(tmp_path, name="01_own_model_head_swap"):
    """A copy of a real notebook pair whose Colab cell is an older one."""
    import shutil

    import jupytext

    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    nb = jupytext.read(ROOT / "notebooks" / f"{name}.ipynb")
    (cell,) = [c for c in nb.cells if links._is_colab_cell(c)]
    cell.source = "# an older Colab cell\nimport sys\n\n" + links.COLAB_CELL_MARKER + "\nprint('old')"
    jupytext.write(nb, folder / f"{name}.ipynb")
    jupytext.write(nb, folder / f"{name}.py", fmt="py:percent")
    return folder, nb


def test_sync_rewrites_only_the_colab_cell_of_notebook_and_script(tmp_path):
    import jupytext

    folder, before = _stale_pair(tmp_path)
    changed = links._sync_colab_cells(folder)
    assert [p.name for p in changed] == ["01_own_model_head_swap.ipynb"]
    for path in (folder / "01_own_model_head_swap.ipynb", folder / "01_own_model_head_swap.py"):
        after = jupytext.read(path)
        assert len(after.cells) == len(before.cells)
        for old, new in zip(before.cells, after.cells, strict=True):
            expected = links.colab_setup_source() if links._is_colab_cell(old) else old.source
            assert new.source.strip() == expected.strip(), path.name
    assert links._sync_colab_cells(folder) == []  # a second run changes nothing


def test_sync_refuses_a_notebook_without_its_colab_cell(tmp_path):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), tmp_path / "07_x.ipynb")
    with pytest.raises(ValueError, match="expected one Colab cell"):
        links._sync_colab_cells(tmp_path)


def test_badge_and_install_name_the_release_of_pyproject_not_a_branch():
    import tomllib

    tag = "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert links._release() == tag
    assert links._pip_target().endswith(f".git@{tag}")
    assert f"/blob/{tag}/notebooks/" in links.colab_url("01_own_model_head_swap.ipynb")
    for path in NOTEBOOKS:
        text = path.read_text()
        assert f".git@{tag}" in text and "@main" not in text and "/blob/main/" not in text, path.name
