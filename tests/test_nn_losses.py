"""Losses beyond the stored references: formulas written out in NumPy, the module forms,
edge cases (all targets ignored), dtype rules, and the error messages for the mistakes
students make (labels out of range, (N, 1) outputs against (N,) targets, ...)."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn


def _log_softmax(x, axis=1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def test_cross_entropy_is_minus_log_softmax_at_the_label_and_its_gradient_is_p_minus_onehot():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    logits = sn.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, sn.tensor(t))
    expected = -_log_softmax(x)[np.arange(5), t].mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    p = np.exp(_log_softmax(x))
    np.testing.assert_allclose(logits.grad.data, (p - np.eye(4)[t]) / 5, rtol=1e-10)


def test_cross_entropy_with_huge_logits_stays_finite():
    x = sn.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    loss = F.cross_entropy(x, sn.tensor([1]))
    assert loss.item() == pytest.approx(1e4, rel=1e-6)
    loss.backward()
    assert np.all(np.isfinite(x.grad.data))


def test_cross_entropy_segmentation_ignores_void_pixels_in_the_mean():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2, 2))
    t = np.array([[[0, 255], [2, 1]], [[255, 255], [1, 0]]])
    loss = F.cross_entropy(sn.tensor(x), sn.tensor(t), ignore_index=255).item()
    logp = _log_softmax(x)
    picks = [-logp[n, t[n, i, j], i, j] for n in range(2) for i in range(2) for j in range(2)
             if t[n, i, j] != 255]
    assert loss == pytest.approx(np.mean(picks), rel=1e-12)


def test_cross_entropy_all_ignored_is_nan_for_mean_and_zero_for_sum_as_pytorch():
    x = sn.randn(2, 3)
    t = sn.tensor([-100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0


def test_losses_keep_float32_and_never_upcast():
    x = sn.randn(4, 3)
    w64 = np.array([1.0, 2.0, 0.5])
    assert F.cross_entropy(x, sn.tensor([0, 1, 2, 0]), weight=w64).dtype == np.float32
    assert nn.CrossEntropyLoss(weight=sn.tensor(w64))(x, sn.tensor([0, 1, 2, 0])).dtype == \
        np.float32
    assert F.mse_loss(x, sn.randn(4, 3, dtype="float64")).dtype == np.float32
    assert F.smooth_l1_loss(x.double(), x.double() * 2).dtype == np.float64
    assert F.binary_cross_entropy_with_logits(x, sn.rand(4, 3)).dtype == np.float32


def test_module_forms_equal_the_functional_ones():
    rng = np.random.default_rng(3)
    x = sn.tensor(rng.standard_normal((6, 4)).astype(np.float32))
    t = sn.tensor(rng.integers(0, 4, 6))
    w = sn.tensor([0.5, 1.0, 2.0, 1.5])
    y = sn.tensor(rng.random((6, 4)).astype(np.float32))
    pairs = [
        (nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1)(x, t),
         F.cross_entropy(x, t, weight=w, ignore_index=2, label_smoothing=0.1)),
        (nn.NLLLoss(reduction="sum")(F.log_softmax(x, dim=1), t),
         F.nll_loss(F.log_softmax(x, dim=1), t, reduction="sum")),
        (nn.BCELoss()(F.sigmoid(x), y), F.binary_cross_entropy(F.sigmoid(x), y)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y),
         F.binary_cross_entropy_with_logits(x, y, pos_weight=w)),
        (nn.MSELoss()(x, y), F.mse_loss(x, y)),
        (nn.L1Loss(reduction="none")(x, y), F.l1_loss(x, y, reduction="none")),
        (nn.SmoothL1Loss(beta=0.5)(x, y), F.smooth_l1_loss(x, y, beta=0.5)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.TripletMarginLoss(margin=0.3)(x, y, x * 2), F.triplet_margin_loss(x, y, x * 2, 0.3)),
        (nn.MultiMarginLoss(p=2, weight=w)(x, t), F.multi_margin_loss(x, t, p=2, weight=w)),
    ]
    for ours, functional in pairs:
        np.testing.assert_array_equal(ours.data, functional.data)


def test_loss_weights_are_buffers_like_pytorch():
    crit = nn.CrossEntropyLoss(weight=sn.tensor([1.0, 2.0]))
    assert list(crit.state_dict()) == ["weight"]
    assert crit.double().weight.dtype == np.float64
    assert list(nn.BCEWithLogitsLoss(pos_weight=sn.tensor([3.0])).state_dict()) == [
        "pos_weight"]
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_legacy_size_average_and_reduce_map_to_reduction():
    x, y = sn.randn(3, 2), sn.randn(3, 2)
    assert F.mse_loss(x, y, size_average=False).item() == pytest.approx(
        F.mse_loss(x, y, reduction="sum").item())
    assert F.mse_loss(x, y, reduce=False).shape == (3, 2)
    assert nn.L1Loss(size_average=False).reduction == "sum"


def test_triplet_loss_is_the_hinge_on_distances():
    rng = np.random.default_rng(4)
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))
    d = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(axis=1))  # noqa: E731
    expected = np.maximum(d(a, p) - d(a, n) + 1.0, 0)
    out = F.triplet_margin_loss(sn.tensor(a), sn.tensor(p), sn.tensor(n), reduction="none")
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    swapped = F.triplet_margin_loss(sn.tensor(a), sn.tensor(p), sn.tensor(n), swap=True,
                                    reduction="none")
    np.testing.assert_allclose(
        swapped.data, np.maximum(d(a, p) - np.minimum(d(a, n), d(p, n)) + 1.0, 0), rtol=1e-12)


def test_multi_margin_is_the_svm_hinge_of_cs231n_over_c():
    x = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])   # CS231n's scores
    t = np.array([0, 1, 2])
    per_sample = F.multi_margin_loss(sn.tensor(x), sn.tensor(t), reduction="none").data
    # CS231n's SVM losses with margin 1 are 2.9, 0 and 12.9; PyTorch divides them by C = 3
    np.testing.assert_allclose(per_sample, np.array([2.9, 0.0, 12.9]) / 3, rtol=1e-12)


def test_piecewise_losses_at_their_regimes():
    d = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    x, y = sn.tensor(d), sn.tensor(np.zeros(5))
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, reduction="none", beta=1.0).data,
                               [2.5, 0.125, 0.0, 0.03125, 1.5])
    np.testing.assert_allclose(F.huber_loss(x, y, reduction="none", delta=0.5).data,
                               [1.375, 0.125, 0.0, 0.03125, 0.875])
    np.testing.assert_allclose(F.l1_loss(x, y, reduction="none").data, np.abs(d))


def test_bce_clamps_the_log_at_minus_100():
    loss = F.binary_cross_entropy(sn.tensor([0.0, 1.0]), sn.tensor([1.0, 0.0]),
                                  reduction="none")
    np.testing.assert_array_equal(loss.data, [100.0, 100.0])


# -- errors ---------------------------------------------------------------------------------------
def test_label_out_of_range_names_the_value_and_the_valid_range():
    x = sn.randn(3, 5)
    with pytest.raises(ValueError) as info:
        F.cross_entropy(x, sn.tensor([0, 7, 2]))
    msg = str(info.value)
    assert "target value 7 at index (1,)" in msg and "[0, 4]" in msg and "C=5" in msg
    with pytest.raises(ValueError, match="Class indices start at 0"):
        F.cross_entropy(x, sn.tensor([1, 5, 2]))
    with pytest.raises(ValueError, match="target value -1"):
        F.nll_loss(x, sn.tensor([0, -1, 2]))
    with pytest.raises(ValueError, match=r"target value 3 at index \(0, 1, 0\)"):
        F.cross_entropy(sn.randn(1, 3, 2, 2), sn.tensor([[[0, 1], [3, 0]]]))
    # ignore_index values are allowed even though they are not classes
    F.cross_entropy(x, sn.tensor([0, -100, 2]))


def test_wrong_target_shape_names_both_shapes():
    with pytest.raises(ValueError) as info:
        F.cross_entropy(sn.randn(4, 3), sn.tensor([[0], [1], [2], [0]]))
    msg = str(info.value)
    assert "(4,)" in msg and "(4, 1)" in msg and "(4, 3)" in msg
    with pytest.raises(ValueError, match=r"\(N, d1, \.\.\.\) = \(2, 5, 5\).*\(2, 4, 4\)"):
        F.cross_entropy(sn.randn(2, 3, 5, 5), sn.tensor(np.zeros((2, 4, 4), np.int64)))
    with pytest.raises(ValueError, match=r"target shape \(8,\).*input shape \(8, 1\)"):
        F.mse_loss(sn.randn(8, 1), sn.randn(8))
    with pytest.raises(ValueError, match="probabilities"):
        F.cross_entropy(sn.randn(4, 3), sn.randn(4, 2))


def test_type_errors_say_how_to_fix_them():
    with pytest.raises(TypeError, match=r"\.long\(\)"):
        F.nll_loss(sn.randn(3, 2), sn.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(TypeError, match=r"\.float\(\)"):
        F.mse_loss(sn.randn(3), sn.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(sn.tensor([[1, 2]]), sn.tensor([0]))


def test_bce_needs_probabilities():
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(sn.tensor([0.5, 1.5]), sn.tensor([1.0, 0.0]))


def test_bad_options_are_rejected():
    x = sn.randn(2, 3)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="elementwise")
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(x, sn.tensor([0, 1]), p=3)
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, sn.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="one value per class"):
        F.cross_entropy(x, sn.tensor([0, 1]), weight=sn.ones(2))
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="same number|all be"):
        F.triplet_margin_loss(sn.randn(2, 3), sn.randn(3), sn.randn(2, 3))


def test_label_smoothing_keeps_float32_in_the_backward():
    # the smoothing term once computed in float64 (a Python float times a bool mask); the
    # engine cast the gradient back, hiding it. Strict dtype mode refuses such a cast.
    import scratchnet.autograd as A

    before = A.strict_dtypes_enabled()
    A.set_strict_dtypes(True)
    try:
        x = sn.randn(4, 5, requires_grad=True)
        loss = F.cross_entropy(x, sn.tensor([0, 1, 4, 2]), label_smoothing=0.1)
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32
    finally:
        A.set_strict_dtypes(before)
def _dice_numpy(x, t, smooth=1.0, ignore_index=-100):
    """The soft Dice loss from its definition, class by class with explicit loops."""
    p = np.exp(_log_softmax(x))
    c = x.shape[1]
    scores = []
    for k in range(c):
        inter = total = 0.0
        for idx in np.ndindex(t.shape):
            if t[idx] == ignore_index:
                continue
            pk = p[(idx[0], k) + idx[1:]]
            yk = 1.0 if t[idx] == k else 0.0
            inter += pk * yk
            total += pk + yk
        scores.append((2 * inter + smooth) / (total + smooth))
    return 1.0 - np.mean(scores)


def test_dice_loss_by_hand_uniform_prediction():
    # two classes, equal logits (p = 1/2 everywhere), targets [0, 1]: for each class
    # I = 1/2, S = 1/2 + 1/2 + 1 = 2, dice = (2 * 1/2 + 1) / (2 + 1) = 2/3, loss = 1/3
    x = sn.tensor(np.zeros((1, 2, 1, 2)))
    assert F.dice_loss(x, sn.tensor(np.array([[[0, 1]]]))).item() == pytest.approx(1 / 3)
    # without smoothing: dice = 1 / 2 per class, loss 1/2
    assert F.dice_loss(x, sn.tensor(np.array([[[0, 1]]])), smooth=0.0).item() == \
        pytest.approx(0.5)


def test_dice_loss_is_zero_for_a_confident_correct_prediction_and_ignores_void():
    x = np.zeros((1, 3, 2, 2))
    t = np.array([[[0, 2], [2, 255]]])
    for (i, j), k in np.ndenumerate(t[0]):
        x[0, k if k != 255 else 1, i, j] = 60.0
    # the ignored pixel predicts class 1 (absent from the targets): it must not count
    loss = F.dice_loss(sn.tensor(x), sn.tensor(t), ignore_index=255)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    loss_counted = F.dice_loss(sn.tensor(x[:, :, :1]), sn.tensor(np.array([[[0, 2]]])))
    assert loss_counted.item() == pytest.approx(0.0, abs=1e-12)


def test_dice_loss_matches_its_definition_and_module_form():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 5))
    t = rng.integers(0, 4, (2, 3, 5))
    t[rng.random(t.shape) < 0.3] = -100
    ours = F.dice_loss(sn.tensor(x), sn.tensor(t), smooth=0.5)
    assert ours.item() == pytest.approx(_dice_numpy(x, t, smooth=0.5), rel=1e-12)
    module = nn.DiceLoss(smooth=0.5)(sn.tensor(x), sn.tensor(t))
    assert module.item() == pytest.approx(ours.item(), rel=1e-15)


def test_dice_loss_gradcheck_with_ignore():
    rng = np.random.default_rng(4)
    x = sn.tensor(rng.standard_normal((2, 3, 4, 3)), requires_grad=True)
    t = rng.integers(0, 3, (2, 4, 3))
    t[rng.random(t.shape) < 0.25] = 255
    report = sn.gradcheck(lambda a: F.dice_loss(a, sn.tensor(t), ignore_index=255), [x])
    assert report.passed, report


def test_dice_loss_keeps_float32_and_names_bad_targets():
    x = sn.tensor(np.zeros((1, 2, 2, 2), np.float32))
    assert F.dice_loss(x, sn.tensor(np.zeros((1, 2, 2), np.int64))).dtype == np.float32
    with pytest.raises(ValueError, match="dice_loss: target value 2"):
        F.dice_loss(x, sn.tensor(np.full((1, 2, 2), 2)))
    with pytest.raises(ValueError, match="dice_loss: expected a target of shape"):
        F.dice_loss(x, sn.tensor(np.zeros((1, 2), np.int64)))
