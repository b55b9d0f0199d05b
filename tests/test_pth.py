"""PyTorch checkpoints (.pth/.pt) read without torch and without running their pickle.

Files written by torch (when it is installed) must come back bit-exactly; hand-made
malicious pickles must be refused before anything runs; damaged files give a ValueError
naming the file."""
import collections
import io
import os
import pickle
import tempfile
import zipfile

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models
from scratchnet.pth import UnsafePickleError, bfloat16_to_float32, load_pth


def _torch():
    return pytest.importorskip("torch", reason="files written by torch need torch to write")


def _torch_state(torch):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, generator=g)
    big = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    state = collections.OrderedDict()
    state["f32"] = w
    state["f64"] = big
    state["f16"] = torch.randn(5, generator=g).half()
    # bfloat16 values that need all 8 exponent bits and the sign
    state["bf16"] = torch.tensor([1.5, -2.0, 3.0e38, 1.0e-38, 0.0, -0.0]).bfloat16()
    state["i64"] = torch.tensor([-2**63, 2**63 - 1, 0, 7])
    state["i32"] = torch.tensor([-5, 6], dtype=torch.int32)
    state["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    state["bool"] = torch.tensor([[True, False], [False, True]])
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)
    # views of one storage: transposed, sliced with an offset, strided, expanded (stride 0)
    state["w.t"] = w.t()
    state["w.cols"] = w[:, 1:3]
    state["w.every_other"] = big[:, ::2, 1:]
    state["w.expanded"] = w[0].expand(2, 4)
    state["param"] = torch.nn.Parameter(torch.ones(2))
    state["nested"] = {"list": [w[1], 3, "text"], "tuple": (torch.arange(3), None),
                       "inner": collections.OrderedDict(b=big[1])}
    return state


def _assert_same(ours, theirs, torch, where="state"):
    if isinstance(theirs, torch.Tensor):
        expected = theirs.detach()
        if expected.dtype == torch.bfloat16:
            expected = expected.float()
        expected = expected.numpy()
        assert isinstance(ours, np.ndarray), where
        assert ours.dtype == expected.dtype and ours.shape == expected.shape, where
        # bit-exact, including -0.0 and NaN payloads
        assert ours.tobytes() == np.ascontiguousarray(expected).tobytes(), where
        assert ours.flags.c_contiguous, where
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs), where
        for k in theirs:
            _assert_same(ours[k], theirs[k], torch, f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, torch, f"{where}[{i}]")
    else:
        assert ours == theirs, where


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_files_written_by_torch_round_trip_bit_exactly(tmp_path, zip_format):
    torch = _torch()
    state = _torch_state(torch)
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    ours = load_pth(path)
    _assert_same(ours, state, torch)
    # views of one storage come back as independent arrays
    ours["f32"][0, 0] = 123.0
    assert ours["w.t"][0, 0] != 123.0


def test_bfloat16_widening_is_exact():
    words = np.array([0x3FC0, 0xC000, 0x7F80, 0xFF80, 0x0001, 0x8000], np.uint16)
    np.testing.assert_array_equal(bfloat16_to_float32(words),
                                  np.array([1.5, -2.0, np.inf, -np.inf, 2.0 ** -133, -0.0],
                                           np.float32))


def test_the_archive_folder_name_does_not_matter(tmp_path):
    # torch names the folder inside the zip "archive" now and after the file's stem before
    torch = _torch()
    torch.save({"w": torch.arange(4.0)}, tmp_path / "a.pth")
    with zipfile.ZipFile(tmp_path / "a.pth") as src, \
            zipfile.ZipFile(tmp_path / "b.pth", "w") as dst:
        for info in src.infolist():
            inner = info.filename.split("/", 1)[1]
            dst.writestr(f"resnet18-f37072fd/{inner}", src.read(info))
    np.testing.assert_array_equal(load_pth(tmp_path / "b.pth")["w"], np.arange(4.0))


# -- files no torch has written: hand-made pickles -------------------------------------------

