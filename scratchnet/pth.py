"""Read PyTorch checkpoints (`.pth` / `.pt`, as written by torch.save) without torch, and
without running any code the file contains.

    state = scratchnet.pth.load_pth("resnet18-f37072fd.pth")   # {name: ndarray}
    scratchnet.models.load_weights(model, "resnet18-f37072fd.pth")

The format (torch.save's default since PyTorch 1.6) is a zip archive, every entry under one
top-level folder (`archive/` or the file's stem):

    archive/data.pkl       the object, pickled (protocol 2); each tensor refers to a storage
                           by a persistent id ("storage", StorageClass, key, device, numel)
    archive/data/<key>     the raw bytes of one storage, in the byte order of archive/byteorder
    archive/version, ...   format bookkeeping

Unpickling runs whatever functions a pickle names, so a checkpoint from a stranger could run
any code. The unpickler here resolves only the names that torch.load(weights_only=True) also
allows and that a checkpoint of tensors needs: the tensor and parameter rebuild functions of
torch._utils, the storage classes of each dtype, torch.Size, collections.OrderedDict and the
plain containers. Each is mapped to a few lines of NumPy here, not imported from torch; any
other name (os.system, builtins.eval, a model class) stops the load with UnsafePickleError
before anything is called. Tensors come back as NumPy arrays (bfloat16 widened exactly to
float32, as NumPy has no bfloat16), each an independent C-contiguous copy, so views that shared
a storage in torch (a weight and its transpose) no longer share memory.

The legacy format (torch.save before PyTorch 1.6, or with _use_new_zipfile_serialization=
False: the pickles and the storages one after another in a plain file) is read the same way,
through the same restricted unpickler, as torch.load(weights_only=True) reads it; published
weights such as the MTCNN face detector's (in the facenet-pytorch wheel) are in it. Older
formats (PyTorch before 0.4: a tar archive, or storage views) and TorchScript archives are
refused with a message saying how to convert them.
"""
from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile
import zlib

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The checkpoint names something other than tensors and plain containers."""


class _StorageType:
    """Stands for torch.FloatStorage etc. inside the pickle: only its element type matters."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class _DType:
    """Stands for a torch dtype (torch.float32, ...) named in a pickle."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """One storage's elements as a flat array of its element type ("<u2" for bfloat16).
    In a legacy file the bytes follow the pickle, so `array` is None while unpickling."""

    def __init__(self, array, bfloat16):
        self.array, self.bfloat16 = array, bfloat16


class _Pending:
    """A tensor whose storage is not read yet (legacy files): rebuilt by _resolve."""

    def __init__(self, rebuild, args):
        self.rebuild, self.args = rebuild, args


# torch's legacy storage classes and dtypes, by the names that appear in pickles; "bfloat16"
# marks the storages read as raw 16-bit words and widened to float32 after slicing
_STORAGES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
             "BFloat16Storage": "bfloat16", "LongStorage": "<i8", "IntStorage": "<i4",
             "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
             "BoolStorage": "?", "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16",
             "UntypedStorage": "u1"}
_DTYPES = {"float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "bfloat16",
           "int64": "<i8", "int32": "<i4", "int16": "<i2", "int8": "i1", "uint8": "u1",
           "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "bool": "?",
           "complex64": "<c8", "complex128": "<c16"}


def _element(code):
    """(NumPy dtype of the stored words, whether they are bfloat16)."""
    return (np.dtype("<u2"), True) if code == "bfloat16" else (np.dtype(code), False)


def bfloat16_to_float32(words):
    """bfloat16 bit patterns (uint16) as float32, exactly: a bfloat16 is the top half of a
    float32, so the 16 bits are shifted up and the low half filled with zeros."""
    words = np.asarray(words, dtype=np.uint16)
    return (words.astype(np.uint32) << 16).view(np.float32)


_MAX_EXPANDED = 2 ** 28     # elements an expanded tensor may have beyond its storage's


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """torch._utils._rebuild_tensor(_v2): the view (offset, size, stride) of a storage, as an
    independent C-contiguous array. Bounds are checked first: as_strided trusts its caller."""
    if not isinstance(storage, _Storage):
        raise UnsafePickleError(f"a tensor is rebuilt from {type(storage).__name__}, not from "
                                f"a storage of the file")
    if storage.array is None:
        return _Pending(_rebuild_tensor, (storage, storage_offset, size, stride))
    size, stride = tuple(size), tuple(stride)
    if not (isinstance(storage_offset, int) and storage_offset >= 0 and len(size) == len(stride)
            and all(isinstance(v, int) and v >= 0 for v in size + stride)):
        raise ValueError(f"a tensor has an impossible layout: offset {storage_offset!r}, size "
                         f"{size}, stride {stride}")
    flat = storage.array
    if math.prod(size) > max(flat.size, _MAX_EXPANDED):
        # stride 0 (an expanded tensor) lets a tiny storage describe any number of elements;
        # copied out, a hand-made one would fill the memory
        raise ValueError(f"a tensor of size {size} (stride {stride}) repeats a storage of "
                         f"{flat.size} elements into {math.prod(size)}: too large to copy "
                         f"into memory")
    if math.prod(size):
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise ValueError(f"a tensor of size {size} (stride {stride}, offset "
                             f"{storage_offset}) reaches element {last} of a storage of "
                             f"{flat.size}: the file is damaged")
        view = np.lib.stride_tricks.as_strided(
            flat[storage_offset:], size, tuple(s * flat.itemsize for s in stride),
            writeable=False)
        out = np.array(view, order="C")
    else:
        out = np.empty(size, flat.dtype)
    out = bfloat16_to_float32(out) if storage.bfloat16 else out
    return out.astype(out.dtype.newbyteorder("="), copy=False)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    """torch._utils._rebuild_tensor_v3: an untyped (byte) storage read as `dtype`."""
    if not isinstance(storage, _Storage) or not isinstance(dtype, _DType):
        raise UnsafePickleError("_rebuild_tensor_v3 needs a storage of the file and a dtype")
    if storage.array is None:
        return _Pending(_rebuild_tensor_v3, (storage, storage_offset, size, stride, None, None,
                                             dtype))
    words, bf16 = _element(dtype.dtype)
    raw = storage.array.view(np.uint8)
    if raw.size % words.itemsize:
        raise ValueError(f"a {raw.size}-byte storage cannot hold {dtype!r} elements")
    return _rebuild_tensor(_Storage(raw.view(words), bf16), storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """torch._utils._rebuild_parameter(_with_state): a Parameter is its data here."""
    if not isinstance(data, (np.ndarray, _Pending)):
        raise UnsafePickleError("a parameter must wrap a tensor of the file")
    return data


class _TensorClass:
    """Stands for torch.Tensor / torch.nn.Parameter in _rebuild_from_type_v2."""


def _rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: rebuild, then (for subclasses) restore a type we
    do not have; only plain tensors and parameters are accepted."""
    if func not in _REBUILDERS or not isinstance(new_type, _TensorClass):
        raise UnsafePickleError(f"the file rebuilds a tensor with {func!r} as {new_type!r}; "
                                f"only plain tensors and parameters are read")
    return func(*args)


