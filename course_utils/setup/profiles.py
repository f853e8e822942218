"""What the ``quick`` and ``full`` profiles mean, for every lesson, in one place.

``full`` is the lesson as taught: the real data set, the real pretrained
weights, the lesson's epochs and sizes. ``quick`` runs the *same notebook
code* offline in seconds: generated (or small bundled) data, random-init or
locally built weights. A notebook asks for its settings once::

    cfg = start_lesson("01", PROFILE, epochs=EPOCHS)

and reads ``cfg.epochs``, ``cfg.batch_size`` ... from then on; there are no
``if quick:`` branches in the lessons.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from course_utils.errors import CourseError

__all__ = ["LESSONS", "PROFILES", "ProfileError", "SOURCES", "Settings", "SourceError", "check_source", "lesson_settings",
           "resolve_profile"]

PROFILES = ("full", "quick")
_PROFILE_ENV_VAR = "COURSE_PROFILE"


class ProfileError(CourseError, ValueError):
    """An unknown profile, lesson or setting name."""


def resolve_profile(parameter: str | None = None) -> str:
    """The profile to run: the notebook's parameter, else ``$COURSE_PROFILE``, else ``full``.

    A learner who opens a notebook in Jupyter or Colab without setting anything
    gets the real lesson; the runner and the tests pass ``quick``.
    """
    chosen = parameter if parameter not in (None, "") else os.environ.get(_PROFILE_ENV_VAR) or "full"
    value = str(chosen).strip().lower()
    if value not in PROFILES:
        source = "PROFILE parameter" if parameter not in (None, "") else f"${_PROFILE_ENV_VAR}"
        raise ProfileError(
            f"unknown profile {chosen!r} (from the {source}): use 'full' (real data and "
            "weights) or 'quick' (offline, small, seconds)"
        )
    return value


# One vocabulary for every loader's and every weights function's `source`:
# "real" is the lesson's own data set or pretrained file (downloaded once and
# checked, or the learner's `local_copy`); "stand-in" is built here, offline.
SOURCES = ("real", "stand-in")
_SOURCE_FOR_PROFILE = {"full": "real", "quick": "stand-in"}


class SourceError(CourseError, ValueError):
    """A `source` outside :data:`SOURCES`."""


def check_source(source: str, what: str) -> str:
    """``source`` if it is one of :data:`SOURCES`, else a :class:`SourceError` naming ``what``."""
    if source not in SOURCES:
        raise SourceError(
            f"unknown source {source!r} for {what}: use 'real' (the lesson's data or pretrained "
            "weights, downloaded once or your local_copy) or 'stand-in' (built offline)"
        )
    return source

# Each lesson: settings shared by both profiles, then what differs.
# `data` and `weights` are the sentences the banner and the report show. `peak_memory_mb`: the
# kernel's peak memory as the runner measured it (make colab-check, rounded up to 100 MB); the
# banner warns where the machine gives less (Binder: about 2 GB). Never measured in the full profile.
LESSONS: dict[str, dict[str, Any]] = {
    "01": {
        "title": "Reuse your own saved Keras model: swap its head, freeze it",
        "common": {"batch_size": 32, "pretrain_epochs": 2, "epochs": 3, "seed": 0},
        "full": {
            "peak_memory_mb": None,
            "data": "MNIST via keras.datasets (60,000 train / 10,000 test, 28x28)",
            "weights": "a small CNN trained and saved by this notebook (.keras)",
            "train_limit": None,
        },
        "quick": {
            "peak_memory_mb": 1000,
            "data": "scikit-learn's bundled 8x8 digits, upscaled to 28x28 (1,437 train / 360 test)",
            "weights": "a small CNN trained and saved by this notebook (.keras)",
            "train_limit": None,
        },
    },
    "02": {
        "title": "A Keras Applications model and a TF Hub model on 5 random images",
        "common": {
            "epochs": 15,
            "num_examples": 5,
            "seed": 0,
            # The TF Hub handle and weights="imagenet" are literals in the notebook's code.
        },
        "full": {
            "peak_memory_mb": None,
            "data": "5 random images (tf.random.normal), labels 0-4",
            "weights": "InceptionV3 ImageNet weights (Keras Applications) and the TF Hub "
            "Inception-v3 feature vector",
            "image_size": 299,
        },
        "quick": {
            "peak_memory_mb": 2000,
            "data": "5 random images (tf.random.normal) at 75x75, labels 0-4",
            "weights": "InceptionV3 with random init (weights=None) and a locally built "
            "TF Hub-format stand-in under the real handle",
            "image_size": 75,
        },
    },
    "03": {
        "title": "TF Hub feature extractors on tf_flowers: MobileNet-v2 and Inception-v3",
        "common": {
            "epochs": 6,
            "seed": 0,
            # The split strings and the TF Hub handles are literals in the notebook's code.
            # A local flower_photos copy used instead of the download (full profile only).
            "flowers_dir": None,
        },
        "full": {
            "peak_memory_mb": None,
            "data": "tf_flowers via TFDS (3,670 photos, 5 classes), or a local flower_photos copy",
            "weights": "TF Hub MobileNet-v2 and Inception-v3 feature vectors (ImageNet)",
            # The lesson's batch: 367 = 10% of 3,670 = the whole test split in one batch.
            "batch_size": 367,
            # Epochs with MobileNet-v2 itself training (learning rate 100x below the head's), in
            # batches of 32 (TensorFlow's transfer-learning tutorial's): training keeps every
            # layer's activations for the backward pass, so memory grows with the batch.
            "fine_tune_epochs": 3,
            "fine_tune_batch_size": 32,
            "num_images": None,
        },
        "quick": {
            "peak_memory_mb": 1300,
            "data": "300 generated 5-class 'flowers' (sizes vary) prepared as a local TFDS tf_flowers",
            "weights": "locally built TF Hub-format stand-ins under the real handles (random weights)",
            # Smaller than the 30-image test split on purpose: predictions span 2 batches.
            "batch_size": 16,
            "fine_tune_epochs": 1,
            "fine_tune_batch_size": 16,
            "num_images": 300,
        },
    },
    "04": {
        "title": "VGG19 four ways: as is, last layer, first 8 frozen, from scratch",
        "common": {
            "validation_split": 0.3,
            "image_size": 32,
            "seed": 0,
            # A local copy of the Kaggle data (folder with train.csv + train/, or the competition's
            # .zip) used instead of the download (full profile only).
            "cactus_dir": None,
            # Part C's head-first variant: after B's head has trained on the frozen base, layers 8+
            # are unfrozen and trained at Adam 1e-5, 100x below the 1e-3 that Part C starts with.
            "fine_tune_learning_rate": 1e-5,
        },
        "full": {
            "peak_memory_mb": None,
            "data": "Kaggle Aerial Cactus Identification (17,500 32x32 JPEGs, 75% with a cactus); "
            "Part A: photos bundled with scikit-image",
            "weights": "VGG19 ImageNet weights (Keras Applications), with the top (A) and without (B, C)",
            "epochs": 5,
            # As many epochs with layers 8+ training as Part C has, so the two compare like for like.
            "fine_tune_epochs": 5,
            "batch_size": 64,
            # C, its control, head-first and D: every batch of the training part each epoch.
            "steps_per_epoch": None,
            "num_images": None,
        },
        "quick": {
            "peak_memory_mb": 3100,
            "data": "200 generated 32x32 images in the Kaggle CSV + folder layout (75% has_cactus = 1); "
            "Part A: photos bundled with scikit-image",
            "weights": "Part A: VGG19 random init (predictions mean nothing); B, C: a locally built "
            "no-top weights file (random zero-mean filters, LSUV-scaled); D: random init, as taught",
            "epochs": 2,
            # 140 training images: batch 8 gives B's head 18 steps per epoch on the features (the full
            # data set at batch 64 gives 192); at batch 64 the head on the frozen base would get 3 steps
            # per epoch and stay at the majority baseline. With batch 8, B beat the baseline by
            # 0.15-0.25 after 2 epochs for each of 8 seeds (data, stand-in weights and head).
            "batch_size": 8,
            "fine_tune_epochs": 1,
            # C, its control, head-first and D train 19-39 M weights a step on images: 0.6-0.9 s alone on 2
            # AVX2 cores, 1.6-2.3 s beside another notebook. 3 of 18 batches an epoch prove the code path (C still
            # moved layers 8+ over 100x as far as the control; the notebook prints it): 18 steps in all, not 108.
            "steps_per_epoch": 3,
            "num_images": 200,
        },
    },
    "05": {
        "title": "InceptionV3 cut at mixed7, a new dense head, augmentation and dropout",
        "common": {
            "image_size": 150,
            "batch_size": 20,
            "learning_rate": 1e-4,
            "cut_layer": "mixed7",
            "dropout_rate": 0.2,
            # Fine-tuning after the dropout run: the layers after this one, up to the cut (the
            # mixed6 and mixed7 blocks), train again, BatchNorm kept frozen (inference mode),
            # at a learning rate 10x below the head's.
            "fine_tune_after": "mixed5",
            "fine_tune_learning_rate": 1e-5,
            "seed": 0,
            # A learner's own copies (None: download). Used by the full profile only.
            "weights_file": None,
            "cats_dogs": None,
        },
        "full": {
            "peak_memory_mb": None,
            "data": "cats_and_dogs_filtered (2,000 train / 1,000 validation JPEGs), downloaded and verified",
            "weights": "InceptionV3 no-top ImageNet weights file (Keras Applications, MD5-verified), "
            "loaded with load_weights",
            "epochs": 100,
            "steps_per_epoch": 100,
            "validation_steps": 50,
            # 20 epochs of fine-tuning (2,000 images each) after the 100 of the head: twice the
            # 10 of TensorFlow's transfer-learning tutorial, a fifth of the head's schedule.
            "fine_tune_epochs": 20,
            "num_images": None,
        },
        "quick": {
            "peak_memory_mb": 3000,
            "data": "generated two-class images (40 train / 20 validation, 150x150) in the "
            "cats_and_dogs_filtered folder layout: NOT cats and dogs",
            "weights": "a random-init InceptionV3 no-top weights file (.h5, same format; BatchNorm "
            "statistics measured on generated images), loaded with load_weights: NOT ImageNet features",
            # 3 epochs, so the per-epoch time has two epochs without tracing. An epoch is one
            # pass over the images (2 x 20 train, 1 x 20 validation), with the full
            # schedule's 2:1 ratio of training to validation steps.
            "epochs": 3,
            "steps_per_epoch": 2,
            "validation_steps": 1,
            # One epoch: enough to draw the phase boundary, and the run stays well under 90 s.
            "fine_tune_epochs": 1,
            "num_images": 60,
        },
    },
    "06": {
        "title": "VGG16 from ImageNet to CIFAR-10: frozen convolutions, retrained classifier",
        "common": {
            "seed": 0,
            "num_classes": 10,
            "small_size": 32,
            "large_size": 224,
            # The lecture's published recipe for its small run: resize to 70, random 64x64 crop
            # for training, the central 64x64 crop for testing.
            "crop_resize": 70,
            "crop_size": 64,
            "momentum": 0.9,
            "plateau_factor": 0.1,
            # The lecture's PyTorch scheduler (its default patience 10) cuts after the 11th epoch without
            # improvement, Keras's after the `patience`-th: with 11 it cuts where the lecture's log does. (What
            # counts as an improvement differs by less than one image of 5,000: 1e-4 of the best there, 1e-4 here.)
            "plateau_patience": 11,
            "validation_fraction": 0.1,
        },
        "full": {
            "peak_memory_mb": None,
            "data": "CIFAR-10 via keras.datasets (50,000 train of which 5,000 validation / 10,000 test, 32x32)",
            "weights": "VGG16 ImageNet weights, with its top for fc1/fc2 (Keras Applications)",
            # The lesson's 50 epochs for each run's output layer: the plateau scheduler (patience 11)
            # needs them to act. Then fc1/fc2 join for 10 epochs at a tenth of the lecture's rate.
            "epochs": 50,
            "fine_tune_epochs": 10,
            "crop_epochs": 50,
            "large_epochs": 50,
            "batch_size": 256,
            "learning_rate": 0.01,
            "fine_tune_learning_rate": 0.001,
            "train_size": None,
            "test_size": None,
            "crop_train_limit": None,
            "crop_test_limit": None,
            "large_train_limit": None,
            "large_test_limit": None,
            "timing_steps": 10,
        },
        "quick": {
            "peak_memory_mb": 5900,
            "data": "generated 10-class 32x32 colour images (CIFAR-10 shaped): 200 train (20 validation) "
            "/ 100 test; 32 + 32 for the 64x64-crop run, 8 + 8 for the 224x224 run",
            "weights": "VGG16 base: a locally built stand-in (random zero-mean filters, LSUV-scaled on photos; "
            "NOT ImageNet); fc1/fc2 copied from a random-init VGG16 with its top",
            # 10 epochs of the output layer alone on features (6 steps at batch 32, about 3 s in all),
            # then 1 with fc1/fc2 on images (the costly one). At the lecture's 0.01 the output layer
            # alone reached 100% test accuracy on three seeds of generated data (chance: 10%), and
            # fine-tuning at 0.001 kept 98-100%. (Training fc1/fc2 from the first step at 0.01 under
            # the random output layer made the loss jump to 6-9 here: the quick profile used 0.001 then.)
            "epochs": 10,
            "fine_tune_epochs": 1,
            "crop_epochs": 1,
            "large_epochs": 2,
            "batch_size": 32,
            "learning_rate": 0.01,
            "fine_tune_learning_rate": 0.001,
            "train_size": 200,
            "test_size": 100,
            "crop_train_limit": 32,
            "crop_test_limit": 32,
            "large_train_limit": 8,
            "large_test_limit": 8,
            "timing_steps": 3,
        },
    },
}


class Settings(Mapping[str, Any]):
    """A lesson's resolved settings: read them as ``cfg.epochs`` or ``cfg["epochs"]``."""

    def __init__(self, lesson: str, profile: str, values: Mapping[str, Any]):
        self._values = dict(values)
        self._values["lesson"] = lesson
        self._values["profile"] = profile

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"lesson {self._values['lesson']} has no setting {name!r}; it has: "
                + ", ".join(sorted(self._values))
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self._values.items()))
        return f"Settings({inner})"


