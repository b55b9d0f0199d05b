"""Data pipeline and checkpoints: ours vs PyTorch and the safetensors package.

    python benchmarks/bench_data.py [--rounds 5] [--repeats 9]

Cases (each library in its own processes, benchmarks/harness.py):
- one epoch of a DataLoader over 10,000 (1, 32, 32) float32 images, batch 64, shuffled:
  our whole-batch fancy indexing vs torch.utils.data.DataLoader, and our item-by-item
  collation alone;
- bilinear resize of 64 (3, 32, 32) images to 64x64 vs torch's interpolate;
- rotation of 64 (3, 32, 32) images by 30 degrees vs torch's affine_grid + grid_sample;
- saving and loading a 10M-parameter float32 state dict: our .npz vs torch.save/torch.load,
  our safetensors writer and reader vs the safetensors package.
Ratios are peer time / ours (above 1: ours faster). Results go to benchmarks/results/data.json.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np

import harness


def arrays():
    rng = np.random.default_rng(0)
    return {"x": rng.random((10_000, 1, 32, 32), dtype=np.float32),
            "y": rng.integers(0, 10, 10_000),
            "imgs": rng.random((64, 3, 32, 32), dtype=np.float32),
            "state": {f"layer{i}.weight": rng.standard_normal((1000, 1000), dtype=np.float32)
                      for i in range(10)}}


def scratch_dir():
    d = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, d, True)
    return lambda name: os.path.join(d, name)


def epoch(loader):
    for _ in loader:
        pass


def ours(args):
    import scratchnet as sn
    from scratchnet.data import DataLoader, TensorDataset, default_collate
    from scratchnet.data import transforms as T
    a, path = arrays(), scratch_dir()
    ds = TensorDataset(a["x"], a["y"])
    imgs, state = a["imgs"], a["state"]
    sn.save(state, path("a.npz"))
    sn.save_safetensors(state, path("a.st"))
    return {
        "loader epoch": lambda: epoch(DataLoader(ds, 64, shuffle=True, generator=0)),
        "loader epoch, item by item": lambda: epoch(DataLoader(
            ds, 64, shuffle=True, generator=0, collate_fn=default_collate)),
        "bilinear resize to 64x64": lambda: T.resize(imgs, (64, 64)),
        "rotate 30 degrees": lambda: T.rotate(imgs, 30.0),
        "save 40 MB (npz / torch.save)": lambda: sn.save(state, path("a.npz")),
        "load 40 MB (npz / torch.load)": lambda: sn.load(path("a.npz")),
        "save 40 MB safetensors": lambda: sn.save_safetensors(state, path("a.st")),
        "load 40 MB safetensors": lambda: sn.load_safetensors(path("a.st")),
    }


def torch_side(args):
    import torch
    a, path = arrays(), scratch_dir()
    tds = torch.utils.data.TensorDataset(torch.from_numpy(a["x"]), torch.from_numpy(a["y"]))
    timgs = torch.from_numpy(a["imgs"])
    tstate = {k: torch.from_numpy(v) for k, v in a["state"].items()}
    torch.save(tstate, path("a.pt"))
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=torch.float32).expand(64, 2, 3)

    def rotate():
        grid = torch.nn.functional.affine_grid(theta, timgs.shape, align_corners=False)
        torch.nn.functional.grid_sample(timgs, grid, align_corners=False)

    return {
        "loader epoch": lambda: epoch(torch.utils.data.DataLoader(tds, batch_size=64,
                                                                  shuffle=True)),
        "bilinear resize to 64x64": lambda: torch.nn.functional.interpolate(
            timgs, size=(64, 64), mode="bilinear", align_corners=False),
        "rotate 30 degrees": rotate,
        "save 40 MB (npz / torch.save)": lambda: torch.save(tstate, path("a.pt")),
        "load 40 MB (npz / torch.load)": lambda: torch.load(path("a.pt")),
    }


def safetensors_side(args):
    from safetensors import numpy as stnp
    a, path = arrays(), scratch_dir()
    stnp.save_file(a["state"], path("b.st"))
    return {"save 40 MB safetensors": lambda: stnp.save_file(a["state"], path("b.st")),
            "load 40 MB safetensors": lambda: stnp.load_file(path("b.st"))}


if __name__ == "__main__":
    import importlib.util
    sides = {"scratchnet": ours, "torch": torch_side}
    if importlib.util.find_spec("safetensors"):
        sides["safetensors"] = safetensors_side
    harness.main(__file__, sides, name="data", description=__doc__.splitlines()[0],
                 rounds=5, repeats=9)
