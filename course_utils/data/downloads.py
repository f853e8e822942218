"""Verified downloads: a file is either complete and checked, or it is not there.

:func:`fetch` puts an :class:`Asset` (a file with its URLs, expected size and
published hash) into a folder:

1. A file already at the target is re-verified (size and hash) and reused;
   one that fails is removed (it is in our cache) and fetched again.
2. A learner's own copy (``local_copy=``) is copied to a temporary name in
   the target folder, verified the same way, then moved into place. The
   learner's file is never moved or changed.
3. Otherwise each URL is tried in turn, with retries and exponential back-off
   for network errors. Bytes stream into a temporary name in the target
   folder while size, SHA-256 and MD5 are computed; only a verified file is
   renamed (atomically, ``os.replace``) to its final name. Anything else, an
   error, a wrong checksum, Ctrl-C, removes the temporary file. A process
   killed outright can leave a ``.part`` file behind: it is never trusted
   and the next :func:`fetch` deletes it.

Without the network, the error is one :class:`OfflineError` whose message
names the asset, its URL, where to put a manual copy and that
``PROFILE=quick`` runs offline.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

CHUNK = 1 << 20  # 1 MiB
PART_SUFFIX = ".part"
USER_AGENT = "transfer-learning-course (course_utils.data.downloads)"


class DownloadError(RuntimeError):
    """A file could not be fetched or verified."""


class VerificationError(DownloadError):
    """A file's size or checksum differs from the published one."""


class OfflineError(DownloadError):
    """No URL of an asset could be reached (no network, server down)."""


class TruncatedDownload(ConnectionError):
    """The connection ended before the length the server announced (retried)."""


