"""weights.pretrained: the one call for pretrained weights, with every source, offline."""
import dataclasses
import hashlib
import inspect

import keras
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
    asset = weights._IMAGENET_WEIGHTS[name]
    monkeypatch.setitem(weights._IMAGENET_WEIGHTS, name,
                        dataclasses.replace(asset, md5=hashlib.md5(content).hexdigest(), size=len(content)))
    return copy


def test_every_registered_file_has_a_published_hash_and_an_https_url():
    for name, asset in weights._IMAGENET_WEIGHTS.items():
        assert asset.md5 and len(asset.md5) == 32, name
        assert all(url.startswith("https://storage.googleapis.com/") for url in asset.urls)
        assert ("notop" in asset.filename) is name.endswith("_notop")
        assert name.removesuffix("_notop") in asset.filename


@pytest.mark.parametrize("model", ["vgg16", "vgg19", "inception_v3"])
def test_the_registry_is_what_tf_keras_downloads(model):
    import importlib

    keras_module = importlib.import_module(f"tf_keras.src.applications.{model}")  # a test may read the source
    source = inspect.getsource(keras_module)
    assert weights._IMAGENET_WEIGHTS[model].urls[0] == keras_module.WEIGHTS_PATH
    assert weights._IMAGENET_WEIGHTS[f"{model}_notop"].urls[0] == keras_module.WEIGHTS_PATH_NO_TOP
    for name in (model, f"{model}_notop"):
        assert f'"{weights._IMAGENET_WEIGHTS[name].md5}"' in source


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
    assert capsys.readouterr().out == "[course] stand-in for the vgg16 weights: Keras's random init (weights=None)\n"


def test_the_stand_in_of_a_base_is_the_built_file_and_a_local_copy_is_not_used(monkeypatch, tmp_path, capsys):
    asked = []
    monkeypatch.setattr(standins, "stand_in_file", lambda name: asked.append(name) or tmp_path / "s.h5")
    assert weights.pretrained("vgg19_notop", "stand-in", local_copy="/mine/w.h5") == str(tmp_path / "s.h5")
    assert asked == ["vgg19_notop"]
    assert "your copy /mine/w.h5 is not used" in capsys.readouterr().out
    assert set(standins.RECIPES) == {name for name in weights._IMAGENET_WEIGHTS if name.endswith("_notop")}


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
    target = keras_home / "models" / weights._IMAGENET_WEIGHTS["vgg16_notop"].filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"pretend weights")
    assert weights.pretrained("vgg16_notop", "real") == str(target)  # no download: it is there and checked


def test_real_checks_a_local_copy_and_copies_it_into_keras_home(monkeypatch, keras_home, tmp_path):
    mine = _pretend(monkeypatch, "inception_v3_notop", b"my weights", tmp_path)
    path = weights.pretrained("inception_v3_notop", "real", local_copy=mine)
    assert path == str(keras_home / "models" / weights._IMAGENET_WEIGHTS["inception_v3_notop"].filename)
    assert files.sha256(path) == files.sha256(mine) and mine.read_bytes() == b"my weights"
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not weights")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "other"))
    with pytest.raises(downloads.VerificationError):
        weights.pretrained("inception_v3_notop", "real", local_copy=bogus)


@pytest.fixture
def keras_constructors(monkeypatch):
    """keras.applications' VGG19 and ResNet50 replaced by recorders of what they were called with."""

    calls = []
    for name in ("VGG19", "ResNet50"):
        monkeypatch.setattr(keras.applications, name,
                            lambda *args, _name=name, **kwargs: calls.append((_name, args, kwargs)) or _name)
    monkeypatch.setattr(weights, "pretrained", lambda name, source: f"<{name} for {source}>")
    return calls


def test_applications_resolves_imagenet_for_the_profile_and_passes_the_rest_to_keras(keras_constructors):
    apps = weights.applications("stand-in")
    assert apps.VGG19(include_top=True, weights="imagenet", input_shape=(32, 32, 3)) == "VGG19"
    apps.VGG19(include_top=False, weights="imagenet")
    apps.VGG19(weights=None, classes=2)
    apps.VGG19(include_top=False, weights="/my/file.h5")
    apps.ResNet50(weights=None)
    assert keras_constructors == [
        ("VGG19", (), {"weights": "<vgg19 for stand-in>", "include_top": True, "input_shape": (32, 32, 3)}),
        ("VGG19", (), {"weights": "<vgg19_notop for stand-in>", "include_top": False}),
        ("VGG19", (), {"weights": None, "include_top": True, "classes": 2}),
        ("VGG19", (), {"weights": "/my/file.h5", "include_top": False}),
        ("ResNet50", (), {"weights": None, "include_top": True}),
    ]
    apps.VGG19()  # Keras's default is weights="imagenet": resolved too
    assert keras_constructors[-1][2]["weights"] == "<vgg19 for stand-in>"
    assert apps.source == "stand-in"


def test_applications_refuses_what_it_cannot_resolve(keras_constructors):

    with pytest.raises(weights.WeightsError, match=r"^the course keeps no checked ImageNet file for ResNet50; "
                                                   r"known: InceptionV3, VGG16, VGG19 \(or pass weights=None"):
        weights.applications("real").ResNet50(weights="imagenet")
    assert keras_constructors == []  # nothing reached Keras (which would download into ~/.keras)
    with pytest.raises(profiles.SourceError, match="unknown source 'quick' for the Keras Applications weights"):
        weights.applications("quick")
    modules = weights.applications(None)
    assert modules.inception_v3.preprocess_input is keras.applications.inception_v3.preprocess_input


def test_a_file_is_also_named_by_its_published_file_name(monkeypatch, tmp_path, capsys):
    """Lesson 05 shows the lesson's file name in the call: it resolves like the key, in both sources."""
    asked = []
    monkeypatch.setattr(standins, "stand_in_file", lambda name: asked.append(name) or tmp_path / "s.h5")
    filename = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert weights._IMAGENET_WEIGHTS["inception_v3_notop"].filename == filename
    assert weights.pretrained(filename, "stand-in") == str(tmp_path / "s.h5")
    assert asked == ["inception_v3_notop"]
    with pytest.raises(downloads.OfflineError, match="InceptionV3 no-top ImageNet weights"):
        weights.pretrained(filename, "real", progress=False)
    with pytest.raises(weights.WeightsError, match="no pretrained weights registered for 'inception_v3_notop.h5'"):
        weights.pretrained("inception_v3_notop.h5", "stand-in")
