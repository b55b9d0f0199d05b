"""Exercises for the application half of the course: the losses and layers of detection,
segmentation, face recognition, style transfer and GANs, where the decks give a formula and
students most often get its gradient wrong. Each reference forward is composed of existing
scratchnet ops, so the checker compares with autograd."""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from .hints import batch_of, contrast, ignores_dout, relation, right_where, same, scaled_by
from .specs import DECK_000, DECK_002, ExCase, Exercise, _F
from .text import Text


def _smooth_l1_ref(pred, target, labels, beta):
    foreground = Tensor((labels.data > 0).astype(pred.dtype)[:, None])
    per_element = _F().smooth_l1_loss(pred, target, reduction="none", beta=beta)
    return (per_element * foreground).sum() / pred.shape[0]


def _smooth_l1_case(r, n_fg, beta, spread=1.5, on_switch=False):
    def make(rng):
        if on_switch:
            # multiples of 1/4 are exact in binary, so |pred - target| == beta exactly
            pred = rng.integers(-8, 9, (r, 4)) / 4.0
            target = pred - beta * rng.choice([-1.0, 1.0], (r, 4))
        else:
            pred = rng.standard_normal((r, 4)) * spread
            target = rng.standard_normal((r, 4)) * spread
        labels = np.zeros(r, dtype=np.int64)
        labels[rng.permutation(r)[:n_fg]] = rng.integers(1, 21, n_fg)
        return [pred, target, labels], {"beta": beta}
    return make


def _smooth_l1_parts(run):
    pred, target, labels = run.arrays
    x = pred - target
    background = np.broadcast_to((labels == 0)[:, None], x.shape)
    return x, background


def _smooth_l1_background(run, got, want):
    _, background = _smooth_l1_parts(run)
    return got.shape == want.shape and background.any() and np.abs(got[background]).max() > 0


def _smooth_l1_right_only(run, got, want, inside):
    """Right on the foreground elements inside (or outside) the switch, and on background."""
    x, background = _smooth_l1_parts(run)
    region = (np.abs(x) < run.params["beta"]) == inside
    return (region & ~background).any() and right_where(region | background, got, want)


def _smooth_l1_inside_only(run, got, want):
    return _smooth_l1_right_only(run, got, want, inside=True)


def _smooth_l1_outside_only(run, got, want):
    return _smooth_l1_right_only(run, got, want, inside=False)


def _smooth_l1_by_foreground(run, got, want):
    labels = run.arrays[2]
    n_fg, r = int((labels > 0).sum()), len(labels)
    return 0 < n_fg < r and scaled_by(r / n_fg, got, want)


SMOOTH_L1 = Exercise(
    "smooth_l1", "Fast R-CNN's box loss: smooth L1 over foreground RoIs, divided by the RoIs",
    ["pred", "target", "labels"], ["pred"],
    [ExCase("R=8, 4 foreground, beta=1", 40, _smooth_l1_case(8, 4, 1.0)),
     ExCase("beta=1/9 (torchvision's Fast R-CNN), R=6, 3 foreground", 41,
            _smooth_l1_case(6, 3, 1.0 / 9.0, spread=0.3)),
     ExCase("|pred - target| exactly at the switch beta=0.5", 42,
            _smooth_l1_case(5, 3, 0.5, on_switch=True)),
     ExCase("no foreground RoI (all background)", 43, _smooth_l1_case(4, 0, 1.0),
            gradcheck=False),
     ExCase("every RoI foreground", 44, _smooth_l1_case(5, 5, 1.0), gradcheck=False)],
    _smooth_l1_ref,
    hints=[
        relation("smooth_l1.background", ("pred",), _smooth_l1_background,
                 Text("background RoIs (label 0) got a gradient: only foreground RoIs count "
                      "in the box loss, so their rows of dpred are zero.",
                      "배경 RoI(레이블 0)에 기울기가 생겼습니다: 박스 손실에는 전경(foreground) "
                      "RoI만 들어가므로 배경 행의 dpred는 0입니다.")),
        relation("smooth_l1.linear", ("pred",), _smooth_l1_inside_only,
                 Text("right where |x| < beta but wrong beyond it (x = pred - target): there "
                      "the loss is |x| - beta/2, whose gradient is sign(x), not x / beta.",
                      "|x| < beta인 곳에서는 맞고 그 밖에서는 틀립니다 (x = pred - target): "
                      "그곳의 손실은 |x| - beta/2이므로 기울기는 x / beta가 아니라 "
                      "sign(x)입니다.")),
        relation("smooth_l1.quadratic", ("pred",), _smooth_l1_outside_only,
                 Text("right where |x| >= beta but wrong inside it: for |x| < beta the loss "
                      "is 0.5 * x**2 / beta, whose gradient is x / beta.",
                      "|x| >= beta인 곳에서는 맞고 안쪽에서는 틀립니다: |x| < beta에서 손실은 "
                      "0.5 * x**2 / beta이므로 기울기는 x / beta입니다.")),
        relation("smooth_l1.normalise", ("pred",), _smooth_l1_by_foreground,
                 Text("off by R / (number of foreground RoIs): the loss is divided by all R "
                      "sampled RoIs (as torchvision's fastrcnn_loss does), not by the "
                      "foreground ones.",
                      "R / (전경 RoI 수)만큼 어긋납니다: 손실은 전경 RoI 수가 아니라 샘플링한 "
                      "RoI 전체 R로 나눕니다 (torchvision의 fastrcnn_loss와 같습니다).")),
    ],
    deck=DECK_000,
    title_ko="Fast R-CNN의 박스 손실: 전경 RoI에 대한 smooth L1을 RoI 수로 나눔",
)


