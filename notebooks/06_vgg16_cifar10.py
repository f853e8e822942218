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
# # Lesson 06 — VGG16 from ImageNet to CIFAR-10: freeze the convolutions, retrain the classifier
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/06_vgg16_cifar10.ipynb)
#
# **What you will learn.** As in the PyTorch lecture this lesson follows:
# VGG16 with its ImageNet weights, its convolutions frozen, a new 10-way
# output layer for CIFAR-10, then `fc1` and `fc2` retrained. Also: the
# preprocessing the weights expect, the "bridge" that lets `fc1` see small
# images, the lecture's freezing bug, head first then fine-tuning, fast
# feature extraction, a confusion matrix, and three input sizes.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE`, else `"full"`: real CIFAR-10,
# ImageNet weights and the lecture's epochs per run, then fine-tuning
# (values below), hours without a GPU (Colab: *Runtime → Change runtime
# type*). Lower the epochs if you must, and say so when you compare.
# `"quick"` runs offline in about a minute; its numbers only prove the code.

# %% tags=["parameters"]
PROFILE = None                  # "full" (CIFAR-10, ImageNet weights) or "quick" (offline, about a minute)
EPOCHS = None                   # the 32x32 run's first phase, the output layer alone on features (full: 50, the lecture's)
FINE_TUNE_EPOCHS = None         # the 32x32 run's second phase, fc1 and fc2 unfrozen, on images (full: 10)
CROP_EPOCHS = None              # the lecture's 64x64-crop run, the output layer alone, on images (full: 50, the lecture's)
LARGE_EPOCHS = None             # the 224x224 run, the output layer alone, on features (full: 50, the lecture's)
BATCH_SIZE = None               # batch size (full: 256, the lecture's)
LARGE_SIZE = None               # input size of the upsampled run (full: 224, the lecture's)
LARGE_TRAIN_LIMIT = None        # train the upsampled run on the first N training images only (None: all)
LEARNING_RATE = None            # SGD learning rate of the output layer alone (full: 0.01, the lecture's)
FINE_TUNE_LEARNING_RATE = None  # SGD learning rate once fc1 and fc2 train (full: 0.001, a tenth)
CIFAR10_ARCHIVE = None          # path to a cifar-10-python.tar.gz you already have (then nothing is downloaded)

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
# Keras 3 (`import keras`, TensorFlow backend). `start_lesson` resolves the
# profile, points the Keras cache at `data/`, seeds everything and prints
# what runs.

# %%
import gc
import math

import numpy as np
import pandas as pd
import keras
import tensorflow as tf
from keras import layers
from keras.applications import vgg16
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix

import course_utils
from course_utils import features, models
from course_utils.data import cifar
from course_utils.models import vgg16_bridge, weights
from course_utils.show import plots
from course_utils.show.timing import EpochTimer, Stopwatch

cfg = course_utils.start_lesson(
    "06", PROFILE, epochs=EPOCHS, fine_tune_epochs=FINE_TUNE_EPOCHS, crop_epochs=CROP_EPOCHS,
    large_epochs=LARGE_EPOCHS, batch_size=BATCH_SIZE, large_size=LARGE_SIZE, large_train_limit=LARGE_TRAIN_LIMIT,
    learning_rate=LEARNING_RATE, fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
)
tf.get_logger().setLevel("ERROR")  # quiet the retracing warnings: this lesson builds several models on purpose
CLASS_NAMES = cifar.CLASS_NAMES

# %% [markdown]
# ## 1. The data
# CIFAR-10 (32x32 colour images, 10 classes) as
# `keras.datasets.cifar10.load_data()` returns it: in the full profile
# `cifar.load` gives those arrays from the downloaded, verified archive
# (offline, set `CIFAR10_ARCHIVE`); in the quick profile generated
# stand-ins the same way. As in the lecture's notebook (not the talk), the last 10% of the
# training images are held out for validation.

# %%
(x_train_all, y_train_all), (x_test, y_test) = cifar.load(
    cfg.source, local_copy=CIFAR10_ARCHIVE, seed=cfg.seed, train_size=cfg.train_size, test_size=cfg.test_size)
y_train_all, y_test = y_train_all.ravel(), y_test.ravel()  # Keras gives labels as a column [N, 1]

