"""summary and receptive_field: the decks' figures, hand-counted cases, and the promises
(the model is left as it was, a shared layer is counted once, layers that did not run are
still counted).
"""
from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.models as M
from scratchnet import nn
from scratchnet.models.vgg import CONFIGS, make_layers


@pytest.fixture(scope="module")
def alexnet_paper_summary():
    sn.manual_seed(0)
    return sn.summary(M.alexnet_paper(), (3, 227, 227), weights_only=True, verbose=False)


# -- deck 001: AlexNet and VGG parameter counts ------------------------------------------------
def test_deck001_alexnet_conv_weights(alexnet_paper_summary):
    s = alexnet_paper_summary
    assert s["features.conv1"].weights == 11 * 11 * 3 * 48 * 2 == 34_848
    assert s["features.conv3"].weights == 3 * 3 * 128 * 192 * 4 == 884_736
    assert s["classifier.fc8"].weights == 2048 * 2 * 1000 == 4_096_000


def test_deck001_alexnet_fc6_reads_6x6_maps_not_13x13(alexnet_paper_summary):
    s = alexnet_paper_summary
    # the deck multiplies 13 x 13 x 128 x 2 x 2048 x 2 = 177,209,344; fc6 follows pool5
    assert s["features.pool5"].output_shape == (1, 256, 6, 6)
    assert s["classifier.fc6"].weights == 6 * 6 * 256 * 4096 == 37_748_736
    assert s["classifier.fc6"].weights != 13 * 13 * 128 * 2 * 2048 * 2


def test_alexnet_paper_shapes_and_totals(alexnet_paper_summary):
    s = alexnet_paper_summary
    assert [s[f"features.{n}"].output_shape[2] for n in
            ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")] == \
        [55, 27, 27, 13, 13, 13, 13, 6]
    assert s.weights_only and s.total_params == s.total_weights == 60_965_224 - 10_568
    assert s.total_biases == 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000
    assert "34,848" in str(s)


def test_deck001_two_3x3_against_one_5x5():
    stack = nn.Sequential(nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(128, 128, 3, padding=1))
    single = nn.Conv2d(128, 128, 5, padding=2)
    a = sn.summary(stack, (128, 8, 8), weights_only=True, verbose=False)
    b = sn.summary(single, (128, 8, 8), weights_only=True, verbose=False)
    assert a.total_params == 3 * 3 * 128 * 128 * 2 == 294_912
    assert b.total_params == 5 * 5 * 128 * 128 == 409_600
    # ... and the same view of the input
    assert sn.receptive_field(stack).size == sn.receptive_field(single).size == 5
    # with biases: 128 more per convolution
    assert sn.summary(stack, (128, 8, 8), verbose=False).total_params == 294_912 + 256


# -- deck 000: the FSRCNN table counts weights only ---------------------------------------------
def _conv(f, n, c):
    """The table's Conv(f, n, c): n filters of f x f over c channels."""
    return nn.Conv2d(c, n, f, padding=f // 2)


def _deconv(f, n, c):
    return nn.ConvTranspose2d(c, n, f, stride=3, padding=f // 2, output_padding=2)


def _mid(n, s, m=4):
    layers = [_conv(1, s, n), nn.ReLU()]
    for _ in range(m):
        layers += [_conv(3, s, s), nn.ReLU()]
    return layers + [_conv(1, n, s), nn.ReLU()]


@pytest.mark.parametrize("name,layers,input_size,weights", [
    ("SRCNN-Ex", lambda: [_conv(9, 64, 1), nn.ReLU(), _conv(5, 32, 64), nn.ReLU(),
                          _conv(5, 1, 32)], 33, 57_184),
    ("Transition State 1", lambda: [_conv(9, 64, 1), nn.ReLU(), _conv(5, 32, 64), nn.ReLU(),
                                    _deconv(9, 1, 32)], 11, 58_976),
    ("Transition State 2", lambda: [_conv(9, 64, 1), nn.ReLU(), *_mid(64, 12),
                                    _deconv(9, 1, 64)], 11, 17_088),
    ("FSRCNN (56,12,4)", lambda: [_conv(5, 56, 1), nn.ReLU(), *_mid(56, 12),
                                  _deconv(9, 1, 56)], 11, 12_464),
])
def test_deck000_fsrcnn_table(name, layers, input_size, weights):
    model = nn.Sequential(*layers())
    s = sn.summary(model, (1, input_size, input_size), weights_only=True, verbose=False)
    assert s.total_params == weights, name
    assert s.total_biases > 0 and s.total_weights == weights


# -- hand-counted multiply-accumulates and memory -----------------------------------------------
def test_macs_of_each_layer_kind():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)     # 16x16 -> 8x8
            self.grouped = nn.Conv2d(8, 4, 3, groups=2)             # 8x8 -> 6x6
            self.up = nn.ConvTranspose2d(4, 2, 3, stride=2)         # 6x6 -> 13x13
            self.fc = nn.Linear(2 * 13 * 13, 5)

        def forward(self, x):
            x = self.up(self.grouped(self.conv(x)))
            return self.fc(x.flatten(1))

    s = sn.summary(Net(), (3, 16, 16), verbose=False)
    assert s["conv"].macs == (8 * 8 * 8) * (3 * 3 * 3)
    assert s["grouped"].macs == (4 * 6 * 6) * (4 * 3 * 3)
    assert s["up"].output_shape == (1, 2, 13, 13)
    assert s["up"].macs == (4 * 6 * 6) * (2 * 3 * 3)        # each input scatters a 2x3x3 block
    assert s["fc"].macs == 5 * 338
    assert s.total_macs == sum(r.macs for r in s.rows)
    s3 = sn.summary(Net(), (3, 16, 16), batch_size=3, verbose=False)
    assert s3.total_macs == 3 * s.total_macs
    assert s3.total_params == s.total_params


def test_weights_and_biases_split_batchnorm_counts_gamma_as_weight():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1, bias=False))
    s = sn.summary(model, (3, 6, 6), verbose=False)
    assert (s["0"].weights, s["0"].biases) == (216, 8)
    assert (s["1"].weights, s["1"].biases) == (8, 8)
    assert (s["2"].weights, s["2"].biases) == (32, 0)
    assert s.total_params == 216 + 8 + 8 + 8 + 32
    assert sn.summary(model, (3, 6, 6), weights_only=True, verbose=False).total_params == 256


