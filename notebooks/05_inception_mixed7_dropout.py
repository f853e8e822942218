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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/main/notebooks/05_inception_mixed7_dropout.ipynb)
#
# **What you will learn.** Pretrained weights are just a file: a snapshot of
# every parameter of a trained network. You will build the InceptionV3
# architecture with *no* weights, load the ImageNet snapshot into it from a
# file downloaded (and verified) beforehand, freeze all of it, and cut it at
# an inner layer, `mixed7`, instead of using its very last layer. On top you
# put a small dense classifier of your own for cats versus dogs. The training
# images are augmented (rotated, shifted, zoomed, flipped) the current way,
# with Keras preprocessing layers, and you will see how each argument of the
# lesson's `ImageDataGenerator` maps onto them. Finally you train twice,
# without and with `Dropout(0.2)`, and compare how far training and
# validation accuracy drift apart.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"`: the
# real weights and photos, and the lesson's schedule of 100 epochs of 100
# steps (batch 20) with 50 validation steps. The quick profile runs the same
# code offline on generated images with random-init weights, in about a minute.
#
# Already have the files (a classroom without internet)? Set `WEIGHTS_FILE`
# to your copy of `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`
# and `CATS_DOGS` to `cats_and_dogs_filtered.zip` or the extracted folder:
# they are verified like a download and nothing is fetched.

# %% tags=["parameters"]
PROFILE = None           # "full" (real data and weights) or "quick" (offline, about a minute)
EPOCHS = None            # epochs per training run (full: 100, the lesson's)
STEPS_PER_EPOCH = None   # training batches per epoch (full: 100, i.e. 2,000 images)
VALIDATION_STEPS = None  # validation batches per epoch (full: 50, i.e. 1,000 images)
WEIGHTS_FILE = None      # path to your own copy of the no-top weights .h5 (None: download)
CATS_DOGS = None         # path to your cats_and_dogs_filtered .zip or folder (None: download)

# %% [markdown]
# On **Colab**, the next cell installs `course_utils` (it does nothing anywhere else).

# %%
# Google Colab only: install course_utils and a tf-keras matching Colab's TensorFlow.
# Anywhere else this cell does nothing.
import sys

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    import subprocess
    from importlib.metadata import version

    tf_minor = ".".join(version("tensorflow").split(".")[:2])
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "git+https://github.com/transfer-learning-course/tf-keras-transfer-learning.git@main"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"tf-keras=={tf_minor}.*",
                    "tensorflow-hub", "tensorflow-datasets", "importlib_resources"], check=True)
    if "tensorflow" in sys.modules:
        print("TensorFlow was imported before this cell ran: use Runtime > Restart session, "
              "then run the notebook from the top (Keras 2 must be chosen before TensorFlow loads).")

# %% [markdown]
# ## Setup
# `TF_USE_LEGACY_KERAS=1` must be set *before* TensorFlow is imported: the
# course uses the Keras 2 API (`tf_keras`). `start_lesson` resolves the
# profile, points the caches at the project's `data/` folder, seeds the random
# generators and prints what runs.

# %%
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.keras import Model, layers
from tensorflow.keras.applications.inception_v3 import InceptionV3
from tensorflow.keras.optimizers import RMSprop

import course_utils
from course_utils import augment, catsdogs, downloads, models, plots
from course_utils.env import describe_device
from course_utils.profiles import lesson_settings
from course_utils.timing import EpochTimer

cfg = course_utils.start_lesson(
    "05", PROFILE, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, validation_steps=VALIDATION_STEPS,
    weights_file=WEIGHTS_FILE, cats_dogs=CATS_DOGS,
)
pd.set_option("display.max_colwidth", 120)

