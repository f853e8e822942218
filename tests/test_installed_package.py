"""The Colab-like check's own parts (tools/colab_check.py; the whole check is `make colab-check`, which needs PyPI).

The installed package's folders are tested in tests/test_env.py.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _colab_check():
    spec = importlib.util.spec_from_file_location("colab_check", ROOT / "tools" / "colab_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_standin_is_imported_at_kernel_start_and_leaves_google_protobuf_importable(tmp_path):
    check = _colab_check()
    extra = check.make_colab_standin(tmp_path, Path(sys.executable))
    environment = {**os.environ, **extra}
    code = "import sys, google.protobuf; print('google.colab' in sys.modules, google.protobuf.__name__)"
    result = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "-c", code], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["True", "google.protobuf"]  # the Colab cell sees Colab; TF's protobuf still imports
    plain = subprocess.run([sys.executable, "-c", "import sys; import google.protobuf; print('google.colab' in sys.modules)"],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert plain.stdout.strip() == "False"  # pip and other subprocesses are not a kernel: no stand-in imported
    kernel = (tmp_path / "jupyter" / "kernels" / check.KERNEL / "kernel.json").read_text()
    assert sys.executable in kernel


def test_the_runtime_environment_drops_what_the_course_sets(monkeypatch):
    check = _colab_check()
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", "/somewhere")
    environment = check.colab_environment({"COURSE_PROFILE": "quick"})
    assert "TF_USE_LEGACY_KERAS" not in environment and "COURSE_DATA_DIR" not in environment
    assert environment["COURSE_PROFILE"] == "quick"


def test_the_check_runs_outside_the_checkout():
    with pytest.raises(SystemExit, match="outside the checkout"):
        _colab_check().main(["--work", str(ROOT / "build" / "colab-work")])
    assert not (ROOT / "build" / "colab-work").exists()


def test_make_colab_check_runs_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "colab-check: $(STAMP)\n\t$(PY) tools/colab_check.py" in makefile


def test_a_resolver_error_printed_by_the_colab_cell_is_caught(tmp_path):
    import nbformat

    from course_utils.course import links

    check = _colab_check()
    cell = nbformat.v4.new_code_cell(links.colab_setup_source())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("PROFILE = None"), cell])
    nbformat.write(nb, tmp_path / "clean.ipynb")
    (tmp_path / "kernel.log").write_text(
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption.\n"
        "E0000 00:00:1796156204.808736   18274 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n")
    assert check.colab_cell_errors(tmp_path / "clean.ipynb", tmp_path / "kernel.log") == ""
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=(
        "\x1b[31mERROR: pip's dependency resolver does not currently take into account all the packages that are installed.\n"
        "course-utils 0.1.0 requires jupyterlab==4.6.6, which is not installed.\n"))]
    nbformat.write(nb, tmp_path / "resolver.ipynb")
    assert "ERROR: pip's dependency resolver" in check.colab_cell_errors(tmp_path / "resolver.ipynb", None)
