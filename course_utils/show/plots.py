"""Plots the lessons share: learning curves, image grids, the misclassified images.

Every function returns the matplotlib Figure (the notebook displays it; tests
inspect titles, colours and panels).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_history", "plot_images", "plot_misclassified"]

_WRONG_COLOUR = "red"


def _history_dict(history) -> dict[str, list[float]]:
    return dict(history.history) if hasattr(history, "history") else dict(history)


def plot_history(histories, metrics: Sequence[str] = ("accuracy", "loss"), title: str | None = None,
                 phase_boundary: int | None = None):
    """Learning curves, one panel per metric, training solid and validation dashed.

    ``histories`` is a Keras ``History`` (or its ``.history`` dict), or a
    mapping ``{run name: History}`` to compare several runs on shared axes.
    ``phase_boundary``: the number of epochs of a first phase (feature
    extraction) before a second (fine-tuning) in the same curve; a dotted
    line marks where the second begins.
    """
    if not histories:
        raise ValueError("plot_history needs a History, its .history dict, or {run name: History}")
    if hasattr(histories, "history") or all(isinstance(v, (list, tuple)) for v in histories.values()):
        runs = {"": _history_dict(histories)}  # one run
    else:
        runs = {name: _history_dict(h) for name, h in histories.items()}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics):
        for i, (name, hist) in enumerate(runs.items()):
            if metric not in hist:
                raise KeyError(f"history has no {metric!r}; it has {sorted(hist)}")
            colour = colours[i % len(colours)]
            epochs = np.arange(1, len(hist[metric]) + 1)
            label = f"{name} " if name else ""
            ax.plot(epochs, hist[metric], "-o", color=colour, label=f"{label}training")
            if f"val_{metric}" in hist:
                ax.plot(epochs, hist[f"val_{metric}"], "--s", color=colour, label=f"{label}validation")
        if phase_boundary is not None:
            ax.axvline(phase_boundary + 0.5, color="grey", linestyle=":", label="fine-tuning starts")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        has_validation = any(f"val_{metric}" in hist for hist in runs.values())
        ax.set_title(f"{metric}: training vs validation" if has_validation else f"{metric}: training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _show_image(ax, image):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8:
        low, high = float(image.min()), float(image.max())
        if -0.05 <= low and high <= 1.05:
            image = np.clip(image, 0.0, 1.0)  # [0, 1] images with resize overshoot
        else:
            image = (image - low) / (high - low + 1e-8)  # any other range: stretch to [0, 1]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.axis("off")


def plot_images(images, titles: Sequence[str] | None = None, cols: int = 5, size: float = 2.2):
    """A grid of images with optional titles."""
    images = list(images)
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            _show_image(ax, images[i])
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_misclassified(images, true_labels, predicted_labels, confidence, class_names: Sequence[str],
                       max_images: int = 10, cols: int = 5, title: str | None = None):
    """The images the model got wrong, most confident mistakes first.

    Each is titled ``predicted (true)`` and the model's confidence in its
    (wrong) prediction. ``confidence`` holds, per image, the probability the
    model gave its predicted class (softmax of the logits, or ``max(p, 1 - p)``
    for one sigmoid output).
    """
    images = np.asarray(images)
    true_labels, predicted_labels = np.asarray(true_labels), np.asarray(predicted_labels)
    confidence = np.asarray(confidence, dtype=float)
    if not (len(images) == len(true_labels) == len(predicted_labels) == len(confidence)):
        raise ValueError(
            f"images ({len(images)}), true labels ({len(true_labels)}), predictions "
            f"({len(predicted_labels)}) and confidences ({len(confidence)}) must have the same length"
        )
    wrong = np.flatnonzero(true_labels != predicted_labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:max_images]
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 3.0 * rows), squeeze=False)  # room for 2-line titles
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        _show_image(ax, images[i])
        ax.set_title(f"{class_names[int(predicted_labels[i])]} ({class_names[int(true_labels[i])]})\n"
                     f"{confidence[i]:.0%} sure", color=_WRONG_COLOUR, fontsize=9)
    if len(wrong) == 0:
        axes.flat[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    total = int(np.sum(true_labels != predicted_labels))
    fig.suptitle(title or f"{total} of {len(images)} misclassified: predicted (true), most confident first")
    fig.tight_layout()
    return fig
