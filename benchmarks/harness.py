"""Fair timing of peers: every library in a process of its own.

Two libraries timed in one process on a small machine measure each other: the idle worker
threads one leaves spinning after its kernels take the cores the other one needs next (in one
process PyTorch's LeNet conv1 forward+backward took 9.1 ms; alone it takes 1-5 ms). So a
comparison here runs each side in a fresh worker process, with the same thread count for all
sides, alternates the order of the sides from round to round (so a machine that slows down or
speeds up hits both alike), and reports the median over rounds of each process's median, with
the spread (lowest and highest round).

A benchmark script gives, for each side, a function that builds its workloads:

    def ours(args):                       # imports scratchnet only
        ...
        return {"conv1 fwd+bwd": run_once, ...}

    def torch_side(args):                 # imports torch only
        ...

    if __name__ == "__main__":
        harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="conv",
                     add_arguments=...)

`harness.main` parses the common options (--rounds, --repeats, --threads, --sides, --cases),
runs the workers and prints the table. Inside a worker (`--worker SIDE`) it builds only that
side's workloads, so the process imports only that library, calls each workload a few times to
warm up (numba compiles, caches fill), then times `--repeats` calls and prints the medians as
JSON, with the process's peak resident memory.

The warm-up lasts at least `--warmup` calls and at least `--warmup-seconds` (0.3 s): a
workload is timed only after whatever the one before it left running has stopped. OpenBLAS's
threads spin for about 0.1 s after each matrix product (2^28 cycles) before they sleep, and a
numba kernel timed in that window finds one core taken: with two warm-up calls, ConvNetJS
conv1 forward + backward (all numba) took 4.6 ms when timed right after LeNet conv2's GEMMs,
2.6 ms once those threads slept. The rule is the same for every side.

Ratios are peer time / scratchnet time: above 1 means scratchnet is faster.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
OURS = "scratchnet"


def results_path(name: str) -> str:
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, f"{name}.json")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: elapsed time (what a user waits). cpu: CPU time of the worker process, all its
threads (what the work costs; on cores shared with other jobs it leaves out the time the
process waits for a core, so it is the steadier of the two with one thread per side)."""


def time_workloads(workloads: dict, repeats: int, warmup: int, cases=None, clock="wall",
                   warmup_seconds: float = 0.0):
    """({case: median seconds of `repeats` calls}, {case: checksum}), after untimed calls
    for at least `warmup` calls and `warmup_seconds` of wall time. A workload with a
    `prepare` attribute has it called, untimed, before each call (to build the graph whose
    backward alone is timed, say); one with a `checksum` attribute has it applied to its
    first result, so the parent can check that every side computes the same thing."""
    now = CLOCKS[clock]
    medians, checks = {}, {}
    for name, run in workloads.items():
        if cases and name not in cases:
            continue
        prepare = getattr(run, "prepare", lambda: None)
        start, i = time.perf_counter(), 0
        while i < max(warmup, 1) or time.perf_counter() - start < warmup_seconds:
            prepare()
            result = run()
            if i == 0 and hasattr(run, "checksum"):
                checks[name] = run.checksum(result)
            i += 1
        times = []
        for _ in range(repeats):
            prepare()
            t0 = now()
            run()
            times.append(now() - t0)
        medians[name] = statistics.median(times)
    return medians, checks


def _worker(sides: dict, args) -> None:
    build = sides[args.worker]
    workloads = build(args)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(args.threads)
    medians, checks = time_workloads(workloads, args.repeats, args.warmup, args.cases,
                                     args.clock, args.warmup_seconds)
    libraries = sorted(m for m in ("torch", "scratchnet") if m in sys.modules)
    print(json.dumps({"side": args.worker, "seconds": medians, "checks": checks,
                      "peak_rss_mib": peak_rss_mib(), "libraries": libraries}))


def run_worker(script: str, side: str, args, passthrough: list[str]) -> dict:
    env = dict(os.environ)
    for var in THREAD_VARIABLES:
        env[var] = str(args.threads)
    # idle OpenMP threads sleep instead of spinning, in every side alike
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = [sys.executable, script, "--worker", side, "--threads", str(args.threads),
           "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--warmup-seconds", str(args.warmup_seconds), "--clock", args.clock]
    if args.cases:
        cmd += ["--cases", *args.cases]
    proc = subprocess.run(cmd + passthrough, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the {side} worker failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    # torch's idle threads in a scratchnet or NumPy process, or scratchnet's in a torch one,
    # would time the other library (a NumPy side may use scratchnet's plain reference code)
    forbidden = {"scratchnet"} if library(side) == "torch" else {"torch"}
    others = [lib for lib in report["libraries"] if lib in forbidden]
    if others:
        raise RuntimeError(f"the {side} worker imported {others}: each side must import only "
                           f"its own library, or the comparison is not fair")
    return report


def library(side: str) -> str:
    """The library a side runs: 'torch-foreach' is torch run another way."""
    return side.split("-")[0]


def available(side: str) -> bool:
    if library(side) == "torch":
        import importlib.util
        return importlib.util.find_spec("torch") is not None
    return True


def compare(script: str, sides: dict, args, passthrough: list[str]) -> dict:
    """Run `args.rounds` rounds of one worker per side, alternating the order, and gather
    {case: {side: {"median": s, "low": s, "high": s}}} plus each side's peak memory."""
    names = [s for s in (args.sides or list(sides)) if available(s)]
    per_round = {side: [] for side in names}
    memory = {side: [] for side in names}
    checks = {}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for side in order:
            report = run_worker(script, side, args, passthrough)
            per_round[side].append(report["seconds"])
            memory[side].append(report["peak_rss_mib"])
            checks[side] = report.get("checks", {})
        print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr)
    check_agreement(checks)
    table = {}
    for side, rounds in per_round.items():
        for case in rounds[0]:
            values = [rnd[case] for rnd in rounds]
            table.setdefault(case, {})[side] = {"median": statistics.median(values),
                                                "low": min(values), "high": max(values)}
    return {"cases": table, "peak_rss_mib": {s: max(m) for s, m in memory.items()},
            "sides": names}


