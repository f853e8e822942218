"""MNIST for lesson 01: the real file, checked, or scikit-learn's digits offline."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load"]

_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# The SHA-256 keras.datasets.mnist itself checks (keras/src/datasets/mnist.py; tf_keras/datasets/mnist.py too).
_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def _digits_as_mnist(seed: int = 0):
    """scikit-learn's bundled 8x8 digits, upscaled to 28x28 in [0, 1], split 80 / 20."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    images = tf.image.resize(images, (20, 20), method="bilinear").numpy()
    images = np.pad(images[..., 0], ((0, 0), (4, 4), (4, 4)))  # MNIST-like 4-px margin
    labels = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    cut = int(0.8 * len(labels))
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def load(source: str = "real", *, local_copy: str | Path | None = None, seed: int = 0, progress: bool = True):
    """``(x_train, y_train), (x_test, y_test)``: 28x28 float32 images in [0, 1], int64 labels.

    ``"real"``: MNIST (60,000 / 10,000), the file ``keras.datasets.mnist`` downloads, fetched
    once into ``env.keras_home()/datasets`` and verified, or your ``local_copy`` of it.
    ``"stand-in"``: scikit-learn's digits as MNIST (1,437 / 360, in an order set by ``seed``).
    """
    from course_utils.setup import env, profiles

    if profiles.check_source(source, "MNIST") == "stand-in":
        return _digits_as_mnist(seed)
    from course_utils.data.downloads import Asset, fetch

    asset = Asset(name="MNIST", filename="mnist.npz", urls=(_MNIST_URL,), sha256=_MNIST_SHA256,
                  provenance="the file_hash in tf_keras/datasets/mnist.py")
    path = fetch(asset, env.keras_home() / "datasets", local_copy=local_copy, progress=progress)
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return (x_train.astype("float32") / 255.0, y_train.astype("int64")), (
        x_test.astype("float32") / 255.0,
        y_test.astype("int64"),
    )
