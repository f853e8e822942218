"""Issue 16, item 3: a run killed (SIGKILL) in the middle of a write.

Each case starts a real Python process that patches one step of the build to
``os.kill(os.getpid(), signal.SIGKILL)`` (mid-write or just before the final rename), then
calls the real course function. The test checks the process really died by SIGKILL there and
that it left nothing a later run trusts; then runs the same build again, as the next lesson
run would, with no manual cleanup, and checks the result is complete and no leftovers remain.
"""
from __future__ import annotations

import ast
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import downloads, images

ROOT = Path(__file__).resolve().parent.parent
KILL = "os.kill(os.getpid(), signal.SIGKILL)"


def run_killed(code: str, **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process and check that it died by SIGKILL (not of an error)."""
    prelude = "import os, signal, sys\nsys.path.insert(0, {!r})\n".format(str(ROOT / "tests"))
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                            env={**os.environ, **extra_env}, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    return result


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- downloads -----------------------------------------------------------------------------------
@pytest.fixture
def server():
    from test_concurrency import _Server

    serving = _Server()
    with serving as url:
        serving.url = url
        yield serving


@pytest.mark.parametrize("where", ["mid-write", "before-rename"])
def test_a_download_killed_midway_is_not_trusted_and_the_next_run_fetches_it(tmp_path, server, where):
    from test_concurrency import PAYLOAD

    folder = tmp_path / "downloads"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    patch = {
        "mid-write": f"""
            import requests
            original = requests.Response.iter_content
            def iter_content(self, *args, **kwargs):
                for index, chunk in enumerate(original(self, *args, **kwargs)):
                    if index == 2:  # two chunks are on disk: die mid-file
                        {KILL}
                    yield chunk
            requests.Response.iter_content = iter_content
            """,
        "before-rename": f"""
            original = os.replace
            def replace(source, destination, **kwargs):
                if str(destination) == {str(folder / "file.bin")!r}:  # the step that puts the file in place
                    {KILL}
                return original(source, destination, **kwargs)
            os.replace = replace
            """,
    }[where]
    run_killed(f"""
        from course_utils.data import downloads
        {textwrap.indent(textwrap.dedent(patch), "        ").strip()}
        item = downloads.Asset(name="t", filename="file.bin", urls=({server.url!r},), size={len(PAYLOAD)},
                               sha256={sha!r})
        downloads.fetch(item, {str(folder)!r}, progress=False, retries=1)
        """)
    assert "file.bin" not in visible(folder)  # only hidden staging: never trusted
    assert any(name.startswith(".file.bin.") and ".part" in name for name in visible(folder))

    item = downloads.Asset(name="t", filename="file.bin", urls=(server.url,), size=len(PAYLOAD), sha256=sha)
    path = downloads.fetch(item, folder, progress=False, retries=1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert visible(folder) == ["file.bin"]  # the killed run's staging (and pooch's temporary file) is gone


# -- checked image views -------------------------------------------------------------------------
def test_a_checked_view_killed_before_its_rename_is_rebuilt(tmp_path):
    from PIL import Image

    source = tmp_path / "photos"
    (source / "roses").mkdir(parents=True)
    for index in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * index, "uint8")).save(source / "roses" / f"r{index}.jpg")
    Image.fromarray(np.full((8, 8), 90, "uint8")).save(source / "roses" / "grey.jpg")  # converted: a real write
    target = tmp_path / "checked"
    run_killed(f"""
        from course_utils.setup import files
        from course_utils.data import images
        def replace(*args):
            {KILL}
        files.os.replace = replace
        images.clean_view({str(source)!r}, {str(target)!r})
        """)
    assert not target.exists() and any(name.endswith(".part") for name in visible(tmp_path))

    view, result = images.clean_view(source, target)
    assert sorted(p.name for p in (view / "roses").iterdir()) == ["grey.jpg", "r0.jpg", "r1.jpg", "r2.jpg"]
    with Image.open(view / "roses" / "grey.jpg") as grey:
        assert grey.mode == "RGB"
    assert visible(tmp_path) == ["checked", "photos"]


# The feature cache writes its entry through the same build_once: its staged write is held by test_feature_cache's
# write-that-fails-midway test, a killed build's leftovers by test_concurrency's build_once test and the ones above.


# -- a TF Hub stand-in -----------------------------------------------------------------------------
HANDLE = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"


def test_a_hub_stand_in_killed_while_saving_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "tfhub"
    run_killed(f"""
        from course_utils.setup import files
        from course_utils.models import hub
        def replace(*args):
            {KILL}
        files.os.replace = replace
        hub._install_stand_in({HANDLE!r}, dim=6)
        """, TFHUB_CACHE_DIR=str(cache))
    from course_utils.models import hub

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    assert not hub.is_cached(HANDLE)  # nothing under the handle's name: TF Hub would not load it
    path = hub._install_stand_in(HANDLE, dim=6)
    assert hub._is_stand_in(HANDLE) and visible(cache) == [path.name]


# -- a TFDS prepare ------------------------------------------------------------------------------
def test_a_tfds_prepare_killed_midway_is_not_trusted_and_is_prepared_again(tmp_path):
    from course_utils.data import flowers

    photos = tmp_path / "flower_photos"
    counts = flowers._make_stand_in(photos, num_images=25, size_range=(40, 60))
    tfds_dir = tmp_path / "tfds"
    run_killed(f"""
        from course_utils.data import flowers
        original = flowers._LocalFlowers._generate_examples
        def generate(self, *args, **kwargs):
            for number, example in enumerate(original(self, *args, **kwargs)):
                if number == 5:  # five examples are being written into TFDS's incomplete folder
                    {KILL}
                yield example
        flowers._LocalFlowers._generate_examples = generate
        flowers._prepare_local_flowers({str(photos)!r}, {str(tfds_dir)!r})
        """)
    import tensorflow_datasets as tfds

    target = flowers._prepare_local_flowers(photos, tfds_dir)
    assert not list(target.rglob("incomplete.*"))
    dataset = tfds.load("tf_flowers", split="train", data_dir=str(target), download=False)
    assert sum(1 for _ in dataset) == sum(counts.values()) == 25


# -- a model save (lesson 01 saves its model, then loads it back) ------------------------------------
MODEL = """
    import numpy as np
    import tensorflow as tf

    def model(seed=0):
        tf.keras.utils.set_random_seed(seed)
        return tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(8, activation="relu"),
                                    tf.keras.layers.Dense(3)], name="digit_cnn")
