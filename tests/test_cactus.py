"""The cactus CSV + folder checks, load (the stand-in, a local copy, the Kaggle download), the zip installer."""
import io
import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import cactus, generated
from course_utils.errors import CourseError
from course_utils.setup import files


def _write(root, labels, *, seed=0):
    images = np.full((len(labels), 32, 32, 3), 120, np.uint8)
    return cactus.write_kaggle_layout(root, images, labels, seed=seed)


def _edit_csv(root, **changes):
    table = pd.read_csv(root / "train.csv", dtype=str, keep_default_na=False)
    for row, value in changes.get("labels", {}).items():
        table.loc[row, "has_cactus"] = value
    for row, value in changes.get("ids", {}).items():
        table.loc[row, "id"] = value
    if "columns" in changes:
        table.columns = changes["columns"]
    table.to_csv(root / "train.csv", index=False)
    return table


def load_table(root):
    """The notebook's own two steps: pd.read_csv, then check_cactus_table."""
    return cactus.check_cactus_table(pd.read_csv(root / "train.csv"), root)


def test_kaggle_layout_round_trip(tmp_path):
    _write(tmp_path, [1, 0, 1, 1])
    table, image_dir = load_table(tmp_path)
    assert list(table.columns) == ["id", "has_cactus"]
    assert table["has_cactus"].tolist() == [1, 0, 1, 1]
    assert image_dir == tmp_path / "train"
    assert all(name.endswith(".jpg") and len(name) == 36 for name in table["id"])  # 32 hex digits + .jpg


def test_kaggles_nested_train_train_folder_is_found(tmp_path):
    _write(tmp_path, [1, 0])
    (tmp_path / "train").rename(tmp_path / "inner")
    (tmp_path / "train").mkdir()
    (tmp_path / "inner").rename(tmp_path / "train" / "train")
    _, image_dir = load_table(tmp_path)
    assert image_dir == tmp_path / "train" / "train"


def test_labels_written_as_floats_are_read_as_integers(tmp_path):
    _write(tmp_path, [1, 0])
    _edit_csv(tmp_path, labels={0: "1.0", 1: " 0 "})
    table, _ = load_table(tmp_path)
    assert table["has_cactus"].tolist() == [1, 0]


def test_no_folder_and_no_csv_say_how_to_point_at_a_copy(tmp_path):
    with pytest.raises(cactus.CactusDataError, match=r"no such file or folder.*CACTUS_DIR.*PROFILE=quick"):
        cactus.load("real", local_copy=tmp_path / "missing")
    (tmp_path / "sample_submission.csv").write_text("id,has_cactus\n")
    with pytest.raises(cactus.CactusDataError, match=r"no train\.csv here \(found: sample_submission\.csv\)"):
        cactus.load("real", local_copy=tmp_path)


def test_missing_column_lists_the_columns_found(tmp_path):
    _write(tmp_path, [1, 0])
    _edit_csv(tmp_path, columns=["id", "label"])
    with pytest.raises(cactus.CactusDataError, match="missing column.* has_cactus; its columns are id, label"):
        load_table(tmp_path)


def test_an_empty_csv(tmp_path):
    _write(tmp_path, [1])
    (tmp_path / "train.csv").write_text("id,has_cactus\n")
    with pytest.raises(cactus.CactusDataError, match="no rows"):
        load_table(tmp_path)


def test_labels_outside_0_1_are_named_with_their_lines(tmp_path):
    _write(tmp_path, [1, 0, 1, 0, 1])
    _edit_csv(tmp_path, labels={1: "2", 3: "yes", 4: ""})
    with pytest.raises(cactus.CactusDataError) as err:
        load_table(tmp_path)
    text = str(err.value)
    assert "has_cactus must be 0 or 1, but 3 of 5 rows" in text
    assert "'2' (line 3)" in text and "'yes' (line 5)" in text and "'' (line 6)" in text
    assert "never guesses a label" in text


def test_blank_and_duplicate_ids(tmp_path):
    _write(tmp_path, [1, 0, 1])
    first_id = pd.read_csv(tmp_path / "train.csv")["id"][0]
    _edit_csv(tmp_path, ids={2: first_id})
    with pytest.raises(cactus.CactusDataError, match=r"1 id\(s\) appear more than once: .*\.jpg"):
        load_table(tmp_path)
    _edit_csv(tmp_path, ids={2: "  "})
    with pytest.raises(cactus.CactusDataError, match=r"1 row\(s\) have an empty id \(lines 4\)"):
        load_table(tmp_path)


