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
# # Lesson 04 — VGG19 four ways: use it as is, fine-tune the last layer, freeze the first 8, train from scratch
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/main/notebooks/04_vgg19_four_ways.ipynb)
#
# **What you will learn.** One network, four ways to use it. First (Part A)
# you take Keras's VGG19 exactly as it was trained on ImageNet, top
# classifier included, and ask it what is in a few photos; on the way you
# meet the five constructor arguments that decide what you get (`weights`,
# `include_top`, `input_shape`, `classes`, `classifier_activation`) and see
# why each model's own `preprocess_input` matters. Then you move to a task
# ImageNet never saw, spotting columnar cacti in 32x32 aerial photos (Kaggle's
# *Aerial Cactus Identification*), and train three models on it: (B) the
# convolutional base frozen, only a new output layer trained; (C) only the
# first 8 layers frozen; (D) the bare architecture with random weights,
# everything trained. The data are imbalanced (three images in four have a
# cactus), so every accuracy is shown next to the score of a model that
# always answers "cactus". A side-by-side comparison closes the lesson.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"`: the
# ImageNet weights, the real Kaggle data and the lesson's 5 epochs with
# batch 64. The full profile needs a Kaggle account for the data: the data
# cell says exactly what to do if anything is missing. Already have the data
# (a classroom without internet)? Set `CACTUS_DIR` to the folder that holds
# `train.csv` and `train/`, or to the competition's `.zip`. `MY_PHOTOS` adds
# your own photos to Part A (a list of file paths).
#
# `CACHE_FEATURES` (on by default) trains Part B's new output layer on
# features the frozen base computed once, instead of running every image
# through the base in every epoch: the same model, faster (Part B says why).
# `False` runs the lesson's original `model.fit` on the images.
#
# Time: on the course's 2-core test machine (CPU only) an epoch over the
# 12,250 training images took roughly 2 minutes for B and 12-14 minutes for C
# and for D (estimated from 2,000-image runs), so the full profile needs
# about 2.5 hours there; a GPU (Colab: *Runtime → Change runtime type*) makes
# it minutes.
#
# The quick profile runs the same code offline in under a minute: generated
# images in the Kaggle layout, random or locally built weights. Its numbers
# prove the code runs; they are not the lesson's results.

# %% tags=["parameters"]
PROFILE = None     # "full" (ImageNet weights, Kaggle data) or "quick" (offline, about a minute)
EPOCHS = None      # epochs for each of B, C and D (full: 5, the lesson's)
BATCH_SIZE = None  # full: 64, the lesson's
CACTUS_DIR = None  # your copy of the Kaggle data: folder with train.csv + train/, or the .zip (None: download)
MY_PHOTOS = None   # Part A: a list of paths to your own photos, added to the bundled ones
CACHE_FEATURES = None  # Part B: True (default) trains on cached features; False: on images, as the lesson

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
import gc
import os
import tempfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.keras.applications import mobilenet, vgg16, vgg19
from tensorflow.keras.applications.vgg19 import VGG19
from tensorflow.keras.layers import Dense, Flatten
from tensorflow.keras.models import Model
from tensorflow.keras.preprocessing.image import ImageDataGenerator, img_to_array, load_img

from IPython.display import display

import course_utils
from course_utils import cactus, feature_cache, models, photos, plots, weights
from course_utils.timing import EpochTimer

cfg = course_utils.start_lesson("04", PROFILE, epochs=EPOCHS, batch_size=BATCH_SIZE, cactus_dir=CACTUS_DIR,
                                cache_features=CACHE_FEATURES)
pd.set_option("display.width", 140)

