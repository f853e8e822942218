"""Verified downloads on pooch, tested on local files only: a server on 127.0.0.1 and stand-in downloaders.

Where pooch's own behaviour differs from the course's, the course keeps its own (each test says so):
``pooch.retrieve`` tries one URL once; ``Pooch.fetch(retry_if_failed=n)`` retries every failure alike
(a 404 and a wrong file too) after 1, 2, ... s. The course tries its mirrors in order, retries network
and 5xx errors with back-off, and moves on at once after a 4xx or a wrong file.
"""
from __future__ import annotations

import hashlib
import http.server
import logging
import threading
from pathlib import Path

import pooch
import pytest
import requests

from course_utils.data import downloads
from course_utils.data.downloads import Asset, OfflineError, VerificationError
from course_utils.errors import CourseError

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # about 1 MB, several chunks


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    hits: dict = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path.startswith("/status/"):  # /status/503: always that error
            self.send_error(int(self.path.split("/")[2]))
            return
        kind, body = self.routes.get(self.path, ("missing", b""))
        if kind == "missing":
            self.send_error(404)
            return
        if kind == "flaky" and self.hits[self.path] <= 2:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "truncated":  # announce everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    _Handler.routes = {}
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, _Handler
    httpd.shutdown()
    httpd.server_close()


def asset_for(url: str, data: bytes = PAYLOAD, **overrides) -> Asset:
    values = {"name": "test asset", "filename": "weights.h5", "urls": (url,), "size": len(data),
              "sha256": sha256(data), "provenance": "made by the test"}
    values.update(overrides)
    return Asset(**values)


def serving(data: bytes, calls: list | None = None):
    """A downloader (pooch's call signature) that writes ``data``, as a server would."""
    def download(url, output_file, pooch_instance):
        if calls is not None:
            calls.append(url)
        Path(output_file).write_bytes(data)
    return download


def failing(error: BaseException, calls: list | None = None):
    def download(url, output_file, pooch_instance):
        if calls is not None:
            calls.append(url)
        raise error
    return download


def _refuse(url, output_file, pooch_instance):
    raise AssertionError(f"fetch went to the network for {url}")


def no_sleep(recorder: list | None = None):
    return (lambda seconds: recorder.append(seconds)) if recorder is not None else (lambda seconds: None)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- fetching -------------------------------------------------------------------------------

def test_good_file_is_downloaded_by_pooch_verified_and_moved_into_place(server, tmp_path, capsys, monkeypatch):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    calls, levels = [], []
    real = pooch.retrieve
    monkeypatch.setattr(downloads.pooch, "retrieve", lambda url, known_hash, **kw: calls.append((url, known_hash, kw))
                        or levels.append(pooch.get_logger().level) or real(url, known_hash, **kw))
    level = pooch.get_logger().level
    path = downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path / "cache", sleep=no_sleep())
    # pooch's "Downloading data from ..." would repeat the course's line: its logger is quieter for the call only
    assert levels == [logging.WARNING] and pooch.get_logger().level == level
    assert path == tmp_path / "cache" / "weights.h5"
    assert path.read_bytes() == PAYLOAD
    assert files_in(tmp_path / "cache") == ["weights.h5"]  # no temporary file or folder left
    ((url, known_hash, kw),) = calls  # pooch checks the published hash as it downloads
    assert url == f"{base}/w.h5" and known_hash == f"sha256:{sha256(PAYLOAD)}" and kw["fname"] == "weights.h5"
    out, err = capsys.readouterr()
    assert out == (f"[course] test asset: downloading {base}/w.h5\n[course] test asset: verified (size {len(PAYLOAD):,} bytes, "
                   f"SHA-256 {sha256(PAYLOAD)}); saved to {path}\n")
    assert "100%" in err  # pooch's progress bar (tqdm) reached the end


