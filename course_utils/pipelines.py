"""Input pipelines that keep the model busy, and opt-in speed-ups for bigger machines.

The rules, in the order a ``tf.data`` pipeline applies them:

1. **Decode and resize once.** The expensive per-image work (JPEG decoding,
   resizing, scaling) goes in a parallel ``map`` *before* ``cache()``, so it
   runs in the first epoch only.
2. **cache() where it fits memory.** :func:`fits_in_memory` estimates the
   decoded size; ``cache="auto"`` caches in memory only when it fits.
3. **Shuffle after the cache**, with a seed, so every epoch sees a new
   order and two runs see the same orders.
4. **Augment after the cache** (random layers must see a new draw every
   epoch); the dataset is then marked so the feature cache refuses it.
5. **Batch, then prefetch(AUTOTUNE)**: the next batch is prepared while the
   model works on this one.
6. **Deterministic order** (``deterministic=True``, the default): parallel
   maps keep the input order, so runs that a lesson compares see the same
   data in the same order.

For learners on a GPU: :func:`use_mixed_precision` and
:func:`xla_compile_kwargs` (opt-in, with their caveats), and
:func:`strategy_for` / :func:`distribution_scope` to train on several
devices with ``tf.distribute.MirroredStrategy``.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from course_utils.setup import env

AUTOTUNE = tf.data.AUTOTUNE
AUGMENTED_MARKER = "_course_augmented"  # read by course_utils.features


class PipelineError(ValueError):
    """A pipeline asked for with settings that cannot work."""


# ---------------------------------------------------------------------------
# Decode, resize, scale
# ---------------------------------------------------------------------------

def decode_and_resize(size: int | tuple[int, int], *, scale: float = 1.0 / 255,
                      offset: float = 0.0, channels: int = 3) -> Callable:
    """A map function ``(image, label) -> (float32 image, label)`` for one example.

    ``image`` may be encoded bytes (JPEG/PNG/BMP/GIF, a scalar string
    tensor) or a decoded ``uint8``/float image of any size. The result is
    resized to ``size`` and mapped to ``pixel * scale + offset``: the
    defaults give [0, 1] (TF Hub image models); ``scale=1/127.5, offset=-1``
    gives [-1, 1] (Keras MobileNetV2 / InceptionV3 ``preprocess_input``).
    """
    height, width = (size, size) if isinstance(size, int) else size

    def fn(image, label):
        if image.dtype == tf.string:
            image = tf.io.decode_image(image, channels=channels, expand_animations=False)
        image = tf.image.resize(image, (height, width))
        image = tf.cast(image, tf.float32) * scale + offset
        image.set_shape((height, width, channels))
        return image, label

    fn.__name__ = f"decode_and_resize_{height}x{width}"
    return fn


def encode_jpeg(images: np.ndarray, quality: int = 90) -> np.ndarray:
    """uint8 images ``[N, H, W, 3]`` as an array of JPEG byte strings (for file-like pipelines)."""
    return np.array([tf.io.encode_jpeg(image, quality=quality).numpy() for image in images], dtype=object)


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------

def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or a conservative 2 GiB guess."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def dataset_bytes(num_examples: int, image_size: int | tuple[int, int], channels: int = 3,
                  dtype=tf.float32) -> int:
    """Bytes that ``num_examples`` decoded images of ``image_size`` take in memory."""
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    return int(num_examples) * height * width * channels * tf.as_dtype(dtype).size


def fits_in_memory(nbytes: int, fraction: float = 0.25, available: int | None = None) -> bool:
    """True when ``nbytes`` is at most ``fraction`` of the memory available now."""
    available = available_memory() if available is None else available
    return nbytes <= fraction * available


# ---------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------

def _source(data) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return tf.data.Dataset.from_tensor_slices((np.asarray(data[0]), np.asarray(data[1])))
    raise PipelineError(
        f"cannot build a pipeline from {type(data).__name__}: give a tf.data.Dataset of "
        "(image, label) or an (images, labels) pair of arrays"
    )


def mark_augmented(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Mark ``dataset`` as augmented: the feature cache then refuses it and anything built on it."""
    setattr(dataset, AUGMENTED_MARKER, True)
    return dataset


