"""Exercises for the application half of the course: the losses and layers of detection,
segmentation, face recognition, style transfer and GANs, where the decks give a formula and
students most often get its gradient wrong. Each reference forward is composed of existing
scratchnet ops, so the checker compares with autograd."""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from .hints import Hint, batch_of, contrast, relation, right_where, scaled_by
from .specs import DECK_000, DECK_001, DECK_002, DECK_003, ExCase, Exercise, _batch_factor, _F
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


def _bilinear_case(n, c, h, w, ho, wo):
    return lambda rng: ([rng.standard_normal((n, c, h, w))], {"size": (ho, wo)})


def _bilinear_identity(run):
    return tuple(run.params["size"]) == run.arrays[0].shape[2:]


def _bilinear_square(run):
    h, w = run.arrays[0].shape[2:]
    return h == w and run.params["size"][0] == run.params["size"][1]


def _bilinear_interior_wrong(run, got, want):
    if got.shape != want.shape:
        return False
    ok = np.isclose(got, want, rtol=1e-6, atol=1e-8)
    return not ok[:, :, 1:-1, 1:-1].all()


def _bilinear_accumulate(ev):
    identity = ev.pairs(("x",), _bilinear_identity)
    upsampled = ev.pairs(("x",), lambda r: _bilinear_square(r) and not _bilinear_identity(r))
    return (bool(identity) and all(ev.right((g, w)) for _, g, w in identity)
            and any(_bilinear_interior_wrong(r, g, w) for r, g, w in upsampled))


def _bilinear_border_only(run, got, want):
    if got.shape != want.shape or min(got.shape[2:]) < 3:
        return False
    interior = np.zeros(got.shape, dtype=bool)
    interior[:, :, 1:-1, 1:-1] = True
    return right_where(interior, got, want)


BILINEAR = Exercise(
    "bilinear_upsample", "Bilinear upsampling backward (FCN's decoder), align_corners=False",
    ["x"], ["x"],
    [ExCase("2x2 -> 4x4 (factor 2)", 60, _bilinear_case(1, 1, 2, 2, 4, 4)),
     ExCase("3x5 -> 7x9 (odd, not square)", 61, _bilinear_case(1, 2, 3, 5, 7, 9)),
     ExCase("batch 2, 3 channels, 4x4 -> 8x8", 62, _bilinear_case(2, 3, 4, 4, 8, 8)),
     ExCase("1x1 feature map -> 3x3", 63, _bilinear_case(2, 1, 1, 1, 3, 3)),
     ExCase("5x5 -> 5x5 (the identity)", 64, _bilinear_case(1, 2, 5, 5, 5, 5), gradcheck=False),
     ExCase("4x6 -> 4x6 (the identity, not square)", 65, _bilinear_case(1, 1, 4, 6, 4, 6),
            gradcheck=False),
     ExCase("5x5 -> 13x13 (factor 2.6)", 66, _bilinear_case(1, 1, 5, 5, 13, 13),
            gradcheck=False)],
    lambda x, size: _F().interpolate(x, size=size, mode="bilinear", align_corners=False),
    hints=[
        Hint("bilinear_upsample.accumulate", ("x",), _bilinear_accumulate,
             Text("right at the same size but wrong when upsampling: each input pixel feeds "
                  "several outputs, and `dx[:, :, rows] += ...` with repeated indices adds only "
                  "once: accumulate with np.add.at (or loop over the outputs).",
                  "크기가 같을 때는 맞고 업샘플링할 때는 틀립니다: 입력 픽셀 하나가 여러 출력에 "
                  "쓰이는데, 인덱스가 반복되는 `dx[:, :, rows] += ...`는 한 번만 더합니다: "
                  "np.add.at으로 (또는 출력마다 반복문으로) 누적하세요.")),
        relation("bilinear_upsample.border", ("x",), _bilinear_border_only,
                 Text("right inside but wrong on the border rows and columns: the source "
                      "coordinate (i + 0.5) * H / Ho - 0.5 is negative for the first outputs; "
                      "clamp it at 0 (and the second neighbour at H - 1), or index -1 wraps to "
                      "the last pixel.",
                      "안쪽은 맞고 가장자리 행과 열만 틀립니다: 처음 출력들의 원본 좌표 "
                      "(i + 0.5) * H / Ho - 0.5는 음수입니다; 0으로 clamp하세요 (두 번째 이웃은 "
                      "H - 1로). 그렇지 않으면 인덱스 -1이 마지막 픽셀을 가리킵니다.")),
        contrast("bilinear_upsample.axes", ("x",), _bilinear_square,
                 lambda r: not _bilinear_square(r),
                 Text("right for square maps only: rows use the scale H / Ho and columns the "
                      "scale W / Wo; check that no height is used for a width.",
                      "정사각형 맵에서만 맞습니다: 행은 H / Ho, 열은 W / Wo 비율을 씁니다; 높이를 "
                      "너비 자리에 쓰지 않았는지 확인하세요.")),
    ],
    deck=DECK_001,
    title_ko="이중 선형 업샘플링(bilinear upsampling)의 역전파 (FCN 디코더), align_corners=False",
)


