"""Compute a frozen backbone's features once, keep them on disk, train the head on them.

A frozen backbone maps the same image to the same features in every epoch,
so a lesson that trains only a head on top of it repeats the expensive part
of every epoch for nothing. The physical limit is one forward pass over the
data; after it, an epoch costs only the head. This module does that pass
once (batched, with progress), stores the result under
``course_utils.setup.env.data_dir() / "features"`` and hands back a ``tf.data``
pipeline of ``(features, label)``::

    from course_utils import features as feature_cache

    model = tf.keras.Sequential([backbone, Dropout(0.5), Dense(num_classes)])
    train_f = feature_cache.cached_features(backbone, train, preprocess=format_224, model=model)
    valid_f = feature_cache.cached_features(backbone, valid, preprocess=format_224, model=model)
    head = feature_cache.head_of(model, backbone)   # Dropout + Dense, shared with model
    head.compile(optimizer="adam", loss=..., metrics=["accuracy"])
    head.fit(train_f.batches(32, shuffle=True, seed=0), epochs=6,
             validation_data=valid_f.batches(32))
    model.predict(test_batches)   # the full model, on images, now carries the trained head

``train`` is the *raw* split (``(image, label)``, unbatched, unshuffled or
shuffled) and ``format_224`` the per-image preprocessing; ``model=``
lets the cache check the layers in front of the backbone.

The head shares its layers (and so its weights) with ``model``; training
the head trains ``model``'s head. A head built on its own is joined to the
backbone with :func:`assemble`.

The cache key
-------------
An entry is found again only if all four parts match; a change to any of
them is a different entry (a miss, and the features are computed again):

``backbone``
    The architecture: every layer's class and configuration (layer names
    replaced by their position, so Keras's auto-numbered names such as
    ``input_3`` do not matter), the connections, the weight shapes and
    dtypes, the dtype policy, the input and output shapes, plus the
    TensorFlow version. A ``hub.KerasLayer`` contributes its handle and
    arguments. Layers placed before the backbone (``before=`` or found in
    ``model=``) count as part of it.
``weights``
    SHA-256 over the bytes, shapes and dtypes of *every* weight tensor of
    the backbone (and of the layers before it). A ``hub.KerasLayer`` that
    exposes no variables is fingerprinted by the files of its SavedModel.
``preprocessing``
    ``preprocessing=`` (a name/version string you choose) and, when the
    cache applies ``preprocess=`` itself, a hash of that function's code:
    its source text (its bytecode when no source is available) and the
    arguments of a ``functools.partial``. Not hashed: code of functions it
    calls, globals it reads. Change ``preprocessing="... v2"`` when those
    change.
``data``
    By default a content fingerprint: every example the dataset yields
    (before ``preprocess``) is fingerprinted with FarmHash64 over its bytes
    and shape (``tf.fingerprint``, stable across platforms), image and
    label alike; the sorted list of these fingerprints, the count and the
    element spec are hashed with SHA-256. Sorting makes the key independent
    of the order, so a shuffled source still finds its entry; the entry is
    handed back in the order of the current pass. This costs one pass of the
    input pipeline without the backbone (cheap next to the backbone).
    With ``data_id="..."`` the cache skips that pass and trusts the id
    (plus the element count, when ``tf.data`` knows it): faster, but a
    changed dataset under the same id is *not* noticed.

Augmentation rules the cache out
--------------------------------
Caching is only valid when nothing random happens before the backbone: a
random flip gives new features every epoch. ``cached_features`` refuses
(:class:`AugmentationError`) when it finds:

* ``augmented=True`` (say so when you know), or a dataset marked by
  :func:`course_utils.pipelines.mark_augmented` anywhere in its chain;
* a random layer before the backbone (``before=`` or in ``model=``):
  any Keras ``BaseRandomLayer`` (``RandomFlip``, ``RandomRotation``,
  ``RandomZoom``, ``RandomTranslation``, ``RandomContrast``,
  ``RandomCrop``, ``RandomBrightness``, ``GaussianNoise``, ``Dropout``...),
  any layer whose class name starts with ``Random``, or a layer whose
  traced training-mode graph holds random ops (e.g. a ``Lambda`` around
  ``tf.image.random_flip_left_right``);
* a random preprocessing layer *inside* the backbone model (a ``Dropout``
  inside it only earns a note: features are computed in inference mode);
* random ops (``RandomUniform``, ``StatelessRandom*``, ``RngReadAndSkip``
  ...) in the map/filter functions of the ``tf.data`` pipeline or of
  ``preprocess=`` (shuffling is fine: the fingerprint ignores order), and
  ``tf.data.Dataset.random`` sources;
* an ``ImageDataGenerator`` iterator with any augmentation argument set;
* and, whenever the features are computed, the data itself: the examples
  are fingerprinted on two passes, which must give the same multiset.

It cannot see randomness that leaves no trace in a graph or in the data,
such as images augmented once, in NumPy, before they reach the cache (a
fixed set of augmented images is just data: caching it is correct, but it is
no longer augmentation), or randomness in a Python generator that repeats
itself on the second pass.

On disk
-------
``<root>/<key hash>/`` holds ``features.bin``, ``labels.bin``,
``fingerprints.bin`` (raw arrays) and ``manifest.json`` (the key parts,
count, shapes, dtypes, byte sizes and SHA-256 of every file). An entry is
written to a temporary folder and renamed into place, so an interrupted
run leaves no entry behind; an entry whose manifest is missing or
unreadable, whose sizes or checksums do not match, or whose key differs is
reported and rebuilt, never trusted.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from course_utils.setup import env
from course_utils.setup.files import build_lock

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("features.bin", "labels.bin", "fingerprints.bin")
IN_MEMORY_LIMIT = 1 << 30  # entries larger than 1 GiB are streamed from a memory map
AUGMENTED_MARKER = "_course_augmented"


class FeatureCacheError(RuntimeError):
    """The feature cache cannot be used as asked."""


class AugmentationError(FeatureCacheError):
    """Something random runs before the backbone, so its features change every epoch."""


class BackboneNotFrozenError(FeatureCacheError):
    """The backbone still has trainable weights, so its features change while training."""


class CorruptEntryError(FeatureCacheError):
    """A cache entry on disk that cannot be trusted (partial, corrupt or for another key)."""


def features_root() -> Path:
    """The default cache folder: ``<data dir>/features`` (``$COURSE_DATA_DIR`` or ``data/``)."""
    return env.data_dir() / "features"


# ---------------------------------------------------------------------------
# What is random: layers, graph ops, datasets
# ---------------------------------------------------------------------------

_RANDOM_OP = re.compile(
    r"^(Random|StatelessRandom|StatelessTruncatedNormal|StatelessMultinomial|"
    r"StatelessParameterizedTruncatedNormal|StatelessSampleDistortedBoundingBox|Stateful|"
    r"RngReadAndSkip|RngSkip|Multinomial$|TruncatedNormal$|ParameterizedTruncatedNormal$|"
    r"SampleDistortedBoundingBox|NonDeterministicInts)"
)
_DROPOUT_NAMES = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianDropout", "AlphaDropout"}


def is_random_op(op_type: str) -> bool:
    """True for TensorFlow op types that draw random numbers (not dataset shuffling)."""
    if "ShuffleDataset" in op_type or "SeedGenerator" in op_type:
        return False
    return bool(_RANDOM_OP.match(op_type))


def random_ops_in_graph(graph_def) -> list[str]:
    """The random op types in a ``GraphDef``, its function library included, sorted."""
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return sorted(op for op in ops if is_random_op(op))


def _base_random_layer():
    try:
        return tf.keras.__internal__.layers.BaseRandomLayer
    except AttributeError:  # pragma: no cover - older Keras
        return ()


def random_kind(layer) -> str | None:
    """``"dropout"``, ``"augmentation"`` or ``None`` for a single (non-nested) Keras layer."""
    name = type(layer).__name__
    if name in _DROPOUT_NAMES or isinstance(layer, tf.keras.layers.Dropout):
        return "dropout"
    if name.startswith("Random") or isinstance(layer, _base_random_layer()):
        return "augmentation"
    return None


def _sublayers(layer) -> list:
    """``layer`` and every layer nested in it, in a deterministic order."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    return [layer]


