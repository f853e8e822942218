"""Input pipelines, memory estimates, determinism, mixed precision, XLA and device strategies."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from course_utils import features as feature_cache
from course_utils import pipelines
from course_utils.data.generated import make_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def arrays():
    images, labels = make_images(20, (12, 16), 2, seed=0)
    return images, labels.astype("int64")


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


# -- memory ---------------------------------------------------------------------------

def test_memory_estimates():
    assert pipelines.dataset_bytes(10, 224) == 10 * 224 * 224 * 3 * 4
    assert pipelines.dataset_bytes(2, (3, 5), channels=1, dtype=tf.uint8) == 30
    assert pipelines.fits_in_memory(100, fraction=0.5, available=200)
    assert not pipelines.fits_in_memory(101, fraction=0.5, available=200)
    assert pipelines.available_memory() > 0


# -- pipelines --------------------------------------------------------------------------

def test_image_pipeline_batches_in_order_without_shuffle(arrays):
    images, labels = arrays
    dataset = pipelines.image_pipeline((images, labels), batch_size=8, preprocess=pipelines.decode_and_resize(8))
    batches = list(dataset)
    assert [b[0].shape[0] for b in batches] == [8, 8, 4]
    assert batches[0][0].shape[1:] == (8, 8, 3)
    assert labels_of(dataset) == labels.tolist()


def test_image_pipeline_shuffle_is_seeded_and_new_every_epoch(arrays):
    one = pipelines.image_pipeline(arrays, batch_size=5, shuffle=True, seed=3)
    two = pipelines.image_pipeline(arrays, batch_size=5, shuffle=True, seed=3)
    other = pipelines.image_pipeline(arrays, batch_size=5, shuffle=True, seed=4)

    def epoch(dataset):
        return np.concatenate([x.numpy() for x, _ in dataset])

    first_epoch, second_epoch = epoch(one), epoch(one)
    assert np.array_equal(first_epoch, epoch(two))  # same seed, same order
    assert not np.array_equal(first_epoch, second_epoch)  # a new order in the second epoch
    assert not np.array_equal(first_epoch, epoch(other))  # another seed, another order
    assert sorted(labels_of(one)) == sorted(arrays[1].tolist())


def test_image_pipeline_cache_choices(arrays, tmp_path, monkeypatch):
    def has_cache(dataset):
        return any(type(ds).__name__.lstrip("_").startswith("Cache")
                   for ds in feature_cache._datasets_in_chain(dataset))

    assert has_cache(pipelines.image_pipeline(arrays, batch_size=4, cache=True))
    assert not has_cache(pipelines.image_pipeline(arrays, batch_size=4, cache=False))
    assert has_cache(pipelines.image_pipeline(arrays, batch_size=4, cache="auto"))
    monkeypatch.setattr(pipelines, "available_memory", lambda: 10)
    assert not has_cache(pipelines.image_pipeline(arrays, batch_size=4, cache="auto"))
    prefix = tmp_path / "cache" / "train"
    on_disk = pipelines.image_pipeline(arrays, batch_size=4, cache=prefix)
    assert labels_of(on_disk) == arrays[1].tolist()
    assert any(p.name.startswith("train") for p in prefix.parent.iterdir())


def test_cache_file_lives_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert pipelines.cache_file("flowers_224") == tmp_path / "tfdata_cache" / "flowers_224"


def test_augmentation_is_applied_after_the_cache_and_marked(arrays):
    flip = tf.keras.Sequential([tf.keras.layers.RandomFlip("horizontal_and_vertical", seed=1)])
    dataset = pipelines.image_pipeline(arrays, batch_size=20, preprocess=pipelines.decode_and_resize(8),
                                       augment=flip)
    assert pipelines.is_marked_augmented(dataset)
    first, second = next(iter(dataset))[0].numpy(), next(iter(dataset))[0].numpy()
    assert not np.array_equal(first, second)  # a fresh draw every epoch
    plain = pipelines.image_pipeline(arrays, batch_size=20)
    assert not pipelines.is_marked_augmented(plain)
    assert "marked as augmented" in " ".join(feature_cache.dataset_randomness(dataset))


def test_augment_with_a_function_marks_too(arrays):
    dataset = pipelines.augment_with(tf.data.Dataset.from_tensor_slices(arrays),
                                     lambda x, y: (tf.image.random_flip_left_right(x), y))
    assert pipelines.is_marked_augmented(dataset.batch(2))
    assert "marked as augmented" in " ".join(feature_cache.dataset_randomness(dataset.batch(2)))


def test_bad_pipeline_arguments():
    with pytest.raises(pipelines.PipelineError, match="batch_size"):
        pipelines.image_pipeline((np.zeros((2, 4, 4, 3)), np.zeros(2)), batch_size=0)
    with pytest.raises(pipelines.PipelineError, match="pair of arrays"):
        pipelines.image_pipeline("images/", batch_size=2)


def test_measure_throughput_counts_examples(arrays):
    dataset = pipelines.image_pipeline(arrays, batch_size=6)
    count, seconds = pipelines.measure_throughput(dataset)
    assert count == 20 and seconds > 0
    assert pipelines.measure_throughput(dataset, max_batches=2)[0] == 12


def test_set_deterministic_repeats_a_training_run():
    def train():
        pipelines.set_deterministic(7, ops=False)
        model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,)), tf.keras.layers.Dropout(0.5),
                                     tf.keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        x = np.random.default_rng(0).random((16, 4)).astype("float32")
        model.fit(pipelines.image_pipeline((x, x[:, :1]), batch_size=4, shuffle=True, seed=1), epochs=2, verbose=0)
        return model.get_weights()

    for a, b in zip(train(), train()):
        np.testing.assert_array_equal(a, b)


def test_set_deterministic_turns_on_op_determinism(monkeypatch):
    calls = []  # the real switch is global and one-way: record the call instead of flipping it
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append(True))
    pipelines.set_deterministic(1)
    assert calls == [True]


# -- mixed precision, XLA ---------------------------------------------------------------

def test_use_mixed_precision_builds_float16_layers_and_restores_the_policy():
    before = tf.keras.mixed_precision.global_policy().name
    with pipelines.use_mixed_precision(True) as policy:
        assert policy == "mixed_float16"
        layer = tf.keras.layers.Dense(2)
        out = tf.keras.layers.Dense(2, dtype="float32")
    assert tf.keras.mixed_precision.global_policy().name == before == "float32"
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    assert out.compute_dtype == "float32"
    with pipelines.use_mixed_precision(False) as policy:
        assert policy == "float32"


def test_xla_compile_kwargs_compile_and_train():
    assert pipelines.xla_compile_kwargs(False) == {}
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse", **pipelines.xla_compile_kwargs(True))
    assert model.jit_compile is True
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# -- devices ------------------------------------------------------------------------------

def test_strategy_for_falls_back_to_the_default_strategy():
    default = tf.distribute.get_strategy()
    assert pipelines.strategy_for(False) is default
    assert pipelines.strategy_for(True, devices=["/cpu:0"]) is default  # one device: nothing to mirror
    with pipelines.distribution_scope(False) as strategy:
        assert strategy is default
    assert pipelines.describe_strategy(default).endswith("1 replica(s)")
    assert pipelines.training_devices()


def test_split_cpu_after_initialisation_says_restart():
    tf.constant(1.0) + 1.0  # the runtime is initialised
    with pytest.raises(pipelines.PipelineError, match="restart the kernel"):
        pipelines.split_cpu(2)


def test_mirrored_strategy_trains_on_two_logical_cpus():
    """In a fresh process: devices can only be split before TensorFlow starts."""
    script = textwrap.dedent("""
        import json, os
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import numpy as np, tensorflow as tf
        from course_utils import pipelines
        devices = pipelines.split_cpu(2)
        with pipelines.distribution_scope(True) as strategy:
            model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
            model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
        x = np.random.default_rng(0).random((64, 3)).astype("float32")
        y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
        history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
        print(json.dumps({"devices": devices, "strategy": type(strategy).__name__,
                          "replicas": strategy.num_replicas_in_sync,
                          "loss": history.history["loss"]}))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["devices"]) == 2 and result["replicas"] == 2
    assert result["strategy"] == "MirroredStrategy"
    assert result["loss"][-1] < result["loss"][0]
