"""Issue 16, item 1: a classroom's shared data folder, read only for learners.

The instructor fills one folder; a learner names it in ``COURSE_SHARED_DATA_DIR`` and keeps
``COURSE_DATA_DIR`` for what their runs write. Reads look in the shared folder first
(``classroom.find_data``, the one resolver); nothing is ever written there.

CI runs as root, and root ignores file modes, so the proof runs the lesson as the
unprivileged user ``nobody`` (``setpriv``). This machine's Python lives under ``/root``
(mode 0700), which ``nobody`` cannot even traverse, so the child keeps one capability,
CAP_DAC_READ_SEARCH: it may read and search every folder, as a learner reads the course's
installation, but writes only where the modes let ``nobody`` write. The test checks that a
write into the shared folder really fails for that process, so a pass proves something.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import downloads
from course_utils.setup import classroom, env, lesson

ROOT = Path(__file__).resolve().parent.parent
HANDLE = "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4"
NOBODY = 65534


def tree_state(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``: type, mode and content hash (files) or link target."""
    state = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(info.st_mode):
            state[key] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            state[key] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            state[key] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)


def unprivileged(command: list[str]) -> list[str]:
    """``command`` as the user ``nobody``, which may read every folder but write only where modes allow."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "the classroom test needs setpriv (util-linux) to run the lesson as an unprivileged user"
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--", *command]


@pytest.fixture
def scratch():
    """A temporary folder ``nobody`` can reach (pytest's own tmp folders are root's, mode 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="course-classroom-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def owned_by_nobody(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def asset_for(payload: bytes) -> downloads.Asset:
    return downloads.Asset(name="classroom test file", filename="shared.bin",
                           urls=("https://example.invalid/shared.bin",), size=len(payload),
                           sha256=hashlib.sha256(payload).hexdigest())


# -- the resolver -------------------------------------------------------------------------------
def test_find_data_reads_the_shared_copy_first_and_names_a_missing_one_once(tmp_path, monkeypatch, capsys):
    mine, shared = tmp_path / "mine", tmp_path / "shared"
    (shared / "quick" / "tfhub" / "abc").mkdir(parents=True)
    classroom.write_manifest(shared)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(classroom, "_reported_missing", set())

    assert classroom.find_data(mine / "quick" / "tfhub" / "abc") == shared / "quick" / "tfhub" / "abc"
    assert classroom.find_data("quick/tfhub/abc") == shared / "quick" / "tfhub" / "abc"
    assert capsys.readouterr().out == ""

    assert classroom.find_data(mine / "features" / "k", what="the feature cache entry k") == mine / "features" / "k"
    classroom.find_data(mine / "features" / "k")
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # one message, not one per call
    assert "the feature cache entry k" in out and str(shared / "features" / "k") in out
    assert "make classroom-data" in out and "PROFILE=full make lessons" in out

    (mine / "quick" / "tfhub" / "abc").mkdir(parents=True)  # the learner's own copy wins once it exists
    assert classroom.find_data(mine / "quick" / "tfhub" / "abc") == mine / "quick" / "tfhub" / "abc"
    assert classroom.find_data(tmp_path / "elsewhere") == tmp_path / "elsewhere"  # outside the data folder: as is


def test_without_a_shared_folder_nothing_changes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)
    assert classroom.find_data(tmp_path / "features" / "k") == tmp_path / "features" / "k"
    assert capsys.readouterr().out == ""
    assert classroom.describe_data_folders() == f"{tmp_path} (yours, written)"


def test_banner_names_both_folders(tmp_path, monkeypatch):
    from course_utils.setup.profiles import lesson_settings

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(tmp_path / "shared"))
    (tmp_path / "shared" / "quick").mkdir(parents=True)
    (tmp_path / "shared" / "quick" / "a.bin").write_bytes(b"a")
    classroom.write_manifest(tmp_path / "shared")
    text = lesson._banner(lesson_settings("01", "quick"), {"tensorflow": "x", "keras": "y", "device": "cpu"})
    line = next(line for line in text.splitlines() if "data folders" in line)
    assert str(tmp_path / "mine") in line and "(yours, written)" in line
    assert f"shared: {tmp_path / 'shared'}, checked: 1 files in the manifest" in line
    assert line.endswith("writable by you")  # root owns it: a finding, not a label