n_valid = round(len(x_train_all) * cfg.validation_fraction)
x_train, y_train = x_train_all[:-n_valid], y_train_all[:-n_valid]
x_valid, y_valid = x_train_all[-n_valid:], y_train_all[-n_valid:]
print(f"train {x_train.shape}, validation {x_valid.shape}, test {x_test.shape}, dtype {x_train.dtype}")
print("images per class (train):", np.bincount(y_train, minlength=cfg.num_classes))
plots.plot_images(x_train[:10], [CLASS_NAMES[label] for label in y_train[:10]], cols=10, size=1.4);

# %% [markdown]
# ## 2. Normalisation: what the weights expect
# The lecture used torchvision's ImageNet mean and std on RGB pixels in
# [0, 1]. **Keras's VGG16 weights expect something else**: converted from
# the original Caffe model, they want BGR pixels in 0-255 minus the ImageNet
# mean pixel, no division. `vgg16.preprocess_input` does that: always use
# the one of the application you load. The lecture also compared CIFAR-10's
# own statistics with ImageNet's:

# %%
own_mean, own_std = cifar.channel_stats(x_train)
mean_gap = float(np.max(np.abs(own_mean - np.asarray(cifar.IMAGENET_MEAN))))
course_utils.record("dataset_vs_imagenet_mean_gap", mean_gap,
                    note="largest per-channel mean difference, [0, 1] units")
sample = x_train[:256].astype("float32")
with_imagenet = vgg16.preprocess_input(sample.copy())  # .copy(): preprocess_input may work in place
with_own = cifar.caffe_preprocess_with(own_mean)(sample)  # the same, subtracting this data's mean pixel
print(f"profile {cfg.profile}: preprocessed values from {with_imagenet.min():.0f} to {with_imagenet.max():.0f}; "
      f"with this data's own mean pixel they move by at most {np.abs(with_imagenet - with_own).max():.1f}")
pd.DataFrame({"ImageNet mean": cifar.IMAGENET_MEAN, "this data's mean": own_mean,
              "ImageNet std": cifar.IMAGENET_STD, "this data's std": own_std}, index=["R", "G", "B"]).round(3)

# %% [markdown]
# The two mean pixels differ by the gap printed above, a constant shift,
# and the lecture "didn't find any meaningful difference". If your images differ
# systematically from ImageNet's (darker, less colourful), try both.

# %%
preprocess = vgg16.preprocess_input  # the backbone's own, in every run below (not the lecture's torchvision mean/std)

# %% [markdown]
# ## 3. The pretrained VGG16 and its classifier
# `applications` is `keras.applications` with one change made for the
# course: `"imagenet"` loads the profile's weights (Keras's file, checked,
# or the quick profile's offline stand-in). VGG16 *with its top* holds the
# `fc1` and `fc2` we reuse. Its last pooling layer gives 7x7x512 features;
# `Flatten` makes 25,088 numbers of them, one weight each in `fc1`.

# %%
applications = weights.applications(cfg.source)  # keras.applications; "imagenet" per profile
source = applications.VGG16(include_top=True, weights="imagenet")  # PyTorch: torchvision.models.vgg16(pretrained=True)
print("input:", source.input.shape)
for layer in source.layers[-5:]:
    print(f"  {layer.name:12s} output {str(layer.output.shape):20s} {layer.count_params():>12,} parameters")

# %% [markdown]
# Five max-pools halve 224 to 7. At 32x32 the map is 1x1, and a VGG16
# built for that size has an `fc1` the pretrained weights do not fit:

# %%
naive = vgg16.VGG16(include_top=True, weights=None, input_shape=(32, 32, 3), classes=10)
print("fc1 kernel of a VGG16 built for 32x32 :", tuple(naive.get_layer("fc1").kernel.shape))
print("fc1 kernel of the ImageNet VGG16      :", tuple(source.get_layer("fc1").kernel.shape))
del naive

# %% [markdown]
# ## 4. The bridge PyTorch has and Keras lacks
# torchvision's VGG16 has `AdaptiveAvgPool2d((7, 7))` before its
# classifier: it averages any feature map into a 7x7 grid. A 1x1 map (32x32
# input) is copied to all 49 cells, a 2x2 map (64x64) spread out, a 7x7 map
# (224x224) passed unchanged: so the lecture's pretrained classifier took
# small images. `vgg16_bridge.AdaptiveAveragePooling2D` is that layer for
# Keras.

# %%
for size in (cfg.small_size, cfg.crop_size, cfg.large_size):
    n = vgg16_bridge.feature_map_size(size)
    print(f"{size:>3}x{size:<3} input -> {n}x{n}x512 feature map -> bridge -> 7x7x512 -> Flatten -> 25,088")