def _roi_pool_ref(x, boxes, output_size, spatial_scale):
    from ..ops.roi import roi_pool
    return roi_pool(x, boxes, output_size, spatial_scale)


def _roi_case(n, c, h, w, boxes, output_size, scale=1.0):
    def make(rng):
        x = rng.standard_normal((n, c, h, w))
        return [x, np.array(boxes, dtype=np.float64)], {"output_size": output_size,
                                                         "spatial_scale": scale}
    return make


def _roi_cover(run):
    """How many bins (over every RoI) read each pixel of the map, (N, H, W)."""
    from ..kernels.roi import roi_pool_bin_edges
    x, boxes = run.arrays
    n, _, h, w = x.shape
    rows, cols = roi_pool_bin_edges(boxes, np.float64(run.params["spatial_scale"]),
                                    *run.params["output_size"])
    cover = np.zeros((n, h, w), dtype=np.int64)
    for k, box in enumerate(boxes):
        for r0, r1 in rows[k]:
            for c0, c1 in cols[k]:
                cover[int(box[0]), max(r0, 0):max(min(r1, h), 0),
                      max(c0, 0):max(min(c1, w), 0)] += 1
    return cover


def _roi_has_half(run):
    scaled = run.arrays[1][:, 1:] * run.params["spatial_scale"]
    return bool(np.any(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-12))


ROI_POOL = Exercise(
    "roi_pool", "RoI max pooling backward (Fast R-CNN)",
    ["x", "boxes"], ["x"],
    [ExCase("deck 000: a 21x14 RoI -> 7x7 (3x2 bins)", 70,
            _roi_case(1, 2, 24, 18, [[0, 2, 1, 15, 21]], (7, 7))),
     ExCase("deck 000: a 35x42 RoI -> 7x7 (5x6 bins)", 71,
            _roi_case(1, 1, 38, 46, [[0, 3, 2, 44, 36]], (7, 7)), gradcheck=False),
     ExCase("two overlapping RoIs", 72,
            _roi_case(1, 2, 10, 10, [[0, 0, 0, 5, 5], [0, 3, 2, 8, 7]], (2, 2))),
     ExCase("RoIs on two images (batch index 1)", 73,
            _roi_case(2, 2, 8, 8, [[1, 0, 0, 3, 3], [0, 4, 4, 7, 7]], (2, 2))),
     ExCase("a 5x3 RoI -> 2x2: bins share a row", 74,
            _roi_case(1, 1, 8, 8, [[0, 1, 1, 3, 5]], (2, 2))),
     ExCase("a box on the border, partly outside the map", 75,
            _roi_case(1, 2, 6, 6, [[0, 3, 3, 9, 9]], (2, 2))),
     ExCase("spatial_scale 1/4, corners on whole feature pixels", 76,
            _roi_case(1, 1, 8, 8, [[0, 4, 8, 20, 28]], (2, 2), 0.25)),
     ExCase("spatial_scale 1/4, corners at .5 (C rounding: 2.5 -> 3)", 77,
            _roi_case(1, 1, 8, 8, [[0, 2, 6, 18, 26]], (2, 2), 0.25), gradcheck=False)],
    _roi_pool_ref,
    hints=[
        contrast("roi_pool.accumulate", ("x",), lambda r: _roi_cover(r).max() <= 1,
                 lambda r: _roi_cover(r).max() > 1 and r.params["spatial_scale"] == 1.0,
                 Text("right where no pixel lies in two bins, wrong where RoIs overlap or "
                      "bins share a row: one pixel can win several bins, so ACCUMULATE (+=) "
                      "into dx.",
                      "두 구간(bin)에 걸친 픽셀이 없으면 맞고, RoI가 겹치거나 구간이 행을 "
                      "나누어 가지면 틀립니다: 한 픽셀이 여러 구간의 최댓값일 수 있으니 dx에 "
                      "누적(+=)하세요.")),
        contrast("roi_pool.batch_index", ("x",), lambda r: (r.arrays[1][:, 0] == 0).all(),
                 lambda r: (r.arrays[1][:, 0] > 0).any(),
                 Text("right while every box is on image 0: column 0 of each box is its batch "
                      "index; send its gradient to that image.",
                      "모든 박스가 이미지 0에 있을 때만 맞습니다: 박스의 0번째 열은 배치 "
                      "인덱스입니다; 기울기를 그 이미지로 보내세요.")),
        contrast("roi_pool.scale", ("x",), lambda r: r.params["spatial_scale"] == 1.0,
                 lambda r: r.params["spatial_scale"] != 1.0 and not _roi_has_half(r),
                 Text("right at spatial_scale 1 only: boxes are in image pixels; multiply them "
                      "by spatial_scale (1/16 for VGG-16's conv5) to find the feature-map "
                      "pixels.",
                      "spatial_scale이 1일 때만 맞습니다: 박스는 이미지 픽셀 단위입니다; "
                      "spatial_scale(VGG-16 conv5는 1/16)을 곱해야 특징 맵의 픽셀이 됩니다.")),
        contrast("roi_pool.rounding", ("x",), lambda r: not _roi_has_half(r), _roi_has_half,
                 Text("right until a scaled corner lands on .5: RoI pooling rounds halves away "
                      "from zero (C's round: 2.5 -> 3), where np.round and Python's round go "
                      "to the even neighbour (2.5 -> 2).",
                      "스케일한 모서리가 .5에 떨어질 때만 틀립니다: RoI 풀링은 .5를 0에서 먼 "
                      "쪽으로 반올림합니다 (C의 round: 2.5 -> 3). np.round와 파이썬의 round는 "
                      "짝수 쪽으로 갑니다 (2.5 -> 2).")),
    ],
    deck=DECK_000, title_ko="RoI 최대 풀링(RoI max pooling)의 역전파 (Fast R-CNN)",
)