def test_no_progress_bar_when_progress_is_false(server, tmp_path, capsys):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_wrong_checksum_is_rejected_and_nothing_is_left(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/w.h5", sha256="0" * 64)
    with pytest.raises(VerificationError, match=f"expected sha256:0000.* but got {sha256(PAYLOAD)}") as err:
        downloads.fetch(asset, tmp_path / "cache", sleep=no_sleep(), progress=False)
    assert "nothing was saved" in str(err.value) and "(expected values: made by the test)" in str(err.value)
    assert files_in(tmp_path / "cache") == []
    assert handler.hits["/w.h5"] == 1  # a wrong file is not fetched again and again (Pooch.fetch would retry it)


def test_wrong_md5_is_rejected_when_only_an_md5_is_published(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/w.h5", sha256=None, md5="f" * 32)
    assert asset.known_hash == "md5:" + "f" * 32
    with pytest.raises(VerificationError, match="MD5"):
        downloads.fetch(asset, tmp_path, sleep=no_sleep(), progress=False)
    assert files_in(tmp_path) == []
    good = asset_for(f"{base}/w.h5", sha256=None, md5=md5(PAYLOAD).upper())
    assert downloads.fetch(good, tmp_path, sleep=no_sleep(), progress=False).read_bytes() == PAYLOAD


def test_wrong_size_is_rejected_pooch_checks_no_size(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    with pytest.raises(VerificationError, match=f"size {len(PAYLOAD):,} bytes, expected {len(PAYLOAD) + 1:,}"):
        downloads.fetch(asset_for(f"{base}/w.h5", size=len(PAYLOAD) + 1, sha256=None), tmp_path, progress=False)
    assert files_in(tmp_path) == []


def test_a_wrong_mirror_falls_back_to_the_next_url(server, tmp_path):
    base, handler = server
    handler.routes["/bad.h5"] = ("ok", b"not the file")
    handler.routes["/good.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/bad.h5", urls=(f"{base}/bad.h5", f"{base}/good.h5"))
    assert downloads.fetch(asset, tmp_path, sleep=no_sleep(), progress=False).read_bytes() == PAYLOAD


def test_interrupted_download_is_retried_then_leaves_nothing(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("truncated", PAYLOAD)
    waits = []
    with pytest.raises(OfflineError, match="IncompleteRead"):
        downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, retries=3, backoff=0.5, sleep=no_sleep(waits),
                        progress=False)
    assert handler.hits["/w.h5"] == 3
    assert waits == [0.5, 1.0]  # exponential back-off between the attempts
    assert files_in(tmp_path) == []


def test_a_flaky_server_succeeds_after_back_off(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("flaky", PAYLOAD)  # two 503s, then the file
    waits = []
    path = downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, retries=3, backoff=1.0, sleep=no_sleep(waits),
                           progress=False)
    assert path.read_bytes() == PAYLOAD
    assert waits == [1.0, 2.0]


def test_the_waits_double_each_time(tmp_path):
    waits = []
    with pytest.raises(OfflineError):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, retries=4, backoff=0.5, sleep=waits.append,
                        downloader=failing(requests.ConnectionError("down")))
    assert waits == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("code, attempts", [(400, 1), (404, 1), (499, 1), (500, 3), (503, 3)])
def test_client_errors_are_not_retried_server_errors_are(server, tmp_path, code, attempts):
    base, handler = server
    waits = []
    reason = f"HTTPError: {code} (Client|Server) Error: .* for url: {base}/status/{code}"
    with pytest.raises(OfflineError, match=reason):
        downloads.fetch(asset_for(f"{base}/status/{code}"), tmp_path, sleep=waits.append, progress=False)
    assert handler.hits[f"/status/{code}"] == attempts  # Pooch.fetch would retry a 404 too
    assert len(waits) == attempts - 1
    assert files_in(tmp_path) == []


def test_ctrl_c_during_download_leaves_no_partial_file(tmp_path):
    def interrupted(url, output_file, pooch_instance):
        Path(output_file).write_bytes(PAYLOAD[:1000])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, downloader=interrupted)
    assert files_in(tmp_path) == []


def test_connection_reset_mid_stream_is_retried(tmp_path):
    calls = []
    reset = requests.ConnectionError(ConnectionResetError("reset by peer"))

    def flaky(url, output_file, pooch_instance):
        (failing(reset, calls) if not calls else serving(PAYLOAD, calls))(url, output_file, pooch_instance)

    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, downloader=flaky, sleep=no_sleep())
    assert path.read_bytes() == PAYLOAD and len(calls) == 2
    assert files_in(tmp_path) == ["weights.h5"]


