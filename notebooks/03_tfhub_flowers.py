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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/transfer-learning-course/tf-keras-transfer-learning/blob/v0.2.0/notebooks/03_tfhub_flowers.ipynb)
#
# **What you will learn.** A network trained on ImageNet already turns any
# image into useful features. You load one from TensorFlow Hub, *freeze* it
# and train only a small new head that tells five kinds of flowers apart.
# You load and split the data with TensorFlow Datasets, build an input
# pipeline, train the head on images and on features computed once, turn
# logits into class names for any batch size, and read a confusion matrix
# and the mistakes. You do it with MobileNet-v2 and Inception-v3, then
# fine-tune MobileNet-v2 at a low learning rate.

# %% [markdown]
# ## Parameters
# `PROFILE = None` reads `$COURSE_PROFILE`, else `"full"`: the real photos
# and TF Hub models, as in the lesson. `"quick"` runs the same code offline
# in seconds on generated images and stand-in models. Offline classroom:
# set `FLOWERS_DIR` to an unpacked `flower_photos/` folder.

# %% tags=["parameters"]
PROFILE = None           # "full" (real photos and TF Hub weights) or "quick" (offline, seconds)
EPOCHS = None            # training epochs of each head (full: 6, the lesson's)
BATCH_SIZE = None        # batch size (full: 367, the lesson's)
FLOWERS_DIR = None       # a local flower_photos/ folder to use instead of the download (full only)
FINE_TUNE_EPOCHS = None  # epochs of fine-tuning MobileNet-v2 after the head has trained (full: 3)

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
# Every model here is built around `hub.KerasLayer`, a Keras 2 layer, so the
# lesson imports `tf_keras` by name and uses it throughout (`tf.keras` would
# be Keras 3, which refuses a hub layer: lesson 02). `start_lesson` sets up
# the profile, the caches in `data/` and the seeds.

# %%
import functools
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_hub as hub
import tf_keras
from sklearn.metrics import ConfusionMatrixDisplay, classification_report
from tf_keras.layers import Dense, Dropout
from tf_keras.losses import SparseCategoricalCrossentropy

import course_utils
from course_utils.data import flowers
from course_utils import models
from course_utils.show import plots
from course_utils.models import hub as hub_utils
from course_utils.show.timing import EpochTimer, Stopwatch

cfg = course_utils.start_lesson(
    "03", PROFILE, epochs=EPOCHS, batch_size=BATCH_SIZE, flowers_dir=FLOWERS_DIR,
    fine_tune_epochs=FINE_TUNE_EPOCHS,
)
print("\ntf", tf.__version__, "| GPU device:", repr(tf.test.gpu_device_name()), "('' = CPU only)")

# %% [markdown]
# ## TensorFlow Hub, then and now
# The lesson's `tfhub.dev` handles now redirect to **Kaggle Models**, and
# `tensorflow_hub` follows. `hub.KerasLayer(handle)` looks in
# `$TFHUB_CACHE_DIR/<SHA-1 of the handle>/` first and downloads only once.
# These are the lesson's two handles. The quick profile builds stand-ins
# (real shapes, random weights) under the same handles in a separate cache.

# %%
mobilenet_url = "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4"
inception_url = "https://tfhub.dev/google/tf2-preview/inception_v3/feature_vector/4"
print("TFHUB_CACHE_DIR =", os.environ["TFHUB_CACHE_DIR"])
for handle in (mobilenet_url, inception_url):
    print(f"{handle}\n  -> {hub_utils.cache_key(handle)}  (cached: {hub_utils.is_cached(handle)})")

# %% [markdown]
# ## 1. Load the flowers with `tfds.load`
# `tf_flowers` has 3,670 photos of five kinds of flowers in one `train`
# split. TFDS *split strings* cut it: 10% test, 15% validation, 75% train.
# `as_supervised=True` gives `(image, label)` pairs; `with_info=True` adds
# the metadata. The lesson's `try_gcs=True` read a cloud copy on every run;
# without it TFDS downloads once into `data/tfds`. `flowers.load` only
# gets `tf_flowers` ready and says where it is (`data_dir`): the download,
# or a local `flower_photos` folder (generated images in the quick profile)
# prepared once as `tf_flowers`. Both profiles use the lesson's split strings.

