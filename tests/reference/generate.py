"""Generate the stored PyTorch reference outputs used by tests/test_reference.py.

    pip install torch==2.13.0
    python tests/reference/generate.py            # all case modules
    python tests/reference/generate.py conv pool  # only these modules

For every case in tests/opcases with a `theirs`, this draws the case's deterministic float64
inputs, runs PyTorch forward, contracts the outputs with a random cotangent, and stores inputs,
outputs, cotangents and input gradients in tests/reference/<module>.npz. MANIFEST.json records
the torch and numpy versions that produced each file. The tests read these files and do not
need torch.
"""
from __future__ import annotations

import json
import os
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.opcases import all_cases  # noqa: E402


def torch_reference(case):
    """(inputs, outputs, cotangents, grads) for one case, all as NumPy arrays."""
    inputs = case.make_inputs()
    ts = []
    for a, g in inputs:
        t = torch.from_numpy(np.array(a))
        if g and t.is_floating_point():
            t.requires_grad_(True)
        ts.append(t)
    out = case.theirs(torch, *ts)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rng = np.random.default_rng(zlib.crc32(case.name.encode()) + 1)
    cots = [rng.standard_normal(tuple(o.shape)) if o.is_floating_point() else None
            for o in outs]
    grads = [None] * len(ts)
    want = [i for i, t in enumerate(ts) if t.requires_grad]
    diff = [(o, c) for o, c in zip(outs, cots) if c is not None and o.requires_grad]
    if want and diff:
        total = sum((o * torch.from_numpy(c)).sum() for o, c in diff)
        gs = torch.autograd.grad(total, [ts[i] for i in want], allow_unused=True)
        for i, g in zip(want, gs):
            grads[i] = np.zeros(tuple(ts[i].shape)) if g is None else g.numpy()
    return ([a for a, _ in inputs], [o.detach().numpy() for o in outs], cots, grads)


def main(modules=None):
    manifest_path = os.path.join(HERE, "MANIFEST.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    by_module = {}
    for mod, case in all_cases():
        if case.theirs is not None and (not modules or mod in modules):
            by_module.setdefault(mod, []).append(case)
    for mod, cases in sorted(by_module.items()):
        store = {}
        for case in cases:
            ins, outs, cots, grads = torch_reference(case)
            for i, a in enumerate(ins):
                store[f"{case.name}|in{i}"] = a
            for j, o in enumerate(outs):
                store[f"{case.name}|out{j}"] = o
                if cots[j] is not None:
                    store[f"{case.name}|cot{j}"] = cots[j]
            for i, g in enumerate(grads):
                if g is not None:
                    store[f"{case.name}|grad{i}"] = g
        np.savez_compressed(os.path.join(HERE, f"{mod}.npz"), **store)
        manifest[f"{mod}.npz"] = {"torch": torch.__version__, "numpy": np.__version__,
                                  "generator": "tests/reference/generate.py",
                                  "cases": len(cases)}
        print(f"{mod}.npz: {len(cases)} cases")
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
