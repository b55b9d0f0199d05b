"""Sharing a convolution's matrix products between threads of our own.

A convolution done as im2col + GEMM is a loop over chunks of the batch: build a chunk's
columns (a serial numba kernel), multiply them (OpenBLAS, with as many threads as cores),
next chunk. So the cores take turns: one builds columns while the other waits, then both
multiply, and after every product OpenBLAS's threads spin for a while (about 0.1 s) waiting
for more work, on the cores the next kernel wants. With two cores this made the same 3x3
layer take 40 ms in one process and 90-100 ms in the next.

The other way round: the chunks are split into as many runs as OpenBLAS has threads (T),
and each of T threads takes one run from start to end, its columns and its products, with
OpenBLAS told to use one thread meanwhile. Nothing is handed from one core to the other
within a pass; the threads meet once, at its end. Both the numba kernels (nogil) and NumPy's
matrix product release the GIL, so the threads run side by side.

Measured on two cores, forward + both backward products, medians of 25 calls in one process
per way, three processes each (ms):

    layer                        BLAS threads only       T threads of our own
    3x3 at 56 (8,64,56,56) -> 64     40.1 - 102.5            39.3 - 42.0
    3x3 at 28 (8,128,28,28) -> 128   62.1 - 67.5             31.7 - 49.2

A pass with few columns per filter is not cut into runs but each of its products by rows
(conv._share, matmul_by_rows below), on the same threads: left to OpenBLAS's threads, those products
left them spinning beside the shared passes that followed (ResNet-18's step at 64x64, batch
16, took 196-227 ms so, 158-162 ms with the products cut by rows, 160-163 ms before sharing).

A Linear layer's products are cut by rows too (ops/norm.py): before they were, ResNet-18's
first layer, right after the previous forward's fully connected layer, took 26-30 ms shared
against 17-21 ms with BLAS threads, while its 3x3 layers at 28x28 took 11-12 against 12-14
(batch 8, 224x224, no_grad).

A product too small to cut still woke OpenBLAS's threads, and they spun beside the next
shared pass all the same: in ResNet-18's step at 64x64 (batch 16, two threads) the thread
that ran its own part of a shared pass took 131 ms a step over it while the pool's thread
took 89 ms over the same amount of work, and waited 27 ms a step to be started. So the
convolutions and Linear run inside `own_threads`: OpenBLAS on one thread for the whole op,
every product either cut between our threads or on one thread. The step took 215-245 ms so
against 284-300 ms (medians of 15 steps, three processes each, in alternation, on a day its
PyTorch twin took 186-200 ms). The matmul op holds OpenBLAS only for the products it cuts:
the engine's graph of 8 x 8 products (benchmarks/bench_engine.py) is all overhead, and
holding costs about a microsecond a product.

The products run on OpenBLAS's own thread count control (openblas_set_num_threads), found
in the OpenBLAS that NumPy ships. Where NumPy links another BLAS (MKL, Apple's Accelerate)
there is no such control here, and the passes keep the BLAS's threads (`available()` says
which). Only one pass shares at a time: a second caller in another thread (a user's own
threads) runs its chunks itself.

The weight gradient is summed per run and the runs are added in order, so with T threads the
result is the same from call to call; a different T sums in a different order, and the last
bits can differ, as they do in a BLAS with a different thread count.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import math
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial

import numpy as np

ENABLED = True
"""False runs every chunk loop in the calling thread, on OpenBLAS's threads, as before the
passes were shared (to time the two ways against each other)."""

# numpy's wheels ship OpenBLAS with its symbols renamed (scipy_openblas, 64-bit integers);
# other builds keep the plain names
_SYMBOLS = [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("openblas_set_num_threads", "openblas_get_num_threads")]
_LIBRARY_FOLDERS = ("numpy.libs", os.path.join("numpy", ".libs"), os.path.join("numpy", ".dylibs"))


def _find_openblas():
    """(set_num_threads, get_num_threads) of the OpenBLAS NumPy has loaded, or None."""
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    for folder in _LIBRARY_FOLDERS:
        for path in sorted(glob.glob(os.path.join(site, folder, "*openblas*"))):
            try:
                lib = ctypes.CDLL(path)     # already loaded by NumPy: the same handle
            except OSError:
                continue
            for set_name, get_name in _SYMBOLS:
                if hasattr(lib, set_name) and hasattr(lib, get_name):
                    setter, getter = getattr(lib, set_name), getattr(lib, get_name)
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    return setter, getter
    return None


_blas = _find_openblas()
_lock = threading.Lock()
_pool, _pool_size = None, 0


def _forget_pool():
    """A forked child has none of the parent's threads: it starts its own pool."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


_held = threading.local()       # .threads: OpenBLAS's count outside own_threads, in it


def available() -> bool:
    """Whether the passes can share their chunks (NumPy's BLAS is an OpenBLAS found here)."""
    return _blas is not None


