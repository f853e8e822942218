"""Deprecations are seen: pytest's settings turn one raised from the course's own code into a failure,
and leave TensorFlow's and Keras's own in the warnings summary instead of hiding them all."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(tmp_path, body):
    test = tmp_path / "test_probe.py"
    test.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                           str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(test)],
                          capture_output=True, text=True, cwd=ROOT)


def test_a_deprecation_from_the_course_fails_and_one_from_a_library_is_shown(tmp_path):
    result = _pytest(tmp_path, """
        import types
        import warnings

        def _course_module(name):
            # code whose warnings are attributed to a course module, as a deprecated call made there would be
            module = types.ModuleType(name)
            exec("import warnings\\ndef call():\\n    warnings.warn('old API', DeprecationWarning)", module.__dict__)
            return module

        def test_course():
            _course_module("course_utils.data.probe").call()

        def test_exercises():
            _course_module("course_exercises.probe").call()

        def test_library():
            _course_module("some_library.probe").call()
    """)
    assert "2 failed, 1 passed" in result.stdout, result.stdout[-3000:]
    assert "DeprecationWarning: old API" in result.stdout  # the library's is listed in the summary