vgg16_bridge.plot_pool_matrices([1, 2, 7])
demo = tf.reshape(tf.range(1.0, 5.0), (1, 2, 2, 1))  # a 2x2 map holding 1, 2, 3, 4
print("a 2x2 map after the bridge (7x7):\n", vgg16_bridge.AdaptiveAveragePooling2D(7)(demo)[0, :, :, 0].numpy())

# %% [markdown]
# ## 5. The transfer model
# The base is VGG16 *without* its top, built for our input size. On top:
# the bridge, `Flatten`, `fc1` and `fc2` with torchvision's dropout, and a
# **new** 10-way output layer. Then the pretrained `fc1` and `fc2` weights
# are copied in. One function builds each run's model.

# %%
def build_model(size, source):
    """VGG16's convolutions for size x size inputs, the bridge, fc1/fc2 copied from `source`, a new output layer."""
    conv_base = applications.VGG16(include_top=False, weights="imagenet", input_shape=(size, size, 3))
    # Seeded after the base is loaded: the new layers start the same whether its weights were
    # downloaded (or built) just now or were already on disk.
    keras.utils.set_random_seed(cfg.seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = conv_base(inputs)                                                # 1x1x512 at 32x32
    x = vgg16_bridge.AdaptiveAveragePooling2D(7, name="bridge")(x)     # 7x7x512, as in PyTorch
    x = layers.Flatten(name="flatten")(x)                                # 25,088 numbers
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5, name="fc1_dropout")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    x = layers.Dropout(0.5, name="fc2_dropout")(x)
    outputs = layers.Dense(cfg.num_classes, name="output")(x)            # the new 10-way layer
    model = keras.Model(inputs, outputs, name=f"vgg16_cifar10_{size}")
    for name in ("fc1", "fc2"):
        model.get_layer(name).set_weights(source.get_layer(name).get_weights())
    return model


small_model = build_model(cfg.small_size, source)
copy_gap = max(float(np.max(np.abs(ours - pretrained))) for name in ("fc1", "fc2")
               for ours, pretrained in zip(small_model.get_layer(name).get_weights(), source.get_layer(name).get_weights()))
feature_map, bridged = small_model.get_layer("vgg16").output.shape, small_model.get_layer("bridge").output.shape
print("feature map:", feature_map, "-> bridge:", bridged)
print(f"largest difference between our fc1/fc2 and the pretrained ones: {copy_gap}")
course_utils.record("feature_map_small", list(feature_map[1:]))
course_utils.record("bridge_output_small", list(bridged[1:]))
course_utils.record("fc_copy_max_abs_diff", copy_gap, note="fc1/fc2 against the VGG16 with its top")
small_model.summary()

# %% [markdown]
# ## 6. Freezing, and the lecture's silent bug
# The lecture froze everything, re-enabled two classifier layers and
# replaced the output layer:
#
# ```python
# for param in model.parameters():
#     param.requires_grad = False
# model.classifier[1].requires_grad = True
# model.classifier[3].requires_grad = True
# model.classifier[6] = torch.nn.Linear(4096, 10)
# ```
#
# `requires_grad` belongs to each parameter tensor; set on a module it is a
# new attribute nothing reads (and `classifier[1]` is a ReLU; `fc1` is
# `classifier[0]`). No error, no effect. Keras layers accept any attribute too:

# %%
for layer in small_model.layers:
    layer.trainable = False
small_model.get_layer("fc1").requires_grad = True  # the PyTorch habit: Keras never reads this
small_model.get_layer("fc2").requires_grad = True
small_model.get_layer("output").trainable = True   # the lecture's new layer was created after the freeze

bug_counts = models.parameter_counts(small_model)
course_utils.record("trainable_params_with_lecture_bug", bug_counts["trainable"])
print(f"trainable parameters: {bug_counts['trainable']:,} of {bug_counts['total']:,}")
models.trainable_report(small_model)

# %% [markdown]
# Only the new output layer trained: the lecture's figures ("it's only
# 77%" for its small images; 84.9% at 224x224) came from that layer
# alone. By accident, that is the right first step. TensorFlow's
# tutorial *Transfer learning and fine-tuning* explains: with a randomly
# initialised classifier on a pretrained model, trained jointly, "the
# magnitude of the gradient updates will be too large (due to the random
# weights from the classifier) and your pre-trained model will forget what
# it has learned". The lecture's plan (`fc1`, `fc2` and the new layer
# together at SGD 0.01 from the start) is that pattern. So, in Keras's
# switch, `layer.trainable`:
#
# 1. **Head first**: only the output layer trains, the lecture's actual
#    recipe.
# 2. **Then fine-tuning**: `fc1` and `fc2` join, recompiled, at a tenth of
#    the learning rate, once the head's errors are small.

