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
# VGG16 with its ImageNet weights, its 13 convolutional layers frozen, its
# `fc1` and `fc2` retrained from their pretrained weights, a new 10-way
# output layer for CIFAR-10. Also: the preprocessing the weights expect,
# the "bridge" that lets `fc1` see small images, the lecture's freezing
# bug, fast feature extraction, a confusion matrix and the model's
# mistakes, and three input sizes.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE`, else `"full"`: real CIFAR-10,
# ImageNet weights and the lecture's 50 epochs per run, hours without a GPU
# (Colab: *Runtime → Change runtime type*). Lower the epochs if you must,
# and say so when you compare. `"quick"` runs offline in about a minute;
# its numbers only prove the code.

# %% tags=["parameters"]
PROFILE = None            # "full" (CIFAR-10, ImageNet weights) or "quick" (offline, about a minute)
EPOCHS = None             # epochs of the 32x32 run (full: 50): the first on images, the rest on features
CROP_EPOCHS = None        # epochs of the lecture's 64x64-crop run (full: 50), all on images
LARGE_EPOCHS = None       # epochs of the 224x224 run (full: 50): the first on images, the rest on features
BATCH_SIZE = None         # full: 256, the lecture's
LARGE_SIZE = None         # input size of the upsampled run (full: 224)
LARGE_TRAIN_LIMIT = None  # train the upsampled run on the first N training images only (None: all)
LEARNING_RATE = None      # SGD learning rate (full: 0.01, the lecture's)
CIFAR10_ARCHIVE = None    # path to a cifar-10-python.tar.gz you already have (then nothing is downloaded)

# %% [markdown]
# On **Colab**, the next cell installs `course_utils` (it does nothing anywhere else).

# %%
# Google Colab only: install course_utils and the tf-keras that matches Colab's TensorFlow.
# Anywhere else this cell does nothing.
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
    if "tensorflow" in sys.modules:
        print("TensorFlow was imported before this cell ran: use Runtime > Restart session, "
              "then run the notebook from the top (Keras 2 must be chosen before TensorFlow loads).")

# %% [markdown]
# ## Setup
# `TF_USE_LEGACY_KERAS=1` comes before TensorFlow is imported (Keras 2 API).
# `start_lesson` resolves the profile, points the Keras cache at `data/`,
# seeds everything and prints what runs.

# %%
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import gc
import math

import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix
from tensorflow.keras import layers
from tensorflow.keras.applications import vgg16

import course_utils
from course_utils.data import cifar
from course_utils import models
from course_utils.show import plots
from course_utils.models import vgg16_bridge, weights
from course_utils.show.timing import EpochTimer

cfg = course_utils.start_lesson(
    "06", PROFILE, epochs=EPOCHS, crop_epochs=CROP_EPOCHS, large_epochs=LARGE_EPOCHS, batch_size=BATCH_SIZE,
    large_size=LARGE_SIZE, large_train_limit=LARGE_TRAIN_LIMIT, learning_rate=LEARNING_RATE,
)
tf.get_logger().setLevel("ERROR")  # quiet the retracing warnings: this lesson builds several models on purpose
CLASS_NAMES = cifar.CLASS_NAMES

# %% [markdown]
# ## 1. The data
# CIFAR-10 (32x32 colour images, 10 classes) is loaded with
# `tf.keras.datasets.cifar10.load_data()`. In the full profile `cifar.load`
# calls it once the archive is downloaded and verified (offline, set
# `CIFAR10_ARCHIVE`); in the quick profile it returns generated stand-ins
# the same way. As in the lecture, the last 10% of the
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
# On CIFAR-10 the two mean pixels differ by a few units on a scale of ±130,
# a constant shift, and the lecture saw no difference in accuracy. If your
# images differ systematically from ImageNet's (darker, less colourful), try
# both.

# %%
preprocess = vgg16.preprocess_input

# %% [markdown]
# ## 3. The pretrained VGG16 and its classifier
# VGG16 *with its top* holds the `fc1` and `fc2` we reuse. Its last pooling
# layer gives 7x7x512 features; `Flatten` makes 25,088 numbers of them, one
# weight each in `fc1`.

