"""Anchors: the reference boxes a Region Proposal Network refines (Ren et al., 2015).

At every cell of a feature map the RPN predicts k boxes, each as an offset from one of k fixed
boxes centred on that cell: the anchors. With 3 sizes (areas size^2) and 3 aspect ratios
(height / width) there are k = 3 x 3 = 9 of them, the "9 anchors" of the decks.

`AnchorGenerator` follows torchvision.models.detection.anchor_utils.AnchorGenerator:

- base anchors, centred on (0, 0): for ratio r and size s, h = s sqrt(r), w = s / sqrt(r), the
  box [-w/2, -h/2, w/2, h/2] rounded to whole pixels (torch.round: halves to even). Order:
  ratio-major, then size, i.e. (r0, s0), (r0, s1), (r0, s2), (r1, s0), ...;
- the stride of a feature map is image_size // feature_size, per axis (integer division);
- the base anchors are shifted to (x * stride_w, y * stride_h) for every cell (y, x): the
  cell's top-left pixel, not its centre, as torchvision does;
- the result for one image is (H * W * k, 4) xyxy, row-major over cells (y, then x), and the
  k anchors of a cell together: row (y * W + x) * k + a is anchor a at cell (y, x).

The paper's anchors are 128, 256 and 512 pixels on images of about 600 x 1000 with stride 16.
The digits of DigitScenes are 4 to 51 pixels tall in a 64 x 64 scene, so our defaults are 8, 16
and 32 (the paper's sizes divided by 16), with the paper's ratios 0.5, 1 and 2.
"""
from __future__ import annotations

import numpy as np

from ... import Tensor
from ...nn import Module

DEFAULT_SIZES = ((8, 16, 32),)
DEFAULT_ASPECT_RATIOS = ((0.5, 1.0, 2.0),)


def _shape(x):
    return tuple(x.shape)


class AnchorGenerator(Module):
    """Anchors for one or more feature maps.

    sizes:         one tuple of sizes (pixels, the square root of the anchor's area) per
                   feature map, e.g. ((8, 16, 32),)
    aspect_ratios: one tuple of ratios height / width per feature map, e.g. ((0.5, 1, 2),)

    forward(images (N, C, H, W), feature_maps [(N, C_l, H_l, W_l), ...]) -> list of N arrays
    (sum_l H_l W_l k_l, 4) float32 xyxy in input pixels (the same for every image of a batch:
    they depend only on the sizes). The module has no parameters.
    """

    def __init__(self, sizes=DEFAULT_SIZES, aspect_ratios=DEFAULT_ASPECT_RATIOS):
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (tuple(aspect_ratios),) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"AnchorGenerator: sizes and aspect_ratios need one entry per "
                             f"feature map; got {len(sizes)} sizes and {len(aspect_ratios)} "
                             f"aspect-ratio tuples")
        for s, r in zip(sizes, aspect_ratios):
            if min(s) <= 0 or min(r) <= 0:
                raise ValueError(f"AnchorGenerator: sizes and aspect ratios must be positive, "
                                 f"got sizes {s} and ratios {r}")
        self.sizes = tuple(tuple(float(v) for v in s) for s in sizes)
        self.aspect_ratios = tuple(tuple(float(v) for v in r) for r in aspect_ratios)
        self.cell_anchors = [self.generate_anchors(s, r)
                             for s, r in zip(self.sizes, self.aspect_ratios)]

    @staticmethod
    def generate_anchors(scales, aspect_ratios, dtype=np.float32):
        """Base anchors centred on (0, 0): (len(ratios) * len(scales), 4) xyxy, rounded."""
        # float32 arithmetic throughout, as torchvision's default, so that a product that
        # lands near a half rounds the same way; np.round, like torch.round, sends halves
        # to even
        scales = np.asarray(scales, np.float32)
        ratios = np.asarray(aspect_ratios, np.float32)
        h_ratios = np.sqrt(ratios)
        w_ratios = np.float32(1) / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        base = np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2)
        return np.round(base).astype(dtype)

    def num_anchors_per_location(self):
        """k of each feature map: len(sizes) * len(aspect_ratios) (9 by default)."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes, strides):
        """One (H_l * W_l * k_l, 4) array per feature map: base anchors shifted by
        (x * stride_w, y * stride_h) for every cell (y, x), row-major, k anchors per cell."""
        if len(grid_sizes) != len(self.cell_anchors):
            raise ValueError(f"AnchorGenerator: got {len(grid_sizes)} feature maps but anchors "
                             f"for {len(self.cell_anchors)} (one sizes tuple per feature map)")
        out = []
        for (gh, gw), (sh, sw), base in zip(grid_sizes, strides, self.cell_anchors):
            shift_x = np.arange(gw, dtype=np.float32) * sw
            shift_y = np.arange(gh, dtype=np.float32) * sh
            sy, sx = np.meshgrid(shift_y, shift_x, indexing="ij")
            sx, sy = sx.reshape(-1), sy.reshape(-1)
            shifts = np.stack([sx, sy, sx, sy], axis=1)
            out.append((shifts[:, None, :] + base[None, :, :]).reshape(-1, 4))
        return out

    def forward(self, images, feature_maps):
        if isinstance(feature_maps, (Tensor, np.ndarray)):
            feature_maps = [feature_maps]
        image_size = _shape(images)[-2:]
        grid_sizes = [_shape(f)[-2:] for f in feature_maps]
        strides = []
        for g in grid_sizes:
            if g[0] > image_size[0] or g[1] > image_size[1] or min(g) < 1:
                raise ValueError(f"AnchorGenerator: a {g[0]}x{g[1]} feature map is larger "
                                 f"than the {image_size[0]}x{image_size[1]} image (or empty); "
                                 f"the stride image_size // feature_size must be >= 1")
            strides.append((image_size[0] // g[0], image_size[1] // g[1]))
        anchors = np.concatenate(self.grid_anchors(grid_sizes, strides), axis=0)
        return [anchors.copy() for _ in range(_shape(images)[0])]

    def extra_repr(self):
        return f"sizes={self.sizes}, aspect_ratios={self.aspect_ratios}"
