"""Object detectors, torchvision's layout: one file per part (see each module)."""
from .rcnn import RCNN, RegionCNN, SelectiveSearchProposer, SlidingWindowProposer  # noqa: F401
from .sppnet import SPPNet  # noqa: F401