# %%
data_dir = flowers.load(cfg.source, local_copy=cfg.flowers_dir, num_images=cfg.num_images, seed=cfg.seed)
print(f"source: {cfg.source}, data_dir={data_dir}")

(test, valid, train), info = tfds.load(
    "tf_flowers", split=["train[:10%]", "train[10%:25%]", "train[25%:]"],  # test, validation, train
    as_supervised=True, with_info=True, data_dir=data_dir,
)

# %% [markdown]
# ## 2. Explore the metadata
# `info` describes the features (an image of any size, a label with 5
# classes), the splits and where the files live.

# %%
info

# %% [markdown]
# The metadata knows how many examples each split string selects; counting
# by iterating checks that we split as intended.

# %%
num_test_img = info.splits["train[:10%]"].num_examples
num_valid_img = info.splits["train[10%:25%]"].num_examples
num_train_img = info.splits["train[25%:]"].num_examples
counted = {name: sum(1 for _ in split) for name, split in [("train", train), ("valid", valid), ("test", test)]}
assert counted == {"train": num_train_img, "valid": num_valid_img, "test": num_test_img}
course_utils.record("num_train", num_train_img)
course_utils.record("num_valid", num_valid_img)
course_utils.record("num_test", num_test_img)
print(f"[{cfg.profile} profile] train images: {num_train_img}, valid images: {num_valid_img}, "
      f"test images: {num_test_img} (of {info.splits['train'].num_examples}); counting agrees")

# %% [markdown]
# The label feature holds the class names, in label order.

# %%
class_labels = info.features["label"].names
num_classes = info.features["label"].num_classes
course_utils.record("num_classes", num_classes)
class_labels, num_classes

# %% [markdown]
# ## Images and their shapes

# %%
fig = tfds.show_examples(train, info)

# %% [markdown]
# The photos do not share one size, and a model needs one fixed input shape,
# so the pipeline resizes every image.

# %%
for i, (image, label) in enumerate(train.take(5)):
    print(f"Image {i + 1} shape: {image.shape} label: {label.numpy()} ({class_labels[label]})")
shapes = [tuple(image.shape) for image, _ in train.take(20)]
course_utils.record("distinct_shapes_in_20", len(set(shapes)), note="of the first 20 training images")
print(f"{len(set(shapes))} different shapes among the first 20 training images")

# %% [markdown]
# ## 3. The input pipeline
# `format_image` resizes to the model's input size and scales to [0, 1], as
# TF Hub image models expect (the size is an argument). Training data are shuffled; `prefetch(1)`
# prepares the next batch while the model works; validation and test keep
# their order. The lesson's batch of 367 is exactly the full test split (its
# 1024 broke the prediction code, as section 4 shows); the quick batch is
# smaller than the test split on purpose.

# %%
def format_image(image, label, size=224):
    image = tf.image.resize(image, (size, size)) / 255.0
    return image, label


BATCH_SIZE = cfg.batch_size
format_224 = functools.partial(format_image, size=224)

