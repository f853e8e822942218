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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/main/notebooks/06_vgg16_cifar10.ipynb)
#
# **What you will learn.** A network trained on ImageNet already knows how to
# turn pixels into useful features. Here you take Keras's VGG16 with its
# ImageNet weights, keep its 13 convolutional layers frozen, retrain its two
# big fully connected layers (`fc1`, `fc2`, 4096 units each) *with their
# pretrained weights as the starting point*, and put a new 10-way output
# layer on top for CIFAR-10. The lecture this lesson follows did the same in
# PyTorch; on the way you will meet three things the PyTorch version hid:
# the input normalisation the Keras weights really expect, the pooling
# "bridge" that lets the pretrained `fc1` work on 32x32 images, and a
# freezing bug that silently trained only the output layer. Then you compare
# small (32x32) and upsampled (224x224) inputs, measure what freezing the
# convolutions saves per epoch, and save far more by computing the frozen
# convolutions' features once instead of in every epoch.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"`: real
# CIFAR-10 and the ImageNet weights. The other values are `None` for "the
# profile's default". The full profile trains the lecture's 50 epochs for
# each run, because its learning-rate schedule (patience 10) only acts after
# a plateau of 10 epochs: the lecture's first cut came at epoch 20 and was
# worth 3 points of accuracy. That takes time: the lecture's GPU needed 38
# minutes for the small run and 213 minutes for the 224x224 run. On the
# course's 2-core test machine (CPU only, shared), training the lecture's
# way, one step of 256 images at 32x32 took about 4 s (12 minutes per
# epoch, 10 hours for 50), and the 224x224 run about 0.3 s per image, close
# to 4 hours per epoch.
#
# `CACHE_FEATURES` (on by default) cuts most of that: the frozen
# convolutions run once over the images, and each epoch then trains only
# the classifier on their stored output (sections 7 and 9 explain why this
# is the same model). A classifier step of 256 then took about 1 s on that
# machine, at either size (about 40% of a frozen step at 32x32, measured
# side by side), and the 224x224 run needs about 5 GB of disk for its
# features (the notebook checks before writing). `False` runs the
# lecture's loop on images. Still: use a GPU if you can (Colab: *Runtime →
# Change runtime type*), or lower `EPOCHS`, `LARGE_EPOCHS`, `LARGE_SIZE` or
# `LARGE_TRAIN_LIMIT` and say so when you compare.

# %% tags=["parameters"]
PROFILE = None            # "full" (CIFAR-10, ImageNet weights) or "quick" (offline, about a minute)
EPOCHS = None             # epochs of the 32x32 run (full: 50, the lecture's)
LARGE_EPOCHS = None       # epochs of the upsampled run (full: 50)
BATCH_SIZE = None         # full: 256, the lecture's
LARGE_SIZE = None         # input size of the upsampled run (full: 224)
LARGE_TRAIN_LIMIT = None  # train the upsampled run on the first N training images only (None: all)
LEARNING_RATE = None      # SGD learning rate (full: 0.01, the lecture's)
CIFAR10_ARCHIVE = None    # path to a cifar-10-python.tar.gz you already have (then nothing is downloaded)
CACHE_FEATURES = None     # True (default): train the classifier on the frozen base's cached features; False: on images

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
# `TF_USE_LEGACY_KERAS=1` must be set *before* TensorFlow is imported (the
# course uses the Keras 2 API, `tf_keras`). `start_lesson` resolves the
# profile, points the Keras cache (`KERAS_HOME`: data set and weight files)
# at the project's `data/` folder, seeds everything and prints what runs.

# %%
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import gc
import math

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.keras import layers
from tensorflow.keras.applications import vgg16

import course_utils
from course_utils import cifar, feature_cache, models, plots, vgg16_transfer
from course_utils.references import reference_for
from course_utils.timing import EpochTimer

cfg = course_utils.start_lesson(
    "06", PROFILE, epochs=EPOCHS, large_epochs=LARGE_EPOCHS, batch_size=BATCH_SIZE,
    large_size=LARGE_SIZE, large_train_limit=LARGE_TRAIN_LIMIT, learning_rate=LEARNING_RATE,
    cache_features=CACHE_FEATURES,
)

# %% [markdown]
# ## 1. The data
# CIFAR-10: 50,000 training and 10,000 test images, 32x32 colour, 10
# classes. `tf.keras.datasets.cifar10` downloads the 170 MB archive once
# into `data/keras/datasets/` (without internet, give the path of a copy you
# have as `CIFAR10_ARCHIVE`). Like the lecture we hold out the last 10% of
# the training images for validation: the learning-rate schedule below
# watches validation accuracy, and the test set stays untouched until the
# end. (The quick profile generates small CIFAR-shaped stand-ins labelled
# with the same class names.)

