"""Task metrics: semantic segmentation scores from a confusion matrix, detection and
instance-mask average precision with the PASCAL VOC and COCO rules, and image quality for
super-resolution (`psnr`, `ssim` and `rgb_to_y`, the luminance they are usually measured
on), and verification (ROC curve, AUC, equal error rate, best-threshold accuracy,
nearest-neighbour identification)."""
from .detection import (COCO_AREA_RANGES, coco_evaluate, mask_iou,  # noqa: F401
                        proposal_recall, voc_ap, voc_evaluate)
from .image import psnr, rgb_to_y, rgb_to_ycbcr, ssim, ycbcr_to_rgb  # noqa: F401
from .segmentation import (class_accuracy, class_iou, confusion_matrix,  # noqa: F401
                           frequency_weighted_iou, mean_iou, pixel_accuracy)
from .verification import (auc, best_threshold_accuracy, equal_error_rate,  # noqa: F401
                           nearest_neighbor_top1, pair_scores, roc_auc_score, roc_curve)
