import pytest

from course_utils.data import downloads
from course_utils.models import weights


def test_every_registered_file_has_a_published_hash_and_an_https_url():
    for (model, top), asset in weights.IMAGENET_WEIGHTS.items():
        assert asset.md5 and len(asset.md5) == 32, model
        assert all(url.startswith("https://storage.googleapis.com/") for url in asset.urls)
        assert ("notop" in asset.filename) is (not top)
        assert model in asset.filename


def test_none_stays_random_init():
    assert weights.resolve("vgg19", None, include_top=False) is None


def test_a_path_is_passed_through_and_a_missing_one_explained(tmp_path):
    file = tmp_path / "w.h5"
    file.write_bytes(b"x")
    assert weights.resolve("vgg19", file, include_top=False) == str(file)
    with pytest.raises(weights.WeightsError, match="no weights file at .*'imagenet', None"):
        weights.resolve("vgg19", tmp_path / "missing.h5", include_top=False)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(weights.WeightsError, match="known: inception_v3, vgg16, vgg19"):
        weights.asset_for("resnet50", True)


def test_imagenet_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(downloads.OfflineError) as err:
        weights.resolve("vgg19", "imagenet", include_top=True)
    text = str(err.value)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels.h5" in text and str(tmp_path / "models") in text
    assert "PROFILE=quick" in text
    assert not list((tmp_path / "models").iterdir())


def test_a_verified_file_in_the_project_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    content = b"pretend weights"
    (tmp_path / "models").mkdir()
    asset = weights.asset_for("vgg19", False)
    (tmp_path / "models" / asset.filename).write_bytes(content)
    monkeypatch.setitem(weights.IMAGENET_WEIGHTS, ("vgg19", False),
                        downloads.Asset(asset.name, asset.filename, asset.urls,
                                        md5=downloads.file_digest(tmp_path / "models" / asset.filename).md5))
    assert weights.resolve("vgg19", "imagenet", include_top=False) == str(tmp_path / "models" / asset.filename)
