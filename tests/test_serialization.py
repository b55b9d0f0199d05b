"""Checkpoints (.npz without pickle, atomic writes) and safetensors files."""
import io
import json
import os
import pickle
import struct

import numpy as np
import pytest

import scratchnet as sn


def _checkpoint():
    return {
        "model": {"conv1.weight": sn.tensor(np.arange(6, dtype=np.float32).reshape(1, 2, 3)),
                  "conv1.bias": sn.tensor(np.array([0.5], dtype=np.float64)),
                  "bn.num_batches_tracked": np.array(3, dtype=np.int64)},
        "optimizer": {"state": {0: {"momentum": np.ones((2, 3), np.float16)}},
                      "param_groups": [{"lr": 0.01, "params": [0, 1], "nesterov": False}]},
        "epoch": 7, "loss": 0.25, "name": "lenet-5", "done": True, "note": None,
        "history": [0.9, 0.5, 0.25], "sizes": (32, 32), "mixed": [1, 2.5, "three"],
        "scalar32": np.float32(1.5), "empty": np.zeros((0, 4), np.uint8), "nothing": [],
        "mask": np.array([[True, False]]), "labels": ["cat", "dog"],
        "transposed": np.arange(6.0).reshape(2, 3).T,
    }


def _assert_same(a, b, where="state"):
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (sn.Tensor, np.ndarray)):
        x, y = (a.data, b.data) if isinstance(a, sn.Tensor) else (a, b)
        assert x.dtype == y.dtype and x.shape == y.shape, where
        np.testing.assert_array_equal(x, y, err_msg=where)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a == b, where
    else:
        assert a == b, where


def test_round_trip_keeps_types_dtypes_shapes_and_nesting(tmp_path):
    state = _checkpoint()
    sn.save(state, tmp_path / "ckpt.npz")
    back = sn.load(tmp_path / "ckpt.npz")
    _assert_same(state, back)
    # state-dict keys with dots stay whole keys, nested dicts stay nested
    assert "conv1.weight" in back["model"] and 0 in back["optimizer"]["state"]
    assert isinstance(back["model"]["conv1.weight"], sn.Tensor)
    assert isinstance(back["model"]["bn.num_batches_tracked"], np.ndarray)


def test_as_numpy_and_file_objects():
    buf = io.BytesIO()
    sn.save({"w": sn.ones(2, 2), "step": 3}, buf)
    buf.seek(0)
    back = sn.load(buf, as_numpy=True)
    assert isinstance(back["w"], np.ndarray) and back["w"].dtype == np.float32
    assert back["step"] == 3


def test_entries_are_plain_npz_with_dotted_names(tmp_path):
    sn.save(_checkpoint(), tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        names = set(z.files)
        np.testing.assert_array_equal(z["model.conv1.weight"],
                                      np.arange(6).reshape(1, 2, 3))
        assert z["optimizer.param_groups.0.lr"] == 0.01
        assert z["optimizer.state.0.momentum"].dtype == np.float16
    assert {"epoch", "history", "mixed.2", "__scratchnet__"} <= names
    # a plain npz (no structure entry) loads as a flat dict
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.eye(2))
    flat = sn.load(tmp_path / "plain.npz")
    assert sorted(flat) == ["a", "b"] and flat["b"].shape == (2, 2)