def _latin1(text, encoding="latin1"):
    """_codecs.encode, as protocol-2 pickles use it for bytes: only latin-1 text is
    accepted."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is only allowed for latin-1 text")
    return text.encode("latin1")


def _bytearray(*args):
    """builtins.bytearray from bytes or latin-1 text, never from a size (which would
    allocate whatever the file asks for)."""
    if not args or isinstance(args[0], int):
        raise UnsafePickleError("bytearray is only rebuilt from its contents")
    return bytearray(*args)


_REBUILDERS = {_rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter}

_ALLOWED = {
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.Tensor": _TensorClass(),
    "torch.nn.parameter.Parameter": _TensorClass(),
    "torch.Size": tuple,
    "torch.device": str,
    "_codecs.encode": _latin1,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.bytearray": _bytearray,
    "builtins.complex": complex,
    **{f"torch.{name}": _StorageType(name, code) for name, code in _STORAGES.items()},
    "torch.storage.UntypedStorage": _StorageType("UntypedStorage", "u1"),
    **{f"torch.{name}": _DType(name, code) for name, code in _DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names in _ALLOWED; storages come from the zip archive (or, with
    archive=None, are read after the pickle, as the legacy format stores them)."""

    def __init__(self, file, archive, prefix, byteorder, where):
        super().__init__(file)
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
        self.where = where
        self.storages = {}

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full not in _ALLOWED:
            hint = (" (a whole model was saved: save model.state_dict() in PyTorch instead)"
                    if "Module" in name or module.startswith(("torchvision.", "__main__"))
                    else "")
            raise UnsafePickleError(
                f"load_pth: {self.where} refers to {full}, which a checkpoint of tensors does "
                f"not need; it was not imported or called. Only tensors, storages, "
                f"OrderedDict and plain containers are read (what torch.load(weights_only="
                f"True) allows){hint}")
        return _ALLOWED[full]

    def persistent_load(self, pid):
        if self.archive is None:
            return self._legacy_storage(pid)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise UnsafePickleError(f"load_pth: {self.where} has an unknown persistent id "
                                    f"{str(pid)[:100]}")
        _, storage_type, key, _, numel = pid
        if key not in self.storages:
            words, bf16 = _element(storage_type.dtype)
            if self.byteorder == "big":
                words = words.newbyteorder(">")
            name = f"{self.prefix}data/{key}"
            try:
                info = self.archive.getinfo(name)
            except KeyError:
                raise ValueError(f"load_pth: {self.where} lacks the storage {name}; the file "
                                 f"is damaged") from None
            need = numel * words.itemsize
            if info.file_size < need:
                raise ValueError(f"load_pth: {self.where}: storage {name} holds "
                                 f"{info.file_size} bytes, {storage_type!r} of {numel} "
                                 f"elements needs {need}; the file is damaged")
            with self.archive.open(info) as f:
                raw = f.read(need)
            self.storages[key] = _Storage(np.frombuffer(raw, words, count=numel), bf16)
        return self.storages[key]

    def _legacy_storage(self, pid):
        """("storage", StorageClass, key, device, numel, view) with view None or
        (view_key, offset, size): an empty storage, filled once the pickle is read."""
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise UnsafePickleError(f"load_pth: {self.where} has an unknown persistent id "
                                    f"{str(pid)[:100]}")
        _, storage_type, key, _, numel, view = pid
        if view is not None:
            raise ValueError(f"load_pth: {self.where} uses storage views (written by PyTorch "
                             f"before 0.4), which are not read here; convert the file as "
                             f"described for the legacy format")
        if key not in self.storages:
            storage = _Storage(None, _element(storage_type.dtype)[1])
            storage.type, storage.numel = storage_type, numel
            self.storages[key] = storage
        return self.storages[key]


