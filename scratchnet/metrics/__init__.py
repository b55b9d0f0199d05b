"""Task metrics: semantic segmentation scores from a confusion matrix, detection and
instance-mask average precision with the PASCAL VOC and COCO rules."""
from .detection import (COCO_AREA_RANGES, coco_evaluate, mask_iou, voc_ap,  # noqa: F401
                        voc_evaluate)
from .segmentation import (class_accuracy, class_iou, confusion_matrix,  # noqa: F401
                           frequency_weighted_iou, mean_iou, pixel_accuracy)
