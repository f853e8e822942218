"""Verified downloads, tested on local files only: a server on 127.0.0.1 and patched openers."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import urllib.error
from pathlib import Path

import pytest

from course_utils.data import downloads
from course_utils.data.downloads import Asset, OfflineError, VerificationError

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


def no_sleep(recorder: list | None = None):
    return (lambda seconds: recorder.append(seconds)) if recorder is not None else (lambda seconds: None)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- fetching -------------------------------------------------------------------------------

def test_good_file_is_downloaded_verified_and_moved_into_place(server, tmp_path, capsys):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    path = downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path / "cache", sleep=no_sleep())
    assert path == tmp_path / "cache" / "weights.h5"
    assert path.read_bytes() == PAYLOAD
    assert files_in(tmp_path / "cache") == ["weights.h5"]  # no temporary file left
    out = capsys.readouterr().out
    assert "verified" in out and sha256(PAYLOAD) in out
    assert "100%" in out  # progress reached the end


def test_wrong_checksum_is_rejected_and_nothing_is_left(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/w.h5", sha256="0" * 64)
    with pytest.raises(VerificationError, match="SHA-256 .* expected 0000") as err:
        downloads.fetch(asset, tmp_path / "cache", sleep=no_sleep())
    assert "nothing was saved" in str(err.value)
    assert files_in(tmp_path / "cache") == []
    assert handler.hits["/w.h5"] == 1  # a wrong file is not fetched again and again


def test_wrong_md5_is_rejected_when_only_an_md5_is_published(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/w.h5", sha256=None, md5="f" * 32)
    with pytest.raises(VerificationError, match="MD5"):
        downloads.fetch(asset, tmp_path, sleep=no_sleep())
    assert files_in(tmp_path) == []
    good = asset_for(f"{base}/w.h5", sha256=None, md5=md5(PAYLOAD))
    assert downloads.fetch(good, tmp_path, sleep=no_sleep()).read_bytes() == PAYLOAD


def test_wrong_size_is_rejected(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    with pytest.raises(VerificationError, match="size"):
        downloads.fetch(asset_for(f"{base}/w.h5", size=len(PAYLOAD) + 1), tmp_path, sleep=no_sleep())
    assert files_in(tmp_path) == []


def test_a_wrong_mirror_falls_back_to_the_next_url(server, tmp_path):
    base, handler = server
    handler.routes["/bad.h5"] = ("ok", b"not the file")
    handler.routes["/good.h5"] = ("ok", PAYLOAD)
    asset = asset_for(f"{base}/bad.h5", urls=(f"{base}/bad.h5", f"{base}/good.h5"))
    assert downloads.fetch(asset, tmp_path, sleep=no_sleep()).read_bytes() == PAYLOAD


def test_interrupted_download_is_retried_then_leaves_nothing(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("truncated", PAYLOAD)
    waits = []
    with pytest.raises(OfflineError, match="TruncatedDownload|IncompleteRead"):
        downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, retries=3, backoff=0.5, sleep=no_sleep(waits))
    assert handler.hits["/w.h5"] == 3
    assert waits == [0.5, 1.0]  # exponential back-off between the attempts
    assert files_in(tmp_path) == []


def test_a_flaky_server_succeeds_after_back_off(server, tmp_path):
    base, handler = server
    handler.routes["/w.h5"] = ("flaky", PAYLOAD)  # two 503s, then the file
    waits = []
    path = downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, retries=3, backoff=1.0, sleep=no_sleep(waits))
    assert path.read_bytes() == PAYLOAD
    assert waits == [1.0, 2.0]


def test_http_404_is_not_retried(server, tmp_path):
    base, _ = server
    waits = []
    with pytest.raises(OfflineError, match="HTTP Error 404"):
        downloads.fetch(asset_for(f"{base}/nowhere.h5"), tmp_path, retries=3, sleep=no_sleep(waits))
    assert waits == []
    assert files_in(tmp_path) == []


class _Response:
    """What an opener returns: read(n), headers, a context manager."""

    def __init__(self, data: bytes, fail_after: int | None = None, error: BaseException | None = None):
        self._stream = io.BytesIO(data)
        self.headers = {"Content-Length": str(len(data))}
        self._fail_after = fail_after
        self._error = error
        self._reads = 0

    def read(self, n=-1):
        self._reads += 1
        if self._fail_after is not None and self._reads > self._fail_after:
            raise self._error
        return self._stream.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_ctrl_c_during_download_leaves_no_partial_file(tmp_path):
    def opener(url, timeout):
        return _Response(PAYLOAD, fail_after=1, error=KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, opener=opener, sleep=no_sleep())
    assert files_in(tmp_path) == []


def test_connection_reset_mid_stream_is_retried(tmp_path):
    calls = []

    def opener(url, timeout):
        calls.append(url)
        if len(calls) == 1:
            return _Response(PAYLOAD, fail_after=1, error=ConnectionResetError("reset by peer"))
        return _Response(PAYLOAD)

    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, opener=opener, sleep=no_sleep())
    assert path.read_bytes() == PAYLOAD and len(calls) == 2
    assert files_in(tmp_path) == ["weights.h5"]


def test_offline_message_names_asset_url_place_and_quick_profile(tmp_path):
    def opener(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    asset = downloads.INCEPTION_V3_NOTOP
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path / "models", opener=opener, retries=2, sleep=no_sleep())
    message = str(err.value)
    assert asset.name in message
    assert asset.urls[0] in message and asset.urls[1] in message
    assert str(tmp_path / "models" / asset.filename) in message  # where to put a manual copy
    assert "PROFILE=quick" in message
    assert "bcbd6486424b2319ff4ef7d526e38f63" in message  # what the copy is checked against
    assert "\n" not in message  # one message, one line
    assert files_in(tmp_path / "models") == []


def test_the_offline_guard_refusal_is_reported_as_offline(tmp_path):
    from course_utils.setup.env import NetworkBlockedError

    def opener(url, timeout):
        raise urllib.error.URLError(NetworkBlockedError("offline guard: refused"))

    with pytest.raises(OfflineError, match="offline guard"):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, opener=opener, sleep=no_sleep())


# --- files already there, and learners' copies ------------------------------------------------

def _refuse(url, timeout):
    raise AssertionError(f"fetch went to the network for {url}")


def test_a_verified_file_in_the_cache_is_reused_without_the_network(tmp_path, capsys):
    (tmp_path / "weights.h5").write_bytes(PAYLOAD)
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, opener=_refuse)
    assert path.read_bytes() == PAYLOAD
    assert "verified copy" in capsys.readouterr().out


def test_a_corrupt_file_in_the_cache_is_fetched_again(server, tmp_path, capsys):
    base, handler = server
    handler.routes["/w.h5"] = ("ok", PAYLOAD)
    (tmp_path / "weights.h5").write_bytes(PAYLOAD[:1000])
    path = downloads.fetch(asset_for(f"{base}/w.h5"), tmp_path, sleep=no_sleep())
    assert path.read_bytes() == PAYLOAD
    assert "failed verification" in capsys.readouterr().out


def test_stale_temporary_files_are_removed_and_never_trusted(tmp_path):
    asset = asset_for("https://example.invalid/w.h5")
    stale = tmp_path / ".weights.h5.abc123.part"
    stale.write_bytes(PAYLOAD)  # even a complete one: a .part file is never used
    other = tmp_path / ".other.h5.xyz.part"
    other.write_bytes(b"x")
    assert downloads.remove_stale_parts(asset, tmp_path) == [stale]
    assert not stale.exists() and other.exists()  # only this asset's leftovers


def test_a_learners_copy_is_verified_and_copied_into_place(tmp_path, capsys):
    mine = tmp_path / "usb" / "my_weights.h5"
    mine.parent.mkdir()
    mine.write_bytes(PAYLOAD)
    path = downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", local_copy=mine,
                           opener=_refuse)
    assert path == tmp_path / "cache" / "weights.h5" and path.read_bytes() == PAYLOAD
    assert mine.read_bytes() == PAYLOAD  # the learner's file is left as it was
    assert "your copy" in capsys.readouterr().out


def test_a_wrong_learners_copy_is_rejected_and_left_untouched(tmp_path):
    mine = tmp_path / "my_weights.h5"
    mine.write_bytes(b"something else")
    with pytest.raises(VerificationError, match="your copy .*not changed.*fresh copy from https://example.invalid"):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", local_copy=mine,
                        opener=_refuse)
    assert mine.read_bytes() == b"something else"
    assert files_in(tmp_path / "cache") == []


def test_a_missing_learners_copy_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at .*nowhere.h5.*leave the local-copy parameter empty"):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path, local_copy=tmp_path / "nowhere.h5")


# --- pieces -------------------------------------------------------------------------------------

def test_file_digest_matches_hashlib(tmp_path):
    (tmp_path / "f").write_bytes(PAYLOAD)
    digest = downloads.file_digest(tmp_path / "f")
    assert digest == downloads.Digest(len(PAYLOAD), sha256(PAYLOAD), md5(PAYLOAD))


def test_verify_file_runs_extra_checks(tmp_path):
    (tmp_path / "f").write_bytes(PAYLOAD)

    def reject(path):
        raise VerificationError(f"{path.name} is not an archive")

    asset = asset_for("https://example.invalid/f", extra_checks=(reject,))
    with pytest.raises(VerificationError, match="not an archive"):
        downloads.verify_file(tmp_path / "f", asset)


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


def test_progress_prints_every_step_once():
    lines = []
    meter = downloads.Progress("f", total=1000, step=25, printer=lines.append)
    for done in (100, 260, 510, 510, 1000):
        meter.update(done)
    assert [line.split("(")[-1] for line in lines] == ["25%)", "50%)", "75%)", "100%)"]
    unknown = []
    meter = downloads.Progress("f", total=None, printer=unknown.append)
    meter.update(25 * 2**20)
    assert unknown and "MB" in unknown[0]


def test_offline_message_is_one_line_with_everything():
    asset = asset_for("https://example.invalid/w.h5")
    text = downloads.offline_message(asset, Path("/data/keras/models/weights.h5"), "no route")
    assert text.startswith("Could not download test asset from https://example.invalid/w.h5 (no route)")
    assert "/data/keras/models/weights.h5" in text and "PROFILE=quick" in text


# --- exact behaviour (mutation testing, issue 17) -------------------------------------------

def test_default_opener_sends_the_course_user_agent_and_the_timeout(monkeypatch):
    seen = []
    monkeypatch.setattr(downloads.urllib.request, "urlopen", lambda request, timeout: seen.append((request, timeout)))
    downloads.default_opener("https://example.invalid/w.h5", 7.5)
    ((request, timeout),) = seen
    assert request.full_url == "https://example.invalid/w.h5" and timeout == 7.5
    assert request.header_items() == [("User-agent", downloads.USER_AGENT)]


def test_progress_lines_are_exact_every_step_and_never_past_100():
    lines = []
    meter = downloads.Progress("w.h5", total=2_000_000, step=50, printer=lines.append)
    meter.update(999_999)
    assert lines == []
    meter.update(1_000_000)
    meter.update(4_000_000)  # more than announced: still stops at 100%
    assert lines == ["  w.h5: 1.0 / 2.0 MB (50%)", "  w.h5: 4.0 / 2.0 MB (100%)"]


def test_progress_of_a_jump_prints_each_step_passed():
    lines = []
    downloads.Progress("f", total=1000, printer=lines.append).update(1000)
    assert lines == [f"  f: 0.0 / 0.0 MB ({p}%)" for p in range(10, 101, 10)]


@pytest.mark.parametrize("total", [None, 0, -1])
def test_progress_without_a_size_prints_every_10_mib(total):
    lines = []
    meter = downloads.Progress("f", total=total, printer=lines.append)
    assert meter.total is None
    mib = 2**20
    for done in (10 * mib - 1, 10 * mib, 15 * mib, 20 * mib - 1, 20 * mib, 35 * mib):
        meter.update(done)
    assert lines == ["  f: 10.5 MB", "  f: 21.0 MB", "  f: 36.7 MB"]


def test_progress_of_a_one_byte_file_is_in_percent():
    lines = []
    meter = downloads.Progress("one", total=1, step=50, printer=lines.append)
    assert meter.total == 1 and meter.label == "one"
    meter.update(1)
    assert lines == ["  one: 0.0 / 0.0 MB (50%)", "  one: 0.0 / 0.0 MB (100%)"]


class _Reads:
    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.sizes = []

    def read(self, n):
        self.sizes.append(n)
        return self.chunks.pop(0) if self.chunks else b""


def test_stream_reads_1_mib_chunks_and_digests_what_it_wrote(tmp_path):
    response = _Reads([b"ab", b"cd"])
    lines = []
    digest = downloads._stream(response, tmp_path / "out", downloads.Progress("x", 4, printer=lines.append), 4)
    assert response.sizes == [downloads.CHUNK] * 3 and downloads.CHUNK == 2**20
    assert (tmp_path / "out").read_bytes() == b"abcd"
    assert digest == downloads.Digest(4, sha256(b"abcd"), md5(b"abcd"))
    assert lines[-1] == "  x: 0.0 / 0.0 MB (100%)" and len(lines) == 10


def test_stream_says_how_much_of_the_announced_length_came(tmp_path):
    with pytest.raises(downloads.TruncatedDownload) as err:
        downloads._stream(_Reads([b"x" * 1000]), tmp_path / "out", None, announced=2000)
    assert str(err.value) == "the connection ended after 1,000 of 2,000 bytes"
    assert isinstance(err.value, ConnectionError)  # retried like any dropped connection


def test_a_full_disk_is_a_download_error_not_retried(tmp_path, monkeypatch):
    # A link to /dev/full (every write fails with ENOSPC): fetch removes its temporary file,
    # and that must be the link, never the device itself.
    full = tmp_path / "full.part"
    full.symlink_to("/dev/full")
    with pytest.raises(downloads.DownloadError) as err:
        downloads._stream(_Reads([PAYLOAD]), full, None)
    assert str(err.value) == f"could not write {full}: [Errno 28] No space left on device"
    assert isinstance(err.value.__cause__, OSError)
    calls = []

    def opener(url, timeout):
        calls.append(url)
        return _Response(PAYLOAD)

    monkeypatch.setattr(downloads, "_temporary", lambda asset, folder: full)
    with pytest.raises(downloads.DownloadError, match="could not write .*full.part: .*No space left"):
        downloads.fetch(asset_for("https://example.invalid/w.h5"), tmp_path / "cache", opener=opener,
                        sleep=no_sleep())
    assert calls == ["https://example.invalid/w.h5"]  # not retried
    assert Path("/dev/full").is_char_device()


def test_offline_message_is_exact_with_and_without_a_reason():
    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"),
                      size=10, sha256=None, md5="f" * 32)
    target = Path("/data/models/weights.h5")
    tail = (" Without the network: download weights.h5 on a machine that has it and place it at "
            "/data/models/weights.h5 (it is verified: size 10 bytes, MD5 " + "f" * 32 + "), or pass its path "
            "as the notebook's local-copy parameter. PROFILE=quick runs this lesson offline, without any download.")
    head = "Could not download test asset from https://a.invalid/w.h5 or https://b.invalid/w.h5"
    assert downloads.offline_message(asset, target, "no route") == head + " (no route)." + tail
    assert downloads.offline_message(asset, target) == head + "." + tail


def test_a_learners_copy_at_the_target_itself_is_verified_in_place(tmp_path, capsys):
    target = tmp_path / "weights.h5"
    target.write_bytes(PAYLOAD)
    asset = asset_for("https://example.invalid/w.h5")
    assert downloads.fetch(asset, tmp_path, local_copy=target, opener=_refuse) == target
    assert files_in(tmp_path) == ["weights.h5"] and target.read_bytes() == PAYLOAD
    target.write_bytes(b"broken")
    with pytest.raises(VerificationError) as err:
        downloads.fetch(asset, tmp_path, local_copy=str(target), opener=_refuse)
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
    assert capsys.readouterr().out == (f"test asset: your copy {mine} is verified (size {len(PAYLOAD):,} bytes, "
                                       f"SHA-256 {sha256(PAYLOAD)}); installed at {path}\n")


def test_describe_is_one_exact_row_per_asset():
    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"))
    assert downloads.describe([asset, downloads.INCEPTION_V3_NOTOP])[0] == {
        "asset": "test asset", "file": "weights.h5", "url": "https://a.invalid/w.h5",
        "verified by": f"size {len(PAYLOAD):,} bytes, SHA-256 {sha256(PAYLOAD)}",
        "source of the figures": "made by the test"}
    assert downloads.describe([]) == []


# --- a classroom's shared copy, defaults, the stand-in's recipe --------------------------------

@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """A learner's data folder and a classroom's shared one; the asset's name is unique per test."""
    from course_utils.setup import env

    mine, shared = tmp_path / "mine", tmp_path / "shared"
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(env.SHARED_DATA_VAR, str(shared))
    asset = asset_for("https://example.invalid/w.h5", name=f"asset {tmp_path.name}",
                      filename=f"{tmp_path.name}.h5")
    return mine, shared, asset