def test_missing_images_are_named_and_counted(tmp_path):
    _write(tmp_path, [1] * 8)
    table = pd.read_csv(tmp_path / "train.csv")
    for name in table["id"][:3]:
        (tmp_path / "train" / name).unlink()
    with pytest.raises(cactus.CactusDataError) as err:
        load_table(tmp_path)
    text = str(err.value)
    assert "3 of 8 images listed in train.csv are missing" in text
    assert all(name in text for name in table["id"][:3])


def test_more_than_five_missing_images_are_summarised(tmp_path):
    _write(tmp_path, [0] * 9)
    table = pd.read_csv(tmp_path / "train.csv")
    for name in table["id"][1:]:
        (tmp_path / "train" / name).unlink()
    with pytest.raises(cactus.CactusDataError, match="8 of 9 images .* and 3 more"):
        load_table(tmp_path)


def test_no_image_folder_at_all(tmp_path):
    _write(tmp_path, [1, 0])
    for image in (tmp_path / "train").iterdir():
        image.unlink()
    with pytest.raises(cactus.CactusDataError, match="no image folder holding the ids"):
        load_table(tmp_path)


def test_the_notebooks_own_read_csv_is_checked_like_the_loaders(tmp_path):
    """The notebook reads train.csv with plain pd.read_csv (ints, floats, NaN), then checks it."""
    _write(tmp_path, [1, 0, 1])
    table, image_dir = cactus.check_cactus_table(pd.read_csv(tmp_path / "train.csv"), tmp_path)
    assert table["has_cactus"].tolist() == [1, 0, 1] and image_dir == tmp_path / "train"
    _edit_csv(tmp_path, labels={1: ""})  # read as NaN, the column as floats
    with pytest.raises(cactus.CactusDataError, match=r"1 of 3 rows have other values: '' \(line 3\)"):
        cactus.check_cactus_table(pd.read_csv(tmp_path / "train.csv"), tmp_path)
    _edit_csv(tmp_path, labels={1: "2"})
    with pytest.raises(cactus.CactusDataError, match=r"'2' \(line 3\)"):
        cactus.check_cactus_table(pd.read_csv(tmp_path / "train.csv"), tmp_path)
    with pytest.raises(cactus.CactusDataError, match="missing column.* has_cactus; its columns are id, label"):
        cactus.check_cactus_table(pd.DataFrame({"id": ["a.jpg"], "label": [1]}), tmp_path)


# --- the generated stand-in ----------------------------------------------------------------------

def test_stratified_order_keeps_the_proportion_in_every_prefix():
    labels = np.array([1] * 150 + [0] * 50)
    np.random.default_rng(0).shuffle(labels)
    order = cactus._stratified_order(labels, seed=1)
    assert sorted(order) == list(range(200))
    ordered = labels[order]
    for k in (10, 60, 100, 200):
        assert abs(ordered[:k].sum() - 0.75 * k) <= 1


def test_generated_data_has_the_real_imbalance_and_layout(tmp_path):
    root = cactus._make_stand_in(tmp_path / "gen", 40, seed=2)
    table, image_dir = load_table(root)
    assert len(table) == 40 and table["has_cactus"].sum() == 30
    assert table["has_cactus"][:12].sum() == 9  # the validation slice keeps 3:1
    assert generated.manifest(root) is not None
    assert not list(tmp_path.glob(".*part"))
    from PIL import Image

    with Image.open(image_dir / table["id"][0]) as image:
        assert image.size == (32, 32) and image.format == "JPEG"


def test_generated_data_is_reused_or_rebuilt_when_settings_change(tmp_path):
    root = cactus._make_stand_in(tmp_path / "gen", 20, seed=0)
    stamp = (root / "train.csv").stat().st_mtime_ns
    cactus._make_stand_in(root, 20, seed=0)
    assert (root / "train.csv").stat().st_mtime_ns == stamp
    cactus._make_stand_in(root, 24, seed=0)
    assert len(pd.read_csv(root / "train.csv")) == 24
    assert len(list((root / "train").iterdir())) == 24  # the old images are gone


def test_generated_classes_carry_a_learnable_signal(tmp_path):
    root = cactus._make_stand_in(tmp_path / "gen", 40, seed=0)
    table, image_dir = load_table(root)
    from PIL import Image

    red = np.array([np.asarray(Image.open(image_dir / name), float)[..., 0].mean() for name in table["id"]])
    labels = table["has_cactus"].to_numpy()
    assert red[labels == 0].mean() - red[labels == 1].mean() > 40  # class 0 is the red one