train_batches = train.shuffle(num_train_img // 4).map(format_224).batch(BATCH_SIZE).prefetch(1)
validation_batches = valid.map(format_224).batch(BATCH_SIZE).prefetch(1)
test_batches = test.map(format_224).batch(BATCH_SIZE).prefetch(1)


def batch_sizes(num_images):  # what .batch(BATCH_SIZE) makes of them: the last batch may be short
    return [min(BATCH_SIZE, num_images - start) for start in range(0, num_images, BATCH_SIZE)]


for name, n in [("train", num_train_img), ("valid", num_valid_img), ("test", num_test_img)]:
    print(f"[{cfg.profile} profile] {name:5s} {n:5d} images -> batches of {batch_sizes(n)}")

# %% [markdown]
# ## 4. Experiment 1: MobileNet-v2
# MobileNet-v2, a network built for phones, was trained on ImageNet at
# 224x224. Its *feature vector* version stops before the classifier: each
# image becomes a vector of features. **Freeze it**, or training would
# overwrite what its weights learnt; only the new head learns.

# %%
hub_utils.prepare_handle(mobilenet_url, cfg.source, dim=1280)  # quick profile: builds the stand-in
feature_extractor_mn = hub.KerasLayer(mobilenet_url, input_shape=(224, 224, 3))
feature_extractor_mn.trainable = False

image_batch, label_batch = next(iter(train_batches))
mn_features = feature_extractor_mn(image_batch)
course_utils.record("mobilenet_feature_dim", int(mn_features.shape[-1]))
print("images", image_batch.shape, "-> features", mn_features.shape)

# %% [markdown]
# **The model.** Clear Keras's session and seed the generators (NumPy's and
# TensorFlow's, as the lesson did, and tf_keras's own), then stack the extractor, `Dropout(0.5)` against overfitting
# and a `Dense` layer with one output per class. It has no softmax: it
# outputs *logits*, and the loss is told so with `from_logits=True`.

# %%
tf_keras.backend.clear_session()
tf_keras.utils.set_random_seed(0)  # the lesson's np.random.seed(0) and tf.random.set_seed(0), and tf_keras's own

mobile_model = tf_keras.Sequential([
    feature_extractor_mn,
    Dropout(0.5),
    Dense(num_classes),
])
kernel, bias = mobile_model.layers[-1].weights
course_utils.record("mobilenet_trainable_params", models.parameter_counts(mobile_model)["trainable"],
                    note=f"{kernel.shape[0]:,} x {kernel.shape[1]} weights + {bias.shape[0]} biases")
mobile_model.summary()
print(models.summarize_trainable(mobile_model))

# %% [markdown]
# ### Training, the lesson's way: `fit` on images
# Every epoch sends every training image through MobileNet-v2 again. We run
# two epochs this way and time the second (the first also builds the graph).

# %%
mobile_model.compile(
    optimizer="adam",
    loss=SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
initial_kernel = mobile_model.layers[-1].kernel.numpy()  # before training, for the head below
image_timer = EpochTimer()
mobile_model.fit(train_batches, epochs=2, validation_data=validation_batches,
                 callbacks=[image_timer], verbose=2)
image_epoch_s = course_utils.record("image_epoch_s", image_timer.steady, unit="s",
                                    note=f"second epoch of model.fit on images, batch {BATCH_SIZE}, "
                                         f"{cfg.profile} profile")

# %% [markdown]
# ### Fast feature extraction: `predict` once, then `fit` a head on the features
# The frozen extractor, with nothing random before it (`Dropout` comes
# after), gives the same features in every epoch. So compute them once with
# `predict` and train a small head on them (Deep Learning with Python's
# "fast feature extraction"). Unshuffled batches give the labels in the same
# order. Augmentation before the extractor would rule this out.

# %%
def extract_features(extractor, batches):
    features = extractor.predict(batches, verbose=0)
    labels = np.concatenate([label_batch.numpy() for _, label_batch in batches])
    return features, labels


extractor_mn = tf_keras.Sequential([feature_extractor_mn])  # a layer has no predict(); a model has
with Stopwatch() as extraction:
    train_features, train_labels = extract_features(extractor_mn, train.map(format_224).batch(BATCH_SIZE))
    valid_features, valid_labels = extract_features(extractor_mn, validation_batches)
features_s = course_utils.record("features_s", extraction.seconds, unit="s",
                                 note=f"predict over train + valid once, {cfg.profile} profile")
print(f"[{cfg.profile} profile] features {train_features.shape} (train), {valid_features.shape} (valid) "
      f"in {extraction.seconds:.1f} s: {(num_train_img + num_valid_img) / extraction.seconds:.0f} images/s")

# %% [markdown]
# The head is the model's `Dropout` and `Dense` on a features input,
# seeded as the model was, so it starts from the same weights.

# %%
head_learning_rate = 1e-3  # Adam's default: what optimizer="adam" uses
tf_keras.utils.set_random_seed(cfg.seed)
head_mn = tf_keras.Sequential([
    tf_keras.Input(shape=train_features.shape[1:]),
    Dropout(0.5),
    Dense(num_classes),
])
assert np.array_equal(head_mn.layers[-1].kernel.numpy(), initial_kernel)
head_mn.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=head_learning_rate),
                loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
mn_timer = EpochTimer()
history_mn = head_mn.fit(train_features, train_labels, epochs=cfg.epochs, batch_size=BATCH_SIZE,
                         validation_data=(valid_features, valid_labels), callbacks=[mn_timer], verbose=2)

# %% [markdown]
# **Same model, less time.** Put the head's weights into `mobile_model`: on
# *images* it now gives the logits the head gives on the *features*. This
# overwrites the `Dense` weights of the two epochs on images above: from
# here on, `mobile_model` is the head trained on features.

# %%
mobile_model.layers[-1].set_weights(head_mn.layers[-1].get_weights())  # replaces the 2 image epochs' Dense
check_images, _ = next(iter(validation_batches))
on_images = mobile_model(check_images, training=False)
on_features = head_mn(valid_features[: len(check_images)], training=False)
logit_gap = float(np.max(np.abs(on_images - on_features)))
course_utils.record("head_in_model_logit_max_diff", logit_gap,
                    note="mobile_model on images vs head_mn on features, one validation batch")
feature_epoch_s = course_utils.record("mobilenet_epoch_s", mn_timer.steady, unit="s",
                                      note="mean head epoch on features, without the first")
images_s = image_timer.times[0] + (cfg.epochs - 1) * image_epoch_s  # the lesson's epochs, estimated
speedup = course_utils.record(
    "fast_extraction_speedup", images_s / (features_s + mn_timer.total),
    note=f"{cfg.epochs} epochs on images (estimated from 2) / features once + {cfg.epochs} head epochs, "
         f"MobileNet-v2, {cfg.profile} profile")
print(f"largest logit difference, model on images vs head on features: {logit_gap:.2g}")
print(f"[{cfg.profile} profile] {cfg.epochs} epochs: about {images_s:.1f} s on images; "
      f"{features_s:.1f} s for the features + {mn_timer.total:.1f} s on features ({speedup:.1f}x faster)")

# %% [markdown]
# ### Learning curves
# Validation at or above training is normal here: Dropout is active only
# during training, and training accuracy is averaged over an improving
# epoch.

# %%
fig = plots.plot_history(history_mn, title=f"MobileNet-v2 feature extractor ({cfg.profile} profile)")

# %% [markdown]
# ### Predictions on the test split
# `predict` returns one row of logits per test image. The largest wins
# (`np.argmax`); softmax turns them into probabilities without changing
# which is largest.

# %%
predictions = mobile_model.predict(test_batches, verbose=0)
print(f"[{cfg.profile} profile] predictions: {predictions.shape} (one row per test image)")
print("logits:", predictions[0])
print("softmax:", tf.nn.softmax(predictions[0]).numpy().round(3))
predicted_id = np.argmax(predictions[0])
print(f"predicted id {predicted_id} -> {class_labels[predicted_id]!r}")

# %% [markdown]
# ### Predictions and labels, batch by batch
# `predict_in_batches` takes logits, labels and images from the same batch,
# so they stay together whatever the batch size or order; Keras's
# `evaluate` agrees.

# %%
def predict_in_batches(model, batches):
    logits, labels, images = [], [], []
    for image_batch, label_batch in batches:
        logits.append(model(image_batch, training=False).numpy())
        labels.append(label_batch.numpy())
        images.append((image_batch.numpy() * 255).astype("uint8"))  # 4x smaller, for the plots
    return np.concatenate(logits), np.concatenate(labels), np.concatenate(images)


mn_logits, test_labels, test_images = predict_in_batches(mobile_model, test_batches)
mn_predicted = np.argmax(mn_logits, axis=1)
assert len(test_labels) == num_test_img and np.allclose(mn_logits, predictions, atol=1e-4)
mn_accuracy = float(np.mean(mn_predicted == test_labels))
evaluated = course_utils.record("mobilenet_test_accuracy_evaluate", mobile_model.evaluate(test_batches, verbose=0)[1],
                                note="Keras's evaluate on the same test batches")
assert np.isclose(mn_accuracy, evaluated)
course_utils.record("test_predictions", len(test_labels), note="collected batch by batch")
course_utils.record("test_batches", len(test_batches), note=f"batch size {BATCH_SIZE}")
print(f"[{cfg.profile} profile] {len(test_labels)} test images in {len(test_batches)} batch(es) "
      f"of {batch_sizes(num_test_img)}; test accuracy {mn_accuracy:.3f} "
      f"(evaluate: {evaluated:.3f})")

first_batch = pd.DataFrame({"true": [class_labels[i] for i in test_labels[:BATCH_SIZE]],
                            "predicted": [class_labels[i] for i in mn_predicted[:BATCH_SIZE]]})
first_batch.head(10)

# %% [markdown]
# ### The lesson's pairing: when it holds
# The lesson paired `predictions[i]` with `labels[i]` of the first batch
# (`next(iter(test_batches))`), `i in range(BATCH_SIZE)`. Unshuffled, both
# start at the same image: right for any batch up to the full split's 367
# images (first batch only). With 1024, `labels[367]` raised the lesson's
# `IndexError`. It breaks on a dataset that reshuffles on every pass
# (exercise 2). The three cases, run:

# %%
def lesson_pairing(batches, batch_size):
    """The lesson's code; returns how many of its pairs join a prediction to another image's label."""
    all_predictions = mobile_model.predict(batches, verbose=0)
    image_batch, label_batch = next(iter(batches))
    labels = label_batch.numpy()
    pairs = [(np.argmax(all_predictions[i]), labels[i]) for i in range(batch_size)]  # IndexError past the batch
    # Whose prediction is row i? Compare it with the logits of the image label i belongs to.
    own_logits = mobile_model(image_batch, training=False).numpy()
    return int(np.sum(np.abs(all_predictions[:len(pairs)] - own_logits).max(axis=1) > 1e-4))


unshuffled_wrong = lesson_pairing(test_batches, BATCH_SIZE)
reshuffled = test.shuffle(num_test_img, seed=cfg.seed).map(format_224).batch(BATCH_SIZE)  # new order per pass
reshuffled_wrong = lesson_pairing(reshuffled, min(BATCH_SIZE, num_test_img))
course_utils.record("lesson_pairing_wrong_unshuffled", unshuffled_wrong,
                    note=f"of the first batch's {min(BATCH_SIZE, num_test_img)} rows, test batches in order")
course_utils.record("lesson_pairing_wrong_reshuffled", reshuffled_wrong,
                    note="the same code on a copy of the test split that reshuffles on every pass")
print(f"[{cfg.profile} profile] batch {BATCH_SIZE}: rows of predict() paired with another image's label: "
      f"{unshuffled_wrong} (test batches in order), {reshuffled_wrong} (reshuffled on every pass)")
try:
    lesson_pairing(test.map(format_224).batch(num_test_img + 1), num_test_img + 1)  # a batch larger than the split
except IndexError as error:
    print(f"batch {num_test_img + 1} > {num_test_img} test images: IndexError: {error}")

# %% [markdown]
# ### The prediction grid
# The lesson's plot as a function: 30 test images titled with the
# prediction, blue when right, red when wrong with the true label in brackets.

# %%
def plot_predictions(images, labels, predicted, title):
    fig = plt.figure(figsize=(11, 14))
    plt.subplots_adjust(hspace=0.3)
    for n in range(min(30, len(images))):
        plt.subplot(6, 5, n + 1)
        plt.imshow(images[n])
        right = labels[n] == predicted[n]
        text = class_labels[predicted[n]] if right else f"{class_labels[predicted[n]]} ({class_labels[labels[n]]})"
        plt.title(text, color="blue" if right else "red")
        plt.axis("off")
    plt.suptitle(title)
    return fig


fig = plot_predictions(test_images, test_labels, mn_predicted,
                       f"MobileNet-v2 ({cfg.profile} profile): blue right, red wrong (true label)")

# %% [markdown]
# ### Beyond accuracy
# The confusion matrix counts which classes the model mixes up (rows: true,
# columns: predicted). The gallery shows the test images it got wrong, most
# confident mistakes first.

# %%
mn_confidence = tf.nn.softmax(mn_logits).numpy().max(axis=1)
display = ConfusionMatrixDisplay.from_predictions(test_labels, mn_predicted, labels=range(num_classes),
                                                  display_labels=class_labels, xticks_rotation=45)
display.ax_.set_title(f"MobileNet-v2, test split ({cfg.profile} profile)")
print(classification_report(test_labels, mn_predicted, labels=range(num_classes),
                            target_names=class_labels, zero_division=0))
fig = plots.plot_misclassified(test_images, test_labels, mn_predicted, mn_confidence, class_labels,
                               title=f"MobileNet-v2 mistakes ({cfg.profile} profile): predicted (true)")
mistakes = course_utils.record("mobilenet_misclassified", int(np.sum(mn_predicted != test_labels)),
                               note=f"of {num_test_img} test images")

# %%
course_utils.record("mobilenet_val_accuracy", history_mn.history["val_accuracy"][-1],
                    note=f"after {cfg.epochs} epochs")
course_utils.record("mobilenet_test_accuracy", mn_accuracy, note=f"{num_test_img} test images")
print(f"[{cfg.profile} profile] MobileNet-v2: validation accuracy "
      f"{history_mn.history['val_accuracy'][-1]:.3f}, test accuracy {mn_accuracy:.3f}")

# %% [markdown]
# ## 5. Experiment 2: Inception-v3
# Inception-v3 works on 299x299 images; the model is the lesson's. One
# change: the lesson fitted `inception_model` on images for 6 epochs; we
# train its head on features computed once (MobileNet-v2 showed that is
# the model's head, in another batch order) and copy its weights in.

# %%
format_299 = functools.partial(format_image, size=299)
validation_im = valid.map(format_299).batch(BATCH_SIZE).prefetch(1)
test_im = test.map(format_299).batch(BATCH_SIZE).prefetch(1)

hub_utils.prepare_handle(inception_url, cfg.source, dim=2048)
feature_extractor_im = hub.KerasLayer(inception_url, input_shape=(299, 299, 3), trainable=False)
feature_extractor_im.trainable = False

tf_keras.backend.clear_session()
tf_keras.utils.set_random_seed(0)  # the lesson's np.random.seed(0) and tf.random.set_seed(0), and tf_keras's own
inception_model = tf_keras.Sequential([
    feature_extractor_im,
    Dropout(0.5),
    Dense(num_classes),
])
kernel, bias = inception_model.layers[-1].weights
course_utils.record("inception_trainable_params", models.parameter_counts(inception_model)["trainable"],
                    note=f"{kernel.shape[0]:,} x {kernel.shape[1]} weights + {bias.shape[0]} biases")
print(models.summarize_trainable(inception_model))

extractor_im = tf_keras.Sequential([feature_extractor_im])
train_features_im, train_labels_im = extract_features(extractor_im, train.map(format_299).batch(BATCH_SIZE))
valid_features_im, valid_labels_im = extract_features(extractor_im, validation_im)
course_utils.record("inception_feature_dim", int(train_features_im.shape[-1]))
print("features", train_features_im.shape, "(train)")

tf_keras.utils.set_random_seed(cfg.seed)
head_im = tf_keras.Sequential([
    tf_keras.Input(shape=train_features_im.shape[1:]),
    Dropout(0.5),
    Dense(num_classes),
])
head_im.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=head_learning_rate),
                loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