# -- what the modules read from the shared folder -------------------------------------------------
def _as_instructor_then_learner(monkeypatch, shared: Path, mine: Path):
    """Fill ``shared`` as the instructor (COURSE_DATA_DIR there), then return a switch to the learner's view."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)

    def learner():
        monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
        monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))

    return learner


def test_a_feature_cache_entry_in_the_shared_folder_is_read_there(tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    from course_utils import features as fc
    from course_utils.data.generated import make_images

    tf.keras.utils.set_random_seed(0)
    backbone = tf.keras.Sequential([tf.keras.Input((16, 16, 3)), tf.keras.layers.Conv2D(4, 3, strides=2),
                                    tf.keras.layers.GlobalAveragePooling2D()], name="tiny_backbone")
    backbone.trainable = False
    images, labels = make_images(24, 16, 3, seed=0)
    images = images.astype("float32") / 255.0
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    learner = _as_instructor_then_learner(monkeypatch, shared, mine)
    built, _ = fc.cached_predict(backbone, images, key="tiny images /255", labels=labels, batch_size=8)
    assert "computed 24 feature rows" in capsys.readouterr().out
    classroom.write_manifest(shared)
    before = tree_state(shared)

    learner()
    hit, hit_labels = fc.cached_predict(backbone, images, key="tiny images /255", labels=labels, batch_size=8)
    said = capsys.readouterr().out
    assert "read 24 feature rows from " + str(shared) in said and "computed" not in said
    assert np.array_equal(hit, built) and np.array_equal(hit_labels, labels)
    assert tree_state(shared) == before and not (mine / "features").exists()


def test_a_prepared_tf_flowers_in_the_shared_folder_is_read_there(tmp_path, monkeypatch, capsys):
    import tensorflow_datasets as tfds

    from course_utils.data import flowers

    shared, mine = tmp_path / "shared", tmp_path / "mine"
    learner = _as_instructor_then_learner(monkeypatch, shared, mine)
    monkeypatch.setenv("TFDS_DATA_DIR", str(shared / "quick" / "tfds"))
    filled = flowers.load("stand-in", num_images=25, progress=False)
    classroom.write_manifest(shared)
    before = tree_state(shared)
    capsys.readouterr()

    learner()
    monkeypatch.setenv("TFDS_DATA_DIR", str(mine / "quick" / "tfds"))
    used = flowers.load("stand-in", num_images=25, progress=False)
    assert used == filled and str(used).startswith(str(shared))
    assert "prepared 25 images" not in capsys.readouterr().out  # not prepared again
    assert not (mine / "quick" / "tfds" / "local_flowers").exists()
    dataset = tfds.load("tf_flowers", split="train", data_dir=used)
    assert sum(1 for _ in dataset) == 25
    assert tree_state(shared) == before


# -- the proof: lesson 01 and the shared stand-in and download, as nobody, read-only ------------
@pytest.mark.notebooks  # runs lesson 01 (a second time in `make test`: as another user, on other folders)
def test_a_lesson_runs_against_a_read_only_shared_folder_and_writes_nothing_there(scratch, monkeypatch):
    from course_utils.models import hub

    # The instructor fills the shared folder once (the quick profile's cache folders, a TF Hub
    # stand-in, a verified download), as root, then makes it read-only.
    shared = scratch / "shared"
    payload = b"a verified file the whole class reads\n" * 100
    mine_copy = scratch / "instructor.bin"
    mine_copy.write_bytes(payload)
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)
    lesson._use_cache_dirs("quick")
    hub._install_stand_in(HANDLE, dim=8)
    downloads.fetch(asset_for(payload), shared / "downloads", local_copy=mine_copy)
    shutil.rmtree(shared / ".locks")  # the instructor's own lock files need not be shared
    classroom.write_manifest(shared)  # as `make classroom-data` does
    make_read_only(shared)
    before = tree_state(shared)
    assert any(key.endswith("saved_model.pb") for key in before) and "downloads/shared.bin" in before

    home = owned_by_nobody(scratch / "home")
    learner = owned_by_nobody(scratch / "learner")
    child_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home), "USER": "nobody",
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_DATA_DIR": str(home / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"), "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "matplotlib"), "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home), "TF_CPP_MIN_LOG_LEVEL": "2",
        "COURSE_PROFILE": "quick",  # the runner's quick-profile kernels are offline from their first line
        "COURSE_DATA_DIR": str(learner), classroom.SHARED_DATA_VAR: str(shared),
    }

    # 1. It is read-only for that user: a write attempt fails (else this test would prove nothing).
    probe = subprocess.run(unprivileged([sys.executable, "-c", textwrap.dedent(f"""
        import os
        print(os.getuid())
        for target in [{str(shared / 'new.txt')!r}, {str(shared / 'downloads' / 'new.txt')!r}]:
            try:
                open(target, "w")
            except PermissionError:
                print("denied")
        """)]), env=child_env, cwd=home, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == [str(NOBODY), "denied", "denied"], probe.stdout + probe.stderr

    # 3 (started now, it runs beside step 2). Lesson 01, through the runner, as nobody.
    build = home / "build"
    with open(home / "runner.out", "w") as log:
        lesson_run = subprocess.Popen(unprivileged([sys.executable, "-m", "course_utils.course.runner", "--profile", "quick",
                                                    "--only", "01", "--build", str(build), "--no-progress"]),
                                      env=child_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True)
    try:
        check_reads_and_lesson(shared, learner, home, build, payload, child_env, lesson_run, before)
    finally:
        if lesson_run.poll() is None:  # a failed check above: end the lesson run and its kernel
            os.killpg(lesson_run.pid, signal.SIGKILL)
            lesson_run.wait()


def check_reads_and_lesson(shared, learner, home, build, payload, child_env, lesson_run, before):
    """Steps 2 and 3 of the test above (step 3's lesson run is already going)."""
    # 2. The shared stand-in and download are read from there (not rebuilt, not copied).
    reads = subprocess.run(unprivileged([sys.executable, "-c", textwrap.dedent(f"""
        import json
        import numpy as np
        import course_utils
        from course_utils.data import downloads
        from course_utils.setup import env, lesson
        from course_utils.models import hub
        from tests.test_classroom import asset_for, HANDLE
        lesson._use_cache_dirs("quick")
        hub.prepare_handle(HANDLE, "stand-in", dim=8)
        import tensorflow_hub
        layer = tensorflow_hub.KerasLayer(HANDLE)
        out = layer(np.zeros([1, 32, 32, 3], "float32"))
        path = downloads.fetch(asset_for({payload!r}), env.data_dir() / "downloads")
        print(json.dumps({{"shape": list(out.shape), "download": str(path),
                           "hub": str(hub._cache_path(HANDLE).resolve())}}))
        """)]), env={**child_env, **env.offline_environment(pythonpath=str(ROOT))}, cwd=home, capture_output=True,
        text=True, timeout=120)
    assert reads.returncode == 0, reads.stdout[-3000:] + reads.stderr[-3000:]
    seen = json.loads(reads.stdout.strip().splitlines()[-1])
    assert seen["shape"] == [1, 8]
    assert seen["download"] == str(shared / "downloads" / "shared.bin")
    assert seen["hub"].startswith(str(shared.resolve()))

    # 3. Lesson 01 succeeds and writes only into the learner's folder.
    code = lesson_run.wait(timeout=600)
    runs = json.loads((build / "runs.json").read_text()) if (build / "runs.json").exists() else []
    assert code == 0 and [r["status"] for r in runs] == ["ok"], (home / "runner.out").read_text()[-4000:]
    executed = (build / "executed" / "01_own_model_head_swap.ipynb").read_text()
    assert f"shared: {shared}, checked: " in executed and "read only" in executed  # the banner's findings
    assert (learner / "pretrained" / "digit_cnn_quick.keras").is_file()

    assert tree_state(shared) == before  # byte for byte, no new file, no changed mode


# -- the instructor's make target ------------------------------------------------------------------
def test_make_classroom_data_runs_both_profiles_into_the_named_folder(tmp_path):
    folder = tmp_path / "class data"  # a space in the name, as on a shared drive
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "python"  # stands in for the course Python: records what the runner would be asked
    stub.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$*" in *course_utils.course.runner*) ;; *) exec {sys.executable!r} "$@";; esac  # the manifest
        echo "$COURSE_DATA_DIR|$*" >> {str(calls)!r}
        mkdir -p "$COURSE_DATA_DIR/.locks" "$COURSE_DATA_DIR/quick"
        echo data > "$COURSE_DATA_DIR/quick/file.bin"
        chmod 666 "$COURSE_DATA_DIR/quick/file.bin"; chmod 777 "$COURSE_DATA_DIR/quick"
        """))
    stub.chmod(0o755)
    make = ["make", "-s", "-o", ".venv/.course-installed", f"PY={stub}", "classroom-data"]
    done = subprocess.run([*make, f"CLASSROOM_DATA={folder}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = calls.read_text().splitlines()
    assert [line.split("|")[0] for line in lines] == [str(folder)] * 2  # absolute: the kernels run in notebooks/
    assert [line.split("--profile ")[1].split()[0] for line in lines] == ["quick", "full"]
    assert all("-m course_utils.course.runner" in line for line in lines)
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "quick"]  # the lock files are not shared
    assert stat.S_IMODE((folder / "quick" / "file.bin").stat().st_mode) == 0o644  # learners may read, not write
    assert stat.S_IMODE((folder / "quick").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "SHA256SUMS").stat().st_mode) == 0o644
    digest = hashlib.sha256(b"data\n").hexdigest()  # what the stub wrote
    assert (folder / "SHA256SUMS").read_text() == f"{digest}  quick/file.bin\n"
    assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=folder).returncode == 0
    assert f"COURSE_SHARED_DATA_DIR={folder}" in done.stdout

    usage = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert usage.returncode != 0 and "usage: make classroom-data CLASSROOM_DATA=" in usage.stdout + usage.stderr
