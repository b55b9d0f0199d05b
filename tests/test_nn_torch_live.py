"""Every layer against its live torch.nn twin (runs only where torch is installed).

For each layer: the repr is the same string, the state dict has the same keys in the same
order and the same shapes, torch's weights load into ours, and with those weights the output,
the input gradient and every parameter gradient agree (float64 tightly, float32 to float32
precision, and ours stays float32); buffers agree after the forward (running statistics).
Then: our state dict loads into torch, nested reprs match, init's fans and gains equal
torch's, load errors name the keys torch names, and randomized loss comparisons.
"""
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

import scratchnet as sn  # noqa: E402
import scratchnet.nn.functional as F  # noqa: E402
from scratchnet import nn  # noqa: E402


def L(name, ours, theirs, shape, mode="train", needs=None):
    return pytest.param(ours, theirs, shape, mode, needs, id=name)


LAYERS = [
    L("linear", lambda: nn.Linear(5, 3), lambda: tnn.Linear(5, 3), (4, 5)),
    L("linear_no_bias_3d", lambda: nn.Linear(5, 2, bias=False),
      lambda: tnn.Linear(5, 2, bias=False), (2, 3, 5)),
    L("conv1d", lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1),
      lambda: tnn.Conv1d(2, 4, 3, stride=2, padding=1), (2, 2, 9), needs="conv1d"),
    L("conv2d", lambda: nn.Conv2d(3, 4, 3), lambda: tnn.Conv2d(3, 4, 3), (2, 3, 6, 7),
      needs="conv2d"),
    L("conv2d_stride_pad_dilation_groups",
      lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
      lambda: tnn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                         groups=2), (1, 4, 7, 8), needs="conv2d"),
    L("conv2d_same_even_kernel", lambda: nn.Conv2d(2, 3, 4, padding="same", bias=False),
      lambda: tnn.Conv2d(2, 3, 4, padding="same", bias=False), (1, 2, 5, 6), needs="conv2d"),
    L("conv2d_reflect", lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect"),
      lambda: tnn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect"), (1, 2, 5, 6),
      needs="conv2d"),
    L("conv2d_circular", lambda: nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"),
      lambda: tnn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), (1, 2, 4, 5),
      needs="conv2d"),
    L("conv2d_replicate_same", lambda: nn.Conv2d(1, 2, 3, padding="same",
                                                 padding_mode="replicate"),
      lambda: tnn.Conv2d(1, 2, 3, padding="same", padding_mode="replicate"), (2, 1, 4, 4),
      needs="conv2d"),
    L("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                     output_padding=1),
      lambda: tnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
      (1, 3, 3, 4), needs="conv_transpose2d"),
    L("conv_transpose2d_groups_dilation",
      lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, dilation=2),
      lambda: tnn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, dilation=2), (1, 4, 3, 3),
      needs="conv_transpose2d"),
    L("maxpool2d", lambda: nn.MaxPool2d(3, 2, 1), lambda: tnn.MaxPool2d(3, 2, 1),
      (2, 3, 7, 6)),
    L("avgpool2d", lambda: nn.AvgPool2d(2, 1, ceil_mode=True),
      lambda: tnn.AvgPool2d(2, 1, ceil_mode=True), (1, 2, 5, 5)),
    L("adaptive_avgpool2d", lambda: nn.AdaptiveAvgPool2d((3, 2)),
      lambda: tnn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
    L("adaptive_maxpool2d", lambda: nn.AdaptiveMaxPool2d(2), lambda: tnn.AdaptiveMaxPool2d(2),
      (1, 3, 5, 5)),
    L("upsample_bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
      lambda: tnn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 3)),
    L("batchnorm1d_train", lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), (6, 3)),
    L("batchnorm1d_3d_momentum_none", lambda: nn.BatchNorm1d(2, momentum=None),
      lambda: tnn.BatchNorm1d(2, momentum=None), (3, 2, 4)),
    L("batchnorm2d_train", lambda: nn.BatchNorm2d(3, eps=1e-3, momentum=0.2),
      lambda: tnn.BatchNorm2d(3, eps=1e-3, momentum=0.2), (2, 3, 4, 4)),
    L("batchnorm2d_eval", lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (2, 3, 4, 4),
      mode="eval"),
    L("batchnorm2d_untracked_no_affine",
      lambda: nn.BatchNorm2d(2, affine=False, track_running_stats=False),
      lambda: tnn.BatchNorm2d(2, affine=False, track_running_stats=False), (3, 2, 2, 2),
      mode="eval"),
    L("lrn", lambda: nn.LocalResponseNorm(3, alpha=0.1, k=2.0),
      lambda: tnn.LocalResponseNorm(3, alpha=0.1, k=2.0), (2, 5, 3, 3)),
    L("relu", lambda: nn.ReLU(), lambda: tnn.ReLU(), (3, 4)),
    L("leaky_relu", lambda: nn.LeakyReLU(0.3), lambda: tnn.LeakyReLU(0.3), (3, 4)),
    L("tanh", lambda: nn.Tanh(), lambda: tnn.Tanh(), (3, 4)),
    L("sigmoid", lambda: nn.Sigmoid(), lambda: tnn.Sigmoid(), (3, 4)),
    L("softmax", lambda: nn.Softmax(dim=1), lambda: tnn.Softmax(dim=1), (3, 4)),
    L("log_softmax", lambda: nn.LogSoftmax(dim=-1), lambda: tnn.LogSoftmax(dim=-1), (3, 4)),
    L("flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), (2, 3, 2, 2)),
    L("identity", lambda: nn.Identity(), lambda: tnn.Identity(), (2, 3)),
    L("dropout_eval", lambda: nn.Dropout(0.4), lambda: tnn.Dropout(0.4), (3, 5), mode="eval"),
    L("dropout2d_eval", lambda: nn.Dropout2d(), lambda: tnn.Dropout2d(), (1, 3, 2, 2),
      mode="eval"),
    L("small_cnn_train",
      lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)),
      lambda: tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                             tnn.MaxPool2d(2), tnn.Conv2d(4, 8, 3), tnn.ReLU(),
                             tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(8, 3)),
      (2, 1, 8, 8), needs="conv2d"),
]


