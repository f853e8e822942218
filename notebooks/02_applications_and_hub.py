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
# # Lesson 02 — A Keras Applications model and a TF Hub model on five random images
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/02_applications_and_hub.ipynb)
#
# **What you will learn.** Two places to get a big pretrained network in one
# line: **Keras Applications** (`keras.applications.InceptionV3`) and
# **TF Hub** (`hub.KerasLayer(url)`). You will see what `include_top` removes,
# swap InceptionV3's 1000-way classifier for a 5-way one, stack your own
# dense layers on a TF Hub feature vector, and count exactly which parameters
# train. The data are five random "images" with five different labels: the
# point is the mechanics. You will turn the model's outputs (logits) into
# class ids, see why "100% accuracy" on five memorised points can fall to
# chance once the model predicts, and end with our figures beside the
# original lesson's.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"`:
# ImageNet weights and the lesson's inputs and epochs (beside each parameter).

# %% tags=["parameters"]
PROFILE = None     # "full" (ImageNet weights, TF Hub download) or "quick" (offline)
EPOCHS = None      # training epochs of each model (full: 15, the lesson's)
IMAGE_SIZE = None  # InceptionV3's input size (full: 299, the lesson's)

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
# `keras` (Keras 3) for Part A; `tf_keras` (Keras 2) for Part B's
# `hub.KerasLayer` (Part B says why).

# %%
import math

import keras
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras
from sklearn.metrics import accuracy_score

import course_utils
from course_utils import models
from course_utils.show import plots
from course_utils.models import weights
from course_utils.models import hub as course_hub

cfg = course_utils.start_lesson("02", PROFILE, epochs=EPOCHS, image_size=IMAGE_SIZE)
SIZE = cfg.image_size

# %% [markdown]
# ## 1. Five random images, five classes
# `tf.random.normal` gives pixel values around 0 with no structure at all:
# no model can *generalise* from them, it can only memorise which of the
# five inputs carries which label. The labels are the lesson's
# `tf.constant([0, 1, 2, 3, 4])`: every image its own class.

# %%
tf.random.set_seed(cfg.seed)
x = tf.random.normal((5, SIZE, SIZE, 3), seed=cfg.seed)  # the lesson's: not pixels, kept as is
y = tf.constant([0, 1, 2, 3, 4])  # the lesson's labels: every image its own class
print("x:", x.shape, x.dtype, "| y:", y.numpy())

# %% [markdown]
# ## Part A — InceptionV3 from Keras Applications
# `include_top=True` keeps the classifier that was trained on ImageNet. For
# InceptionV3 the "top" is small: global average pooling, then one
# `Dense(1000)` with softmax. `include_top=False` stops before both and
# gives feature maps to build on. (The lesson says it "would just remove this
# fully connected layer at the end"; Keras drops the pooling too unless you
# pass `pooling="avg"`, as the cell's last line shows.)
#
# The lesson's call is `InceptionV3(include_top=True)`; `weights="imagenet"`
# is Keras's default, written out below. `applications` is `keras.applications`
# with one change, made for the course: `"imagenet"` loads the file Keras
# would download, checked against the MD5 Keras publishes, from the
# course's `data/keras/models` (Keras itself writes to `~/.keras/models`);
# in the quick profile it means random weights, at a smaller image size.

# %%
applications = weights.applications(cfg.source)  # keras.applications; "imagenet" per profile

base_model = applications.InceptionV3(
    include_top=True,
    weights="imagenet",
    input_shape=(SIZE, SIZE, 3),
)
print(f"{len(base_model.layers)} layers, {base_model.count_params():,} parameters")
print("last two layers:", [(layer.name, type(layer).__name__, tuple(layer.output.shape))
                           for layer in base_model.layers[-2:]])
print(f"at {SIZE}x{SIZE}: mixed10 {tuple(base_model.get_layer('mixed10').output.shape)} "
      f"-> avg_pool {tuple(base_model.get_layer('avg_pool').output.shape)}")
no_top = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))  # shape only
print("include_top=False ends at", no_top.layers[-1].name, tuple(no_top.output.shape))
del no_top

# %% [markdown]
# ### What InceptionV3 expects as input
# Its ImageNet weights were trained on pixels scaled to [-1, 1]:
# `keras.applications.inception_v3.preprocess_input` turns 0..255 into
# `x / 127.5 - 1` (Keras's `mode="tf"`). Real photos must go through it.
# The lesson feeds `tf.random.normal` values, which are not pixels; we keep
# them, as that line says, to reproduce the lesson. Here, once, is the
# matching preprocessing on random *pixels*, beside the lesson's inputs:

