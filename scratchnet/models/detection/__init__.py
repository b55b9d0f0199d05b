"""Object detection models, torchvision's layout: anchors, the Region Proposal Network and
Faster R-CNN (with the Fast R-CNN parts they share)."""
from .anchor_utils import AnchorGenerator  # noqa: F401
