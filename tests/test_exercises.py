"""The exercise checker passes every reference solution and fails realistic mistakes with the
right hint."""
import importlib
import types

import numpy as np
import pytest

from scratchnet import exercises as E
from scratchnet.exercises.checker import load_module
from scratchnet.exercises.specs import template_path


def student(name, backward):
    template = load_module(template_path(name))
    return types.SimpleNamespace(forward=template.forward, backward=backward)


def solution(name):
    return importlib.import_module(f"scratchnet.exercises.solutions.{name}").backward


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_reference_solution_passes(name):
    report = E.check(name, module=student(name, solution(name)))
    assert report.passed, str(report)
    # every case ran its forward, its gradients, and (where enabled) gradcheck
    assert any("gradcheck" in f.what for f in report.findings)


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_untouched_template_is_not_yet_passing(name):
    # in this process for speed; the child-process path is tested below on bad files
    report = E.check(name, module=load_module(template_path(name)), lang="en")
    assert not report.passed
    assert "not implemented yet" in str(report)


def test_untouched_template_through_the_child_process():
    report = E.check("max_pool", lang="en")
    assert not report.passed and "not implemented yet" in str(report)


# One realistic mistake per exercise, and the hint it must produce ------------------------------
def linear_missing_transpose(dout, x, w, b):
    return dout @ w, x.T @ dout, dout.sum(axis=0)


def linear_db_not_summed(dout, x, w, b):
    return dout @ w, dout.T @ x, dout


def relu_forgot_dout(dout, x):
    return (x > 0).astype(float)


def ce_forgot_onehot(dout, logits, labels):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return dout * z / z.sum(axis=1, keepdims=True) / len(labels)


def ce_forgot_mean(dout, logits, labels):
    return solution("softmax_cross_entropy")(dout, logits, labels) * len(labels)


def conv_assign(dout, x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            dw += np.einsum("nk,nchw->kchw", dout[:, :, i, j], xp[:, :, hs:hs + kh, ws:ws + kw])
            dxp[:, :, hs:hs + kh, ws:ws + kw] = np.einsum("nk,kchw->nchw", dout[:, :, i, j], w)
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, dout.sum(axis=(0, 2, 3))


def pool_assign(dout, x, kernel_size=2, stride=2):
    n, c, _, _ = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs:hs + kernel_size, ws:ws + kernel_size].reshape(n, c, -1)
            r, s = np.unravel_index(win.argmax(axis=2), (kernel_size, kernel_size))
            for a in range(n):
                for b in range(c):
                    dx[a, b, hs + r[a, b], ws + s[a, b]] = dout[a, b, i, j]
    return dx


def bn_constant_stats(dout, x, gamma, beta, eps=1e-5):
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    return dout * gamma / np.sqrt(x.var(axis=0) + eps), (dout * x_hat).sum(0), dout.sum(0)


def unpool_global_index(dout, y, indices, output_size):
    return dout.reshape(-1)[indices.reshape(-1)].reshape(y.shape)


def convT_flipped(dout, x, w, stride=1, padding=0):
    dx, dw = solution("conv_transpose")(dout, x, np.flip(w, (2, 3)), stride, padding)
    return dx, solution("conv_transpose")(dout, x, w, stride, padding)[1]


MISTAKES = [
    ("linear", linear_missing_transpose, "missing transpose"),
    ("linear", linear_db_not_summed, "summed over the batch"),
    ("relu", relu_forgot_dout, "multiply it by the upstream gradient"),
    ("softmax_cross_entropy", ce_forgot_onehot, "subtract the one-hot"),
    ("softmax_cross_entropy", ce_forgot_mean, "divide the gradient by N"),
    ("conv2d_loops", conv_assign, "ACCUMULATE into dx"),
    ("max_pool", pool_assign, "ACCUMULATE (+=) into dx"),
    ("batch_norm", bn_constant_stats, "depend on x too"),
    ("max_unpool", unpool_global_index, "offsets into each (n, c) plane"),
    ("conv_transpose", convT_flipped, "no kernel flip"),
]


@pytest.mark.parametrize("name,backward,hint", MISTAKES,
                         ids=[f"{n}-{b.__name__}" for n, b, _ in MISTAKES])