def test_load_stand_in_goes_under_data_quick_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    root = cactus.load("stand-in", num_images=12, local_copy="/somewhere")
    assert root == tmp_path / "data" / "quick" / cactus._GENERATED_FOLDER_NAME
    assert capsys.readouterr().out == ("[course] note: the quick profile uses generated images; CACTUS_DIR=/somewhere is not "
                                       f"used\n[course] generated stand-in data: {root}\n")
    assert _files(root) == _files(cactus._make_stand_in(tmp_path / "seed0", 12, seed=0))
    seeded = cactus.load("stand-in", num_images=12, seed=5)
    assert _files(seeded) == _files(cactus._make_stand_in(tmp_path / "seed5", 12, seed=5))
    with pytest.raises(ValueError, match=r"^the generated stand-in needs num_images$"):
        cactus.load("stand-in")
    with pytest.raises(ValueError, match="unknown source 'kaggle' for the cactus data: use 'real'"):
        cactus.load("kaggle")


# --- the real data: local copies and the Kaggle download ------------------------------------------

def _competition_zip(path, labels=(1, 0, 1, 1), *, nested=True, drop_image=False):
    """A zip shaped like Kaggle's: train.csv, sample_submission.csv, train.zip (train/<id>), test.zip."""
    source = _write(path.parent / "source", list(labels))
    table = pd.read_csv(source / "train.csv")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as train_zip:
        for i, name in enumerate(table["id"]):
            if drop_image and i == 0:
                continue
            train_zip.write(source / "train" / name, f"train/{name}")
    with zipfile.ZipFile(path, "w") as outer:
        outer.write(source / "train.csv", "train.csv")
        outer.writestr("sample_submission.csv", "id,has_cactus\n")
        if nested:
            outer.writestr("train.zip", inner.getvalue())
        else:
            for name in table["id"]:
                outer.write(source / "train" / name, f"train/{name}")
        outer.writestr("test.zip", b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    return path


class FakeKaggle:
    """Stands in for KaggleApi: writes a local competition zip, or fails like Kaggle does."""

    def __init__(self, tmp_path, error=None, **zip_options):
        self.tmp_path, self.error, self.zip_options, self.calls = tmp_path, error, zip_options, []
        (tmp_path / "made").mkdir(exist_ok=True)

    def competition_download_files(self, competition, path=None, quiet=True):
        self.calls.append((competition, Path(path), quiet))
        if self.error:
            raise self.error
        _competition_zip(self.tmp_path / "made" / "x.zip", **self.zip_options)
        (self.tmp_path / "made" / "x.zip").rename(f"{path}/{competition}.zip")


@pytest.fixture
def kaggle(tmp_path, monkeypatch):
    """``kaggle(**options)``: the Kaggle client load("real") signs in with, a :class:`FakeKaggle`; data in tmp_path."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))

    def use(**options):
        api = FakeKaggle(tmp_path, **options)
        monkeypatch.setattr(cactus, "_kaggle_api", lambda: api)
        return api

    return use


def _listing(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != ".locks")  # the build locks live in <data>/.locks


def _leftovers(folder):
    return [name for name in _listing(folder) if name.startswith(".")]


def test_download_installs_the_competition_in_place(tmp_path, kaggle, capsys):
    api = kaggle()
    target = tmp_path / "data" / "aerial_cactus"
    assert cactus.load("real") == target
    assert [call[0] for call in api.calls] == ["aerial-cactus-identification"]
    table, image_dir = load_table(target)
    assert len(table) == 4 and image_dir == target / "train" / "train"  # Kaggle's train.zip, extracted
    assert sorted(p.name for p in target.iterdir()) == [  # no zips; the manifest names the archive it came from
        "COURSE_MANIFEST.json", "sample_submission.csv", "train", "train.csv"]
    assert _listing(tmp_path / "data") == ["aerial_cactus", "aerial_cactus_download"]
    assert capsys.readouterr().out == ("[course] downloading the Kaggle competition aerial-cactus-identification (about 25 MB)"
                                       f" ...\n[course] installed 4 images and train.csv at {target}\n")
    assert cactus.load("real") == target and len(api.calls) == 1  # installed: reused
    assert capsys.readouterr().out == f"[course] Kaggle data already installed at {target}\n"


def test_a_refused_download_explains_the_rules_and_leaves_nothing(tmp_path, kaggle):
    kaggle(error=RuntimeError("(403) Reason: Forbidden"))
    with pytest.raises(cactus.KaggleSetupError, match=r"403 Forbidden.*/rules.*CACTUS_DIR.*PROFILE=quick") as err:
        cactus.load("real")
    assert isinstance(err.value, CourseError) and isinstance(err.value, RuntimeError)
    assert _listing(tmp_path / "data") == []
    kaggle(error=OSError("Name or service not known"))
    with pytest.raises(cactus.KaggleSetupError, match="no network here"):
        cactus.load("real")


def test_an_incomplete_archive_is_not_installed(tmp_path, kaggle):
    kaggle(drop_image=True)
    with pytest.raises(cactus.CactusDataError, match="1 of 4 images listed in train.csv are missing"):
        cactus.load("real")
    assert not (tmp_path / "data" / "aerial_cactus").exists() and _leftovers(tmp_path / "data") == []


def test_a_corrupt_or_foreign_archive_is_refused(tmp_path):
    archive = _competition_zip(tmp_path / "comp.zip", nested=False)
    data = bytearray(archive.read_bytes())
    offset = data.find(b"JFIF")  # inside the first JPEG member's stored bytes
    data[offset + 40] ^= 0xFF
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with pytest.raises(cactus.CactusDataError, match="fails its CRC-32 check") as err:
        cactus._install_zip(broken, tmp_path / "out")
    assert isinstance(err.value, CourseError) and isinstance(err.value, ValueError)
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(cactus.CactusDataError, match="not a zip archive"):
        cactus._install_zip(tmp_path / "not.zip", tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as other:
        other.writestr("readme.txt", "x")
    with pytest.raises(cactus.CactusDataError, match=r"no train\.csv inside"):
        cactus._install_zip(tmp_path / "other.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_a_local_folder_or_zip_is_used_without_downloading(tmp_path, kaggle, capsys):
    never = kaggle(error=AssertionError("must not download"))
    folder = _write(tmp_path / "mine", [1, 0])
    assert cactus.load("real", local_copy=folder) == folder
    assert capsys.readouterr().out == f"[course] your local copy: {folder}\n"
    archive = _competition_zip(tmp_path / "aerial-cactus-identification.zip")
    root = cactus.load("real", local_copy=archive)
    assert root == tmp_path / "data" / "aerial_cactus" and archive.is_file()  # the learner's zip is untouched
    assert capsys.readouterr().out == f"[course] installed 4 images and train.csv at {root}\n"
    assert cactus.load("real") == root  # installed: reused
    assert never.calls == []
    with pytest.raises(cactus.CactusDataError, match=rf"^{tmp_path / 'typo'}: no such file or folder \(the local"):
        cactus.load("real", local_copy=tmp_path / "typo")
    (tmp_path / "empty").mkdir()  # the notebook's pd.read_csv comes next: say so before it fails
    with pytest.raises(cactus.CactusDataError, match=r"no train\.csv here \(found: nothing\).*CACTUS_DIR"):
        cactus.load("real", local_copy=tmp_path / "empty")


@pytest.fixture
def no_kaggle_token(tmp_path, monkeypatch):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_without_the_kaggle_package_the_message_lists_every_step(monkeypatch, no_kaggle_token):
    monkeypatch.setattr(cactus.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(cactus.KaggleSetupError) as err:
        cactus._kaggle_api()
    text = str(err.value)
    for step in ("`kaggle` package is not installed", "pip install kaggle", "~/.kaggle/kaggle.json",
                 "KAGGLE_USERNAME", "/rules", "CACTUS_DIR", "PROFILE=quick"):
        assert step in text, step


def _fake_kaggle_module(monkeypatch, authenticate):
    api_class = type("KaggleApi", (), {"authenticate": authenticate})
    extended = types.ModuleType("kaggle.api.kaggle_api_extended")
    extended.KaggleApi = api_class
    for name, module in [("kaggle", types.ModuleType("kaggle")), ("kaggle.api", types.ModuleType("kaggle.api")),
                         ("kaggle.api.kaggle_api_extended", extended)]:
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(cactus.importlib.util, "find_spec", lambda name: object())
    return api_class


def test_kaggle_api_signs_in_with_a_token(monkeypatch, no_kaggle_token):
    signed = []
    api_class = _fake_kaggle_module(monkeypatch, lambda self: signed.append(True))
    assert isinstance(cactus._kaggle_api(), api_class) and signed == [True]


def test_a_rejected_token_is_explained(monkeypatch, no_kaggle_token):
    def refuse(self):
        raise OSError("401 Unauthorized")

    _fake_kaggle_module(monkeypatch, refuse)
    with pytest.raises(cactus.KaggleSetupError, match=r"could not sign in \(401 Unauthorized\).*Create New Token"):
        cactus._kaggle_api()


def test_unreadable_listed_images_are_named_and_left_out_before_training(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "cactus"
    (root / "train").mkdir(parents=True)
    rows = [("a.jpg", 1), ("b.jpg", 0), ("c.jpg", 1)]
    (root / "train.csv").write_text("id,has_cactus\n" + "".join(f"{i},{label}\n" for i, label in rows))
    for name, _ in rows:
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(root / "train" / name)
    (root / "train" / "b.jpg").write_bytes(b"")  # an empty download
    table, image_dir = load_table(root)
    assert table["id"].tolist() == ["a.jpg", "c.jpg"]
    assert ("skipped 1 unreadable: b.jpg (empty file) - re-download or replace them to use them; "
            "until then their rows are left out") in capsys.readouterr().out
    assert (image_dir / "b.jpg").exists()  # nothing of the learner's is deleted


# --- issue 17: what a mutation run found unguarded ------------------------------------------------

def test_exactly_five_missing_images_are_all_named_without_a_summary(tmp_path):
    _write(tmp_path, [1] * 6)
    table = pd.read_csv(tmp_path / "train.csv")
    for name in table["id"][:5]:
        (tmp_path / "train" / name).unlink()
    with pytest.raises(cactus.CactusDataError) as err:
        load_table(tmp_path)
    assert "5 of 6 images listed in train.csv are missing" in str(err.value) and " more" not in str(err.value)


def test_stratified_order_is_seeded_and_recorded():
    labels = np.array([1, 1, 1, 0] * 3)
    order = cactus._stratified_order(labels)
    assert order.tolist() == cactus._stratified_order(labels, seed=0).tolist()  # seed 0 by default
    assert order.tolist() == STRATIFIED_SEED_0  # the quick profile's row order, recorded
    assert cactus._stratified_order(labels, seed=1).tolist() != order.tolist()
    assert cactus._stratified_order(labels, seed=1).tolist() == cactus._stratified_order(labels, seed=1).tolist()


STRATIFIED_SEED_0 = [10, 11, 2, 9, 5, 3, 6, 1, 0, 7, 4, 8]


def test_stratified_order_spreads_three_classes_too():
    labels = np.array([0] * 10 + [1] * 20 + [2] * 30)
    np.random.default_rng(3).shuffle(labels)
    ordered = labels[cactus._stratified_order(labels, seed=2)]
    for k in (6, 12, 30, 60):
        for value, share in ((0, 1 / 6), (1, 2 / 6), (2, 3 / 6)):
            assert abs((ordered[:k] == value).sum() - share * k) <= 1, (k, value)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generated_defaults_seed_0_and_signal_1(tmp_path):
    default = _files(cactus._make_stand_in(tmp_path / "a", 16))
    assert default == _files(cactus._make_stand_in(tmp_path / "b", 16, seed=0, signal=1.0))
    weaker = _files(cactus._make_stand_in(tmp_path / "c", 16, signal=0.5))
    assert weaker["train.csv"] == default["train.csv"]  # same ids and labels, other pixels
    assert {k: v for k, v in weaker.items() if k.startswith("train/")} != {
        k: v for k, v in default.items() if k.startswith("train/")}


def test_generated_data_is_recorded_for_a_seed(tmp_path):
    """The quick profile's data are deterministic: ids and labels for seed 3, recorded."""
    root = cactus._make_stand_in(tmp_path / "gen", 16, seed=3)
    table = pd.read_csv(root / "train.csv")
    assert table["has_cactus"].tolist() == GENERATED_SEED_3_LABELS
    assert table["id"][0] == GENERATED_SEED_3_FIRST_ID
    again = cactus._make_stand_in(tmp_path / "again", 16, seed=3)
    assert _files(again) == _files(root)


GENERATED_SEED_3_LABELS = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1]
GENERATED_SEED_3_FIRST_ID = "f8c2becf931aed15f5d3ef2d059d9f3c.jpg"


