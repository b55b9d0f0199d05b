"""Verification metrics on worked cases (values by hand in comments) and against
scikit-learn's roc_curve / roc_auc_score."""
import numpy as np
import pytest

from scratchnet.metrics import (auc, best_threshold_accuracy, equal_error_rate,
                                nearest_neighbor_top1, pair_scores, roc_auc_score, roc_curve)

# scikit-learn's documented example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]
Y = [0, 0, 1, 1]
S = [0.1, 0.4, 0.35, 0.8]


def test_roc_worked_example():
    # accept >= 0.8: 1 of 2 same, 0 of 2 different; >= 0.4: adds a different pair; >= 0.35:
    # the other same pair; >= 0.1: everything
    fpr, tpr, thr = roc_curve(Y, S)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    # area: a 0.5-wide strip at tpr 0.5 and a 0.5-wide strip at tpr 1 -> 0.75
    assert roc_auc_score(Y, S) == pytest.approx(0.75)


def test_auc_ties_count_half_and_perfect_and_reversed():
    assert roc_auc_score([0, 1], [0.3, 0.3]) == pytest.approx(0.5)
    assert roc_auc_score([0, 0, 1, 1], [1, 2, 3, 4]) == 1.0
    assert roc_auc_score([0, 0, 1, 1], [4, 3, 2, 1]) == 0.0
    assert auc([0, 1], [0, 1]) == pytest.approx(0.5)
    assert auc([1, 0], [1, 0]) == pytest.approx(0.5)


def test_eer_worked_examples():
    # S above: (fpr, fnr) = (0, 1), (0, .5), (.5, .5) ... -> equal at 0.5, threshold 0.4
    assert equal_error_rate(Y, S) == (0.5, 0.4)
    # six pairs, one error of each kind: scores same 0.9, 0.8, 0.3; different 0.7, 0.2, 0.1.
    # at threshold 0.7: fpr 1/3, fnr 1/3
    eer, t = equal_error_rate([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
    assert eer == pytest.approx(1 / 3) and t == 0.7
    # crossing between points: a same and a different pair tie at 0.9, so (fpr, fnr) jumps
    # from (0, 1) to (1, 0.5); on that segment fpr = t, fnr = 1 - t/2, equal at t = 2/3
    eer, t = equal_error_rate([1, 1, 0], [0.9, 0.1, 0.9])
    assert eer == pytest.approx(2 / 3) and t == 0.9


def test_best_accuracy_worked_example():
    # threshold 0.8: predictions 0,0,0,1 -> 3/4 right; 0.35: 0,1,1,1 -> 3/4; first (highest)
    assert best_threshold_accuracy(Y, S) == (0.75, 0.8)
    assert best_threshold_accuracy([1, 1, 0, 0], [4, 3, 2, 1]) == (1.0, 3.0)
    # every score below: calling everything "different" is best (2 of 3)
    assert best_threshold_accuracy([0, 0, 1], [0.9, 0.8, 0.1]) == (pytest.approx(2 / 3),
                                                                   np.inf)


def test_nearest_neighbour_top1_by_hand():
    g = np.array([[0.0, 0.0], [10.0, 0.0]])
    q = np.array([[1.0, 0.0], [9.0, 1.0], [4.0, 0.0], [6.0, 0.0]])
    # nearest: 0, 1, 0, 1 -> labels a, b, a, b vs truth a, b, b, b -> 3/4
    assert nearest_neighbor_top1(g, ["a", "b"], q, ["a", "b", "b", "b"]) == 0.75
    # leave-one-out on one array: 0 and 1 are each other's neighbours, 2 and 3 likewise
    e = np.array([[0.0], [0.1], [5.0], [5.2]])
    assert nearest_neighbor_top1(e, [0, 0, 1, 2], e, [0, 0, 1, 2]) == 0.5
    # (1, 1) is nearer (1, 0) in distance but points the way of (10, 10)
    g, q = np.array([[1.0, 0.0], [10.0, 10.0]]), np.array([[1.0, 1.0]])
    assert nearest_neighbor_top1(g, [0, 1], q, [1]) == 0.0
    assert nearest_neighbor_top1(g, [0, 1], q, [1], metric="cosine") == 1.0


def test_pair_scores():
    np.testing.assert_allclose(pair_scores([[0, 0]], [[3, 4]]), [-5.0])
    np.testing.assert_allclose(pair_scores([[1, 0]], [[0, 2]], "cosine"), [0.0])


def test_bad_input():
    with pytest.raises(ValueError, match="needs both same"):
        roc_curve([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="must be 0 .different. or 1"):
        roc_curve([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="2 labels and 3 scores"):
        roc_auc_score([0, 1], [0.2, 0.3, 0.1])


@pytest.mark.parametrize("seed", range(4))
def test_against_sklearn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.standard_normal(60) + y, 1)          # rounding makes ties
    for drop in (True, False):
        ours = roc_curve(y, s, drop_intermediate=drop)
        theirs = metrics.roc_curve(y, s, drop_intermediate=drop)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b)
    assert roc_auc_score(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    assert auc(*roc_curve(y, s)[:2]) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
