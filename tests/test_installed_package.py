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
    monkeypatch.setenv("COURSE_RECORDS_DIR", "/records")
    monkeypatch.setenv("COURSE_DATA_DIR", "/somewhere")
    environment = check.colab_environment({"COURSE_PROFILE": "quick"})
    assert "COURSE_RECORDS_DIR" not in environment and "COURSE_DATA_DIR" not in environment
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


def test_the_mirror_reads_colabs_own_lists():
    check = _colab_check()
    pins = check.colab_pins()
    # the committed copy of googlecolab/backend-info's pip-freeze.txt (tools/colab/README.md)
    assert {n: pins[n] for n in check.HELD} == {"tensorflow": "2.20.0", "keras": "3.13.2", "tf-keras": "2.20.1",
                                                  "numpy": "2.1.3"}
    assert pins["protobuf"] == "5.29.6" and pins["tensorflow-metadata"] == "1.21.0"
    assert "google-colab" not in pins and "torch" not in pins  # installed from files and URLs: not installable here
    assert check.colab_python() == "3.13"
    assert set(check.HELD) <= set(check.TOUCHED) and all(name in pins for name in check.TOUCHED)


def test_pip_names_are_compared_as_pip_compares_them(tmp_path):
    check = _colab_check()
    freeze = tmp_path / "pip-freeze.txt"
    freeze.write_text("# a comment\ntf_keras==2.20.1\nJinja2==3.1.6\nfoo @ file:///x.tar.gz\nzope.interface==8.0\n")
    assert check.colab_pins(freeze) == {"tf-keras": "2.20.1", "jinja2": "3.1.6", "zope-interface": "8.0"}


def test_an_interpreter_of_colabs_version_is_found_or_the_way_to_get_one_is_said(tmp_path, monkeypatch):
    check = _colab_check()
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert check.find_python(here, sys.executable) == Path(sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.99 and no pyenv
    with pytest.raises(SystemExit) as stopped:
        check.find_python("3.99")
    message = str(stopped.value)
    assert "Colab runs Python 3.99 and this machine has no python3.99" in message
    assert "pyenv install 3.99" in message and "--python PATH" in message
    with pytest.raises(SystemExit, match="no python3.99"):
        check.find_python("3.99", sys.executable)  # an interpreter of another version is refused


def test_only_the_installs_errors_count_not_a_kernels_shutdown_traceback(tmp_path):
    import nbformat

    from course_utils.course import links

    check = _colab_check()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(links.colab_setup_source())])
    nbformat.write(nb, tmp_path / "ok.ipynb")
    (tmp_path / "kernel.log").write_text(  # ipykernel 6.17 on Python 3.13, at shutdown (seen on the mirror)
        "Exception ignored in atexit callback <function shutdown at 0x7fdbbf2f3d80>:\n"
        "Traceback (most recent call last):\n"
        "AttributeError: 'OutStream' object has no attribute 'watch_fd_thread'\n")
    assert check.colab_cell_errors(tmp_path / "ok.ipynb", tmp_path / "kernel.log") == ""
    (tmp_path / "kernel.log").write_text("ERROR: Package 'course-utils' requires a different Python: 3.13.0 not in "
                                         "'<3.13,>=3.10'\n")
    assert "requires a different Python" in check.colab_cell_errors(tmp_path / "ok.ipynb", tmp_path / "kernel.log")