def test_realistic_mistake_fails_with_its_hint(name, backward, hint):
    report = E.check(name, module=student(name, backward))
    assert not report.passed
    assert hint in str(report), str(report)


def test_report_names_the_worst_element():
    report = E.check("relu", module=student("relu", lambda d, x: d * (x > 0.1)))
    text = str(report)
    assert "worst at index" in text and "expected" in text and "got" in text


def test_broken_file_reports_the_error(tmp_path):
    p = tmp_path / "relu.py"
    p.write_text("def forward(x):\n    return x\ndef broken(:\n")
    report = E.check("relu", str(p))
    assert not report.passed and "SyntaxError" in str(report)


def test_unknown_exercise_lists_choices():
    with pytest.raises(ValueError, match="choose one of: linear"):
        E.check("softmax")


# A student's file runs in a child process: whatever it does is a named failure ------------------
RELU_FORWARD = "import numpy as np\n\ndef forward(x):\n    return np.maximum(x, 0)\n\n"

BAD_FILES = {
    "endless_loop": (RELU_FORWARD + "def backward(dout, x):\n    dx = np.zeros_like(x)\n"
                     "    i = 0\n    while True:\n        dx += 0\n",
                     "did not finish within 3 s"),
    "sys_exit_at_import": ("import sys\nsys.exit(0)\n" + RELU_FORWARD,
                           "called sys.exit(0)"),
    "sys_exit_in_backward": (RELU_FORWARD + "import sys\ndef backward(dout, x):\n"
                             "    sys.exit(0)\n", "called sys.exit(0)"),
    "os_exit": (RELU_FORWARD + "import os\ndef backward(dout, x):\n    os._exit(0)\n",
                "ended with exit code 0 without reporting"),
    "raises": (RELU_FORWARD + "def backward(dout, x):\n    return dout * mask\n",
               "NameError"),
    "returns_list": (RELU_FORWARD + "def backward(dout, x):\n"
                     "    return [[d if v > 0 else 0.0 for d, v in zip(r, s)] "
                     "for r, s in zip(dout, x)]\n", "returned a list, not a NumPy array"),
    "returns_none": (RELU_FORWARD + "def backward(dout, x):\n    dx = dout * (x > 0)\n",
                     "returned None"),
    "integer_gradient": (RELU_FORWARD + "def backward(dout, x):\n    return (x > 0) * 1\n",
                         "dtype int64"),
    "wrong_shape": (RELU_FORWARD + "def backward(dout, x):\n    return (dout * (x > 0)).ravel()\n",
                    "shape (12,), expected (3, 4)"),
    "prints_10MB": (RELU_FORWARD + "def backward(dout, x):\n    print('x' * 10_000_000)\n"
                    "    return dout * (x > 0)\n", "printed more than 1000 kB"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_student_file_is_a_named_failure_with_nonzero_exit(kind, tmp_path, capsys):
    from scratchnet import cli
    source, message = BAD_FILES[kind]
    path = tmp_path / "relu.py"
    path.write_text(source)
    rc = cli.main(["exercise", "check", "relu", "--file", str(path), "--timeout", "3",
                   "--lang", "en"])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "NOT YET" in out and message in out, out


def test_good_student_file_passes_with_exit_code_zero(tmp_path, capsys):
    from scratchnet import cli
    path = tmp_path / "relu.py"
    path.write_text(RELU_FORWARD + "def backward(dout, x):\n    print('checking')\n"
                    "    return dout * (x > 0)\n")
    rc = cli.main(["exercise", "check", "relu", "--file", str(path), "--lang", "en"])
    out = capsys.readouterr().out
    assert rc == 0 and "PASSED" in out, out


def test_the_child_runs_the_students_file_not_in_this_process(tmp_path):
    # a file that changes numpy at import would corrupt the reference if it ran in-process
    path = tmp_path / "relu.py"
    path.write_text("import numpy as np\nnp.allclose = lambda *a, **k: True\n" + RELU_FORWARD
                    + "def backward(dout, x):\n    return dout\n")
    report = E.check("relu", str(path), lang="en")
    assert not report.passed and np.allclose(0.0, 1.0) is False