def random_layers(layers) -> list[tuple[str, str, str]]:
    """``(name, class, kind)`` of every random layer in ``layers`` (nested models searched)."""
    found = []
    for top in _as_list(layers):
        for layer in _sublayers(top):
            kind = random_kind(layer)
            if kind:
                found.append((layer.name, type(layer).__name__, kind))
    return found


def _as_list(layers) -> list:
    if layers is None:
        return []
    if isinstance(layers, (list, tuple)):
        return list(layers)
    return [layers]


def _traced_random_ops(layers, input_spec: tf.TensorSpec) -> list[str]:
    """Random op types in ``layers`` called with ``training=True`` on ``input_spec``."""
    layers = _as_list(layers)
    if not layers:
        return []

    def call(x):
        for layer in layers:
            x = layer(x, training=True)
        return x

    try:
        concrete = tf.function(call).get_concrete_function(input_spec)
    except Exception:  # noqa: BLE001 - a layer that cannot be traced alone: rely on the class check
        return []
    return random_ops_in_graph(concrete.graph.as_graph_def())


def _datasets_in_chain(dataset) -> Iterable:
    seen, stack = set(), [dataset]
    while stack:
        ds = stack.pop()
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        yield ds
        try:
            stack.extend(ds._inputs())  # noqa: SLF001 - tf.data's own graph walk
        except Exception:  # noqa: BLE001
            pass