# %% [markdown]
# ## 1. The weights: a snapshot in a file
# The lesson downloads `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`
# from a course bucket (`storage.googleapis.com/mledu-datasets/...`) into
# `/tmp`. Think of it as the trained model with the architecture left out:
# only the numbers. "notop" means the weights of the classifier at the top
# (ImageNet's 1,000 classes) are not in it; we will not use that part.
#
# We keep the file under the project's `data/` folder instead of `/tmp`, and
# we check it before trusting it. Keras Applications publishes the MD5 hash
# of this very file (in `inception_v3.py`); no SHA-256 is published, so the
# MD5 and the exact size (87,910,968 bytes) are what we verify. The download
# goes to a temporary name and becomes the real file only once it passes; an
# interrupted or wrong download leaves nothing behind. The lesson's bucket
# serves a file of the same size and is tried second, against the same hash.
#
# In the quick profile the "snapshot" is the weights of a random-init
# InceptionV3 saved in the same `.h5` format and read by the same code. Its
# convolutions are random; only its BatchNorm statistics were measured on a
# few generated images, so the signal keeps its scale through the 229
# layers up to `mixed7`.
# The features mean nothing about cats and dogs: the quick run proves the
# code, not the method.

# %%
pd.DataFrame(downloads.describe([downloads.INCEPTION_V3_NOTOP, catsdogs.ARCHIVE]))

# %%
local_weights_file = downloads.prepare_weights_file(cfg.weights_source, local_copy=cfg.weights_file, seed=cfg.seed)
print(f"weights file: {local_weights_file} ({local_weights_file.stat().st_size / 1e6:.1f} MB)")

# %% [markdown]
# ## 2. The architecture, then the snapshot
# Keras has the InceptionV3 *architecture* built in. We ask for it at the
# lesson's 150x150 input, without the top (`include_top=False`), and with
# `weights=None`: every parameter starts random. `load_weights` then pours
# the file into it. (`weights="imagenet"` would do both steps at once; the
# lesson splits them to show that weights are a separate, swappable file.)

# %%
pre_trained_model = InceptionV3(input_shape=(cfg.image_size, cfg.image_size, 3), include_top=False, weights=None)
pre_trained_model.load_weights(str(local_weights_file))
print(f"{pre_trained_model.name}: {len(pre_trained_model.layers)} layers, "
      f"{pre_trained_model.count_params():,} parameters, output {pre_trained_model.output_shape}")

# %% [markdown]
# ## 3. Freeze every layer
# The lesson's loop. (Use the loop variable, `layer.trainable`, not
# `layers.trainable`: that typo, seen in lesson 01, freezes nothing.) A
# frozen `BatchNormalization` layer also runs in inference mode, using the
# statistics stored in the weights file (learnt on ImageNet, in the full
# profile). `pre_trained_model.summary()` would print all
# 311 layers; the counts say what matters.

# %%
for layer in pre_trained_model.layers:
    layer.trainable = False

backbone_counts = models.parameter_counts(pre_trained_model)
print(models.summarize_trainable(pre_trained_model))
assert backbone_counts["trainable"] == 0

# %% [markdown]
# ## 4. Where to cut: `mixed7`
# Every layer has a name. The last one, `mixed10`, has convolved the 150x150
# input down to a 3x3 grid. The lesson moves up to `mixed7`, whose output is
# a 7x7 grid: more spatial information for the new classifier (and features
# a little less specific to ImageNet's classes than the last block's).
# `get_layer('mixed7').output` is the tensor we build on.

# %%
last_layer = pre_trained_model.get_layer(cfg.cut_layer)
last_output = last_layer.output
print("mixed7 output :", last_layer.output_shape)
print("last layer    :", pre_trained_model.layers[-1].name, pre_trained_model.layers[-1].output_shape)

mixed7_shape = [int(d) for d in last_layer.output_shape[1:]]
mixed10_shape = [int(d) for d in pre_trained_model.output_shape[1:]]
course_utils.record("mixed7_shape", mixed7_shape, note=f"at {cfg.image_size}x{cfg.image_size} input")
pd.DataFrame(
    [
        {"layer": "mixed7 (the lesson's cut)", "grid": f"{mixed7_shape[0]}x{mixed7_shape[1]}",
         "channels": mixed7_shape[2], "values per image after Flatten": int(np.prod(mixed7_shape)),
         "layers kept": pre_trained_model.layers.index(last_layer) + 1},
        {"layer": "mixed10 (the last layer)", "grid": f"{mixed10_shape[0]}x{mixed10_shape[1]}",
         "channels": mixed10_shape[2], "values per image after Flatten": int(np.prod(mixed10_shape)),
         "layers kept": len(pre_trained_model.layers)},
    ]
)

