"""The feature cache: hits, misses, invalidation per key part, refusal, corrupt entries, models."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import tensorflow as tf

from course_utils import features as fc
from course_utils import pipelines
from course_utils.data.generated import make_images

SIZE = 16
layers = tf.keras.layers


def make_backbone(seed: int = 0, activation: str = "relu", filters: int = 4):
    tf.keras.utils.set_random_seed(seed)
    backbone = tf.keras.Sequential([
        layers.Conv2D(filters, 3, strides=2, activation=activation, input_shape=(SIZE, SIZE, 3)),
        layers.GlobalAveragePooling2D(),
    ], name="tiny_backbone")
    backbone.trainable = False
    return backbone


def to_float(image, label):
    return tf.cast(image, tf.float32) / 255.0, label


def to_float_v2(image, label):
    return tf.cast(image, tf.float32) / 127.5 - 1.0, label


def scaled(image, label, factor):
    return tf.cast(image, tf.float32) * factor, label


@pytest.fixture(scope="module")
def arrays():
    images, labels = make_images(24, SIZE, 3, seed=0)
    return images, labels.astype("int64")


@pytest.fixture
def root(tmp_path):
    return tmp_path / "features"


@pytest.fixture(scope="module")
def backbone():
    return make_backbone()


def get(backbone, data, root, **kwargs):
    kwargs.setdefault("preprocess", to_float)
    return fc.cached_features(backbone, data, root=root, progress=False, batch_size=8, **kwargs)


def dataset(arrays):
    return tf.data.Dataset.from_tensor_slices(arrays)


# -- hit, miss, identical features ---------------------------------------------

def test_miss_then_hit_with_identical_features(backbone, arrays, root):
    images, labels = arrays
    first = get(backbone, dataset(arrays), root)
    second = get(backbone, dataset(arrays), root)
    assert not first.hit and second.hit
    assert first.path == second.path and first.path.parent == root
    expected = backbone(images.astype("float32") / 255.0, training=False).numpy()
    np.testing.assert_allclose(first.features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(second.labels, labels)
    assert second.count == 24 and "loaded from the cache" in second.describe()
    manifest = json.loads((first.path / fc.MANIFEST).read_text())
    assert manifest["count"] == 24
    assert manifest["files"]["features.bin"]["shape"] == [4]
    assert set(manifest["key"]) == {"backbone", "weights", "preprocessing", "data"}
    assert len(fc.FeatureCache(root).entries()) == 1


def test_default_root_is_under_the_data_dir(backbone, arrays, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    result = fc.cached_features(backbone, dataset(arrays), preprocess=to_float, progress=False)
    assert result.path.parent == tmp_path / "data" / "features" == fc.features_root()


def test_dataset_and_batches_hand_back_features_and_labels(backbone, arrays, root):
    result = get(backbone, dataset(arrays), root)
    features, label = next(iter(result.dataset))
    assert features.shape == (4,) and label.dtype == tf.int64
    one = [y.numpy().tolist() for _, y in result.batches(8, shuffle=True, seed=1)]
    two = [y.numpy().tolist() for _, y in result.batches(8, shuffle=True, seed=1)]
    assert one == two and [len(b) for b in one] == [8, 8, 8]
    assert sorted(sum(one, [])) == sorted(arrays[1].tolist())
    plain = np.concatenate([y.numpy() for _, y in result.batches(8)])
    np.testing.assert_array_equal(plain, arrays[1])


def test_progress_is_printed(backbone, arrays, root, capsys):
    fc.cached_features(backbone, dataset(arrays), preprocess=to_float, root=root, progress=True)
    out = capsys.readouterr().out
    assert "computing features: 24/24 examples" in out and "cached 24 feature rows" in out


def test_inputs_arrays_batched_dataset_and_sequence_give_the_same_entry(backbone, arrays, root):
    images, labels = arrays
    base = get(backbone, dataset(arrays), root)
    assert get(backbone, (images, labels), root).hit
    assert get(backbone, dataset(arrays).batch(5), root).hit

    class Batches(tf.keras.utils.Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return images[i * 8:(i + 1) * 8], labels[i * 8:(i + 1) * 8]

    from_sequence = get(backbone, Batches(), root)
    assert from_sequence.hit and from_sequence.path == base.path


def test_bad_inputs_say_what_to_give(backbone, arrays, root):
    with pytest.raises(fc.FeatureCacheError, match="cannot read int"):
        get(backbone, 3, root)
    with pytest.raises(fc.FeatureCacheError, match=r"\(image, label\) pairs"):
        get(backbone, tf.data.Dataset.from_tensor_slices(arrays[0]), root)
    with pytest.raises(ValueError, match="verify"):
        get(backbone, dataset(arrays), root, verify="no")
    with pytest.raises(fc.FeatureCacheError, match=r"models.cut_at\(model, 'flat'\)"):
        get("flat", dataset(arrays), root)
    with pytest.raises(ValueError, match="not both"):
        get(backbone, dataset(arrays), root, model=full_model(backbone), before=[])
    with pytest.raises(fc.FeatureCacheError, match="is not a layer of"):
        get(make_backbone(), dataset(arrays), root, model=full_model(backbone))


# -- invalidation: each key part -------------------------------------------------

def test_a_rebuilt_backbone_with_the_same_weights_hits(backbone, arrays, root):
    first = get(backbone, dataset(arrays), root)
    twin = make_backbone(seed=5)  # new auto-numbered layer names, other random init...
    twin.set_weights(backbone.get_weights())  # ...then the same weights
    again = get(twin, dataset(arrays), root)
    assert again.hit and again.path == first.path


def test_architecture_change_misses(backbone, arrays, root):
    first = get(backbone, dataset(arrays), root)
    other = make_backbone(activation="tanh")  # same weight shapes, other config
    other.set_weights(backbone.get_weights())
    second = get(other, dataset(arrays), root)
    assert not second.hit and second.path != first.path
    assert second.key["weights"] == first.key["weights"]
    assert second.key["backbone"] != first.key["backbone"]


def test_weight_change_misses_and_restoring_hits(arrays, root):
    backbone = make_backbone()
    original = backbone.get_weights()
    first = get(backbone, dataset(arrays), root)
    changed = [w.copy() for w in original]
    changed[0][0, 0, 0, 0] += 0.5
    backbone.set_weights(changed)
    second = get(backbone, dataset(arrays), root)
    assert not second.hit and second.key["backbone"] == first.key["backbone"]
    assert not np.allclose(second.features, first.features)
    backbone.set_weights(original)
    assert get(backbone, dataset(arrays), root).hit


def test_preprocessing_changes_miss(backbone, arrays, root):
    first = get(backbone, dataset(arrays), root)
    assert not get(backbone, dataset(arrays), root, preprocess=to_float_v2).hit  # other code
    assert not get(backbone, dataset(arrays), root, preprocessing="float v2").hit  # other name
    half = get(backbone, dataset(arrays), root, preprocess=functools.partial(scaled, factor=0.5))
    third = get(backbone, dataset(arrays), root, preprocess=functools.partial(scaled, factor=0.3))
    assert not half.hit and not third.hit  # partial arguments are part of the key
    assert get(backbone, dataset(arrays), root).path == first.path


def test_data_changes_miss(backbone, arrays, root):
    images, labels = arrays
    get(backbone, dataset(arrays), root)
    pixel = images.copy()
    pixel[3, 2, 2, 1] ^= 1
    assert not get(backbone, (pixel, labels), root).hit
    label = labels.copy()
    label[0] = (label[0] + 1) % 3
    assert not get(backbone, (images, label), root).hit
    assert not get(backbone, (images[:-1], labels[:-1]), root).hit


def test_a_shuffled_source_hits_and_comes_back_in_its_own_order(backbone, arrays, root):
    images, labels = arrays
    get(backbone, dataset(arrays), root)
    order = np.random.default_rng(3).permutation(len(labels))
    result = get(backbone, (images[order], labels[order]), root)
    assert result.hit
    np.testing.assert_array_equal(result.labels, labels[order])
    expected = backbone(images[order].astype("float32") / 255.0).numpy()
    np.testing.assert_allclose(result.features, expected, rtol=1e-5, atol=1e-6)


def test_data_id_skips_the_content_pass_and_trusts_the_id(backbone, arrays, root):
    images, labels = arrays
    first = get(backbone, dataset(arrays), root, data_id="tiny train v1")
    assert first.key["data"] == {"id": "tiny train v1", "count": 24}
    changed = images.copy()
    changed[0] = 0
    assert get(backbone, (changed, labels), root, data_id="tiny train v1").hit  # trusted, as documented
    assert not get(backbone, (changed, labels), root, data_id="tiny train v2").hit
    assert not get(backbone, (images[:20], labels[:20]), root, data_id="tiny train v1").hit


# -- augmentation before the backbone is refused --------------------------------

def full_model(backbone, *front):
    model = tf.keras.Sequential([*front, backbone, layers.Dropout(0.5), layers.Dense(3)])
    model.build((None, SIZE, SIZE, 3))
    return model


@pytest.mark.parametrize("layer", [
    layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1),
    layers.RandomTranslation(0.1, 0.1), layers.RandomContrast(0.2), layers.GaussianNoise(0.1),
    layers.Dropout(0.2),
], ids=lambda layer: type(layer).__name__)
def test_random_layers_before_the_backbone_are_refused(backbone, arrays, root, layer):
    model = full_model(backbone, layers.Rescaling(1.0), layer)
    with pytest.raises(fc.AugmentationError, match=f"{type(layer).__name__} layer .* before the backbone"):
        get(backbone, dataset(arrays), root, model=model)
    assert not root.exists() or not any(root.iterdir())  # refused before any work


def test_a_lambda_with_random_ops_before_the_backbone_is_refused(backbone, arrays, root):
    flip = layers.Lambda(lambda x: tf.image.random_flip_left_right(x))
    with pytest.raises(fc.AugmentationError, match="random ops"):
        get(backbone, dataset(arrays), root, before=[flip])


def test_deterministic_layers_before_and_dropout_after_are_fine(backbone, arrays, root):
    model = full_model(backbone, layers.Rescaling(2.0))
    result = get(backbone, dataset(arrays), root, model=model)
    expected = backbone(2.0 * arrays[0].astype("float32") / 255.0).numpy()
    np.testing.assert_allclose(result.features, expected, rtol=1e-5, atol=1e-6)
    plain = get(backbone, dataset(arrays), root)
    assert plain.path != result.path  # the layers before are part of the backbone key


def test_augmentation_inside_the_backbone_is_refused(arrays, root):
    inner = tf.keras.Sequential([layers.RandomFlip(input_shape=(SIZE, SIZE, 3)), make_backbone()])
    inner.trainable = False
    with pytest.raises(fc.AugmentationError, match="RandomFlip layer .* inside the backbone"):
        get(inner, dataset(arrays), root)


def test_dropout_inside_the_backbone_gets_a_note(arrays, root, capsys):
    inner = tf.keras.Sequential([make_backbone(), layers.Dropout(0.3)])
    inner.trainable = False
    result = get(inner, dataset(arrays), root)
    assert "inference mode" in result.notes[0] and "feature cache note" in capsys.readouterr().out


def test_random_maps_in_the_pipeline_are_refused(backbone, arrays, root):
    flipped = dataset(arrays).map(lambda x, y: (tf.image.random_flip_left_right(x), y))
    with pytest.raises(fc.AugmentationError, match="RandomUniform"):
        get(backbone, flipped, root)
    with pytest.raises(fc.AugmentationError, match="random ops"):
        get(backbone, dataset(arrays), root,
            preprocess=lambda x, y: (tf.image.random_brightness(tf.cast(x, tf.float32), 0.2), y))


def test_shuffling_is_not_augmentation(backbone, arrays, root):
    assert fc.dataset_randomness(dataset(arrays).shuffle(24, seed=1).batch(4)) == []
    result = get(backbone, dataset(arrays).shuffle(24, seed=1), root)
    assert sorted(result.labels.tolist()) == sorted(arrays[1].tolist())


def test_flags_and_markers_are_refused(backbone, arrays, root):
    with pytest.raises(fc.AugmentationError, match="augmented=True"):
        get(backbone, dataset(arrays), root, augmented=True)
    marked = pipelines.mark_augmented(dataset(arrays)).map(lambda x, y: (x, y)).batch(4)
    with pytest.raises(fc.AugmentationError, match="marked as augmented"):
        get(backbone, marked, root)
    random_source = tf.data.Dataset.random(seed=1).take(4)
    assert any("random()" in reason for reason in fc.dataset_randomness(random_source))


def test_image_data_generator_augmentation_is_refused(backbone, arrays, root):
    images, labels = arrays
    plain = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1.0)
    flipping = tf.keras.preprocessing.image.ImageDataGenerator(horizontal_flip=True, zoom_range=0.2)
    assert fc.generator_augmentation(plain.flow(images, labels, batch_size=8)) == []
    iterator = flipping.flow(images, labels, batch_size=8, shuffle=False)
    assert fc.generator_augmentation(iterator) == ["horizontal_flip", "zoom_range"]
    with pytest.raises(fc.AugmentationError, match="ImageDataGenerator with horizontal_flip, zoom_range"):
        get(backbone, iterator, root, preprocess=None)


def test_randomness_seen_only_in_the_data_is_caught_on_the_second_pass(backbone, arrays, root):
    images, labels = arrays
    rng = np.random.default_rng(0)

    def noisy():  # random in Python: no graph to inspect
        for image, label in zip(images, labels):
            yield np.clip(image.astype(int) + rng.integers(0, 9, image.shape), 0, 255).astype("uint8"), label

    spec = (tf.TensorSpec((SIZE, SIZE, 3), tf.uint8), tf.TensorSpec((), tf.int64))
    with pytest.raises(fc.AugmentationError, match="different examples on two passes"):
        get(backbone, tf.data.Dataset.from_generator(noisy, output_signature=spec), root)
    assert fc.FeatureCache(root).entries() == []
    assert not any(p.name.startswith(".tmp-") for p in root.iterdir())


def test_a_trainable_backbone_is_refused(arrays, root):
    backbone = make_backbone()
    backbone.trainable = True
    with pytest.raises(fc.BackboneNotFrozenError, match="trainable = False"):
        get(backbone, dataset(arrays), root)


def test_random_op_names():
    for op in ("RandomUniform", "StatelessRandomUniformV2", "RngReadAndSkip", "StatefulUniform",
               "TruncatedNormal", "RandomShuffle", "SampleDistortedBoundingBoxV2"):
        assert fc.is_random_op(op), op
    for op in ("ShuffleDatasetV3", "AnonymousSeedGenerator", "Conv2D", "MapDataset", "ResizeBilinear"):
        assert not fc.is_random_op(op), op


def test_random_layers_lists_nested_layers(backbone):
    model = full_model(backbone, layers.RandomFlip())
    kinds = {(cls, kind) for _, cls, kind in fc.random_layers(model)}
    assert kinds == {("RandomFlip", "augmentation"), ("Dropout", "dropout")}
    assert fc.random_layers(backbone) == []


# -- corrupt or partial entries are rebuilt --------------------------------------

def corrupt_and_reload(backbone, arrays, root, damage, capsys):
    first = get(backbone, dataset(arrays), root)
    damage(first.path)
    capsys.readouterr()
    again = get(backbone, dataset(arrays), root)
    message = capsys.readouterr().out
    assert not again.hit and "cannot be trusted" in message and "rebuilding" in message
    np.testing.assert_allclose(again.features, first.features, rtol=1e-6)
    assert get(backbone, dataset(arrays), root).hit  # the rebuilt entry is valid
    return message


def test_a_truncated_feature_file_is_rebuilt(backbone, arrays, root, capsys):
    def truncate(path):
        data = (path / "features.bin").read_bytes()
        (path / "features.bin").write_bytes(data[: len(data) // 2])

    assert "bytes, expected" in corrupt_and_reload(backbone, arrays, root, truncate, capsys)


def test_a_flipped_byte_is_caught_by_the_checksum(backbone, arrays, root, capsys):
    def flip(path):
        data = bytearray((path / "features.bin").read_bytes())
        data[5] ^= 0xFF
        (path / "features.bin").write_bytes(bytes(data))

    assert "checksum" in corrupt_and_reload(backbone, arrays, root, flip, capsys)


def test_a_missing_manifest_is_a_partial_entry(backbone, arrays, root, capsys):
    assert "partial" in corrupt_and_reload(
        backbone, arrays, root, lambda path: (path / fc.MANIFEST).unlink(), capsys)


def test_an_unreadable_manifest_or_missing_file_is_rebuilt(backbone, arrays, root, capsys):
    assert "unreadable manifest" in corrupt_and_reload(
        backbone, arrays, root, lambda path: (path / fc.MANIFEST).write_text("{not json"), capsys)
    assert "labels.bin is missing" in corrupt_and_reload(
        backbone, arrays, root, lambda path: (path / "labels.bin").unlink(), capsys)


def test_a_manifest_for_another_key_is_not_trusted(backbone, arrays, root, capsys):
    def swap(path):
        manifest = json.loads((path / fc.MANIFEST).read_text())
        manifest["key"]["weights"] = "0" * 64
        (path / fc.MANIFEST).write_text(json.dumps(manifest))

    assert "another key" in corrupt_and_reload(backbone, arrays, root, swap, capsys)


def test_size_only_verification_still_catches_truncation(backbone, arrays, root, capsys):
    first = get(backbone, dataset(arrays), root)
    (first.path / "labels.bin").write_bytes(b"")
    again = get(backbone, dataset(arrays), root, verify="size")
    assert not again.hit and "labels.bin has 0 bytes" in capsys.readouterr().out


def test_leftover_temporary_folders_are_ignored_and_cleared(backbone, arrays, root):
    root.mkdir(parents=True)
    leftover = root / ".tmp-deadbeef-1-abc"
    leftover.mkdir()
    (leftover / "features.bin").write_bytes(b"half")
    result = get(backbone, dataset(arrays), root)
    assert [e["path"] for e in fc.FeatureCache(root).entries()] == [str(result.path)]
    assert fc.FeatureCache(root).clear() == 2
    assert list(root.iterdir()) == []


def test_large_entries_are_memory_mapped_and_streamed(backbone, arrays, root, monkeypatch):
    monkeypatch.setattr(fc, "IN_MEMORY_LIMIT", 16)
    get(backbone, dataset(arrays), root)
    result = get(backbone, dataset(arrays), root)
    assert isinstance(result.features, np.memmap)
    rows = list(result.dataset.as_numpy_iterator())
    assert len(rows) == 24
    np.testing.assert_allclose(rows[0][0], result.features[0])


def test_large_entries_are_shuffled_by_row_without_a_whole_entry_buffer(backbone, arrays, root, monkeypatch):
    monkeypatch.setattr(fc, "IN_MEMORY_LIMIT", 16)
    result = get(backbone, dataset(arrays), root)
    batches = result.batches(8, shuffle=True, seed=1)
    assert not any("ShuffleDataset" in type(ds).__name__ for ds in fc._datasets_in_chain(batches))  # noqa: SLF001
    epochs = [np.concatenate([y for _, y in batches.as_numpy_iterator()]) for _ in range(2)]
    assert not np.array_equal(epochs[0], epochs[1])  # a new order every epoch...
    assert sorted(epochs[0].tolist()) == sorted(arrays[1].tolist())  # ...of the same rows
    rerun = result.batches(8, shuffle=True, seed=1)
    again = [np.concatenate([y for _, y in rerun.as_numpy_iterator()]) for _ in range(2)]
    np.testing.assert_array_equal(np.stack(epochs), np.stack(again))  # fixed by the seed
    features, labels = next(iter(batches.unbatch()))
    row = int(np.flatnonzero(np.all(np.asarray(result.features) == features.numpy(), axis=1))[0])
    assert labels.numpy() == result.labels[row]  # each row keeps its label


# -- fingerprints ----------------------------------------------------------------

def test_callable_fingerprint_sees_code_and_partial_arguments():
    assert fc.callable_fingerprint(to_float) == fc.callable_fingerprint(to_float)
    assert fc.callable_fingerprint(to_float) != fc.callable_fingerprint(to_float_v2)
    assert (fc.callable_fingerprint(functools.partial(scaled, factor=1))
            != fc.callable_fingerprint(functools.partial(scaled, factor=2)))
    assert fc.callable_fingerprint(tf.function(to_float)) == fc.callable_fingerprint(to_float)
    assert fc.callable_fingerprint(layers.Rescaling(0.5)) != fc.callable_fingerprint(layers.Rescaling(0.25))


def test_data_fingerprint_ignores_order_but_not_content():
    fps = np.array([3, 1, 2], dtype=np.uint64)
    assert fc.data_fingerprint(fps, "spec") == fc.data_fingerprint(fps[::-1], "spec")
    assert fc.data_fingerprint(fps, "spec") != fc.data_fingerprint(fps[:2], "spec")
    assert fc.data_fingerprint(fps, "spec") != fc.data_fingerprint(fps, "other spec")


def test_architecture_text_ignores_layer_names(backbone):
    twin = make_backbone()
    assert [layer.name for layer in twin.layers] != [layer.name for layer in backbone.layers]
    assert fc.describe_architecture([twin]) == fc.describe_architecture([backbone])
    assert fc.weights_fingerprint([twin]) == fc.weights_fingerprint([backbone])  # same seed, same init


# -- models: the head, the assembled model ---------------------------------------

def test_head_of_a_sequential_model_shares_its_layers(backbone, arrays, root):
    model = full_model(backbone)
    head = fc.head_of(model, backbone)
    assert [type(layer).__name__ for layer in head.layers] == ["Dropout", "Dense"]
    assert head.layers[-1] is model.layers[-1]
    features = get(backbone, dataset(arrays), root)
    head.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                 loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.predict(arrays[0] / 255.0, verbose=0)
    head.fit(features.batches(8, shuffle=True, seed=0), epochs=2, verbose=0)
    after = model.predict(arrays[0] / 255.0, verbose=0)
    assert not np.allclose(before, after)  # training the head trained the model
    np.testing.assert_allclose(after, head.predict(features.features, verbose=0), rtol=1e-4, atol=1e-5)
    assembled = fc.assemble(backbone, head)
    np.testing.assert_allclose(assembled.predict(arrays[0] / 255.0, verbose=0), after, rtol=1e-4, atol=1e-5)


def test_head_of_a_functional_model_cut_at_a_layer_name():
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(4, 3)(inputs)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(6, name="fc1")(x)
    outputs = layers.Dense(2, name="new_out")(x)
    model = tf.keras.Model(inputs, outputs)
    head = fc.head_of(model, "flat")
    assert [layer.name for layer in head.layers[1:]] == ["fc1", "new_out"]
    backbone = tf.keras.Model(model.inputs, model.get_layer("flat").output)
    images = np.random.default_rng(0).random((3, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_allclose(head(backbone(images)), model(images), rtol=1e-5)


def test_head_of_errors_name_the_layers(backbone):
    model = full_model(backbone)
    with pytest.raises(fc.FeatureCacheError, match="is not a layer of"):
        fc.head_of(model, make_backbone())
    bare = tf.keras.Sequential([backbone])
    with pytest.raises(fc.FeatureCacheError, match="no layers after"):
        fc.head_of(bare, backbone)
    assert fc.layers_before(full_model(backbone, layers.Rescaling(1.0)), backbone)[0].name.startswith("rescaling")


# -- real backbone types: a TF Hub layer and a Keras Applications model ----------

def test_a_hub_keras_layer_backbone(arrays, root, tmp_path):
    import tensorflow_hub as hub

    from course_utils.models import hub as hub_utils

    path = hub_utils.build_feature_vector(tmp_path / "module_a", dim=8, seed=0)
    extractor = hub.KerasLayer(str(path), input_shape=(SIZE, SIZE, 3))
    extractor.trainable = False
    model = tf.keras.Sequential([extractor, layers.Dropout(0.5), layers.Dense(3)])
    first = get(extractor, dataset(arrays), root, model=model)
    assert get(extractor, dataset(arrays), root, model=model).hit
    expected = extractor(arrays[0].astype("float32") / 255.0).numpy()
    np.testing.assert_allclose(first.features, expected, rtol=1e-5, atol=1e-6)
    assert fc.head_of(model, extractor).layers[-1] is model.layers[-1]
    other_path = hub_utils.build_feature_vector(tmp_path / "module_b", dim=8, seed=1)
    other = hub.KerasLayer(str(other_path), input_shape=(SIZE, SIZE, 3))
    second = get(other, dataset(arrays), root)
    assert not second.hit and second.key["weights"] != first.key["weights"]


def test_a_keras_applications_backbone(root):
    images, labels = make_images(6, 32, 2, seed=1)
    app = tf.keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False,
                                            weights=None, pooling="avg")
    app.trainable = False
    first = get(app, (images, labels), root)
    again = get(app, (images, labels), root)
    assert again.hit and first.features.shape == (6, 1280)
    expected = app(images.astype("float32") / 255.0, training=False).numpy()
    np.testing.assert_allclose(again.features, expected, rtol=1e-4, atol=1e-5)


# -- the cache key, exactly (mutation testing, issue 17) ---------------------------------------
# The key functions are pinned to their documented recipe, computed here independently: a
# change to the recipe silently orphans every cached entry or, worse, makes two different
# backbones or datasets share one.

def test_strip_drops_trainable_flags_at_every_depth_and_lists_tuples():
    config = {"a": 1, "trainable": True, "b": {"trainable": False, "c": (1, [2, {"trainable": 1, "d": 4}])}}
    assert fc._strip(config) == {"a": 1, "b": {"c": [1, [2, {"d": 4}]]}}
    assert fc._strip("trainable") == "trainable" and fc._strip((1, 2)) == [1, 2]


def test_json_is_sorted_compact_numpy_aware_and_address_free():
    class Thing:
        def __repr__(self):
            return "<Thing object at 0x7f00deadbeef>"

    assert fc._json({"b": np.array([1, 2]), "a": Thing(), "c": (np.float32(0.5),)}) == (
        '{"a": "<Thing object>", "b": [1, 2], "c": [0.5]}')


def test_layer_config_without_get_config_names_the_class_and_its_sublayers():
    class Bare:
        name = "bare"

        def get_config(self):
            raise NotImplementedError

        def _flatten_layers(self, include_self, recursive):
            return [self, layers.Dense(1), layers.ReLU()]

    assert fc._layer_config(Bare()) == {"class": "Bare", "sublayers": ["Dense", "ReLU"]}
    assert fc._layer_config(layers.ReLU(max_value=6.0, trainable=False))["max_value"] == 6.0
    assert "trainable" not in fc._layer_config(layers.ReLU(trainable=False))


def test_shape_reads_lists_values_and_errors():
    assert fc._shape(lambda: tf.TensorShape([None, 3])) == [None, 3]
    assert fc._shape(lambda: (None, 3)) == (None, 3)
    assert fc._shape(lambda: 1 / 0) is None


def _tiny(name, dense_name, units=2):
    return tf.keras.Sequential([layers.Dense(units, input_shape=(3,), name=dense_name)], name=name)


def test_architecture_text_is_the_documented_json_with_names_as_positions():
    model = _tiny("my_model", "my_dense")
    text = fc.describe_architecture(model)  # one layer or a list: the same
    assert text == fc.describe_architecture([model])
    described = json.loads(text)
    assert described["tensorflow"] == tf.__version__
    (part,) = described["layers"]
    assert part["class"] == "Sequential"
    assert part["weights"] == [[[3, 2], "float32"], [[2], "float32"]]
    assert part["input_shape"] == [None, 3] and part["output_shape"] == [None, 2]
    assert part["dtype_policy"] == "float32"
    assert part["config"]["name"] == "L0"
    assert [layer["config"]["name"] for layer in part["config"]["layers"]] == ["L1", "L2"]
    assert "my_model" not in text and "my_dense" not in text
    assert "trainable" not in text
    assert described == json.loads(fc.describe_architecture([_tiny("other", "names")]))
    assert described != json.loads(fc.describe_architecture([_tiny("my_model", "my_dense", units=3)]))


def test_architecture_text_keeps_strings_that_are_not_layer_names():
    relu = _tiny("relu_model", "d")
    relu.layers[0].activation = tf.keras.activations.relu
    text = fc.describe_architecture([relu])
    assert '"activation": "relu"' in text


def test_architecture_of_layers_without_shapes_or_policy():
    class Plain:
        name = "plain"
        weights = []

        def get_config(self):
            return {"name": "plain", "units": 3}

        @property
        def input_shape(self):
            raise AttributeError("never called")

    (part,) = json.loads(fc.describe_architecture([Plain()]))["layers"]
    assert part == {"class": "Plain", "config": {"name": "L0", "units": 3}, "weights": [],
                    "input_shape": None, "output_shape": None, "dtype_policy": None}


def _recipe(arrays_of_layers, extra=b""):
    digest = __import__("hashlib").sha256()
    count = 0
    for arrays in arrays_of_layers:
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.shape}{array.dtype.str}".encode())
            digest.update(array.tobytes())
            count += 1
    digest.update(extra)
    digest.update(f"n={count}".encode())
    return digest.hexdigest()


def test_weights_fingerprint_is_sha256_of_shapes_dtypes_bytes_and_count():
    first, second = _tiny("a", "a1"), _tiny("b", "b1", units=4)
    expected = _recipe([first.get_weights(), second.get_weights()])
    assert fc.weights_fingerprint([first, second]) == expected
    assert fc.weights_fingerprint([second, first]) != expected  # layer order counts
    assert fc.weights_fingerprint(first) == _recipe([first.get_weights()])
    assert fc.weights_fingerprint([layers.ReLU()]) == _recipe([])  # no weights, no hub files


def test_weights_fingerprint_tells_a_reshape_of_the_same_bytes():
    flat = tf.keras.Sequential([layers.Dense(6, input_shape=(1,), use_bias=False)])
    tall = tf.keras.Sequential([layers.Dense(1, input_shape=(6,), use_bias=False)])
    tall.set_weights([flat.get_weights()[0].reshape(6, 1)])
    assert fc.weights_fingerprint(flat) != fc.weights_fingerprint(tall)


class _HubLike:
    """A layer without variables whose SavedModel files are on disk (as hub.KerasLayer can be)."""

    def __init__(self, handle=None, config_handle=None):
        self.weights = []
        if handle is not None:
            self._handle = handle
        self._config_handle = config_handle

    def get_config(self):
        return {"handle": self._config_handle}


def _module_folder(tmp_path, content=b"graph"):
    folder = tmp_path / "module"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(content)
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


def test_hub_files_digest_hashes_relative_paths_and_bytes_in_order(tmp_path):
    import hashlib

    folder = _module_folder(tmp_path)
    expected = hashlib.sha256()
    for rel in ["saved_model.pb", "variables/variables.index"]:
        expected.update(rel.encode())
        expected.update((folder / rel).read_bytes())
    assert fc._hub_files_digest(_HubLike(handle=str(folder))) == expected.hexdigest()
    assert fc._hub_files_digest(_HubLike(config_handle=str(folder))) == expected.hexdigest()
    assert fc._hub_files_digest(_HubLike(handle=str(tmp_path / "missing"))) is None
    assert fc._hub_files_digest(_HubLike(config_handle=42)) is None
    (folder / "saved_model.pb").write_bytes(b"other graph")
    assert fc._hub_files_digest(_HubLike(handle=str(folder))) != expected.hexdigest()


def test_weights_fingerprint_of_a_variable_free_hub_layer_is_its_files(tmp_path):
    import hashlib

    folder = _module_folder(tmp_path)
    files = fc._hub_files_digest(_HubLike(handle=str(folder)))
    expected = hashlib.sha256(f"files:{files}".encode() + b"n=1").hexdigest()
    assert fc.weights_fingerprint([_HubLike(handle=str(folder))]) == expected


def _code_recipe(fn, partials=()):
    import hashlib
    import inspect

    digest = hashlib.sha256()
    for args, keywords in partials:
        digest.update(fc._json([args, sorted(keywords.items())]).encode())
    digest.update(inspect.getsource(fn).encode())
    digest.update(fn.__qualname__.encode())
    return digest.hexdigest()


def test_callable_fingerprint_is_source_and_qualified_name():
    assert fc.callable_fingerprint(to_float) == _code_recipe(to_float)


def test_callable_fingerprint_of_a_partial_takes_its_arguments_then_the_function():
    inner = functools.partial(scaled, factor=2)
    outer = functools.partial(inner, 7)  # Python flattens it: scaled, (7,), {factor: 2}
    assert fc.callable_fingerprint(outer) == _code_recipe(scaled, [((7,), {"factor": 2})])
    assert fc.callable_fingerprint(inner) == _code_recipe(scaled, [((), {"factor": 2})])


def test_callable_fingerprint_of_a_keras_layer_is_its_architecture():
    import hashlib

    rescale = layers.Rescaling(0.5)
    expected = hashlib.sha256(fc.describe_architecture([rescale]).encode()).hexdigest()
    assert fc.callable_fingerprint(rescale) == expected


def test_callable_fingerprint_without_source_uses_bytecode_constants_and_names():
    import hashlib

    namespace = {}
    exec("def made(image, label):\n    return image * 2.5 + offset, label\n", namespace)  # no source file
    made = namespace["made"]
    code = made.__code__
    expected = hashlib.sha256()
    expected.update(code.co_code)
    expected.update(fc._json([repr(c) for c in code.co_consts]).encode())
    expected.update(fc._json(list(code.co_names)).encode())
    expected.update(b"made")
    assert fc.callable_fingerprint(made) == expected.hexdigest()
    namespace2 = {}
    exec("def made(image, label):\n    return image * 3.5 + offset, label\n", namespace2)
    assert fc.callable_fingerprint(namespace2["made"]) != fc.callable_fingerprint(made)  # a constant changed


def test_callable_fingerprint_without_source_or_code_is_its_type():
    import hashlib

    expected = hashlib.sha256(repr(type(len)).encode() + b"len").hexdigest()
    assert fc.callable_fingerprint(len) == expected


def test_element_fingerprint_is_farmhash_of_every_component_and_its_shape():
    image = tf.constant([[1, 2, 3], [4, 5, 6]], tf.uint8)
    label = tf.constant(True)

    def part(tensor):
        return tf.fingerprint(tf.reshape(tensor, [1, -1]))[0]

    parts = [part(image), part(tf.cast(tf.shape(image), tf.int64)),
             part(tf.cast(label, tf.uint8)), part(tf.cast(tf.shape(label), tf.int64))]
    expected = tf.bitcast(tf.fingerprint(tf.expand_dims(tf.concat(parts, 0), 0))[0], tf.uint64)
    got = fc._element_fingerprint(image, label)
    assert got.dtype == tf.uint64 and int(got) == int(expected)
    transposed = tf.reshape(image, [3, 2])  # the same bytes, another shape
    assert int(fc._element_fingerprint(transposed, label)) != int(got)
    assert int(fc._element_fingerprint(image, tf.constant(False))) != int(got)


def test_data_fingerprint_recipe_version_count_spec_sorted_values():
    import hashlib

    fps = np.array([30, 10, 20], dtype=np.uint64)
    expected = hashlib.sha256(b"v1|3|the spec|" + np.array([10, 20, 30], np.uint64).tobytes()).hexdigest()
    assert fc.data_fingerprint(fps, "the spec") == expected
    assert fc.data_fingerprint([30, 10, 20], "the spec") == expected


def test_spec_text_is_shapes_and_dtype_names():
    spec = (tf.TensorSpec([32, 32, 3], tf.uint8), tf.TensorSpec([], tf.int64))
    assert fc._spec_text(spec) == "(([32, 32, 3], 'uint8'), ([], 'int64'))"
    assert fc._spec_text({"x": tf.TensorSpec([None, 4], tf.float32)}) == "{'x': ([None, 4], 'float32')}"
