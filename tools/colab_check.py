"""The Colab path, on a mirror of Colab's own runtime (`make colab-check`; needs PyPI, not part of `make test`).

1. Read Colab's published lists, committed in tools/colab/ (pip-freeze.txt, os-info.txt;
   tools/colab/README.md says where they come from and how to refresh them).
2. Build the course wheel from this checkout.
3. Make a virtual environment on Colab's Python version (os-info.txt: 3.13 today) and install,
   at exactly Colab's versions, every package the lessons touch (TensorFlow, Keras 3, tf_keras,
   TF Hub, tfds with its tensorflow-metadata and protobuf, numpy ... and the kernel), the rest of
   Colab's list as pip constraints. Nothing of the course; none of its environment variables.
4. Copy all six notebooks to a folder outside the checkout and run each there in the quick profile
   (offline once course_utils is imported), on that environment's kernel, with a stand-in
   `google.colab` module imported at kernel start as Colab does: each notebook's own Colab cell
   takes its Colab branch and pip-installs the wheel (`$COURSE_UTILS_PIP_TARGET`).
5. Fail when: a notebook fails; a Colab cell's install printed an error; `pip check` is not clean;
   TensorFlow, Keras (keras, tf_keras) or numpy moved from Colab's versions; course_utils did not
   come from the wheel; anything was written into site-packages.

Where this machine has no interpreter of Colab's version it says how to get one (`--python PATH`).
Results go to build/colab-check/ (summary.json, executed notebooks, kernel logs).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ["01", "02", "03", "04", "05", "06"]
COLAB = ROOT / "tools" / "colab"
# What the lessons touch (the course's dependencies, what they pull in that the lessons rely on, and
# the kernel): installed at exactly Colab's versions. The rest of Colab's list only constrains pip.
TOUCHED = ("tensorflow", "keras", "tf-keras", "tensorflow-hub", "tensorflow-datasets", "tensorflow-metadata",
           "protobuf", "numpy", "scipy", "pandas", "pillow", "matplotlib", "scikit-learn", "scikit-image", "h5py",
           "ml-dtypes", "tqdm", "jinja2", "filelock", "pooch", "requests", "etils", "dm-tree", "promise",
           "ipykernel", "ipython", "jupyter-client", "matplotlib-inline", "traitlets", "pyzmq", "tornado")
# Colab's own packages must not move when the Colab cell installs the course.
HELD = ("tensorflow", "keras", "tf-keras", "numpy")
KERNEL = "colab-standin"
# What the course's own environment sets and a Colab runtime does not.
NOT_ON_COLAB = ("COURSE_DATA_DIR", "COURSE_RECORDS_DIR", "PYTHONPATH", "JUPYTER_PATH", "IPYTHONDIR",
                "VIRTUAL_ENV", "TFHUB_CACHE_DIR", "TFDS_DATA_DIR", "KERAS_HOME")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``tf_keras`` and ``TF-Keras`` are ``tf-keras``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_pins(freeze: Path = COLAB / "pip-freeze.txt") -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line of Colab's ``pip freeze`` (lines installed from a
    file or a URL, Colab's own packages among them, cannot be installed elsewhere and are left out)."""
    pins = {}
    for line in freeze.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line.strip())
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def colab_python(os_info: Path = COLAB / "os-info.txt") -> str:
    """Colab's Python as ``major.minor`` (``os-info.txt`` has a line ``Python 3.13.15``)."""
    match = re.search(r"^Python (\d+)\.(\d+)\.\d+", os_info.read_text(), flags=re.M)
    if not match:
        raise SystemExit(f"colab-check: no 'Python X.Y.Z' line in {os_info}")
    return f"{match[1]}.{match[2]}"


def find_python(version: str, given: str | None = None) -> Path:
    """An interpreter of ``version`` (``3.13``): ``given``, else ``python3.13`` on the PATH, else one of
    pyenv's; else stop and say how to get one."""
    candidates = [given] if given else [shutil.which(f"python{version}")]
    if not given and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        installed = sorted(Path(root, "versions").glob(f"{version}.*")) if root else []
        candidates += [str(p / "bin" / f"python{version}") for p in reversed(installed)]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return Path(candidate)
    raise SystemExit(
        f"colab-check: Colab runs Python {version} and this machine has no python{version}. Get one, then run "
        f"again (or pass --python PATH):\n  pyenv install {version}   (then: PYENV_VERSION={version}.x python{version})"
        f"\n  uv python install {version}\n  Debian/Ubuntu: the python{version} and python{version}-venv packages "
        "(deadsnakes on Ubuntu)")


def colab_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in NOT_ON_COLAB}
    environment.update(extra or {})
    return environment