# %% [markdown]
# `models.cut_at` builds the same cut as a model of its own, handy to look
# at (a wrong layer name gets an error listing the valid ones).

# %%
print(models.cut_at(pre_trained_model, cfg.cut_layer).output_shape)
try:
    models.find_layer(pre_trained_model, "mixed_7")
except models.LayerNotFoundError as err:
    print("LayerNotFoundError:", str(err)[:120], "...")

# %% [markdown]
# ## 5. A new head on `mixed7`
# The same dense layers as in a model built from scratch: flatten the 7x7x768
# block, a hidden `Dense(1024)` with ReLU, one sigmoid unit for "dog"
# (cats are 0). `Model(pre_trained_model.input, x)` ties the frozen
# InceptionV3 input to the new output.
#
# Two API changes since the lesson: the optimizer's `lr=` argument is gone,
# it is `learning_rate=` now (tf_keras still accepts `lr=` with a warning and
# ignores it); and the metric is named `"accuracy"` (the lesson's `"acc"`
# names the history keys `acc` / `val_acc` instead).

# %%
x = layers.Flatten()(last_output)
x = layers.Dense(1024, activation="relu")(x)
x = layers.Dense(1, activation="sigmoid")(x)

model = Model(pre_trained_model.input, x)
model.compile(optimizer=RMSprop(learning_rate=cfg.learning_rate), loss="binary_crossentropy", metrics=["accuracy"])

counts = models.parameter_counts(model)
head_params = (int(np.prod(mixed7_shape)) * 1024 + 1024) + (1024 + 1)
print(models.summarize_trainable(model))
assert counts["trainable"] == head_params, "only the new head may train"
course_utils.record("trainable_params", counts["trainable"], note="the new head only")
course_utils.record("backbone_trainable_params", backbone_counts["trainable"])
course_utils.record("frozen_layers", sum(not layer.trainable for layer in pre_trained_model.layers))
models.trainable_report(model).tail(5)

# %% [markdown]
# Almost all trainable parameters sit in the first dense layer: 37,632
# inputs times 1,024 units. That is the price of cutting at a 7x7 grid and
# flattening it.
#
# ## 6. The data: cats_and_dogs_filtered
# 2,000 training and 1,000 validation photos in one folder per class. The
# full profile downloads the archive (no checksum is published for it, so we
# check its size, the CRC-32 of every file inside and the folder counts),
# extracts it to a temporary folder and moves it into place when complete.
# The quick profile writes generated two-class images in the same layout.

# %%
base_dir = catsdogs.prepare_cats_and_dogs(
    cfg.catsdogs_source, num_images=cfg.num_images, image_size=cfg.image_size, seed=cfg.seed,
    local_copy=cfg.cats_dogs,
)
train_dir = base_dir / "train"
validation_dir = base_dir / "validation"
pd.DataFrame(catsdogs.check_layout(base_dir)).T

# %% [markdown]
# The lesson reads the folders with `ImageDataGenerator.flow_from_directory`.
# Its current replacement is `tf.keras.utils.image_dataset_from_directory`:
# it returns a `tf.data.Dataset` of `(images, labels)` batches, images as
# float32 in 0..255, labels 0/1 (`label_mode="binary"`, the lesson's
# `class_mode="binary"`). Validation is not shuffled, so we can compare it
# batch for batch below.

