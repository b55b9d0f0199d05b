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



def target_pictures(image, target, classes, scale=4, main=None):
    """The four tasks' answers drawn on one sample, each a (3, scale*H, scale*W) uint8 image
    (scratchnet.utils' drawing functions, the image enlarged by `scale`, nearest):

    "semantic"      one colour per class present (all objects of a class alike), the ignore
                    label 255 in grey
    "localisation"  the box and class name of object `main` only (default: the largest box)
    "detection"     every box with its class name
    "instances"     one colour per instance mask

    image: (C, H, W) float in [0, 1]; target: boxes (K, 4) pixel-edge xyxy, labels (K,),
    masks (K, H, W), semantic (H, W).
    """
    from .utils import draw_bounding_boxes, draw_segmentation_masks

    image = np.asarray(image)
    pixels = (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    boxes = np.asarray(target["boxes"], np.float32).reshape(-1, 4)
    labels = np.asarray(target["labels"])
    # pixel edges -> the last pixel inside, which the drawing functions take as x2, y2
    drawn = boxes * scale - np.array([0, 0, 1, 1], np.float32)
    names = [classes[int(k)] for k in labels]
    if main is None and len(boxes):
        main = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    semantic = np.asarray(target["semantic"]).repeat(scale, 0).repeat(scale, 1)
    present = [int(c) for c in np.unique(semantic) if c not in (0, 255)]
    colours = [tuple(int(255 * v) for v in _plt().get_cmap("tab10")(c % 10)[:3])
               for c in present] + [(128, 128, 128)]
    class_masks = np.array([semantic == c for c in present] + [semantic == 255])
    masks = np.asarray(target["masks"], bool).repeat(scale, 1).repeat(scale, 2)
    rgb = pixels if pixels.shape[0] == 3 else pixels.repeat(3, axis=0)
    return {"semantic": draw_segmentation_masks(pixels, class_masks, alpha=1.0,
                                                colors=colours),
            "localisation": draw_bounding_boxes(pixels, drawn[[main]], [names[main]])
            if main is not None else rgb,
            "detection": draw_bounding_boxes(pixels, drawn, names),
            "instances": draw_segmentation_masks(pixels, masks, alpha=0.7) if len(masks)
            else rgb}


def plot_samples(samples, path, class_names, title=""):
    """A PNG grid of (image (C, H, W) in [0, 1], target) samples: each sample's boxes with
    class names and its instance masks side by side (`target_pictures`). A target that is an
    int (a classification label) shows the image with its class name."""
    from .utils import save_image_grid

    pictures, labels = [], []
    for image, target in samples:
        if isinstance(target, dict):
            drawn = target_pictures(image, target, class_names)
            pictures += [drawn["detection"], drawn["instances"]]
            labels += [f"{len(target['boxes'])} boxes", f"{len(target['masks'])} masks"]
        else:
            pixels = (np.clip(np.asarray(image), 0, 1) * 255 + 0.5).astype(np.uint8)
            pictures.append(pixels.repeat(4, axis=1).repeat(4, axis=2))
            labels.append(class_names[int(target)])
    save_image_grid(pictures, path, labels=labels, ncols=min(len(pictures), 4), title=title,
                    cell_inches=2.6)
    return path