# %%
pixels = tf.random.uniform((cfg.num_examples, SIZE, SIZE, 3), 0, 255, seed=cfg.seed)
scaled = keras.applications.inception_v3.preprocess_input(pixels)
inside = float(tf.reduce_mean(tf.cast(tf.abs(x) <= 1, tf.float32)))
print(f"pixels {float(tf.reduce_min(pixels)):.1f}..{float(tf.reduce_max(pixels)):.1f} -> preprocess_input -> "
      f"{float(tf.reduce_min(scaled)):.3f}..{float(tf.reduce_max(scaled)):.3f}")
print(f"the lesson's x: {float(tf.reduce_min(x)):.2f}..{float(tf.reduce_max(x)):.2f}, {inside:.0%} of it in [-1, 1]")
print("InceptionV3 on preprocessed pixels:", base_model.predict(scaled, verbose=0).shape)

# %% [markdown]
# ### Why 299x299 with the top?
# Global average pooling turns the last feature map, whatever its height and
# width, into 2048 numbers (one mean per channel): the `Dense` sees 2048
# numbers at any input size, as the line above shows at this profile's size.
# So the size is not forced by the layer. It is a rule of the Keras API:
# `include_top=True` together with `weights="imagenet"` requires the default
# input shape, and Keras refuses anything else before it downloads a byte.

# %%
try:
    keras.applications.InceptionV3(include_top=True, weights="imagenet", input_shape=(150, 150, 3))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ### Swap the 1000-way head for a 5-way one
# Same move as lesson 01: the model's input, the output of the layer before
# the last (`avg_pool`, 2048 features), a new `Dense(5)`. The lesson's
# `base_model.layers[0].input` is Keras 2: in Keras 3 an `InputLayer` has no
# input (the line gives `[]`, printed below); `base_model.input` is the tensor.

# %%
print("Keras 3: base_model.layers[0].input ->", base_model.layers[0].input,
      "| layers[0].output is base_model.input:", base_model.layers[0].output is base_model.input)
base_inputs = base_model.input  # the lesson's base_model.layers[0].input in Keras 2
base_outputs = base_model.layers[-2].output
final_outputs = keras.layers.Dense(5, name="five_classes")(base_outputs)
new_model = keras.Model(inputs=base_inputs, outputs=final_outputs)
print("features:", base_outputs.shape, "-> outputs:", new_model.output.shape)

loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
new_model.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=["accuracy"])
counts_a = models.parameter_counts(new_model)
course_utils.record("app_head_outputs", int(new_model.output.shape[-1]))
course_utils.record("app_trainable_params", counts_a["trainable"])
print(models.summarize_trainable(new_model))

# %%
history_a = new_model.fit(x, y, epochs=cfg.epochs, verbose=2)

# %% [markdown]
# ### From logits to class ids, and what the 100% means
# `predict` returns five *logits* per image (the head has no softmax);
# `argmax` picks the class id. Compare the ids with the labels.
#
# The training log measured accuracy *while training*, when every
# `BatchNormalization` layer normalises with the statistics of the current
# batch. `predict` and `evaluate()` run in inference mode, where BatchNorm
# uses its *moving* averages, still far from those statistics after 15
# tiny batches. Calling the model with `training=True` shows the difference.
# Either way a perfect score only says five points were memorised. Chance,
# one right guess in five labels, is the yardstick.

# %%
chance = course_utils.record("chance_accuracy", 1 / cfg.num_examples, note="one guess among the labels")
train_acc_a = history_a.history["accuracy"][-1]
eval_loss_a, eval_acc_a = new_model.evaluate(x, y, verbose=0)
logits_a = new_model.predict(x, verbose=0)
ids_a = logits_a.argmax(axis=1)
print("logits of image 0:", logits_a[0].round(2))
print(f"labels {y.numpy()} | predict (inference mode) {ids_a} -> accuracy {accuracy_score(y, ids_a):.2f} "
      f"(chance {chance:.2f})")
