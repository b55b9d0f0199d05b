"""The shared detection engine: batches, the training loop, mAP evaluation, checkpoints and
pictures, for every detector that follows the detection contract.

    images, targets = collate([train_set[0], train_set[1]])   # (2, 1, 64, 64), 2 dicts
    history = fit(model, train_set, optimizer, epochs=8, batch_size=8)
    report = evaluate(model, test_scenes())      # {"map", "ap", "seconds_per_image", ...}
    save_checkpoint("runs/x/checkpoint.npz", model, "fast_rcnn", config, map=report["map"])
    model, meta = load_checkpoint("runs/x/checkpoint.npz")

The contract (torchvision's): a detector is an nn.Module. In train mode
`model(images, targets)` returns a dict of scalar loss Tensors, summed for backward; in eval
mode `model(images)` returns one dict per image of NumPy arrays "boxes" (K, 4) float32 xyxy
in input pixels, "scores" (K,) float32 and "labels" (K,) int64 in 1..num_classes-1 (0 is
background). images is a (N, C, H, W) float32 Tensor; targets a list of dicts with "boxes"
(K, 4) float32 xyxy and "labels" (K,) int64, as DigitScenes gives them.

Evaluation is PASCAL VOC's mAP@0.5 (all-point interpolation, scratchnet.metrics.voc_evaluate)
on a fixed set of held-out DigitScenes("test") scenes (TEST_SCENES of them, seed TEST_SEED),
and the seconds per image of the model's forward pass in eval mode, one image at a time, as
the papers time a test image (proposals included when the model computes them). A model that
also outputs instance masks (Mask R-CNN: "masks" (K, 1, H, W) probabilities) is measured on
its masks too, thresholded at 0.5: mask AP@0.5 (VOC) and COCO's mask AP@[.5:.95].
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

TEST_SCENES, TEST_SEED = 300, 0
VAL_SCENES = 100
CLASS_NAMES = ["background"] + [str(d) for d in range(10)]
OUTPUTS = ("checkpoint.npz", "history.json", "curves.png", "predictions.png")


class DetectionError(ValueError):
    """A bad detector, setting, checkpoint or model output, explained."""


def collate(batch):
    """[(image (C, H, W), target dict), ...] -> (images (N, C, H, W) float32 Tensor, targets).

    Each target keeps its keys, with "boxes" as (K, 4) float32 and "labels" as (K,) int64
    ndarrays. All images must have one size (DigitScenes' do)."""
    from ..autograd.tensor import Tensor
    from ..data import detection_collate

    images, targets = detection_collate(batch)
    if not isinstance(images, Tensor):
        sizes = sorted({tuple(im.shape) for im in images})
        raise DetectionError(f"collate: the images of a batch must have one size, got "
                             f"{', '.join(str(s) for s in sizes)}")
    if images.data.dtype != np.float32:
        images = Tensor(images.data.astype(np.float32))
    return images, [_target(t, i) for i, t in enumerate(targets)]


def _target(t, i):
    if not isinstance(t, dict) or "boxes" not in t or "labels" not in t:
        raise DetectionError(f"collate: target {i} must be a dict with 'boxes' and 'labels', "
                             f"got {type(t).__name__}"
                             + (f" with keys {sorted(t)}" if isinstance(t, dict) else ""))
    boxes = np.asarray(t["boxes"], np.float32).reshape(-1, 4)
    labels = np.asarray(t["labels"], np.int64).reshape(-1)
    if len(boxes) != len(labels):
        raise DetectionError(f"collate: target {i} has {len(boxes)} boxes but "
                             f"{len(labels)} labels")
    return dict(t, boxes=boxes, labels=labels)


def train_scenes(num_scenes=1000, seed=0):
    """DigitScenes("train"): num_scenes 64x64 scenes with 1 to 4 digits."""
    from ..data import DigitScenes
    return DigitScenes("train", num_samples=num_scenes, seed=seed)


def test_scenes(num_scenes=TEST_SCENES, seed=TEST_SEED):
    """The held-out DigitScenes("test") scenes every detector is measured on."""
    from ..data import DigitScenes
    return DigitScenes("test", num_samples=num_scenes, seed=seed)


@dataclass
class DetectionEpoch:
    epoch: int
    losses: dict              # mean of each loss term over the epoch's batches
    loss: float               # mean of their sum
    lr: float
    seconds: float
    images_per_s: float
    val_map: float = float("nan")


@dataclass
class DetectionHistory:
    epochs: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)     # summed loss of every batch

    def __getitem__(self, key):
        """A column over epochs: history["loss"], history["val_map"], or a loss term."""
        if key in DetectionEpoch.__dataclass_fields__:
            return [getattr(e, key) for e in self.epochs]
        return [e.losses.get(key, float("nan")) for e in self.epochs]

    def __len__(self):
        return len(self.epochs)

    def loss_names(self):
        names = []
        for e in self.epochs:
            names += [k for k in e.losses if k not in names]
        return names

    def as_dict(self):
        out = {k: self[k] for k in ("epoch", "loss", "lr", "seconds", "images_per_s",
                                    "val_map")}
        out["losses"] = {k: self[k] for k in self.loss_names()}
        out["step_losses"] = list(self.step_losses)
        return out


