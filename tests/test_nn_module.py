"""The Module system: registration, tree walks, state dicts, hooks, modes, dtype casts, repr,
and the containers. Expected key lists and repr strings are written out as PyTorch prints
them (tests/test_nn_torch_live.py also compares with torch itself when it is installed)."""
from collections import OrderedDict

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8, 3))


class TwoBranch(nn.Module):
    """A custom module: attributes, a ModuleList, a ModuleDict, a buffer, a bare Parameter."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "box": nn.Linear(4, 3)})
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.register_buffer("steps", sn.tensor(np.zeros((), np.int64)))

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["cls"](x) * self.scale


# -- registration and walks -----------------------------------------------------------------------
def test_named_parameters_follow_registration_order_with_dotted_names():
    names = [n for n, _ in TwoBranch().named_parameters()]
    assert names == ["scale", "stem.weight", "stem.bias", "blocks.0.weight", "blocks.0.bias",
                     "heads.cls.weight", "heads.cls.bias", "heads.box.weight",
                     "heads.box.bias"]


def test_modules_children_and_buffers():
    m = TwoBranch()
    assert [n for n, _ in m.named_children()] == ["stem", "blocks", "heads"]
    assert [n for n, _ in m.named_modules()] == ["", "stem", "blocks", "blocks.0", "blocks.1",
                                                 "heads", "heads.cls", "heads.box"]
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert len(list(m.modules())) == 8
    assert m.get_submodule("heads.box") is m.heads["box"]
    with pytest.raises(AttributeError, match="nope"):
        m.get_submodule("heads.nope")


def test_shared_parameter_is_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    # the state dict, like PyTorch's, names it under both paths
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_parameter_count_of_a_plain_list_is_zero_which_is_why_modulelist_exists():
    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    class Right(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2)])

    assert len(list(Wrong().parameters())) == 0
    assert len(list(Right().parameters())) == 2


def test_assigning_a_plain_tensor_to_a_parameter_name_is_a_type_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter"):
        lin.weight = sn.zeros(2, 2)
    lin.bias = None                      # None is allowed: a disabled bias
    assert lin.bias is None and "bias" not in lin.state_dict()


def test_forgetting_super_init_says_so():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()


def test_unknown_attribute_error_names_the_class():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 2).wieght


def test_non_persistent_buffer_is_not_saved_and_delattr_unregisters():
    m = nn.Module()
    m.register_buffer("cache", sn.zeros(2), persistent=False)
    m.register_buffer("kept", sn.ones(2))
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["cache", "kept"]
    del m.kept
    assert list(m.state_dict()) == []


def test_calling_runs_forward_and_module_without_forward_explains():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# -- state dict -----------------------------------------------------------------------------------
def test_state_dict_keys_are_pytorchs():
    assert list(small_cnn().state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias"]
    sd = small_cnn().state_dict()
    assert sd["1.num_batches_tracked"].dtype == np.int64 and sd["1.num_batches_tracked"].shape == ()
    assert sd["0.weight"].shape == (2, 1, 3, 3)


def test_state_dict_values_are_detached_and_share_memory():
    lin = nn.Linear(2, 3)
    sd = lin.state_dict()
    assert not sd["weight"].requires_grad
    sd["weight"].data[0, 0] = 42.0
    assert lin.weight.data[0, 0] == 42.0
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_round_trip_copies_in_place():
    sn.manual_seed(0)
    a = small_cnn()
    sn.manual_seed(1)
    b = small_cnn()
    a[1].running_mean.data[:] = [0.5, -0.5]
    a[1].num_batches_tracked.data[...] = 7
    weight_object = b[0].weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.data, vb.data)
    # the Parameter object survives (an optimiser holding it keeps working)
    assert b[0].weight is weight_object
    # and the copy is a copy: changing a afterwards leaves b alone
    a[0].weight.data[...] = 0
    assert np.abs(b[0].weight.data).sum() > 0


def test_load_state_dict_accepts_arrays_and_keeps_the_model_dtype():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.eye(2), "bias": np.array([1.0, 2.0])})
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, np.eye(2, dtype=np.float32))


def test_strict_load_lists_every_missing_unexpected_and_mismatched_key_at_once():
    model = small_cnn()
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    sd = small_cnn().state_dict()
    del sd["1.running_var"]
    del sd["4.bias"]
    sd["4.weight"] = sn.zeros(3, 9)                 # Linear(8, 3) wants (3, 8)
    sd["0.weight"] = sn.zeros(2, 3, 3, 3)           # wrong in_channels
    sd["5.weight"] = sn.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "1.running_var", "4.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "5.weight".' in msg
    assert ("size mismatch for 4.weight: copying a param with shape (3, 9) from checkpoint, "
            "the shape in current model is (3, 8).") in msg
    assert "size mismatch for 0.weight" in msg and "(2, 3, 3, 3)" in msg and "(2, 1, 3, 3)" in msg
    assert isinstance(info.value, nn.StateDictError)
    # a failed load changes nothing
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])


def test_non_strict_load_reports_keys_but_still_rejects_shape_mismatch():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    sd = {"0.weight": np.ones((2, 2)), "extra": np.zeros(3)}
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="size mismatch for 1.weight"):
        model.load_state_dict({"1.weight": np.ones((2, 2))}, strict=False)


# -- hooks ----------------------------------------------------------------------------------------
def test_forward_hook_captures_feature_maps_and_remove_stops_it():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    captured = {}

    def save(name):
        def hook(module, inputs, output):
            captured[name] = output.detach()
        return hook

    handle = model[1].register_forward_hook(save("relu"))
    x = sn.randn(5, 3)
    out = model(x)
    expected = np.maximum(x.data @ model[0].weight.data.T + model[0].bias.data, 0)
    np.testing.assert_allclose(captured["relu"].data, expected, rtol=1e-6)
    assert out.shape == (5, 2)
    handle.remove()
    captured.clear()
    model(x)
    assert captured == {}


def test_hook_return_value_replaces_output_and_pre_hook_replaces_input():
    lin = nn.Linear(2, 2)
    with lin.register_forward_hook(lambda m, inp, out: out * 0):
        assert np.all(lin(sn.ones(1, 2)).data == 0)
    assert np.any(lin(sn.ones(1, 2)).data != 0)        # removed by the with block
    seen = []
    lin.register_forward_pre_hook(lambda m, inp: (inp[0] * 0,))
    lin.register_forward_hook(lambda m, inp, out: seen.append(inp[0].data.copy()))
    out = lin(sn.ones(1, 2))
    np.testing.assert_array_equal(seen[0], np.zeros((1, 2)))
    np.testing.assert_allclose(out.data[0], lin.bias.data)


def test_hooks_run_in_registration_order_and_gradients_flow_through_them():
    lin = nn.Linear(2, 1)
    order = []
    lin.register_forward_hook(lambda m, i, o: order.append("a"))
    lin.register_forward_hook(lambda m, i, o: order.append("b"))
    x = sn.ones(3, 2, requires_grad=True)
    lin(x).sum().backward()
    assert order == ["a", "b"]
    np.testing.assert_allclose(x.grad.data, np.tile(lin.weight.data, (3, 1)))


# -- modes and gradients --------------------------------------------------------------------------
def test_train_eval_reach_every_descendant():
    m = TwoBranch()
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    with pytest.raises(ValueError):
        m.train("no")


def test_zero_grad_to_none_or_to_zeros():
    lin = nn.Linear(2, 2)
    lin(sn.ones(1, 2)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.data, np.zeros((2, 2)))
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_requires_grad_false_freezes_a_part():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    model[0].requires_grad_(False)
    model(sn.ones(4, 2)).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[1].weight.grad is not None


def test_double_float_and_to_cast_in_place_but_keep_integer_buffers():
    model = small_cnn()
    w = model[4].weight
    assert model.double() is model
    assert model[4].weight is w and w.dtype == np.float64
    assert model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    out = model[3:](sn.randn(2, 8, dtype="float64"))
    assert out.dtype == np.float64
    model.to(sn.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.to("cpu") is model
    with pytest.raises(ValueError, match="CPU"):
        model.to("cuda")
    with pytest.raises(TypeError):
        model.to(np.int64)


def test_apply_visits_children_before_parent():
    visited = []
    model = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)

    model.apply(init_linear)
    assert model[0].weight.item() == 0.5


# -- repr -----------------------------------------------------------------------------------------
def test_repr_tree_matches_pytorchs_layout():
    assert repr(TwoBranch()) == (
        "TwoBranch(\n"
        "  (stem): Linear(in_features=4, out_features=4, bias=True)\n"
        "  (blocks): ModuleList(\n"
        "    (0): Linear(in_features=4, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (heads): ModuleDict(\n"
        "    (cls): Linear(in_features=4, out_features=2, bias=True)\n"
        "    (box): Linear(in_features=4, out_features=3, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Sequential()) == "Sequential()"
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == (
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)")


def test_extra_repr_with_several_lines_goes_inside():
    class Custom(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Custom()) == "Custom(\n  a=1\n  b=2\n)"


# -- containers -----------------------------------------------------------------------------------
def test_sequential_indexing_slicing_len_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3
    assert list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[1:]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]     # keys kept, as PyTorch
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    x = sn.randn(4, 2)
    np.testing.assert_allclose(model(x).data, layers[2](layers[1](layers[0](x))).data)


def test_sequential_append_insert_delete_renumber():
    model = nn.Sequential(nn.ReLU())
    model.append(nn.Tanh())
    model.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in model] == ["Sigmoid", "ReLU", "Tanh"]
    assert list(model._modules) == ["0", "1", "2"]
    del model[0]
    assert list(model._modules) == ["0", "1"]
    assert [type(m).__name__ for m in model] == ["ReLU", "Tanh"]
    model[1] = nn.Identity()
    assert isinstance(model[1], nn.Identity)


def test_sequential_from_ordered_dict_uses_its_names():
    model = nn.Sequential(OrderedDict([("conv1", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(model.state_dict()) == ["conv1.weight", "conv1.bias"]
    assert model.conv1 is model[0]


def test_modulelist_and_moduledict_register_their_members():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2))
    ml.extend([nn.ReLU()])
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "Linear", "ReLU"]
    assert list(ml.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert type(ml[0]).__name__ == "Linear" and len(ml) == 3
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("b").__class__ is nn.ReLU and list(md) == ["a"]
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(TypeError):
        ml.append([1, 2])


def test_deepcopy_and_pickle_give_an_independent_model_with_equal_weights():
    import copy
    import pickle

    model = small_cnn()
    model(sn.randn(2, 1, 4, 4))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert isinstance(clone[4].weight, nn.Parameter)
        assert clone[4].weight is not model[4].weight
        for (k, a), (_, b) in zip(model.state_dict().items(), clone.state_dict().items()):
            np.testing.assert_array_equal(a.data, b.data, err_msg=k)
        clone[4].weight.data[...] = 0
        assert np.abs(model[4].weight.data).sum() > 0
