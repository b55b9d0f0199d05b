"""The eight exercises: what the student's functions take, the shapes they are checked on,
the reference (scratchnet's autograd), and the classic mistakes each one can detect."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..autograd.tensor import Tensor


def lessons_dir():
    """The repository's lessons/ folder (SCRATCHNET_LESSONS overrides)."""
    env = os.environ.get("SCRATCHNET_LESSONS")
    if env:
        return env
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for cand in (os.path.join(here, "lessons"), os.path.join(os.getcwd(), "lessons")):
        if os.path.isdir(cand):
            return cand
    return os.path.join(os.getcwd(), "lessons")


def template_path(name):
    return os.path.join(lessons_dir(), "exercises", f"{name}.py")


@dataclass
class ExCase:
    label: str
    seed: int
    make: Callable           # rng -> (list of arrays in input order, params dict)
    gradcheck: bool = True


@dataclass
class Exercise:
    name: str
    title: str
    input_names: list
    grad_inputs: list
    cases: list
    ref_fn: Callable         # (*Tensors, **params) -> Tensor, built from scratchnet ops
    mistakes: dict = field(default_factory=dict)   # grad name -> [(variant fn, hint)]
    shape_hints: dict = field(default_factory=dict)

    def reference(self, arrays, params, rng):
        ts = [Tensor(a.astype(np.float64), requires_grad=(n in self.grad_inputs))
              if a.dtype.kind == "f" else Tensor(a) for n, a in zip(self.input_names, arrays)]
        out = self.ref_fn(*ts, **params)
        dout = rng.standard_normal(out.shape)
        out.backward(dout)
        grads = [ts[self.input_names.index(n)].grad.data for n in self.grad_inputs]
        return out.data, grads, dout

    def diagnose(self, gname, got, arrays, params, dout):
        for variant, hint in self.mistakes.get(gname, []):
            wrong = np.asarray(variant(dout, *arrays, **params), dtype=np.float64)
            if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-6, atol=1e-9):
                return hint
        return ""

    def shape_hint(self, gname, got, want):
        for (g, shape_pred), hint in self.shape_hints.items():
            if g == gname and shape_pred(got, want):
                return hint
        if tuple(got) == tuple(want)[::-1]:
            return "the shape is transposed: a missing (or extra) .T?"
        return f"a gradient always has the shape of its input: d{gname} must be {want}"


def _F():
    from ..nn import functional as F
    return F


def _linear_cases():
    def mk(n, d, m):
        return lambda rng: ([rng.standard_normal((n, d)), rng.standard_normal((m, d)),
                             rng.standard_normal(m)], {})
    return [ExCase("N=4, D=5, M=3", 1, mk(4, 5, 3)), ExCase("N=3, D=3, M=3 (square)", 2, mk(3, 3, 3)),
            ExCase("N=1, D=2, M=6", 3, mk(1, 2, 6))]


LINEAR = Exercise(
    "linear", "Fully connected layer: out = x @ w.T + b",
    ["x", "w", "b"], ["x", "w", "b"], _linear_cases(),
    lambda x, w, b: x @ w.T + b,
    mistakes={
        "w": [(lambda d, x, w, b: x.T @ d,
               "dW = x.T @ dout has the shape of W.T: with PyTorch's layout W is (out, in), so "
               "dW = dout.T @ x (a missing transpose)."),
              (lambda d, x, w, b: (d.T @ x) / x.shape[0],
               "you divided by the batch size: dout already carries the 1/N of a mean loss.")],
        "x": [(lambda d, x, w, b: d @ w.T,
               "dx = dout @ W (not W.T): W is (out, in), dout is (N, out).")],
        "b": [(lambda d, x, w, b: d.mean(axis=0),
               "db is the SUM of dout over the batch, not the mean.")],
    },
    shape_hints={("b", lambda g, w: len(g) == 2): "db must be summed over the batch axis "
                                                  "(dout.sum(axis=0)): b is shared by every "
                                                  "example."},
)


RELU = Exercise(
    "relu", "ReLU: out = max(x, 0)",
    ["x"], ["x"],
    [ExCase("3x4", 4, lambda rng: ([rng.standard_normal((3, 4))], {})),
     ExCase("2x3x5 with exact zeros", 5,
            lambda rng: ([np.where(rng.random((2, 3, 5)) < 0.2, 0.0,
                                   rng.standard_normal((2, 3, 5)))], {}), gradcheck=False)],
    lambda x: x.relu(),
    mistakes={"x": [(lambda d, x: (x > 0).astype(float),
                     "you returned the local derivative (x > 0) alone: multiply it by the "
                     "upstream gradient dout (chain rule)."),
                    (lambda d, x: d * (x >= 0),
                     "at x == 0 the gradient is 0 by convention (PyTorch's relu uses x > 0, "
                     "not x >= 0).")]},
)