# %% [markdown]
# ## Part A — Use the pretrained model as is
# ImageNet has 1,000 classes of everyday things: animals, vehicles, food,
# tools. A network trained on it can name what is in a photo out of the box,
# *if* the answer is one of those 1,000 classes. That is also the limit of
# this first way: no new classes.
#
# The constructor arguments that decide what you get:
#
# | argument | here | what it does |
# |---|---|---|
# | `weights` | `"imagenet"` | start from the ImageNet weights (`None`: random weights, or a path to a weights file) |
# | `include_top` | `True` | keep the three fully connected layers at the top (`fc1`, `fc2`, the 1,000-way `predictions`) |
# | `input_shape` | `(224, 224, 3)` | the image size; with the top *and* ImageNet weights it must be 224x224x3 |
# | `classes` | 1000 (default) | outputs of the top layer; only changeable when you do not load ImageNet weights |
# | `classifier_activation` | `"softmax"` (default) | activation of the top layer: probabilities that sum to 1 (with ImageNet weights only `"softmax"` or `None`, raw scores) |
#
# Why 224 is forced: the convolutions would accept any size, but `fc1` is
# a dense layer wired to exactly 7x7x512 = 25,088 inputs, which is what five
# 2x2 poolings leave of a 224x224 image. The ImageNet weights of `fc1` only
# fit that. Without the top (Parts B and C) or without ImageNet weights
# (Part D) you choose the size.
#
# `weights.resolve` keeps the lesson's `weights=` argument and only changes
# where the file comes from: Keras would download it to `~/.keras/models`;
# the course fetches the same file (checked against the MD5 Keras publishes)
# into the project's `data/keras/models`. The quick profile builds the same
# architecture with random weights (`weights=None`): its "predictions" below
# mean nothing.

# %%
model = VGG19(weights=weights.resolve("vgg19", cfg.vgg_weights, include_top=True), include_top=True,
              input_shape=(224, 224, 3))
course_utils.record("a_total_params", model.count_params(), note="VGG19 with its top, 224x224")
model.summary()

# %% [markdown]
# 143.7 million parameters, and 102.8 million of them sit in `fc1` alone.
# Ask for ImageNet weights with the top at another size and Keras refuses
# before downloading anything:

# %%
try:
    VGG19(weights="imagenet", include_top=True, input_shape=(160, 160, 3))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ### The photos
# The lesson downloads a minivan, a taxi and a pug from Wikimedia. We use
# photos that scikit-image installs with itself, written to `data/photos/` as
# ordinary JPEG files, so this works offline; add your own with `MY_PHOTOS`.
# `load_img(..., target_size=(224, 224))` reads a file and resizes it to the
# size the model needs (without keeping the aspect ratio).

# %%
photo_files = photos.photo_paths(MY_PHOTOS)
for path in photo_files:
    print(f"{path.name:<14} {photos.BUNDLED_PHOTOS.get(path.stem, 'your photo')}")
fig = plots.plot_images([load_img(p, target_size=(224, 224)) for p in photo_files],
                        [p.stem for p in photo_files], cols=len(photo_files), size=2.4)

# %% [markdown]
# ### Preprocess, predict, decode
# The lesson's two helper functions, with one fix. `preprocess` turns a file
# into what VGG19 expects: a batch (`expand_dims` adds the batch axis: one
# image becomes shape `(1, 224, 224, 3)`) prepared by **VGG19's own**
# `preprocess_input`. `make_classification` runs the model and turns the
# 1,000 probabilities into the five most likely class names with
# `decode_predictions(top=5)`.
#
# `decode_predictions` reads the class names from `imagenet_class_index.json`,
# which Keras downloads on first use. `photos.prepare_class_index` gets that
# file first, into the project (checked against Keras's MD5). In the quick
# profile it loads 1,000 generated names, `placeholder_000` to
# `placeholder_999`, instead: no network, and no chance to mistake the random
# model's output for a real answer.

# %%
photos.prepare_class_index(cfg.class_index)


def preprocess(image_name):
    image = load_img(image_name, target_size=(224, 224))
    image = img_to_array(image)
    image = np.expand_dims(image, axis=0)
    image = vgg19.preprocess_input(image)
    return image


def make_classification(image):
    pred = model.predict(image, verbose=0)
    pred_classes = vgg19.decode_predictions(pred, top=5)
    for i in pred_classes[0]:
        print(i)
    return pred_classes[0]


rows = []
for path in photo_files:
    print(f"for {path.stem} ({cfg.profile} profile)")
    top5 = make_classification(preprocess(path))
    rows += [{"photo": path.stem, "rank": rank, "class": name, "probability": float(p)}
             for rank, (_, name, p) in enumerate(top5, 1)]
    print()
predictions = pd.DataFrame(rows)
course_utils.record("a_top1_chelsea", predictions.query("rank == 1")["class"].iloc[0],
                    note="VGG19's top-1 class for the cat photo")
predictions.pivot(index="rank", columns="photo", values="class")

