"""Lesson 06 notebook, executed once in the quick profile: what it recorded must hold.

The quick profile's data are generated (200 training images of which 20
held out, 100 test images, 10 per class) and its VGG16 base is a locally
built stand-in (random zero-mean filters, LSUV-scaled; course_utils.models.standins),
so the 32x32 run has signal: its test accuracy, with the output layer alone
and after fine-tuning, is checked against chance (10%, ten balanced classes).
The crop and 224x224 runs see 32 and 8 images for one or two epochs: their
accuracies prove only that the code runs, so the tests check what is exact
there instead (shapes, counts, byte sizes, and that the features give the
same logits as the images).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.notebooks

CHANCE = 0.1  # ten balanced classes
FC1 = 25088 * 4096 + 4096
FC2 = 4096 * 4096 + 4096
OUTPUT = 4096 * 10 + 10
TRAIN, VALID, TEST = 180, 20, 100  # the quick profile's 200 generated training images, 10% held out
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_vgg16_cifar10.ipynb"


@pytest.fixture(scope="module")
def figures(course_run):
    return course_run.figures("06")


@pytest.fixture(scope="module")
def outputs(course_run):
    nb = course_run.executed("06")
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def code():
    nb = json.loads(NOTEBOOK.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_runs_in_the_quick_profile_and_records_its_plot(course_run, figures):
    run = course_run.lesson("06")
    assert run.records["profile"] == "quick"
    assert "lesson_06_key_plot.png" in run.records["plots"]
    nb = course_run.executed("06")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_data_are_the_stand_in_and_the_mean_gap_is_the_generated_datas(figures, outputs):
    from course_utils.data import cifar

    assert f"train ({TRAIN}, 32, 32, 3), validation ({VALID}, 32, 32, 3), test ({TEST}, 32, 32, 3)" in outputs
    (x_train, _), _ = cifar.load("stand-in", train_size=TRAIN + VALID, test_size=TEST, seed=0)
    mean, _ = cifar.channel_stats(x_train[:TRAIN])
    expected = float(np.max(np.abs(mean - np.asarray(cifar.IMAGENET_MEAN))))
    assert figures["dataset_vs_imagenet_mean_gap"] == pytest.approx(expected, rel=1e-9)


def test_bridge_gives_7x7x512_for_both_sizes(figures):
    assert figures["feature_map_small"] == [1, 1, 512]
    assert figures["feature_map_large"] == [7, 7, 512]
    assert figures["bridge_output_small"] == [7, 7, 512]
    assert figures["bridge_output_large"] == [7, 7, 512]


def test_fc1_fc2_are_the_pretrained_ones(figures):
    assert figures["fc_copy_max_abs_diff"] == 0.0


def test_lecture_bug_trains_only_the_output_and_fine_tuning_trains_fc1_fc2(figures):
    assert figures["trainable_params_with_lecture_bug"] == OUTPUT
    assert figures["trainable_params_base"] == 0
    assert figures["trainable_params_fc1"] == FC1
    assert figures["trainable_params_fc2"] == FC2
    assert figures["trainable_params_output"] == OUTPUT


def test_fine_tuning_moved_fc1_fc2_and_not_the_frozen_base(figures):
    assert figures["base_weight_change"] == 0.0
    assert figures["fc1_weight_change"] > 0.0
    assert figures["fc2_weight_change"] > 0.0


def test_the_32x32_run_learns_the_generated_classes_head_first_and_after_fine_tuning(figures):
    # the output layer alone, 10 epochs at 0.01 on the stand-in's fc2 features: 100% on 3 seeds of data;
    # then 1 epoch with fc1/fc2 at 0.001: 98-100%
    assert figures["head_test_accuracy"] >= 3 * CHANCE
    assert figures["small_test_accuracy"] >= 3 * CHANCE
    assert 0.0 <= figures["val_accuracy_before_fine_tuning"] <= 1.0
    assert 0.0 <= figures["val_accuracy_after_fine_tuning"] <= 1.0


def test_per_class_accuracy_comes_from_the_confusion_matrix(figures):
    from course_utils.data import cifar

    per_class = figures["small_per_class_accuracy"]
    assert list(per_class) == list(cifar.CLASS_NAMES)
    assert all(0.0 <= value <= 1.0 for value in per_class.values())
    # ten test images per class: the mean of the per-class accuracies is the accuracy
    assert np.mean(list(per_class.values())) == pytest.approx(figures["small_test_accuracy"], abs=1e-3)


def test_features_train_the_same_model_as_images(figures):
    assert figures["train_feature_rows"] == TRAIN
    # small_model on images and the head (the same output layer) on fc2's features: the same logits
    assert figures["features_logit_rel_diff"] < 1e-5


def test_224x224_features_come_from_the_cache_as_float32_and_give_the_same_logits(figures, outputs):
    assert figures["large_feature_bytes"] == (8 + 8) * 4096 * 4  # 8 train + 8 validation images, fc2's 4,096 floats
    assert figures["large_features_logit_rel_diff"] < 1e-5
    # a fresh data folder: each of the three splits computed once through features.cached_predict
    assert outputs.count("feature cache: computed 8 feature rows") == 3


def test_times_are_recorded_and_the_ratio_is_theirs(figures):
    for name in ("feature_pass_s", "head_epoch_s", "fine_tune_epoch_s", "crop_epoch_s", "frozen_epoch_s",
                 "full_epoch_s"):
        assert figures[name] > 0.0, name  # timings: recorded, not compared (the machine is shared)
    assert math.isclose(figures["frozen_epoch_s"] / figures["full_epoch_s"],
                        figures["frozen_vs_full_epoch_ratio"], rel_tol=1e-6)


def test_the_lectures_minutes_give_the_ratio_the_notebook_prints(outputs):
    assert "(the lecture: 38 / 90 min = 0.42)" in outputs  # computed from the quoted minutes


def test_the_notebook_shows_its_evaluation_and_the_comparison(course_run, outputs):
    nb = course_run.executed("06")
    assert "profile quick: test accuracy" in outputs and "(chance: 10%)" in outputs
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))
    assert images >= 5  # samples, pool matrices, confusion matrix, misclassified gallery, learning curves
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last_code.source.strip() == "course_utils.comparison_table()"
    html = "".join(o.get("data", {}).get("text/html", "") for o in last_code.outputs)
    assert "head_test_accuracy" in html and "crop_test_accuracy" in html and "quick profile" in html
    assert "it's only 77%" in html and "Test accuracy 77.99%" in html  # quoted and named, in references.py


def test_the_lessons_steps_are_code_in_the_notebook(code):
    """A source check where the words are the lesson: the calls a learner reads and copies, in the lecture's
    order. What they do is tested on the run's records above."""
    # cifar.load returns what keras.datasets.cifar10.load_data() returns (tests/test_cifar.py)
    for step in ("= cifar.load(\n    cfg.source, local_copy=CIFAR10_ARCHIVE",
                 "vgg16.preprocess_input", 'applications.VGG16(include_top=False, weights="imagenet"',
                 'applications.VGG16(include_top=True, weights="imagenet")', "layer.trainable = False",
                 "keras.optimizers.SGD(learning_rate=learning_rate, momentum=cfg.momentum)",
                 "keras.callbacks.ReduceLROnPlateau(",
                 'train_only(small_model, ["output"])',  # head first
                 "train_features = extractor.predict(", "head.fit(train_features, y_train",
                 'train_only(small_model, ["fc1", "fc2", "output"])',  # then fine-tuning, recompiled
                 "compile_for_training(small_model, cfg.fine_tune_learning_rate)",
                 "small_model.fit(images(x_train, y_train, shuffle=True)",  # the lecture's loop on images
                 "crop_model.fit(crops(x_crop, y_crop, training=True)", "tf.image.random_crop(",
                 "features.cached_predict(", "large_head.fit(", "ConfusionMatrixDisplay.from_predictions(",
                 "confusion_matrix(", "plots.plot_misclassified(", "course_utils.comparison_table()"):
        assert step in code, step
    branches = [line for line in code.splitlines()
                if re.search(r"\b(if|elif)\b", line) and re.search(r"profile|quick|full", line, re.I)]
    assert not branches, branches
