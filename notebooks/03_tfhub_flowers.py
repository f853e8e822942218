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
# # Lesson 03 — TF Hub feature extractors on tf_flowers: MobileNet-v2 and Inception-v3
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/main/notebooks/03_tfhub_flowers.ipynb)
#
# **What you will learn.** Training an image classifier from scratch needs
# a lot of labelled images and a lot of compute. Here you borrow both from
# someone else: a network trained on the 1.4 million ImageNet photos already
# turns any image into a vector of useful features. You load that network
# from TensorFlow Hub, *freeze* it, and train only a tiny new layer on top
# that maps its features to five kinds of flowers. Along the way you load a
# dataset with TensorFlow Datasets (TFDS) and split it 75 / 15 / 10, look at
# its metadata and its images, build an input pipeline, read a model's raw
# outputs (logits) and turn them into class names, and plot predictions. You
# do it twice, with MobileNet-v2 (small, fast, 224x224 inputs) and with
# Inception-v3 (bigger, 299x299), and compare. You will also see why the
# lesson's batch size of 367 was no accident, write prediction code that
# is right for any batch size, and train the same models many times faster
# by computing the frozen network's features once instead of every epoch.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"`: the
# real tf_flowers photos and the real pretrained TF Hub models, 6 epochs,
# batch 367, as in the lesson. `"quick"` runs the same code offline in
# seconds on generated images and locally built stand-in models.
#
# No internet in your classroom? Download and unpack
# [flower_photos.tgz](http://download.tensorflow.org/example_images/flower_photos.tgz)
# once, copy the `flower_photos/` folder to the learners' machines and set
# `FLOWERS_DIR` to it (or the environment variable `COURSE_FLOWERS_DIR`).
#
# `CACHE_FEATURES` (on by default) trains each head on features the frozen
# extractor computed once, instead of running every image through it in
# every epoch: the same model, much faster (section 4 explains why).
# `False` runs the lesson's original loop.

# %% tags=["parameters"]
PROFILE = None      # "full" (real photos and TF Hub weights) or "quick" (offline, seconds)
EPOCHS = None       # full: 6
BATCH_SIZE = None   # full: 367, the lesson's (see section 3)
FLOWERS_DIR = None  # full: a local flower_photos/ folder to use instead of the download
CACHE_FEATURES = None  # True (default): train the heads on cached features; False: on images, as the lesson

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
# `TF_USE_LEGACY_KERAS=1` must be set *before* TensorFlow is imported:
# `hub.KerasLayer` is a Keras 2 layer and only fits in a Keras 2 model
# (`tf_keras`). `start_lesson` resolves the profile, points the TF Hub and
# TFDS caches at the project's `data/` folder, seeds the random generators
# and prints what runs.

# %%
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import functools

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_hub as hub
from tensorflow.keras.layers import Dense, Dropout
from tensorflow.keras.losses import SparseCategoricalCrossentropy

import course_utils
from course_utils import feature_cache, flowers, models, plots
from course_utils import hub as hub_utils
from course_utils.timing import EpochTimer

cfg = course_utils.start_lesson(
    "03", PROFILE, epochs=EPOCHS, batch_size=BATCH_SIZE, flowers_dir=FLOWERS_DIR,
    cache_features=CACHE_FEATURES,
)
print("\ntf", tf.__version__, "| GPU device:", repr(tf.test.gpu_device_name()), "('' = CPU only)")

# %% [markdown]
# ## TensorFlow Hub, then and now
# TF Hub is a library of pretrained models published as TensorFlow
# SavedModels. The lesson names its models with `https://tfhub.dev/...`
# addresses. tfhub.dev now redirects to **Kaggle Models**, where the same
# models live today; the old handles still work, because `tensorflow_hub`
# follows the redirect and downloads the Kaggle copy.
#
# Where does a model go? `hub.KerasLayer(handle)` looks in
# `$TFHUB_CACHE_DIR/<SHA-1 of the handle string>/`. If a SavedModel is
# there, nothing is downloaded; otherwise it downloads once and keeps it
# there. `start_lesson` set `TFHUB_CACHE_DIR` to the project's `data/tfhub`
# (`data/quick/tfhub` for the quick profile, where locally built stand-ins
# with the real models' input and output shapes live under the real
# handles, so a stand-in can never be mistaken for the real model). To work
# offline, copy a filled cache folder to another machine.

