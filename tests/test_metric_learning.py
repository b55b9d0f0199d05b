"""The metric-learning losses on worked examples and against live PyTorch, their modules, and
triplet mining on hand-made batches (expected triplets worked out by hand in the comments)."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.nn.mining import mine_triplets, squared_distance_matrix


def T(a, grad=False):
    return sn.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_squared_triplet_by_hand_and_unsquared_difference():
    # A=(0,0), P=(2,0), N=(0,1): 4 - 1 + 0.2 = 3.2 squared; 2 - 1 + 0.2 = 1.2 unsquared.
    # A=(0,0), P=(1,0), N=(0,2): 1 - 4 + 0.2 < 0 -> 0 either way (1 - 2 + 0.2 < 0).
    a, p, n = T([[0, 0], [0, 0]]), T([[2, 0], [1, 0]]), T([[0, 1], [0, 2]])
    sq = F.squared_triplet_margin_loss(a, p, n, margin=0.2, reduction="none")
    np.testing.assert_allclose(sq.data, [3.2, 0.0], atol=1e-12)
    assert F.squared_triplet_margin_loss(a, p, n, margin=0.2).item() == pytest.approx(1.6)
    plain = F.triplet_margin_loss(a, p, n, margin=0.2, reduction="none")
    np.testing.assert_allclose(plain.data, [1.2, 0.0], atol=1e-5)


def test_squared_triplet_gradient_by_hand():
    # active triplet: dL/da = 2(a-p) - 2(a-n) = 2(n-p); dL/dp = -2(a-p); dL/dn = 2(a-n)
    a, p, n = T([[0.0, 0.0]], True), T([[2.0, 0.0]], True), T([[0.0, 1.0]], True)
    F.squared_triplet_margin_loss(a, p, n).backward()
    np.testing.assert_allclose(a.grad.data, [[-4.0, 2.0]])
    np.testing.assert_allclose(p.grad.data, [[4.0, 0.0]])
    np.testing.assert_allclose(n.grad.data, [[0.0, -2.0]])


def test_contrastive_by_hand():
    # D from the 3-4-5 triangle: x1=(0,0), x2=(3,4) -> D = 5 (eps=0)
    x1, x2 = T([[0, 0], [0, 0], [0, 0]]), T([[3, 4], [0.3, 0.4], [3, 4]])
    loss = F.contrastive_loss(x1, x2, [1, 0, 0], margin=1.0, eps=0.0, reduction="none")
    # same: 25/2; different at D=0.5 inside margin 1: (1-0.5)^2/2 = 0.125; different at D=5: 0
    np.testing.assert_allclose(loss.data, [12.5, 0.125, 0.0], atol=1e-12)


def test_cosine_by_hand():
    a, b = T([[1, 0], [1, 1]]), T([[0, 2], [2, 2]])
    np.testing.assert_allclose(F.cosine_similarity(a, b).data, [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(F.normalize(T([[3, 4]])).data, [[0.6, 0.8]])
    # y = 1: 1 - cos; y = -1: max(0, cos - margin)
    loss = F.cosine_embedding_loss(a, b, [1, -1], margin=0.5, reduction="none")
    np.testing.assert_allclose(loss.data, [1.0, 0.5], atol=1e-9)


def test_modules_match_functional():
    rng = np.random.default_rng(0)
    a, p, n = (T(rng.standard_normal((5, 3))) for _ in range(3))
    y01, ypm = np.array([1, 0, 1, 0, 0]), np.array([1, -1, 1, -1, -1])
    assert nn.SquaredTripletMarginLoss(0.5)(a, p, n).item() == pytest.approx(
        F.squared_triplet_margin_loss(a, p, n, margin=0.5).item())
    assert nn.ContrastiveLoss(2.0, reduction="sum")(a, p, y01).item() == pytest.approx(
        F.contrastive_loss(a, p, y01, margin=2.0, reduction="sum").item())
    assert nn.CosineEmbeddingLoss(0.1)(a, p, ypm).item() == pytest.approx(
        F.cosine_embedding_loss(a, p, ypm, margin=0.1).item())
    np.testing.assert_allclose(nn.CosineSimilarity(dim=1)(a, p).data,
                               F.cosine_similarity(a, p).data)


def test_float32_stays_float32():
    x = sn.tensor(np.ones((2, 3), np.float32))
    assert F.normalize(x).dtype == np.float32
    assert F.squared_triplet_margin_loss(x, x, x).dtype == np.float32
    assert F.contrastive_loss(x, x, [1, 0]).dtype == np.float32


def test_bad_inputs_explain():
    x = T(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="target values must be -1 or 1"):
        F.cosine_embedding_loss(x, x, [1, 0, 1])
    with pytest.raises(ValueError, match=r"one value per pair, shape \(3,\)"):
        F.contrastive_loss(x, x, [1, 0])
    with pytest.raises(ValueError, match="squared_triplet_margin_loss"):
        F.squared_triplet_margin_loss(x, x, T(np.zeros((3, 4))))
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        F.normalize(x, dim=2)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        nn.ContrastiveLoss(0.0)


# 1-D embeddings of two classes; squared distances worked out by hand below
E = np.array([[0.0], [1.0], [3.0], [0.5], [2.5], [6.0]])
Y = np.array([0, 0, 0, 1, 1, 1])


def test_distance_matrix():
    d = squared_distance_matrix(E)
    assert d[0, 2] == 9.0 and d[3, 5] == 30.25 and d[4, 2] == 0.25 and d[1, 1] == 0.0


def test_batch_hard_by_hand():
    a, p, n = mine_triplets(E, Y, "batch-hard")
    # anchor 0: positives d=1 (1), 9 (2) -> 2; negatives .25 (3), 6.25 (4), 36 (5) -> 3
    # anchor 3: positives 4 (4), 30.25 (5) -> 5; negatives .25 (0), .25 (1) tie -> first, 0
    np.testing.assert_array_equal(a, [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(p, [2, 2, 0, 5, 5, 3])
    np.testing.assert_array_equal(n, [3, 3, 4, 0, 2, 2])


def test_semi_hard_by_hand():
    a, p, n = mine_triplets(E, Y, "semi-hard")
    # (0,1): d_ap=1, negatives farther: 6.25 (4), 36 (5) -> 4.  (2,0): d_ap=9, no negative
    # farther than 9 (6.25, .25, 9) -> the farthest, 5.  (5,4): d_ap=12.25 -> 25 (1).
    pairs = list(zip(a.tolist(), p.tolist(), n.tolist()))
    assert pairs == [(0, 1, 4), (0, 2, 5), (1, 0, 4), (1, 2, 5), (2, 0, 5), (2, 1, 3),
                     (3, 4, 2), (3, 5, 2), (4, 3, 0), (4, 5, 0), (5, 3, 0), (5, 4, 1)]


def test_random_mining_is_valid_and_seeded():
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 3])          # class 3 has no positive: skipped
    emb = np.random.default_rng(0).standard_normal((8, 4))
    a, p, n = mine_triplets(emb, labels, "random", rng=1)
    np.testing.assert_array_equal(a, np.arange(7))
    assert np.all(labels[a] == labels[p]) and np.all(a != p) and np.all(labels[a] != labels[n])
    a2, p2, n2 = mine_triplets(emb, labels, "random", rng=1)
    np.testing.assert_array_equal(n, n2)
    draws = {tuple(mine_triplets(emb, labels, "random", rng=s)[2]) for s in range(10)}
    assert len(draws) > 1


def test_mining_edge_cases():
    a, p, n = mine_triplets(np.zeros((3, 2)), [4, 4, 4], "batch-hard")   # no negatives
    assert len(a) == len(p) == len(n) == 0
    with pytest.raises(ValueError, match="strategy must be one of"):
        mine_triplets(E, Y, "hardest")


def test_mined_batch_hard_loss_is_the_largest_per_anchor():
    """Batch-hard picks, for every anchor, the triplet of largest loss among its triplets."""
    rng = np.random.default_rng(3)
    emb, labels = rng.standard_normal((12, 3)), np.repeat(np.arange(3), 4)
    a, p, n = mine_triplets(emb, labels, "batch-hard")
    d = squared_distance_matrix(emb)
    for i, j, k in zip(a, p, n):
        worst = max(d[i, jj] - d[i, kk] for jj in range(12) for kk in range(12)
                    if labels[jj] == labels[i] and jj != i and labels[kk] != labels[i])
        assert d[i, j] - d[i, k] == pytest.approx(worst)


@pytest.mark.parametrize("seed", range(3))
def test_live_torch(seed):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(100 + seed)
    x1, x2 = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    y = rng.choice([-1, 1], 7)
    ours = [F.normalize(T(x1), dim=0).data, F.cosine_similarity(T(x1), T(x2)).data,
            F.cosine_embedding_loss(T(x1), T(x2), y, margin=0.1, reduction="none").data]
    t1, t2 = torch.from_numpy(x1), torch.from_numpy(x2)
    theirs = [tf.normalize(t1, dim=0), tf.cosine_similarity(t1, t2),
              tf.cosine_embedding_loss(t1, t2, torch.from_numpy(y), margin=0.1,
                                       reduction="none")]
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t.numpy(), rtol=1e-10, atol=1e-12)
    # squared triplet == torch's triplet_margin_loss on squared distances
    a = rng.standard_normal((6, 3))
    p, n = a + rng.standard_normal((6, 3)), a + rng.standard_normal((6, 3))
    ta, tp, tn = (torch.from_numpy(v) for v in (a, p, n))
    want = (((ta - tp) ** 2).sum(1) - ((ta - tn) ** 2).sum(1) + 0.2).clamp(min=0).mean()
    assert F.squared_triplet_margin_loss(T(a), T(p), T(n)).item() == pytest.approx(
        want.item(), rel=1e-12)