# %%
(x_train_all, y_train_all), (x_test, y_test) = cifar.load_cifar10(
    cfg.cifar_source, train_limit=cfg.train_limit, test_limit=cfg.test_limit,
    archive=CIFAR10_ARCHIVE, seed=cfg.seed,
)
(x_train, y_train), (x_valid, y_valid) = cifar.split_validation(x_train_all, y_train_all, cfg.validation_fraction)
print(f"train {x_train.shape}, validation {x_valid.shape}, test {x_test.shape}, dtype {x_train.dtype}")
print("images per class (train):", np.bincount(y_train, minlength=cfg.num_classes))
plots.plot_images(x_train[:10], [cifar.CLASS_NAMES[label] for label in y_train[:10]], cols=10, size=1.4);

# %% [markdown]
# ## 2. Normalisation: what the pretrained weights expect
# A pretrained network only sees familiar inputs if you scale your images
# the way its training images were scaled. The lecture used torchvision's
# ImageNet statistics: pixels to [0, 1], minus the mean `(0.485, 0.456,
# 0.406)`, divided by the std `(0.229, 0.224, 0.225)`, in RGB order.
#
# **Keras's VGG16 weights expect something else.** They were converted from
# the original Caffe model, which was trained on BGR images in 0-255 with
# the ImageNet mean pixel subtracted and *no* division by a std.
# `vgg16.preprocess_input` does exactly that. Feeding these weights the
# torchvision-normalised values (about -2 to 2) would give them inputs about
# 60 times too small. So in Keras: always use the `preprocess_input` of the
# application you load.
#
# The lecture also computed CIFAR-10's own per-channel statistics and
# compared. Let us do the same.

# %%
own_mean, own_std = cifar.channel_stats(x_train)
stats = pd.DataFrame(
    {"ImageNet mean": cifar.IMAGENET_MEAN, "this data's mean": own_mean,
     "ImageNet std": cifar.IMAGENET_STD, "this data's std": own_std},
    index=["R", "G", "B"],
).round(3)
mean_gap = float(np.max(np.abs(own_mean - np.asarray(cifar.IMAGENET_MEAN))))
course_utils.record("dataset_vs_imagenet_mean_gap", mean_gap,
                    note="largest per-channel mean difference, [0, 1] units")
print(f"profile {cfg.profile}: data = {cfg.data}")
stats

# %% [markdown]
# The Keras way to use *your own* statistics with these weights is to
# subtract your mean pixel instead of ImageNet's (still BGR, still 0-255,
# still no std). `cifar.caffe_preprocess_with` builds that function. How far
# apart do the two preprocessings put the same images?

# %%
sample = x_train[:256].astype("float32")
with_imagenet = vgg16.preprocess_input(sample.copy())  # .copy(): preprocess_input may work in place
with_own = cifar.caffe_preprocess_with(own_mean)(sample)
print("mean pixel subtracted, BGR, ImageNet :", np.round(cifar.CAFFE_MEAN_BGR, 1))
print("mean pixel subtracted, BGR, this data:", np.round(own_mean[::-1] * 255, 1))
print(f"preprocessed values range from {with_imagenet.min():.0f} to {with_imagenet.max():.0f}; "
      f"the two versions differ by at most {np.abs(with_imagenet - with_own).max():.1f} per value")

# %% [markdown]
# On real CIFAR-10 the means differ by a few units on a scale of about
# ±130, a constant shift the first convolution barely notices. The lecture
# found CIFAR-10's statistics "essentially the same" as ImageNet's, trained
# with both, and saw no meaningful difference, so we use what the weights
# expect, `vgg16.preprocess_input`. When your images differ systematically
# from ImageNet (much darker, much less colourful) the two choices can
# differ: then try both. (The quick profile's generated images are far more
# colourful than photos, so their gap is larger.)

# %%
preprocess = vgg16.preprocess_input

# %% [markdown]
# ## 3. The pretrained VGG16 and its classifier
# We load VGG16 *with its top*: the 1000-class ImageNet classifier whose
# `fc1` and `fc2` layers we want to reuse. Look at its last layers: the
# last pooling layer gives 7x7x512 features, `Flatten` turns them into
# 25,088 numbers, and `fc1` has a weight for each of them.

# %%
source = vgg16_transfer.load_vgg16(include_top=True, weights=cfg.vgg_weights)
print("input:", source.input_shape)
for layer in source.layers[-5:]:
    print(f"  {layer.name:12s} output {str(layer.output_shape):20s} {layer.count_params():>12,} parameters")

# %% [markdown]
# That 25,088 is why Keras's VGG16 with its top only takes 224x224 inputs:
# 224 halved by five max-pools is 7. At 32x32 the last feature map is 1x1,
# `Flatten` gives 512 numbers, and a VGG16 built for that size has an `fc1`
# of the wrong shape: the pretrained weights do not fit. (With
# `weights="imagenet"` Keras refuses to build it at all; here we build it
# with random weights to show the mismatch.)

