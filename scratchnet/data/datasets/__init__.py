"""Datasets: scikit-learn's digits (no download), MNIST, Fashion-MNIST and CIFAR-10."""
from ._download import IntegrityError, data_root
from .cifar import CIFAR10
from .digits import Digits, digits
from .mnist import MNIST, FashionMNIST

__all__ = ["CIFAR10", "Digits", "FashionMNIST", "IntegrityError", "MNIST", "data_root",
           "digits"]
