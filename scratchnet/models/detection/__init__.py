"""Object detection, the road the course decks walk: sliding windows, region proposals by
selective search, then the R-CNN family (torchvision's layout: scratchnet.models.detection).
"""
from .selective_search import felzenszwalb, selective_search  # noqa: F401
