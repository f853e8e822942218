"""Process environment for the course: cache folders, seeds, device, the offline guard.

The lessons run on Keras 3 (``import keras``, TensorFlow backend); the TF Hub
lessons build their hub models with ``tf_keras`` imported explicitly. No
environment variable chooses between them, and importing ``course_utils``
changes none.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from course_utils.errors import CourseError

__all__ = ["NetworkBlockedError", "block_network", "checkout_root", "data_dir", "describe_device", "environment",
           "keras_home", "offline_environment", "set_seeds"]

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
