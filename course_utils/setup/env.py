"""Process environment for the course: cache folders, seeds, device, the offline guard.

The lessons run on Keras 3 (``import keras``, TensorFlow backend); the TF Hub
lessons build their hub models with ``tf_keras`` imported explicitly. No
environment variable chooses between them, and importing ``course_utils``
changes none.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import stat
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from course_utils.errors import CourseError

__all__ = ["NetworkBlockedError", "SHARED_DATA_VAR", "SharedDataError", "block_network", "check_shared", "checkout_root",
           "data_dir", "describe_data_folders", "describe_device", "environment", "find_data", "keras_home",
           "offline_environment", "set_seeds", "shared_data_dir", "write_manifest"]

_LEARNER_FOLDER = "course_data"


def checkout_root() -> Path | None:
    """The course checkout that holds this ``course_utils``, or ``None`` for an installed package.

    A checkout (also an editable install of one) has ``pyproject.toml`` and
    ``notebooks/`` beside the package; ``site-packages`` has neither.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    return None


def data_dir() -> Path:
    """Where the course writes: ``$COURSE_DATA_DIR`` if set; else ``<checkout>/data``; else, for an installed
    package (``pip install``, as on Colab: ``site-packages`` is no place for a learner's files), ``course_data/``
    in the working directory (on Colab ``/content/course_data``, shown in the file browser)."""
    named, root = os.environ.get("COURSE_DATA_DIR"), checkout_root()
    if named:
        return Path(named)
    return root / "data" if root is not None else Path.cwd().resolve() / _LEARNER_FOLDER


def keras_home() -> Path:
    """``$KERAS_HOME`` (``start_lesson`` sets it), else ``<data>/keras``: never ``~/.keras``.

    The one place the course asks where Keras keeps ``models/`` and ``datasets/``.
    """
    named = os.environ.get("KERAS_HOME")
    return Path(named) if named else data_dir() / "keras"


# -- a classroom's shared, read-only data folder (docs/INSTRUCTORS.md, "Classroom") ------------
SHARED_DATA_VAR = "COURSE_SHARED_DATA_DIR"
_FILL_HINT = (
    "the instructor adds it on a machine that can write there: "
    "`make classroom-data CLASSROOM_DATA=<shared folder>` (both profiles), or "
    "`COURSE_DATA_DIR=<shared folder> PROFILE=full make lessons`"
)
_reported_missing: set[str] = set()


def shared_data_dir() -> Path | None:
    """The classroom's read-only data folder (``$COURSE_SHARED_DATA_DIR``), or ``None``: the course only
    reads there; everything a run writes goes to :func:`data_dir`."""
    named = os.environ.get(SHARED_DATA_VAR)
    return Path(named) if named else None


def find_data(path: str | Path, what: str | None = None) -> Path:
    """Where to read ``path`` (under :func:`data_dir`, or relative to it) from: the same place in the shared
    folder when it is there (checked by :func:`check_shared`, which raises for a copy it refuses), else the
    learner's own (which the caller builds or downloads). A path outside the data folder comes back as is. A
    shared folder that lacks it is said once, with how the instructor adds it (``what`` names the thing)."""
    own_root, path = data_dir(), Path(path)
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
    if str(relative) not in _reported_missing:
        _reported_missing.add(str(relative))
        print(f"shared data: {what or relative} is not in the shared folder ({candidate}); this run "
              f"makes its own copy in {own}. To share it, {_FILL_HINT}.", flush=True)
    return own


# -- the shared folder's manifest: what the instructor placed, by content -------------------------
_MANIFEST = "SHA256SUMS"
_MANIFEST_HINT = "`make classroom-manifest CLASSROOM_DATA={root}` lists the folder's files again"