# %%
image_size = (cfg.image_size, cfg.image_size)
raw_train = tf.keras.utils.image_dataset_from_directory(
    train_dir, label_mode="binary", class_names=list(catsdogs.CLASS_NAMES), image_size=image_size,
    batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
)
raw_validation = tf.keras.utils.image_dataset_from_directory(
    validation_dir, label_mode="binary", class_names=list(catsdogs.CLASS_NAMES), image_size=image_size,
    batch_size=cfg.batch_size, shuffle=False,
)

# %% [markdown]
# ## 7. Augmentation, the current way
# The lesson's training generator:
#
# ```python
# train_datagen = ImageDataGenerator(rescale=1./255., rotation_range=40, width_shift_range=0.2,
#                                    height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
#                                    horizontal_flip=True)
# test_datagen = ImageDataGenerator(rescale=1.0/255.)
# ```
#
# `ImageDataGenerator` is deprecated. Today each random change is a Keras
# preprocessing layer, and the layers are applied to the *training* batches
# only. The table maps every argument onto its layer. Two things to notice:
# the generator measures rotation **and shear in degrees**, so the lesson's
# `shear_range=0.2` is a shear of at most 0.2 degrees, which moves a border
# pixel of a 150 px image by less than 0.3 px: practically nothing. And
# tf_keras 2.21 has no shear layer at all, so `augment.RandomShear` applies
# the generator's own shear matrix (we keep it for a faithful mapping).
#
# One thing the lesson glosses over: InceptionV3 was trained on pixels
# scaled to [-1, 1] (`tf.keras.applications.inception_v3.preprocess_input`),
# while `rescale=1/255` gives [0, 1]. We keep the lesson's rescaling so the
# run stays the lesson's; in your own projects, use the preprocessing the
# backbone was trained with.

