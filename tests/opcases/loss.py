"""Cases for the losses, against PyTorch: every reduction, class weights, ignore_index on
segmentation-shaped (N, C, H, W) logits, label smoothing, probability targets, unbatched
inputs, logits far from 0, both regimes of the piecewise losses, triplet swap, hinge p=1/2.

Targets that must contain ignore_index or stay inside [0, 1] are drawn by small functions;
everything else uses the Inp table.
"""
import numpy as np

import scratchnet.nn.functional as F

from . import Case, Inp

N = Inp


def _labels(logit_shape, n_classes, ignore=None, frac=0.3):
    """Logits of `logit_shape` and integer labels for them (axis 1 is the class axis), a
    fraction of them set to `ignore`."""
    def draw(rng):
        x = rng.standard_normal(logit_shape)
        t_shape = (logit_shape[0],) + tuple(logit_shape[2:]) if len(logit_shape) > 1 else ()
        t = rng.integers(0, n_classes, t_shape).astype(np.int64)
        if ignore is not None:
            t = np.where(rng.random(t_shape) < frac, ignore, t).astype(np.int64)
        return [(x, True), (t, False)]
    return draw


def _weighted_labels(logit_shape, n_classes, ignore=None):
    base = _labels(logit_shape, n_classes, ignore)

    def draw(rng):
        return base(rng) + [(rng.uniform(0.2, 2.0, n_classes), False)]
    return draw


def _probs(shape, weight=False):
    """Logits and class-probability targets (rows on axis 1 sum to 1), both differentiable."""
    def draw(rng):
        x = rng.standard_normal(shape)
        e = np.exp(rng.standard_normal(shape))
        out = [(x, True), (e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True), True)]
        if weight:
            out.append((rng.uniform(0.2, 2.0, shape[1]), False))
        return out
    return draw


def _binary(shape, probs=True, extra=()):
    """Probabilities in (0.05, 0.95) (or logits), targets in [0, 1], then constants."""
    def draw(rng):
        x = rng.uniform(0.05, 0.95, shape) if probs else 3 * rng.standard_normal(shape)
        out = [(x, True), (rng.uniform(0, 1, shape), True)]
        out += [(rng.uniform(0.3, 3.0, s), False) for s in extra]
        return out
    return draw


def _spread(shape, scale=2.0):
    """Input/target pairs whose differences cover both sides of 1 (piecewise losses)."""
    def draw(rng):
        return [(scale * rng.standard_normal(shape), True), (rng.standard_normal(shape), True)]
    return draw


def _scores(shape, n_classes):
    def draw(rng):
        x = rng.standard_normal(shape)
        t = rng.integers(0, n_classes, shape[:-1] if len(shape) > 1 else ()).astype(np.int64)
        return [(x, True), (t, False)]
    return draw


def _weighted_scores(shape, n_classes):
    base = _scores(shape, n_classes)
    return lambda rng: base(rng) + [(rng.uniform(0.2, 2.0, n_classes), False)]



def _tf(t):
    return t.nn.functional