def dataset_randomness(dataset) -> list[str]:
    """Why ``dataset`` (a ``tf.data.Dataset``) is random, as short reasons; empty if none seen.

    Looks at every dataset in its chain: the :func:`course_utils.pipelines.mark_augmented`
    marker, ``Dataset.random`` sources, and random ops inside map / filter /
    interleave functions. Shuffling is not a reason (order does not change features).
    """
    reasons = []
    for ds in _datasets_in_chain(dataset):
        if getattr(ds, AUGMENTED_MARKER, False):
            reasons.append("the dataset is marked as augmented (pipelines.mark_augmented)")
        if type(ds).__name__.lstrip("_").startswith("RandomDataset"):
            reasons.append("a tf.data.Dataset.random() source")
        for value in vars(ds).values():
            function = getattr(value, "function", None)
            graph = getattr(function, "graph", None)
            if graph is None or not hasattr(graph, "as_graph_def"):
                continue
            try:
                ops = random_ops_in_graph(graph.as_graph_def())
            except Exception:  # noqa: BLE001
                continue
            if ops:
                reasons.append(f"random ops {', '.join(ops)} in a {type(ds).__name__.lstrip('_')} function")
    return list(dict.fromkeys(reasons))


_GENERATOR_AUGMENTATION = ("rotation_range", "width_shift_range", "height_shift_range",
                           "shear_range", "channel_shift_range", "horizontal_flip",
                           "vertical_flip", "brightness_range")


def generator_augmentation(iterator) -> list[str]:
    """The augmentation arguments set on an ``ImageDataGenerator`` iterator (empty if none)."""
    generator = getattr(iterator, "image_data_generator", None)
    if generator is None:
        return []
    found = [name for name in _GENERATOR_AUGMENTATION if getattr(generator, name, None)]
    zoom = getattr(generator, "zoom_range", None)
    if zoom is not None and list(np.ravel(zoom)) not in ([1.0, 1.0], [0.0], []):
        found.append("zoom_range")
    return found


# ---------------------------------------------------------------------------
# Fingerprints: backbone, weights, preprocessing, data
# ---------------------------------------------------------------------------

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("trainable",)}
    if isinstance(value, (list, tuple)):
        return [_strip(v) for v in value]
    return value


def _json(value: Any) -> str:
    def default(obj):
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return _ADDRESS.sub("", repr(obj))

    return json.dumps(value, sort_keys=True, default=default)


def _layer_config(layer) -> Any:
    try:
        return _strip(layer.get_config())
    except Exception:  # noqa: BLE001 - subclassed models without get_config
        return {"class": type(layer).__name__,
                "sublayers": [type(sub).__name__ for sub in _sublayers(layer)[1:]]}


def _shape(getter) -> Any:
    try:
        value = getter()
    except Exception:  # noqa: BLE001
        return None
    return value.as_list() if hasattr(value, "as_list") else value


def describe_architecture(layers) -> str:
    """A name-independent JSON text of ``layers``: configs, connections, weight shapes."""
    layers = _as_list(layers)
    names: dict[str, str] = {}
    for top in layers:
        for sub in _sublayers(top):
            names.setdefault(sub.name, f"L{len(names)}")
    parts = []
    for layer in layers:
        parts.append({
            "class": type(layer).__name__,
            "config": _layer_config(layer),
            "weights": [(list(w.shape), w.dtype.name) for w in layer.weights],
            "input_shape": _shape(lambda layer=layer: layer.input_shape),
            "output_shape": _shape(lambda layer=layer: layer.output_shape),
            "dtype_policy": getattr(getattr(layer, "dtype_policy", None), "name", None),
        })
    text = _json({"layers": parts, "tensorflow": tf.__version__})
    # Replace every JSON string that is a layer name by the layer's position.
    def canonical(match: re.Match) -> str:
        value = json.loads(match.group(0))
        return json.dumps(names[value]) if value in names else match.group(0)

    return _JSON_STRING.sub(canonical, text)


def _hub_files_digest(layer) -> str | None:
    handle = getattr(layer, "_handle", None) or _layer_config(layer).get("handle")
    if not isinstance(handle, str):
        return None
    try:
        import tensorflow_hub as hub

        folder = Path(hub.resolve(handle))
    except Exception:  # noqa: BLE001
        folder = Path(handle)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def weights_fingerprint(layers) -> str:
    """SHA-256 over every weight's shape, dtype and bytes (names ignored), in layer order."""
    digest = hashlib.sha256()
    count = 0
    for layer in _as_list(layers):
        weights = list(layer.weights)
        if not weights:
            files = _hub_files_digest(layer)
            if files:
                digest.update(f"files:{files}".encode())
                count += 1
            continue
        for weight in weights:
            array = np.ascontiguousarray(weight.numpy())
            digest.update(f"{array.shape}{array.dtype.str}".encode())
            digest.update(memoryview(array).cast("B"))
            count += 1
    digest.update(f"n={count}".encode())
    return digest.hexdigest()


def callable_fingerprint(fn: Callable) -> str:
    """A hash of ``fn``'s own code (source text, else bytecode) and of partial arguments."""
    digest = hashlib.sha256()
    while isinstance(fn, functools.partial):
        digest.update(_json([fn.args, sorted(fn.keywords.items())]).encode())
        fn = fn.func
    if hasattr(fn, "get_config"):  # a Keras layer or model used as preprocessing
        digest.update(describe_architecture([fn]).encode())
        return digest.hexdigest()
    target = getattr(fn, "python_function", fn)  # a tf.function
    try:
        source = inspect.getsource(target)
        digest.update(source.encode())
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is None:
            digest.update(repr(type(target)).encode())
        else:
            digest.update(code.co_code)
            digest.update(_json([repr(c) for c in code.co_consts if not inspect.iscode(c)]).encode())
            digest.update(_json(list(code.co_names)).encode())
    digest.update(getattr(target, "__qualname__", "").encode())
    return digest.hexdigest()


