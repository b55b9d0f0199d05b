"""Datasets: scikit-learn's digits (no download), MNIST, Fashion-MNIST and CIFAR-10; for the
vision tasks DigitScenes, Nuclei and LFWSubset (offline, real images) and loaders for the
Pascal VOC and COCO formats."""
from ._download import IntegrityError, data_root
from .cifar import CIFAR10
from .digit_scenes import DigitScenes
from .digits import Digits, digits
from .lfw import LFWSubset
from .mnist import MNIST, FashionMNIST
from .nuclei import Nuclei

__all__ = ["CIFAR10", "DigitScenes", "Digits", "FashionMNIST", "IntegrityError", "LFWSubset",
           "MNIST", "Nuclei", "data_root", "digits"]
