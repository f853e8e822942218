"""The pins live in pyproject.toml; environment.yml and the tooling must agree with it."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def pyproject_pins():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_environment_yml_pip_pins_are_exactly_pyprojects():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections, "environment.yml has no pip section"
    assert sorted(pip_sections[0]) == sorted(pyproject_pins())
    assert "python=3.11" in env["dependencies"]


def test_every_dependency_is_pinned_exactly():
    loose = [d for d in pyproject_pins() if "==" not in d]
    assert not loose, f"unpinned: {loose}"


def test_stack_is_the_documented_one():
    pins = dict(d.split("==") for d in pyproject_pins())
    assert pins["tensorflow"].startswith("2.21.") and pins["tf-keras"].startswith("2.21.")
    assert pins["tensorflow-hub"] == "0.16.1"
    assert pins["tensorflow-datasets"].startswith("4.9.")


def test_binder_start_sets_legacy_keras():
    text = (ROOT / "binder" / "start").read_text()
    assert "export TF_USE_LEGACY_KERAS=1" in text and 'exec "$@"' in text


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make lessons" in (ROOT / "README.md").read_text()
