"""A classroom's shared, read-only data folder (docs/INSTRUCTORS.md, "Classroom"): every read looks there first
(:func:`find_data`), through :func:`check_shared` (owner, modes, the SHA-256 in the instructor's ``SHA256SUMS``,
:func:`write_manifest`); everything a run writes goes to the learner's own ``env.data_dir()``.
"""
from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import env, files

__all__ = ["SHARED_DATA_VAR", "SharedDataError", "check_shared", "describe_data_folders", "find_data",
           "shared_data_dir", "write_manifest"]

SHARED_DATA_VAR = "COURSE_SHARED_DATA_DIR"
_FILL_HINT = (
    "the instructor adds it on a machine that can write there: "
    "`make classroom-data CLASSROOM_DATA=<shared folder>` (both profiles), or "
    "`COURSE_DATA_DIR=<shared folder> PROFILE=full make lessons`"
)
_reported_missing: set[str] = set()


def shared_data_dir() -> Path | None:
    """The classroom's read-only data folder (``$COURSE_SHARED_DATA_DIR``), or ``None``: the course only
    reads there; everything a run writes goes to ``env.data_dir()``."""
    named = os.environ.get(SHARED_DATA_VAR)
    return Path(named) if named else None


def find_data(path: str | Path, what: str | None = None) -> Path:
    """Where to read ``path`` (under ``env.data_dir()``, or relative to it) from: the same place in the shared
    folder when it is there (checked by :func:`check_shared`, which raises for a copy it refuses), else the
    learner's own (which the caller builds or downloads). A path outside the data folder comes back as is. A
    shared folder that lacks it is said once, with how the instructor adds it (``what`` names the thing)."""
    own_root, path = env.data_dir(), Path(path)
    try:
        relative = path.resolve().relative_to(own_root.resolve()) if path.is_absolute() else path
    except ValueError:  # outside the data folder
        return path
    own = own_root / relative
    shared = shared_data_dir()
    if shared is None or own.exists():
        return own
    candidate = shared / relative
    if candidate.exists() or candidate.is_symlink():
        check_shared(candidate)
        return candidate
    if str(candidate) not in _reported_missing:  # said once per shared folder and path
        _reported_missing.add(str(candidate))
        say(f"shared data: {what or relative} is not in the shared folder ({candidate}); this run "
            f"makes its own copy in {own}. To share it, {_FILL_HINT}.")
    return own


# -- the shared folder's manifest: what the instructor placed, by content -------------------------
_MANIFEST = "SHA256SUMS"
_MANIFEST_HINT = "`make classroom-manifest CLASSROOM_DATA={root}` lists the folder's files again"


class SharedDataError(CourseError, RuntimeError):
    """A file in the classroom's shared folder that the course refuses to read."""


def _files_under(folder: Path, root: Path, owners: bool = True) -> list[Path]:
    """Every regular file under ``folder`` (but the manifest), sorted, each entry passed by :func:`_check_entry`."""
    found = []
    for parent, folders, names in os.walk(folder):
        for name in folders + names:
            path = Path(parent) / name
            if stat.S_ISREG(_check_entry(path, root, owners=owners).st_mode) and path != root / _MANIFEST:
                found.append(path)
    return sorted(found)


def _check_entry(path: Path, root: Path, follow: bool = False, owners: bool = True) -> os.stat_result:
    """``path``'s ``os.stat``, or :class:`SharedDataError` when it is not a file or folder (a link, a pipe),
    or (``owners``) when its group or others may write it, or when neither root nor this user owns it."""
    info = os.stat(path) if follow else os.lstat(path)
    mode = stat.S_IMODE(info.st_mode)
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise SharedDataError(f"{path} in the shared folder is neither a file nor a folder (a link?): refused, "
                              f"not read. The instructor removes it, then {_MANIFEST_HINT.format(root=root)}.")
    if not owners:
        return info
    if mode & 0o022:
        who = " and ".join(w for bit, w in ((0o020, "its group"), (0o002, "everyone")) if mode & bit)
        raise SharedDataError(f"{path} is writable by {who} (mode {mode:o}), so others could change what the class "
                              f"reads: refused, not read. To fix it, the instructor runs `chmod -R go-w {root}`.")
    if info.st_uid not in (0, os.geteuid()):
        raise SharedDataError(f"{path} belongs to user id {info.st_uid}, neither root nor you ({os.geteuid()}), who "
                              f"could change it: refused, not read. To fix it: `sudo chown -R root {root}`.")
    return info


def write_manifest(folder: str | Path) -> Path:
    """Write ``<folder>/SHA256SUMS``, one line ``<SHA-256 hex>  <path relative to folder>`` per file (sorted;
    sha256sum's format, so ``cd <folder> && sha256sum -c SHA256SUMS`` checks it by hand). Used by ``make
    classroom-data``; a link, a pipe or a name with a newline or backslash in the folder is refused."""
    root = Path(folder).resolve()
    lines = []
    for path in _files_under(root, root, owners=False):  # before `chmod -R go-w`: modes are not checked here
        name = path.relative_to(root).as_posix()
        if "\\" in name or "\n" in name:
            raise SharedDataError(f"{path}: a name with a newline or backslash cannot go in {_MANIFEST}; rename it")
        lines.append(f"{files.sha256(path)}  {name}\n")
    return files.write_staged(root / _MANIFEST, "".join(lines), mode=0o644)


