"""A convolution pass shared between threads of our own (scratchnet/_threads.py): how the
chunks are cut into runs, that a shared pass gives the definition (forward, transposed and
both gradients, with bands of one image and several images per chunk), that it is the same
from call to call, that OpenBLAS gets its thread count back (also after an error), that a
second caller and a forked child still get the right answer.

Expected values come from the definition in plain NumPy (tests/test_conv.py's textbook
im2col) or from hand-worked lists; never from the shared pass itself.
"""
import multiprocessing
import signal
import threading

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import _threads
from scratchnet.kernels import winograd as KW
from scratchnet.ops import conv as conv_op
from tests.test_conv import _textbook_conv


# -- cutting the chunks into runs ------------------------------------------------------------

@pytest.mark.parametrize("sizes,parts,cuts,runs", [
    ([1] * 6, 2, None, [[0, 1, 2], [3, 4, 5]]),
    ([1] * 6, 3, None, [[0, 1], [2, 3], [4, 5]]),
    ([7, 7, 2], 2, None, [[0], [1, 2]]),            # ResNet's 7 images per chunk
    ([5, 1, 1, 1, 1, 1], 2, None, [[0], [1, 2, 3, 4, 5]]),
    ([1] * 6, 2, [True, False] * 3, [[0, 1, 2, 3], [4, 5]]),   # two bands per image
    ([4, 3] * 4, 2, [True, False] * 4, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    ([1, 1], 4, None, [[0], [1]]),                  # fewer items than parts
    ([3], 2, None, [[0]]),
    ([], 2, None, []),
])
def test_split_makes_contiguous_runs_of_about_equal_size(sizes, parts, cuts, runs):
    assert _threads.split(sizes, parts, cuts) == runs


def test_a_pass_is_shared_only_where_columns_outnumber_the_filters(monkeypatch):
    monkeypatch.setattr(_threads, "workers", lambda: 2)
    # LeNet-5's conv2 at batch 32 (7.7 million multiply-adds): too little work to hand out
    g = conv_op._conv_geometry("conv2d", np.empty((32, 6, 14, 14), np.float32),
                               np.empty((16, 6, 5, 5), np.float32), None, 1, 0, 1, 1)
    chunks = g.chunks(4)
    monkeypatch.setattr(_threads, "MIN_WORK", 16 * 150 * 32 * 100 // 2 + 1)
    assert conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w)) == ([chunks], 2)
    monkeypatch.setattr(_threads, "MIN_WORK", 16 * 150 * 32 * 100 // 2)
    runs, split = conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w))
    assert len(runs) == 2 and split == 1
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    # ResNet-18's 3x3 layer on 56x56 maps: 16 bands of up to 1,792 columns, 64 filters
    g = conv_op._conv_geometry("conv2d", np.empty((8, 64, 56, 56), np.float32),
                               np.empty((64, 64, 3, 3), np.float32), None, 1, 1, 1, 1)
    chunks = g.chunks(4)
    width = conv_op._chunk_columns(chunks, g.out_w)
    runs, split = conv_op._share(g, chunks, width, whole_images=True)
    assert [len(r) for r in runs] == [8, 8] and runs[0] + runs[1] == chunks and split == 1
    # its 512-filter layer on 7x7 maps: 196 columns per chunk, fewer than 2 x 512: one run,
    # each product's rows cut between the two threads
    g = conv_op._conv_geometry("conv2d", np.empty((8, 512, 7, 7), np.float32),
                               np.empty((512, 512, 3, 3), np.float32), None, 1, 1, 1, 1)
    chunks = g.chunks(4)
    assert conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w)) == ([chunks], 2)
    # fewer chunks than threads: a chunk's images are cut in parts, or one image's rows
    g = conv_op._conv_geometry("conv2d", np.empty((8, 64, 56, 56), np.float32),
                               np.empty((128, 64, 1, 1), np.float32), None, 2, 0, 1, 1)
    chunks = g.chunks(4)
    assert chunks == [(0, 8, 0, 28)]
    runs = conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w))
    assert runs == ([[(0, 4, 0, 28)], [(4, 4, 0, 28)]], 1)
    # ResNet-18's 128 filters on 8x8 maps at batch 16: 14 + 2 images become 8 + 8
    g = conv_op._conv_geometry("conv2d", np.empty((16, 128, 8, 8), np.float32),
                               np.empty((128, 128, 3, 3), np.float32), None, 1, 1, 1, 1)
    chunks = g.chunks(4)
    assert chunks == [(0, 14, 0, 8), (14, 2, 0, 8)]
    runs = conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w))
    assert runs == ([[(0, 8, 0, 8)], [(8, 8, 0, 8)]], 1)
    g = conv_op._conv_geometry("conv2d", np.empty((1, 16, 20, 20), np.float32),
                               np.empty((8, 16, 3, 3), np.float32), None, 1, 1, 1, 1)
    chunks = g.chunks(4)
    width = conv_op._chunk_columns(chunks, g.out_w)
    assert conv_op._share(g, chunks, width) == ([[(0, 1, 0, 10)], [(0, 1, 10, 20)]], 1)
    # ...but the bands of one image stay in one run where they add onto each other
    # (one run: its products' rows are cut instead)
    assert conv_op._share(g, chunks, width, whole_images=True) == (
        [[(0, 1, 0, 10), (0, 1, 10, 20)]], 2)
    monkeypatch.setattr(_threads, "workers", lambda: 1)
    g = conv_op._conv_geometry("conv2d", np.empty((8, 64, 56, 56), np.float32),
                               np.empty((64, 64, 3, 3), np.float32), None, 1, 1, 1, 1)
    chunks = g.chunks(4)
    assert conv_op._share(g, chunks, conv_op._chunk_columns(chunks, g.out_w)) == ([chunks], 1)