def test_activation_memory_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    s = sn.summary(model, (1, 5, 5), verbose=False)
    # input 1x5x5, conv output 2x3x3, relu output 2x3x3, float32
    assert s.activation_bytes == 4 * (25 + 18 + 18)
    assert s.param_bytes == 4 * (18 + 2)
    s64 = sn.summary(model.double(), (1, 5, 5), verbose=False)
    assert s64.activation_bytes == 8 * (25 + 18 + 18)


def test_a_shared_layer_is_counted_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    s = sn.summary(Twice(), (4,), verbose=False)
    assert [r.name for r in s.rows] == ["fc", "fc"]
    assert s.total_params == 20                   # not 40
    assert s.total_macs == 2 * 16                 # but it runs twice


def test_layers_that_do_not_run_are_listed_and_counted():
    model = M.googlenet(num_classes=10, aux_logits=True, init_weights=False)
    s = sn.summary(model, (3, 32, 32), verbose=False)
    not_run = {r.name for r in s.rows if r.output_shape is None}
    assert {"aux1.conv.conv", "aux1.fc1", "aux2.fc2"} <= not_run
    assert all(name.startswith("aux") for name in not_run)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert "not run" in str(s)
    assert s.output_shape == (1, 10)


def test_summary_leaves_the_model_as_it_was():
    model = M.resnet18(num_classes=10)
    model.train()
    model.layer2.eval()                           # a mixed state must survive too
    stats = {k: v.data.copy() for k, v in model.state_dict().items()}
    sn.summary(model, (3, 32, 32), verbose=False)
    assert model.training and model.layer1.training and not model.layer2.training
    assert not model.layer2[0].bn1.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, stats[k], err_msg=k)
    assert all(p.grad is None for p in model.parameters())
    assert not model._forward_hooks and not model.conv1._forward_hooks


def test_deck003_lenet5_table():
    s = sn.summary(M.lenet5(), (1, 32, 32), verbose=False)
    convs_and_fcs = [r for r in s.rows if r.type in ("Conv2d", "Linear")]
    assert [r.output_shape for r in convs_and_fcs] == [
        (1, 6, 28, 28), (1, 16, 10, 10), (1, 120, 1, 1), (1, 84), (1, 10)]
    assert [r.params for r in convs_and_fcs] == [156, 2_416, 48_120, 10_164, 850]
    pools = [r.output_shape for r in s.rows if r.type == "AvgPool2d"]
    assert pools == [(1, 6, 14, 14), (1, 16, 5, 5)]
    assert s.total_params == 61_706


