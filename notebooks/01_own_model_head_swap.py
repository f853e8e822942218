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
# # Lesson 01 — Reuse your own saved model: swap its head, freeze it
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/01_own_model_head_swap.ipynb)
#
# **What you will learn.** Transfer learning starts with a model that already
# knows something. The simplest such model is one *you* trained earlier and
# saved. In this notebook you train a small digit classifier, save it in
# Keras's native `.keras` format, load it back, cut off its last layer and
# put a new output layer in its place with the functional API. Then you
# freeze the reused layers and *prove* with parameter counts what is frozen
# (the original lesson's freezing loop had a typo that freezes nothing on
# its own), measure what freezing buys in epoch time, let the test images
# say whether it costs accuracy, and turn the new model's outputs into
# digits. Last, our figures stand beside the original lesson's.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE` and falls back to `"full"` (real
# MNIST). The other values are `None` for "the profile's default", written
# beside each (the batch is Keras's default; the transcript names none).

# %% tags=["parameters"]
PROFILE = None          # "full" (real MNIST) or "quick" (offline, seconds)
EPOCHS = None           # training epochs after the head swap (full: 3, the lesson's)
PRETRAIN_EPOCHS = None  # epochs for the model we save first (full: 2)
BATCH_SIZE = None       # batch size (full: 32)

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
# This is Keras 3 (`import keras`, running on TensorFlow), the Keras that
# TensorFlow 2.16 and later and Colab give you. `start_lesson` resolves the
# profile, points every cache at the project's `data/` folder, seeds all
# random generators and prints what runs.

# %%
import math
import os

import keras
import numpy as np
from keras import layers
from sklearn.metrics import accuracy_score

import course_utils
from course_utils.data import mnist
from course_utils import models
from course_utils.show import plots
from course_utils.setup.env import data_dir
from course_utils.show.timing import EpochTimer

cfg = course_utils.start_lesson(
    "01", PROFILE, epochs=EPOCHS, pretrain_epochs=PRETRAIN_EPOCHS, batch_size=BATCH_SIZE
)

# %% [markdown]
# ## 1. The data
# MNIST: 28x28 grey digits, scaled to [0, 1]. The transcript does not show
# the loading lines ("I'm just gonna copy in sort of the data dataset
# loading"); Keras's loader is `keras.datasets.mnist.load_data()`, then a
# division by 255. `mnist.load` reads the same file (downloaded once into
# the project's `data/` folder, checked against the SHA-256 Keras checks)
# and scales it the same way. The quick profile
# (`cfg.source` is "stand-in") gets scikit-learn's small digit set instead,
# enlarged to the same 28x28 shape, so it runs offline.

# %%
(x_train, y_train), (x_test, y_test) = mnist.load(cfg.source)
print("train:", x_train.shape, x_train.dtype, "test:", x_test.shape)
print("pixel range:", x_train.min(), "to", x_train.max(), "| classes:", np.unique(y_train))
plots.plot_images(x_train[:10], [str(label) for label in y_train[:10]], cols=10, size=1.3);


# %% [markdown]
# ## 2. The model "you trained earlier"
# The original lesson starts by loading a model from a `pretrained/` folder.
# We make that model here so the notebook stands alone: a small CNN whose
# second-to-last layer is a `Flatten` and whose last layer is a `Dense(10)`
# classifier. Its first element, `keras.Input((28, 28))`, gives the input
# shape; Keras 2 code passed `input_shape=(28, 28)` to the first layer,
# which Keras 3 still accepts but warns against. The model is saved in the
# native `.keras` format. Older tutorials use `.h5` files (Keras 3 still
# reads and writes them, as a legacy format) or SavedModel folders, which
# Keras 3's `save` and `load_model` refuse (`model.export` writes one).

# %%
def build_digit_cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Reshape((28, 28, 1), name="add_channel"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Conv2D(128, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, name="digits"),
        ],
        name="digit_cnn",
    )


loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
first = build_digit_cnn()
first.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=["accuracy"])
first.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.pretrain_epochs, verbose=2)

MODEL_PATH = data_dir() / "pretrained" / f"digit_cnn_{cfg.profile}.keras"
MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
# Keras writes the file in place, so save beside it and rename in one step: a run
# that reads MODEL_PATH meanwhile gets the old file or the new one, never half of one.
saving = MODEL_PATH.with_name(f"{MODEL_PATH.stem}.{os.getpid()}.keras")
first.save(saving)
os.replace(saving, MODEL_PATH)
print("saved to", MODEL_PATH)

