"""Build once, put in place: the lock + stage + rename of every build step in the course.

:func:`build_once` is the one helper for it (downloads, stand-ins, prepared data sets,
checked views, feature caches); :func:`_replace_folder` is its last step.

:func:`write_manifest` / :func:`read_manifest` are the course's one manifest format for what it built or placed.
A classroom's ``SHA256SUMS`` stays in ``sha256sum`` format: it covers a whole shared folder, checked by hand.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from course_utils.errors import CourseError
from course_utils.setup import env

__all__ = ["DiskFullError", "FolderNotWritableError", "TarError", "ZipError", "build_once", "check_zip", "digest",
           "extract_tar", "extract_zip", "read_manifest", "sha256", "write_manifest", "write_staged", "writing_error"]

#: The most an archive may unpack to unless its caller says otherwise (per asset: ``max_unpacked``).
_MAX_UNPACKED = 1 << 30
_MANIFEST = "COURSE_MANIFEST.json"  # a built folder's manifest; a built file's is ``<file>.manifest.json`` beside it


class FolderNotWritableError(CourseError, PermissionError):
    """The course cannot write in a data folder (read-only, another user's)."""


class DiskFullError(CourseError, OSError):
    """No space left (or quota reached) on the disk holding a data folder."""


def writing_error(err: OSError, folder: str | Path) -> OSError:
    """``err`` as the course's error naming ``folder`` and the fix when it is a read-only folder or a full disk,
    else ``err`` itself (raise what this returns)."""
    if isinstance(err, CourseError):
        return err
    data_fix = "or set COURSE_DATA_DIR to a folder you can write in, on a disk with room, and run again"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return FolderNotWritableError(f"cannot write in {folder} ({err.strerror or err}: {err.filename or folder}): "
                                      f"make it writable for you (chmod u+w, or ask whoever owns it), {data_fix}")
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"the disk holding {folder} is full ({err.strerror or err}): free some space (`df -h "
                             f"{folder}` shows it; `make clean` removes build/), {data_fix}")
    return err


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a whole folder; nothing there is fine."""
    if _is_folder(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace_folder(ready: str | Path, target: str | Path) -> Path:
    """Move the complete folder (or file) ``ready`` to ``target``, replacing what was there.

    Builders write into a staging folder next to ``target`` and call this only
    when everything checked out, so a reader never sees a half-built folder.
    """
    ready, target = Path(ready), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = _staging_path(target)
    if os.path.lexists(target) and (_is_folder(target) or _is_folder(ready)):
        os.rename(target, aside)  # os.replace swaps a file or a link in one step, not a folder: the old one moves aside
    os.replace(ready, target)
    _remove(aside)
    return target


@contextmanager
def _build_lock(target: str | Path) -> Iterator[None]:
    """Hold the cross-process lock for building ``target`` (other processes wait, then see it built).

    A ``filelock`` lock, which the operating system frees when its holder dies, even by SIGKILL. Its file,
    named after ``target``'s absolute path, is in ``<data dir>/.locks/``: the folders the course fills hold
    only what was built.
    """
    target = Path(target)
    path = env.data_dir() / ".locks" / f"{target.name[:60]}-{digest(str(target.resolve()), 20)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path)):
        yield


def _staging_path(target: str | Path) -> Path:
    """A fresh, hidden name beside ``target`` for this process to build into."""
    target = Path(target)
    return target.parent / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"


def write_staged(path: str | Path, content: str | bytes, *, mode: int | None = None) -> Path:
    """Write ``content`` to ``path`` through a staging file beside it and one rename: a reader sees the old file or
    the whole new one, never half of it. The course's one way to write a file others read (records, manifests)."""
    path = Path(path)
    staged = _staging_path(path)
    staged.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if mode is not None:
        staged.chmod(mode)
    os.replace(staged, path)
    return path


def _manifest_path(target: str | Path) -> Path:
    """``<target>/COURSE_MANIFEST.json`` for a folder (a link to one too), else ``<target>.manifest.json`` beside it."""
    target = Path(target)
    return target / _MANIFEST if target.is_dir() else target.with_name(target.name + ".manifest.json")


def write_manifest(target: str | Path, kind: str, /, **facts: object) -> Path:
    """Write ``target``'s manifest (:func:`_manifest_path`): a JSON object, ``kind`` (what was built) and the
    ``facts`` that make it valid (SHA-256s, source, counts, key parts); builders write it last, while staging."""
    return write_staged(_manifest_path(target), json.dumps({**facts, "kind": kind}, indent=1, sort_keys=True) + "\n")


