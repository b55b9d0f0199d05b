"""`scratchnet detect train rcnn`: R-CNN's multi-stage training, one visible stage at a time.

    stage 0    supervised pre-training of the CNN as a 10-way digit classifier of the warped
               objects of pretrain_scenes training scenes (the paper pre-trains on ImageNet
               classification; no such auxiliary set ships here, so the objects of the
               training scenes play its part)
    stage 1/4  fine-tune the region CNN as a softmax classifier of warped regions
               (engine.fit on the model's training loss)
    stage 2/4  run the CNN over every proposal (and object) of `cache_images` training scenes
               and write the features to disk, one file per scene (the paper's cache)
    stage 3/4  per class, a linear SVM on fc7 with hard-negative mining over the cache
    stage 4/4  per class, ridge box regression on pool5 features of proposals with IoU > 0.6

Every stage reports its seconds; stage 2 the cache's size in bytes. The stages are plain
functions (finetune, cache_features, train_svms, train_box_regressors) shared with SPPNet
(scratchnet.detection.sppnet), which changes only how region features are computed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np

from .. import Tensor, no_grad
from ..models.detection.rcnn import (RCNN, RegionCNN, assign_regions, feature_norm_scale,
                                     fit_ridge, make_proposer, regression_pairs,
                                     scaled_context, svm_with_hard_negatives, warp_regions)
from ..nn import functional as F
from .recipes import Recipe, fit_default

SHARED_DEFAULTS = {
    "optimizer": "adam",
    "lr": 0.001,
    "pretrain_scenes": 2000,      # stage 0: scenes whose objects pre-train the CNN
    "pretrain_epochs": 8,
    "num_val": 0,                 # no per-epoch mAP: detection needs the SVMs of stage 3
    "num_train": 200,
    "num_test": 100,              # R-CNN runs its CNN ~360 times per test scene
    "proposer": "selective_search",   # or "sliding_window"
    "cache_images": 150,          # training scenes whose region features are cached (stage 2)
    "svm_C": 0.1,                 # hinge-loss cost per region (features scaled to norm 20)
    "svm_positive_weight": 2.0,   # positives cost this much more (R-CNN's code: 2)
    "svm_rounds": 4,              # hard-negative mining rounds at most
    "svm_initial_negatives": 3000,
    "negative_iou": 0.3,          # regions below this IoU with every object of a class
    "box_lambda": 1000.0,         # ridge regularisation of the box regressors (the paper's)
    "box_iou": 0.6,               # regression trains on proposals above this IoU
    "keep_cache": False,          # leave the feature files on disk after training
    "cache_dir": "",              # where stage 2 writes (default: a temporary folder)
}


def _stage(log, k, n, text):
    log(f"stage {k}/{n}: {text}")
    return time.perf_counter()


def pretrain(cnn, config, progress=True, log=print):
    """Stage 0: the RegionCNN `cnn` trained as a classifier of the warped objects (context
    padding as at detection time) of the first pretrain_scenes training scenes, batches of
    128, the configured optimizer and learning rate. Returns the last epoch's accuracy."""
    from .. import optim
    from ..data import DigitScenes
    from ..recipes import make_optimizer
    from ..train import _progress

    scenes = DigitScenes("train", num_samples=int(config["pretrain_scenes"]),
                         seed=int(config["seed"]))
    crops, labels = [], []
    for i in range(len(scenes)):
        image, target = scenes[i]
        crops.append(warp_regions(image, target["boxes"], cnn.warp_size,
                                  scaled_context(cnn.warp_size)))
        labels.append(np.asarray(target["labels"], np.int64))
    crops, labels = np.concatenate(crops), np.concatenate(labels)
    opt = make_optimizer(config["optimizer"], list(cnn.parameters()), float(config["lr"]))
    epochs = int(config["pretrain_epochs"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    rng = np.random.default_rng(int(config["seed"]))
    accuracy = 0.0
    cnn.train()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(crops))
        correct, total = 0, 0.0
        batches = [order[k:k + 128] for k in range(0, len(order), 128)]
        for idx in _progress(batches, f"pre-train {epoch}/{epochs}", progress):
            opt.zero_grad()
            logits = cnn(Tensor(crops[idx]))
            loss = F.cross_entropy(logits, Tensor(labels[idx]))
            loss.backward()
            opt.step()
            correct += int((logits.detach().numpy().argmax(1) == labels[idx]).sum())
            total += float(loss.item()) * len(idx)
        sched.step()
        accuracy = correct / len(crops)
        log(f"  pre-train epoch {epoch}: loss {total / len(crops):.4f}, accuracy "
            f"{accuracy:.3f} on {len(crops)} warped objects")
    return accuracy


def finetune(model, train_set, config, progress=True, log=print):
    """Stage 1: the softmax fine-tuning of the region classifier (32 positive + 96 background
    regions per batch), as engine.fit over the model's training loss."""
    return fit_default(model, train_set, config, progress=progress, log=log)


def cache_features(model, dataset, cache_dir, num_images, progress=True, log=print):
    """Stage 2: for each of the first num_images scenes, the features of all its proposals
    and objects, written to cache_dir/scene_XXXXX.npz:

        fc7         (R, D_fc7) float32   every region (proposals, then the objects)
        is_gt       (R,) bool            the object rows
        gt_label    (R,) int64           an object row's class (0 for proposals)
        class_iou   (R, k) float16       IoU with the nearest object of each class 1..k
        reg_index, reg_pooled, reg_labels, reg_targets
                    the proposals with IoU > 0.6 (their pooled features (P, D_pool),
                    classes and box targets (P, 4)), what stage 4 trains on

    Returns (list of file paths, total bytes)."""
    from ..train import _progress

    os.makedirs(cache_dir, exist_ok=True)
    model.eval()
    k = model.num_classes - 1
    paths, total = [], 0
    for i in _progress(range(min(num_images, len(dataset))), "caching features", progress):
        image, target = dataset[i]
        gt = np.asarray(target["boxes"], np.float32).reshape(-1, 4)
        gt_labels = np.asarray(target["labels"], np.int64).reshape(-1)
        props = model.proposals(image)
        boxes = np.concatenate([props, gt])
        with no_grad():
            pooled, fc7 = model.region_features(image, boxes)
        pooled, fc7 = pooled.numpy(), fc7.numpy()
        _, _, iou = assign_regions(boxes, gt, gt_labels)
        class_iou = np.zeros((len(boxes), k), np.float32)
        if iou is not None:
            for c in range(1, k + 1):
                cols = gt_labels == c
                if cols.any():
                    class_iou[:, c - 1] = iou[:, cols].max(axis=1)
        idx, _, reg_labels, reg_targets = regression_pairs(props, gt, gt_labels,
                                                           model.box_iou)
        is_gt = np.zeros(len(boxes), bool)
        is_gt[len(props):] = True
        path = os.path.join(cache_dir, f"scene_{i:05d}.npz")
        np.savez(path, fc7=fc7.astype(np.float32), is_gt=is_gt,
                 gt_label=np.concatenate([np.zeros(len(props), np.int64), gt_labels]),
                 class_iou=class_iou.astype(np.float16), reg_index=idx,
                 reg_pooled=pooled[idx].astype(np.float32), reg_labels=reg_labels,
                 reg_targets=reg_targets)
        total += os.path.getsize(path)
        paths.append(path)
    return paths, total


def _load(paths, keys):
    parts = {key: [] for key in keys}
    for p in paths:
        with np.load(p) as z:
            for key in keys:
                parts[key].append(z[key])
    return {key: np.concatenate(v) for key, v in parts.items()}


def train_svms(model, paths, config, log=print):
    """Stage 3: per class c, a linear SVM on (scaled) fc7: positives the objects of class c,
    negatives every region with IoU < negative_iou with all objects of class c, mined hard
    (svm_with_hard_negatives). Writes model.svm_weight / svm_bias and the fc7 scale."""
    data = _load(paths, ("fc7", "is_gt", "gt_label", "class_iou"))
    scale = feature_norm_scale(data["fc7"])
    fc7 = data["fc7"] * np.float32(scale)
    model.feature_scale.data[0] = scale
    k = model.num_classes - 1
    W = np.zeros((k, fc7.shape[1]), np.float32)
    b = np.zeros(k, np.float32)
    summary = []
    for c in range(1, k + 1):
        pos = fc7[data["is_gt"] & (data["gt_label"] == c)]
        neg = fc7[data["class_iou"][:, c - 1].astype(np.float32) < config["negative_iou"]]
        w, bias, rounds = svm_with_hard_negatives(
            pos, neg, C=float(config["svm_C"]),
            positive_weight=float(config["svm_positive_weight"]),
            initial_negatives=int(config["svm_initial_negatives"]),
            max_rounds=int(config["svm_rounds"]), seed=int(config["seed"]) + c)
        W[c - 1], b[c - 1] = w, bias
        summary.append(f"{c}: {len(pos)} pos, {rounds[-1]['working_negatives']}/{len(neg)} "
                       f"neg in {len(rounds)} rounds")
    model.svm_weight.data[...] = W
    model.svm_bias.data[...] = b
    log("  SVMs (class: positives, working/all negatives): " + "; ".join(summary))
    return summary


def train_box_regressors(model, paths, config, log=print):
    """Stage 4: per class, ridge regression (lambda = box_lambda) from the scaled pooled
    features of proposals with IoU > box_iou to their targets (t_x, t_y, t_w, t_h)."""
    data = _load(paths, ("reg_pooled", "reg_labels", "reg_targets"))
    scale = feature_norm_scale(data["reg_pooled"]) if len(data["reg_pooled"]) else 1.0
    model.feature_scale.data[1] = scale
    X = data["reg_pooled"] * np.float32(scale)
    counts = []
    for c in range(1, model.num_classes):
        rows = data["reg_labels"] == c
        W, bias = fit_ridge(X[rows], data["reg_targets"][rows], float(config["box_lambda"]))
        model.box_weight.data[c - 1] = W
        model.box_bias.data[c - 1] = bias
        counts.append(int(rows.sum()))
    log(f"  box regressors: {sum(counts)} proposal/object pairs (per class "
        f"{min(counts)} to {max(counts)}), lambda {config['box_lambda']:g}")
    return counts


def train_rcnn(model, train_set, config, progress=True, log=print):
    """R-CNN: stage 0 (pre-training the CNN), then the four stages of train_stages."""
    t = time.perf_counter()
    log("stage 0: supervised pre-training of the CNN on warped objects (the paper: ImageNet)")
    pretrain(model.cnn, config, progress=progress, log=log)
    seconds = time.perf_counter() - t
    history = train_stages(model, train_set, config, progress, log)
    history.stage_seconds = dict({"0 pre-train": seconds}, **history.stage_seconds)
    log("  all stages: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                     history.stage_seconds.items()))
    return history


def train_stages(model, train_set, config, progress=True, log=print, first_stage=finetune):
    """The four stages with their seconds; returns stage 1's DetectionHistory with
    `stage_seconds` (dict) and `feature_cache_bytes` attached."""
    seconds = {}
    t = _stage(log, 1, 4, f"fine-tune {type(model).__name__}'s classifier on regions "
                          f"(IoU >= 0.5: the object's class, else background)")
    history = first_stage(model, train_set, config, progress=progress, log=log)
    seconds["1 fine-tune"] = time.perf_counter() - t
    cache_dir = config.get("cache_dir") or tempfile.mkdtemp(prefix="scratchnet_features_")
    t = _stage(log, 2, 4, f"cache the features of every region of "
                          f"{min(int(config['cache_images']), len(train_set))} scenes to disk")
    paths, nbytes = cache_features(model, train_set, cache_dir, int(config["cache_images"]),
                                   progress=progress, log=log)
    seconds["2 cache features"] = time.perf_counter() - t
    log(f"  feature cache: {nbytes:,} bytes ({nbytes / 2 ** 20:.1f} MiB) in {len(paths)} "
        f"files")
    try:
        t = _stage(log, 3, 4, "per-class linear SVMs (hinge loss) with hard-negative mining")
        train_svms(model, paths, config, log=log)
        seconds["3 SVMs"] = time.perf_counter() - t
        t = _stage(log, 4, 4, "per-class box regression (ridge) on the pooled features")
        train_box_regressors(model, paths, config, log=log)
        seconds["4 box regression"] = time.perf_counter() - t
    finally:
        if not config.get("keep_cache"):
            shutil.rmtree(cache_dir, ignore_errors=True)
    log("  stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    history.stage_seconds = seconds
    history.feature_cache_bytes = nbytes
    return history


def build(config):
    cnn = RegionCNN(int(config["in_channels"]), 11, int(config["warp_size"]))
    model = RCNN(cnn, make_proposer(config["proposer"]), num_classes=11,
                 in_channels=int(config["in_channels"]), warp_size=int(config["warp_size"]))
    model.box_iou = float(config["box_iou"])
    return model


RECIPE = Recipe(
    name="rcnn",
    summary="R-CNN: warp each proposal (32x32, 2 px context), CNN features, per-class "
            "SVMs and box regression, trained in four stages",
    build=build,
    defaults=dict(SHARED_DEFAULTS, epochs=4, warp_size=32),
    train_fn=train_rcnn,
)
