"""Semantic segmentation models, torchvision's layout: FCN-32s/16s/8s and DeconvNet (the
decks' two), and U-Net."""
from .deconvnet import DeconvNet, deconvnet  # noqa: F401
from .fcn import (FCN, FullyConvolutionalVGG, convert_fc_to_conv, coordinate_map,  # noqa: F401
                  crop_offsets, fcn8s, fcn16s, fcn32s)
from .unet import UNet, unet  # noqa: F401
