"""The exercise checker: runs a student's forward/backward against scratchnet's autograd and
against gradcheck, and explains what is wrong."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from ..autograd.function import Function
from ..gradcheck import worst_element
from .hints import Evidence
from .runner import Outcome, run_in_subprocess, student_runs
from .text import Text, say

DEFAULT_TIMEOUT = 20.0          # seconds per stage (a case's forward, backward, gradcheck)
DEFAULT_MAX_OUTPUT = 1_000_000  # bytes the student's code may print


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
class Run:
    """One case, ready to run: its inputs, the random upstream gradient dout (scaled by
    dout_scale), and autograd's output and gradients."""
    label: str
    arrays: list
    params: dict
    dout: np.ndarray
    ref_out: np.ndarray
    ref_grads: list
    gradcheck: bool = False
    seed: int = 0
    dout_scale: float = 1.0


def build_plan(ex):
    """The runs of exercise `ex`, deterministic (both processes build the same plan)."""
    plan = []
    for case in ex.cases:
        rng = np.random.default_rng(case.seed)
        arrays, params = case.make(rng)
        ref_out, ref_grads, dout = ex.reference(arrays, params, rng, case.dout_scale)
        plan.append(Run(case.label, arrays, params, dout, ref_out, ref_grads,
                        case.gradcheck, case.seed, case.dout_scale))
    return plan


@dataclass
class Finding:
    case: str
    what: str           # "forward", "gradient dw", "gradcheck", "error"
    ok: bool
    detail: object = ""  # Text or str
    hint: object = ""    # Text or str


@dataclass
class CheckReport:
    exercise: str
    findings: list = field(default_factory=list)
    lang: str = "en"
    hints: list = field(default_factory=list)   # structural Hints that fired

    @property
    def hint_keys(self):
        return [h.key for h in self.hints]

    @property
    def passed(self):
        return bool(self.findings) and all(f.ok for f in self.findings)

    def __bool__(self):
        return self.passed

    def __str__(self):
        ko = self.lang == "ko"
        verdict = ("통과" if self.passed else "아직 아님") if ko else \
            ("PASSED" if self.passed else "NOT YET")
        lines = [f"{'연습 문제' if ko else 'exercise'} {self.exercise}: {verdict}"]
        for f in self.findings:
            mark = "ok " if f.ok else "XX "
            detail = say(f.detail, self.lang)
            what = _what_ko(f.what) if ko else f.what
            lines.append(f"  {mark} [{f.case}] {what}" + (f": {detail}" if detail else ""))
            if f.hint:
                lines.append(f"        {'힌트' if ko else 'hint'}: {say(f.hint, self.lang)}")
        for h in self.hints:
            grads = ", ".join("d" + g for g in h.grads)
            lines.append(f"  {'힌트' if ko else 'hint'} ({grads}): {say(h.text, self.lang)}")
        if self.passed:
            lines.append("  모든 경우가 autograd 및 중심 차분(central differences)과 일치합니다."
                         if ko else
                         "  All shapes agree with autograd and with central differences.")
        return "\n".join(lines)


def _what_ko(what):
    """A finding's stage in Korean ("gradient dx" -> "기울기 dx")."""
    if what.startswith("gradient "):
        return "기울기 " + what[len("gradient "):]
    return {"forward": "순전파(forward)", "backward": "역전파(backward)", "error": "오류",
            "gradcheck (central differences)": "gradcheck (중심 차분)"}.get(what, what)


def _describe_mismatch(got, want, rtol, atol):
    n_bad, idx, expected, actual = worst_element(got, want, atol, rtol)
    return Text(f"{n_bad} of {want.size} elements differ; worst at index {idx}: "
                f"expected {expected:+.6g}, got {actual:+.6g}",
                f"원소 {want.size}개 중 {n_bad}개가 다릅니다; 가장 큰 차이는 인덱스 {idx}: "
                f"기대값 {expected:+.6g}, 받은 값 {actual:+.6g}")


def _generic_hint(got, want):
    """Hints that need no knowledge of the exercise."""
    if not np.any(got) and np.any(want):
        return Text("your gradient is all zeros: is backward returning a fresh np.zeros you "
                    "never fill?",
                    "기울기가 모두 0입니다: 채우지 않은 np.zeros를 그대로 반환하고 있지 "
                    "않나요?")
    if np.allclose(got, -want, rtol=1e-6, atol=1e-9):
        return Text("the sign is flipped.", "부호가 반대입니다.")
    nz = np.abs(want) > 1e-9
    if nz.any():
        ratio = got[nz] / want[nz]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and not np.isclose(ratio.flat[0], 1.0):
            return Text(f"off by a constant factor of {ratio.flat[0]:.4g}: a missing or extra "
                        "normalisation (1/N for a mean over the batch?) or a factor of 2?",
                        f"상수배 {ratio.flat[0]:.4g}만큼 어긋납니다: 정규화가 빠졌거나 "
                        "더해졌나요 (배치 평균의 1/N?), 아니면 2배?")
    return ""


def student_function(mod, ex, params):
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


_STAGE = {"forward": "forward", "backward": "backward",
          "gradcheck": "gradcheck (central differences)"}


def _failure(outcome):
    """(detail, hint) for a stage that did not return a usable value."""
    if outcome.status == "not_implemented":
        return Text("not implemented yet (the template raises NotImplementedError)",
                    "아직 구현하지 않았습니다 (템플릿이 NotImplementedError를 일으킵니다)"), ""
    if outcome.status == "raised":
        return Text("raised:\n" + say(outcome.detail, "en"),
                    "예외가 발생했습니다:\n" + say(outcome.detail, "ko")), ""
    return outcome.detail, ""


