"""Neural style transfer (scratchnet.style): the deck's Gram matrix and losses on hand-worked
examples and under float64 gradient checks, the VGG-19 layer table against the VGG-19
configuration, the feature extractor against torch (live, when installed), the optimisation
loop with L-BFGS and Adam, the pretrained/random fallback, and `scratchnet style`."""
import os
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, style
from scratchnet.models.vgg import CONFIGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a 2-channel feature map with 3 positions (N_l = 2, M_l = 3), rows are channels
F2 = np.array([[1.0, 2.0, 0.0],
               [0.0, 1.0, 3.0]])


def test_gram_matrix_by_hand():
    # G_ij = sum_k F_ik F_jk: G_11 = 1 + 4 + 0 = 5, G_12 = 0 + 2 + 0 = 2, G_22 = 0 + 1 + 9 = 10
    G = style.gram_matrix(sn.tensor(F2.reshape(2, 1, 3)))
    np.testing.assert_array_equal(G.data, [[5.0, 2.0], [2.0, 10.0]])
    # a batch of two: one Gram matrix per image, the second image's map is twice the first
    batch = sn.tensor(np.stack([F2, 2 * F2]).reshape(2, 2, 3, 1))
    np.testing.assert_array_equal(style.gram_matrix(batch).data,
                                  [[[5, 2], [2, 10]], [[20, 8], [8, 40]]])


def test_style_loss_by_hand():
    # A = [[4, 2], [2, 8]]: G - A = [[1, 0], [0, 2]], sum of squares 5,
    # E = 5 / (4 * N^2 * M^2) = 5 / (4 * 4 * 9) = 5/144
    A = np.array([[4.0, 2.0], [2.0, 8.0]])
    E = style.style_loss(sn.tensor(F2.reshape(2, 3, 1)), A)
    assert E.item() == pytest.approx(5 / 144, rel=1e-15)
    # its own Gram matrix as the target: zero
    assert style.style_loss(sn.tensor(F2.reshape(2, 1, 3)), [[5.0, 2.0], [2.0, 10.0]]).item() \
        == 0.0


def test_content_loss_by_hand():
    F = sn.tensor(np.array([[1.0, 2.0, 3.0]]))
    P = np.array([[1.0, 0.0, 1.0]])
    # 1/2 (0 + 4 + 4) = 4; the deck's variant 1/(4 * P.size) = 1/12: 8/12
    assert style.content_loss(F, P).item() == 4.0
    assert style.content_loss(F, P, factor="size").item() == pytest.approx(8 / 12, rel=1e-15)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 2, 3)])
def test_gradcheck_gram_matrix(shape):
    rng = np.random.default_rng(0)
    report = sn.gradcheck(style.gram_matrix, [rng.standard_normal(shape)])
    assert report.passed, str(report)


def test_gradcheck_style_loss_both_inputs():
    rng = np.random.default_rng(1)
    F = rng.standard_normal((1, 3, 4, 5))
    A = rng.standard_normal((1, 3, 3)) * 10
    report = sn.gradcheck(style.style_loss, [F, A])
    assert report.passed, str(report)


@pytest.mark.parametrize("factor", ["half", "size"])
def test_gradcheck_content_loss(factor):
    rng = np.random.default_rng(2)
    F, P = rng.standard_normal((1, 4, 3, 3)), rng.standard_normal((1, 4, 3, 3))
    report = sn.gradcheck(lambda f, p: style.content_loss(f, p, factor), [F, P])
    assert report.passed, str(report)


def test_style_loss_agrees_with_the_exercise_reference():
    # the gradient exercise's own forward (scratchnet.exercises), written separately
    from scratchnet.exercises.applications import _style_ref
    rng = np.random.default_rng(7)
    f = np.abs(rng.standard_normal((4, 3, 5)))
    s = rng.standard_normal((4, 9))
    a = s @ s.T
    ours = style.style_loss(sn.tensor(f), a).item()
    assert ours == pytest.approx(_style_ref(f, a), rel=1e-13)


def test_style_loss_gradient_by_hand():
    # dE/dF = 1/(N^2 M^2) (G - A) F for symmetric G, A (the 4 and the 2 of the square cancel)
    A = np.array([[4.0, 2.0], [2.0, 8.0]])
    F = sn.tensor(F2.reshape(2, 1, 3), requires_grad=True)
    style.style_loss(F, A).backward()
    want = (np.array([[1.0, 0.0], [0.0, 2.0]]) @ F2) / (4 * 9)
    np.testing.assert_allclose(F.grad.data.reshape(2, 3), want, rtol=1e-14)


