import numpy as np
import pytest
from PIL import Image

from course_utils.data import images


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
    array = images._load_rgb(folder / name)
    assert array.shape == (20, 30, 3) and array.dtype == np.uint8


def test_transparent_pixels_become_white(folder):
    assert images._load_rgb(folder / "alpha.png").min() == 255


def test_clean_view_keeps_good_converts_odd_and_skips_bad(folder, tmp_path_factory, capsys):
    target = tmp_path_factory.mktemp("views") / "checked"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    view, result = images.clean_view(folder, target)
    lines = capsys.readouterr().out.splitlines()
    assert sorted(p.name for p in view.iterdir()) == ["alpha.jpg", "cmyk.jpg", "good.jpg", "grey.jpg"]
    for name in ["alpha.jpg", "cmyk.jpg", "grey.jpg"]:
        assert Image.open(view / name).mode == "RGB"
    assert (view / "good.jpg").resolve() == (folder / "good.jpg").resolve()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the learner's folder is untouched
    assert "skipped 4 unreadable" in lines[0] and len(result.bad) == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["checked"]  # no staging folder left


# --- exact behaviour (mutation testing, issue 17) -------------------------------------------

def _random_jpeg(path, size=(64, 64), seed=0):
    rgb = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, format="JPEG")
    return path


def test_a_jpeg_cut_inside_its_image_data_is_unreadable(tmp_path):
    # The real flower_photos copy has such a file: its header is whole (it opens, it has a
    # size), only decoding every byte finds the cut.
    data = _random_jpeg(tmp_path / "whole.jpg").read_bytes()
    scan_start = data.index(b"\xff\xda")  # start of scan: the compressed pixels follow
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: scan_start + (len(data) - scan_start) // 2])
    with Image.open(cut) as image:
        assert image.size == (64, 64)  # the header alone passes
        with pytest.raises(OSError) as pillow:
            image.load()
    with pytest.raises(ValueError) as err:
        images.check_image(cut)
    assert str(err.value) == f"corrupt or truncated ({pillow.value})"
    assert images.scan_images([cut]).bad == {cut: f"corrupt or truncated ({pillow.value})"}


def test_only_the_first_line_of_a_decoder_error_is_kept(tmp_path, monkeypatch):
    path = _random_jpeg(tmp_path / "a.jpg")
    real_open = Image.open

    class Failing:
        def __init__(self, image):
            self.image, self.mode = image, image.mode

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.image.close()

        def load(self):
            raise OSError("broken data\nsecond line of detail")

    monkeypatch.setattr(Image, "open", lambda p: Failing(real_open(p)))
    with pytest.raises(ValueError) as err:
        images.check_image(path)
    assert str(err.value) == "corrupt or truncated (broken data)"