# %%
top_weights = weights.pretrained("vgg16", cfg.source)  # a verified file, or None (random init)
source = vgg16.VGG16(include_top=True, weights=top_weights)
print("input:", source.input_shape)
for layer in source.layers[-5:]:
    print(f"  {layer.name:12s} output {str(layer.output_shape):20s} {layer.count_params():>12,} parameters")

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
# The base is VGG16 *without* its top, built for our input size (the quick
# profile's is a random stand-in, not ImageNet). On top: the bridge,
# `Flatten`, `fc1` and `fc2` with torchvision's dropout, and a **new** 10-way
# output layer. Then the pretrained `fc1` and `fc2` weights are copied in.
# One function builds each run's model.

# %%
base_weights = weights.pretrained("vgg16_notop", cfg.source)  # a verified ImageNet file, or the stand-in
# Seed here, just before the new layers get their starting weights: the run then starts the same
# whether the base's weights were downloaded (or built) just now or were already on disk.
tf.keras.utils.set_random_seed(cfg.seed)


def build_model(size, source):
    """VGG16's convolutions for size x size inputs, the bridge, fc1/fc2 copied from `source`, a new output layer."""
    conv_base = vgg16.VGG16(include_top=False, weights=base_weights, input_shape=(size, size, 3))
    inputs = tf.keras.Input((size, size, 3), name="image")
    x = conv_base(inputs)                                                # 1x1x512 at 32x32
    x = vgg16_bridge.AdaptiveAveragePooling2D(7, name="bridge")(x)     # 7x7x512, as in PyTorch
    x = layers.Flatten(name="flatten")(x)                                # 25,088 numbers
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5, name="fc1_dropout")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    x = layers.Dropout(0.5, name="fc2_dropout")(x)
    outputs = layers.Dense(cfg.num_classes, name="output")(x)            # the new 10-way layer
    model = tf.keras.Model(inputs, outputs, name=f"vgg16_cifar10_{size}")
    for name in ("fc1", "fc2"):
        model.get_layer(name).set_weights(source.get_layer(name).get_weights())
    return model


small_model = build_model(cfg.small_size, source)
copy_gap = max(float(np.max(np.abs(ours - pretrained))) for name in ("fc1", "fc2")
               for ours, pretrained in zip(small_model.get_layer(name).get_weights(), source.get_layer(name).get_weights()))
print("feature map:", small_model.get_layer("vgg16").output_shape, "-> bridge:", small_model.get_layer("bridge").output_shape)
print(f"largest difference between our fc1/fc2 and the pretrained ones: {copy_gap}")
course_utils.record("feature_map_small", list(small_model.get_layer("vgg16").output_shape[1:]))
course_utils.record("bridge_output_small", list(small_model.get_layer("bridge").output_shape[1:]))
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
# Only the new output layer would train: the lecture's 77.99% and 84.9%
# came from it alone. In Keras the switch is `layer.trainable`. Done right,
# with the counts that prove it:

# %%
def retrain_classifier_only(model):
    """Freeze everything, then let fc1, fc2 and the new output layer train."""
    for layer in model.layers:
        layer.trainable = False
    for name in ("fc1", "fc2", "output"):
        model.get_layer(name).trainable = True


retrain_classifier_only(small_model)
report = models.trainable_report(small_model)
trainable = report.set_index("layer")["trainable_params"]
for name, key in [("vgg16", "base"), ("fc1", "fc1"), ("fc2", "fc2"), ("output", "output")]:
    course_utils.record(f"trainable_params_{key}", int(trainable[name]))
assert trainable["vgg16"] == 0
assert trainable["fc1"] == 25088 * 4096 + 4096 and trainable["fc2"] == 4096 * 4096 + 4096
assert trainable["output"] == 4096 * cfg.num_classes + cfg.num_classes
print(models.summarize_trainable(small_model))
report

# %% [markdown]
# ## 7. One epoch on images, the lecture's way
# The lecture: SGD (learning rate 0.01, momentum 0.9),
# `ReduceLROnPlateau(factor=0.1, mode="max")` on validation accuracy
# (patience 10), batch 256, 50 epochs; Keras spells it below (older code
# wrote `lr=`, which current optimizers ignore). `trainable` takes effect at
# `compile`. The first epoch trains end to end on images, timed.

