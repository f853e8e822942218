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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/04_vgg19_four_ways.ipynb)
#
# **What you will learn.** One network, four ways. Part A asks VGG19 with
# its ImageNet top what is in a few photos, with the matching
# `preprocess_input`. On Kaggle's 32x32 *Aerial Cactus* photos you then
# train (B) a new output layer on the frozen base, by `fit` on images and by
# fast feature extraction; (C) all but the first 8 layers, beside
# fine-tuning after the head has trained; (D) the architecture from random
# weights. Three images in four show a cactus: each model is scored
# against the majority baseline.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE`, else `"full"`: ImageNet weights,
# the Kaggle data and the lesson's epochs and batch (below). The quick profile
# runs offline on generated images with stand-in weights: its numbers prove
# the code runs, not the lesson's results. Times: `docs/INSTRUCTORS.md`.

# %% tags=["parameters"]
PROFILE = None           # "full" (ImageNet weights, Kaggle data) or "quick" (offline, about a minute)
EPOCHS = None            # epochs for each of B, C and D (full: 5, the lesson's)
BATCH_SIZE = None        # batch size (full: 64, the lesson's)
FINE_TUNE_EPOCHS = None  # head-first variant of C: epochs after unfreezing (full: 5, as many as C)
STEPS_PER_EPOCH = None   # batches per epoch of C, its control, head-first and D (None: len(train_generator), the lesson's)
CACTUS_DIR = None        # your copy of the Kaggle data: folder with train.csv + train/, or the .zip (None: download)
MY_PHOTOS = None         # Part A: a list of paths to your own photos, added to the bundled ones

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
# Keras 3, TensorFlow backend. `start_lesson` picks the profile, caches
# and seeds, and prints what runs.

# %%
import gc
import os
import tempfile
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras.applications import mobilenet, vgg16, vgg19
from keras.applications.vgg19 import VGG19
from keras.layers import Dense, Flatten
from keras.models import Model
from keras.utils import img_to_array, load_img
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (ConfusionMatrixDisplay, accuracy_score, precision_score, recall_score,
                             roc_auc_score)

from IPython.display import display

import course_utils
from course_utils.data import cactus, photos
from course_utils import models
from course_utils.show import plots
from course_utils.models import standins, weights
from course_utils.show.timing import EpochTimer, Stopwatch

cfg = course_utils.start_lesson("04", PROFILE, epochs=EPOCHS, batch_size=BATCH_SIZE,
                                fine_tune_epochs=FINE_TUNE_EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                                cactus_dir=CACTUS_DIR)
pd.set_option("display.width", 140)

# %% [markdown]
# ## Part A — Use the pretrained model as is
# An ImageNet model names what is in a photo, if it is one of its 1,000
# classes. Five arguments shape it:
#
# | argument | here | what it does |
# |---|---|---|
# | `weights` | `"imagenet"` | ImageNet weights (`None`: random; or a file) |
# | `include_top` | `True` | keep `fc1`, `fc2` and the 1,000-way `predictions` |
# | `input_shape` | `(224, 224, 3)` | with top *and* ImageNet weights: 224x224x3 only |
# | `classes` | 1000 | top outputs; changeable without ImageNet weights |
# | `classifier_activation` | `"softmax"` | the top's activation (or `None`) |
#
# Why 224: `fc1` takes exactly 7x7x512 inputs, what five poolings leave of
# 224x224, and Keras checks the size first. Without the top (B, C) or the
# ImageNet weights (D) you choose it. `applications` is `keras.applications`
# with one change made for the course: `"imagenet"` loads the profile's
# weights (the file Keras would download, checked, or the offline stand-in).

# %%
applications = weights.applications(cfg.source)  # keras.applications; "imagenet" per profile
model = applications.VGG19(weights="imagenet", include_top=True, input_shape=(224, 224, 3))
course_utils.record("a_total_params", model.count_params(), note="VGG19 with its top, 224x224")
model.summary()

# %% [markdown]
# Most of those parameters sit in `fc1`. Another size, with the top and
# ImageNet weights, is refused:

# %%
try:
    VGG19(weights="imagenet", include_top=True, input_shape=(160, 160, 3))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ### Photos, preprocessing, predictions