def is_marked_augmented(dataset: tf.data.Dataset) -> bool:
    """True when ``dataset`` or a dataset it was built from was marked by :func:`mark_augmented`."""
    from course_utils.features import _datasets_in_chain  # noqa: PLC0415

    return any(getattr(ds, AUGMENTED_MARKER, False) for ds in _datasets_in_chain(dataset))


def augment_with(dataset: tf.data.Dataset, augmentation, *, deterministic: bool = True) -> tf.data.Dataset:
    """Map a random augmentation (Keras layers or a function) over ``(image, label)`` and mark it.

    Keras preprocessing layers only act with ``training=True``; this passes it.
    """
    if callable(augmentation) and hasattr(augmentation, "get_config"):
        def fn(image, label):
            return augmentation(image, training=True), label
    else:
        fn = augmentation
    return mark_augmented(dataset.map(fn, num_parallel_calls=AUTOTUNE, deterministic=deterministic))


def image_pipeline(data, *, batch_size: int, preprocess: Callable | None = None,
                   shuffle: bool = False, seed: int | None = 0, cache: bool | str | Path = "auto",
                   augment=None, deterministic: bool = True, drop_remainder: bool = False,
                   num_examples: int | None = None) -> tf.data.Dataset:
    """A batched ``tf.data`` pipeline: decode/resize once, cache, shuffle, augment, batch, prefetch.

    ``data``: a ``tf.data.Dataset`` of ``(image, label)`` or ``(images, labels)``
    arrays. ``preprocess``: the once-per-image map (e.g.
    :func:`decode_and_resize`), run in parallel before the cache.
    ``cache``: ``True`` (in memory), ``False``, ``"auto"`` (in memory when
    :func:`fits_in_memory` says the preprocessed data fits; needs the count,
    from ``num_examples`` or the dataset's cardinality), or a file path
    prefix (a folder under the project's ``data/``, never ``/tmp``).
    ``shuffle``: a new order every epoch, fixed by ``seed``. ``augment``:
    random layers or a function, applied after the cache so every epoch sees
    a fresh draw; the result is marked as augmented. ``deterministic``: keep
    the order through the parallel maps.
    """
    if batch_size < 1:
        raise PipelineError(f"batch_size must be at least 1, got {batch_size}")
    dataset = _source(data)
    count = num_examples if num_examples is not None else int(dataset.cardinality())
    if preprocess is not None:
        dataset = dataset.map(preprocess, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if cache == "auto":
        spec = dataset.element_spec[0]
        if count >= 0 and spec.shape.is_fully_defined():
            nbytes = count * int(np.prod(spec.shape)) * spec.dtype.size
            cache = fits_in_memory(nbytes)
        else:
            cache = False
    if cache is True:
        dataset = dataset.cache()
    elif cache:
        path = Path(cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        dataset = dataset.cache(str(path))
    if shuffle:
        buffer = count if count > 0 else 1024
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        dataset = augment_with(dataset, augment, deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    options = tf.data.Options()
    options.deterministic = deterministic
    dataset = dataset.with_options(options).prefetch(AUTOTUNE)
    if augment is not None:
        mark_augmented(dataset)
    return dataset


def cache_file(name: str) -> Path:
    """A file-cache prefix under ``<data dir>/tfdata_cache/`` for ``image_pipeline(cache=...)``."""
    return env.data_dir() / "tfdata_cache" / name


def measure_throughput(dataset: tf.data.Dataset, *, max_batches: int | None = None) -> tuple[int, float]:
    """Iterate ``dataset`` (batched) once; returns ``(examples, seconds)``."""
    import time

    count = 0
    start = time.perf_counter()
    for index, batch in enumerate(dataset):
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        count += int(first.shape[0])
        if max_batches is not None and index + 1 >= max_batches:
            break
    return count, time.perf_counter() - start


def set_deterministic(seed: int = 0, ops: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow; with ``ops=True`` also make TF ops deterministic.

    ``enable_op_determinism`` makes two runs bit-identical on the same
    machine; it costs some speed, it cannot be switched off again in the
    process, random ops then need a seed (the global one set here is
    enough), and on a GPU a few ops without a deterministic kernel raise an
    error instead of running.
    """
    tf.keras.utils.set_random_seed(seed)
    if ops:
        tf.config.experimental.enable_op_determinism()


# ---------------------------------------------------------------------------
# Opt-in: mixed precision and XLA (for GPU users)
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def use_mixed_precision(enabled: bool = True) -> Iterator[str]:
    """Build models inside this block with the ``mixed_float16`` policy (opt-in).

    Caveats:

    * It pays off on GPUs with tensor cores (NVIDIA compute capability 7.0
      or newer: V100, T4, A100, RTX 20xx and later). On a CPU or an older GPU
      it is slower, not faster.
    * The policy applies to layers *created* inside the block: build the
      model there. Keep the last layer in float32 (``Dense(n,
      dtype="float32")`` or a float32 ``Activation``) so logits and the
      loss stay numerically safe; ``model.fit`` scales the loss for you
      (a custom training loop needs ``LossScaleOptimizer``).
    * Features computed under it are float16: the feature cache keys them
      apart from float32 ones (the dtype policy is part of its key).
    * A ``hub.KerasLayer`` keeps the dtypes of its SavedModel.

    Yields the policy name in force inside the block; restores the previous one after.
    """
    mixed = tf.keras.mixed_precision
    previous = mixed.global_policy()
    if enabled:
        mixed.set_global_policy("mixed_float16")
    try:
        yield mixed.global_policy().name
    finally:
        mixed.set_global_policy(previous)


def xla_compile_kwargs(enabled: bool = False) -> dict[str, bool]:
    """``model.compile(**xla_compile_kwargs(True), ...)`` turns on XLA (opt-in).

    Caveats: the first epoch is slower (compilation); every new input shape
    compiles again, so use fixed image sizes and ``drop_remainder=True`` for
    the last partial batch; not every op has an XLA kernel (some image ops,
    some TF Hub SavedModels) and such models fail to compile; results may
    differ from the non-XLA run in the last float digits. Gains are largest
    on GPUs and small on CPUs.
    """
    return {"jit_compile": True} if enabled else {}


# ---------------------------------------------------------------------------
# Opt-in: several devices
# ---------------------------------------------------------------------------

def training_devices() -> list[str]:
    """The devices to train on: the logical GPUs if any, else the logical CPUs."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


def strategy_for(enabled: bool = False, devices: list[str] | None = None) -> tf.distribute.Strategy:
    """``MirroredStrategy`` over ``devices`` when ``enabled`` and more than one is visible.

    Otherwise the default strategy (one device; its ``scope()`` changes
    nothing), so the same notebook code runs everywhere. Under
    ``MirroredStrategy`` each device gets ``batch_size / num_replicas``
    examples of every batch and the gradients are summed across devices:
    keep the *global* batch size in the pipeline (scale it with
    ``strategy.num_replicas_in_sync`` to keep the per-device batch).
    Build and compile the model inside ``strategy.scope()``.
    """
    devices = devices if devices is not None else training_devices()
    if enabled and len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def distribution_scope(enabled: bool = False, devices: list[str] | None = None):
    """``with distribution_scope(MULTI_DEVICE) as strategy:`` build and compile the model inside."""
    strategy = strategy_for(enabled, devices)
    with strategy.scope():
        yield strategy


def split_cpu(num_devices: int = 2) -> list[str]:
    """Show TensorFlow ``num_devices`` logical CPUs (to try MirroredStrategy without GPUs).

    Must run before TensorFlow initialises its devices (before the first
    op); afterwards it raises :class:`PipelineError` saying to restart.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError as error:
        raise PipelineError(
            "TensorFlow already initialised its devices; call split_cpu() first thing after "
            f"importing TensorFlow (restart the kernel): {error}"
        ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """One line: the strategy's class and its replicas."""
    return f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)"


__all__ = [
    "AUTOTUNE",
    "PipelineError",
    "augment_with",
    "available_memory",
    "cache_file",
    "dataset_bytes",
    "decode_and_resize",
    "describe_strategy",
    "distribution_scope",
    "encode_jpeg",
    "fits_in_memory",
    "image_pipeline",
    "is_marked_augmented",
    "mark_augmented",
    "measure_throughput",
    "set_deterministic",
    "split_cpu",
    "strategy_for",
    "training_devices",
    "use_mixed_precision",
    "xla_compile_kwargs",
]