def _element_fingerprint(*components):
    """A uint64 FarmHash64 of one example: every component's bytes and shape."""
    parts = []
    for tensor in tf.nest.flatten(components):
        tensor = tf.convert_to_tensor(tensor)
        if tensor.dtype == tf.bool:
            tensor = tf.cast(tensor, tf.uint8)
        parts.append(tf.fingerprint(tf.reshape(tensor, [1, -1]))[0])
        shape = tf.cast(tf.shape(tensor), tf.int64)
        parts.append(tf.fingerprint(tf.reshape(shape, [1, -1]))[0])
    combined = tf.fingerprint(tf.expand_dims(tf.concat(parts, 0), 0))[0]
    return tf.bitcast(combined, tf.uint64)


def data_fingerprint(fingerprints: np.ndarray, element_spec_text: str) -> str:
    """SHA-256 of the sorted per-example fingerprints, their count and the element spec."""
    digest = hashlib.sha256()
    digest.update(f"v{FORMAT_VERSION}|{len(fingerprints)}|{element_spec_text}|".encode())
    digest.update(np.sort(np.asarray(fingerprints, dtype=np.uint64)).tobytes())
    return digest.hexdigest()


def _spec_text(spec) -> str:
    return _ADDRESS.sub("", repr(tf.nest.map_structure(
        lambda s: (getattr(s, "shape", None) and s.shape.as_list(), getattr(s, "dtype", None) and s.dtype.name),
        spec)))


# ---------------------------------------------------------------------------
# The data: tf.data, (images, labels) arrays, or a Keras Sequence
# ---------------------------------------------------------------------------

def as_dataset(data) -> tf.data.Dataset:
    """An unbatched ``tf.data.Dataset`` of ``(x, y)`` from a dataset, arrays or a Keras Sequence.

    A ``tf.data.Dataset`` whose images have rank 4 is taken as batched and is
    unbatched; ``(images, labels)`` arrays are sliced; a Keras ``Sequence``
    (e.g. an ``ImageDataGenerator`` iterator) is read batch by batch, once
    per pass, in its own order.
    """
    if isinstance(data, tf.data.Dataset):
        dataset = data
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        dataset = tf.data.Dataset.from_tensor_slices((np.asarray(data[0]), np.asarray(data[1])))
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        first = data[0]
        if not (isinstance(first, tuple) and len(first) >= 2):
            raise FeatureCacheError("a Sequence must give (images, labels) batches")
        spec = tuple(tf.TensorSpec((None, *np.shape(part)[1:]), tf.as_dtype(np.asarray(part).dtype))
                     for part in first[:2])

        def batches():
            for i in range(len(data)):
                batch = data[i]
                yield batch[0], batch[1]

        dataset = tf.data.Dataset.from_generator(batches, output_signature=spec).unbatch()
    else:
        raise FeatureCacheError(
            f"cannot read {type(data).__name__} as data: give a tf.data.Dataset of (image, label), "
            "an (images, labels) pair of arrays, or a Keras Sequence of batches"
        )
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise FeatureCacheError(
            "the dataset must yield (image, label) pairs (e.g. tfds.load(..., as_supervised=True)); "
            f"it yields {spec}"
        )
    if spec[0].shape.rank == 4:
        dataset = dataset.unbatch()
    return dataset


# ---------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------