def _zip_with_pickle(path, data, storages=None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/byteorder", "little")
        for key, raw in (storages or {}).items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", "3\n")
    return path


def _global_call(module, name, arg):
    """A protocol-2 pickle that calls module.name(arg) when loaded."""
    return (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00X"
            + len(arg).to_bytes(4, "little") + arg.encode() + b"\x85R.")


class _Payload:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _payloads(marker):
    touch = f"touch {marker}"
    return {
        "GLOBAL os system": _global_call("os", "system", touch),
        "GLOBAL posix system": _global_call("posix", "system", touch),
        "__reduce__ os.system": pickle.dumps({"w": _Payload(touch)}, protocol=2),
        "builtins eval": _global_call("builtins", "eval",
                                      f"__import__('os').system('{touch}')"),
        "builtins exec": _global_call("builtins", "exec",
                                      f"import os; os.system('{touch}')"),
        "subprocess": _global_call("subprocess", "getoutput", touch),
        "torch.load": _global_call("torch", "load", str(marker)),
        "a model class": _global_call("__main__", "Net", "x"),
        "protocol 4 STACK_GLOBAL": pickle.dumps(_Payload(touch), protocol=4),
    }


@pytest.mark.parametrize("name", list(_payloads("m")))
@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, name, container):
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[name]
    path = tmp_path / "evil.pth"
    if container == "zip":
        _zip_with_pickle(path, payload)
    else:
        # the legacy layout: magic number, protocol, system info, then the object
        head = b"".join(pickle.dumps(v, protocol=2) for v in (
            0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True,
                                           "type_sizes": {"short": 2, "int": 4, "long": 4}}))
        path.write_bytes(head + payload)
    with pytest.raises(UnsafePickleError, match="was not imported or called"):
        load_pth(path)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError):
        models.load_weights(sn.nn.Linear(2, 2), path)
    assert not marker.exists()


def test_a_plain_pickle_is_refused_as_unsafe_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_Payload(f"touch {marker}"), protocol=2))
    with pytest.raises((UnsafePickleError, ValueError)):
        load_pth(path)
    assert not marker.exists()


def test_rebuild_functions_only_take_the_files_own_storages(tmp_path):
    data = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00(X\x03\x00\x00\x00abcK\x00"
            b"K\x01\x85K\x01\x85\x89NtR.")
    with pytest.raises(UnsafePickleError, match="not from a storage of the file"):
        load_pth(_zip_with_pickle(tmp_path / "x.pth", data))


