"""YOLO v1 (Redmon, Divvala, Girshick and Farhadi, "You Only Look Once: Unified, Real-Time
Object Detection", CVPR 2016): detection as one regression, one network, one pass.

The image is cut into an S x S grid. The cell that holds an object's centre is responsible
for it. Each cell predicts B boxes, each box five numbers (x, y, w, h, confidence), and one
set of C class probabilities Pr(class | object) shared by its boxes, so the network's output
is an S x S x (B * 5 + C) tensor: 7 x 7 x 30 for PASCAL VOC (S = 7, B = 2, C = 20).

    images (N, 3, 448, 448)
      -> 24 convolutions (leaky ReLU 0.1), 4 max pools     (N, 1024, 7, 7)
      -> Linear(7*7*1024, 4096), leaky ReLU, dropout 0.5   (N, 4096)
      -> Linear(4096, S*S*(B*5+C)), linear output          (N, S*S*(B*5+C))
      -> reshape                                            (N, S, S, B*5+C)

One cell's vector, in the order used here: for each box b = 0..B-1 the five numbers
[x, y, sqrt(w), sqrt(h), confidence] at positions 5b .. 5b+4, then the C class
probabilities. x and y are the box centre's offset inside its cell (0..1, in cell units);
w and h are relative to the whole image. The paper predicts the square roots of width and
height ("we predict the square root of the bounding box width and height instead of the
width and height directly"), so slots 2 and 3 hold sqrt(w) and sqrt(h), and the decoded box
has w = slot2 ** 2. Confidence is trained towards Pr(object) x IoU(pred, truth).

Grid index: `out[n, i, j]` is the cell of row i (y) and column j (x).

Labels follow torchvision: `num_classes` counts the background, labels are 1..num_classes-1,
and the grid has C = num_classes - 1 class slots (slot c is label c + 1).

`yolo_v1()` is the paper's network (Figure 3: 24 convolutions + 2 fully connected layers,
271,703,550 parameters for VOC, counted layer by layer in the test). `yolo_v1_small()` is the
same recipe shrunk for 64x64 grey DigitScenes, like the paper's Fast YOLO (fewer layers and
filters): 8 convolutions (3x3 and 1x1 alternating, the first with stride 2, as in the paper),
2 max pools to an 8x8 map of 128 channels, then the two fully connected layers.
Two changes for training from scratch in minutes (the paper pretrained its first 20 layers on
ImageNet for a week) are options:

- batch_norm: batch normalisation after each convolution (YOLO v2's change);
- head="conv": the two fully connected layers applied to each cell's feature vector alone
  (1x1 convolutions, the same weights in every cell; needs S = the map's size) instead of
  to the whole flattened map (head="fc", the paper). On DigitScenes, with an earlier
  128-channel version of the small network, the "fc" head had a held-out mAP@0.5 of 0.001
  after one epoch of 4,000 scenes (and on its own training scenes too), the "conv" head 0.027
  after one epoch of 2,000 and 0.09 after two: a fully connected layer must learn every
  cell's mapping separately, from 1/S^2 of the examples.
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, is_grad_enabled, nn, no_grad
from ...nn import functional as F
from ...ops.boxes import batched_nms

# (kernel, out_channels, stride) per convolution, "M" for a 2x2 max pool, stride 2 (Figure 3)
PAPER_CONFIG = (
    [(7, 64, 2), "M", (3, 192, 1), "M",
     (1, 128, 1), (3, 256, 1), (1, 256, 1), (3, 512, 1), "M"]
    + [(1, 256, 1), (3, 512, 1)] * 4 + [(1, 512, 1), (3, 1024, 1), "M"]
    + [(1, 512, 1), (3, 1024, 1)] * 2 + [(3, 1024, 1), (3, 1024, 2)]
    + [(3, 1024, 1), (3, 1024, 1)]
)
# 64 -> 32 (a stride-2 first layer, as the paper's 7x7/2) -> 16 -> 8: an 8x8 map of 128
# channels before the fully connected layers, 16.5 M multiply-adds with the head (sized so that YOLO
# runs at least 3x as fast as the Faster R-CNN of scratchnet.detection)
SMALL_CONFIG = [(3, 16, 2), "M", (3, 32, 1), (1, 16, 1), (3, 64, 1), "M",
                (1, 64, 1), (3, 128, 1), (1, 64, 1), (3, 128, 1)]
LAMBDA_COORD, LAMBDA_NOOBJ = 5.0, 0.5


def darknet_features(config, in_channels=3, width=1.0, batch_norm=False):
    """The convolutional part from a config list: each (k, c, s) is Conv2d(k x k, stride s,
    padding k // 2) then leaky ReLU 0.1; "M" is MaxPool2d(2, 2). (N, in, H, W) -> (N, c, H', W')."""
    layers, c_in = [], in_channels
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        k, c, s = v
        c_out = max(1, int(round(c * width)))
        layers.append(nn.Conv2d(c_in, c_out, k, stride=s, padding=k // 2, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.1))
        c_in = c_out
    return nn.Sequential(*layers)


def fold_batch_norm(conv, bn):
    """The weights of Conv2d followed by BatchNorm2d in evaluation as one convolution:
    with k = gamma / sqrt(running_var + eps) per output channel,
        bn(conv(x)) = k * (W * x + b - running_mean) + beta
                    = (k W) * x + k (b - running_mean) + beta.
    Returns (weight, bias) ndarrays for conv's F.conv2d (a bias-free conv has b = 0)."""
    k = bn.weight.data / np.sqrt(bn.running_var.data + bn.eps)
    b = conv.bias.data if conv.bias is not None else np.zeros_like(k)
    weight = conv.weight.data * k.reshape(-1, 1, 1, 1)
    bias = k * (b - bn.running_mean.data) + bn.bias.data
    return weight.astype(conv.weight.dtype), bias.astype(conv.weight.dtype)


def _folded_forward(features, x):
    """features(x) at test time, each BatchNorm2d folded into the Conv2d before it
    (`fold_batch_norm`): the same numbers, one pass over the data fewer per layer. Used only
    without gradients, when the folded weights need no backward."""
    layers = list(features)
    i = 0
    while i < len(layers):
        layer = layers[i]
        if (isinstance(layer, nn.Conv2d) and i + 1 < len(layers)
                and isinstance(layers[i + 1], nn.BatchNorm2d)):
            weight, bias = fold_batch_norm(layer, layers[i + 1])
            x = layer._conv_forward(x, Tensor(weight), Tensor(bias))
            i += 2
        else:
            x = layer(x)
            i += 1
    return x


class GridReshape(nn.Module):
    """(N, S*S*(B*5+C)) -> (N, S, S, B*5+C): the flat output of the last fully connected
    layer read as one vector per grid cell."""

    def __init__(self, S, depth):
        super().__init__()
        self.S, self.depth = S, depth

    def forward(self, input):
        if input.ndim != 2 or input.shape[1] != self.S * self.S * self.depth:
            raise ValueError(f"GridReshape(S={self.S}, depth={self.depth}): expected "
                             f"(N, {self.S}*{self.S}*{self.depth} = "
                             f"{self.S * self.S * self.depth}), got {tuple(input.shape)}")
        return input.reshape(input.shape[0], self.S, self.S, self.depth)

    def extra_repr(self):
        return f"S={self.S}, depth={self.depth}"


class ChannelsLast(nn.Module):
    """(N, D, S, S) -> (N, S, S, D): a map of cell vectors read as the grid."""

    def forward(self, input):
        return input.permute(0, 2, 3, 1)


class YOLOv1(nn.Module):
    """YOLO v1 detector following the detection contract.

    model.train(); model(images, targets) -> {"loss_coord", "loss_obj", "loss_noobj",
    "loss_class"} (scalars, each summed over cells and averaged over the N images)
    model.eval(); model(images) -> [{"boxes" (K, 4) float32 xyxy pixels, "scores" (K,)
    float32, "labels" (K,) int64}] per image
    model.grid(images) -> (N, S, S, B*5+C) Tensor, the raw prediction

    images: (N, in_channels, H, W) float32, resized (bilinear) to image_size x image_size
    first when they are another size, as the paper resizes its input to 448 x 448; boxes
    (targets and detections) are in the given images' pixels. In evaluation without
    gradients (detection) each BatchNorm2d is folded into the convolution before it
    (`fold_batch_norm`), the usual test-time shortcut: the same grid, one layer fewer each.
    """

    def __init__(self, features, feature_channels, feature_size, num_classes=21, S=7, B=2,
                 hidden=4096, dropout=0.5, image_size=448, score_thresh=0.005,
                 nms_thresh=0.5, detections_per_img=100, head="fc"):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"YOLOv1: num_classes counts the background and must be >= 2, "
                             f"got {num_classes}")
        self.S, self.B, self.C = int(S), int(B), int(num_classes) - 1
        self.num_classes, self.image_size = int(num_classes), int(image_size)
        self.score_thresh, self.nms_thresh = float(score_thresh), float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        self.feature_shape = (feature_channels, feature_size, feature_size)
        depth = self.B * 5 + self.C
        self.features = features
        if head == "fc":
            self.head = nn.Sequential(
                nn.Flatten(),
                nn.Linear(feature_channels * feature_size * feature_size, hidden),
                nn.LeakyReLU(0.1),
                nn.Dropout(dropout),
                nn.Linear(hidden, self.S * self.S * depth),   # linear activation (the paper)
                GridReshape(self.S, depth),
            )
        elif head == "conv":
            if feature_size != self.S:
                raise ValueError(f"YOLOv1(head='conv'): the feature map ({feature_size}x"
                                 f"{feature_size}) must be the grid (S = {self.S})")
            # the two fully connected layers applied to every cell's feature vector alone
            # (1x1 convolutions): the same weights for all cells
            self.head = nn.Sequential(
                nn.Conv2d(feature_channels, hidden, 1),
                nn.LeakyReLU(0.1),
                nn.Dropout(dropout),
                nn.Conv2d(hidden, depth, 1),
                ChannelsLast(),
            )
        else:
            raise ValueError(f"YOLOv1: head must be 'fc' (the paper) or 'conv', got {head!r}")

    def grid(self, images):
        """(N, C_in, H, W) -> (N, S, S, B*5+C)."""
        if self.training or is_grad_enabled():
            x = self.features(images)
        else:
            x = _folded_forward(self.features, images)
        if tuple(x.shape[1:]) != self.feature_shape:
            raise ValueError(
                f"YOLOv1: the convolutions turned a {tuple(images.shape[1:])} input into "
                f"{tuple(x.shape[1:])} features, but the first fully connected layer expects "
                f"{self.feature_shape}; give images of {self.image_size}x{self.image_size}")
        return self.head(x)

    def forward(self, images, targets=None):
        if not isinstance(images, Tensor):
            images = Tensor(np.asarray(images, dtype=np.float32))
        if images.ndim != 4:
            raise ValueError(f"YOLOv1: images must be (N, C, H, W), got {tuple(images.shape)}")
        size = tuple(images.shape[2:])
        if size != (self.image_size, self.image_size):
            # the paper resizes every image to 448 x 448; boxes stay in fractions of the
            # image, so targets and detections are in the caller's pixels either way
            images = F.interpolate(images, size=(self.image_size, self.image_size),
                                   mode="bilinear", align_corners=False)
        out = self.grid(images)
        if self.training:
            if targets is None:
                raise ValueError("YOLOv1: in training mode give targets (a list of dicts with "
                                 "'boxes' and 'labels'), or call model.eval() to detect")
            return yolo_v1_loss(out, targets, self.B, self.C, size)
        with no_grad():
            return postprocess(out.data, self.B, self.C, size, self.score_thresh,
                               self.nms_thresh, self.detections_per_img)


def yolo_v1(num_classes=21, S=7, B=2, width=1.0, in_channels=3, **kwargs):
    """The paper's network for 448x448 images (VOC: num_classes=21, so C = 20 and the grid is
    7 x 7 x 30). `width` scales the channel counts of the convolutions (1.0 is the paper)."""
    features = darknet_features(PAPER_CONFIG, in_channels, width)
    c = max(1, int(round(1024 * width)))
    return YOLOv1(features, c, 7, num_classes, S, B, image_size=448, **kwargs)


def yolo_v1_small(num_classes=11, S=7, B=2, in_channels=1, width=1.0, hidden=512,
                  batch_norm=True, dropout=0.5, head="fc", config=None, **kwargs):
    """The small version for 64x64 DigitScenes: 8 convolutions (3x3 and 1x1 alternating as
    in the paper), a stride-2 first layer and 2 max pools to an 8x8 map, then the same two
    fully connected layers
    (hidden units `hidden`) and an S x S x (B*5 + C) output. `config` replaces the layer
    list (SMALL_CONFIG's format; it must leave an 8x8 map)."""
    config = SMALL_CONFIG if config is None else config
    features = darknet_features(config, in_channels, width, batch_norm)
    c = max(1, int(round([v for v in config if v != "M"][-1][1] * width)))
    return YOLOv1(features, c, 8, num_classes, S, B, hidden=hidden, dropout=dropout,
                  image_size=64, head=head, **kwargs)


def _iou_xyxy(a, b):
    """IoU of boxes broadcast against each other: (..., 4), (..., 4) xyxy -> (...)."""
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
             + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)
    return inter / np.where(union > 0, union, 1)


def decode_boxes(out, B):
    """Raw grid (N, S, S, B*5+C) ndarray -> the B predicted boxes of every cell as
    (N, S, S, B, 4) xyxy in image fractions (0..1): centre ((j + x) / S, (i + y) / S),
    width slot2 ** 2, height slot3 ** 2."""
    S = out.shape[1]
    p = out[..., :B * 5].reshape(out.shape[:3] + (B, 5))
    cols = np.arange(S, dtype=out.dtype)[None, None, :, None]
    rows = np.arange(S, dtype=out.dtype)[None, :, None, None]
    cx, cy = (cols + p[..., 0]) / S, (rows + p[..., 1]) / S
    w, h = p[..., 2] ** 2, p[..., 3] ** 2
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def _check_targets(targets, N, fn):
    if not isinstance(targets, (list, tuple)) or len(targets) != N:
        raise ValueError(f"{fn}: targets must be a list of {N} dicts (one per image) with "
                         f"'boxes' (K, 4) xyxy and 'labels' (K,), got "
                         f"{type(targets).__name__} of length {len(targets) if hasattr(targets, '__len__') else '?'}")


def _labels_boxes(t, C, fn):
    boxes = np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(t["labels"]).reshape(-1).astype(np.int64)
    if len(boxes) != len(labels):
        raise ValueError(f"{fn}: {len(boxes)} boxes but {len(labels)} labels in one target")
    if len(labels) and (labels.min() < 1 or labels.max() > C):
        raise ValueError(f"{fn}: labels must be in 1..{C} (0 is the background), got "
                         f"{labels.min()}..{labels.max()}")
    return boxes, labels


def assign_cells(targets, S, C, size, fn="yolo_v1_loss"):
    """Which object each cell is responsible for: the one whose box centre lies in it.

    targets: list of N dicts, "boxes" (K, 4) xyxy pixels, "labels" (K,) in 1..C;
    size: (H, W) of the images. A cell can hold one object only (the paper's limit: "each
    grid cell only predicts two boxes and can only have one class"); when two centres fall
    in one cell the larger box keeps it and the other is not learned (`dropped` counts them).

    Returns obj (N, S, S) bool, gt (N, S, S, 4) xyxy in image fractions, label (N, S, S)
    int64 (0 where empty), dropped (int).
    """
    N = len(targets)
    H, W = size
    obj = np.zeros((N, S, S), bool)
    gt = np.zeros((N, S, S, 4))
    label = np.zeros((N, S, S), np.int64)
    area = np.full((N, S, S), -1.0)
    dropped = 0
    for n, t in enumerate(targets):
        boxes, labels = _labels_boxes(t, C, fn)
        frac = boxes / np.array([W, H, W, H], dtype=np.float64)
        cx, cy = (frac[:, 0] + frac[:, 2]) / 2, (frac[:, 1] + frac[:, 3]) / 2
        cols = np.clip(np.floor(cx * S), 0, S - 1).astype(np.int64)
        rows = np.clip(np.floor(cy * S), 0, S - 1).astype(np.int64)
        for k in range(len(labels)):
            i, j = rows[k], cols[k]
            a = (frac[k, 2] - frac[k, 0]) * (frac[k, 3] - frac[k, 1])
            if obj[n, i, j]:
                dropped += 1
                if a <= area[n, i, j]:
                    continue
            obj[n, i, j], gt[n, i, j], label[n, i, j], area[n, i, j] = True, frac[k], \
                labels[k], a
    return obj, gt, label, dropped


def yolo_v1_loss_reference(out, targets, B, C, size,
                           lambda_coord=LAMBDA_COORD, lambda_noobj=LAMBDA_NOOBJ):
    """The paper's loss (its equation 3) written out cell by cell, predictor by predictor, in
    plain Python floats, for reading and for checking `yolo_v1_loss`. out: (N, S, S, B*5+C)
    ndarray. Returns the four terms as floats, each summed over cells and divided by N.

    For each cell i that holds an object (centre (x, y) in cell units, size (w, h) in image
    fractions, class c) the responsible predictor j is the one of its B boxes with the highest
    IoU with the object (the first on a tie):
        coord += lambda_coord [(x - x_j)^2 + (y - y_j)^2
                               + (sqrt(w) - sqrt(w_j))^2 + (sqrt(h) - sqrt(h_j))^2]
        obj   += (IoU_j - C_j)^2          the target IoU is a constant (no gradient)
        class += sum over classes (p(c') - p_j(c'))^2, p one-hot
    Every other predictor (all B of an empty cell, the other B - 1 of an object's cell):
        noobj += lambda_noobj * C_j^2
    """
    N, S = out.shape[0], out.shape[1]
    obj, gt, label, _ = assign_cells(targets, S, C, size, "yolo_v1_loss_reference")
    boxes = decode_boxes(np.asarray(out, np.float64), B)
    out = np.asarray(out, np.float64)
    coord = conf_obj = conf_noobj = cls = 0.0
    for n in range(N):
        for i in range(S):
            for j in range(S):
                v = out[n, i, j]
                responsible = -1
                if obj[n, i, j]:
                    ious = [float(_iou_xyxy(boxes[n, i, j, b], gt[n, i, j])) for b in range(B)]
                    responsible = int(np.argmax(ious))
                    x1, y1, x2, y2 = gt[n, i, j]
                    x, y = (x1 + x2) / 2 * S - j, (y1 + y2) / 2 * S - i
                    w, h = x2 - x1, y2 - y1
                    r = 5 * responsible
                    coord += lambda_coord * ((x - v[r]) ** 2 + (y - v[r + 1]) ** 2
                                             + (w ** 0.5 - v[r + 2]) ** 2
                                             + (h ** 0.5 - v[r + 3]) ** 2)
                    conf_obj += (ious[responsible] - v[r + 4]) ** 2
                    for c in range(C):
                        p = 1.0 if label[n, i, j] == c + 1 else 0.0
                        cls += (p - v[5 * B + c]) ** 2
                for b in range(B):
                    if b != responsible:
                        conf_noobj += lambda_noobj * v[5 * b + 4] ** 2
    return {"loss_coord": coord / N, "loss_obj": conf_obj / N,
            "loss_noobj": conf_noobj / N, "loss_class": cls / N}


def match(out, targets, B, C, size):
    """The targets of the loss for one prediction, computed outside the graph.

    out: (N, S, S, B*5+C) ndarray (the prediction's values). Returns a dict:
    "obj" (N, S, S) bool, "gt" (N, S, S, 4) xyxy image fractions, "label" (N, S, S) int64 (see
    `assign_cells`); "iou" (N, S, S, B) IoU of each predicted box with its cell's object;
    "resp" (N, S, S, B) bool, the responsible predictor (highest IoU, the first on a tie) of
    each object cell; "dropped", objects that lost their cell to a larger one."""
    S = out.shape[1]
    obj, gt, label, dropped = assign_cells(targets, S, C, size)
    boxes = decode_boxes(np.asarray(out, np.float64), B)               # (N, S, S, B, 4)
    iou = _iou_xyxy(boxes, gt[:, :, :, None, :]) * obj[..., None]      # (N, S, S, B)
    best = np.argmax(iou, axis=-1)
    resp = (np.arange(B) == best[..., None]) & obj[..., None]
    return {"obj": obj, "gt": gt, "label": label, "iou": iou, "resp": resp, "dropped": dropped}


def yolo_v1_loss(out, targets, B, C, size, lambda_coord=LAMBDA_COORD,
                 lambda_noobj=LAMBDA_NOOBJ, matched=None):
    """The paper's loss, vectorised over images, cells and predictors (same terms as
    `yolo_v1_loss_reference`, whose docstring gives the formula).

    out: (N, S, S, B*5+C) Tensor; targets: list of N dicts ("boxes" xyxy pixels, "labels"
    1..C); size: (H, W) of the images. Returns {"loss_coord", "loss_obj", "loss_noobj",
    "loss_class"}, scalar Tensors differentiable with respect to `out`.

    The responsible predictor and the confidence target IoU come from `match` on the
    prediction's values, outside the graph: the target carries no gradient, as in the paper,
    where it is a label. `matched` passes a precomputed `match` (a gradient check holds it
    fixed while it perturbs `out`).
    """
    if out.ndim != 4 or out.shape[1] != out.shape[2] or out.shape[3] != B * 5 + C:
        raise ValueError(f"yolo_v1_loss: out must be (N, S, S, B*5+C) = (N, S, S, {B}*5+{C} = "
                         f"{B * 5 + C}), got {tuple(out.shape)}")
    N, S = out.shape[0], out.shape[1]
    _check_targets(targets, N, "yolo_v1_loss")
    m = match(out.data, targets, B, C, size) if matched is None else matched
    dtype = out.dtype
    gt = m["gt"]
    cols = np.arange(S)[None, None, :]
    rows = np.arange(S)[None, :, None]
    target = np.stack([(gt[..., 0] + gt[..., 2]) / 2 * S - cols,
                       (gt[..., 1] + gt[..., 3]) / 2 * S - rows,
                       np.sqrt(np.clip(gt[..., 2] - gt[..., 0], 0, None)),
                       np.sqrt(np.clip(gt[..., 3] - gt[..., 1], 0, None))], axis=-1)
    p = out[..., :B * 5].reshape(N, S, S, B, 5)
    r = m["resp"].astype(dtype)
    coord_err = ((p[..., 0:4] - target[:, :, :, None, :].astype(dtype)) ** 2).sum(axis=-1)
    loss_coord = (coord_err * r).sum() * (lambda_coord / N)
    conf = p[..., 4]
    loss_obj = (((conf - m["iou"].astype(dtype)) ** 2) * r).sum() * (1.0 / N)
    loss_noobj = ((conf ** 2) * (1 - r)).sum() * (lambda_noobj / N)
    onehot = (m["label"][..., None] == np.arange(1, C + 1)).astype(dtype)  # (N, S, S, C)
    cls_err = ((out[..., B * 5:] - onehot) ** 2).sum(axis=-1)
    loss_class = (cls_err * m["obj"].astype(dtype)).sum() * (1.0 / N)
    return {"loss_coord": loss_coord, "loss_obj": loss_obj, "loss_noobj": loss_noobj,
            "loss_class": loss_class}


def class_scores(out, B):
    """The paper's test-time score of every box and class: Pr(class_i | object) x
    Pr(object) x IoU = class probability x box confidence. (N, S, S, B*5+C) -> (N, S, S, B, C)."""
    conf = out[..., 4:B * 5:5]                                         # (N, S, S, B)
    return out[..., None, B * 5:] * conf[..., None]


def postprocess(out, B, C, size, score_thresh=0.005, nms_thresh=0.5, detections_per_img=100):
    """Raw grid (N, S, S, B*5+C) ndarray -> per image {"boxes", "scores", "labels"}.

    Every (box, class) pair whose class-specific confidence exceeds score_thresh is a
    candidate; boxes are clipped to the image and those under one pixel wide or high are
    dropped; NMS within each class (IoU > nms_thresh suppresses); the best
    detections_per_img are kept, best first."""
    H, W = size
    N = out.shape[0]
    boxes = decode_boxes(out, B) * np.array([W, H, W, H], dtype=out.dtype)
    scores = class_scores(out, B)
    results = []
    for n in range(N):
        b = np.broadcast_to(boxes[n].reshape(-1, 1, 4), (boxes[n].reshape(-1, 4).shape[0], C, 4))
        s = scores[n].reshape(-1, C)
        keep = np.nonzero(s > score_thresh)
        cand = b[keep].copy()
        cand[:, 0::2] = np.clip(cand[:, 0::2], 0, W)
        cand[:, 1::2] = np.clip(cand[:, 1::2], 0, H)
        sc, lab = s[keep], keep[1].astype(np.int64) + 1
        big = ((cand[:, 2] - cand[:, 0]) >= 1) & ((cand[:, 3] - cand[:, 1]) >= 1)
        cand, sc, lab = cand[big], sc[big], lab[big]
        k = batched_nms(cand, sc, lab, nms_thresh)[:detections_per_img]
        results.append({"boxes": cand[k].astype(np.float32), "scores": sc[k].astype(np.float32),
                        "labels": lab[k]})
    return results
