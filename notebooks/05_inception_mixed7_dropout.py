# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 05 — InceptionV3 cut at `mixed7`, a new dense head, augmentation and dropout
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/05_inception_mixed7_dropout.ipynb)
#
# **What you will learn.** Pretrained weights are a file. You build InceptionV3
# with no weights, load the ImageNet snapshot with `load_weights`, freeze it
# and cut it at an inner layer, `mixed7`. On top goes your own classifier
# for cats versus dogs, trained on augmented images (Keras preprocessing
# layers replace the lesson's `ImageDataGenerator`), twice: without and with
# `Dropout(0.2)`, from the same start, measured alike. You test the
# lesson's pixel scale, fine-tune the top of the base, read a confusion
# matrix and the model's mistakes, and set our figures beside the lesson's.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE`, else `"full"`: the real weights
# and photos, the lesson's schedule. `"quick"` runs the same code offline on
# generated images and random-init weights. `WEIGHTS_FILE`
# and `CATS_DOGS` point at copies you already have (checked like a download).

# %% tags=["parameters"]
PROFILE = None           # "full" (real data and weights) or "quick" (offline, about a minute)
EPOCHS = None            # epochs per training run (full: 100, the lesson's)
STEPS_PER_EPOCH = None   # training batches per epoch (full: 100, the lesson's, i.e. 2,000 images)
VALIDATION_STEPS = None  # validation batches per epoch (full: 50, the lesson's, i.e. 1,000 images)
FINE_TUNE_EPOCHS = None  # epochs of fine-tuning after the dropout run (full: 20)
WEIGHTS_FILE = None      # path to your own copy of the no-top weights .h5 (None: download)
CATS_DOGS = None         # path to your cats_and_dogs_filtered .zip or folder (None: download)

# %% [markdown]
# On **Colab**, the next cell installs `course_utils` (it does nothing anywhere else).

# %%
# Google Colab only: install course_utils and the tf-keras that matches Colab's TensorFlow
# (the TF Hub lessons need it). Anywhere else this cell does nothing.
import sys

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    import os
    import subprocess
    from importlib.metadata import version

    tf_version = version("tensorflow")
    tf_minor = ".".join(tf_version.split(".")[:2])
    course = os.environ.get("COURSE_UTILS_PIP_TARGET",  # where course_utils comes from
                            "git+https://github.com/transfer-learning-course/tf-keras-transfer-learning.git@v0.2.0")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", course,
                    f"tf-keras=={tf_minor}.*", f"tensorflow=={tf_version}"], check=True)

# %% [markdown]
# ## Setup
# Keras 3 (`import keras`; since TensorFlow 2.16 the lesson's
# `tensorflow.keras` is Keras 3 too). `start_lesson` picks the profile,
# seeds and prints what runs.

# %%
import hashlib
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import keras
import tensorflow as tf
from keras import Model, layers
from keras.applications.inception_v3 import InceptionV3
from keras.optimizers import RMSprop
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, classification_report
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import course_utils
from course_utils.models import augment, weights
from course_utils.data import catsdogs, downloads
from course_utils import models
from course_utils.show import plots
from course_utils.setup.env import describe_device
from course_utils.setup.profiles import lesson_settings
from course_utils.show.timing import EpochTimer

cfg = course_utils.start_lesson(
    "05", PROFILE, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, validation_steps=VALIDATION_STEPS,
    fine_tune_epochs=FINE_TUNE_EPOCHS, weights_file=WEIGHTS_FILE, cats_dogs=CATS_DOGS,
)
pd.set_option("display.max_colwidth", 120)

# %% [markdown]
# ## 1. The weights: a snapshot in a file
# The lesson downloads `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`:
# every number of the trained network, without the architecture or the
# ImageNet classifier ("notop"). We check the MD5 and size Keras publishes.
# In the quick profile the call returns a random-init stand-in: it proves
# the code, not the method.

# %%
pd.DataFrame(downloads.describe([downloads.INCEPTION_V3_NOTOP, catsdogs.ARCHIVE]))

# %%
# The lesson: local_weights_file = '/tmp/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5' after a download.
local_weights_file = weights.pretrained("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", cfg.source,
                                        local_copy=cfg.weights_file)  # downloaded once, checked; quick: the stand-in
print(f"weights file: {local_weights_file} ({os.path.getsize(local_weights_file) / 1e6:.1f} MB)")