@dataclass
class CachedFeatures:
    """Features of one dataset under one backbone: arrays, a ``tf.data`` view, provenance."""

    features: np.ndarray
    labels: np.ndarray
    path: Path
    key: dict[str, Any]
    key_hash: str
    hit: bool
    seconds: float
    compute_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.features.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.features.nbytes + self.labels.nbytes)

    @property
    def dataset(self) -> tf.data.Dataset:
        """An unbatched ``tf.data.Dataset`` of ``(features, label)`` in the entry's order."""
        if self.nbytes <= IN_MEMORY_LIMIT:
            return tf.data.Dataset.from_tensor_slices((np.asarray(self.features), np.asarray(self.labels)))
        features, labels = self.features, self.labels
        spec = (tf.TensorSpec(features.shape[1:], tf.as_dtype(features.dtype)),
                tf.TensorSpec(labels.shape[1:], tf.as_dtype(labels.dtype)))

        def rows():
            for start in range(0, len(features), 1024):
                yield from zip(np.asarray(features[start:start + 1024]), np.asarray(labels[start:start + 1024]))

        return tf.data.Dataset.from_generator(rows, output_signature=spec)

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int | None = None,
                drop_remainder: bool = False) -> tf.data.Dataset:
        """``dataset`` shuffled (a new order every epoch, fixed by ``seed``), batched, prefetched.

        An entry streamed from its memory map is shuffled by row number
        instead: a ``shuffle`` buffer of every row would hold the whole
        entry in memory.
        """
        if shuffle and self.nbytes > IN_MEMORY_LIMIT:
            dataset = self._shuffled_rows(seed)
        else:
            dataset = self.dataset
            if shuffle:
                dataset = dataset.shuffle(self.count, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    def _shuffled_rows(self, seed: int | None) -> tf.data.Dataset:
        """The rows in a new random order every epoch, read 1,024 at a time from the memory map."""
        features, labels = self.features, self.labels
        spec = (tf.TensorSpec(features.shape[1:], tf.as_dtype(features.dtype)),
                tf.TensorSpec(labels.shape[1:], tf.as_dtype(labels.dtype)))
        rng = np.random.default_rng(seed)

        def rows():
            order = rng.permutation(len(features))
            for start in range(0, len(order), 1024):
                chunk = order[start:start + 1024]
                ascending = np.sort(chunk)  # read in file order, hand out in the shuffled order
                block_features, block_labels = np.asarray(features[ascending]), np.asarray(labels[ascending])
                for i in np.searchsorted(ascending, chunk):
                    yield block_features[i], block_labels[i]

        return tf.data.Dataset.from_generator(rows, output_signature=spec)

    def describe(self) -> str:
        per = int(np.prod(self.features.shape[1:]))
        how = (f"loaded from the cache in {self.seconds:.1f} s (computing them took "
               f"{self.compute_seconds:.1f} s)" if self.hit else f"computed in {self.seconds:.1f} s and cached")
        return (f"features of {self.count} examples ({per} values each, {self.nbytes / 1e6:.1f} MB) "
                f"{how}: {self.path}")

    def __repr__(self) -> str:
        return f"CachedFeatures({self.describe()})"


# ---------------------------------------------------------------------------
# Models: the head after a backbone, and backbone + head for prediction
# ---------------------------------------------------------------------------

def _is_sequential(model) -> bool:
    return isinstance(model, tf.keras.Sequential)


def _find(model, backbone):
    if isinstance(backbone, str):
        return model.get_layer(backbone)
    for layer in model.layers:
        if layer is backbone:
            return layer
    raise FeatureCacheError(
        f"the backbone {getattr(backbone, 'name', backbone)!r} is not a layer of {model.name!r}; "
        f"its layers are {[layer.name for layer in model.layers]}"
    )


def layers_before(model, backbone) -> list:
    """The layers of ``model`` that come before ``backbone`` (input layers left out)."""
    layer = _find(model, backbone)
    index = model.layers.index(layer)
    return [lay for lay in model.layers[:index] if not isinstance(lay, tf.keras.layers.InputLayer)]


def _output_in(model, layer):
    """``layer``'s output tensor inside ``model`` (it may also be used in other models)."""
    nodes = getattr(model, "_network_nodes", set())
    for index, node in enumerate(layer._inbound_nodes):  # noqa: SLF001
        if f"{layer.name}_ib-{index}" in nodes:
            return node.outputs
    return layer.output


def head_of(model, backbone, name: str | None = None):
    """A model of the layers after ``backbone`` in ``model``, taking features as input.

    ``backbone`` is a layer of ``model`` (a ``hub.KerasLayer``, a nested
    Keras Applications model) or the *name* of a layer inside a functional
    model (e.g. ``"flatten"`` for a VGG cut before its classifier). The head
    shares its layers, and so its weights, with ``model``: training the head
    trains ``model``, which then predicts on images directly.
    """
    layer = _find(model, backbone)
    name = name or f"{model.name}_head"
    if _is_sequential(model):
        index = model.layers.index(layer)
        rest = model.layers[index + 1:]
        if not rest:
            raise FeatureCacheError(f"{model.name!r} has no layers after {layer.name!r}: nothing to train")
        return tf.keras.Sequential([tf.keras.Input(layer.output_shape[1:]), *rest], name=name)
    features = _output_in(model, layer)
    return tf.keras.Model(features, model.outputs, name=name)


def assemble(backbone, head, name: str = "backbone_and_head"):
    """``Sequential([backbone, head])``: the full model on images, sharing both parts' weights."""
    return tf.keras.Sequential([backbone, head], name=name)


# ---------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------

_FORWARD_ATTRIBUTE = "_course_feature_forward"


def _forward_function(backbone, before: list, image_spec: tf.TensorSpec):
    """A traced ``backbone(before(images), training=False)``, kept on the backbone for reuse.

    Its input signature has an unknown batch size, so the last, smaller
    batch does not trace it again, and the next split (validation after
    training) reuses the same trace.
    """
    spec = tf.TensorSpec([None, *image_spec.shape.as_list()[1:]], image_spec.dtype)
    key = (tuple(id(layer) for layer in before), tuple(spec.shape.as_list()), spec.dtype.name)
    store = getattr(backbone, _FORWARD_ATTRIBUTE, None)
    if store is None:
        store = {}
        # Set past Keras's attribute tracking: a plain dict, never saved with the model.
        object.__setattr__(backbone, _FORWARD_ATTRIBUTE, store)
    if key not in store:
        def forward(images):
            for layer in before:
                images = layer(images, training=False)
            return backbone(images, training=False)

        store[key] = tf.function(forward, input_signature=[spec])
    return store[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class _Progress:
    def __init__(self, total: int | None, label: str, enabled: bool, every: float = 10.0):
        self.total, self.label, self.enabled, self.every = total, label, enabled, every
        self.start = self.last = time.perf_counter()
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.every:
            self.last = now
            self._print(now)

    def _print(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        print(f"  {self.label}: {self.done}{of} examples, {rate:.1f} examples/s", flush=True)

    def finish(self) -> None:
        if self.enabled:
            self._print(time.perf_counter())


class FeatureCache:
    """A folder of feature entries (default ``<data dir>/features``)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else features_root()

    # -- inspection ----------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """The manifests of the valid-looking entries (one dict each, with ``path``)."""
        found = []
        if not self.root.is_dir():
            return found
        for folder in sorted(self.root.iterdir()):
            manifest = folder / MANIFEST
            if folder.name.startswith(".") or not manifest.is_file():
                continue
            try:
                found.append({**json.loads(manifest.read_text()), "path": str(folder)})
            except (OSError, ValueError):
                continue
        return found

    def clear(self) -> int:
        """Delete every entry (and leftover temporary folders); returns how many folders."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in self.root.iterdir():
            if folder.is_dir() and (len(folder.name) == 32 or folder.name.startswith((".tmp-", ".old-"))):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    # -- the main call -------------------------------------------------
    def get(self, backbone, data, *, preprocess: Callable | None = None,
            preprocessing: str | None = None, model=None, before=None, augmented: bool = False,
            data_id: str | None = None, batch_size: int = 32, progress: bool = True,
            verify: str = "checksum") -> CachedFeatures:
        """See :func:`cached_features`."""
        started = time.perf_counter()
        if verify not in ("checksum", "size"):
            raise ValueError("verify must be 'checksum' (read and hash every file) or 'size'")
        if isinstance(backbone, str):
            raise FeatureCacheError(
                f"give the backbone model itself, not the layer name {backbone!r}: for a functional "
                f"model cut inside, use models.cut_at(model, {backbone!r}) (and head_of(model, {backbone!r}))"
            )
        if model is not None:
            if before is not None:
                raise ValueError("give model= (the layers before the backbone are found in it) or before=, not both")
            before = layers_before(model, backbone)
        before = _as_list(before)
        notes: list[str] = []
        source = data
        dataset = as_dataset(data)
        if preprocess is not None:
            prepared = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            prepared = dataset
        self._refuse_randomness(backbone, before, source, prepared, augmented, notes)

        key = {
            "backbone": hashlib.sha256(describe_architecture(before + [backbone]).encode()).hexdigest(),
            "weights": weights_fingerprint(before + [backbone]),
            "preprocessing": {
                "name": preprocessing,
                "code": callable_fingerprint(preprocess) if preprocess is not None else None,
            },
        }
        current_fps = None
        if data_id is not None:
            count = int(dataset.cardinality())
            key["data"] = {"id": data_id, "count": count if count >= 0 else None}
        else:
            current_fps = self._fingerprints(dataset, progress)
            key["data"] = {"fingerprint": data_fingerprint(current_fps, _spec_text(dataset.element_spec)),
                           "count": int(len(current_fps))}
        key_hash = hashlib.sha256(_json(key).encode()).hexdigest()[:32]
        folder = self.root / key_hash

        # Read the classroom's shared copy if there is one (env.find_data); then, under a
        # cross-process lock, look again (another run may have just built it) before computing.
        with contextlib.ExitStack() as locked:
            for where in (env.find_data(folder, what=f"the feature cache entry {key_hash}"), folder):
                if where is folder:
                    locked.enter_context(build_lock(folder))
                    for stale in self.root.glob(f".tmp-{key_hash}-*"):  # a killed run's partial entry
                        shutil.rmtree(stale, ignore_errors=True)
                if where.exists():
                    try:
                        features, labels, stored_fps, manifest = self._load(where, key, verify)
                    except CorruptEntryError as error:
                        if where is folder:
                            print(f"feature cache: the entry {folder.name} cannot be trusted ({error}); rebuilding it",
                                  flush=True)
                        elif where != folder:
                            print(f"feature cache: the shared entry {where} cannot be trusted ({error})", flush=True)
                    else:
                        if current_fps is not None:
                            features, labels = _reorder(features, labels, stored_fps, current_fps)
                        return CachedFeatures(features, labels, where, key, key_hash, True,
                                              time.perf_counter() - started, float(manifest["seconds"]), notes)
            features, labels, seconds = self._compute(backbone, before, dataset, preprocess, key, folder,
                                                      batch_size, progress, current_fps)
        return CachedFeatures(features, labels, folder, key, key_hash, False,
                              time.perf_counter() - started, seconds, notes)

    # -- checks ----------------------------------------------------------
    def _refuse_randomness(self, backbone, before, source, prepared, augmented, notes) -> None:
        fix = ("Features can only be cached when nothing random runs before the backbone: train "
               "the whole model on images instead (model.fit on the augmented pipeline), or drop "
               "the augmentation to use the cache.")
        if augmented:
            raise AugmentationError(f"augmented=True: the images are augmented before the backbone. {fix}")
        if getattr(backbone, "trainable_weights", None):
            raise BackboneNotFrozenError(
                f"the backbone {backbone.name!r} has {len(backbone.trainable_weights)} trainable weight "
                "tensors, so its features change while training; freeze it first "
                "(backbone.trainable = False) or train the whole model on images"
            )
        for name, cls, _kind in random_layers(before):
            raise AugmentationError(f"{cls} layer {name!r} runs before the backbone. {fix}")
        for name, cls, kind in random_layers(backbone):
            if kind == "augmentation":
                raise AugmentationError(f"{cls} layer {name!r} is inside the backbone. {fix}")
            notes.append(f"{cls} layer {name!r} inside the backbone is inactive here: features are "
                         "computed in inference mode")
        if before:
            image_spec = prepared.element_spec[0]
            spec = tf.TensorSpec([None, *image_spec.shape.as_list()], image_spec.dtype)
            ops = _traced_random_ops(before, spec)
            if ops:
                raise AugmentationError(
                    f"the layers before the backbone use random ops ({', '.join(ops)}). {fix}")
        reasons = dataset_randomness(prepared)
        augmentation = generator_augmentation(source)
        if augmentation:
            reasons.append(f"an ImageDataGenerator with {', '.join(augmentation)}")
        if reasons:
            raise AugmentationError(f"the input pipeline is random: {'; '.join(reasons)}. {fix}")
        for note in notes:
            print("feature cache note:", note, flush=True)

    # -- passes ------------------------------------------------------------
    @staticmethod
    def _fingerprints(dataset: tf.data.Dataset, progress: bool) -> np.ndarray:
        count = int(dataset.cardinality())
        meter = _Progress(count if count >= 0 else None, "fingerprinting the data", progress)
        chunks = []
        stream = (dataset.map(_element_fingerprint, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                  .batch(1024).prefetch(tf.data.AUTOTUNE))
        for chunk in stream:
            chunks.append(chunk.numpy())
            meter.update(len(chunks[-1]))
        return np.concatenate(chunks) if chunks else np.zeros([0], np.uint64)

    def _compute(self, backbone, before, dataset, preprocess, key, folder, batch_size, progress,
                 expected_fps):
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            stream = dataset.map(lambda x, y: (_element_fingerprint(x, y), x, y),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            if preprocess is not None:
                stream = stream.map(lambda f, x, y: (f, *preprocess(x, y)),
                                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            stream = stream.batch(batch_size).prefetch(tf.data.AUTOTUNE)

            forward = _forward_function(backbone, before, stream.element_spec[1])

            count = int(dataset.cardinality())
            meter = _Progress(count if count >= 0 else None, "computing features", progress)
            started = time.perf_counter()
            digests = {name: hashlib.sha256() for name in FILES}
            handles = {name: open(tmp / name, "wb") for name in FILES}
            shapes: dict[str, Any] = {}
            total = 0
            try:
                for fps, images, labels in stream:
                    outputs = forward(images)
                    if isinstance(outputs, dict) or isinstance(outputs, (list, tuple)):
                        raise FeatureCacheError("the backbone must return one tensor of features per image")
                    arrays = {"features.bin": np.ascontiguousarray(outputs.numpy()),
                              "labels.bin": np.ascontiguousarray(labels.numpy()),
                              "fingerprints.bin": np.ascontiguousarray(fps.numpy())}
                    for name, array in arrays.items():
                        info = (list(array.shape[1:]), array.dtype.str)
                        if shapes.setdefault(name, info) != info:
                            raise FeatureCacheError(f"{name} changed shape or dtype between batches: {info}")
                        raw = memoryview(array).cast("B")
                        handles[name].write(raw)
                        digests[name].update(raw)
                    total += len(arrays["features.bin"])
                    meter.update(len(arrays["features.bin"]))
            finally:
                for handle in handles.values():
                    handle.close()
            seconds = time.perf_counter() - started
            meter.finish()
            if total == 0:
                raise FeatureCacheError("the dataset is empty: nothing to compute")
            fingerprints = np.fromfile(tmp / "fingerprints.bin", dtype=np.uint64)
            if expected_fps is not None and not np.array_equal(np.sort(fingerprints), np.sort(expected_fps)):
                raise AugmentationError(
                    "the dataset gave different examples on two passes over it (same count: "
                    f"{len(fingerprints) == len(expected_fps)}): something random runs in the input "
                    "pipeline (augmentation?), so features computed once would not match the "
                    "training the model would see. Train the whole model on images instead."
                )
            manifest = {
                "format": FORMAT_VERSION,
                "key": key,
                "count": total,
                "files": {
                    name: {"shape": shapes[name][0], "dtype": shapes[name][1],
                           "bytes": (tmp / name).stat().st_size, "sha256": digests[name].hexdigest()}
                    for name in FILES
                },
                "seconds": seconds,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                "backbone_name": getattr(backbone, "name", type(backbone).__name__),
                "tensorflow": tf.__version__,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            _move_into_place(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        features, labels, _, _ = self._load(folder, key, "size")
        size = (features.nbytes + labels.nbytes) / 1e6
        if progress:
            print(f"  cached {total} feature rows ({size:.1f} MB) in {folder}", flush=True)
        return features, labels, seconds

    @staticmethod
    def _load(folder: Path, key: dict, verify: str):
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise CorruptEntryError("no manifest: a partial entry")
        try:
            manifest = json.loads(manifest_path.read_text())
            files = manifest["files"]
            count = int(manifest["count"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CorruptEntryError(f"unreadable manifest: {error}") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise CorruptEntryError(f"format {manifest.get('format')} is not {FORMAT_VERSION}")
        if json.loads(_json(manifest.get("key"))) != json.loads(_json(key)):
            raise CorruptEntryError("its manifest holds another key")
        arrays = []
        for name in FILES:
            path = folder / name
            info = files.get(name) or {}
            try:
                dtype = np.dtype(info["dtype"])
                shape = [count, *info["shape"]]
            except (KeyError, TypeError) as error:
                raise CorruptEntryError(f"manifest lacks {name} details: {error}") from None
            expected = int(np.prod(shape)) * dtype.itemsize
            if not path.is_file():
                raise CorruptEntryError(f"{name} is missing")
            actual = path.stat().st_size
            if actual != expected or info.get("bytes") != expected:
                raise CorruptEntryError(f"{name} has {actual} bytes, expected {expected}")
            if verify == "checksum" and _sha256(path) != info.get("sha256"):
                raise CorruptEntryError(f"{name} does not match its checksum")
            if expected > IN_MEMORY_LIMIT:
                arrays.append(np.memmap(path, dtype=dtype, mode="r", shape=tuple(shape)))
            else:
                arrays.append(np.fromfile(path, dtype=dtype).reshape(shape))
        features, labels, fingerprints = arrays
        return features, labels, fingerprints, manifest


def _reorder(features, labels, stored_fps, current_fps):
    """Put a hit's rows in the order of the current pass (matched by fingerprint)."""
    if len(stored_fps) != len(current_fps) or np.array_equal(stored_fps, current_fps):
        return features, labels
    index = np.empty(len(current_fps), dtype=np.int64)
    index[np.argsort(current_fps, kind="stable")] = np.argsort(stored_fps, kind="stable")
    return np.asarray(features)[index], np.asarray(labels)[index]


def _move_into_place(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` to ``folder``; an old (untrusted) ``folder`` is moved aside first."""
    if folder.exists():
        old = folder.with_name(f".old-{folder.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(folder, old)
        except FileNotFoundError:
            old = None
        else:
            shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError:
        # Another process put an entry there in the meantime: keep theirs.
        if not (folder / MANIFEST).is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def cached_features(backbone, data, *, preprocess: Callable | None = None,
                    preprocessing: str | None = None, model=None, before=None,
                    augmented: bool = False, data_id: str | None = None, batch_size: int = 32,
                    root: str | Path | None = None, progress: bool = True,
                    verify: str = "checksum") -> CachedFeatures:
    """The features ``backbone`` computes for ``data``: from the cache, or computed once and cached.

    ``backbone``: a frozen feature extractor (``hub.KerasLayer``, a Keras
    Applications model with ``trainable = False``, a cut model); it is
    called with ``training=False``. ``data``: a ``tf.data.Dataset`` of
    ``(image, label)`` (unbatched, or batched with rank-4 images), an
    ``(images, labels)`` pair of arrays, or a Keras ``Sequence``.
    ``preprocess(image, label) -> (image, label)`` is mapped over the data by
    the cache (pass the raw split and the lesson's ``format_image``: the data
    fingerprint then hashes the raw examples, the preprocessing key hashes the
    function). ``preprocessing``: a name/version string for the key.
    ``model``: the full model that contains ``backbone``; the layers before
    it are checked for randomness and applied first. ``before``: those layers
    given directly. ``augmented=True`` refuses at once. ``data_id``: skip the
    fingerprint pass and key the data by this id (see the module docstring).
    ``batch_size``: images per forward pass. ``root``: the cache folder
    (default ``<data dir>/features``). ``verify``: ``"checksum"`` (default)
    hashes the entry's files on every hit; ``"size"`` checks sizes only.

    Returns :class:`CachedFeatures` (``.dataset``, ``.batches(...)``,
    ``.features``, ``.labels``, ``.hit``). Raises :class:`AugmentationError`
    or :class:`BackboneNotFrozenError` when cached features would not be the
    features training sees.
    """
    return FeatureCache(root).get(backbone, data, preprocess=preprocess, preprocessing=preprocessing,
                                  model=model, before=before, augmented=augmented, data_id=data_id,
                                  batch_size=batch_size, progress=progress, verify=verify)


__all__ = [
    "AugmentationError",
    "BackboneNotFrozenError",
    "CachedFeatures",
    "CorruptEntryError",
    "FeatureCache",
    "FeatureCacheError",
    "as_dataset",
    "assemble",
    "cached_features",
    "callable_fingerprint",
    "data_fingerprint",
    "dataset_randomness",
    "describe_architecture",
    "features_root",
    "generator_augmentation",
    "head_of",
    "is_random_op",
    "layers_before",
    "random_layers",
    "weights_fingerprint",
]
