"""Issue 24, item 1: a classroom's shared folder is read only when its manifest vouches for the content.

``make classroom-data`` writes ``SHA256SUMS`` (every file it placed, by SHA-256); a learner's run
checks every file it reads there (``classroom.find_data``, and the TF Hub link in ``models.hub``) and
refuses what the manifest does not list with that hash, and a folder others could change. Each
attack below was shown to work on the code before the check: a planted feature-cache entry, a
planted TF Hub model whose graph writes a file, relabelled images that keep the per-class counts.

The learner is the unprivileged user ``nobody`` (``test_classroom.unprivileged``: ``setpriv``,
reading allowed everywhere, writing only where modes allow), since the tests run as root.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_classroom import NOBODY, make_read_only, owned_by_nobody, unprivileged

from course_utils.setup import classroom, env, files

ROOT = Path(__file__).resolve().parent.parent
MARKER = "planted-graph-ran.txt"

# Run in the learner's process: each call's result, or the error it raised, as one line of JSON.
PRELUDE = """
import json, os, sys
from pathlib import Path
from course_utils.errors import CourseError
from course_utils.setup import classroom, env, files
results = {}
def attempt(name, call):
    try:
        results[name] = {"served": str(call())}
    except Exception as err:
        results[name] = {"error": type(err).__name__, "course": isinstance(err, CourseError), "message": str(err)}