def _pixel_ce_ref(logits, target, ignore_index):
    return _F().cross_entropy(logits, target, ignore_index=ignore_index)


def _pixel_ce_case(n, c, h, w, ignored=0.0, empty_image=None):
    def make(rng):
        logits = rng.standard_normal((n, c, h, w)) * 2
        target = rng.integers(0, c, (n, h, w))
        target[rng.random((n, h, w)) < ignored] = 255
        if empty_image is not None:
            target[empty_image] = 255
        return [logits, target], {"ignore_index": 255}
    return make


def _pixel_ce_counts(run):
    logits, target = run.arrays
    valid = target != run.params["ignore_index"]
    return valid, valid.reshape(len(valid), -1).sum(axis=1)


def _pixel_ce_ignored_nonzero(run, got, want):
    """Right on the counted pixels, not zero on some ignored one."""
    if got.shape != want.shape:
        return False
    valid, _ = _pixel_ce_counts(run)
    counted = np.broadcast_to(valid[:, None], got.shape)
    return (~counted).any() and right_where(counted, got, want)


def _pixel_ce_by_all_pixels(run, got, want):
    valid, _ = _pixel_ce_counts(run)
    return valid.sum() < valid.size and scaled_by(valid.sum() / valid.size, got, want)


def _pixel_ce_image_mean(run, got, want):
    valid, counts = _pixel_ce_counts(run)
    if got.shape != want.shape or len(set(counts.tolist())) < 2:
        return False
    total, full = counts.sum(), valid[0].size
    return any(0 < counts[i] < full and np.any(want[i]) and
               np.allclose(got[i], want[i] * total / (len(counts) * counts[i]), rtol=1e-6)
               for i in range(len(counts)))


PIXEL_CE = Exercise(
    "pixel_cross_entropy", "Pixelwise cross-entropy with ignore_index (segmentation)",
    ["logits", "target"], ["logits"],
    [ExCase("N=2, C=3, 4x5, a few pixels ignored", 50, _pixel_ce_case(2, 3, 4, 5, 0.2)),
     ExCase("N=3, C=4, 3x3, every pixel of image 1 ignored", 51,
            _pixel_ce_case(3, 4, 3, 3, 0.1, empty_image=1)),
     ExCase("N=2, C=3, 1x1 feature map", 52, _pixel_ce_case(2, 3, 1, 1)),
     ExCase("N=2, C=3, 4x5, nothing ignored", 53, _pixel_ce_case(2, 3, 4, 5), gradcheck=False),
     ExCase("N=3, C=2, 1x1 feature map, nothing ignored", 54, _pixel_ce_case(3, 2, 1, 1),
            gradcheck=False)],
    _pixel_ce_ref,
    hints=[
        relation("pixel_cross_entropy.ignored", ("logits",), _pixel_ce_ignored_nonzero,
                 Text("ignored pixels (target == ignore_index) got a gradient: they are not "
                      "in the loss, so their gradient is zero for every class.",
                      "무시하는 픽셀(target == ignore_index)에 기울기가 생겼습니다: 손실에 "
                      "들어가지 않으므로 모든 클래스에서 기울기가 0입니다.")),
        relation("pixel_cross_entropy.count", ("logits",), _pixel_ce_by_all_pixels,
                 Text("off by (counted pixels) / (all pixels): the mean is over the pixels "
                      "that are not ignored, so divide by their number, not by N*H*W.",
                      "(센 픽셀 수) / (전체 픽셀 수)만큼 어긋납니다: 평균은 무시하지 않은 "
                      "픽셀에 대한 것이므로 N*H*W가 아니라 그 픽셀 수로 나누세요.")),
        contrast("pixel_cross_entropy.layout", ("logits",),
                 lambda r: r.arrays[0].shape[2:] == (1, 1),
                 lambda r: r.arrays[0].shape[2:] != (1, 1) and _pixel_ce_counts(r)[0].all(),
                 Text("right on 1x1 feature maps only: the classes are axis 1 of (N, C, H, W); "
                      "take the softmax over axis=1, or move the class axis last "
                      "(transpose(0, 2, 3, 1)) before reshaping to (N*H*W, C).",
                      "1x1 특징 맵(feature map)에서만 맞습니다: 클래스는 (N, C, H, W)의 축 1"
                      "입니다; softmax를 axis=1로 구하거나, (N*H*W, C)로 reshape하기 전에 "
                      "클래스 축을 맨 뒤로 옮기세요 (transpose(0, 2, 3, 1)).")),
        relation("pixel_cross_entropy.image_mean", ("logits",), _pixel_ce_image_mean,
                 Text("you averaged each image and then the images: the mean is over every "
                      "counted pixel of the batch at once (an image with more ignored pixels "
                      "does not weigh more, and an image with none counted adds nothing).",
                      "이미지마다 평균을 낸 뒤 이미지들을 평균했습니다: 평균은 배치 전체의 "
                      "센 픽셀에 대해 한 번에 냅니다 (무시한 픽셀이 많은 이미지가 더 무겁지 "
                      "않고, 센 픽셀이 없는 이미지는 아무것도 더하지 않습니다).")),
    ],
    deck=DECK_002,
    title_ko="분할(segmentation)의 픽셀별 교차 엔트로피, ignore_index 포함",
)


APPLICATION_EXERCISES = [SMOOTH_L1, PIXEL_CE]