def _triplet_ref(a, p, n, alpha):
    gap = ((a - p) * (a - p)).sum(axis=1) - ((a - n) * (a - n)).sum(axis=1) + alpha
    return gap.relu().mean()


def _triplet_case(batch, d, alpha, easy=()):
    def make(rng):
        a = rng.standard_normal((batch, d))
        p = a + 0.3 * rng.standard_normal((batch, d))
        n = a + 0.3 * rng.standard_normal((batch, d))
        for i in easy:   # a negative far away: loss 0 beyond the margin
            n[i] = a[i] + 3.0 + rng.random(d)
        return [a, p, n], {"alpha": alpha}
    return make


def _triplet_all_hard(run):
    a, p, n = run.arrays
    gap = ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + run.params["alpha"]
    return bool((gap > 0).all())


TRIPLET = Exercise(
    "triplet_loss", "The triplet loss of deck 002: max(||a-p||^2 - ||a-n||^2 + alpha, 0)",
    ["a", "p", "n"], ["a", "p", "n"],
    [ExCase("N=4, D=3, two easy triplets", 80, _triplet_case(4, 3, 1.0, easy=(1, 3))),
     ExCase("N=3, D=5, every triplet hard", 81, _triplet_case(3, 5, 1.0)),
     ExCase("N=1, D=4, a hard triplet", 82, _triplet_case(1, 4, 1.0)),
     ExCase("N=1, D=2, an easy triplet (zero loss, zero gradient)", 83,
            _triplet_case(1, 2, 0.2, easy=(0,)), gradcheck=False),
     ExCase("N=3, D=5, every triplet hard, dout x 3", 81, _triplet_case(3, 5, 1.0),
            gradcheck=False, dout_scale=3.0)],
    _triplet_ref,
    hints=[
        contrast("triplet_loss.easy", ("a", "p", "n"), _triplet_all_hard,
                 lambda r: not _triplet_all_hard(r),
                 Text("right while every triplet is hard, wrong once one is easy: where "
                      "||a-p||^2 - ||a-n||^2 + alpha <= 0 the hinge max(., 0) is flat, so "
                      "that triplet gets no gradient at all.",
                      "모든 삼중쌍(triplet)이 어려울 때는 맞고 쉬운 것이 있으면 틀립니다: "
                      "||a-p||^2 - ||a-n||^2 + alpha <= 0인 곳에서 힌지 max(., 0)는 평평하므로 "
                      "그 삼중쌍에는 기울기가 전혀 없습니다.")),
        relation("triplet_loss.square", ("a", "p", "n"),
                 lambda run, g, w: scaled_by(0.5, g, w),
                 Text("half the gradient: the derivative of ||a - p||^2 is 2 (a - p), not "
                      "(a - p).",
                      "기울기가 절반입니다: ||a - p||^2의 미분은 (a - p)가 아니라 2 (a - p)"
                      "입니다.")),
        relation("triplet_loss.sign", ("p", "n"), lambda run, g, w: scaled_by(-1.0, g, w),
                 Text("the sign is flipped: the loss pulls the positive towards the anchor "
                      "(dp = -2 (a - p) / N for an active triplet) and pushes the negative away "
                      "(dn = +2 (a - n) / N).",
                      "부호가 반대입니다: 손실은 양성(positive)을 앵커 쪽으로 당기고 "
                      "(활성 삼중쌍에서 dp = -2 (a - p) / N), 음성(negative)을 밀어냅니다 "
                      "(dn = +2 (a - n) / N).")),
        relation("triplet_loss.mean", ("a", "p", "n"), _batch_factor,
                 Text("off by the batch size: the loss is the MEAN over the N triplets, so "
                      "each gradient carries 1/N.",
                      "배치 크기만큼 어긋납니다: 손실은 N개 삼중쌍의 평균이므로 각 기울기에 "
                      "1/N이 붙습니다.")),
    ],
    deck=DECK_002, title_ko="deck 002의 삼중쌍 손실(triplet loss): max(||a-p||^2 - ||a-n||^2 + alpha, 0)",
)