def check_agreement(checks: dict) -> None:
    """Every side's checksum of a case must match scratchnet's: equal lists, or numbers
    within 1e-4 relative. A peer that computes something else makes the ratio meaningless."""
    ours = checks.get(OURS, {})
    for side, by_case in checks.items():
        for case, value in by_case.items():
            if case not in ours:
                continue
            ref = ours[case]
            same = (value == ref if isinstance(ref, list)
                    else abs(value - ref) <= 1e-4 * max(abs(ref), 1e-12))
            if not same:
                raise RuntimeError(f"{case}: the {side} side computes a different result "
                                   f"from scratchnet ({value!r} vs {ref!r})")


def format_table(result: dict, unit: float = 1e3, unit_name: str = "ms") -> str:
    sides = result["sides"]
    peers = [s for s in sides if s != OURS]
    header = ["case"] + [f"{s} {unit_name} (low-high)" for s in sides]
    header += [f"{p}/{OURS}" for p in peers if OURS in sides]
    rows = [header]
    for case, by_side in result["cases"].items():
        row = [case]
        for s in sides:
            v = by_side.get(s)
            row.append("-" if v is None else
                       f"{v['median'] * unit:.4g} ({v['low'] * unit:.4g}-{v['high'] * unit:.4g})")
        if OURS in sides:
            for p in peers:
                row.append("-" if p not in by_side or OURS not in by_side else
                           f"{by_side[p]['median'] / by_side[OURS]['median']:.2f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def geometric_mean(values) -> float:
    import math
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def ratios(result: dict, peer: str) -> dict:
    """{case: peer time / our time} for the cases both sides ran."""
    return {case: by[peer]["median"] / by[OURS]["median"]
            for case, by in result["cases"].items() if peer in by and OURS in by}


def parser(description: str, add_arguments=None, rounds: int = 5, repeats: int = 10):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--rounds", type=int, default=rounds,
                    help="worker processes per side (alternating order)")
    ap.add_argument("--repeats", type=int, default=repeats, help="timed calls per process")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls per process first")
    ap.add_argument("--warmup-seconds", type=float, default=0.3,
                    help="...and untimed calls for at least this long (idle threads that the "
                         "previous workload left spinning go to sleep)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every side")
    ap.add_argument("--sides", nargs="*", help="which sides to run (default: all available)")
    ap.add_argument("--cases", nargs="*", help="only these cases")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall: elapsed time; cpu: the worker's CPU time (steadier on busy "
                         "cores, one thread per side)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    if add_arguments:
        add_arguments(ap)
    return ap


def main(script: str, sides: dict, name: str, description: str = "", add_arguments=None,
         rounds: int = 5, repeats: int = 10, report=None) -> dict | None:
    """Entry point of a benchmark script: a worker when --worker is given, else the parent
    that runs the workers, prints the table and writes benchmarks/results/<name>.json.
    `report(result, args)` may print extra lines (goals, geometric means) and returns
    extra fields for the JSON file."""
    ap = parser(description, add_arguments, rounds, repeats)
    args, _ = ap.parse_known_args()
    if args.worker:
        _worker(sides, args)
        return None
    passthrough = _passthrough(sys.argv[1:], ap)
    result = compare(os.path.abspath(script), sides, args, passthrough)
    print(f"{args.rounds} rounds x {args.repeats} calls per process, {args.threads} threads "
          f"per side, {args.clock} clock, medians; ratio = peer time / scratchnet time "
          f"(above 1: scratchnet faster)")
    print(format_table(result))
    memory = ", ".join(f"{s} {m:.0f} MiB" for s, m in result["peak_rss_mib"].items())
    print(f"peak resident memory per worker process: {memory}")
    if report:
        result["extra"] = report(result, args) or {}
    result["settings"] = {"rounds": args.rounds, "repeats": args.repeats,
                          "warmup": args.warmup, "warmup_seconds": args.warmup_seconds,
                          "threads": args.threads, "clock": args.clock}
    with open(results_path(name), "w") as f:
        json.dump(result, f, indent=2)
    return result


def _passthrough(argv: list[str], ap) -> list[str]:
    """The script's own options, to hand on to each worker (the harness's are set apart)."""
    own = {"--rounds", "--repeats", "--warmup", "--threads", "--sides", "--cases", "--worker",
           "--clock"}
    out, skip = [], False
    for a in argv:
        if a.startswith("--"):
            skip = a.split("=")[0] in own
        if not skip:
            out.append(a)
    return out
