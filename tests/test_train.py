"""The training loop, LeNet-5, and the train / evaluate commands."""
import json
import os

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import data, models, nn, optim
from scratchnet.cli import main
from scratchnet.train import NonFiniteLossError, evaluate, fit


def test_lenet5_matches_deck_003_table():
    m = models.lenet5()
    assert sum(p.numel() for p in m.parameters()) == 61_706
    shapes = []
    h = m.register_forward_hook(lambda mod, inp, out: shapes.append(out.shape))
    x = sn.zeros(2, 1, 32, 32)
    feats = []
    for layer in m.features:
        x = layer(x)
        feats.append(x.shape[1:])
    h.remove()
    # conv1 28x28x6, pool 14x14x6, conv2 10x10x16, pool 5x5x16, conv3 1x1x120
    assert feats[0] == (6, 28, 28) and feats[2] == (6, 14, 14)
    assert feats[3] == (16, 10, 10) and feats[5] == (16, 5, 5) and feats[6] == (120, 1, 1)
    assert m(sn.zeros(3, 1, 32, 32)).shape == (3, 10)


def test_lenet5_wrong_size_names_expected_and_suggests_pad():
    with pytest.raises(ValueError, match=r"expects \(N, 1, 32, 32\).*Pad\(2\)"):
        models.lenet5()(sn.zeros(1, 1, 28, 28))


def _toy_loaders(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    ds = data.TensorDataset(sn.tensor(x), sn.tensor(y))
    return data.DataLoader(ds, batch_size=16, shuffle=True, generator=seed), \
        data.DataLoader(ds, batch_size=64)


def test_fit_learns_a_separable_problem_and_records_history():
    sn.manual_seed(0)
    train_loader, test_loader = _toy_loaders()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, train_loader, opt, epochs=15, val_loader=test_loader,
                  progress=False, log=None)
    assert len(history) == 15
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_acc"][-1] >= 0.9
    result = evaluate(model, test_loader, num_classes=2)
    assert result.confusion.sum() == 64 and np.trace(result.confusion) == round(
        result.accuracy * 64)
    assert model.training  # evaluate restores the mode


def test_fit_stops_on_nan_loss_with_a_clear_message():
    train_loader, _ = _toy_loaders()
    model = nn.Sequential(nn.Linear(4, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    model[0].weight.data[:] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, batch 1.*Lower the learning rate"):
        fit(model, train_loader, opt, epochs=1, progress=False, log=None)


def test_train_and_evaluate_commands(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "lenet5", "--epochs", "2", "--limit", "256", "--out", str(out),
               "--no-progress", "--seed", "3"])
    assert rc == 0
    for name in ("checkpoint.npz", "history.json", "curves.png", "confusion.png"):
        assert (out / name).exists(), name
    hist = json.loads((out / "history.json").read_text())
    assert hist["meta"]["model"] == "lenet5" and len(hist["epochs"]["train_loss"]) == 2
    assert np.asarray(hist["confusion"]).sum() == 256
    text = capsys.readouterr().out
    assert "test accuracy" in text
    rc = main(["evaluate", str(out / "checkpoint.npz")])
    assert rc == 0
    assert "lenet5 on digits test set" in capsys.readouterr().out


def test_same_seed_same_run(tmp_path):
    from scratchnet.recipes import train
    runs = [train(epochs=1, limit=96, out=str(tmp_path / f"r{i}"), progress=False, log=None,
                  seed=7)[1]["train_loss"] for i in range(2)]
    assert runs[0] == runs[1]


def test_bad_dataset_path_and_names(tmp_path, capsys):
    assert main(["train", "--data", "mnist", "--data-root", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().out
    assert main(["train", "--data", "mnist", "--data-root", str(tmp_path)]) == 2
    msg = capsys.readouterr().out
    assert "mnist" in msg.lower() and "download" in msg.lower()
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 2
    assert "no checkpoint" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--data", "imagenet"])
