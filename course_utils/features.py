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

An entry's key: the caller's ``key`` (names the data and preprocessing), the element spec, the
extractor's architecture (``to_json()``, ``name`` fields and the layer names in its wiring replaced by
positions, nothing else), a SHA-256 of its weights, and the data's content: every row ``predict``
receives (``tf.fingerprint``, in order, counted), so pixel and label values, a ``map`` or ``filter`` and
the number of batches count. The first call gets it in the ``predict`` pass itself; a later one by one
pass over the batches without the extractor. The folder is named after the first four parts; its manifest
(``files.write_manifest``) holds all five and is checked on every read, with the stored labels: a mismatch is
a :class:`FeatureCacheError` and nothing is served (a pipeline that shuffles differs every pass).

Refused, because public APIs can check it: an extractor with trainable weights (its
features change while the model trains) and an extractor holding a Keras random
preprocessing layer (``RandomFlip``, ``RandomRotation``, ..., ``GaussianNoise``: it was built to augment).

Entries are written through :func:`course_utils.setup.files.build_once`: of several processes
asking at once one computes, and a run killed mid-write leaves nothing that is trusted.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.models import is_keras
from course_utils.setup import classroom, env, files

__all__ = ["AugmentationError", "BackboneNotFrozenError", "FeatureCacheError", "cached_predict"]

FEATURES, LABELS = "features.npy", "labels.npy"
_KIND = "feature cache entry"  # an entry's manifest: its key parts, rows, when


class FeatureCacheError(CourseError, RuntimeError):
    """The feature cache cannot be used as asked."""


class AugmentationError(FeatureCacheError):
    """The extractor holds a random layer: its features are not the ones training sees."""


class BackboneNotFrozenError(FeatureCacheError):
    """The extractor still has trainable weights, so its features change while training."""


def _random_layers(extractor) -> list:
    """The random layers in ``extractor`` and every layer nested in it: ``GaussianNoise``, and every class
    named ``Random...`` (Keras's ``RandomFlip``, ``RandomZoom``, ..., the course's own ``RandomShear``)."""
    return [layer for layer in [extractor, *_sublayers(extractor)]
            if is_keras(layer, "GaussianNoise") or type(layer).__name__.startswith("Random")]


def _sublayers(layer) -> list:
    """Every Keras layer nested in ``layer``: a tf_keras layer is a ``tf.Module`` and lists them as
    ``submodules``; a Keras 3 layer is not, so its attributes (a model's layers, a layer's own sublayers,
    lists and dicts of them) are walked."""
    submodules = getattr(layer, "submodules", None)
    if submodules is not None:
        return [module for module in submodules if is_keras(module, "Layer")]
    found, stack = {}, [layer]
    while stack:
        for value in vars(stack.pop()).values():
            items = value if isinstance(value, (list, tuple)) else value.values() if isinstance(value, dict) else [value]
            for item in items:
                if is_keras(item, "Layer") and item is not layer and id(item) not in found:
                    found[id(item)] = item
                    stack.append(item)
    return list(found.values())


def _check_extractor(extractor) -> None:
    """Refuse an extractor whose features are not fixed: trainable weights, or a random layer."""
    name = getattr(extractor, "name", type(extractor).__name__)
    trainable = getattr(extractor, "trainable_weights", [])
    if trainable:
        raise BackboneNotFrozenError(
            f"the extractor {name!r} has {len(trainable)} trainable weight tensors, so its features "
            "change while training; freeze it first (extractor.trainable = False) or train the whole "
            "model on images")
    for layer in _random_layers(extractor):
        raise AugmentationError(
            f"{type(layer).__name__} layer {layer.name!r} is inside the extractor {name!r}: it augments "
            "the images while training, so features computed once are not the ones training sees. "
            "Train the whole model on images, or cache the features of an extractor without it.")


_WIRING = ("inbound_nodes", "input_layers", "output_layers", "keras_history")  # lists that start with a layer name
# Keys whose values are not a layer's name though they hold a "name" field: Keras 3 writes a layer's dtype as
# {"class_name": "DTypePolicy", "config": {"name": "float32"}}, and that name changes the features.
_KEEP_NAMES = ("dtype", "dtype_policy")
_NOT_ARCHITECTURE = ("compile_config",)  # Keras 3 adds the compile arguments; predict does not use them