def test_layer_table_matches_the_vgg19_configuration():
    # walk configuration E (the paper's VGG-19 column) as torchvision lays out `features`:
    # conv + ReLU per number, one module per "M"; block b's k-th conv is convb_k
    names, index, block, k = {}, 0, 1, 1
    for v in CONFIGS["E"]:
        if v == "M":
            index += 1
            block, k = block + 1, 1
        else:
            names[f"conv{block}_{k}"] = index
            index += 2
            k += 1
    assert style.VGG19_LAYERS == names
    assert index == 37
    features = style.random_vgg19_features()
    assert len(features) == 37
    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name, i in style.VGG19_LAYERS.items():
        conv = features[i]
        assert isinstance(conv, nn.Conv2d) and isinstance(features[i + 1], nn.ReLU), name
        assert conv.out_channels == widths[int(name[4])], name
    # the deck's layers
    assert style.STYLE_LAYERS == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert style.CONTENT_LAYER == "conv4_2"
    assert [style.layer_index(n, after_relu=False) for n in style.STYLE_LAYERS] == \
        [0, 5, 10, 19, 28]


@pytest.fixture(scope="module")
def features():
    sn.manual_seed(0)
    return style.random_vgg19_features()


def test_extractor_takes_the_named_layers_after_imagenet_normalisation(features):
    ex = style.VGGFeatures(features, ["conv1_1", "conv4_2"])
    # cut after conv4_2's ReLU (index 22): conv5_1 and the rest are not run
    assert len(ex.body) == 23
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32)
    out = ex(sn.tensor(x))
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    h = sn.tensor((x - mean) / std)
    with sn.no_grad():
        for i in range(23):
            h = features[i](h)
            if i == 1:
                np.testing.assert_allclose(out["conv1_1"].data, h.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["conv4_2"].data, h.data, rtol=1e-5, atol=1e-6)
    assert out["conv4_2"].shape == (1, 512, 4, 4) and out["conv4_2"].dtype == np.float32
    assert (out["conv4_2"].data >= 0).all()          # after the ReLU


def test_extractor_matches_torch(features):
    torch = pytest.importorskip("torch")
    ex = style.VGGFeatures(features, style.STYLE_LAYERS + (style.CONTENT_LAYER,))
    layers = []
    for m in list(ex.body):
        if isinstance(m, nn.Conv2d):
            t = torch.nn.Conv2d(m.in_channels, m.out_channels, 3, padding=1).double()
            t.weight.data = torch.from_numpy(m.weight.data.astype(np.float64))
            t.bias.data = torch.from_numpy(m.bias.data.astype(np.float64))
            layers.append(t)
        elif isinstance(m, nn.ReLU):
            layers.append(torch.nn.ReLU())
        else:
            layers.append(torch.nn.MaxPool2d(2, 2))
    x = np.random.default_rng(4).uniform(0, 1, (1, 3, 32, 48))
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    h = (torch.from_numpy(x) - mean) / std
    want = {}
    for i, layer in enumerate(layers):
        h = layer(h)
        for name in style.STYLE_LAYERS + (style.CONTENT_LAYER,):
            if style.VGG19_LAYERS[name] + 1 == i:
                want[name] = h.detach().numpy()
    ours = ex(sn.tensor(x.astype(np.float32)))
    for name, w in want.items():
        scale = np.abs(w).max()
        np.testing.assert_allclose(ours[name].data, w, atol=2e-5 * scale, err_msg=name)


def test_objective_is_the_decks_formula_in_numpy(features):
    ex = style.VGGFeatures(features, style.STYLE_LAYERS + (style.CONTENT_LAYER,))
    rng = np.random.default_rng(5)
    c, s, x = (rng.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32) for _ in range(3))
    weights = {"conv1_1": 0.1, "conv2_1": 0.15, "conv3_1": 0.2, "conv4_1": 0.25,
               "conv5_1": 0.3}
    obj = style.StyleTransfer(ex, c, s, alpha=7.0, beta=0.5, layer_weights=weights)
    total, st, ct = obj.loss(sn.tensor(x))
    with sn.no_grad():
        fx, fs, fc = ex(sn.tensor(x)), ex(sn.tensor(s)), ex(sn.tensor(c))
    want_style = 0.0
    for name, w in weights.items():
        Fx = fx[name].data[0].astype(np.float64).reshape(fx[name].shape[1], -1)
        Fs = fs[name].data[0].astype(np.float64).reshape(Fx.shape[0], -1)
        N, M = Fx.shape
        want_style += w * ((Fx @ Fx.T - Fs @ Fs.T) ** 2).sum() / (4 * N ** 2 * M ** 2)
    diff = fx["conv4_2"].data.astype(np.float64) - fc["conv4_2"].data
    want_content = 0.5 * (diff ** 2).sum()
    assert st.item() == pytest.approx(want_style, rel=1e-4)
    assert ct.item() == pytest.approx(want_content, rel=1e-4)
    assert total.item() == pytest.approx(7.0 * want_style + 0.5 * want_content, rel=1e-4)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_synthesis_lowers_the_loss_and_keeps_the_content_image(features, optimizer):
    ex = style.VGGFeatures(features, style.STYLE_LAYERS + (style.CONTENT_LAYER,))
    c = style.prepare(style.load_image("astronaut"), 32)
    s = style.prepare(style.load_image("brick"), c.shape[-2:])
    c_before = c.copy()
    obj = style.StyleTransfer(ex, c, s, alpha=1e6, beta=1.0)
    seen = []
    img, history = style.synthesize(obj, c, 6, optimizer,
                                    callback=lambda step, *rest: seen.append(step))
    assert seen == [1, 2, 3, 4, 5, 6] and len(history) == 6
    assert history[-1][0] < 0.8 * history[0][0]
    # the first step starts from the content image: zero content loss there
    assert history[0][2] == 0.0
    assert img.shape == c.shape and img.dtype == np.float32
    np.testing.assert_array_equal(c, c_before)


