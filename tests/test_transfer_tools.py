"""Transfer-learning tools against PyTorch's semantics: requires_grad_ on modules, a
replaced head, parameter groups with their own learning rates, and BatchNorm held in eval
mode while the rest trains. The torch comparisons build the same small network in both
libraries, copy the weights across, take a few optimizer steps and compare every value."""
from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.models as M
from scratchnet import nn, optim
from scratchnet.transfer import freeze_batchnorm, param_groups, replace_head


def small_net(lib):
    """conv-BN-ReLU-pool, conv-ReLU, then Linear 8 -> 8 -> 3 (on 4x4 inputs): the same layout
    in scratchnet (lib=nn) and torch (lib=torch.nn), so that state dicts match key for key."""
    return lib.Sequential(
        lib.Conv2d(2, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(4, 2, 3, padding=1), lib.ReLU(), lib.Flatten(),
        lib.Linear(8, 8), lib.ReLU(), lib.Linear(8, 3))


def test_requires_grad_on_a_module_freezes_and_unfreezes_its_parameters():
    model = small_net(nn)
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False] + [True] * 8
    model(sn.randn(2, 2, 4, 4)).sum().backward()
    assert model[0].weight.grad is None and model[4].weight.grad is not None
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_replace_head_swaps_the_last_linear_and_keeps_the_rest():
    sn.manual_seed(0)
    model = M.resnet18(num_classes=1000)
    model.requires_grad_(False)
    before = {k: v.data.copy() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    head = replace_head(model, 10)
    assert model.fc is head and head.weight.shape == (10, 512) and head.weight.requires_grad
    after = model.state_dict()
    assert set(after) == set(before) | {"fc.weight", "fc.bias"}
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].data, v)
    out = model(sn.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)

    vgg = M.vgg11(num_classes=1000, init_weights=False)
    head = replace_head(vgg, 7)
    assert vgg.classifier[6] is head and head.in_features == 4096
    assert replace_head(vgg, 5, name="classifier.3").out_features == 5
    with pytest.raises(ValueError, match="1x1 conv"):
        replace_head(M.squeezenet1_1(), 5)
    with pytest.raises(ValueError, match="not a Linear"):
        replace_head(vgg, 5, name="features.0")


def test_param_groups_leave_out_frozen_parameters():
    model = small_net(nn)
    model[0].requires_grad_(False)
    head = replace_head(model, 5)
    groups = param_groups(model, head, lr=0.01, head_lr=0.1)
    assert [g["lr"] for g in groups] == [0.01, 0.1]
    assert [len(g["params"]) for g in groups] == [2 + 2 + 2, 2]      # BN, conv2, fc1 | head
    assert groups[1]["params"][0] is head.weight
    model.requires_grad_(False)
    head.requires_grad_(True)
    assert [g["lr"] for g in param_groups(model, head, 0.01, 0.1)] == [0.1]
    with pytest.raises(ValueError, match="not part of"):
        param_groups(model, nn.Linear(2, 2), 0.01, 0.1)


def test_freeze_batchnorm_survives_train_and_stops_the_running_statistics():
    model = small_net(nn)
    handle = freeze_batchnorm(model)
    bn = model[1]
    assert len(handle) == 1 and not bn.weight.requires_grad
    mean = bn.running_mean.data.copy()
    model.train()
    model(sn.randn(4, 2, 4, 4) * 3 + 1)
    np.testing.assert_array_equal(bn.running_mean.data, mean)
    assert int(bn.num_batches_tracked.data) == 0
    handle.remove()
    model.train()
    model(sn.randn(4, 2, 4, 4) * 3 + 1)
    assert not np.array_equal(bn.running_mean.data, mean)
    assert freeze_batchnorm(small_net(nn), train_affine=True).layers[0].weight.requires_grad


def _torch_pair(seed=0):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    theirs = small_net(torch.nn)
    with torch.no_grad():                        # BN statistics that are not the defaults
        theirs[1].running_mean.uniform_(-1, 1)
        theirs[1].running_var.uniform_(0.5, 2)
        theirs[1].weight.uniform_(0.5, 1.5)
    ours = small_net(nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return torch, ours, theirs


def _assert_same_state(ours, theirs):
    mine = ours.state_dict()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(mine[k].data, v.detach().numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=k)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_fine_tuning_steps_match_pytorch(opt_name):
    """Frozen first conv, BatchNorm in eval mode with frozen affine, a new head with 10x the
    learning rate of the rest: five steps of SGD with momentum and weight decay (or Adam)
    give torch's parameters and buffers."""
    torch, ours, theirs = _torch_pair()
    rng = np.random.default_rng(1)
    ours[0].requires_grad_(False)
    theirs[0].requires_grad_(False)
    sn.manual_seed(5)
    head = replace_head(ours, 3)
    theirs[9] = torch.nn.Linear(8, 3)
    with torch.no_grad():
        theirs[9].weight.copy_(torch.from_numpy(head.weight.data))
        theirs[9].bias.copy_(torch.from_numpy(head.bias.data))
    freeze_batchnorm(ours)
    theirs[1].requires_grad_(False)
    groups = param_groups(ours, head, lr=0.01, head_lr=0.1)
    body_t = [p for n, p in theirs.named_parameters() if p.requires_grad and not n.startswith("9.")]
    groups_t = [{"params": body_t, "lr": 0.01}, {"params": list(theirs[9].parameters()), "lr": 0.1}]
    if opt_name == "SGD":
        opt = optim.SGD(groups, lr=0.5, momentum=0.9, weight_decay=1e-3)
        opt_t = torch.optim.SGD(groups_t, lr=0.5, momentum=0.9, weight_decay=1e-3)
    else:
        opt = optim.Adam(groups, lr=0.5, weight_decay=1e-3)
        opt_t = torch.optim.Adam(groups_t, lr=0.5, weight_decay=1e-3)
    ours.train()
    theirs.train()
    for step in range(5):
        x = rng.standard_normal((6, 2, 4, 4)).astype(np.float32) * 2 + 0.5
        y = rng.integers(0, 3, 6)
        theirs[1].eval()                          # PyTorch's idiom, repeated after train()
        opt.zero_grad()
        loss = sn.nn.functional.cross_entropy(ours(sn.tensor(x)), sn.tensor(y))
        loss.backward()
        opt.step()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)),
                                                   torch.from_numpy(y))
        loss_t.backward()
        opt_t.step()
        assert abs(float(loss.data) - loss_t.item()) < 1e-5 * max(1, abs(loss_t.item()))
        ours.train()                              # a training loop's habit: BN must stay eval
    _assert_same_state(ours, theirs)
    assert ours[0].weight.grad is None and theirs[0].weight.grad is None
