"""scratchnet.nn.functional: the torch.nn.functional names.

Activations and softmax come from the engine ops; the vision ops (convolution, pooling,
upsampling) and the losses are added by their own modules and re-exported here.
"""
from __future__ import annotations

from ..ops.methods import (  # noqa: F401
    leaky_relu,
    log_softmax,
    pad,
    prelu,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from ..ops.upsample import (bed_of_nails, interpolate, upsample_bilinear,  # noqa: F401
                            upsample_nearest)
from ..ops.pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d,  # noqa: F401
                        max_pool1d, max_pool2d, max_unpool2d, min_pool2d)
from ..ops.methods import flatten  # noqa: F401
from ..ops.spp import roi_spatial_pyramid_pool, spatial_pyramid_pool  # noqa: F401
from ..ops.norm import (batch_norm, dropout, dropout2d, group_norm, layer_norm,  # noqa: F401
                        linear, local_response_norm)
from ..ops.fold import fold, unfold  # noqa: F401
from ..ops.activation import relu6  # noqa: F401
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                        cross_entropy, dice_loss, huber_loss, l1_loss, mse_loss,
                        multi_margin_loss, nll_loss, pairwise_distance, smooth_l1_loss,
                        triplet_margin_loss)
from ..ops.conv import conv1d, conv2d, conv_transpose2d  # noqa: F401
from ..ops.metric_learning import (contrastive_loss, cosine_embedding_loss,  # noqa: F401
                                   cosine_similarity, normalize, squared_triplet_margin_loss)