# %%
naive = tf.keras.applications.vgg16.VGG16(include_top=True, weights=None, input_shape=(32, 32, 3), classes=10)
print("fc1 kernel of a VGG16 built for 32x32 :", tuple(naive.get_layer("fc1").kernel.shape))
print("fc1 kernel of the ImageNet VGG16      :", tuple(source.get_layer("fc1").kernel.shape))
try:
    vgg16_transfer.copy_dense_weights(source, naive, ["fc1"])
except ValueError as err:
    print("ValueError:", err)
del naive

# %% [markdown]
# ## 4. The bridge PyTorch has and Keras lacks
# torchvision's VGG16 has one more layer between the convolutions and the
# classifier: `AdaptiveAvgPool2d((7, 7))`. Whatever the size of the last
# feature map, it averages it into a 7x7 grid: output cell `i` averages the
# input cells from `floor(i*n/7)` to `ceil((i+1)*n/7)`. A 1x1 map (32x32
# input) is copied into all 49 cells; a 2x2 map (64x64 input, the lecture's
# crop size) is spread out; a 7x7 map (224x224) passes unchanged. That is
# why the lecture's pretrained classifier "just worked" on small images.
#
# `vgg16_transfer.AdaptiveAveragePooling2D` rebuilds that layer for Keras
# with the same arithmetic (two small averaging matrices). The plots show
# the weights each of the 7 output rows gives the input rows.

# %%
for size in (cfg.small_size, 64, cfg.large_size):
    n = vgg16_transfer.feature_map_size(size)
    print(f"{size:>3}x{size:<3} input -> {n}x{n}x512 feature map -> bridge -> 7x7x512 -> Flatten -> 25,088")
vgg16_transfer.plot_pool_matrices([1, 2, 7]);

# %%
demo = tf.reshape(tf.range(1.0, 5.0), (1, 2, 2, 1))  # a 2x2 map holding 1, 2, 3, 4
print("2x2 input:\n", demo[0, :, :, 0].numpy())
print("after the bridge (7x7):\n", vgg16_transfer.AdaptiveAveragePooling2D(7)(demo)[0, :, :, 0].numpy())

# %% [markdown]
# ## 5. The transfer model, step by step
# The convolutional base is VGG16 *without* its top, built for our input
# size with the ImageNet weights. On top: the bridge, `Flatten`, `fc1` and
# `fc2` (4096 units, ReLU), and a **new** 10-way output layer (logits) in
# place of the 1000-way ImageNet one. The dropout after `fc1` and `fc2` is
# in torchvision's classifier (and in the original VGG training); Keras's
# top leaves it out because it does nothing at prediction time, so we put
# it back for training. Then the pretrained `fc1` and `fc2` weights are
# **copied** from the model with the top: the bridge makes their shapes
# match.

# %%
size = cfg.small_size
base = vgg16_transfer.load_vgg16(include_top=False, weights=cfg.vgg_weights, input_size=size)

inputs = tf.keras.Input((size, size, 3), name="image")
features = base(inputs)                                                        # 1x1x512 at 32x32
bridged = vgg16_transfer.AdaptiveAveragePooling2D(7, name="bridge")(features)  # 7x7x512, as in PyTorch
x = layers.Flatten(name="flatten")(bridged)                                    # 25,088 numbers
x = layers.Dense(4096, activation="relu", name="fc1")(x)
x = layers.Dropout(0.5, name="fc1_dropout")(x)
x = layers.Dense(4096, activation="relu", name="fc2")(x)
x = layers.Dropout(0.5, name="fc2_dropout")(x)
outputs = layers.Dense(cfg.num_classes, name="output")(x)                      # the new 10-way layer
small_model = tf.keras.Model(inputs, outputs, name=f"vgg16_cifar10_{size}")

for name in ("fc1", "fc2"):
    small_model.get_layer(name).set_weights(source.get_layer(name).get_weights())

copy_gap = max(vgg16_transfer.max_weight_difference(small_model.get_layer(name), source.get_layer(name))
               for name in ("fc1", "fc2"))
print("feature map:", features.shape, "-> bridge:", bridged.shape)
print(f"largest difference between our fc1/fc2 and the pretrained ones: {copy_gap}")
course_utils.record("feature_map_small", list(features.shape[1:]))
course_utils.record("bridge_output_small", list(bridged.shape[1:]))
course_utils.record("fc_copy_max_abs_diff", copy_gap, note="fc1/fc2 against the VGG16 with its top")
small_model.summary()

