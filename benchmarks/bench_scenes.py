"""How long DigitScenes takes to generate scenes (the issue's goal: 1,000 64x64 scenes in well
under a few seconds), each round in a fresh process so that nothing is cached between rounds.

    python benchmarks/bench_scenes.py [--rounds 5] [--n 1000] [--size 64]

Reports the medians (and spread) of: loading the sources (MNIST sample and backgrounds, paid
once per process) and generating n scenes of 1-4 digits. There is no peer to race against:
the figure is an absolute time, so it says as much about the machine's load as about the code.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, time
t0 = time.perf_counter()
from scratchnet.data import DigitScenes
ds = DigitScenes("train", num_samples={n}, size={size})
t1 = time.perf_counter()
for i in range(len(ds)):
    ds[i]
t2 = time.perf_counter()
print(json.dumps({{"load": t1 - t0, "generate": t2 - t1}}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    runs = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", CHILD.format(n=args.n, size=args.size)],
                             capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    for key in ("load", "generate"):
        values = [r[key] for r in runs]
        print(f"{key:9} median {statistics.median(values):.2f} s  "
              f"(min {min(values):.2f}, max {max(values):.2f}, {args.rounds} processes)")
    per = statistics.median(r["generate"] for r in runs) / args.n * 1e3
    print(f"{args.n} scenes of {args.size}x{args.size}: {per:.2f} ms per scene")


if __name__ == "__main__":
    main()
