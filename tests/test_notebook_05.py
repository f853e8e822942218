"""Lesson 05 executed in the quick profile, plus the mixed7 cut it relies on."""
import json
from pathlib import Path

import keras
import pytest

from course_utils.data import catsdogs
from course_utils.setup.profiles import lesson_settings

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_inception_mixed7_dropout.ipynb"
HEAD_PARAMS = (7 * 7 * 768 * 1024 + 1024) + (1024 + 1)


def inception_17x17_block_kernels(c7: int, channels_in: int = 768) -> int:
    """Convolution weights of one 17x17 Inception-v3 block (mixed4-mixed7 in Keras; no biases before BatchNorm).

    Branches: 1x1 to 192; 1x1 to c7, 1x7 c7, 7x1 to 192; 1x1 to c7, 7x1, 1x7, 7x1 c7, 1x7 to 192;
    pooling then 1x1 to 192. mixed6 has c7 = 160, mixed7 c7 = 192.
    """
    one_by_one = channels_in * 192
    branch_7x7 = channels_in * c7 + 7 * c7 * c7 + 7 * c7 * 192
    branch_7x7dbl = channels_in * c7 + 3 * 7 * c7 * c7 + 7 * c7 * 192
    pool = channels_in * 192
    return one_by_one + branch_7x7 + branch_7x7dbl + pool


MIXED6_AND_MIXED7 = inception_17x17_block_kernels(160) + inception_17x17_block_kernels(192)
QUICK = lesson_settings("05", "quick")
FULL = lesson_settings("05", "full")
VALIDATION_COUNTS = catsdogs._generated_counts(QUICK.num_images)["validation"]


def test_cutting_at_mixed7_gives_a_7x7x768_grid_at_150_pixels():

    backbone = keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
    cut = keras.Model(backbone.input, backbone.get_layer("mixed7").output)  # the notebook's cut
    assert tuple(cut.output.shape) == (None, 7, 7, 768)
    assert tuple(backbone.output.shape) == (None, 3, 3, 2048)  # the last layer: mixed10
    assert cut.layers[-1].name == "mixed7" and len(cut.layers) < len(backbone.layers)
    with pytest.raises(ValueError, match="No such layer: mixed_7"):
        backbone.get_layer("mixed_7")


def test_fine_tuning_settings_lower_the_learning_rate_10_to_100_fold():
    for cfg in (QUICK, FULL):
        assert 10 <= cfg.learning_rate / cfg.fine_tune_learning_rate <= 100
        assert cfg.fine_tune_after == "mixed5" and cfg.cut_layer == "mixed7"
    assert FULL.fine_tune_epochs >= 10 and QUICK.fine_tune_epochs == 1


def test_the_lessons_steps_are_code_in_the_notebook():
    """A source check where the words are the lesson: the calls a learner reads and copies. What they do is
    tested on the run's records (the cut, the frozen base, the same start with and without dropout)."""
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for step in ("image_dataset_from_directory(", "weights=None", ".load_weights(", "layer.trainable = False",
                 '"inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"',  # the lesson's file, by name
                 "keras.applications.inception_v3.preprocess_input", "LogisticRegression(",
                 ".evaluate(train_plain", ".evaluate(validation_plain",
                 ".get_layer(cfg.cut_layer)", "layers.Dense(1024", "layers.Dropout(", "RMSprop(learning_rate=",
                 ".fit(", "initial_epoch=", "phase_boundary=", ".predict(", "ConfusionMatrixDisplay",
                 "plots.plot_misclassified(", "np.maximum(probabilities, 1 - probabilities)",
                 "course_utils.comparison_table()"):
        assert step in code, step


def test_dropout_lowers_the_training_accuracy_fit_reports_but_not_what_evaluate_measures():
    """Why section 10 compares evaluate's accuracies: with the weights held still (learning rate 0), fit's
    training accuracy on the same images is lower with dropout on, by dropout alone."""
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 16)).astype("float32")
    y = (x[:, :8].sum(axis=1) > 0).astype("float32")
    inputs = keras.Input(shape=(16,))
    hidden = keras.layers.Dense(64, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.7)(hidden)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=64, verbose=0)
    model.optimizer.learning_rate.assign(0.0)  # fit now measures without changing a weight
    before = [w.numpy() for w in model.weights]
    fit_accuracy = model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0).history["accuracy"][0]
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))
    _, evaluate_accuracy = model.evaluate(x, y, batch_size=64, verbose=0)
    assert evaluate_accuracy > 0.9  # learnable data, learnt
    assert fit_accuracy < evaluate_accuracy - 0.01  # the same weights and images: only dropout differs


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
def test_lesson_05_measures_both_runs_alike_and_both_preprocessings_once(course_run):
    figs = course_run.figures("05")
    train_total = sum(catsdogs._generated_counts(QUICK.num_images)["train"].values())
    validation_total = sum(VALIDATION_COUNTS.values())
    for run in ("without_dropout", "with_dropout"):
        # evaluate's accuracy on every training image, less the validation accuracy: whole numbers of images
        gap = figs[f"gap_{run}"] * train_total * validation_total
        assert gap == pytest.approx(round(gap), abs=1e-3), run
        assert -1 <= figs[f"fit_gap_{run}"] <= 1 and figs[f"val_loss_rise_{run}"] >= 0
    for name in ("probe_accuracy_lesson_rescale", "probe_accuracy_inception_preprocessing"):
        correct = figs[name] * validation_total
        assert correct == pytest.approx(round(correct), abs=1e-6) and 0 <= figs[name] <= 1, name