def test_summary_errors():
    with pytest.raises(TypeError, match="nn.Module"):
        sn.summary(lambda x: x, (3, 8, 8))
    with pytest.raises(ValueError, match="227"):
        sn.summary(M.alexnet_paper(num_classes=10), (3, 224, 224), verbose=False)
    with pytest.raises(KeyError, match="no layer named"):
        sn.summary(nn.Linear(2, 2), (2,), verbose=False)["fc9"]


def test_summary_prints_the_table(capsys):
    sn.summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), (1, 5, 5))
    out = capsys.readouterr().out
    assert "0 (Conv2d)" in out and "(1, 2, 3, 3)" in out and "Total parameters" in out


# -- receptive fields ---------------------------------------------------------------------------
def test_deck000_srcnn_and_vdsr_receptive_fields():
    assert sn.receptive_field([9, 1, 5]).size == 13
    assert sn.receptive_field([9, 5, 5]).size == 17
    assert sn.receptive_field([3] * 20).size == 41
    srcnn = nn.Sequential(nn.Conv2d(1, 64, 9, padding=4), nn.ReLU(),
                          nn.Conv2d(64, 32, 5, padding=2), nn.ReLU(),
                          nn.Conv2d(32, 1, 5, padding=2))
    rf = sn.receptive_field(srcnn)
    assert [r.receptive_field[0] for r in rf.rows] == [9, 13, 17]
    assert rf.size == 17 and rf.jump == 1 and int(rf) == 17


def test_alexnet_paper_receptive_fields_and_sizes():
    rf = sn.receptive_field(M.alexnet_paper(num_classes=10), input_size=227)
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert [r.name for r in rf.rows] == [f"features.{n}" for n in names]
    assert [r.receptive_field[0] for r in rf.rows] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [r.jump[0] for r in rf.rows] == [4, 8, 8, 16, 16, 16, 16, 32]
    assert [r.output_size[0] for r in rf.rows] == [55, 27, 27, 13, 13, 13, 13, 6]
    assert rf.global_layer == "classifier.fc6 (Linear)"
    assert "sees the whole input" in str(rf)


def test_vgg16_receptive_field():
    rf = sn.receptive_field(make_layers(CONFIGS["D"]), input_size=224)
    assert rf.rows[-2].receptive_field == (196, 196)      # conv5_3
    assert rf.size == 212 and rf.jump == 32               # pool5
    assert rf.rows[-1].output_size == (7, 7)


def test_layer_specs_stride_padding_dilation_and_rectangles():
    assert sn.receptive_field([(3, 2), (3, 1)]).size == 3 + 2 * 2
    assert sn.receptive_field([(3, 1, 1, 2)]).size == 5
    assert sn.receptive_field([(3, 1, 1, 2), (3, 1, 2, 4)]).size == 5 + 8
    assert sn.receptive_field([{"kernel_size": 3, "dilation": 2}]).size == 5
    assert sn.receptive_field([((1, 7), 1), ((7, 1), 1)]).size == 7
    rect = sn.receptive_field([nn.Conv2d(1, 1, (1, 7))])
    assert rect.size == (1, 7)
    starts = sn.receptive_field([nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, padding=1)])
    assert starts.rows[0].start == (1.0, 1.0) and starts.rows[1].start == (1.0, 1.0)
    assert sn.receptive_field([(2, 2, 0)]).rows[0].start == (0.5, 0.5)


def test_blocks_take_the_union_of_their_paths():
    # BasicBlock with a projection: the 3x3 path dominates the 1x1 shortcut
    block = M.BasicBlock(8, 16, stride=2, downsample=nn.Sequential(
        nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16)))
    rf = sn.receptive_field(block)
    assert rf.rows[0].kernel == (7, 7) and rf.jump == 2
    # Fire: the 3x3 expand branch after a 1x1 squeeze
    assert sn.receptive_field(M.Fire(8, 2, 4, 4)).size == 3
    # an SE block pools the whole map: the field is everything
    assert sn.receptive_field(M.se_resnet50(num_classes=10)).global_layer == \
        "layer1.0 (SEBottleneck)"


