"""The quick profile's stand-in weights: the recipes, the files, their checks and the build lock."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from course_utils.data import generated
from course_utils.models import standins
from course_utils.setup import classroom, files

# One worker for the whole module under `make test` (pytest-xdist --dist loadgroup): its module-scoped stand-in builds
# (about 10 s each) then happen once, not once per worker.
pytestmark = pytest.mark.xdist_group("standins")

PAYLOAD = bytes(range(256)) * 4096 + b"tail"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    return tmp_path / "kh"


def _built_in(home: Path, name: str, **options) -> Path:
    """``stand_in_file(name)`` with ``KERAS_HOME=home`` (for module-scoped fixtures)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home))
        return standins.stand_in_file(name, **options)


# --- the recipes ------------------------------------------------------------------------------

def test_calibrate_batchnorm_stores_the_batch_statistics():

    inputs = keras.Input((4,))
    bn = keras.layers.BatchNormalization()
    model = keras.Model(inputs, bn(inputs))
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(256, 4)).astype("float32")
    assert standins.calibrate_batchnorm(model, data) == 1
    np.testing.assert_allclose(bn.moving_mean.numpy(), data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), data.var(0), rtol=1e-2)
    assert bn.momentum == 0.99  # restored


def test_the_inception_v3_recipe_seed_model_and_calibration_images(monkeypatch):

    calls = {}
    monkeypatch.setattr(keras.utils, "set_random_seed", lambda seed: calls.setdefault("seed", seed))
    monkeypatch.setattr(keras.applications, "InceptionV3",
                        lambda **kwargs: calls.setdefault("model", kwargs) and "the model")
    images = np.full((32, 150, 150, 3), 51, np.uint8)
    monkeypatch.setattr(generated, "make_images", lambda *args, **kwargs: calls.setdefault("images", (args, kwargs))
                        and (images, None))
    monkeypatch.setattr(standins, "calibrate_batchnorm",
                        lambda model, batch: calls.setdefault("calibrated", (model, batch)))
    assert standins._inception_v3(seed=3) == "the model"
    assert calls["seed"] == 3
    assert calls["model"] == {"input_shape": (150, 150, 3), "include_top": False, "weights": None}
    assert calls["images"] == ((32, (150, 150)), {"num_classes": 2, "seed": 3 + 7919})
    model, batch = calls["calibrated"]
    assert model == "the model" and batch.dtype == np.float32 and np.allclose(batch, 0.2)
    calls.clear()
    given = np.zeros((2, 75, 75, 3), np.float32)
    standins._inception_v3(input_shape=(75, 75, 3), calibration_images=given)
    assert calls["seed"] == 0 and calls["model"]["input_shape"] == (75, 75, 3) and "images" not in calls
    assert calls["calibrated"][1] is given


def test_stand_in_init_scales_every_vgg19_convolution_and_needs_varied_images():
    from course_utils.data.photos import photo_crops

    model = keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert len(standins._stand_in_init(model, photo_crops(8, 32), seed=1)) == 16
    with pytest.raises(ValueError, match="no variance"):
        standins._stand_in_init(model, np.zeros((4, 32, 32, 3), np.float32))


def test_stand_in_init_gives_vgg16_unit_variance_layers_and_a_small_last_one():
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.applications.vgg16.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    images = keras.applications.vgg16.preprocess_input(
        np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)).astype(np.float32))
    scales = standins._stand_in_init(model, images, seed=0, last_std=standins._VGG16_LAST_STD)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(scales) == len(convolutions) == 13
    x = images
    stds = {}
    for layer in model.layers[1:]:
        x = layer(x)
        if layer in convolutions:
            stds[layer.name] = float(tf.math.reduce_std(x))
            kernel, bias = layer.get_weights()
            np.testing.assert_allclose(kernel.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)  # zero-mean filters
            assert not bias.any()
    for name, std in stds.items():
        expected = standins._VGG16_LAST_STD if name == "block5_conv3" else 1.0
        assert std == pytest.approx(expected, rel=1e-3), name


def test_layer_rms_table_and_unknown_layers():

    model = keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    table = standins.layer_rms(model, np.random.default_rng(0).random((4, 32, 32, 3)))
    assert len(table) == 16 + 5 and table.index[0] == "block1_conv1" and (table["output RMS"] > 0).all()
    with pytest.raises(ValueError, match="no layer to measure"):
        standins.layer_rms(model, np.zeros((1, 32, 32, 3)), layer_names=["fc1"])


# --- the files --------------------------------------------------------------------------------