# %%
def train_only(model, names):
    """Freeze every layer, then let the named layers train."""
    for layer in model.layers:
        layer.trainable = False
    for name in names:
        model.get_layer(name).trainable = True


def compile_for_training(model, learning_rate):
    model.compile(  # `trainable` takes effect here: recompile after every change
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=cfg.momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def training_callbacks(timer):
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=cfg.plateau_factor,
                                                 patience=cfg.plateau_patience, verbose=1),
            keras.callbacks.TerminateOnNaN(), timer]


def images(x, y=None, size=cfg.small_size, shuffle=False):
    """Batches of resized, preprocessed images (with their labels when given)."""
    return cifar.image_dataset(x, y, image_size=size, batch_size=cfg.batch_size, preprocess=preprocess,
                               shuffle=shuffle, seed=cfg.seed)


train_only(small_model, ["output"])
print(models.summarize_trainable(small_model))
assert models.parameter_counts(small_model)["trainable"] == 4096 * cfg.num_classes + cfg.num_classes

# %% [markdown]
# ## 7. Head first, the lecture's recipe, on features
# Everything before the output layer is frozen, and nothing random runs in
# it at inference (its dropout is off in `predict`): it gives the same
# 4,096 numbers per image every epoch. So `predict` them once and `fit`
# the output layer on them. The lecture's notebook: SGD 0.01 with momentum
# 0.9, batch 256, 50 epochs, a plateau scheduler on validation accuracy
# (factor 0.1, PyTorch's default patience 10; its log cuts the rate at
# epoch 20). Keras cuts one epoch sooner for the same patience: ours is
# 11. `head` reuses `fc2`'s dropout and the output layer (the *same
# objects*): training it trains `small_model`.

# %%
extractor = keras.Model(small_model.input, small_model.get_layer("fc2").output, name="frozen_extractor")
with Stopwatch() as pass_watch:
    train_features = extractor.predict(images(x_train), verbose=0)
valid_features = extractor.predict(images(x_valid), verbose=0)
print(f"features: train {train_features.shape}, validation {valid_features.shape}, "
      f"{train_features.nbytes / 1e6:,.1f} MB")


def head_of(model):
    """fc2's dropout and the output layer of `model` as a model of their own, taking fc2's output."""
    fc2_output = keras.Input(model.get_layer("fc2").output.shape[1:], name="fc2_output")
    x = model.get_layer("fc2_dropout")(fc2_output)
    return keras.Model(fc2_output, model.get_layer("output")(x), name="head")


head = head_of(small_model)
compile_for_training(head, cfg.learning_rate)
head_timer = EpochTimer()
history_head = head.fit(train_features, y_train, batch_size=cfg.batch_size, shuffle=True,
                        validation_data=(valid_features, y_valid), epochs=cfg.epochs,
                        callbacks=training_callbacks(head_timer), verbose=2)
pass_s = course_utils.record("feature_pass_s", pass_watch.seconds, unit="s",
                             note=f"the frozen extractor over {len(x_train):,} training images, once")
head_epoch_s = course_utils.record("head_epoch_s", head_timer.steady, unit="s", note="an epoch on the features")
print(f"profile {cfg.profile}: one pass of the images through the frozen layers {pass_s:.1f} s; "
      f"an epoch on the features {head_epoch_s:.2f} s")

# %% [markdown]
# The proof that both ways train one model: `small_model` on validation
# *images* gives the same logits as `head` on their *features*.

# %%
on_images = small_model.predict(images(x_valid), verbose=0)
on_features = head.predict(valid_features, verbose=0)
logit_gap = float(np.max(np.abs(on_images - on_features)) / np.max(np.abs(on_images)))
course_utils.record("features_logit_rel_diff", logit_gap,
                    note="small_model on images vs head on features, relative to the largest logit")
course_utils.record("train_feature_rows", len(train_features), note="one per training image")
head_accuracy = course_utils.record(
    "head_test_accuracy", accuracy_score(y_test, small_model.predict(images(x_test), verbose=0).argmax(axis=1)),
    note=f"{cfg.small_size}x{cfg.small_size}, the output layer alone, {cfg.epochs} epochs on features, "
         f"{len(x_test):,} test images")
