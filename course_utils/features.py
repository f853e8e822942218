"""The feature cache: a frozen extractor's features computed once, kept on disk, read again.

A frozen extractor gives the same features for the same images every time, so the
lessons compute them once, in sight, and train the head on them::

    features = extractor.predict(batches)
    head.fit(features, labels, ...)

:func:`cached_predict` is that call, kept: the first call runs ONE ``extractor.predict``
over the caller's batches (decoded and preprocessed already) and stores the features
and the labels as ``.npy`` files; a later call under the same key reads them back
(memory-mapped) without running the extractor::

    features, labels = cached_predict(extractor, batches, key="flowers train, 224 px, [-1, 1]")

An entry's key is the caller's ``key`` (it names the data and its preprocessing), the
batches' element spec and count (when ``tf.data`` knows it), the extractor's
architecture (``to_json()``, layer names replaced by their position, so Keras's
auto-numbered names do not matter) and a SHA-256 of its weights (``get_weights()``).
The data are NOT read a second time to fingerprint them: that pass would cost as much
as decoding them again.

Refused, because public APIs can check it: an extractor with trainable weights (its
features change while the model trains) and an extractor holding a Keras random
preprocessing layer (``RandomFlip``, ``RandomRotation``, ..., ``GaussianNoise``: it was built to augment).
Not caught: augmentation inside the ``tf.data`` pipeline, so change ``key`` whenever the pipeline changes.

Entries are written through :func:`course_utils.setup.files.build_once`: of several processes
asking at once one computes, and a run killed mid-write leaves nothing that is trusted.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_utils.errors import CourseError
from course_utils.setup import env, files

FEATURES, LABELS, ABOUT = "features.npy", "labels.npy", "key.json"


class FeatureCacheError(CourseError, RuntimeError):
    """The feature cache cannot be used as asked."""


class AugmentationError(FeatureCacheError):
    """The extractor holds a random layer: its features are not the ones training sees."""


class BackboneNotFrozenError(FeatureCacheError):
    """The extractor still has trainable weights, so its features change while training."""


def _names(layer) -> list[str]:
    """The names of ``layer``, its inputs and every layer nested in it (public ``.layers``, ``input_names``)."""
    inner = [name for sub in getattr(layer, "layers", ()) for name in _names(sub)]
    return [layer.name, *(getattr(layer, "input_names", None) or ()), *inner]


def random_layers(extractor) -> list:
    """The random layers in ``extractor`` and every layer nested in it: ``GaussianNoise``, and every class
    named ``Random...`` (Keras's ``RandomFlip``, ``RandomZoom``, ..., the course's own ``RandomShear``)."""
    return [layer for layer in [extractor, *getattr(extractor, "submodules", ())]
            if isinstance(layer, tf.keras.layers.GaussianNoise) or type(layer).__name__.startswith("Random")]


def check_extractor(extractor) -> None:
    """Refuse an extractor whose features are not fixed: trainable weights, or a random layer."""
    name = getattr(extractor, "name", type(extractor).__name__)
    trainable = getattr(extractor, "trainable_weights", [])
    if trainable:
        raise BackboneNotFrozenError(
            f"the extractor {name!r} has {len(trainable)} trainable weight tensors, so its features "
            "change while training; freeze it first (extractor.trainable = False) or train the whole "
            "model on images")
    for layer in random_layers(extractor):
        raise AugmentationError(
            f"{type(layer).__name__} layer {layer.name!r} is inside the extractor {name!r}: it augments "
            "the images while training, so features computed once are not the ones training sees. "
            "Train the whole model on images, or cache the features of an extractor without it.")


def _canonical(value, names: dict[str, str]):
    """``value`` (a parsed config) with every layer name replaced by its position in ``names``."""
    if isinstance(value, dict):
        return {key: _canonical(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item, names) for item in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


def architecture_digest(extractor) -> str:
    """SHA-256 of ``extractor.to_json()`` (else ``get_config()``), layer names replaced by positions."""
    try:
        config = json.loads(extractor.to_json())
    except (AttributeError, NotImplementedError):
        config = {"class": type(extractor).__name__, "config": extractor.get_config()}
    names: dict[str, str] = {}
    for name in _names(extractor):
        names.setdefault(name, f"<layer {len(names)}>")
    text = json.dumps(_canonical(config, names), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def weights_digest(extractor) -> str:
    """SHA-256 over every weight's shape, dtype and bytes, in ``get_weights()`` order."""
    digest = hashlib.sha256()
    weights = extractor.get_weights()
    for array in weights:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(memoryview(array).cast("B"))  # pragma: no mutate (a signed view hashes the same bytes)
    digest.update(f"n={len(weights)}".encode())
    return digest.hexdigest()


