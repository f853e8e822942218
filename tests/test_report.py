import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.course import references, report  # noqa: E402


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RECORDS_DIR", str(tmp_path))
    report.begin("01", {"profile": "quick", "data": "d", "weights": "w"})
    return tmp_path


def test_record_writes_value_and_reference(records):
    report.record("test_accuracy", np.float32(0.75), note="3 epochs")
    saved = json.loads((records / "lesson_01.json").read_text())
    (fig,) = saved["figures"]
    assert fig["value"] == pytest.approx(0.75) and fig["note"] == "3 epochs"
    assert "99%" in fig["reference"]  # the lesson's own figure
    assert saved["profile"] == "quick"


def test_record_again_replaces(records):
    report.record("x", 1)
    report.record("x", 2)
    assert [(f["name"], f["value"]) for f in _saved(records)["figures"]] == [("x", 2)]


def test_record_accepts_tensors(records):
    import tensorflow as tf

    assert report.record("t", tf.constant(3)) == 3


def test_record_rejects_nan(records):
    with pytest.raises(ValueError, match="not a finite number"):
        report.record("bad", float("nan"))


def test_begin_drops_earlier_figures(records):
    report.record("x", 1)
    report.begin("01", {"profile": "quick"})
    assert _saved(records)["figures"] == []


def test_record_before_start_explains(monkeypatch):
    monkeypatch.setattr(report, "_begun", [])
    with pytest.raises(RuntimeError, match="start_lesson"):
        report.record("x", 1)


def test_a_record_removed_after_start_lesson_says_to_start_again(records):
    (records / "lesson_01.json").unlink()  # a learner cleared build/ with the kernel still running
    with pytest.raises(RuntimeError) as err:
        report.record("x", 1)
    assert str(err.value) == (f"the lesson's record {records / 'lesson_01.json'} is gone (removed since "
                              "start_lesson): run the notebook's setup cell (start_lesson) again")


def test_record_figure_saves_png(records):
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    path = report.record_figure(fig)
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
    assert _saved(records)["plots"] == [path.name]


def test_no_partial_file_left(records):
    report.record("x", 1)
    assert not list(records.glob("*.part"))


def test_comparison_puts_ours_beside_the_lesson_and_says_if_like_for_like(records):
    report.record("test_accuracy", 0.9876, note="10,000 test images")
    rows = {row["figure"]: row for row in report.comparison()}
    assert set(rows) == set(references.REFERENCES["01"])  # every figure the lesson reported, once
    row = rows["test_accuracy"]
    assert row["ours (quick profile)"] == "98.8% (10,000 test images)"  # the note says what was measured
    assert row["the original lesson"] == "almost 99% after 3 epochs"
    assert row["like for like?"].startswith("no: quick profile")
    assert rows["frozen_speedup"]["ours (quick profile)"] == "not recorded in this run"


def test_full_profile_rows_say_why_they_are_or_are_not_like_for_like(records):
    report.begin("06", {"profile": "full"})
    report.record("trainable_params_fc1", 102_764_544)
    rows = {row["figure"]: row for row in report.comparison()}
    assert rows["trainable_params_fc1"]["ours (full profile)"] == "102,764,544"
    assert rows["trainable_params_fc1"]["like for like?"] == "yes: the same layer sizes"
    assert rows["crop_epoch_s"]["like for like?"].startswith("no: ")
    for row in rows.values():
        assert row["like for like?"].split(":")[0] in {"yes", "partly", "no"}, row


def test_comparison_table_is_a_table_of_the_same_rows(records):
    report.record("test_accuracy", 0.5)
    table = report.comparison_table().data
    assert list(table.columns) == ["ours (quick profile)", "the original lesson", "like for like?"]
    assert table.loc["test_accuracy", "ours (quick profile)"] == "50.0%"


# --- exact behaviour of the run report's record (mutation testing, issue 17) -----------------