print("the same output layer:", head.get_layer("output") is small_model.get_layer("output"))
print(f"largest logit difference, images vs features: {logit_gap:.1e} of the largest logit")
print(f"profile {cfg.profile}: test accuracy {head_accuracy:.1%} with the output layer alone")
del on_images, on_features, train_features, valid_features

# %% [markdown]
# ## 8. Then fine-tuning: fc1 and fc2 join
# The head now gives small errors, so `fc1` and `fc2` may follow: let the
# three layers train, prove it by counts, **recompile** at a tenth of the
# learning rate, and go on from where the head stopped. The dropout after
# `fc1` now runs before a trainable layer, so this phase trains on images.

# %%
train_only(small_model, ["fc1", "fc2", "output"])
report = models.trainable_report(small_model)
trainable = report.set_index("layer")["trainable_params"]
for name, key in [("vgg16", "base"), ("fc1", "fc1"), ("fc2", "fc2"), ("output", "output")]:
    course_utils.record(f"trainable_params_{key}", int(trainable[name]))
assert trainable["vgg16"] == 0
assert trainable["fc1"] == 25088 * 4096 + 4096 and trainable["fc2"] == 4096 * 4096 + 4096
print(models.summarize_trainable(small_model))

before = {name: [w.copy() for w in small_model.get_layer(name).get_weights()] for name in ("vgg16", "fc1", "fc2")}
compile_for_training(small_model, cfg.fine_tune_learning_rate)
fine_timer = EpochTimer()
# Keras 3.15+ warns "`shuffle=True` was passed, but will be ignored": shuffle=True is fit's default, and
# images(..., shuffle=True) has already shuffled the training set. Nothing is lost.
history_fine = small_model.fit(images(x_train, y_train, shuffle=True), validation_data=images(x_valid, y_valid),
                               initial_epoch=cfg.epochs, epochs=cfg.epochs + cfg.fine_tune_epochs,
                               callbacks=training_callbacks(fine_timer), verbose=2)
val_before = course_utils.record("val_accuracy_before_fine_tuning", history_head.history["val_accuracy"][-1],
                                 note=f"after {cfg.epochs} epochs of the output layer alone")
val_after = course_utils.record("val_accuracy_after_fine_tuning", history_fine.history["val_accuracy"][-1],
                                note=f"after {cfg.fine_tune_epochs} more with fc1 and fc2 "
                                     f"(learning rate {cfg.fine_tune_learning_rate})")
fine_epoch_s = course_utils.record("fine_tune_epoch_s", fine_timer.steady, unit="s",
                                   note=f"{len(x_train):,} images at {cfg.small_size}x{cfg.small_size}, end to end"
                                        + ("" if cfg.fine_tune_epochs > 1 else ", graph tracing included"))
print(f"profile {cfg.profile}: validation accuracy {val_before:.1%} before fine-tuning, {val_after:.1%} after; "
      f"an epoch on images {fine_epoch_s:.1f} s")

# %% [markdown]
# The counts said which weights *may* train; before and after, which *did*:

# %%
changes = {name: float(max(np.max(np.abs(a - b)) for a, b in zip(old, small_model.get_layer(name).get_weights())))
           for name, old in before.items()}
for name, key in [("vgg16", "base"), ("fc1", "fc1"), ("fc2", "fc2")]:
    course_utils.record(f"{key}_weight_change", changes[name])
    print(f"  {name:6s} largest weight change during fine-tuning: {changes[name]:.3g}")
del before
gc.collect();

# %% [markdown]
# ## 9. Evaluation beyond accuracy
# Softmax turns `predict`'s logits into probabilities: the largest is the
# prediction, its value the confidence. scikit-learn's confusion matrix
# (rows: true class, each normalised to sum to 1) holds the accuracy per
# class on its diagonal.

# %%
probabilities = tf.nn.softmax(small_model.predict(images(x_test), verbose=0)).numpy()
predicted = probabilities.argmax(axis=1)
confidence = probabilities.max(axis=1)
small_accuracy = course_utils.record("small_test_accuracy", accuracy_score(y_test, predicted),
                                     note=f"{cfg.small_size}x{cfg.small_size}, {cfg.epochs} epochs head first, then "
                                          f"{cfg.fine_tune_epochs} with fc1/fc2, {len(x_test):,} test images")
labels = list(range(cfg.num_classes))
per_class = confusion_matrix(y_test, predicted, labels=labels, normalize="true").diagonal()
course_utils.record("small_per_class_accuracy", dict(zip(CLASS_NAMES, per_class.round(4).tolist())))
print(f"profile {cfg.profile}: test accuracy {small_accuracy:.1%} after fine-tuning (chance: {1 / cfg.num_classes:.0%})")
display = ConfusionMatrixDisplay.from_predictions(y_test, predicted, labels=labels, display_labels=CLASS_NAMES,
                                                  normalize="true", values_format=".2f", xticks_rotation=45,
                                                  colorbar=False)
