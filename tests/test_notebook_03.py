"""Lesson 03 executed in the quick profile: splits, feature sizes, frozen heads, learning, predictions."""
import math

import pytest

pytestmark = pytest.mark.notebooks

CHANCE = 1 / 5


def _outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            yield cell, out


def test_lesson_03_splits_and_classes(course_run):
    figs = course_run.figures("03")
    assert figs["num_classes"] == 5
    # the quick profile's 300 generated images, cut 10% / 15% / 75% by TFDS split strings
    assert (figs["num_test"], figs["num_valid"], figs["num_train"]) == (30, 45, 225)
    assert figs["distinct_shapes_in_20"] > 1  # sizes vary, as in the photos


def test_lesson_03_feature_extractors_and_frozen_heads(course_run):
    figs = course_run.figures("03")
    assert figs["mobilenet_feature_dim"] == 1280
    assert figs["inception_feature_dim"] == 2048
    # only Dense(5) trains on top of each frozen extractor
    assert figs["mobilenet_trainable_params"] == 1280 * 5 + 5
    assert figs["inception_trainable_params"] == 2048 * 5 + 5


def test_lesson_03_both_models_learn_well_above_chance(course_run):
    figs = course_run.figures("03")
    for model in ("mobilenet", "inception"):
        assert figs[f"{model}_val_accuracy"] >= 2 * CHANCE, model
        assert figs[f"{model}_test_accuracy"] >= 2 * CHANCE, model
        assert figs[f"{model}_epoch_s"] > 0, model


def test_lesson_03_heads_train_on_cached_features_of_the_same_model(course_run):
    """The quick profile takes the cached path (CACHE_FEATURES defaults to on) and checks it."""
    figs = course_run.figures("03")
    assert figs["features_cached"] is True
    assert figs["cached_train_rows"] == figs["num_train"]  # one feature row per training image
    # the cache holds what the extractor computes, and the head trained is mobile_model's
    assert figs["cached_feature_max_diff"] < 1e-3
    assert figs["cached_head_logit_max_diff"] < 1e-3
    units = {f["name"]: f["unit"] for f in course_run.lesson("03").records["figures"]}
    assert units["naive_epoch_s"] == units["cached_epoch_s"] == "s"


def test_lesson_03_times_one_epoch_of_the_lessons_loop_against_the_cached_one(course_run):
    """The naive loop still runs (one timed epoch), so it cannot rot; even the tiny stand-in costs more."""
    figs = course_run.figures("03")
    assert figs["naive_epoch_s"] > 0 and figs["cached_epoch_s"] > 0
    assert math.isclose(figs["cache_epoch_speedup"], figs["naive_epoch_s"] / figs["cached_epoch_s"], rel_tol=1e-6)
    assert figs["cache_epoch_speedup"] > 0  # how much faster is for `make bench`, not a timed test
    assert figs["mobilenet_epoch_s"] == figs["cached_epoch_s"]


def test_lesson_03_predictions_cover_the_test_split_over_several_batches(course_run):
    figs = course_run.figures("03")
    assert figs["test_predictions"] == figs["num_test"]
    assert figs["test_batches"] >= 2  # the quick batch is smaller than the test split on purpose


def test_lesson_03_records_units_and_key_plot(course_run):
    run = course_run.lesson("03")
    units = {f["name"]: f["unit"] for f in run.records["figures"]}
    assert units["mobilenet_epoch_s"] == units["inception_epoch_s"] == "s"
    assert run.records["plots"] == ["lesson_03_key_plot.png"]
    assert run.records["profile"] == "quick"


def test_lesson_03_notebook_shows_its_work(course_run):
    nb = course_run.executed("03")
    texts = "\n".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", "")) for _, out in _outputs(nb)
    )
    assert "profile     : quick" in texts
    assert "tfds.load('tf_flowers'" in texts and "download=False" in texts
    assert "-> features (16, 1280)" in texts and "-> features (16, 2048)" in texts
    assert "test images in 2 batch(es) of [16, 14]" in texts
    assert "logits:" in texts and "predicted id" in texts
    assert "computing features: 225/225 examples" in texts and "epochs on cached features" in texts
    assert "faster)" in texts  # the naive vs cached epoch line
    pngs = sum("image/png" in out.get("data", {}) for _, out in _outputs(nb))
    # show_examples, 2 x learning curves, 2 x prediction grid, comparison
    assert pngs >= 6
    assert not [out for _, out in _outputs(nb) if out.get("output_type") == "error"]


def test_lesson_03_has_no_profile_branches():
    """The profile picks data, weights and sizes in profiles.py; the lesson code is the same."""
    import json
    import re
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "03_tfhub_flowers.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    branches = [line for line in code.splitlines()
                if re.search(r"\b(if|elif)\b", line) and re.search(r"profile|quick|full", line, re.I)]
    assert not branches, branches
    assert "hub.KerasLayer(mobilenet_handle, input_shape=(224, 224, 3))" in code
    assert "feature_extractor_mn.trainable = False" in code
    # the lesson's loop stays visible beside the cached form
    assert "history_mn = mobile_model.fit(\n        train_batches, epochs=cfg.epochs" in code
    assert "feature_cache.cached_features(feature_extractor_mn, train, preprocess=format_224" in code
    assert "feature_cache.head_of(mobile_model, feature_extractor_mn)" in code