def _saved(records, lesson="01"):
    return json.loads((records / f"lesson_{lesson}.json").read_text())


def test_records_dir_defaults_to_build_records_of_the_project(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "checkout_root", lambda: tmp_path)
    for unset in (None, ""):
        if unset is None:
            monkeypatch.delenv("COURSE_RECORDS_DIR", raising=False)
        else:
            monkeypatch.setenv("COURSE_RECORDS_DIR", unset)
        assert report._records_dir() == tmp_path / "build" / "records"
        assert (tmp_path / "build" / "records").is_dir()
    monkeypatch.setattr(report, "checkout_root", lambda: None)  # an installed package: under its data folder
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    assert report._records_dir() == tmp_path / "data" / "build" / "records"
    monkeypatch.setenv("COURSE_RECORDS_DIR", str(tmp_path / "a" / "b"))
    assert report._records_dir() == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    report.begin("04", {})
    assert (tmp_path / "a" / "b" / "lesson_04.json").is_file()


def test_the_record_file_is_the_state_as_indented_json_written_through_a_temporary_file(records, monkeypatch):
    import os

    moves = []
    real_replace = os.replace

    def replace(src, dst):
        moves.append((str(src), str(dst), json.loads(open(src).read())["figures"]))
        real_replace(src, dst)

    monkeypatch.setattr(report.os, "replace", replace)
    report.record("test_accuracy", 0.5, unit="", note="n")
    path = records / "lesson_01.json"
    ((staged, target, figures),) = moves  # a hidden staging file beside the record (setup.files.write_staged)
    assert re.fullmatch(r"\.lesson_01\.json\.\d+-[0-9a-f]{8}\.part", Path(staged).name)
    assert Path(staged).parent == records and (target, figures) == (str(path), _saved(records)["figures"])
    assert not Path(staged).exists()
    assert path.read_text() == json.dumps(report._running().read(), indent=2)


def test_nothing_of_the_record_stays_in_memory_the_file_is_read_again(records):
    report.record("x", 1)
    (records / "lesson_01.json").write_text(json.dumps({**_saved(records), "profile": "edited on disk"}))
    report.record("y", 2)
    saved = _saved(records)
    assert saved["profile"] == "edited on disk" and [f["name"] for f in saved["figures"]] == ["x", "y"]
    assert report.comparison()[0]["ours (edited on disk profile)"]


def test_meta_values_numpy_and_others_are_written_as_json(records):
    from pathlib import Path

    report.begin("02", {"profile": "quick", "size": np.array([150, 150]), "seed": np.int64(3),
                        "rate": np.float32(0.5), "folder": Path("data/x"), "flags": (True, None)})
    saved = _saved(records, "02")
    assert (saved["size"], saved["seed"], saved["rate"]) == ([150, 150], 3, 0.5)
    assert (saved["folder"], saved["flags"]) == ("data/x", [True, None])


def test_meta_values_with_only_item_or_neither_are_written_too(records):
    class Scalar:
        def item(self):
            return 7

        def __str__(self):
            return "not this"

    class Thing:
        def __str__(self):
            return "a thing"

    report.begin("02", {"a": Scalar(), "b": Thing()})
    saved = _saved(records, "02")
    assert (saved["a"], saved["b"]) == (7, "a thing")


def test_begin_starts_a_fresh_record_meta_cannot_bring_figures(records):
    import time

    before = time.time()
    report.begin("03", {"profile": "full", "figures": [{"name": "old"}], "plots": ["old.png"]})
    after = time.time()
    saved = _saved(records, "03")
    assert saved["lesson"] == "03" and saved["profile"] == "full"
    assert before <= saved["started"] <= after
    assert saved["figures"] == [] and saved["plots"] == []
    assert list(saved) == ["lesson", "started", "profile", "figures", "plots"]
    assert report._current_lesson() == "03"