display.ax_.set_title(f"{cfg.profile} profile, {cfg.small_size}x{cfg.small_size}: test confusion matrix")
display.figure_.set_size_inches(7, 7)
pd.DataFrame({"accuracy": per_class, "test images": np.bincount(y_test, minlength=cfg.num_classes)},
             index=CLASS_NAMES).round(3).T

# %%
plots.plot_misclassified(x_test, y_test, predicted, confidence, CLASS_NAMES,
                         title=f"{cfg.profile} profile, {cfg.small_size}x{cfg.small_size}: "
                               f"{int((predicted != y_test).sum())} of {len(y_test)} test images wrong; "
                               "predicted (true), most confident first");

# %% [markdown]
# ## 10. What freezing saves
# The lecture timed its frozen run (which trained the output layer alone)
# against a VGG16 trained from scratch. We time a few steps on one batch
# in each state, recompiled (a frozen layer runs forward, with no gradient
# and no update); the fastest step times the steps per epoch is the
# estimate.

# %%
batch_x = preprocess(x_train[:cfg.batch_size].astype("float32"))
batch_y = y_train[:cfg.batch_size]
steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
train_only(small_model, ["output"])
compile_for_training(small_model, cfg.learning_rate)
frozen_step = vgg16_bridge.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)
for layer in small_model.layers:
    layer.trainable = True
compile_for_training(small_model, cfg.learning_rate)
print(models.summarize_trainable(small_model))
full_step = vgg16_bridge.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)

note = f"fastest of {cfg.timing_steps} steps of batch {cfg.batch_size} x {steps_per_epoch} steps per epoch"
frozen_epoch_s = course_utils.record("frozen_epoch_s", frozen_step * steps_per_epoch, unit="s", note=note)
course_utils.record("full_epoch_s", full_step * steps_per_epoch, unit="s", note=note)
device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
ratio = course_utils.record("frozen_vs_full_epoch_ratio", frozen_step / full_step,
                            note=f"{cfg.small_size}x{cfg.small_size} on the {device}")
# The lecture, 50 epochs each: "it took 38 minutes" frozen; "from scratch, it was 90 minutes".
lecture_minutes = {"frozen": 38, "from scratch": 90}
print(f"profile {cfg.profile}: {frozen_step:.2f} s per step frozen, {full_step:.2f} s all trainable -> ratio "
      f"{ratio:.2f} (the lecture: {lecture_minutes['frozen']} / {lecture_minutes['from scratch']} min = "
      f"{lecture_minutes['frozen'] / lecture_minutes['from scratch']:.2f})")

small_cost = vgg16_bridge.multiply_adds(small_model)
histories = {f"{cfg.small_size}x{cfg.small_size}": {key: history_head.history[key] + history_fine.history[key]
                                                      for key in ("accuracy", "loss", "val_accuracy", "val_loss")}}
del small_model, head, extractor, history_head, history_fine, head_timer, fine_timer, batch_x
gc.collect();

# %% [markdown]
# ## 11. The lecture's 64x64 crops
# The lecture's notebook (the run of "it's only 77%") resized the images to 70x70 and trained on **random**
# 64x64 crops (testing on the central crop), the output layer alone.
# Random crops change what the frozen layers see every epoch, so features
# computed once do not apply: this run trains on images.