# %% [markdown]
# ## 2. The architecture, then the snapshot
# `weights=None` builds the InceptionV3 architecture at the lesson's 150x150
# input, without the top, every parameter random; `load_weights` pours the
# file into it. (`weights="imagenet"` does both at once; the lesson splits
# them to show that weights are a separate file.)

# %%
pre_trained_model = InceptionV3(input_shape=(cfg.image_size, cfg.image_size, 3), include_top=False, weights=None)
pre_trained_model.load_weights(local_weights_file)
print(f"{pre_trained_model.name}: {len(pre_trained_model.layers)} layers, "
      f"{pre_trained_model.count_params():,} parameters, output {pre_trained_model.output.shape}")

# %% [markdown]
# ## 3. Freeze every layer
# The lesson's loop (mind the loop variable: `layers.trainable = False`
# freezes no layer). A frozen `BatchNormalization` layer also runs in
# inference mode, with the file's statistics. The counts of what `fit`
# updates prove that nothing in the base trains.

# %%
for layer in pre_trained_model.layers:
    layer.trainable = False

backbone_counts = models.parameter_counts(pre_trained_model)
print(models.summarize_trainable(pre_trained_model))
assert backbone_counts["trainable"] == 0

# %% [markdown]
# ## 4. Where to cut: `mixed7`
# The last layer, `mixed10`, has brought the input down to a 3x3 grid. The
# lesson moves up to `mixed7`, a 7x7 grid: "something with a little more
# information", as the lesson puts it.

# %%
last_layer = pre_trained_model.get_layer(cfg.cut_layer)
last_output = last_layer.output
print("mixed7 output :", last_output.shape)
print("last layer    :", pre_trained_model.layers[-1].name, pre_trained_model.output.shape)
mixed7_shape = [int(d) for d in last_output.shape[1:]]
course_utils.record("mixed7_shape", mixed7_shape, note=f"at {cfg.image_size}x{cfg.image_size} input")

# %% [markdown]
# ## 5. A new head, and the same start for every run
# Flatten the 7x7x768 block, `Dense(1024)` with ReLU, optionally `Dropout`,
# one sigmoid unit for "dog" (cats are 0). `build_classifier` re-seeds first,
# so every run's head starts from the same weights (an unseeded Keras 3
# `Dropout` would draw from that stream). `lr=` is now
# `learning_rate=` (Keras 3 refuses `lr=`); `"acc"` is `"accuracy"`.

# %%
def build_classifier(dropout_rate=None):
    keras.utils.set_random_seed(cfg.seed)  # the same starting weights for every run
    x = layers.Flatten()(last_output)
    x = layers.Dense(1024, activation="relu")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, seed=cfg.seed)(x)  # seeded: see below
    x = layers.Dense(1, activation="sigmoid")(x)
    classifier = Model(pre_trained_model.input, x)
    classifier.compile(optimizer=RMSprop(learning_rate=cfg.learning_rate), loss="binary_crossentropy",
                       metrics=["accuracy"])
    return classifier


def fingerprint(arrays):
    """A short SHA-256 of the exact bytes: equal fingerprints, equal numbers."""
    return hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in arrays)).hexdigest()[:16]


try:
    RMSprop(lr=0.0001)  # the lesson's spelling
except ValueError as error:
    print("the lesson's lr argument:", error)

model = build_classifier()
start_without = fingerprint(model.trainable_weights)  # before any training

flat_inputs = int(np.prod(mixed7_shape))
head_params = (flat_inputs * 1024 + 1024) + (1024 + 1)
counts = models.parameter_counts(model)
print(models.summarize_trainable(model))
print(f"Dense(1024) on {flat_inputs:,} flattened inputs: {flat_inputs * 1024 + 1024:,} of the "
      f"{head_params:,} trainable parameters")
assert counts["trainable"] == head_params, "only the new head may train"
course_utils.record("trainable_params", counts["trainable"], note="the new head only")
course_utils.record("backbone_trainable_params", backbone_counts["trainable"])
course_utils.record("frozen_layers", sum(not layer.trainable for layer in pre_trained_model.layers))
models.trainable_report(model).tail(4)

# %% [markdown]
# ## 6. The data: cats_and_dogs_filtered
# Training and validation photos, one folder per class (quick: generated
# images in the same layout). The lesson reads them with
# `ImageDataGenerator.flow_from_directory`; Keras 3's way is
# `keras.utils.image_dataset_from_directory`: batches of float32 images in
# 0..255 and 0/1 labels (`label_mode="binary"`, the lesson's `class_mode`).