def test_weights_file_is_intact_needs_the_file_and_a_matching_manifest(tmp_path):
    path = tmp_path / "w.h5"
    assert standins._weights_file_is_intact(path) is False
    path.write_bytes(PAYLOAD)
    assert standins._weights_file_is_intact(str(path)) is False  # no manifest
    files.write_manifest(path, "stand-in weights", sha256=sha256(PAYLOAD))
    assert files._manifest_path(path) == tmp_path / "w.h5.manifest.json"
    assert standins._weights_file_is_intact(path) is True
    files.write_manifest(path, "stand-in weights", sha256=sha256(b"other"))
    assert standins._weights_file_is_intact(path) is False
    files.write_manifest(path, "zip extraction", sha256=sha256(PAYLOAD))  # the right SHA-256, another kind
    assert standins._weights_file_is_intact(path) is False


def test_inception_v3_stand_in_is_built_once_and_loads_with_the_lessons_call(keras_home, capsys, monkeypatch):

    path = standins.stand_in_file("inception_v3_notop")
    assert path == keras_home / "models" / "inception_v3_random_init_notop.weights.h5"
    assert capsys.readouterr().out == ("[course] built stand-in InceptionV3 no-top weights (random init, BatchNorm "
                                       f"statistics measured): {path}\n")
    assert files_in(path.parent) == sorted([path.name, path.name + ".manifest.json"])  # no staging file left
    assert files.read_manifest(path, "stand-in weights") == {"recipe": "inception_v3_notop", "seed": 0,
                                                             "sha256": files.sha256(path)}

    model = keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
    model.load_weights(str(path))  # the lesson's call, unchanged
    bn = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)  # calibrated, not the initial statistics

    stamp = path.stat().st_mtime_ns
    assert standins.stand_in_file("inception_v3_notop") == path
    assert path.stat().st_mtime_ns == stamp  # reused
    assert capsys.readouterr().out == f"[course] stand-in InceptionV3 no-top weights: {path}\n"
    good = path.read_bytes()
    with open(path, "r+b") as handle:  # damage it: the .sha256 no longer matches
        handle.seek(5000)
        handle.write(b"\x00" * 16)
    rebuilt = []  # the recipe ran above; the rebuild writes the good bytes back (saves a second build)
    monkeypatch.setattr(standins, "_build_weights",
                        lambda name, staging, seed: rebuilt.append(name) or Path(staging).write_bytes(good))
    assert standins.stand_in_file("inception_v3_notop") == path and rebuilt == ["inception_v3_notop"]
    assert capsys.readouterr().out.startswith("[course] built stand-in InceptionV3")
    assert standins._weights_file_is_intact(path) and path.read_bytes() == good


@pytest.fixture(scope="module")
def vgg19_build(tmp_path_factory):
    """The VGG19 stand-in built once for this module, with the caller's random draws before and after the build."""
    keras.utils.set_random_seed(123)
    expected = next_draws()
    keras.utils.set_random_seed(123)
    path = _built_in(tmp_path_factory.mktemp("keras_home"), "vgg19_notop")  # an empty KERAS_HOME: built now
    return path, expected, next_draws()


@pytest.fixture
def vgg19_file(vgg19_build):
    return vgg19_build[0]


def test_vgg19_stand_in_is_built_once_and_checked(vgg19_file, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(vgg19_file.parent.parent))
    assert vgg19_file.name == "vgg19_notop_course_stand_in.weights.h5" and standins._weights_file_is_intact(vgg19_file)
    stamp = vgg19_file.stat().st_mtime_ns
    assert standins.stand_in_file("vgg19_notop") == vgg19_file
    assert vgg19_file.stat().st_mtime_ns == stamp
    assert capsys.readouterr().out == f"[course] stand-in VGG19 no-top weights: {vgg19_file}\n"
    assert files_in(vgg19_file.parent) == sorted([vgg19_file.name, vgg19_file.name + ".manifest.json"])


def test_a_tampered_stand_in_is_noticed(tmp_path, vgg19_file):
    copy = tmp_path / vgg19_file.name
    shutil.copy(vgg19_file, copy)
    assert not standins._weights_file_is_intact(copy)  # no .manifest.json beside it
    shutil.copy(files._manifest_path(vgg19_file), files._manifest_path(copy))
    assert standins._weights_file_is_intact(copy)
    with open(copy, "r+b") as handle:  # flip ten bytes (the file's tail may be zero padding already)
        handle.seek(-100, 2)
        tail = handle.read(10)
        handle.seek(-100, 2)
        handle.write(bytes(b ^ 0xFF for b in tail))
    assert not standins._weights_file_is_intact(copy)