ids_train_mode = new_model(x, training=True).numpy().argmax(axis=1)  # also nudges BatchNorm's averages
print(f"labels {y.numpy()} | training=True {ids_train_mode} -> accuracy {accuracy_score(y, ids_train_mode):.2f}")
print(f"[{cfg.profile}] fit's last epoch: accuracy {train_acc_a:.2f}, loss {history_a.history['loss'][-1]:.3g}; "
      f"evaluate(): accuracy {eval_acc_a:.2f}, loss {eval_loss_a:.4f}")
course_utils.record("app_train_accuracy", train_acc_a, note=f"{cfg.epochs} epochs, training mode")
course_utils.record("app_final_loss", history_a.history["loss"][-1])
course_utils.record("app_eval_accuracy", eval_acc_a, note="evaluate(), inference-mode BatchNorm")
course_utils.record("app_predict_accuracy", accuracy_score(y, ids_a), note="argmax of predict's logits")
course_utils.record("app_training_mode_accuracy", accuracy_score(y, ids_train_mode),
                    note="argmax of model(x, training=True)");

# %% [markdown]
# ### Freezing works the same way
# `base_model.trainable = False` freezes all of InceptionV3's layers at
# once; only the new head (one weight per feature and class, plus 5 biases)
# is left to train. (Recompile after changing `trainable`, or `fit` keeps
# the old setting.) The count proves it.

# %%
base_model.trainable = False
new_model.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=["accuracy"])
frozen_a = models.parameter_counts(new_model)
head_only = base_outputs.shape[-1] * 5 + 5  # 2048 features x 5 classes + 5 biases
print(models.summarize_trainable(new_model), f"| the new head alone: {head_only:,}")
assert frozen_a["trainable"] == head_only
course_utils.record("app_frozen_trainable_params", frozen_a["trainable"])
models.trainable_report(new_model).tail(4)

# %% [markdown]
# ## Part B — the same family from TF Hub
# TF Hub publishes Inception-v3 twice: as a classifier and as a *feature
# vector* (no top, like `include_top=False` plus pooling). We take the feature
# vector and add our own layers. `hub.KerasLayer` is frozen by default
# (`trainable=False`).
#
# **Where the model comes from.** tfhub.dev handles now redirect to Kaggle
# Models; `hub.KerasLayer` still accepts them. The download is cached in
# `$TFHUB_CACHE_DIR/<SHA-1 of the handle>` (here: the project's `data/tfhub`).
# The quick profile builds a small stand-in
# with the same signature (images in [0, 1] -> a 2048-vector) in its own
# cache under the *same handle*, so the code below does not change:
# `prepare_handle` only says what will load (and builds the stand-in).
# (The real module expects pixels in [0, 1]; lesson 03 feeds it photos.)

# %% [markdown]
# **Why `tf_keras` here.** `hub.KerasLayer` is a Keras 2 layer: with Keras 3
# installed, `tensorflow_hub` (0.16.1, its last release) builds it on
# `tf_keras`, and a Keras 3 model refuses it (tensorflow/hub#903; the next
# cell shows the error). So Part B's model is a `tf_keras` model.

# %%
url = "https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5"
course_hub.prepare_handle(url, cfg.source, dim=2048)
base_model_hub = hub.KerasLayer(url, input_shape=(SIZE, SIZE, 3))
print("hub.KerasLayer is a tf_keras layer:", isinstance(base_model_hub, tf_keras.layers.Layer),
      "| a Keras 3 layer:", isinstance(base_model_hub, keras.layers.Layer))
try:
    keras.Sequential([base_model_hub, keras.layers.Dense(5)])
except ValueError as err:
    print("Keras 3 Sequential:", str(err).split(". Received")[0])

