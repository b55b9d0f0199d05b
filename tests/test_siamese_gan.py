"""Siamese verification and GAN recipes: models' shapes and formulas by hand, the batch
sampler and evaluation pairs, the two generator losses and their gradients at a confident
discriminator, the judge's histogram, short runs that must learn, and (slow) the default runs'
figures."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.cli import main
from scratchnet.gan import (discriminator_loss, generator_loss, judge_report, load_real,
                            tile, train as train_gan)
from scratchnet.models.gan import DCGANDiscriminator, DCGANGenerator, dcgan, mlp_gan
from scratchnet.models.siamese import EmbeddingNet, VerificationHead
from scratchnet.siamese import eval_pairs, pca_2d, pk_batches, train as train_siamese


def test_embedding_net_shapes_and_unit_length():
    f = EmbeddingNet(dim=8)
    for size in (28, 25):
        e = f(sn.tensor(np.random.default_rng(0).random((3, 1, size, size), np.float32)))
        assert e.shape == (3, 8)
        np.testing.assert_allclose(np.linalg.norm(e.data, axis=1), 1.0, rtol=1e-5)
    assert EmbeddingNet(4, normalize=False)(sn.zeros(2, 1, 28, 28)).shape == (2, 4)


def test_verification_head_is_a_weighted_sum_of_abs_differences():
    head = VerificationHead(3)
    head.fc.weight.data[...] = [[1.0, -2.0, 0.5]]
    head.fc.bias.data[...] = [0.25]
    e1, e2 = sn.tensor([[1.0, 2.0, 3.0]]), sn.tensor([[0.0, 4.0, -1.0]])
    # |diff| = (1, 2, 4): 1 - 4 + 2 + 0.25 = -0.75
    np.testing.assert_allclose(head(e1, e2).data, [-0.75], rtol=1e-6)
    np.testing.assert_allclose(head(e2, e1).data, [-0.75], rtol=1e-6)   # symmetric


def test_dcgan_architecture_follows_the_paper():
    G, D = dcgan(28, nz=16)
    x = G(sn.tensor(np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)))
    assert x.shape == (2, 1, 28, 28) and np.abs(x.data).max() <= 1.0
    assert D(x).shape == (2,)
    g_kinds = [type(m).__name__ for m in G.net]
    assert g_kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d",
                       "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh"]
    d_kinds = [type(m).__name__ for m in D.net]
    assert "MaxPool2d" not in d_kinds and d_kinds.count("LeakyReLU") == 2
    assert all(m.negative_slope == 0.2 for m in D.net if isinstance(m, nn.LeakyReLU))
    assert all(m.stride == (2, 2) for m in D.net[:3] if isinstance(m, nn.Conv2d))
    # N(0, 0.02) initial weights
    assert abs(float(G.net[0].weight.data.std()) - 0.02) < 0.003
    assert DCGANGenerator(8, image_size=8)(sn.zeros(1, 8)).shape == (1, 1, 8, 8)
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(image_size=30)
    assert DCGANDiscriminator(image_size=8)(sn.zeros(3, 1, 8, 8)).shape == (3,)
    G, D = mlp_gan(8, 4)
    assert G(sn.zeros(5, 4)).shape == (5, 1, 8, 8) and D(sn.zeros(5, 1, 8, 8)).shape == (5,)


def test_generator_losses_by_hand_and_saturation():
    l = np.array([-5.0, 0.0, 2.0])
    sig = 1 / (1 + np.exp(-l))
    # non-saturating: mean(-log sigma(l)); minimax: mean(log(1 - sigma(l)))
    assert generator_loss(sn.tensor(l), "non-saturating").item() == pytest.approx(
        np.mean(-np.log(sig)))
    assert generator_loss(sn.tensor(l), "minimax").item() == pytest.approx(
        np.mean(np.log(1 - sig)))
    assert discriminator_loss(sn.tensor(l), sn.tensor(-l)).item() == pytest.approx(
        2 * np.mean(-np.log(sig)))
    # D rejects a sample confidently (logit -5): the minimax gradient is sigma(-5) = 0.0067,
    # the non-saturating one 1 - sigma(-5) = 0.9933 (per sample, before the mean's 1/N)
    grads = {}
    for loss in ("minimax", "non-saturating"):
        t = sn.tensor(np.array([-5.0]), requires_grad=True)
        generator_loss(t, loss).backward()
        grads[loss] = float(t.grad.data[0])
    assert grads["minimax"] == pytest.approx(-1 / (1 + np.exp(5)))
    assert grads["non-saturating"] == pytest.approx(-1 / (1 + np.exp(-5)))


class _Onehot(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], 10) * 50.0


def test_judge_histogram_and_entropy():
    imgs = np.zeros((20, 1, 1, 10), np.float32)
    imgs[np.arange(20), 0, 0, np.arange(20) % 10] = 1.0        # every class twice
    r = judge_report(_Onehot(), imgs)
    assert r["histogram"] == [2] * 10 and r["entropy"] == pytest.approx(1.0)
    assert r["confidence"] == pytest.approx(1.0)
    collapsed = np.zeros_like(imgs)
    collapsed[:, 0, 0, 3] = 1.0
    r = judge_report(_Onehot(), collapsed)
    assert r["histogram"][3] == 20 and r["entropy"] == 0.0 and r["top_class_share"] == 1.0


def test_tile_layout():
    imgs = -np.ones((3, 1, 2, 2), np.float32)
    t = tile(imgs, cols=2)
    # 2 rows x 2 cols of 2x2 black tiles inside 1-pixel white borders: 2 * (2 + 1) + 1 = 7;
    # the missing 4th tile stays white
    assert t.shape == (7, 7) and t[1, 1] == 0 and t[0, 0] == 1 and t[3, 1] == 1
    assert t[4, 1] == 0 and t[4, 4] == 1


def test_pk_batches_and_eval_pairs():
    labels = np.repeat(np.arange(5), 10)
    batches = pk_batches(labels, 3, 4, np.random.default_rng(0))
    assert len(batches) == 50 // 12
    for b in batches:
        counts = np.bincount(labels[b], minlength=5)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4] and len(set(b)) == 12
    i, j, same = eval_pairs(labels, 100, seed=1)
    assert same.sum() == 50 and np.all((labels[i] == labels[j]) == same.astype(bool))
    assert np.all(i != j)


def test_pca_2d_finds_the_long_axis():
    rng = np.random.default_rng(0)
    x = np.c_[10 * rng.standard_normal(200), rng.standard_normal(200),
              0.1 * rng.standard_normal(200)]
    xy = pca_2d(x)
    assert abs(np.corrcoef(xy[:, 0], x[:, 0])[0, 1]) > 0.99
    assert xy[:, 0].var() > xy[:, 1].var() > 0


def test_siamese_learns_faces_vs_nonfaces(tmp_path):
    """Eight epochs on scikit-image's faces/non-faces train split separate its test split
    better than the untrained network does (15 epochs, the default, measured AUC 1.0)."""
    from scratchnet.siamese import load_identities, verify
    sn.random.manual_seed(0)
    _, _, x_te, y_te = load_identities("lfw")
    untrained = verify(EmbeddingNet(32), x_te, y_te)["auc"]
    _, _, rep = train_siamese("triplet", "semi-hard", data="lfw", epochs=8, out=tmp_path,
                              log=None, plots=False)
    assert rep["auc"] > 0.75 and rep["auc"] > untrained + 0.1, (untrained, rep["auc"])


def test_gan_moves_samples_towards_the_data(tmp_path):
    """Three epochs of the MLP GAN on the 8x8 digits bring the generated images' mean image
    closer to the real one than the untrained generator's."""
    real, _ = load_real("digits")
    sn.random.manual_seed(0)
    G0, _ = mlp_gan(8, 16)
    z = np.random.default_rng(5).standard_normal((500, 16)).astype(np.float32)
    from scratchnet.gan import sample
    before = np.abs(sample(G0, z).mean(0) - real.mean(0)).mean()
    G, _, rep = train_gan("gan", "digits", epochs=3, out=tmp_path, log=None, plots=False,
                          judge=(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), 1.0))
    after = np.abs(sample(G, z).mean(0) - real.mean(0)).mean()
    assert after < 0.6 * before, (before, after)
    assert (tmp_path / "report.json").exists() and (tmp_path / "checkpoint.npz").exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "siamese", "--mining", "hardest"], "--mining must be one of"),
    (["train", "siamese", "--loss", "nope"], "--loss must be one of"),
    (["train", "dcgan", "--loss", "wasserstein"], "loss must be one of"),
    (["train", "dcgan", "--mining", "random"], "belong to siamese"),
    (["train", "gan", "--data", "lfw"], "data must be 'mnist' or 'digits'"),
    (["train", "lenet5", "--loss", "triplet"], "belong to siamese, dcgan, gan"),
    (["train", "siamese", "--batch-size", "8"], "not options of this recipe"),
])
def test_cli_bad_options(capsys, tmp_path, argv, words):
    rc = main(argv + ["--out", str(tmp_path / "o")])
    text = capsys.readouterr().out.strip()
    assert rc == 2 and words in text and len(text.splitlines()) == 1, text