def _judge(ex, plan, imported, outcomes, abort, rtol, atol, lang):
    report = CheckReport(ex.name, lang=lang)
    if abort is not None and abort.run == -1:
        report.findings.append(Finding("import", "error", False, abort.detail))
        return report
    if imported is not None and imported.status != "ok":
        detail, _ = _failure(imported)
        report.findings.append(Finding("import", "error", False, detail,
                                       Text("fix the error above first",
                                            "위의 오류부터 고치세요")))
        return report
    for i, run in enumerate(plan):
        _judge_run(ex, run, i, outcomes, rtol, atol, report)
        if abort is not None and abort.run == i:
            report.findings.append(Finding(run.label, _STAGE.get(abort.stage, abort.stage),
                                           False, abort.detail))
            break
    grads = []
    for i, _ in enumerate(plan):
        bwd = outcomes.get((i, "backward"))
        grads.append(bwd.value if bwd is not None and bwd.status == "ok" else None)
    evidence = Evidence(ex, plan, grads, rtol, atol)
    report.hints = [h for h in ex.hints if h.test(evidence)]
    return report


def _judge_run(ex, run, i, outcomes, rtol, atol, report):
    fwd = outcomes.get((i, "forward"))
    if fwd is None:
        return
    if fwd.status != "ok":
        report.findings.append(Finding(run.label, "forward", False, *_failure(fwd)))
        return
    out = fwd.value
    if out.shape != run.ref_out.shape:
        report.findings.append(Finding(
            run.label, "forward", False,
            Text(f"output shape {out.shape}, expected {run.ref_out.shape}",
                 f"출력 모양 {out.shape}, 기대한 모양 {run.ref_out.shape}")))
        return
    if not np.allclose(out, run.ref_out, rtol=rtol, atol=atol):
        report.findings.append(Finding(run.label, "forward", False,
                                       _describe_mismatch(out, run.ref_out, rtol, atol)))
        return
    report.findings.append(Finding(run.label, "forward", True))
    bwd = outcomes.get((i, "backward"))
    if bwd is None:
        return
    if bwd.status != "ok":
        report.findings.append(Finding(run.label, "backward", False, *_failure(bwd)))
        return
    for gname, got, want in zip(ex.grad_inputs, bwd.value, run.ref_grads):
        what = f"gradient d{gname}"
        if got.shape != want.shape:
            report.findings.append(Finding(
                run.label, what, False,
                Text(f"shape {got.shape}, expected {want.shape}",
                     f"모양 {got.shape}, 기대한 모양 {want.shape}"),
                ex.shape_hint(gname, got.shape, want.shape)))
            continue
        if np.allclose(got, want, rtol=rtol, atol=atol):
            report.findings.append(Finding(run.label, what, True))
            continue
        hint = (ex.diagnose(gname, got, run.arrays, run.params, run.dout)
                or _generic_hint(got, want))
        report.findings.append(Finding(run.label, what, False,
                                       _describe_mismatch(got, want, rtol, atol), hint))
    gc = outcomes.get((i, "gradcheck"))
    if gc is not None:
        if gc.status == "ok":
            report.findings.append(Finding(run.label, _STAGE["gradcheck"], gc.passed,
                                           gc.detail))
        else:
            report.findings.append(Finding(run.label, _STAGE["gradcheck"], False,
                                           *_failure(gc)))


def check(name, path=None, module=None, rtol=1e-6, atol=1e-8, lang=None,
          timeout=DEFAULT_TIMEOUT, max_output=DEFAULT_MAX_OUTPUT) -> CheckReport:
    """Check the student's file for exercise `name`.

    A file (`path`, default the template in lessons/exercises/) is run in a child process:
    each stage may take `timeout` seconds and the code may print `max_output` bytes; a
    timeout, a crash, sys.exit, a wrong type or too much output is a named failure. An
    already-imported `module` runs in this process (how the tests drive many variants).
    lang: 'ko' or 'en' for the report (default: scratchnet.lesson.lang())."""
    from ..lesson import lang as default_lang
    from .registry import EXERCISES
    from .specs import template_path

    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; choose one of: {', '.join(EXERCISES)}")
    lang = lang or default_lang()
    ex = EXERCISES[name]
    plan = build_plan(ex)
    if module is not None:
        outcomes = {}
        missing = [fn for fn in ("forward", "backward") if not callable(getattr(module, fn, None))]
        imported = Outcome("ok") if not missing else Outcome("raised", detail=Text(
            f"the module defines no function `{missing[0]}`",
            f"모듈에 함수 `{missing[0]}`이(가) 없습니다"))

        def emit(i, stage, outcome):
            if outcome.status != "start":
                outcomes[(i, stage)] = outcome

        if not missing:
            student_runs(module, ex, plan, emit, rtol, atol)
        return _judge(ex, plan, imported, outcomes, None, rtol, atol, lang)
    path = path or template_path(name)
    if not os.path.exists(path):
        report = CheckReport(name, lang=lang)
        report.findings.append(Finding("import", "error", False,
                                       Text(f"no exercise file at {path}",
                                            f"{path}에 연습 문제 파일이 없습니다")))
        return report
    imported, outcomes, abort = run_in_subprocess(name, path, timeout, max_output, rtol, atol)
    return _judge(ex, plan, imported, outcomes, abort, rtol, atol, lang)
