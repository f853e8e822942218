import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import references, report  # noqa: E402


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
    assert report.figures_by_name(report.load_records("01")) == {"x": 2}


def test_record_accepts_tensors(records):
    import tensorflow as tf

    assert report.record("t", tf.constant(3)) == 3


def test_record_rejects_nan(records):
    with pytest.raises(ValueError, match="not a finite number"):
        report.record("bad", float("nan"))


def test_begin_drops_earlier_figures(records):
    report.record("x", 1)
    report.begin("01", {"profile": "quick"})
    assert report.load_records("01")["figures"] == []


def test_record_before_start_explains():
    report._current.clear()
    with pytest.raises(RuntimeError, match="start_lesson"):
        report.record("x", 1)


def test_record_figure_saves_png(records):
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    path = report.record_figure(fig)
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
    assert report.load_records("01")["plots"] == [path.name]


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
    assert rows["small_epoch_s"]["like for like?"].startswith("no: ")
    for row in rows.values():
        assert row["like for like?"].split(":")[0] in {"yes", "partly", "no"}, row


def test_comparison_table_is_a_table_of_the_same_rows(records):
    report.record("test_accuracy", 0.5)
    table = report.comparison_table().data
    assert list(table.columns) == ["ours (quick profile)", "the original lesson", "like for like?"]
    assert table.loc["test_accuracy", "ours (quick profile)"] == "50.0%"
