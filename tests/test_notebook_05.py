"""Lesson 05 executed in the quick profile, plus the mixed7 cut it relies on."""
import math

import pytest

HEAD_PARAMS = (7 * 7 * 768 * 1024 + 1024) + (1024 + 1)


def test_cut_at_mixed7_gives_a_7x7x768_grid_at_150_pixels():
    import tensorflow as tf

    from course_utils import models

    backbone = tf.keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
    cut = models.cut_at(backbone, "mixed7")
    assert cut.output_shape == (None, 7, 7, 768)
    assert backbone.output_shape == (None, 3, 3, 2048)  # the last layer: mixed10
    assert cut.layers[-1].name == "mixed7" and len(cut.layers) < len(backbone.layers)
    with pytest.raises(models.LayerNotFoundError, match="no layer named 'mixed_7'"):
        models.cut_at(backbone, "mixed_7")


@pytest.mark.notebooks
def test_lesson_05_cuts_at_mixed7_and_trains_only_the_head(course_run):
    figs = course_run.figures("05")
    assert figs["mixed7_shape"] == [7, 7, 768]
    assert figs["trainable_params"] == HEAD_PARAMS
    assert figs["backbone_trainable_params"] == 0
    assert figs["frozen_layers"] == 311  # every layer of the no-top InceptionV3


@pytest.mark.notebooks
def test_lesson_05_augments_training_images_but_never_validation_images(course_run):
    figs = course_run.figures("05")
    assert figs["train_pixel_change"] > 0.02  # rotations, shifts, zooms and flips move pixels
    assert figs["validation_pixel_change"] == 0.0  # exactly the rescaled raw batch


@pytest.mark.notebooks
def test_lesson_05_records_both_runs(course_run):
    figs = course_run.figures("05")
    for run in ("without_dropout", "with_dropout"):
        gap = figs[f"gap_{run}"]
        assert math.isfinite(gap) and -1.0 <= gap <= 1.0
        assert 0.0 <= figs[f"val_accuracy_{run}"] <= 1.0
    assert figs["epoch_s"] > 0
    assert figs["full_schedule_estimate_h"] > 0


@pytest.mark.notebooks
def test_lesson_05_notebook_shows_its_plots_and_teaches_the_api_changes(course_run):
    run = course_run.lesson("05")
    assert run.status == "ok", run.error
    assert run.records["plots"] == ["lesson_05_key_plot.png"]
    nb = course_run.executed("05")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the augmentation grid and the accuracy curves
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for phrase in ("`lr=`", "learning_rate=", "fit_generator", "flow_from_directory", "shear_range=0.2",
                   "feature", "estimate"):
        assert phrase in markdown
    outputs = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "profile quick" in outputs and "estimate for the full schedule" in outputs