@dataclass(frozen=True)
class Asset:
    """A file the course downloads, and how to check it.

    ``sha256`` and ``md5`` are the *published* hashes (hex); give what the
    publisher gives and nothing else: at least one of ``size``, ``sha256``,
    ``md5`` must be known. ``provenance`` says where the figures come from
    (shown in messages, so a learner can check them).
    """

    name: str
    filename: str
    urls: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    provenance: str = ""
    extra_checks: tuple[Callable[[Path], None], ...] = field(default=(), compare=False)

    def __post_init__(self):
        if not self.urls:
            raise ValueError(f"asset {self.name!r} needs at least one URL")
        if self.size is None and not self.sha256 and not self.md5:
            raise ValueError(
                f"asset {self.name!r} has nothing to verify against: give its size or a published hash"
            )
        if self.sha256 is not None and len(self.sha256) != 64:
            raise ValueError(f"asset {self.name!r}: a SHA-256 is 64 hex digits, got {self.sha256!r}")
        if self.md5 is not None and len(self.md5) != 32:
            raise ValueError(f"asset {self.name!r}: an MD5 is 32 hex digits, got {self.md5!r}")

    def checks(self) -> str:
        """What verification means for this asset, in words."""
        parts = []
        if self.size is not None:
            parts.append(f"size {self.size:,} bytes")
        if self.sha256:
            parts.append(f"SHA-256 {self.sha256}")
        if self.md5:
            parts.append(f"MD5 {self.md5}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Digest:
    """Size and hashes of a file (hex)."""

    size: int
    sha256: str
    md5: str


class _Hasher:
    def __init__(self):
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._sha256.update(chunk)
        self._md5.update(chunk)

    def digest(self) -> Digest:
        return Digest(self.size, self._sha256.hexdigest(), self._md5.hexdigest())


def file_digest(path: str | Path) -> Digest:
    """Size, SHA-256 and MD5 of a file, read in 1 MiB chunks."""
    hasher = _Hasher()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.digest()


def check_digest(asset: Asset, digest: Digest, where: str) -> None:
    """Raise :class:`VerificationError` when ``digest`` does not match ``asset``."""
    problems = []
    if asset.size is not None and digest.size != asset.size:
        problems.append(f"size {digest.size:,} bytes, expected {asset.size:,}")
    if asset.sha256 and digest.sha256 != asset.sha256.lower():
        problems.append(f"SHA-256 {digest.sha256}, expected {asset.sha256.lower()}")
    if asset.md5 and digest.md5 != asset.md5.lower():
        problems.append(f"MD5 {digest.md5}, expected {asset.md5.lower()}")
    if problems:
        source = f" (expected values: {asset.provenance})" if asset.provenance else ""
        raise VerificationError(
            f"{asset.name}: {where} does not match the published file: "
            + "; ".join(problems) + source
        )


def verify_file(path: str | Path, asset: Asset, where: str | None = None) -> Digest:
    """Check ``path`` against ``asset`` (size, hashes, extra checks); returns its digest."""
    path = Path(path)
    digest = file_digest(path)
    check_digest(asset, digest, where or str(path))
    for check in asset.extra_checks:
        check(path)
    return digest


def target_path(asset: Asset, folder: str | Path) -> Path:
    return Path(folder) / asset.filename


def remove_stale_parts(asset: Asset, folder: str | Path) -> list[Path]:
    """Delete temporary files an earlier, killed :func:`fetch` of ``asset`` left behind."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(folder.glob(f".{asset.filename}.*{PART_SUFFIX}"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _temporary(asset: Asset, folder: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{asset.filename}.", suffix=PART_SUFFIX, dir=folder)
    os.close(handle)
    return Path(name)


def default_opener(url: str, timeout: float):
    """``urllib.request.urlopen`` with a user agent; the object it returns has ``read(n)``."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)


class Progress:
    """Prints ``name: 12.3 / 87.9 MB (14%)`` every ``step`` percent (or every 10 MB if the size is unknown)."""

    def __init__(self, label: str, total: int | None, step: int = 10, printer: Callable[[str], None] = print):
        self.label = label
        self.total = total if total and total > 0 else None
        self.step = step
        self.printer = printer
        self._next = step
        self._next_bytes = 10 * 2**20

    def update(self, done: int) -> None:
        if self.total:
            percent = 100 * done / self.total
            while percent >= self._next and self._next <= 100:
                self.printer(f"  {self.label}: {done / 1e6:.1f} / {self.total / 1e6:.1f} MB ({self._next}%)")
                self._next += self.step
        elif done >= self._next_bytes:
            self.printer(f"  {self.label}: {done / 1e6:.1f} MB")
            self._next_bytes += 10 * 2**20


def _stream(response, destination: Path, progress: Progress | None,
            announced: int | None = None) -> Digest:
    hasher = _Hasher()
    with open(destination, "wb") as out:
        while True:
            chunk = response.read(CHUNK)  # network errors propagate as they are (retried)
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as err:  # a full disk is not a network problem: do not retry
                raise DownloadError(f"could not write {destination}: {err}") from err
            hasher.update(chunk)
            if progress:
                progress.update(hasher.size)
        out.flush()
        os.fsync(out.fileno())
    if announced is not None and hasher.size != announced:
        raise TruncatedDownload(
            f"the connection ended after {hasher.size:,} of {announced:,} bytes"
        )
    return hasher.digest()


def _content_length(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


NETWORK_ERRORS = (urllib.error.URLError, OSError, HTTPException, TimeoutError)


def offline_message(asset: Asset, target: Path, reason: str = "") -> str:
    """The one message a learner sees when no URL of ``asset`` can be reached."""
    urls = " or ".join(asset.urls)
    why = f" ({reason})" if reason else ""
    return (
        f"Could not download {asset.name} from {urls}{why}. Without the network: download "
        f"{asset.filename} on a machine that has it and place it at {target} (it is verified: "
        f"{asset.checks()}), or pass its path as the notebook's local-copy parameter. "
        "PROFILE=quick runs this lesson offline, without any download."
    )


def fetch(asset: Asset, folder: str | Path, *, local_copy: str | Path | None = None, **options) -> Path:
    """Return the path of a verified copy of ``asset`` in ``folder``, fetching it if needed.

    A classroom's shared folder (``env.find_data``) is read first: a verified copy
    there is used as it is, never written to. Otherwise, under a cross-process lock
    (``files.build_lock``), so of several runs at once one downloads and the others
    reuse its file: see :func:`_fetch_unlocked` for the options and errors.
    """
    from course_utils.setup import env
    from course_utils.setup.files import build_lock

    folder = Path(folder)
    target = target_path(asset, folder)
    if local_copy is None:
        shared = env.find_data(target, what=asset.name)
        if shared != target and shared.is_file():
            try:
                verify_file(shared, asset, where=f"the shared copy {shared}")
            except VerificationError as err:
                print(f"{asset.name}: {err}; fetching your own copy into {target}")
            else:
                return shared
    folder.mkdir(parents=True, exist_ok=True)
    with build_lock(target):
        return _fetch_unlocked(asset, folder, local_copy=local_copy, **options)


def _fetch_unlocked(asset: Asset, folder: str | Path, *, local_copy: str | Path | None = None,
          retries: int = 3, backoff: float = 2.0, timeout: float = 60.0,
          opener: Callable | None = None, sleep: Callable[[float], None] = time.sleep,
          progress: bool = True, printer: Callable[[str], None] = print) -> Path:
    """Return the path of a verified copy of ``asset`` in ``folder``, fetching it if needed.

    ``local_copy``: a file the learner already has; it is verified, then copied
    into place. ``retries``: attempts per URL for network errors, waiting
    ``backoff``, ``2 * backoff``, ... seconds between them. A URL that serves
    a file with the wrong size or hash is not retried; the next URL is tried.
    Raises :class:`VerificationError` (wrong file), :class:`OfflineError`
    (nothing reachable) or :class:`FileNotFoundError` (no such local copy).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = target_path(asset, folder)
    remove_stale_parts(asset, folder)

    if local_copy is not None:
        return _install_local_copy(asset, Path(local_copy), target, printer)

    if target.exists():
        try:
            verify_file(target, asset)
            printer(f"{asset.name}: verified copy at {target}")
            return target
        except VerificationError as err:
            printer(f"{asset.name}: the file at {target} failed verification ({err}); fetching it again")
            target.unlink()

    opener = opener or default_opener
    failures: list[str] = []
    wrong_file: VerificationError | None = None
    for url in asset.urls:
        for attempt in range(1, retries + 1):
            tmp = _temporary(asset, folder)
            try:
                printer(f"{asset.name}: downloading {url}" + (f" (attempt {attempt}/{retries})" if attempt > 1 else ""))
                with opener(url, timeout) as response:
                    announced = _content_length(response)
                    total = announced or asset.size
                    meter = Progress(asset.filename, total, printer=printer) if progress else None
                    digest = _stream(response, tmp, meter, announced)
                check_digest(asset, digest, f"the download from {url}")
                for check in asset.extra_checks:
                    check(tmp)
                os.replace(tmp, target)
                printer(f"{asset.name}: verified ({asset.checks()}); SHA-256 {digest.sha256}; saved to {target}")
                return target
            except VerificationError as err:
                wrong_file = err
                failures.append(f"{url}: {err}")
                break  # the server has a different file: retrying gets the same bytes
            except NETWORK_ERRORS as err:
                plain = isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError)
                failures.append(f"{url}: {err.reason if plain else f'{type(err).__name__}: {err}'}")
                if isinstance(err, urllib.error.HTTPError) and 400 <= err.code < 500:
                    break  # 404 and friends do not fix themselves
                if _blocked_by_offline_guard(err):
                    break  # the course's offline guard (tests, COURSE_OFFLINE=1): waiting cannot help
                if attempt < retries:
                    sleep(backoff * 2 ** (attempt - 1))
            finally:
                tmp.unlink(missing_ok=True)
    if wrong_file is not None:
        raise VerificationError(
            f"{wrong_file} - nothing was saved. Tried: " + " | ".join(failures)
        ) from None
    raise OfflineError(offline_message(asset, target, failures[-1] if failures else ""))


def _blocked_by_offline_guard(err: BaseException) -> bool:
    from course_utils.setup.env import NetworkBlockedError

    reason = getattr(err, "reason", None)
    return isinstance(err, NetworkBlockedError) or isinstance(reason, NetworkBlockedError)


def _install_local_copy(asset: Asset, source: Path, target: Path, printer) -> Path:
    if not source.is_file():
        raise FileNotFoundError(
            f"{asset.name}: no file at {source} (the local copy you named). Expected "
            f"{asset.filename}; or leave the local-copy parameter empty to download it."
        )
    if source.resolve() == target.resolve():
        verify_file(target, asset, where=f"your copy {source}")
        return target
    tmp = _temporary(asset, target.parent)
    try:
        shutil.copyfile(source, tmp)
        try:
            verify_file(tmp, asset, where=f"your copy {source}")
        except VerificationError as err:
            raise VerificationError(
                f"{err}. Your file was not changed; get a fresh copy from {asset.urls[0]}, "
                "or run with PROFILE=quick (offline)."
            ) from None
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    printer(f"{asset.name}: your copy {source} is verified ({asset.checks()}); installed at {target}")
    return target


def describe(assets: Iterable[Asset]) -> list[dict[str, str]]:
    """Rows (asset, file, URL, what is verified, where the figures come from) for a table."""
    return [
        {
            "asset": a.name,
            "file": a.filename,
            "url": a.urls[0],
            "verified by": a.checks(),
            "source of the figures": a.provenance,
        }
        for a in assets
    ]


# --- The lesson 05 weights file ------------------------------------------------------------

INCEPTION_V3_NOTOP = Asset(
    name="InceptionV3 no-top ImageNet weights",
    filename="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    urls=(
        # Keras Applications' copy: the MD5 below is the one Keras publishes for it.
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        # The lesson's copy (same size); verified against the same MD5.
        "https://storage.googleapis.com/mledu-datasets/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    size=87_910_968,
    md5="bcbd6486424b2319ff4ef7d526e38f63",
    provenance=(
        "MD5 published by Keras Applications (file_hash in tf_keras/src/applications/inception_v3.py; "
        "no SHA-256 is published for this file); size as both buckets serve it"
    ),
)
