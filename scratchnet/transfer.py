"""Transfer learning: reuse a trained network for a new task (deck 002, "전이학습").

The tools, with PyTorch's semantics:

    model.requires_grad_(False)                  # freeze everything (Module method)
    head = replace_head(model, num_classes=5)    # a fresh last Linear layer, trainable
    opt = optim.SGD(param_groups(model, head, lr=1e-3, head_lr=1e-2), momentum=0.9)
    freeze_batchnorm(model)                      # BatchNorm keeps its ImageNet statistics

and the deck's table of strategies by data size and similarity as a real experiment
(`run_experiment`, `scratchnet transfer`): a small CNN pretrained here on MNIST's 5,000-image
sample, moved to similar data (scikit-learn's 8x8 digits, another scanner and resolution) and
to different data (scikit-image's faces vs non-faces), each with few and with many training
images, by four strategies: a linear probe on the frozen features, fine-tuning the last
layers, fine-tuning everything, and training from scratch.
"""
from __future__ import annotations

from . import nn
from .nn.modules.normalization import _BatchNorm


class _Handles:
    """What freeze_batchnorm returns: `.remove()` lets the BatchNorm layers follow the
    model's train/eval mode again."""

    def __init__(self, handles, layers):
        self.handles, self.layers = handles, layers

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def __len__(self):
        return len(self.layers)


def freeze_batchnorm(model, train_affine: bool = False):
    """Put every BatchNorm layer of `model` in evaluation mode for good: it normalises with
    its running (pretrained) statistics and stops updating them, even when the rest of the
    model is in training mode. With train_affine=False (the default) its scale and shift
    (weight, bias) are frozen too, which makes it torchvision's FrozenBatchNorm2d.

    Why: a small fine-tuning set gives noisy batch statistics, and updating the running ones
    with them overwrites what pretraining learnt. `model.train()` alone would switch the
    layers back to batch statistics, so a forward pre-hook sets each layer to eval mode
    every time it runs. Returns a handle; `handle.remove()` undoes the mode part.
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]

    def to_eval(module, inputs):
        object.__setattr__(module, "training", False)

    handles = []
    for layer in layers:
        layer.eval()
        handles.append(layer.register_forward_pre_hook(to_eval))
        if not train_affine:
            layer.requires_grad_(False)
    return _Handles(handles, layers)


def _last_linear(model):
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = name, module
    return found


def replace_head(model, num_classes: int, name: str | None = None):
    """Replace the classifier's last Linear layer (or the Linear layer at `name`, a dotted
    path such as "fc" or "classifier.6") by a fresh, trainable Linear(in_features,
    num_classes), as `model.fc = nn.Linear(model.fc.in_features, num_classes)` does in
    PyTorch. Returns the new layer (N, in_features) -> (N, num_classes)."""
    if name is None:
        found = _last_linear(model)
        if found is None:
            raise ValueError(f"replace_head: {type(model).__name__} has no Linear layer; its "
                             f"classifier is something else (SqueezeNet's is a 1x1 conv): "
                             f"assign a new layer yourself, e.g. model.classifier[1] = "
                             f"nn.Conv2d(512, num_classes, 1)")
        name, old = found
    else:
        old = model.get_submodule(name)
        if not isinstance(old, nn.Linear):
            raise ValueError(f"replace_head: {name!r} is a {type(old).__name__}, not a Linear "
                             f"layer")
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    head = nn.Linear(old.in_features, int(num_classes), bias=old.bias is not None,
                     dtype=old.weight.dtype)
    setattr(parent, leaf, head)
    return head


def param_groups(model, head, lr: float, head_lr: float) -> list:
    """Two optimizer parameter groups: the trainable parameters of `model` outside `head`
    with learning rate `lr`, and those of `head` with `head_lr` (a new head learns fast, the
    pretrained layers only need a nudge). Frozen parameters (requires_grad=False) are left
    out; an empty group is dropped."""
    in_head = {id(p) for p in head.parameters()}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in in_head]
    top = [p for p in head.parameters() if p.requires_grad]
    if any(id(p) not in {id(q) for q in model.parameters()} for p in top[:1]):
        raise ValueError("param_groups: `head` is not part of `model`")
    groups = [{"params": body, "lr": lr}, {"params": top, "lr": head_lr}]
    return [g for g in groups if g["params"]]