def test_offline_message_names_asset_url_place_and_quick_profile(tmp_path):
    dns = requests.ConnectionError("[Errno -3] Temporary failure in name resolution")
    asset = downloads.INCEPTION_V3_NOTOP
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path / "models", downloader=failing(dns), retries=2, sleep=no_sleep())
    message = str(err.value)
    assert asset.name in message
    assert asset.urls[0] in message and asset.urls[1] in message
    assert str(tmp_path / "models" / asset.filename) in message  # where to put a manual copy
    assert "PROFILE=quick" in message
    assert "bcbd6486424b2319ff4ef7d526e38f63" in message  # what the copy is checked against
    assert "\n" not in message  # one message, one line
    assert files_in(tmp_path / "models") == []


def test_the_offline_guard_is_reported_as_offline_and_not_retried(tmp_path, capsys):
    """The real downloader (pooch, requests) against the course's offline guard, which the tests turn on."""
    waits = []
    with pytest.raises(OfflineError, match=r"\(https://a.invalid/w.h5: NetworkBlockedError: offline guard: refused"):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, sleep=waits.append, progress=False)
    assert waits == []  # waiting cannot help
    assert capsys.readouterr().out == "[course] test asset: downloading https://a.invalid/w.h5\n"
    assert files_in(tmp_path) == []


def test_the_reason_is_the_innermost_cause(tmp_path):
    refused = requests.ConnectionError("HTTPSConnectionPool(host='a.invalid'): Max retries exceeded")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(OfflineError, match=r"\(https://a.invalid/w.h5: ConnectionRefusedError: \[Errno 111\] "
                                           r"Connection refused\)"):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, downloader=failing(refused), retries=1)


# --- files already there, leftovers, learners' copies ---------------------------------------

def test_a_verified_file_in_the_cache_is_reused_without_the_network(tmp_path, capsys):
    (tmp_path / "weights.h5").write_bytes(PAYLOAD)
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, downloader=_refuse)
    assert path.read_bytes() == PAYLOAD
    assert capsys.readouterr().out == f"[course] test asset: verified copy at {path}\n"


def test_a_corrupt_file_in_the_cache_is_fetched_again(tmp_path, capsys):
    (tmp_path / "weights.h5").write_bytes(PAYLOAD[:1000])
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, downloader=serving(PAYLOAD))
    assert path.read_bytes() == PAYLOAD
    assert "failed verification" in capsys.readouterr().out


def test_a_killed_runs_leftovers_are_removed_and_never_trusted(tmp_path):
    staging = tmp_path / ".weights.h5.123-abcdef01.part"
    staging.write_bytes(PAYLOAD)  # even a complete one: a .part file is never used
    (tmp_path / ".weights.h5.123-abcdef01.part.d").mkdir()
    (tmp_path / ".weights.h5.123-abcdef01.part.d" / "tmpk1ll3d").write_bytes(PAYLOAD[:10])  # pooch's own temporary
    other = tmp_path / ".other.h5.456-abcdef01.part"
    other.write_bytes(b"x")
    calls = []
    downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, downloader=serving(PAYLOAD, calls))
    assert len(calls) == 1 and files_in(tmp_path) == [other.name, "weights.h5"]  # only this asset's leftovers go


def test_a_learners_copy_is_verified_and_copied_into_place(tmp_path, capsys):
    mine = tmp_path / "usb" / "my_weights.h5"
    mine.parent.mkdir()
    mine.write_bytes(PAYLOAD)
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", local_copy=mine,
                           downloader=_refuse)
    assert path == tmp_path / "cache" / "weights.h5" and path.read_bytes() == PAYLOAD
    assert mine.read_bytes() == PAYLOAD  # the learner's file is left as it was
    assert "your copy" in capsys.readouterr().out


def test_a_wrong_learners_copy_is_rejected_and_left_untouched(tmp_path):
    mine = tmp_path / "my_weights.h5"
    mine.write_bytes(b"something else")
    with pytest.raises(VerificationError, match="your copy .*not changed.*fresh copy from https://example.invalid"):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", local_copy=mine,
                        downloader=_refuse)
    assert mine.read_bytes() == b"something else"
    assert files_in(tmp_path / "cache") == []


