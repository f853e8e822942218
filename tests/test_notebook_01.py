"""Lesson 01 executed in the quick profile: head swap, frozen counts, speed, accuracy."""
import pytest

pytestmark = pytest.mark.notebooks


def test_lesson_01_runs_and_records(course_run):
    figs = course_run.figures("01")
    assert figs["head_outputs"] == 10
    # frozen base: only the new Dense(10) on the 3x3x128 Flatten trains
    assert figs["frozen_trainable_params"] == 3 * 3 * 128 * 10 + 10
    # learnable digits: far above chance (10%) after the quick profile's epochs
    assert figs["test_accuracy"] > 0.6
    assert figs["test_accuracy_frozen"] > 0.6
    assert figs["accuracy_after_1_epoch"] > 0.3
    assert figs["epoch_time_unfrozen_s"] > 0 and figs["epoch_time_frozen_s"] > 0


def test_lesson_01_shows_the_typo_pitfall(course_run):
    nb = course_run.executed("01")
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    joined = "\n".join(texts)
    assert "LayerNotFoundError: no layer named 'flaten'" in joined
    assert "(None, 15)" in joined
    assert any("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def test_lesson_01_recorded_its_plot(course_run):
    assert course_run.lesson("01").records["plots"] == ["lesson_01_key_plot.png"]