def _style_ref(f, a):
    c = f.shape[0]
    m = f.shape[1] * f.shape[2]
    fm = f.reshape(c, m)
    g = fm @ fm.T
    return ((g - a) * (g - a)).sum() / (4.0 * c * c * m * m)


def _style_case(c, h, w):
    def make(rng):
        f = np.abs(rng.standard_normal((c, h, w)))      # post-ReLU features
        s = np.abs(rng.standard_normal((c, 2 * h * w)))
        return [f, s @ s.T / 2.0], {}
    return make


def _style_m(run):
    return run.arrays[0].shape[1] * run.arrays[0].shape[2]


STYLE = Exercise(
    "style_loss", "Gram matrix and the style loss E = 1/(4 N^2 M^2) sum (G - A)^2",
    ["f", "a"], ["f"],
    [ExCase("N=3 filters, 4x4 map (M=16)", 90, _style_case(3, 4, 4)),
     ExCase("N=2 filters, 1x1 map (M=1)", 91, _style_case(2, 1, 1)),
     ExCase("N=4 filters, 2x3 map (M=6)", 92, _style_case(4, 2, 3)),
     ExCase("N=1 filter, 3x3 map (M=9)", 93, _style_case(1, 3, 3), gradcheck=False),
     ExCase("N=1 filter, 1x1 map", 94, _style_case(1, 1, 1), gradcheck=False)],
    _style_ref,
    hints=[
        relation("style_loss.twice", ("f",), lambda run, g, w: scaled_by(0.5, g, w),
                 Text("half the gradient: G = F F^T uses F twice, and both uses send back "
                      "(G - A) F, so dF = (G - A) F / (N^2 M^2), not / (2 N^2 M^2).",
                      "기울기가 절반입니다: G = F F^T는 F를 두 번 쓰고 두 자리 모두 (G - A) F를 "
                      "돌려보내므로 dF = (G - A) F / (N^2 M^2)입니다 (/ (2 N^2 M^2)가 "
                      "아닙니다).")),
        contrast("style_loss.positions", ("f",), lambda r: _style_m(r) == 1,
                 lambda r: _style_m(r) > 1,
                 Text("right on 1x1 maps only: M is the number of positions H * W, and it is "
                      "squared in the normaliser 1/(4 N^2 M^2).",
                      "1x1 맵에서만 맞습니다: M은 위치의 수 H * W이고 정규화 1/(4 N^2 M^2)에서 "
                      "제곱됩니다.")),
        contrast("style_loss.filters", ("f",), lambda r: r.arrays[0].shape[0] == 1,
                 lambda r: r.arrays[0].shape[0] > 1,
                 Text("right with one filter only: N is the number of filters (channels), and "
                      "it is squared in the normaliser 1/(4 N^2 M^2).",
                      "필터가 하나일 때만 맞습니다: N은 필터(채널)의 수이고 정규화 "
                      "1/(4 N^2 M^2)에서 제곱됩니다.")),
    ],
    deck=DECK_000, title_ko="그람 행렬(Gram matrix)과 스타일 손실 E = 1/(4 N^2 M^2) sum (G - A)^2",
)


def _dice_ref(p, g, eps):
    inter = (p * g).sum(axis=(1, 2))
    denom = p.sum(axis=(1, 2)) + g.sum(axis=(1, 2)) + eps
    return (1.0 - (2.0 * inter + eps) / denom).mean()


