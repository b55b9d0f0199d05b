"""The Fast R-CNN recipe: `scratchnet detect train fast_rcnn`.

Trained end to end from scratch on DigitScenes (the paper fine-tunes an ImageNet VGG-16;
there is no pretrained backbone here, and Adam replaces the paper's SGD at lr 0.001, which
is slow from scratch): a stride-2 backbone (widths 16, 32: a 32x32 map, each cell seeing 14
pixels; against the shared stride-4 default it doubled the speed and raised the held-out
mAP@0.5 from 0.51 to 0.62, finding more of the small digits), RoI pooling to 7x7, the
multi-task loss, the paper's sampling (64 RoIs per scene, 25% foreground at IoU >= 0.5, background in
[0.1, 0.5)). Proposals: "dense_windows" (DenseWindows' 2,828 sliding windows per scene, the
dense boxes of the paper's section 5.5), or "selective_search" in its fast mode on the scene
enlarged ss_scale times (the paper's segmentation scale k is tuned for 500x375 photos; at
ss_scale 4 a 64x64 scene gives about 380 boxes and 1.5 s per scene on one core).
"""
from __future__ import annotations

from .recipes import Recipe

PROPOSERS = ("dense_windows", "selective_search")


def make_proposer(name, scale=4.0):
    """The proposal callable image (C, H, W) -> (L, 4) xyxy for a proposer name (scale:
    selective search's image_scale)."""
    from .engine import DetectionError

    if name == "dense_windows":
        from ..models.detection.fast_rcnn import DenseWindows
        return DenseWindows()
    if name == "selective_search":
        try:
            from ..models.detection.selective_search import selective_search
        except ImportError:
            raise DetectionError("proposals=selective_search needs "
                                 "scratchnet.models.detection.selective_search, which this "
                                 "installation lacks; use proposals=dense_windows") from None

        def proposer(image):
            return selective_search(image, mode="fast", image_scale=scale)
        return proposer
    raise DetectionError(f"fast_rcnn: unknown proposals {name!r}; valid choices: "
                         f"{', '.join(PROPOSERS)}")


def build(config):
    from ..models.detection import ConvBackbone, fast_rcnn

    backbone = ConvBackbone(int(config["in_channels"]), tuple(config["widths"]))
    return fast_rcnn(num_classes=11, backbone=backbone,
                     proposer=make_proposer(config["proposals"],
                                            float(config["ss_scale"])),
                     roi_output_size=int(config["roi_output_size"]),
                     representation_size=int(config["representation_size"]),
                     batch_size_per_image=int(config["rois_per_image"]),
                     positive_fraction=float(config["fg_fraction"]),
                     bg_iou_thresh_lo=float(config["bg_iou_lo"]),
                     box_loss_beta=float(config["box_loss_beta"]),
                     nms_thresh=float(config["nms_thresh"]),
                     score_thresh=float(config["score_thresh"]))


RECIPE = Recipe(
    "fast_rcnn",
    "Fast R-CNN: one backbone pass per scene, RoI pooling 7x7, classification + smooth-L1 "
    "box regression in one loss (Girshick 2015)",
    build,
    {"proposals": "dense_windows", "ss_scale": 4.0, "widths": [16, 32],
     "roi_output_size": 7, "representation_size": 256, "rois_per_image": 64, "fg_fraction": 0.25,
     "bg_iou_lo": 0.1, "box_loss_beta": 1.0, "nms_thresh": 0.3, "score_thresh": 0.05,
     "epochs": 12, "batch_size": 8, "optimizer": "adam", "lr": 1e-3, "num_val": 50})