def _ce_ref(logits, labels):
    n = logits.shape[0]
    logp = logits.log_softmax(axis=1)
    return -logp[np.arange(n), labels.data].mean()


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


SOFTMAX_CE = Exercise(
    "softmax_cross_entropy", "Softmax + cross-entropy, mean over the batch",
    ["logits", "labels"], ["logits"],
    [ExCase("N=4, C=5", 6, lambda rng: ([rng.standard_normal((4, 5)),
                                          rng.integers(0, 5, 4)], {})),
     ExCase("N=1, C=3, large logits", 7, lambda rng: ([rng.standard_normal((1, 3)) * 50,
                                                       rng.integers(0, 3, 1)], {})),
     ExCase("N=6, C=2", 8, lambda rng: ([rng.standard_normal((6, 2)),
                                          rng.integers(0, 2, 6)], {}))],
    _ce_ref,
    mistakes={"logits": [
        (lambda d, z, y: d * _softmax(z) / z.shape[0],
         "the gradient is (softmax - one_hot(labels)) / N: you forgot to subtract the one-hot "
         "labels."),
        (lambda d, z, y: d * (_softmax(z) - np.eye(z.shape[1])[y]),
         "the loss is a MEAN over the batch: divide the gradient by N."),
    ]},
)


def _conv_case(n, c, h, w, k, kh, kw, stride, pad):
    return lambda rng: ([rng.standard_normal((n, c, h, w)), rng.standard_normal((k, c, kh, kw)),
                         rng.standard_normal(k)], {"stride": stride, "padding": pad})