def test_synthesis_counts_loss_evaluations(features, monkeypatch):
    ex = style.VGGFeatures(features, style.STYLE_LAYERS + (style.CONTENT_LAYER,))
    rng = np.random.default_rng(6)
    c, s = (rng.uniform(0, 1, (1, 3, 16, 16)).astype(np.float32) for _ in range(2))
    obj = style.StyleTransfer(ex, c, s, alpha=1e6)
    calls = []
    loss = obj.loss
    monkeypatch.setattr(obj, "loss", lambda x: calls.append(1) or loss(x))
    _, history = style.synthesize(obj, c, 4, "lbfgs")
    # the line search may evaluate more than once per step, and the history says how often
    counts = [h[3] for h in history]
    assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] == len(calls) >= 4
    calls.clear()
    _, history = style.synthesize(obj, c, 3, "adam")
    assert [h[3] for h in history] == [1, 2, 3] and len(calls) == 3


class _FakeMissing(FileNotFoundError):
    pass


def test_missing_weights_fall_back_to_random_in_one_line(monkeypatch):
    import scratchnet.models as models

    def vgg19(weights=None):
        raise _FakeMissing("vgg19-dcbb9e9d.pth is not in the weight cache")

    monkeypatch.setattr(models, "vgg19", vgg19)
    lines = []
    feats, pretrained = style.vgg19_features(log=lines.append)
    assert not pretrained and len(feats) == 37
    assert len(lines) == 1 and "random weights" in lines[0] and "not found" in lines[0]
    assert "vgg19-dcbb9e9d.pth" in lines[0]


def test_pretrained_weights_are_used_when_there(monkeypatch):
    import scratchnet.models as models

    class Fake:
        features = nn.Sequential(*[nn.ReLU() for _ in range(37)])

    monkeypatch.setattr(models, "vgg19", lambda weights=None: Fake())
    lines = []
    feats, pretrained = style.vgg19_features(log=lines.append)
    assert pretrained and feats is Fake.features and "ImageNet" in lines[0]


def test_load_image_names_and_files(tmp_path):
    a = style.load_image("brick")                  # a grey texture becomes RGB
    assert a.shape == (512, 512, 3) and a.dtype == np.float32
    assert (a[..., 0] == a[..., 2]).all() and 0 <= a.min() and a.max() <= 1
    path = tmp_path / "p.png"
    style.save_png(str(path), style.prepare(style.load_image("coffee"), 40))
    b = style.load_image(str(path))
    assert b.shape == (27, 40, 3)                  # 400x600 with its longer side 40
    with pytest.raises(style.StyleError, match="neither an image file"):
        style.load_image("no_such_picture")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(style.StyleError, match="not an image file"):
        style.load_image(str(bad))


def _cli(*args, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", NUMBA_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "scratchnet.cli", "style", *args],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path),
                          timeout=300)


def test_cli_runs_with_frames_and_says_which_features(tmp_path):
    out = _cli("astronaut", "brick", "out.png", "--steps", "3", "--size", "24", "--frames",
               "frames", "--optimizer", "adam", tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "random weights" in out.stdout and "He, Wang & Hopcroft" in out.stdout
    assert "step 3/3" in out.stdout
    assert (tmp_path / "out.png").exists()
    assert sorted(os.listdir(tmp_path / "frames")) == [f"step_000{i}.png" for i in range(4)]


@pytest.mark.parametrize("args, message", [
    (["nothere.jpg", "brick", "o.png", "--steps", "2"], "neither an image file"),
    (["astronaut", "brick", "o.png", "--steps", "0"], "--steps must be at least 1"),
    (["astronaut", "brick", "o.png", "--steps", "2", "--size", "8"], "--size must be"),
    (["astronaut", "brick", "missing/o.png", "--steps", "2"], "does not exist"),
    (["astronaut", "brick", ".", "--steps", "2"], "it is a folder"),
    (["astronaut", "brick", "o.txt", "--steps", "2"], "must end in .png"),
    (["astronaut", "brick", "o.png", "--steps", "2", "--alpha", "-1"], "both >= 0"),
    (["astronaut", "brick", "o.png", "--steps", "2", "--frames", "afile"], "is a file"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    (tmp_path / "afile").write_text("")
    out = _cli(*args, tmp_path=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert "Traceback" not in out.stderr