def _torch_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("make_ours,make_theirs,shape,mode,needs", LAYERS)
def test_layer_matches_torch(make_ours, make_theirs, shape, mode, needs, dtype):
    if needs and not hasattr(F, needs):
        pytest.skip(f"scratchnet.nn.functional.{needs} is not available yet")
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    theirs = make_theirs().to(tdtype)
    ours = make_ours().to(dtype)
    assert repr(ours) == repr(theirs)
    ref_state = _torch_state(theirs)
    our_state = ours.state_dict()
    assert list(our_state) == list(ref_state)
    for k in ref_state:
        assert tuple(our_state[k].shape) == ref_state[k].shape, k
    # a few steps of running statistics first, so that eval mode has something to use
    for v in theirs.state_dict().values():
        if v.dtype.is_floating_point:
            v.add_(torch.rand(v.shape, dtype=v.dtype) * 0.5)
    ours.load_state_dict(_torch_state(theirs))
    theirs.train(mode == "train")
    ours.train(mode == "train")

    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    sx = sn.tensor(x, requires_grad=True)
    ty, sy = theirs(tx), ours(sx)
    assert sy.dtype == dtype
    rtol, atol = (1e-9, 1e-10) if dtype == np.float64 else (2e-4, 2e-5)
    scale = max(1.0, float(ty.detach().abs().max()))
    np.testing.assert_allclose(sy.data, ty.detach().numpy(), rtol=rtol, atol=atol * scale)

    cot = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(cot))
    sy.backward(cot)
    gscale = max(1.0, float(tx.grad.abs().max()))
    np.testing.assert_allclose(sx.grad.data, tx.grad.numpy(), rtol=rtol, atol=atol * gscale)
    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert list(our_params) == list(their_params)
    for name, p in their_params.items():
        g = p.grad.numpy()
        np.testing.assert_allclose(our_params[name].grad.data, g, rtol=rtol,
                                   atol=atol * max(1.0, float(np.abs(g).max())),
                                   err_msg=f"gradient of {name}")
    for name, value in _torch_state(theirs).items():
        np.testing.assert_allclose(ours.state_dict()[name].data, value, rtol=rtol,
                                   atol=atol, err_msg=f"buffer {name} after forward")