"""


@pytest.fixture
def scratch():
    """A temporary folder ``nobody`` can reach (pytest's own are root's, mode 0700); root removes it, whatever
    its modes."""
    folder = Path(tempfile.mkdtemp(prefix="course-manifest-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_learner(code: str, scratch: Path, shared: Path) -> dict:
    """``code`` (after :data:`PRELUDE`) run as ``nobody`` with ``shared`` as the classroom's folder."""
    home, learner = owned_by_nobody(scratch / "home"), owned_by_nobody(scratch / "learner")
    child_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home), "USER": "nobody",
        "TMPDIR": str(home), "MPLCONFIGDIR": str(home / "matplotlib"),
        **env.offline_environment(pythonpath=str(ROOT)), "TF_CPP_MIN_LOG_LEVEL": "2",
        "COURSE_DATA_DIR": str(learner), classroom.SHARED_DATA_VAR: str(shared),
    }
    script = PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(results))\n"
    done = subprocess.run(unprivileged([sys.executable, "-c", script]), env=child_env, cwd=home,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def refused(result: dict, path: Path, why: str) -> None:
    """``result`` is a CourseError naming ``path`` and saying ``why``; nothing was served."""
    assert "served" not in result, result
    assert result["course"] and result["error"] == "SharedDataError", result
    assert str(path) in result["message"] and why in result["message"], result["message"]


def sealed(folder: Path) -> Path:
    """``folder`` as ``make classroom-data`` leaves it: manifest written, write bits off for group and others."""
    classroom.write_manifest(folder)
    subprocess.run(["chmod", "-R", "go-w,a+rX", str(folder)], check=True)
    return folder


# -- (a) a feature-cache entry planted in the shared folder ---------------------------------------
def feature_entry(folder: Path, labels: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    np.save(folder / "features.npy", np.arange(len(labels) * 4, dtype="float32").reshape(len(labels), 4))
    np.save(folder / "labels.npy", labels)
    files.write_manifest(folder, "feature cache entry", key="tiny images /255")
    return folder


def test_a_planted_or_changed_feature_entry_is_refused_and_nothing_is_served(scratch):
    shared = scratch / "shared"
    labels = np.arange(12) % 3
    good, changed = (feature_entry(shared / "features" / name, labels) for name in ("a" * 32, "b" * 32))
    sealed(shared)
    planted = feature_entry(shared / "features" / ("c" * 32), np.zeros(12, "int64"))  # its key is public
    np.save(changed / "labels.npy", np.zeros(12, "int64"))  # every label 0, after the manifest was written

    seen = as_learner("""
        for name in ("a", "b", "c"):
            attempt(name, lambda: classroom.find_data(env.data_dir() / "features" / (name * 32)))
        results["learner's folder"] = sorted(str(p) for p in env.data_dir().rglob("*"))
        """, scratch, shared)
    assert seen["a"] == {"served": str(good)}  # the instructor's entry, as placed
    refused(seen["b"], changed / "labels.npy", "differs from the SHA-256 in the shared folder's manifest")
    refused(seen["c"], planted / "COURSE_MANIFEST.json", "is not in the shared folder's manifest")  # its first file
    assert seen["learner's folder"] == []  # nothing copied, nothing cached


# -- (b) a TF Hub SavedModel planted in the shared folder ------------------------------------------
def planted_model(path: Path, marker: Path) -> Path:
    """A TF Hub-shaped SavedModel whose graph writes ``marker`` when it is called, marked as a stand-in."""
    import tensorflow as tf

    from course_utils.models import hub

    class Planted(tf.Module):
        def __init__(self):
            super().__init__()
            self.weight = tf.Variable(tf.ones([3, 8]))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            tf.io.write_file(str(marker), "the planted graph ran\n")
            return tf.matmul(tf.reduce_mean(images, axis=[1, 2]), self.weight)

    module = Planted()
    tf.saved_model.save(module, str(path))
    files.write_manifest(path, hub._KIND, note="Locally built stand-in")  # the course's manifest is public too
    return path


def swap(source: Path, folder: Path, parts: list[str]) -> None:
    """Replace ``parts`` of the SavedModel ``folder`` with those of ``source``."""
    for part in parts:
        shutil.rmtree(folder / part, ignore_errors=True)
        (folder / part).unlink(missing_ok=True)
        (shutil.copytree if (source / part).is_dir() else shutil.copy)(source / part, folder / part)


def test_a_planted_or_swapped_hub_model_is_refused_before_anything_loads_it(scratch, monkeypatch):
    import tensorflow as tf

    from course_utils.models import hub

    shared, marker = scratch / "shared", scratch / "home" / MARKER
    handles = {name: f"https://tfhub.dev/example/{name}/1" for name in ("kept", "planted", "swapped", "weights")}
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(shared / "quick" / "tfhub"))  # the instructor fills it
    for name in ("kept", "swapped", "weights"):
        hub._install_stand_in(handles[name], dim=8)
    shutil.rmtree(shared / ".locks", ignore_errors=True)
    sealed(shared)
    bad = planted_model(scratch / "planted", marker)
    shutil.copytree(bad, hub._cache_path(handles["planted"]))  # not in the manifest
    swap(bad, hub._cache_path(handles["swapped"]), ["saved_model.pb", "variables"])  # after the manifest
    swap(bad, hub._cache_path(handles["weights"]), ["variables"])
    make_read_only(shared)

    code = f"""
        import numpy as np, tensorflow_hub
        from course_utils.models import hub
        from course_utils.setup import lesson
        lesson._use_cache_dirs("quick")
        handles = {handles!r}
        for name, handle in handles.items():  # as the lessons do: prepare_handle, then hub.KerasLayer
            attempt(name, lambda: tensorflow_hub.KerasLayer(hub.prepare_handle(handle, "stand-in", dim=8))(
                np.zeros([1, 8, 8, 3], "float32")).shape)
        """
    seen = as_learner(code, scratch, shared)
    assert not marker.exists(), seen  # the planted graph never ran
    assert seen["kept"] == {"served": "(1, 8)"}  # a correct shared module loads as before
    folder = {name: shared / "quick" / "tfhub" / hub.cache_key(handle) for name, handle in handles.items()}
    refused(seen["planted"], folder["planted"], "is not in the shared folder's manifest")
    refused(seen["swapped"], folder["swapped"] / "saved_model.pb", "differs from the SHA-256")
    refused(seen["weights"], folder["weights"] / "variables", "differs from the SHA-256")

    # The learner's cache now links to the shared "kept" module; the instructor's copy is then changed.
    # A new run goes through that link: it is checked again, so the changed module never loads either.
    link = scratch / "learner" / "quick" / "tfhub" / hub.cache_key(handles["kept"])
    assert link.is_symlink() and link.resolve() == folder["kept"].resolve()
    swap(bad, folder["kept"], ["saved_model.pb", "variables"])  # root: the read-only modes do not stop it
    again = as_learner(code, scratch, shared)
    assert not marker.exists(), again
    refused(again["kept"], folder["kept"] / "saved_model.pb", "differs from the SHA-256")

    tf.saved_model.load(str(bad))(np.zeros([1, 8, 8, 3], "float32"))  # the plant is real: loaded, its graph
    assert marker.read_text() == "the planted graph ran\n"  # writes the file


# -- (c) relabelled images: per-class counts unchanged ------------------------------------------------
def test_cats_and_dogs_swapped_in_equal_numbers_are_refused(scratch):
    from PIL import Image

    from course_utils.data import catsdogs

    pictures = {}
    for name, colour in (("cats", (200, 120, 40)), ("dogs", (40, 90, 200))):
        Image.new("RGB", (8, 8), colour).save(scratch / f"{name}.jpg")
        pictures[name] = (scratch / f"{name}.jpg").read_bytes()
    shared = {which: scratch / which for which in ("good", "relabelled")}
    for top in shared.values():
        for split, counts in catsdogs._FULL_COUNTS.items():
            for name, count in counts.items():
                folder = top / "keras" / "datasets" / "cats_and_dogs_filtered" / split / name
                folder.mkdir(parents=True)
                for number in range(count):
                    (folder / f"{name[:-1]}.{number}.jpg").write_bytes(pictures[name])
        sealed(top)
    relabelled = shared["relabelled"] / "keras" / "datasets" / "cats_and_dogs_filtered"
    for number in range(10):  # ten cats become dogs and ten dogs cats, after the manifest was written
        cat = relabelled / "train" / "cats" / f"cat.{number}.jpg"
        dog = relabelled / "train" / "dogs" / f"dog.{number}.jpg"
        cat.write_bytes(pictures["dogs"])
        dog.write_bytes(pictures["cats"])
    assert catsdogs.check_layout(relabelled, catsdogs._FULL_COUNTS) == catsdogs._FULL_COUNTS  # counts still match

    seen = as_learner(f"""
        from course_utils.data import catsdogs
        for which, top in {({k: str(v) for k, v in shared.items()})!r}.items():
            os.environ[classroom.SHARED_DATA_VAR] = top
            attempt(which, lambda: catsdogs.load("real", progress=False))
        """, scratch, shared["good"])
    assert seen["good"] == {"served": str(shared["good"] / "keras" / "datasets" / "cats_and_dogs_filtered")}
    refused(seen["relabelled"], relabelled / "train" / "cats" / "cat.0.jpg", "differs from the SHA-256")


# -- (d) who may write the shared folder, who owns it --------------------------------------------------
def test_a_folder_or_manifest_others_can_write_or_a_stranger_owns_is_refused_with_the_fix(scratch):
    def filled(name: str) -> Path:
        (scratch / name / "quick").mkdir(parents=True)
        (scratch / name / "quick" / "a.bin").write_bytes(b"weights")
        return sealed(scratch / name)

    cases = {name: filled(name) for name in ("good", "group folder", "group manifest", "world subfolder",
                                              "group file", "stranger", "learner's own", "link", "no manifest")}
    os.chmod(cases["group folder"], 0o775)
    os.chmod(cases["group manifest"] / classroom._MANIFEST, 0o664)
    os.chmod(cases["world subfolder"] / "quick", 0o777)
    os.chmod(cases["group file"] / "quick" / "a.bin", 0o664)
    os.chown(cases["stranger"] / "quick", 12345, 12345)
    for path in [cases["learner's own"], *cases["learner's own"].rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    os.chmod(cases["link"] / "quick", 0o755)
    (cases["link"] / "quick" / "a.bin").unlink()
    (cases["link"] / "quick" / "a.bin").symlink_to("/etc/hostname")
    (cases["no manifest"] / classroom._MANIFEST).unlink()

    seen = as_learner(f"""
        for name, top in {({k: str(v) for k, v in cases.items()})!r}.items():
            os.environ[classroom.SHARED_DATA_VAR] = top
            attempt(name, lambda: classroom.find_data("quick/a.bin"))
            results[name]["banner"] = classroom.describe_data_folders()
        """, scratch, cases["good"])
    good = cases["good"]
    assert seen["good"]["served"] == str(good / "quick" / "a.bin")
    assert seen["good"]["banner"].endswith(f"; shared: {good}, checked: 1 files in the manifest (owner and modes "
                                           "checked, each file hashed when first read), read only")
    fix = "the instructor runs `chmod -R go-w {}`"
    for name, path, who in (("group folder", cases["group folder"], "its group (mode 775)"),
                            ("group manifest", cases["group manifest"] / classroom._MANIFEST, "its group (mode 664)"),
                            ("world subfolder", cases["world subfolder"] / "quick", "its group and everyone"),
                            ("group file", cases["group file"] / "quick" / "a.bin", "its group")):
        refused(seen[name], path, f"is writable by {who}")
        assert fix.format(cases[name]) in seen[name]["message"]
    assert "REFUSED" in seen["group folder"]["banner"] and fix.format(cases["group folder"]) in seen["group folder"]["banner"]
    assert "REFUSED" in seen["group manifest"]["banner"]
    refused(seen["stranger"], cases["stranger"] / "quick", "belongs to user id 12345, neither root nor you")
    assert f"`sudo chown -R root {cases['stranger']}`" in seen["stranger"]["message"]
    assert seen["learner's own"]["served"] == str(cases["learner's own"] / "quick" / "a.bin")
    assert seen["learner's own"]["banner"].endswith("writable by you")
    refused(seen["link"], cases["link"] / "quick" / "a.bin", "neither a file nor a folder")
    refused(seen["no manifest"], cases["no manifest"], "has no manifest (SHA256SUMS)")
    assert "make classroom-manifest" in seen["no manifest"]["message"]


# -- the manifest itself, and what the check costs -------------------------------------------------------
def test_the_manifest_is_sha256sums_format_and_each_path_is_hashed_once_per_process(tmp_path, monkeypatch):
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    (shared / "quick" / "tfhub" / "m" / "variables").mkdir(parents=True)
    (shared / "quick" / "tfhub" / "m" / "saved_model.pb").write_bytes(b"graph")
    (shared / "quick" / "tfhub" / "m" / "variables" / "variables.index").write_bytes(b"index")
    (shared / "a file with spaces.bin").write_bytes(b"x" * 3)
    sealed(shared)
    assert (shared / classroom._MANIFEST).read_text().splitlines() == [
        f"{hashlib.sha256(content).hexdigest()}  {name}" for name, content in (
            ("a file with spaces.bin", b"xxx"), ("quick/tfhub/m/saved_model.pb", b"graph"),
            ("quick/tfhub/m/variables/variables.index", b"index"))]
    assert subprocess.run(["sha256sum", "--check", "--quiet", classroom._MANIFEST], cwd=shared).returncode == 0

    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    hashed = []
    sha256 = files.sha256
    monkeypatch.setattr(files, "sha256", lambda path: hashed.append(path) or sha256(path))
    for _ in range(3):
        assert classroom.find_data("quick/tfhub/m") == shared / "quick" / "tfhub" / "m"
    assert len(hashed) == 2  # two files, hashed on the first call only
    os.chmod(shared / "quick", 0o775)  # the owner and mode checks run on every call
    with pytest.raises(classroom.SharedDataError, match=re.escape(f"`chmod -R go-w {shared}`")):
        classroom.find_data("quick/tfhub/m")


def test_a_running_kernel_sees_a_rewritten_manifest_and_a_file_changed_in_place(tmp_path, monkeypatch):
    """A learner's kernel stays open while the instructor adds data: what the rewritten manifest lists is read
    in the same process, and a file changed in place after its first check is refused on the next read (both
    were cached once per process before: a kernel restart was needed, and a changed file was still served)."""
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    (shared / "quick").mkdir(parents=True)
    (shared / "quick" / "first.bin").write_bytes(b"first")
    sealed(shared)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    assert classroom.find_data("quick/first.bin") == shared / "quick" / "first.bin"

    os.chmod(shared / "quick", 0o755)
    (shared / "quick" / "later.bin").write_bytes(b"later")
    with pytest.raises(classroom.SharedDataError, match="is not in the shared folder's manifest"):
        classroom.find_data("quick/later.bin")
    sealed(shared)  # the instructor runs `make classroom-manifest`
    assert classroom.find_data("quick/later.bin") == shared / "quick" / "later.bin"
    assert classroom.check_shared(shared / "quick") == 2

    (shared / "quick" / "later.bin").write_bytes(b"LATER")  # same size, manifest untouched, modes still 0644
    with pytest.raises(classroom.SharedDataError, match="later.bin differs from the SHA-256 in the shared folder's"):
        classroom.find_data("quick/later.bin")
    with pytest.raises(classroom.SharedDataError, match="later.bin differs from the SHA-256"):
        classroom.check_shared(shared / "quick")