def lesson_settings(lesson: str, profile: str | None = None, **overrides: Any) -> Settings:
    """The settings of ``lesson`` for ``profile``, with non-``None`` overrides applied.

    An override whose value is ``None`` keeps the profile's value, so a
    notebook's parameters cell can say ``EPOCHS = None`` for "the default".
    """
    if lesson not in LESSONS:
        raise ProfileError(f"unknown lesson {lesson!r}: the course has {', '.join(LESSONS)}")
    profile = resolve_profile(profile)
    spec = LESSONS[lesson]
    values = {"title": spec["title"], **spec["common"], **spec[profile]}
    # Deterministic kernels: the quick profile's figures repeat exactly from run to run
    # (seeds alone do not do it: oneDNN and parallel ops reorder float sums). The full
    # profile keeps TensorFlow's fastest kernels, which matters on a GPU.
    values.setdefault("deterministic", profile == "quick")
    values.setdefault("source", _SOURCE_FOR_PROFILE[profile])  # every loader's and weights call's
    for key, value in overrides.items():
        if key not in values:
            raise ProfileError(
                f"lesson {lesson} has no setting {key!r} to override; valid: "
                + ", ".join(sorted(values))
            )
        if value is not None:
            values[key] = value
    return Settings(lesson, profile, values)