im_timer = EpochTimer()
history_im = head_im.fit(train_features_im, train_labels_im, epochs=cfg.epochs, batch_size=BATCH_SIZE,
                         validation_data=(valid_features_im, valid_labels_im), callbacks=[im_timer], verbose=2)
inception_model.layers[-1].set_weights(head_im.layers[-1].get_weights())  # instead of the lesson's fit on images

# %%
fig = plots.plot_history(history_im, title=f"Inception-v3 feature extractor ({cfg.profile} profile)")

# %%
im_logits, im_labels, im_images = predict_in_batches(inception_model, test_im)
im_predicted = np.argmax(im_logits, axis=1)
assert np.array_equal(im_labels, test_labels)
im_accuracy = float(np.mean(im_predicted == im_labels))
print(f"[{cfg.profile} profile] first prediction: logits {im_logits[0].round(2)} -> "
      f"{class_labels[im_predicted[0]]!r} (true {class_labels[im_labels[0]]!r}); test accuracy {im_accuracy:.3f}")
fig = plot_predictions(im_images, im_labels, im_predicted,
                       f"Inception-v3 ({cfg.profile} profile): blue right, red wrong (true label)")

course_utils.record("inception_val_accuracy", history_im.history["val_accuracy"][-1],
                    note=f"after {cfg.epochs} epochs")
