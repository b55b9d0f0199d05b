"""Bad input that once gave silent wrong answers: each case raises a named error or behaves
as PyTorch does."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn


@pytest.mark.parametrize("call", [
    lambda x: nn.Conv2d(3, 4, 0)(x),
    lambda x: nn.Conv2d(3, 4, (0, 2))(x),
    lambda x: F.conv2d(x, sn.randn(4, 3, 0, 0)),
    lambda x: F.conv2d(x, sn.randn(4, 3, 2, 0)),
    lambda x: F.conv_transpose2d(x, sn.randn(3, 4, 0, 0)),
    lambda x: nn.ConvTranspose2d(3, 4, 0)(x),
    lambda x: F.conv1d(x[:, :, 0], sn.randn(4, 3, 0)),
], ids=["Conv2d", "Conv2d-0x2", "conv2d", "conv2d-2x0", "conv_transpose2d",
        "ConvTranspose2d", "conv1d"])
def test_zero_size_kernel_raises_like_torch(call):
    # torch: "kernel size should be greater than zero"; before, a 4x4 input gave a 5x5
    # output of uninitialised memory
    with pytest.raises(ValueError, match="kernel size should be greater than zero"):
        call(sn.randn(1, 3, 4, 4))


def test_zero_size_kernel_module_constructs_like_torch():
    # torch builds nn.Conv2d(3, 4, 0) (an empty weight) and refuses only at the forward
    assert nn.Conv2d(3, 4, 0).weight.shape == (4, 3, 0, 0)


def test_linear_with_no_inputs_outputs_its_bias_like_torch():
    layer = nn.Linear(0, 3)
    assert layer.weight.shape == (3, 0)
    x = sn.randn(2, 0, requires_grad=True)
    y = layer(x)
    # an empty sum is 0, so each output is the bias (torch gives the same)
    np.testing.assert_array_equal(y.data, np.broadcast_to(layer.bias.data, (2, 3)))
    y.sum().backward()
    assert x.grad.shape == (2, 0)
    np.testing.assert_array_equal(layer.bias.grad.data, [2.0, 2.0, 2.0])


def test_linear_with_no_outputs():
    x = sn.randn(2, 3, requires_grad=True)
    y = nn.Linear(3, 0)(x)
    assert y.shape == (2, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("make, words", [
    (lambda: nn.Conv2d(3, -1, 3), "Conv2d: out_channels must be >= 0, got -1"),
    (lambda: nn.Conv2d(-2, 4, 3), "Conv2d: in_channels must be >= 0, got -2"),
    (lambda: nn.Conv2d(3, 4, -1), "Conv2d: kernel_size must be >= 0, got -1"),
    (lambda: nn.ConvTranspose2d(3, -4, 3), "ConvTranspose2d: out_channels must be >= 0"),
    (lambda: nn.Linear(3, -1), "Linear: out_features must be >= 0, got -1"),
    (lambda: nn.Linear(-3, 1), "Linear: in_features must be >= 0, got -3"),
])
def test_negative_sizes_name_the_argument(make, words):
    # before: NumPy's "negative dimensions are not allowed", naming neither layer nor argument
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()


@pytest.mark.parametrize("call, name", [
    (lambda x: F.max_pool2d(x, 2.5), "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, 1.5), "stride"),
    (lambda x: F.max_pool2d(x, (2, 2.0)), "kernel_size"),
    (lambda x: F.max_pool2d(x, True), "kernel_size"),
    (lambda x: F.avg_pool2d(x, 2.5), "kernel_size"),
    (lambda x: F.max_pool1d(x[0], 2.5), "kernel_size"),
    (lambda x: nn.MaxPool2d(2.5)(x), "kernel_size"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=2.5), "divisor_override"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=True), "divisor_override"),
])
def test_non_integer_pool_sizes_are_refused_like_torch(call, name):
    # torch's argument parser raises TypeError ("must be tuple of ints, not float"); before,
    # int() rounded 2.5 down to a 2x2 window without a word
    with pytest.raises(TypeError, match=name):
        call(sn.randn(1, 3, 4, 4))


def test_numpy_integer_pool_sizes_still_work():
    out = F.max_pool2d(sn.randn(1, 3, 4, 4), np.int64(2))
    assert out.shape == (1, 3, 2, 2)
    out = F.avg_pool2d(sn.ones(1, 1, 4, 4), 2, divisor_override=np.int32(2))
    np.testing.assert_array_equal(out.data, np.full((1, 1, 2, 2), 2.0, np.float32))


def _bf16_torch_tensor():
    torch = pytest.importorskip("torch", reason="a torch bfloat16 tensor needs torch")
    return torch.ones(2, 2, dtype=torch.bfloat16)


@pytest.mark.parametrize("bad, words", [
    (lambda: np.array([[1, 2], [3, 4]], dtype=object), "array of object"),
    (lambda: "abc", "'abc'"),
    (lambda: None, "None"),
    (lambda: np.ones((2, 2), np.complex64), "complex"),
    (lambda: np.array([["a", "b"], ["c", "d"]]), "array of <U1"),
    (_bf16_torch_tensor, "bfloat16"),
])
def test_load_state_dict_names_the_key_of_a_value_that_is_not_numbers(bad, words):
    layer = nn.Linear(2, 2)
    before = layer.weight.data.copy()
    with pytest.raises(sn.nn.modules.module.StateDictError) as err:
        layer.load_state_dict({"weight": bad(), "bias": np.zeros(2, np.float32)})
    message = str(err.value)
    assert 'parameter named "weight"' in message and words in message
    # before: an object array loaded as NaN weights; now nothing is copied
    np.testing.assert_array_equal(layer.weight.data, before)