def _stamp(path: Path, root: Path | None = None) -> tuple[int, int, int]:
    """``path``'s inode, size and modification time: what changes when it is rewritten or changed in place. With
    ``root``, ``path`` is the shared folder's manifest and its owner and modes are checked first."""
    if root is not None and not path.exists():
        raise SharedDataError(f"the shared folder {root} has no manifest ({_MANIFEST}), so nothing there can be "
                              f"checked: refused. The instructor writes it: {_MANIFEST_HINT.format(root=root)}.")
    info = _check_entry(path, root) if root is not None else os.lstat(path)
    return info.st_ino, info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _manifest(root: Path, stamp: tuple[int, int, int]) -> dict[str, str]:
    """The manifest's ``{path: SHA-256}``, read once per ``stamp``: a rewritten manifest is read anew."""
    entries = {}
    for number, line in enumerate((root / _MANIFEST).read_text().splitlines(), 1):
        digest, space, name = line.partition("  ")
        if not (space and name and len(digest) == 64):
            raise SharedDataError(f"{root / _MANIFEST}, line {number}: not `<SHA-256>  <path>`: refused. The "
                                  f"instructor writes it again: {_MANIFEST_HINT.format(root=root)}.")
        entries[name] = digest
    return entries


def check_shared(path: str | Path) -> int:
    """Check ``path`` (a file or a folder: every file under it) in the shared folder before anything reads
    it; the number of files checked, else :class:`SharedDataError` naming the file and the fix.

    The folder, the manifest and every folder from the shared root down to ``path`` must be owned by root
    or this user and not writable by group or others; each file must be in the manifest with its SHA-256;
    a folder must hold exactly the files the manifest lists under it. Cost: the owner and mode checks
    (an ``os.stat`` per file and folder) run on every call; the hashing reads every byte (SHA-256, about 0.5 GB/s
    on one core: about 1 s for 500 MB, plus the disk) again only when a file or the manifest has changed.
    """
    given = Path(os.path.abspath(shared_data_dir()))
    root, path = given.resolve(), Path(os.path.abspath(path))
    relative = next((path.relative_to(top) for top in (given, root) if path.is_relative_to(top)), None)
    if relative is None:
        raise SharedDataError(f"{path} is not in the shared folder {given}")
    _check_entry(root, root, follow=True)
    for depth in range(1, len(relative.parts) + 1):
        _check_entry(root.joinpath(*relative.parts[:depth]), root)
    target = root / relative
    found = _files_under(target, root) if target.is_dir() else [target]  # modes and owners checked on every call
    return _hash_check(root, relative, _stamp(root / _MANIFEST, root), tuple((f, _stamp(f)) for f in found))


@functools.lru_cache(maxsize=256)
def _hash_check(root: Path, relative: Path, stamp: tuple, found: tuple[tuple[Path, tuple], ...]) -> int:
    """:func:`check_shared`'s hashing, cached per path and the manifest's and files' stamps (inode, size,
    modification time: a file changed in place is hashed again); a refusal is not cached."""
    entries, found = _manifest(root, stamp), [file for file, _ in found]
    fix = f"Tell the instructor; to use only your own data meanwhile, unset {SHARED_DATA_VAR}"
    for file in found:
        name = file.relative_to(root).as_posix()
        if name not in entries:
            raise SharedDataError(f"{file} is not in the shared folder's manifest ({root / _MANIFEST}): refused, "
                                  f"not read. {fix}; if the instructor placed it, {_MANIFEST_HINT.format(root=root)}.")
        if files.sha256(file) != entries[name]:
            raise SharedDataError(f"{file} differs from the SHA-256 in the shared folder's manifest (changed "
                                  f"since it was placed): refused, not read. {fix}.")
    prefix = "" if not relative.parts else relative.as_posix() + "/"
    listed = {name for name in entries if name.startswith(prefix) or name == relative.as_posix()}
    missing = sorted(listed - {file.relative_to(root).as_posix() for file in found})
    if missing:
        raise SharedDataError(f"{root / missing[0]} is in the shared folder's manifest but missing: refused. {fix}.")
    return len(found)


def describe_data_folders() -> str:
    """One line for the banner: the learner's folder, and what was found about the shared one if any."""
    text = f"{env.data_dir()} (yours, written)"
    shared = shared_data_dir()
    if shared is None:
        return text
    if not shared.is_dir():
        return text + f"; shared: {shared} (MISSING)"
    try:
        _check_entry(root := shared.resolve(), root, follow=True)
        count = len(_manifest(root, _stamp(root / _MANIFEST, root)))
    except SharedDataError as err:
        return text + f"; shared: {shared} REFUSED: {err}"
    access = "writable by you" if os.access(shared, os.W_OK) else "read only"
    return text + (f"; shared: {shared}, checked: {count} files in the manifest (owner and modes checked, "
                   f"each file hashed when first read), {access}")