def _canonical(value, names: dict[str, str], wiring: bool = False, keep: bool = False):
    """``value`` (a parsed config) with the value of every ``name`` field (not under a dtype), and the layer name
    that starts each list under a wiring key (``["conv2d", 0, 0, {}]``), replaced by its position; no other
    string changes."""
    def position(name: str) -> str:
        return names.setdefault(name, f"<layer {len(names)}>")

    if isinstance(value, dict):
        return {key: position(item) if key == "name" and isinstance(item, str) and not keep
                else _canonical(item, names, wiring or key in _WIRING, keep or key in _KEEP_NAMES)
                for key, item in sorted(value.items()) if key not in _NOT_ARCHITECTURE}
    if isinstance(value, list):
        if wiring and value and isinstance(value[0], str):
            return [position(value[0]), *(_canonical(item, names, wiring, keep) for item in value[1:])]
        return [_canonical(item, names, wiring, keep) for item in value]
    return value


def _architecture_digest(extractor) -> str:
    """SHA-256 of ``extractor.to_json()`` (else ``get_config()``), layer names replaced by positions."""
    try:
        config = json.loads(extractor.to_json())
    except (AttributeError, NotImplementedError):
        config = {"class": type(extractor).__name__, "config": extractor.get_config()}
    return files.digest(json.dumps(_canonical(config, {}), sort_keys=True, default=repr))


def _sha256(arrays) -> str:
    """SHA-256 over every array's shape, dtype and bytes, in order, and their count (``None``s left out)."""
    arrays = [array for array in arrays if array is not None]

    def chunks():
        for array in map(np.ascontiguousarray, arrays):  # one contiguous copy at a time, if any
            yield f"{array.shape}{array.dtype.str}".encode()
            yield memoryview(array).cast("B")  # pragma: no mutate (a signed view hashes the same bytes)
        yield f"n={len(arrays)}".encode()
    return files.digest(chunks())


def _weights_digest(extractor) -> str:
    """SHA-256 over every weight's shape, dtype and bytes, in ``get_weights()`` order."""
    return _sha256(extractor.get_weights())


def _data_spec(batches, labels=None) -> str:
    """The shapes and dtypes of the data (their values and count are in :func:`_content_digest`)."""
    def shapes(spec):
        return [(s.shape.as_list(), s.dtype.name) for s in tf.nest.flatten(spec)]

    if isinstance(batches, tf.data.Dataset):
        text = f"tf.data {shapes(batches.element_spec)}"
    else:
        array = np.asarray(batches)
        text = f"array {list(array.shape)} {array.dtype.str}"
    if labels is not None:
        text += f" labels {list(np.shape(labels))} {np.asarray(labels).dtype.str}"
    return text


def _entry_key(extractor, batches, key: str, labels=None) -> dict[str, str]:
    """The four parts of an entry's key known without reading the data: the caller's key, the data spec,
    architecture, weights (the folder's name); :func:`_content_digest` is the fifth."""
    if not isinstance(key, str) or not key.strip():
        raise FeatureCacheError("give key= a name for the data and its preprocessing, e.g. "
                                "key='flowers train, 224 px, [-1, 1]'; change it when either changes")
    return {"key": key, "data": _data_spec(batches, labels),
            "architecture": _architecture_digest(extractor), "weights": _weights_digest(extractor)}


def _carries_labels(batches, labels) -> bool:
    spec = batches.element_spec
    if labels is not None or not isinstance(spec, tuple):
        return False
    if len(spec) != 2 or not spec[1].shape[1:].is_fully_defined():
        raise FeatureCacheError(f"the batches must be images or (images, labels) with labels of a fixed "
                                f"shape per image; they are {spec}")
    return True


def _row_prints(element):
    """``[rows, 8 x parts]`` uint8: ``tf.fingerprint`` (farmhash64) of each row of each part of a batch."""
    return tf.concat([tf.fingerprint(part) for part in tf.nest.flatten(element)], axis=1)


def _content_digest(batches, labels=None):
    """``(digest, labels the batches carry or None)``: one pass over the batches, without the extractor."""
    if not isinstance(batches, tf.data.Dataset):
        return _sha256([np.asarray(batches), labels]), None
    carried = _carries_labels(batches, labels)
    rows, kept = [np.zeros((0, 8 * len(tf.nest.flatten(batches.element_spec))), np.uint8)], []
    for prints, *carries in batches.map(lambda *e: (_row_prints(e), e[1]) if carried else (_row_prints(e),)):
        rows.append(prints.numpy())
        kept += [part.numpy() for part in carries]
    return _sha256([np.concatenate(rows), labels]), (np.concatenate(kept) if carried and kept else None)


