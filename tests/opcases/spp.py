"""Cases for spatial pyramid pooling, against PyTorch built from torch's own ops.

The peer of mode="adaptive" is torch.cat([adaptive_max_pool2d(x, n).flatten(1) for n in
levels], 1), which is the definition; mode="paper" is max_pool2d with kernel ceil(a/n) and
stride floor(a/n), the paper's rule, on sizes where that rule gives n bins. The RoI form is
checked under roi_pool (it is roi_pool at every level) with tests/opcases/roi.py's peer.
"""
import numpy as np

import scratchnet.nn.functional as F
from scratchnet.ops import roi_spatial_pyramid_pool

from . import Case, Inp
from .roi import INSIDE, _torch_roi_pool, _with


def _torch_spp(t, x, levels):
    return t.cat([t.nn.functional.adaptive_max_pool2d(x, n).flatten(1) for n in levels], 1)


def _torch_spp_paper(t, x, levels):
    F_ = t.nn.functional
    H, W = x.shape[-2:]
    return t.cat([F_.max_pool2d(x, (-(-H // n), -(-W // n)), (H // n, W // n)).flatten(1)
                  for n in levels], 1)


def _torch_roi_spp(t, x, b, levels, scale=1.0):
    return t.cat([_torch_roi_pool(t, x, b, (n, n), scale).flatten(1) for n in levels], 1)


CASES = [
    # the paper's 13x13 conv5 with the detection pyramid: both modes agree here
    Case("spp_13x13_6321", "spatial_pyramid_pool",
         lambda x: F.spatial_pyramid_pool(x, (6, 3, 2, 1)), [Inp((2, 3, 13, 13))],
         lambda t, x: _torch_spp(t, x, (6, 3, 2, 1))),
    Case("spp_13x13_6321_paper", "spatial_pyramid_pool",
         lambda x: F.spatial_pyramid_pool(x, (6, 3, 2, 1), mode="paper"),
         [Inp((2, 3, 13, 13))], lambda t, x: _torch_spp_paper(t, x, (6, 3, 2, 1))),
    # non-square, a side smaller than the finest level (bins share pixels), not dividing
    Case("spp_non_square_small", "spatial_pyramid_pool",
         lambda x: F.spatial_pyramid_pool(x, (4, 2, 1)), [Inp((2, 2, 3, 7))],
         lambda t, x: _torch_spp(t, x, (4, 2, 1))),
    # all-negative input: no zero may win
    Case("spp_negative_levels_3_1", "spatial_pyramid_pool",
         lambda x: F.spatial_pyramid_pool(x, (3, 1)), [Inp((1, 2, 10, 8), "neg")],
         lambda t, x: _torch_spp(t, x, (3, 1))),
    Case("roi_spp_inside", "roi_pool",
         lambda x, b: roi_spatial_pyramid_pool(x, b, (3, 2, 1)), _with(INSIDE, (2, 3, 10, 12)),
         lambda t, x, b: _torch_roi_spp(t, x, b, (3, 2, 1))),
    Case("roi_spp_scale_half", "roi_pool",
         lambda x, b: roi_spatial_pyramid_pool(x, b, (2, 1), spatial_scale=0.5),
         _with(np.array([[0, 2, 4, 16, 12], [1, 0, 0, 23, 21]], dtype=np.float64),
               (2, 2, 12, 12)),
         lambda t, x, b: _torch_roi_spp(t, x, b, (2, 1), scale=0.5)),
]