@pytest.mark.parametrize("name, save_as, mode", [
    ("a.jpg", "JPEG", "RGB"), ("b.JPG", "JPEG", "RGB"), ("c.jpeg", "JPEG", "RGB"), ("d.Jpeg", "JPEG", "L"),
    ("e.png", "PNG", "RGBA"), ("f.PNG", "PNG", "LA"), ("g.bmp", "BMP", "RGB"), ("h.gif", "GIF", "P"),
])
def test_check_image_accepts_every_image_suffix_in_any_case_and_returns_the_mode(tmp_path, name, save_as, mode):
    rgb = np.random.default_rng(1).integers(0, 255, (6, 5, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    image = image.convert(mode) if mode != "P" else image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(tmp_path / name, format=save_as)
    assert images.check_image(tmp_path / name) == mode
    assert images.check_image(str(tmp_path / name)) == mode  # a str path works too


@pytest.mark.parametrize("name, message", [
    ("README", "not an image file type (no suffix)"),
    ("notes.TXT", "not an image file type (.TXT)"),
    ("photo.jpg.part", "not an image file type (.part)"),
    ("photo.tiff", "not an image file type (.tiff)"),
])
def test_check_image_names_the_suffix_it_refuses(tmp_path, name, message):
    (tmp_path / name).write_bytes(_random_jpeg(tmp_path / "src.jpg").read_bytes())
    with pytest.raises(ValueError) as err:
        images.check_image(tmp_path / name)
    assert str(err.value) == message


def test_a_one_byte_file_is_not_empty_but_unreadable(tmp_path):
    (tmp_path / "one.jpg").write_bytes(b"\xff")
    with pytest.raises(ValueError) as err:
        images.check_image(tmp_path / "one.jpg")
    assert str(err.value) == "not a readable image"
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        images.check_image(tmp_path / "zero.png")
    assert str(err.value) == "empty file"


def test_scan_keeps_the_order_and_takes_str_paths(tmp_path):
    for name in ["c.jpg", "a.jpg", "b.jpg"]:
        _random_jpeg(tmp_path / name)
    Image.new("L", (4, 4)).save(tmp_path / "grey.png")
    (tmp_path / "bad.jpg").write_bytes(b"")
    names = ["c.jpg", "bad.jpg", "grey.png", "a.jpg", "b.jpg"]
    result = images.scan_images(str(tmp_path / n) for n in names)
    assert result.good == [tmp_path / n for n in ["c.jpg", "grey.png", "a.jpg", "b.jpg"]]
    assert result.bad == {tmp_path / "bad.jpg": "empty file"}
    assert result.converted == {tmp_path / "grey.png": "L"}  # RGB files are not listed


def _result(good=0, converted=(), bad=()):
    result = images.ScanResult()
    result.good = [images.Path(f"g{i}.jpg") for i in range(good)]
    result.converted = {images.Path(f"c{i}.jpg"): mode for i, mode in enumerate(converted)}
    result.bad = {images.Path(name): why for name, why in bad}
    return result


def test_summary_of_all_good_images_is_the_count_alone():
    assert _result(good=2).summary() == "2 readable images"
    assert images.ScanResult().summary() == "0 readable images"


def test_summary_lists_each_mode_once_sorted_and_counts_the_files():
    text = _result(good=4, converted=["L", "RGBA", "L"]).summary()
    assert text == "4 readable images (3 will be converted to RGB from L, RGBA)"


@pytest.mark.parametrize("bad, more", [(1, ""), (5, ""), (6, " and 1 more"), (8, " and 3 more")])
def test_summary_names_at_most_five_unreadable_files(bad, more):
    files = [(f"b{i}.jpg", "empty file") for i in range(bad)]
    shown = ", ".join(f"b{i}.jpg (empty file)" for i in range(min(bad, 5)))
    assert _result(good=1, bad=files).summary() == (
        f"1 readable images; skipped {bad} unreadable: {shown}{more} - re-download or replace them to use them")


def test_summary_with_conversions_and_unreadable_files_says_both_in_that_order():
    text = _result(good=2, converted=["CMYK"], bad=[("x.txt", "not an image file type (.txt)")]).summary()
    assert text == ("2 readable images (1 will be converted to RGB from CMYK); skipped 1 unreadable: "
                    "x.txt (not an image file type (.txt)) - re-download or replace them to use them")


def test_alpha_is_composited_on_white_pixel_by_pixel(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[0, 128], [255, 64]]
    Image.fromarray(rgba).save(tmp_path / "a.png")
    red, alpha = rgba[..., 0] / 255.0, rgba[..., 3] / 255.0
    expected_red = 255 * (red * alpha + (1 - alpha))
    expected_green = 255 * (1 - alpha)
    out = images._load_rgb(tmp_path / "a.png")
    np.testing.assert_allclose(out[..., 0], expected_red, atol=1)
    np.testing.assert_allclose(out[..., 1], expected_green, atol=1)
    np.testing.assert_array_equal(out[..., 1], out[..., 2])


def test_grey_with_alpha_is_composited_on_white(tmp_path):
    la = np.stack([np.full((2, 3), 40, np.uint8), np.array([[0, 255, 255], [0, 0, 255]], np.uint8)], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    out = images._load_rgb(tmp_path / "la.png")
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[..., 0], [[255, 40, 40], [255, 255, 40]])


def test_a_palette_image_with_a_transparent_colour_gets_white_there(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    image.save(tmp_path / "t.png", transparency=0)
    image.save(tmp_path / "opaque.png")
    assert images._load_rgb(tmp_path / "t.png").tolist() == [[[255, 255, 255], [200, 100, 50]]]
    assert images._load_rgb(tmp_path / "opaque.png").tolist() == [[[10, 20, 30], [200, 100, 50]]]


def test_grey_and_rgb_are_read_exactly(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "g.png")
    out = images._load_rgb(tmp_path / "g.png")
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], grey)
    rgb = np.random.default_rng(2).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    np.testing.assert_array_equal(images._load_rgb(str(tmp_path / "c.png")), rgb)


def test_a_converted_image_is_written_as_the_rgb_pixels_at_jpeg_quality_95(tmp_path):
    import io

    rgba = np.random.default_rng(4).integers(0, 255, (16, 16, 4), dtype=np.uint8)
    (tmp_path / "mine").mkdir()
    Image.fromarray(rgba).save(tmp_path / "mine" / "a.png")
    view, _ = images.clean_view(tmp_path / "mine", tmp_path / "view")
    expected = io.BytesIO()
    Image.fromarray(images._load_rgb(tmp_path / "mine" / "a.png")).save(expected, format="JPEG", quality=95)
    assert (view / "a.jpg").read_bytes() == expected.getvalue()
    assert _view_files(view) == ["a.jpg"]


@pytest.fixture
def nested(tmp_path):
    """A learner's class folders, with hidden files and folders a file browser left."""
    source = tmp_path / "photos"
    for rel in ["roses/r1.jpg", "roses/r2.jpg", "tulips/t1.jpg", "tulips/deep/t2.jpg"]:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        _random_jpeg(source / rel, size=(8, 8))
    Image.new("L", (8, 8), 90).save(source / "tulips" / "grey.png")
    (source / "roses" / "empty.jpg").write_bytes(b"")
    (source / ".DS_Store").write_bytes(b"junk")
    (source / ".ipynb_checkpoints").mkdir()
    _random_jpeg(source / ".ipynb_checkpoints" / "r1-checkpoint.jpg", size=(8, 8))
    return source


def _view_files(view):
    return sorted(str(p.relative_to(view)) for p in view.rglob("*") if not p.is_dir())


def test_clean_view_keeps_the_folder_tree_and_leaves_hidden_files_out(nested, tmp_path, capsys):
    target = tmp_path / "views" / "photos_checked"
    view, result = images.clean_view(nested, target)
    lines = capsys.readouterr().out.splitlines()
    assert view == target and view.is_dir()
    assert _view_files(view) == ["roses/r1.jpg", "roses/r2.jpg", "tulips/deep/t2.jpg", "tulips/grey.jpg",
                                 "tulips/t1.jpg"]
    assert (view / "tulips" / "deep" / "t2.jpg").is_symlink()
    assert (view / "tulips" / "deep" / "t2.jpg").read_bytes() == (nested / "tulips" / "deep" / "t2.jpg").read_bytes()
    assert not (view / "tulips" / "grey.jpg").is_symlink()
    assert np.asarray(Image.open(view / "tulips" / "grey.jpg")).tolist() == np.full((8, 8, 3), 90).tolist()
    assert result.bad == {nested / "roses" / "empty.jpg": "empty file"}
    assert lines == [f"[course] {nested}: {result.summary()}"]
    assert result.summary().startswith("5 readable images (1 will be converted to RGB from L); skipped 1")


def test_clean_view_of_a_folder_inside_a_hidden_folder(tmp_path):
    # e.g. a copy Keras downloaded to ~/.keras/datasets: only names *inside* the learner's
    # folder say what is hidden, not the folders above it.
    source = tmp_path / ".keras" / "datasets" / "photos"
    source.mkdir(parents=True)
    _random_jpeg(source / "a.jpg", size=(8, 8))
    view, result = images.clean_view(source, tmp_path / "checked")
    assert _view_files(view) == ["a.jpg"] and result.good == [source / "a.jpg"]


def test_clean_view_replaces_an_older_view_and_a_killed_runs_staging_folder(nested, tmp_path):
    target = tmp_path / "checked"
    (target / "old").mkdir(parents=True)
    (target / "old" / "gone.jpg").write_bytes(b"old view")
    stale = tmp_path / ".checked.123-abcdef01.part"  # files._staging_path's name
    (stale / "roses").mkdir(parents=True)
    (stale / "roses" / "leftover.jpg").write_bytes(b"from a killed run")
    view, _ = images.clean_view(nested, target)
    assert _view_files(view) == ["roses/r1.jpg", "roses/r2.jpg", "tulips/deep/t2.jpg", "tulips/grey.jpg",
                                 "tulips/t1.jpg"]
    assert not stale.exists()


def test_clean_view_copies_where_links_are_not_possible(nested, tmp_path, monkeypatch):
    def no_links(self, target):
        raise OSError("links not supported here")

    monkeypatch.setattr(images.Path, "symlink_to", no_links)
    view, _ = images.clean_view(nested, tmp_path / "checked")
    copy = view / "roses" / "r1.jpg"
    assert not copy.is_symlink() and copy.read_bytes() == (nested / "roses" / "r1.jpg").read_bytes()


def test_clean_view_limited_to_some_files_and_an_empty_view(nested, tmp_path):
    view, result = images.clean_view(nested, tmp_path / "some",
                                     files=[nested / "roses" / "r2.jpg", str(nested / "tulips" / "t1.jpg")])
    assert _view_files(view) == ["roses/r2.jpg", "tulips/t1.jpg"] and not result.bad
    view, result = images.clean_view(nested, tmp_path / "none", files=[])
    assert view.is_dir() and _view_files(view) == [] and result.summary() == "0 readable images"


def test_a_transparent_colour_key_in_a_grey_or_rgb_png_gets_white_too(tmp_path):
    rgb = np.array([[[0, 0, 0], [200, 100, 50]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "key.png", transparency=(0, 0, 0))
    Image.fromarray(rgb).save(tmp_path / "plain.png")
    assert images._load_rgb(tmp_path / "key.png").tolist() == [[[255, 255, 255], [200, 100, 50]]]
    assert images._load_rgb(tmp_path / "plain.png").tolist() == rgb.tolist()
    grey = np.array([[0, 90]], np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey_key.png", transparency=0)
    assert images._load_rgb(tmp_path / "grey_key.png").tolist() == [[[255, 255, 255], [90, 90, 90]]]


def test_clean_view_of_nothing_into_a_folder_that_does_not_exist_yet(nested, tmp_path):
    target = tmp_path / "new" / "deeper" / "view"
    view, _ = images.clean_view(nested, target, files=[])
    assert view.is_dir() and _view_files(view) == []


def test_a_failed_clean_view_leaves_no_staging_folder_and_no_view(nested, tmp_path, monkeypatch):
    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(images, "_load_rgb", broken)
    target = tmp_path / "views" / "checked"
    target.parent.mkdir()
    with pytest.raises(OSError, match="disk full"):
        images.clean_view(nested, target)
    assert list(target.parent.iterdir()) == []
