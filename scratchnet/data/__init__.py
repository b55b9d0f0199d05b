"""Data: datasets, mini-batch loading and image transforms (torch.utils.data and
torchvision's names).

    from scratchnet.data import DataLoader, digits, transforms as T
    train = digits("train", transform=T.RandomRotation(10))
    for x, y in DataLoader(train, batch_size=64, shuffle=True):
        ...                                     # x (64, 1, 32, 32), y (64,)
"""
from . import transforms, transforms_v2
from .dataloader import DataLoader, default_collate, detection_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import (CIFAR10, MNIST, CocoDetection, DigitScenes, Digits, FashionMNIST,
                       IntegrityError, LFWSubset, Nuclei, VOCDetection, VOCSegmentation,
                       digits)

__all__ = ["CIFAR10", "CocoDetection", "ConcatDataset", "DataLoader", "Dataset", "DigitScenes",
           "Digits", "FashionMNIST", "IntegrityError", "LFWSubset", "MNIST", "Nuclei", "Subset",
           "TensorDataset", "VOCDetection", "VOCSegmentation", "default_collate",
           "detection_collate", "digits", "random_split", "transforms", "transforms_v2"]