# %%
print("TFHUB_CACHE_DIR =", os.environ["TFHUB_CACHE_DIR"])
for handle in (cfg.mobilenet_handle, cfg.inception_handle):
    print(f"{handle}\n  -> {hub_utils.cache_key(handle)}  (cached: {hub_utils.is_cached(handle)})")

# %% [markdown]
# ## 1. Load the flowers as a TFDS dataset
# `tf_flowers` has 3,670 photos of five kinds of flowers in a single `train`
# split. TFDS *split strings* cut it for us: the first 10% for testing, the
# next 15% for validation, the last 75% for training. `as_supervised=True`
# gives `(image, label)` pairs; `with_info=True` also returns the metadata.
#
# The lesson's call was
# `tfds.load('tf_flowers', as_supervised=True, split=[...], with_info=True, try_gcs=True)`.
# `try_gcs=True` reads a copy that Google prepared on Cloud Storage, on
# every run; we leave it out so TFDS downloads the archive once into
# `data/tfds` and works offline afterwards. `flowers.load_flowers` makes
# exactly this `tfds.load` call and prints it. For a local `flower_photos`
# folder (and for the quick profile's generated images) it first prepares
# the folder once as a local TFDS `tf_flowers`, with the real class names,
# label order and split semantics.

# %%
(test, valid, train), info = flowers.load_flowers(
    cfg.split, cfg.flowers_source, folder=cfg.flowers_dir, num_images=cfg.num_images, seed=cfg.seed
)

# %% [markdown]
# ## 2. Explore the metadata
# `info` describes the dataset: its features (an image of any size and a
# label with 5 classes), its splits and where it lives.

# %%
info

# %% [markdown]
# The metadata also knows how many examples each split string selects...

# %%
num_test_img = info.splits[cfg.split[0]].num_examples
num_valid_img = info.splits[cfg.split[1]].num_examples
num_train_img = info.splits[cfg.split[2]].num_examples
print(f"[{cfg.profile} profile] from info.splits - train images: {num_train_img}, "
      f"valid images: {num_valid_img}, test images: {num_test_img} "
      f"(of {info.splits['train'].num_examples})")

# %% [markdown]
# ...and counting the examples by iterating each dataset checks that we
# split the data as intended (optional, but cheap insurance).

# %%
counted = {"train": flowers.count_examples(train), "valid": flowers.count_examples(valid),
           "test": flowers.count_examples(test)}
assert counted == {"train": num_train_img, "valid": num_valid_img, "test": num_test_img}
course_utils.record("num_train", num_train_img)
course_utils.record("num_valid", num_valid_img)
course_utils.record("num_test", num_test_img)
print(f"[{cfg.profile} profile] counted:", counted, "- the same as info.splits")

# %% [markdown]
# The label feature holds the class names, in label order (label 0 is
# `dandelion`).

# %%
class_labels = info.features["label"].names
num_classes = info.features["label"].num_classes
course_utils.record("num_classes", num_classes)
class_labels, num_classes

# %% [markdown]
# ## Images and their shapes
# `tfds.show_examples` draws a few examples with their labels.

# %%
fig = tfds.show_examples(train, info)

# %% [markdown]
# The photos do not share one size, and a model needs one fixed input shape,
# so the pipeline below resizes every image.

# %%
for i, (image, label) in enumerate(train.take(5)):
    print(f"Image {i + 1} shape: {image.shape} label: {label.numpy()} ({class_labels[label]})")
shapes = flowers.image_shapes(train, 20)
course_utils.record("distinct_shapes_in_20", len(set(shapes)), note="of the first 20 training images")
print(f"{len(set(shapes))} different shapes among the first 20 training images")

# %% [markdown]
# ## 3. The input pipeline
# `flowers.format_image(image, label, size)` is the lesson's `format_image`:
# `tf.image.resize(image, (size, size)) / 255.0`, the size and the [0, 1]
# scale the TF Hub image models expect. (The lesson wrote the function twice,
# with 224 and then 299 hard-coded; here the size is an argument.) The
# training set is shuffled with a buffer of a quarter of its size, mapped,
# batched, and `prefetch(1)` prepares the next batch while the model works
# on this one. Validation and test are not shuffled, so their order is fixed.

# %%
BATCH_SIZE = cfg.batch_size
format_224 = functools.partial(flowers.format_image, size=224)