def test_record_before_start_message_is_exact(monkeypatch):
    monkeypatch.setattr(report, "_begun", [])
    with pytest.raises(RuntimeError) as err:
        report._current_lesson()
    assert str(err.value) == "no lesson started: run the notebook's setup cell (start_lesson) before record()"


def test_record_entry_is_exact_and_the_value_comes_back_plain(records):
    import tensorflow as tf

    value = report.record("epoch_time_frozen_s", tf.constant(2.5), unit="s", note="mean of 2")
    assert value == 2.5 and type(value) is float
    (entry,) = _saved(records)["figures"]
    assert entry == {"name": "epoch_time_frozen_s", "value": 2.5, "unit": "s", "note": "mean of 2",
                     "reference": references.reference_for("01", "epoch_time_frozen_s")}
    assert entry["reference"] == "about half the unfrozen epoch time"
    assert type(report.record("count", np.int64(7))) is int


def test_record_keeps_a_given_reference_even_an_empty_one(records):
    report.record("test_accuracy", 0.9, reference="our own words")
    report.record("train_accuracy", 0.9, reference="")
    report.record("not_in_the_lesson", 1)
    refs = {f["name"]: f["reference"] for f in _saved(records)["figures"]}
    assert refs == {"test_accuracy": "our own words", "train_accuracy": "", "not_in_the_lesson": ""}


def test_record_again_replaces_in_place_of_appending_and_keeps_the_others(records):
    report.record("a", 1)
    report.record("b", 2)
    report.record("a", 3, note="again")
    figures = _saved(records)["figures"]
    assert [(f["name"], f["value"], f["note"]) for f in figures] == [("b", 2, ""), ("a", 3, "again")]


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (np.float64("-inf"), "-inf")])
def test_record_refuses_what_is_not_a_finite_number_with_an_exact_message(records, value, shown):
    with pytest.raises(ValueError) as err:
        report.record("loss", value)
    assert str(err.value) == f"record('loss'): value is {shown}, not a finite number"
    assert _saved(records)["figures"] == []


def test_record_takes_non_numbers_as_they_are(records):
    assert report.record("device", "CPU") == "CPU"
    assert report.record("ok", True) is True
    assert {f["name"]: f["value"] for f in _saved(records)["figures"]} == {"device": "CPU", "ok": True}


def test_record_figure_writes_one_png_per_name_at_80_dpi(records):
    import io

    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3])
    path = report.record_figure(fig)
    assert path == records / "lesson_01_key_plot.png"
    expected = io.BytesIO()
    fig.savefig(expected, dpi=80, bbox_inches="tight")
    expected.seek(0)
    assert Image.open(path).size == Image.open(expected).size
    assert report.record_figure(fig) == path  # again: the same file, listed once
    other = report.record_figure(fig, name="confusion")
    assert other == records / "lesson_01_confusion.png" and other.exists()
    assert _saved(records)["plots"] == ["lesson_01_key_plot.png", "lesson_01_confusion.png"]
    plt.close(fig)


@pytest.mark.parametrize("name, value, unit, text", [
    ("test_accuracy", 0.98765, "", "98.8%"),
    ("test_accuracy", 0.0, "", "0.0%"),
    ("test_accuracy", 1.0, "", "100.0%"),
    ("val_accuracy_full", 0.5, "", "50.0%"),
    ("test_accuracy", 1.5, "", "1.5"),
    ("test_accuracy", -0.1, "", "-0.1"),
    ("test_accuracy", 0.5, "fraction", "0.5 fraction"),
    ("loss", 0.5, "", "0.5"),
    ("loss", 0.000123456, "", "0.000123"),
    ("epoch_s", 999.4, "s", "999 s"),
    ("epoch_s", 999.9, "s", "1e+03 s"),
    ("epoch_s", 1000.0, "s", "1,000 s"),
    ("epoch_s", -1234.4, "", "-1,234"),
    ("params", 102764544, "", "102,764,544"),
    ("params", -5000, "weights", "-5,000 weights"),
    ("ok", True, "", "True"),
    ("device", "CPU", "", "CPU"),
    ("device", None, "", "None"),
])
def test_shown_is_a_figure_as_a_person_reads_it(name, value, unit, text):
    assert report.shown({"name": name, "value": value, "unit": unit}) == text


