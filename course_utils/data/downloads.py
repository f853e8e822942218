"""Verified downloads: a file is either complete and checked, or it is not there.

pooch (https://www.fatiando.org/pooch) downloads: ``pooch.retrieve`` with a ``pooch.HTTPDownloader``
streams to a temporary name, checks the published hash (``known_hash``, SHA-256 or MD5), moves the
file into place only if it matches, and draws the progress bar (tqdm.auto). Written here, each for
what pooch does not do: :class:`Asset` (mirrors, published figures, provenance); in :func:`fetch`,
mirrors in order retried on network and 5xx errors only, a size and extra checks where no hash is
published, a classroom's shared copy, the learner's own copy, one download among processes and no
trusted leftover of a killed run (``files.build_once``), and messages that say what to do: offline,
one :class:`OfflineError` names the asset, its URL, where to put a copy and that ``PROFILE=quick``
runs offline.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pooch
import requests

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import classroom, env, files

__all__ = ["Asset", "DownloadError", "INCEPTION_V3_NOTOP", "LocalCopyError", "OfflineError", "VerificationError", "describe",
           "fetch"]

_USER_AGENT = "transfer-learning-course (course_utils.data.downloads)"
_CHUNK = 1 << 20  # pooch reads 1 KiB at a time (and flushes each): 1 MiB reads an 88 MB file in fewer steps


class DownloadError(CourseError, RuntimeError):
    """A file could not be fetched or verified."""


class VerificationError(DownloadError):
    """A file's size or checksum differs from the published one."""


class OfflineError(DownloadError):
    """No URL of an asset could be reached (no network, server down)."""


class LocalCopyError(CourseError, FileNotFoundError):
    """The learner's own copy is not where they said."""


@dataclass(frozen=True)
class Asset:
    """A file the course downloads, and how to check it (pooch takes one URL and one hash per call).

    ``urls``: mirrors, in order. ``sha256``, ``md5``: the *published* hashes; ``size`` and
    ``extra_checks`` (each raising :class:`VerificationError`) check a file that has none.
    ``provenance``: where the figures come from (shown in messages, so a learner can check them).
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
            raise ValueError(f"asset {self.name!r} has nothing to verify against: give its size or a published hash")
        if self.sha256 is not None and len(self.sha256) != 64:
            raise ValueError(f"asset {self.name!r}: a SHA-256 is 64 hex digits, got {self.sha256!r}")
        if self.md5 is not None and len(self.md5) != 32:
            raise ValueError(f"asset {self.name!r}: an MD5 is 32 hex digits, got {self.md5!r}")

    @property
    def known_hash(self) -> str | None:
        """The published hash as pooch's ``known_hash`` (``"sha256:..."`` first, else ``"md5:..."``)."""
        return f"sha256:{self.sha256.lower()}" if self.sha256 else f"md5:{self.md5.lower()}" if self.md5 else None

    def checks(self) -> str:
        """What verification means for this asset, in words."""
        parts = [f"size {self.size:,} bytes"] if self.size is not None else []
        parts += [f"SHA-256 {self.sha256}"] if self.sha256 else []
        return ", ".join(parts + ([f"MD5 {self.md5}"] if self.md5 else []))


def _verify_file(path: str | Path, asset: Asset, where: str | None = None, *, hashes: bool = True) -> None:
    """Raise :class:`VerificationError` unless ``path`` has ``asset``'s size and hashes and passes its extra checks."""
    path, problems = Path(path), []
    if asset.size is not None and (size := path.stat().st_size) != asset.size:
        problems.append(f"size {size:,} bytes, expected {asset.size:,}")
    if hashes and asset.sha256 and (got := files.sha256(path)) != asset.sha256.lower():
        problems.append(f"SHA-256 {got}, expected {asset.sha256.lower()}")
    if hashes and asset.md5 and (got := pooch.file_hash(str(path), alg="md5")) != asset.md5.lower():  # Keras: MD5
        problems.append(f"MD5 {got}, expected {asset.md5.lower()}")
    if problems:
        source = f" (expected values: {asset.provenance})" if asset.provenance else ""
        raise VerificationError(f"{asset.name}: {where or path} does not match the published file: "
                                + "; ".join(problems) + source)
    for check in asset.extra_checks:
        check(path)