# %% [markdown]
# ## 6. Freezing — and the lecture's silent bug
# The lecture froze the whole network, then tried to make the two hidden
# fully connected layers trainable again, then replaced the output layer
# (a new layer trains by default):
#
# ```python
# for param in model.parameters():
#     param.requires_grad = False
# model.classifier[1].requires_grad = True
# model.classifier[3].requires_grad = True
# model.classifier[6] = torch.nn.Linear(4096, 10)
# ```
#
# In PyTorch `requires_grad` belongs to each parameter *tensor*. Setting it
# on a *module* just creates a new Python attribute that nothing reads, so
# no error and no effect: only the new output layer trained. (And
# `classifier[1]` is a ReLU, which has no parameters at all; `fc1` is
# `classifier[0]`. The working call is `model.classifier[0].requires_grad_(True)`.)
#
# The same mistake is easy in Keras: a layer accepts any attribute you set.
# Here is the lecture's recipe with the PyTorch habit carried over, and the
# check that catches it.

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
# No error, yet `fc1` and `fc2` show 0 trainable parameters: only the
# output layer's 40,970 would train, as in the lecture (so its 77.99% and
# 84.9% came from retraining the output layer alone). In Keras the switch is
# `layer.trainable`. Here is the recipe done right, as a function we reuse
# for the second run, and the counts that prove it: the VGG16 base 0,
# `fc1` 25,088 x 4,096 + 4,096, `fc2` 4,096 x 4,096 + 4,096, the output
# 4,096 x 10 + 10. Note that `trainable` only takes effect when the model is
# compiled, which we do next.

# %%
def retrain_classifier_only(model):
    """The lesson's recipe: freeze everything, then let fc1, fc2 and the new output layer train."""
    for layer in model.layers:
        layer.trainable = False
    for name in ("fc1", "fc2", "output"):
        model.get_layer(name).trainable = True


retrain_classifier_only(small_model)
report = models.trainable_report(small_model)
trainable = report.set_index("layer")["trainable_params"]
for name, key in [("vgg16", "base"), ("fc1", "fc1"), ("fc2", "fc2"), ("output", "output")]:
    course_utils.record(f"trainable_params_{key}", int(trainable[name]))
assert trainable["vgg16"] == 0 and min(trainable["fc1"], trainable["fc2"], trainable["output"]) > 0
print(models.summarize_trainable(small_model))
report


# %% [markdown]
# ## 7. Train the 32x32 run
# **Optimiser.** The lecture used PyTorch's SGD with learning rate 0.01 and
# momentum 0.9, and `ReduceLROnPlateau(factor=0.1, mode="max")` stepped on
# validation accuracy (PyTorch's default patience: 10 epochs), batch 256, 50
# epochs. The Keras equivalent is `SGD(learning_rate=0.01, momentum=0.9)`
# (Keras's SGD has no momentum unless you ask; older code wrote `lr=`, which
# current optimizers ignore) with the callback
# `ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.1,
# patience=10)`. The loss is cross-entropy on logits, as PyTorch's
# `cross_entropy`. `TerminateOnNaN` stops a run whose loss blows up (then
# lower `LEARNING_RATE`), and `EpochTimer` times each epoch.
#
# The images reach the model through a `tf.data` pipeline that applies
# `preprocess_input` (and, for the second run, the resize) batch by batch.
#
# **The lecture's loop, and a faster one that trains the same model.** The
# lecture trains with `small_model.fit(train_ds, ...)` (the `else` branch
# below): in each of the 50 epochs, every image goes through the frozen
# convolutions again. But they are frozen, and nothing random runs before
# them (no augmentation; the dropout layers come after `fc1` and `fc2`), so
# they turn each image into the same numbers in every epoch. Computing
# those once and training the layers after them gives the same model: the
# same weights to start from, the same optimiser, schedule and steps per
# epoch; only the random order and the dropout masks differ, as between any
# two runs.
#
# `feature_cache.cached_features(base, ...)` makes that one pass over the
# *raw* images, applying the resize and `preprocess_input` itself
# (`cifar.example_preprocessor`, one image at a time, the same arithmetic as
# the pipeline), so its key covers the images, the preprocessing, the base
# and its weights. It stores the features under `data/features/` (a second
# run loads them) and refuses when something random runs before the base.
# `feature_cache.head_of(small_model, base)` is the layers after the base
# (bridge, `Flatten`, `fc1`, `fc2`, the dropouts, the output) as a model
# that *shares* them with `small_model`: training it trains `small_model`,
# which still predicts on images.
#
# Why cut after the base and not after `flatten`, the last frozen layer? At
# 32x32 the bridge only copies each image's 1x1x512 map into 49 cells.
# Cached before it, an image takes 512 numbers (2 KB; 92 MB for 45,000
# images) instead of 25,088 (100 KB; 4.5 GB), and the head redoes the copy,
# which costs nothing next to `fc1`.

