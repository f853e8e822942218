"""Lesson 03 executed in the quick profile: splits, frozen extractors, fast feature extraction,
batch-safe predictions, evaluation beyond accuracy, fine-tuning, the closing comparison."""
import json
import math
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebooks

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_tfhub_flowers.ipynb"
CHANCE = 1 / 5  # five balanced classes: a model that guesses is right one time in five
QUICK_BATCH = 16
# The quick profile's stand-in feature vector (course_utils.models.hub._FeatureVector): two 3x3
# convolutions (3 -> 16 -> 32 channels, no biases) and a projection of the 3 + 16 + 32 pooled
# values to the output width.
STAND_IN_PARAMS = {dim: 3 * 3 * 3 * 16 + 3 * 3 * 16 * 32 + (3 + 16 + 32) * dim for dim in (1280, 2048)}


def _outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            yield cell, out


def _code() -> str:
    nb = json.loads(NOTEBOOK.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _notes(course_run) -> dict:
    return {f["name"]: f["note"] for f in course_run.lesson("03").records["figures"]}


def test_lesson_03_splits_and_classes(course_run):
    figs = course_run.figures("03")
    assert figs["num_classes"] == 5
    # the quick profile's 300 generated images, cut 10% / 15% / 75% by TFDS split strings
    assert (figs["num_test"], figs["num_valid"], figs["num_train"]) == (30, 45, 225)
    assert figs["distinct_shapes_in_20"] > 1  # sizes vary, as in the photos


def test_lesson_03_feature_extractors_and_frozen_heads(course_run):
    figs = course_run.figures("03")
    notes = _notes(course_run)
    for model, dim in (("mobilenet", 1280), ("inception", 2048)):
        assert figs[f"{model}_feature_dim"] == dim
        # only Dense(5) trains on top of each frozen extractor
        assert figs[f"{model}_trainable_params"] == dim * 5 + 5
        # the note comes from the model's Dense kernel, not from a typed string
        assert notes[f"{model}_trainable_params"] == f"{dim:,} x 5 weights + 5 biases"


def test_lesson_03_notes_are_not_typed_in():
    """Widths and throughputs are computed from the model and the clock, never typed in."""
    text = "\n".join("".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"])
    assert "1,280 x 5" not in text and "2,048 x 5" not in text
    assert not re.search(r"\d\s*(images|img)\s*(/|per)\s*s", text), "a typed throughput"


def test_lesson_03_both_models_learn_well_above_chance(course_run):
    figs = course_run.figures("03")
    for model in ("mobilenet", "inception"):
        assert figs[f"{model}_val_accuracy"] >= 2 * CHANCE, model
        assert figs[f"{model}_test_accuracy"] >= 2 * CHANCE, model


def test_lesson_03_head_trained_on_features_is_the_models_head(course_run):
    """Fast feature extraction: the head fitted on predicted features, placed in the model, gives
    the same logits on images as the head on the features."""
    figs = course_run.figures("03")
    assert figs["head_in_model_logit_max_diff"] < 1e-4
    units = {f["name"]: f["unit"] for f in course_run.lesson("03").records["figures"]}
    assert units["image_epoch_s"] == units["features_s"] == units["mobilenet_epoch_s"] == "s"
    assert "quick profile" in _notes(course_run)["fast_extraction_speedup"]


def test_lesson_03_the_steps_are_code_in_the_notebook():
    """A source check where the words are the lesson: the calls a learner reads and copies. What they do is
    tested on the run's records above (splits, frozen heads, predictions over several batches)."""
    code = _code()
    # the lesson's split strings and TF Hub handles are literals in the code, the same in both profiles
    assert 'split=["train[:10%]", "train[10%:25%]", "train[25%:]"]' in code
    assert 'mobilenet_url = "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4"' in code
    assert 'inception_url = "https://tfhub.dev/google/tf2-preview/inception_v3/feature_vector/4"' in code
    # fast feature extraction as the field teaches it: predict with the frozen extractor, fit the head on that
    assert "features = extractor.predict(batches" in code
    assert "head_mn.fit(train_features, train_labels" in code
    assert "mobile_model.fit(train_batches, epochs=2" in code  # the lesson's end-to-end fit, timed


def test_lesson_03_predictions_cover_the_test_split_over_several_batches(course_run):
    figs = course_run.figures("03")
    assert figs["test_predictions"] == figs["num_test"]
    # the quick batch is smaller than the test split on purpose
    assert figs["test_batches"] == math.ceil(figs["num_test"] / QUICK_BATCH) == 2
    # predictions and labels paired batch by batch score what Keras's evaluate scores
    assert figs["mobilenet_test_accuracy"] == pytest.approx(figs["mobilenet_test_accuracy_evaluate"], abs=1e-6)
    # the gallery's mistakes and the accuracy come from the same paired predictions and labels
    wrong = round((1 - figs["mobilenet_test_accuracy"]) * figs["num_test"])
    assert figs["mobilenet_misclassified"] == wrong


def test_lesson_03_the_lessons_pairing_holds_on_ordered_batches_and_breaks_on_reshuffled_ones(course_run):
    """Issue 23: the lesson's predict-then-first-batch pairing is right on the unshuffled test batches for a batch
    below the split's size; a dataset that reshuffles on every pass pairs rows with other images' labels; a batch
    larger than the split raises the lesson's IndexError."""
    figs = course_run.figures("03")
    assert QUICK_BATCH < figs["num_test"]
    assert figs["lesson_pairing_wrong_unshuffled"] == 0
    assert figs["lesson_pairing_wrong_reshuffled"] >= QUICK_BATCH // 2
    texts = "\n".join(out.get("text", "") for _, out in _outputs(course_run.executed("03")))
    assert f"batch {figs['num_test'] + 1} > {figs['num_test']} test images: IndexError: index {figs['num_test']} is out" in texts


def test_lesson_03_fine_tuning_unfreezes_the_extractor_at_a_lower_learning_rate(course_run):
    figs = course_run.figures("03")
    assert figs["finetune_trainable_before"] == 1280 * 5 + 5
    assert figs["finetune_trainable_after"] == figs["finetune_trainable_before"] + STAND_IN_PARAMS[1280]
    # Adam's default 1e-3 for the head, 100x lower for fine-tuning
    assert figs["finetune_learning_rate"] == pytest.approx(1e-3 / 100)
    # before fine-tuning, the model on images is the head trained on features
    assert figs["finetune_val_accuracy_before"] == pytest.approx(figs["mobilenet_val_accuracy"], abs=1e-6)
    assert figs["finetune_val_accuracy_after"] >= 2 * CHANCE


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
    assert "source: stand-in" in texts and "300 generated images in" in texts
    assert "-> features (16, 1280)" in texts and "features (225, 2048)" in texts
    assert "test images in 2 batch(es) of [16, 14]" in texts
    assert "logits:" in texts and "predicted id" in texts
    assert "faster)" in texts  # images vs features, computed
    assert "precision" in texts and "recall" in texts  # classification_report
    assert "before fine-tuning" in texts
    assert "retracing" not in texts
    pngs = sum("image/png" in out.get("data", {}) for _, out in _outputs(nb))
    # show_examples, 2 x learning curves, 2 x prediction grid, confusion matrix, mistakes,
    # comparison, fine-tuning curve
    assert pngs >= 9
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "comparison_table()" in last_code.source
    html = "".join(str(out.get("data", {}).get("text/html", "")) for out in last_code.outputs)
    assert "like for like?" in html and "mobilenet_val_accuracy" in html
    assert not [out for _, out in _outputs(nb) if out.get("output_type") == "error"]


def test_lesson_03_has_no_profile_branches():
    """The profile picks data, weights and sizes in profiles.py; the lesson code is the same. The hub.KerasLayer
    lines are a source check on purpose: the words are the lesson (how TF Hub freezes, unfreezes and keeps
    BatchNorm in inference mode)."""
    code = _code()
    branches = [line for line in code.splitlines()
                if re.search(r"\b(if|elif)\b", line) and re.search(r"profile|quick|full", line, re.I)]
    assert not branches, branches
    assert "hub.KerasLayer(mobilenet_url, input_shape=(224, 224, 3))" in code
    assert "feature_extractor_mn.trainable = False" in code
    assert "hub.KerasLayer(mobilenet_url, trainable=True)" in code
    assert "tunable_mn(inputs, training=False)" in code  # BatchNorm kept in inference mode