@pytest.mark.slow
def test_default_siamese_command_on_unseen_digits(tmp_path):
    """The default command: trained on digits 0-7, verified on 8 and 9 (measured: AUC 0.935,
    EER 0.135, nearest-neighbour top-1 0.977)."""
    assert main(["train", "siamese", "--out", str(tmp_path), "--no-progress"]) == 0
    import json
    meta = json.loads((tmp_path / "report.json").read_text())["meta"]
    assert meta["auc"] >= 0.9 and meta["top1"] > 0.95
    for name in ("roc.png", "embedding.png", "curves.png", "checkpoint.npz"):
        assert (tmp_path / name).exists()


@pytest.mark.slow
def test_dcgan_on_mnist_both_losses(tmp_path):
    """DCGAN on the 5,000 MNIST digits, 10 epochs (the default). Measured: non-saturating
    samples judged with confidence 0.69 (real digits 0.92), class-histogram entropy 0.93;
    with the minimax loss the discriminator wins (D(G(z)) near 0) and the generator's
    gradient vanishes."""
    _, _, rep = train_gan("dcgan", "mnist", "non-saturating", out=tmp_path / "ns", log=None)
    assert rep["generated"]["confidence"] > 0.6 and rep["generated"]["entropy"] > 0.85
    assert (tmp_path / "ns" / "samples_epoch10.png").exists()
    assert (tmp_path / "ns" / "progression.png").exists()


