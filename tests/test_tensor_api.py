"""torch's Tensor vocabulary: T/mT/t(), size()/numel()/dim(), mm, `.data`, in-place updates and
the version counters that catch a value changed between forward and backward."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn


def leaf(shape, dtype=np.float64, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return sn.tensor(a, requires_grad=True)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_T_reverses_dims_for_every_rank(shape):
    x = leaf(shape)
    y = x.T
    # torch: x.T is x.permute(n-1, ..., 0); for 0-D and 1-D that is x itself
    np.testing.assert_array_equal(y.data, np.transpose(x.data))
    assert y.shape == tuple(reversed(shape))
    if len(shape) < 2:
        assert y is x
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad.data, np.transpose(g))


def test_mT_swaps_the_last_two_dims():
    x = leaf((2, 3, 4))
    y = x.mT
    assert y.shape == (2, 4, 3)
    np.testing.assert_array_equal(y.data, x.data.swapaxes(-1, -2))
    with pytest.raises(ValueError, match="matrices"):
        leaf((3,)).mT


def test_t_is_for_at_most_two_dims():
    x = leaf((2, 3))
    np.testing.assert_array_equal(x.t().data, x.data.T)
    v = leaf((4,))
    assert v.t() is v
    with pytest.raises(ValueError, match="<= 2 dimensions.*3-D"):
        leaf((2, 3, 4)).t()


def test_size_is_torchs_method_and_numel_counts():
    x = sn.zeros(2, 3, 5)
    assert x.size() == (2, 3, 5)
    assert x.size(0) == 2 and x.size(-1) == 5 and x.size(dim=1) == 3
    assert x.numel() == 30 and x.dim() == 3
    with pytest.raises(ValueError, match="out of range"):
        x.size(3)
    with pytest.raises(IndexError, match="0-d"):
        sn.tensor(1.0).size(0)
    # what learners copy from CS231n: scores.size() and scores.size(0)
    scores = sn.randn(4, 10)
    assert scores.size(0) == 4 and scores.size()[1] == 10


def test_parameter_counts_use_numel():
    model = nn.Linear(3, 2)
    assert sum(p.numel() for p in model.parameters()) == 3 * 2 + 2


def test_mm_multiplies_two_matrices_only():
    a = sn.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = sn.tensor([[5.0], [6.0]])
    np.testing.assert_array_equal(a.mm(b).data, [[17.0], [39.0]])
    np.testing.assert_array_equal(sn.mm(a, b).data, [[17.0], [39.0]])
    with pytest.raises(ValueError, match="2-D"):
        a.mm(sn.ones(2))
    with pytest.raises(ValueError, match="2 columns against 3 rows"):
        a.mm(sn.ones(3, 1))


def test_ndarray_operators_still_give_differentiable_tensors():
    x = leaf((3,))
    a = np.array([1.0, 2.0, 3.0])
    for y, dy in [(a * x, a), (a + x, np.ones(3)), (a - x, -np.ones(3)), (a / x, -a / x.data ** 2)]:
        assert isinstance(y, sn.Tensor)
        x.grad = None
        y.sum().backward()
        np.testing.assert_allclose(x.grad.data, dy)
    assert isinstance(a < x, sn.Tensor)
    with pytest.raises(TypeError):
        np.exp(x)


# manual update loops, as d2l and the PyTorch tutorials write them
def _quadratic_step_by_hand(update):
    w = sn.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(2):
        loss = (w * w).sum()          # d/dw = 2w
        loss.backward()
        update(w, 0.25)
    return w


def test_no_grad_update_loop_runs_as_written():
    def update(w, lr):
        with sn.no_grad():
            w -= lr * w.grad
            w.grad.zero_()

    w = _quadratic_step_by_hand(update)
    # each step w <- w - 0.25 * 2w = w / 2, twice
    np.testing.assert_allclose(w.data, [0.25, -0.5])
    assert w.requires_grad and w.is_leaf and w._version == 2
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])


def test_data_update_loop_runs_as_written():
    def update(w, lr):
        w.data[:] -= lr * w.grad
        w.grad = None

    w = _quadratic_step_by_hand(update)
    np.testing.assert_allclose(w.data, [0.25, -0.5])
    # writes through .data are not tracked, as in torch
    assert w._version == 0


def test_inplace_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = sn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*in-place"):
        w -= 1
    with pytest.raises(RuntimeError, match="in-place"):
        w.zero_()
    h = w * 2
    with pytest.raises(RuntimeError, match="not recorded"):
        h += 1


def test_inplace_ops_follow_torchs_casting_rule():
    i = sn.tensor([1, 2, 3])
    i += 2
    np.testing.assert_array_equal(i.data, [3, 4, 5])
    assert i.dtype == np.int64
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 0.5
    f = sn.tensor([1.0, 2.0])
    f *= sn.tensor([2.0, 3.0], dtype=sn.float64)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.data, [2.0, 6.0])
    f.add_(sn.tensor([1.0, 1.0]), alpha=2)
    np.testing.assert_array_equal(f.data, [4.0, 8.0])
    f.copy_([7, 9])
    f[0] = 1.0
    np.testing.assert_array_equal(f.data, [1.0, 9.0])
    assert f._version == 4
    with pytest.raises(RuntimeError, match="broadcast"):
        f += sn.ones(3)


def test_optimizer_step_between_forward_and_backward_is_an_error():
    # without version counters backward read the stepped weights: x.grad was -8 instead of 2
    x = sn.tensor([1.0], requires_grad=True)
    w = nn.Parameter(np.array([2.0], np.float32))
    y = (x * w).sum()
    w.grad = sn.tensor([5.0])
    sn.optim.SGD([w], lr=2.0).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; "
                                           "expected version 0"):
        y.backward()


def test_load_state_dict_between_forward_and_backward_is_an_error():
    model = nn.Linear(2, 1)
    x = sn.ones(1, 2, requires_grad=True)
    y = model(x).sum()
    model.load_state_dict({k: v.detach() * 0 + 3 for k, v in model.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_change_of_a_saved_output_is_an_error():
    x = sn.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()                   # exp's backward reads its output
    z = y.detach()                # shares the version counter, as in torch
    with sn.no_grad():
        z.mul_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_changes_that_backward_does_not_read_are_allowed():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    b = sn.tensor([3.0, 4.0])
    y = (x + b).sum()             # add saves neither input
    b += 1
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_gradient_after_step_and_fresh_forward_is_right():
    x = sn.tensor([1.0], requires_grad=True)
    w = nn.Parameter(np.array([2.0], np.float32))
    opt = sn.optim.SGD([w], lr=0.5)
    (x * w).sum().backward()
    opt.step()                    # w = 2 - 0.5 * 1 = 1.5
    x.grad = None
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.5])


def test_subpackages_are_attributes_loaded_on_first_use():
    import subprocess
    import sys

    code = (
        "import sys, scratchnet as sn\n"
        "lazy = ['models', 'exercises', 'lesson', 'train', 'recipes', 'plotting', 'cli']\n"
        "assert not [m for m in lazy if 'scratchnet.' + m in sys.modules], sys.modules\n"
        "m = sn.models.resnet18(num_classes=3)\n"
        "assert type(m).__name__ == 'ResNet'\n"
        "assert sn.train.fit is sys.modules['scratchnet.train'].fit\n"
        "assert callable(sn.lesson.check) and 'models' in dir(sn)\n"
        "assert isinstance(sn.nn.Linear(2, 3), sn.nn.Module) and sn.optim.SGD and sn.data\n"
        "try:\n"
        "    sn.no_such_thing\n"
        "except AttributeError as e:\n"
        "    assert 'no_such_thing' in str(e)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_the_tensor_api_is_the_class_plus_one_table():
    """Every Tensor attribute comes from the class body (autograd/tensor.py) or from the one
    table in ops/methods.py; no other module adds methods to Tensor."""
    import ast
    import os

    from scratchnet.autograd.tensor import Tensor
    from scratchnet.ops.methods import TENSOR_METHODS

    root = os.path.dirname(sn.__file__)
    src = open(os.path.join(root, "autograd", "tensor.py"), encoding="utf-8").read()
    cls = next(n for n in ast.parse(src).body if isinstance(n, ast.ClassDef)
               and n.name == "Tensor")
    in_class = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_class.add(node.name)
        elif isinstance(node, ast.Assign):
            in_class.update(t.id for t in node.targets if isinstance(t, ast.Name))
    python_made = {"__module__", "__doc__", "__slots__", "__weakref__", "__qualname__",
                   "__firstlineno__", "__static_attributes__", "__annotations__",
                   "__slotnames__"}     # copyreg adds it when a tensor is pickled
    stray = sorted(k for k in vars(Tensor) if k not in in_class and k not in TENSOR_METHODS
                   and k not in Tensor.__slots__ and k not in python_made)
    assert not stray, f"Tensor attributes defined outside the class and the table: {stray}"
    for k in ("T", "mT", "t", "mm", "view", "sum", "__add__", "__getitem__"):
        assert k in TENSOR_METHODS
    for k in ("size", "numel", "dim", "add_", "zero_", "backward", "detach"):
        assert k in in_class
    # and no module assigns Tensor attributes itself
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".py") or f == "methods.py":
                continue
            tree = ast.parse(open(os.path.join(dirpath, f), encoding="utf-8").read())
            for node in ast.walk(tree):
                targets = node.targets if isinstance(node, ast.Assign) else []
                for t in targets:
                    assert not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                                and t.value.id == "Tensor"), f"{f}:{node.lineno} patches Tensor"
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                    arg = node.args[0] if node.args else None
                    assert not (isinstance(arg, ast.Name) and arg.id == "Tensor"), \
                        f"{f}:{node.lineno} patches Tensor"


def test_views_share_the_version_counter():
    w = nn.Parameter(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    x = sn.ones(4, requires_grad=True)
    y = (x * w).sum()
    v = w.view(2, 2)                 # a view: changing it changes w
    assert v._version_cell is w._version_cell
    with sn.no_grad():
        v.mul_(0)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    # an op that makes a new array keeps its own counter
    assert (w * 2)._version_cell is not w._version_cell


def test_writing_a_value_that_requires_grad_in_place_is_refused():
    # torch would record these; dropping the gradient silently is what must not happen
    w = sn.tensor([1.0, 2.0], requires_grad=True)
    buf = sn.zeros(2)
    for write in (lambda: buf.add_(w), lambda: buf.copy_(w * 2),
                  lambda: buf.__setitem__(0, w[0])):
        with pytest.raises(RuntimeError, match="requires grad.*no gradient would reach it"):
            write()
    buf.copy_(w.detach())
    with sn.no_grad():
        buf += w
    np.testing.assert_array_equal(buf.data, [2.0, 4.0])