def _dice_case(n, h, w, empty=()):
    def make(rng):
        p = rng.uniform(0.05, 0.95, (n, h, w))
        g = (rng.random((n, h, w)) < 0.4).astype(np.float64)
        for i in empty:
            g[i] = 0.0
        return [p, g], {"eps": 1.0}
    return make


def _dice_numerator_only(run, got, want):
    g = run.arrays[1]
    background = g == 0
    return (got.shape == want.shape and background.any()
            and np.allclose(got[background], 0.0) and np.abs(want[background]).max() > 1e-9)


DICE = Exercise(
    "dice_loss", "Dice loss (U-Net): 1 - (2 sum p g + 1) / (sum p + sum g + 1), mean over images",
    ["p", "g"], ["p"],
    [ExCase("N=2, 4x4", 100, _dice_case(2, 4, 4)),
     ExCase("N=1, 3x5", 101, _dice_case(1, 3, 5)),
     ExCase("N=3, 2x5, image 2 has no object", 102, _dice_case(3, 2, 5, empty=(2,))),
     ExCase("N=1, 4x4, no object", 103, _dice_case(1, 4, 4, empty=(0,)), gradcheck=False)],
    _dice_ref,
    hints=[
        relation("dice_loss.denominator", ("p",), _dice_numerator_only,
                 Text("zero gradient where the target is 0: the denominator sum p + sum g + 1 "
                      "depends on the prediction too, so every pixel gets the quotient rule's "
                      "second term (2 I + 1) / D^2.",
                      "타깃이 0인 곳의 기울기가 0입니다: 분모 sum p + sum g + 1도 예측에 "
                      "의존하므로, 모든 픽셀이 몫의 미분법의 두 번째 항 (2 I + 1) / D^2을 "
                      "받습니다.")),
        contrast("dice_loss.per_image", ("p",), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for one image but wrong for a batch: the intersection and the "
                      "denominator are summed over each image separately (axis=(1, 2)), and "
                      "the per-image losses are then averaged.",
                      "이미지 하나에서는 맞고 배치에서는 틀립니다: 교집합과 분모는 이미지마다 "
                      "따로 합하고 (axis=(1, 2)), 그 다음 이미지별 손실을 평균합니다.")),
        relation("dice_loss.sign", ("p",), lambda run, g, w: scaled_by(-1.0, g, w),
                 Text("the sign is flipped: you differentiated the Dice coefficient; the loss "
                      "is 1 - Dice, so its gradient is the negative.",
                      "부호가 반대입니다: Dice 계수를 미분했습니다; 손실은 1 - Dice이므로 "
                      "기울기는 그 음수입니다.")),
    ],
    deck=DECK_000, title_ko="Dice 손실(U-Net): 1 - (2 sum p g + 1) / (sum p + sum g + 1), 이미지 평균",
)


def _gan_ref(real, fake, player):
    F = _F()
    if player == "discriminator":
        return (F.binary_cross_entropy_with_logits(real, np.ones(real.shape))
                + F.binary_cross_entropy_with_logits(fake, np.zeros(fake.shape)))
    # the generator's loss does not depend on the real logits: their gradient is zero
    return F.binary_cross_entropy_with_logits(fake, np.ones(fake.shape)) + real.sum() * 0.0


def _gan_case(n, player, fake_low=-2.0, fake_high=2.0):
    def make(rng):
        return [rng.uniform(-2, 2, n), rng.uniform(fake_low, fake_high, n)], {"player": player}
    return make


def _gan_fake_label(ev):
    for run, g in ev.entries:
        if run.params["player"] == "discriminator":
            if ev.right(g["real"]) and g["fake"][0].shape == g["fake"][1].shape \
                    and not ev.right(g["fake"]):
                return True
    return False


def _gan_vanishing(run, got, want):
    return (run.params["player"] == "generator" and got.shape == want.shape
            and np.abs(want).min() > 0 and np.all(np.abs(got) < 0.1 * np.abs(want)))


