"""How long the lessons take: each lesson run as CI runs it (a fresh process, fast mode),
against the budgets of the lesson issue (under 30 s each in fast mode, under 10 s for a lesson
without training).

    python benchmarks/bench_lessons.py [--repeats 3] [--lessons 01 02 ...] [--full]

A fresh interpreter per run, so the time includes importing scratchnet, NumPy, numba and
matplotlib and loading the cached kernels: what a student waits for. The lessons run in
turn, once per round, so a busy moment on the machine hits all of them alike; the median
over rounds is reported next to the CPU time the process used (user + system), which
shows how much of the wall time was spent waiting for the cores. --full runs without fast
mode (longer training and bigger timing inputs) as well.
Results go to benchmarks/results/lessons.json.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LESSONS = os.path.join(HERE, "..", "lessons")
FAST_BUDGET_S = 30.0
NO_TRAINING_BUDGET_S = 10.0


def run_once(path, fast, out_dir):
    """(wall seconds, cpu seconds, return code) of one lesson in a fresh interpreter."""
    env = dict(os.environ, MPLBACKEND="Agg", SCRATCHNET_LESSON_OUT=out_dir,
               SCRATCHNET_FAST="1" if fast else "0")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.call([sys.executable, path], env=env, cwd=os.path.dirname(path),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def trains(path):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    # a lesson trains through a loop of its own (fit, optimizer.step) or a detector recipe
    # (recipe.train(model, scenes, config, ...), lessons 23, 24 and 28)
    return any(call in src for call in ("fit(", ".step()", ").train(model", "recipe.train("))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lessons", nargs="*", default=["01", "02", "03", "04", "05", "06"],
                    help="lesson numbers (default: 01 to 06); 'all' for every lesson")
    ap.add_argument("--full", action="store_true", help="also time without fast mode")
    args = ap.parse_args()

    paths = sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.py")))
    if args.lessons != ["all"]:
        paths = [p for p in paths if os.path.basename(p)[:2] in args.lessons]
    modes = [True, False] if args.full else [True]
    runs = {(p, m): [] for p in paths for m in modes}
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(args.repeats):
            for key in runs:
                runs[key].append(run_once(key[0], key[1], out_dir))

    rows = []
    print(f"median of {args.repeats} runs, each in a fresh process "
          f"({os.cpu_count()} cores on this machine, shared)")
    print(f"{'lesson':28}{'mode':>6}{'wall s':>9}{'cpu s':>8}{'budget s':>10}  verdict")
    for (path, fast), results in runs.items():
        name = os.path.basename(path)[:-3]
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        ok_runs = all(r[2] == 0 for r in results)
        budget = (NO_TRAINING_BUDGET_S if not trains(path) else FAST_BUDGET_S) if fast \
            else None
        verdict = "FAILED" if not ok_runs else (
            "" if budget is None else ("ok" if wall < budget else "over budget"))
        print(f"{name:28}{'fast' if fast else 'full':>6}{wall:9.1f}{cpu:8.1f}"
              f"{budget if budget else '':>10}  {verdict}")
        rows.append({"lesson": name, "fast": fast, "wall_s": wall, "cpu_s": cpu,
                     "budget_s": budget, "all_runs_ok": ok_runs,
                     "walls": [r[0] for r in results]})
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "lessons.json"), "w") as f:
        json.dump({"repeats": args.repeats, "python": sys.version.split()[0], "rows": rows},
                  f, indent=2)
    print("saved benchmarks/results/lessons.json")


if __name__ == "__main__":
    main()
