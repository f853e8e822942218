"""GitHub Actions workflows: schema-valid, no security findings, and the policy they promise."""
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def _load(name):
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML reads the key `on` as True
    return data


def test_workflows_match_the_github_schema():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run([BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_have_no_security_findings():
    result = subprocess.run([BIN / "zizmor", "--offline", "--no-progress", str(WORKFLOWS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cpu_job_runs_make_test_on_push_and_pull_request():
    ci = _load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    steps = ci["jobs"]["test"]["steps"]
    assert any(step.get("run") == "make test" for step in steps)
    assert any(step.get("with", {}).get("cache") == "pip" for step in steps)
    assert ci["concurrency"]["cancel-in-progress"] is True


def test_gpu_job_never_runs_for_pull_requests():
    gpu = _load("gpu-full.yml")
    assert set(gpu["on"]) == {"schedule", "workflow_dispatch"}
    job = gpu["jobs"]["full"]
    assert "gpu" in job["runs-on"] and "self-hosted" in job["runs-on"]
    assert job["timeout-minutes"] <= 720
    assert gpu["concurrency"]["cancel-in-progress"] is True
    uploads = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and "build/report.md" in uploads[0]["with"]["path"]
    assert any("PROFILE=full" in s.get("run", "") for s in job["steps"])


def test_actions_are_pinned_by_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                ref = line.split("@", 1)[1].split()[0]
                assert len(ref) == 40, f"{path.name}: {line.strip()} is not pinned to a commit"


def test_colab_check_is_its_own_job():
    ci = _load("ci.yml")
    job = ci["jobs"]["colab-check"]
    assert any(step.get("run") == "make colab-check" for step in job["steps"])
    assert "schedule" in ci["on"] and "pull_request" in job["if"] and "schedule" in job["if"]  # weekly and on PRs
    python = next(s["with"]["python-version"] for s in job["steps"] if "setup-python" in s.get("uses", ""))
    assert _colab_python() in python.split(), "the mirror needs Colab's Python (tools/colab/os-info.txt)"
    assert "make colab-check" not in str(ci["jobs"]["test"]), "the Colab check needs PyPI: not in the offline test job"
    uploads = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "build/colab-check/"


def test_gpu_job_can_validate_with_nbval_in_the_full_profile():
    gpu = _load("gpu-full.yml")
    check = gpu["on"]["workflow_dispatch"]["inputs"]["check"]
    assert check["options"] == ["lessons", "nbval"] and check["default"] == "lessons"  # the schedule runs lessons
    steps = gpu["jobs"]["full"]["steps"]
    nbval = [s for s in steps if "make nbval" in s.get("run", "")]
    assert nbval and "PROFILE=full" in nbval[0]["run"] and nbval[0]["if"] == "inputs.check == 'nbval'"
    assert any("course" in s.get("run", "") for s in steps if "make venv" in s.get("run", ""))


def _colab_python():
    import re

    return re.search(r"^Python (\d+\.\d+)", (ROOT / "tools" / "colab" / "os-info.txt").read_text(), re.M)[1]


def test_unit_tests_run_on_every_python_the_package_admits():
    import tomllib

    from packaging.specifiers import SpecifierSet

    admitted = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    job = _load("ci.yml")["jobs"]["unit"]
    pythons = job["strategy"]["matrix"]["python"]
    assert pythons == [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if f"{v}.0" in admitted]
    assert _colab_python() in pythons, "Colab's Python must be among them"
    assert any(step.get("run") == "make unit PYTHON=python" for step in job["steps"])


# Pins whose action runs on Node 20, which GitHub's runners dropped on 2026-09-16.
NODE20 = {"0057852bfaa89a56745cba8c7296529d2fc39830": "actions/cache v4.3.0",
          "ea165f8d65b6e75b540449e92b4886f43607fa02": "actions/upload-artifact v4.6.2"}


def test_no_action_on_node_20():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert not [name for sha, name in NODE20.items() if sha in text], path.name


def test_gpu_job_installs_what_lesson_04_needs_and_keeps_its_caches():
    job = _load("gpu-full.yml")["jobs"]["full"]
    install = next(s["run"] for s in job["steps"] if "make venv" in s.get("run", ""))
    assert "kaggle" in install.split("EXTRAS=")[1].split()[0].split(",")
    checkout = next(s for s in job["steps"] if "actions/checkout" in s.get("uses", ""))
    assert checkout["with"]["clean"] is False  # .venv/ and data/ survive between runs
    assert {"KAGGLE_USERNAME", "KAGGLE_KEY"} <= set(job["env"])
