"""Hooks with torch's semantics: Tensor.register_hook (what Grad-CAM uses to read a feature
map's gradient), the forward / forward-pre hooks of nn.Module with prepend and with_kwargs,
and its full backward (pre-)hooks. Expected values are worked by hand; with torch installed
the same programs run in torch too and must agree, call for call."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn


def arr(t):
    """The values of a scratchnet or a torch tensor as an ndarray."""
    return t.data.copy() if isinstance(t, sn.Tensor) else t.detach().numpy().copy()


def leaf(values):
    return sn.tensor(np.asarray(values, np.float64), requires_grad=True)


def test_hook_on_intermediate_replaces_the_gradient_that_flows_on():
    x = leaf([1.0, 2.0])
    y = x * 3                                   # y = [3, 6]
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    y.register_hook(lambda g: g * 2)
    (y * y).sum().backward()                    # dz/dy = 2y = [6, 12]
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.data, [36.0, 72.0])     # 3 * 2 * [6, 12]


def test_hook_sees_the_sum_over_every_use_once():
    x = leaf([1.0, -1.0])
    y = x * 1
    calls = []
    y.register_hook(lambda g: calls.append(g.data.copy()))
    ((y * 2).sum() + (y * 5).sum()).backward()  # a diamond: 2 + 5 on each element
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [7.0, 7.0])


def test_leaf_hook_runs_once_before_accumulation_and_on_every_backward():
    x = leaf([1.0, 2.0])
    calls = []

    def double(g):
        calls.append(g.data.copy())
        return g * 2

    x.register_hook(double)
    (x * 3 + x * 4).sum().backward()            # total 7, doubled
    np.testing.assert_allclose(x.grad.data, [14.0, 14.0])
    assert len(calls) == 1
    (x * x).sum().backward()                    # 2x = [2, 4], doubled, added
    np.testing.assert_allclose(x.grad.data, [18.0, 22.0])


def test_retain_grad_keeps_the_gradient_after_the_hooks_whatever_the_order():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)           # registered after retain_grad: still first
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.data, [60.0, 120.0])


def test_retain_grad_on_the_root():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.retain_grad()
    y.backward()
    assert float(y.grad.data) == 1.0


def test_remove_takes_the_hook_off():
    x = leaf([1.0])
    y = x * 2
    handle = y.register_hook(lambda g: g * 0)
    handle.remove()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        sn.tensor([1.0]).register_hook(lambda g: g)
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: sn.tensor(np.zeros(3)))
    with pytest.raises(RuntimeError, match="changed the size"):
        y.sum().backward()
    z = leaf([1.0]) * 2
    z.register_hook(lambda g: g.float())
    with pytest.raises(RuntimeError, match="changed the type"):
        z.sum().backward()


def test_module_hook_order_prepend_and_kwargs():
    class Affine(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = Affine()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("a"))
    m.register_forward_hook(lambda mod, a, o: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {"scale": kw["scale"] * 10}),
                                with_kwargs=True)
    seen = {}
    m.register_forward_hook(lambda mod, a, kw, o: seen.update(kw=dict(kw)), with_kwargs=True)
    out = m(sn.tensor([1.0, 2.0]), scale=2.0)
    np.testing.assert_allclose(out.data, [20.0, 40.0])
    assert order == ["first", "a"] and seen["kw"] == {"scale": 20.0}
    m.register_forward_pre_hook(lambda mod, a, kw: a, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple of \(new_args, new_kwargs\)"):
        m(sn.tensor([1.0]), scale=1.0)


def test_against_torch_live():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    results = {}
    for lib in ("sn", "torch"):
        if lib == "sn":
            x, W = leaf(a), leaf(w)
        else:
            x = torch.tensor(a, requires_grad=True)
            W = torch.tensor(w, requires_grad=True)
        seen = []
        h = x @ W
        h.register_hook(lambda g: seen.append(arr(g)))
        h.retain_grad()
        h.register_hook(lambda g: g * g)        # a non-linear replacement
        x.register_hook(lambda g: g + 1)
        out = (h.tanh() * h).sum()
        out.backward()
        results[lib] = [seen[0], arr(h.grad), arr(x.grad), arr(W.grad)]
    for ours, theirs in zip(results["sn"], results["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_module_hooks_against_torch_live():
    torch = pytest.importorskip("torch")
    logs = {}
    for lib in ("sn", "torch"):
        mod = nn.ReLU() if lib == "sn" else torch.nn.ReLU()
        log = []
        mod.register_forward_pre_hook(lambda m, a: log.append("pre1"))
        mod.register_forward_pre_hook(lambda m, a: log.append("pre0"), prepend=True)
        mod.register_forward_hook(lambda m, a, o: log.append("fwd1"))
        h = mod.register_forward_hook(lambda m, a, o: log.append("fwd0"), prepend=True)
        mod.register_forward_pre_hook(lambda m, a: a[0] - 1)         # a bare value
        t = sn.tensor([0.5, 2.0]) if lib == "sn" else torch.tensor([0.5, 2.0])
        out = mod(t)
        h.remove()
        mod(t)
        logs[lib] = (log, arr(out).tolist())
    assert logs["sn"] == logs["torch"]
    assert logs["sn"][1] == [0.0, 1.0]


def test_full_backward_hook_by_hand():
    # y = 2x (a Linear with weight 2, no bias), loss = sum(3 * y): grad_output = 3,
    # grad_input = 6; the hook doubles grad_input, so x.grad = 12
    lin = nn.Linear(1, 1, bias=False)
    lin.weight.data[...] = 2.0
    seen = []

    def hook(module, grad_input, grad_output):
        seen.append((grad_input[0].data.copy(), grad_output[0].data.copy()))
        return (grad_input[0] * 2,)

    lin.register_full_backward_hook(hook)
    x = sn.tensor([[1.0], [5.0]], requires_grad=True)
    (lin(x) * 3).sum().backward()
    np.testing.assert_allclose(seen[0][1], [[3.0], [3.0]])
    np.testing.assert_allclose(seen[0][0], [[6.0], [6.0]])
    np.testing.assert_allclose(x.grad.data, [[12.0], [12.0]])
    # the weight's gradient is the module's own business: sum(3 * x) = 18, not doubled
    np.testing.assert_allclose(lin.weight.grad.data, [[18.0]])


# torch warns that the first layer's hook fires from the output side: that case is tested
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hooks_against_torch_live():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x0, w0, v0 = rng.normal(size=(2, 1, 5, 5)), rng.normal(size=(3, 1, 3, 3)), \
        rng.normal(size=(2, 27))
    results = {}
    for lib in ("sn", "torch"):
        mod = nn if lib == "sn" else torch.nn
        net = mod.Sequential(mod.Conv2d(1, 3, 3, bias=False), mod.ReLU(), mod.Flatten(),
                             mod.Linear(27, 2, bias=False)).double()
        to = sn.tensor if lib == "sn" else torch.tensor
        with (sn.no_grad() if lib == "sn" else torch.no_grad()):
            net[0].weight.copy_(to(w0))
            net[3].weight.copy_(to(v0))
        log = []
        net[1].register_full_backward_hook(
            lambda m, gi, go: (log.append(("relu", arr(gi[0]), arr(go[0]))), (gi[0] * 2,))[1])
        net[3].register_full_backward_pre_hook(
            lambda m, go: (log.append(("pre", arr(go[0]))), (go[0] * 3,))[1])
        # the first layer's input needs no grad: its hook gets grad_input (None,)
        net[0].register_full_backward_hook(
            lambda m, gi, go: log.append(("conv", gi[0] is None, arr(go[0]))))
        x = to(x0)
        out = net(x)
        (out * out).sum().backward()
        results[lib] = (log, arr(net[0].weight.grad), arr(net[3].weight.grad))
    ours, theirs = results["sn"], results["torch"]
    assert [e[0] for e in ours[0]] == [e[0] for e in theirs[0]] == ["pre", "relu", "conv"]
    for a, b in zip(ours[0], theirs[0]):
        for u, v in zip(a[1:], b[1:]):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    for u, v in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_gradients_through_observing_hooks_are_unchanged_gradcheck():
    # the identity ops a full backward hook puts around a module must not change any
    # gradient: float64 gradcheck of a two-input module with hooks that only look
    class Bilinear(nn.Module):
        def forward(self, a, b):
            return (a * b).tanh(), a - b

    m = Bilinear()
    calls = []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append(len(gi)))
    m.register_full_backward_pre_hook(lambda mod, go: calls.append(len(go)))
    a = sn.tensor(np.random.default_rng(0).normal(size=(3, 2)), requires_grad=True)
    b = sn.tensor(np.random.default_rng(1).normal(size=(3, 2)), requires_grad=True)
    report = sn.gradcheck(lambda u, v: m(u, v)[0] * 2 + m(u, v)[1], [a, b])
    assert report.passed, report
    assert calls and set(calls) == {2}