def test_a_verified_shared_copy_is_used_where_it_is_and_nothing_is_written(classroom):
    mine, shared, asset = classroom
    (shared / "models").mkdir(parents=True)
    (shared / "models" / asset.filename).write_bytes(PAYLOAD)
    path = downloads.fetch(asset, mine / "models", opener=_refuse)
    assert path == shared / "models" / asset.filename
    assert not (mine / "models").exists()


def test_a_damaged_shared_copy_is_named_and_the_learner_gets_their_own(classroom, capsys):
    mine, shared, asset = classroom
    (shared / "models").mkdir(parents=True)
    (shared / "models" / asset.filename).write_bytes(b"damaged")

    def opener(url, timeout):
        return _Response(PAYLOAD)

    path = downloads.fetch(asset, mine / "models", opener=opener, sleep=no_sleep(), progress=False)
    assert path == mine / "models" / asset.filename and path.read_bytes() == PAYLOAD
    assert (shared / "models" / asset.filename).read_bytes() == b"damaged"
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"{asset.name}: {asset.name}: the shared copy {shared / 'models' / asset.filename} does not "
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
    def down(url, timeout):
        raise urllib.error.URLError("down")

    with pytest.raises(OfflineError):
        downloads.fetch(asset, mine / "other", opener=down, sleep=no_sleep())
    assert f"shared data: {asset.name} is not in the shared folder" in capsys.readouterr().out