"""


def lesson_01_save_step() -> str:
    """The notebook's own save step, run as it is: its statements from the one that assigns
    ``MODEL_PATH`` to the one that calls ``os.replace``, found in the parsed script (not by wording)."""
    tree = ast.parse((ROOT / "notebooks" / "01_own_model_head_swap.py").read_text())

    def assigns_model_path(node):
        return isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MODEL_PATH" for t in node.targets)

    def calls_os_replace(node):
        return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "os.replace"

    start = next(i for i, node in enumerate(tree.body) if assigns_model_path(node))
    end = next(i for i, node in enumerate(tree.body) if i > start and calls_os_replace(node))
    return ast.unparse(ast.Module(body=tree.body[start:end + 1], type_ignores=[]))


def save_like_lesson_01(folder: Path, first) -> Path:
    namespace = {"os": os, "first": first, "data_dir": lambda: folder,
                 "cfg": type("Settings", (), {"profile": "quick"})}
    exec(lesson_01_save_step(), namespace)
    return namespace["MODEL_PATH"]


KILLED_SAVE = """
    import zipfile
    original = zipfile.ZipFile.open
    calls = []
    def open_member(self, name, mode="r", *args, **kwargs):
        calls.append(mode)
        if calls.count("w") == 2:  # the archive is on disk with its first member: die while writing the next
            {kill}
        return original(self, name, mode, *args, **kwargs)
    zipfile.ZipFile.open = open_member
    sys.path.insert(0, {tests!r})
    from test_killed_runs import save_like_lesson_01
    from pathlib import Path
    save_like_lesson_01(Path({folder!r}), model(seed=1))
"""


def test_lesson_01s_save_killed_midway_leaves_the_last_complete_model(tmp_path):
    namespace: dict = {}
    exec(textwrap.dedent(MODEL), namespace)
    tf, model = namespace["tf"], namespace["model"]
    probe = np.linspace(0, 1, 8, dtype="float32").reshape(2, 4)

    earlier = model()
    path = save_like_lesson_01(tmp_path, earlier)  # an earlier run's complete model
    assert path == tmp_path / "pretrained" / "digit_cnn_quick.keras"
    run_killed(MODEL + KILLED_SAVE.format(kill=KILL, tests=str(ROOT / "tests"), folder=str(tmp_path)))
    leftovers = sorted(p.name for p in path.parent.iterdir() if p != path)
    assert len(leftovers) == 1 and leftovers[0].startswith("digit_cnn_quick.")  # the killed run's own file ...
    loaded = tf.keras.models.load_model(path)  # ... while MODEL_PATH still holds the earlier, complete model
    assert np.allclose(loaded.predict(probe, verbose=0), earlier.predict(probe, verbose=0))

    first = model(seed=2)  # the next run of lesson 01: save, then load, as the notebook does
    save_like_lesson_01(tmp_path, first)
    loaded = tf.keras.models.load_model(path)
    assert np.allclose(loaded.predict(probe, verbose=0), first.predict(probe, verbose=0))

