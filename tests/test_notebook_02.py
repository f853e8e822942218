"""Lesson 02 executed in the quick profile: head swap on InceptionV3 and a TF Hub layer."""
import pytest

pytestmark = pytest.mark.notebooks


def test_lesson_02_head_swap_and_freezing(course_run):
    figs = course_run.figures("02")
    assert figs["app_head_outputs"] == 5
    assert figs["app_frozen_trainable_params"] == 2048 * 5 + 5
    assert figs["app_trainable_params"] > 20_000_000  # the whole InceptionV3 trains before freezing


def test_lesson_02_hub_layer_is_frozen_and_2048_wide(course_run):
    figs = course_run.figures("02")
    assert figs["hub_feature_dim"] == 2048
    assert figs["hub_trainable_params"] == (2048 * 128 + 128) + (128 * 64 + 64) + (64 * 5 + 5)


def test_lesson_02_memorises_five_points(course_run):
    figs = course_run.figures("02")
    # five random points: training-mode accuracy must reach well above chance (20%)
    assert figs["app_train_accuracy"] >= 0.8
    assert figs["hub_train_accuracy"] >= 0.6
    assert 0.0 <= figs["app_eval_accuracy"] <= 1.0