def test_generated_signal_zero_has_no_colour_difference(tmp_path):
    from PIL import Image

    root = cactus._make_stand_in(tmp_path / "gen", 40, seed=0, signal=0.0)
    table, image_dir = load_table(root)
    red = np.array([np.asarray(Image.open(image_dir / name), float)[..., 0].mean() for name in table["id"]])
    labels = table["has_cactus"].to_numpy()
    assert abs(red[labels == 0].mean() - red[labels == 1].mean()) < 15  # 40+ with the default signal


def test_generated_manifest_records_the_settings(tmp_path):
    root = cactus._make_stand_in(tmp_path / "gen", 20, seed=4, signal=0.5)
    text = (root / "COURSE_MANIFEST.json").read_text()
    assert text.startswith('{\n "kind": "generated data",\n "made": null,\n "settings": {\n')  # indented for a person
    assert generated.manifest(root) == {
        "settings": {"num_images": 20, "seed": 4, "signal": 0.5, "imbalance": [1, 3], "image_size": 32,
                     "order": "stratified"},
        "made": None,
    }


def test_generated_data_is_rebuilt_when_its_csv_or_stamp_is_gone(tmp_path):
    root = cactus._make_stand_in(tmp_path / "gen", 12)
    (root / "train.csv").unlink()
    cactus._make_stand_in(root, 12)
    assert len(pd.read_csv(root / "train.csv")) == 12
    (root / "COURSE_MANIFEST.json").unlink()
    cactus._make_stand_in(root, 12)
    assert generated.manifest(root) is not None
    (root / "COURSE_MANIFEST.json").write_text("not json")
    cactus._make_stand_in(root, 12)
    assert generated.manifest(root) is not None


