import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from course_utils.setup import env
from course_utils.setup.lesson import _cache_dirs, _use_cache_dirs


def _run(code: str, **extra_env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **extra_env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=240)


def test_importing_the_package_changes_nothing_outside_it(tmp_path):
    # COURSE_OFFLINE=1 without the guard's folder on PYTHONPATH: an import that installed the guard would show.
    # The libraries come first (their own import may configure things); then every course_utils module.
    code = textwrap.dedent("""
        import json, logging, os, random, socket, warnings
        import keras, matplotlib, numpy as np, pooch, tensorflow as tf

        def state():
            loggers = {name: (logger.level, len(logger.handlers), logger.propagate, logger.disabled)
                       for name, logger in logging.root.manager.loggerDict.items() if isinstance(logger, logging.Logger)}
            loggers["pooch"] = (pooch.get_logger().level, len(pooch.get_logger().handlers))  # not in loggerDict
            return {"environ": dict(os.environ), "connect": id(socket.socket.connect), "getaddrinfo": id(socket.getaddrinfo),
                    "loggers": loggers, "root": (logging.root.level, len(logging.root.handlers)),
                    "warnings": [repr(f) for f in warnings.filters], "random": random.getstate(),
                    "numpy": repr(np.random.get_state()), "rc": repr(dict(matplotlib.rcParams)),
                    "keras": (keras.config.floatx(), keras.config.image_data_format(), keras.config.backend())}

        before = state()
        import pkgutil, importlib, course_utils
        for module in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
            importlib.import_module(module.name)
        after = state()
        changed = {key: [name for name in before[key] if before[key][name] != after[key].get(name)]
                   if isinstance(before[key], dict) and key != "rc" else before[key] != after[key] for key in before}
        print(json.dumps({key: value for key, value in changed.items() if value}))
        """)
    result = _run(code, COURSE_OFFLINE="1", PYTHONPATH="")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "{}"


@pytest.mark.parametrize("lesson", ["01", "03"])
def test_start_lesson_runs_on_keras_3_and_names_tf_keras_in_the_hub_lessons(lesson, tmp_path):
    # TensorFlow imported first (as a learner's own cell might): nothing to restart, tf.keras is Keras 3.
    # The hub lessons' banner also names tf-keras; start_lesson imports it in no lesson (the notebook does).
    code = ("import sys\nimport tensorflow as tf\nimport course_utils\n"
            f"course_utils.start_lesson('{lesson}', 'quick')\n"
            "import keras\nprint(tf.keras.Model is keras.Model, 'tf_keras' in sys.modules)")
    result = _run(code, COURSE_DATA_DIR=str(tmp_path), COURSE_RECORDS_DIR=str(tmp_path / "records"))
    assert result.returncode == 0, result.stderr[-2000:]
    from importlib.metadata import version

    out = result.stdout.strip().splitlines()
    (line,) = [line for line in out if "TensorFlow  :" in line]
    expected = f"  TensorFlow  : {version('tensorflow')}   Keras: {version('keras')}"
    if lesson == "03":
        expected += f"   tf_keras: {version('tf-keras')} (for hub.KerasLayer)"
    assert line == expected
    assert out[-1] == "True False"


