"""`scratchnet detect train sppnet`: SPPNet detection, R-CNN's stages on pooled windows.

    stage 0    the conv layers: the paper takes them from an ImageNet classifier and never
               updates them; here they are the backbone of a RegionCNN pre-trained and
               fine-tuned as R-CNN's stages 0 and 1 (trunk_epochs epochs of fine-tuning), or
               the trunk of a trained R-CNN checkpoint (--set trunk=PATH), frozen from then on
    stage 1/4  fine-tune fc6, fc7 and the softmax on spatial-pyramid-pooled windows of the
               conv map (one convolution per image)
    stage 2/4  cache the pooled and fc7 features of every region to disk
    stage 3/4  per-class SVMs with hard-negative mining      (as R-CNN)
    stage 4/4  per-class ridge box regression on the pooled features
"""
from __future__ import annotations

import copy
import time

from ..models.detection.rcnn import RCNN, RegionCNN, make_proposer
from ..models.detection.sppnet import SPPNet
from .rcnn import SHARED_DEFAULTS, finetune, pretrain, train_stages
from .recipes import Recipe


def pretrained_trunk(config, train_set, progress=True, log=print):
    """Stage 0: the conv layers SPPNet keeps frozen (see the module docstring)."""
    from .engine import load_checkpoint

    if config.get("trunk"):
        model, meta = load_checkpoint(config["trunk"])
        if not hasattr(model, "cnn"):
            from .engine import DetectionError
            raise DetectionError(f"--set trunk={config['trunk']}: that checkpoint holds a "
                                 f"{meta['detector']}, not an R-CNN")
        log(f"stage 0: conv layers from the R-CNN checkpoint {config['trunk']}")
        return copy.deepcopy(model.cnn.features)
    log("stage 0: the conv layers of a RegionCNN pre-trained on warped objects and fine-tuned "
        f"on warped regions ({config['trunk_epochs']} epochs; the paper used ImageNet)")
    cnn = RegionCNN(int(config["in_channels"]), 11, 32)
    pretrain(cnn, config, progress=progress, log=log)
    rcnn = RCNN(cnn, make_proposer(config["proposer"]), in_channels=int(config["in_channels"]))
    finetune(rcnn, train_set, dict(config, epochs=int(config["trunk_epochs"])),
             progress=progress, log=log)
    return cnn.features


def train_sppnet(model, train_set, config, progress=True, log=print):
    t = time.perf_counter()
    trunk = pretrained_trunk(config, train_set, progress, log)
    model.features.load_state_dict(trunk.state_dict())
    stage0 = time.perf_counter() - t
    history = train_stages(model, train_set, config, progress=progress, log=log)
    history.stage_seconds = dict({"0 conv layers": stage0}, **history.stage_seconds)
    return history


def build(config):
    model = SPPNet(proposer=make_proposer(config["proposer"]),
                   in_channels=int(config["in_channels"]),
                   levels=tuple(config["levels"]), image_scale=float(config["image_scale"]))
    model.box_iou = float(config["box_iou"])
    return model


RECIPE = Recipe(
    name="sppnet",
    summary="SPPNet: convolve each image once, spatial pyramid pooling (4, 2, 1) of each "
            "proposal's window, fc layers, per-class SVMs and box regression",
    build=build,
    defaults=dict(SHARED_DEFAULTS, epochs=4, trunk_epochs=4, trunk="", levels=[4, 2, 1],
                  image_scale=2.0),
    train_fn=train_sppnet,
)