# %% [markdown]
# ## 3. Load it back
# One call reads the architecture, the weights and the training settings
# from the file.

# %%
model = keras.models.load_model(MODEL_PATH)
model.summary()

# %% [markdown]
# ## 4. Swap the head
# Keep everything up to the layer before the last (`layers[-2]`, the
# `Flatten`), and put a new `Dense(10)` on its output. The functional API
# builds the new model from the old model's input tensor and the new output.

# %%
base_inputs = model.layers[0].input
base_outputs = model.layers[-2].output
final_outputs = layers.Dense(10, name="new_digits")(base_outputs)
new_model = keras.Model(inputs=base_inputs, outputs=final_outputs, name="digit_cnn_new_head")
new_model.summary()

# %% [markdown]
# The new head decides the number of outputs: `Dense(15)` would give 15.
# And instead of counting indices you can pick the layer by name with
# `get_layer`: the same tensor, so the same model. A name that does not
# exist gets an error that lists the valid ones.

# %%
fifteen = keras.Model(base_inputs, layers.Dense(15)(base_outputs))
print("with Dense(15):", fifteen.output.shape)
by_name = model.get_layer("flatten").output
print("get_layer('flatten') is layers[-2]:", by_name is model.layers[-2].output)
try:
    model.get_layer("flaten")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 5. Freezing, and proving it
# A frozen layer keeps its weights during training. The proof is a count:
# the parameters in `trainable_weights` are the ones `fit` will change.
# `models.trainable_report` counts them per layer (a layer's own flag is
# not enough: in a model set `trainable = False`, nothing trains when you
# fit it, whatever its layers say).
#
# The original lesson froze the loaded model with the one-liner
# `model.trainable = False`, then showed a loop for freezing a slice and
# wrote `layers.trainable = False` in it: `layers` is the Keras *module*
# (the lesson's head is `layers.Dense(10)`), so Python sets an attribute on the
# module and no layer changes. The
# presenter caught it while editing and said the one-liner had done the
# work: "that is already done in this one liner so it doesn't really
# matter" (seed transcript, lesson 01). Run on its own, the loop freezes
# nothing:

# %%
def count(weights):
    return sum(math.prod(w.shape) for w in weights)  # a Keras 3 weight's shape is a tuple


for layer in new_model.layers[1:5]:  # noqa: B007 - a linter flags the unused `layer`
    layers.trainable = False  # the typo: sets an attribute on the module

print(f"trainable {count(new_model.trainable_weights):,} of {new_model.count_params():,} parameters")
models.trainable_report(new_model)

# %% [markdown]
# Every parameter still trains. (A linter would have warned: ruff's rule
# B007 flags a loop variable that the body never uses.) The correct loop
# uses the loop variable and freezes conv1 and conv2 (the pooling layers
# have no weights):

# %%
for layer in new_model.layers[1:5]:
    layer.trainable = False

print(f"trainable {count(new_model.trainable_weights):,} of {new_model.count_params():,} parameters")
models.trainable_report(new_model)

# %% [markdown]
# Now the lesson's order: `model.trainable = False` freezes *every* layer
# of the loaded model at once; then the loop with the typo. `new_model`
# shares its layers with `model`, so it sees the change; the new head
# (created outside `model`) stays trainable. If the lesson's frozen run was
# frozen, only the head trains: one weight per feature and digit, plus ten
# biases.

# %%
for layer in new_model.layers:
    layer.trainable = True  # start again from an unfrozen model
model.trainable = False  # the lesson's one-liner
for layer in new_model.layers[1:5]:  # noqa: B007 - the lesson's loop, typo included
    layers.trainable = False
del layers.trainable  # undo the typo's side effect on the module

head_only = base_outputs.shape[-1] * 10 + 10  # Flatten features x 10 digits + 10 biases
report = models.trainable_report(new_model)
print(f"trainable {count(new_model.trainable_weights):,}, frozen {count(new_model.non_trainable_weights):,}; "
      f"the new head alone has {head_only:,}")
assert report["trainable_params"].sum() == count(new_model.trainable_weights) == head_only
assert report["trainable_params"].iloc[-1] == head_only  # all of it in the head
course_utils.record("frozen_trainable_params", count(new_model.trainable_weights))
course_utils.record("head_outputs", int(new_model.output.shape[-1]))
report


