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

from course_utils import downloads

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
    from course_utils.files import build_once

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
    path = downloads.fetch(item, folder, progress=False, retries=1, printer=lambda line: None)
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
