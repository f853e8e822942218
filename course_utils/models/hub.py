"""TF Hub handles: where they are cached, and locally built stand-ins for the quick profile.

``hub.KerasLayer(handle)`` resolves a URL handle to
``$TFHUB_CACHE_DIR/<sha1 of the handle>``: if that folder holds a SavedModel,
no download happens. The quick profile builds a small image feature-vector
SavedModel there, with the real module's signature (float32 images in [0, 1],
``[batch, height, width, 3]`` -> ``[batch, dim]``) and its variables exposed,
so the lesson's ``hub.KerasLayer(url, ...)`` line runs unchanged and offline.
The quick profile uses its own cache folder, so a stand-in never shadows a
real download.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.setup import classroom, profiles
from course_utils.setup.files import build_once, read_manifest, write_manifest

__all__ = ["HubCacheError", "cache_key", "is_cached", "prepare_handle"]

_KIND = "tf hub stand-in"  # the manifest of a cache folder holding a locally built stand-in SavedModel
_OLD_MARKER = "COURSE_STAND_IN.txt"  # a stand-in's mark up to v0.2.0: read (never written), so none passes as real


class HubCacheError(CourseError, RuntimeError):
    """The TF Hub cache is not set up for the requested operation."""


def _cache_dir() -> Path:
    value = os.environ.get("TFHUB_CACHE_DIR")
    if not value:
        raise HubCacheError(
            "TFHUB_CACHE_DIR is not set: call start_lesson(...) first, or set it to a folder "
            "under the project's data/ directory"
        )
    return Path(value)


def cache_key(handle: str) -> str:
    """The folder name TF Hub uses for ``handle``: the SHA-1 of the handle string."""
    return hashlib.sha1(handle.encode("utf-8")).hexdigest()


def _cache_path(handle: str) -> Path:
    return _cache_dir() / cache_key(handle)


def is_cached(handle: str) -> bool:
    return (_cache_path(handle) / "saved_model.pb").exists()


def _is_stand_in(handle: str) -> bool:
    return read_manifest(_cache_path(handle), _KIND) is not None or (_cache_path(handle) / _OLD_MARKER).is_file()


class _FeatureVector(tf.Module):
    """Two random strided convolutions, global pooling, a projection to ``dim``.

    Untrained, but it keeps colour and coarse texture statistics, so classes
    that differ in those stay separable for a linear head.
    """

    def __init__(self, dim: int, seed: int):
        super().__init__(name="stand_in_feature_vector")
        rng = np.random.default_rng(seed)
        self.conv1 = tf.Variable(rng.normal(0, 0.5, (3, 3, 3, 16)).astype("float32"), name="conv1")
        self.conv2 = tf.Variable(rng.normal(0, 0.15, (3, 3, 16, 32)).astype("float32"), name="conv2")
        self.proj = tf.Variable(rng.normal(0, 0.3, (3 + 16 + 32, dim)).astype("float32"), name="proj")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        h1 = tf.nn.relu(tf.nn.conv2d(images, self.conv1, 2, "SAME"))
        h2 = tf.nn.relu(tf.nn.conv2d(h1, self.conv2, 2, "SAME"))
        pooled = tf.concat(
            [
                tf.reduce_mean(images, axis=[1, 2]) * 4.0,
                tf.reduce_mean(h1, axis=[1, 2]),
                tf.reduce_mean(h2, axis=[1, 2]),
            ],
            axis=-1,
        )
        return tf.nn.relu(tf.matmul(pooled, self.proj))


def _build_feature_vector(path: str | Path, dim: int, seed: int = 0, note: str = "") -> Path:
    """Save a TF Hub-format image feature-vector SavedModel at ``path``.

    The module exposes ``__call__``, ``variables``, ``trainable_variables``
    and ``regularization_losses``, so ``hub.KerasLayer(path, trainable=True)``
    sees its weights.
    """
    path = Path(path)
    module = _FeatureVector(dim, seed)
    root = tf.train.Checkpoint()
    root.module = module
    root.__call__ = module.__call__
    root.variables = list(module.variables)
    root.trainable_variables = list(module.trainable_variables)
    root.regularization_losses = []
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # no "Assets written to ..." lines in the notebook
    try:
        tf.saved_model.save(root, str(path))
    finally:
        logger.setLevel(level)
    write_manifest(path, _KIND, dim=dim, seed=seed,
                   note=f"Locally built stand-in (random weights, output dim {dim}, seed {seed}). {note} "
                   "Not a pretrained model: the course's quick profile uses it to run offline.")
    return path


def _install_stand_in(handle: str, dim: int, seed: int = 0) -> Path:
    """Build (once) a stand-in for ``handle`` in the TF Hub cache; returns its folder.

    Refuses to write into a cache that holds a real download of that handle.
    """
    target = _cache_path(handle)
    _link_shared(handle)
    if is_cached(handle):
        if _is_stand_in(handle):
            return target
        raise HubCacheError(
            f"{target} holds a real download of {handle}; the quick profile keeps its stand-ins "
            "in data/quick/tfhub - check TFHUB_CACHE_DIR"
        )
    # One process builds it (cross-process lock); the others wait and reuse it.
    return build_once(target, lambda staging: _build_feature_vector(staging, dim, seed, note=f"Stands in for {handle}."),
                      ready=lambda path: (path / "saved_model.pb").exists())


def _link_shared(handle: str) -> Path | None:
    """Make the classroom's shared copy of ``handle`` (if any) the one TF Hub loads.

    TF Hub reads one cache folder, the learner's writable one; when the shared folder
    (``classroom.find_data``) holds the module and the learner's cache does not, a symbolic
    link to it is placed there (nothing is written in the shared folder). Every file of
    the shared module is checked against the shared folder's manifest (``classroom.check_shared``)
    before TF Hub can load it, in every process, also through a link an earlier run placed.
    """
    target = _cache_path(handle)
    if target.is_symlink():
        linked, shared = Path(os.readlink(target)), classroom.shared_data_dir()
        if shared is None or not linked.is_relative_to(shared.resolve()):
            raise HubCacheError(f"{target} links to {linked}, which is not in the shared folder "
                                f"({classroom.SHARED_DATA_VAR}={shared}): delete that link and run again")
        classroom.check_shared(linked)
        return target
    if (target / "saved_model.pb").exists():
        return None
    found = classroom.find_data(target, what=f"the TF Hub module {handle}")
    if found == target or not (found / "saved_model.pb").exists():
        return None
    return build_once(target, lambda staging: staging.symlink_to(found.resolve(), target_is_directory=True),
                      ready=lambda path: (path / "saved_model.pb").exists())


def prepare_handle(handle: str, source: str, dim: int, seed: int = 0) -> str:
    """Make ``handle`` loadable for the profile's ``source`` and say what will load.

    ``source="real"``: TF Hub downloads it on first use into the cache
    (tfhub.dev handles now redirect to Kaggle Models; the cache key is the
    same). ``source="stand-in"``: a local stand-in is built under the handle.
    """
    profiles.check_source(source, f"the TF Hub module {handle}")
    if source == "stand-in":
        _install_stand_in(handle, dim, seed)
        say(f"TF Hub {handle}\n  -> local stand-in at {_cache_path(handle)} (random weights, {dim}-d output)")
    else:
        _link_shared(handle)
        if _is_stand_in(handle):
            raise HubCacheError(
                f"{_cache_path(handle)} holds a locally built stand-in, not the real {handle}: delete that "
                "folder (the quick profile keeps its stand-ins in data/quick/tfhub)"
            )
        state = "cached" if is_cached(handle) else "will download on first use (needs the internet once)"
        say(f"TF Hub {handle}\n  -> {_cache_path(handle)} ({state})")
    return handle
