"""weights.pretrained: the one call for pretrained weights, with every source, offline."""
import dataclasses
import hashlib
import inspect

import pytest

from course_utils.data import downloads
from course_utils.errors import CourseError
from course_utils.models import standins, weights
from course_utils.setup import files, profiles


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    """An empty KERAS_HOME, and HOME moved so that no real ~/.keras copy is seen."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "kh"


def _pretend(monkeypatch, name, content: bytes, tmp_path):
    """Register ``content`` as the published file for ``name`` (its MD5); returns a copy of it."""
    copy = tmp_path / "mine.h5"
    copy.write_bytes(content)
    asset = weights.IMAGENET_WEIGHTS[name]
    monkeypatch.setitem(weights.IMAGENET_WEIGHTS, name,
                        dataclasses.replace(asset, md5=hashlib.md5(content).hexdigest(), size=len(content)))
    return copy


def test_every_registered_file_has_a_published_hash_and_an_https_url():
    for name, asset in weights.IMAGENET_WEIGHTS.items():
        assert asset.md5 and len(asset.md5) == 32, name
        assert all(url.startswith("https://storage.googleapis.com/") for url in asset.urls)
        assert ("notop" in asset.filename) is name.endswith("_notop")
        assert name.removesuffix("_notop") in asset.filename


@pytest.mark.parametrize("model", ["vgg16", "vgg19", "inception_v3"])
def test_the_registry_is_what_tf_keras_downloads(model):
    import importlib

    keras_module = importlib.import_module(f"tf_keras.src.applications.{model}")  # a test may read the source
    source = inspect.getsource(keras_module)
    assert weights.IMAGENET_WEIGHTS[model].urls[0] == keras_module.WEIGHTS_PATH
    assert weights.IMAGENET_WEIGHTS[f"{model}_notop"].urls[0] == keras_module.WEIGHTS_PATH_NO_TOP
    for name in (model, f"{model}_notop"):
        assert f'"{weights.IMAGENET_WEIGHTS[name].md5}"' in source


def test_unknown_names_and_sources_are_refused():
    with pytest.raises(weights.WeightsError, match="no pretrained weights registered for 'resnet50'; known: "
                       "inception_v3, inception_v3_notop, vgg16"):
        weights.pretrained("resnet50", None)
    with pytest.raises(profiles.SourceError, match="unknown source 'imagenet' for the vgg19 weights"):
        weights.pretrained("vgg19", "imagenet")
    assert issubclass(weights.WeightsError, CourseError) and issubclass(weights.WeightsError, ValueError)


def test_none_is_keras_random_init_and_so_is_the_stand_in_for_a_model_with_its_top(capsys):
    assert weights.pretrained("vgg19", None) is None
    assert capsys.readouterr().out == ""
    assert weights.pretrained("vgg16", "stand-in") is None
    assert capsys.readouterr().out == "stand-in for the vgg16 weights: Keras's random init (weights=None)\n"


def test_the_stand_in_of_a_base_is_the_built_file_and_a_local_copy_is_not_used(monkeypatch, tmp_path, capsys):
    asked = []
    monkeypatch.setattr(standins, "stand_in_file", lambda name: asked.append(name) or tmp_path / "s.h5")
    assert weights.pretrained("vgg19_notop", "stand-in", local_copy="/mine/w.h5") == str(tmp_path / "s.h5")
    assert asked == ["vgg19_notop"]
    assert "your copy /mine/w.h5 is not used" in capsys.readouterr().out
    assert set(standins.RECIPES) == {name for name in weights.IMAGENET_WEIGHTS if name.endswith("_notop")}


def test_real_offline_says_where_to_put_the_file_and_leaves_nothing(keras_home):
    with pytest.raises(downloads.OfflineError) as err:
        weights.pretrained("vgg19", "real", progress=False)
    text = str(err.value)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels.h5" in text and str(keras_home / "models") in text
    assert "PROFILE=quick" in text
    assert list((keras_home / "models").iterdir()) == []
    with pytest.raises(downloads.OfflineError, match="InceptionV3 no-top ImageNet weights"):
        weights.pretrained("inception_v3_notop", "real")


def test_real_uses_a_verified_file_in_keras_home(monkeypatch, keras_home, tmp_path):
    _pretend(monkeypatch, "vgg16_notop", b"pretend weights", tmp_path)
    target = keras_home / "models" / weights.IMAGENET_WEIGHTS["vgg16_notop"].filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"pretend weights")
    assert weights.pretrained("vgg16_notop", "real") == str(target)  # no download: it is there and checked


def test_real_checks_a_local_copy_and_copies_it_into_keras_home(monkeypatch, keras_home, tmp_path):
    mine = _pretend(monkeypatch, "inception_v3_notop", b"my weights", tmp_path)
    path = weights.pretrained("inception_v3_notop", "real", local_copy=mine)
    assert path == str(keras_home / "models" / weights.IMAGENET_WEIGHTS["inception_v3_notop"].filename)
    assert files.sha256(path) == files.sha256(mine) and mine.read_bytes() == b"my weights"
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not weights")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "other"))
    with pytest.raises(downloads.VerificationError):
        weights.pretrained("inception_v3_notop", "real", local_copy=bogus)


# --- weights="imagenet" resolved by the course (lesson 06 keeps Keras's one-liner in sight) ----------------

@pytest.fixture
def applications(monkeypatch):
    """tf.keras.applications' VGG16 and VGG19, put back after the test whatever resolve_imagenet did."""
    import tensorflow as tf

    apps = tf.keras.applications
    for module, name in ((apps.vgg16, "VGG16"), (apps.vgg19, "VGG19"), (apps, "VGG16"), (apps, "VGG19")):
        monkeypatch.setattr(module, name, getattr(module, name))
    return apps