course_utils.record("inception_test_accuracy", im_accuracy, note=f"{num_test_img} test images")
course_utils.record("inception_epoch_s", im_timer.steady, unit="s",
                    note="mean head epoch on features, without the first")
agree = course_utils.record("models_agree", float(np.mean(im_predicted == mn_predicted)),
                            note="share of test images both models label alike")

# %% [markdown]
# ## 6. The two models side by side
# Same data, same head, same training; only the frozen extractor and its
# input size differ.

# %%
comparison = pd.DataFrame(
    {
        "input": ["224x224", "299x299"],
        "features": [train_features.shape[-1], train_features_im.shape[-1]],
        "trainable params": [models.parameter_counts(m)["trainable"] for m in (mobile_model, inception_model)],
        "train acc (last epoch)": [history_mn.history["accuracy"][-1], history_im.history["accuracy"][-1]],
        "val acc": [history_mn.history["val_accuracy"][-1], history_im.history["val_accuracy"][-1]],
        "test acc": [mn_accuracy, im_accuracy],
        "s / head epoch": [mn_timer.steady, im_timer.steady],
    },
    index=["MobileNet-v2", "Inception-v3"],
)
print(f"[{cfg.profile} profile, {cfg.epochs} epochs, batch {BATCH_SIZE}, heads trained on features]")
comparison.round(3)

