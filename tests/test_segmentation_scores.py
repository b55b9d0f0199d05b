"""The prior correction of models trained with a class-weighted cross-entropy
(scratchnet.segmentation.score_offsets / class_maps / report)."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.nn import functional as F
from scratchnet.segmentation import (SegmentationError, class_maps, loss_weights, report,
                                     score_offsets)


def test_loss_weights_put_the_background_alone_at_its_weight():
    np.testing.assert_array_equal(loss_weights(4, 0.1), np.array([0.1, 1, 1, 1], np.float32))
    assert loss_weights(4, 1.0) is None
    with pytest.raises(SegmentationError, match="must be positive"):
        loss_weights(4, 0.0)


def test_score_offsets_are_minus_log_of_the_weights():
    np.testing.assert_allclose(score_offsets([0.1, 1.0, 0.5]),
                               [math.log(10), 0.0, math.log(2)], rtol=1e-6)
    assert score_offsets(None) is None
    with pytest.raises(SegmentationError, match="positive numbers"):
        score_offsets([0.1, -1.0])


def test_class_maps_undo_the_weighting():
    # weighted scores (0, 1, -5): the plain argmax says class 1; with the background trained
    # at 0.1 its score is log 10 = 2.30 too low, so the corrected argmax says background
    logits = np.array([0.0, 1.0, -5.0], np.float32).reshape(1, 3, 1, 1)
    assert class_maps(logits)[0, 0, 0] == 1
    assert class_maps(logits, [0.1, 1, 1])[0, 0, 0] == 0
    # (0, 3, -5): class 1 stays ahead of 2.30
    logits[0, 1] = 3.0
    assert class_maps(logits, [0.1, 1, 1])[0, 0, 0] == 1
    with pytest.raises(SegmentationError, match="2 class weights for logits of 3 classes"):
        class_maps(logits, [0.1, 1])


def test_weighted_cross_entropy_optimum_is_the_tilted_posterior():
    """One score vector fitted to pixels whose labels are background 70%, class 1 20%, class
    2 10%, with the background weighted 0.1: the weighted loss is smallest at
    softmax = w p / sum(w p) = (0.07, 0.2, 0.1) / 0.37, and adding score_offsets gives back
    softmax = p = (0.7, 0.2, 0.1)."""
    labels = np.array([0] * 70 + [1] * 20 + [2] * 10).reshape(1, 10, 10)
    weight = loss_weights(3, 0.1)
    scores = sn.tensor(np.zeros((1, 3, 1, 1), np.float32), requires_grad=True)
    opt = optim.Adam([scores], lr=0.05)
    ones = sn.tensor(np.ones((1, 1, 10, 10), np.float32))
    for _ in range(800):
        loss = F.cross_entropy(scores * ones, sn.tensor(labels), weight=sn.tensor(weight))
        opt.zero_grad()
        loss.backward()
        opt.step()
    s = scores.data.reshape(3).astype(np.float64)
    tilted = np.exp(s) / np.exp(s).sum()
    np.testing.assert_allclose(tilted, np.array([0.07, 0.2, 0.1]) / 0.37, atol=2e-3)
    corrected = s + score_offsets(weight)
    np.testing.assert_allclose(np.exp(corrected) / np.exp(corrected).sum(), [0.7, 0.2, 0.1],
                               atol=2e-3)


def test_report_scores_the_corrected_maps_and_keeps_the_plain_argmax():
    class Fixed(nn.Module):
        def forward(self, x):
            # every pixel scores (0, 1): class 1 by a margin of 1, less than log 10
            out = np.zeros((x.shape[0], 2) + tuple(x.shape[2:]), np.float32)
            out[:, 1] = 1.0
            return sn.tensor(out)

    labels = np.array([[[0, 0], [0, 1]]])
    images = np.zeros((1, 1, 2, 2), np.float32)
    plain = report(Fixed(), images, labels, [], "nuclei")
    assert plain["miou"] == pytest.approx((0 + 1 / 4) / 2) and "miou_weighted_argmax" not in plain
    fixed = report(Fixed(), images, labels, [], "nuclei", class_weight=[0.1, 1.0])
    # corrected: background everywhere -> IoU 3/4 for background, 0 for the nucleus
    assert fixed["miou"] == pytest.approx((3 / 4 + 0) / 2)
    assert fixed["miou_weighted_argmax"] == pytest.approx(plain["miou"])