def test_fetch_defaults_three_attempts_per_url_two_then_four_seconds_sixty_second_timeout(tmp_path):
    seen, waits = [], []

    def opener(url, timeout):
        seen.append((url, timeout))
        raise urllib.error.URLError("connection refused")

    asset = asset_for("https://a.invalid/w.h5", urls=("https://a.invalid/w.h5", "https://b.invalid/w.h5"))
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path / "new" / "folder", opener=opener, sleep=waits.append)
    assert seen == [("https://a.invalid/w.h5", 60.0)] * 3 + [("https://b.invalid/w.h5", 60.0)] * 3
    assert waits == [2.0, 4.0, 2.0, 4.0]
    assert "(https://b.invalid/w.h5: connection refused)" in str(err.value)
    assert files_in(tmp_path / "new" / "folder") == []


def test_temporary_files_are_hidden_part_files_in_the_target_folder(tmp_path):
    asset = asset_for("https://example.invalid/w.h5")
    first, second = downloads._temporary(asset, tmp_path), downloads._temporary(asset, tmp_path)
    for path in (first, second):
        assert path.parent == tmp_path and path.exists() and path.read_bytes() == b""
        assert path.name.startswith(".weights.h5.") and path.name.endswith(".part")
    assert first != second
    assert downloads.remove_stale_parts(asset, tmp_path) == sorted([first, second])
    assert downloads.remove_stale_parts(asset, tmp_path / "nowhere") == []


