"""The benchmark's input pipeline (benchmarks/pipelines.py): decode, resize, cache, shuffle, batch."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import pipelines  # noqa: E402


@pytest.fixture(scope="module")
def arrays():
    """20 smooth 12x16 colour images (random 3x4 patterns, resized) and labels 0/1."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (20, 3, 4, 3)).astype("float32")
    images = np.clip(tf.image.resize(small, (12, 16)).numpy(), 0, 255).astype("uint8")
    return images, rng.integers(0, 2, 20).astype("int64")


def slices(arrays):
    return tf.data.Dataset.from_tensor_slices(arrays)


def labels_of(dataset):
    return np.concatenate([y.numpy() for _, y in dataset]).tolist()


# -- decode, resize, scale ---------------------------------------------------------

def test_decode_and_resize_reads_jpeg_bytes_and_arrays(arrays):
    images, labels = arrays
    jpegs = pipelines.encode_jpeg(images[:3])
    assert jpegs.dtype == object and jpegs[0][:2] == b"\xff\xd8"  # JPEG magic
    fn = pipelines.decode_and_resize(8)
    from_bytes, label = fn(tf.constant(jpegs[0]), tf.constant(labels[0]))
    from_array, _ = fn(tf.constant(images[0]), tf.constant(labels[0]))
    assert from_bytes.shape == from_array.shape == (8, 8, 3) and from_bytes.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(from_array)) and float(tf.reduce_max(from_array)) <= 1.0
    assert float(tf.reduce_mean(tf.abs(from_bytes - from_array))) < 0.05  # JPEG loses a little
    assert int(label) == labels[0]


def test_decode_and_resize_scale_and_offset(arrays):
    image = tf.constant(arrays[0][0])
    minus_one_to_one, _ = pipelines.decode_and_resize((6, 4), scale=1 / 127.5, offset=-1.0)(image, 0)
    assert minus_one_to_one.shape == (6, 4, 3)
    assert -1.0 <= float(tf.reduce_min(minus_one_to_one)) < 0.0 < float(tf.reduce_max(minus_one_to_one)) <= 1.0


# -- pipelines --------------------------------------------------------------------------

def test_image_pipeline_batches_in_order_without_shuffle(arrays):
    images, labels = arrays
    dataset = pipelines.image_pipeline(slices(arrays), batch_size=8, preprocess=pipelines.decode_and_resize(8))
    batches = list(dataset)
    assert [b[0].shape[0] for b in batches] == [8, 8, 4]
    assert batches[0][0].shape[1:] == (8, 8, 3)
    assert labels_of(dataset) == labels.tolist()


def test_image_pipeline_shuffle_is_seeded_and_new_every_epoch(arrays):
    one = pipelines.image_pipeline(slices(arrays), batch_size=5, shuffle=True, seed=3)
    two = pipelines.image_pipeline(slices(arrays), batch_size=5, shuffle=True, seed=3)
    other = pipelines.image_pipeline(slices(arrays), batch_size=5, shuffle=True, seed=4)

    def epoch(dataset):
        return np.concatenate([x.numpy() for x, _ in dataset])

    first_epoch, second_epoch = epoch(one), epoch(one)
    assert np.array_equal(first_epoch, epoch(two))  # same seed, same order
    assert not np.array_equal(first_epoch, second_epoch)  # a new order in the second epoch
    assert not np.array_equal(first_epoch, epoch(other))  # another seed, another order
    assert sorted(labels_of(one)) == sorted(arrays[1].tolist())


def test_image_pipeline_decodes_once_then_reads_its_cache(arrays):
    calls = tf.Variable(0)

    def counted(image, label):
        calls.assign_add(1)
        return pipelines.decode_and_resize(8)(image, label)

    dataset = pipelines.image_pipeline(slices(arrays), batch_size=8, preprocess=counted)
    assert labels_of(dataset) == labels_of(dataset) == arrays[1].tolist()
    assert int(calls.numpy()) == 20  # two epochs, each image decoded once


def test_bad_pipeline_arguments(arrays):
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        pipelines.image_pipeline(slices(arrays), batch_size=0)


def test_measure_throughput_counts_examples(arrays):
    dataset = pipelines.image_pipeline(slices(arrays), batch_size=6)
    count, seconds = pipelines.measure_throughput(dataset)
    assert count == 20 and seconds > 0
    assert pipelines.measure_throughput(dataset, max_batches=2)[0] == 12