tf_keras.utils.set_random_seed(cfg.seed)  # Part B's head starts the same whatever Part A drew
model = tf_keras.Sequential(
    [
        base_model_hub,
        tf_keras.layers.Dense(128, activation="relu"),
        tf_keras.layers.Dense(64, activation="relu"),
        tf_keras.layers.Dense(5),
    ]
)
model.compile(optimizer=tf_keras.optimizers.Adam(),
              loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
model.summary()

# %% [markdown]
# ### Which parameters train?
# The table proves it: the hub layer's weights are all non-trainable, only
# the three Dense layers train.

# %%
report_b = models.trainable_report(model)
counts_b = models.parameter_counts(model)
assert not report_b.iloc[0]["trainable"] and report_b.iloc[0]["trainable_params"] == 0
course_utils.record("hub_feature_dim", int(base_model_hub.output.shape[-1]))
course_utils.record("hub_trainable_params", counts_b["trainable"])
report_b

# %%
history_b = model.fit(x, y, epochs=cfg.epochs, verbose=2)
train_acc_b = history_b.history["accuracy"][-1]
course_utils.record("hub_train_accuracy", train_acc_b, note=f"{cfg.epochs} epochs")
course_utils.record("hub_final_loss", history_b.history["loss"][-1])
print(f"[{cfg.profile}] TF Hub model: training accuracy {train_acc_b:.2f}, loss {history_b.history['loss'][-1]:.4f}")

# %% [markdown]
# The same turn from logits to ids. No BatchNorm changes mode here (a frozen
# hub layer always runs in inference mode), yet `predict` may still disagree
# with the log: `fit` scores each batch *before* its update (the five images
# are one batch, so the log's last score precedes the last update), and a
# loss near the one of five equal scores (ln 5) means the scores are so
# close that one more step can flip an answer.

# %%
logits_b = model.predict(x, verbose=0)
ids_b = logits_b.argmax(axis=1)
print(f"loss {history_b.history['loss'][-1]:.2f} vs ln 5 = {math.log(cfg.num_examples):.2f}; "
      f"logits of image 0: {logits_b[0].round(2)}")
print(f"labels {y.numpy()} | predict {ids_b} -> accuracy {accuracy_score(y, ids_b):.2f}")
course_utils.record("hub_predict_accuracy", accuracy_score(y, ids_b), note="argmax of predict's logits");

# %% [markdown]
# ### The same frozen feature vector in a Keras 3 model
# A TF Hub feature vector's root object is callable, images in, features out
# (TF Hub's Reusable SavedModel API requires `__call__`).
# `keras.layers.TFSMLayer` wraps that endpoint as a Keras 3 layer;
# `hub.resolve(url)` is the folder `hub.KerasLayer` loaded. Part B's head, in
# Keras 3:

# %%
frozen_features = keras.layers.TFSMLayer(hub.resolve(url), call_endpoint="__call__", trainable=False)
same = float(tf.reduce_max(tf.abs(frozen_features(x) - base_model_hub(x))))
print(f"largest difference, TFSMLayer vs hub.KerasLayer features on x: {same:.2g}")
course_utils.record("tfsm_vs_hub_feature_max_diff", same, note="same SavedModel, same five inputs")

keras.utils.set_random_seed(cfg.seed)
inputs = keras.Input(shape=(SIZE, SIZE, 3))
h = keras.layers.Dense(128, activation="relu")(frozen_features(inputs))
h = keras.layers.Dense(64, activation="relu")(h)
model_k3 = keras.Model(inputs, keras.layers.Dense(5)(h))
model_k3.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=["accuracy"])
counts_k3 = models.parameter_counts(model_k3)
course_utils.record("tfsm_trainable_params", counts_k3["trainable"], note="Keras 3 head on TFSMLayer")
print(models.summarize_trainable(model_k3))
history_k3 = model_k3.fit(x, y, epochs=cfg.epochs, verbose=2)
course_utils.record("tfsm_train_accuracy", history_k3.history["accuracy"][-1], note=f"{cfg.epochs} epochs")
course_utils.record("tfsm_final_loss", history_k3.history["loss"][-1])

# %% [markdown]
# **When each way works.** Frozen, both give the same features and train
# the same head. Trainable, `TFSMLayer` does wrap the module's variables
# (gradients reach them), but passes no `training` flag, adds no
# regularization losses, and `fit` may refuse its variable names (tried below,
# with Adam). To fine-tune a hub model, use `hub.KerasLayer(...,
# trainable=True)` in `tf_keras` (lesson 03).

# %%
tunable = keras.layers.TFSMLayer(hub.resolve(url), call_endpoint="__call__", trainable=True)
with tf.GradientTape() as tape:
    features_sum = tf.reduce_sum(tunable(x))
reached = sum(g is not None for g in tape.gradient(features_sum, tunable.trainable_weights))
print(f"TFSMLayer(trainable=True): gradients reach {reached} of its {len(tunable.trainable_weights)} variables")
course_utils.record("tfsm_gradients_reaching_module", reached, note=f"of {len(tunable.trainable_weights)}")
tune_k3 = keras.Sequential([keras.Input(shape=(SIZE, SIZE, 3)), tunable, keras.layers.Dense(5)])
tune_k3.compile(optimizer=keras.optimizers.Adam(), loss=loss)
try:
    tune_k3.fit(x, y, epochs=1, verbose=0)
    outcome = "ran"