def test_our_state_dict_loads_into_torch():
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    ours(sn.randn(5, 4))
    theirs = tnn.Sequential(tnn.Linear(4, 3), tnn.BatchNorm1d(3), tnn.ReLU(), tnn.Linear(3, 2))
    result = theirs.load_state_dict({k: torch.from_numpy(v.data.copy())
                                     for k, v in ours.state_dict().items()}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(sn.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def _nested(lib):
    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.Sequential(lib.Conv2d(3, 8, 3, padding=1, bias=False),
                                       lib.BatchNorm2d(8), lib.ReLU(inplace=True))
            self.heads = lib.ModuleDict({"cls": lib.Linear(8, 10), "drop": lib.Dropout(0.2)})
            self.stages = lib.ModuleList([lib.MaxPool2d(2) for _ in range(3)] +
                                         [lib.Upsample(scale_factor=2)])
            self.register_buffer("anchors", None)

        def forward(self, x):
            return x

    return Block()


def test_nested_repr_and_state_dict_keys_match_torch():
    ours, theirs = _nested(nn), _nested(tnn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_load_error_names_the_keys_torch_names():
    bad = {"0.weight": np.zeros((3, 5)), "0.bias": np.zeros(3), "2.weight": np.zeros(1),
           "3.weight": np.zeros(2)}
    theirs = tnn.Sequential(tnn.Linear(4, 3), tnn.ReLU(), tnn.Linear(3, 2))
    with pytest.raises(RuntimeError) as t_info:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(RuntimeError) as s_info:
        ours.load_state_dict(bad)
    t_msg, s_msg = str(t_info.value), str(s_info.value)
    for section in ("Missing key(s)", "Unexpected key(s)", "size mismatch for"):
        assert section in t_msg and section in s_msg
    keys = set(re.findall(r'"([\w.]+)"', t_msg))
    keys |= set(re.findall(r"size mismatch for ([\w.]+):", t_msg))
    assert keys == {"0.weight", "2.weight", "2.bias", "3.weight"}
    for key in keys:
        assert key in s_msg


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (4, 6, 3), (16, 1, 1, 1),
                                   (2, 3, 4, 5, 6)])
def test_fans_equal_torchs(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(sn.zeros(*shape))
    assert ours == tnn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_gains_equal_torchs(name, param):
    assert nn.init.calculate_gain(name, param) == pytest.approx(
        tnn.init.calculate_gain(name, param), rel=1e-15)


def _loss_configs():
    rng = np.random.default_rng(5)
    for trial in range(6):
        n, c = int(rng.integers(1, 6)), int(rng.integers(2, 6))
        spatial = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        reduction = ["mean", "sum", "none"][trial % 3]
        yield trial, n, c, spatial, reduction


@pytest.mark.parametrize("trial,n,c,spatial,reduction", list(_loss_configs()))
def test_random_cross_entropy_and_nll_configs_match_torch(trial, n, c, spatial, reduction):
    rng = np.random.default_rng(trial)
    x = rng.standard_normal((n, c) + spatial) * 3
    t = rng.integers(0, c, (n,) + spatial)
    t[rng.random(t.shape) < 0.2] = -100
    w = rng.uniform(0.1, 2.0, c)
    eps = [0.0, 0.1, 0.5][trial % 3]
    kw = dict(weight=None if trial % 2 else w, reduction=reduction, label_smoothing=eps)
    for fn_ours, fn_theirs, inp in [
            (F.cross_entropy, torch.nn.functional.cross_entropy, x),
            (F.nll_loss, torch.nn.functional.nll_loss, np.log(np.exp(x) / np.exp(x).sum(1,
                                                                           keepdims=True)))]:
        if fn_ours is F.nll_loss:
            kw.pop("label_smoothing")
        tx = torch.tensor(inp, requires_grad=True)
        sx = sn.tensor(inp, requires_grad=True)
        tkw = dict(kw, weight=None if kw["weight"] is None else torch.tensor(kw["weight"]))
        ty = fn_theirs(tx, torch.tensor(t), **tkw)
        sy = fn_ours(sx, sn.tensor(t), **kw)
        np.testing.assert_allclose(sy.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        if bool(torch.isfinite(ty).all()):
            cot = rng.standard_normal(ty.shape)
            ty.backward(torch.tensor(cot))
            sy.backward(cot)
            np.testing.assert_allclose(sx.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("trial", range(4))
def test_random_regression_and_binary_losses_match_torch(trial):
    rng = np.random.default_rng(100 + trial)
    shape = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    reduction = ["mean", "sum", "none", "mean"][trial]
    x, y = rng.standard_normal(shape) * 2, rng.standard_normal(shape)
    probs, target01 = rng.uniform(0.01, 0.99, shape), rng.uniform(0, 1, shape)
    pos_weight = rng.uniform(0.5, 3.0, shape[-1:])
    tf = torch.nn.functional
    cases = [
        ("mse_loss", (x, y), {}), ("l1_loss", (x, y), {}),
        ("smooth_l1_loss", (x, y), {"beta": float(rng.uniform(0.1, 2))}),
        ("huber_loss", (x, y), {"delta": float(rng.uniform(0.1, 2))}),
        ("binary_cross_entropy", (probs, target01), {}),
        ("binary_cross_entropy_with_logits", (x, target01), {"pos_weight": pos_weight}),
    ]
    for name, (a, b), kw in cases:
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        sa, sb = (sn.tensor(v, requires_grad=True) for v in (a, b))
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        ty = getattr(tf, name)(ta, tb, reduction=reduction, **tkw)
        sy = getattr(F, name)(sa, sb, reduction=reduction, **kw)
        np.testing.assert_allclose(sy.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
        cot = rng.standard_normal(ty.shape)
        ty.backward(torch.tensor(cot))
        sy.backward(cot)
        for s, t in ((sa, ta), (sb, tb)):
            np.testing.assert_allclose(s.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name} gradient")