@pytest.mark.parametrize("headers, length", [
    ({"Content-Length": "123"}, 123), ({}, None), ({"Content-Length": "abc"}, None), (None, None)])
def test_content_length_is_read_when_the_server_gives_a_number(headers, length):
    import email.message

    class Response:
        pass

    response = Response()
    if headers is not None:
        message = email.message.Message()
        for key, value in headers.items():
            message[key] = value
        response.headers = message
    assert downloads._content_length(response) == length


def test_megabytes_are_millions_of_bytes_to_the_last_digit():
    lines = []
    downloads.Progress("f", total=1_350_000, printer=lines.append).update(1_350_000)
    assert lines[-1] == "  f: 1.4 / 1.4 MB (100%)"
    unknown = []
    downloads.Progress("f", total=None, printer=unknown.append).update(10_550_000)
    assert unknown == ["  f: 10.6 MB"]


def test_progress_in_steps_of_one_percent_stops_at_100():
    lines = []
    downloads.Progress("f", total=100, step=1, printer=lines.append).update(500)
    assert len(lines) == 100 and lines[-1].endswith("(100%)")


def test_each_attempt_is_announced_and_the_offline_guard_is_not_retried(tmp_path):
    from course_utils.setup.env import NetworkBlockedError

    lines, waits, calls = [], [], []

    def flaky(url, timeout):
        calls.append(url)
        raise urllib.error.URLError("connection refused")

    with pytest.raises(OfflineError):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, opener=flaky, sleep=waits.append,
                        printer=lines.append)
    assert lines == ["test asset: downloading https://a.invalid/w.h5",
                     "test asset: downloading https://a.invalid/w.h5 (attempt 2/3)",
                     "test asset: downloading https://a.invalid/w.h5 (attempt 3/3)"]
    for error in (urllib.error.URLError(NetworkBlockedError("offline guard")), NetworkBlockedError("offline guard")):
        calls.clear()
        waits.clear()

        def blocked(url, timeout, error=error):
            calls.append(url)
            raise error

        with pytest.raises(OfflineError):
            downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, opener=blocked, sleep=waits.append,
                            printer=lines.append)
        assert calls == ["https://a.invalid/w.h5"] and waits == []  # waiting cannot help


