"""Lesson 02 executed in the quick profile: head swap on InceptionV3 and a TF Hub layer."""
import math

import pytest

pytestmark = pytest.mark.notebooks

CHANCE = 0.2  # five images, five classes


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
    # five random points, chance is 20%: training mode must memorise them
    assert figs["app_train_accuracy"] >= 4 * CHANCE
    assert figs["app_training_mode_accuracy"] >= 4 * CHANCE
    # the quick stand-in pools noise images into features within ~8% of each other: its heads learn (loss below
    # ln 5, the loss of five equal scores) without always memorising in 15 epochs
    for name in ("hub", "tfsm"):
        assert figs[f"{name}_train_accuracy"] >= CHANCE
        assert figs[f"{name}_final_loss"] < math.log(5)


def test_lesson_02_frozen_hub_features_in_a_keras_3_model(course_run):
    figs = course_run.figures("02")
    # TFSMLayer on hub.resolve(url) computes the very features hub.KerasLayer does, under the same trainable head
    assert figs["tfsm_vs_hub_feature_max_diff"] <= 1e-6
    assert figs["tfsm_trainable_params"] == figs["hub_trainable_params"]
    # trainable, it wraps the module's own variables (gradients reach them), yet fit with Adam refuses them
    assert figs["tfsm_gradients_reaching_module"] > 0
    assert figs["tfsm_finetune_adam_runs"] == 0
    nb = course_run.executed("02")
    joined = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "hub.KerasLayer is a tf_keras layer: True | a Keras 3 layer: False" in joined
    assert "Keras 3 Sequential: Only instances of `keras.Layer` can be added to a Sequential model" in joined
    assert "Keras 3: base_model.layers[0].input -> [] | layers[0].output is base_model.input: True" in joined


def test_lesson_02_logits_to_ids_agree_with_evaluate(course_run):
    figs = course_run.figures("02")
    # argmax of predict's logits, scored by scikit-learn, is what evaluate() reported (both inference mode)
    assert figs["app_predict_accuracy"] == pytest.approx(figs["app_eval_accuracy"], abs=1e-6)
    # the TF Hub model is not below chance (20%) on the five points it was fitted to
    assert figs["hub_predict_accuracy"] >= CHANCE


def test_lesson_02_shows_the_299_rule_is_an_api_check(course_run):
    nb = course_run.executed("02")
    joined = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    # the Dense sees 2048 numbers at the quick profile's 75x75: global pooling, not the size, fixes its width
    assert "at 75x75: mixed10 (None, 1, 1, 2048) -> avg_pool (None, 2048)" in joined
    assert "ValueError: When setting `include_top=True` and loading `imagenet` weights" in joined


def test_lesson_02_ends_with_the_comparison_table(course_run):
    nb = course_run.executed("02")
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "comparison_table()" in last_code.source
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in last_code.outputs)
    assert "like for like?" in html and "hub_final_loss" in html
    assert nb.cells[-1].cell_type == "markdown" and "Takeaways" in nb.cells[-1].source


def test_lesson_02_measures_against_chance_and_shows_inception_preprocessing(course_run):
    figs = course_run.figures("02")
    assert figs["chance_accuracy"] == pytest.approx(CHANCE)
    nb = course_run.executed("02")
    joined = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    # inception_v3.preprocess_input maps 0..255 pixels onto [-1, 1]
    assert "-> preprocess_input -> -1.000..1.000" in joined
    assert "InceptionV3 on preprocessed pixels: (5, 1000)" in joined
    # the literal handle is the one that resolves (to the quick profile's stand-in)
    assert "TF Hub https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5\n  -> local stand-in" in joined
