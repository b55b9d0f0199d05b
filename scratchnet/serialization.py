"""Checkpoints: `save(state, path)` / `load(path)`, and the safetensors format.

    sn.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}, "ckpt.npz")
    ckpt = sn.load("ckpt.npz")
    model.load_state_dict(ckpt["model"])

save / load use NumPy's .npz (a zip of .npy files) and never pickle: loading a checkpoint
cannot run code, whoever wrote the file. Every array is one entry named by its dotted path
("model.conv1.weight", "optimizer.param_groups.0.lr"), so `np.load` alone can read the file.
One more entry, "__scratchnet__", holds the nesting as JSON, so `load` rebuilds the original
structure exactly, even when keys themselves contain dots (as state-dict keys do).

What round-trips, exactly (type, dtype, shape and value):
- dicts (str or int keys, in order), lists, tuples, None;
- Tensors -> Tensors (plain leaves without grad: a Parameter comes back as a Tensor, which
  `load_state_dict` copies into the model's Parameter); ndarrays -> ndarrays;
- Python int, float, bool and str; NumPy scalars (np.float32(2.5) stays np.float32);
- lists and tuples of numbers of one type are stored as one array and come back as the same
  list (ints stay ints).
Anything else (arbitrary objects, object arrays, ints beyond int64) is a TypeError at save.

Writes are atomic: the file is written to a temporary name in the same directory, flushed to
disk (fsync) and then renamed over the target (os.replace), so a crash or interruption mid-save
leaves the previous checkpoint intact (see scratchnet._atomic); a write-protected target is
refused, not replaced.

safetensors (`save_safetensors` / `load_safetensors`) is Hugging Face's flat format, written
here from its specification: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON header
mapping each name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} (plus an
optional "__metadata__" of str -> str), then the raw little-endian C-order bytes. Files
written here load with the `safetensors` package (and in PyTorch), and theirs load here.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zipfile

import numpy as np

from ._atomic import atomic_write
from .autograd.tensor import Tensor
from .pth import bfloat16_to_float32

META_KEY = "__scratchnet__"
FORMAT = "scratchnet.checkpoint"
VERSION = 1



_SCALARS = {int: "int", float: "float", bool: "bool", str: "str"}


def _check_array(a, where):
    if a.dtype.hasobject:
        raise TypeError(f"save: {where} is an object array ({a.dtype}); only numeric, bool "
                        f"and string arrays can be stored without pickle")
    return a


def _flatten(obj, path, entries, where):
    """The JSON description of `obj`; arrays are added to `entries` under dotted names."""
    def leaf(kind, array, **extra):
        name = ".".join(str(p) for p in path)
        if name in entries or name == META_KEY:
            raise ValueError(f"save: two values would be stored under the same name {name!r} "
                             f"(keys with dots can collide with nested keys); rename one")
        entries[name] = array
        return {"t": kind, "e": name, **extra}

    if isinstance(obj, Tensor):
        return leaf("tensor", _check_array(obj.data, where))
    if isinstance(obj, np.ndarray):
        return leaf("array", _check_array(obj, where))
    if isinstance(obj, np.generic):
        return leaf("npscalar", _check_array(np.asarray(obj), where))
    if obj is None:
        return {"t": "none"}
    if type(obj) in _SCALARS:
        if type(obj) is int and not -2**63 <= obj < 2**63:
            raise TypeError(f"save: {where} = {obj} does not fit in int64")
        return leaf(_SCALARS[type(obj)], np.asarray(obj))
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, {where} has key {k!r}")
            items.append([k, _flatten(v, path + [k], entries, f"{where}[{k!r}]")])
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        types = {type(v) for v in obj}
        if obj and len(types) == 1 and types <= {int, float, bool}:
            array = np.asarray(obj)
            if array.dtype.hasobject:
                raise TypeError(f"save: {where} holds ints that do not fit in int64")
            return leaf("numbers", array, seq=kind)
        return {"t": kind, "items": [_flatten(v, path + [i], entries, f"{where}[{i}]")
                                     for i, v in enumerate(obj)]}
    raise TypeError(f"save: cannot store {where} of type {type(obj).__name__}; a checkpoint "
                    f"holds dicts, lists, tuples, Tensors, arrays, numbers, strings and None")


def save(obj, f, compress=False):
    """Write a checkpoint (a dict, e.g. a state dict or {"model": ..., "epoch": ...}) to `f`.

    f: a path (written atomically, see the module doc; the name is used as given, no suffix
       is added) or a binary file object.
    compress: zip-deflate the entries (smaller, slower).
    """
    if not isinstance(obj, dict):
        raise TypeError(f"save: expects a dict (such as model.state_dict()), got "
                        f"{type(obj).__name__}; wrap it: save({{'x': value}}, path)")
    entries = {}
    tree = _flatten(obj, [], entries, "state")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    entries[META_KEY] = np.asarray(meta)

    def write(fileobj):
        write_npz(fileobj, entries, compress)

    if hasattr(f, "write"):
        write(f)
    else:
        atomic_write(f, write)


def write_npz(f, arrays, compress=False):
    """Write {name: array} to the binary file `f` as an .npz that `np.load` reads.

    The format np.savez writes (a zip of NAME.npy files), written here because np.savez takes
    the names as keyword arguments: a key called "allow_pickle" became an option and vanished,
    and one called "file" was an error. Object arrays are refused (they would need pickle).
    """
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=mode, allowZip64=True) as zf:
        for name, a in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(a), allow_pickle=False)


def _rebuild(node, files, as_numpy, where):
    t = node["t"]
    if t == "dict":
        return {k: _rebuild(v, files, as_numpy, where) for k, v in node["items"]}
    if t in ("list", "tuple"):
        items = [_rebuild(v, files, as_numpy, where) for v in node["items"]]
        return tuple(items) if t == "tuple" else items
    if t == "none":
        return None
    if node["e"] not in files:
        raise ValueError(f"load: {where} is damaged: entry {node['e']!r} is missing")
    a = files[node["e"]]
    if t == "tensor":
        return a if as_numpy else Tensor(a)
    if t == "array":
        return a
    if t == "npscalar":
        return a[()]
    if t == "numbers":
        return tuple(a.tolist()) if node["seq"] == "tuple" else a.tolist()
    if t in ("int", "float", "bool", "str"):
        return {"int": int, "float": float, "bool": bool, "str": str}[t](a[()])
    raise ValueError(f"load: {where} has an entry of unknown kind {t!r}; it was written by a "
                     f"newer scratchnet")


def load(f, as_numpy=False):
    """Read a checkpoint written by `save`; returns the same nesting of dicts and lists.

    Tensors come back as Tensors (as_numpy=True: as ndarrays), arrays as arrays. A plain
    .npz written with np.savez loads as a flat dict of arrays. Nothing is unpickled: a file
    that would need pickle is refused.
    """
    where = os.fspath(f) if not hasattr(f, "read") else getattr(f, "name", "the file")
    try:
        npz = np.load(f, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array (.npy); read it with np.load")
        with npz:
            files = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise
    except Exception as e:
        if isinstance(e, ValueError) and "pickle" in str(e):
            raise ValueError(f"load: {where} contains pickled objects, which load refuses "
                             f"(unpickling can run code)") from e
        raise ValueError(f"load: {where} is not a readable checkpoint; it may be truncated or "
                         f"not an .npz file ({type(e).__name__}: {e})") from e
    if META_KEY not in files:
        return files
    damaged = f"load: {where} has a damaged {META_KEY} entry"
    try:
        meta = json.loads(str(files.pop(META_KEY)[()]))
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{damaged} ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or "tree" not in meta:
        raise ValueError(f"{damaged}: it does not describe the checkpoint's structure")
    version = meta.get("version", 0)
    if meta.get("format") != FORMAT or not isinstance(version, int) or version > VERSION:
        raise ValueError(f"load: {where} is format {meta.get('format')!r} version "
                         f"{version!r}; this scratchnet reads {FORMAT!r} up to "
                         f"version {VERSION}")
    try:
        return _rebuild(meta["tree"], files, as_numpy, where)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as e:
        if isinstance(e, ValueError) and str(e).startswith("load:"):
            raise
        # a hand-edited or corrupted description (a node that is not an object, an entry
        # name that is a list, nesting deeper than Python's stack): a named error, not the
        # parser's internals
        raise ValueError(f"{damaged}: its structure cannot be rebuilt "
                         f"({type(e).__name__}: {str(e)[:200]})") from None


_ST_DTYPES = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
              "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
              "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
              "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8")}
_ST_NAMES = {dt.newbyteorder("="): name for name, dt in _ST_DTYPES.items()}
_MAX_HEADER = 100_000_000   # the reference implementation's limit


def load_run_checkpoint(path, command: str):
    """The dict a `scratchnet <command>` run saved at `path`, or ValueError saying in one
    line what is wrong with the file (missing, a folder, empty, damaged)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint at {path}; `scratchnet {command}` writes "
                         f"<out>/checkpoint.npz")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give the checkpoint file in it (`scratchnet "
                         f"{command}` writes <out>/checkpoint.npz)")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty (0 bytes): the save that wrote it did not finish")
    try:
        return load(path)
    except OSError as e:
        raise ValueError(str(e)) from e