def data_spec(batches, labels=None) -> str:
    """What the key knows of the data without reading it: shapes, dtypes, count when known."""
    def shapes(spec):
        return [(s.shape.as_list(), s.dtype.name) for s in tf.nest.flatten(spec)]

    if isinstance(batches, tf.data.Dataset):
        text = f"tf.data {shapes(batches.element_spec)} x{int(batches.cardinality())}"
    else:
        array = np.asarray(batches)
        text = f"array {list(array.shape)} {array.dtype.str}"
    if labels is not None:
        text += f" labels {list(np.shape(labels))} {np.asarray(labels).dtype.str}"
    return text


def entry_key(extractor, batches, key: str, labels=None) -> dict[str, str]:
    """The four parts of an entry's key: the caller's key, the data spec, architecture, weights."""
    if not isinstance(key, str) or not key.strip():
        raise FeatureCacheError("give key= a name for the data and its preprocessing, e.g. "
                                "key='flowers train, 224 px, [-1, 1]'; change it when either changes")
    return {"key": key, "data": data_spec(batches, labels),
            "architecture": architecture_digest(extractor), "weights": weights_digest(extractor)}


def _predict(extractor, batches, labels, batch_size: int):
    """One ``extractor.predict`` over ``batches``; the labels they carry are kept in the same pass.

    A ``tf.data`` map in front of ``predict`` puts each batch's labels in a queue (graph ops,
    no Python per batch) and hands the batch on unchanged, so ``predict`` runs the very
    function it traced for the caller's own ``extractor.predict(batches)``.
    """
    if not isinstance(batches, tf.data.Dataset):
        return extractor.predict(np.asarray(batches), batch_size=batch_size, verbose=0), labels
    spec = batches.element_spec
    if labels is not None or not isinstance(spec, tuple):
        return extractor.predict(batches, verbose=0), labels
    if len(spec) != 2 or not spec[1].shape[1:].is_fully_defined():
        raise FeatureCacheError(f"the batches must be images or (images, labels) with labels of a fixed "
                                f"shape per image; they are {spec}")
    queue = tf.queue.FIFOQueue(-1, [spec[1].dtype], shapes=[spec[1].shape[1:]])

    def keep_labels(images, batch_labels):
        with tf.control_dependencies([queue.enqueue_many([batch_labels])]):
            return images, tf.identity(batch_labels)

    features = extractor.predict(batches.map(keep_labels), verbose=0)
    return features, queue.dequeue_many(queue.size()).numpy()


def _read(folder: Path):
    """``(features, labels)`` of an entry, memory-mapped; ``None`` when it cannot be read."""
    try:
        features = np.load(folder / FEATURES, mmap_mode="r")
        labels = np.load(folder / LABELS, mmap_mode="r") if (folder / LABELS).is_file() else None
    except (OSError, ValueError):
        return None
    if labels is not None and len(labels) != len(features):
        return None
    return features, labels


def cached_predict(extractor, batches, *, key: str, labels=None, folder: str | Path | None = None,
                   batch_size: int = 32):
    """``extractor.predict(batches)`` computed once and kept on disk: returns ``(features, labels)``.

    ``extractor``: a frozen Keras model or layer (``trainable = False``) without random
    layers. ``batches``: a batched ``tf.data.Dataset`` of images or of ``(images,
    labels)``, decoded and preprocessed, or an array of images (``batch_size`` images
    per step). ``key``: a name for the data and their preprocessing (see the module
    docstring). ``labels``: the labels as an array, when ``batches`` does not carry them.
    ``folder``: the cache folder (default ``<data dir>/features``); an entry in the
    classroom's shared folder is read there. ``labels`` comes back ``None`` when
    neither gives them. Both arrays come back memory-mapped from the entry's ``.npy`` files.

    Raises :class:`BackboneNotFrozenError` or :class:`AugmentationError` (see
    :func:`check_extractor`), :class:`FeatureCacheError` for a missing key.
    """
    check_extractor(extractor)
    parts = entry_key(extractor, batches, key, labels)
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
    target = Path(folder if folder is not None else env.data_dir() / "features") / digest
    computed = []

    def build(staging: Path) -> None:
        computed.append(staging)
        started = time.perf_counter()
        features, kept = _predict(extractor, batches, labels, batch_size)
        staging.mkdir(parents=True)
        np.save(staging / FEATURES, np.asarray(features))
        if kept is not None:
            np.save(staging / LABELS, np.asarray(kept))
        about = {**parts, "extractor": getattr(extractor, "name", None), "rows": len(features),
                 "seconds": round(time.perf_counter() - started, 3), "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        (staging / ABOUT).write_text(json.dumps(about, indent=1, sort_keys=True))
        print(f"feature cache: computed {len(features)} feature rows in {about['seconds']:.1f} s, kept in {target}",
              flush=True)

    where = env.find_data(target, what=f"the feature cache entry {digest}")  # a classroom's shared entry first
    if where == target or _read(where) is None:
        where = files.build_once(target, build, ready=lambda path: _read(path) is not None)
    found = _read(where)
    if found is None:
        raise FeatureCacheError(f"the feature cache entry {where} cannot be read: delete that folder and run again")
    if not computed:
        print(f"feature cache: read {len(found[0])} feature rows from {where}", flush=True)
    return found
