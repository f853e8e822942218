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