GAN = Exercise(
    "gan_bce", "GAN losses: binary cross-entropy on logits for the discriminator and the "
               "generator (non-saturating)",
    ["real", "fake"], ["real", "fake"],
    [ExCase("discriminator, N=4", 110, _gan_case(4, "discriminator")),
     ExCase("generator, N=4", 111, _gan_case(4, "generator")),
     ExCase("generator, fakes confidently rejected (logits -6 to -4)", 112,
            _gan_case(3, "generator", -6.0, -4.0)),
     ExCase("discriminator, N=1", 113, _gan_case(1, "discriminator"), gradcheck=False),
     ExCase("generator, N=1", 114, _gan_case(1, "generator"), gradcheck=False)],
    _gan_ref,
    hints=[
        relation("gan_bce.saturating", ("fake",), _gan_vanishing,
                 Text("your generator's gradient vanishes where the discriminator rejects "
                      "the fakes: that is the saturating loss log(1 - D(G(z))). Use the "
                      "non-saturating one, -log D(G(z)): BCE of the fake logits against label "
                      "1, gradient (sigmoid(l) - 1) / N.",
                      "판별자가 가짜를 확실히 거부하는 곳에서 생성자의 기울기가 사라집니다: "
                      "포화되는(saturating) 손실 log(1 - D(G(z)))입니다. 포화되지 않는 "
                      "-log D(G(z))를 쓰세요: 가짜 로짓을 레이블 1로 두는 BCE, 기울기 "
                      "(sigmoid(l) - 1) / N.")),
        Hint("gan_bce.fake_label", ("fake",), _gan_fake_label,
             Text("the discriminator's real logits are right but its fake ones are not: for "
                  "the discriminator the fakes have label 0, gradient sigmoid(l) / N.",
                  "판별자의 진짜 로짓 기울기는 맞지만 가짜 로짓은 틀립니다: 판별자에게 가짜의 "
                  "레이블은 0이고, 기울기는 sigmoid(l) / N 입니다.")),
        contrast("gan_bce.mean", ("real", "fake"), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for N=1 only: each BCE is a MEAN over its N logits, so every "
                      "gradient carries 1/N.",
                      "N=1에서만 맞습니다: 각 BCE는 N개 로짓의 평균이므로 모든 기울기에 1/N이 "
                      "붙습니다.")),
        relation("gan_bce.generator_real", ("real",),
                 lambda run, g, w: run.params["player"] == "generator" and g.shape == w.shape
                 and np.any(g),
                 Text("the generator's loss does not involve the real images: dreal is zero "
                      "when player is 'generator'.",
                      "생성자의 손실에는 진짜 이미지가 들어가지 않습니다: player가 "
                      "'generator'이면 dreal은 0입니다.")),
    ],
    deck=DECK_003,
    title_ko="GAN 손실: 판별자와 생성자의 로짓에 대한 이진 교차 엔트로피 (포화되지 않는 형태)",
)



def _roi_align_ref(x, boxes, output_size, spatial_scale, sampling_ratio, aligned):
    from ..ops.roi import roi_align
    return roi_align(x, boxes, output_size, spatial_scale, sampling_ratio, aligned)


def _align_case(n, c, h, w, boxes, output_size, sampling_ratio=2, aligned=True, scale=1.0):
    def make(rng):
        return [rng.standard_normal((n, c, h, w)), np.array(boxes, dtype=np.float64)], \
            {"output_size": output_size, "spatial_scale": scale,
             "sampling_ratio": sampling_ratio, "aligned": aligned}
    return make


def _align_geometry(run):
    """(samples per bin of each box, every sample position) of a RoI-align run."""
    from .solutions.roi_align import _samples
    counts, positions = [], []
    for box in run.arrays[1]:
        for _, _, count, points in _samples(box, run.params["output_size"],
                                            run.params["spatial_scale"],
                                            run.params["sampling_ratio"], run.params["aligned"]):
            counts.append(count)
            positions += points
    return counts, np.array(positions)


def _align_one_sample(run):
    return all(c == 1 for c in _align_geometry(run)[0])


def _align_on_pixels(run):
    positions = _align_geometry(run)[1]
    return _align_one_sample(run) and bool(np.all(positions == np.round(positions)))