def _loss_dict(losses, name):
    from ..autograd.tensor import Tensor

    if not isinstance(losses, dict) or not losses:
        raise DetectionError(f"{name} in train mode must return a dict of scalar loss Tensors "
                             f"(the detection contract), got {type(losses).__name__}")
    for k, v in losses.items():
        if not isinstance(v, Tensor) or v.numel() != 1:
            raise DetectionError(f"{name}: loss {k!r} must be a scalar Tensor, got "
                                 f"{type(v).__name__} of shape {getattr(v, 'shape', None)}")
    return losses


def fit(model, dataset, optimizer, epochs=1, batch_size=8, scheduler=None, progress=True,
        log=print, seed=0, val_fn=None, name=None) -> DetectionHistory:
    """Train a detector: per batch zero_grad, losses = model(images, targets), sum, backward,
    step. After each epoch: val_fn(model) (e.g. held-out mAP), if given, then
    scheduler.step(). The progress bar shows the running loss and images per second; a NaN
    or infinite loss stops the run with NonFiniteLossError naming the epoch and batch."""
    from ..data import DataLoader
    from ..train import NonFiniteLossError, _lr, _progress

    name = name or type(model).__name__
    log = log or (lambda *a: None)
    history = DetectionHistory()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate,
                        generator=seed)
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        sums, total, seen, batches = {}, 0.0, 0, 0
        bar = _progress(loader, f"epoch {epoch}/{epochs}", progress)
        for step, (images, targets) in enumerate(bar):
            optimizer.zero_grad()
            losses = _loss_dict(model(images, targets), name)
            loss = sum(losses.values())
            value = float(loss.item())
            if not math.isfinite(value):
                terms = ", ".join(f"{k} {float(v.item()):.4g}" for k, v in losses.items())
                raise NonFiniteLossError(
                    f"the loss became {value} at epoch {epoch}, batch {step + 1} ({terms}): "
                    f"training diverged. Lower the learning rate (now {_lr(optimizer):g}) "
                    f"or check the boxes for zero width or height.")
            loss.backward()
            optimizer.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.item())
            total += value
            batches += 1
            seen += images.shape[0]
            history.step_losses.append(value)
            if progress and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / batches:.4f}",
                                img_s=f"{seen / max(time.perf_counter() - t0, 1e-9):.1f}")
        seconds = time.perf_counter() - t0
        stats = DetectionEpoch(epoch, {k: v / max(batches, 1) for k, v in sums.items()},
                               total / max(batches, 1), _lr(optimizer), seconds,
                               seen / max(seconds, 1e-9))
        if val_fn is not None:
            stats.val_map = float(val_fn(model))
        if scheduler is not None:
            scheduler.step()
        history.epochs.append(stats)
        msg = (f"epoch {epoch:>3}: loss {stats.loss:.4f} ("
               + ", ".join(f"{k} {v:.4f}" for k, v in stats.losses.items())
               + f") | {stats.images_per_s:.1f} img/s, {seconds:.0f} s")
        if val_fn is not None:
            msg += f" | held-out mAP@0.5 {stats.val_map:.3f}"
        log(msg)
    return history