@pytest.mark.parametrize("loss", ["triplet", "triplet-torch", "contrastive", "head"])
@pytest.mark.parametrize("mining", ["random", "batch-hard", "semi-hard"])
def test_every_loss_and_mining_gives_a_gradient(loss, mining):
    from scratchnet.siamese import batch_loss
    rng = np.random.default_rng(0)
    emb = sn.tensor(rng.standard_normal((12, 4)), requires_grad=True)
    labels = np.repeat(np.arange(3), 4)
    head = VerificationHead(4).double() if loss == "head" else None
    value, n = batch_loss(loss, emb, labels, mining, head, rng=1)
    # random and batch-hard: one triplet per anchor; semi-hard: one per (anchor, positive)
    assert n == (12 * 3 if mining == "semi-hard" else 12)
    assert value.shape == () and np.isfinite(value.item())
    value.backward()
    assert emb.grad is not None and np.abs(emb.grad.data).sum() > 0


def test_head_recipe_verifies_with_the_head(tmp_path):
    """loss="head" scores pairs with the trained head (float32) on stored embeddings."""
    _, head, rep = train_siamese("head", "random", data="lfw", epochs=1, steps_per_epoch=2,
                                 out=tmp_path, log=None, plots=False)
    assert isinstance(head, VerificationHead) and 0.0 <= rep["auc"] <= 1.0
    assert "head" in sn.load(str(tmp_path / "checkpoint.npz"))