# -- a shared pass gives the definition ------------------------------------------------------

def _shared(monkeypatch, parts, budget, way="runs"):
    """Share every pass between `parts` threads, columns cut to `budget` bytes: by runs of
    chunks, or (way="rows") each product by rows."""
    monkeypatch.setattr(_threads, "workers", lambda: parts)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    if way == "runs":
        monkeypatch.setattr(conv_op, "SHARE_MIN_COLUMNS_PER_FILTER", 0)
    else:
        monkeypatch.setattr(conv_op, "SHARE_MIN_COLUMNS_PER_FILTER", 10**9)
        monkeypatch.setattr(_threads, "MIN_ROWS", 1)
    monkeypatch.setattr(conv_op, "COLUMN_BUDGET_BYTES", budget)
    monkeypatch.setattr(conv_op, "MIN_CHUNK_COLUMNS", 1)


# (N, C, H, W), (K, C/g, kh, kw), stride, padding, dilation, groups, budget in bytes
CASES = [
    ((5, 4, 9, 8), (6, 2, 3, 2), (1, 2), (1, 2), (2, 1), 2, 200),    # bands, 2 groups
    ((7, 3, 6, 6), (40, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, 3000),  # 2-3 images per chunk
    ((4, 2, 11, 10), (5, 2, 5, 3), (2, 1), (2, 0), (1, 2), 1, 500),  # strided bands
    ((3, 5, 7, 7), (64, 5, 3, 3), (1, 1), (1, 1), (1, 1), 1, 1),     # one row per chunk
    ((5, 3, 6, 6), (40, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1, 10**6),  # one chunk, cut up
    ((1, 3, 9, 7), (40, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, 10**6),  # one image, cut up
]


@pytest.mark.parametrize("way", ["runs", "rows"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups,budget", CASES)
def test_shared_conv2d_gives_the_definition(monkeypatch, way, parts, xs, ws, stride, padding,
                                            dilation, groups, budget):
    _shared(monkeypatch, parts, budget, way)
    rng = np.random.default_rng(sum(xs) + parts)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    kws = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = conv_op._conv_geometry("conv2d", x, w, None, **kws)
    width = conv_op._chunk_columns(g.chunks(8), g.out_w)
    runs, split = conv_op._share(g, g.chunks(8), width)
    assert len(runs) == (min(parts, g.N * g.out_h) if way == "runs" else 1)
    assert split == (1 if way == "runs" else parts)
    products = []
    if way == "rows":       # every product is cut into `parts` blocks of rows
        real = conv_op._threads.run_all
        monkeypatch.setattr(conv_op._threads, "run_all",
                            lambda tasks: products.append(len(tasks)) or real(tasks))
    assert not g.direct_fits() and not g.is_pointwise and not g.is_depthwise
    xt, wt = sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, **kws)
    dy = rng.standard_normal(out.shape)
    (out * sn.tensor(dy)).sum().backward()
    ref_out, ref_dx, ref_dw = _textbook_conv(x, w, dy, stride, padding, dilation, groups)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, ref_dw, rtol=1e-12, atol=1e-12)
    if way == "rows":
        assert products and max(products) == parts


def test_shared_conv_transpose2d_is_the_adjoint_of_the_definition(monkeypatch):
    # conv_transpose2d's forward is the col2im pass, its backward the im2col pass
    _shared(monkeypatch, 2, 300)
    rng = np.random.default_rng(5)
    y, w = rng.standard_normal((5, 6, 4, 5)), rng.standard_normal((6, 3, 3, 3))
    image = rng.standard_normal((5, 3, 9, 11))
    yt, wt = sn.tensor(y, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv_transpose2d(yt, wt, stride=2, padding=0)
    assert out.shape == image.shape
    (out * sn.tensor(image)).sum().backward()
    # <conv_t(y, W), image> = <y, conv(image, W)>: its gradients are conv(image, W) for y
    # and conv2d's weight gradient of image against y for W
    conv_out, _, conv_dw = _textbook_conv(image, w, y, (2, 2), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(yt.grad.data, conv_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, conv_dw, rtol=1e-12, atol=1e-12)
    _, conv_dx, _ = _textbook_conv(np.zeros_like(image), w, y, (2, 2), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(out.data, conv_dx, rtol=1e-12, atol=1e-12)


def test_a_shared_weight_gradient_is_the_same_from_call_to_call(monkeypatch):
    _shared(monkeypatch, 2, 2000)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 1, 1, 1)
    dy = rng.standard_normal(g.grid_shape).astype(np.float32)
    first = conv_op._im2col_pass(g, x, grid=dy)[1]
    for _ in range(5):
        assert np.array_equal(conv_op._im2col_pass(g, x, grid=dy)[1], first)
    _, _, ref = _textbook_conv(x.astype(np.float64), w.astype(np.float64),
                               dy.astype(np.float64), (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(first, ref, rtol=1e-4, atol=1e-4)


# -- OpenBLAS's thread count, errors, other callers ------------------------------------------

needs_openblas = pytest.mark.skipif(not _threads.available(),
                                    reason="NumPy's BLAS is not an OpenBLAS found here")


@needs_openblas
def test_openblas_gets_its_thread_count_back_also_after_an_error():
    setter, getter = _threads._blas
    before = getter()
    try:
        setter(3)
        def task():
            return getter()

        assert _threads.run_all([task, task]) == [1, 1]   # one OpenBLAS thread each
        assert getter() == 3

        def fails():
            raise ValueError("a task's error")

        with pytest.raises(ValueError, match="a task's error"):
            _threads.run_all([task, fails])
        assert getter() == 3
        with pytest.raises(ValueError, match="a task's error"):
            _threads.run_all([fails, task])
        assert getter() == 3
        assert len(_threads.run_all([task, task])) == 2      # the lock was released
    finally:
        setter(before)


@needs_openblas
def test_own_threads_holds_openblas_to_one_thread_and_reports_the_count_it_had():
    setter, getter = _threads._blas
    before = getter()
    seen = []

    @_threads.own_threads
    def op(fail=False, nested=False):
        seen.append((getter(), _threads.workers()))
        if nested:
            op()
        if fail:
            raise ValueError("the op's error")
        return "done"

    try:
        setter(3)
        assert op(nested=True) == "done"
        assert seen == [(1, 3), (1, 3)] and getter() == 3 and _threads.workers() == 3
        with pytest.raises(ValueError, match="the op's error"):
            op(fail=True)
        assert getter() == 3 and _threads.workers() == 3
        setter(1)
        seen.clear()
        op()
        assert seen == [(1, 1)] and getter() == 1
    finally:
        setter(before)


@needs_openblas
@pytest.mark.parametrize("op", ["conv2d", "pointwise", "winograd", "linear", "matmul"])
def test_ops_run_their_products_with_openblas_on_one_thread(monkeypatch, op):
    # what an op's products see of OpenBLAS: one thread, unless cut between ours; after the
    # op OpenBLAS has its own count back
    setter, getter = _threads._blas
    before = getter()
    counts = []
    real = _threads.matmul_by_rows

    def spy(a, b, out=None, split=None):
        counts.append(getter())
        return real(a, b, out, split)

    monkeypatch.setattr(_threads, "matmul_by_rows", spy)
    transform = KW.input_transform      # Winograd's runs: right before their products

    def spy_transform(*args):
        counts.append(getter())
        return transform(*args)

    monkeypatch.setattr(KW, "input_transform", spy_transform)
    rng = np.random.default_rng(3)
    try:
        setter(2)
        if op == "matmul":          # big enough to cut: 3 x 64 x 40 x 48 multiply-adds
            monkeypatch.setattr(_threads, "MIN_WORK", 3 * 64 * 40 * 48 // 2)
            a = sn.tensor(rng.standard_normal((3, 64, 40)), requires_grad=True)
            b = sn.tensor(rng.standard_normal((40, 48)), requires_grad=True)
            out = a @ b
            want = a.data @ b.data
        elif op == "linear":
            a = sn.tensor(rng.standard_normal((5, 4)), requires_grad=True)
            b = sn.tensor(rng.standard_normal((6, 4)), requires_grad=True)
            out = F.linear(a, b)
            want = a.data @ b.data.T
        else:
            k, c = {"conv2d": (3, 2), "pointwise": (1, 2), "winograd": (3, 64)}[op]
            a = sn.tensor(rng.standard_normal((16, c, 16, 16)), requires_grad=True)
            b = sn.tensor(rng.standard_normal((64, c, k, k)), requires_grad=True)
            g = conv_op._conv_geometry("conv2d", a.data, b.data, None, 1, k // 2, 1, 1)
            assert g.winograd_fits() == (op == "winograd")
            assert g.is_pointwise == (op == "pointwise")
            out = F.conv2d(a, b, padding=k // 2)
            want = _textbook_conv(a.data, b.data, np.zeros(out.shape), (1, 1),
                                  (k // 2, k // 2), (1, 1), 1)[0]
        out.sum().backward()
        np.testing.assert_allclose(out.data, want, rtol=1e-10, atol=1e-10)
        assert getter() == 2
        assert counts and set(counts) == {1}
    finally:
        setter(before)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no POSIX signal masks")
def test_pool_threads_leave_ctrl_c_to_the_main_thread():
    def mask():
        return signal.pthread_sigmask(signal.SIG_BLOCK, [])

    here, pool = _threads.run_all([mask, mask])     # the second runs on the pool
    assert {signal.SIGINT, signal.SIGTERM} <= pool
    assert signal.SIGINT not in here


def test_a_second_caller_runs_its_tasks_itself_while_a_pass_is_shared():
    inside, release = threading.Event(), threading.Event()
    where = {}

    def first():
        inside.set()
        release.wait(10)
        return "first"

    def mark(name):
        def task():
            where[name] = threading.current_thread()
            return name
        return task

    runner = threading.Thread(target=lambda: where.setdefault(
        "result", _threads.run_all([first, mark("helper")])))
    runner.start()
    assert inside.wait(10)
    caller = threading.current_thread()
    assert _threads.run_all([mark("a"), mark("b")]) == ["a", "b"]
    assert where["a"] is caller and where["b"] is caller
    release.set()
    runner.join(10)
    assert where["result"] == ["first", "helper"]
    assert where["helper"] is not runner


def _conv_in_child(queue):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((40, 3, 3, 3))
    queue.put((x, w, F.conv2d(sn.tensor(x), sn.tensor(w), padding=1).data))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="no fork on this platform")
def test_a_forked_child_shares_its_passes_with_threads_of_its_own(monkeypatch):
    _shared(monkeypatch, 2, 500)
    # the parent's pool exists before the fork; the child must not wait on its threads
    # (40 filters: the im2col path, not the direct kernel's numba threads)
    F.conv2d(sn.tensor(np.ones((4, 3, 8, 8))), sn.tensor(np.ones((40, 3, 3, 3))), padding=1)
    assert _threads._pool is not None
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_conv_in_child, args=(queue,))
    child.start()
    x, w, out = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    ref, _, _ = _textbook_conv(x, w, np.zeros((4, 40, 8, 8)), (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


# -- products cut by rows: the convolutions' unshared passes and Linear ----------------------

@pytest.mark.parametrize("split", [2, 3])
@pytest.mark.parametrize("a_shape,b_shape", [((7, 5), (5, 4)), ((2, 9, 3), (2, 3, 6)),
                                              ((3, 8, 4), (4, 5))])
def test_matmul_by_rows_is_the_product(monkeypatch, split, a_shape, b_shape):
    monkeypatch.setattr(_threads, "MIN_ROWS", 1)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    rng = np.random.default_rng(split)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    ref = np.einsum("...mr,...rl->...ml", a, b)
    calls = []
    real = _threads.run_all
    monkeypatch.setattr(_threads, "run_all", lambda tasks: calls.append(len(tasks)) or
                        real(tasks))
    np.testing.assert_allclose(_threads.matmul_by_rows(a, b, split=split), ref, rtol=1e-13,
                               atol=1e-13)
    # into a strided view: the rows of a wider array
    wide = np.full(ref.shape[:-1] + (ref.shape[-1] + 3,), 7.0)
    _threads.matmul_by_rows(a, b, out=wide[..., 1:-2], split=split)
    np.testing.assert_allclose(wide[..., 1:-2], ref, rtol=1e-13, atol=1e-13)
    assert (wide[..., 0] == 7).all() and (wide[..., -2:] == 7).all()
    assert calls == [split, split]


def test_linear_with_its_products_cut_by_rows_gives_the_definition(monkeypatch):
    monkeypatch.setattr(_threads, "workers", lambda: 2)
    monkeypatch.setattr(_threads, "MIN_ROWS", 1)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 2, 5)), rng.standard_normal((7, 5)), rng.standard_normal(7)
    xt, wt, bt = (sn.tensor(v, requires_grad=True) for v in (x, w, b))
    out = F.linear(xt, wt, bt)
    dy = rng.standard_normal(out.shape)
    (out * sn.tensor(dy)).sum().backward()
    np.testing.assert_allclose(out.data, np.einsum("nti,oi->nto", x, w) + b, rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(xt.grad.data, np.einsum("nto,oi->nti", dy, w), rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(wt.grad.data, np.einsum("nto,nti->oi", dy, x), rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(bt.grad.data, dy.sum(axis=(0, 1)), rtol=1e-13, atol=1e-13)


def test_small_products_stay_one_call(monkeypatch):
    monkeypatch.setattr(_threads, "workers", lambda: 2)
    calls = []
    monkeypatch.setattr(_threads, "run_all", lambda tasks: calls.append(len(tasks)))
    a, b = np.ones((64, 8)), np.ones((8, 4))          # 2,048 multiply-adds
    monkeypatch.setattr(_threads, "MIN_WORK", 1025)
    np.testing.assert_array_equal(_threads.matmul_by_rows(a, b), np.full((64, 4), 8.0))
    assert calls == []
    monkeypatch.setattr(_threads, "MIN_WORK", 1024)
    _threads.matmul_by_rows(a, b)
    assert calls == [2]