def test_resnet18_receptive_field_by_hand():
    rf = sn.receptive_field(M.resnet18(num_classes=10))
    # stem 7/2 and pool 3/2: 11, jump 4; each stride-1 block adds 2 * 2 * jump, a stride-2
    # block 2 * jump + 2 * (2 * jump)
    assert [r.receptive_field[0] for r in rf.rows] == [7, 11, 27, 43, 67, 99, 147, 211, 307,
                                                       435]
    assert rf.global_layer == "avgpool (AdaptiveAvgPool2d)"


def test_receptive_field_errors():
    with pytest.raises(ValueError, match="transposed"):
        sn.receptive_field([nn.ConvTranspose2d(1, 1, 3, stride=2)])
    with pytest.raises(TypeError, match="layer 1"):
        sn.receptive_field([3, "conv"])
    with pytest.raises(TypeError, match="Module or a list"):
        sn.receptive_field("vgg16")


def _children(*names):
    return lambda model: [getattr(model, n) for n in names]


# the model's first layers (the same attributes in ours and in the twin), and an input large
# enough to hold their receptive field
_PREFIXES = {
    "resnet18": (_children("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"),
                 256),
    "googlenet": (_children("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a",
                            "inception3b", "maxpool3", "inception4a", "inception4b"), 192),
    "mobilenet_v2": (lambda model: list(model.features[:14]), 320),
}


@pytest.mark.parametrize("name", list(_PREFIXES))
def test_receptive_field_matches_pytorch_gradient(name):
    """The theoretical field is where a gradient can reach. Measured in PyTorch: positive
    weights, identity BatchNorm, max pools as average pools of the same geometry (a max pool
    sends the gradient to one pixel only), positive input, so no path is cut; the input
    pixels that the centre output unit's gradient reaches span the receptive field, and their
    centre is where start + index * jump puts it."""
    torch = pytest.importorskip("torch")
    from tests import torch_twins

    children, size = _PREFIXES[name]
    torch.manual_seed(0)
    twin = torch_twins.build(name, 10).eval()
    for parent in twin.modules():
        for key, child in parent.named_children():
            if isinstance(child, torch.nn.MaxPool2d):
                setattr(parent, key, torch.nn.AvgPool2d(child.kernel_size, child.stride,
                                                        child.padding, child.ceil_mode))
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.fill_(0.5 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
    prefix = torch.nn.Sequential(*children(twin))
    x = torch.ones(1, 3, size, size, requires_grad=True)
    out = prefix(x)
    h, w = out.shape[2] // 2, out.shape[3] // 2
    out[0, :, h, w].sum().backward()
    reached = x.grad[0].abs().sum(0).numpy()
    rows = np.nonzero(reached.sum(1))[0]
    cols = np.nonzero(reached.sum(0))[0]
    assert 0 < rows[0] and rows[-1] < size - 1, "the field reached the border: use a larger input"
    measured = (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)

    ours_model = getattr(M, name)(num_classes=10)
    ours = sn.receptive_field(children(ours_model), input_size=size)
    assert measured == (ours.size, ours.size)
    assert ours.rows[-1].output_size == tuple(out.shape[2:])
    start, jump = ours.rows[-1].start, ours.jump
    assert ((rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2) == \
        (start[0] + h * jump, start[1] + w * jump)


def test_summary_and_receptive_field_are_two_modules():
    import importlib

    # import_module, not `import scratchnet.summary as m`: that would give the function
    receptive = importlib.import_module("scratchnet.receptive")
    summary_module = importlib.import_module("scratchnet.summary")
    assert summary_module.summary is sn.summary

    assert sn.receptive_field is receptive.receptive_field
    assert isinstance(sn.receptive_field([3, 3]), receptive.ReceptiveField)
    assert callable(sn.summary)
    assert not hasattr(summary_module, "ReceptiveField")
    assert not hasattr(summary_module, "_walk")


def test_conv1d_macs_by_hand():
    # Conv1d(2 -> 4, k=3) on length 10: 8 outputs x 4 channels, each 2 * 3 multiply-adds
    s = sn.summary(nn.Sequential(nn.Conv1d(2, 4, 3)), (2, 10))
    assert s.total_macs == 8 * 4 * 2 * 3
    assert s.rows[-1].macs == 192