# %%
def compile_for_training(model):
    model.compile(
        optimizer=tf.keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def training_callbacks(timer):
    return [
        tf.keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=cfg.plateau_factor,
                                             patience=cfg.plateau_patience, verbose=1),
        tf.keras.callbacks.TerminateOnNaN(),
        timer,
    ]


def make_datasets(image_size, train_limit=None, eval_limit=None):
    """Train, validation and test pipelines at ``image_size`` (limits keep the first N images)."""
    def pipeline(images, labels, limit, shuffle):
        return cifar.image_dataset(images[:limit], labels[:limit], image_size=image_size,
                                   batch_size=cfg.batch_size, preprocess=preprocess,
                                   shuffle=shuffle, seed=cfg.seed)
    return (pipeline(x_train, y_train, train_limit, True),
            pipeline(x_valid, y_valid, eval_limit, False),
            pipeline(x_test, y_test, eval_limit, False))


compile_for_training(small_model)
train_ds, valid_ds, test_ds = make_datasets(cfg.small_size)
before = {name: [w.copy() for w in small_model.get_layer(name).get_weights()]
          for name in ("vgg16", "fc1", "fc2", "output")}

small_head = feature_cache.head_of(small_model, base)  # bridge, flatten, fc1, fc2, output: shared with small_model
epochs_on = "on cached features" if cfg.cache_features else "on images"
small_timer = EpochTimer()
if cfg.cache_features:  # the same model, trained faster: the frozen base's features are computed once
    prepare_small = cifar.example_preprocessor(cfg.small_size, preprocess)  # float32, resize, preprocess_input
    train_f = feature_cache.cached_features(base, (x_train, y_train), preprocess=prepare_small, model=small_model)
    valid_f = feature_cache.cached_features(base, (x_valid, y_valid), preprocess=prepare_small, model=small_model)
    compile_for_training(small_head)
    history_small = small_head.fit(train_f.batches(cfg.batch_size, shuffle=True, seed=cfg.seed),
                                   validation_data=valid_f.batches(cfg.batch_size), epochs=cfg.epochs,
                                   callbacks=training_callbacks(small_timer), verbose=2)
else:  # the lecture's loop: every epoch runs the frozen base again on every image
    history_small = small_model.fit(train_ds, validation_data=valid_ds, epochs=cfg.epochs,
                                    callbacks=training_callbacks(small_timer), verbose=2)
small_loss, small_accuracy = small_model.evaluate(test_ds, verbose=0)  # on images: small_model carries the trained head
course_utils.record("small_test_accuracy", small_accuracy,
                    note=f"{cfg.small_size}x{cfg.small_size}, {cfg.epochs} epoch(s), {len(x_test):,} test images")
small_epoch_s = course_utils.record("small_epoch_s", small_timer.steady, unit="s",
                                    note=f"mean epoch without the first, {epochs_on}")
print(f"profile {cfg.profile}: test accuracy {small_accuracy:.4f} at {cfg.small_size}x{cfg.small_size}, "
      f"{small_epoch_s:.1f} s per epoch {epochs_on}")

# %% [markdown]
# With the cache on, two checks that it trained `small_model` itself: one
# feature row per training image, and `small_model` on validation *images*
# gives the same logits as `small_head` on their cached *features*.

# %%
if cfg.cache_features:
    print("train:", train_f.describe())
    print("valid:", valid_f.describe())
    check = min(16, len(x_valid))
    on_images = small_model(cifar.prepare_images(x_valid[:check], cfg.small_size, preprocess)).numpy()
    on_features = small_head(valid_f.features[:check]).numpy()
    logit_gap = float(np.max(np.abs(on_images - on_features)) / np.max(np.abs(on_images)))
    course_utils.record("features_cached", True)
    course_utils.record("cached_train_rows", train_f.count, note="feature rows, one per training image")
    course_utils.record("cached_head_logit_rel_diff", logit_gap,
                        note="small_model on images vs its head on cached features, relative to the largest logit")
    print(f"{train_f.count:,} feature rows for {len(x_train):,} training images; largest difference between "
          f"the logits on images and on cached features: {logit_gap:.1e} of the largest logit")
else:
    print(f"CACHE_FEATURES is off: the model trained on images, {small_epoch_s:.1f} s per epoch")

# %% [markdown]
# The counts said which weights *may* train; comparing the weights before
# and after training shows which ones *did*: the frozen base did not move
# at all, the classifier did.

# %%
changes = {}
for name, old in before.items():
    new = small_model.get_layer(name).get_weights()
    changes[name] = float(max(np.max(np.abs(a - b)) for a, b in zip(old, new)))
    print(f"  {name:7s} largest weight change during training: {changes[name]:.3g}")
