"""PyTorch-style import paths: `from scratchnet.utils.data import DataLoader` works as
`from torch.utils.data import DataLoader` does; drawing helpers sit here as in
torchvision.utils."""
from . import data  # noqa: F401
from .draw import (draw_bounding_boxes, draw_segmentation_masks, make_grid,  # noqa: F401
                   save_image_grid)