# %% [markdown]
# ### Why the preprocessing must match the model
# The lesson imported `preprocess_input` from `vgg16` and `decode_predictions`
# from `mobilenet`, and still got sensible answers. It was luck, twice:
#
# * `decode_predictions` is one shared function for every ImageNet-1000
#   model in Keras (same 1,000 classes, same file), so taking it from
#   `mobilenet` changes nothing.
# * `preprocess_input` is *not* shared. It repeats what was done to the
#   training images of each model: VGG16 and VGG19 ("caffe" mode) flip RGB
#   to BGR and subtract the ImageNet mean colour, leaving values of about
#   -124 to +152; MobileNet ("tf" mode) scales pixels to -1 .. +1; others
#   divide by the standard deviation as well ("torch" mode). VGG16 and VGG19
#   happen to share theirs.
#
# The table shows what each function makes of the same photo; then the cat
# goes through VGG19 once with the right preprocessing and once with
# MobileNet's.

# %%
raw = img_to_array(load_img(photo_files[0], target_size=(224, 224)))[None]  # pixels 0..255
prepared = {name: fn(raw.copy()) for name, fn in  # .copy(): preprocess_input may change a float array in place
            [("vgg19", vgg19.preprocess_input), ("vgg16", vgg16.preprocess_input), ("mobilenet", mobilenet.preprocess_input)]}
display(pd.DataFrame([{"preprocess_input from": name, "min": float(x.min()), "max": float(x.max()),
                       "mean": float(x.mean())} for name, x in prepared.items()]).round(2))
print("vgg16 and vgg19 preprocessing identical:", np.array_equal(prepared["vgg16"], prepared["vgg19"]))

right = model.predict(prepared["vgg19"], verbose=0)
wrong = model.predict(prepared["mobilenet"], verbose=0)
print("decode_predictions is the same function for mobilenet and vgg19:",
      mobilenet.decode_predictions(right, top=5) == vgg19.decode_predictions(right, top=5))
print(f"\n{photo_files[0].stem}, top 3 ({cfg.profile} profile)")
print("  VGG19 preprocessing    :", [(n, round(float(p), 3)) for _, n, p in vgg19.decode_predictions(right, top=3)[0]])
print("  MobileNet preprocessing:", [(n, round(float(p), 3)) for _, n, p in vgg19.decode_predictions(wrong, top=3)[0]])

# %% [markdown]
# With MobileNet's preprocessing every pixel lands between -1 and +1. For
# VGG19, whose inputs normally span about -124 to +152 around ImageNet's
# average colour, that is an almost flat image of that average colour: with
# the ImageNet weights (full profile) compare how sure of "cat" each line is.
# No error is raised: a mismatch only shows as worse predictions. Always import
# `preprocess_input` and `decode_predictions` from the module of the model you
# use. (In the quick profile both lines are noise from random weights.)
#
# Part A's model holds 143.7 million parameters (about 575 MB of float32);
# we let it go before training the next ones.

# %%
del model, right, wrong, prepared
tf.keras.backend.clear_session()
_ = gc.collect()

# %% [markdown]
# ## The cactus data
# The *Aerial Cactus Identification* competition: 17,500 aerial photos of
# 32x32 pixels from Mexico's VIGIA project, and a CSV that says for each
# file whether it shows a columnar cactus:
#
# ```
# train.csv   id,has_cactus           e.g. 0004be2cfeaba1c0361d39e2b000257b.jpg,1
# train/      one 32x32 JPEG per id   (Kaggle's zip nests it as train/train/)
# ```
#
# Full profile: `cactus.get_cactus` uses your local copy (`CACTUS_DIR` or
# `$COURSE_CACTUS_DIR`), or the copy a previous run installed in
# `data/aerial_cactus/`, or downloads the competition with the Kaggle API
# (`pip install kaggle`, an API token in `~/.kaggle/kaggle.json` or in
# `KAGGLE_USERNAME` / `KAGGLE_KEY`, and the competition's rules accepted once
# on kaggle.com; if something is missing the error lists these steps).
# Archives are extracted to a temporary folder that is moved into place only
# once complete. Quick profile: generated images written in the same layout,
# with the real 3:1 split of labels. They look nothing like aerial photos:
# the two classes differ in colour and stripe direction, under noise, a
# signal a model can learn, so "beats the baseline" is a real check.
#
# `load_cactus_table` reads either copy and checks it before anything
# trains: both columns present, ids unique, labels only 0 or 1, every listed
# image on disk.

