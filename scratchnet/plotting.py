"""Figures for training runs and lessons, written to files (matplotlib's Agg backend, so no
screen is needed)."""
from __future__ import annotations

import os

import numpy as np


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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_samples(samples, path, class_names, title=""):
    """A grid of (image (C, H, W) in [0, 1], target) samples: each image in the top row with
    its boxes and class names, its instance masks (one colour each, over the image) below.
    A target that is an int (a classification label) gives one row with names as titles."""
    plt = _plt()
    from matplotlib.patches import Rectangle

    n = len(samples)
    detection = isinstance(samples[0][1], dict)
    rows = 2 if detection else 1
    fig, axes = plt.subplots(rows, n, figsize=(2.2 * n, 2.3 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for j, (image, target) in enumerate(samples):
        image = np.asarray(image)
        shown = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        ax = axes[0, j]
        ax.imshow(shown, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if not detection:
            ax.set_title(class_names[int(target)], fontsize=9)
            continue
        for k, (box, label) in enumerate(zip(target["boxes"], target["labels"])):
            x1, y1, x2, y2 = (float(v) for v in box)
            # pixel centres sit at integer positions in imshow: edges are half a pixel off
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                   edgecolor=colours(k % 10), linewidth=1.2))
            ax.text(x1 - 0.5, y1 - 1, class_names[int(label)], color=colours(k % 10),
                    fontsize=7, va="bottom")
        ax = axes[1, j]
        overlay = np.zeros(shown.shape[:2] + (4,))
        for k, mask in enumerate(target["masks"]):
            overlay[np.asarray(mask, bool)] = colours(k % 10)
        overlay[..., 3] *= 0.7
        ax.imshow(shown, cmap="gray", vmin=0, vmax=1)
        ax.imshow(overlay)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{len(target['masks'])} masks", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