ROI_ALIGN = Exercise(
    "roi_align", "RoI align backward (Mask R-CNN): bilinear sample points",
    ["x", "boxes"], ["x"],
    [ExCase("aligned, 2x2 bins, sampling_ratio 2", 120,
            _align_case(1, 2, 6, 6, [[0, 0.7, 1.2, 4.9, 5.3]], (2, 2))),
     ExCase("legacy aligned=False: a 0.6-pixel box stretched to 1 pixel", 121,
            _align_case(1, 1, 6, 6, [[0, 2.2, 2.1, 2.8, 2.7]], (2, 2), aligned=False)),
     ExCase("overlapping boxes on two images", 122,
            _align_case(2, 2, 6, 7, [[1, 0.5, 0.5, 4.5, 3.5], [0, 1.3, 0.2, 5.1, 4.4],
                                     [1, 2.0, 1.0, 5.5, 5.0]], (2, 3))),
     ExCase("a box over the border (samples in [-1, 0] read pixel 0)", 123,
            _align_case(1, 1, 5, 5, [[0, -1.4, -0.8, 3.0, 2.5]], (2, 2), aligned=False)),
     ExCase("adaptive sampling (sampling_ratio -1: ceil(roi / PH) samples)", 124,
            _align_case(1, 1, 8, 8, [[0, 0.3, 0.6, 6.9, 5.2]], (2, 2), -1)),
     ExCase("samples on whole pixels (aligned=False, sampling_ratio 1)", 125,
            _align_case(1, 2, 6, 6, [[0, 0, 0, 4, 4]], (2, 2), 1, aligned=False),
            gradcheck=False),
     ExCase("sampling_ratio 1, samples between pixels", 126,
            _align_case(1, 1, 6, 6, [[0, 0.4, 0.9, 5.1, 4.6]], (2, 2), 1), gradcheck=False)],
    _roi_align_ref,
    hints=[
        contrast("roi_align.weights", ("x",), _align_on_pixels,
                 lambda r: _align_one_sample(r) and not _align_on_pixels(r),
                 Text("right only when every sample lands on a pixel: a sample between pixels "
                      "splits its gradient among the four around it with the bilinear weights "
                      "(1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly lx.",
                      "표본점이 모두 픽셀 위에 있을 때만 맞습니다: 픽셀 사이의 표본점은 기울기를 "
                      "주변 네 픽셀에 이중 선형 가중치 (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly lx로 "
                      "나눠 줍니다.")),
        contrast("roi_align.count", ("x",), _align_one_sample,
                 lambda r: not _align_one_sample(r) and (r.arrays[1][:, 0] == 0).all(),
                 Text("right with one sample per bin, wrong with more: each bin is the MEAN of "
                      "its gh x gw samples, so every sample gets dout / (gh * gw).",
                      "구간마다 표본점이 하나일 때만 맞습니다: 구간은 gh x gw개 표본점의 평균"
                      "이므로 표본점마다 dout / (gh * gw)를 받습니다.")),
        contrast("roi_align.aligned", ("x",), lambda r: r.params["aligned"],
                 lambda r: not r.params["aligned"],
                 Text("right with aligned=True only: the legacy aligned=False does not shift "
                      "the box by half a pixel, and it stretches a box shorter than one pixel "
                      "to one pixel.",
                      "aligned=True에서만 맞습니다: 예전 방식 aligned=False는 박스를 반 픽셀 "
                      "옮기지 않고, 한 픽셀보다 짧은 박스를 한 픽셀로 늘립니다.")),
        contrast("roi_align.batch_index", ("x",), lambda r: (r.arrays[1][:, 0] == 0).all(),
                 lambda r: (r.arrays[1][:, 0] > 0).any(),
                 Text("right while every box is on image 0: column 0 of each box is its batch "
                      "index; send its gradient to that image.",
                      "모든 박스가 이미지 0에 있을 때만 맞습니다: 박스의 0번째 열은 배치 "
                      "인덱스입니다; 기울기를 그 이미지로 보내세요.")),
    ],
    deck=DECK_000, title_ko="RoI align의 역전파 (Mask R-CNN): 이중 선형 표본점",
)


def _yolo_mask(obj, resp, b):
    return obj[..., None] * (np.arange(b) == resp[..., None])


def _yolo_ref(pred, target, obj, resp, lambda_coord):
    b = pred.shape[3]
    mask = Tensor(_yolo_mask(obj.data, resp.data, b))
    xy = pred[..., :2] - target[..., None, :2]
    wh = pred[..., 2:].sqrt() - target[..., None, 2:].sqrt()
    per_box = (xy * xy).sum(axis=-1) + (wh * wh).sum(axis=-1)
    return (per_box * mask).sum() * lambda_coord / pred.shape[0]


def _iou(a, b):
    """IoU of [x, y, w, h] boxes (centres), broadcasting over the leading axes."""
    lo = np.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
    hi = np.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    return inter / (np.prod(a[..., 2:], axis=-1) + np.prod(b[..., 2:], axis=-1) - inter)


def _yolo_case(n, s, b, p_obj, lambda_coord=5.0, obj_cells=None):
    def make(rng):
        pred = np.concatenate([rng.random((n, s, s, b, 2)),
                               rng.uniform(0.05, 0.9, (n, s, s, b, 2))], axis=-1)
        target = np.concatenate([rng.random((n, s, s, 2)),
                                 rng.uniform(0.05, 0.9, (n, s, s, 2))], axis=-1)
        obj = (rng.random((n, s, s)) < p_obj).astype(np.float64)
        if obj_cells is not None:
            obj = np.broadcast_to(np.asarray(obj_cells, dtype=np.float64), (n, s, s)).copy()
        # the responsible predictor: the one whose box overlaps the target most
        resp = _iou(pred, target[..., None, :]).argmax(axis=-1).astype(np.int64)
        return [pred, target, obj, resp], {"lambda_coord": lambda_coord}
    return make