# %%
root = cactus.get_cactus(cfg.cactus_source, num_images=cfg.num_images, seed=cfg.seed, local_dir=cfg.cactus_dir)
train, image_dir = cactus.load_cactus_table(root)
print(f"{len(train):,} images in {image_dir}")
print(train["has_cactus"].value_counts())
train.head()

# %%
sample = train.head(12)
fig = plots.plot_images([load_img(image_dir / name) for name in sample["id"]],
                        [f"has_cactus={label}" for label in sample["has_cactus"]], cols=6, size=1.6)

# %% [markdown]
# What the loader says about a broken copy (a label of 2 and an image that is
# not there), instead of failing somewhere in the middle of an epoch:

# %%
with tempfile.TemporaryDirectory() as folder:
    broken = cactus.write_kaggle_layout(folder, np.zeros((4, 32, 32, 3), np.uint8), [1, 0, 1, 1])
    table = pd.read_csv(broken / "train.csv")
    table.loc[1, "has_cactus"] = 2
    table.to_csv(broken / "train.csv", index=False)
    try:
        cactus.load_cactus_table(broken)
    except cactus.CactusDataError as err:
        print("a bad label:", err, "\n")
    table.loc[1, "has_cactus"] = 0  # fix the label, then delete one image
    table.to_csv(broken / "train.csv", index=False)
    (broken / "train" / table["id"][3]).unlink()
    try:
        cactus.load_cactus_table(broken)
    except cactus.CactusDataError as err:
        print("a missing image:", err)

# %% [markdown]
# ### Generators: labels as strings, rescale, a 70/30 split
# The lesson's `ImageDataGenerator.flow_from_dataframe`: it reads the file
# named in the `id` column, resizes it to `target_size`, divides the pixels
# by 255 (`rescale`) and one-hot encodes the label (`class_mode="categorical"`:
# two outputs with a softmax, as the lesson's models have). Categorical mode
# wants the labels as *strings*, hence the `apply(str)`. `validation_split=0.30`
# keeps the first 30% of the rows for validation (the CSV's order is already
# random). We add `directory=` (the lesson's notebook ran next to its files)
# and a `seed=` so the shuffling is reproducible.
#
# `ImageDataGenerator` is deprecated in favour of `tf.data` pipelines
# (`image_dataset_from_directory`, or `tf.data.Dataset.from_tensor_slices`
# over the file paths and labels of the CSV); it still works in tf_keras and
# keeps the lesson's code recognisable, and for 32x32 images it is fast enough.
#
# Note that the lesson rescales to 0..1 and does *not* use `vgg19.preprocess_input`
# here, although the ImageNet weights were trained on mean-subtracted BGR
# pixels (Part A). We keep the lesson's choice; the frozen features still carry
# the signal, but matching preprocessing would be the better default.

# %%
train["has_cactus"] = train["has_cactus"].apply(str)
datagen = ImageDataGenerator(rescale=1 / 255, validation_split=cfg.validation_split)
bs = cfg.batch_size
common = dict(dataframe=train, directory=str(image_dir), x_col="id", y_col="has_cactus",
              batch_size=bs, target_size=(cfg.image_size, cfg.image_size), seed=cfg.seed, shuffle=True,
              class_mode="categorical")
train_generator = datagen.flow_from_dataframe(subset="training", **common)
valid_generator = datagen.flow_from_dataframe(subset="validation", **common)
print("class indices:", train_generator.class_indices)
course_utils.record("num_train", train_generator.n, note="training images (the generator's training subset)")
print(f"{len(train_generator)} training batches and {len(valid_generator)} validation batches of {bs} per epoch")

# %% [markdown]
# ### The baseline every accuracy must beat
# A "model" that answers "cactus" for every image is right as often as
# cacti appear. On the real data that is about 75%: an accuracy of 0.75
# means nothing has been learnt. We take the most common label of the
# training part and score it on the validation part.

# %%
majority_baseline, majority_class = cactus.majority_baseline(train_generator.classes, valid_generator.classes)
class_names = {index: name for name, index in train_generator.class_indices.items()}
print(f"always has_cactus={class_names[majority_class]}: validation accuracy {majority_baseline:.3f} "
      f"({cfg.profile} profile)")
