"""Lesson 01 executed in the quick profile: head swap, frozen counts, speed, accuracy."""
import pytest

pytestmark = pytest.mark.notebooks

CHANCE = 0.1  # ten digits


def test_lesson_01_runs_and_records(course_run):
    figs = course_run.figures("01")
    assert figs["head_outputs"] == 10
    # frozen base: only the new Dense(10) on the 3x3x128 Flatten trains
    assert figs["frozen_trainable_params"] == 3 * 3 * 128 * 10 + 10
    # learnable digits: far above chance (10%) after the quick profile's epochs
    assert figs["test_accuracy"] > 6 * CHANCE
    assert figs["test_accuracy_frozen"] > 6 * CHANCE
    assert figs["train_accuracy"] > 6 * CHANCE
    assert figs["accuracy_after_1_epoch"] > 3 * CHANCE


def test_lesson_01_answers_from_predict_agree_with_evaluate(course_run):
    figs = course_run.figures("01")
    # argmax of predict's logits, scored by scikit-learn, is the accuracy evaluate() reported
    assert figs["test_accuracy_from_predict"] == pytest.approx(figs["test_accuracy_frozen"], abs=1e-6)


def test_lesson_01_times_training_only_and_the_ratio_is_theirs(course_run):
    records = {f["name"]: f for f in course_run.lesson("01").records["figures"]}
    for name in ("epoch_time_unfrozen_s", "epoch_time_frozen_s", "frozen_speedup"):
        assert records[name]["note"].startswith("training only"), records[name]
    assert records["frozen_speedup"]["value"] == pytest.approx(
        records["epoch_time_unfrozen_s"]["value"] / records["epoch_time_frozen_s"]["value"])


def test_lesson_01_timed_fits_run_no_validation(course_run):
    nb = course_run.executed("01")
    timed = [c for c in nb.cells if c.cell_type == "code" and "EpochTimer()" in c.source]
    assert len(timed) == 1
    log = "".join(o.get("text", "") for o in timed[0].outputs)
    assert log.count("Epoch 1/") == 2  # the unfrozen and the frozen run
    assert "val_" not in log  # a validation pass inside the timed epochs would show in fit's log


def test_lesson_01_accuracies_name_where_they_were_measured(course_run):
    records = {f["name"]: f for f in course_run.lesson("01").records["figures"]}
    assert "training accuracy fit printed for epoch 1" in records["accuracy_after_1_epoch"]["note"]
    assert "test images" in records["test_accuracy"]["note"]


def test_lesson_01_shows_the_typo_pitfall(course_run):
    nb = course_run.executed("01")
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    joined = "\n".join(texts)
    assert "ValueError: No such layer: flaten. Existing layers are:" in joined
    assert "(None, 15)" in joined
    # the wrong loop alone leaves all 104,202 parameters trainable; the right one freezes conv1 and conv2
    assert "trainable 104,202 of 104,202 parameters" in joined
    assert "trainable 85,386 of 104,202 parameters" in joined
    # the lesson's order (the one-liner, then the loop with the typo): only the head trains
    assert "trainable 11,530, frozen 92,672; the new head alone has 11,530" in joined
    assert any("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def test_lesson_01_ends_with_the_comparison_table(course_run):
    nb = course_run.executed("01")
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "comparison_table()" in last_code.source
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in last_code.outputs)
    assert "like for like?" in html and "over 97% after 1 epoch" in html
    assert nb.cells[-1].cell_type == "markdown" and "Takeaways" in nb.cells[-1].source


def test_lesson_01_recorded_its_plot(course_run):
    assert course_run.lesson("01").records["plots"] == ["lesson_01_key_plot.png"]


def test_lesson_01_lets_the_test_images_judge_frozen_vs_unfrozen(course_run):
    """"The same accuracy" is computed, not stated: both runs' answers on the test images, the gap recorded with
    the verdict of a paired (McNemar) comparison."""
    figs = course_run.figures("01")
    records = {f["name"]: f for f in course_run.lesson("01").records["figures"]}
    assert figs["frozen_accuracy_gap"] == pytest.approx(100 * (figs["test_accuracy_frozen"] - figs["test_accuracy"]),
                                                        abs=1e-3)
    assert records["frozen_accuracy_gap"]["unit"] == "points"
    note = records["frozen_accuracy_gap"]["note"]
    assert note.startswith("frozen minus unfrozen, 360 test images: ")
    assert note.endswith(("the same, as far as these test images can tell", "by more than chance explains"))
