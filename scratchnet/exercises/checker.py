"""The exercise checker: runs a student's forward/backward against scratchnet's autograd and
against gradcheck, and explains what is wrong."""
from __future__ import annotations

import importlib.util
import os
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..gradcheck import gradcheck


def load_module(path):
    """Import a student's file as a module (a fresh import on every call)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no exercise file at {path}")
    name = "student_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Finding:
    case: str
    what: str           # "forward", "grad of w", "gradcheck", "error"
    ok: bool
    detail: str = ""
    hint: str = ""


@dataclass
class CheckReport:
    exercise: str
    findings: list = field(default_factory=list)

    @property
    def passed(self):
        return bool(self.findings) and all(f.ok for f in self.findings)

    def __bool__(self):
        return self.passed

    def __str__(self):
        lines = [f"exercise {self.exercise}: {'PASSED' if self.passed else 'NOT YET'}"]
        for f in self.findings:
            mark = "ok " if f.ok else "XX "
            lines.append(f"  {mark} [{f.case}] {f.what}" + (f": {f.detail}" if f.detail else ""))
            if f.hint:
                lines.append(f"        hint: {f.hint}")
        if self.passed:
            lines.append("  All shapes agree with autograd and with central differences.")
        return "\n".join(lines)


def _describe_mismatch(got, want, rtol, atol):
    err = np.abs(got - want)
    tol = atol + rtol * np.abs(want)
    bad = ~(err <= tol)
    score = np.where(np.isnan(err), np.inf, err - tol)
    flat = int(np.argmax(score))
    idx = tuple(int(i) for i in np.unravel_index(flat, want.shape)) if want.ndim else ()
    return (f"{int(bad.sum())} of {want.size} elements differ; worst at index {idx}: "
            f"expected {want.reshape(-1)[flat]:+.6g}, got {got.reshape(-1)[flat]:+.6g}")


def _generic_hint(got, want):
    """Hints that need no knowledge of the exercise."""
    if not np.any(got) and np.any(want):
        return "your gradient is all zeros: is backward returning a fresh np.zeros you never fill?"
    if np.allclose(got, -want, rtol=1e-6, atol=1e-9):
        return "the sign is flipped."
    nz = np.abs(want) > 1e-9
    if nz.any():
        ratio = got[nz] / want[nz]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and not np.isclose(ratio.flat[0], 1.0):
            return (f"off by a constant factor of {ratio.flat[0]:.4g}: a missing or extra "
                    "normalisation (1/N for a mean over the batch?) or a factor of 2?")
    return ""


def _student_function(mod, ex, params):
    """Wrap the student's forward/backward as a Function so gradcheck can drive it."""
    names = ex.grad_inputs

    class StudentOp(Function):
        @staticmethod
        def forward(ctx, *arrays):
            ctx.arrays = arrays
            return np.asarray(mod.forward(*arrays, **params))

        @staticmethod
        def backward(ctx, grad):
            grads = mod.backward(grad, *ctx.arrays, **params)
            if not isinstance(grads, tuple):
                grads = (grads,)
            out = []
            for i, _ in enumerate(ctx.arrays):
                if ex.input_names[i] in names:
                    out.append(np.asarray(grads[names.index(ex.input_names[i])]))
                else:
                    out.append(None)
            return tuple(out)

    return StudentOp


def check(name, path=None, module=None, rtol=1e-6, atol=1e-8) -> CheckReport:
    """Check the student's file (or an already-imported module) for exercise `name`."""
    from .specs import EXERCISES, template_path

    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; choose one of: {', '.join(EXERCISES)}")
    ex = EXERCISES[name]
    report = CheckReport(name)
    if module is None:
        try:
            module = load_module(path or template_path(name))
        except Exception as e:  # the student's file may not even import
            report.findings.append(Finding("import", "error", False, f"{type(e).__name__}: {e}",
                                           "fix the error above first"))
            return report
    for fn in ("forward", "backward"):
        if not callable(getattr(module, fn, None)):
            report.findings.append(Finding("import", "error", False,
                                           f"the file defines no function `{fn}`"))
            return report

    for case in ex.cases:
        rng = np.random.default_rng(case.seed)
        arrays, params = case.make(rng)
        ref_out, ref_grads, dout = ex.reference(arrays, params, rng)
        try:
            out = np.asarray(module.forward(*arrays, **params))
        except NotImplementedError:
            report.findings.append(Finding(case.label, "forward", False, "not implemented yet"))
            continue
        except Exception:
            report.findings.append(Finding(case.label, "forward", False,
                                           "raised:\n" + traceback.format_exc(limit=-2)))
            continue
        if out.shape != ref_out.shape:
            report.findings.append(Finding(case.label, "forward", False,
                                           f"output shape {out.shape}, expected {ref_out.shape}"))
            continue
        if not np.allclose(out, ref_out, rtol=rtol, atol=atol):
            report.findings.append(Finding(case.label, "forward", False,
                                           _describe_mismatch(out, ref_out, rtol, atol)))
            continue
        report.findings.append(Finding(case.label, "forward", True))

        try:
            grads = module.backward(dout, *arrays, **params)
        except NotImplementedError:
            report.findings.append(Finding(case.label, "backward", False,
                                           "not implemented yet (the template raises "
                                           "NotImplementedError)"))
            continue
        except Exception:
            report.findings.append(Finding(case.label, "backward", False,
                                           "raised:\n" + traceback.format_exc(limit=-2)))
            continue
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(ex.grad_inputs):
            report.findings.append(Finding(
                case.label, "backward", False,
                f"returned {len(grads)} gradient(s); expected {len(ex.grad_inputs)}: "
                f"({', '.join('d' + n for n in ex.grad_inputs)})"))
            continue
        all_ok = True
        for gname, got, want in zip(ex.grad_inputs, grads, ref_grads):
            got = np.asarray(got, dtype=np.float64)
            what = f"gradient d{gname}"
            if got.shape != want.shape:
                hint = ex.shape_hint(gname, got.shape, want.shape)
                report.findings.append(Finding(case.label, what, False,
                                               f"shape {got.shape}, expected {want.shape}", hint))
                all_ok = False
                continue
            if np.allclose(got, want, rtol=rtol, atol=atol):
                report.findings.append(Finding(case.label, what, True))
                continue
            all_ok = False
            hint = ex.diagnose(gname, got, arrays, params, dout) or _generic_hint(got, want)
            report.findings.append(Finding(case.label, what, False,
                                           _describe_mismatch(got, want, rtol, atol), hint))
        if all_ok and case.gradcheck:
            op = _student_function(module, ex, params)
            inputs = [Tensor(a.copy(), requires_grad=(n in ex.grad_inputs))
                      for n, a in zip(ex.input_names, arrays)]
            gc = gradcheck(op.apply, inputs)
            report.findings.append(Finding(
                case.label, "gradcheck (central differences)", gc.passed,
                "" if gc.passed else str(gc)))
    return report
