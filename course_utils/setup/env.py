"""Process environment for the course: Keras 2, cache folders, seeds, device.

TF Hub layers only work with the Keras 2 API (the `tf_keras` package). In
TensorFlow 2.16 and later `tf.keras` is Keras 3 unless the environment
variable ``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is imported.
This module sets it (``course_utils`` imports it first thing) and refuses to
go on, with a one-line message, when TensorFlow is already running Keras 3.
"""
from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from course_utils.errors import CourseError

LEGACY_KERAS_VAR = "TF_USE_LEGACY_KERAS"

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


def project_root() -> Path:
    """The folder the course writes under: the checkout, or the learner's ``course_data/``.

    From a checkout: the checkout (``data/`` and ``build/`` live there). From
    an installed package (``pip install``, as on Colab) ``site-packages`` is no
    place for a learner's files: ``$COURSE_DATA_DIR`` if set, else
    ``course_data/`` in the working directory (on Colab ``/content/course_data``,
    shown in the file browser).
    """
    root = checkout_root()
    if root is not None:
        return root
    named = os.environ.get("COURSE_DATA_DIR")
    return Path(named).resolve() if named else Path.cwd().resolve() / LEARNER_FOLDER


def data_dir() -> Path:
    """Where downloads and caches live: ``$COURSE_DATA_DIR`` if set; else ``<checkout>/data``; else, for an
    installed package, ``./course_data`` (see :func:`project_root`). (Run records: ``build/records``.)"""
    named, root = os.environ.get("COURSE_DATA_DIR"), checkout_root()
    return Path(named) if named else root / "data" if root is not None else project_root()


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
    """Where to read ``path`` (a path under :func:`data_dir`, or relative to it) from.

    The one resolver every module uses: the same place in the shared folder when it
    exists there, else the learner's own path (which the caller builds or downloads,
    as without a shared folder). A path outside the data folder is returned as is.
    When a shared folder is set but lacks the file, one message names it and says how
    the instructor adds it (``what`` names the thing in that message).
    """
    own_root = data_dir()
    path = Path(path)
    relative = path if not path.is_absolute() else None
    if relative is None:
        try:
            relative = path.resolve().relative_to(own_root.resolve())
        except ValueError:
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


def use_legacy_keras() -> None:
    """Ask TensorFlow for Keras 2; a no-op when it is set already."""
    os.environ[LEGACY_KERAS_VAR] = "1"


def keras_flavour() -> str:
    """``"keras2"`` or ``"keras3"``: what ``tf.keras`` is in this process (imports TensorFlow: call it after
    :func:`use_legacy_keras`)."""
    import tensorflow as tf

    return "keras2" if tf.keras.layers.Layer.__module__.startswith("tf_keras") else "keras3"


def check_keras2() -> None:
    """Raise :class:`KerasVersionError` when ``tf.keras`` is Keras 3 here."""
    if keras_flavour() != "keras2":
        raise KerasVersionError(RESTART_MESSAGE)


def keras_version() -> str:
    import tf_keras

    return tf_keras.__version__


def set_cache_dirs(tfhub: Path, tfds: Path, keras_home: Path) -> dict[str, str]:
    """Point TF Hub, TFDS and Keras at folders under the project (never /tmp)."""
    values = {"TFHUB_CACHE_DIR": tfhub, "TFDS_DATA_DIR": tfds, "KERAS_HOME": keras_home}
    for key, path in values.items():
        Path(path).mkdir(parents=True, exist_ok=True)
        os.environ[key] = str(path)
    return {k: str(v) for k, v in values.items()}


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


def _is_ip_literal(name) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(str(name).split("%")[0])
        return True
    except ValueError:
        return False


class NetworkBlockedError(CourseError, OSError):
    """Raised by the offline guard when code tries to reach a remote host."""


def block_network() -> None:
    """Refuse every connection except to this machine (used by the tests).

    ``COURSE_OFFLINE=1`` turns it on at import time, so notebook kernels that
    the tests start are guarded as well as the test process itself.
    """
    if getattr(socket.socket.connect, "_course_guard", False):
        return
    original = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (
            host in ("localhost", "::1", "") or host.startswith("127.") or host.startswith("/")
        ):
            return original(self, address)
        if self.family == getattr(socket, "AF_UNIX", None):
            return original(self, address)
        raise NetworkBlockedError(
            f"offline guard: refused a connection to {address!r}; the quick profile "
            "and the tests must never need the network"
        )

    original_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name in ("localhost", "") or _is_ip_literal(name):
            return original_getaddrinfo(host, *args, **kwargs)  # no lookup leaves the machine
        raise NetworkBlockedError(
            f"offline guard: refused to look up {name!r}; the quick profile and the tests must never need the network"
        )

    guarded_connect._course_guard = True
    socket.socket.connect = guarded_connect
    socket.getaddrinfo = guarded_getaddrinfo


def tensorflow_imported() -> bool:
    return "tensorflow" in sys.modules