# %%
base_dir = catsdogs.load(cfg.source, local_copy=cfg.cats_dogs, seed=cfg.seed, num_images=cfg.num_images,
                         image_size=cfg.image_size)
train_dir = base_dir / "train"
validation_dir = base_dir / "validation"
image_size = (cfg.image_size, cfg.image_size)
raw_validation = keras.utils.image_dataset_from_directory(
    validation_dir, label_mode="binary", class_names=list(catsdogs.CLASS_NAMES), image_size=image_size,
    batch_size=cfg.batch_size, shuffle=False,
)
pd.DataFrame(catsdogs.check_layout(base_dir)).T

# %% [markdown]
# ## 7. Augmentation, the current way
# The lesson augments training images with
# `ImageDataGenerator(rescale=1./255., rotation_range=40, width_shift_range=0.2,
# height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)`
# and only rescales validation images. In Keras 3 each random change is a
# preprocessing layer. The table maps every
# argument onto its layer in our stack (rotation and shear are in degrees:
# `shear_range=0.2` barely moves a pixel).

# %%
def make_augmentation():
    return keras.Sequential(
        [
            layers.Rescaling(1 / 255),  # the lesson's rescale=1./255 (0..1), kept to reproduce its runs; see 7b
            layers.RandomRotation(40 / 360, fill_mode="nearest"),  # 40 degrees as a fraction of a turn
            layers.RandomTranslation(height_factor=0.2, width_factor=0.2, fill_mode="nearest"),
            augment.RandomShear(0.2, fill_mode="nearest"),  # degrees, like shear_range
            layers.RandomZoom(height_factor=(-0.2, 0.2), width_factor=(-0.2, 0.2), fill_mode="nearest"),
            layers.RandomFlip("horizontal"),
        ],
        name="augmentation",
    )


augment.mapping_table(make_augmentation())  # each argument beside the layer above that does it now

# %% [markdown]
# The pipeline, written out. `augmented_training_data` re-seeds, then builds
# a *new* dataset and new random layers: a random layer keeps its generator's
# state between calls and a shuffled dataset reshuffles on every pass, so a
# reused pipeline would feed the second run other batches. Random layers act
# under `training=True`: `fit` passes it, `predict` passes `False`, a bare
# call augments. Validation images are only rescaled. Two more,
# neither augmented nor repeated, serve `evaluate` and 7b.

# %%
AUTOTUNE = tf.data.AUTOTUNE


def augmented_training_data():
    keras.utils.set_random_seed(cfg.seed)  # the same augmentation stream for every run
    raw_train = keras.utils.image_dataset_from_directory(
        train_dir, label_mode="binary", class_names=list(catsdogs.CLASS_NAMES), image_size=image_size,
        batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
    )
    augmentation = make_augmentation()
    return (raw_train.map(lambda images, labels: (augmentation(images, training=True), labels),
                          num_parallel_calls=AUTOTUNE)
            .repeat().prefetch(AUTOTUNE))


rescale = layers.Rescaling(1 / 255)  # the validation "generator": the lesson's rescaling only (0..1)
validation_ds = (raw_validation.map(lambda images, labels: (rescale(images), labels), num_parallel_calls=AUTOTUNE)
                 .repeat().prefetch(AUTOTUNE))

raw_train_plain = keras.utils.image_dataset_from_directory(  # every training image once, in order, as it is
    train_dir, label_mode="binary", class_names=list(catsdogs.CLASS_NAMES), image_size=image_size,
    batch_size=cfg.batch_size, shuffle=False,
)
train_plain = raw_train_plain.map(lambda images, labels: (rescale(images), labels))  # rescaled, not augmented
validation_plain = raw_validation.map(lambda images, labels: (rescale(images), labels))

# %% [markdown]
# The check: one raw batch through the random layers and through the
# rescaling, and the validation pipeline's first batch against it.

# %%
raw_images, raw_labels = next(iter(raw_validation))
demo_augmentation = make_augmentation()  # a stack for looking, not the one a run trains with
augmented = demo_augmentation(raw_images, training=True)
rescaled = rescale(raw_images)
first_validation_batch, _ = next(iter(validation_ds))

