"""Matcher and BalancedPositiveNegativeSampler against hand-worked cases (torchvision's
documented semantics), and the detection backbone's shapes."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.models.detection import (BalancedPositiveNegativeSampler, ConvBackbone,
                                         Matcher, digit_scenes_backbone)

# 2 ground-truth boxes (rows) x 5 predictions (columns)
Q = np.array([[0.9, 0.4, 0.05, 0.3, 0.0],
              [0.2, 0.6, 0.08, 0.3, 0.45]])


def test_matcher_thresholds_by_hand():
    # column 0: best 0.9 (gt 0) >= 0.5; column 1: best 0.6 (gt 1); column 2: best 0.08 < 0.1;
    # column 3: a 0.3 / 0.3 tie (gt 0 first) in [0.1, 0.5); column 4: 0.45 in [0.1, 0.5)
    assert Matcher(0.5, 0.1)(Q).tolist() == [0, 1, -1, -2, -2]
    assert Matcher.BELOW_LOW_THRESHOLD == -1 and Matcher.BETWEEN_THRESHOLDS == -2


def test_matcher_boundaries_are_inclusive_below():
    q = np.array([[0.5, 0.1, 0.0999]])
    # exactly high -> matched; exactly low -> between; just under low -> below
    assert Matcher(0.5, 0.1)(q).tolist() == [0, -2, -1]
    # low == high: nothing is "between"
    assert Matcher(0.5, 0.5)(np.array([[0.5, 0.49]])).tolist() == [0, -1]


def test_matcher_low_quality_matches():
    # high 0.7: only column 0 passes; gt 1's best prediction is column 1 (0.6), which gets
    # its match back with allow_low_quality_matches
    assert Matcher(0.7, 0.1)(Q).tolist() == [0, -2, -1, -2, -2]
    assert Matcher(0.7, 0.1, True)(Q).tolist() == [0, 1, -1, -2, -2]
    # both predictions tied for the object's best quality are restored
    q = np.array([[0.3, 0.3, 0.1]])
    assert Matcher(0.7, 0.3, True)(q).tolist() == [0, 0, -1]
    # the restored value is the prediction's own best match (gt 1 here), not the gt whose
    # best it is (gt 0), as in torchvision
    q = np.array([[0.4, 0.1], [0.5, 0.2]])
    assert Matcher(0.7, 0.3)(q).tolist() == [-2, -1]
    assert Matcher(0.7, 0.3, True)(q).tolist() == [1, -1]


def test_matcher_bad_input():
    with pytest.raises(ValueError, match="low_threshold must be <= high_threshold"):
        Matcher(0.3, 0.7)
    with pytest.raises(ValueError, match="no ground-truth boxes"):
        Matcher(0.5, 0.1)(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"\(M ground-truth boxes, N predictions\)"):
        Matcher(0.5, 0.1)(np.zeros(3))
    assert Matcher(0.5, 0.1)(np.zeros((2, 0))).shape == (0,)


def test_matcher_accepts_tensors():
    assert Matcher(0.5, 0.1)(sn.tensor(Q)).tolist() == [0, 1, -1, -2, -2]


def test_sampler_counts_by_hand():
    labels = np.array([1, 0, 0, -1, 2, 0, 0, 0])
    sampler = BalancedPositiveNegativeSampler(4, 0.25, generator=0)
    (pos,), (neg,) = sampler([labels])
    # int(4 * 0.25) = 1 positive of the 2; 4 - 1 = 3 negatives of the 5; the -1 never
    assert pos.sum() == 1 and set(np.flatnonzero(pos)) <= {0, 4}
    assert neg.sum() == 3 and set(np.flatnonzero(neg)) <= {1, 2, 5, 6, 7}
    assert not (pos & neg).any() and not pos[3] and not neg[3]


def test_sampler_short_of_positives_or_negatives():
    sampler = BalancedPositiveNegativeSampler(4, 0.5, generator=0)
    (p1, p2), (n1, n2) = sampler([np.array([0, 0, 0]), np.array([1, 1, 1, 1, 0])])
    # no positives: min(3, 4 - 0) = 3 negatives, all of them
    assert p1.sum() == 0 and n1.tolist() == [True, True, True]
    # 4 positives, 1 negative: 2 positives (the fraction) and the 1 negative, 3 in all
    # (the batch is not filled up with extra positives)
    assert p2.sum() == 2 and n2.tolist() == [False, False, False, False, True]


def test_sampler_is_uniform():
    sampler = BalancedPositiveNegativeSampler(1, 1.0, generator=np.random.default_rng(3))
    counts = np.zeros(4)
    for _ in range(4000):
        (pos,), _ = sampler([np.array([1, 1, 1, 1])])
        counts += pos
    # each of 4 positives drawn with probability 1/4: 1000 +- 3 sd (sd = 27)
    assert np.all(np.abs(counts - 1000) < 82), counts


def test_sampler_bad_settings():
    with pytest.raises(ValueError, match="batch_size_per_image"):
        BalancedPositiveNegativeSampler(0, 0.25)
    with pytest.raises(ValueError, match="positive_fraction"):
        BalancedPositiveNegativeSampler(64, 1.5)


def test_backbone_shapes_and_stride():
    b = digit_scenes_backbone()
    assert (b.out_channels, b.stride, b.spatial_scale) == (64, 4, 0.25)
    assert b(sn.randn(2, 1, 64, 64)).shape == (2, 64, 16, 16)
    b8 = ConvBackbone(3, widths=(8, 16, 16, 32))
    assert (b8.out_channels, b8.stride) == (32, 8)
    assert b8(sn.randn(1, 3, 32, 48)).shape == (1, 32, 4, 6)


def test_backbone_bad_input():
    b = digit_scenes_backbone()
    with pytest.raises(ValueError, match=r"expected images \(N, 1, H, W\)"):
        b(sn.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"multiples of 4.*62 / 4 = 15.5"):
        b(sn.randn(1, 1, 62, 64))