course_utils.record("base_weight_change", changes["vgg16"])
course_utils.record("fc1_weight_change", changes["fc1"])
course_utils.record("fc2_weight_change", changes["fc2"])
del before
gc.collect();

# %%
shown = x_test[:15]
predicted = small_model.predict(preprocess(shown.astype("float32")), verbose=0).argmax(axis=1)
plots.plot_prediction_grid(shown, y_test[:15], predicted, cifar.CLASS_NAMES, rows=3, cols=5,
                           title=f"{cfg.profile} profile, {cfg.small_size}x{cfg.small_size}: "
                                 f"{int((predicted == y_test[:15]).sum())} of 15 right (red: wrong, true label in brackets)");

# %% [markdown]
# ## 8. What freezing the convolutions saves
# The lecture trained this model for 50 epochs in 38 minutes, against 90
# minutes for a VGG16 trained from scratch (every layer trainable). We
# measure the same comparison directly: a few training steps on the *same*
# batch, first with the convolutions frozen, then with every layer
# trainable (recompiled, because `trainable` takes effect at compile time).
# We start with a third form: the classifier alone on the batch's features,
# which is what a step costs with the cache. We only time steps; training
# the whole network is not this lesson. Each figure is the fastest of a few
# steps (anything else running on the machine can only slow a step down),
# and an epoch estimate is that step time times the steps in one epoch.

# %%
batch_x = preprocess(x_train[:cfg.batch_size].astype("float32"))
batch_y = y_train[:cfg.batch_size]
steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)

batch_features = base(batch_x, training=False)
compile_for_training(small_head)
cached_step = vgg16_transfer.time_train_steps(small_head, batch_features, batch_y, steps=cfg.timing_steps)
compile_for_training(small_model)
frozen_step = vgg16_transfer.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)
for layer in small_model.layers:
    layer.trainable = True
compile_for_training(small_model)
print(models.summarize_trainable(small_model))
full_step = vgg16_transfer.time_train_steps(small_model, batch_x, batch_y, steps=cfg.timing_steps)

ratio = frozen_step / full_step
note = f"fastest of {cfg.timing_steps} steps of batch {cfg.batch_size} x {steps_per_epoch} steps per epoch"
course_utils.record("cached_epoch_s", cached_step * steps_per_epoch, unit="s", note=note + ", classifier on features")
frozen_epoch_s = course_utils.record("frozen_epoch_s", frozen_step * steps_per_epoch, unit="s", note=note)
course_utils.record("full_epoch_s", full_step * steps_per_epoch, unit="s", note=note)
device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
course_utils.record("frozen_vs_full_epoch_ratio", ratio, note=f"{cfg.small_size}x{cfg.small_size} on the {device}")
cached_ratio = course_utils.record("cached_vs_frozen_epoch_ratio", cached_step / frozen_step,
                                   note=f"{cfg.small_size}x{cfg.small_size} on the {device}")
print(f"profile {cfg.profile}: {frozen_step:.2f} s per step frozen, {full_step:.2f} s all trainable "
      f"-> ratio {ratio:.2f} (the lecture: 38 / 90 = 0.42)")
print(f"profile {cfg.profile}: {cached_step:.2f} s per step for the classifier on cached features "
      f"-> {cached_ratio:.2f} of a frozen step")

small_cost = vgg16_transfer.multiply_adds(small_model)
small_layer_names = [layer.name for layer in small_model.layers]
small_history = history_small.history
# Free the 32x32 model: the symbolic tensors, the History and the timer all hold references to it.
del small_model, small_head, base, inputs, features, bridged, x, outputs, history_small, small_timer
del train_ds, valid_ds, test_ds, batch_x, batch_features
gc.collect();

# %% [markdown]
# Where does the time go? A frozen layer still runs forward, but needs no
# gradient and no update, and nothing before it needs one either. The
# saving is therefore the backward pass through the convolutions and the
# update of their 14.7 million weights. How large it is depends on how the
# work splits between the convolutions and the dense layers: at 32x32 the
# convolutions do about 313 million multiply-adds per image and the dense
# layers about 120 million, so both matter; at 224x224 the convolutions do
# 49 times more and dominate (the counts are printed after the second run).
# It also depends on the batch size and the hardware: updating the 120
# million dense weights costs the same per step whatever the batch, so
# small batches (the quick profile's) hide part of the saving. On this
# course's CPU, batches of 256 at 32x32 gave about 4 s per step frozen
# against 20 s with every layer trainable.
#
# The cache also drops the *forward* pass through the convolutions, which
# freezing alone cannot: what remains is the dense layers, about 1 s per
# step of 256 on that CPU, some 40% of a frozen step measured side by side.
# At 32x32 the dense layers do a large share of the work, so the saving is
# moderate; at 224x224, where the convolutions dominate, what remains is a
# small fraction (section 9). With the quick profile's batches of 16 the
# update of the 120 million dense weights dominates every step, so its
# cached and frozen steps cost about the same.

