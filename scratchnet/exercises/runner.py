"""Running a student's forward/backward: in this process (for tests that pass a module) or in a
child process with a time limit and an output cap (`scratchnet exercise check`).

A student's file can do anything a script can: loop forever, call `sys.exit(0)` or
`os._exit(0)`, crash the interpreter, print megabytes, return a list. None of that may hang
the checker or pass silently. The child process imports the file, calls the functions on every
run of the plan and writes one JSON line per event (a stage starting, a stage's outcome) to a
file, flushed at once, with the arrays beside it as .npy files. The parent reads the events as
they come; a stage that runs past the time limit, a process that ends without saying "done",
and output beyond the cap are each reported by name, at the case where they happened.

    python -m scratchnet.exercises.runner NAME STUDENT_FILE OUT_DIR
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np

from .text import Text


@dataclass
class Outcome:
    """What one stage (import, forward, backward, gradcheck) of one run gave.

    status: ok | not_implemented | raised | exit | type | timeout | crash | output
    value: the array (forward) or tuple of arrays (backward) when status is ok
    detail: a Text (or, for tracebacks, a str) saying what happened"""
    status: str
    value: object = None
    detail: object = ""
    passed: bool = True      # gradcheck only


def _type_name(v):
    return "None" if v is None else type(v).__name__


def _as_float_array(v, what):
    """The value as a float64 array, or a Text saying why it is not one."""
    if isinstance(v, (float, np.floating)):
        return np.asarray(v, dtype=np.float64), None
    if v is None:
        return None, Text(f"{what} returned None: is a `return` missing?",
                          f"{what}이(가) None을 반환했습니다: `return`이 빠지지 않았나요?")
    if isinstance(v, (list, tuple)):
        return None, Text(f"{what} returned a {_type_name(v)}, not a NumPy array "
                          "(np.array(...) or build it with NumPy operations)",
                          f"{what}이(가) NumPy 배열이 아닌 {_type_name(v)}을(를) 반환했습니다 "
                          "(np.array(...)를 쓰거나 NumPy 연산으로 만드세요)")
    if not isinstance(v, np.ndarray):
        return None, Text(f"{what} returned a {_type_name(v)}, not a NumPy array",
                          f"{what}이(가) NumPy 배열이 아닌 {_type_name(v)}을(를) 반환했습니다")
    if v.dtype.kind != "f":
        return None, Text(f"{what} returned an array of dtype {v.dtype}: values and gradients "
                          "are floating point (did np.zeros_like copy an integer dtype?)",
                          f"{what}이(가) dtype {v.dtype} 배열을 반환했습니다: 값과 기울기는 "
                          "실수(floating point)입니다 (np.zeros_like가 정수 dtype을 복사하지 "
                          "않았나요?)")
    return v.astype(np.float64), None


def _call(fn, args, kwargs):
    """Call a student's function; (Outcome with the raw value or the failure)."""
    try:
        return Outcome("ok", fn(*args, **kwargs))
    except NotImplementedError:
        return Outcome("not_implemented")
    except SystemExit as e:
        return Outcome("exit", detail=Text(
            f"called sys.exit({e.code!r}): a checked function must return its result, "
            "not end the program",
            f"sys.exit({e.code!r})를 호출했습니다: 검사하는 함수는 프로그램을 끝내지 말고 "
            "결과를 반환해야 합니다"))
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt in student code is theirs too
        # from the student's frames on: this function's own frame says nothing to them
        frames = traceback.extract_tb(e.__traceback__)[1:][-4:]
        return Outcome("raised", detail="".join(traceback.format_list(frames))
                       + "".join(traceback.format_exception_only(type(e), e)))


def _check_forward(value):
    arr, why = _as_float_array(value, "forward")
    return Outcome("ok", arr) if why is None else Outcome("type", detail=why)


def _check_backward(value, grad_inputs):
    k = len(grad_inputs)
    wanted = "(" + ", ".join("d" + n for n in grad_inputs) + ")"
    if k > 1 and not isinstance(value, tuple):
        return Outcome("type", detail=Text(
            f"backward returned a {_type_name(value)}; return the tuple {wanted}",
            f"backward가 {_type_name(value)}을(를) 반환했습니다; 튜플 {wanted}을(를) "
            "반환하세요"))
    values = value if isinstance(value, tuple) else (value,)
    if len(values) != k:
        return Outcome("type", detail=Text(
            f"backward returned {len(values)} gradient(s); expected {k}: {wanted}",
            f"backward가 기울기 {len(values)}개를 반환했습니다; {k}개가 필요합니다: {wanted}"))
    arrays = []
    for name, v in zip(grad_inputs, values):
        arr, why = _as_float_array(v, f"backward (d{name})")
        if why is not None:
            return Outcome("type", detail=why)
        arrays.append(arr)
    return Outcome("ok", tuple(arrays))