# %% [markdown]
# ## 6. Train with and without the frozen base
# Two runs from the same saved weights, seed and batches: first everything
# trainable, then the base frozen. Adam, sparse categorical cross-entropy
# *from logits* (the head has no softmax), accuracy. The transcript does not
# show the lesson's `fit` call ("I'm gonna copy in the compile and the fit").
# Here `fit` gets only the training images, so an epoch's time is training
# alone: the span `EpochTimer` measures is the one whose seconds `fit`
# prints. The test images are evaluated once afterwards, outside the timer.
# The mean leaves out the first epoch, which includes graph tracing.

# %%
def head_swapped(trainable_base: bool):
    base = keras.models.load_model(MODEL_PATH)
    base.trainable = trainable_base
    outputs = layers.Dense(10, name="new_digits")(base.layers[-2].output)
    net = keras.Model(base.inputs, outputs, name=f"digits_{'unfrozen' if trainable_base else 'frozen'}")
    net.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=["accuracy"])
    return net


results = {}
for name, trainable_base in [("unfrozen", True), ("frozen base", False)]:
    keras.utils.set_random_seed(cfg.seed)
    net = head_swapped(trainable_base)
    timer = EpochTimer()
    history = net.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
                      callbacks=[timer], verbose=2)
    test_loss, test_acc = net.evaluate(x_test, y_test, verbose=0)
    results[name] = {"model": net, "history": history, "epoch_s": timer.steady, "test_accuracy": test_acc,
                     "trainable": count(net.trainable_weights)}
    print(f"[{cfg.profile}] {name}: test accuracy {test_acc:.4f}, {timer.steady:.2f} s per training epoch, "
          f"{results[name]['trainable']:,} trainable parameters\n")

# %%
unfrozen, frozen = results["unfrozen"], results["frozen base"]
timed = f"training only, mean of epochs 2-{cfg.epochs}" if cfg.epochs > 1 else "training only, 1 epoch"
course_utils.record("accuracy_after_1_epoch", unfrozen["history"].history["accuracy"][0],
                    note="unfrozen: the training accuracy fit printed for epoch 1")
course_utils.record("train_accuracy", unfrozen["history"].history["accuracy"][-1],
                    note=f"unfrozen: the training accuracy fit printed for epoch {cfg.epochs}")
course_utils.record("test_accuracy", unfrozen["test_accuracy"],
                    note=f"{len(x_test):,} test images after {cfg.epochs} epochs, unfrozen")
course_utils.record("test_accuracy_frozen", frozen["test_accuracy"],
                    note=f"{len(x_test):,} test images after {cfg.epochs} epochs, frozen base")
course_utils.record("epoch_time_unfrozen_s", unfrozen["epoch_s"], unit="s", note=timed)
course_utils.record("epoch_time_frozen_s", frozen["epoch_s"], unit="s", note=timed)
course_utils.record("frozen_speedup", unfrozen["epoch_s"] / frozen["epoch_s"], unit="x", note=timed)
print(f"profile {cfg.profile}: frozen training epochs are {unfrozen['epoch_s'] / frozen['epoch_s']:.1f}x faster; "
      f"test accuracy {unfrozen['test_accuracy']:.3f} unfrozen vs {frozen['test_accuracy']:.3f} frozen")

fig = plots.plot_history({name: r["history"] for name, r in results.items()},
                         title=f"Lesson 01 ({cfg.profile} profile): unfrozen vs frozen base, training curves")
course_utils.record_figure(fig);

# %% [markdown]
# ## 7. From outputs to digits
# The head has no softmax, so `predict` returns *logits*: ten scores per
# image, the largest one the model's answer. `argmax` turns them into
# digits, `softmax` into probabilities (a confidence). Counting the right
# answers must give the accuracy `evaluate` reported for the frozen run.

# %%
final = frozen["model"]
logits = final.predict(x_test, batch_size=cfg.batch_size, verbose=0)
predicted = logits.argmax(axis=1)
confidence = keras.ops.convert_to_numpy(keras.ops.softmax(logits)).max(axis=1)
print("logits of the first test image:", logits[0].round(1))
print("predicted:", predicted[:12], "\ntrue:     ", y_test[:12])
right = int(accuracy_score(y_test, predicted, normalize=False))
accuracy = course_utils.record("test_accuracy_from_predict", accuracy_score(y_test, predicted),
                               note="frozen base: argmax of predict's logits")
print(f"[{cfg.profile}] {right} of {len(y_test)} right: {accuracy:.4f} (evaluate: {frozen['test_accuracy']:.4f})")
plots.plot_images(x_test[:10], [f"{p} ({c:.0%})" for p, c in zip(predicted[:10], confidence[:10])],
                  cols=10, size=1.3);

