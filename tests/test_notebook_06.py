"""Lesson 06 notebook, executed once in the quick profile: what it recorded must hold.

The quick profile uses random-init VGG16 weights and a few dozen generated
images, so its accuracies prove only that the runs complete; the bridge,
the weight copy, the trainable counts and which weights moved are exact.
"""
from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.notebooks

FC1 = 25088 * 4096 + 4096
FC2 = 4096 * 4096 + 4096
OUTPUT = 4096 * 10 + 10


@pytest.fixture(scope="module")
def figures(course_run):
    return course_run.figures("06")


def test_runs_in_the_quick_profile_and_records_its_plot(course_run, figures):
    run = course_run.lesson("06")
    assert run.records["profile"] == "quick"
    assert "lesson_06_key_plot.png" in run.records["plots"]
    nb = course_run.executed("06")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_bridge_gives_7x7x512_for_both_sizes(figures):
    assert figures["feature_map_small"] == [1, 1, 512]
    assert figures["feature_map_large"] == [7, 7, 512]
    assert figures["bridge_output_small"] == [7, 7, 512]
    assert figures["bridge_output_large"] == [7, 7, 512]


def test_fc1_fc2_are_the_pretrained_ones(figures):
    assert figures["fc_copy_max_abs_diff"] == 0.0


def test_lecture_bug_trains_only_the_output_and_the_fix_trains_fc1_fc2(figures):
    assert figures["trainable_params_with_lecture_bug"] == OUTPUT
    assert figures["trainable_params_base"] == 0
    assert figures["trainable_params_fc1"] == FC1
    assert figures["trainable_params_fc2"] == FC2
    assert figures["trainable_params_output"] == OUTPUT


def test_frozen_base_did_not_move_and_the_classifier_did(figures):
    assert figures["base_weight_change"] == 0.0
    assert figures["fc1_weight_change"] > 0.0
    assert figures["fc2_weight_change"] > 0.0


def test_accuracies_and_times_are_recorded(figures):
    for name in ("small_test_accuracy", "large_test_accuracy"):
        assert 0.0 <= figures[name] <= 1.0 and math.isfinite(figures[name])
    for name in ("small_epoch_s", "large_epoch_s", "frozen_epoch_s", "full_epoch_s"):
        assert figures[name] > 0.0
    # Frozen convolutions skip their backward pass and update: a step must be cheaper.
    assert 0.0 < figures["frozen_vs_full_epoch_ratio"] < 1.0
    assert math.isclose(figures["frozen_epoch_s"] / figures["full_epoch_s"],
                        figures["frozen_vs_full_epoch_ratio"], rel_tol=1e-6)
    assert 0.0 <= figures["dataset_vs_imagenet_mean_gap"] < 1.0