# The lesson downloads a minivan, a taxi and a pug; we use photos bundled
# with scikit-image (`MY_PHOTOS` adds yours). Its two functions follow, with
# one fix, **VGG19's own** `preprocess_input`: `load_img` reads at 224x224,
# `expand_dims` makes a batch of one, `decode_predictions(top=5)` names the
# five likeliest classes (quick profile: `placeholder_...` names).
# `photos.decode_predictions` is Keras's, on a verified class list.

# %%
photo_files = photos.photo_paths(MY_PHOTOS)
for path in photo_files:
    print(f"{path.name:<14} {photos.BUNDLED_PHOTOS.get(path.stem, 'your photo')}")
fig = plots.plot_images([load_img(p, target_size=(224, 224)) for p in photo_files],
                        [p.stem for p in photo_files], cols=len(photo_files), size=2.4)

# %%
class_names = photos.prepare_class_index(cfg.source)


def preprocess(image_name):
    image = load_img(image_name, target_size=(224, 224))
    image = img_to_array(image)
    image = np.expand_dims(image, axis=0)
    image = vgg19.preprocess_input(image)
    return image


def make_classification(image):
    pred = model.predict(image, verbose=0)
    pred_classes = photos.decode_predictions(pred, top=5, class_index=class_names)
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
# The lesson took `preprocess_input` from `vgg16` and `decode_predictions`
# from `mobilenet`: lucky twice, as `decode_predictions` is shared by all
# ImageNet models and VGG16 and VGG19 share their preprocessing (BGR, minus
# ImageNet's mean colour). MobileNet's scales to -1..+1, to VGG19 an almost
# flat image: no error, only worse predictions (full profile: compare the
# lines below). Import both from your model's module.

# %%
raw = img_to_array(load_img(photo_files[0], target_size=(224, 224)))[None]  # pixels 0..255
prepared = {name: fn(raw.copy()) for name, fn in  # .copy(): preprocess_input may change a float array in place
            [("vgg19", vgg19.preprocess_input), ("vgg16", vgg16.preprocess_input), ("mobilenet", mobilenet.preprocess_input)]}
display(pd.DataFrame([{"preprocess_input from": name, "min": float(x.min()), "max": float(x.max()),
                       "mean": float(x.mean())} for name, x in prepared.items()]).round(2))
print("vgg16 and vgg19 preprocessing identical:", np.array_equal(prepared["vgg16"], prepared["vgg19"]))

right = model.predict(prepared["vgg19"], verbose=0)
wrong = model.predict(prepared["mobilenet"], verbose=0)
print(f"{photo_files[0].stem}, top 3 ({cfg.profile} profile)")
for label, scores in (("VGG19 preprocessing    ", right), ("MobileNet preprocessing", wrong)):
    print(f"  {label}:", [(n, round(float(p), 3)) for _, n, p in photos.decode_predictions(scores, 3, class_index=class_names)[0]])

del model, right, wrong, prepared  # Part A's big model: free it before training the next ones
keras.backend.clear_session()
_ = gc.collect()

# %% [markdown]
# ## The cactus data
# 32x32 aerial photos and `train.csv` (`id,has_cactus`). `cactus.load`
# finds your copy or downloads it with the Kaggle API; the quick profile
# writes generated images in that layout (3:1 labels). We read the CSV as
# the lesson does; `cactus.check_cactus_table` checks the copy (columns,
# labels, ids, images), then a broken one.

# %%
root = cactus.load(cfg.source, local_copy=cfg.cactus_dir, seed=cfg.seed, num_images=cfg.num_images)
train = pd.read_csv(root / "train.csv")
train, image_dir = cactus.check_cactus_table(train, root)
print(f"{len(train):,} images in {image_dir}")
print(train["has_cactus"].value_counts())
train.head()

# %%
sample = train.head(12)
fig = plots.plot_images([load_img(image_dir / name) for name in sample["id"]],
                        [f"has_cactus={label}" for label in sample["has_cactus"]], cols=6, size=1.6)

