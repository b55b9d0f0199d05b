"""Object detection models, torchvision's layout: the shared parts (Matcher and sampler,
backbone, RoI heads) and the detectors of the course's road from sliding windows to
Faster R-CNN, and Mask R-CNN's instance masks.

A detector is an nn.Module: in train mode `model(images, targets)` returns a dict of scalar
losses; in eval mode `model(images)` returns one dict per image with "boxes" (K, 4) float32
xyxy, "scores" (K,) float32 and "labels" (K,) int64 (0 is background)."""
from ._utils import BalancedPositiveNegativeSampler, Matcher  # noqa: F401
from .anchor_utils import AnchorGenerator  # noqa: F401
from .backbone import ConvBackbone, digit_scenes_backbone  # noqa: F401
from .fast_rcnn import DenseWindows, FastRCNN, fast_rcnn  # noqa: F401
from .faster_rcnn import FasterRCNN, faster_rcnn  # noqa: F401
from .mask_rcnn import (MaskRCNN, MaskRCNNHeads, MaskRCNNPredictor, MaskRoIHeads,  # noqa: F401
                        mask_rcnn, maskrcnn_loss, maskrcnn_loss_reference,
                        paste_masks_in_image, project_masks_on_boxes)
from .roi_heads import (FastRCNNPredictor, RoIHeads, TwoMLPHead, fastrcnn_loss,  # noqa: F401
                        fastrcnn_loss_reference)
from .rpn import RegionProposalNetwork, RPNHead  # noqa: F401
from .selective_search import felzenszwalb, selective_search  # noqa: F401
from .rcnn import RCNN, RegionCNN, SelectiveSearchProposer, SlidingWindowProposer  # noqa: F401
from .sppnet import SPPNet  # noqa: F401
