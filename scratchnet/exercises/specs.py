"""The exercises: what the student's functions take, the cases they are checked on, the
reference (scratchnet's autograd), the deck each follows, and the structural hints that name
their classic mistakes. The first half of the course is here; applications.py adds the rest."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..autograd.tensor import Tensor
from .hints import (batch_of, contrast, ignores_dout, relation, right_where, same,
                    scaled_by)
from .text import Text


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
    dout_scale: float = 1.0  # the same inputs with dout scaled: shows a gradient ignoring dout


@dataclass
class Exercise:
    name: str
    title: str
    input_names: list
    grad_inputs: list
    cases: list
    ref_fn: Callable         # (*Tensors, **params) -> Tensor, built from scratchnet ops
    mistakes: dict = field(default_factory=dict)   # grad name -> [(variant fn, Text hint)]
    shape_hints: dict = field(default_factory=dict)
    hints: list = field(default_factory=list)      # structural Hints (hints.py)
    deck: str = ""           # the course deck the exercise follows, by title and number
    title_ko: str = ""

    def reference(self, arrays, params, rng, dout_scale=1.0):
        ts = [Tensor(a.astype(np.float64), requires_grad=(n in self.grad_inputs))
              if a.dtype.kind == "f" else Tensor(a) for n, a in zip(self.input_names, arrays)]
        out = self.ref_fn(*ts, **params)
        dout = rng.standard_normal(out.shape) * dout_scale
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
            return Text("the shape is transposed: a missing (or extra) .T?",
                        "모양이 전치되어 있습니다: .T가 빠졌거나 더 붙었나요?")
        return Text(f"a gradient always has the shape of its input: d{gname} must be {want}",
                    f"기울기는 언제나 입력과 같은 모양입니다: d{gname}은(는) {want}이어야 "
                    "합니다")


DECK_000 = "CNN 응용 사례 (deck 000)"
DECK_001 = "Day13. CNN and Vision (deck 001)"
DECK_002 = "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용 (deck 002)"
DECK_003 = "딥러닝팀 1팀 (deck 003)"
DECK_004 = "CNN 기초 (deck 004)"


def _F():
    from ..nn import functional as F
    return F


def _linear_cases():
    def mk(n, d, m):
        return lambda rng: ([rng.standard_normal((n, d)), rng.standard_normal((m, d)),
                             rng.standard_normal(m)], {})
    return [ExCase("N=4, D=5, M=3", 1, mk(4, 5, 3)),
            ExCase("N=3, D=3, M=3 (square)", 2, mk(3, 3, 3)),
            ExCase("N=1, D=2, M=6", 3, mk(1, 2, 6))]


def _batch_factor(run, got, want):
    """got == want / N or want * N for a batch of N > 1."""
    n = batch_of(run)
    return n > 1 and (scaled_by(1.0 / n, got, want) or scaled_by(float(n), got, want))


LINEAR = Exercise(
    "linear", "Fully connected layer: out = x @ w.T + b",
    ["x", "w", "b"], ["x", "w", "b"], _linear_cases(),
    lambda x, w, b: x @ w.T + b,
    mistakes={
        "x": [(lambda d, x, w, b: d @ w.T,
               Text("dx = dout @ W (not W.T): W is (out, in), dout is (N, out).",
                    "dx = dout @ W 입니다 (W.T가 아님): W는 (out, in), dout은 (N, out)."))],
    },
    shape_hints={("b", lambda g, w: len(g) == 2): Text(
        "db must be summed over the batch axis (dout.sum(axis=0)): b is shared by every "
        "example.",
        "db는 배치 축으로 합해야 합니다 (dout.sum(axis=0)): b는 모든 예제가 함께 씁니다.")},
    hints=[
        relation("linear.transpose", ("w",),
                 lambda run, g, w: (g.shape != w.shape and g.shape == w.shape[::-1])
                 or (g.shape == w.shape and same(g.T, w)),
                 Text("dW = x.T @ dout has the shape of W.T: with PyTorch's layout W is "
                      "(out, in), so dW = dout.T @ x (a missing transpose).",
                      "dW = x.T @ dout은 W.T의 모양입니다: PyTorch의 배치에서 W는 (out, in)"
                      "이므로 dW = dout.T @ x 입니다 (전치(transpose)가 빠졌습니다).")),
        contrast("linear.batch_sum", ("b",), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for a batch of 1 but wrong for a batch of 4: db is the SUM of "
                      "dout over the batch (b is shared by every example, so its gradient "
                      "was summed over the batch).",
                      "배치 1에서는 맞고 배치 4에서는 틀립니다: db는 배치에 대한 dout의 "
                      "합(sum over the batch)입니다 (b를 모든 예제가 함께 쓰므로 기울기를 "
                      "배치에 대해 합합니다).")),
        relation("linear.mean", ("w", "x"), _batch_factor,
                 Text("off by a factor of the batch size: dout already carries the 1/N of a "
                      "mean loss, so do not divide (or multiply) by N again.",
                      "배치 크기만큼 어긋납니다: 평균 손실의 1/N은 이미 dout에 들어 있으니 "
                      "N으로 다시 나누지(곱하지) 마세요.")),
    ],
    deck=DECK_004, title_ko="완전 연결층(fully connected layer): out = x @ w.T + b",
)


def _relu_x_positive(run, got, want):
    x = run.arrays[0]
    return right_where(x > 0, got, want) and not np.isclose(got, want)[x < 0].all()


def _relu_x_zero(run, got, want):
    x = run.arrays[0]
    return (x == 0).any() and right_where(x != 0, got, want)


RELU = Exercise(
    "relu", "ReLU: out = max(x, 0)",
    ["x"], ["x"],
    [ExCase("3x4", 4, lambda rng: ([rng.standard_normal((3, 4))], {})),
     ExCase("2x3x5 with exact zeros", 5,
            lambda rng: ([np.where(rng.random((2, 3, 5)) < 0.2, 0.0,
                                   rng.standard_normal((2, 3, 5)))], {}), gradcheck=False),
     ExCase("3x4, dout x 3", 4, lambda rng: ([rng.standard_normal((3, 4))], {}),
            gradcheck=False, dout_scale=3.0)],
    lambda x: x.relu(),
    hints=[
        relation("relu.mask", ("x",), _relu_x_positive,
                 Text("right where x > 0 but not where x < 0: the gradient passes only where "
                      "the input was positive (dx = dout * (x > 0)).",
                      "x > 0인 곳에서는 맞고 x < 0인 곳에서는 틀립니다: 기울기는 입력이 양수"
                      "였던 곳으로만 흐릅니다 (dx = dout * (x > 0)).")),
        ignores_dout("relu.dout", ("x",),
                     Text("your gradient does not change when dout does: you returned the local "
                          "derivative (x > 0) alone; multiply it by the upstream gradient dout "
                          "(chain rule).",
                          "dout이 바뀌어도 기울기가 그대로입니다: 국소 미분 (x > 0)만 반환했습니다; "
                          "상류 기울기(upstream gradient) dout을 곱하세요 (연쇄 법칙, chain "
                          "rule).")),
        relation("relu.zero", ("x",), _relu_x_zero,
                 Text("right everywhere except where x == 0: there the gradient is 0 by "
                      "convention (PyTorch's relu uses x > 0, not x >= 0).",
                      "x == 0인 곳만 틀립니다: 그곳의 기울기는 관례상 0입니다 (PyTorch의 relu는 "
                      "x >= 0이 아니라 x > 0을 씁니다).")),
    ],
    deck=DECK_004, title_ko="ReLU 활성화 함수: out = max(x, 0)",
)


def _ce_ref(logits, labels):
    n = logits.shape[0]
    logp = logits.log_softmax(axis=1)
    return -logp[np.arange(n), labels.data].mean()


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ce_error_at_labels(run, got, want):
    logits, labels = run.arrays
    at_label = np.zeros(logits.shape, dtype=bool)
    at_label[np.arange(len(labels)), labels] = True
    return got.shape == want.shape and right_where(~at_label, got, want)


def _ce_case(n, c, scale=1.0):
    return lambda rng: ([rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)], {})


SOFTMAX_CE = Exercise(
    "softmax_cross_entropy", "Softmax + cross-entropy, mean over the batch",
    ["logits", "labels"], ["logits"],
    [ExCase("N=4, C=5", 6, _ce_case(4, 5)),
     ExCase("N=1, C=3, large logits", 7, _ce_case(1, 3, 50.0)),
     ExCase("N=6, C=2", 8, _ce_case(6, 2)),
     ExCase("N=1, C=5", 9, _ce_case(1, 5), gradcheck=False),
     ExCase("N=4, C=5, dout x 3", 6, _ce_case(4, 5), gradcheck=False, dout_scale=3.0)],
    _ce_ref,
    hints=[
        relation("softmax_cross_entropy.onehot", ("logits",), _ce_error_at_labels,
                 Text("right everywhere except at each example's label: the gradient is "
                      "(softmax - one_hot(labels)) / N; you forgot to subtract the one-hot "
                      "labels.",
                      "각 예제의 정답(label) 위치만 틀립니다: 기울기는 (softmax - "
                      "one_hot(labels)) / N 입니다; 원-핫(one-hot) 레이블을 빼는 것을 "
                      "잊었습니다.")),
        contrast("softmax_cross_entropy.mean", ("logits",), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for a batch of 1 but not for larger batches: the loss is a MEAN "
                      "over the batch, so divide the gradient by N.",
                      "배치 1에서는 맞고 더 큰 배치에서는 틀립니다: 손실은 배치에 대한 "
                      "평균(mean)이므로 기울기를 N으로 나누세요.")),
        ignores_dout("softmax_cross_entropy.dout", ("logits",),
                     Text("your gradient does not change when dout does: multiply by dout, the "
                          "upstream gradient of the loss (chain rule; it is 1 only when the "
                          "loss is the last step).",
                          "dout이 바뀌어도 기울기가 그대로입니다: 손실의 상류 기울기 dout을 "
                          "곱하세요 (연쇄 법칙; 손실이 마지막 단계일 때만 1입니다).")),
        relation("softmax_cross_entropy.sign", ("logits",),
                 lambda run, g, w: scaled_by(-1.0, g, w),
                 Text("the sign is flipped: the gradient of -log p is softmax - one_hot, "
                      "not one_hot - softmax.",
                      "부호가 반대입니다: -log p의 기울기는 one_hot - softmax가 아니라 "
                      "softmax - one_hot 입니다.")),
    ],
    deck=DECK_004, title_ko="소프트맥스(softmax) + 교차 엔트로피(cross-entropy), 배치 평균",
)


def _conv_case(n, c, h, w, k, kh, kw, stride, pad):
    return lambda rng: ([rng.standard_normal((n, c, h, w)), rng.standard_normal((k, c, kh, kw)),
                         rng.standard_normal(k)], {"stride": stride, "padding": pad})


def _windows_overlap(run, kernel):
    k = run.arrays[1].shape[2:] if kernel is None else (kernel, kernel)
    return max(k) > run.params["stride"]


def _padded_shape(run, got, want):
    p = run.params["padding"]
    return p > 0 and got.shape == want.shape[:2] + (want.shape[2] + 2 * p,
                                                      want.shape[3] + 2 * p)


CONV2D = Exercise(
    "conv2d_loops", "Convolution (cross-correlation) with explicit loops",
    ["x", "w", "b"], ["x", "w", "b"],
    [ExCase("overlapping 3x3, stride 1, pad 1", 9, _conv_case(2, 2, 5, 5, 3, 3, 3, 1, 1)),
     ExCase("odd 7x6 input, 2x3 kernel, stride 2 (does not divide)", 10,
            _conv_case(1, 3, 7, 6, 2, 2, 3, 2, 0)),
     ExCase("batch 3, 1x1 kernel", 11, _conv_case(3, 4, 3, 3, 2, 1, 1, 1, 0)),
     ExCase("2x2 kernel, stride 2, no padding (windows do not overlap)", 24,
            _conv_case(2, 2, 4, 6, 3, 2, 2, 2, 0), gradcheck=False),
     ExCase("batch 1, overlapping 3x3, stride 1, pad 1", 25,
            _conv_case(1, 2, 5, 5, 3, 3, 3, 1, 1), gradcheck=False)],
    lambda x, w, b, stride, padding: _F().conv2d(x, w, b, stride=stride, padding=padding),
    shape_hints={("b", lambda g, w: len(g) > 1): Text(
        "db has one entry per filter: sum dout over the batch and both spatial axes.",
        "db는 필터마다 값 하나입니다: dout을 배치와 두 공간 축에 대해 합하세요.")},
    hints=[
        contrast("conv2d_loops.accumulate", ("x",), lambda r: not _windows_overlap(r, None),
                 lambda r: _windows_overlap(r, None),
                 Text("right where windows do not overlap, wrong where they do: several "
                      "outputs read the same input pixel, so ACCUMULATE into dx (+=), do not "
                      "assign (=).",
                      "창(window)이 겹치지 않으면 맞고 겹치면 틀립니다: 여러 출력이 같은 입력 "
                      "픽셀을 읽으므로 dx에 누적하세요 (+=, 대입 = 이 아니라).")),
        contrast("conv2d_loops.batch", ("w", "b"), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for a batch of 1 but wrong for larger batches: the filters and "
                      "biases are shared by every example, so dw and db sum over the batch "
                      "(axis 0) too.",
                      "배치 1에서는 맞고 더 큰 배치에서는 틀립니다: 필터와 편향은 모든 예제가 "
                      "함께 쓰므로 dw와 db도 배치(축 0)에 대해 합해야 합니다.")),
        relation("conv2d_loops.padding", ("x",), _padded_shape,
                 Text("dx has the padded shape (H + 2*padding): the padding is not part of "
                      "the input, so crop it: dx_padded[:, :, p:p+H, p:p+W].",
                      "dx가 패딩된 모양(H + 2*padding)입니다: 패딩은 입력이 아니므로 잘라내세요: "
                      "dx_padded[:, :, p:p+H, p:p+W].")),
    ],
    deck=DECK_004, title_ko="반복문으로 쓰는 합성곱(convolution, 교차 상관)",
)


def _pool_case(n, c, h, w, k, s, ties=False):
    def make(rng):
        x = (rng.integers(0, 3, (n, c, h, w)).astype(np.float64) if ties
             else rng.standard_normal((n, c, h, w)))
        return [x], {"kernel_size": k, "stride": s}
    return make


def _pool_has_ties(run):
    return np.unique(run.arrays[0]).size < run.arrays[0].size


MAX_POOL = Exercise(
    "max_pool", "Max pooling with overlapping windows (no padding)",
    ["x"], ["x"],
    [ExCase("k=3, s=1 (overlapping)", 12, _pool_case(2, 2, 5, 5, 3, 1)),
     ExCase("k=3, s=2 on 7x6", 13, _pool_case(1, 3, 7, 6, 3, 2)),
     ExCase("k=2, s=2 on 5x5 (stride does not divide)", 14, _pool_case(3, 1, 5, 5, 2, 2)),
     ExCase("batch 1, 1 channel, k=3, s=1", 26, _pool_case(1, 1, 5, 5, 3, 1), gradcheck=False),
     ExCase("k=2, s=2 on 4x4 (windows do not overlap)", 27, _pool_case(2, 3, 4, 4, 2, 2),
            gradcheck=False),
     ExCase("k=2, s=2 with ties (small integers)", 28, _pool_case(2, 2, 4, 4, 2, 2, ties=True),
            gradcheck=False)],
    lambda x, kernel_size, stride: _F().max_pool2d(x, kernel_size, stride),
    hints=[
        contrast("max_pool.accumulate", ("x",),
                 lambda r: r.params["stride"] >= r.params["kernel_size"] and not _pool_has_ties(r),
                 lambda r: r.params["stride"] < r.params["kernel_size"],
                 Text("right where windows do not overlap, wrong where they do: one input "
                      "can be the max of several windows, so ACCUMULATE (+=) into dx instead "
                      "of assigning (=), and never overwrite the rest of a window.",
                      "창이 겹치지 않으면 맞고 겹치면 틀립니다: 한 입력이 여러 창의 최댓값일 수 "
                      "있으므로 dx에 대입(=)하지 말고 누적(+=)하세요. 창의 나머지 원소를 "
                      "덮어쓰지도 마세요.")),
        contrast("max_pool.batch", ("x",),
                 lambda r: r.arrays[0].shape[:2] == (1, 1),
                 lambda r: (r.arrays[0].shape[0] * r.arrays[0].shape[1] > 1
                            and not _pool_has_ties(r)),
                 Text("right for one example with one channel but wrong for a batch: take the "
                      "max of each window separately for every (n, c) (axis=(2, 3), not the "
                      "whole block).",
                      "예제 하나, 채널 하나에서는 맞고 배치에서는 틀립니다: 창의 최댓값을 (n, c)"
                      "마다 따로 구하세요 (블록 전체가 아니라 axis=(2, 3)).")),
        contrast("max_pool.ties", ("x",), lambda r: not _pool_has_ties(r), _pool_has_ties,
                 Text("right until two elements of a window tie for the max: the gradient "
                      "goes to one element only, the first in row-major order (argmax), not to "
                      "every element equal to the max.",
                      "창 안에서 두 원소가 최댓값으로 같을 때만 틀립니다: 기울기는 최댓값과 같은 "
                      "모든 원소가 아니라 행 우선 순서로 첫 번째인 원소 하나(argmax)로만 "
                      "갑니다.")),
    ],
    deck=DECK_004, title_ko="겹치는 창의 최대 풀링(max pooling), 패딩 없음",
)


def _bn_ref(x, gamma, beta, eps):
    mu = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True, correction=0)
    return (x - mu) / (var + eps).sqrt() * gamma + beta


def _bn_case(n, d, scale=1.0, shift=0.0, eps=1e-5, normalised=False):
    def make(rng):
        x = rng.standard_normal((n, d)) * scale + shift
        if normalised:
            x = (x - x.mean(axis=0)) / x.std(axis=0)
        return [x, rng.standard_normal(d), rng.standard_normal(d)], {"eps": eps}
    return make


def _bn_not_centred(run, got, want):
    scale = np.abs(want).max() + 1e-12
    return (got.shape == want.shape and np.abs(want.sum(axis=0)).max() < 1e-9 * scale * len(got)
            and np.abs(got.sum(axis=0)).max() > 1e-6 * scale)


def _bn_missing_var_term(run, got, want):
    x = run.arrays[0]
    if got.shape != want.shape or np.abs(got.sum(axis=0)).max() > 1e-8 * np.abs(want).max():
        return False
    x_hat = (x - x.mean(axis=0)) / x.std(axis=0)
    residual = got - want
    # a residual that is a per-feature multiple of x_hat is the term through the variance
    coef = (residual * x_hat).sum(axis=0) / (x_hat * x_hat).sum(axis=0)
    return np.allclose(residual, coef * x_hat, rtol=1e-6, atol=1e-9)


BATCH_NORM = Exercise(
    "batch_norm", "Batch normalisation in training mode, (N, D) input",
    ["x", "gamma", "beta"], ["x", "gamma", "beta"],
    [ExCase("N=5, D=3", 15, _bn_case(5, 3, 2.0, 1.0)),
     ExCase("N=2, D=4", 16, _bn_case(2, 4)),
     ExCase("N=8, D=1", 17, _bn_case(8, 1, 3.0)),
     ExCase("N=6, D=3, x already normalised (mean 0, variance 1), eps=0", 29,
            _bn_case(6, 3, eps=0.0, normalised=True), gradcheck=False)],
    _bn_ref,
    shape_hints={("gamma", lambda g, w: len(g) == 2): Text(
        "dgamma and dbeta are summed over the batch: gamma is shared by every example.",
        "dgamma와 dbeta는 배치에 대해 합합니다: gamma는 모든 예제가 함께 씁니다."),
        ("beta", lambda g, w: len(g) == 2): Text(
        "dbeta = dout.sum(axis=0): beta is shared by every example.",
        "dbeta = dout.sum(axis=0): beta는 모든 예제가 함께 씁니다.")},
    hints=[
        relation("batch_norm.centred", ("x",), _bn_not_centred,
                 Text("your dx does not sum to zero over the batch, but it must: adding a "
                      "constant to a feature changes nothing after normalisation. The batch "
                      "mean and variance depend on x too: dx needs the terms that flow through "
                      "them (dx = gamma/sigma * (dout - mean(dout) - x_hat * "
                      "mean(dout * x_hat))).",
                      "dx의 배치 합이 0이 아닙니다. 0이어야 합니다: 한 특성에 상수를 더해도 "
                      "정규화 뒤에는 아무것도 바뀌지 않기 때문입니다. 배치 평균과 분산도 x에 "
                      "의존합니다(depend on x too): dx에는 그 둘을 거쳐 흐르는 항이 필요합니다 "
                      "(dx = gamma/sigma * (dout - mean(dout) - x_hat * mean(dout * x_hat))).")),
        relation("batch_norm.variance", ("x",), _bn_missing_var_term,
                 Text("dx sums to zero but is off by a multiple of x_hat: the term through the "
                      "variance is missing or wrong (- x_hat * mean(dout * gamma * x_hat)).",
                      "dx의 합은 0이지만 x_hat의 배수만큼 어긋납니다: 분산(variance)을 거치는 "
                      "항이 빠졌거나 틀렸습니다 (- x_hat * mean(dout * gamma * x_hat)).")),
        contrast("batch_norm.x_hat", ("gamma",), lambda r: r.params["eps"] == 0.0,
                 lambda r: r.params["eps"] > 0.0,
                 Text("dgamma is right only when x is already normalised: use the normalised "
                      "x_hat = (x - mean) / sqrt(var + eps), not x: dgamma = "
                      "(dout * x_hat).sum(axis=0).",
                      "x가 이미 정규화되어 있을 때만 dgamma가 맞습니다: x가 아니라 정규화된 "
                      "x_hat = (x - mean) / sqrt(var + eps)을 쓰세요: dgamma = "
                      "(dout * x_hat).sum(axis=0).")),
        relation("batch_norm.mean", ("gamma", "beta"), _batch_factor,
                 Text("off by a factor of the batch size: gamma and beta get the SUM over the "
                      "batch, not the mean.",
                      "배치 크기만큼 어긋납니다: gamma와 beta의 기울기는 배치 평균이 아니라 "
                      "배치 합입니다.")),
    ],
    deck=DECK_003, title_ko="학습 모드의 배치 정규화(batch normalization), (N, D) 입력",
)


def _unpool_case(n, c, h, w, k, top_left=False):
    def make(rng):
        x = Tensor(rng.standard_normal((n, c, h * k, w * k)))
        from ..nn import functional as F
        _, idx = F.max_pool2d(x, k, return_indices=True)
        idx = idx.data.astype(np.int64)
        if top_left:
            rows, cols = np.meshgrid(np.arange(h) * k, np.arange(w) * k, indexing="ij")
            idx = np.broadcast_to(rows * (w * k) + cols, idx.shape).copy()
        return [rng.standard_normal((n, c, h, w)), idx], {"output_size": (h * k, w * k)}
    return make


def _unpool_ref(y, indices, output_size):
    k = output_size[0] // y.shape[2]
    return _F().max_unpool2d(y, indices, k, output_size=output_size)


def _unpool_top_left(run):
    y, idx = run.arrays
    h, w = y.shape[2:]
    k = run.params["output_size"][0] // h
    rows, cols = np.meshgrid(np.arange(h) * k, np.arange(w) * k, indexing="ij")
    return bool((idx == rows * (w * k) + cols).all())


MAX_UNPOOL = Exercise(
    "max_unpool", "Max unpooling: scatter by the indices max pooling stored",
    ["y", "indices"], ["y"],
    [ExCase("2x2 -> 4x4 (deck 000)", 18, _unpool_case(1, 1, 2, 2, 2)),
     ExCase("batch 2, 3 channels, 3x3 -> 6x6", 19, _unpool_case(2, 3, 3, 3, 2)),
     ExCase("3x3 windows, 2x2 -> 6x6", 20, _unpool_case(1, 2, 2, 2, 3)),
     ExCase("batch 2, 3 channels, dout x 3", 19, _unpool_case(2, 3, 3, 3, 2),
            gradcheck=False, dout_scale=3.0),
     ExCase("every index at its window's top-left corner", 30,
            _unpool_case(2, 2, 3, 3, 2, top_left=True), gradcheck=False)],
    _unpool_ref,
    hints=[
        contrast("max_unpool.plane", ("y",), lambda r: r.arrays[0].shape[:2] == (1, 1),
                 lambda r: r.arrays[0].shape[0] * r.arrays[0].shape[1] > 1,
                 Text("right for one plane but wrong for several: indices are offsets into "
                      "each (n, c) plane, not into the whole tensor: gather plane by plane "
                      "(reshape dout to (N, C, H*W)).",
                      "평면(plane) 하나에서는 맞고 여러 개에서는 틀립니다: 인덱스는 텐서 전체가 "
                      "아니라 각 (n, c) 평면 안의 오프셋(offsets into each (n, c) plane)입니다: "
                      "평면마다 모으세요 (dout을 (N, C, H*W)로 reshape).")),
        contrast("max_unpool.fixed", ("y",), _unpool_top_left,
                 lambda r: not _unpool_top_left(r),
                 Text("right only when every index points at its window's top-left corner: "
                      "read dout at the stored indices, not at a fixed place in each window "
                      "(dout[:, :, ::k, ::k]).",
                      "모든 인덱스가 창의 왼쪽 위를 가리킬 때만 맞습니다: 창의 고정된 자리 "
                      "(dout[:, :, ::k, ::k])가 아니라 저장된 인덱스에서 dout을 읽으세요.")),
        ignores_dout("max_unpool.dout", ("y",),
                     Text("your dy does not change when dout does: gather the upstream gradient "
                          "dout at the indices, not the forward's values.",
                          "dout이 바뀌어도 dy가 그대로입니다: 순전파의 값이 아니라 상류 기울기 "
                          "dout을 인덱스에서 모으세요.")),
    ],
    deck=DECK_000, title_ko="최대 언풀링(max unpooling): 최대 풀링이 저장한 인덱스로 흩뿌리기",
)


def _convT_case(n, cin, cout, h, w, k, stride, pad, symmetric=False):
    def make(rng):
        x = rng.standard_normal((n, cin, h, w))
        wt = rng.standard_normal((cin, cout, k, k))
        if symmetric:
            wt = (wt + np.flip(wt, (2, 3))) / 2
        return [x, wt], {"stride": stride, "padding": pad}
    return make


def _symmetric_kernel(run):
    w = run.arrays[1]
    return bool(np.array_equal(w, np.flip(w, (2, 3))))


CONV_TRANSPOSE = Exercise(
    "conv_transpose", "Transposed convolution (weight (in, out, k, k))",
    ["x", "w"], ["x", "w"],
    [ExCase("3x3, stride 2, pad 1, 2x2 -> 3x3 (deck 000)", 21, _convT_case(1, 1, 1, 2, 2, 3, 2, 1)),
     ExCase("4x4 kernel, stride 2, pad 1, 3 -> 2 channels", 22,
            _convT_case(2, 3, 2, 3, 3, 4, 2, 1)),
     ExCase("stride 1, no padding", 23, _convT_case(1, 2, 3, 3, 2, 2, 1, 0)),
     ExCase("symmetric 3x3 kernel, stride 2, pad 1", 31,
            _convT_case(2, 2, 2, 3, 3, 3, 2, 1, symmetric=True), gradcheck=False),
     ExCase("batch 3, 2x2 kernel, stride 2, no padding", 32, _convT_case(3, 2, 2, 2, 3, 2, 2, 0),
            gradcheck=False)],
    lambda x, w, stride, padding: _F().conv_transpose2d(x, w, stride=stride, padding=padding),
    hints=[
        contrast("conv_transpose.flip", ("x",), _symmetric_kernel,
                 lambda r: not _symmetric_kernel(r),
                 Text("right only for a kernel that is symmetric under a flip: no kernel flip; "
                      "the input-gradient of a transposed convolution is a plain convolution "
                      "(cross-correlation) of dout with the same weights.",
                      "뒤집어도 같은 대칭 커널에서만 맞습니다: 커널을 뒤집지 마세요(no kernel "
                      "flip); 전치 합성곱(transposed convolution)의 입력 기울기는 같은 가중치로 "
                      "dout을 그대로 합성곱(교차 상관)한 것입니다.")),
        contrast("conv_transpose.padding", ("x", "w"), lambda r: r.params["padding"] == 0,
                 lambda r: r.params["padding"] > 0,
                 Text("right without padding, wrong with it: the forward cut `padding` "
                      "rows and columns off each border of the full output, so pad dout back "
                      "by `padding` (zeros) before reading windows from it.",
                      "패딩이 없으면 맞고 있으면 틀립니다: 순전파가 전체 출력의 가장자리마다 "
                      "`padding`개의 행과 열을 잘라냈으므로, 창을 읽기 전에 dout을 `padding`"
                      "만큼 0으로 다시 채우세요(pad).")),
        contrast("conv_transpose.batch", ("w",), lambda r: batch_of(r) == 1,
                 lambda r: batch_of(r) > 1,
                 Text("right for a batch of 1 but wrong for larger batches: the kernel is "
                      "shared by every example, so dw sums over the batch.",
                      "배치 1에서는 맞고 더 큰 배치에서는 틀립니다: 커널은 모든 예제가 함께 "
                      "쓰므로 dw는 배치에 대해 합합니다.")),
    ],
    deck=DECK_000, title_ko="전치 합성곱(transposed convolution) (가중치 (in, out, k, k))",
)


FIRST_HALF = {e.name: e for e in [LINEAR, RELU, SOFTMAX_CE, CONV2D, MAX_POOL, BATCH_NORM,
                                  MAX_UNPOOL, CONV_TRANSPOSE]}
"""The first half of the course's exercises; scratchnet.exercises.registry adds the rest."""
