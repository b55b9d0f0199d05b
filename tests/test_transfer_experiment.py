"""The transfer-learning experiment (deck 002's table): each strategy trains what it says
and nothing else, the data are what the docstrings promise, and the command prints the table
and writes its files. The measured table itself is a slow test."""
from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import transfer as T


@pytest.fixture(scope="module")
def pretrained():
    sn.manual_seed(0)
    model = T.SmallCNN(10)
    # a little training so that BatchNorm statistics differ from their initial values
    x, y = T.mnist_5k()
    idx = np.random.default_rng(0).permutation(len(x))[:64]
    T._fit(model, [{"params": list(model.parameters()), "lr": 1e-3}], x[idx], y[idx], 3, 32,
           np.random.default_rng(0))
    return model.eval()


def _state(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def test_small_cnn_shapes_and_parameter_count():
    model = T.SmallCNN(10)
    # conv1 9*16+16, bn 2*16, conv2 9*16*32+32, bn 2*32, conv3 9*32*64+64, bn 2*64,
    # fc1 576*128+128, fc 128*10+10
    assert sum(p.numel() for p in model.parameters()) == \
        160 + 32 + 4640 + 64 + 18496 + 128 + 73856 + 1290 == 98_666
    x = sn.randn(2, 1, 28, 28)
    assert model.features(x).shape == (2, 128) and model(x).shape == (2, 10)


@pytest.mark.parametrize("strategy, frozen, trained", [
    ("probe", ("block1", "block2", "block3", "fc1"), ()),
    ("last", ("block1", "block2"), ("block3", "fc1")),
    ("all", (), ("block1", "block2", "block3", "fc1")),
])
def test_each_strategy_trains_what_it_says(pretrained, strategy, frozen, trained):
    before = _state(pretrained)
    x, y = T.mnist_5k()
    idx = np.random.default_rng(1).permutation(len(x))[:40]
    model = T.adapt(pretrained, strategy, x[idx], y[idx] % 3, 3, seed=0, steps=4)
    after = _state(model)
    for k, v in _state(pretrained).items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"pretrained changed: {k}")
    for k, v in after.items():
        part = k.split(".")[0]
        if part in frozen:            # weights and BatchNorm statistics alike
            np.testing.assert_array_equal(v, before[k], err_msg=k)
        elif part in trained and not k.endswith("num_batches_tracked"):
            assert not np.array_equal(v, before[k]), f"{strategy}: {k} did not change"
    assert after["fc.weight"].shape == (3, 128)
    assert not model.training


def test_from_scratch_shares_nothing_with_the_pretrained_network(pretrained):
    x, y = T.mnist_5k()
    model = T.adapt(pretrained, "scratch", x[:20], y[:20] % 2, 2, seed=0, steps=2)
    assert not np.allclose(_state(model)["block1.0.weight"],
                           _state(pretrained)["block1.0.weight"])
    with pytest.raises(ValueError, match="choose from probe, last, all, scratch"):
        T.adapt(pretrained, "finetune", x[:4], y[:4], 10, 0, 1)


def test_targets_have_the_promised_sizes_and_range():
    expected = {"digits": (1437, 360, 10), "faces": (160, 40, 2), "textures": (1500, 600, 3)}
    for name, (n_train, n_test, classes) in expected.items():
        x, y, xt, yt = T.load_target(name)
        assert x.shape == (n_train, 1, 28, 28) and xt.shape == (n_test, 1, 28, 28), name
        assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1, name
        assert set(np.unique(y)) == set(np.unique(yt)) == set(range(classes)), name
    small = T._per_class(y, 10, np.random.default_rng(0))
    assert np.bincount(y[small]).tolist() == [10, 10, 10]


def test_texture_test_patches_come_from_another_part_of_the_photo():
    train, _ = T._texture_patches("train", 50, 0)
    test, _ = T._texture_patches("test", 50, 0)
    flat_train = {p.tobytes() for p in train}
    assert not any(p.tobytes() in flat_train for p in test)


def test_verdicts_read_the_table_as_the_deck_does():
    def row(similarity, size, **acc):
        return {"target": "t", "similarity": similarity, "size": size, "n": 10,
                "accuracy": {s: [acc.get(s, 0.5)] for s in T.STRATEGIES}}
    results = {"rows": [row("similar", "small", probe=0.9, all=0.8),
                        row("similar", "large", probe=0.7, last=0.6, all=0.95),
                        row("different", "small", all=0.6, scratch=0.55),
                        row("different", "large", all=0.97)]}
    lines = T.verdicts(results)
    assert lines[0].endswith("-> agrees")
    assert "differs: fine-tune last layers 0.600" in lines[1]
    assert "agrees: lower than the easier cells; the best use of pretraining adds +0.050" \
        in lines[2]
    assert lines[3].endswith("-> agrees")


def test_the_command_prints_the_table_and_writes_results(tmp_path, capsys):
    from scratchnet.cli import main

    assert main(["transfer", "--fast", "--targets", "faces", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "linear probe" in out and "학습 어려움 (hard to learn)" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["target"], r["size"], r["n"]) for r in results["rows"]] == \
        [("faces", "small", 20), ("faces", "large", 40)]
    assert (tmp_path / "transfer_table.png").stat().st_size > 0
    assert main(["transfer", "--targets", "cats", "--out", str(tmp_path)]) == 2


@pytest.mark.slow
def test_pretraining_and_the_similar_small_cell():
    """The measured bar: the network learns MNIST (>= 95% held out), and with 10 digits per
    class fine-tuning it beats reading its features with a linear probe."""
    results = T.run_experiment(("digits",), repeats=2)
    assert results["pretrain_accuracy"] >= 0.95
    small = results["rows"][0]["accuracy"]
    assert np.mean(small["all"]) > np.mean(small["probe"])
    assert np.mean(small["last"]) > np.mean(small["probe"])