# %%
def compile_for_training(model, optimizer=None):
    model.compile(
        optimizer=optimizer or tf.keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def training_callbacks(timer):
    return [tf.keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=cfg.plateau_factor,
                                                 patience=cfg.plateau_patience, verbose=1),
            tf.keras.callbacks.TerminateOnNaN(), timer]


def images(x, y=None, size=cfg.small_size, shuffle=False):
    """Batches of resized, preprocessed images (with their labels when given)."""
    return cifar.image_dataset(x, y, image_size=size, batch_size=cfg.batch_size, preprocess=preprocess,
                               shuffle=shuffle, seed=cfg.seed)


compile_for_training(small_model)
before = {name: [w.copy() for w in small_model.get_layer(name).get_weights()] for name in ("vgg16", "fc1", "fc2")}
image_timer = EpochTimer()
history_images = small_model.fit(images(x_train, y_train, shuffle=True), validation_data=images(x_valid, y_valid),
                                 epochs=1, callbacks=training_callbacks(image_timer), verbose=2)
small_epoch_s = course_utils.record("small_epoch_s", image_timer.times[0], unit="s",
                                    note=f"{len(x_train):,} images at {cfg.small_size}x{cfg.small_size}, "
                                         "end to end, graph tracing included")

# %% [markdown]
# ## 8. Fast feature extraction
# That epoch ran every image through the frozen convolutions, which return
# the same numbers every epoch: nothing random runs before them (the
# dropout comes after `fc1` and `fc2`). So `predict` their output once and
# `fit` the layers after the base on it: the same model, at the cost of its
# dense layers only.
#
# `classifier` is those layers called on a new input: the *same layer
# objects*, so training it trains `small_model`. It keeps `small_model`'s
# optimizer (momentum and learning rate carry on) for epochs 2 onwards.

# %%
conv_base = small_model.get_layer("vgg16")
train_features = conv_base.predict(images(x_train), verbose=0)
valid_features = conv_base.predict(images(x_valid), verbose=0)
print(f"features: train {train_features.shape}, validation {valid_features.shape}, "
      f"{train_features.nbytes / 1e6:,.1f} MB")


def classifier_of(model):
    """The layers after the convolutional base as a model of their own, taking the base's features."""
    base = model.get_layer("vgg16")
    features = tf.keras.Input(base.output_shape[1:], name="features")
    x = features
    for layer in model.layers[model.layers.index(base) + 1:]:
        x = layer(x)
    return tf.keras.Model(features, x, name="classifier")


classifier = classifier_of(small_model)
compile_for_training(classifier, optimizer=small_model.optimizer)
feature_timer = EpochTimer()
history_features = classifier.fit(train_features, y_train, batch_size=cfg.batch_size, shuffle=True,
                                  validation_data=(valid_features, y_valid), initial_epoch=1, epochs=cfg.epochs,
                                  callbacks=training_callbacks(feature_timer), verbose=2)
small_feature_epoch_s = course_utils.record(
    "small_feature_epoch_s", feature_timer.steady, unit="s",
    note="an epoch on the features" + ("" if len(feature_timer.times) > 1 else ", graph tracing included"))
print(f"profile {cfg.profile}: an epoch on images {small_epoch_s:.1f} s, on features {small_feature_epoch_s:.1f} s")

# %% [markdown]
# The proof that both ways train one model: `small_model` on validation
# *images* gives the same logits as `classifier` on their *features*.

# %%
on_images = small_model.predict(images(x_valid), verbose=0)
on_features = classifier.predict(valid_features, verbose=0)
logit_gap = float(np.max(np.abs(on_images - on_features)) / np.max(np.abs(on_images)))
course_utils.record("features_logit_rel_diff", logit_gap,
                    note="small_model on images vs classifier on features, relative to the largest logit")
course_utils.record("train_feature_rows", len(train_features), note="one per training image")
print("the same fc1:", classifier.get_layer("fc1") is small_model.get_layer("fc1"))
print(f"largest logit difference, images vs features: {logit_gap:.1e} of the largest logit")

