"""The engine: graph, accumulation, freeing, grad mode, dtypes, conventions, errors."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.autograd.engine import GraphFreedError


def leaf(a, dtype=np.float64):
    return sn.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


# -- graph ----------------------------------------------------------------------------------
def test_diamond_graph_sums_both_paths():
    x = leaf([1.0, 2.0, 3.0])
    a = x * 2          # da/dx = 2
    b = x.exp()        # db/dx = e^x
    y = (a * b).sum()  # dy/dx = 2 e^x + 2x e^x
    y.backward()
    xv = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(xv) + 2 * xv * np.exp(xv))


def test_tensor_used_twice_in_one_op():
    x = leaf([3.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, -4.0])


def test_shared_intermediate_consumed_by_many():
    x = leaf([0.5])
    h = x.tanh()
    y = h + h * h + h ** 3
    y.sum().backward()
    t = np.tanh(0.5)
    np.testing.assert_allclose(x.grad.data, (1 + 2 * t + 3 * t * t) * (1 - t * t))


def test_long_chain_has_no_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0001 ** 20_000], rtol=1e-9)


def test_two_backward_calls_accumulate():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])


def test_graph_is_freed_and_second_backward_explains():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_backward_frees_saved_arrays():
    x = leaf(np.ones(3))
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.ctx is None and node.freed


def test_nonscalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()
    y.backward(gradient=np.array([1.0, -1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, -2.0])


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sn.tensor([1.0]).sum().backward()


def test_gradient_shape_mismatch_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="gradient has shape"):
        (x * 2).backward(gradient=np.ones(3))


def test_retain_grad_on_intermediate():
    x = leaf([1.0, 2.0])
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, [6.0, 12.0])
    np.testing.assert_allclose(x.grad.data, [18.0, 36.0])


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = x * x.detach()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0])  # only one path


# -- grad mode -----------------------------------------------------------------------------
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with sn.no_grad():
        y = x * 2
        with sn.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @sn.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert sn.is_grad_enabled()


def test_only_float_tensors_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        sn.tensor([1, 2], requires_grad=True)


# -- dtypes ---------------------------------------------------------------------------------
def test_default_float32_and_scalar_never_upcasts():
    x = sn.tensor([1.0, 2.0])
    assert x.dtype == np.float32
    assert (x * 2.0).dtype == np.float32
    assert (2.5 / x).dtype == np.float32
    assert (x ** 2).dtype == np.float32
    assert sn.tensor([1, 2]).dtype == np.int64
    assert (sn.tensor([1, 2]) * 2.5).dtype == np.float32
    assert (sn.tensor([1, 2]) * 2).dtype == np.int64


def test_float64_flows_and_mixed_promotes_like_torch():
    x = sn.tensor(np.ones(3))
    assert x.dtype == np.float64
    assert (x * 2.0).exp().sum().dtype == np.float64
    f32 = sn.tensor([1.0, 2.0, 3.0])
    assert (x + f32).dtype == np.float64
    assert (f32 + sn.tensor([1, 2, 3])).dtype == np.float32


def test_mixed_dtype_gradient_comes_back_in_each_dtype():
    a = sn.tensor([1.0, 2.0], requires_grad=True)                        # float32
    b = sn.tensor(np.array([3.0, 4.0]), requires_grad=True)             # float64
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.data, [3.0, 4.0])


def test_gradients_keep_float32():
    x = sn.randn(4, 3, requires_grad=True)
    w = sn.randn(3, 2, requires_grad=True)
    (x @ w).relu().mean().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


# -- conventions at kinks (PyTorch's) ---------------------------------------------------------
def test_relu_abs_clamp_at_kinks_follow_pytorch():
    x = leaf([-1.0, 0.0, 1.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])
    x = leaf([-1.0, 0.0, 1.0])
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 1.0])
    x = leaf([-1.0, 0.0, 1.0])
    sn.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.1, 0.1, 1.0])
    x = leaf([-1.0, 0.0, 1.0])
    x.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])


def test_max_splits_gradient_among_ties():
    x = leaf([2.0, 5.0, 5.0, 5.0, 5.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0.25, 0.25, 0.25, 0.25])
    a, b = leaf([1.0, 2.0]), leaf([1.0, 3.0])
    sn.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.5, 0.0])
    np.testing.assert_allclose(b.grad.data, [0.5, 1.0])


def test_repeated_fancy_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0])
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])
    x = leaf(np.arange(6.0).reshape(2, 3))
    x[np.array([1, 1]), np.array([2, 2])].sum().backward()
    assert x.grad.data[1, 2] == 2.0 and x.grad.data.sum() == 2.0


def test_boolean_mask_and_tensor_index():
    x = leaf([-1.0, 2.0, -3.0, 4.0])
    y = x[x.detach() > 0]
    np.testing.assert_array_equal(y.data, [2.0, 4.0])
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0, 2.0])
    idx = sn.tensor([3, 0])
    np.testing.assert_array_equal(x[idx].data, [4.0, -1.0])


def test_log_softmax_of_huge_logits_is_finite():
    x = sn.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]])
    y = sn.log_softmax(x, axis=1)
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data[1], np.log([1 / 3] * 3), rtol=1e-6)
    np.testing.assert_allclose(sn.softmax(x, axis=1).data.sum(axis=1), [1.0, 1.0], rtol=1e-6)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise"):
        y = sn.sigmoid(sn.tensor([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])


def test_comparisons_return_bool_and_carry_no_grad():
    x = leaf([1.0, 2.0, 3.0])
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.data, [False, True, True])
    assert (x == x).data.all()


def test_split_chunk_shapes_like_pytorch():
    x = sn.arange(7.0)
    assert [p.shape for p in x.split(3)] == [(3,), (3,), (1,)]
    assert [p.shape for p in x.chunk(3)] == [(3,), (3,), (1,)]
    assert [p.shape for p in sn.arange(6.0).chunk(4)] == [(2,), (2,), (2,)]


def test_squeeze_unsqueeze_flatten():
    x = sn.zeros(2, 1, 3, 1)
    assert x.squeeze().shape == (2, 3)
    assert x.squeeze(1).shape == (2, 3, 1)
    assert x.squeeze(0).shape == (2, 1, 3, 1)   # not size 1: left alone, as in PyTorch
    assert x.unsqueeze(0).shape == (1, 2, 1, 3, 1)
    assert x.flatten(1).shape == (2, 3)
    assert x.flatten().shape == (6,)


# -- errors that teach ----------------------------------------------------------------------
def test_matmul_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: \(2, 3\) @ \(4, 5\): inner sizes 3 and 4"):
        sn.randn(2, 3) @ sn.randn(4, 5)


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        sn.randn(2, 3) + sn.randn(4)


def test_reshape_and_axis_errors():
    with pytest.raises(ValueError, match=r"cannot view 6 elements of shape \(2, 3\) as \(4,\)"):
        sn.zeros(2, 3).reshape(4)
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2"):
        sn.zeros(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match="cat along axis 0"):
        sn.cat([sn.zeros(2, 3), sn.zeros(2, 4)])


def test_item_and_bool_errors():
    with pytest.raises(ValueError, match="only a tensor with one element"):
        sn.zeros(2).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(sn.zeros(2))
    assert sn.tensor([[2.5]]).item() == 2.5


def test_numpy_refuses_when_it_would_drop_the_graph():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert isinstance(x.detach().numpy(), np.ndarray)
    assert np.asarray(x).dtype == np.float64


# -- random, creation, repr -------------------------------------------------------------------
def test_manual_seed_makes_draws_reproducible():
    sn.manual_seed(123)
    a = sn.randn(5).data.copy(), sn.rand(3).data.copy()
    sn.manual_seed(123)
    b = sn.randn(5).data.copy(), sn.rand(3).data.copy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    sn.manual_seed(124)
    assert not np.array_equal(sn.randn(5).data, a[0])


def test_creation_functions():
    assert sn.zeros(2, 3).shape == (2, 3) and sn.zeros((2, 3)).dtype == np.float32
    assert sn.ones(4, dtype="float64").dtype == np.float64
    assert sn.full((2,), 7).dtype == np.int64
    assert sn.full((2,), 7.0).dtype == np.float32
    assert sn.arange(5).dtype == np.int64 and sn.arange(0.0, 1.0, 0.5).shape == (2,)
    np.testing.assert_array_equal(sn.eye(2).data, np.eye(2))
    assert sn.zeros_like(sn.tensor(np.ones(2))).dtype == np.float64
    assert sn.tensor(np.float64(2.0)).dtype == np.float64


def test_repr_is_readable():
    r = repr(sn.tensor([1.0, 2.0], requires_grad=True))
    assert r == "tensor([1., 2.], requires_grad=True)"
    y = sn.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=<MulBackward>" in repr(y)
    assert "dtype=float64" in repr(sn.tensor(np.zeros(2)))


# -- custom Functions (what exercises do) -------------------------------------------------------
class Cube(sn.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * 3 * x * x


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * 3 * x   # forgot a factor of x


def test_custom_function_trains_and_checks():
    x = leaf([1.0, -2.0])
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 12.0])
    assert sn.gradcheck(Cube.apply, [leaf([0.3, -1.2, 2.0])]).passed
    report = sn.gradcheck(WrongCube.apply, [leaf([0.3, -1.2, 2.0])])
    assert not report.passed
    assert "MISMATCH" in str(report) and "worst at index" in str(report)


def test_custom_function_not_in_registry():
    assert Cube not in sn.REGISTRY.values()


def test_backward_returning_wrong_shape_is_caught():
    class Bad(sn.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad   # should be broadcast to x's shape

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"gradient of shape \(\) for an input of shape \(2,\)"):
        Bad.apply(x).backward()


def test_strict_dtype_mode_refuses_a_gradient_in_another_dtype():
    import scratchnet.autograd as A

    class Upcasting(sn.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.astype(np.float64) * 2

    before = A.strict_dtypes_enabled()
    try:
        A.set_strict_dtypes(True)
        x = sn.ones(3, requires_grad=True)
        with pytest.raises(TypeError, match="Upcasting.backward returned a float64 gradient "
                                            "for a float32 input"):
            Upcasting.apply(x).sum().backward()
        A.set_strict_dtypes(False)
        Upcasting.apply(x).sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    finally:
        A.set_strict_dtypes(before)


def test_the_test_suite_runs_in_strict_dtype_mode():
    import scratchnet.autograd as A

    assert A.strict_dtypes_enabled()


# -- a leaf's first gradient: handed over when nothing else holds it, copied otherwise ----------

from scratchnet.autograd.function import Function  # noqa: E402


class _Fork(Function):
    """y = a + b, whose backward hands the same array to both inputs; `made` records it."""
    made = []

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        g = grad * 2.0                              # a fresh array
        _Fork.made.append(g)
        return g, g


def test_a_gradient_another_object_holds_is_copied():
    x = sn.tensor(np.ones(3), requires_grad=True)
    _Fork.made.clear()
    y = _Fork.apply(x, sn.tensor(np.ones(3)))
    made = _Fork.made
    y.backward(np.ones(3))
    # `made` holds it: copied
    assert not np.shares_memory(x.grad.data, made[0])
    np.testing.assert_array_equal(x.grad.data, [2, 2, 2])


def test_one_array_for_two_leaves_gives_two_separate_grads():
    a = sn.tensor(np.ones(3), requires_grad=True)
    b = sn.tensor(np.ones(3), requires_grad=True)
    _Fork.apply(a, b).backward(np.ones(3))
    _Fork.made.clear()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, [2, 2, 2])


def test_the_callers_gradient_and_views_of_it_are_never_taken():
    a = sn.tensor(np.ones((2, 3)), requires_grad=True)
    b = sn.tensor(np.ones((2, 3)), requires_grad=True)
    seed = np.arange(6.0).reshape(2, 3)
    (a + b).backward(seed)                          # add passes the seed itself on
    c = sn.tensor(np.ones(6), requires_grad=True)
    c.reshape(2, 3).backward(seed)                  # a view of the seed
    for t in (a, b, c):
        assert not np.shares_memory(t.grad.data, seed)
    seed += 100
    np.testing.assert_array_equal(a.grad.data, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(c.grad.data, np.arange(6.0))


def test_a_gradient_a_hook_keeps_is_copied():
    kept = []
    w = sn.tensor(np.ones((3, 3)), requires_grad=True)
    w.register_hook(lambda g: kept.append(g))
    (sn.tensor(np.ones((2, 3))) @ w).sum().backward()
    assert not np.shares_memory(w.grad.data, kept[0].data)
    kept[0].data[...] = -1
    np.testing.assert_array_equal(w.grad.data, np.full((3, 3), 2.0))


def test_a_fresh_weight_gradient_is_handed_over():
    # a conv weight gradient is a reshaped fresh array: .grad takes it as it is
    from scratchnet.autograd import engine

    taken = []
    real = engine._accumulate_leaf
    w = sn.tensor(np.ones((2, 1, 3, 3)), requires_grad=True)

    def spy(t, g, owned=False):
        if t is w:
            taken.append((owned, g))
        real(t, g, owned)

    engine._accumulate_leaf = spy
    try:
        sn.nn.functional.conv2d(sn.tensor(np.ones((1, 1, 5, 5))), w).sum().backward()
    finally:
        engine._accumulate_leaf = real
    (owned, g), = taken
    assert owned and w.grad.data is g
    np.testing.assert_array_equal(w.grad.data, np.full((2, 1, 3, 3), 9.0))
