"""The quick profile's stand-in weights: the recipes, the files and their checks."""
from __future__ import annotations

import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import generated
from course_utils.data.downloads import OfflineError, VerificationError
from course_utils.models import standins
from course_utils.setup import files

PAYLOAD = bytes(range(256)) * 4096 + b"tail"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def no_sleep(seconds=None):
    return lambda seconds: None


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_prepare_weights_file_download_is_offline_safe(tmp_path):
    def opener(url, timeout):
        raise urllib.error.URLError("no network")

    with pytest.raises(OfflineError, match="InceptionV3 no-top ImageNet weights"):
        standins.prepare_weights_file("download", tmp_path, opener=opener, sleep=no_sleep())
    with pytest.raises(VerificationError):
        bogus = tmp_path / "bogus.h5"
        bogus.write_bytes(b"not weights")
        standins.prepare_weights_file("download", tmp_path, local_copy=bogus)
    with pytest.raises(ValueError, match="unknown weights source"):
        standins.prepare_weights_file("imagenet", tmp_path)


def test_calibrate_batchnorm_stores_the_batch_statistics():
    import tensorflow as tf

    inputs = tf.keras.Input((4,))
    bn = tf.keras.layers.BatchNormalization()
    model = tf.keras.Model(inputs, bn(inputs))
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(256, 4)).astype("float32")
    assert standins.calibrate_batchnorm(model, data) == 1
    np.testing.assert_allclose(bn.moving_mean.numpy(), data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), data.var(0), rtol=1e-2)
    assert bn.momentum == 0.99  # restored


def test_stand_in_weights_file_is_built_once_and_loads_with_the_same_code(tmp_path, capsys):
    import tensorflow as tf

    path = standins.prepare_weights_file("stand-in", tmp_path, local_copy=tmp_path / "ignored.h5")
    assert path.name == standins.INCEPTION_V3_FILENAME and path.suffix == ".h5"
    out = capsys.readouterr().out
    assert "built a random-init stand-in" in out and "not used" in out
    assert files_in(tmp_path) == sorted([path.name, path.name + ".sha256"])  # no temporary file left

    model = tf.keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
    model.load_weights(str(path))  # the lesson's call, unchanged
    bn = next(layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization))
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)  # calibrated, not the initial statistics

    stamp = path.stat().st_mtime_ns
    assert standins.prepare_weights_file("stand-in", tmp_path) == path
    assert path.stat().st_mtime_ns == stamp  # reused
    with open(path, "r+b") as handle:  # damage it: the .sha256 no longer matches
        handle.seek(5000)
        handle.write(b"\x00" * 16)
    standins.prepare_weights_file("stand-in", tmp_path)
    assert "built a random-init stand-in" in capsys.readouterr().out



def test_the_stand_in_recipe_seed_model_and_calibration_images(tmp_path, monkeypatch):
    import tensorflow as tf

    calls = {}
    monkeypatch.setattr(tf.keras.utils, "set_random_seed", lambda seed: calls.setdefault("seed", seed))
    monkeypatch.setattr(tf.keras.applications, "InceptionV3",
                        lambda **kwargs: calls.setdefault("model", kwargs) and "the model")
    images = np.full((32, 150, 150, 3), 51, np.uint8)
    monkeypatch.setattr(generated, "make_images", lambda *args, **kwargs: calls.setdefault("images", (args, kwargs))
                        and (images, None))
    monkeypatch.setattr(standins, "calibrate_batchnorm",
                        lambda model, batch: calls.setdefault("calibrated", (model, batch)))
    monkeypatch.setattr(standins, "save_weights_file", lambda model, path: calls.setdefault("saved", (model, path)))
    standins.build_inception_v3(tmp_path / "new" / "w.h5", seed=3)
    assert calls["seed"] == 3
    assert calls["model"] == {"input_shape": (150, 150, 3), "include_top": False, "weights": None}
    assert calls["images"] == ((32, (150, 150)), {"num_classes": 2, "seed": 3 + 7919})
    model, batch = calls["calibrated"]
    assert model == "the model" and batch.dtype == np.float32 and np.allclose(batch, 0.2)
    assert calls["saved"] == ("the model", tmp_path / "new" / "w.h5") and (tmp_path / "new").is_dir()
    calls.clear()
    given = np.zeros((2, 75, 75, 3), np.float32)
    standins.build_inception_v3(str(tmp_path / "x.h5"), input_shape=(75, 75, 3), calibration_images=given)
    assert calls["seed"] == 0 and calls["model"]["input_shape"] == (75, 75, 3) and "images" not in calls
    assert calls["calibrated"][1] is given


def test_weights_file_is_intact_needs_the_file_and_a_matching_sidecar(tmp_path):
    path = tmp_path / "w.h5"
    assert standins.weights_file_is_intact(path) is False
    path.write_bytes(PAYLOAD)
    assert standins.weights_file_is_intact(str(path)) is False  # no sidecar
    (tmp_path / "w.h5.sha256").write_text(f"{sha256(PAYLOAD)}  w.h5\n")
    assert standins.weights_file_is_intact(path) is True
    (tmp_path / "w.h5.sha256").write_text(f"{sha256(b'other')}  w.h5\n")
    assert standins.weights_file_is_intact(path) is False


