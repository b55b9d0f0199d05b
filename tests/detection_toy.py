"""A toy detector for the engine's tests: it always predicts one box, and its single
parameter has the loss (w - 1)^2, so every number it produces is known in advance."""
import numpy as np

import scratchnet as sn
from scratchnet import nn
from scratchnet.detection.recipes import Recipe

BOX = [8.0, 8.0, 24.0, 24.0]


class ToyDataset:
    """n 32x32 grey scenes, each with one object of class 3 at BOX."""
    classes = ["background"] + [str(d) for d in range(10)]

    def __init__(self, n=4):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        image = np.full((1, 32, 32), 0.1 * (i % 5), np.float32)
        return image, {"boxes": np.array([BOX], np.float32), "labels": np.array([3])}


class ToyDetector(nn.Module):
    def __init__(self, label=3, shift=0.0):
        super().__init__()
        if label < 1:
            raise ValueError(f"ToyDetector: label must be >= 1, got {label}")
        self.w = nn.Parameter(sn.zeros(1))
        self.label, self.shift = label, shift

    def forward(self, images, targets=None):
        if self.training:
            if targets is None:
                raise ValueError("ToyDetector: targets are needed in training")
            return {"loss_w": ((self.w - 1.0) ** 2).sum(), "loss_zero": (self.w * 0.0).sum()}
        box = np.array([BOX], np.float32) + self.shift
        return [{"boxes": box, "scores": np.array([0.9], np.float32),
                 "labels": np.array([self.label], np.int64)} for _ in range(images.shape[0])]


RECIPE = Recipe("toy", "a toy detector that always predicts one box",
                lambda config: ToyDetector(config["label"], config["shift"]),
                {"label": 3, "shift": 0.0, "epochs": 2, "num_train": 4, "num_test": 4,
                 "num_val": 0, "batch_size": 2, "lr": 0.25})
