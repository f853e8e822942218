"""Lesson 04 executed in the quick profile, plus the VGG19 facts it relies on.

Parameter counts are computed here from VGG19's published configuration (3x3
convolutions, channels per block), never read back from Keras; the majority
baseline is computed from the generated labels, not from the notebook's code.
"""
import re

import numpy as np
import pandas as pd
import pytest

# VGG19 ("configuration E"): five blocks of 3x3 convolutions, (output channels, convolutions).
VGG19_BLOCKS = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]


def _conv_params() -> list[int]:
    params, channels_in = [], 3
    for channels_out, count in VGG19_BLOCKS:
        for _ in range(count):
            params.append(3 * 3 * channels_in * channels_out + channels_out)
            channels_in = channels_out
    return params


CONVS = _conv_params()
VGG19_NOTOP = sum(CONVS)  # the 16 convolutions; pooling layers hold no weights
FIRST_8 = sum(CONVS[:5])  # layers[:8]: input, block1 (2 conv + pool), block2 (2 conv + pool), block3_conv1
HEAD = 512 * 2 + 2  # Dense(2) on the 1x1x512 output at 32x32


def _top(flat: int, classes: int) -> int:
    return (flat * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * classes + classes)  # fc1, fc2, predictions


def test_vgg19_first_8_layers_are_blocks_1_2_and_block3_conv1():
    import keras

    from course_utils import models

    base = keras.applications.vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert tuple(base.output.shape) == (None, 1, 1, 512) and base.count_params() == VGG19_NOTOP
    for layer in base.layers[:8]:  # the lesson's loop
        layer.trainable = False
    by_loop = [layer.trainable for layer in base.layers]
    assert [layer.name for layer in base.layers[1:8]] == ["block1_conv1", "block1_conv2", "block1_pool",
                                                          "block2_conv1", "block2_conv2", "block2_pool", "block3_conv1"]
    assert by_loop == [False] * 8 + [True] * (len(base.layers) - 8)
    assert models.parameter_counts(base)["trainable"] == VGG19_NOTOP - FIRST_8


def test_vgg19_with_imagenet_top_refuses_other_sizes_before_downloading():
    import keras

    with pytest.raises(ValueError, match=r"should be \(224, 224, 3\)"):
        keras.applications.vgg19.VGG19(weights="imagenet", include_top=True, input_shape=(160, 160, 3))


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _outputs(nb) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.notebooks
def test_lesson_04_majority_baseline_matches_the_generated_labels(course_run, tmp_path):
    """Regenerate the quick data, split it as validation_split does (first 30% validation), count."""
    from course_utils.data import cactus
    from course_utils.setup import profiles

    quick = profiles.lesson_settings("04", "quick")
    root = cactus._make_stand_in(tmp_path / "cactus", quick.num_images, seed=quick.seed)
    labels = pd.read_csv(root / "train.csv")["has_cactus"].to_numpy()
    split = int(len(labels) * quick.validation_split)
    valid, train = labels[:split], labels[split:]
    majority = np.bincount(train).argmax()
    figs = course_run.figures("04")
    assert figs["num_train"] == len(train)
    assert figs["majority_baseline"] == pytest.approx(np.mean(valid == majority))


@pytest.mark.notebooks
def test_lesson_04_b_beats_the_majority_baseline(course_run):
    figs = course_run.figures("04")
    baseline = figs["majority_baseline"]  # the chance level of accuracy here (0.75 on the 3:1 data)
    # Measured over 8 seeds (batch 8, 2 epochs): B ends 0.15 to 0.25 above the baseline.
    assert figs["b_val_accuracy"] >= baseline + 0.1
    assert figs["b_roc_auc"] >= 0.9  # chance is 0.5; always-cactus scores exactly 0.5
    assert figs["b_recall"] > 0 and figs["b_precision"] > baseline  # not "always cactus" (precision = baseline)


@pytest.mark.notebooks
def test_lesson_04_trainable_and_frozen_counts_follow_from_the_architecture(course_run):
    figs = course_run.figures("04")
    assert figs["a_total_params"] == VGG19_NOTOP + _top(7 * 7 * 512, 1000)
    assert figs["b_frozen_params"] == VGG19_NOTOP
    assert figs["b_trainable_params"] == HEAD
    assert figs["c_frozen_params"] == FIRST_8
    assert figs["c_trainable_params"] == VGG19_NOTOP - FIRST_8 + HEAD
    assert figs["c_head_first_trainable_params"] == VGG19_NOTOP - FIRST_8 + HEAD  # the layers C trains
    assert figs["d_trainable_params"] == VGG19_NOTOP + _top(512, 2)