def test_start_lesson_installs_the_guard_where_no_sitecustomize_did(tmp_path):
    # The Colab check's and the grader's kernels import course_utils only after they start: the lesson's
    # own setup call is where the guard comes on for them. No packet leaves: the guard refuses first.
    code = ("import socket\nimport course_utils\n"
            "course_utils.start_lesson('01', 'quick')\n"
            "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
            "except OSError as err:\n    print(type(err).__name__)")
    result = _run(code, COURSE_OFFLINE="1", PYTHONPATH="", COURSE_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "NetworkBlockedError"


def test_offline_environment_puts_the_guard_first_on_the_path_of_a_new_process():
    extra = env.offline_environment(pythonpath=os.pathsep.join(["/elsewhere", str(env._OFFLINE_SITE)]))
    assert extra == {"COURSE_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(env._OFFLINE_SITE), "/elsewhere"])}
    code = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
            "except OSError as err:\n    print(type(err).__name__)")
    check = "import socket\nassert getattr(socket.socket.connect, '__module__', None) == 'course_utils.setup.env'\n"
    guarded = _run(check + code, **env.offline_environment(pythonpath=""))
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert guarded.stdout.split() == ["NetworkBlockedError"]


def test_offline_guard_refuses_remote_hosts_but_not_loopback():
    env.block_network()  # tests/conftest.py installed it: already on, must stay idempotent
    with pytest.raises(env.NetworkBlockedError, match="refused a connection"):
        socket.create_connection(("203.0.113.1", 80), timeout=1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_quick_caches_never_share_folders_with_full(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    quick, full = _cache_dirs("quick"), _cache_dirs("full")
    for key in quick:
        assert quick[key] != full[key]
        assert tmp_path in quick[key].parents and tmp_path in full[key].parents
        assert "quick" in quick[key].parts
    assert full["KERAS_HOME"] == tmp_path / "keras" and quick["TFDS_DATA_DIR"] == tmp_path / "quick" / "tfds"


def test_use_cache_dirs_creates_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    for key in ("TFHUB_CACHE_DIR", "TFDS_DATA_DIR", "KERAS_HOME"):
        monkeypatch.delenv(key, raising=False)
    _use_cache_dirs("quick")
    assert os.environ["TFHUB_CACHE_DIR"] == str(tmp_path / "quick" / "tfhub")
    assert os.environ["TFDS_DATA_DIR"] == str(tmp_path / "quick" / "tfds")
    assert os.environ["KERAS_HOME"] == str(tmp_path / "quick" / "keras") and (tmp_path / "quick" / "keras").is_dir()


def test_describe_device_mentions_cpu_or_gpu():
    text = env.describe_device()
    assert "CPU" in text or "GPU" in text


def test_offline_guard_refuses_name_lookups_of_remote_hosts():
    env.block_network()
    with pytest.raises(env.NetworkBlockedError, match="refused to look up 'storage.googleapis.com'"):
        socket.getaddrinfo("storage.googleapis.com", 443)
    assert socket.getaddrinfo("localhost", 80)


ROOT = Path(__file__).resolve().parent.parent
_WHERE = ("import json\nfrom course_utils.setup import env\nfrom course_utils.course import report\n"
          "print(json.dumps({'checkout': str(env.checkout_root()),\n"
          "                  'data': str(env.data_dir()), 'records': str(report._records_dir())}))")


def _installed_copy(tmp_path):
    """course_utils as pip puts it in site-packages: the package folder alone, no checkout around it."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "course_utils", site / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _where(site, cwd, **extra_env):
    import json

    environment = {k: v for k, v in os.environ.items()
                   if k not in ("COURSE_DATA_DIR", "COURSE_RECORDS_DIR", "PYTHONPATH")}
    environment.update(PYTHONPATH=str(site), **extra_env)
    result = subprocess.run([sys.executable, "-c", _WHERE], capture_output=True, text=True,
                            env=environment, cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return {k: Path(v) for k, v in json.loads(result.stdout.strip().splitlines()[-1]).items()}


def test_installed_package_writes_to_course_data_in_the_working_directory(tmp_path):
    site = _installed_copy(tmp_path)
    work = tmp_path / "content"  # Colab's working directory
    work.mkdir()
    where = _where(site, work)
    assert str(where["checkout"]) == "None"
    assert where["data"] == work / "course_data"
    assert where["records"] == work / "course_data" / "build" / "records" and where["records"].is_dir()
    assert sorted(p.name for p in site.iterdir()) == ["course_utils"], "nothing may be written into site-packages"
    package_data = site / "course_utils" / "data"  # the package's data loaders, not a data folder
    assert [p for p in site.rglob("data") if p != package_data] == [] and not list(site.rglob("build"))
    assert (package_data / "__init__.py").is_file()


def test_installed_package_honours_course_data_dir(tmp_path):
    site = _installed_copy(tmp_path)
    mine = tmp_path / "my course files"
    where = _where(site, tmp_path, COURSE_DATA_DIR=str(mine))
    assert where["data"] == mine
    assert where["records"] == mine / "build" / "records"
    assert not (tmp_path / "course_data").exists()


def test_checkout_keeps_data_and_build_in_the_checkout(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert env.checkout_root() == ROOT
    assert env.data_dir() == ROOT / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", "/somewhere/else")
    assert env.data_dir() == Path("/somewhere/else")


@pytest.mark.parametrize("module, name, builtin", [
    ("course_utils.setup.env", "NetworkBlockedError", OSError),
    ("course_utils.setup.compat", "StackError", RuntimeError),
    ("course_exercises", "ExerciseFailed", AssertionError),
    ("course_exercises.grading", "GradingError", RuntimeError),
    ("course_utils.course.runner", "_NotebookTimeout", Exception),  # not TimeoutError: nbclient catches those
])
def test_each_course_error_keeps_its_builtin_base_under_course_error(module, name, builtin):
    import importlib

    from course_utils.errors import CourseError

    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, CourseError) and issubclass(cls, builtin)


def test_environment_sets_values_for_the_block_then_restores_them(monkeypatch):
    monkeypatch.setenv("COURSE_TEST_SET", "mine")
    monkeypatch.delenv("COURSE_TEST_UNSET", raising=False)
    with env.environment({"COURSE_TEST_SET": "theirs", "COURSE_TEST_UNSET": "new"}):
        assert (os.environ["COURSE_TEST_SET"], os.environ["COURSE_TEST_UNSET"]) == ("theirs", "new")
    assert os.environ["COURSE_TEST_SET"] == "mine" and "COURSE_TEST_UNSET" not in os.environ
    with pytest.raises(KeyError), env.environment({"COURSE_TEST_SET": "x", "COURSE_TEST_UNSET": "y"}, keep_set=True):
        assert (os.environ["COURSE_TEST_SET"], os.environ["COURSE_TEST_UNSET"]) == ("mine", "y")
        raise KeyError("restored on the way out too")
    assert os.environ["COURSE_TEST_SET"] == "mine" and "COURSE_TEST_UNSET" not in os.environ


@pytest.mark.parametrize("name", ["keras", "tf_keras"])
def test_set_seeds_makes_the_layers_of_either_keras_repeat(name):
    # Lessons on Keras 3 and the TF Hub lessons' tf_keras models: the same seed, the same initial weights.
    import importlib

    K = importlib.import_module(name)
    if name == "tf_keras":  # as lesson 03 or another test may have: tf_keras then draws from a generator of its own
        K.utils.set_random_seed(99)

    def kernel():
        layer = K.layers.Dense(4)
        layer.build((None, 3))
        return np.asarray(layer.kernel.numpy())

    env.set_seeds(11)
    first = kernel()
    env.set_seeds(11)
    assert np.array_equal(first, kernel())
    env.set_seeds(12)
    assert not np.array_equal(first, kernel())
