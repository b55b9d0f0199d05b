"""The layers of scratchnet.nn, one family per file as in torch.nn.modules."""
from .activation import LeakyReLU, LogSoftmax, PReLU, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .flatten import Flatten
from .lazy import (LazyBatchNorm2d, LazyConv2d, LazyLinear, UninitializedBuffer,
                   UninitializedParameter)
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, DiceLoss, HuberLoss, L1Loss,
                   MSELoss, MultiMarginLoss, NLLLoss, SmoothL1Loss, TripletMarginLoss)
from .module import IncompatibleKeys, Module, RemovableHandle, StateDictError
from .fold import Fold, Unfold
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm,
                            LocalResponseNorm)
from .pooling import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d,
                      MaxUnpool2d, SpatialPyramidPooling)
from .roi import RoIAlign, RoIPool
from .upsampling import Upsample
from .loss import (ContrastiveLoss, CosineEmbeddingLoss, CosineSimilarity,  # noqa: E402
                   SquaredTripletMarginLoss)

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "IncompatibleKeys", "StateDictError",
    "RemovableHandle",
    "Linear", "Identity", "LazyLinear", "LazyConv2d", "LazyBatchNorm2d",
    "UninitializedParameter", "UninitializedBuffer", "Conv1d", "Conv2d", "ConvTranspose2d",
    "MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "Upsample", "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm", "LayerNorm", "GroupNorm",
    "Unfold", "Fold", "Dropout", "Dropout2d",
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Flatten",
    "RoIPool", "RoIAlign", "SpatialPyramidPooling",
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss",
    "SmoothL1Loss", "HuberLoss", "TripletMarginLoss", "MultiMarginLoss", "DiceLoss",
]
__all__ += ["CosineEmbeddingLoss", "ContrastiveLoss", "SquaredTripletMarginLoss",
            "CosineSimilarity"]