with tempfile.TemporaryDirectory() as folder:  # a broken copy: a label 2, then a missing image
    broken = cactus.write_kaggle_layout(folder, np.zeros((4, 32, 32, 3), np.uint8), [1, 0, 1, 1])
    table = pd.read_csv(broken / "train.csv")
    table.loc[1, "has_cactus"] = 2
    try:
        cactus.check_cactus_table(table, broken)
    except cactus.CactusDataError as err:
        print("a bad label:", err, "\n")
    table.loc[1, "has_cactus"] = 0
    (broken / "train" / table["id"][3]).unlink()
    try:
        cactus.check_cactus_table(table, broken)
    except cactus.CactusDataError as err:
        print("a missing image:", err)

# %% [markdown]
# ### Generators: labels as strings, rescale, a 70/30 split
# Keras 3 exports no `keras.preprocessing.image.ImageDataGenerator`;
# `tf.keras` still reaches Keras's legacy copy (docstring: "DEPRECATED"),
# whose iterators are `PyDataset`s that `fit` takes. `flow_from_dataframe`
# reads each `id`'s file at `target_size`, divides by 255 (`rescale`) and
# one-hot encodes the string label. `validation_split=0.30` keeps the
# first 30% of rows for validation. We add `directory=`, `seed=` and
# fixed-order copies for scoring. The lesson's 0..1 is not VGG19's
# `preprocess_input`: kept to reproduce B-D; B also runs with VGG19's own.

# %%
ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator  # the lesson's generator, where Keras 3 keeps it
print("ImageDataGenerator lives in", ImageDataGenerator.__module__)
train["has_cactus"] = train["has_cactus"].apply(str)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # The lesson's 0..1 rescale, kept to reproduce it (VGG19's own preprocess_input: Part B, run beside it)
    datagen = ImageDataGenerator(rescale=1 / 255, validation_split=cfg.validation_split)
    bs = cfg.batch_size
    common = dict(dataframe=train, directory=str(image_dir), x_col="id", y_col="has_cactus",
                  batch_size=bs, target_size=(32, 32), seed=cfg.seed, class_mode="categorical")
    train_generator = datagen.flow_from_dataframe(subset="training", shuffle=True, **common)
    valid_generator = datagen.flow_from_dataframe(subset="validation", shuffle=True, **common)
    train_in_order = datagen.flow_from_dataframe(subset="training", shuffle=False, **common)
    valid_in_order = datagen.flow_from_dataframe(subset="validation", shuffle=False, **common)
print(f"warnings while building the generators: {len(caught)}",
      [f"{w.category.__name__}: {w.message}" for w in caught])
print("a PyDataset, which fit takes:", isinstance(train_generator, keras.utils.PyDataset))
print("class indices:", train_generator.class_indices)
course_utils.record("num_train", train_generator.n, note="training images (the generator's training subset)")
print(f"{len(train_generator)} training batches and {len(valid_generator)} validation batches of {bs} per epoch")

# %% [markdown]
# ### The same data, the Keras 3 way
# `keras.utils.image_dataset_from_directory` (labels in the files' sorted
# order) and a `Rescaling(1/255)` layer. Its 30% is a seeded random draw
# of files, not the first rows, so B-D keep the generator's split.

# %%
labels_by_file = train.sort_values("id")["has_cactus"].astype(int).tolist()  # the files' alphanumeric order
train_ds, valid_ds = keras.utils.image_dataset_from_directory(
    image_dir, labels=labels_by_file, label_mode="categorical", image_size=(32, 32), batch_size=bs,
    validation_split=cfg.validation_split, subset="both", seed=cfg.seed)
ds_valid_files = {os.path.basename(path) for path in valid_ds.file_paths}
rescale = keras.layers.Rescaling(1 / 255)
train_ds = train_ds.map(lambda x, y: (rescale(x), y))
valid_ds = valid_ds.map(lambda x, y: (rescale(x), y))

(gen_x, gen_y), (ds_x, ds_y) = train_generator[0], next(iter(train_ds))
display(pd.DataFrame({
    "ImageDataGenerator (the lesson's)": [train_generator.n, valid_generator.n, gen_x.shape, gen_y.shape,
                                          f"{gen_x.min():.2f}..{gen_x.max():.2f}", valid_generator.n],
    "image_dataset_from_directory": [len(labels_by_file) - len(ds_valid_files), len(ds_valid_files), tuple(ds_x.shape), tuple(ds_y.shape),
                                     f"{float(np.min(ds_x)):.2f}..{float(np.max(ds_x)):.2f}",
                                     len(ds_valid_files & set(valid_in_order.filenames))]},
    index=["training images", "validation images", "a batch of images", "its labels", "pixel range",
           "validation images in the generator's validation part"]))