# %% [markdown]
# ## 8. Does freezing cost accuracy? The test images decide
# Of its frozen run the lesson said: "it actually got better performance in
# this case. sort of the same" (no figures). Here both runs answer the same
# test images. Images both get right, or both wrong, say nothing; among
# those only one model gets right, two equally good models would each win
# about half (McNemar's test). A lead within two standard deviations,
# 2·√n for n such images, is one these images cannot tell from chance.

# %%
unfrozen_right = unfrozen["model"].predict(x_test, batch_size=cfg.batch_size, verbose=0).argmax(axis=1) == y_test
frozen_right = predicted == y_test
only_frozen = int(np.sum(frozen_right & ~unfrozen_right))
only_unfrozen = int(np.sum(unfrozen_right & ~frozen_right))
lead, spread = only_frozen - only_unfrozen, 2 * math.sqrt(only_frozen + only_unfrozen)
verdict = ("the same, as far as these test images can tell" if abs(lead) <= spread
           else f"{'better' if lead > 0 else 'worse'} with the base frozen, by more than chance explains")
gap = course_utils.record("frozen_accuracy_gap", 100 * (frozen_right.mean() - unfrozen_right.mean()),
                          unit="points", note=f"frozen minus unfrozen, {len(y_test):,} test images: {verdict}")
print(f"[{cfg.profile}] only the frozen model right: {only_frozen}, only the unfrozen one: {only_unfrozen} "
      f"(lead {lead:+d}, chance covers ±{spread:.0f})\naccuracy frozen minus unfrozen: {gap:+.2f} points: {verdict}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l01-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import keras
import numpy as np

from course_exercises.lesson01 import digit_cnn, ex1, ex2, ex3

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: freeze conv1 and conv2, and prove it
# `cnn` is a fresh copy of this lesson's CNN. Freeze **only** `conv1` and
# `conv2`. Then write `count_trainable(model)`, returning how many
# parameters `fit` would train in `model`. The check looks at what trains
# in `cnn` and calls your function on `cnn` and on models frozen other ways.

# %% nbgrader={"grade": false, "grade_id": "l01-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
count_trainable = None
### BEGIN SOLUTION
for layer in cnn.layers:
    layer.trainable = layer.name not in ("conv1", "conv2")


def count_trainable(model):  # noqa: F811 - replaces the None above
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


print([(layer.name, layer.trainable) for layer in cnn.layers], count_trainable(cnn))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(count_trainable, cnn)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: a three-class head that gives probabilities
# For a problem with three classes, build `three_way`: `cnn`'s input, the
# features of the layer before the last, and a new output layer whose
# outputs are **probabilities** (each row sums to 1).

# %% nbgrader={"grade": false, "grade_id": "l01-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
three_way = None
### BEGIN SOLUTION
features = cnn.layers[-2].output
probabilities = keras.layers.Dense(3, activation="softmax", name="three_classes")(features)
three_way = keras.Model(cnn.inputs, probabilities)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(three_way, cnn)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: cut by name
# Build `conv2_model`: from `cnn`'s input to the output of the layer named
# `conv2`, sharing `cnn`'s weights. Select the layer by its name, not by
# counting indices.

# %% nbgrader={"grade": false, "grade_id": "l01-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
conv2_model = None
### BEGIN SOLUTION
conv2_model = keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
print(conv2_model.output.shape)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(conv2_model, cnn)

# %% [markdown]
# ## Ours beside the original lesson
# Each row is a figure the original lesson reported, ours from this run
# (the column head names the profile) and whether the two compare like for
# like. The lesson names no split for its accuracies, so ours appears as
# training and as test accuracy.

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - A saved model is a starting point: `load_model`, take `layers[-2].output`
#   (or `get_layer(name).output`), add a new head, build `Model(inputs, outputs)`.
# - `model.trainable = False` freezes everything; a loop freezes a slice.
#   Always *count* what `fit` will train afterwards: the lesson's loop had
#   a one-letter typo that freezes nothing and raises no error (there the
#   one-liner had already frozen the model, so it did no harm).
# - With the base frozen only the head's parameters train, so each epoch is
#   cheaper (the backward pass stops at the head). The lesson saw "sort of
#   the same" accuracy, its reused layers having already learnt MNIST;
#   section 8 lets the test images judge this run's difference.
# - `predict` gives logits; `argmax` gives the answer, `softmax` a confidence.
# - Every figure names the profile that made it; quick-profile numbers only
#   prove the code runs.