def check_detections(out, n, name="the detector"):
    """The eval-mode output of a detector, checked against the contract (one dict per image
    with boxes (K, 4), scores (K,), labels (K,) ints); returns it as a list of dicts of
    float32 / int64 arrays."""
    if not isinstance(out, (list, tuple)) or len(out) != n:
        raise DetectionError(f"{name} in eval mode must return a list of {n} dicts (one per "
                             f"image), got {type(out).__name__}"
                             + (f" of length {len(out)}" if hasattr(out, "__len__") else ""))
    checked = []
    for i, d in enumerate(out):
        missing = [k for k in ("boxes", "scores", "labels") if not isinstance(d, dict)
                   or k not in d]
        if missing:
            raise DetectionError(f"{name}: output {i} lacks {', '.join(missing)} (each image's "
                                 f"dict needs boxes, scores and labels)")
        boxes = np.asarray(getattr(d["boxes"], "data", d["boxes"]), np.float32)
        scores = np.asarray(getattr(d["scores"], "data", d["scores"]), np.float32)
        labels = np.asarray(getattr(d["labels"], "data", d["labels"]))
        k = len(scores)
        if boxes.shape != (k, 4) or scores.shape != (k,) or labels.shape != (k,) \
                or (labels.size and labels.dtype.kind not in "iu"):
            raise DetectionError(f"{name}: output {i} has boxes {boxes.shape}, scores "
                                 f"{scores.shape}, labels {labels.shape} {labels.dtype}; "
                                 f"expected (K, 4), (K,) and (K,) integers")
        checked.append(dict(d, boxes=boxes, scores=scores, labels=labels.astype(np.int64)))
    return checked


def predict(model, images, name=None):
    """Detections of `model` (eval mode, no gradients; its mode is restored) on images
    (N, C, H, W): a list of N dicts, checked against the contract."""
    from ..autograd.grad_mode import no_grad
    from ..autograd.tensor import Tensor

    if not isinstance(images, Tensor):
        images = Tensor(np.asarray(images, np.float32))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(images)
    finally:
        model.train(was_training)
    return check_detections(out, images.shape[0], name or type(model).__name__)


def evaluate(model, dataset, batch_size=1, progress=False, name=None):
    """mAP@0.5 of `model` on a detection dataset, and its seconds per image.

    Returns {"map": float, "ap": {class name: AP}, "seconds_per_image": float,
    "n_images": int, "n_objects": int, "preds": [dict per image]}. The time is that of the
    model's forward passes only (data loading excluded), divided by the number of images;
    batch_size=1 times one image at a time, as the papers quote it."""
    from ..data import DataLoader
    from ..metrics import voc_evaluate
    from ..train import _progress

    preds, targets, seconds = [], [], 0.0
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    for images, t in _progress(loader, "evaluate", progress):
        t0 = time.perf_counter()
        preds += predict(model, images, name)
        seconds += time.perf_counter() - t0
        targets += t
    if not preds:
        raise DetectionError("evaluate: the dataset holds no images")
    result = voc_evaluate(preds, targets, iou_threshold=0.5)
    names = getattr(dataset, "classes", CLASS_NAMES)
    ap = {(names[c] if 0 <= c < len(names) else str(c)): float(v)
          for c, v in result["ap"].items()}
    report = {"map": float(result["map"]), "ap": ap,
              "seconds_per_image": seconds / len(preds), "n_images": len(preds),
              "n_objects": int(sum(len(t["labels"]) for t in targets)), "preds": preds}
    if all("masks" in p for p in preds) and all("masks" in t for t in targets):
        report.update(evaluate_masks(preds, targets, names))
    return report


def evaluate_masks(preds, targets, names=CLASS_NAMES):
    """Mask AP of instance-segmentation outputs: preds with "masks" (K, 1, H, W)
    probabilities (or (K, H, W)), binarised at 0.5 as torchvision's users do, against the
    targets' "masks" (G, H, W) bool. Returns {"mask_map": VOC mask AP@0.5 (mean over
    classes), "mask_ap": per class, "mask_coco_map": COCO mask AP@[.5:.95],
    "mask_coco_map_50": COCO mask AP@0.5 (101-point)}."""
    from ..metrics import coco_evaluate, voc_evaluate

    binary = []
    for p in preds:
        m = np.asarray(p["masks"])
        m = m[:, 0] if m.ndim == 4 else m
        binary.append(dict(p, masks=m > 0.5))
    gts = [dict(t, masks=np.asarray(t["masks"], bool)) for t in targets]
    voc = voc_evaluate(binary, gts, iou_threshold=0.5, iou_type="segm")
    coco = coco_evaluate(binary, gts, iou_type="segm")
    ap = {(names[c] if 0 <= c < len(names) else str(c)): float(v)
          for c, v in voc["ap"].items()}
    return {"mask_map": float(voc["map"]), "mask_ap": ap,
            "mask_coco_map": float(coco["map"]), "mask_coco_map_50": float(coco["map_50"])}