def make_colab_standin(folder: Path, python: Path) -> dict[str, str]:
    """A stand-in ``google.colab`` imported at kernel start, and a kernel spec for ``python``.

    ``google`` stays a namespace package (no ``__init__.py``), so
    ``google.protobuf`` in site-packages still imports beside it. Returns the
    environment variables that make the stand-in visible.
    """
    package = folder / "modules" / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Stand-in for Colab\'s module: notebooks test only that it is imported."""\n')
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text("import google.colab  # as a Colab runtime does before the first cell\n")
    spec = folder / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab stand-in", "language": "python"}, indent=1))
    return {"PYTHONPATH": str(folder / "modules"), "IPYTHONDIR": str(folder / "ipython"),
            "JUPYTER_PATH": str(folder / "jupyter")}


class Steps:
    def __init__(self, cwd: Path):
        self.started = time.perf_counter()
        self.times: dict[str, float] = {}
        self.cwd = cwd  # never the checkout: Python would import its course_utils from there

    def run(self, name: str, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        start = time.perf_counter()
        print(f"- {name} ...", flush=True)
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.cwd, **kwargs)
        self.times[name] = round(time.perf_counter() - start, 1)
        if result.returncode != 0:
            raise SystemExit(f"colab-check: {name} failed ({' '.join(map(str, command))}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result


def build_wheel(steps: Steps, work: Path) -> Path:
    """The wheel of the current checkout (built from a copy, so the checkout gets no build/lib)."""
    source = work / "source"
    shutil.rmtree(source, ignore_errors=True)  # a --work folder used before
    shutil.rmtree(work / "dist", ignore_errors=True)
    for package in ("course_utils", "course_exercises"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    steps.run("build the wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                                  str(work / "dist"), str(source)])
    (wheel,) = (work / "dist").glob("course_utils-*.whl")
    return wheel


def colab_cell_errors(executed: Path, kernel_log: Path | None) -> str:
    """What the Colab cell's install printed as an error, or ``""``: pip's ``ERROR:`` lines (its resolver
    report and the like) and any traceback in the cell's own outputs, and pip's ``ERROR:`` lines in the
    kernel's log (pip runs as the cell's subprocess, whose output goes to the kernel's own stderr).
    Other tracebacks in the kernel log are not the install's (e.g. ipykernel 6.17's atexit error at
    shutdown on Python 3.13)."""
    from course_utils.course import links

    nb = json.loads(executed.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and links.COLAB_CELL_MARKER in "".join(c["source"])]
    if len(cells) != 1:
        return f"{executed.name}: {len(cells)} Colab cells"
    printed = "".join("".join(o.get("text", "")) + "\n".join(o.get("traceback", [])) for o in cells[0].get("outputs", []))
    # pip's errors start "ERROR: " (after a colour code); TensorFlow's C++ lines ("E0000 ... ERROR (303)") are not pip's
    pip_error = re.compile(r"^(?:\x1b\[[0-9;]*m)?ERROR: ")
    found = [line for line in printed.splitlines() if pip_error.search(line) or "Traceback (most recent call last)" in line]
    if kernel_log is not None and kernel_log.exists():
        found += [line for line in kernel_log.read_text(errors="replace").splitlines() if pip_error.search(line)]
    return "\n".join(found)


def python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def check(condition: bool, message: str, problems: list[str]) -> None:
    print(("  ok: " if condition else "  PROBLEM: ") + message, flush=True)
    if not condition:
        problems.append(message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="working folder, outside the checkout "
                                                                "(default: a new temporary folder)")
    parser.add_argument("--python", default=None, help="an interpreter of Colab's Python version "
                                                       "(default: python3.13 on the PATH, else pyenv's)")
    parser.add_argument("--lessons", nargs="*", default=LESSONS)
    parser.add_argument("--keep", action="store_true", help="keep the working folder (the venv is about 2 GB)")
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "colab-check")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from course_utils.course import links, runner

    pins, version = colab_pins(), colab_python()
    interpreter = find_python(version, args.python)
    work = (args.work or Path(tempfile.mkdtemp(prefix="course-colab-check-"))).resolve()
    if ROOT == work or ROOT in work.parents:
        raise SystemExit(f"colab-check: the working folder must be outside the checkout, not {work}")
    work.mkdir(parents=True, exist_ok=True)
    results = args.results.resolve()
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    steps, problems = Steps(work), []
    print(f"colab-check in {work}: Colab's runtime of tools/colab/ (Python {version}, "
          f"{', '.join(f'{n} {pins[n]}' for n in HELD)})", flush=True)

    wheel = build_wheel(steps, work)
    venv = work / "colab-venv"
    python = python_in(venv)
    clean = colab_environment()
    constraints = work / "colab-constraints.txt"
    constraints.write_text("".join(f"{name}=={pin}\n" for name, pin in sorted(pins.items())))
    touched = [f"{name}=={pins[name]}" for name in TOUCHED if name in pins]
    steps.run(f"create an environment on {interpreter} (Python {version})", [str(interpreter), "-m", "venv", str(venv)])
    steps.run("upgrade its pip", [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], env=clean)
    steps.run(f"install what the lessons touch at Colab's versions ({len(touched)} packages, "
              f"{len(pins)} constraints)", [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), *touched],
              env=clean)
    probe = steps.run("check the runtime is Colab's, without the course", [str(python), "-c", (
        "import importlib.util, json, sys\n"
        "from importlib.metadata import version\n"
        f"print(json.dumps({{'python': '%d.%d' % sys.version_info[:2],\n"
        f"  'versions': {{n: version(n) for n in {list(HELD)!r}}},\n"
        "  'course_utils': importlib.util.find_spec('course_utils') is not None}))")], env=clean)
    before = json.loads(probe.stdout.strip().splitlines()[-1])
    check(before["python"] == version, f"Python {before['python']}, Colab's {version}", problems)
    check(before["versions"] == {n: pins[n] for n in HELD}, f"Colab's versions installed ({before['versions']})",
          problems)
    check(not before["course_utils"], "course_utils not installed yet", problems)

    run_folder = work / "content"  # Colab's working folder, outside the checkout
    run_folder.mkdir(exist_ok=True)
    notebooks = runner.find_notebooks(ROOT / "notebooks", args.lessons)
    for notebook in notebooks:
        shutil.copy(notebook, run_folder / notebook.name)
        if links.write_colab_cell(run_folder / notebook.name):
            print(f"  note: {notebook.name} in the checkout carries an older Colab cell; "
                  "run `make colab-cell` (this check uses course_utils/course/links.py's)", flush=True)

    kernel_env = colab_environment({
        **make_colab_standin(work / "standin", python),
        links.PIP_TARGET_VAR: str(wheel),
        "COURSE_PROFILE": "quick", "COURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    })
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env)  # the kernel inherits this process's environment
    try:
        runs = []
        for notebook in notebooks:
            start = time.perf_counter()
            run = runner.run_notebook(run_folder / notebook.name, results, "quick", 1800,
                                      log=results / "logs" / f"{notebook.stem}.log", kernel_name=KERNEL)
            steps.times[f"lesson {run.lesson}"] = round(time.perf_counter() - start, 1)
            print(runner.console_line(run), flush=True)
            runs.append(run)
    finally:
        os.environ.clear()
        os.environ.update(saved)

    print("- checks", flush=True)
    for run in runs:
        check(run.status == "ok", f"{run.notebook} ran in the quick profile ({run.status} {run.error})", problems)
    for run in runs:
        executed = results / run.notebook
        if executed.exists():
            errors = colab_cell_errors(executed, Path(run.log) if run.log else None)
            check(not errors, f"{run.notebook}: the Colab cell's pip install printed no error", problems)
            if errors:
                print(errors[-3000:])
    after = steps.run("pip check", [str(python), "-m", "pip", "check"], env=clean)
    check("No broken requirements" in after.stdout, f"pip check: {after.stdout.strip()}", problems)
    state = json.loads(steps.run("inspect the runtime after the lessons", [str(python), "-c", (
        "import importlib.util, json, sysconfig\n"
        "from importlib.metadata import version\n"
        "spec = importlib.util.find_spec('course_utils')\n"
        f"print(json.dumps({{'versions': {{n: version(n) for n in {list(HELD)!r}}},\n"
        "  'course_utils': spec.origin if spec else '', 'site': sysconfig.get_paths()['purelib']}))")],
        env=clean).stdout.strip().splitlines()[-1])
    site = Path(state["site"])
    for name in HELD:
        now = state["versions"][name]
        check(now == pins[name], f"{name} stayed at Colab's {pins[name]} (now {now})", problems)
    check(bool(state["course_utils"]) and Path(state["course_utils"]).is_relative_to(site),
          f"course_utils came from the wheel ({state['course_utils'] or 'not installed'})", problems)
    strays = [p.name for p in site.iterdir() if p.name in ("data", "build", "course_data")]
    check(not strays, f"nothing written into site-packages ({strays or 'no data/, build/'})", problems)
    course_data = run_folder / "course_data"
    records = sorted(p.name for p in (course_data / "build" / "records").glob("lesson_*.json"))
    check(records == [f"lesson_{r.lesson}.json" for r in runs],
          f"run records in the learner's course_data/build/records ({records})", problems)
    check((course_data / "quick").is_dir(), "caches and stand-ins in the learner's course_data/quick", problems)

    total = round(time.perf_counter() - steps.started, 1)
    summary = {"total_s": total, "steps_s": steps.times, "python": version, "colab_versions": before["versions"],
               "wheel": wheel.name, "peak_memory_mb": {r.lesson: r.peak_memory_mb for r in runs},
               "lessons": {r.lesson: r.status for r in runs}, "problems": problems, "work": str(work)}
    (results / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"colab-check: {'PASSED' if not problems else 'FAILED'} in {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in steps.times.items())}); summary {results / 'summary.json'}")
    if problems or args.keep:
        print(f"working folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