def _yolo_parts(run):
    pred, target, obj, resp = run.arrays
    mask = np.broadcast_to(_yolo_mask(obj, resp, pred.shape[3])[..., None], pred.shape)
    in_object_cell = np.broadcast_to(obj[..., None, None] > 0, pred.shape)
    return mask > 0, in_object_cell


def _yolo_wrong_on_wh_only(run, got, want):
    if got.shape != want.shape:
        return False
    xy = np.zeros(got.shape, dtype=bool)
    xy[..., :2] = True
    return right_where(xy, got, want)


def _yolo_other_predictors(run, got, want):
    mask, in_object_cell = _yolo_parts(run)
    others = in_object_cell & ~mask
    return (got.shape == want.shape and others.any() and np.any(got[others])
            and right_where(mask | ~in_object_cell, got, want))


def _yolo_empty_cells(run, got, want):
    mask, in_object_cell = _yolo_parts(run)
    return (got.shape == want.shape and (~in_object_cell).any()
            and np.any(got[~in_object_cell]) and right_where(in_object_cell, got, want))


YOLO = Exercise(
    "yolo_coord", "YOLO v1's coordinate loss: square roots of w and h, lambda_coord, "
                  "the responsible predictor only",
    ["pred", "target", "obj", "resp"], ["pred"],
    [ExCase("N=2, S=3, B=2, some cells with an object", 130, _yolo_case(2, 3, 2, 0.5)),
     ExCase("N=1, S=2, B=2, one cell with no object", 131,
            _yolo_case(1, 2, 2, 0.75, obj_cells=[[1, 1], [0, 1]])),
     ExCase("N=1, S=7, B=2 (YOLO v1's grid), a few objects", 132, _yolo_case(1, 7, 2, 0.15)),
     ExCase("N=2, S=2, B=1, an object in every cell", 133, _yolo_case(2, 2, 1, 1.1),
            gradcheck=False),
     ExCase("N=1, S=3, B=3, lambda_coord 1", 134, _yolo_case(1, 3, 3, 0.6, 1.0),
            gradcheck=False)],
    _yolo_ref,
    hints=[
        relation("yolo_coord.sqrt", ("pred",), _yolo_wrong_on_wh_only,
                 Text("x and y are right but w and h are not: the loss compares square roots, "
                      "(sqrt(w) - sqrt(w_t))^2, whose derivative is (sqrt(w) - sqrt(w_t)) / "
                      "sqrt(w) (so an error on a small box costs more than on a big one).",
                      "x, y는 맞고 w, h가 틀립니다: 손실은 제곱근을 비교합니다, "
                      "(sqrt(w) - sqrt(w_t))^2. 그 미분은 (sqrt(w) - sqrt(w_t)) / sqrt(w) "
                      "입니다 (작은 박스의 오차가 큰 박스보다 더 큰 비용).")),
        relation("yolo_coord.responsible", ("pred",), _yolo_other_predictors,
                 Text("every predictor of a cell got a gradient: only the responsible one "
                      "(resp, the highest IoU with the target) is in the coordinate loss.",
                      "한 칸의 모든 예측기가 기울기를 받았습니다: 좌표 손실에는 책임 예측기"
                      "(resp, 타깃과 IoU가 가장 큰 것)만 들어갑니다.")),
        relation("yolo_coord.no_object", ("pred",), _yolo_empty_cells,
                 Text("cells without an object got a gradient: the coordinate loss counts only "
                      "cells where obj is 1 (a cell with no object has no box to regress).",
                      "물체가 없는 칸이 기울기를 받았습니다: 좌표 손실은 obj가 1인 칸만 셉니다 "
                      "(물체가 없는 칸에는 맞출 박스가 없습니다).")),
        contrast("yolo_coord.lambda", ("pred",), lambda r: r.params["lambda_coord"] == 1.0,
                 lambda r: r.params["lambda_coord"] != 1.0,
                 Text("right only when lambda_coord is 1: multiply the coordinate gradient by "
                      "lambda_coord (5 in YOLO v1).",
                      "lambda_coord가 1일 때만 맞습니다: 좌표 기울기에 lambda_coord(YOLO v1은 "
                      "5)를 곱하세요.")),
    ],
    deck=DECK_001,
    title_ko="YOLO v1 좌표 손실: w, h의 제곱근, lambda_coord, 책임 예측기만",
)


APPLICATION_EXERCISES = [SMOOTH_L1, PIXEL_CE, BILINEAR, ROI_POOL, ROI_ALIGN, TRIPLET, STYLE, DICE,
                         GAN, YOLO]