def read_manifest(target: str | Path, kind: str) -> dict | None:
    """The facts of ``target``'s manifest (without ``kind``), or ``None`` when it is missing, unreadable,
    not a JSON object, or of another ``kind``: then ``target`` is not trusted and is built again."""
    try:
        noted = json.loads(_manifest_path(target).read_text())
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(noted, dict) or noted.get("kind") != kind:
        return None
    return {name: value for name, value in noted.items() if name != "kind"}


def _remove_leftovers(target: str | Path) -> list[Path]:
    """Delete the staging folders and files of earlier, killed builds of ``target``.

    Call it only while holding :func:`_build_lock` for ``target``: then no live build uses them.
    """
    target = Path(target)
    # Only _staging_path()'s names for this target (and the ".d" / "-root" folders builders add to them):
    # ".{name}.*.part*" for "x" also matched "x.zip"'s staging file, which another build was writing.
    own = re.compile(rf"\.{re.escape(target.name)}\.\d+-[0-9a-f]+\.part(\.d|-root)?")
    found = sorted(p for p in target.parent.iterdir() if own.fullmatch(p.name)) if target.parent.is_dir() else []
    for path in found:
        _remove(path)
    return found


def build_once(target: str | Path, build: Callable[[Path], object], *,
               ready: Callable[[Path], bool] | None = None) -> Path:
    """Build ``target`` once, safely among many processes and across killed runs.

    ``build(staging)`` writes the complete file or folder at ``staging``; it is then renamed
    to ``target`` in one step, so a reader sees the old state or the finished one, never a
    half-written one. ``ready(target)`` (default: it exists) says a built ``target`` can be
    trusted; it is checked before and again under the lock, so of several processes asking
    at once one builds and the others wait and reuse it. Leftovers of a killed build are
    removed first; a ``target`` that is not ready is rebuilt.
    """
    target = Path(target)
    ready = ready or (lambda path: path.exists())
    if ready(target):
        return target
    try:
        with _build_lock(target):
            if ready(target):
                return target
            _remove_leftovers(target)
            staging = _staging_path(target)
            try:
                build(staging)
                _replace_folder(staging, target)
            finally:
                _remove(staging)
    except OSError as err:  # a read-only data folder, a full disk: said with the folder and the fix
        said = writing_error(err, target.parent)
        if said is err:
            raise
        raise said from err
    return target


def digest(data: str | bytes | Iterable[bytes | memoryview], length: int | None = None) -> str:
    """The SHA-256 hex digest of ``data`` (text is UTF-8 encoded; chunks, such as arrays' bytes, are hashed in order
    without joining them), cut to ``length`` characters: the course's one key hash (lock names, cache keys,
    fingerprints). TF Hub's cache folder names are TF Hub's own (SHA-1)."""
    hasher = hashlib.sha256()
    for chunk in [data.encode()] if isinstance(data, str) else [data] if isinstance(data, bytes) else data:
        hasher.update(chunk)
    return hasher.hexdigest() if length is None else hasher.hexdigest()[:length]


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB chunks: the course's one file hash."""
    with open(path, "rb") as f:
        return digest(iter(lambda: f.read(chunk), b""))


class ZipError(CourseError, ValueError):
    """A zip archive that is damaged, or one whose members would land outside the folder."""


def check_zip(archive: str | Path, max_unpacked: int = _MAX_UNPACKED) -> None:
    """A readable zip whose members all pass their CRC-32, stay inside the folder, are not encrypted and
    unpack to at most ``max_unpacked`` bytes in all, else :class:`ZipError` (before anything is unpacked)."""
    archive = Path(archive)
    if not zipfile.is_zipfile(archive):
        raise ZipError(f"{archive} is not a zip archive (truncated or not the right file)")
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            name, parts = info.filename, Path(info.filename).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise ZipError(f"{archive}: unsafe member path {name!r}; not extracting it")
            if info.flag_bits & 0x1:  # zipfile would raise a bare RuntimeError ("password required")
                raise ZipError(f"{archive}: member {name!r} is encrypted (password protected); the course does not "
                               "unpack those: get the unencrypted archive from the data set's page")
        unpacked = sum(info.file_size for info in zipped.infolist())  # zipfile never reads past a member's size
        if unpacked > max_unpacked:
            raise ZipError(f"{archive}: it would unpack to {unpacked:,} bytes, more than the {max_unpacked:,} this "
                           "data set needs (a damaged or wrong archive, or a zip bomb); not extracting it: download "
                           "it again from the data set's page")
        try:
            bad = zipped.testzip()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:  # zlib: damaged deflated data
            raise ZipError(f"{archive}: damaged zip ({err})") from err
        if bad is not None:
            raise ZipError(f"{archive}: member {bad!r} fails its CRC-32 check (damaged archive)")


