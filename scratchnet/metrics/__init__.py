"""Evaluation metrics (torchmetrics-style functions on arrays or Tensors).

Image quality for super-resolution: `psnr`, `ssim`, and `rgb_to_y` (the luminance they are
usually measured on)."""
from .image import psnr, rgb_to_y, rgb_to_ycbcr, ssim, ycbcr_to_rgb  # noqa: F401