# %% [markdown]
# The counts said which weights *may* train; before and after, which *did*:

# %%
changes = {name: float(max(np.max(np.abs(a - b)) for a, b in zip(old, small_model.get_layer(name).get_weights())))
           for name, old in before.items()}
for name, key in [("vgg16", "base"), ("fc1", "fc1"), ("fc2", "fc2")]:
    course_utils.record(f"{key}_weight_change", changes[name])
    print(f"  {name:6s} largest weight change during training: {changes[name]:.3g}")
del before, train_features, valid_features, on_images, on_features
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
                                     note=f"{cfg.small_size}x{cfg.small_size}, {cfg.epochs} epochs "
                                          f"(1 on images), {len(x_test):,} test images")
labels = list(range(cfg.num_classes))
per_class = confusion_matrix(y_test, predicted, labels=labels, normalize="true").diagonal()
course_utils.record("small_per_class_accuracy", dict(zip(CLASS_NAMES, per_class.round(4).tolist())))
print(f"profile {cfg.profile}: test accuracy {small_accuracy:.1%} (chance: {1 / cfg.num_classes:.0%})")
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
# The lecture: 38 minutes for 50 epochs frozen, 90 from scratch. We time a
# few steps on one batch, frozen, then all trainable (recompiled): a frozen
# layer runs forward but needs no gradient and no update. The fastest step
# times the steps of an epoch is the estimate.

# %%
batch_x = preprocess(x_train[:cfg.batch_size].astype("float32"))
batch_y = y_train[:cfg.batch_size]
steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
frozen_step = vgg16_bridge.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)
for layer in small_model.layers:
    layer.trainable = True
compile_for_training(small_model)
print(models.summarize_trainable(small_model))
full_step = vgg16_bridge.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)

note = f"fastest of {cfg.timing_steps} steps of batch {cfg.batch_size} x {steps_per_epoch} steps per epoch"
frozen_epoch_s = course_utils.record("frozen_epoch_s", frozen_step * steps_per_epoch, unit="s", note=note)
course_utils.record("full_epoch_s", full_step * steps_per_epoch, unit="s", note=note)
device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
ratio = course_utils.record("frozen_vs_full_epoch_ratio", frozen_step / full_step,
                            note=f"{cfg.small_size}x{cfg.small_size} on the {device}")
print(f"profile {cfg.profile}: {frozen_step:.2f} s per step frozen, {full_step:.2f} s all trainable "
      f"-> ratio {ratio:.2f} (the lecture: 38 / 90 = 0.42)")

small_cost = vgg16_bridge.multiply_adds(small_model)
histories = {f"{cfg.small_size}x{cfg.small_size}": {key: history_images.history[key] + history_features.history[key]
                                                      for key in history_images.history}}
del small_model, classifier, conv_base, history_images, history_features, image_timer, feature_timer, batch_x
gc.collect();

# %% [markdown]
# ## 11. The lecture's recipe: 64x64 crops, end to end
# The lecture's code resized the images to 70x70 and trained on **random**
# 64x64 crops (testing on the central crop). Random crops change the
# convolutions' output every epoch, so fast feature extraction does not
# apply: this run trains end to end. It is the one to set beside the
# lecture's 77.99%.

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
retrain_classifier_only(crop_model)
print(models.summarize_trainable(crop_model))
compile_for_training(crop_model)
crop_timer = EpochTimer()
x_crop, y_crop = x_train[:cfg.crop_train_limit], y_train[:cfg.crop_train_limit]
history_crop = crop_model.fit(crops(x_crop, y_crop, training=True),
                              validation_data=crops(x_valid, y_valid, training=False),
                              epochs=cfg.crop_epochs, callbacks=training_callbacks(crop_timer), verbose=2)
x_crop_test, y_crop_test = x_test[:cfg.crop_test_limit], y_test[:cfg.crop_test_limit]
crop_predicted = crop_model.predict(crops(x_crop_test, y_crop_test, training=False), verbose=0).argmax(axis=1)
crop_accuracy = course_utils.record("crop_test_accuracy", accuracy_score(y_crop_test, crop_predicted),
                                    note=f"70 -> random crop {cfg.crop_size} (test: central crop), "
                                         f"{cfg.crop_epochs} epoch(s), {len(x_crop):,} train / {len(x_crop_test):,} test images")