def workers() -> int:
    """How many threads a pass is split between: OpenBLAS's thread count (set by
    OPENBLAS_NUM_THREADS or OMP_NUM_THREADS before NumPy loads), or 1 when sharing is off or
    not available."""
    if not ENABLED or _blas is None:
        return 1
    held = getattr(_held, "threads", None)
    return max(1, held if held is not None else _blas[1]())


def own_threads(fn):
    """Decorator: fn runs with OpenBLAS on one thread, and workers() still says how many
    OpenBLAS had, so that fn's products are either cut between our threads (run_all,
    matmul_by_rows) or run on one: none wakes OpenBLAS's threads, which would spin on the
    cores for about 0.1 s after it. Nested calls keep the outermost count; the count is put
    back when the outermost returns, also after an error."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _blas is None or not ENABLED or getattr(_held, "threads", None) is not None:
            return fn(*args, **kwargs)
        _held.threads = before = _blas[1]()
        if before > 1:
            _blas[0](1)
        try:
            return fn(*args, **kwargs)
        finally:
            _held.threads = None
            if before > 1:
                _blas[0](before)
    return wrapper


def split(sizes, parts, cuts=None):
    """Cut a list of work items with these sizes into at most `parts` contiguous runs of
    about equal total size, as lists of indices. cuts[i] says whether a run may start at item
    i (all True if None; a run always may start at item 0). A run ends before the item whose
    middle lies past its share of the total: sizes 7, 7, 2 in two runs are 7 | 7 + 2."""
    total = sum(sizes)
    runs, run, done = [], [], 0
    for i, size in enumerate(sizes):
        share = total * (len(runs) + 1) / parts
        if run and (cuts is None or cuts[i]) and len(runs) < parts - 1 \
                and done + size / 2 > share:
            runs.append(run)
            run = []
        run.append(i)
        done += size
    if run:
        runs.append(run)
    return runs


def _leave_signals_to_others():
    """A pool thread blocks Ctrl-C and SIGTERM: the kernel then hands them to a thread that
    handles them (Python runs its handlers in the main thread) rather than to one busy in a
    product."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def run_all(tasks):
    """Run the callables side by side, OpenBLAS on one thread meanwhile; their results in
    order. The first runs in the calling thread, the others on the pool. If another pass is
    sharing already, they run one after the other here."""
    global _pool, _pool_size
    if len(tasks) < 2 or not _lock.acquire(blocking=False):
        return [task() for task in tasks]
    try:
        if _pool is None or _pool_size < len(tasks) - 1:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool_size = len(tasks) - 1
            _pool = ThreadPoolExecutor(max_workers=_pool_size,
                                       thread_name_prefix="scratchnet-conv",
                                       initializer=_leave_signals_to_others)
        before = _blas[1]() if _blas else None
        if _blas:
            _blas[0](1)
        futures = []
        try:
            futures = [_pool.submit(task) for task in tasks[1:]]
            first = tasks[0]()
            return [first] + [f.result() for f in futures]
        finally:
            wait(futures)           # no thread still writes into the caller's arrays
            if _blas:
                _blas[0](before)
    finally:
        _lock.release()


MIN_ROWS = 32
"""A product is cut by rows only into blocks of at least this many rows..."""

MIN_WORK = 2**22
"""...and of at least this many multiply-adds each (about 0.1 ms on one core): handing work
to a thread and waiting for it costs tens of microseconds. `scratchnet train lenet5` (batch
32) took 10.9-12.2 s of training with every product cut, against 8.1 s; with blocks of at
least 2**21 multiply-adds (its second convolution's input gradient, 7.7 million, still cut)
8.6-11.1 s against 7.6-10.7 s with sharing off, three runs each in alternation (both before
own_threads). At 2**22 it cuts nothing of LeNet-5's at batch 32; at batch 64 its second
convolution's two products (15 million) are cut, which own_threads would otherwise leave on
one thread: that layer's forward + backward took 1.95-2.77 ms (median 2.29) so, 2.36-3.63
(2.73) with 2**23, and 2.11-3.16 (2.67) with OpenBLAS's own threads before own_threads, five
processes each in alternation."""


def splits(rows, work, split=None) -> bool:
    """Whether matmul_by_rows cuts a product with this many rows and multiply-adds."""
    split = workers() if split is None else split
    return split >= 2 and rows >= MIN_ROWS * split and work >= MIN_WORK * split


def matmul_by_rows(a, b, out=None, split=None):
    """a @ b, (..., M, R) @ (..., R, L), with the rows of a (and of the result) cut into
    `split` blocks (default: workers()), each multiplied on its own thread with OpenBLAS on
    one: the cut OpenBLAS's own threads would make, without leaving them spinning after the
    product, beside the shared passes that follow. Blocks smaller than MIN_ROWS rows or
    MIN_WORK multiply-adds: one plain product."""
    split = workers() if split is None else split
    M = a.shape[-2]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if not splits(M, math.prod(batch) * M * a.shape[-1] * b.shape[-1], split):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(batch + (M, b.shape[-1]), np.result_type(a, b))
    step = -(-M // split)
    run_all([partial(np.matmul, a[..., m:m + step, :], b, out=out[..., m:m + step, :])
             for m in range(0, M, step)])
    return out
