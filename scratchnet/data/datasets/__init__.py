"""Datasets: scikit-learn's digits (no download), MNIST, Fashion-MNIST and CIFAR-10; for the
vision tasks DigitScenes, Nuclei and LFWSubset (offline, real images) and loaders for the
Pascal VOC and COCO formats."""
from ._download import IntegrityError, data_root
from .cifar import CIFAR10
from .coco import CocoDetection, coco2017
from .digit_scenes import DigitScenes
from .digits import Digits, digits
from .lfw import LFWSubset
from .mnist import MNIST, FashionMNIST
from .nuclei import Nuclei
from .voc import VOC_CLASSES, VOCDetection, VOCSegmentation

__all__ = ["CIFAR10", "CocoDetection", "DigitScenes", "Digits", "FashionMNIST",
           "IntegrityError", "LFWSubset", "MNIST", "Nuclei", "VOCDetection", "VOCSegmentation",
           "VOC_CLASSES", "coco2017", "data_root", "digits"]
