"""Alias of `scratchnet.data`'s loading pieces under torch.utils.data's path."""
from ..data.dataloader import DataLoader, default_collate
from ..data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset",
           "default_collate", "random_split"]