# %%
def crops(x, y, training):
    """The lecture's recipe: resize to 70, then a random 64x64 crop (training) or the central one."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        dataset = dataset.shuffle(len(x), seed=cfg.seed)

    def prepare(image, label):
        image = tf.image.resize(tf.cast(image, tf.float32), (cfg.crop_resize, cfg.crop_resize))
        if training:
            image = tf.image.random_crop(image, (cfg.crop_size, cfg.crop_size, 3))
        else:
            image = tf.image.resize_with_crop_or_pad(image, cfg.crop_size, cfg.crop_size)
        return preprocess(image), label

    return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE)


crop_model = build_model(cfg.crop_size, source)
train_only(crop_model, ["output"])
print(models.summarize_trainable(crop_model))
compile_for_training(crop_model, cfg.learning_rate)
crop_timer = EpochTimer()
x_crop, y_crop = x_train[:cfg.crop_train_limit], y_train[:cfg.crop_train_limit]
history_crop = crop_model.fit(crops(x_crop, y_crop, training=True),
                              validation_data=crops(x_valid, y_valid, training=False),
                              epochs=cfg.crop_epochs, callbacks=training_callbacks(crop_timer), verbose=2)
x_crop_test, y_crop_test = x_test[:cfg.crop_test_limit], y_test[:cfg.crop_test_limit]
crop_predicted = crop_model.predict(crops(x_crop_test, y_crop_test, training=False), verbose=0).argmax(axis=1)
crop_accuracy = course_utils.record("crop_test_accuracy", accuracy_score(y_crop_test, crop_predicted),
                                    note=f"70 -> random crop {cfg.crop_size} (test: central crop), the output layer "
                                         f"alone, {cfg.crop_epochs} epoch(s), {len(x_crop):,} train / "
                                         f"{len(x_crop_test):,} test images")
crop_epoch_s = course_utils.record("crop_epoch_s", crop_timer.steady, unit="s",
                                   note=f"{len(x_crop):,} images per epoch, on images"
                                        + ("" if cfg.crop_epochs > 1 else ", graph tracing included"))
print(f"profile {cfg.profile}: test accuracy {crop_accuracy:.1%} with 64x64 crops, {crop_epoch_s:.1f} s per epoch")
crop_history = history_crop.history
del crop_model, history_crop, crop_timer
gc.collect();

# %% [markdown]
# ## 12. Upsampled to 224x224
# The lecture's explanation for its small-image result: ImageNet filters
# learnt objects that fill 224x224 images. Upsampling adds no information
# but makes objects the size the filters know, for more
# convolution work (counted below). Its 224x224 run trained the output layer alone too, so
# section 7's recipe applies. Without a GPU one pass over the training
# images takes hours: `features.cached_predict` runs that `predict` once
# and keeps the result on disk.

# %%
large_model = build_model(cfg.large_size, source)
del source  # fc1 and fc2 are copied: the 138-million-parameter source can go
gc.collect()
train_only(large_model, ["output"])
print(models.summarize_trainable(large_model))
course_utils.record("feature_map_large", list(large_model.get_layer("vgg16").output.shape[1:]))
course_utils.record("bridge_output_large", list(large_model.get_layer("bridge").output.shape[1:]))
large_extractor = keras.Model(large_model.input, large_model.get_layer("fc2").output, name="frozen_extractor")

x_large, y_large = x_train[:cfg.large_train_limit], y_train[:cfg.large_train_limit]
x_large_valid, y_large_valid = x_valid[:cfg.large_test_limit], y_valid[:cfg.large_test_limit]
x_large_test, y_large_test = x_test[:cfg.large_test_limit], y_test[:cfg.large_test_limit]
cached = {}
for split, x, y in [("train", x_large, y_large), ("validation", x_large_valid, y_large_valid),
                    ("test", x_large_test, y_large_test)]:
    cached[split], kept_labels = features.cached_predict(
        large_extractor, images(x, y, size=cfg.large_size),
        key=f"CIFAR-10 {cfg.profile} profile, {split}: the first {len(x):,} images, "
            f"{cfg.large_size}x{cfg.large_size} bilinear, vgg16.preprocess_input")
    assert np.array_equal(kept_labels, y), f"the cached {split} labels are not this run's"
course_utils.record("large_feature_bytes", cached["train"].nbytes + cached["validation"].nbytes, unit="B",
                    note=f"float32, {len(x_large) + len(x_large_valid):,} images")

large_head = head_of(large_model)
compile_for_training(large_head, cfg.learning_rate)
large_timer = EpochTimer()
history_large = large_head.fit(cached["train"], y_large, batch_size=cfg.batch_size, shuffle=True,
                               validation_data=(cached["validation"], y_large_valid), epochs=cfg.large_epochs,
                               callbacks=training_callbacks(large_timer), verbose=2)

check = min(4, len(x_large_valid))
on_images = large_model.predict(images(x_large_valid[:check], size=cfg.large_size), verbose=0)
on_features = large_head.predict(cached["validation"][:check], verbose=0)
large_gap = course_utils.record("large_features_logit_rel_diff",
                                float(np.max(np.abs(on_images - on_features)) / np.max(np.abs(on_images))),
                                note="large_model on images vs large_head on cached features")
large_predicted = large_head.predict(cached["test"], verbose=0).argmax(axis=1)
large_accuracy = course_utils.record("large_test_accuracy", accuracy_score(y_large_test, large_predicted),
                                     note=f"{cfg.large_size}x{cfg.large_size}, the output layer alone, "
                                          f"{cfg.large_epochs} epoch(s) on features, {len(x_large):,} train / "
                                          f"{len(x_large_test):,} test images")
print(f"logits on cached features differ by {large_gap:.1e} of the largest")
print(f"profile {cfg.profile}: test accuracy {large_accuracy:.1%} at {cfg.large_size}x{cfg.large_size}")

large_cost = vgg16_bridge.multiply_adds(large_model)
print(f"convolution work per image: {large_cost['convolutions'] / small_cost['convolutions']:.0f} times that at "
      f"{cfg.small_size}x{cfg.small_size}")
histories[f"{cfg.crop_size}x{cfg.crop_size} crops"] = crop_history
histories[f"{cfg.large_size}x{cfg.large_size}"] = history_large.history
pd.DataFrame({f"{cfg.small_size}x{cfg.small_size}": small_cost, f"{cfg.large_size}x{cfg.large_size}": large_cost}
             ).rename_axis("multiply-adds per image").map("{:,}".format)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l06-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import keras
import numpy as np

from course_exercises.lesson06 import ex1, ex2, ex3, transfer_model

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: fc1 without the bridge
# Without the bridge, `fc1` (4,096 units) sits on the flattened last feature
# map. Build `vgg16_32`, VGG16 without its top for 32x32 inputs (random
# weights), and set `fc1_params` to `fc1`'s number of parameters, worked
# out from `vgg16_32`'s output shape.

# %% nbgrader={"grade": false, "grade_id": "l06-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
vgg16_32 = None
fc1_params = None
### BEGIN SOLUTION
vgg16_32 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
h, w, c = vgg16_32.output.shape[1:]   # 1, 1, 512
fc1_params = (h * w * c) * 4096 + 4096
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(fc1_params, vgg16_32)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: retrain the classifier, the Keras way
# `transfer` is the transfer model with every layer trainable. Freeze
# everything, let `fc1`, `fc2` and `output` train again, and set
# `trainable_params` from the model.

# %% nbgrader={"grade": false, "grade_id": "l06-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
transfer = transfer_model()
trainable_params = None
### BEGIN SOLUTION
for layer in transfer.layers:
    layer.trainable = False
for name in ("fc1", "fc2", "output"):
    transfer.get_layer(name).trainable = True
trainable_params = int(sum(np.prod(w.shape) for w in transfer.trainable_weights))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(trainable_params, transfer)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: a head for any input size
# Build `any_size`: VGG16 without its top (random weights) and a 10-way
# head, such that the same weights work on 32x32 and on 64x64 images.

# %% nbgrader={"grade": false, "grade_id": "l06-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
any_size = None
### BEGIN SOLUTION
any_base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
pooled = keras.layers.GlobalAveragePooling2D()(any_base.output)
hidden = keras.layers.Dense(256, activation="relu")(pooled)
any_size = keras.Model(any_base.input, keras.layers.Dense(10)(hidden))
print(any_size(np.zeros((1, 32, 32, 3))).shape, any_size(np.zeros((1, 64, 64, 3))).shape)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(any_size)

# %% [markdown]
# ## Ours beside the original lesson
# The 32x32 run's two phases on one curve, the crop and 224x224 runs, then
# each figure the lecture reported beside ours, the profile that made
# ours, and whether the two compare like for like.

# %%
small_name = f"{cfg.small_size}x{cfg.small_size}"
fig = plots.plot_history({small_name: histories.pop(small_name)}, phase_boundary=cfg.epochs,
                         title=f"Lesson 06 ({cfg.profile} profile), {small_name}: the output layer alone "
                               f"on features, then fc1/fc2 too on images")
course_utils.record_figure(fig)
plots.plot_history(histories, title=f"Lesson 06 ({cfg.profile} profile): the output layer alone, the lecture's recipe");

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - Use the preprocessing of the weights: `vgg16.preprocess_input`, not
#   torchvision's mean and std.
# - Pretrained dense layers need features of the shape they learnt: the
#   bridge (for a new head, global pooling).
# - After every freezing step, *count* what trains: the lecture's
#   misplaced flag raised no error.
# - A new layer trains first, alone; pretrained layers join after a
#   recompile, at a lower learning rate.
# - Frozen layers with nothing random in them give the same features every
#   epoch: `predict` once, `fit` on the features. Random crops rule it out.
# - Accuracy hides which classes fail: read the confusion matrix.
# - How many layers to retrain depends on the task: the output layer, the
#   last three, or all.