_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c       # torch.serialization's MAGIC_NUMBER
_CONVERT = ("convert it once, with PyTorch: torch.save(torch.load(path, weights_only=True), "
            "new_path) writes the zip format (torch.save's default since PyTorch 1.6)")


def _load_legacy(f, where):
    """The pre-1.6 format: four pickles in a row (magic number, protocol version, system
    info, the object) and a fifth listing the storage keys, then each storage as an 8-byte
    little-endian element count followed by its little-endian bytes."""
    # one unpickler reads all five: a second one on the same file may not start where the
    # first stopped reading
    unpickler = _RestrictedUnpickler(f, None, "", "little", where)
    if unpickler.load() != _LEGACY_MAGIC:
        raise ValueError(f"load_pth: {where} is a pickle but not a PyTorch checkpoint")
    version, info = unpickler.load(), unpickler.load()
    if version != 1001 or not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ValueError(f"load_pth: {where} is a legacy PyTorch file of a kind not read "
                         f"here (protocol {version!r}, {info!r}); {_CONVERT}")
    result = unpickler.load()
    keys = unpickler.load()
    if not (isinstance(keys, list) and set(keys) == set(unpickler.storages)):
        raise ValueError(f"load_pth: {where} lists storages {str(keys)[:100]} that do not "
                         f"match the ones its tensors use")
    for key in keys:
        storage = unpickler.storages[key]
        words = _element(storage.type.dtype)[0]
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"load_pth: {where} is truncated before storage {key}")
        count = int.from_bytes(head, "little")
        if count != storage.numel:
            raise ValueError(f"load_pth: {where}: storage {key} holds {count} elements, its "
                             f"tensors expect {storage.numel}; the file is damaged")
        raw = f.read(count * words.itemsize)
        if len(raw) < count * words.itemsize:
            raise ValueError(f"load_pth: {where} is truncated inside storage {key}")
        storage.array = np.frombuffer(raw, words, count=count)
    return _resolve(result)