crop_epoch_s = course_utils.record("crop_epoch_s", crop_timer.steady, unit="s",
                                   note=f"{len(x_crop):,} images per epoch, end to end"
                                        + ("" if cfg.crop_epochs > 1 else ", graph tracing included"))
print(f"profile {cfg.profile}: test accuracy {crop_accuracy:.1%} with 64x64 crops, {crop_epoch_s:.1f} s per epoch")
histories[f"{cfg.crop_size}x{cfg.crop_size} crops"] = history_crop.history
del crop_model, history_crop, crop_timer
gc.collect();

# %% [markdown]
# ## 12. Upsampled to 224x224
# The lecture's explanation for about 78%: ImageNet filters learnt objects
# that fill 224x224 images. Upsampling adds no information but makes
# objects the size the filters know, for 49 times the convolution work.
# The same steps: one epoch on images, then features.
#
# **Memory.** At 224x224 the base gives 7x7x512 floats per image, and `fc1`
# consumes them all: no smaller cut. As float32 the training features would
# crowd a 12 GB Colab, so we `predict` in chunks and keep **float16** (half
# the memory; sizes and logit shift printed below). Still too much? Set
# `LARGE_TRAIN_LIMIT`.

# %%
large_model = build_model(cfg.large_size, source)
del source  # fc1 and fc2 are copied: the 138-million-parameter source can go
gc.collect()
retrain_classifier_only(large_model)
print(models.summarize_trainable(large_model))
course_utils.record("feature_map_large", list(large_model.get_layer("vgg16").output_shape[1:]))
course_utils.record("bridge_output_large", list(large_model.get_layer("bridge").output_shape[1:]))
side = vgg16_bridge.feature_map_size(cfg.large_size)
per_image = side * side * 512 * 4  # an n x n x 512 map of float32 (4 bytes)
print(f"base features per image: {per_image / 1e3:.0f} KB as float32; for the 50,000 CIFAR-10 training "
      f"images {per_image * 50_000 / 1e9:.1f} GB")

x_large, y_large = x_train[:cfg.large_train_limit], y_train[:cfg.large_train_limit]
x_large_valid, y_large_valid = x_valid[:cfg.large_test_limit], y_valid[:cfg.large_test_limit]
compile_for_training(large_model)
large_timer = EpochTimer()
history_large_images = large_model.fit(images(x_large, y_large, cfg.large_size, shuffle=True),
                                       validation_data=images(x_large_valid, y_large_valid, cfg.large_size),
                                       epochs=1, callbacks=training_callbacks(large_timer), verbose=2)
large_epoch_s = course_utils.record("large_epoch_s", large_timer.times[0], unit="s",
                                    note=f"{len(x_large):,} images at {cfg.large_size}x{cfg.large_size}, "
                                         "end to end, graph tracing included")

# %%
def predict_features(conv_base, x, size, chunk=2048):
    """conv_base.predict over x, chunk by chunk, stored as float16."""
    features = np.empty((len(x), *conv_base.output_shape[1:]), dtype="float16")
    for start in range(0, len(x), chunk):
        features[start:start + chunk] = conv_base.predict(images(x[start:start + chunk], size=size), verbose=0)
    return features


large_base = large_model.get_layer("vgg16")
large_train_features = predict_features(large_base, x_large, cfg.large_size)
large_valid_features = predict_features(large_base, x_large_valid, cfg.large_size)
course_utils.record("large_feature_bytes", large_train_features.nbytes + large_valid_features.nbytes,
                    unit="B", note=f"float16, {len(x_large) + len(x_large_valid):,} images")
print(f"float16 features: {(large_train_features.nbytes + large_valid_features.nbytes) / 1e6:,.1f} MB for "
      f"{len(x_large) + len(x_large_valid):,} images")