@pytest.mark.notebooks
def test_lesson_04_b_by_fit_on_images_and_on_predicted_features_is_the_same_model(course_run):
    figs = course_run.figures("04")
    assert figs["b_same_model_weight_gap"] < 1e-6  # one epoch each, same start and batches
    assert figs["b_images_epoch_s"] > 0 and figs["b_features_s"] > 0
    code = _code(course_run.executed("04"))  # the words are the lesson: predict, then fit the head, in sight
    assert "base_b.predict(train_in_order" in code and "head.fit(train_features, train_labels" in code
    assert "model_b.fit(train_in_order" in code  # the lesson's end-to-end fit on images, one timed epoch


@pytest.mark.notebooks
def test_lesson_04_quick_epochs_on_images_stop_after_steps_per_epoch_batches(course_run):
    """fit's own progress lines: C, its control, head-first and D read steps_per_epoch batches an epoch in the
    quick profile; B's one epoch on images, which proves fast feature extraction, still reads every batch."""
    from course_utils.setup import profiles

    quick = profiles.lesson_settings("04", "quick")
    batches = -(-course_run.figures("04")["num_train"] // quick.batch_size)  # the generator's 140 images: 18
    progress = {}
    for cell in course_run.executed("04").cells:
        if cell.cell_type == "code":
            text = "".join(o.get("text", "") for o in cell.outputs)
            progress[cell.source] = re.findall(r"^(\d+)/(\d+) - ", text, re.M)
    on_images = [lines for source, lines in progress.items() if "fit_timed(" in source and "def fit_timed" not in source]
    # one line an epoch: C; the control and head-first (one cell); D
    assert [len(lines) for lines in on_images] == [quick.epochs, 2 * quick.fine_tune_epochs, quick.epochs]
    assert {pair for lines in on_images for pair in lines} == {(str(quick.steps_per_epoch),) * 2}
    (lesson_way,) = [lines for source, lines in progress.items() if "model_b.fit(train_in_order" in source]
    assert lesson_way == [(str(batches), str(batches))]
    # The full profile reads every batch, as the lesson's fit_generator(steps_per_epoch = len(train_generator)):
    # its setting stays None and the call a learner reads falls back to the lesson's own argument.
    assert profiles.lesson_settings("04", "full").steps_per_epoch is None
    assert "steps_per_epoch=cfg.steps_per_epoch or len(train_generator)" in _code(course_run.executed("04"))


@pytest.mark.notebooks
def test_lesson_04_head_first_fine_tuning_moves_pretrained_weights_less_than_c(course_run):
    figs = course_run.figures("04")
    # Layers 8+ really trained after unfreezing (the recompile took effect) ...
    assert figs["c_head_first_weight_drift"] > 0
    # ... but at a 100x lower rate they moved far less than under C's random head at 1e-3.
    assert figs["c_head_first_weight_drift"] < figs["c_weight_drift"] / 10
    assert figs["c_head_first_val_accuracy"] >= figs["majority_baseline"]


@pytest.mark.notebooks
def test_lesson_04_drift_has_a_control_at_the_head_first_learning_rate(course_run):
    """Issue 23: C (1e-3) against head-first (1e-5) mixes the learning rate with the head's start; the control
    starts as C does (random head, layers 8+ unfrozen) at head-first's rate and epochs."""
    figs = course_run.figures("04")
    assert figs["c_control_trainable_params"] == figs["c_trainable_params"] == VGG19_NOTOP - FIRST_8 + HEAD
    assert 0 < figs["c_control_weight_drift"] < figs["c_weight_drift"] / 10  # the learning rate's share
    notes = {f["name"]: f["note"] for f in course_run.lesson("04").records["figures"]}
    assert "under a random head (C's start)" in notes["c_control_weight_drift"]
    quick = "Adam 1e-05, 1 epoch(s)"  # the quick profile's fine_tune_learning_rate and fine_tune_epochs
    assert quick in notes["c_control_weight_drift"] and quick in notes["c_head_first_weight_drift"]
    outputs = _outputs(course_run.executed("04"))
    assert "at equal learning rates the random head moved them" in outputs


@pytest.mark.notebooks
def test_lesson_04_runs_b_with_vgg19s_own_preprocessing_beside_the_lessons_rescale(course_run):
    figs = course_run.figures("04")
    assert 0 <= figs["b_preprocess_input_val_accuracy"] <= 1 and 0 <= figs["b_preprocess_input_roc_auc"] <= 1
    code = _code(course_run.executed("04"))  # the call a learner must see beside the lesson's rescale
    assert "ImageDataGenerator(preprocessing_function=vgg19.preprocess_input" in code


@pytest.mark.notebooks
def test_lesson_04_runs_the_lessons_generator_under_keras_3_beside_image_dataset_from_directory(course_run):
    """Issue 25: the seed's ImageDataGenerator where Keras 3 keeps it, feeding Keras 3's fit, and the Keras 3 way
    (image_dataset_from_directory + Rescaling) beside it, with the same counts, batch shapes and pixel range."""
    import keras

    nb = course_run.executed("04")
    code, outputs = _code(nb), _outputs(nb)
    assert "ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator" in code
    assert "keras.utils.image_dataset_from_directory(" in code and "keras.layers.Rescaling(1 / 255)" in code
    assert "ImageDataGenerator lives in keras.src.legacy.preprocessing.image" in outputs
    assert "warnings while building the generators: 0 []" in outputs
    assert "a PyDataset, which fit takes: True" in outputs
    with pytest.raises(ImportError):
        from keras.preprocessing.image import ImageDataGenerator  # noqa: F401 - Keras 3 exports it no more
    assert keras.__version__.startswith("3.")
    figs = course_run.figures("04")
    table = next(o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code"
                 and "image_dataset_from_directory" in c.source for o in c.outputs if "data" in o)
    rows = {parts[0]: parts[1:] for parts in (re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[1:])}
    assert rows["training images"] == [str(figs["num_train"])] * 2
    assert rows["validation images"][0] == rows["validation images"][1]
    assert rows["a batch of images"][0] == rows["a batch of images"][1]
    assert rows["pixel range"] == ["0.00..1.00", "0.00..1.00"]


@pytest.mark.notebooks
def test_lesson_04_scores_every_model_with_scikit_learn(course_run):
    """The figures are recorded; the scikit-learn calls are a source check on purpose: the words are the lesson."""
    figs = course_run.figures("04")
    for part in ("b", "c", "c_head_first", "d"):
        for metric in ("val_accuracy", "precision", "recall", "roc_auc"):
            assert f"{part}_{metric}" in figs, f"{part}_{metric}"
    code = _code(course_run.executed("04"))
    for call in ("roc_auc_score(", "precision_score(", "recall_score(", "accuracy_score(",
                 "ConfusionMatrixDisplay.from_predictions(", 'DummyClassifier(strategy="most_frequent")'):
        assert call in code, call


@pytest.mark.notebooks
def test_lesson_04_reads_the_csv_and_builds_the_generators_in_sight(course_run):
    """A source check on purpose: the words are the lesson (the CSV, the generators and the freezing a learner
    redoes); what they produce is checked on the run's outputs and records."""
    code = _code(course_run.executed("04"))
    for step in ('pd.read_csv(root / "train.csv")', 'train["has_cactus"].apply(str)',
                 "ImageDataGenerator(rescale=1 / 255, validation_split=cfg.validation_split)",
                 "flow_from_dataframe(", "target_size=(32, 32)", 'class_mode="categorical"',
                 "for layer in model.layers[:8]:", "model.compile(", "model.fit(train_generator"):
        assert step in code, step


@pytest.mark.notebooks
def test_lesson_04_part_a_runs_offline_with_placeholder_names(course_run):
    figs = course_run.figures("04")
    assert str(figs["a_top1_chelsea"]).startswith("placeholder_")
    outputs = _outputs(course_run.executed("04"))
    assert "should be (224, 224, 3)" in outputs  # the refused input shape, shown
    assert "generated placeholders" in outputs and "vgg16 and vgg19 preprocessing identical: True" in outputs
    assert "has_cactus must be 0 or 1" in outputs and "images listed in train.csv are missing" in outputs
    assert "block5_pool     False" in outputs  # the layer table of Part B
    assert "majority baseline accuracy" in outputs and "(quick profile)" in outputs


@pytest.mark.notebooks
def test_lesson_04_shows_its_plots_and_explains_the_calls_it_makes(course_run):
    """The API names in the markdown are checked on purpose: the words are the lesson (each argument of
    applications.VGG19 and the Keras 3 replacements, by name); the layout is test_notebook_hygiene's."""
    run = course_run.lesson("04")
    assert run.status == "ok", run.error
    assert run.records["plots"] == ["lesson_04_key_plot.png"]
    nb = course_run.executed("04")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # photos, cactus samples, B, C, head-first, D, side by side, confusion matrices
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    text = "\n".join(markdown)
    for phrase in ("`weights`", "`include_top`", "`input_shape`", "`classes`", "`classifier_activation`",
                   "preprocess_input", "fit_generator", "flow_from_dataframe", "model.layers[:8]", "ROC AUC"):
        assert phrase in text, phrase
    assert "course_utils.comparison_table()" in _code(nb)