def test_generated_data_is_built_in_a_hidden_part_folder_beside_it_and_a_failure_leaves_nothing(tmp_path, monkeypatch):
    staged = []
    real = cactus.write_kaggle_layout

    def spy(root, *args, **kwargs):
        staged.append(Path(root))
        return real(root, *args, **kwargs)

    monkeypatch.setattr(cactus, "write_kaggle_layout", spy)
    root = cactus._make_stand_in(tmp_path / "new" / "deep" / "gen", 8)  # parents made too
    (where,) = staged
    assert where.parent == root.parent and where.name.startswith(".gen.") and where.name.endswith(".part")

    def failing(root, *args, **kwargs):
        real(root, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(cactus, "write_kaggle_layout", failing)
    with pytest.raises(OSError, match="disk full"):
        cactus._make_stand_in(tmp_path / "other" / "gen", 8)
    assert list((tmp_path / "other").iterdir()) == []


def test_kaggle_api_looks_for_the_kaggle_package_and_says_what_is_missing(monkeypatch, no_kaggle_token):
    asked = []
    monkeypatch.setattr(cactus.importlib.util, "find_spec", lambda name: asked.append(name))
    with pytest.raises(cactus.KaggleSetupError) as err:
        cactus._kaggle_api()
    assert asked == ["kaggle"]
    assert str(err.value).startswith("The `kaggle` package is not installed. The full profile downloads")


def test_without_a_token_the_clients_exit_becomes_the_setup_steps(monkeypatch, no_kaggle_token, capsys):
    def exit_as_the_client_does(self):  # kaggle 2.x: prints where it looked, then exit(1)
        print("Could not find kaggle.json. Make sure it's located in /home/u/.config/kaggle.")
        raise SystemExit(1)

    _fake_kaggle_module(monkeypatch, exit_as_the_client_does)
    with pytest.raises(cactus.KaggleSetupError) as err:
        cactus._kaggle_api()
    assert str(err.value).startswith("No Kaggle API token was found (the client says above where it looked). ")
    assert "Create New Token" in str(err.value) and "Could not find kaggle.json" in capsys.readouterr().out


def test_setup_message_steps_read_as_written():
    text = cactus._setup_message("Reason")
    assert text.startswith("Reason. The full profile downloads the Kaggle competition 'aerial-cactus-identification': ")
    assert ("(1) pip install kaggle (in the course: pip install -e '.[kaggle]'); (2) on kaggle.com open "
            "Settings > API > Create New Token and save the kaggle.json it gives you as ~/.kaggle/kaggle.json "
            "(chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY; (3) accept the competition's rules once at "
            "https://www.kaggle.com/c/aerial-cactus-identification/rules.") in text


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("403"), "Kaggle refused the download (403 Forbidden): accept the rules"),
    (RuntimeError("Forbidden"), "Kaggle refused the download (403 Forbidden): accept the rules"),
    (RuntimeError("401"), "Kaggle rejected the API token (401): create a new token (RuntimeError: 401)"),
    (RuntimeError("Unauthorized"), "Kaggle rejected the API token (401): create a new token"),
    (ConnectionError("timed out"), "The download from Kaggle failed (ConnectionError: timed out); no network here?"),
])
def test_download_failures_are_told_apart(error, expected):
    assert cactus._download_failure(error).startswith(expected)