def test_vgg19_stand_in_keeps_the_signal_where_keras_default_init_loses_it(vgg19_file):
    from course_utils.data.photos import photo_crops

    images = photo_crops(32, 32, seed=5)
    loaded = keras.applications.vgg19.VGG19(weights=str(vgg19_file), include_top=False, input_shape=(32, 32, 3))
    default = keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    ours = standins.layer_rms(loaded, images, layer_names=["block5_pool"])["output RMS"].item()
    default_rms = standins.layer_rms(default, images, layer_names=["block5_pool"])["output RMS"].item()
    assert 0.3 < ours < 10 and default_rms < 1e-2  # about 2 versus about 1e-4
    kernel = loaded.get_layer("block3_conv2").get_weights()[0]
    assert np.abs(kernel.mean(axis=(0, 1, 2))).max() < 1e-6  # every filter has zero mean
    assert all(np.all(layer.get_weights()[1] == 0) for layer in loaded.layers if layer.weights)


def test_vgg19_stand_in_file_is_the_documented_recipe(vgg19_file):
    """VGG19 without its top at 32x32, stand_in_init(seed) on 64 crops(seed) of the bundled photos."""
    from course_utils.data.photos import photo_crops

    loaded = keras.applications.vgg19.VGG19(weights=str(vgg19_file), include_top=False, input_shape=(32, 32, 3))
    keras.utils.set_random_seed(0)
    expected = keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    standins._stand_in_init(expected, photo_crops(64, 32, seed=0), seed=0)
    assert len(loaded.weights) == len(expected.weights) == 32
    for ours, theirs in zip(loaded.weights, expected.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", ["vgg19_notop", "vgg16_notop"])
def test_the_vgg_recipes_pass_their_seed_to_the_model_and_the_calibration_crops(name, monkeypatch):
    from course_utils.data.photos import photo_crops

    calls = []
    monkeypatch.setattr(standins, "_lsuv_vgg", lambda application, calibration, seed, last_std=None:
                        calls.append((application, calibration, seed, last_std)) or "the model")
    assert standins.RECIPES[name].build(seed=5) == "the model"
    ((application, calibration, seed, last_std),) = calls
    crops = photo_crops(64, 32, seed=5)
    if name == "vgg19_notop":
        assert application is keras.applications.vgg19.VGG19 and last_std is None
        np.testing.assert_array_equal(calibration, crops)
    else:
        assert application is keras.applications.vgg16.VGG16 and last_std == standins._VGG16_LAST_STD
        np.testing.assert_array_equal(calibration, keras.applications.vgg16.preprocess_input(crops * 255.0))
    assert seed == 5


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    return _built_in(tmp_path_factory.mktemp("keras_home"), "vgg16_notop")


def test_vgg16_stand_in_loads_at_any_size_and_says_what_it_built(vgg16_file, tmp_path, monkeypatch, capsys):

    small = keras.applications.vgg16.VGG16(include_top=False, weights=str(vgg16_file), input_shape=(32, 32, 3))
    large = keras.applications.vgg16.VGG16(include_top=False, weights=str(vgg16_file), input_shape=(64, 64, 3))
    np.testing.assert_array_equal(small.get_layer("block3_conv2").get_weights()[0],
                                  large.get_layer("block3_conv2").get_weights()[0])
    seeds = []

    def tiny(name, staging, seed):  # the real recipe is tested above: a tiny model stands in for it here
        seeds.append(seed)
        _save_weights(_tiny_model(), staging)

    monkeypatch.setattr(standins, "_build_weights", tiny)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    capsys.readouterr()
    path = standins.stand_in_file("vgg16_notop", seed=3)
    assert path == tmp_path / "kh" / "models" / "vgg16_notop_course_stand_in_v1.weights.h5" and seeds == [3]
    assert capsys.readouterr().out == ("[course] built stand-in VGG16 no-top weights (random zero-mean filters, "
                                       f"LSUV-scaled): {path}\n")
    assert standins.stand_in_file("vgg16_notop") == path and seeds == [3]
    assert capsys.readouterr().out == f"[course] stand-in VGG16 no-top weights: {path}\n"


def test_vgg16_stand_in_file_is_the_documented_recipe(vgg16_file):
    """VGG16 without its top, stand_in_init(seed, last std 0.1) on 64 32x32 crops(seed) of the photos, Caffe-preprocessed."""
    from course_utils.data.photos import photo_crops

    loaded = keras.applications.vgg16.VGG16(include_top=False, weights=str(vgg16_file), input_shape=(32, 32, 3))
    calibration = keras.applications.vgg16.preprocess_input(photo_crops(64, 32, seed=0) * 255.0)
    keras.utils.set_random_seed(0)
    expected = keras.applications.vgg16.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    standins._stand_in_init(expected, calibration, seed=0, last_std=0.1)
    assert len(loaded.weights) == len(expected.weights) == 26
    for ours, theirs in zip(loaded.weights, expected.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_vgg16_stand_in_features_let_a_linear_model_learn_the_generated_classes(vgg16_file):
    """Why the quick profile has a stand-in base: its 32x32 features carry the generated classes."""
    from sklearn.linear_model import LogisticRegression

    from course_utils.data import cifar

    (x_train, y_train), (x_test, y_test) = cifar.load("stand-in", train_size=200, test_size=100, seed=0)
    prepare = keras.applications.vgg16.preprocess_input
    base = keras.applications.vgg16.VGG16(include_top=False, weights=str(vgg16_file), input_shape=(32, 32, 3))
    features = base.predict(prepare(x_train.astype(np.float32)), verbose=0).reshape(200, -1)
    test_features = base.predict(prepare(x_test.astype(np.float32)), verbose=0).reshape(100, -1)
    assert 0.05 < float(features.std()) < 2.0  # a sensible size for fc1, which sees 49 copies of each value
    score = LogisticRegression(max_iter=2000).fit(features, y_train.ravel()).score(test_features, y_test.ravel())
    assert score > 0.5  # chance: 10%


# --- a classroom's shared folder, and many runs at once ------------------------------------------

def test_a_classrooms_shared_stand_in_is_read_in_place_and_a_damaged_one_is_not(vgg16_file, tmp_path, monkeypatch,
                                                                                 capsys):
    mine, shared = tmp_path / "mine", tmp_path / "shared"
    (shared / "keras" / "models").mkdir(parents=True)
    for path in (vgg16_file, files._manifest_path(vgg16_file)):
        shutil.copy(path, shared / "keras" / "models" / path.name)
    classroom.write_manifest(shared)  # as `make classroom-data` does
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(classroom, "_reported_missing", set())
    copy = shared / "keras" / "models" / vgg16_file.name
    assert standins.stand_in_file("vgg16_notop") == copy
    assert capsys.readouterr().out == f"[course] stand-in VGG16 no-top weights: {copy}\n"
    assert not (mine / "keras").exists()  # nothing built, nothing copied

    files.write_manifest(copy, "stand-in weights", sha256="0" * 64)  # the shared copy no longer checks out
    built = []
    monkeypatch.setattr(standins, "_build_weights", lambda name, staging, seed: built.append(seed)
                        or _save_weights(_tiny_model(), staging))
    assert standins.stand_in_file("vgg16_notop") == mine / "keras" / "models" / vgg16_file.name and built == [0]


def _save_weights(model, staging):
    """What build_weights leaves at ``staging``: a Keras 3 weights file (its name must end .weights.h5)."""
    named = Path(str(staging) + ".weights.h5")
    model.save_weights(named)
    os.replace(named, staging)


def _tiny_model():

    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def _stand_in_worker(home: str, counter: str, barrier) -> None:
    os.environ["KERAS_HOME"] = home

    def counted(name, staging, seed):  # the lock is what is tested: the recipe's real build is tested above
        with open(counter, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(1)  # long enough for the other one to ask while this one builds
        Path(staging).write_bytes(PAYLOAD)

    standins._build_weights = counted
    barrier.wait(timeout=120)
    path = standins.stand_in_file("vgg16_notop")
    assert standins._weights_file_is_intact(path)


def test_two_processes_asking_for_the_vgg16_stand_in_build_one_file(tmp_path):
    """Issue 16: lesson 06's stand-in takes the build lock, as the others do (real processes, spawned: two suffice,
    one builds while the other asks)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    home, counter = tmp_path / "kh", tmp_path / "builds.log"
    procs = [ctx.Process(target=_stand_in_worker, args=(str(home), str(counter), barrier)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert len(counter.read_text().split()) == 1  # one process built it; the other waited and reused it
    name = standins.RECIPES["vgg16_notop"].filename
    assert files_in(home / "models") == [name, name + ".manifest.json"]  # one file, no staging left


# --- the caller's random generators ----------------------------------------------------------

def next_draws() -> list:
    """The next number from each generator a notebook's results depend on: Python's, NumPy's, TensorFlow's,
    and the one Keras seeds a new layer's weights from."""
    import random

    import tensorflow as tf

    return [random.random(), float(np.random.random()), float(tf.random.uniform([])),
            keras.initializers.GlorotUniform()((3,)).numpy().tolist()]


def test_building_model_stand_ins_leaves_the_global_random_generators_alone(vgg19_build, tmp_path):
    from course_utils.models import hub

    built, expected, after_build = vgg19_build  # the module's VGG19 stand-in, built between two seedings
    assert after_build == expected
    assert standins._weights_file_is_intact(built)
    keras.utils.set_random_seed(123)
    hub._build_feature_vector(tmp_path / "hub", dim=8, seed=0)
    assert next_draws() == expected


def test_a_failed_build_says_what_the_build_process_said(keras_home):
    with pytest.raises(standins.StandInBuildError, match=r"(?s)VGG19 no-top weights failed \(exit 1\).*ValueError"):
        standins._build_weights("vgg19_notop", keras_home / "w.h5", seed=-1)  # NumPy takes no negative seed
    assert not (keras_home / "w.h5").exists()
