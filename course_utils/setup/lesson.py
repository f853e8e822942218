"""The one setup call every notebook makes: profile, caches, seeds, banner, record."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from course_utils.course import report
from course_utils.messages import say
from course_utils.setup import classroom, compat, env
from course_utils.setup.profiles import Settings, lesson_settings

__all__ = ["start_lesson"]


def _cache_dirs(profile: str) -> dict[str, Path]:
    """Where TF Hub, TFDS and Keras keep their files for ``profile``, by the variable that tells each.

    Under the data folder; ``quick`` under its ``quick/``, so a locally built
    stand-in can never be mistaken for the real model or data set.
    """
    base = env.data_dir() / "quick" if profile == "quick" else env.data_dir()
    return {"TFHUB_CACHE_DIR": base / "tfhub", "TFDS_DATA_DIR": base / "tfds", "KERAS_HOME": base / "keras"}


def _use_cache_dirs(profile: str) -> None:
    """Create :func:`_cache_dirs` and point TF Hub, TFDS and Keras at them (never /tmp)."""
    for variable, folder in _cache_dirs(profile).items():
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[variable] = str(folder)


# Where a container's memory limit is written: cgroup v2, then v1 (Binder's pods have one).
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def _memory_limit_mb(paths=_CGROUP_LIMITS) -> float | None:
    """The memory this machine's container lets the kernel use, in MB; None when unlimited or unknown."""
    for path in paths:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        return int(text) / 2**20 if text.isdigit() and int(text) < 2**60 else None
    return None


def _memory_warning(cfg: Settings, limit_mb: float | None) -> str | None:
    """What to do when the lesson's measured peak (``peak_memory_mb``, profiles.py) will not fit ``limit_mb``."""
    need = cfg.get("peak_memory_mb")
    if not need or not limit_mb or need < 0.9 * limit_mb:
        return None
    return (f"this lesson's {cfg.profile} profile peaks at about {need:,} MB of memory (the runner measured it) and "
            f"this machine gives the kernel {limit_mb:,.0f} MB, so it may die midway ('Kernel died'). Binder gives "
            "about 2 GB: open this lesson on Colab (its badge) or run it on your own machine.")


def _banner(cfg: Settings, versions: dict[str, str]) -> str:
    lines = [
        f"Lesson {cfg.lesson}: {cfg.title}",
        f"  profile     : {cfg.profile}"
        + ("  (offline stand-ins; figures prove the code, they are NOT the lesson's results)"
           if cfg.profile == "quick" else "  (the lesson as taught: real data and weights)"),
        f"  data        : {cfg.data}",
        f"  data folders: {classroom.describe_data_folders()}",
        f"  weights     : {cfg.weights}",
        f"  TensorFlow  : {versions['tensorflow']}   Keras: {versions['keras']}"
        + (f"   tf_keras: {versions['tf_keras']} (for hub.KerasLayer)" if "tf_keras" in versions else ""),
        f"  device      : {versions['device']}",
    ]
    return "\n".join(lines)


def start_lesson(lesson: str, profile: str | None = None, **overrides: Any) -> Settings:
    """Resolve the profile and settings, prepare caches and seeds, print the banner.

    ``profile`` is the notebook's ``PROFILE`` parameter (``None`` reads
    ``$COURSE_PROFILE``, else ``full``). Keyword overrides that are ``None``
    keep the profile's value. Returns the lesson's :class:`Settings`.
    """
    cfg = lesson_settings(lesson, profile, **overrides)
    if os.environ.get("COURSE_OFFLINE") == "1":  # where no offline sitecustomize ran first (the Colab check,
        env.block_network()  # the grader's kernel): the lesson's own code still cannot reach the network
    _use_cache_dirs(cfg.profile)
    for warning in compat.check_stack(hub=lesson in compat.HUB_LESSONS):  # a missing package gets its message
        say(f"warning: {warning}")

    import keras
    import tensorflow as tf

    env.set_seeds(cfg.get("seed", 0), deterministic=cfg.deterministic)
    versions = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        **({"tf_keras": compat.installed("tf-keras") or "not installed"} if lesson in compat.HUB_LESSONS else {}),
        "device": env.describe_device(),
    }
    print(_banner(cfg, versions))  # the lesson's banner: a table of its own
    if warning := _memory_warning(cfg, _memory_limit_mb()):
        say(f"warning: {warning}")
    report.begin(lesson, {**{key: cfg[key] for key in ("title", "profile", "data", "weights")}, **versions})
    return cfg
