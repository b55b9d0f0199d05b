"""Every op of scratchnet, registered in `scratchnet.autograd.REGISTRY` when its module is
imported here.

Families: elementwise, reduce, shape, linalg, activation (the engine's ops, also Tensor
methods through `methods.py`, the Tensor API); the vision ops (convolution, unfold/fold,
pooling, RoI, upsampling), normalisation and the losses are re-exported from
`scratchnet.nn.functional`; RoI pool / RoI align are also here as `scratchnet.ops.roi_pool` /
`roi_align`, torchvision's names.
"""
from . import activation, elementwise, linalg, reduce, shape  # noqa: F401  (registers ops)
from . import methods  # noqa: F401  (installs Tensor methods)
from . import upsample  # noqa: F401  (registers interpolate_* and bed_of_nails)
from . import pool  # noqa: F401  (registers the pooling ops)
from . import roi  # noqa: F401  (registers roi_pool and roi_align)
from .roi import roi_align, roi_pool, roi_pool_bins  # noqa: F401
from . import spp  # noqa: F401  (registers spatial_pyramid_pool)
from .spp import roi_spatial_pyramid_pool, spatial_pyramid_pool  # noqa: F401
from . import loss, norm  # noqa: F401  (the losses, linear, batch/layer/group norm, LRN, dropout)
from . import conv  # noqa: F401  (registers conv1d, conv2d, conv_transpose2d)
from .boxes import (BoxCoder, batched_nms, box_area, box_convert, box_iou,  # noqa: F401
                    clip_boxes_to_image, masks_to_boxes, nms, remove_small_boxes)
from . import fold  # noqa: F401  (registers unfold and fold)