def test_shown_unit_and_note_default_to_none():
    assert report.shown({"name": "x", "value": 12}) == "12"
    assert report.shown({"name": "x", "value": 12, "note": ""}) == "12"
    assert report.shown({"name": "test_accuracy", "value": 0.5, "note": "on 30 images"}) == "50.0% (on 30 images)"


def test_comparison_of_a_loaded_record_not_the_running_one(records):
    report.begin("01", {"profile": "quick"})
    loaded = {"lesson": "02", "profile": "full",
              "figures": [{"name": "app_train_accuracy", "value": 1.0, "unit": ""},
                          {"name": "hub_final_loss", "value": 0.01234, "unit": "nats"},
                          {"name": "not_a_lesson_figure", "value": 3}]}
    rows = report.comparison(loaded)
    assert [row["figure"] for row in rows] == list(references.REFERENCES["02"])
    by_name = {row["figure"]: row for row in rows}
    assert list(by_name["app_train_accuracy"]) == ["figure", "ours (full profile)", "the original lesson",
                                                   "like for like?"]
    assert by_name["app_train_accuracy"]["ours (full profile)"] == "100.0%"
    assert by_name["app_train_accuracy"]["the original lesson"] == references.reference_for("02", "app_train_accuracy")
    like_for_like = references.REFERENCES["02"]["app_train_accuracy"].like_for_like
    assert by_name["app_train_accuracy"]["like for like?"] == like_for_like
    if "hub_final_loss" in by_name:
        assert by_name["hub_final_loss"]["ours (full profile)"] == "0.0123 nats"
    missing = [n for n in references.REFERENCES["02"] if n not in ("app_train_accuracy", "hub_final_loss")]
    assert all(by_name[n]["ours (full profile)"] == "not recorded in this run" for n in missing)


def test_comparison_of_a_record_without_profile_or_figures():
    rows = report.comparison({"lesson": "01"})
    assert len(rows) == len(references.REFERENCES["01"])
    assert {row["ours ( profile)"] for row in rows} == {"not recorded in this run"}
    assert {row["like for like?"] for row in rows} == {references.QUICK_IS_NOT_LIKE_FOR_LIKE}
    assert report.comparison({"lesson": "99", "profile": "quick"}) == []


def test_comparison_without_a_record_or_a_running_lesson_explains(monkeypatch):
    monkeypatch.setattr(report, "_begun", [])
    with pytest.raises(RuntimeError, match="start_lesson"):
        report.comparison()


def test_comparison_table_is_indexed_by_figure_and_wraps_left_aligned(records):
    report.record("test_accuracy", 0.5)
    styler = report.comparison_table()
    assert styler.data.index.name == "figure"
    assert list(styler.data.index) == list(references.REFERENCES["01"])
    html = styler.to_html()
    assert "text-align: left" in html and "white-space: normal" in html


def test_comparison_and_its_table_of_a_loaded_record_whose_figures_have_no_unit(records):
    loaded = {"lesson": "01", "profile": "full", "figures": [{"name": "test_accuracy", "value": 0.5},
                                                             {"name": "frozen_speedup", "value": 2.25}]}
    rows = {row["figure"]: row for row in report.comparison(loaded)}
    assert rows["test_accuracy"]["ours (full profile)"] == "50.0%"
    assert rows["frozen_speedup"]["ours (full profile)"] == "2.25"
    table = report.comparison_table(loaded).data  # the loaded record, not the running quick one
    assert list(table.columns)[0] == "ours (full profile)"
    assert table.loc["frozen_speedup", "ours (full profile)"] == "2.25"
