"""Weights on disk: torchvision-keyed state dicts as `.safetensors` or `.npz` files.

The models of this package name their layers as torchvision does, so a state dict exported
from PyTorch loads here unchanged. With PyTorch at hand, one line writes it:

    from safetensors.torch import save_file
    save_file(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.safetensors")

and here:

    model = scratchnet.models.resnet18()
    scratchnet.models.load_weights(model, "resnet18.safetensors")

The file formats themselves are read and written by `scratchnet.serialization`.
"""
from __future__ import annotations

import os

import numpy as np

from .._atomic import atomic_write
from ..serialization import load, load_safetensors, save_safetensors, write_npz


def load_state_file(path) -> dict:
    """A flat state dict (name -> ndarray) from a .safetensors or .npz file."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return load_safetensors(path, as_numpy=True)
    if path.endswith(".npz"):
        state = load(path, as_numpy=True)
        nested = [k for k, v in state.items() if isinstance(v, dict)]
        if nested:
            raise ValueError(f"load_state_file: {path} is a checkpoint with nested entries "
                             f"{nested}, not a flat state dict; pick one, e.g. "
                             f"scratchnet.load(path)[{nested[0]!r}]")
        return state
    raise ValueError(f"load_state_file: {path!r} is neither .safetensors nor .npz (a PyTorch "
                     f".pth needs torch to unpickle: torch.load it and save the state dict "
                     f"with safetensors.torch.save_file)")


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
    """Load a .safetensors / .npz state dict into `model`; returns (missing_keys,
    unexpected_keys) as `load_state_dict` does."""
    return model.load_state_dict(load_state_file(path), strict=strict)


def save_weights(model, path) -> None:
    """Save `model.state_dict()` (torchvision's key names) to .safetensors or .npz."""
    save_state_file(model.state_dict(), path)