class SharedDataError(CourseError, RuntimeError):
    """A file in the classroom's shared folder that the course refuses to read."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
        lines.append(f"{_sha256(path)}  {name}\n")
    staging = root / f".{_MANIFEST}.{os.getpid()}.part"
    staging.write_text("".join(lines))
    staging.chmod(0o644)
    os.replace(staging, root / _MANIFEST)
    return root / _MANIFEST


_manifests: dict[Path, dict[str, str]] = {}
_checked: dict[Path, int] = {}


def _manifest(root: Path) -> dict[str, str]:
    """The manifest of the shared folder ``root`` (its owner and modes checked), read once per process."""
    path = root / _MANIFEST
    if not path.exists():
        raise SharedDataError(f"the shared folder {root} has no manifest ({_MANIFEST}), so nothing there can be "
                              f"checked: refused. The instructor writes it: {_MANIFEST_HINT.format(root=root)}.")
    _check_entry(path, root)
    if root not in _manifests:
        entries = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            digest, space, name = line.partition("  ")
            if not (space and name and len(digest) == 64):
                raise SharedDataError(f"{path}, line {number}: not `<SHA-256>  <path>`: refused. The instructor "
                                      f"writes it again: {_MANIFEST_HINT.format(root=root)}.")
            entries[name] = digest
        _manifests[root] = entries
    return _manifests[root]


def check_shared(path: str | Path) -> int:
    """Check ``path`` (a file or a folder: every file under it) in the shared folder before anything reads
    it; the number of files checked, else :class:`SharedDataError` naming the file and the fix.

    The folder, the manifest and every folder from the shared root down to ``path`` must be owned by root
    or this user and not writable by group or others; each file must be in the manifest with its SHA-256;
    a folder must hold exactly the files the manifest lists under it. Cost: the owner and mode checks
    (a few ``os.stat``) run on every call; the hashing reads every byte (SHA-256, about 0.5 GB/s on one
    core, so about 1 s for a 500 MB folder, plus reading it from disk) once per process and path.
    """
    given = Path(os.path.abspath(shared_data_dir()))
    root, path = given.resolve(), Path(os.path.abspath(path))
    relative = next((path.relative_to(top) for top in (given, root) if path.is_relative_to(top)), None)
    if relative is None:
        raise SharedDataError(f"{path} is not in the shared folder {given}")
    _check_entry(root, root, follow=True)
    for depth in range(1, len(relative.parts) + 1):
        _check_entry(root.joinpath(*relative.parts[:depth]), root)
    entries, target = _manifest(root), root / relative
    if target in _checked:
        return _checked[target]
    fix = f"Tell the instructor; to use only your own data meanwhile, unset {SHARED_DATA_VAR}"
    found = _files_under(target, root) if target.is_dir() else [target]
    for file in found:
        name = file.relative_to(root).as_posix()
        if name not in entries:
            raise SharedDataError(f"{file} is not in the shared folder's manifest ({root / _MANIFEST}): refused, "
                                  f"not read. {fix}; if the instructor placed it, {_MANIFEST_HINT.format(root=root)}.")
        if _sha256(file) != entries[name]:
            raise SharedDataError(f"{file} differs from the SHA-256 in the shared folder's manifest (changed "
                                  f"since it was placed): refused, not read. {fix}.")
    prefix = "" if not relative.parts else relative.as_posix() + "/"
    listed = {name for name in entries if name.startswith(prefix) or name == relative.as_posix()}
    missing = sorted(listed - {file.relative_to(root).as_posix() for file in found})
    if missing:
        raise SharedDataError(f"{root / missing[0]} is in the shared folder's manifest but missing: refused. {fix}.")
    _checked[target] = len(found)
    return len(found)


def describe_data_folders() -> str:
    """One line for the banner: the learner's folder, and what was found about the shared one if any."""
    text = f"{data_dir()} (yours, written)"
    shared = shared_data_dir()
    if shared is None:
        return text
    if not shared.is_dir():
        return text + f"; shared: {shared} (MISSING)"
    try:
        _check_entry(shared.resolve(), shared.resolve(), follow=True)
        count = len(_manifest(shared.resolve()))
    except SharedDataError as err:
        return text + f"; shared: {shared} REFUSED: {err}"
    access = "writable by you" if os.access(shared, os.W_OK) else "read only"
    return text + (f"; shared: {shared}, checked: {count} files in the manifest (owner and modes checked, "
                   f"each file hashed when first read), {access}")


@contextmanager
def environment(values: Mapping[str, str], *, keep_set: bool = False) -> Iterator[None]:
    """``values`` in ``os.environ`` for the ``with`` block (processes started there inherit them), then the
    environment as it was. ``keep_set``: a variable already set keeps its value."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: value for key, value in values.items() if not (keep_set and key in os.environ)})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def set_seeds(seed: int = 0, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras in one call; optionally use deterministic kernels only.

    Keras 3's call seeds Python, NumPy and TensorFlow. Where ``tf_keras`` is imported (the TF Hub
    lessons), its own call too: once anything has called it, tf_keras layers draw their seeds from a
    generator of its own, which Keras 3's call leaves where it was (tests/test_env.py)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if "tf_keras" in sys.modules:
        sys.modules["tf_keras"].utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def describe_device() -> str:
    """A short text: the GPUs TensorFlow sees, or that it runs on the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU x{len(gpus)} ({', '.join(g.name for g in gpus)})"
    return f"CPU only ({os.cpu_count()} cores) - no GPU visible to TensorFlow"


class NetworkBlockedError(CourseError, OSError):
    """Raised by the offline guard when code tries to reach a remote host."""


def _ip_address(host):
    """``host`` as an IP address (``"127.0.0.1"``, ``"fe80::1%eth0"``), or ``None`` for a name."""
    try:
        return ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return None


def block_network() -> None:
    """Refuse every connection and name lookup that would leave this machine, in this process.

    The tests install it (``tests/conftest.py``); a new Python process gets it from its first line through
    :func:`offline_environment` (the runner's and nbval's quick-profile kernels). Importing ``course_utils``
    does not install it.
    """
    if getattr(socket.getaddrinfo, "_course_guard", False):
        return
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def refuse(what: str):
        raise NetworkBlockedError(f"offline guard: refused {what}; the quick profile and the tests must never need "
                                  "the network")

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else None  # None: a local (AF_UNIX) socket's path
        if host not in (None, "localhost", "") and not getattr(_ip_address(host), "is_loopback", False):
            refuse(f"a connection to {address!r}")
        return connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in (None, "", "localhost") and _ip_address(name) is None:  # an address: no lookup leaves
            refuse(f"to look up {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    guarded_getaddrinfo._course_guard = True
    socket.socket.connect = guarded_connect
    socket.getaddrinfo = guarded_getaddrinfo


_OFFLINE_SITE = Path(__file__).resolve().parent / "offline"  # holds the sitecustomize.py that calls block_network


def offline_environment(pythonpath: str | None = None) -> dict[str, str]:
    """The variables that make a new Python process (a notebook kernel, and whatever it starts) refuse the
    network from its first line: ``COURSE_OFFLINE=1`` and :data:`_OFFLINE_SITE` first on ``PYTHONPATH``
    (before ``pythonpath``, default ``$PYTHONPATH``), whose ``sitecustomize`` calls :func:`block_network`."""
    rest = os.environ.get("PYTHONPATH", "") if pythonpath is None else pythonpath
    others = [entry for entry in rest.split(os.pathsep) if entry and entry != str(_OFFLINE_SITE)]
    return {"COURSE_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(_OFFLINE_SITE), *others])}