def test_install_messages_name_the_archive(tmp_path):
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(cactus.CactusDataError, match=rf"^{tmp_path / 'not.zip'} is not a zip archive .*; download it "
                       "again, or expected train.csv"):
        cactus._install_zip(tmp_path / "not.zip", tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as other:
        other.writestr("readme.txt", "x")
    with pytest.raises(cactus.CactusDataError, match=rf"^{tmp_path / 'other.zip'}: no train\.csv inside; "):
        cactus._install_zip(tmp_path / "other.zip", tmp_path / "out")


def test_a_crc_mismatch_and_damaged_compressed_data_are_both_layout_errors(tmp_path):
    archive = _competition_zip(tmp_path / "comp.zip", nested=False)
    data = bytearray(archive.read_bytes())
    data[data.find(b"JFIF") + 40] ^= 0xFF  # stored member: the CRC catches it
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    with pytest.raises(cactus.CactusDataError, match=rf"^{tmp_path / 'crc.zip'}: member 'train/\S+' fails its CRC-32"):
        cactus._install_zip(tmp_path / "crc.zip", tmp_path / "out")
    deflated = tmp_path / "deflated.zip"
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("train.csv", "id,has_cactus\n" + "".join(f"{i:032x}.jpg,1\n" for i in range(200)))
    data = bytearray(deflated.read_bytes())
    start = 30 + len("train.csv")
    for i in range(start + 10, start + 40):  # inside the deflated bytes: zlib fails before any CRC
        data[i] ^= 0xFF
    deflated.write_bytes(bytes(data))
    with pytest.raises(cactus.CactusDataError, match=rf"^{deflated}: damaged zip \("):
        cactus._install_zip(deflated, tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_a_damaged_train_zip_inside_the_competitions_zip_is_refused(tmp_path):
    archive = _competition_zip(tmp_path / "comp.zip")
    with zipfile.ZipFile(archive) as outer:
        members = {name: outer.read(name) for name in outer.namelist()}
    inner = bytearray(members["train.zip"])
    inner[inner.find(b"JFIF") + 40] ^= 0xFF
    members["train.zip"] = bytes(inner)
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as outer:
        for name, data in members.items():
            outer.writestr(name, data)
    with pytest.raises(cactus.CactusDataError, match=r"train\.zip: member 'train/\S+' fails its CRC-32"):
        cactus._install_zip(tmp_path / "bad.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_install_takes_the_top_train_csv_and_says_what_it_installed(tmp_path, capsys):
    archive = _competition_zip(tmp_path / "comp.zip", nested=False)
    with zipfile.ZipFile(archive, "a") as extra:
        extra.writestr("backup/train.csv", "id,has_cactus\nold.jpg,1\n")  # an older copy deeper down
    target = cactus._install_zip(archive, tmp_path / "new" / "deep" / "aerial_cactus")
    assert len(pd.read_csv(target / "train.csv")) == 4
    assert capsys.readouterr().out == f"[course] installed 4 images and train.csv at {target}\n"


def test_a_zip_of_a_folder_with_the_images_beside_the_csv_installs_that_folder(tmp_path):
    source = _write(tmp_path / "source", [1, 0, 1])
    with zipfile.ZipFile(tmp_path / "flat.zip", "w") as out:
        out.write(source / "train.csv", "mine/train.csv")
        for image in (source / "train").iterdir():
            out.write(image, f"mine/{image.name}")
    target = cactus._install_zip(tmp_path / "flat.zip", tmp_path / "out")
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [p.name for p in (source / "train").iterdir()] + ["train.csv", files._MANIFEST])
    assert load_table(target)[1] == target


def test_install_without_an_id_column_says_so(tmp_path):
    archive = tmp_path / "noid.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("train.csv", "name,has_cactus\na.jpg,1\n")
        out.writestr("train/a.jpg", b"x")
    with pytest.raises(cactus.CactusDataError, match=r"train\.csv: missing column\(s\) id; its columns are name, has_"):
        cactus._install_zip(archive, tmp_path / "out")


def test_the_download_shows_progress_unless_asked_not_to_and_is_kept(tmp_path, kaggle):
    api = kaggle()
    cactus.load()  # "real" by default
    assert api.calls[0][2] is False  # quiet=False: the learner sees Kaggle's progress
    assert api.calls[0][1].name.startswith(".aerial_cactus_download.") and api.calls[0][1].name.endswith(".part")
    shutil.rmtree(tmp_path / "data" / "aerial_cactus")  # the zip is kept: installed again without downloading
    assert cactus.load("real", progress=False) == tmp_path / "data" / "aerial_cactus" and len(api.calls) == 1
    shutil.rmtree(tmp_path / "data")
    cactus.load("real", progress=False)
    assert api.calls[1][2] is True


def test_a_download_that_leaves_no_zip_says_so(tmp_path, monkeypatch):
    class Empty:
        def competition_download_files(self, competition, path=None, quiet=True):
            pass

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cactus, "_kaggle_api", Empty)
    with pytest.raises(cactus.KaggleSetupError, match=r"^The Kaggle download left no \.zip in \S+\.part\. "):
        cactus.load("real")
    assert _listing(tmp_path / "data") == []


def test_generated_seeds_draw_other_images_not_only_another_order(tmp_path):
    def pixels(root):
        return sorted(p.read_bytes() for p in (root / "train").iterdir())

    assert pixels(cactus._make_stand_in(tmp_path / "s0", 12, seed=0)) != pixels(
        cactus._make_stand_in(tmp_path / "s3", 12, seed=3))


def test_install_works_in_a_hidden_part_folder_beside_the_target(tmp_path, monkeypatch):
    seen = []
    real = cactus.check_cactus_table
    monkeypatch.setattr(cactus, "check_cactus_table", lambda table, root: seen.append(Path(root)) or real(table, root))
    target = tmp_path / "data" / "aerial_cactus"
    cactus._install_zip(_competition_zip(tmp_path / "comp.zip"), target)
    staging = seen[0]
    assert staging.parent == target.parent and staging.name.startswith(".aerial_cactus.")
    assert staging.name.endswith(".part") and not staging.exists()
    assert cactus._install_zip(tmp_path / "comp.zip", target) == target and len(seen) == 1  # installed: kept
    (target / "train.csv").unlink()  # someone removed the table: installed again
    assert cactus._install_zip(tmp_path / "comp.zip", target) == target and len(seen) == 2
    assert (target / "train.csv").is_file()


def test_load_reads_a_classrooms_shared_copy_or_says_it_is_missing(tmp_path, monkeypatch, kaggle, capsys):
    from course_utils.setup import classroom

    mine, shared = tmp_path / "data", tmp_path / "shared"
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    monkeypatch.setattr(classroom, "_reported_missing", set())
    kaggle()
    assert cactus.load("real") == mine / "aerial_cactus"
    out = capsys.readouterr().out
    assert "shared data: the aerial cactus Kaggle data is not in the shared folder" in out
    assert "downloading the Kaggle competition" in out
    _write(shared / "aerial_cactus", [1, 0])
    classroom.write_manifest(shared)  # as `make classroom-data` does
    shutil.rmtree(mine / "aerial_cactus")
    kaggle(error=AssertionError("no"))
    assert cactus.load("real") == shared / "aerial_cactus"


def test_load_uses_data_another_run_downloaded_while_it_waited(tmp_path, monkeypatch, kaggle):
    import contextlib

    from course_utils.setup import files

    kaggle(error=AssertionError("no"))
    zipped = _competition_zip(tmp_path / "comp.zip")

    @contextlib.contextmanager
    def lock(target, timeout=-1):
        if target.name == "aerial_cactus_download":  # the other run finished while this one waited
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(zipped, target / zipped.name)
        yield

    monkeypatch.setattr(files, "_build_lock", lock)
    assert cactus.load("real") == tmp_path / "data" / "aerial_cactus"


# --- archives: a cap on what they unpack to, a corrected zip replaces the install ---------------------------

def _declare(archive, member, size):
    """Patch ``member``'s declared (uncompressed) size in both of the zip's headers: a small file that says it
    unpacks to ``size`` bytes, as a zip bomb does."""
    data = bytearray(archive.read_bytes())
    name = member.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_at:start + name_at + len(name)] == name:
                data[start + size_at:start + size_at + 4] = size.to_bytes(4, "little")
            start += 4
    archive.write_bytes(bytes(data))
    return archive


