"""Data pipeline and checkpoints: ours vs PyTorch, and the loader's batch path vs per-item.

    python benchmarks/bench_data.py [--repeats 9]

Cases (each timed in one process, interleaved with its peers, median of the repeats):
- one epoch of a DataLoader over 10,000 (1, 32, 32) float32 images, batch 64, shuffled:
  our whole-batch fancy indexing, our item-by-item collation, torch.utils.data.DataLoader;
- bilinear resize of 64 (3, 32, 32) images to 64x64 vs torch's interpolate;
- rotation of 64 (3, 32, 32) images by 30 degrees vs torch's affine_grid + grid_sample;
- saving and loading a 10M-parameter float32 state dict: our .npz and safetensors writers
  vs torch.save / torch.load and the safetensors package.
Ratios are ours / peer (below 1 is faster). Results go to benchmarks/results/data.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

import scratchnet as sn
from scratchnet.data import DataLoader, TensorDataset, default_collate
from scratchnet.data import transforms as T


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def race(cases, repeats):
    """{name: median seconds}, running every case once per round so load spikes hit all."""
    times = {name: [] for name in cases}
    for fn in cases.values():
        fn()                                          # warm-up (caches, first allocations)
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    return {name: statistics.median(v) for name, v in times.items()}


def epoch(loader):
    for _ in loader:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    results = {}

    def report(title, medians, ours, peers):
        print(title)
        entry = {}
        for name, t in medians.items():
            entry[name + "_ms"] = t * 1e3
            print(f"  {name:<24} {t * 1e3:9.2f} ms")
        for peer in peers:
            if peer in medians:
                ratio = medians[ours] / medians[peer]
                entry[f"ratio_{ours}_over_{peer}"] = ratio
                print(f"  ratio {ours} / {peer}: {ratio:.2f}x")
        results[title] = entry

    # -- loader
    x = rng.random((10_000, 1, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 10_000)
    ds = TensorDataset(x, y)
    cases = {"batch path": lambda: epoch(DataLoader(ds, 64, shuffle=True, generator=0)),
             "item by item": lambda: epoch(DataLoader(ds, 64, shuffle=True, generator=0,
                                                      collate_fn=default_collate))}
    if torch:
        tds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        cases["torch DataLoader"] = lambda: epoch(torch.utils.data.DataLoader(
            tds, batch_size=64, shuffle=True))
    report("DataLoader epoch: 10,000 x (1, 32, 32), batch 64, shuffled",
           race(cases, args.repeats), "batch path", ["item by item", "torch DataLoader"])

    # -- resize and rotation
    imgs = rng.random((64, 3, 32, 32), dtype=np.float32)
    cases = {"ours": lambda: T.resize(imgs, (64, 64))}
    if torch:
        timgs = torch.from_numpy(imgs)
        cases["torch"] = lambda: torch.nn.functional.interpolate(
            timgs, size=(64, 64), mode="bilinear", align_corners=False)
    report("bilinear resize 64 x (3, 32, 32) -> 64x64", race(cases, args.repeats), "ours",
           ["torch"])

    cases = {"ours": lambda: T.rotate(imgs, 30.0)}
    if torch:
        c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
        theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=torch.float32).expand(64, 2, 3)

        def torch_rotate():
            grid = torch.nn.functional.affine_grid(theta, timgs.shape, align_corners=False)
            torch.nn.functional.grid_sample(timgs, grid, align_corners=False)

        cases["torch"] = torch_rotate
    report("rotate 64 x (3, 32, 32) by 30 degrees, bilinear", race(cases, args.repeats),
           "ours", ["torch"])

    # -- checkpoints
    state = {f"layer{i}.weight": rng.standard_normal((1000, 1000), dtype=np.float32)
             for i in range(10)}
    with tempfile.TemporaryDirectory() as d:
        p = lambda name: os.path.join(d, name)           # noqa: E731
        cases = {"sn.save npz": lambda: sn.save(state, p("a.npz")),
                 "sn.save_safetensors": lambda: sn.save_safetensors(state, p("a.st"))}
        loads = {"sn.load npz": lambda: sn.load(p("a.npz")),
                 "sn.load_safetensors": lambda: sn.load_safetensors(p("a.st"))}
        if torch:
            tstate = {k: torch.from_numpy(v) for k, v in state.items()}
            cases["torch.save"] = lambda: torch.save(tstate, p("a.pt"))
            loads["torch.load"] = lambda: torch.load(p("a.pt"))
        try:
            from safetensors import numpy as stnp
            cases["safetensors pkg"] = lambda: stnp.save_file(state, p("b.st"))
            loads["safetensors pkg load"] = lambda: stnp.load_file(p("b.st"))
        except ImportError:
            pass
        reps = max(3, args.repeats // 2)
        report("save 10M float32 parameters (40 MB)", race(cases, reps), "sn.save npz",
               ["torch.save", "safetensors pkg"])
        for k in ("sn.save_safetensors",):
            for peer in ("torch.save", "safetensors pkg"):
                entry = results["save 10M float32 parameters (40 MB)"]
                if f"{peer}_ms" in entry:
                    r = entry[f"{k}_ms"] / entry[f"{peer}_ms"]
                    entry[f"ratio_{k}_over_{peer}"] = r
                    print(f"  ratio {k} / {peer}: {r:.2f}x")
        report("load 10M float32 parameters (40 MB)", race(loads, reps), "sn.load npz",
               ["torch.load", "safetensors pkg load"])

    if torch:
        results["torch_version"] = torch.__version__
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "data.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
