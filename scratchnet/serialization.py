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
leaves the previous checkpoint intact.

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
import secrets
import struct

import numpy as np

from .autograd.tensor import Tensor

META_KEY = "__scratchnet__"
FORMAT = "scratchnet.checkpoint"
VERSION = 1


def _atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, fsync it, then rename it over
    `path`. On any failure the temporary file is removed and `path` is untouched."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide the final permissions, as open() would
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        # make the rename itself durable (POSIX; not possible on every platform)
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


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
        # looked up at call time (np.savez, not a saved reference), so a test can break it
        (np.savez_compressed if compress else np.savez)(fileobj, **entries)

    if hasattr(f, "write"):
        write(f)
    else:
        _atomic_write(f, write)


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
    try:
        meta = json.loads(str(files.pop(META_KEY)[()]))
    except json.JSONDecodeError as e:
        raise ValueError(f"load: {where} has a damaged {META_KEY} entry ({e})") from e
    if meta.get("format") != FORMAT or meta.get("version", 0) > VERSION:
        raise ValueError(f"load: {where} is format {meta.get('format')!r} version "
                         f"{meta.get('version')!r}; this scratchnet reads {FORMAT!r} up to "
                         f"version {VERSION}")
    return _rebuild(meta["tree"], files, as_numpy, where)


_ST_DTYPES = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
              "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
              "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
              "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8")}
_ST_NAMES = {dt.newbyteorder("="): name for name, dt in _ST_DTYPES.items()}
_MAX_HEADER = 100_000_000   # the reference implementation's limit


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

    _atomic_write(path, write)


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
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load_safetensors: {where} has an unreadable header ({e})") from e
    if not isinstance(header, dict):
        raise ValueError(f"load_safetensors: {where}'s header is not a JSON object")
    return n, header


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
            try:
                dtype_name, shape, (begin, end) = (info["dtype"], info["shape"],
                                                   info["data_offsets"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"load_safetensors: {where}: entry {name!r} lacks dtype, "
                                 f"shape or data_offsets: {info!r}") from None
            if dtype_name not in _ST_DTYPES and dtype_name != "BF16":
                raise ValueError(f"load_safetensors: {where}: {name!r} has dtype "
                                 f"{dtype_name}, which NumPy cannot hold (readable: "
                                 f"{sorted(_ST_DTYPES)} and BF16)")
            if not all(isinstance(s, int) and s >= 0 for s in shape):
                raise ValueError(f"load_safetensors: {where}: {name!r} has a bad shape "
                                 f"{shape}")
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
                # bfloat16 is the top half of a float32: shift the 16 bits up
                a = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
            else:
                dt = _ST_DTYPES[dtype_name]
                a = raw.view(dt).reshape(shape).astype(dt.newbyteorder("="), copy=False)
            out[name] = a if as_numpy else Tensor(a)
    return {name: out[name] for name in header if name in out}
