"""Issue 16, item 2: many runs at once on one data folder.

Real processes (the spawn start method, as a fresh kernel would be), released together by a
barrier, build the same thing at once: all succeed, exactly one of them builds, and exactly
one valid copy is left, with no staging leftovers.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from course_utils.data import downloads

PROCESSES = 3
PAYLOAD = os.urandom(6 << 20)  # 6 MiB: long enough to download that the runs overlap


def _run_all(target, args_for) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier)) for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    codes = [proc.exitcode for proc in procs]
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    return codes


# -- build_once: the helper every build step uses ------------------------------------------------
def _build_worker(target: str, counter: str, barrier) -> None:
    from course_utils.setup.files import build_once

    def build(staging: Path) -> None:
        with open(counter, "a") as log:
            log.write(f"{os.getpid()}\n")
        staging.mkdir()
        for index in range(16):
            (staging / f"part{index:02d}.bin").write_bytes(hashlib.sha256(str(index).encode()).digest() * 8192)
        (staging / "COMPLETE").write_text("16")

    barrier.wait(timeout=60)
    folder = build_once(Path(target), build, ready=lambda path: (path / "COMPLETE").exists())
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"part{i:02d}.bin" for i in range(16)] + ["COMPLETE"]), names


def test_three_processes_building_the_same_folder_build_it_once(tmp_path):
    target, counter = tmp_path / "prepared", tmp_path / "builds.log"
    codes = _run_all(_build_worker, lambda i: (str(target), str(counter)))
    assert codes == [0] * PROCESSES
    assert len(counter.read_text().split()) == 1  # one process built it; the others waited and reused it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds.log", "prepared"]  # no staging left


# -- downloads: one GET for three runs, one verified file ---------------------------------------
class _Server:
    def __init__(self):
        self.gets = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.gets += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                for start in range(0, len(PAYLOAD), 1 << 16):
                    self.wfile.write(PAYLOAD[start:start + (1 << 16)])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/file.bin"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _fetch_worker(url: str, folder: str, size: int, sha256: str, barrier) -> None:
    item = downloads.Asset(name="concurrency test file", filename="file.bin", urls=(url,), size=size, sha256=sha256)
    barrier.wait(timeout=60)
    path = downloads.fetch(item, folder, progress=False, retries=1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


@pytest.fixture
def server():
    serving = _Server()
    with serving as url:
        serving.url = url
        yield serving


def test_three_processes_downloading_the_same_file_get_one_verified_copy(tmp_path, server):
    folder = tmp_path / "downloads"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    codes = _run_all(_fetch_worker, lambda i: (server.url, str(folder), len(PAYLOAD), sha))
    assert codes == [0] * PROCESSES
    assert server.gets == 1  # one run downloaded; the others waited for its lock and verified its file
    assert sorted(p.name for p in folder.iterdir()) == ["file.bin"]  # no .part left behind
    assert hashlib.sha256((folder / "file.bin").read_bytes()).hexdigest() == sha


# -- a TFDS prepare and a feature-cache entry, three TensorFlow processes at once ----------------
def _tensorflow_worker(photos: str, tfds_dir: str, features: str, out: str, barrier) -> None:
    import contextlib
    import io
    import json

    import tensorflow as tf

    from course_utils import features as fc
    from course_utils.data import flowers
    from course_utils.data.generated import make_images

    tf.keras.utils.set_random_seed(0)
    backbone = tf.keras.Sequential([tf.keras.layers.Conv2D(4, 3, strides=2, input_shape=(16, 16, 3)),
                                    tf.keras.layers.GlobalAveragePooling2D()], name="tiny_backbone")
    backbone.trainable = False
    images, labels = make_images(24, 16, 3, seed=0)
    data = tf.data.Dataset.from_tensor_slices((images.astype("float32") / 255.0, labels.astype("int64"))).batch(8)
    barrier.wait(timeout=120)  # all three have imported TensorFlow: now they race
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        prepared = flowers._prepare_local_flowers(photos, tfds_dir)
    with contextlib.redirect_stdout(io.StringIO()) as said:
        cached, _ = fc.cached_predict(backbone, data, key="tiny", folder=features)
    count = sum(1 for _ in flowers.tfds.load("tf_flowers", split="train", data_dir=str(prepared), download=False))
    Path(out).write_text(json.dumps({"prepared": "prepared 25 images" in printed.getvalue(), "count": count,
                                     "hit": said.getvalue().startswith("[course] feature cache: read 24"),
                                     "entry": str(Path(cached.filename).parent),
                                     "first_row": [float(v) for v in cached[0]]}))


def test_three_tensorflow_processes_prepare_one_tfds_copy_and_one_feature_entry(tmp_path):
    import json

    from course_utils.data import flowers

    photos = tmp_path / "flower_photos"
    flowers._make_stand_in(photos, num_images=25, size_range=(40, 60))
    tfds_dir, features = tmp_path / "tfds", tmp_path / "features"
    outs = [tmp_path / f"run{i}.json" for i in range(PROCESSES)]
    codes = _run_all(_tensorflow_worker, lambda i: (str(photos), str(tfds_dir), str(features), str(outs[i])))
    assert codes == [0] * PROCESSES
    runs = [json.loads(out.read_text()) for out in outs]
    assert sorted(run["prepared"] for run in runs) == [False, False, True]  # one prepared, two reused it
    assert [run["count"] for run in runs] == [25] * PROCESSES
    assert sorted(run["hit"] for run in runs) == [False, True, True]  # one computed, two read its entry
    assert len({run["entry"] for run in runs}) == 1 and len({tuple(run["first_row"]) for run in runs}) == 1
    assert [p.name for p in features.iterdir()] == [Path(runs[0]["entry"]).name]  # one entry, no .part folder
    (prepared,) = (tfds_dir / "local_flowers").iterdir()
    assert not list(prepared.rglob("incomplete.*"))


# -- build_once in one process: what the races above rely on -----------------------------------------
def test_build_once_reuses_a_ready_target_and_replaces_a_dangling_link_or_a_file(tmp_path):
    from course_utils.setup.files import build_once

    built = []

    def build(staging: Path) -> None:
        built.append(staging.name)
        staging.mkdir()
        (staging / "ok").write_text("1")

    ready = lambda path: (path / "ok").is_file()  # noqa: E731
    target = tmp_path / "module"
    target.symlink_to(tmp_path / "gone", target_is_directory=True)  # a link to a shared copy that was removed
    assert build_once(target, build, ready=ready) == target and (target / "ok").is_file() and not target.is_symlink()
    assert build_once(target, build, ready=ready) == target and len(built) == 1  # ready: not built again
    other = tmp_path / "other"
    other.write_text("a file where a folder belongs")
    build_once(other, build, ready=ready)
    assert (other / "ok").is_file() and len(built) == 2
    stale = tmp_path / ".third.123-abcdef01.part"  # a killed build's staging folder
    (stale / "x").mkdir(parents=True)
    build_once(tmp_path / "third", build, ready=ready)
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["module", "other", "third"]


# -- lesson 04's offline stand-ins: the bundled photos and the placeholder class names ------------
def _photos_worker(folder: str, barrier) -> None:
    from course_utils.data import photos

    os.environ["KERAS_HOME"] = folder  # the class names go to <folder>/models
    barrier.wait(timeout=60)
    for _ in range(5):  # each run asks again, as every lesson run does
        paths = photos._write_bundled_photos(folder)
        photos.prepare_class_index("stand-in")
    assert all(photos._check_photo(p) for p in paths)


def test_three_runs_writing_the_photos_and_class_names_at_once_all_succeed(tmp_path):
    from course_utils.data import photos

    codes = _run_all(_photos_worker, lambda i: (str(tmp_path),))
    assert codes == [0] * PROCESSES
    expected = {f"{name}.jpg" for name in photos.BUNDLED_PHOTOS} | {"models"}
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == expected  # no .part left
    assert [p.name for p in (tmp_path / "models").iterdir()] == [photos._PLACEHOLDER_FILENAME]
    import json

    names = json.loads((tmp_path / "models" / photos._PLACEHOLDER_FILENAME).read_text())
    assert names == photos._placeholder_class_index()