def test_a_download_streams_into_a_temporary_file_in_the_target_folder(tmp_path, monkeypatch):
    destinations = []
    real_stream = downloads._stream
    monkeypatch.setattr(downloads, "_stream", lambda response, destination, *rest: destinations.append(destination)
                        or real_stream(response, destination, *rest))
    downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, opener=lambda url, timeout: _Response(PAYLOAD),
                    printer=lambda line: None)
    (destination,) = destinations
    assert destination.parent == tmp_path and destination.name.startswith(".weights.h5.")


def test_verify_file_names_the_path_unless_told_where(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    asset = asset_for("https://a.invalid/f", sha256=None)
    with pytest.raises(VerificationError) as err:
        downloads.verify_file(tmp_path / "f", asset)
    assert str(err.value) == (f"test asset: {tmp_path / 'f'} does not match the published file: size 1 bytes, "
                              f"expected {len(PAYLOAD):,} (expected values: made by the test)")
    with pytest.raises(VerificationError, match="^test asset: the USB stick does not match"):
        downloads.verify_file(tmp_path / "f", asset, where="the USB stick")


@pytest.mark.parametrize("code, attempts", [(400, 1), (404, 1), (499, 1), (500, 3), (503, 3)])
def test_client_errors_are_not_retried_server_errors_are(tmp_path, code, attempts):
    calls = []

    def opener(url, timeout):
        calls.append(url)
        raise urllib.error.HTTPError(url, code, "status", {}, None)

    with pytest.raises(OfflineError, match=f"HTTPError: HTTP Error {code}: status"):
        downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, opener=opener, sleep=no_sleep(),
                        printer=lambda line: None)
    assert len(calls) == attempts