course_utils.record("majority_baseline", majority_baseline,
                    note=f"always has_cactus={class_names[majority_class]}, on the validation part")


# %% [markdown]
# One helper for the three runs: train with the lesson's settings (Adam,
# categorical cross-entropy, accuracy), time every epoch, and print the final
# validation accuracy next to the baseline. The lesson's `fit_generator(...,
# steps_per_epoch=len(train_generator), validation_steps=len(valid_generator))`
# is plain `fit` now, which takes the generator and counts its batches itself.
# The data default to the generators; Part B may pass cached features instead.

# %%
def train_and_report(model, name, train_data=train_generator, valid_data=valid_generator):
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    timer = EpochTimer()
    history = model.fit(train_data, epochs=cfg.epochs, validation_data=valid_data,
                        callbacks=[timer], verbose=2)
    final = history.history["val_accuracy"][-1]
    print(f"{name}: validation accuracy {final:.3f} vs majority baseline {majority_baseline:.3f} "
          f"({final - majority_baseline:+.3f}), {timer.steady:.2f} s per epoch ({cfg.profile} profile)")
    return history, timer


def plot_with_baseline(history, title):
    fig = plots.plot_history(history, title=title)
    add_baseline(fig.axes[0])
    return fig


def add_baseline(ax):
    ax.axhline(majority_baseline, color="grey", linestyle=":", label="majority baseline")
    ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.01)  # a fixed scale: small wiggles stay small
    ax.legend(fontsize=8)


# %% [markdown]
# ## Part B — Fine-tune the last layer
# Keep every convolutional layer and its ImageNet weights, drop the top
# (`include_top=False`), freeze all of it, and train only a new output layer
# for our two classes. Without the top the input size is free, down to the
# smallest VGG19 accepts: 32x32, exactly the cactus images. `classes` and
# `classifier_activation` do not apply: there is no top layer to set them on;
# our own `Dense(2, activation="softmax")` plays that role.
#
# In the quick profile the weights come from a file built offline (random
# filters, each with zero mean, scaled layer by layer so the signal keeps its
# size through the 16 convolutions; no labels involved). Keras's own random
# initialisation is useless for a *frozen* base: Part D shows why.

# %%
BASE_WEIGHTS = cactus.base_weights(cfg.base_weights, seed=cfg.seed)

tf.keras.utils.set_random_seed(cfg.seed)
model = VGG19(weights=BASE_WEIGHTS, include_top=False, input_shape=(32, 32, 3))

# to freeze some layers (here: all of them)
for layer in model.layers[:]:
    layer.trainable = False

for layer in model.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

# %% [markdown]
# A frozen layer keeps its weights. The table confirms it with parameter
# counts: 20 million parameters, none trainable.

# %%
print(models.summarize_trainable(model))
models.trainable_report(model)

# %% [markdown]
# The new head: `Flatten` turns the 1x1x512 output into 512 numbers,
# `Dense(2, softmax)` maps them to the two class probabilities. `Model`
# joins VGG19's input to the new output.

# %%
x = Flatten()(model.output)
prediction = Dense(2, activation="softmax")(x)
model_b = Model(inputs=model.input, outputs=prediction)
b_params = models.parameter_counts(model_b)["trainable"]
print(models.summarize_trainable(model_b))
assert b_params == 512 * 2 + 2, "only the new Dense layer may train"

# %% [markdown]
# ### Train B: the frozen base's features, computed once
# The base is frozen and the generators only rescale (no augmentation), so
# the base turns each image into the same 512 numbers in every epoch. The
# lesson's `model.fit(train_generator, ...)` (the `else` branch) computes
# them again in every epoch; with `CACHE_FEATURES` the base runs over each
# image once, and every epoch trains only `Flatten` + `Dense` on the stored
# features. It is the same model (the same layers, starting weights, loss,
# optimiser and batches per epoch; only the random order differs, as between
# any two runs) and much less work: the base is 20 million parameters, the
# head 1,026.
#
# `feature_cache.cached_features(model, train_generator)` reads the
# generator batch by batch (its shuffling does not matter: the entry is keyed
# by the set of images, not their order) and stores the features under
# `data/features/`, keyed by the base, its weights and the data; a second
# run loads them from disk. It refuses if the generator augments (a random
# flip gives new features every epoch). `feature_cache.head_of(model_b,
# "block5_pool")` is the layers after the base's last layer, as a model that
# *shares* them with `model_b`: training it trains `model_b`, which then
# predicts on images as before.

