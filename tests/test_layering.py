"""The layers import downwards only: kernels <- autograd <- ops <- nn/optim/data <- models,
lessons and the tools. Imports are read with ast (also those inside functions), so a
lower layer that reaches up, even lazily, fails here."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "scratchnet")

# package-relative module prefix -> layer; a module takes the layer of its longest prefix
LAYERS = {
    "kernels": 0, "dtypes": 0, "shapes": 0, "random": 0, "_atomic": 0, "pth": 0, "_threads": 0,
    "autograd": 1,
    "ops": 2, "creation": 2, "gradcheck": 2, "conv_matrix": 2, "serialization": 2,
    "nn": 3, "optim": 3, "data": 3, "utils": 3, "receptive": 3, "summary": 3, "metrics": 3,
    "plotting": 3,
    "models": 4, "exercises": 4, "train": 4, "recipes": 4, "lesson": 4,
    "cli": 4, "__main__": 4, "": 4,
}
NAMES = {0: "kernels", 1: "autograd", 2: "ops", 3: "nn/optim/data", 4: "models/lessons/tools"}


def layer_of(module):
    """Layer of 'scratchnet.x.y' (None outside scratchnet)."""
    if module != "scratchnet" and not module.startswith("scratchnet."):
        return None
    parts = module.split(".")[1:]
    for n in range(len(parts), -1, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"{module} has no layer: add it to LAYERS in {__file__}")


def module_name(path):
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def is_module(name):
    path = os.path.join(ROOT, *name.split("."))
    return os.path.isdir(path) or os.path.exists(path + ".py")


def imports_of(path, name):
    """(line, absolute module name) for every import in the file of module `name`."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            # `from . import nn` imports the submodule scratchnet.nn; `from .x import f`, x
            for a in node.names:
                sub = f"{mod}.{a.name}"
                yield node.lineno, sub if is_module(sub) else mod


def _sources():
    for dirpath, _, files in os.walk(PKG):
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def upward_imports(paths, name=None):
    bad = []
    for path in paths:
        mod_name = name or module_name(path)
        own = layer_of(mod_name)
        for line, mod in imports_of(path, mod_name):
            target = layer_of(mod)
            if target is not None and target > own:
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} ({NAMES[own]}) imports "
                           f"{mod} ({NAMES[target]})")
    return bad


def test_no_layer_imports_a_higher_one():
    bad = upward_imports(_sources())
    assert not bad, "imports that run against the layering:\n" + "\n".join(bad)


def test_the_check_catches_an_upward_import(tmp_path):
    # a kernel that imports autograd, and reaches for nn inside a function
    probe = tmp_path / "probe.py"
    probe.write_text("from ..autograd import Tensor\n"
                     "def f():\n    from ..nn import functional\n    import numpy\n")
    bad = upward_imports([str(probe)], name="scratchnet.kernels.probe")
    assert len(bad) == 2, bad
    assert "probe.py:1 (kernels) imports scratchnet.autograd (autograd)" in bad[0]
    assert "probe.py:3 (kernels) imports scratchnet.nn.functional (nn/optim/data)" in bad[1]


@pytest.mark.parametrize("module", ["scratchnet.kernels.im2col", "scratchnet.ops.conv",
                                    "scratchnet.nn.modules.conv", "scratchnet.models.resnet"])
def test_every_module_has_a_layer(module):
    assert layer_of(module) is not None


# Selective search is no network but a classical algorithm, and its two kernels are the
# algorithm itself (the segmentation and the grouping), so its module calls them directly.
ALLOWED_IN_MODELS = {
    "scratchnet.models.detection.selective_search": ("scratchnet.kernels.felzenszwalb",
                                                     "scratchnet.kernels.grouping"),
    # R-CNN's SVMs are no network either: their solver (dual coordinate descent) is the
    # training algorithm of the model's stage 3
    "scratchnet.models.detection.rcnn": ("scratchnet.kernels.svm",),
}


def test_models_use_the_public_api():
    """A model reads like torchvision's: nn, nn.functional, init and scratchnet's top-level
    functions (sn.cat), never the engine's internals. The box and RoI ops are what
    torchvision.ops gives torchvision's detection models, so those two may be used."""
    internal = ("scratchnet.ops", "scratchnet.autograd", "scratchnet.kernels")
    torchvision_ops = ("scratchnet.ops.boxes", "scratchnet.ops.roi")
    bad = []
    for path in _sources():
        name = module_name(path)
        if not name.startswith("scratchnet.models"):
            continue
        for line, mod in imports_of(path, name):
            if (mod.startswith(internal) and not mod.startswith(torchvision_ops)
                    and mod not in ALLOWED_IN_MODELS.get(name, ())):
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {mod}")
    assert not bad, "models reaching into the engine:\n" + "\n".join(bad)