except ValueError as err:
    outcome = "ValueError: " + str(err).splitlines()[0]
print(f"Keras {keras.__version__}, fit with Adam through a trainable TFSMLayer: {outcome}")
course_utils.record("tfsm_finetune_adam_runs", int(outcome == "ran"), note=f"1 = ran, Keras {keras.__version__}")
del tunable, tune_k3

# %%
fig = plots.plot_history({"InceptionV3 (Applications)": history_a, "Inception-v3 (TF Hub)": history_b,
                          "Inception-v3 (TFSMLayer, Keras 3)": history_k3},
                         title=f"Lesson 02 ({cfg.profile} profile): five random images")
course_utils.record_figure(fig);

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l02-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from course_exercises.lesson02 import ex1, ex2, ex3, example_logits, feature_module, inception_with_top

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: what does `include_top` add?
# `with_top` is InceptionV3 with its ImageNet top (random weights, at a
# small input size: the top does not depend on it). Set `top_params` to the
# number of parameters the top adds: from the model, or by hand from its
# layers' shapes.

# %% nbgrader={"grade": false, "grade_id": "l02-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
with_top = inception_with_top()
top_params = None
### BEGIN SOLUTION
top_params = sum(layer.count_params() for layer in with_top.layers[-2:])  # avg_pool, predictions
print(f"{top_params:,}")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(top_params, with_top)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: a trainable TF Hub layer
# `module` stands in for the Inception-v3 feature vector (images in [0, 1]
# to 2,048 features). Wrap it in `hub.KerasLayer` with `trainable=True`,
# build Part B's model on it as `hub_model` for 64x64 images, and set
# `trainable_params` to what `fit` would train.

# %% nbgrader={"grade": false, "grade_id": "l02-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
module = feature_module()
hub_model = None
trainable_params = None
### BEGIN SOLUTION
hub_layer = hub.KerasLayer(module, trainable=True, input_shape=(64, 64, 3))
hub_model = tf_keras.Sequential([
    hub_layer,
    tf_keras.layers.Dense(128, activation="relu"),
    tf_keras.layers.Dense(64, activation="relu"),
    tf_keras.layers.Dense(5),
])
trainable_params = int(sum(np.prod(w.shape) for w in hub_model.trainable_weights))
print(f"{trainable_params:,} trainable")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(trainable_params, hub_model)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: from logits to probabilities
# `logits` holds one row of five logits per image, as Part A's `new_model`
# returns them. Set `probabilities` (each row summing to 1) and `predicted`,
# the class of each image.

# %% nbgrader={"grade": false, "grade_id": "l02-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
logits = example_logits()
probabilities = None
predicted = None
### BEGIN SOLUTION
probabilities = tf.nn.softmax(logits, axis=-1).numpy()
predicted = np.argmax(probabilities, axis=1)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(probabilities, predicted)

# %% [markdown]
# ## Ours beside the original lesson
# Each row is a figure the original lesson reported, ours from this run
# (the column head names the profile) and whether the two compare like for
# like.

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - `keras.applications.<Model>(include_top=..., weights="imagenet")` and
#   `hub.KerasLayer(url)` give you a pretrained network in one line; the
#   feature-vector variant is the one you build on.
# - `hub.KerasLayer` goes in `tf_keras` models; a frozen hub feature vector
#   also runs in Keras 3 (`TFSMLayer`); fine-tuning needs `tf_keras`.
# - Feed each model what it was trained on: InceptionV3 from Keras wants
#   `inception_v3.preprocess_input` ([-1, 1]); the TF Hub module [0, 1].
# - The head swap is the same everywhere: features from `layers[-2]`, a new
#   `Dense(n)`, `Model(inputs, outputs)`; `trainable = False` freezes a whole
#   model or hub layer; check it with the parameter counts.
# - `predict` gives logits; `argmax` turns them into class ids. With
#   BatchNorm in the model, inference can disagree with the training log.
# - 299x299 with the top is a Keras API rule for the ImageNet weights; the
#   global pooling would accept other sizes.
# - The lesson's 100% training accuracy after 15 epochs is memorising five
#   points; it says nothing about real images.
# - Figures printed above carry the profile that produced them; the quick
#   profile's are from random weights and a stand-in module.