# %% [markdown]
# ### The baseline and the scores
# Always answering "cactus" is right about 3 times in 4: such an accuracy
# means nothing was learnt. scikit-learn's `DummyClassifier` is that model.
# Each model also gets *precision* (of the images it calls cactus, the share
# that are), *recall* (of the cacti, the share it finds) and *ROC AUC* (how
# well its probabilities rank cacti above the rest; 0.5 is chance).

# %%
y_train, y_valid = train_in_order.classes, valid_in_order.classes  # class indices, in row order
class_names = list(train_generator.class_indices)  # ["0", "1"]: index 1, has_cactus=1, is the positive class

majority = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
majority_baseline = majority.score(np.zeros((len(y_valid), 1)), y_valid)
print(f"always has_cactus={class_names[majority.predict([[0]])[0]]}: validation accuracy "
      f"{majority_baseline:.3f} ({cfg.profile} profile)")
course_utils.record("majority_baseline", majority_baseline,
                    note="always the training part's most common label, scored on the validation part")


def scores(probabilities):
    predicted = probabilities.argmax(axis=1)
    return {"accuracy": accuracy_score(y_valid, predicted),
            "precision": precision_score(y_valid, predicted, zero_division=0),
            "recall": recall_score(y_valid, predicted),
            "ROC AUC": roc_auc_score(y_valid, probabilities[:, 1])}


results = {"majority baseline": scores(majority.predict_proba(np.zeros((len(y_valid), 1))))}
predicted = {}


def evaluate(model, name):
    probabilities = model.predict(valid_in_order, verbose=0)
    results[name] = scores(probabilities)
    predicted[name] = probabilities.argmax(axis=1)
    print(f"{name} ({cfg.profile} profile):", ", ".join(f"{k} {v:.3f}" for k, v in results[name].items()),
          f"| majority baseline accuracy {majority_baseline:.3f}")


# %% [markdown]
# C and D train with the lesson's settings, each epoch timed. The lesson's
# `fit_generator` is plain `fit` now. Quick profile: fewer batches an
# epoch (`cfg.steps_per_epoch`).

# %%
def fit_timed(model, epochs, learning_rate=1e-3):
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  metrics=["accuracy"])
    timer = EpochTimer()
    history = model.fit(train_generator, steps_per_epoch=cfg.steps_per_epoch or len(train_generator),
                        epochs=epochs, validation_data=valid_generator, callbacks=[timer], verbose=2)
    return history, timer


def plot_with_baseline(history, title, **options):
    fig = plots.plot_history(history, title=title, **options)
    add_baseline(fig.axes[0])
    return fig


def add_baseline(ax):
    ax.axhline(majority_baseline, color="grey", linestyle=":", label="majority baseline")
    ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.01)  # a fixed scale: small wiggles stay small
    ax.legend(fontsize=8)


# %% [markdown]
# ## Part B — Fine-tune the last layer
# Keep the convolutional base and its weights, drop the top, freeze every
# layer, train a new output layer. Without the top, 32x32 (VGG19's smallest)
# is allowed. `Flatten` turns the 1x1x512 output into 512 numbers;
# `Dense(2, softmax)` gives two probabilities. Quick profile: the base
# weights are random filters built offline, scaled to keep the signal.

# %%
keras.utils.set_random_seed(cfg.seed)
model = applications.VGG19(weights="imagenet", include_top=False, input_shape=(32, 32, 3))

# to freeze some layers (here: all of them)
for layer in model.layers[:]:
    layer.trainable = False

for layer in model.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

# %%
x = Flatten()(model.output)
prediction = Dense(2, activation="softmax")(x)
model_b = Model(inputs=model.input, outputs=prediction)
base_b = model

b_counts = models.parameter_counts(model_b)
print(models.summarize_trainable(model_b))
course_utils.record("b_frozen_params", b_counts["non_trainable"], note="the whole VGG19 base")
models.trainable_report(model_b)