def _pickle_and_storage(path):
    """data.pkl and the first storage of a one-tensor file written by torch.save."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl"))
        return z.read(pkl), z.read(pkl[:-len("data.pkl")] + "data/0")


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    # as_strided would read memory outside the storage: the layout is checked first
    torch = _torch()
    torch.save({"w": torch.arange(4.0)}, tmp_path / "w.pth")
    data, raw = _pickle_and_storage(tmp_path / "w.pth")
    # size (4,) -> (400,) inside the pickle: BININT1 4 becomes BININT2 400
    patched = data.replace(b"K\x04\x85", b"M\x90\x01\x85", 1)
    assert patched != data
    _zip_with_pickle(tmp_path / "big.pth", patched, {"0": raw})
    with pytest.raises(ValueError, match=r"load_pth: .*big\.pth.*damaged"):
        load_pth(tmp_path / "big.pth")


def test_a_huge_expanded_tensor_is_a_named_error(tmp_path):
    # stride 0 lets a 1-element storage claim 2**40 elements (4 TiB); copying it out cannot
    # work
    torch = _torch()
    torch.save({"w": torch.ones(1).expand(4)}, tmp_path / "w.pth")
    data, raw = _pickle_and_storage(tmp_path / "w.pth")
    # size (4,) -> (2**40,): BININT1 4 becomes LONG1 of 8 bytes
    patched = data.replace(b"K\x04\x85", b"\x8a\x08" + (2 ** 40).to_bytes(8, "little")
                           + b"\x85", 1)
    assert patched != data
    _zip_with_pickle(tmp_path / "huge.pth", patched, {"0": raw})
    with pytest.raises(ValueError, match=r"load_pth: .*huge\.pth.*too large"):
        load_pth(tmp_path / "huge.pth")


# -- damaged and foreign files ---------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_truncated_files_give_a_named_error(tmp_path, fraction, zip_format):
    torch = _torch()
    torch.save(_torch_state(torch), tmp_path / "full.pth",
               _use_new_zipfile_serialization=zip_format)
    data = (tmp_path / "full.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match=r"^load_pth: .*cut\.pth"):
        load_pth(cut)


def test_a_storage_shorter_than_its_tensor_is_named(tmp_path):
    torch = _torch()
    torch.save({"w": torch.arange(4.0)}, tmp_path / "w.pth")
    data, _ = _pickle_and_storage(tmp_path / "w.pth")
    _zip_with_pickle(tmp_path / "short.pth", data, {"0": b"\0" * 7})
    with pytest.raises(ValueError, match="storage archive/data/0 holds 7 bytes"):
        load_pth(tmp_path / "short.pth")


def test_foreign_files_are_named(tmp_path):
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_pth(tmp_path / "text.pth")
    with zipfile.ZipFile(tmp_path / "other.pth", "w") as z:
        z.writestr("readme.txt", "not a checkpoint")
    with pytest.raises(ValueError, match="without a data.pkl"):
        load_pth(tmp_path / "other.pth")
    with zipfile.ZipFile(tmp_path / "script.pt", "w") as z:
        z.writestr("model/constants.pkl", b"")
        z.writestr("model/code/__torch__.py", "")
    with pytest.raises(ValueError, match="TorchScript archive"):
        load_pth(tmp_path / "script.pt")
    import tarfile
    with tarfile.open(tmp_path / "old.pth", "w") as t:
        info = tarfile.TarInfo("sys_info")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match=r"oldest \(tar\) format.*torch.save\(torch.load"):
        load_pth(tmp_path / "old.pth")


# -- into the model zoo ------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".pth", ".pt"])
def test_load_weights_reads_a_torchvision_state_dict_written_by_torch(tmp_path, suffix):
    torch = _torch()
    from tests import torch_twins
    torch.manual_seed(3)
    twin = torch_twins.build("resnet18", 10)
    torch_twins.randomize_batchnorm(twin, torch.Generator().manual_seed(4))
    twin.eval()
    path = tmp_path / f"resnet18-f37072fd{suffix}"
    torch.save(twin.state_dict(), path)
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    ours = models.resnet18(num_classes=10)
    result = models.load_weights(ours, path)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in twin.state_dict().items():
        assert ours.state_dict()[key].data.tobytes() == value.numpy().tobytes(), key
    ours.eval()
    with sn.no_grad():
        np.testing.assert_allclose(ours(sn.tensor(x)).data, expected, rtol=1e-4, atol=1e-4)


def test_load_weights_explains_a_checkpoint_that_is_not_a_state_dict(tmp_path):
    torch = _torch()
    torch.save({"epoch": 3, "state_dict": {"weight": torch.ones(2, 2)}}, tmp_path / "ck.pth")
    with pytest.raises(ValueError, match=r"load_pth\(path\)\['state_dict'\]"):
        models.load_weights(sn.nn.Linear(2, 2), tmp_path / "ck.pth")


def _mtcnn_folder():
    folder = os.environ.get("SCRATCHNET_MTCNN_WEIGHTS") or os.path.join(
        tempfile.gettempdir(), "fnp", "facenet_pytorch", "data")
    return folder


# PNet, RNet and ONet of MTCNN (Zhang et al. 2016) as facenet-pytorch names them
MTCNN_SHAPES = {
    "pnet": {"conv1.weight": (10, 3, 3, 3), "prelu1.weight": (10,),
             "conv2.weight": (16, 10, 3, 3), "conv3.weight": (32, 16, 3, 3),
             "conv4_1.weight": (2, 32, 1, 1), "conv4_2.weight": (4, 32, 1, 1)},
    "rnet": {"conv1.weight": (28, 3, 3, 3), "conv2.weight": (48, 28, 3, 3),
             "conv3.weight": (64, 48, 2, 2), "dense4.weight": (128, 576),
             "dense5_1.weight": (2, 128), "dense5_2.weight": (4, 128)},
    "onet": {"conv1.weight": (32, 3, 3, 3), "conv4.weight": (128, 64, 2, 2),
             "dense5.weight": (256, 1152), "dense6_1.weight": (2, 256),
             "dense6_2.weight": (4, 256), "dense6_3.weight": (10, 256)},
}


@pytest.mark.parametrize("net", list(MTCNN_SHAPES))
def test_reads_the_mtcnn_weights_of_the_facenet_pytorch_wheel(net):
    """pip download --no-deps facenet-pytorch, unzip facenet_pytorch/data/*.pt into the
    temporary folder's fnp/ (or point SCRATCHNET_MTCNN_WEIGHTS at that data folder)."""
    path = os.path.join(_mtcnn_folder(), f"{net}.pt")
    if not os.path.exists(path):
        pytest.skip(f"{net}.pt of the facenet-pytorch wheel is not present")
    state = load_pth(path)
    for key, shape in MTCNN_SHAPES[net].items():
        assert state[key].shape == shape and state[key].dtype == np.float32, key
    try:
        import torch
    except ImportError:
        return
    theirs = torch.load(path, weights_only=True)
    assert list(state) == list(theirs)
    for key, value in theirs.items():
        assert state[key].tobytes() == value.numpy().tobytes(), key