# %%
fig = plots.plot_history({"MobileNet-v2": history_mn, "Inception-v3": history_im},
                         title=f"Lesson 03 ({cfg.profile} profile): MobileNet-v2 vs Inception-v3")
key_plot = course_utils.record_figure(fig)

# %% [markdown]
# The lesson found both models above 80% after 6 epochs, neither
# overfitting, alike: trying two extractors is cheap when only a head trains.
#
# ## 7. Fine-tuning MobileNet-v2
# With the head trained, the extractor may adapt to flowers: load it with
# `hub.KerasLayer(handle, trainable=True)` under the trained head
# and train at a learning rate 100 times lower than the head's, so the
# pretrained weights move only slightly (a random head would send large
# gradients into them). Batches are smaller: training keeps every layer's
# activations for the backward pass. This step keeps lesson 03 on
# `tf_keras`: only `hub.KerasLayer` trains a hub model (lesson 02).
#
# **BatchNorm.** A trainable `hub.KerasLayer` passes `fit`'s `training=True`
# to the module, whose BatchNorm would then drift its ImageNet averages
# towards small batches' statistics. `training=False` keeps BatchNorm in
# inference mode while the weights train (the stand-ins have none).

# %%
tunable_mn = hub.KerasLayer(mobilenet_url, trainable=True)
inputs = tf_keras.Input(shape=(224, 224, 3))
features = tunable_mn(inputs, training=False)  # BatchNorm keeps its ImageNet statistics
fine_model = tf_keras.Model(inputs, head_mn(features))