train_batches = train.shuffle(num_train_img // 4).map(format_224).batch(BATCH_SIZE).prefetch(1)
validation_batches = valid.map(format_224).batch(BATCH_SIZE).prefetch(1)
test_batches = test.map(format_224).batch(BATCH_SIZE).prefetch(1)

for name, n in [("train", num_train_img), ("valid", num_valid_img), ("test", num_test_img)]:
    print(f"[{cfg.profile} profile] {name:5s} {n:5d} images -> batches of {flowers.batch_layout(n, BATCH_SIZE)}")

# %% [markdown]
# ### Why batch 367?
# The lesson tried Keras's usual large batch of 1024, got an error like
# *index 367 is out of bounds*, switched to 367 and found that it trained
# better. 367 is no accident: it is 10% of 3,670, **the size of the test
# split**. With batch 367 the first test batch *is* the whole test split, and
# the lesson's prediction code quietly depends on that: it pairs
# `predictions[i]` (one row per test image, from all batches) with
# `labels[i]` from the *first batch* for `i in range(BATCH_SIZE)`. With 1024
# the only test batch holds 367 images and `labels[367]` does not exist: that
# was the error, not the model. With a batch smaller than 367 the code would
# look only at the first batch.
#
# And "trained better"? The splits are 367 / 551 / 2,752 images (TFDS
# rounds 25% of 3,670 = 917.5 to 918). With 2,752 training images, batch
# 1024 gives 3 updates per epoch and batch 367 gives 8: in 6 epochs that is
# 18 against 48 steps of the optimizer. Smaller batches simply took more
# steps.
#
# The full profile keeps the lesson's 367. The quick profile uses a batch
# smaller than its test split, so its predictions come from two batches and
# the code below proves that it pairs predictions and labels correctly for
# any batch size.

# %% [markdown]
# ## 4. Experiment 1: MobileNet-v2
# MobileNet-v2 is a 53-layer convolutional network designed for phones,
# trained on ImageNet (1.4 million images, 1,000 classes) at 224x224. Its
# *feature vector* version stops before the classification layer: each image
# becomes 1,280 numbers that describe what the network sees. That is our
# feature extractor.

# %%
mobilenet_handle = hub_utils.prepare_handle(cfg.mobilenet_handle, cfg.hub_source, dim=1280)
feature_extractor_mn = hub.KerasLayer(mobilenet_handle, input_shape=(224, 224, 3))

# %% [markdown]
# **Freeze it.** Training would otherwise change the pretrained weights and
# destroy what they learnt on ImageNet; only the new layer on top should
# learn. One batch through the extractor shows what it does: images in,
# 1,280 features per image out.

# %%
feature_extractor_mn.trainable = False

image_batch, label_batch = next(iter(train_batches))
mn_features = feature_extractor_mn(image_batch)
course_utils.record("mobilenet_feature_dim", int(mn_features.shape[-1]))
print("images", image_batch.shape, "-> features", mn_features.shape)

# %% [markdown]
# **The classification head.** Clear Keras's session and seed the random
# generators (the lesson's three lines; `tf.keras.utils.set_random_seed(0)`
# does the same in one), then stack the extractor, `Dropout(0.5)` against
# overfitting and a `Dense` layer with one output per class. The `Dense`
# layer has no softmax: it outputs *logits*, and the loss is told so with
# `from_logits=True`.

# %%
tf.keras.backend.clear_session()
np.random.seed(0)
tf.random.set_seed(0)

mobile_model = tf.keras.Sequential([
    feature_extractor_mn,
    Dropout(0.5),
    Dense(num_classes),
])
course_utils.record("mobilenet_trainable_params", models.parameter_counts(mobile_model)["trainable"],
                    note="1,280 x 5 weights + 5 biases")
mobile_model.summary()
print(models.summarize_trainable(mobile_model))

# %% [markdown]
# **Compile and train** for 6 epochs with Adam. An `EpochTimer` callback
# times every epoch (the first one includes building the graph).
#
# **The lesson's loop, and a faster one that trains the same model.** The
# lesson trains with `mobile_model.fit(train_batches, ...)` (the `else`
# branch below): every epoch sends every training image through
# MobileNet-v2 again. But the extractor is frozen, and nothing random
# happens *before* it (shuffling only changes the order; `Dropout` comes
# after it), so it turns the same image into the same 1,280 numbers in
# every epoch. Computing them once and training the head on them gives the
# same model: the same layers and starting weights, the same loss, the same
# steps per epoch; only the random order and the dropout masks differ, as
# they do between any two runs. The extractor is the expensive part (on a
# 2-core CPU MobileNet-v2 manages about 40 images per second, so one pass
# over the 2,752 training photos takes over a minute), so every epoch after
# that pass costs almost nothing.
#
# `feature_cache.cached_features` makes that one pass over the *raw* split
# and applies `format_224` itself, so its key covers the images and the
# formatting code. It stores the features under `data/features/`, keyed by
# the extractor, its weights, the preprocessing and the data: change any of
# them and they are computed again, run the notebook again and they are
# loaded from disk. It refuses when something random (augmentation) runs
# before the extractor, because then the features change every epoch and
# computing them once would train a different model. `feature_cache.head_of`
# returns the layers after the extractor (`Dropout` and `Dense`) as a model
# that *shares* them with `mobile_model`: training the head trains
# `mobile_model`, which then predicts on images as before.

# %%
mobile_model.compile(
    optimizer="adam",
    loss=SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
mn_timer = EpochTimer()
if cfg.cache_features:  # the same model, trained faster: the frozen extractor's features are computed once
    train_f = feature_cache.cached_features(feature_extractor_mn, train, preprocess=format_224, model=mobile_model)
    valid_f = feature_cache.cached_features(feature_extractor_mn, valid, preprocess=format_224, model=mobile_model)
    head_mn = feature_cache.head_of(mobile_model, feature_extractor_mn)  # Dropout + Dense, shared with mobile_model
    head_mn.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history_mn = head_mn.fit(
        train_f.batches(BATCH_SIZE, shuffle=True, seed=cfg.seed), epochs=cfg.epochs,
        validation_data=valid_f.batches(BATCH_SIZE), callbacks=[mn_timer], verbose=2,
    )
else:  # the lesson's loop: every epoch runs every image through the frozen extractor again
    history_mn = mobile_model.fit(
        train_batches, epochs=cfg.epochs, validation_data=validation_batches,
        callbacks=[mn_timer], verbose=2,
    )

# %% [markdown]
# ### Same model, less time: check both
# Two checks that the cached form trained `mobile_model` itself: the cached
# features of the first validation batch equal what the extractor computes
# now, and `mobile_model` on those *images* gives the same logits as its
# head on the cached *features*. Then the time: one epoch of the lesson's
# loop on a throwaway copy of the head (its graphs built first, so the epoch
# is timed, not the tracing) against the cached epochs above; it costs one
# epoch of the lesson's loop (over a minute on a 2-core CPU with the real
# photos, seconds on a GPU). The cached run also paid once for its features
# (or, on a second run, for loading them).

# %%
if cfg.cache_features:
    print("train:", train_f.describe())
    print("valid:", valid_f.describe())
    check_images, _ = next(iter(validation_batches))
    n = len(check_images)
    feature_gap = float(np.max(np.abs(feature_extractor_mn(check_images).numpy() - valid_f.features[:n])))
    logit_gap = float(np.max(np.abs(mobile_model(check_images).numpy() - head_mn(valid_f.features[:n]).numpy())))
    course_utils.record("features_cached", True)
    course_utils.record("cached_train_rows", train_f.count, note="feature rows, one per training image")
    course_utils.record("cached_feature_max_diff", feature_gap, note="cached vs recomputed, one validation batch")
    course_utils.record("cached_head_logit_max_diff", logit_gap,
                        note="mobile_model on images vs its head on cached features")
    print(f"largest difference, cached vs recomputed features: {feature_gap:.2g}; "
          f"mobile_model on images vs head on features: {logit_gap:.2g}")

    naive_model = tf.keras.Sequential([feature_extractor_mn, Dropout(0.5), Dense(num_classes)])  # a throwaway head
    naive_model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    naive_model.fit(train_batches.take(1), validation_data=validation_batches.take(1), verbose=0)  # build the graphs
    naive_timer = EpochTimer()
    naive_model.fit(train_batches, epochs=1, validation_data=validation_batches, callbacks=[naive_timer], verbose=0)
    naive_epoch_s = course_utils.record("naive_epoch_s", naive_timer.times[0], unit="s",
                                        note="one epoch of the lesson's loop on images, graphs built beforehand")
    cached_epoch_s = course_utils.record("cached_epoch_s", mn_timer.steady, unit="s",
                                         note="mean epoch on cached features, without the first")
    speedup = course_utils.record("cache_epoch_speedup", naive_epoch_s / cached_epoch_s,
                                  note=f"naive / cached epoch, MobileNet-v2, {cfg.profile} profile")
    features_s = train_f.seconds + valid_f.seconds
    print(f"[{cfg.profile} profile] one epoch: {naive_epoch_s:.2f} s on images, {cached_epoch_s:.3f} s on "
          f"cached features ({speedup:.0f}x faster)")
    print(f"[{cfg.profile} profile] {cfg.epochs} epochs: about {cfg.epochs * naive_epoch_s:.1f} s the lesson's "
          f"way; {features_s:.1f} s for the features + {mn_timer.total:.1f} s of training cached")
    del naive_model
else:
    print(f"CACHE_FEATURES is off: the model trained on images, {mn_timer.steady:.2f} s per epoch")

# %% [markdown]
# ### Learning curves
# Training and validation accuracy and loss per epoch. Validation at or above
# training is normal here: Dropout is active only during training.

# %%
fig = plots.plot_history(history_mn, title=f"MobileNet-v2 feature extractor ({cfg.profile} profile)")

# %% [markdown]
# ### Predictions on the test split
# The test split was never seen in training. `predict` runs every test batch
# and returns one row of 5 logits per image.

# %%
predictions = mobile_model.predict(test_batches, verbose=0)
print(f"[{cfg.profile} profile] predictions: {predictions.shape} (one row per test image)")
class_labels

# %% [markdown]
# The first prediction, raw: five unbounded scores, one per class. The
# largest one wins (`np.argmax`); softmax would turn them into
# probabilities without changing which is largest.

# %%
print("logits:", predictions[0])
print("softmax:", tf.nn.softmax(predictions[0]).numpy().round(3))
predicted_id = np.argmax(predictions[0])
first_images, first_labels = next(iter(test_batches))
print(f"predicted id {predicted_id} -> {class_labels[predicted_id]!r}; "
      f"true label {first_labels[0].numpy()} -> {class_labels[first_labels[0]]!r}")

# %% [markdown]
# ### Predictions and labels for the whole test split, for any batch size
# `flowers.collect_predictions` runs the model batch by batch and keeps the
# logits and the labels *of the same batch* side by side, so they line up
# whatever the batch size (and even for a shuffled dataset). It keeps the
# first 30 images for the plot. Its logits equal `predict`'s, row for row.

# %%
mn = flowers.collect_predictions(mobile_model, test_batches, keep_images=30)
assert len(mn) == num_test_img and np.allclose(mn.logits, predictions, atol=1e-4)
course_utils.record("test_predictions", len(mn), note="collected batch by batch")
course_utils.record("test_batches", len(mn.batch_sizes), note=f"batch size {BATCH_SIZE}")
print(f"[{cfg.profile} profile] {len(mn)} test images in {len(mn.batch_sizes)} batch(es) "
      f"of {mn.batch_sizes}; test accuracy {mn.accuracy:.3f}")

# %% [markdown]
# The first batch, true against predicted names (the first 10 rows):

# %%
true_names, predicted_names = mn.names(class_labels)
first_batch = pd.DataFrame({"true": true_names[: mn.batch_sizes[0]],
                            "predicted": predicted_names[: mn.batch_sizes[0]]})
first_batch["right"] = first_batch["true"] == first_batch["predicted"]
print(f"first batch: {first_batch['right'].sum()} of {len(first_batch)} right")
first_batch.head(10)

# %% [markdown]
# ### The prediction grid
# 30 test images titled with the prediction: blue when right, red when
# wrong, with the true label in brackets. `plots.plot_prediction_grid` is the
# lesson's plotting function, reusable for every model; `mn.first(30)` hands
# it the first 30 images with *their* labels and predictions.

# %%
grid_images, grid_true, grid_predicted = mn.first(30)
fig = plots.plot_prediction_grid(
    grid_images, grid_true, grid_predicted, class_labels,
    title=f"MobileNet-v2 ({cfg.profile} profile): blue right, red wrong (true label)",
)

# %%
course_utils.record("mobilenet_val_accuracy", history_mn.history["val_accuracy"][-1],
                    note=f"after {cfg.epochs} epochs")
course_utils.record("mobilenet_test_accuracy", mn.accuracy, note=f"{len(mn)} test images")
course_utils.record("mobilenet_epoch_s", mn_timer.steady, unit="s",
                    note="mean epoch without the first, " + ("on cached features" if cfg.cache_features else "on images"))
print(f"[{cfg.profile} profile] MobileNet-v2: validation accuracy "
      f"{history_mn.history['val_accuracy'][-1]:.3f}, test accuracy {mn.accuracy:.3f}, "
      f"{mn_timer.steady:.2f} s per epoch")

# %% [markdown]
# ## 5. Experiment 2: Inception-v3
# Inception-v3 is a 48-layer network that reaches 78.1% top-1 accuracy on
# ImageNet; it works on 299x299 images and its feature vector has 2,048
# numbers. Everything else stays the same: only the extractor and the image
# size change. `flowers.make_batches` holds exactly the three pipeline lines
# of section 3, with the size as an argument; `format_299` is the same
# formatting for the feature cache.

# %%
train_im, validation_im, test_im = flowers.make_batches(
    train, valid, test, size=299, batch_size=BATCH_SIZE, num_train=num_train_img
)
format_299 = functools.partial(flowers.format_image, size=299)

inception_handle = hub_utils.prepare_handle(cfg.inception_handle, cfg.hub_source, dim=2048)
feature_extractor_im = hub.KerasLayer(inception_handle, input_shape=(299, 299, 3), trainable=False)
feature_extractor_im.trainable = False

image_batch, _ = next(iter(train_im))
im_features = feature_extractor_im(image_batch)
course_utils.record("inception_feature_dim", int(im_features.shape[-1]))
print("images", image_batch.shape, "-> features", im_features.shape)

# %% [markdown]
# The head trains as before, on features computed once (Inception-v3 is
# about 4 times slower per image than MobileNet-v2 on a CPU, so here the
# cache saves even more), or on images with `CACHE_FEATURES = False`.

# %%
tf.keras.backend.clear_session()
np.random.seed(0)
tf.random.set_seed(0)

inception_model = tf.keras.Sequential([
    feature_extractor_im,
    Dropout(0.5),
    Dense(num_classes),
])
print(models.summarize_trainable(inception_model))
course_utils.record("inception_trainable_params",
                    models.parameter_counts(inception_model)["trainable"],
                    note="2,048 x 5 weights + 5 biases")

inception_model.compile(
    optimizer="adam",
    loss=SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
im_timer = EpochTimer()
if cfg.cache_features:  # as for MobileNet-v2: the features once, then only the head trains
    train_f_im = feature_cache.cached_features(feature_extractor_im, train, preprocess=format_299, model=inception_model)
    valid_f_im = feature_cache.cached_features(feature_extractor_im, valid, preprocess=format_299, model=inception_model)
    head_im = feature_cache.head_of(inception_model, feature_extractor_im)
    head_im.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history_im = head_im.fit(
        train_f_im.batches(BATCH_SIZE, shuffle=True, seed=cfg.seed), epochs=cfg.epochs,
        validation_data=valid_f_im.batches(BATCH_SIZE), callbacks=[im_timer], verbose=2,
    )
else:  # the lesson's loop
    history_im = inception_model.fit(
        train_im, epochs=cfg.epochs, validation_data=validation_im,
        callbacks=[im_timer], verbose=2,
    )

# %%
fig = plots.plot_history(history_im, title=f"Inception-v3 feature extractor ({cfg.profile} profile)")

# %% [markdown]
# Predictions for the whole test split, batch by batch, and the grid.

# %%
im = flowers.collect_predictions(inception_model, test_im, keep_images=30)
assert len(im) == num_test_img and np.array_equal(im.labels, mn.labels)
print(f"[{cfg.profile} profile] first prediction: logits {im.logits[0].round(2)} -> "
      f"{class_labels[im.predicted[0]]!r} (true {class_labels[im.labels[0]]!r})")
print(f"[{cfg.profile} profile] test accuracy {im.accuracy:.3f} on {len(im)} images")

grid_images, grid_true, grid_predicted = im.first(30)
fig = plots.plot_prediction_grid(
    grid_images, grid_true, grid_predicted, class_labels,
    title=f"Inception-v3 ({cfg.profile} profile): blue right, red wrong (true label)",
)

# %%
course_utils.record("inception_val_accuracy", history_im.history["val_accuracy"][-1],
                    note=f"after {cfg.epochs} epochs")
course_utils.record("inception_test_accuracy", im.accuracy, note=f"{len(im)} test images")
course_utils.record("inception_epoch_s", im_timer.steady, unit="s",
                    note="mean epoch without the first, " + ("on cached features" if cfg.cache_features else "on images"))
course_utils.record("models_agree", float(np.mean(im.predicted == mn.predicted)),
                    note="share of test images both models label alike")
print(f"[{cfg.profile} profile] Inception-v3: validation accuracy "
      f"{history_im.history['val_accuracy'][-1]:.3f}, test accuracy {im.accuracy:.3f}, "
      f"{im_timer.steady:.2f} s per epoch")

# %% [markdown]
# ## 6. The two models side by side
# Same data, same head, same training; only the frozen extractor differs.

# %%
comparison = pd.DataFrame(
    {
        "input": ["224x224", "299x299"],
        "features": [int(mn_features.shape[-1]), int(im_features.shape[-1])],
        "trainable params": [models.parameter_counts(m)["trainable"] for m in (mobile_model, inception_model)],
        "train acc (last epoch)": [history_mn.history["accuracy"][-1], history_im.history["accuracy"][-1]],
        "val acc": [history_mn.history["val_accuracy"][-1], history_im.history["val_accuracy"][-1]],
        "test acc": [mn.accuracy, im.accuracy],
        "s / epoch": [mn_timer.steady, im_timer.steady],
    },
    index=["MobileNet-v2", "Inception-v3"],
)
print(f"[{cfg.profile} profile, {cfg.epochs} epochs, batch {BATCH_SIZE}, "
      f"epochs on {'cached features' if cfg.cache_features else 'images'}]")
comparison.round(3)

# %%
fig = plots.plot_history({"MobileNet-v2": history_mn, "Inception-v3": history_im},
                         title=f"Lesson 03 ({cfg.profile} profile): MobileNet-v2 vs Inception-v3")
key_plot = course_utils.record_figure(fig)

# %% [markdown]
# **What the lesson found** (full profile, real photos and weights): both
# models pass 80% accuracy after 6 epochs, neither overfits (validation
# keeps up with training), and they perform about the same. Inception-v3 is
# the bigger network on bigger images, so each of its passes costs several
# times more (on a CPU here its forward pass is about 4x slower): in the
# lesson's loop every epoch, with the cache once, after which both heads
# train in about the same time. On this dataset it does not buy much. (The quick profile's two stand-ins are the same tiny
# network, so their epoch times show nothing of this.) Which extractor is best always
# depends on the data: trying two is cheap when only a small head trains.
# The numbers above come from the profile in the banner; quick-profile
# numbers (generated images, random stand-in extractors) only prove that
# the code runs and learns.

# %% [markdown]
# ## Takeaways
# - A TF Hub *feature vector* is a pretrained network without its classifier.
#   `hub.KerasLayer(handle, input_shape=...)`, `trainable = False`, then
#   `Dropout` + `Dense(num_classes)`: only the head's few thousand parameters
#   train, so 6 epochs are enough for a good flower classifier.
# - tfhub.dev handles now resolve to Kaggle Models; models are cached under
#   `$TFHUB_CACHE_DIR/<sha1 of the handle>`, so they download once.
# - TFDS split strings (`train[:10%]`, `train[10%:25%]`, `train[25%:]`) cut
#   one split into test / validation / train; `info.splits[...]` knows the
#   sizes, and counting confirms them.
# - Each model wants its own input size (224 for MobileNet-v2, 299 for
#   Inception-v3) and values in [0, 1]: resize and rescale in the pipeline.
# - The output layer gives logits: `argmax` picks the class, softmax gives
#   probabilities, the loss needs `from_logits=True`.
# - A frozen extractor with nothing random before it computes the same
#   features in every epoch: compute them once (`feature_cache.cached_features`)
#   and train the head on them (`feature_cache.head_of`). Same model, and each
#   epoch costs only the head. Augmentation before the extractor rules this out.
# - Pair predictions with labels *batch by batch*. The lesson's batch of 367
#   was exactly the test split's size, which is the only reason its
#   prediction code worked; the batch size does not change what the model
#   can learn, only how many steps an epoch takes.