def _matches(got, want, rtol, atol):
    return got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=atol)


def student_runs(module, ex, plan, emit, rtol, atol):
    """Call the student's forward and backward on every run of `plan`, and gradcheck their
    pair where every gradient of a case is right. emit(run_index, stage, Outcome) is called
    with status "start" before each stage and with the outcome after it."""
    from .checker import student_function
    from ..autograd.tensor import Tensor
    from ..gradcheck import gradcheck

    for i, run in enumerate(plan):
        emit(i, "forward", Outcome("start"))
        res = _call(module.forward, [a.copy() for a in run.arrays], run.params)
        if res.status == "ok":
            res = _check_forward(res.value)
        emit(i, "forward", res)
        if res.status != "ok" or not _matches(res.value, run.ref_out, rtol, atol):
            continue
        emit(i, "backward", Outcome("start"))
        res = _call(module.backward, [run.dout.copy()] + [a.copy() for a in run.arrays],
                    run.params)
        if res.status == "ok":
            res = _check_backward(res.value, ex.grad_inputs)
        emit(i, "backward", res)
        if (res.status != "ok" or not run.gradcheck
                or not all(_matches(g, w, rtol, atol) for g, w in zip(res.value, run.ref_grads))):
            continue
        emit(i, "gradcheck", Outcome("start"))
        op = student_function(module, ex, run.params)
        inputs = [Tensor(a.copy(), requires_grad=(n in ex.grad_inputs))
                  for n, a in zip(ex.input_names, run.arrays)]
        try:
            gc = gradcheck(op.apply, inputs)
            emit(i, "gradcheck", Outcome("ok", passed=gc.passed,
                                         detail="" if gc.passed else str(gc)))
        except BaseException as e:  # noqa: BLE001 - the student's forward runs again here
            emit(i, "gradcheck", Outcome("raised", detail=f"{type(e).__name__}: {e}"))


def _child_main(name, path, out_dir):
    """The child process: import the student's file and run the plan, writing events."""
    from .checker import build_plan, load_module
    from .registry import EXERCISES

    ex = EXERCISES[name]
    plan = build_plan(ex)
    events = open(os.path.join(out_dir, "events.jsonl"), "w", encoding="utf-8")
    counter = [0]

    def emit(i, stage, outcome):
        event = {"run": i, "stage": stage, "status": outcome.status, "passed": outcome.passed}
        detail = outcome.detail
        event["detail"] = [detail.en, detail.ko] if isinstance(detail, Text) else detail
        if outcome.status == "ok" and outcome.value is not None:
            values = outcome.value if isinstance(outcome.value, tuple) else (outcome.value,)
            files = []
            for v in values:
                counter[0] += 1
                fname = f"a{counter[0]}.npy"
                np.save(os.path.join(out_dir, fname), v, allow_pickle=False)
                files.append(fname)
            event["files"] = files
            event["tuple"] = isinstance(outcome.value, tuple)
        events.write(json.dumps(event) + "\n")
        events.flush()

    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    emit(-1, "import", Outcome("start"))
    res = _call(load_module, [path], {})
    if res.status == "ok":
        module = res.value
        missing = [fn for fn in ("forward", "backward") if not callable(getattr(module, fn, None))]
        if missing:
            res = Outcome("raised", detail=Text(
                f"the file defines no function `{missing[0]}`",
                f"파일에 함수 `{missing[0]}`이(가) 없습니다"))
    emit(-1, "import", Outcome(res.status, detail=res.detail))
    if res.status == "ok":
        student_runs(res.value, ex, plan, emit, *_tolerances())
    emit(-1, "done", Outcome("ok"))
    events.close()
    # the student's atexit handlers or threads must not change what was reported
    os._exit(0)


def _tolerances():
    return float(os.environ.get("SCRATCHNET_EXERCISE_RTOL", "1e-6")), \
        float(os.environ.get("SCRATCHNET_EXERCISE_ATOL", "1e-8"))