# %% [markdown]
# ### Train B two ways
# The lesson's `model_b.fit` on images runs every image through the frozen
# base every epoch, though its answer never changes (nothing random runs
# before it). *Fast feature extraction* runs the base once with `predict`,
# then trains `model_b`'s own `Flatten` and `Dense` on the features. From
# one start over the same batches, one epoch each way should give the
# same weights. Then B trains on the features.

# %%
head_start = model_b.layers[-1].get_weights()  # both ways start here

# 1. The lesson's way: every step runs a batch of images through the frozen base
model_b.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
images_timer = EpochTimer()
model_b.fit(train_in_order, epochs=1, shuffle=False, validation_data=valid_in_order,
            callbacks=[images_timer], verbose=2)
after_images = model_b.layers[-1].get_weights()

# 2. Fast feature extraction: the frozen base runs once over every image...
with Stopwatch() as extraction:
    train_features = base_b.predict(train_in_order, verbose=0)
    valid_features = base_b.predict(valid_in_order, verbose=0)
train_labels = keras.utils.to_categorical(y_train, 2)
valid_labels = keras.utils.to_categorical(y_valid, 2)
print("features:", train_features.shape, valid_features.shape)

# ...then model_b's own Flatten and Dense train on the features
features_in = keras.Input(shape=train_features.shape[1:])
head = Model(features_in, model_b.layers[-1](model_b.layers[-2](features_in)))
model_b.layers[-1].set_weights(head_start)
head.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
head.fit(train_features, train_labels, batch_size=bs, epochs=1, shuffle=False, verbose=0)

gap = max(float(np.max(np.abs(a - b))) for a, b in zip(after_images, model_b.layers[-1].get_weights()))
course_utils.record("b_same_model_weight_gap", gap,
                    note="Dense weights after one epoch on images vs one on features (same start, same batches)")
print(f"after one epoch each way, the Dense weights differ by at most {gap:.1g} ({cfg.profile} profile)")

# %%
model_b.layers[-1].set_weights(head_start)  # B itself: from the same start, all epochs, shuffled
head.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])  # a fresh optimiser
timer_b = EpochTimer()
history_b = head.fit(train_features, train_labels, batch_size=bs, epochs=cfg.epochs,
                     validation_data=(valid_features, valid_labels), callbacks=[timer_b], verbose=2)

print(f"one epoch on images {images_timer.times[0]:.2f} s; features once {extraction.seconds:.2f} s, "
      f"then {timer_b.steady:.3f} s per epoch ({cfg.profile} profile)")
course_utils.record("b_images_epoch_s", images_timer.times[0], unit="s",
                    note="one epoch of model_b.fit on images, validation and tracing included")
course_utils.record("b_features_s", extraction.seconds, unit="s",
                    note="base.predict over the training and validation images, once")
evaluate(model_b, "B")  # on the images: model_b holds the Dense trained on the features
fig = plot_with_baseline(history_b, f"B: frozen VGG19, new output layer ({cfg.profile} profile)")

# %% [markdown]
# ### B with VGG19's own preprocessing, beside the lesson's 0..1
# Part A's rule on the cactus data: the same frozen base, head start and
# epochs; only the generators change, to
# `preprocessing_function=vgg19.preprocess_input`. The quick profile's base
# is a stand-in: there the two lines only show the code runs.

# %%
matching = ImageDataGenerator(preprocessing_function=vgg19.preprocess_input, validation_split=cfg.validation_split)
train_features_vgg = base_b.predict(matching.flow_from_dataframe(subset="training", shuffle=False, **common), verbose=0)
valid_features_vgg = base_b.predict(matching.flow_from_dataframe(subset="validation", shuffle=False, **common),
                                    verbose=0)
head_vgg = keras.Sequential([keras.Input(shape=train_features_vgg.shape[1:]), Flatten(),
                                Dense(2, activation="softmax")])
head_vgg.layers[-1].set_weights(head_start)  # B's start
head_vgg.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
head_vgg.fit(train_features_vgg, train_labels, batch_size=bs, epochs=cfg.epochs, verbose=0)
results["B, vgg19.preprocess_input"] = scores(head_vgg.predict(valid_features_vgg, verbose=0))
course_utils.record("b_preprocess_input_val_accuracy", results["B, vgg19.preprocess_input"]["accuracy"],
                    note="B with vgg19.preprocess_input instead of the lesson's rescale=1/255; same start and epochs")
