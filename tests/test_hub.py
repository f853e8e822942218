import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from course_utils.errors import CourseError
from course_utils.models import hub as course_hub
from course_utils.setup import files, profiles

HANDLE = "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_cache_key_is_sha1_of_handle():
    assert course_hub.cache_key(HANDLE) == "145bb06ec3b59b08fb564ab752bd5aa222bfb50a"


def test_cache_dir_unset_is_explained(monkeypatch):
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    with pytest.raises(course_hub.HubCacheError, match="start_lesson"):
        course_hub._cache_dir()


def test_stand_in_loads_under_the_real_handle_offline(hub_cache):
    course_hub.prepare_handle(HANDLE, "stand-in", dim=1280)
    assert course_hub.is_cached(HANDLE) and course_hub._is_stand_in(HANDLE)
    assert [path.name for path in hub_cache.iterdir()] == [course_hub.cache_key(HANDLE)]  # no staging folder left
    noted = files.read_manifest(course_hub._cache_path(HANDLE), "tf hub stand-in")  # COURSE_MANIFEST.json in it
    assert noted["dim"] == 1280 and noted["note"].startswith("Locally built stand-in") and "Not a pretrained" in noted["note"]
    layer = hub.KerasLayer(HANDLE, input_shape=(224, 224, 3))
    model = tf_keras.Sequential([layer, tf_keras.layers.Dense(5)])  # hub.KerasLayer is a tf_keras layer
    out = model(np.random.default_rng(0).uniform(size=(2, 224, 224, 3)).astype("float32"))
    assert out.shape == (2, 5)
    assert tuple(layer.compute_output_shape((None, 224, 224, 3))) == (None, 1280)


def test_stand_in_runs_frozen_in_a_keras_3_model_through_tfsm_layer(hub_cache):
    """Lesson 02's Keras 3 way: TFSMLayer on hub.resolve(handle), endpoint __call__ (the Reusable SavedModel API's
    callable root), gives hub.KerasLayer's features and trains a Keras 3 head on them, the module untouched."""
    course_hub.prepare_handle(HANDLE, "stand-in", dim=64)
    images = np.random.default_rng(0).uniform(size=(5, 32, 32, 3)).astype("float32")
    frozen = keras.layers.TFSMLayer(hub.resolve(HANDLE), call_endpoint="__call__", trainable=False)
    np.testing.assert_allclose(frozen(images), hub.KerasLayer(HANDLE)(images), atol=1e-6)
    assert len(frozen.trainable_weights) == 0 and len(frozen.non_trainable_weights) == 3
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(5)(frozen(inputs)))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    module_before = [w.numpy().copy() for w in frozen.weights]
    head_before = model.layers[-1].kernel.numpy().copy()
    model.fit(images, np.arange(5), epochs=2, verbose=0)
    assert not np.array_equal(model.layers[-1].kernel.numpy(), head_before)
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(frozen.weights, module_before))


def test_stand_in_variables_follow_trainable(hub_cache):
    course_hub._install_stand_in(HANDLE, dim=64)
    frozen = hub.KerasLayer(HANDLE, trainable=False)
    frozen.build((None, 32, 32, 3))
    assert len(frozen.trainable_weights) == 0 and len(frozen.non_trainable_weights) == 3
    trainable = hub.KerasLayer(HANDLE, trainable=True)
    trainable.build((None, 32, 32, 3))
    assert len(trainable.trainable_weights) == 3


def test_stand_in_features_separate_colours(hub_cache):
    path = course_hub._build_feature_vector(hub_cache / "fv", dim=32)
    module = tf.saved_model.load(str(path))
    red = np.zeros((1, 16, 16, 3), "float32")
    red[..., 0] = 1
    blue = np.zeros((1, 16, 16, 3), "float32")
    blue[..., 2] = 1
    assert module(red).shape == (1, 32)
    assert float(tf.norm(module(red) - module(blue))) > 0.1


def test_install_is_idempotent(hub_cache):
    first = course_hub._install_stand_in(HANDLE, dim=8)
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    course_hub._install_stand_in(HANDLE, dim=8)
    assert (first / "saved_model.pb").stat().st_mtime_ns == stamp


def test_stand_in_never_overwrites_a_real_download(hub_cache):
    real = course_hub._cache_path(HANDLE)
    real.mkdir(parents=True)
    (real / "saved_model.pb").write_bytes(b"real")
    files.write_manifest(real, "zip extraction", sha256="0" * 64)  # a manifest, not a stand-in's
    with pytest.raises(course_hub.HubCacheError, match="holds a real download"):
        course_hub._install_stand_in(HANDLE, dim=8)
    assert (real / "saved_model.pb").read_bytes() == b"real"


def test_real_source_only_reports(hub_cache, capsys):
    assert course_hub.prepare_handle(HANDLE, "real", dim=8) == HANDLE
    assert "will download on first use" in capsys.readouterr().out
    assert not course_hub.is_cached(HANDLE)


def test_unknown_source(hub_cache):
    with pytest.raises(profiles.SourceError, match="unknown source 'download' for the TF Hub module"):
        course_hub.prepare_handle(HANDLE, "download", dim=8)
    assert not list(hub_cache.iterdir())
    assert issubclass(course_hub.HubCacheError, CourseError) and issubclass(course_hub.HubCacheError, RuntimeError)


def test_full_profile_refuses_a_stand_in_in_its_cache(hub_cache):
    course_hub._install_stand_in(HANDLE, dim=8)
    with pytest.raises(course_hub.HubCacheError, match="holds a locally built stand-in"):
        course_hub.prepare_handle(HANDLE, "real", dim=8)


def test_a_stand_in_marked_the_old_way_is_still_a_stand_in(hub_cache):
    """Stand-ins built before the manifests carry COURSE_STAND_IN.txt only: the quick profile reuses one, the full
    profile refuses it (were it taken for a real download, the full profile would load random weights)."""
    built = course_hub._install_stand_in(HANDLE, dim=8)
    files._manifest_path(built).unlink()
    (built / "COURSE_STAND_IN.txt").write_text("Locally built stand-in (random weights, output dim 8, seed 0).\n")
    stamp = (built / "saved_model.pb").stat().st_mtime_ns
    assert course_hub._install_stand_in(HANDLE, dim=8) == built
    assert (built / "saved_model.pb").stat().st_mtime_ns == stamp
    with pytest.raises(course_hub.HubCacheError, match="holds a locally built stand-in"):
        course_hub.prepare_handle(HANDLE, "real", dim=8)


def test_building_prints_no_tensorflow_info(hub_cache, capsys):
    course_hub._build_feature_vector(hub_cache / "quiet", dim=4)
    captured = capsys.readouterr()
    assert "Assets written" not in captured.out + captured.err


def test_a_link_to_a_module_outside_the_shared_folder_is_refused(hub_cache, tmp_path, monkeypatch):
    from course_utils.setup import classroom

    elsewhere = course_hub._build_feature_vector(tmp_path / "elsewhere", dim=4)
    course_hub._cache_path(HANDLE).symlink_to(elsewhere, target_is_directory=True)  # an earlier classroom's link
    monkeypatch.delenv(classroom.SHARED_DATA_VAR, raising=False)
    with pytest.raises(course_hub.HubCacheError, match="which is not in the shared folder .*delete that link"):
        course_hub.prepare_handle(HANDLE, "stand-in", dim=4)
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(tmp_path / "shared"))
    with pytest.raises(course_hub.HubCacheError, match="delete that link"):
        course_hub.prepare_handle(HANDLE, "real", dim=4)