def test_a_missing_learners_copy_is_a_clear_error(tmp_path):
    with pytest.raises(downloads.LocalCopyError, match="no file at .*nowhere.h5.*leave the local-copy parameter empty"
                       ) as err:
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, local_copy=tmp_path / "nowhere.h5")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, CourseError)


def test_a_learners_copy_at_the_target_itself_is_verified_in_place(tmp_path):
    target = tmp_path / "weights.h5"
    target.write_bytes(PAYLOAD)
    asset = asset_for("https://example.invalid/w.h5")
    assert downloads.fetch(asset, tmp_path, local_copy=target, downloader=_refuse) == target
    assert files_in(tmp_path) == ["weights.h5"] and target.read_bytes() == PAYLOAD
    target.write_bytes(b"broken")
    with pytest.raises(VerificationError) as err:
        downloads.fetch(asset, tmp_path, local_copy=str(target), downloader=_refuse)
    assert str(err.value) == (f"test asset: your copy {target} does not match the published file: size 6 bytes, "
                              f"expected {len(PAYLOAD):,}; SHA-256 {sha256(b'broken')}, expected {sha256(PAYLOAD)} "
                              "(expected values: made by the test)")
    assert target.read_bytes() == b"broken"


def test_a_learners_copy_is_staged_beside_the_target_then_renamed(tmp_path, monkeypatch, capsys):
    mine = tmp_path / "usb" / "mine.h5"
    mine.parent.mkdir()
    mine.write_bytes(PAYLOAD)
    staged = []
    real_copy = downloads.shutil.copyfile
    monkeypatch.setattr(downloads.shutil, "copyfile", lambda src, dst: staged.append(Path(dst)) or real_copy(src, dst))
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", local_copy=mine)
    (tmp,) = staged
    assert tmp.parent == tmp_path / "cache" and tmp.name.startswith(".weights.h5.") and tmp.name.endswith(".part")
    assert files_in(tmp_path / "cache") == ["weights.h5"] and path.read_bytes() == PAYLOAD
    assert capsys.readouterr().out == (f"[course] test asset: your copy {mine} is verified (size {len(PAYLOAD):,} bytes, "
                                       f"SHA-256 {sha256(PAYLOAD)}); installed at {path}\n")


# --- pieces -------------------------------------------------------------------------------------

def test_verify_file_runs_extra_checks(tmp_path):
    (tmp_path / "f").write_bytes(PAYLOAD)

    def reject(path):
        raise VerificationError(f"{path.name} is not an archive")

    asset = asset_for("https://example.invalid/f", extra_checks=(reject,))
    with pytest.raises(VerificationError, match="not an archive"):
        downloads._verify_file(tmp_path / "f", asset)


def test_verify_file_names_the_path_unless_told_where(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    asset = asset_for("https://a.invalid/f", sha256=None)
    with pytest.raises(VerificationError) as err:
        downloads._verify_file(tmp_path / "f", asset)
    assert str(err.value) == (f"test asset: {tmp_path / 'f'} does not match the published file: size 1 bytes, "
                              f"expected {len(PAYLOAD):,} (expected values: made by the test)")
    with pytest.raises(VerificationError, match="^test asset: the USB stick does not match"):
        downloads._verify_file(tmp_path / "f", asset, where="the USB stick")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"size": None, "sha256": None}, "nothing to verify"),
        ({"sha256": "abc"}, "SHA-256 is 64 hex digits"),
        ({"md5": "abc"}, "MD5 is 32 hex digits"),
        ({"urls": ()}, "at least one URL"),
    ],
)
def test_an_asset_must_be_checkable(overrides, message):
    with pytest.raises(ValueError, match=message):
        asset_for("https://example.invalid/f", **overrides)


def test_known_hash_is_pooch_s_form_sha256_first():
    assert asset_for("https://a.invalid/f", sha256="A" * 64, md5="b" * 32).known_hash == "sha256:" + "a" * 64
    assert asset_for("https://a.invalid/f", sha256=None, md5="B" * 32).known_hash == "md5:" + "b" * 32
    assert asset_for("https://a.invalid/f", sha256=None).known_hash is None  # size only: pooch checks nothing