trainable_before = models.parameter_counts(head_mn)["trainable"]
trainable_after = models.parameter_counts(fine_model)["trainable"]
course_utils.record("finetune_trainable_before", trainable_before, note="the head alone")
course_utils.record("finetune_trainable_after", trainable_after, note="head + MobileNet-v2")
print(f"trainable parameters: {trainable_before:,} (head) -> {trainable_after:,} (head + extractor)")

fine_tune_learning_rate = head_learning_rate / 100
fine_model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=fine_tune_learning_rate),
                   loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
val_before = fine_model.evaluate(validation_batches, verbose=0)[1]
fine_tune_batches = train.shuffle(num_train_img // 4).map(format_224).batch(cfg.fine_tune_batch_size).prefetch(1)
history_ft = fine_model.fit(fine_tune_batches, epochs=cfg.fine_tune_epochs,
                            validation_data=validation_batches, verbose=2)
val_after = history_ft.history["val_accuracy"][-1]
course_utils.record("finetune_learning_rate", fine_tune_learning_rate,
                    note=f"the head trained at {head_learning_rate:g}")
course_utils.record("finetune_val_accuracy_before", val_before, note="head trained, extractor frozen")
course_utils.record("finetune_val_accuracy_after", val_after, note=f"after {cfg.fine_tune_epochs} epoch(s)")
print(f"[{cfg.profile} profile] validation accuracy {val_before:.3f} before fine-tuning, "
      f"{val_after:.3f} after {cfg.fine_tune_epochs} epoch(s) at learning rate {fine_tune_learning_rate:g}")

both_phases = {key: history_mn.history[key] + history_ft.history[key] for key in history_ft.history}
fig = plots.plot_history(both_phases, phase_boundary=cfg.epochs,
                         title=f"MobileNet-v2: head, then fine-tuning ({cfg.profile} profile)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l03-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf

from course_exercises.lesson03 import CLASS_NAMES, ex1, ex2, ex3, example_logits, setup

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: split strings
# Set `splits` to the three TFDS split strings that cut tf_flowers' single
# `train` split into 20% test, 10% validation and 70% training, in that
# order.

# %% nbgrader={"grade": false, "grade_id": "l03-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
splits = None
### BEGIN SOLUTION
splits = ["train[:20%]", "train[20%:30%]", "train[30%:]"]
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(splits)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: the batch-safe prediction loop
# `small_model` predicts five classes; `shuffled_batches` holds 70 images in
# batches of 32 and comes in a new order on every pass. Collect
# `loop_logits` (one row per image) and `loop_labels` so that row *i* of
# both belongs to the same image.

# %% nbgrader={"grade": false, "grade_id": "l03-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
small_model, shuffled_batches = setup()
loop_logits = None
loop_labels = None
### BEGIN SOLUTION
batch_logits, batch_labels = [], []
for batch_x, batch_y in shuffled_batches:
    batch_logits.append(small_model(batch_x, training=False).numpy())
    batch_labels.append(batch_y.numpy())
loop_logits = np.concatenate(batch_logits)
loop_labels = np.concatenate(batch_labels)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(loop_logits, loop_labels, small_model)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: from logits to flower names
# `flower_logits` holds six rows of logits; `class_names` is in label order
# (`info.features["label"].names`). Set `answer` to a list of (name,
# probability) pairs: each image's most likely flower and its softmax
# probability.

# %% nbgrader={"grade": false, "grade_id": "l03-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
flower_logits = example_logits()
class_names = list(CLASS_NAMES)
answer = None
### BEGIN SOLUTION
probabilities = tf.nn.softmax(flower_logits, axis=-1).numpy()
ids = np.argmax(flower_logits, axis=1)
answer = [(class_names[i], float(probabilities[row, i])) for row, i in enumerate(ids)]
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(answer)

# %% [markdown]
# ## Ours beside the original lesson
# Each row: what the lesson reported, our figure from this run (the
# profile is in the header), and whether the two compare like for like.

# %%
course_utils.comparison_table()

# %% [markdown]
# ## Takeaways
# - A TF Hub *feature vector* is a pretrained network without its
#   classifier: `hub.KerasLayer(handle)`, frozen, then `Dropout` + `Dense`.
# - TFDS split strings cut one split into test / validation / train.
# - Resize and rescale to each model's input size in the pipeline.
# - A frozen extractor with nothing random before it gives the same
#   features every epoch: `predict` them once, `fit` the head on them.
# - `argmax` of the logits picks the class; pair predictions with labels
#   batch by batch.
# - The confusion matrix and the mistakes show *what* the model confuses.
# - Fine-tune after the head has trained, at a much lower learning rate,
#   with BatchNorm in inference mode.