def _problem(path: Path, asset: Asset, where: str | None = None) -> VerificationError | None:  # or None if fine
    try:
        _verify_file(path, asset, where)
    except VerificationError as err:
        return err
    return None


def _offline_message(asset: Asset, target: Path, reason: str = "") -> str:
    """The one message a learner sees when no URL of ``asset`` can be reached."""
    why = f" ({reason})" if reason else ""
    return (
        f"Could not download {asset.name} from {' or '.join(asset.urls)}{why}. Without the network: download "
        f"{asset.filename} on a machine that has it and place it at {target} (it is verified: "
        f"{asset.checks()}), or pass its path as the notebook's local-copy parameter. "
        "PROFILE=quick runs this lesson offline, without any download."
    )


def fetch(asset: Asset, folder: str | Path, *, local_copy: str | Path | None = None, progress: bool = True,
          retries: int = 3, backoff: float = 2.0, timeout: float = 60.0,
          downloader: Callable | None = None, sleep: Callable[[float], None] = time.sleep) -> Path:
    """Return the path of a verified copy of ``asset`` in ``folder``, fetching it if needed.

    ``local_copy``: the learner's file, copied into place and verified (theirs is never changed).
    Else a verified copy in the classroom's shared folder, or in ``folder``, is used. Else each URL
    in turn, ``retries`` times for network and 5xx errors, waiting ``backoff``, ``2 * backoff``, ... s;
    a 4xx or a wrong file moves on. ``downloader``: instead of pooch's ``HTTPDownloader`` (same call).
    Raises :class:`VerificationError`, :class:`OfflineError` or :class:`LocalCopyError`."""
    folder = Path(folder)
    target = folder / asset.filename
    if local_copy is not None:
        return _install_local_copy(asset, Path(local_copy), target)
    shared = classroom.find_data(target, what=asset.name)
    if shared != target and shared.is_file():  # a classroom's read-only copy: read there, never written
        if (err := _problem(shared, asset, where=f"the shared copy {shared}")) is None:
            return shared
        say(f"{asset.name}: {err}; fetching your own copy into {target}")
    if target.exists():
        if (err := _problem(target, asset)) is None:
            say(f"{asset.name}: verified copy at {target}")
            return target
        say(f"{asset.name}: the file at {target} failed verification ({err}); fetching it again")
    try:
        folder.mkdir(parents=True, exist_ok=True)  # build_once stages beside the target
    except OSError as err:
        raise files.writing_error(err, folder) from err
    downloader = downloader or pooch.HTTPDownloader(progressbar=progress, chunk_size=_CHUNK, timeout=timeout,
                                                    headers={"User-Agent": _USER_AGENT})
    # build_once: one process downloads (under a lock), the others wait and reuse its verified file
    return files.build_once(target, lambda staging: _download(asset, staging, downloader, retries, backoff, sleep),
                            ready=lambda path: path.is_file() and _problem(path, asset) is None)


