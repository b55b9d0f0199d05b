"""Weights on disk: torchvision-keyed state dicts as `.safetensors`, `.npz` or PyTorch
`.pth` / `.pt` files.

The models of this package name their layers as torchvision does, so torchvision's published
weights load here unchanged, straight from the file torchvision downloads:

    model = scratchnet.models.resnet18()
    scratchnet.models.load_weights(model, "resnet18-f37072fd.pth")

A .pth is read without torch and without running its pickle (scratchnet.pth). The other
formats are read and written by `scratchnet.serialization`.
"""
from __future__ import annotations

import os

import numpy as np

from .._atomic import atomic_write
from ..pth import load_pth
from ..serialization import load, load_safetensors, save_safetensors, write_npz


def load_state_file(path) -> dict:
    """A flat state dict (name -> ndarray) from a .safetensors, .npz or PyTorch .pth/.pt
    file (read without torch and without running the file's pickle: see scratchnet.pth)."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return load_safetensors(path, as_numpy=True)
    if path.endswith(".npz"):
        state, how = load(path, as_numpy=True), "scratchnet.load(path)"
    elif path.endswith((".pth", ".pt")):
        state, how = load_pth(path), "scratchnet.pth.load_pth(path)"
    else:
        raise ValueError(f"load_state_file: {path!r} is not .safetensors, .npz, .pth or .pt")
    if not isinstance(state, dict):
        raise ValueError(f"load_state_file: {path} holds a {type(state).__name__}, not a "
                         f"state dict of name -> tensor")
    nested = [k for k, v in state.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(f"load_state_file: {path} is a checkpoint with nested entries "
                         f"{nested}, not a flat state dict; pick one, e.g. "
                         f"{how}[{nested[0]!r}]")
    others = [k for k, v in state.items() if not isinstance(v, np.ndarray)]
    if others:
        raise ValueError(f"load_state_file: {path}: {others[0]!r} is a "
                         f"{type(state[others[0]]).__name__}, not a tensor; a state dict maps "
                         f"names to tensors")
    return dict(state)


def save_state_file(state_dict, path) -> None:
    """Write a flat state dict to .safetensors or .npz (plain np.savez entries, which
    `np.load` and hence PyTorch users read without scratchnet), chosen by the file name;
    atomically, as every save here (see scratchnet._atomic)."""
    path = os.fspath(path)
    if not (path.endswith(".safetensors") or path.endswith(".npz")):
        raise ValueError(f"save_state_file: {path!r} must end in .safetensors or .npz")
    arrays = {}
    for key, value in state_dict.items():
        a = np.asarray(getattr(value, "data", value))
        if a.dtype.hasobject:
            raise TypeError(f"save_state_file: {key!r} is an object array; only numeric and "
                            f"bool arrays can be stored without pickle")
        arrays[key] = a
    if path.endswith(".safetensors"):
        save_safetensors(arrays, path)
    else:
        atomic_write(path, lambda f: write_npz(f, arrays))


def load_weights(model, path, strict: bool = True):
    """Load a .safetensors / .npz / .pth / .pt state dict into `model`; returns
    (missing_keys, unexpected_keys) as `load_state_dict` does."""
    return model.load_state_dict(load_state_file(path), strict=strict)


def save_weights(model, path) -> None:
    """Save `model.state_dict()` (torchvision's key names) to .safetensors or .npz."""
    save_state_file(model.state_dict(), path)