# %%
if cfg.cache_features:  # the same model, trained faster: the frozen base's features are computed once
    train_f = feature_cache.cached_features(model, train_generator)
    valid_f = feature_cache.cached_features(model, valid_generator)
    head_b = feature_cache.head_of(model_b, "block5_pool")  # Flatten + Dense, shared with model_b
    history_b, timer_b = train_and_report(head_b, "B (last layer, cached features)",
                                          train_f.batches(bs, shuffle=True, seed=cfg.seed), valid_f.batches(bs))
    check_images, _ = valid_generator[0]  # the order the cache was read in
    b_logit_gap = float(np.max(np.abs(model_b.predict(check_images, verbose=0)
                                      - head_b.predict(valid_f.features[:len(check_images)], verbose=0))))
    course_utils.record("b_cached_rows", train_f.count, note="feature rows, one per training image")
    course_utils.record("b_cached_output_max_diff", b_logit_gap,
                        note="model_b on images vs its head on cached features, one validation batch")
    course_utils.record("b_features_s", train_f.seconds + valid_f.seconds, unit="s",
                        note="one pass of the base over the training and validation images (or loading them)")
    print("train:", train_f.describe())
    print("valid:", valid_f.describe())
    print(f"model_b on images vs its head on cached features, largest difference: {b_logit_gap:.2g}")
else:  # the lesson's loop: every epoch runs every image through the frozen base again
    history_b, timer_b = train_and_report(model_b, "B (last layer)", train_generator, valid_generator)
fig = plot_with_baseline(history_b, f"B: frozen VGG19, new output layer ({cfg.profile} profile)")

# %% [markdown]
# ## Part C — Freeze the first 8 layers, fine-tune the rest
# The first layers of a CNN detect edges, colours and simple textures,
# useful for almost any photo; the deeper ones combine them into parts of
# ImageNet objects. So keep the early layers frozen and let the deeper ones
# adapt. `model.layers[:8]` is the input layer, block 1 (two convolutions and
# a pooling), block 2 (the same) and the first convolution of block 3. The
# same head and training as in B, on the images: the feature cache does not
# apply to C (nor to D), because their convolution layers train, so their
# features change with every step.

# %%
tf.keras.utils.set_random_seed(cfg.seed)
model = VGG19(weights=BASE_WEIGHTS, include_top=False, input_shape=(32, 32, 3))

# to freeze some layers (here: the first 8)
for layer in model.layers[:8]:
    layer.trainable = False

for layer in model.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

frozen = [layer.name for layer in model.layers if not layer.trainable]
assert frozen == [layer.name for layer in model.layers[:8]]
print("\nfrozen:", ", ".join(frozen[1:]), "(and the input layer)")

# %% [markdown]
# `models.freeze_first(model, 8)` does the same (and makes every later layer
# trainable explicitly). The counts: blocks 1 and 2 hold 260,160 parameters
# and `block3_conv1` 295,168, so 555,328 are frozen and 19.5 million train:
# most of VGG19's weights sit in the deeper layers.

# %%
print(models.summarize_trainable(model))

x = Flatten()(model.output)
prediction = Dense(2, activation="softmax")(x)
model_c = Model(inputs=model.input, outputs=prediction)
c_params = models.parameter_counts(model_c)["trainable"]

history_c, timer_c = train_and_report(model_c, "C (first 8 frozen)")
fig = plot_with_baseline(history_c, f"C: first 8 layers frozen ({cfg.profile} profile)")

# %% [markdown]
# ## Part D — Only the architecture: train from scratch
# `weights=None` builds VGG19 with random weights: nothing is transferred.
# With random weights we may keep the top and set its size: `classes=2` and
# `classifier_activation="softmax"` give the two-way output directly, on
# `fc1` and `fc2` (4,096 units each) that now start random too. Every layer
# trains: 38.9 million parameters at 32x32.

# %%
tf.keras.utils.set_random_seed(cfg.seed)
model_d = VGG19(weights=None, include_top=True, input_shape=(32, 32, 3), classes=2,
                classifier_activation="softmax")

for layer in model_d.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

