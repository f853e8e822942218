"""The Colab badge, the install cell and the README all derive from course_utils.links."""
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from course_utils import links

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_carries_the_colab_cell(path):
    assert links.colab_setup_source() in _cells(path)


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


@pytest.mark.parametrize("tensorflow_loaded", [False, True])
def test_colab_cell_installs_without_touching_colabs_tensorflow(monkeypatch, capsys, tensorflow_loaded):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    if tensorflow_loaded:
        monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", types.ModuleType("tensorflow")))
    else:
        monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    exec(links.colab_setup_source(), {})
    first, second = calls
    assert "--no-deps" in first and links.pip_install_target() in first
    assert any(arg.startswith("tf-keras==2.21.") for arg in second)
    assert not any(arg.startswith("tensorflow==") for arg in first + second)
    assert ("Restart session" in capsys.readouterr().out) is tensorflow_loaded
