"""The stack: runtime ranges that Colab satisfies, exact pins in one place (the `course` extra), mirrored by
environment.yml."""
import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Tools that run or check notebooks: a learner on Colab never needs them from this package.
TOOLS = {"jupyterlab", "ipykernel", "papermill", "nbconvert", "nbval", "pytest", "mistune", "nbformat"}
# Imports that need no runtime dependency of ours: the kernel itself, TensorFlow's own
# dependencies, and the optional kaggle extra (lesson 04's full-profile download).
PROVIDED = {"ipython", "absl-py", "kaggle"}


def runtime_requirements():
    return [Requirement(d) for d in PROJECT["dependencies"]]


def course_pins():
    return PROJECT["optional-dependencies"]["course"]


def pinned_versions():
    return {canonicalize_name(Requirement(p).name): next(iter(Requirement(p).specifier)).version
            for p in course_pins()}


def test_environment_yml_pip_pins_are_exactly_the_course_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections, "environment.yml has no pip section"
    assert sorted(pip_sections[0]) == sorted(course_pins())
    assert "python=3.11" in env["dependencies"]


def test_every_course_pin_is_exact():
    loose = [d for d in course_pins() if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", d)]
    assert not loose, f"not pinned exactly: {loose}"


def test_runtime_dependencies_are_ranges_that_the_course_pins_satisfy():
    pins = pinned_versions()
    for req in runtime_requirements():
        assert not any(spec.operator in ("==", "===") for spec in req.specifier), (
            f"{req}: a runtime dependency is a range (Colab brings its own versions); pin it in the course extra")
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is a runtime dependency but has no exact pin in the course extra"
        assert req.specifier.contains(pins[name]), f"course pin {req.name}=={pins[name]} is outside {req}"


def test_runtime_dependencies_pull_no_tools():
    names = {canonicalize_name(r.name) for r in runtime_requirements()}
    assert not names & TOOLS, f"tools a learner never uses in the runtime dependencies: {sorted(names & TOOLS)}"


def _top_level_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_runtime_dependencies_cover_what_the_notebooks_import():
    """Every third-party import of the notebooks and the modules they use is a runtime dependency."""
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) + [
        # every module of the package, subpackages too; the runner and nbgrader's grading are tools
        p for package in ("course_utils", "course_exercises") for p in sorted((ROOT / package).rglob("*.py"))
        if p.name not in ("runner.py", "grading.py", "sandbox.py")]  # sandbox.py: the grader's kernel
    dists = packages_distributions()
    declared = {canonicalize_name(r.name) for r in runtime_requirements()} | PROVIDED
    missing = {}
    for path in sources:
        # course_utils may import a tool inside a function the notebooks never call (links.py's cell sync)
        allowed = declared | (TOOLS | {"jupytext"} if ROOT / "course_utils" in path.parents else set())
        for module in _top_level_imports(path):
            for dist in dists.get(module, []):
                if canonicalize_name(dist) not in allowed and canonicalize_name(dist) != "course-utils":
                    missing.setdefault(canonicalize_name(dist), set()).add(f"{path.parent.name}/{path.name}")
    # tensorflow and keras share the `tensorflow` import name with their helpers: not ours to declare
    missing = {d: where for d, where in missing.items() if not d.startswith(("tensorflow-", "tf-", "keras"))}
    assert not missing, f"imported but not a runtime dependency (add a range to pyproject's dependencies): {missing}"


def test_stack_is_the_documented_one():
    pins = pinned_versions()
    assert pins["tensorflow"].startswith("2.21.") and pins["tf-keras"].startswith("2.21.")
    assert pins["keras"].startswith("3.")
    assert pins["tensorflow-hub"] == "0.16.1"
    assert pins["tensorflow-datasets"].startswith("4.9.")


def test_make_and_binder_install_the_pinned_course_extra():
    makefile = (ROOT / "Makefile").read_text()
    extras = re.search(r"^EXTRAS \?= (\S+)$", makefile, re.M)
    assert extras and {"course", "dev"} <= set(extras.group(1).split(",")), "make must install .[course,dev]"


def test_binder_installs_the_course_libraries_at_their_pins_and_keeps_repo2dockers_jupyterlab(tmp_path):
    # postBuild runs with a stand-in `python` on the PATH: its inline script runs for real (it writes
    # the constraints from pyproject.toml); the pip calls are only recorded.
    import os
    import subprocess
    import sys

    calls = tmp_path / "pip-calls.txt"
    shim = tmp_path / "bin" / "python"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "$@" >> {calls}; '
                    f'for a in "$@"; do case "$a" in /*) [ -f "$a" ] && cp "$a" {tmp_path}/constraints.txt;; esac; done; '
                    f'exit 0; fi\nexec {sys.executable} "$@"\n')
    shim.chmod(0o755)
    subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], cwd=ROOT, check=True,
                   env={**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"})
    install, check = calls.read_text().splitlines()
    assert install.startswith("-m pip install --no-cache-dir -c ") and install.endswith(" -e .")
    assert check == "-m pip check"
    constrained = dict(line.split("==") for line in (tmp_path / "constraints.txt").read_text().split())
    pins = pinned_versions()
    assert constrained["tensorflow"] == pins["tensorflow"] and constrained["tf-keras"] == pins["tf-keras"]
    assert not {"jupyterlab", "ipykernel", "papermill", "nbconvert", "pytest"} & set(constrained), \
        "repo2docker's JupyterLab and kernel stay as they are"


def test_binder_start_runs_the_command_in_the_quick_profile(tmp_path):
    import os
    import subprocess

    shown = subprocess.run(["bash", str(ROOT / "binder" / "start"), "env"], capture_output=True, text=True,
                           check=True, env={k: v for k, v in os.environ.items() if k != "COURSE_PROFILE"}).stdout
    assert "COURSE_PROFILE=quick" in shown.splitlines()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make lessons" in (ROOT / "README.md").read_text()