@pytest.mark.notebooks
def test_lesson_05_runs_start_from_the_same_weights_and_the_same_batches(course_run):
    figs = course_run.figures("05")
    assert figs["same_starting_weights"] is True
    assert figs["same_first_augmented_batch"] is True


@pytest.mark.notebooks
def test_lesson_05_validation_covers_every_validation_image(course_run):
    figs = course_run.figures("05")
    total = sum(VALIDATION_COUNTS.values())
    for name in ("val_accuracy_without_dropout", "val_accuracy_with_dropout", "val_accuracy_before_fine_tuning",
                 "val_accuracy_after_fine_tuning"):
        correct = figs[name] * total
        assert correct == pytest.approx(round(correct), abs=1e-4), f"{name}: not a whole number of {total} images"
    # the fine-tuning phase starts where the dropout run ended
    assert figs["val_accuracy_before_fine_tuning"] == pytest.approx(figs["val_accuracy_with_dropout"], abs=1e-7)


@pytest.mark.notebooks
def test_lesson_05_fine_tunes_mixed6_and_mixed7_with_batchnorm_frozen(course_run):
    figs = course_run.figures("05")
    assert figs["trainable_params_fine_tuning"] == HEAD_PARAMS + MIXED6_AND_MIXED7 == 42_362_881
    assert figs["fine_tune_learning_rate"] == pytest.approx(QUICK.fine_tune_learning_rate, rel=1e-6)
    assert figs["batchnorm_statistics_change"] == 0.0  # inference mode: moving statistics untouched


@pytest.mark.notebooks
def test_lesson_05_confusion_matrix_agrees_with_keras_accuracy(course_run):
    figs = course_run.figures("05")
    tn, fp, fn, tp = figs["confusion_matrix"]  # recorded flat, in scikit-learn's ravel() order
    matrix = [[tn, fp], [fn, tp]]
    assert [sum(row) for row in matrix] == [VALIDATION_COUNTS[name] for name in catsdogs.CLASS_NAMES]
    total = sum(map(sum, matrix))
    right = matrix[0][0] + matrix[1][1]
    assert right / total == pytest.approx(figs["val_accuracy_after_fine_tuning"], abs=1e-6)
    assert figs["misclassified"] == total - right


@pytest.mark.notebooks
def test_lesson_05_full_schedule_estimate_follows_from_the_measured_epochs(course_run):
    figs = course_run.figures("05")
    scale = (FULL.steps_per_epoch + FULL.validation_steps) / (QUICK.steps_per_epoch + QUICK.validation_steps)
    expected_s = figs["epoch_s"] * scale * FULL.epochs * 2  # two runs: without and with dropout
    assert figs["full_schedule_estimate_h"] == pytest.approx(expected_s / 3600, rel=1e-9)


@pytest.mark.notebooks
def test_lesson_05_notebook_shows_its_plots_and_teaches_the_api_changes(course_run):
    """The API names in the markdown are checked on purpose: the words are the lesson (what Keras 3 renamed or
    removed from the original's calls); the layout is test_notebook_hygiene's."""
    run = course_run.lesson("05")
    assert run.status == "ok", run.error
    assert run.records["plots"] == ["lesson_05_key_plot.png"]
    nb = course_run.executed("05")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 5  # augmentation grid, dropout curves, fine-tuning curve, confusion matrix, gallery
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for phrase in ("`lr=`", "learning_rate=", "fit_generator", "flow_from_directory", "shear_range=0.2"):
        assert phrase in markdown, phrase
    outputs = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "profile quick" in outputs and "estimate for the full schedule" in outputs
    assert "the lesson's lr argument: Argument(s) not recognized: {'lr': 0.0001}" in outputs  # Keras 3 refuses it
    assert "validation accuracy (quick profile)" in outputs
    assert "linear probe on frozen mixed7 features (quick profile)" in outputs
    assert "profile quick, after 3 epochs, both runs measured alike:" in outputs
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    table = last_code.outputs[0]["data"]["text/html"]
    assert "like for like?" in table and "quick profile" in table and "gap_with_dropout" in table