large_classifier = classifier_of(large_model)
compile_for_training(large_classifier, optimizer=large_model.optimizer)
large_feature_timer = EpochTimer()
history_large_features = large_classifier.fit(
    large_train_features, y_large, batch_size=cfg.batch_size, shuffle=True,
    validation_data=(large_valid_features, y_large_valid), initial_epoch=1, epochs=cfg.large_epochs,
    callbacks=training_callbacks(large_feature_timer), verbose=2)
large_feature_epoch_s = course_utils.record("large_feature_epoch_s", large_feature_timer.steady, unit="s",
                                            note="an epoch on float16 features")

check = min(16, len(x_large_valid))
on_images = large_model.predict(images(x_large_valid[:check], size=cfg.large_size), verbose=0)
on_features = large_classifier.predict(large_valid_features[:check], verbose=0)
large_gap = course_utils.record("large_features_logit_rel_diff",
                                float(np.max(np.abs(on_images - on_features)) / np.max(np.abs(on_images))),
                                note="large_model on images vs classifier on float16 features")
x_large_test, y_large_test = x_test[:cfg.large_test_limit], y_test[:cfg.large_test_limit]
large_predicted = large_model.predict(images(x_large_test, size=cfg.large_size), verbose=0).argmax(axis=1)
large_accuracy = course_utils.record("large_test_accuracy", accuracy_score(y_large_test, large_predicted),
                                     note=f"{cfg.large_size}x{cfg.large_size}, {cfg.large_epochs} epoch(s) "
                                          f"(1 on images), {len(x_large):,} train / {len(x_large_test):,} test images")
print(f"logits on float16 features differ by {large_gap:.1e} of the largest")
print(f"profile {cfg.profile}: test accuracy {large_accuracy:.1%} at {cfg.large_size}x{cfg.large_size}; "
      f"an epoch on images {large_epoch_s:.1f} s, on features {large_feature_epoch_s:.1f} s")

large_cost = vgg16_bridge.multiply_adds(large_model)
histories[f"{cfg.large_size}x{cfg.large_size}"] = {
    key: history_large_images.history[key] + history_large_features.history[key] for key in history_large_images.history}
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
import numpy as np
import tensorflow as tf

from course_exercises.lesson06 import ex1, ex2, ex3, transfer_model

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: fc1 without the bridge
# Without the bridge, `fc1` (4,096 units) sits on the flattened last feature
# map. Set `fc1_params` to its number of parameters for 32x32 inputs,
# worked out from VGG16's output shape.

# %% nbgrader={"grade": false, "grade_id": "l06-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
fc1_params = None
### BEGIN SOLUTION
vgg16_32 = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
h, w, c = vgg16_32.output_shape[1:]   # 1, 1, 512
fc1_params = (h * w * c) * 4096 + 4096
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(fc1_params)

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
any_base = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
pooled = tf.keras.layers.GlobalAveragePooling2D()(any_base.output)
hidden = tf.keras.layers.Dense(256, activation="relu")(pooled)
any_size = tf.keras.Model(any_base.input, tf.keras.layers.Dense(10)(hidden))
print(any_size(np.zeros((1, 32, 32, 3))).shape, any_size(np.zeros((1, 64, 64, 3))).shape)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(any_size)

# %% [markdown]
# ## Ours beside the original lesson
# The three runs' learning curves, then each figure the lecture reported
# beside ours, the profile that made ours, and whether the two compare like
# for like.

# %%
fig = plots.plot_history(histories, title=f"Lesson 06 ({cfg.profile} profile): VGG16 with retrained fc1/fc2; "
                                          "32x32 and 224x224: epoch 1 on images, then features")
course_utils.record_figure(fig)

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - Use the preprocessing of the weights: `vgg16.preprocess_input` for
#   Keras's VGG16, not torchvision's mean and std.
# - Pretrained dense layers need features of the shape they learnt: add the
#   bridge (for a new head, global pooling).
# - After every freezing step, *count* the trainable parameters: the
#   lecture's misplaced flag raised no error, and `fc1`, `fc2` never trained.
# - Frozen convolutions with nothing random before them give the same
#   features every epoch: `predict` them once, `fit` the classifier on them.
#   Random crops rule this out; memory may ask for float16.
# - Accuracy hides which classes fail: read the confusion matrix.
# - How many layers to retrain depends on the task: the output layer, the
#   last three (as here), or all.
