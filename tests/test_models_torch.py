"""PyTorch interop: the zoo loads torchvision-keyed weights and computes what PyTorch computes.

Each model's twin (tests/torch_twins.py, the torchvision architecture rebuilt with torch.nn)
gets random weights and random BatchNorm statistics; they are copied into the scratchnet model
through `load_state_dict`; then logits (float32, eval mode) and the gradients of a random
projection of them with respect to the input must agree. Inputs are small where the
architecture allows (adaptive pooling makes 32x32 or 64x64 enough), so the whole file runs in
seconds.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import scratchnet as sn  # noqa: E402
import scratchnet.models as M  # noqa: E402
from tests import torch_twins  # noqa: E402

# name -> input size (H = W): the smallest comfortable size for the architecture
CASES = {
    "resnet18": 64,
    "vgg11": 32,
    "alexnet": 64,
    "densenet121": 32,
    "mobilenet_v2": 32,
    "googlenet": 32,
    "resnet50": 32,
    "squeezenet1_0": 64,
    "squeezenet1_1": 64,
    "shufflenet_v2_x1_0": 32,
}
NUM_CLASSES = 10


def _pair(name, seed=0):
    """(ours, twin), the twin holding random weights and BN statistics, copied into ours
    after checking that both state dicts have the same keys, in the same order, with the same
    shapes."""
    torch.manual_seed(seed)
    twin = torch_twins.build(name, NUM_CLASSES)
    torch_twins.randomize_batchnorm(twin, torch.Generator().manual_seed(seed + 1))
    kwargs = {"init_weights": False} if name.startswith("vgg") else {}
    ours = getattr(M, name)(num_classes=NUM_CLASSES, **kwargs)
    theirs = twin.state_dict()
    mine = ours.state_dict()
    assert list(mine) == list(theirs), f"{name}: not torchvision's state-dict keys and order"
    for k, v in theirs.items():
        assert tuple(mine[k].shape) == tuple(v.shape), k
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.items()})
    assert not result.missing_keys and not result.unexpected_keys
    return ours, twin


def _forward_backward_ours(model, x, cot):
    xt = sn.tensor(x, requires_grad=True)
    y = model(xt)
    (y * sn.tensor(cot)).sum().backward()
    return y.data, xt.grad.data


def _forward_backward_torch(model, x, cot):
    xt = torch.tensor(x, requires_grad=True)
    y = model(xt)
    (y * torch.tensor(cot)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


def _assert_close(ours, theirs, what, tol=1e-4):
    # tolerance relative to the size of the values compared, as for any float32 comparison
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.mark.parametrize("name", list(CASES))
def test_logits_and_input_gradients_match_pytorch(name):
    ours, twin = _pair(name)
    ours.eval()
    twin.eval()
    size = CASES[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    cot = rng.standard_normal((2, NUM_CLASSES)).astype(np.float32)
    y, gx = _forward_backward_ours(ours, x, cot)
    ty, tgx = _forward_backward_torch(twin, x, cot)
    assert y.dtype == np.float32 and gx.dtype == np.float32
    _assert_close(y, ty, f"{name} logits")
    _assert_close(gx, tgx, f"{name} input gradient", tol=1e-4)


@pytest.mark.parametrize("name,size", [("alexnet", 224)])
def test_natural_size_matches_pytorch(name, size):
    ours, twin = _pair(name, seed=3)
    ours.eval()
    twin.eval()
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    cot = rng.standard_normal((1, NUM_CLASSES)).astype(np.float32)
    y, gx = _forward_backward_ours(ours, x, cot)
    ty, tgx = _forward_backward_torch(twin, x, cot)
    _assert_close(y, ty, f"{name} logits at {size}")
    _assert_close(gx, tgx, f"{name} input gradient at {size}")


def test_training_mode_matches_pytorch_resnet18():
    """Batch statistics, running-statistic updates and every parameter gradient, in float64:
    at layer4 a 32x32 input leaves 1x1 maps, so each BN channel normalises only 4 values and
    float32 rounding would be amplified; float64 shows the arithmetic itself is the same."""
    ours, twin = _pair("resnet18", seed=5)
    ours.double().train()
    twin.double().train()
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 32, 32))
    cot = rng.standard_normal((4, NUM_CLASSES))
    y, gx = _forward_backward_ours(ours, x, cot)
    ty, tgx = _forward_backward_torch(twin, x, cot)
    assert y.dtype == np.float64 and gx.dtype == np.float64
    _assert_close(y, ty, "train-mode logits", tol=1e-9)
    _assert_close(gx, tgx, "train-mode input gradient", tol=1e-9)
    theirs = dict(twin.named_parameters())
    for k, p in ours.named_parameters():
        assert p.grad.dtype == np.float64, k
        _assert_close(p.grad.data, theirs[k].grad.numpy(), f"gradient of {k}", tol=1e-9)
    theirs = twin.state_dict()
    for k, b in ours.state_dict().items():
        if "running" in k or "num_batches" in k:
            _assert_close(b.data, theirs[k].numpy(), k, tol=1e-9)


def test_googlenet_aux_classifiers_match_pytorch():
    torch.manual_seed(11)
    twin = torch_twins.GoogLeNet(NUM_CLASSES, aux_logits=True)
    ours = M.googlenet(num_classes=NUM_CLASSES, aux_logits=True, init_weights=False)
    ours.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    # in training mode dropout is random: compare with dropout switched off in both
    for m in twin.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for m in ours.modules():
        if isinstance(m, sn.nn.Dropout):
            m.p = 0.0
    x = np.random.default_rng(12).standard_normal((2, 3, 64, 64)).astype(np.float32)
    out = ours(sn.tensor(x))
    tout = twin(torch.tensor(x))
    assert isinstance(out, M.GoogLeNetOutputs)
    for mine, theirs, what in zip(out, tout, ("logits", "aux_logits2", "aux_logits1")):
        _assert_close(mine.data, theirs.detach().numpy(), what)


def test_export_to_pytorch_through_files(tmp_path):
    """state_dict out of scratchnet, into PyTorch: .safetensors and .npz."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    sn.manual_seed(13)
    ours = M.resnet18(num_classes=NUM_CLASSES)
    # non-trivial running statistics, so that the buffers are part of what is checked
    for name, b in ours.named_buffers():
        if name.endswith("running_mean"):
            b.data[...] = np.random.default_rng(14).uniform(-0.2, 0.2, b.shape)
    ours.eval()
    x = np.random.default_rng(15).standard_normal((2, 3, 48, 48)).astype(np.float32)
    with sn.no_grad():
        expected = ours(sn.tensor(x)).data

    M.save_weights(ours, tmp_path / "r18.safetensors")
    M.save_weights(ours, tmp_path / "r18.npz")
    for state in (safetensors_torch.load_file(str(tmp_path / "r18.safetensors")),
                  {k: torch.from_numpy(v) for k, v in np.load(tmp_path / "r18.npz").items()}):
        twin = torch_twins.build("resnet18", NUM_CLASSES)
        twin.load_state_dict(state)          # strict: every key present, none extra
        twin.eval()
        with torch.no_grad():
            _assert_close(expected, twin(torch.tensor(x)).numpy(), "exported weights")


def test_import_from_pytorch_through_files(tmp_path):
    """A torchvision-style state dict written by PyTorch loads with load_weights."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(16)
    twin = torch_twins.build("mobilenet_v2", NUM_CLASSES)
    torch_twins.randomize_batchnorm(twin, torch.Generator().manual_seed(17))
    twin.eval()
    safetensors_torch.save_file(twin.state_dict(), str(tmp_path / "mb2.safetensors"))
    np.savez(tmp_path / "mb2.npz", **{k: v.numpy() for k, v in twin.state_dict().items()})
    x = np.random.default_rng(18).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    for path in (tmp_path / "mb2.safetensors", tmp_path / "mb2.npz"):
        ours = M.mobilenet_v2(num_classes=NUM_CLASSES)
        result = M.load_weights(ours, path)
        assert not result.missing_keys and not result.unexpected_keys
        ours.eval()
        with sn.no_grad():
            _assert_close(ours(sn.tensor(x)).data, expected, f"loaded from {path.suffix}")