def test_imagenet_resolves_to_what_pretrained_gives_for_the_source(applications, monkeypatch):
    def keras_vgg16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax"):  # Keras's signature; says what it was given
        return include_top, weights, input_shape

    monkeypatch.setattr(applications.vgg16, "VGG16", keras_vgg16)
    monkeypatch.setattr(weights, "pretrained", lambda name, source, **kw: f"<{name} for {source}>")
    lines = weights.resolve_imagenet("stand-in", ["VGG16"])
    assert lines == ['VGG16(weights="imagenet") loads the quick profile\'s offline stand-in, NOT ImageNet '
                     "(with its top: random init)"]
    vgg16 = applications.vgg16.VGG16
    assert applications.VGG16 is vgg16 and vgg16.__wrapped__ is keras_vgg16
    assert vgg16(include_top=False, weights="imagenet", input_shape=(32, 32, 3)) == (
        False, "<vgg16_notop for stand-in>", (32, 32, 3))
    assert vgg16() == (True, "<vgg16 for stand-in>", None)  # "imagenet" is Keras's default
    assert vgg16(False, "imagenet", None, (64, 64, 3)) == (False, "<vgg16_notop for stand-in>", (64, 64, 3))
    assert vgg16(weights=None) == (True, None, None)  # anything but "imagenet" goes to Keras unchanged
    assert vgg16(weights="/my/file.h5") == (True, "/my/file.h5", None)
    with pytest.raises(weights.WeightsError, match=r'VGG16\(weights="imagenet", include_top=True\) has 1000 '
                                                   r"classes, not 10: use include_top=False"):
        vgg16(weights="imagenet", classes=10)
    assert weights.resolve_imagenet("real", ["VGG16"]) == [
        'VGG16(weights="imagenet") loads the verified ImageNet file from the course\'s Keras folder']
    assert applications.vgg16.VGG16.__wrapped__ is keras_vgg16  # one wrapper, around Keras's own function
    assert applications.vgg16.VGG16() == (True, "<vgg16 for real>", None)
    assert not hasattr(applications.vgg19.VGG19, "__wrapped__")  # only the applications named


def test_imagenet_loads_the_stand_in_file_itself(applications):
    import numpy as np

    weights.resolve_imagenet("stand-in", ["VGG16"])
    ours = applications.vgg16.VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    keras = applications.vgg16.VGG16.__wrapped__(include_top=False, input_shape=(32, 32, 3),
                                                 weights=str(standins.stand_in_file("vgg16_notop")))
    assert all(np.array_equal(a, b) for a, b in zip(ours.get_weights(), keras.get_weights()))


def test_an_unknown_application_is_refused(applications):
    with pytest.raises(weights.WeightsError, match="no ImageNet weights registered for the application 'ResNet50'; "
                                                   "known: InceptionV3, VGG16, VGG19"):
        weights.resolve_imagenet("stand-in", ["ResNet50"])