train_change = float(tf.reduce_mean(tf.abs(augmented - rescaled)))
validation_change = float(tf.reduce_max(tf.abs(first_validation_batch - rescaled)))
print(f"training map   : mean pixel change {train_change:.3f} (augmented; {cfg.profile} profile images)")
print(f"validation data: max pixel change {validation_change:.1e} (only rescaled)")
course_utils.record("train_pixel_change", train_change, note="mean |augmented - rescaled| on one batch")
course_utils.record("validation_pixel_change", validation_change, note="max |validation pipeline - rescaled|")

# %% [markdown]
# One training image and five augmented versions: the layers (top row) and
# the lesson's `ImageDataGenerator` (bottom row): `tf.keras` keeps a legacy
# copy; `keras` has none.

# %%
train_paths, _ = catsdogs.list_images(base_dir, "train")
one_image = keras.utils.img_to_array(keras.utils.load_img(train_paths[0], target_size=image_size))
versions = demo_augmentation(tf.repeat(one_image[None], 5, axis=0), training=True).numpy()
LESSON_AUGMENTATION = dict(rescale=1 / 255, rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                           shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
generator = tf.keras.preprocessing.image.ImageDataGenerator(**LESSON_AUGMENTATION)  # the lesson's way: legacy only
rng = np.random.default_rng(cfg.seed)
old_versions = [generator.standardize(generator.random_transform(one_image, seed=int(rng.integers(2**31 - 1))))
                for _ in range(5)]
titles = ["original"] + [f"layers {i}" for i in range(1, 6)] + ["original"] + [f"generator {i}" for i in range(1, 6)]
fig = plots.plot_images([one_image / 255, *versions, one_image / 255, *old_versions], titles, cols=6, size=2.0)
_ = fig.suptitle(f"{train_paths[0].parent.name}/{train_paths[0].name} ({cfg.profile} profile)", y=1.02)

# %% [markdown]
# ## 7b. The pixels InceptionV3 was trained on
# The lesson rescales to 0..1, silently. Keras's InceptionV3 was trained on
# -1..1: its `preprocess_input` computes `x / 127.5 - 1`. Our runs keep the
# lesson's 0..1 to reproduce it; in your own work, use the backbone's
# preprocessing. Once, here, both: a logistic regression on the frozen
# base's `mixed7` features (averaged to 768 values) of the un-augmented
# training images, scored on the validation images. Only the preprocessing
# differs.

# %%
inception_preprocess = keras.applications.inception_v3.preprocess_input  # InceptionV3's own: -1..1
pooled_mixed7 = Model(pre_trained_model.input, layers.GlobalAveragePooling2D()(last_output))  # frozen, 768 values


def probe_accuracy(preprocess):
    """Validation accuracy of a logistic regression on the frozen base's pooled mixed7 features."""
    features = {}
    for split, raw in (("train", raw_train_plain), ("validation", raw_validation)):
        x = pooled_mixed7.predict(raw.map(lambda images, labels: preprocess(images)), verbose=0)
        y = np.concatenate([labels.numpy() for _, labels in raw]).ravel().astype(int)
        features[split] = (x, y)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(*features["train"])
    return probe.score(*features["validation"])


preprocessings = {"the lesson's rescale: x / 255": rescale, "InceptionV3's preprocess_input": inception_preprocess}
rows = {}
for name, preprocess in preprocessings.items():
    scaled = preprocess(raw_images)
    rows[name] = {"pixel range": f"{float(tf.reduce_min(scaled)):.2f} .. {float(tf.reduce_max(scaled)):.2f}",
                  "probe validation accuracy": probe_accuracy(preprocess)}
probe_table = pd.DataFrame(rows).T
probe_table.index.name = f"preprocessing ({cfg.profile} profile)"
probe_lesson, probe_inception = probe_table["probe validation accuracy"]
course_utils.record("probe_accuracy_lesson_rescale", probe_lesson, note="0..1 pixels; validation images")
course_utils.record("probe_accuracy_inception_preprocessing", probe_inception, note="-1..1 pixels; validation images")
print(f"linear probe on frozen mixed7 features ({cfg.profile} profile): {probe_lesson:.3f} with the lesson's 0..1, "
      f"{probe_inception:.3f} with InceptionV3's -1..1")
probe_table

# %% [markdown]
# **No fast feature extraction here.** `features = base.predict(images)`
# once, then `head.fit(features, labels)`, is much faster (lessons 03, 04,
# 06), but only if the base sees the same pixels every epoch. Here
# augmentation runs before the base: new pixels, new features.
#
# ## 8. Train without dropout
# The lesson's `model.fit_generator(...)` is `model.fit(...)` now, with the
# same arguments. The fingerprint is that of the first batch of a pipeline
# built exactly as the run's own.

# %%
first_batch_without = fingerprint(next(iter(augmented_training_data()))[0])
train_ds = augmented_training_data()
timer = EpochTimer()
# Keras 3.15+ warns "`shuffle=True` was passed, but will be ignored": shuffle=True is fit's default, and
# image_dataset_from_directory(shuffle=True) has already shuffled train_ds. Nothing is lost.
history = model.fit(
    train_ds,
    validation_data=validation_ds,
    steps_per_epoch=cfg.steps_per_epoch,
    epochs=cfg.epochs,
    validation_steps=cfg.validation_steps,
    callbacks=[timer],
    verbose=2,
)

# %% [markdown]
# ## 9. Add `Dropout(0.2)` and train again
# Dropout switches off a random fifth of the hidden units at every training
# step (none at evaluation), so units cannot co-adapt or lean on one input.
# It is the only difference: the fingerprints show the same starting
# weights and the same first augmented batch.

# %%
model_dropout = build_classifier(cfg.dropout_rate)
assert models.parameter_counts(model_dropout)["trainable"] == head_params  # dropout has no weights
start_with = fingerprint(model_dropout.trainable_weights)
first_batch_with = fingerprint(next(iter(augmented_training_data()))[0])
print(f"starting weights     : {start_without} without dropout, {start_with} with")
print(f"first augmented batch: {first_batch_without} without dropout, {first_batch_with} with")
course_utils.record("same_starting_weights", start_without == start_with, note="fingerprints of the head's weights")
course_utils.record("same_first_augmented_batch", first_batch_without == first_batch_with)
assert start_without == start_with and first_batch_without == first_batch_with

train_ds_dropout = augmented_training_data()
timer_dropout = EpochTimer()
history_dropout = model_dropout.fit(
    train_ds_dropout,
    validation_data=validation_ds,
    steps_per_epoch=cfg.steps_per_epoch,
    epochs=cfg.epochs,
    validation_steps=cfg.validation_steps,
    callbacks=[timer_dropout],
    verbose=2,
)

# %% [markdown]
# ## 10. Compare the runs, like for like
# `fit`'s training accuracy is an epoch's mean over augmented batches, with
# dropout on in the second run: dropout alone lowers it, so the two runs'
# `fit` gaps are not measured alike. `evaluate` runs in inference mode (no
# dropout); given the un-augmented training images, it measures both runs
# alike. The validation loss shows overfitting as a rise above its lowest
# epoch. One run each is one measurement: read the curves too.

# %%
runs = {"no dropout": (model, history), f"dropout {cfg.dropout_rate}": (model_dropout, history_dropout)}
measured = {}
for name, (trained, h) in runs.items():
    _, train_accuracy = trained.evaluate(train_plain, verbose=0)  # inference mode, un-augmented training images
    _, val_accuracy = trained.evaluate(validation_plain, verbose=0)
    measured[name] = {
        "training accuracy (evaluate)": train_accuracy,
        "validation accuracy": val_accuracy,
        "gap (evaluate)": train_accuracy - val_accuracy,
        "training accuracy (fit, last epoch)": h.history["accuracy"][-1],
        "gap as fit shows it": h.history["accuracy"][-1] - val_accuracy,
        "validation loss rise": h.history["val_loss"][-1] - min(h.history["val_loss"]),  # 0: the last is lowest
    }
summary = pd.DataFrame(measured).T
summary.index.name = f"run ({cfg.profile} profile, {cfg.epochs} epochs)"

gap_without, gap_with = summary["gap (evaluate)"]
fit_gap_without, fit_gap_with = summary["gap as fit shows it"]
rise_without, rise_with = summary["validation loss rise"]
course_utils.record("gap_without_dropout", gap_without, note="evaluate: inference mode, un-augmented training images")
course_utils.record("gap_with_dropout", gap_with, note="evaluate: inference mode, un-augmented training images")
course_utils.record("fit_gap_without_dropout", fit_gap_without, note="fit's last-epoch training accuracy - validation")
course_utils.record("fit_gap_with_dropout", fit_gap_with, note="fit's training accuracy has dropout on")
course_utils.record("val_loss_rise_without_dropout", rise_without, note="final - lowest validation loss")
course_utils.record("val_loss_rise_with_dropout", rise_with, note="final - lowest validation loss")
course_utils.record("val_accuracy_without_dropout", summary["validation accuracy"].iloc[0])
course_utils.record("val_accuracy_with_dropout", summary["validation accuracy"].iloc[1])


def compared(with_dropout, without_dropout, smaller, larger):
    difference = with_dropout - without_dropout  # below the printed precision (0.001) counts as the same
    return smaller if difference < -5e-4 else larger if difference > 5e-4 else "the same"


print(f"profile {cfg.profile}, after {cfg.epochs} epochs, both runs measured alike:")
print(f"  training - validation accuracy (evaluate): {gap_without:+.3f} without dropout, {gap_with:+.3f} with "
      f"Dropout({cfg.dropout_rate}): {compared(gap_with, gap_without, 'narrower', 'wider')} with dropout")
print(f"  validation loss above its lowest epoch: {rise_without:.3f} without, {rise_with:.3f} with: "
      f"{compared(rise_with, rise_without, 'smaller', 'larger')} with dropout")
print(f"  not alike: the gap as fit shows it, {fit_gap_without:+.3f} without and {fit_gap_with:+.3f} with dropout")

fig = plots.plot_history({name: h for name, (_, h) in runs.items()}, metrics=("accuracy", "loss"),
                         title=f"Lesson 05 ({cfg.profile} profile): without vs with Dropout({cfg.dropout_rate})")
for line, accuracy in zip(fig.axes[0].get_lines()[::2], summary["training accuracy (evaluate)"]):
    fig.axes[0].plot([cfg.epochs], [accuracy], "*", markersize=14, color=line.get_color(),
                     label="training, evaluate (inference mode)")
fig.axes[0].legend(fontsize="small")
course_utils.record_figure(fig)
summary

# %% [markdown]
# ## 11. Fine-tuning: unfreeze the top of the base
# With the head trained, the top of the base may adapt to cats and dogs. We
# unfreeze the two Inception blocks below the cut (`mixed6`, `mixed7`: the
# layers after `mixed5`) but keep their `BatchNormalization` layers frozen:
# a frozen BatchNorm layer runs in inference mode, its stored
# statistics untouched. `trainable` takes effect at `compile`, where the
# learning rate drops tenfold: large steps would undo the pretrained
# weights. Never unfreeze under an untrained head: its large random errors
# would flow into the base.

# %%
first = pre_trained_model.layers.index(pre_trained_model.get_layer(cfg.fine_tune_after)) + 1
last = pre_trained_model.layers.index(last_layer) + 1
top_blocks = pre_trained_model.layers[first:last]
for layer in top_blocks:
    layer.trainable = not isinstance(layer, layers.BatchNormalization)

model_dropout.compile(optimizer=RMSprop(learning_rate=cfg.fine_tune_learning_rate), loss="binary_crossentropy",
                      metrics=["accuracy"])

convolutions = [layer for layer in top_blocks if isinstance(layer, layers.Conv2D)]
conv_params = sum(int(np.prod(layer.kernel.shape)) for layer in convolutions)  # no biases before BatchNorm
trainable_after = models.parameter_counts(model_dropout)["trainable"]
assert trainable_after == head_params + conv_params
batchnorm_stats = [w.numpy() for layer in top_blocks if isinstance(layer, layers.BatchNormalization)
                   for w in layer.non_trainable_weights]  # moving means and variances, to check later
fine_tune_lr = float(model_dropout.optimizer.learning_rate)
course_utils.record("trainable_params_fine_tuning", trainable_after,
                    note=f"head + the {len(convolutions)} convolutions after {cfg.fine_tune_after} up to {last_layer.name}")
course_utils.record("fine_tune_learning_rate", fine_tune_lr, note=f"head: {cfg.learning_rate}")
pd.DataFrame({"trainable parameters": {"training the head": head_params, "fine-tuning": trainable_after},
              "learning rate": {"training the head": cfg.learning_rate, "fine-tuning": fine_tune_lr}})

# %% [markdown]
# Training goes on from the last epoch (`initial_epoch`), on the dropout
# run's pipeline, so the history continues the same curve.

# %%
history_fine = model_dropout.fit(
    train_ds_dropout,
    validation_data=validation_ds,
    steps_per_epoch=cfg.steps_per_epoch,
    epochs=cfg.epochs + cfg.fine_tune_epochs,
    initial_epoch=cfg.epochs,
    validation_steps=cfg.validation_steps,
    verbose=2,
)

# %%
bn_change = max(float(np.max(np.abs(before - w.numpy()))) for before, w in zip(
    batchnorm_stats, [w for layer in top_blocks if isinstance(layer, layers.BatchNormalization)
                      for w in layer.non_trainable_weights]))
val_before = history_dropout.history["val_accuracy"][-1]
val_after = history_fine.history["val_accuracy"][-1]
course_utils.record("batchnorm_statistics_change", bn_change, note="max |change| of the unfrozen blocks' moving stats")
course_utils.record("val_accuracy_before_fine_tuning", val_before, note=f"after {cfg.epochs} epochs of the head")
course_utils.record("val_accuracy_after_fine_tuning", val_after, note=f"after {cfg.fine_tune_epochs} more epochs")
print(f"BatchNorm statistics changed by at most {bn_change} (inference mode)")
print(f"validation accuracy ({cfg.profile} profile): {val_before:.3f} with the head trained, "
      f"{val_after:.3f} after fine-tuning ({cfg.fine_tune_epochs} epoch(s))")

combined = {key: history_dropout.history[key] + history_fine.history[key] for key in history_fine.history}
fig = plots.plot_history(combined, metrics=("accuracy", "loss"), phase_boundary=cfg.epochs,
                         title=f"Lesson 05 ({cfg.profile} profile): Dropout({cfg.dropout_rate}) head, then fine-tuning")

# %% [markdown]
# ## 12. Beyond accuracy: what the model gets wrong
# `predict` gives every validation image the probability of "dog"; above 0.5
# means dog. The confusion matrix (scikit-learn) counts each kind of
# mistake; the gallery shows the most confident mistakes (confidence:
# the predicted class's probability, `max(p, 1 - p)`).

# %%
validation_images = np.concatenate([images.numpy().astype("uint8") for images, _ in raw_validation])
validation_labels = np.concatenate([labels.numpy() for _, labels in raw_validation]).ravel().astype(int)
probabilities = model_dropout.predict(raw_validation.map(lambda images, labels: rescale(images)), verbose=0).ravel()
predicted = (probabilities > 0.5).astype(int)
confidence = np.maximum(probabilities, 1 - probabilities)

fig, ax = plt.subplots(figsize=(4, 3.5))
display = ConfusionMatrixDisplay.from_predictions(validation_labels, predicted, ax=ax,
                                                  display_labels=list(catsdogs.CLASS_NAMES), colorbar=False)
display.ax_.set_title(f"Validation images, fine-tuned model ({cfg.profile} profile)")
tn, fp, fn, tp = display.confusion_matrix.ravel()  # cats (0) are the negatives, dogs (1) the positives
course_utils.record("confusion_matrix", [tn, fp, fn, tp], note="tn, fp, fn, tp: rows true cats, dogs")
course_utils.record("misclassified", int(np.sum(predicted != validation_labels)),
                    note=f"of {len(validation_labels)} validation images")
print(f"fine-tuned model on the validation images ({cfg.profile} profile):")
print(classification_report(validation_labels, predicted, target_names=list(catsdogs.CLASS_NAMES), zero_division=0))

# %%
fig = plots.plot_misclassified(
    validation_images, validation_labels, predicted, confidence, list(catsdogs.CLASS_NAMES),
    title=f"{int(np.sum(predicted != validation_labels))} of {len(predicted)} validation images misclassified "
    f"({cfg.profile} profile): predicted (true), most confident first",
)

# %% [markdown]
# ## 13. How long the lesson's schedule takes
# A step costs the same whatever the images show, so the epoch time
# measured here scales to the lesson's two runs (fine-tuning epochs cost
# more). It is an **estimate** from the profile and machine named below,
# not a measurement.

# %%
epoch_s = (timer.steady + timer_dropout.steady) / 2
steps_measured = cfg.steps_per_epoch + cfg.validation_steps
full = lesson_settings("05", "full")
full_epoch_s = epoch_s * (full.steps_per_epoch + full.validation_steps) / steps_measured
full_schedule_h = full_epoch_s * full.epochs * 2 / 3600  # two runs: without and with dropout
course_utils.record("epoch_s", epoch_s, unit="s",
                    note=f"{cfg.steps_per_epoch} + {cfg.validation_steps} steps, {cfg.profile} profile")
course_utils.record("full_schedule_estimate_h", full_schedule_h, unit="h",
                    note=f"estimated from the {cfg.profile} profile's epoch time, not measured")
print(f"measured ({cfg.profile} profile, {describe_device()}): {epoch_s:.1f} s per epoch of "
      f"{cfg.steps_per_epoch} + {cfg.validation_steps} steps")
print(f"estimate for the full schedule (two runs of {full.epochs} epochs of {full.steps_per_epoch} + "
      f"{full.validation_steps} steps): {full_epoch_s / 60:.1f} min per epoch, {full_schedule_h:.1f} h "
      f"on this machine, before fine-tuning")

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l05-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import keras
import tensorflow as tf

from course_exercises.lesson05 import backbone, ex1, ex2, ex3, mixed7_features

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: cut at mixed6
# `pre_trained` is a frozen InceptionV3 at 150x150 (random weights). Set
# `mixed6_head_params` to the size of the lesson's head (`Flatten`,
# `Dense(1024, relu)`, `Dense(1, sigmoid)`) on `mixed6` instead of `mixed7`,
# worked out from `mixed6`'s output shape; then build it as `model_mixed6`.

# %% nbgrader={"grade": false, "grade_id": "l05-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
pre_trained = backbone()
mixed6_head_params = None
model_mixed6 = None
### BEGIN SOLUTION
mixed6 = pre_trained.get_layer("mixed6")
print(mixed6.output.shape)
h, w, c = mixed6.output.shape[1:]
mixed6_head_params = (h * w * c) * 1024 + 1024 + 1024 + 1
x = keras.layers.Flatten()(mixed6.output)
x = keras.layers.Dense(1024, activation="relu")(x)
x = keras.layers.Dense(1, activation="sigmoid")(x)
model_mixed6 = keras.Model(pre_trained.input, x)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(mixed6_head_params, model_mixed6)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: augment the training data only
# Set `prepare` to a function `(images, training)` that scales 0-255
# pixels to [-1, 1] always (InceptionV3's scale, 7b) and applies random
# rotation, shift, zoom and flip only when `training` is true: validation
# images the same on every call, training images not.

# %% nbgrader={"grade": false, "grade_id": "l05-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
prepare = None
### BEGIN SOLUTION
random_changes = keras.Sequential([
    keras.layers.RandomRotation(40 / 360, fill_mode="nearest"),
    keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
    keras.layers.RandomZoom(0.2, fill_mode="nearest"),
    keras.layers.RandomFlip("horizontal"),
])

def prepare_images(images, training):
    images = keras.applications.inception_v3.preprocess_input(tf.cast(images, tf.float32))
    if training:
        images = random_changes(images, training=True)
    return images

prepare = prepare_images
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(prepare)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: Dropout in the right place
# `features` stands for `mixed7`'s output (7x7x768). Build `head`: the
# lesson's head on `features` with `Dropout(0.2)` where the lesson adds it.

# %% nbgrader={"grade": false, "grade_id": "l05-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
features = mixed7_features()
head = None
### BEGIN SOLUTION
x = keras.layers.Flatten()(features)
x = keras.layers.Dense(1024, activation="relu")(x)
x = keras.layers.Dropout(0.2)(x)
x = keras.layers.Dense(1, activation="sigmoid")(x)
head = keras.Model(features, x)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(head)

# %% [markdown]
# ## Ours beside the original lesson
# Each figure the lesson reported, ours (the profile is in the column
# header), and whether the two compare like for like.

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - Pretrained weights are a file: `weights=None` gives the architecture,
#   `load_weights(file)` the trained network.
# - Cut anywhere: `get_layer("mixed7").output` and
#   `Model(pre_trained_model.input, x)` put your head on an inner layer.
#   Freeze the base and prove it with trainable counts.
# - Augment training images only. Feed the base the pixels it was trained
#   on: -1..1 for InceptionV3 (`preprocess_input`); 7b measured the
#   lesson's 0..1.
# - Two runs compare fairly only if they start alike (re-seed, check) and
#   are measured alike: `fit`'s training accuracy is lowered by dropout
#   itself; `evaluate`'s (inference mode, un-augmented images) and the
#   validation loss are not.
# - The lesson offered `Dropout(0.2)` without showing its run; section 10
#   printed what this run showed (one run each; quick-profile features say
#   nothing about dropout).
# - Fine-tune only after the head has trained: unfreeze the top blocks, keep
#   BatchNorm frozen, recompile at a much lower learning rate.
# - Look past accuracy: the confusion matrix and the confident mistakes.
