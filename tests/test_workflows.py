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
