import numpy as np
import pytest
from PIL import Image

from course_utils import images


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "good.jpg")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.jpg")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    rgba = np.dstack([rgb, np.full((20, 30), 0, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    data = (tmp_path / "good.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.jpg").write_text("<html>not found</html>")
    return tmp_path


def test_scan_sorts_good_bad_and_converted(folder):
    result = images.scan_images(sorted(folder.iterdir()))
    assert {p.name for p in result.good} == {"good.jpg", "grey.jpg", "cmyk.jpg", "alpha.png"}
    assert {p.name: why for p, why in result.bad.items()} == {
        "empty.jpg": "empty file",
        "fake.jpg": "not a readable image",
        "notes.txt": "not an image file type (.txt)",
        "truncated.jpg": result.bad[folder / "truncated.jpg"],
    }
    assert result.bad[folder / "truncated.jpg"].startswith("corrupt or truncated")
    converted = {p.name: m for p, m in result.converted.items()}
    assert converted == {"grey.jpg": "L", "cmyk.jpg": "CMYK", "alpha.png": "RGBA"}


def test_summary_names_and_counts(folder):
    text = images.scan_images(sorted(folder.iterdir())).summary()
    assert text.startswith("4 readable images (3 will be converted to RGB from CMYK, L, RGBA)")
    assert "skipped 4 unreadable: empty.jpg (empty file)" in text


@pytest.mark.parametrize("name", ["good.jpg", "grey.jpg", "cmyk.jpg", "alpha.png"])
def test_load_rgb_always_gives_three_channels(folder, name):
    array = images.load_rgb(folder / name)
    assert array.shape == (20, 30, 3) and array.dtype == np.uint8


def test_transparent_pixels_become_white(folder):
    assert images.load_rgb(folder / "alpha.png").min() == 255


def test_load_rgb_resizes(folder):
    assert images.load_rgb(folder / "good.jpg", size=(8, 6)).shape == (6, 8, 3)


def test_normalise_to_jpeg(folder):
    out = images.normalise_to_jpeg(folder / "cmyk.jpg", folder / "cmyk_rgb.jpg")
    assert Image.open(out).mode == "RGB"
    assert not list(folder.glob("*.part"))


def test_clean_view_keeps_good_converts_odd_and_skips_bad(folder, tmp_path_factory):
    target = tmp_path_factory.mktemp("views") / "checked"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    lines = []
    view, result = images.clean_view(folder, target, printer=lines.append)
    assert sorted(p.name for p in view.iterdir()) == ["alpha.jpg", "cmyk.jpg", "good.jpg", "grey.jpg"]
    for name in ["alpha.jpg", "cmyk.jpg", "grey.jpg"]:
        assert Image.open(view / name).mode == "RGB"
    assert (view / "good.jpg").resolve() == (folder / "good.jpg").resolve()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the learner's folder is untouched
    assert "skipped 4 unreadable" in lines[0] and len(result.bad) == 4
    assert not target.with_name("checked.part").exists()