course_utils.record("b_preprocess_input_roc_auc", results["B, vgg19.preprocess_input"]["ROC AUC"],
                    note="on the validation images")
display(pd.DataFrame({"lesson's rescale=1/255": results["B"],
                      "vgg19.preprocess_input": results["B, vgg19.preprocess_input"]}).T.round(3))

# %% [markdown]
# ## Part C — Freeze the first 8 layers, fine-tune the rest
# Early layers detect edges and colours, useful for any photo; deeper ones
# assemble ImageNet's objects. `model.layers[:8]` is the input, blocks 1-2
# and `block3_conv1`. As in the lesson, the rest trains at once under a new
# random head, at Adam's default 1e-3.

# %%
keras.utils.set_random_seed(cfg.seed)
model = applications.VGG19(weights="imagenet", include_top=False, input_shape=(32, 32, 3))

# to freeze some layers (here: the first 8)
for layer in model.layers[:8]:
    layer.trainable = False

for layer in model.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

x = Flatten()(model.output)
prediction = Dense(2, activation="softmax")(x)
model_c = Model(inputs=model.input, outputs=prediction)
base_c = model

c_counts = models.parameter_counts(model_c)
print()
print(models.summarize_trainable(model_c))
course_utils.record("c_frozen_params", c_counts["non_trainable"], note="model.layers[:8]")


def drift(weights, before):
    """How far training moved these weights: size of the change over size before."""
    change = np.sqrt(sum(np.sum((w.numpy() - b) ** 2) for w, b in zip(weights, before)))
    return float(change / np.sqrt(sum(np.sum(b ** 2) for b in before)))


pretrained = [w.numpy() for w in base_c.trainable_weights]  # layers 8+ before training
history_c, timer_c = fit_timed(model_c, cfg.epochs)
c_drift = drift(base_c.trainable_weights, pretrained)
evaluate(model_c, "C")
fig = plot_with_baseline(history_c, f"C: first 8 layers frozen ({cfg.profile} profile)")

# %% [markdown]
# ### Why a random head hurts, and the head-first start
# A random head's gradients reach every unfrozen layer, and Adam moves
# each weight by up to about the learning rate per step, whatever the
# gradient's size (the Adam paper, section 2.1: steps are "approximately
# bounded by the stepsize"). The standard way: train the head on
# the frozen base first (Part B), then unfreeze layers 8+, recompile (a
# change of `trainable` counts only then) and train at a rate 10-100x
# lower (VGG19 has no BatchNorm), here on B's model. `drift` measures
# how far a run moved the pretrained weights.
#
# C ran at 1e-3, head-first at 1e-5: that alone could explain their gap.
# The **control** starts as C did (random head, same seed) at head-first's
# rate and epochs: like for like with head-first (layers, rate, epochs)
# except the head's start, B's head epochs before it and the batches each
# `fit` draws.