def _predict(extractor, batches, labels, batch_size: int):
    """One ``extractor.predict`` over ``batches``: ``(features, labels, content digest)`` from the same pass.

    A ``tf.data`` map in front of ``predict`` puts each batch's row fingerprints (and the labels it
    carries) in queues (graph ops, no Python per batch) and hands the batch on unchanged, so ``predict``
    runs the very function it traced for the caller's own ``extractor.predict(batches)``.
    """
    if not isinstance(batches, tf.data.Dataset):
        features = extractor.predict(np.asarray(batches), batch_size=batch_size, verbose=0)
        return features, labels, _sha256([np.asarray(batches), labels])
    carried = _carries_labels(batches, labels)
    spec = batches.element_spec
    width = 8 * len(tf.nest.flatten(spec))
    prints = tf.queue.FIFOQueue(-1, [tf.uint8], shapes=[[width]])
    kept = tf.queue.FIFOQueue(-1, [spec[1].dtype], shapes=[spec[1].shape[1:]]) if carried else None

    def keep(*element):
        ops = [prints.enqueue_many([_row_prints(element)])] + ([kept.enqueue_many([element[1]])] if carried else [])
        with tf.control_dependencies(ops):
            out = tf.nest.map_structure(tf.identity, element)
        return out if len(out) > 1 else out[0]

    features = extractor.predict(batches.map(keep), verbose=0)
    rows = prints.dequeue_many(prints.size()).numpy()
    carried_labels = kept.dequeue_many(kept.size()).numpy() if carried else labels
    return features, carried_labels, _sha256([rows, labels])


def _read(folder: Path):
    """``(features, labels, manifest facts)`` of an entry, arrays memory-mapped; ``None`` when it cannot be read."""
    try:
        features = np.load(folder / FEATURES, mmap_mode="r")
        labels = np.load(folder / LABELS, mmap_mode="r") if (folder / LABELS).is_file() else None
    except (OSError, ValueError):
        return None
    about = files.read_manifest(folder, _KIND)
    if (labels is not None and len(labels) != len(features)) or about is None:
        return None
    return features, labels, about


def _check_entry(where: Path, found, requested: dict, carried) -> None:
    """Refuse an entry whose manifest's key is not ``requested`` or whose labels are not the ``carried`` ones."""
    features, labels, about = found
    differ = [name for name, value in requested.items() if about.get(name) != value]
    if about.get("rows") != len(features):
        differ.append(f"rows ({about.get('rows')} noted, {len(features)} stored)")
    if carried is not None and (labels is None or not np.array_equal(labels, carried)):
        differ.append("labels (the stored ones are not this call's)")
    if differ:
        raise FeatureCacheError(
            f"the feature cache entry {where} does not match this call: {', '.join(differ)} differ, so nothing "
            f"was read from it. If the data, their pipeline or the extractor changed, give key= a new name; "
            f"else delete {where} and run again (a pipeline that shuffles differs every pass: cache the "
            "unshuffled batches)")


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
    :func:`_check_extractor`), :class:`FeatureCacheError` for a missing key.
    """
    _check_extractor(extractor)
    parts = _entry_key(extractor, batches, key, labels)
    digest = files.digest(json.dumps(parts, sort_keys=True), 32)
    target = Path(folder if folder is not None else env.data_dir() / "features") / digest
    computed = {}

    def build(staging: Path) -> None:
        started = time.perf_counter()
        features, kept, content = _predict(extractor, batches, labels, batch_size)
        staging.mkdir(parents=True)
        np.save(staging / FEATURES, np.asarray(features))
        if kept is not None:
            np.save(staging / LABELS, np.asarray(kept))
        about = {**parts, "content": content, "extractor": getattr(extractor, "name", None), "rows": len(features),
                 "seconds": round(time.perf_counter() - started, 3), "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        files.write_manifest(staging, _KIND, **about)
        computed.update(content=content, labels=kept if kept is not None and labels is None else None)
        say(f"feature cache: computed {len(features)} feature rows in {about['seconds']:.1f} s, kept in {target}")

    where = classroom.find_data(target, what=f"the feature cache entry {digest}")  # a classroom's shared entry first
    if where == target or _read(where) is None:
        where = files.build_once(target, build, ready=lambda path: _read(path) is not None)
    found = _read(where)
    if found is None:
        raise FeatureCacheError(f"the feature cache entry {where} cannot be read: delete that folder and run again")
    started = time.perf_counter()
    content, carried = (computed["content"], computed["labels"]) if computed else _content_digest(batches, labels)
    _check_entry(where, found, {**parts, "content": content}, carried if labels is None else labels)
    if not computed:
        say(f"feature cache: read {len(found[0])} feature rows from {where} (key and content checked in "
            f"{time.perf_counter() - started:.1f} s, one pass over the batches)")
    return found[0], found[1]
