"""Every save path (sn.save, save_safetensors, models.save_weights, dataset downloads) goes
through one atomic writer: it keeps every key, respects a write-protected target, names the
user's path in errors and cleans up after a killed save."""
import os
import pathlib
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models, nn

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _savers():
    state = {"w": np.arange(4, dtype=np.float32)}
    return {
        "save": lambda p: sn.save(state, p),
        "save_safetensors": lambda p: sn.serialization.save_safetensors(state, p),
        "save_state_file.npz": lambda p: models.save_state_file(state, p),
        "save_state_file.safetensors": lambda p: models.save_state_file(state, p),
    }


def _name(kind):
    return "target.safetensors" if kind.endswith("safetensors") else "target.npz"


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


@pytest.mark.parametrize("kind", list(_savers()))
def test_write_protected_target_is_refused_and_kept(tmp_path, kind):
    path = tmp_path / _name(kind)
    path.write_bytes(b"precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError) as err:
        _savers()[kind](path)
    assert str(path) in str(err.value) and "write-protected" in str(err.value)
    assert path.read_bytes() == b"precious"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("kind", list(_savers()))
def test_replacing_keeps_the_targets_permissions(tmp_path, kind):
    path = tmp_path / _name(kind)
    path.write_bytes(b"old")
    path.chmod(0o640)
    _savers()[kind](path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes() != b"old"


@pytest.mark.parametrize("kind", list(_savers()))
def test_errors_name_the_users_path_not_the_temporary_file(tmp_path, kind):
    path = tmp_path / "no-such-folder" / _name(kind)
    with pytest.raises(FileNotFoundError) as err:
        _savers()[kind](path)
    assert err.value.filename == str(path) and ".tmp" not in str(err.value)
    directory = tmp_path / _name(kind)
    directory.mkdir()
    with pytest.raises(IsADirectoryError) as err:
        _savers()[kind](directory)
    assert err.value.filename == str(directory) and ".tmp" not in str(err.value)


def test_npz_weights_keep_keys_that_are_np_savez_options(tmp_path):
    # np.savez(path, **arrays) took "allow_pickle" as its own option (the key vanished) and
    # "file" as its first argument (an error)
    state = {"allow_pickle": np.ones(2, np.float32), "file": np.zeros(3, np.float32),
             "compress": np.arange(2.0)}
    models.save_state_file(state, tmp_path / "w.npz")
    back = models.load_state_file(tmp_path / "w.npz")
    assert list(back) == list(state)
    for k in state:
        np.testing.assert_array_equal(back[k], state[k])
    with np.load(tmp_path / "w.npz") as z:       # still a plain .npz
        assert sorted(z.files) == sorted(state)
    sn.save(state, tmp_path / "c.npz")
    assert list(sn.load(tmp_path / "c.npz", as_numpy=True)) == list(state)


def test_npz_weights_refuse_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="'w' is an object array"):
        models.save_state_file({"w": np.array([1, None], dtype=object)}, tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()


def test_npz_weights_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    model = nn.Linear(2, 2)
    models.save_weights(model, path)
    before = path.read_bytes()

    def crash(f, arrays, compress=False):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(models.weights, "write_npz", crash)
    with pytest.raises(KeyboardInterrupt):
        models.save_weights(model, path)
    assert path.read_bytes() == before and _temps(tmp_path) == []


_HANGING_SAVE = """
import sys, time
import numpy as np
import scratchnet as sn
def hang(f, arrays, compress=False):
    f.write(b"PK partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
sn.serialization.write_npz = hang
sn.save({"w": np.zeros(3)}, sys.argv[1])
"""


def test_a_killed_save_leaves_no_stray_temp_file_after_the_next_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    sn.save({"epoch": 1}, path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _HANGING_SAVE, str(path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        left = _temps(tmp_path)
        assert len(left) == 1 and left[0].startswith(".ckpt.npz.")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _temps(tmp_path) == left           # nobody could clean up after SIGKILL
    assert sn.load(path)["epoch"] == 1          # the old checkpoint is intact
    # a temporary file of a process that is still running is not ours to remove
    alive = tmp_path / f".ckpt.npz.{os.getpid()}-feedbeef.tmp"
    alive.write_bytes(b"in progress")
    other = tmp_path / ".other.npz.1-dead.tmp"
    other.write_bytes(b"another target's")
    sn.save({"epoch": 2}, path)
    assert _temps(tmp_path) == sorted([alive.name, other.name])
    assert sn.load(path)["epoch"] == 2


def test_one_atomic_writer():
    # every rename-into-place lives in scratchnet/_atomic.py
    offenders = []
    for file in (ROOT / "scratchnet").rglob("*.py"):
        text = file.read_text(encoding="utf-8")
        if file.name != "_atomic.py" and ("os.replace(" in text or "mkstemp(" in text):
            offenders.append(str(file.relative_to(ROOT)))
    assert offenders == []


def test_download_goes_through_the_atomic_writer(tmp_path, monkeypatch):
    import io

    from scratchnet.data.datasets import _download
    monkeypatch.setattr(_download, "urlopen",
                        lambda url, timeout: io.BytesIO(b"dataset bytes"))
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    target.chmod(0o444)
    with pytest.raises(PermissionError, match="write-protected"):
        _download.download_file("http://example.invalid/file.bin", target)
    target.chmod(0o644)
    _download.download_file("http://example.invalid/file.bin", target)
    assert target.read_bytes() == b"dataset bytes" and _temps(tmp_path) == []


def test_a_training_run_writes_every_file_atomically(tmp_path, monkeypatch):
    from scratchnet import _atomic, plotting
    from scratchnet.recipes import train
    written = []
    real = _atomic.atomic_write

    def spy(path, write):
        written.append(os.path.basename(path))
        return real(path, write)

    monkeypatch.setattr(_atomic, "atomic_write", spy)
    monkeypatch.setattr(sn.serialization, "atomic_write", spy)
    monkeypatch.setattr(plotting, "atomic_write", spy)
    out = tmp_path / "run"
    train(epochs=1, limit=64, out=str(out), progress=False, log=None)
    assert sorted(written) == ["checkpoint.npz", "confusion.png", "curves.png", "history.json"]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _temps(out) == []