def test_colliding_names_are_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"same name 'a\.b'"):
        sn.save({"a.b": 1, "a": {"b": 2}}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_unstorable_values_are_type_errors(tmp_path):
    with pytest.raises(TypeError, match=r"state\['obj'\] of type object"):
        sn.save({"obj": object()}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object array"):
        sn.save({"a": np.array([None, 1], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="int64"):
        sn.save({"big": 2 ** 70}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="int64"):
        sn.save({"big": [1, 2 ** 70]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="expects a dict"):
        sn.save([1, 2], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="keys must be str or int"):
        sn.save({(1, 2): 3}, tmp_path / "x.npz")


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (tmp_path / "evil.npz").write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(ValueError, match="pickle"):
        sn.load(tmp_path / "evil.npz")
    np.savez(tmp_path / "objects.npz", w=np.array([Evil()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        sn.load(tmp_path / "objects.npz")
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    sn.save(_checkpoint(), tmp_path / "c.npz")
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz is not a readable checkpoint"):
        sn.load(tmp_path / "cut.npz")


def _tmp_files(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "ckpt.npz"
    good = {"w": sn.tensor(np.arange(4.0)), "epoch": 1}
    sn.save(good, path)
    before = path.read_bytes()
    real_write = sn.serialization.write_npz

    def crash_after_part(file, arrays, compress=False):
        half = io.BytesIO()
        real_write(half, arrays, compress)
        file.write(half.getvalue()[:100])
        raise error

    monkeypatch.setattr(sn.serialization, "write_npz", crash_after_part)
    with pytest.raises(type(error)):
        sn.save({"w": sn.tensor(np.zeros(4)), "epoch": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sn.load(path)["epoch"] == 1
    assert _tmp_files(tmp_path) == []


def test_save_syncs_before_it_renames(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (events.append(("replace", os.path.dirname(a))),
                                      real_replace(a, b))[1])
    sn.save({"x": 1}, tmp_path / "c.npz")
    assert events[0] == "fsync" and events[1] == ("replace", str(tmp_path))


def test_load_state_dict_accepts_a_loaded_checkpoint(tmp_path):
    nn = sn.nn
    if not hasattr(nn, "Linear"):
        pytest.skip("nn.Linear is not available")
    sn.manual_seed(0)
    model = nn.Linear(3, 2)
    sn.save({"model": model.state_dict(), "epoch": 4}, tmp_path / "m.npz")
    sn.manual_seed(1)
    other = nn.Linear(3, 2)
    ckpt = sn.load(tmp_path / "m.npz")
    other.load_state_dict(ckpt["model"])
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)
    other.load_state_dict(sn.load_safetensors(_safetensors_of(model, tmp_path)))


def _safetensors_of(model, tmp_path):
    path = tmp_path / "m.safetensors"
    sn.save_safetensors(model.state_dict(), path)
    return path


# -- safetensors -----------------------------------------------------------------------------

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int16, np.uint16,
          np.int32, np.uint32, np.int64, np.uint64, np.bool_]


def _tensors():
    rng = np.random.default_rng(0)
    out = {f"t.{np.dtype(d).name}": (rng.random((2, 3)) * 100).astype(d) for d in DTYPES}
    out["scalar"] = np.array(3.5, np.float32)
    out["empty"] = np.zeros((0, 5), np.float32)
    out["big_endian"] = np.arange(4, dtype=">i4")
    out["weight"] = sn.randn(4, 3)
    return out


def _header(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8:8 + n]), raw[8 + n:]


def test_safetensors_layout_follows_the_spec(tmp_path):
    path = tmp_path / "m.safetensors"
    sn.save_safetensors({"b": np.arange(3, dtype=np.int16), "a": np.ones((2, 2), np.float64)},
                        path, metadata={"format": "np"})
    n, header, data = _header(path)
    assert n % 8 == 0
    assert header["__metadata__"] == {"format": "np"}
    assert header["a"] == {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}
    assert header["b"] == {"dtype": "I16", "shape": [3], "data_offsets": [32, 38]}
    assert len(data) == 38
    assert struct.unpack("<3h", data[32:38]) == (0, 1, 2)
    assert sn.serialization.safetensors_metadata(path) == {"format": "np"}


def test_safetensors_round_trip(tmp_path):
    tensors = _tensors()
    sn.save_safetensors(tensors, tmp_path / "m.safetensors")
    back = sn.load_safetensors(tmp_path / "m.safetensors")
    assert sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        a = v.data if isinstance(v, sn.Tensor) else v
        assert isinstance(back[k], sn.Tensor)
        assert back[k].dtype == a.dtype.newbyteorder("=") and back[k].shape == a.shape, k
        np.testing.assert_array_equal(back[k].data, a, err_msg=k)
    arrays = sn.load_safetensors(tmp_path / "m.safetensors", as_numpy=True)
    assert isinstance(arrays["weight"], np.ndarray)


def test_files_of_the_safetensors_package_load_here_and_back(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {k: (v.data if isinstance(v, sn.Tensor) else v.astype(v.dtype.newbyteorder("=")))
               for k, v in _tensors().items()}
    st.save_file(tensors, str(tmp_path / "theirs.safetensors"), metadata={"k": "v"})
    ours = sn.load_safetensors(tmp_path / "theirs.safetensors", as_numpy=True)
    assert sn.serialization.safetensors_metadata(tmp_path / "theirs.safetensors") == {"k": "v"}
    sn.save_safetensors(tensors, tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in tensors.items():
        for got in (ours[k], theirs[k]):
            assert got.dtype == v.dtype and got.shape == v.shape, k
            np.testing.assert_array_equal(got, v, err_msg=k)


def test_torch_reads_ours_and_bf16_reads_here(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    w = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    sn.save_safetensors({"fc.weight": w, "step": np.array([5], np.int64)},
                        tmp_path / "ours.safetensors")
    loaded = st_torch.load_file(str(tmp_path / "ours.safetensors"))
    assert loaded["fc.weight"].dtype == torch.float32
    np.testing.assert_array_equal(loaded["fc.weight"].numpy(), w)
    assert loaded["step"].dtype == torch.int64 and loaded["step"].item() == 5
    bf = torch.tensor(w).to(torch.bfloat16)
    st_torch.save_file({"w": bf}, str(tmp_path / "bf16.safetensors"))
    back = sn.load_safetensors(tmp_path / "bf16.safetensors", as_numpy=True)["w"]
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, bf.float().numpy())


def _write_raw(path, header, data, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("header,data,match", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4,
     "truncated or has extra bytes"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12,
     "truncated or has extra bytes"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     r"12 bytes\) but its offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12,
     "gap or overlap"),
    ({"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 2,
     "F8_E4M3"),
    ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "lacks dtype, shape or data_offsets"),
])
def test_malformed_safetensors_are_refused(tmp_path, header, data, match):
    path = tmp_path / "bad.safetensors"
    _write_raw(path, header, data)
    with pytest.raises(ValueError, match=match):
        sn.load_safetensors(path)


def test_safetensors_header_sanity(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 40) + b"{}")
    with pytest.raises(ValueError, match="limit"):
        sn.load_safetensors(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="too short"):
        sn.load_safetensors(path)
    path.write_bytes(struct.pack("<Q", 100) + b"{}")
    with pytest.raises(ValueError, match="truncated inside its header"):
        sn.load_safetensors(path)


def test_save_safetensors_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="only tensors"):
        sn.save_safetensors({"model": {"w": np.zeros(2)}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="complex128"):
        sn.save_safetensors({"z": np.zeros(2, complex)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="str -> str"):
        sn.save_safetensors({"w": np.zeros(2)}, tmp_path / "x.safetensors", metadata={"a": 1})
    assert not (tmp_path / "x.safetensors").exists()