def test_every_download_error_is_a_course_error_and_keeps_its_builtin():
    for cls in (downloads.DownloadError, VerificationError, OfflineError):
        assert issubclass(cls, CourseError) and issubclass(cls, RuntimeError)
    assert issubclass(VerificationError, downloads.DownloadError) and issubclass(OfflineError, downloads.DownloadError)


def test_asset_checks_and_describe():
    asset = downloads.INCEPTION_V3_NOTOP
    assert asset.checks() == "size 87,910,968 bytes, MD5 bcbd6486424b2319ff4ef7d526e38f63"
    (row,) = downloads.describe([asset])
    assert row["file"] == "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert "Keras Applications" in row["source of the figures"]


def test_the_inception_asset_points_at_keras_and_the_lessons_bucket():
    urls = downloads.INCEPTION_V3_NOTOP.urls
    assert urls[0].startswith("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/")
    assert urls[1] == (
        "https://storage.googleapis.com/mledu-datasets/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert all(u.endswith(downloads.INCEPTION_V3_NOTOP.filename) for u in urls)


def test_describe_is_one_exact_row_per_asset():
    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"))
    assert downloads.describe([asset, downloads.INCEPTION_V3_NOTOP])[0] == {
        "asset": "test asset", "file": "weights.h5", "url": "https://a.invalid/w.h5",
        "verified by": f"size {len(PAYLOAD):,} bytes, SHA-256 {sha256(PAYLOAD)}",
        "source of the figures": "made by the test"}
    assert downloads.describe([]) == []


def test_offline_message_is_exact_with_and_without_a_reason():
    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"),
                      size=10, sha256=None, md5="f" * 32)
    target = Path("/data/models/weights.h5")
    tail = (" Without the network: download weights.h5 on a machine that has it and place it at "
            "/data/models/weights.h5 (it is verified: size 10 bytes, MD5 " + "f" * 32 + "), or pass its path "
            "as the notebook's local-copy parameter. PROFILE=quick runs this lesson offline, without any download.")
    head = "Could not download test asset from https://a.invalid/w.h5 or https://b.invalid/w.h5"
    assert downloads._offline_message(asset, target, "no route") == head + " (no route)." + tail
    assert downloads._offline_message(asset, target) == head + "." + tail


def test_a_full_disk_is_a_download_error_not_retried(server, tmp_path):
    # pooch's own downloader, writing into /dev/full (every write fails with ENOSPC).
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)

    def to_a_full_disk(url, output_file, pooch_instance):
        pooch.HTTPDownloader()(url, "/dev/full", pooch_instance)

    with pytest.raises(downloads.DownloadError, match=r"could not write .*weights.h5: .*No space left on device"):
        downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path / "cache", downloader=to_a_full_disk, sleep=no_sleep())
    assert handler.hits["/w.h5"] == 1  # not retried
    assert files_in(tmp_path / "cache") == []
    assert Path("/dev/full").is_char_device()


# --- a classroom's shared copy, defaults, each attempt --------------------------------------------

@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """A learner's data folder and a classroom's shared one; the asset's name is unique per test."""
    from course_utils.setup import classroom

    mine, shared = tmp_path / "mine", tmp_path / "shared"
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    asset = asset_for("https://example.invalid/w.h5", name=f"asset {tmp_path.name}",
                      filename=f"{tmp_path.name}.h5")
    return mine, shared, asset


def test_a_verified_shared_copy_is_used_where_it_is_and_nothing_is_written(classroom):
    mine, shared, asset = classroom
    (shared / "models").mkdir(parents=True)
    (shared / "models" / asset.filename).write_bytes(PAYLOAD)
    from course_utils.setup import classroom
    classroom.write_manifest(shared)  # as `make classroom-data` does
    path = downloads.fetch(asset, mine / "models", downloader=_refuse)
    assert path == shared / "models" / asset.filename
    assert not (mine / "models").exists()


