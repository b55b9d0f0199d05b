"""`scratchnet train` / `evaluate` answer bad input with one line and exit code 2: no
traceback, no silently replaced setting, no training run lost to an unwritable --out."""
import pickle

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.cli import main


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert rc == 2, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def _checkpoint(path, **change):
    state = {"model": {"x": np.zeros(2, np.float32)},
             "meta": {"model": "lenet5", "data": "digits"}}
    state.update(change)
    sn.save(state, path)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda d: _write(d / "empty.npz", b""), "is empty"),
    (lambda d: _cut(_checkpoint(d / "c.npz")), "not a readable checkpoint"),
    (lambda d: _write(d / "p.npz", pickle.dumps({"model": 1})), "pickled objects"),
    (lambda d: _savez(d / "foreign.npz"), "not a `scratchnet train` checkpoint"),
    (lambda d: _checkpoint(d / "m.npz", meta=5), "not a `scratchnet train` checkpoint"),
    (lambda d: _checkpoint(d / "m.npz", meta={"model": 3}), "not a `scratchnet train`"),
    (lambda d: _checkpoint(d / "w.npz"), "weights do not fit the lenet5 model"),
    (lambda d: d, "is a folder"),
])
def test_evaluate_a_bad_checkpoint_is_one_line(tmp_path, capsys, make, words):
    assert words in _run(capsys, "evaluate", str(make(tmp_path)))


def _cut(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def _write(path, data):
    path.write_bytes(data)
    return path


def _savez(path):
    np.savez(path, a=np.arange(3))
    return path


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--limit", "0"),
                                         ("--epochs", "-3"), ("--epochs", "0"),
                                         ("--lr", "-1"), ("--lr", "nan"),
                                         ("--batch-size", "-8")])
def test_train_refuses_settings_it_cannot_use(tmp_path, capsys, flag, value):
    text = _run(capsys, "train", flag, value, "--out", str(tmp_path / "run"), "--no-progress")
    assert text.startswith(f"error: {flag} must be") and value.lstrip("-") in text
    assert not (tmp_path / "run").exists()      # refused before anything happened


def test_train_out_that_cannot_be_a_folder_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    # _run asserts a single line: the "training lenet5 ..." line logged before the first
    # epoch never appears
    assert "is a file, not a folder" in _run(capsys, "train", "--out", str(blocker),
                                             "--no-progress")
    assert "cannot create this folder" in _run(capsys, "train", "--out",
                                               str(blocker / "run"), "--no-progress")
    (tmp_path / "run" / "checkpoint.npz").mkdir(parents=True)
    assert "checkpoint.npz there is a folder" in _run(capsys, "train", "--out",
                                                      str(tmp_path / "run"), "--no-progress")


def test_a_data_error_creates_no_output_folder(tmp_path, capsys):
    assert "is not a directory" in _run(capsys, "train", "--data", "mnist", "--data-root",
                                        str(tmp_path / "nope"), "--out", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