def _resolve(obj):
    """obj with every _Pending tensor rebuilt, through the containers a pickle can build."""
    if isinstance(obj, _Pending):
        return obj.rebuild(*obj.args)
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _resolve(v)
        return obj
    if isinstance(obj, list):
        obj[:] = [_resolve(v) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_resolve(v) for v in obj)
    return obj


def load_pth(path):
    """Read a checkpoint written by torch.save (zip format) as NumPy arrays.

    Returns the saved object with each tensor an ndarray: for a state dict, an OrderedDict
    {name: ndarray}. Raises UnsafePickleError (nothing is executed) when the file names
    anything but tensors and plain containers, and ValueError, naming the file, when it is in
    the legacy format, truncated or damaged.
    """
    where = os.fspath(path)
    with open(where, "rb") as f:
        head = f.read(4)
        f.seek(0)
        if head[:1] == b"\x80":
            return _guarded(lambda: _load_legacy(f, where), where)
        if head[:2] != b"PK":
            if head[:4] and _is_tar(f):
                raise ValueError(f"load_pth: {where} is in PyTorch's oldest (tar) format, "
                                 f"which is not read here; {_CONVERT}")
            raise ValueError(f"load_pth: {where} is not a PyTorch checkpoint (torch.save "
                             f"writes a zip archive, or a pickle before PyTorch 1.6); it may "
                             f"be truncated or empty")
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise ValueError(f"load_pth: {where} is a damaged or truncated zip archive "
                             f"({e}); download or save it again") from None
        with archive:
            return _load_archive(archive, where)


def _load_archive(archive, where):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pickles:
        if any(n.endswith("constants.pkl") for n in names):
            raise ValueError(f"load_pth: {where} is a TorchScript archive (torch.jit.save); "
                             f"in PyTorch, save its weights with torch.save(torch.jit.load("
                             f"path).state_dict(), new_path)")
        raise ValueError(f"load_pth: {where} is a zip archive without a data.pkl: not a "
                         f"checkpoint written by torch.save")
    prefix = pickles[0][:-len("data.pkl")]

    def read():
        byteorder = archive.read(prefix + "byteorder").decode().strip() \
            if prefix + "byteorder" in names else "little"
        data = io.BytesIO(archive.read(pickles[0]))
        return _RestrictedUnpickler(data, archive, prefix, byteorder, where).load()

    return _guarded(read, where)


def _is_tar(f):
    """Whether the open file is a tar archive (PyTorch's format before 0.4)."""
    f.seek(257)
    magic = f.read(5)
    f.seek(0)
    return magic == b"ustar"


def _guarded(read, where):
    """read(), with what a damaged file makes the parser raise turned into a ValueError
    naming the file (UnsafePickleError passes through: it says what was refused)."""
    try:
        return read()
    except UnsafePickleError:
        raise
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, zlib.error) as e:
        raise ValueError(f"load_pth: {where} is damaged or truncated ({type(e).__name__}: "
                         f"{e})") from None
    except MemoryError:
        # e.g. a stride-0 (expanded) tensor claiming a size far beyond its storage: copied
        # out, it would not fit
        raise ValueError(f"load_pth: {where} holds a tensor too large to copy into "
                         f"memory") from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError) as e:
        if str(e).startswith("load_pth:"):
            raise
        raise ValueError(f"load_pth: {where} is damaged ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None