def extract_zip(archive: str | Path, target: str | Path, *, arrange: Callable[[Path], Path] | None = None,
                ready: Callable[[Path], bool] | None = None, max_unpacked: int = _MAX_UNPACKED) -> Path:
    """``target``: the files of ``archive``, extracted once through :func:`build_once`.

    The course's one zip installer. :func:`check_zip` runs first (nothing is written for a damaged
    archive, one with members outside the folder or encrypted, or one that unpacks to more than
    ``max_unpacked`` bytes). ``arrange(staging)`` may then work on the extracted files (it raises to
    refuse them) and returns the folder, ``staging`` or one inside it, that becomes ``target``.
    ``ready`` is :func:`build_once`'s; a ``target`` extracted from another archive (its SHA-256, in its
    manifest, differs) is not ready: a corrected archive replaces it. The archive is only read.
    """
    archive = Path(archive)
    digest = sha256(archive)

    def build(staging: Path) -> None:
        check_zip(archive, max_unpacked)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        _keep_only(staging, arrange)
        write_manifest(staging, "zip extraction", archive=archive.name, sha256=digest)

    def from_this_archive(path: Path) -> bool:
        noted = read_manifest(path, "zip extraction")
        return noted is not None and noted.get("sha256") == digest and (ready or (lambda p: p.exists()))(path)

    return build_once(target, build, ready=from_this_archive)


def _keep_only(staging: Path, arrange: Callable[[Path], Path] | None) -> None:
    """Make ``staging`` hold only the folder ``arrange(staging)`` picks (``staging`` itself when None)."""
    root = Path(arrange(staging)) if arrange is not None else staging
    if root != staging:  # only that folder is put in place
        aside = staging.with_name(staging.name + "-root")
        os.replace(root, aside)
        shutil.rmtree(staging)
        os.replace(aside, staging)


class TarError(CourseError, ValueError):
    """A tar archive that is damaged, unpacks to more than allowed, or holds a member that is not a plain file
    or folder inside the folder."""


def extract_tar(archive: str | Path, target: str | Path, *, max_bytes: int,
                arrange: Callable[[Path], Path] | None = None, ready: Callable[[Path], bool] | None = None) -> Path:
    """``target``: the files of the tar ``archive`` (gzip and the like read too), unpacked once through :func:`build_once`.

    Every member is checked before anything is written: only plain files and folders, each passing
    ``tarfile.data_filter`` (PEP 706: nothing outside the folder), their sizes (a tar member's data is
    exactly its declared size; 512 bytes counted per header) at most ``max_bytes`` in all. Then
    ``extractall(filter="data")`` into the staging folder. ``arrange`` and ``ready`` as in :func:`extract_zip`.
    """
    import gzip
    import tarfile

    def build(staging: Path) -> None:
        try:
            with tarfile.open(archive) as tar:
                members = [tarfile.data_filter(m, str(staging)) for m in tar.getmembers()]
                odd = [m.name for m in members if not (m.isfile() or m.isdir()) or m.issparse()]
                if odd:
                    raise TarError(f"{archive}: member {odd[0]!r} is not a plain file or folder; not extracting it")
                if (total := sum(m.size + 512 for m in members)) > max_bytes:
                    raise TarError(f"{archive} would unpack to {total:,} bytes, more than the {max_bytes:,} allowed "
                                   "for it: not the right file")
                tar.extractall(staging, members=members, filter="data")
        except tarfile.FilterError as err:
            raise TarError(f"{archive}: unsafe member ({err}); not extracting it") from err
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise TarError(f"{archive}: damaged tar archive ({type(err).__name__}: {err})") from err
        _keep_only(staging, arrange)

    return build_once(target, build, ready=ready)