# %%
LESSON_AUGMENTATION = dict(rescale=1 / 255, rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                           shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
augment.mapping_table(**LESSON_AUGMENTATION)

# %% [markdown]
# The training pipeline, written out (every geometric layer fills the pixels
# it uncovers with the nearest edge pixel, as the generator did):

# %%
augmentation = tf.keras.Sequential(
    [
        layers.Rescaling(1 / 255),
        layers.RandomRotation(40 / 360, fill_mode="nearest"),  # 40 degrees as a fraction of a turn
        layers.RandomTranslation(height_factor=0.2, width_factor=0.2, fill_mode="nearest"),
        augment.RandomShear(0.2, fill_mode="nearest"),  # degrees, like shear_range
        layers.RandomZoom(height_factor=(-0.2, 0.2), width_factor=(-0.2, 0.2), fill_mode="nearest"),
        layers.RandomFlip("horizontal"),
    ],
    name="augmentation",
)
rescale = layers.Rescaling(1 / 255)  # the validation "generator": rescaling only

# the same stack the mapping table describes
assert augment.layer_calls(augmentation) == augment.layer_calls(augment.build_augmentation(**LESSON_AUGMENTATION))


def augment_batch(images, labels):
    return augmentation(images, training=True), labels


def rescale_batch(images, labels):
    return rescale(images), labels


AUTOTUNE = tf.data.AUTOTUNE
train_ds = raw_train.map(augment_batch, num_parallel_calls=AUTOTUNE).repeat().prefetch(AUTOTUNE)
validation_ds = raw_validation.map(rescale_batch, num_parallel_calls=AUTOTUNE).repeat().prefetch(AUTOTUNE)

# %% [markdown]
# Random layers only act when called with `training=True`; we pass it in the
# training map, and the validation map has no random layer at all. The
# check: the same raw batch through both maps, and the validation pipeline's
# first batch against that raw batch, rescaled.

# %%
raw_images, raw_labels = next(iter(raw_validation))
augmented, _ = augment_batch(raw_images, raw_labels)
rescaled, _ = rescale_batch(raw_images, raw_labels)
first_validation_batch, _ = next(iter(validation_ds))

train_change = float(tf.reduce_mean(tf.abs(augmented - rescaled)))
validation_change = float(tf.reduce_max(tf.abs(first_validation_batch - rescaled)))
print(f"training map   : mean pixel change {train_change:.3f} (augmented)")
print(f"validation data: max pixel change {validation_change:.1e} (only rescaled)")
print(f"value ranges   : training {float(tf.reduce_min(augmented)):.2f}..{float(tf.reduce_max(augmented)):.2f}, "
      f"validation {float(tf.reduce_min(rescaled)):.2f}..{float(tf.reduce_max(rescaled)):.2f}")
course_utils.record("train_pixel_change", train_change, note="mean |augmented - rescaled| on one batch")
course_utils.record("validation_pixel_change", validation_change, note="max |validation pipeline - rescaled|")

# %% [markdown]
# One training image and five augmented versions of it: the layers (top row)
# and, for comparison, the lesson's deprecated `ImageDataGenerator` with the
# same arguments (bottom row). They draw from the same range of changes.

# %%
train_paths, _ = catsdogs.list_images(base_dir, "train")
one_image = tf.keras.utils.img_to_array(tf.keras.utils.load_img(train_paths[0], target_size=image_size))
versions = augment.layer_versions(augmentation, one_image, 5)
old_versions = augment.generator_versions(one_image, 5, seed=cfg.seed, **LESSON_AUGMENTATION)
titles = ["original"] + [f"layers {i}" for i in range(1, 6)] + ["original"] + [f"generator {i}" for i in range(1, 6)]
fig = plots.plot_images([one_image / 255, *versions, one_image / 255, *old_versions], titles, cols=6, size=2.0)
_ = fig.suptitle(f"{train_paths[0].parent.name}/{train_paths[0].name} ({cfg.profile} profile)", y=1.02)

# %% [markdown]
# ### Why we do not cache the backbone's features here
# With a frozen backbone it is tempting to run every image through
# InceptionV3 once, store the `mixed7` features and train the head on those:
# much faster. That only works when the backbone sees the same pixels every
# epoch. Here the augmentation sits *before* the backbone, so each epoch
# feeds it new rotated, shifted, zoomed and flipped images, and their
# features must be computed anew. A cache would freeze one version of every
# image and throw the augmentation away. (The validation images are never
# augmented, so their features could be cached; the lesson does not bother.)
#
# ## 8. Train without dropout
# The lesson's `model.fit_generator(...)` is `model.fit(...)` now, with the
# same arguments. An epoch is `steps_per_epoch` training batches of 20
# (100 x 20 = all 2,000 images in the full profile), then `validation_steps`
# validation batches (50 x 20 = all 1,000).

# %%
tf.keras.utils.set_random_seed(cfg.seed)
timer = EpochTimer()
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
# Dropout switches off a random 20% of the 1,024 hidden units at every
# training step (and none at evaluation). Neighbouring units then cannot
# co-adapt or lean too hard on one input, which is why it fights
# overfitting. The head is rebuilt on the same frozen `mixed7` output, with
# fresh weights, and trained with the same schedule and seed.

# %%
x = layers.Flatten()(last_output)
x = layers.Dense(1024, activation="relu")(x)
x = layers.Dropout(cfg.dropout_rate)(x)
x = layers.Dense(1, activation="sigmoid")(x)

model_dropout = Model(pre_trained_model.input, x)
model_dropout.compile(optimizer=RMSprop(learning_rate=cfg.learning_rate), loss="binary_crossentropy",
                      metrics=["accuracy"])
assert models.parameter_counts(model_dropout)["trainable"] == head_params  # dropout has no weights

tf.keras.utils.set_random_seed(cfg.seed)
timer_dropout = EpochTimer()
history_dropout = model_dropout.fit(
    train_ds,
    validation_data=validation_ds,
    steps_per_epoch=cfg.steps_per_epoch,
    epochs=cfg.epochs,
    validation_steps=cfg.validation_steps,
    callbacks=[timer_dropout],
    verbose=2,
)

# %% [markdown]
# ## 10. Compare the curves
# Training accuracy (solid) against validation accuracy (dashed), both runs
# on the same axes. The gap between a run's two curves at the end is its
# overfitting: the lesson saw the no-dropout curves drift apart over 100
# epochs, and dropout as the remedy. A single final epoch is a noisy
# measurement; look at the curves, not only at the two numbers. (The quick
# profile's three epochs of two steps, on random features, give curves that
# jump around: they show that both runs train and are recorded, nothing more.)

# %%
runs = {"no dropout": history, f"dropout {cfg.dropout_rate}": history_dropout}
summary = []
for name, h in runs.items():
    train_acc, val_acc = h.history["accuracy"][-1], h.history["val_accuracy"][-1]
    summary.append({"run": name, "final training accuracy": train_acc, "final validation accuracy": val_acc,
                    "gap (training - validation)": train_acc - val_acc})
summary = pd.DataFrame(summary).set_index("run")

gap_without, gap_with = summary["gap (training - validation)"]
course_utils.record("gap_without_dropout", gap_without, note=f"final epoch of {cfg.epochs}")
course_utils.record("gap_with_dropout", gap_with, note=f"final epoch of {cfg.epochs}")
course_utils.record("val_accuracy_without_dropout", summary["final validation accuracy"].iloc[0])
course_utils.record("val_accuracy_with_dropout", summary["final validation accuracy"].iloc[1])
print(f"profile {cfg.profile}: gap without dropout {gap_without:+.3f}, with Dropout({cfg.dropout_rate}) "
      f"{gap_with:+.3f} (after {cfg.epochs} epochs)")

fig = plots.plot_history(runs, metrics=("accuracy",),
                         title=f"Lesson 05 ({cfg.profile} profile): without vs with Dropout({cfg.dropout_rate})")
course_utils.record_figure(fig)
summary

# %% [markdown]
# ## 11. How long the full schedule takes
# The cost of a step does not depend on what the images show: the same
# InceptionV3 up to `mixed7`, at 150x150, on batches of 20. So the epoch
# time we measured (without the first epoch, which includes graph tracing)
# scales to the lesson's 100 + 50 steps per epoch. The quick profile keeps
# the lesson's 2:1 ratio of training to validation steps, so this is a
# plain proportion. It is an **estimate**, from the profile and the machine
# named below, not a measurement of the full run; a GPU is many times faster.

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
print(f"measured ({cfg.profile} profile, {describe_device()}):")
print(f"  {epoch_s:.1f} s per epoch of {cfg.steps_per_epoch} + {cfg.validation_steps} steps "
      f"= {epoch_s / steps_measured:.2f} s per step")
print(f"estimate for the full schedule ({full.epochs} epochs of {full.steps_per_epoch} + "
      f"{full.validation_steps} steps, two runs):")
print(f"  {full_epoch_s / 60:.1f} min per epoch, {full_epoch_s * full.epochs / 3600:.1f} h per run, "
      f"{full_schedule_h:.1f} h for both runs on this machine")

# %% [markdown]
# ## Takeaways
# - Pretrained weights are a file. `InceptionV3(..., weights=None)` gives
#   the architecture; `load_weights(file)` makes it the trained network.
#   Download such files to a temporary name, check the published hash (here
#   Keras's MD5) and size, and only then move them into place.
# - You can cut a network anywhere: `get_layer("mixed7").output` keeps a
#   7x7x768 grid instead of the last layer's 3x3x2048, and a
#   `Model(pre_trained_model.input, x)` puts your own head on it.
# - Freeze the backbone and check it: only the head's 38.5 M parameters
#   train.
# - Augment the training data only. The current tools are preprocessing
#   layers in a `tf.data` map; mind the units (the generator's rotation and
#   shear are degrees; the lesson's shear of 0.2 degrees does nothing you
#   could see).
# - Augmentation in front of a frozen backbone rules out caching its
#   features: every epoch sees new pixels.
# - Dropout after the wide dense layer narrows the gap between training and
#   validation accuracy. The numbers above come from the profile named in
#   the banner; in the quick profile they only prove that the code runs.