def test_a_damaged_shared_copy_is_named_and_the_learner_gets_their_own(classroom, capsys):
    mine, shared, asset = classroom
    (shared / "models").mkdir(parents=True)
    (shared / "models" / asset.filename).write_bytes(b"damaged")
    from course_utils.setup import classroom
    classroom.write_manifest(shared)  # the instructor's manifest lists it; the asset's own check refuses it
    path = downloads.fetch(asset, mine / "models", downloader=serving(PAYLOAD), sleep=no_sleep(), progress=False)
    assert path == mine / "models" / asset.filename and path.read_bytes() == PAYLOAD
    assert (shared / "models" / asset.filename).read_bytes() == b"damaged"
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"[course] {asset.name}: {asset.name}: the shared copy {shared / 'models' / asset.filename} does not "
                     f"match the published file: size 7 bytes, expected {len(PAYLOAD):,}; SHA-256 "
                     f"{sha256(b'damaged')}, expected {sha256(PAYLOAD)} (expected values: made by the test); "
                     f"fetching your own copy into {mine / 'models' / asset.filename}")


def test_a_shared_folder_without_the_file_names_the_asset_once(classroom, capsys):
    mine, shared, asset = classroom
    shared.mkdir()
    mine_copy = mine.parent / "usb.h5"
    mine_copy.write_bytes(PAYLOAD)
    downloads.fetch(asset, mine / "models", local_copy=mine_copy)  # a learner's copy: the shared folder is not asked
    assert "shared data:" not in capsys.readouterr().out
    with pytest.raises(OfflineError):
        downloads.fetch(asset, mine / "other", downloader=failing(requests.ConnectionError("down")), sleep=no_sleep())
    assert f"shared data: {asset.name} is not in the shared folder" in capsys.readouterr().out


def test_fetch_defaults_pooch_s_downloader_three_attempts_per_url_two_then_four_seconds(tmp_path, monkeypatch):
    made, seen, waits = [], [], []

    class Recorder:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def __call__(self, url, output_file, pooch_instance):
            seen.append(url)
            raise requests.ConnectionError("connection refused")

    monkeypatch.setattr(downloads.pooch, "HTTPDownloader", Recorder)
    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"))
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path / "new" / "folder", sleep=waits.append)
    assert made == [{"progressbar": True, "chunk_size": 2**20, "timeout": 60.0,
                     "headers": {"User-Agent": downloads._USER_AGENT}}]
    assert seen == ["https://a.invalid/w.h5"] * 3 + ["https://b.invalid/w.h5"] * 3
    assert waits == [2.0, 4.0, 2.0, 4.0]
    assert "(https://b.invalid/w.h5: ConnectionError: connection refused)" in str(err.value)
    assert files_in(tmp_path / "new" / "folder") == []


def test_each_attempt_is_announced(tmp_path, capsys):
    with pytest.raises(OfflineError):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, sleep=no_sleep(),
                        downloader=failing(requests.ConnectionError("connection refused")))
    assert capsys.readouterr().out.splitlines() == [
        "[course] test asset: downloading https://a.invalid/w.h5",
        "[course] test asset: downloading https://a.invalid/w.h5 (attempt 2/3)",
        "[course] test asset: downloading https://a.invalid/w.h5 (attempt 3/3)"]


def test_two_wrong_mirrors_are_both_named_in_one_message(tmp_path):
    urls = ("https://a.invalid/w.h5", "https://b.invalid/w.h5")
    asset = asset_for(urls[0], urls=urls, sha256=None)
    with pytest.raises(VerificationError) as err:
        downloads.fetch(asset, tmp_path, downloader=serving(b"wrong"))
    problem = f"size 5 bytes, expected {len(PAYLOAD):,} (expected values: made by the test)"
    first = f"test asset: the download from {urls[0]} does not match the published file: {problem}"
    second = f"test asset: the download from {urls[1]} does not match the published file: {problem}"
    assert str(err.value) == f"{second} - nothing was saved. Tried: {urls[0]}: {first} | {urls[1]}: {second}"
    assert files_in(tmp_path) == []


def test_no_attempt_at_all_is_offline_without_a_reason(tmp_path):
    asset = asset_for("https://a.invalid/w.h5")
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path, retries=0, downloader=_refuse)
    assert str(err.value) == downloads._offline_message(asset, tmp_path / "weights.h5")
    assert str(err.value).startswith("Could not download test asset from https://a.invalid/w.h5. Without")