# %% [markdown]
# ## 9. The same model on upsampled 224x224 images
# The lecture's first run reached only about 78%. Its explanation: the
# ImageNet filters were learnt on objects that fill a 224x224 image; in a
# 32x32 image the whole object is a few feature-map cells. Upsampling CIFAR
# to 224x224 adds no information, but it makes the objects the size the
# filters know. The price: 49 times more convolution work per image.
#
# The model is the same recipe; `vgg16_transfer.build_vgg16_transfer` is
# section 5 packaged as one function (at 224x224 the bridge has nothing to
# do: the feature map is already 7x7). The images are resized on the fly in
# the pipeline. In the quick profile this run sees a handful of images only,
# to prove the code.
#
# **The cache at 224x224.** This is where it matters most: the lecture's
# loop runs convolutions 49 times costlier than at 32x32 in every one of 50
# epochs; with the cache they run once, and each epoch costs what it cost
# at 32x32 (the dense layers see 7x7x512 either way). The price is disk.
# The base's output is now 7x7x512 = 25,088 float32 values, about 100 KB
# per image: 5.0 GB for the 45,000 training and 5,000 validation images
# (cutting after the bridge would store the same). The entry is
# memory-mapped, never loaded whole, and training reads it in a new random
# order each epoch, so it needs disk, not RAM.
# `vgg16_transfer.check_feature_space` prints how much will be written and
# stops, before any work, when the disk lacks room: then free some space,
# point `COURSE_DATA_DIR` at a bigger disk, lower `LARGE_TRAIN_LIMIT`, or
# set `CACHE_FEATURES = False`. We keep the cache on by default here too:
# on the course's CPU the lecture's loop would need about 4 hours per epoch
# (200 hours for 50), the cached run one pass of a few hours plus minutes
# per epoch; on a GPU it turns the lecture's 213 minutes into roughly one
# pass plus 50 short epochs.

# %%
large_model = vgg16_transfer.build_vgg16_transfer(cfg.large_size, source, weights=cfg.vgg_weights,
                                                  num_classes=cfg.num_classes)
assert [layer.name for layer in large_model.layers] == small_layer_names  # the same recipe
print("feature map:", large_model.get_layer("vgg16").output_shape,
      "-> bridge:", large_model.get_layer("bridge").output_shape)
course_utils.record("feature_map_large", list(large_model.get_layer("vgg16").output_shape[1:]))
course_utils.record("bridge_output_large", list(large_model.get_layer("bridge").output_shape[1:]))
del source  # fc1 and fc2 are copied: the 138-million-parameter source can go
gc.collect()

retrain_classifier_only(large_model)
print(models.summarize_trainable(large_model))
compile_for_training(large_model)
large_train, large_valid, large_test = make_datasets(cfg.large_size, cfg.large_train_limit, cfg.large_test_limit)
n_large_train = len(x_train[:cfg.large_train_limit])
n_large_test = len(x_test[:cfg.large_test_limit])

n_large_valid = len(x_valid[:cfg.large_test_limit])
large_base = large_model.get_layer("vgg16")

large_timer = EpochTimer()
if cfg.cache_features:  # as in the 32x32 run: the base once, then only the classifier trains
    plan = vgg16_transfer.check_feature_space(cfg.large_size, [n_large_train, n_large_valid])
    print(f"cached features at {cfg.large_size}x{cfg.large_size}: {plan['bytes'] / 1e6:,.1f} MB for "
          f"{n_large_train + n_large_valid:,} images ({plan['to_write'] / 1e6:,.1f} MB to write, "
          f"{plan['free'] / 1e9:,.0f} GB free)")
    prepare_large = cifar.example_preprocessor(cfg.large_size, preprocess)
    large_train_f = feature_cache.cached_features(large_base, (x_train[:cfg.large_train_limit], y_train[:cfg.large_train_limit]),
                                                  preprocess=prepare_large, model=large_model)
    large_valid_f = feature_cache.cached_features(large_base, (x_valid[:cfg.large_test_limit], y_valid[:cfg.large_test_limit]),
                                                  preprocess=prepare_large, model=large_model)
    large_head = feature_cache.head_of(large_model, large_base)  # shared with large_model
    compile_for_training(large_head)
    history_large = large_head.fit(large_train_f.batches(cfg.batch_size, shuffle=True, seed=cfg.seed),
                                   validation_data=large_valid_f.batches(cfg.batch_size), epochs=cfg.large_epochs,
                                   callbacks=training_callbacks(large_timer), verbose=2)