d_params = models.parameter_counts(model_d)["trainable"]
print()
print(models.summarize_trainable(model_d))

# %% [markdown]
# Random weights have a catch in a network this deep without normalisation
# layers. Keras initialises each convolution so that, after the ReLU, the
# signal shrinks a little at every layer; 16 layers later little is left.
# The table measures each block's output on one validation batch, for
# Part D's fresh model and for Part B's base. A head on top of vanishing
# features learns very slowly; with everything trainable, D must first grow
# its weights back into a useful range, which takes many steps.

# %%
batch_images, _ = valid_generator[0]
scale = pd.concat(
    {"D: Keras random init": cactus.layer_rms(model_d, batch_images,
                                                layer_names=[f"block{i}_pool" for i in range(1, 6)]),
     "B's base (" + ("ImageNet" if cfg.base_weights == "imagenet" else "stand-in") + ")":
         cactus.layer_rms(model_b, batch_images, layer_names=[f"block{i}_pool" for i in range(1, 6)])},
    axis=1,
)
scale

# %%
history_d, timer_d = train_and_report(model_d, "D (from scratch)")
fig = plot_with_baseline(history_d, f"D: VGG19 from scratch ({cfg.profile} profile)")

# %% [markdown]
# ## Side by side
# The three learning curves on shared axes (training solid, validation
# dashed, the baseline dotted), then one row per way of training.

# %%
fig = plots.plot_history({"B last layer": history_b, "C first 8 frozen": history_c, "D from scratch": history_d},
                         title=f"Lesson 04: B, C and D on the cactus data ({cfg.profile} profile)")
add_baseline(fig.axes[0])
course_utils.record_figure(fig)

runs = {"B": ("last layer (base frozen)" + (", cached features" if cfg.cache_features else ""),
              history_b, timer_b, b_params),
        "C": ("first 8 layers frozen", history_c, timer_c, c_params),
        "D": ("from scratch (weights=None)", history_d, timer_d, d_params)}
rows = []
for part, (what, history, timer, params) in runs.items():
    final = history.history["val_accuracy"][-1]
    rows.append({"part": part, "what trains": what, "trainable params": f"{params:,}",
                 "s per epoch": round(timer.steady, 2), "val accuracy": round(final, 3),
                 "majority baseline": round(majority_baseline, 3), "above baseline": round(final - majority_baseline, 3)})
    course_utils.record(f"{part.lower()}_val_accuracy", final, note=f"after {cfg.epochs} epochs")
    course_utils.record(f"{part.lower()}_trainable_params", params)
    on = "on cached features" if part == "B" and cfg.cache_features else "on images"
    course_utils.record(f"{part.lower()}_epoch_s", timer.steady, unit="s",
                        note=f"mean epoch time without the first (tracing) epoch, {on}")
comparison = pd.DataFrame(rows).set_index("part")
print(f"{cfg.profile} profile, {cfg.epochs} epochs, batch {cfg.batch_size}, "
      f"{train_generator.n:,} training / {valid_generator.n:,} validation images")
comparison

# %% [markdown]
# ## Takeaways
# - **As is** (A): an ImageNet model names ImageNet's 1,000 classes, at the
#   size its top was trained for (224x224 for VGG19). Use *its*
#   `preprocess_input`: a mismatch raises no error, it only makes the
#   predictions worse.
# - **Last layer** (B): freeze the base, train a new head. Only 1,026
#   parameters learn, so epochs are the cheapest of the three; the quality
#   depends entirely on how well the frozen features fit the new task.
#   A frozen base computes the same features in every epoch: compute them
#   once (`feature_cache.cached_features`) and train the head on them
#   (`feature_cache.head_of`); same model, and each epoch costs only the head.
#   C and D cannot do this: their convolutions train.
# - **First 8 frozen** (C): the generic early layers stay, the deeper ones
#   adapt to the task. Almost as costly per epoch as training everything,
#   because most parameters are in the deeper layers.
# - **From scratch** (D): the architecture alone, nothing transferred. It
#   needs the most data and steps, and a deep network without normalisation
#   layers starts with vanishing signals (the table in Part D).
# - With imbalanced classes, read every accuracy against the majority
#   baseline (about 75% here): anything near it has learnt nothing.
# - The numbers above come from the profile the banner names; the quick
#   profile's numbers only prove the code runs.
