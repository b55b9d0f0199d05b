"""Sliding-window detection: the first step of the decks' road to Faster R-CNN.

Slide a window over the image at several sizes, cut out every window, resize it to the
classifier's input and classify it; the windows classified as the object, after
non-maximum suppression, are the detections. Simple, and slow: every window is a full
classifier pass, and the count grows with (image size / stride)^2 per window size.

For a window w x w moving by s pixels over an H x W image there are

    (floor((H - w) / s) + 1) * (floor((W - w) / s) + 1)

windows (`count_windows`). `SlidingWindowDetector` resizes the image once per window size
(antialiased) so that the window becomes the classifier's input size, then cuts all
input-sized windows of that level: the same windows as cutting and resizing each crop, at
the cost of one resize per level (an image pyramid).
"""
from __future__ import annotations

import time

import numpy as np

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import imresize
from scratchnet.ops.boxes import nms


def count_windows(image_size, window, stride):
    """Number of positions of a window (h, w) (or an int) moving by `stride` (an int or
    (sy, sx)) over an image (H, W), the window wholly inside: the formula above, 0 when the
    window does not fit."""
    (H, W), (h, w), (sy, sx) = (_pair(image_size, "image_size"), _pair(window, "window"),
                                _pair(stride, "stride"))
    if h > H or w > W:
        return 0
    return ((H - h) // sy + 1) * ((W - w) // sx + 1)


def sliding_windows(image_size, window_sizes, strides):
    """All windows, as (N, 4) float32 xyxy boxes (pixel edges), size by size in the order
    given, each size row by row.

    image_size: (H, W); window_sizes: a list of ints or (h, w); strides: an int for all
    sizes, or a list with one int or (sy, sx) per size."""
    H, W = _pair(image_size, "image_size")
    sizes = [_pair(s, "window size") for s in window_sizes]
    if isinstance(strides, (int, np.integer)):
        strides = [strides] * len(sizes)
    if len(strides) != len(sizes):
        raise ValueError(f"sliding_windows: {len(strides)} strides for {len(sizes)} window "
                         f"sizes; give one stride per size or one for all")
    out = []
    for (h, w), s in zip(sizes, strides):
        sy, sx = _pair(s, "stride")
        ys, xs = np.arange(0, H - h + 1, sy), np.arange(0, W - w + 1, sx)
        y, x = np.meshgrid(ys, xs, indexing="ij")
        out.append(np.stack([x, y, x + w, y + h], axis=-1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 4), np.float32)


def _pair(v, name):
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2 or not all(isinstance(a, (int, np.integer)) and a >= 1 for a in t):
        raise ValueError(f"sliding window: {name} must be a positive int or a pair of them, "
                         f"got {v!r}")
    return int(t[0]), int(t[1])


class FaceNet(nn.Module):
    """A small face / non-face classifier for 25x25 grey crops (scikit-image's LFW subset).

    (N, 1, 25, 25) -> each crop to zero mean and unit variance -> conv 5x5 (16) -> 21x21 ->
    ReLU -> max pool 2 -> 10x10 -> conv 3x3 (32) -> 8x8 -> ReLU -> max pool 2 -> 4x4 ->
    flatten 512 -> linear 64 -> ReLU -> linear 2 -> (N, 2) logits (class 1 = face).

    The per-crop normalisation (as Viola and Jones normalise each window's variance) makes
    a face in a dim corner look like one in bright light."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(512, 64), nn.ReLU(),
                                        nn.Linear(64, 2))

    def forward(self, x):
        flat = x.reshape(x.shape[0], -1)
        mean = flat.mean(dim=1, keepdim=True)
        std = ((flat - mean) ** 2).mean(dim=1, keepdim=True).sqrt()
        x = ((flat - mean) / (std + 0.05)).reshape(x.shape)
        return self.classifier(self.features(x))


class SlidingWindowDetector(nn.Module):
    """Every window of every size classified by `classifier`; windows whose class-1 score
    reaches `score_threshold` are kept, then NMS at `nms_threshold`.

    classifier: a module (N, C, h, w) -> (N, 2) logits, h x w = input_size
    window_sizes: square window sides in image pixels
    stride: the step as a fraction of the window side (0.25: a quarter window), rounded at
        each pyramid level to whole pixels of the classifier's input
    In eval mode, forward(images (N, C, H, W)) -> one dict per image with "boxes" (K, 4)
    float32 xyxy, "scores" (K,) float32, "labels" (K,) int64 (all 1), "num_windows" and
    "seconds" (the time to classify them)."""

    def __init__(self, classifier, input_size=25, window_sizes=(32, 48, 64, 96, 128),
                 stride=0.25, score_threshold=0.5, nms_threshold=0.3, batch_size=512):
        super().__init__()
        self.classifier = classifier
        self.input_size = int(input_size)
        self.window_sizes = tuple(int(s) for s in window_sizes)
        if not self.window_sizes or min(self.window_sizes) < 1:
            raise ValueError(f"SlidingWindowDetector: window_sizes must be positive ints, "
                             f"got {window_sizes!r}")
        if not 0 < stride <= 1:
            raise ValueError(f"SlidingWindowDetector: stride is a fraction of the window in "
                             f"(0, 1], got {stride}")
        self.stride, self.batch_size = float(stride), int(batch_size)
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)

    def level_stride(self):
        """The step in pixels of the classifier's input at every pyramid level."""
        return max(1, round(self.stride * self.input_size))

    def windows(self, image):
        """Crops and boxes of one image (C, H, W): crops (L, C, s, s) at the classifier's input
        size s, boxes (L, 4) float32 in image pixels, window size by window size."""
        c, H, W = image.shape
        s, step = self.input_size, self.level_stride()
        crops, boxes = [], []
        for size in self.window_sizes:
            if size > min(H, W):
                continue
            f = s / size
            level = imresize(image.astype(np.float32), size=(max(s, round(H * f)),
                                                           max(s, round(W * f))))
            fy, fx = level.shape[1] / H, level.shape[2] / W
            views = np.lib.stride_tricks.sliding_window_view(level, (s, s), axis=(1, 2))
            views = views[:, ::step, ::step]                   # (C, ny, nx, s, s)
            ny, nx = views.shape[1:3]
            crops.append(np.moveaxis(views, 0, 2).reshape(ny * nx, c, s, s))
            b = sliding_windows(level.shape[1:], [s], step).astype(np.float64)
            boxes.append(b / [fx, fy, fx, fy])
        if not crops:
            raise ValueError(f"SlidingWindowDetector: no window size {self.window_sizes} fits "
                             f"in a {H}x{W} image")
        return np.concatenate(crops), np.concatenate(boxes).astype(np.float32)

    def scores(self, crops):
        """Class-1 probability of each crop (L, C, s, s) -> (L,) float32, in batches."""
        out = []
        with sn.no_grad():
            for i in range(0, len(crops), self.batch_size):
                logits = self.classifier(sn.tensor(np.ascontiguousarray(
                    crops[i:i + self.batch_size], dtype=np.float32)))
                out.append(F.softmax(logits, dim=1).data[:, 1])
        return np.concatenate(out).astype(np.float32)

    def forward(self, images, targets=None):
        if self.training:
            raise RuntimeError("SlidingWindowDetector: there is nothing to train here; train "
                               "the classifier on crops, then call detector.eval()")
        x = images.data if isinstance(images, sn.Tensor) else np.asarray(images)
        if x.ndim != 4:
            raise ValueError(f"SlidingWindowDetector: expected images (N, C, H, W), got shape "
                             f"{tuple(x.shape)}")
        results = []
        for image in x:
            t0 = time.perf_counter()
            crops, boxes = self.windows(image)
            p = self.scores(crops)
            seconds = time.perf_counter() - t0
            keep = np.flatnonzero(p >= self.score_threshold)
            if keep.size:
                keep = keep[np.asarray(nms(boxes[keep], p[keep], self.nms_threshold))]
            results.append({"boxes": boxes[keep], "scores": p[keep],
                            "labels": np.ones(len(keep), np.int64),
                            "num_windows": len(crops), "seconds": seconds})
        return results


def pyramid_window_count(image_size, window_sizes, input_size=25, stride=0.25):
    """How many windows SlidingWindowDetector classifies on an image (H, W): per window size
    w, the image resized by input_size / w, then count_windows with the level's stride."""
    H, W = _pair(image_size, "image_size")
    step = max(1, round(stride * input_size))
    total = 0
    for size in window_sizes:
        if size > min(H, W):
            continue
        f = input_size / size
        total += count_windows((max(input_size, round(H * f)), max(input_size, round(W * f))),
                               input_size, step)
    return total