def test_a_zip_declaring_more_than_the_data_set_needs_is_refused_before_unpacking(tmp_path):
    archive = _declare(_competition_zip(tmp_path / "comp.zip"), "sample_submission.csv", 512 << 20)
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(cactus.CactusDataError, match=rf"comp\.zip: it would unpack to {(512 << 20) + 1:,}|"
                       r"comp\.zip: it would unpack to 536,87\d,\d+ bytes, more than the 209,715,200") as err:
        cactus._install_zip(archive, tmp_path / "out")
    assert "a zip bomb" in str(err.value) and "download it again" in str(err.value)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_the_train_zip_inside_the_competitions_zip_has_the_cap_too(tmp_path):
    archive = _competition_zip(tmp_path / "comp.zip")
    with zipfile.ZipFile(archive) as outer:
        members = {name: outer.read(name) for name in outer.namelist()}
    inner = tmp_path / "train.zip"
    inner.write_bytes(members["train.zip"])
    with zipfile.ZipFile(inner) as train_zip:
        first = train_zip.namelist()[0]
    members["train.zip"] = _declare(inner, first, 512 << 20).read_bytes()
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w") as outer:
        for name, data in members.items():
            outer.writestr(name, data)
    with pytest.raises(cactus.CactusDataError, match=r"train\.zip: it would unpack to 536,87\d,\d+ bytes, more than "
                                                     r"the 209,715,200 this data set needs"):
        cactus._install_zip(tmp_path / "bomb.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_a_corrected_local_zip_replaces_the_installed_copy(tmp_path, kaggle):
    kaggle(error=AssertionError("must not download"))
    first = _competition_zip(tmp_path / "v1" / "aerial-cactus-identification.zip", labels=(1, 0, 1, 1))
    root = cactus.load("real", local_copy=first)
    assert pd.read_csv(root / "train.csv")["has_cactus"].tolist() == [1, 0, 1, 1]
    fixed = _competition_zip(tmp_path / "v2" / "aerial-cactus-identification.zip", labels=(0, 1, 0, 0))
    assert cactus.load("real", local_copy=fixed) == root
    assert pd.read_csv(root / "train.csv")["has_cactus"].tolist() == [0, 1, 0, 0]  # the corrected labels
    assert cactus.load("real", local_copy=fixed) == root and cactus.load("real") == root
    assert _leftovers(tmp_path / "data") == []
