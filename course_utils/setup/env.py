"""Process environment for the course: Keras 2, cache folders, seeds, device.

TF Hub layers only work with the Keras 2 API (the `tf_keras` package). In
TensorFlow 2.16 and later `tf.keras` is Keras 3 unless the environment
variable ``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is imported.
Importing ``course_utils`` sets it, and :func:`check_keras2` refuses to go
on, with a one-line message, when TensorFlow is already running Keras 3.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from course_utils.errors import CourseError

RESTART_MESSAGE = (
    "TensorFlow was already imported with Keras 3, but this course needs Keras 2 "
    "(tf_keras) for TF Hub layers: restart the kernel and run the notebook from "
    "the first cell (it sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported)."
)


class KerasVersionError(CourseError, RuntimeError):
    """TensorFlow runs Keras 3 in this process; only a kernel restart fixes it."""


LEARNER_FOLDER = "course_data"


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
    return root / "data" if root is not None else Path.cwd().resolve() / LEARNER_FOLDER


def keras_home() -> Path:
    """``$KERAS_HOME`` (``start_lesson`` sets it), else ``<data>/keras``: never ``~/.keras``.

    The one place the course asks where Keras keeps ``models/`` and ``datasets/``.
    """
    named = os.environ.get("KERAS_HOME")
    return Path(named) if named else data_dir() / "keras"


# -- a classroom's shared, read-only data folder (docs/INSTRUCTORS.md, "Classroom") ------------
SHARED_DATA_VAR = "COURSE_SHARED_DATA_DIR"
FILL_HINT = (
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
    folder when it is there, else the learner's own (which the caller builds or downloads). A path outside
    the data folder comes back as is. A shared folder that lacks it is said once, with how the instructor
    adds it (``what`` names the thing)."""
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
    if candidate.exists():
        return candidate
    if str(relative) not in _reported_missing:
        _reported_missing.add(str(relative))
        print(f"shared data: {what or relative} is not in the shared folder ({candidate}); this run "
              f"makes its own copy in {own}. To share it, {FILL_HINT}.", flush=True)
    return own


def describe_data_folders() -> str:
    """One line for the banner: the learner's folder, and the shared one if any."""
    text = f"{data_dir()} (yours, written)"
    shared = shared_data_dir()
    if shared is not None:
        text += f"; shared, read only: {shared}" + ("" if shared.is_dir() else " (MISSING)")
    return text


def check_keras2() -> None:
    """Raise :class:`KerasVersionError` when ``tf.keras`` is Keras 3 in this process (imports TensorFlow)."""
    import tensorflow as tf

    if not tf.keras.layers.Layer.__module__.startswith("tf_keras"):
        raise KerasVersionError(RESTART_MESSAGE)


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
    """Seed Python, NumPy and TensorFlow in one call; optionally use deterministic kernels only."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
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
    """Refuse every connection and name lookup that would leave this machine (used by the tests).

    ``COURSE_OFFLINE=1`` turns it on at import time, so notebook kernels that
    the tests start are guarded as well as the test process itself.
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