# %%
keras.utils.set_random_seed(cfg.seed)  # the control: C's start, at head-first's learning rate and epochs
control_base = applications.VGG19(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
for layer in control_base.layers[:8]:
    layer.trainable = False
control = Model(control_base.input, Dense(2, activation="softmax")(Flatten()(control_base.output)))
pretrained = [w.numpy() for w in control_base.trainable_weights]
history_control, timer_control = fit_timed(control, cfg.fine_tune_epochs, learning_rate=cfg.fine_tune_learning_rate)
control_drift = drift(control_base.trainable_weights, pretrained)
evaluate(control, "C's start at the low rate")

for layer in base_b.layers[8:]:  # phase 2: B's head is trained; unfreeze what C trains
    layer.trainable = True
print(models.summarize_trainable(model_b))

pretrained = [w.numpy() for w in base_b.trainable_weights]
history_ft, timer_ft = fit_timed(model_b, cfg.fine_tune_epochs, learning_rate=cfg.fine_tune_learning_rate)
head_first_drift = drift(base_b.trainable_weights, pretrained)
evaluate(model_b, "C head-first")

print(f"\nvalidation accuracy ({cfg.profile} profile): C {results['C']['accuracy']:.3f}; head-first "
      f"{results['B']['accuracy']:.3f} after the head, {results['C head-first']['accuracy']:.3f} after fine-tuning")
rate = f"Adam {cfg.fine_tune_learning_rate:g}, {cfg.fine_tune_epochs} epoch(s)"
print(f"pretrained weights moved by ({cfg.profile} profile): C {c_drift:.2%} (Adam 1e-3, {cfg.epochs} epochs, random "
      f"head); at {rate}: random head {control_drift:.2%}, trained head (head-first) {head_first_drift:.2%}")
print(f"at equal learning rates the random head moved them {control_drift / head_first_drift:.1f}x as far as the "
      f"trained head; C moved them {c_drift / control_drift:.0f}x as far as the control (learning rate and epochs)")
course_utils.record("c_weight_drift", c_drift, note="|change| / |before| of layers 8+, Adam 1e-3 under a random head")
course_utils.record("c_control_weight_drift", control_drift,
                    note=f"|change| / |before| of layers 8+, {rate} under a random head (C's start)")
course_utils.record("c_head_first_weight_drift", head_first_drift,
                    note=f"|change| / |before| of layers 8+, {rate} after B's head")
both = {key: history_b.history[key] + history_ft.history[key] for key in history_ft.history}
fig = plot_with_baseline(both, f"C head-first: B's {cfg.epochs} epochs, then {cfg.fine_tune_epochs} with layers 8+ "
                         f"at {cfg.fine_tune_learning_rate:g} ({cfg.profile} profile)", phase_boundary=cfg.epochs)

# %% [markdown]
# ## Part D — Only the architecture: train from scratch
# `weights=None`: random weights, nothing transferred, so the top may stay,
# resized (`classes=2`, `classifier_activation="softmax"`). Everything
# trains. Keras's random initialisation shrinks the signal at each of the 16
# convolutions (no normalisation layers), as the table shows for one batch.

# %%
keras.utils.set_random_seed(cfg.seed)
model_d = VGG19(weights=None, include_top=True, input_shape=(32, 32, 3), classes=2,
                classifier_activation="softmax")

for layer in model_d.layers:
    sp = " " * (14 - len(layer.name))
    print(layer.name, sp, layer.trainable)

d_counts = models.parameter_counts(model_d)
print()
print(models.summarize_trainable(model_d))

batch_images, _ = valid_generator[0]
pools = [f"block{i}_pool" for i in range(1, 6)]
pd.concat({"D: Keras random init": standins.layer_rms(model_d, batch_images, layer_names=pools),
           f"B's base ({cfg.source})": standins.layer_rms(base_b, batch_images, layer_names=pools)}, axis=1)

# %%
history_d, timer_d = fit_timed(model_d, cfg.epochs)
evaluate(model_d, "D")
fig = plot_with_baseline(history_d, f"D: VGG19 from scratch ({cfg.profile} profile)")

# %% [markdown]
# ## Side by side
# Learning curves (validation dashed, baseline dotted), scores, and a
# confusion matrix per model (rows: true, columns: predicted).

# %%
fig = plots.plot_history({"B last layer": history_b, "C first 8 frozen": history_c, "D from scratch": history_d},
                         title=f"Lesson 04: B, C and D on the cactus data ({cfg.profile} profile)")
add_baseline(fig.axes[0])
course_utils.record_figure(fig)

steps = cfg.steps_per_epoch or len(train_generator)  # C, its control, head-first and D: batches per epoch
on_images = f"on images, {steps} of {len(train_generator)} batches"
runs = {"B": ("b", b_counts["trainable"], timer_b, f"on features, {len(train_generator)} batches"),
        "C": ("c", c_counts["trainable"], timer_c, on_images),
        "C's start at the low rate": ("c_control", models.parameter_counts(control)["trainable"], timer_control,
                                      on_images),
        "C head-first": ("c_head_first", models.parameter_counts(model_b)["trainable"], timer_ft, on_images),
        "D": ("d", d_counts["trainable"], timer_d, on_images)}
record_names = {"accuracy": "val_accuracy", "precision": "precision", "recall": "recall", "ROC AUC": "roc_auc"}
for name, (key, params, timer, on) in runs.items():
    for metric, value in results[name].items():
        course_utils.record(f"{key}_{record_names[metric]}", value, note="on the validation images")
    course_utils.record(f"{key}_trainable_params", params)
    course_utils.record(f"{key}_epoch_s", timer.steady, unit="s",
                        note=f"mean epoch {on}, without the first (tracing) epoch when there are two or more")
table = pd.DataFrame(results).T.round(3)
table["trainable params"] = pd.Series({name: f"{params:,}" for name, (_, params, _, _) in runs.items()})
table["s per epoch"] = pd.Series({name: f"{timer.steady:.2f}" for name, (_, _, timer, _) in runs.items()})
print(f"{cfg.profile} profile, {cfg.epochs} epochs (head-first and its control: {cfg.fine_tune_epochs}), batch {bs}, "
      f"{train_generator.n:,} training / {valid_generator.n:,} validation images; C, its control, head-first and D "
      f"read {steps} of the {len(train_generator)} batches each epoch")
display(table.fillna("-"))

fig, axes = plt.subplots(1, len(predicted), figsize=(3.2 * len(predicted), 3.4))
for ax, (name, labels) in zip(axes, predicted.items()):
    ConfusionMatrixDisplay.from_predictions(y_valid, labels, labels=[0, 1], display_labels=["no cactus", "cactus"],
                                            ax=ax, colorbar=False)
    ax.set_title(name)
fig.suptitle(f"Validation confusion matrices ({cfg.profile} profile)")
fig.tight_layout()

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l04-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import keras
import numpy as np

from course_exercises.lesson04 import ex1, ex2, ex3, frozen_model, photo

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: the preprocessing VGG19 expects
# `coffee` is a 224x224 RGB photo, values 0 to 255. Set `batch` to the
# input that VGG19's ImageNet weights expect, with a batch axis, and print
# its range.

# %% nbgrader={"grade": false, "grade_id": "l04-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
coffee = photo()
batch = None
### BEGIN SOLUTION
batch = keras.applications.vgg19.preprocess_input(np.expand_dims(coffee.astype("float32"), 0))
print("range:", batch.min(), "to", batch.max(), "| channel means (B, G, R):", batch.mean(axis=(0, 1, 2)))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(batch)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: the size of Part B's head
# Part B puts `Flatten` and `Dense(2, softmax)` on VGG19 without its top at
# 32x32. Set `head_params` to the number of parameters that train, worked
# out from VGG19's output shape.

# %% nbgrader={"grade": false, "grade_id": "l04-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
head_params = None
### BEGIN SOLUTION
vgg19_32 = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
print(vgg19_32.output.shape)  # (None, 1, 1, 512)
head_params = 1 * 1 * 512 * 2 + 2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(head_params)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: the fine-tuning phase
# `part_b` is Part B's model after training its head (VGG19 frozen, Adam at
# 0.001). Unfreeze only block5, keep the head trainable, choose
# `fine_tune_rate` 10 to 100 times lower and compile again with it.

# %% nbgrader={"grade": false, "grade_id": "l04-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
part_b = frozen_model()
fine_tune_rate = None
### BEGIN SOLUTION
fine_tune_rate = 1e-5
for layer in part_b.layers:
    if layer.name.startswith("block5"):
        layer.trainable = True
part_b.compile(optimizer=keras.optimizers.Adam(learning_rate=fine_tune_rate),
               loss="categorical_crossentropy", metrics=["accuracy"])
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(fine_tune_rate, part_b)

# %% [markdown]
# ## Ours beside the original lesson
# The lesson showed learning curves, not numbers; each row says whether our
# figure compares like for like.

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - **As is** (A): ImageNet's 1,000 classes, at 224x224 with the top. Use
#   the model's own `preprocess_input`: a mismatch raises no error (B's
#   two lines show its cost).
# - **Last layer** (B): a frozen base gives the same features every epoch:
#   `predict` them once, `fit` the head on them; the same model, far cheaper.
# - **First 8 frozen** (C): C vs its control shows what the learning rate
#   does, the control vs head-first what the head's start does. Train the
#   head first, then fine-tune at a 10-100x lower rate.
# - **From scratch** (D): nothing transferred; without normalisation the
#   deep network starts with vanishing signals.
# - **Imbalance**: read accuracy beside the majority baseline, precision,
#   recall and ROC AUC.
