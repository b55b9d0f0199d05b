"""Figures for training runs and lessons, written to files (matplotlib's Agg backend, so no
screen is needed)."""
from __future__ import annotations

import os

import numpy as np

from ._atomic import atomic_write


def _plt():
    import matplotlib

    if not os.environ.get("DISPLAY") and matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, path, title="training"):
    """Loss and accuracy per epoch, train and test, side by side."""
    plt = _plt()
    epochs = history["epoch"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.plot(epochs, history["train_loss"], "o-", label="train")
    a2.plot(epochs, np.array(history["train_acc"]) * 100, "o-", label="train")
    if not np.all(np.isnan(history["val_loss"])):
        a1.plot(epochs, history["val_loss"], "s-", label="test")
        a2.plot(epochs, np.array(history["val_acc"]) * 100, "s-", label="test")
    a1.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{title}: loss")
    a2.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def _save(fig, path):
    """fig to `path` atomically, as every file scratchnet writes (format from the suffix)."""
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=120))


def plot_confusion(confusion, path, class_names=None, title="confusion matrix"):
    """Counts of (true class, predicted class); the diagonal is what the model got right."""
    plt = _plt()
    confusion = np.asarray(confusion)
    k = confusion.shape[0]
    names = class_names or [str(i) for i in range(k)]
    fig, ax = plt.subplots(figsize=(0.45 * k + 2.5, 0.45 * k + 2))
    im = ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    thresh = confusion.max() / 2 if confusion.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if confusion[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
