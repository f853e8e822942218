"""The benchmark's input pipeline: decode and resize once, cache, shuffle, batch, prefetch.

1. **Decode and resize once**: the per-image work (JPEG decoding, resizing, scaling) is a
   parallel ``map`` *before* ``cache()``, so it runs in the first epoch only.
2. **Shuffle after the cache**, with a seed: a new order every epoch, the same orders in two runs.
3. **Batch, then prefetch(AUTOTUNE)**: the next batch is prepared while the model works.
4. **Deterministic order**: parallel maps keep the input order.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def decode_and_resize(size: int | tuple[int, int], *, scale: float = 1.0 / 255,
                      offset: float = 0.0, channels: int = 3) -> Callable:
    """A map function ``(image, label) -> (float32 image, label)`` for one example.

    ``image`` may be encoded bytes (JPEG/PNG/BMP/GIF, a scalar string tensor) or a decoded
    image of any size. The result is resized to ``size`` and mapped to ``pixel * scale +
    offset``: the defaults give [0, 1]; ``scale=1/127.5, offset=-1`` gives [-1, 1] (Keras
    MobileNetV2 / InceptionV3 ``preprocess_input``).
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
    """uint8 images ``[N, H, W, 3]`` as an array of JPEG byte strings (a photo folder's files)."""
    return np.array([tf.io.encode_jpeg(image, quality=quality).numpy() for image in images], dtype=object)


def image_pipeline(dataset: tf.data.Dataset, *, batch_size: int, preprocess: Callable | None = None,
                   shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """``dataset`` of ``(image, label)``: ``preprocess`` once, cached in memory, shuffled, batched, prefetched."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if preprocess is not None:
        dataset = dataset.map(preprocess, num_parallel_calls=AUTOTUNE, deterministic=True)
    dataset = dataset.cache()
    if shuffle:
        count = int(dataset.cardinality())
        dataset = dataset.shuffle(count if count > 0 else 1024, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def measure_throughput(dataset: tf.data.Dataset, *, max_batches: int | None = None) -> tuple[int, float]:
    """Iterate ``dataset`` (batched) once; returns ``(examples, seconds)``."""
    count = 0
    start = time.perf_counter()
    for index, batch in enumerate(dataset):
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        count += int(first.shape[0])
        if max_batches is not None and index + 1 >= max_batches:
            break
    return count, time.perf_counter() - start
