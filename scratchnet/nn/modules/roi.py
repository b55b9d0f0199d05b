"""RoIPool and RoIAlign as layers, with torchvision's constructor arguments (Fast R-CNN's
RoI pooling, Mask R-CNN's RoI align). The ops are scratchnet.ops.roi_pool / roi_align."""
from __future__ import annotations

from ... import ops
from .module import Module


class RoIPool(Module):
    """forward(input, rois): input (N, C, H, W) feature map, rois (K, 5) rows
    [batch_index, x1, y1, x2, y2] in image coordinates (or a list of (K_i, 4) boxes per
    image) -> (K, C, *output_size). spatial_scale maps image to feature-map coordinates
    (1/16 for VGG-16's conv5)."""

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        try:
            return ops.roi_pool(input, rois, self.output_size, self.spatial_scale)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")


class RoIAlign(Module):
    """forward(input, rois) like RoIPool, but bins are averaged from bilinearly sampled
    points (sampling_ratio per bin side; -1 adapts to the bin size) instead of rounded to
    pixels; aligned=True shifts boxes by half a pixel (Detectron2's correction)."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int,
                 aligned: bool = False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        try:
            return ops.roi_align(input, rois, self.output_size, self.spatial_scale,
                                 self.sampling_ratio, self.aligned)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
                f"aligned={self.aligned})")