def _download(asset: Asset, staging: Path, downloader, retries: int, backoff: float, sleep) -> None:
    """Mirrors in order, with back-off: ``pooch.retrieve`` takes one URL and does not retry (``Pooch.fetch``
    retries every failure alike, a 404 and a wrong file too, and waits 1, 2, ... s)."""
    target = staging.parent / asset.filename
    work = Path(f"{staging}.d")  # pooch's own temporary file lands here, so a killed run's is ours to delete
    work.mkdir()
    failures: list[str] = []
    wrong: VerificationError | None = None
    quiet, level = pooch.get_logger(), pooch.get_logger().level  # the course says each step; pooch would repeat it
    quiet.setLevel("WARNING")  # on stderr: quieter during the download only, then as it was
    try:
        for url in asset.urls:
            for attempt in range(1, retries + 1):
                say(f"{asset.name}: downloading {url}" + (f" (attempt {attempt}/{retries})" if attempt > 1 else ""))
                try:
                    got = pooch.retrieve(url, asset.known_hash, fname=asset.filename, path=work, downloader=downloader)
                    _verify_file(got, asset, where=f"the download from {url}", hashes=False)  # pooch checked those
                    os.replace(got, staging)
                    say(f"{asset.name}: verified ({asset.checks()}); saved to {target}")
                    return
                except (ValueError, VerificationError) as err:  # pooch raises ValueError for a wrong hash
                    wrong = err if isinstance(err, VerificationError) else VerificationError(
                        f"{asset.name}: the download from {url} does not match the published file: {err}"
                        + (f" (expected values: {asset.provenance})" if asset.provenance else ""))
                    failures.append(f"{url}: {wrong}")
                    break  # the server has a different file: retrying gets the same bytes
                except (requests.RequestException, env.NetworkBlockedError) as err:
                    causes = _causes(err)
                    failures.append(f"{url}: {type(causes[-1]).__name__}: {causes[-1]}")  # "[Errno 111] ..."
                    status = getattr(getattr(err, "response", None), "status_code", None) or 0
                    if 400 <= status < 500 or any(isinstance(c, env.NetworkBlockedError) for c in causes):
                        break  # a 404 does not fix itself, nor does the offline guard (tests, COURSE_OFFLINE=1)
                    if attempt < retries:
                        sleep(backoff * 2 ** (attempt - 1))
                except OSError as err:  # not the network's: a full disk, say; retrying cannot help
                    said = files.writing_error(err, target.parent)  # a full disk, a read-only folder: the fix
                    raise DownloadError(f"{asset.name}: could not write {target}: {said}") from err
    finally:
        quiet.setLevel(level)
        shutil.rmtree(work, ignore_errors=True)
    if wrong is not None:
        raise VerificationError(f"{wrong} - nothing was saved. Tried: " + " | ".join(failures)) from None
    raise OfflineError(_offline_message(asset, target, failures[-1] if failures else ""))


def _causes(err: BaseException) -> list[BaseException]:
    """``err`` and what caused it, innermost last: requests wraps urllib3's error, which wraps the socket's."""
    chain = [err]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    return chain


def _install_local_copy(asset: Asset, source: Path, target: Path) -> Path:
    if not source.is_file():
        raise LocalCopyError(f"{asset.name}: no file at {source} (the local copy you named). Expected "
                             f"{asset.filename}; or leave the local-copy parameter empty to download it.")
    if source.resolve() == target.resolve():
        _verify_file(target, asset, where=f"your copy {source}")
        return target

    def install(staging: Path) -> None:
        shutil.copyfile(source, staging)
        try:
            _verify_file(staging, asset, where=f"your copy {source}")
        except VerificationError as err:
            raise VerificationError(f"{err}. Your file was not changed; get a fresh copy from {asset.urls[0]}, "
                                    "or run with PROFILE=quick (offline).") from None

    target.parent.mkdir(parents=True, exist_ok=True)
    files.build_once(target, install, ready=lambda path: False)  # always the learner's file: they named it
    say(f"{asset.name}: your copy {source} is verified ({asset.checks()}); installed at {target}")
    return target


def describe(assets: Iterable[Asset]) -> list[dict[str, str]]:
    """Rows (asset, file, URL, what is verified, where the figures come from) for a table."""
    return [{"asset": a.name, "file": a.filename, "url": a.urls[0], "verified by": a.checks(),
             "source of the figures": a.provenance} for a in assets]


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
    provenance=("MD5 published by Keras Applications (the file_hash in its inception_v3.py; no SHA-256 is "
                "published for this file); size as both buckets serve it"),
)
