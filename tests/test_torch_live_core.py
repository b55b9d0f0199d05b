"""Randomized comparisons of the engine ops with PyTorch, run only when torch is installed.

Shapes are drawn by hypothesis (including broadcasting pairs); forward and gradients are
compared in float64."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import scratchnet as sn  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def broadcast_pair(draw):
    nd = draw(st.integers(1, 4))
    shape = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    other = [draw(st.sampled_from([n, 1])) for n in shape]
    cut = draw(st.integers(0, nd - 1))
    return tuple(shape), tuple(other[cut:])


def both(arrays):
    ours = [sn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def compare(o_out, t_out, o_in, t_in, seed):
    np.testing.assert_allclose(o_out.data, t_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    cot = np.random.default_rng(seed).standard_normal(t_out.shape)
    (o_out * sn.tensor(cot)).sum().backward()
    (t_out * torch.tensor(cot)).sum().backward()
    for a, b in zip(o_in, t_in):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "maximum": (sn.maximum, torch.maximum),
    "minimum": (sn.minimum, torch.minimum),
    "pow": (lambda a, b: (a * a + 0.5) ** b, lambda a, b: (a * a + 0.5) ** b),
    "where": (lambda a, b: sn.where(a > b, a, b * 2), lambda a, b: torch.where(a > b, a, b * 2)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=broadcast_pair(), seed=st.integers(0, 2**16), swap=st.booleans())
def test_binary_ops_broadcast_like_torch(name, shapes, seed, swap):
    rng = np.random.default_rng(seed)
    sa, sb = shapes[::-1] if swap else shapes
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    (oa, ob), (ta, tb) = both([a, b])
    ours, theirs = BINARY[name]
    compare(ours(oa, ob), theirs(ta, tb), [oa, ob], [ta, tb], seed)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**16),
       data=st.data())
def test_reductions_like_torch(shape, seed, data):
    nd = len(shape)
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, nd - 1), min_size=1))))
    keep = data.draw(st.booleans())
    a = np.random.default_rng(seed).standard_normal(shape)
    for ours, theirs in [
        (lambda t: t.sum(axis=axes, keepdims=keep), lambda t: t.sum(dim=axes, keepdim=keep)),
        (lambda t: t.mean(axis=axes, keepdims=keep), lambda t: t.mean(dim=axes, keepdim=keep)),
        (lambda t: t.max(axis=axes, keepdims=keep), lambda t: t.amax(dim=axes, keepdim=keep)),
        (lambda t: t.logsumexp(axis=axes, keepdims=keep),
         lambda t: t.logsumexp(dim=axes, keepdim=keep)),
    ]:
        (o,), (t,) = both([a])
        compare(ours(o), theirs(t), [o], [t], seed)
    if int(np.prod([shape[i] for i in axes])) > 1:
        (o,), (t,) = both([a])
        compare(o.var(axis=axes, keepdims=keep), t.var(dim=axes, keepdim=keep), [o], [t], seed)


@SETTINGS
@given(b=st.integers(1, 3), n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5),
       seed=st.integers(0, 2**16), batched_left=st.booleans())
def test_matmul_like_torch(b, n, k, m, seed, batched_left):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((b, n, k) if batched_left else (n, k))
    c = rng.standard_normal((k, m) if batched_left else (b, k, m))
    (oa, oc), (ta, tc) = both([a, c])
    compare(oa @ oc, ta @ tc, [oa, oc], [ta, tc], seed)


@SETTINGS
@given(rows=st.integers(1, 5), cols=st.integers(1, 6), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 30.0, 1e3]))
def test_softmax_family_like_torch(rows, cols, seed, scale):
    a = np.random.default_rng(seed).standard_normal((rows, cols)) * scale
    for axis in (0, 1):
        (o,), (t,) = both([a])
        compare(o.softmax(axis=axis), t.softmax(dim=axis), [o], [t], seed)
        (o,), (t,) = both([a])
        compare(o.log_softmax(axis=axis), t.log_softmax(dim=axis), [o], [t], seed)


@SETTINGS
@given(n=st.integers(2, 6), seed=st.integers(0, 2**16), data=st.data())
def test_fancy_indexing_with_repeats_like_torch(n, seed, data):
    idx = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8))
    a = np.random.default_rng(seed).standard_normal((n, 3))
    (o,), (t,) = both([a])
    compare(o[idx], t[idx], [o], [t], seed)