def _conv_dx_assign(d, x, w, b, stride, padding):
    """The classic bug: dx[window] = ... instead of += where windows overlap."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    dxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    for i in range(d.shape[2]):
        for j in range(d.shape[3]):
            hs, ws = i * stride, j * stride
            dxp[:, :, hs:hs + kh, ws:ws + kw] = np.einsum("nk,kchw->nchw", d[:, :, i, j], w)
    return dxp[:, :, padding:padding + h, padding:padding + wd]


CONV2D = Exercise(
    "conv2d_loops", "Convolution (cross-correlation) with explicit loops",
    ["x", "w", "b"], ["x", "w", "b"],
    [ExCase("overlapping 3x3, stride 1, pad 1", 9, _conv_case(2, 2, 5, 5, 3, 3, 3, 1, 1)),
     ExCase("odd 7x6 input, 2x3 kernel, stride 2 (does not divide)", 10,
            _conv_case(1, 3, 7, 6, 2, 2, 3, 2, 0)),
     ExCase("batch 3, 1x1 kernel", 11, _conv_case(3, 4, 3, 3, 2, 1, 1, 1, 0))],
    lambda x, w, b, stride, padding: _F().conv2d(x, w, b, stride=stride, padding=padding),
    mistakes={"x": [(_conv_dx_assign,
                     "where windows overlap, several outputs read the same input pixel: "
                     "ACCUMULATE into dx (+=), do not assign (=).")],
              "b": [(lambda d, x, w, b, stride, padding: d.sum(axis=(2, 3))[0],
                     "db must be summed over the batch too (axes 0, 2 and 3).")]},
    shape_hints={("b", lambda g, w: len(g) > 1): "db has one entry per filter: sum dout over "
                                                 "the batch and both spatial axes."},
)


def _pool_dx_assign(d, x, kernel_size, stride):
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for i in range(d.shape[2]):
        for j in range(d.shape[3]):
            win = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            flat = win.reshape(n, c, -1).argmax(axis=2)
            r, s = np.unravel_index(flat, (kernel_size, kernel_size))
            for a in range(n):
                for b in range(c):
                    dx[a, b, i * stride + r[a, b], j * stride + s[a, b]] = d[a, b, i, j]
    return dx


MAX_POOL = Exercise(
    "max_pool", "Max pooling with overlapping windows (no padding)",
    ["x"], ["x"],
    [ExCase("k=3, s=1 (overlapping)", 12,
            lambda rng: ([rng.standard_normal((2, 2, 5, 5))], {"kernel_size": 3, "stride": 1})),
     ExCase("k=3, s=2 on 7x6", 13,
            lambda rng: ([rng.standard_normal((1, 3, 7, 6))], {"kernel_size": 3, "stride": 2})),
     ExCase("k=2, s=2 on 5x5 (stride does not divide)", 14,
            lambda rng: ([rng.standard_normal((3, 1, 5, 5))], {"kernel_size": 2, "stride": 2}))],
    lambda x, kernel_size, stride: _F().max_pool2d(x, kernel_size, stride),
    mistakes={"x": [(_pool_dx_assign,
                     "with overlapping windows one input can be the max of several windows: "
                     "ACCUMULATE (+=) into dx instead of assigning (=).")]},
)


def _bn_ref(x, gamma, beta, eps):
    mu = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True, correction=0)
    return (x - mu) / (var + eps).sqrt() * gamma + beta


def _bn_dx_constant_stats(d, x, gamma, beta, eps):
    return d * gamma / np.sqrt(x.var(axis=0) + eps)


BATCH_NORM = Exercise(
    "batch_norm", "Batch normalisation in training mode, (N, D) input",
    ["x", "gamma", "beta"], ["x", "gamma", "beta"],
    [ExCase("N=5, D=3", 15, lambda rng: ([rng.standard_normal((5, 3)) * 2 + 1,
                                           rng.standard_normal(3), rng.standard_normal(3)],
                                          {"eps": 1e-5})),
     ExCase("N=2, D=4", 16, lambda rng: ([rng.standard_normal((2, 4)), rng.standard_normal(4),
                                           rng.standard_normal(4)], {"eps": 1e-5})),
     ExCase("N=8, D=1", 17, lambda rng: ([rng.standard_normal((8, 1)) * 3,
                                           rng.standard_normal(1), rng.standard_normal(1)],
                                          {"eps": 1e-5}))],
    _bn_ref,
    mistakes={"x": [(_bn_dx_constant_stats,
                     "the batch mean and variance depend on x too: dx needs the terms that flow "
                     "through them (dx = gamma/sigma * (dout - mean(dout) - x_hat * "
                     "mean(dout * x_hat))).")]},
    shape_hints={("gamma", lambda g, w: len(g) == 2): "dgamma and dbeta are summed over the "
                                                      "batch: gamma is shared by every example.",
                 ("beta", lambda g, w: len(g) == 2): "dbeta = dout.sum(axis=0): beta is shared "
                                                     "by every example."},
)


def _unpool_case(n, c, h, w, k):
    def make(rng):
        x = Tensor(rng.standard_normal((n, c, h * k, w * k)))
        from ..nn import functional as F
        _, idx = F.max_pool2d(x, k, return_indices=True)
        return [rng.standard_normal((n, c, h, w)), idx.data.astype(np.int64)], \
            {"output_size": (h * k, w * k)}
    return make


def _unpool_ref(y, indices, output_size):
    k = output_size[0] // y.shape[2]
    return _F().max_unpool2d(y, indices, k, output_size=output_size)


MAX_UNPOOL = Exercise(
    "max_unpool", "Max unpooling: scatter by the indices max pooling stored",
    ["y", "indices"], ["y"],
    [ExCase("2x2 -> 4x4 (deck 000)", 18, _unpool_case(1, 1, 2, 2, 2)),
     ExCase("batch 2, 3 channels, 3x3 -> 6x6", 19, _unpool_case(2, 3, 3, 3, 2)),
     ExCase("3x3 windows, 2x2 -> 6x6", 20, _unpool_case(1, 2, 2, 2, 3))],
    _unpool_ref,
    mistakes={"y": [(lambda d, y, idx, output_size:
                     d.reshape(-1)[idx.reshape(-1)].reshape(y.shape),
                     "indices are offsets into each (n, c) plane, not into the whole tensor: "
                     "gather plane by plane (reshape dout to (N, C, H*W)).")]},
)


def _convT_case(n, cin, cout, h, w, k, stride, pad):
    return lambda rng: ([rng.standard_normal((n, cin, h, w)),
                         rng.standard_normal((cin, cout, k, k))],
                        {"stride": stride, "padding": pad})


def _convT_dx_flipped(d, x, w, stride, padding):
    from ..nn import functional as F
    return F.conv2d(Tensor(d), Tensor(np.flip(w, (2, 3)).copy()), stride=stride,
                    padding=padding).data


CONV_TRANSPOSE = Exercise(
    "conv_transpose", "Transposed convolution (weight (in, out, k, k))",
    ["x", "w"], ["x", "w"],
    [ExCase("3x3, stride 2, pad 1, 2x2 -> 3x3 (deck 000)", 21, _convT_case(1, 1, 1, 2, 2, 3, 2, 1)),
     ExCase("4x4 kernel, stride 2, pad 1, 3 -> 2 channels", 22, _convT_case(2, 3, 2, 3, 3, 4, 2, 1)),
     ExCase("stride 1, no padding", 23, _convT_case(1, 2, 3, 3, 2, 2, 1, 0))],
    lambda x, w, stride, padding: _F().conv_transpose2d(x, w, stride=stride, padding=padding),
    mistakes={"x": [(_convT_dx_flipped,
                     "no kernel flip: the input-gradient of a transposed convolution is a plain "
                     "convolution (cross-correlation) of dout with the same weights.")]},
)


EXERCISES = {e.name: e for e in [LINEAR, RELU, SOFTMAX_CE, CONV2D, MAX_POOL, BATCH_NORM,
                                 MAX_UNPOOL, CONV_TRANSPOSE]}