def save_safetensors(tensors, path, metadata=None):
    """Write a flat {name: Tensor or ndarray} (e.g. model.state_dict()) as .safetensors.

    metadata: optional {str: str}, stored as the header's "__metadata__".
    Tensors are laid out by decreasing element size, then by name (as the reference writer
    does), and the header is padded with spaces to a multiple of 8 bytes, so every tensor
    starts aligned.
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors: expects a flat dict of name -> tensor, got "
                        f"{type(tensors).__name__}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save_safetensors: names must be strings, got {name!r}")
        if name == "__metadata__":
            raise ValueError("save_safetensors: '__metadata__' is reserved; pass metadata=")
        if not isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(f"save_safetensors: {name!r} is a {type(value).__name__}; the "
                            f"format stores only tensors (use save() for a full checkpoint)")
        a = value.data if isinstance(value, Tensor) else value
        key = a.dtype.newbyteorder("=") if a.dtype.byteorder != "|" else a.dtype
        if key not in _ST_NAMES:
            raise TypeError(f"save_safetensors: {name!r} has dtype {a.dtype}, which the "
                            f"format cannot store (supported: {sorted(_ST_DTYPES)})")
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        arrays[name] = np.asarray(a, dtype=_ST_DTYPES[_ST_NAMES[key]], order="C")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("save_safetensors: metadata must be a dict of str -> str")

    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header = {} if not metadata else {"__metadata__": dict(metadata)}
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _ST_NAMES[a.dtype.newbyteorder("=")],
                        "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)

    def write(f):
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].tobytes())

    atomic_write(path, write)


def _read_safetensors_header(f, where):
    head = f.read(8)
    if len(head) < 8:
        raise ValueError(f"load_safetensors: {where} is too short to be a safetensors file")
    (n,) = struct.unpack("<Q", head)
    if n > _MAX_HEADER:
        raise ValueError(f"load_safetensors: {where} declares a {n}-byte header (over the "
                         f"format's {_MAX_HEADER}-byte limit): not a safetensors file")
    raw = f.read(n)
    if len(raw) < n:
        raise ValueError(f"load_safetensors: {where} is truncated inside its header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"load_safetensors: {where} has an unreadable header "
                         f"({type(e).__name__}: {e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"load_safetensors: {where}'s header is not a JSON object")
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        # the specification: "__metadata__" maps strings to strings
        raise ValueError(f"load_safetensors: {where}: __metadata__ must map strings to "
                         f"strings, got {str(metadata)[:200]}")
    return n, header


def _is_size(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _tensor_info(where, name, info):
    """(dtype name, shape, begin, end) of one header entry, each checked for its type."""
    bad = f"load_safetensors: {where}: entry {name!r}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ValueError(f"{bad} lacks dtype, shape or data_offsets: {str(info)[:200]}")
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str) or (dtype_name not in _ST_DTYPES
                                           and dtype_name != "BF16"):
        raise ValueError(f"{bad} has dtype {dtype_name!r}, which NumPy cannot hold "
                         f"(readable: {sorted(_ST_DTYPES)} and BF16)")
    if not isinstance(shape, list) or not all(_is_size(d) for d in shape):
        raise ValueError(f"{bad} has a bad shape {str(shape)[:200]} (a list of sizes >= 0)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_size, offsets))
            and offsets[0] <= offsets[1]):
        raise ValueError(f"{bad} has bad data_offsets {str(offsets)[:200]} (a pair "
                         f"[begin, end] with 0 <= begin <= end)")
    return dtype_name, shape, offsets[0], offsets[1]


def safetensors_metadata(path):
    """The "__metadata__" dict of a .safetensors file ({} when it has none)."""
    with open(path, "rb") as f:
        _, header = _read_safetensors_header(f, os.fspath(path))
    return dict(header.get("__metadata__") or {})


def load_safetensors(path, as_numpy=False):
    """Read a .safetensors file: {name: Tensor} (as_numpy=True: ndarrays), in header order.

    Checks what the reference reader checks: known dtypes, sizes that match shape x dtype,
    offsets that tile the data section exactly with no gap or overlap. BF16 tensors (common
    in published weights; NumPy has no bfloat16) are widened to float32 exactly.
    """
    where = os.fspath(path)
    with open(path, "rb") as f:
        n, header = _read_safetensors_header(f, where)
        data_size = os.fstat(f.fileno()).st_size - 8 - n
        header.pop("__metadata__", None)
        infos = []
        for name, info in header.items():
            dtype_name, shape, begin, end = _tensor_info(where, name, info)
            itemsize = 2 if dtype_name == "BF16" else _ST_DTYPES[dtype_name].itemsize
            if end - begin != math.prod(shape) * itemsize:
                raise ValueError(f"load_safetensors: {where}: {name!r} is {dtype_name} of "
                                 f"shape {shape} ({math.prod(shape) * itemsize} bytes) but its "
                                 f"offsets [{begin}, {end}] span {end - begin}")
            infos.append((begin, end, name, dtype_name, tuple(shape)))
        infos.sort()
        position = 0
        for begin, end, name, _, _ in infos:
            if begin != position:
                raise ValueError(f"load_safetensors: {where}: {name!r} starts at byte "
                                 f"{begin}, expected {position} (a gap or overlap in the data)")
            position = end
        if position != data_size:
            raise ValueError(f"load_safetensors: {where} has {data_size} data bytes but the "
                             f"header accounts for {position}: the file is truncated or has "
                             f"extra bytes")
        out = {}
        for begin, end, name, dtype_name, shape in infos:
            # each tensor reads straight into its own buffer: one copy, nothing shared
            raw = np.empty(end - begin, dtype=np.uint8)
            if f.readinto(memoryview(raw)) != end - begin:
                raise ValueError(f"load_safetensors: {where} ended inside {name!r}")
            if dtype_name == "BF16":
                a = bfloat16_to_float32(raw.view("<u2")).reshape(shape)
            else:
                dt = _ST_DTYPES[dtype_name]
                a = raw.view(dt).reshape(shape).astype(dt.newbyteorder("="), copy=False)
            out[name] = a if as_numpy else Tensor(a)
    return {name: out[name] for name in header if name in out}