def save_checkpoint(path, model, detector, config, **meta):
    """Write {"model": state dict, "meta": {"task": "detection", "detector", "config",
    ...meta}} atomically (scratchnet.save); load_checkpoint rebuilds the model from it."""
    from .. import serialization

    info = dict(meta, task="detection", detector=str(detector), config=dict(config))
    serialization.save({"model": model.state_dict(), "meta": info}, path)
    return path


def read_checkpoint(path):
    """The checkpoint dict of a detection run, with errors that say what is wrong."""
    from .. import serialization

    path = os.fspath(path)
    try:
        ckpt = serialization.load_run_checkpoint(path, "detect train")
    except ValueError as e:
        raise DetectionError(str(e)) from e
    meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
    if not (isinstance(meta, dict) and meta.get("task") == "detection"
            and isinstance(ckpt.get("model"), dict) and isinstance(meta.get("detector"), str)
            and isinstance(meta.get("config"), dict)):
        raise DetectionError(f"{path} is not a `scratchnet detect train` checkpoint (it needs "
                             f"a 'model' state dict and 'meta' naming the detector and its "
                             f"config)")
    return ckpt


def load_checkpoint(path):
    """(model in eval mode, meta) of a checkpoint written by save_checkpoint: the detector
    is rebuilt by its recipe from the stored config, then the weights are loaded."""
    from ..nn.modules.module import StateDictError
    from .recipes import get_recipe

    ckpt = read_checkpoint(path)
    meta = ckpt["meta"]
    recipe = get_recipe(meta["detector"])
    model = recipe.build(recipe.config(meta["config"], strict=False))
    try:
        model.load_state_dict(ckpt["model"])
    except StateDictError as e:
        problems = str(e).splitlines()[1:] or [str(e)]
        raise DetectionError(f"{path}: its weights do not fit the {meta['detector']} model "
                             f"it names: {problems[0].strip()[:300]}") from e
    model.eval()
    return model, meta


def draw_detections(image, detections, class_names=CLASS_NAMES, score_threshold=0.5,
                    scale=4, targets=None):
    """A picture of detections: image (C, H, W) float in [0, 1] (or uint8), detections one
    contract dict -> (3, scale*H, scale*W) uint8 with a box and "class score" per detection
    scoring >= score_threshold (and, when targets are given, the ground truth in grey).
    Detections with "masks" (K, 1, H, W) probabilities also get their mask (> 0.5) painted
    in the box's colour."""
    from ..utils.draw import draw_bounding_boxes, draw_segmentation_masks

    img = np.asarray(getattr(image, "data", image))
    if img.ndim != 3:
        raise DetectionError(f"draw_detections: image must be (C, H, W), got shape "
                             f"{img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(np.round(img.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    img = np.ascontiguousarray(img.repeat(scale, axis=1).repeat(scale, axis=2))
    if targets is not None and len(targets["boxes"]):
        img = draw_bounding_boxes(img, np.asarray(targets["boxes"]) * scale,
                                  colors=(160, 160, 160))
    keep = np.asarray(detections["scores"]) >= score_threshold
    boxes = np.asarray(detections["boxes"])[keep] * scale
    labels = np.asarray(detections["labels"])[keep]
    scores = np.asarray(detections["scores"])[keep]
    if len(boxes) == 0:
        return img
    palette = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
               (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60),
               (250, 190, 212)]
    text = [f"{class_names[c] if 0 <= c < len(class_names) else c} {s:.2f}"
            for c, s in zip(labels, scores)]
    colors = [palette[int(c) % len(palette)] for c in labels]
    if "masks" in detections:
        masks = np.asarray(detections["masks"])[keep]
        masks = (masks[:, 0] if masks.ndim == 4 else masks) > 0.5
        masks = masks.repeat(scale, axis=1).repeat(scale, axis=2)
        img = draw_segmentation_masks(img, masks, alpha=0.5, colors=colors)
    return draw_bounding_boxes(img, boxes, labels=text, colors=colors, width=2)