def test_two_wrong_mirrors_are_both_named_in_one_message(tmp_path):
    urls = ("https://a.invalid/w.h5", "https://b.invalid/w.h5")
    asset = asset_for(urls[0], urls=urls, sha256=None)
    with pytest.raises(VerificationError) as err:
        downloads.fetch(asset, tmp_path, opener=lambda url, timeout: _Response(b"wrong"), printer=lambda line: None)
    problem = f"size 5 bytes, expected {len(PAYLOAD):,} (expected values: made by the test)"
    first = f"test asset: the download from {urls[0]} does not match the published file: {problem}"
    second = f"test asset: the download from {urls[1]} does not match the published file: {problem}"
    assert str(err.value) == f"{second} - nothing was saved. Tried: {urls[0]}: {first} | {urls[1]}: {second}"


def test_no_attempt_at_all_is_offline_without_a_reason(tmp_path):
    asset = asset_for("https://a.invalid/w.h5")
    with pytest.raises(OfflineError) as err:
        downloads.fetch(asset, tmp_path, retries=0, opener=_refuse, printer=lambda line: None)
    assert str(err.value) == downloads.offline_message(asset, tmp_path / "weights.h5")
    assert str(err.value).startswith("Could not download test asset from https://a.invalid/w.h5. Without")


class _Unannounced(_Response):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {}


def test_progress_goes_to_the_printer_and_uses_the_published_size_when_none_is_announced(tmp_path):
    lines = []
    downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path, opener=lambda url, timeout: _Unannounced(PAYLOAD),
                    printer=lines.append)
    progress = [line for line in lines if line.startswith("  ")]
    assert progress == [f"  weights.h5: 1.0 / 1.0 MB ({p}%)" for p in range(10, 101, 10)]  # one 1 MiB read, then 4 bytes
    quiet = []
    downloads.fetch(asset_for("https://a.invalid/w.h5"), tmp_path / "q", opener=lambda url, timeout: _Response(PAYLOAD),
                    printer=quiet.append, progress=False)
    assert [line for line in quiet if line.startswith("  ")] == [] and len(quiet) == 2
