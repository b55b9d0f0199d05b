"""The engine's fast paths give the same gradients as the general ones: same-shape add and
sub pass the gradient through, broadcasting still sums it back exactly, a Python scalar
operand is a plain constant, 2-D matmul skips the batch handling, and the backward walk
orders nodes by creation."""
import numpy as np
import pytest

import scratchnet as sn


def leaf(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return sn.tensor(rng.integers(-4, 5, size=shape).astype(dtype), requires_grad=True)


def seed_grad(shape, seed=9):
    # small integers: every sum below is exact in float64, so the checks use equality
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(np.float64)


def test_same_shape_add_and_sub_pass_the_gradient_through():
    g = seed_grad((2, 3))
    a, b = leaf((2, 3), 0), leaf((2, 3), 1)
    (a + b).backward(g)
    np.testing.assert_array_equal(a.grad.data, g)
    np.testing.assert_array_equal(b.grad.data, g)
    a, b = leaf((2, 3), 0), leaf((2, 3), 1)
    (a - b).backward(g)
    np.testing.assert_array_equal(a.grad.data, g)
    np.testing.assert_array_equal(b.grad.data, -g)
    # the two .grad arrays are separate even though one array came back for both inputs
    a, b = leaf((2, 3), 0), leaf((2, 3), 1)
    (a + b).backward(g)
    a.grad.data[0, 0] = 100.0
    assert b.grad.data[0, 0] == g[0, 0]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 1), (1, 3)),
                                    ((2, 3), ()), ((4, 2, 3), (2, 1))])
def test_broadcasting_sums_the_gradient_back_exactly(op, shapes):
    sa, sb = shapes
    a = leaf(sa, 2)
    b = sn.tensor(np.random.default_rng(3).choice([-2.0, -1.0, 1.0, 2.0, 4.0], size=sb),
                  requires_grad=True)
    out_shape = np.broadcast_shapes(sa, sb)
    g = seed_grad(out_shape)
    getattr(sn, op)(a, b).backward(g)
    A = np.broadcast_to(a.data, out_shape)
    B = np.broadcast_to(b.data, out_shape)
    da, db = {"add": (g, g), "sub": (g, -g), "mul": (g * B, g * A),
              "div": (g / B, -g * A / (B * B))}[op]

    def summed(d, shape):
        lead = d.ndim - len(shape)
        d = d.sum(axis=tuple(range(lead))) if lead else d
        return d.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)

    np.testing.assert_array_equal(a.grad.data, summed(da, sa))
    np.testing.assert_array_equal(b.grad.data, summed(db, sb))
    assert a.grad.shape == sa and b.grad.shape == sb


def test_a_python_scalar_is_a_constant_of_the_tensors_dtype():
    x = sn.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = x * 0.5
    assert y.dtype == np.float32
    assert y.grad_fn.inputs[1] is None          # no tensor, no graph entry for the constant
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(3, 0.5, np.float32))
    assert x.grad.dtype == np.float32

    x = sn.tensor(np.array([1.0, -2.0, 4.0]), requires_grad=True)
    (1.0 - x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, -1.0, -1.0])
    x.grad = None
    (2.0 / x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, -2.0 / x.data ** 2)


def test_an_integer_tensor_meets_a_float_scalar_or_a_division_in_the_default_float():
    i = sn.tensor(np.array([1, 2, 3]))
    assert (i * 0.5).dtype == np.float32
    np.testing.assert_array_equal((i * 0.5).data, [0.5, 1.0, 1.5])
    assert (i / 2).dtype == np.float32 and (2 / i).dtype == np.float32
    np.testing.assert_array_equal((i / 2).data, [0.5, 1.0, 1.5])
    np.testing.assert_allclose((2 / i).data, [2.0, 1.0, 2 / 3], rtol=1e-7)
    assert (i * 2).dtype == np.int64


def test_two_dimensional_matmul_gradients():
    a, b = leaf((3, 4), 4), leaf((4, 2), 5)
    g = seed_grad((3, 2))
    (a @ b).backward(g)
    np.testing.assert_array_equal(a.grad.data, g @ b.data.T)
    np.testing.assert_array_equal(b.grad.data, a.data.T @ g)
    # only one side requires grad: the other gets none
    c = sn.tensor(a.data.copy())
    (c @ b).backward(g)
    assert c.grad is None


def test_backward_waits_for_every_use_of_an_early_tensor():
    # y is made early and read both at the end of a long path and directly by the last op:
    # its backward must run once, after both gradients have arrived
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    z = y
    for _ in range(5):
        z = z + 1.0
    out = (z * y).sum()              # d/dy = z + y = 2y + 5
    out.backward()
    np.testing.assert_array_equal(y.grad.data, 2 * y.data + 5)
    np.testing.assert_array_equal(x.grad.data, 3 * (2 * y.data + 5))


def test_an_unused_output_of_a_several_output_op_gets_zeros():
    a = sn.tensor(np.arange(6.0), requires_grad=True)
    p0, p1, p2 = sn.split(a, 2)
    (p0 * 1.0 + p2 * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1, 1, 0, 0, 3, 3])


def test_an_in_place_change_after_forward_is_still_caught():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = sn.tensor(np.array([3.0, 4.0]))
    y = (x * c).sum()
    c.mul_(2)                        # Mul saved c for the gradient of x
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*shape \(2,\)"
                                           r".*version 1; expected version 0"):
        y.backward()


@pytest.mark.parametrize("value", [0.8, [[0.8, -1.5]]])
def test_tanh_backward_keeps_the_shape_of_its_input_even_0_d(value):
    # tanh's backward writes 1 - tanh^2 in place; a 0-d input must not become a NumPy scalar
    x = sn.tensor(value, dtype=sn.float64, requires_grad=True)
    x.tanh().sum().backward()
    expected = 1 - np.tanh(np.asarray(value)) ** 2
    assert x.grad.shape == x.shape
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-15)