class _OutputReader(threading.Thread):
    """Reads the child's stdout+stderr, keeping the count and the last few thousand bytes."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.total, self.tail = 0, b""

    def run(self):
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else \
                self.stream.read(65536)
            if not chunk:
                return
            self.total += len(chunk)
            self.tail = (self.tail + chunk)[-4000:]


def run_in_subprocess(name, path, timeout, max_output, rtol, atol, startup=120.0):
    """Run exercise `name` on the student's file in a child process.

    Returns (import Outcome or None, {(run, stage): Outcome}, abort Outcome with .run/.stage
    or None). timeout: seconds any one stage (import, a case's forward, backward or
    gradcheck) may take; max_output: bytes the student's code may print."""
    import shutil
    import tempfile

    import scratchnet

    out_dir = tempfile.mkdtemp(prefix="scratchnet-exercise-")
    env = dict(os.environ, SCRATCHNET_EXERCISE_RTOL=repr(rtol), SCRATCHNET_EXERCISE_ATOL=repr(atol))
    # the child must import this scratchnet, not another one on the path
    root = os.path.dirname(os.path.dirname(os.path.abspath(scratchnet.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.Popen(
        [sys.executable, "-m", "scratchnet.exercises.runner", name, os.path.abspath(path),
         out_dir],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        cwd=os.path.dirname(os.path.abspath(path)))
    reader = _OutputReader(proc.stdout)
    reader.start()
    outcomes, imported, abort = {}, None, None
    events_path = os.path.join(out_dir, "events.jsonl")
    offset, pending = 0, b""
    current, started = (-1, "start-up"), time.monotonic()
    limit = startup
    done = False
    try:
        while True:
            exited = proc.poll() is not None
            if os.path.exists(events_path):
                with open(events_path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
                offset += len(data)
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    ev = json.loads(line)
                    key = (ev["run"], ev["stage"])
                    if ev["stage"] == "done":
                        done = True
                        continue
                    if ev["status"] == "start":
                        current, started, limit = key, time.monotonic(), timeout
                        continue
                    current, started, limit = (-1, "between stages"), time.monotonic(), startup
                    detail = ev["detail"]
                    out = Outcome(ev["status"], detail=Text(*detail) if isinstance(detail, list)
                                  else detail, passed=ev["passed"])
                    if "files" in ev:
                        arrays = tuple(np.load(os.path.join(out_dir, fn), allow_pickle=False)
                                       for fn in ev["files"])
                        out.value = arrays if ev["tuple"] else arrays[0]
                    if ev["stage"] == "import":
                        imported = out
                    else:
                        outcomes[key] = out
            if reader.total > max_output:
                proc.kill()
                abort = Outcome("output", detail=Text(
                    f"your code printed more than {max_output // 1000} kB, so checking stopped: "
                    "remove the prints inside loops",
                    f"코드가 {max_output // 1000} kB 넘게 출력해서 검사를 멈췄습니다: 반복문 "
                    "안의 print를 지우세요"))
                break
            if exited:
                if not done:
                    code = proc.returncode
                    how = (f"was killed by signal {-code}" if code < 0
                           else f"ended with exit code {code}")
                    reader.join(timeout=2)
                    tail = reader.tail.decode("utf-8", "replace").strip()
                    how_ko = (f"신호 {-code}로 종료되었습니다" if code < 0
                              else f"종료 코드 {code}로 끝났습니다")
                    shown = f":\n{tail}" if tail else ""
                    abort = Outcome("crash", detail=Text(
                        f"the process {how} without reporting (os._exit, or a crash in "
                        f"native code){shown}",
                        f"프로세스가 결과를 보고하지 않고 {how_ko} (os._exit 또는 네이티브 "
                        f"코드의 충돌){shown}"))
                break
            if time.monotonic() - started > limit:
                proc.kill()
                abort = Outcome("timeout", detail=Text(
                    f"did not finish within {limit:g} s and was stopped: an endless loop "
                    "(while True, a loop variable never updated)? If the code is only slow, "
                    "allow more time with --timeout.",
                    f"{limit:g}초 안에 끝나지 않아 멈췄습니다: 끝나지 않는 반복문(while True, "
                    "갱신되지 않는 반복 변수)이 있나요? 단지 느린 것이라면 --timeout으로 시간을 "
                    "늘리세요."))
                break
            time.sleep(0.02)
        if abort is not None:
            abort.run, abort.stage = current
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=2)
        shutil.rmtree(out_dir, ignore_errors=True)
    return imported, outcomes, abort


if __name__ == "__main__":
    _child_main(*sys.argv[1:4])