CASES = [
    # -- cross_entropy ----------------------------------------------------------------------------
    Case("ce_mean", "cross_entropy", lambda x, t: F.cross_entropy(x, t), _labels((4, 5), 5),
         lambda t, x, y: _tf(t).cross_entropy(x, y)),
    Case("ce_sum", "cross_entropy", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
         _labels((6, 3), 3), lambda t, x, y: _tf(t).cross_entropy(x, y, reduction="sum")),
    Case("ce_none", "cross_entropy", lambda x, t: F.cross_entropy(x, t, reduction="none"),
         _labels((5, 4), 4), lambda t, x, y: _tf(t).cross_entropy(x, y, reduction="none")),
    Case("ce_weight", "cross_entropy", lambda x, t, w: F.cross_entropy(x, t, weight=w),
         _weighted_labels((6, 4), 4),
         lambda t, x, y, w: _tf(t).cross_entropy(x, y, weight=w)),
    Case("ce_segmentation_ignore", "cross_entropy",
         lambda x, t: F.cross_entropy(x, t, ignore_index=-100),
         _labels((2, 3, 4, 5), 3, ignore=-100),
         lambda t, x, y: _tf(t).cross_entropy(x, y, ignore_index=-100)),
    Case("ce_segmentation_weight_ignore255", "cross_entropy",
         lambda x, t, w: F.cross_entropy(x, t, weight=w, ignore_index=255),
         _weighted_labels((2, 4, 3, 3), 4, ignore=255),
         lambda t, x, y, w: _tf(t).cross_entropy(x, y, weight=w, ignore_index=255)),
    Case("ce_ignore_a_real_class", "cross_entropy",
         lambda x, t: F.cross_entropy(x, t, ignore_index=1, reduction="none"),
         _labels((7, 3), 3),
         lambda t, x, y: _tf(t).cross_entropy(x, y, ignore_index=1, reduction="none")),
    Case("ce_label_smoothing", "cross_entropy",
         lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), _labels((5, 4), 4),
         lambda t, x, y: _tf(t).cross_entropy(x, y, label_smoothing=0.1)),
    Case("ce_smoothing_weight_ignore_seg", "cross_entropy",
         lambda x, t, w: F.cross_entropy(x, t, weight=w, ignore_index=-100,
                                         label_smoothing=0.25),
         _weighted_labels((2, 3, 3, 4), 3, ignore=-100),
         lambda t, x, y, w: _tf(t).cross_entropy(x, y, weight=w, ignore_index=-100,
                                                 label_smoothing=0.25)),
    Case("ce_smoothing_none_sum", "cross_entropy",
         lambda x, t: (F.cross_entropy(x, t, label_smoothing=0.3, reduction="none"),
                       F.cross_entropy(x, t, label_smoothing=0.3, reduction="sum")),
         _labels((4, 3, 2), 3, ignore=-100),
         lambda t, x, y: (_tf(t).cross_entropy(x, y, label_smoothing=0.3, reduction="none"),
                          _tf(t).cross_entropy(x, y, label_smoothing=0.3, reduction="sum"))),
    Case("ce_prob_targets", "cross_entropy", lambda x, y: F.cross_entropy(x, y),
         _probs((4, 5)), lambda t, x, y: _tf(t).cross_entropy(x, y)),
    Case("ce_prob_targets_weight_smooth_seg", "cross_entropy",
         lambda x, y, w: F.cross_entropy(x, y, weight=w, label_smoothing=0.2,
                                         reduction="none"),
         _probs((2, 3, 2, 2), weight=True),
         lambda t, x, y, w: _tf(t).cross_entropy(x, y, weight=w, label_smoothing=0.2,
                                                 reduction="none")),
    Case("ce_unbatched", "cross_entropy", lambda x, t: F.cross_entropy(x, t, reduction="none"),
         _labels((6,), 6), lambda t, x, y: _tf(t).cross_entropy(x, y, reduction="none")),
    Case("ce_large_logits", "cross_entropy", lambda x, t: F.cross_entropy(x * 300, t),
         _labels((4, 3), 3), lambda t, x, y: _tf(t).cross_entropy(x * 300, y), atol=1e-3),
    # -- nll_loss ---------------------------------------------------------------------------------
    Case("nll_mean", "nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, dim=1), t),
         _labels((5, 4), 4), lambda t, x, y: _tf(t).nll_loss(x.log_softmax(dim=1), y)),
    Case("nll_raw_weight_ignore_seg", "nll_loss",
         lambda x, t, w: F.nll_loss(x, t, weight=w, ignore_index=-100),
         _weighted_labels((2, 3, 2, 4), 3, ignore=-100),
         lambda t, x, y, w: _tf(t).nll_loss(x, y, weight=w, ignore_index=-100)),
    Case("nll_none_sum", "nll_loss",
         lambda x, t: (F.nll_loss(x, t, reduction="none"), F.nll_loss(x, t, reduction="sum")),
         _labels((6, 3), 3),
         lambda t, x, y: (_tf(t).nll_loss(x, y, reduction="none"),
                          _tf(t).nll_loss(x, y, reduction="sum"))),
    Case("nll_unbatched", "nll_loss", lambda x, t: F.nll_loss(x, t), _labels((5,), 5),
         lambda t, x, y: _tf(t).nll_loss(x, y)),
    # -- binary cross-entropy ---------------------------------------------------------------------
    Case("bce_mean", "binary_cross_entropy", lambda x, y: F.binary_cross_entropy(x, y),
         _binary((4, 3)), lambda t, x, y: _tf(t).binary_cross_entropy(x, y)),
    Case("bce_weight_none", "binary_cross_entropy",
         lambda x, y, w: F.binary_cross_entropy(x, y, weight=w, reduction="none"),
         _binary((3, 4), extra=[(4,)]),
         lambda t, x, y, w: _tf(t).binary_cross_entropy(x, y, weight=w, reduction="none")),
    Case("bce_sum_4d", "binary_cross_entropy",
         lambda x, y: F.binary_cross_entropy(x, y, reduction="sum"), _binary((2, 1, 3, 3)),
         lambda t, x, y: _tf(t).binary_cross_entropy(x, y, reduction="sum")),
    Case("bce_logits_mean", "binary_cross_entropy_with_logits",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y), _binary((4, 3), probs=False),
         lambda t, x, y: _tf(t).binary_cross_entropy_with_logits(x, y)),
    Case("bce_logits_pos_weight", "binary_cross_entropy_with_logits",
         lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
         _binary((5, 3), probs=False, extra=[(3,)]),
         lambda t, x, y, pw: _tf(t).binary_cross_entropy_with_logits(x, y, pos_weight=pw)),
    Case("bce_logits_weight_pos_weight_none", "binary_cross_entropy_with_logits",
         lambda x, y, w, pw: F.binary_cross_entropy_with_logits(
             x, y, weight=w, pos_weight=pw, reduction="none"),
         _binary((2, 3, 4), probs=False, extra=[(3, 1), (4,)]),
         lambda t, x, y, w, pw: _tf(t).binary_cross_entropy_with_logits(
             x, y, weight=w, pos_weight=pw, reduction="none")),
    Case("bce_logits_extreme", "binary_cross_entropy_with_logits",
         lambda x, y: F.binary_cross_entropy_with_logits(x * 40, y, reduction="sum"),
         _binary((3, 4), probs=False),
         lambda t, x, y: _tf(t).binary_cross_entropy_with_logits(x * 40, y, reduction="sum"),
         atol=1e-4),
    # -- regression -------------------------------------------------------------------------------
    Case("mse_mean", "mse_loss", lambda x, y: F.mse_loss(x, y), [N((3, 4)), N((3, 4))],
         lambda t, x, y: _tf(t).mse_loss(x, y)),
    Case("mse_sum_none_images", "mse_loss",
         lambda x, y: (F.mse_loss(x, y, reduction="sum"), F.mse_loss(x, y, reduction="none")),
         [N((2, 1, 3, 3)), N((2, 1, 3, 3))],
         lambda t, x, y: (_tf(t).mse_loss(x, y, reduction="sum"),
                          _tf(t).mse_loss(x, y, reduction="none"))),
    Case("l1_mean", "l1_loss", lambda x, y: F.l1_loss(x, y), [N((4, 3)), N((4, 3))],
         lambda t, x, y: _tf(t).l1_loss(x, y)),
    Case("l1_none", "l1_loss", lambda x, y: F.l1_loss(x, y, reduction="none"),
         [N((2, 5)), N((2, 5))], lambda t, x, y: _tf(t).l1_loss(x, y, reduction="none")),
    Case("smooth_l1_default", "smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y),
         _spread((4, 4)), lambda t, x, y: _tf(t).smooth_l1_loss(x, y)),
    Case("smooth_l1_beta_none", "smooth_l1_loss",
         lambda x, y: F.smooth_l1_loss(x, y, reduction="none", beta=0.5), _spread((3, 5)),
         lambda t, x, y: _tf(t).smooth_l1_loss(x, y, reduction="none", beta=0.5)),
    Case("smooth_l1_beta0_is_l1", "smooth_l1_loss",
         lambda x, y: F.smooth_l1_loss(x, y, reduction="sum", beta=0.0), _spread((2, 4)),
         lambda t, x, y: _tf(t).smooth_l1_loss(x, y, reduction="sum", beta=0.0)),
    Case("huber_default", "huber_loss", lambda x, y: F.huber_loss(x, y), _spread((4, 4)),
         lambda t, x, y: _tf(t).huber_loss(x, y)),
    Case("huber_delta_none", "huber_loss",
         lambda x, y: F.huber_loss(x, y, reduction="none", delta=0.3), _spread((3, 5)),
         lambda t, x, y: _tf(t).huber_loss(x, y, reduction="none", delta=0.3)),
    # -- metric learning --------------------------------------------------------------------------
    Case("pdist_p2", "pairwise_distance", lambda a, b: F.pairwise_distance(a, b),
         [N((4, 3)), N((4, 3))], lambda t, a, b: _tf(t).pairwise_distance(a, b)),
    Case("pdist_p1_bcast", "pairwise_distance", lambda a, b: F.pairwise_distance(a, b, p=1),
         [N((4, 3)), N((1, 3))], lambda t, a, b: _tf(t).pairwise_distance(a, b, p=1)),
    Case("pdist_p3_keepdim", "pairwise_distance",
         lambda a, b: F.pairwise_distance(a, b, p=3, keepdim=True), [N((3, 5)), N((3, 5))],
         lambda t, a, b: _tf(t).pairwise_distance(a, b, p=3, keepdim=True)),
    Case("triplet_default", "pairwise_distance",
         lambda a, p, n: F.triplet_margin_loss(a, p, n), [N((6, 4)), N((6, 4)), N((6, 4))],
         lambda t, a, p, n: _tf(t).triplet_margin_loss(a, p, n)),
    Case("triplet_swap_none", "pairwise_distance",
         lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, swap=True,
                                               reduction="none"),
         [N((5, 3)), N((5, 3)), N((5, 3))],
         lambda t, a, p, n: _tf(t).triplet_margin_loss(a, p, n, margin=2.0, swap=True,
                                                       reduction="none")),
    Case("triplet_p1_sum", "pairwise_distance",
         lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=0.5, p=1, reduction="sum"),
         [N((4, 3)), N((4, 3)), N((4, 3))],
         lambda t, a, p, n: _tf(t).triplet_margin_loss(a, p, n, margin=0.5, p=1,
                                                       reduction="sum")),
    Case("triplet_unbatched", "pairwise_distance",
         lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=3.0),
         [N((4,)), N((4,)), N((4,))],
         lambda t, a, p, n: _tf(t).triplet_margin_loss(a, p, n, margin=3.0)),
    # -- multi-class hinge ------------------------------------------------------------------------
    Case("multi_margin_p1", "multi_margin_loss", lambda x, t: F.multi_margin_loss(x, t),
         _scores((5, 4), 4), lambda t, x, y: _tf(t).multi_margin_loss(x, y)),
    Case("multi_margin_p2_weight_none", "multi_margin_loss",
         lambda x, t, w: F.multi_margin_loss(x, t, p=2, margin=0.7, weight=w,
                                             reduction="none"),
         _weighted_scores((6, 3), 3),
         lambda t, x, y, w: _tf(t).multi_margin_loss(x, y, p=2, margin=0.7, weight=w,
                                                     reduction="none")),
    Case("multi_margin_sum", "multi_margin_loss",
         lambda x, t: F.multi_margin_loss(x, t, margin=2.0, reduction="sum"),
         _scores((4, 5), 5),
         lambda t, x, y: _tf(t).multi_margin_loss(x, y, margin=2.0, reduction="sum")),
    Case("multi_margin_unbatched", "multi_margin_loss",
         lambda x, t: F.multi_margin_loss(x, t), _scores((5,), 5),
         lambda t, x, y: _tf(t).multi_margin_loss(x, y)),
]