def plot_predictions(model, dataset, path, n=8, score_threshold=0.5, title=""):
    """A grid of n held-out scenes with the model's detections (ground truth in grey)."""
    from ..plotting import _plt, _save

    plt = _plt()
    n = min(n, len(dataset))
    samples = [dataset[i] for i in range(n)]
    images, targets = collate(samples)
    dets = predict(model, images)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    names = getattr(dataset, "classes", CLASS_NAMES)
    for i in range(n):
        pic = draw_detections(images.data[i], dets[i], class_names=names,
                              score_threshold=score_threshold, targets=targets[i])
        axes.ravel()[i].imshow(np.moveaxis(pic, 0, -1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_curves(history, path, title="detector"):
    """Training curves: the summed loss of every batch (and its running mean), each loss
    term per epoch, and the held-out mAP@0.5 per epoch when it was measured."""
    from ..plotting import _plt, _save

    plt = _plt()
    with_map = not np.all(np.isnan(history["val_map"])) if len(history) else False
    fig, axes = plt.subplots(1, 3 if with_map else 2, figsize=(13 if with_map else 9, 3.5))
    steps = np.asarray(history.step_losses, np.float64)
    axes[0].plot(np.arange(1, len(steps) + 1), steps, alpha=0.35, label="batch")
    if len(steps):
        k = max(1, len(steps) // 20)
        smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
        axes[0].plot(np.arange(k, len(steps) + 1), smooth, label=f"mean of {k}")
    axes[0].set(xlabel="batch", ylabel="summed loss", title=f"{title}: loss per batch")
    for key in history.loss_names():
        axes[1].plot(history["epoch"], history[key], "o-", label=key)
    axes[1].set(xlabel="epoch", ylabel="mean loss", title="loss terms per epoch")
    if with_map:
        axes[2].plot(history["epoch"], history["val_map"], "s-", color="C3")
        axes[2].set(xlabel="epoch", ylabel="mAP@0.5", ylim=(0, 1),
                    title="held-out mAP@0.5")
    for a in axes:
        a.grid(alpha=0.3)
    for a in axes[:2]:
        a.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def _format_ap(ap):
    return ", ".join(f"{k} {v:.2f}" for k, v in ap.items())


def train(name, overrides=None, out=None, progress=True, log=print):
    """Train the detector `name` by its recipe on DigitScenes, evaluate it on the held-out
    scenes, and write checkpoint.npz, history.json, curves.png and predictions.png into
    `out` (default runs/detect_NAME). Returns (model, history, report)."""
    from .. import random
    from .._atomic import atomic_write
    from ..recipes import RecipeError, prepare_out_dir
    from .recipes import get_recipe

    log = log or (lambda *a: None)
    recipe = get_recipe(name)
    config = recipe.config(overrides or {})
    out = out or os.path.join("runs", f"detect_{name}")
    random.manual_seed(int(config["seed"]))
    try:
        model = recipe.build(config)
    except DetectionError:
        raise
    except (TypeError, ValueError) as e:
        raise DetectionError(f"{name}: cannot build the detector from these settings: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    try:
        prepare_out_dir(out)
    except RecipeError as e:
        raise DetectionError(str(e)) from None
    train_set, held_out = recipe.datasets(config)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"training {name} ({n_params:,} parameters): {recipe.summary}")
    log(f"{held_out!r}: {len(train_set)} training images, {len(held_out)} held-out test "
        f"images; config: " + ", ".join(f"{k}={v}" for k, v in sorted(config.items())))
    t0 = time.perf_counter()
    history = recipe.train(model, train_set, config, progress=progress, log=log)
    train_seconds = time.perf_counter() - t0
    report = evaluate(model, held_out, progress=progress, name=name)
    log(f"held-out mAP@0.5 {report['map']:.3f} on {report['n_images']} scenes "
        f"({report['n_objects']} digits); {report['seconds_per_image'] * 1000:.1f} ms per "
        f"test image; training took {train_seconds:.0f} s")
    log("AP per class: " + _format_ap(report["ap"]))
    _log_masks(report, log)

    meta = {"map": report["map"], "ap": report["ap"],
            "seconds_per_image": report["seconds_per_image"], "train_seconds": train_seconds,
            "n_test": report["n_images"], "test_seed": TEST_SEED}
    meta.update({k: report[k] for k in ("mask_map", "mask_ap", "mask_coco_map",
                                        "mask_coco_map_50") if k in report})
    save_checkpoint(os.path.join(out, "checkpoint.npz"), model, name, config, **meta)
    text = json.dumps({"detector": name, "config": config, "report": meta,
                       "epochs": history.as_dict()}, indent=1)
    atomic_write(os.path.join(out, "history.json"), lambda f: f.write(text.encode("utf-8")))
    plot_curves(history, os.path.join(out, "curves.png"), title=name)
    plot_predictions(model, held_out, os.path.join(out, "predictions.png"),
                     title=f"{name}: held-out mAP@0.5 {report['map']:.2f}")
    log(f"wrote {out}/" + ", ".join(OUTPUTS))
    return model, history, report


def evaluate_checkpoint(path, num_test=None, progress=False, log=print):
    """Rebuild a checkpoint's detector and evaluate it on the held-out scenes (the number
    it was trained with, unless num_test is given)."""
    from .recipes import get_recipe

    model, meta = load_checkpoint(path)
    n = int(num_test if num_test is not None else meta.get("n_test", TEST_SCENES))
    recipe = get_recipe(meta["detector"])
    config = recipe.config(dict(meta["config"], num_test=n), strict=False)
    _, held_out = recipe.datasets(config, train=False)
    report = evaluate(model, held_out, progress=progress, name=meta["detector"])
    log(f"{meta['detector']} on {len(held_out)} held-out {type(held_out).__name__} images "
        f"({held_out!r}): mAP@0.5 {report['map']:.3f}, "
        f"{report['seconds_per_image'] * 1000:.1f} ms per image")
    log("AP per class: " + _format_ap(report["ap"]))
    _log_masks(report, log)
    return report


def _log_masks(report, log):
    if "mask_map" in report:
        log(f"held-out mask AP@0.5 {report['mask_map']:.3f}, COCO mask AP@[.5:.95] "
            f"{report['mask_coco_map']:.3f} (AP@0.5 {report['mask_coco_map_50']:.3f})")
        log("mask AP per class: " + _format_ap(report["mask_ap"]))


def read_image(path, channels):
    """An image file as (channels, H, W) float32 in [0, 1]: colour is averaged to grey for
    a 1-channel detector (and grey repeated for a 3-channel one)."""
    import matplotlib.image as mpimg

    try:
        img = np.asarray(mpimg.imread(path))
    except (OSError, ValueError, SyntaxError) as e:
        raise DetectionError(f"cannot read {path} as an image ({type(e).__name__}: "
                             f"{str(e)[:200]})") from None
    img = img.astype(np.float32) / 255.0 if img.dtype.kind in "ui" else img.astype(np.float32)
    if img.ndim == 3:
        img = img[..., :3]
        img = img.mean(axis=-1) if channels == 1 else np.moveaxis(img, -1, 0)
    if img.ndim == 2:
        img = np.repeat(img[None], channels, axis=0)
    return np.ascontiguousarray(img)


def predict_image(image_path, checkpoint, out, score_threshold=0.5, scale=None, log=print):
    """Detect objects in an image file with a checkpoint and write the image with boxes and
    "class score" labels to `out` (PNG). The image is padded with zeros at the bottom and
    right to a multiple of the backbone's stride when needed. Returns the detections."""
    from .._atomic import atomic_write
    from .recipes import get_recipe

    model, meta = load_checkpoint(checkpoint)
    channels = int(meta["config"].get("in_channels", 1))
    img = read_image(image_path, channels)
    stride = int(getattr(getattr(model, "backbone", None), "stride", 1))
    h, w = img.shape[1:]
    ph, pw = -h % stride, -w % stride
    padded = np.pad(img, ((0, 0), (0, ph), (0, pw))) if ph or pw else img
    det = predict(model, padded[None], meta["detector"])[0]
    if "masks" in det:
        det["masks"] = det["masks"][..., :h, :w]
    scale = scale or max(1, 256 // max(h, w))
    names = get_recipe(meta["detector"]).class_names(meta["config"])
    pic = draw_detections(img, det, class_names=names, score_threshold=score_threshold,
                          scale=scale)

    def write(f):
        import matplotlib.image as mpimg
        mpimg.imsave(f, np.moveaxis(pic, 0, -1), format="png")

    atomic_write(out, write)
    shown = int((det["scores"] >= score_threshold).sum())
    log(f"{image_path} ({w}x{h}): {shown} detections with score >= {score_threshold:g} "
        f"({meta['detector']}) -> {out}")
    return det