def test_save_weights_file_writes_the_file_and_its_sidecar_through_a_part_file(tmp_path):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    path = standins.save_weights_file(model, str(tmp_path / "w.h5"))
    assert path == tmp_path / "w.h5" and files_in(tmp_path) == ["w.h5", "w.h5.sha256"]
    assert (tmp_path / "w.h5.sha256").read_text() == f"{files.sha256(path)}  w.h5\n"
    assert standins.weights_file_is_intact(path)
    copy = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    copy.load_weights(str(path))
    for a, b in zip(model.get_weights(), copy.get_weights()):
        assert (a == b).all()


@pytest.fixture(scope="module")

def stand_in(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras_models")
    path = standins.vgg19_base_weights("stand-in", seed=0, folder=folder, printer=lambda *_: None)
    return folder, path


def test_stand_in_file_is_built_once_and_checked(stand_in):
    folder, path = stand_in
    assert path == str(folder / standins.VGG19_FILENAME)
    assert standins.weights_file_is_intact(path)
    stamp = (folder / standins.VGG19_FILENAME).stat().st_mtime_ns
    notes = []
    assert standins.vgg19_base_weights("stand-in", folder=folder, printer=notes.append) == path
    assert (folder / standins.VGG19_FILENAME).stat().st_mtime_ns == stamp and "stand-in" in notes[0]
    assert not list(folder.glob("*.part"))


def test_a_tampered_stand_in_is_noticed(tmp_path, stand_in):
    copy = tmp_path / standins.VGG19_FILENAME
    shutil.copy(stand_in[1], copy)
    assert not standins.weights_file_is_intact(copy)  # no .sha256 beside it
    shutil.copy(stand_in[1] + ".sha256", str(copy) + ".sha256")
    assert standins.weights_file_is_intact(copy)
    with open(copy, "r+b") as handle:
        handle.seek(-100, 2)
        handle.write(b"\x00" * 10)
    assert not standins.weights_file_is_intact(copy)


def test_stand_in_keeps_the_signal_where_keras_default_init_loses_it(stand_in):
    import tensorflow as tf

    from course_utils.data.photos import photo_crops

    images = photo_crops(32, 32, seed=5)
    loaded = tf.keras.applications.vgg19.VGG19(weights=stand_in[1], include_top=False, input_shape=(32, 32, 3))
    default = tf.keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    ours = standins.layer_rms(loaded, images, layer_names=["block5_pool"])["output RMS"].item()
    keras = standins.layer_rms(default, images, layer_names=["block5_pool"])["output RMS"].item()
    assert 0.3 < ours < 10 and keras < 1e-2  # about 2 versus about 1e-4
    kernel = loaded.get_layer("block3_conv2").get_weights()[0]
    assert np.abs(kernel.mean(axis=(0, 1, 2))).max() < 1e-6  # every filter has zero mean
    assert all(np.all(layer.get_weights()[1] == 0) for layer in loaded.layers if layer.weights)


def test_stand_in_init_scales_every_convolution_and_needs_varied_images():
    import tensorflow as tf

    model = tf.keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    from course_utils.data.photos import photo_crops

    assert len(standins.stand_in_init(model, photo_crops(8, 32), seed=1)) == 16
    with pytest.raises(ValueError, match="no variance"):
        standins.stand_in_init(model, np.zeros((4, 32, 32, 3), np.float32))


def test_layer_rms_table_and_unknown_layers():
    import tensorflow as tf

    model = tf.keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    table = standins.layer_rms(model, np.random.default_rng(0).random((4, 32, 32, 3)))
    assert len(table) == 16 + 5 and table.index[0] == "block1_conv1" and (table["output RMS"] > 0).all()
    with pytest.raises(ValueError, match="no layer to measure"):
        standins.layer_rms(model, np.zeros((1, 32, 32, 3)), layer_names=["fc1"])


def test_base_weights_imagenet_offline_and_unknown_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(OfflineError) as err:
        standins.vgg19_base_weights("imagenet", retries=1, printer=lambda *_: None)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(err.value)
    assert "PROFILE=quick" in str(err.value)
    with pytest.raises(ValueError, match="use one of imagenet, stand-in"):
        standins.vgg19_base_weights("random")


def test_stand_in_file_is_the_documented_recipe(tmp_path):
    """VGG19 without its top at 32x32, stand_in_init(seed) on 64 crops(seed) of the bundled photos."""
    import tensorflow as tf

    from course_utils.data.photos import photo_crops

    path = standins.build_vgg19(tmp_path / "new" / "models" / "w.h5", seed=1)  # parent folders made
    loaded = tf.keras.applications.vgg19.VGG19(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    tf.keras.utils.set_random_seed(1)
    expected = tf.keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    standins.stand_in_init(expected, photo_crops(64, 32, seed=1), seed=1)
    assert len(loaded.weights) == len(expected.weights) == 32
    for ours, theirs in zip(loaded.weights, expected.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_base_weights_says_which_stand_in_it_uses(tmp_path, stand_in, monkeypatch):
    folder, path = stand_in
    said = []
    assert standins.vgg19_base_weights("stand-in", folder=folder, printer=said.append) == path
    assert said == [f"stand-in VGG19 no-top weights: {path}"]
    calls = []

    def build(target, seed=0):  # the real build, already done once by the fixture: copied
        calls.append((target, seed))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        shutil.copy(path + ".sha256", str(target) + ".sha256")

    monkeypatch.setattr(standins, "build_vgg19", build)
    said.clear()
    built = standins.vgg19_base_weights("stand-in", seed=4, folder=tmp_path / "other", printer=said.append)
    assert calls == [(tmp_path / "other" / standins.VGG19_FILENAME, 4)]
    assert said == [f"built stand-in VGG19 no-top weights (random, zero-mean filters, LSUV-scaled): {built}"]
