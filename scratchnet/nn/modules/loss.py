"""Loss modules: the functional losses with their options fixed at construction, as in
PyTorch (`criterion = nn.CrossEntropyLoss(); loss = criterion(logits, labels)`).

Class weights and pos_weight are registered as buffers (so they follow `double()` and appear
in the state dict, as in PyTorch). Shapes are those of the functional forms in
scratchnet.nn.functional; reduction is 'mean' (default), 'sum' or 'none'.
"""
from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops.methods import as_tensor
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            size_average = True if size_average is None else size_average
            reduce = True if reduce is None else reduce
            reduction = "none" if not reduce else ("mean" if size_average else "sum")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(weight))


def _as_buffer(value):
    if value is None or isinstance(value, Tensor):
        return value
    return as_tensor(value)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax + negative log-likelihood on raw scores. input (N, C) or (N, C, H, W) logits,
    target (N,) or (N, H, W) class indices (or probabilities of the input's shape)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (after LogSoftmax): input (N, C, *),
    target (N, *) class indices."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]; input and target of the same shape."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy on raw scores (numerically safe); pos_weight (C,)
    weighs the positive examples of each class."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MSELoss(_Loss):
    """Mean squared error (SRCNN); input and target of the same shape."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; input and target of the same shape."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Fast R-CNN's box-regression loss: quadratic below beta, linear above."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic below delta, linear (slope delta) above."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class TripletMarginLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0) on (N, D) embeddings (face verification, FaceNet)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class SVM hinge on (N, C) scores with (N,) class targets; p = 1 or 2."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                 reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class DiceLoss(Module):
    """1 - mean over classes of the soft Dice score of softmax(input) against one-hot targets
    (see F.dice_loss for the formula; not in PyTorch). input (N, C, H, W) logits, target
    (N, H, W) class indices; entries equal to ignore_index are left out."""

    def __init__(self, smooth: float = 1.0, ignore_index: int = -100):
        super().__init__()
        self.smooth = smooth
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.dice_loss(input, target, smooth=self.smooth, ignore_index=self.ignore_index)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for pairs labelled 1, max(0, cos - margin) for pairs labelled -1;
    x1, x2 (N, D), target (N,)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class ContrastiveLoss(_Loss):
    """Hadsell et al. 2006: D^2 / 2 for pairs labelled 1 (same), max(0, margin - D)^2 / 2 for
    pairs labelled 0; x1, x2 (N, D), target (N,). PyTorch has no such module."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"ContrastiveLoss: margin must be greater than 0, got {margin}")
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.contrastive_loss(input1, input2, target, margin=self.margin,
                                  reduction=self.reduction)


class SquaredTripletMarginLoss(_Loss):
    """FaceNet's / deck 002's max(||a-p||^2 - ||a-n||^2 + margin, 0) on (N, D) embeddings
    (TripletMarginLoss is PyTorch's form, with unsquared distances)."""

    def __init__(self, margin: float = 0.2, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"SquaredTripletMarginLoss: margin must be greater than 0, got "
                             f"{margin}")
        self.margin = margin

    def forward(self, anchor, positive, negative):
        return F.squared_triplet_margin_loss(anchor, positive, negative, margin=self.margin,
                                             reduction=self.reduction)


class CosineSimilarity(Module):
    """cos(x1, x2) along `dim` (torch.nn.CosineSimilarity)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, dim=self.dim, eps=self.eps)