else:  # the lecture's loop: 49 times the convolution work of the 32x32 run, in every epoch
    history_large = large_model.fit(large_train, validation_data=large_valid, epochs=cfg.large_epochs,
                                    callbacks=training_callbacks(large_timer), verbose=2)
large_loss, large_accuracy = large_model.evaluate(large_test, verbose=0)
course_utils.record("large_test_accuracy", large_accuracy,
                    note=f"{cfg.large_size}x{cfg.large_size}, {cfg.large_epochs} epoch(s), "
                         f"{n_large_train:,} train / {n_large_test:,} test images")
large_epoch_s = course_utils.record("large_epoch_s", large_timer.steady, unit="s",
                    note=f"{n_large_train:,} images per epoch, {epochs_on}" + ("" if cfg.large_epochs > 1 else ", includes tracing"))
print(f"profile {cfg.profile}: test accuracy {large_accuracy:.4f} at {cfg.large_size}x{cfg.large_size}, "
      f"{large_epoch_s:.1f} s per epoch {epochs_on}")

large_cost = vgg16_transfer.multiply_adds(large_model)
print(f"convolution work per image: {large_cost['convolutions'] / small_cost['convolutions']:.0f}x more at "
      f"{cfg.large_size}x{cfg.large_size} than at {cfg.small_size}x{cfg.small_size}; the dense layers cost the same")
pd.DataFrame({f"{cfg.small_size}x{cfg.small_size}": small_cost, f"{cfg.large_size}x{cfg.large_size}": large_cost}
             ).rename_axis("multiply-adds per image").map("{:,}".format)

# %% [markdown]
# ## 10. Results beside the lecture's
# The learning curves of both runs, then our figures next to the lecture's
# PyTorch figures. Ours come from the profile in the banner: quick-profile
# numbers come from random weights and a few dozen generated images and
# only prove that the code runs (random-init convolutions give features a
# few dozen SGD steps cannot learn from, which is itself the point of
# pretrained weights: the lecture's model was at 72.5% validation accuracy
# after its first epoch).

# %%
fig = plots.plot_history(
    {f"{cfg.small_size}x{cfg.small_size}": small_history, f"{cfg.large_size}x{cfg.large_size}": history_large.history},
    title=f"Lesson 06 ({cfg.profile} profile): VGG16 with retrained fc1/fc2, small vs upsampled inputs",
)
course_utils.record_figure(fig)

ours = {
    "small_test_accuracy": f"{small_accuracy:.1%}",
    "large_test_accuracy": f"{large_accuracy:.1%}",
    "small_epoch_s": f"{small_epoch_s:.1f} s ({epochs_on})",
    "large_epoch_s": f"{large_epoch_s:.1f} s ({epochs_on})",
    "frozen_epoch_s": f"{frozen_epoch_s:.1f} s (estimate, on images)",
    "frozen_vs_full_epoch_ratio": f"{ratio:.2f}",
    "trainable_params_with_lecture_bug": f"{bug_counts['trainable']:,}",
    "trainable_params_fc1": f"{int(trainable['fc1']):,}",
}
pd.set_option("display.max_colwidth", None)
pd.DataFrame({f"ours ({cfg.profile} profile)": ours,
              "the lecture (PyTorch)": {name: reference_for("06", name) for name in ours}})

# %% [markdown]
# ## Takeaways
# - Use the preprocessing that belongs to the weights: Keras's VGG16 wants
#   `vgg16.preprocess_input` (BGR, 0-255, ImageNet mean pixel subtracted),
#   not torchvision's mean/std. Your own dataset's mean is a valid
#   alternative; for CIFAR-10 the lecture saw no meaningful difference.
# - Reusing a classifier's pretrained dense layers needs the features in the
#   shape they were trained on. PyTorch's adaptive average pooling to 7x7
#   provides that for any input size; in Keras you add the bridge yourself
#   (or, for a new head, use global pooling, which makes the head
#   independent of the input size altogether).
# - After every freezing step, *check*: trainable parameter counts per layer
#   (and, after training, which weights actually changed). A misspelled or
#   misplaced flag raises no error — the lecture's classifier layers never
#   trained, and only the counts reveal it.
# - Frozen convolutions make each step cheaper (no backward pass through
#   them); how much depends on how the work splits between convolutions and
#   dense layers, which changes with the input size.
# - Frozen layers with nothing random before them compute the same features
#   every epoch: compute them once (`feature_cache.cached_features`), train
#   the layers after them (`feature_cache.head_of`), and the same model
#   trains in a fraction of the time. Cut where the features are smallest,
#   and check the disk first: 100 KB per image at 224x224.
# - How many layers to retrain depends on the task: the output layer only,
#   the last three (as here), or everything. Larger inputs (224x224) suited
#   the ImageNet filters better (84.9% vs 78% in the lecture) at several
#   times the cost.
