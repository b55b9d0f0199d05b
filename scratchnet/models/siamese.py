"""Siamese networks for verification (deck 002, face recognition): one encoder f applied to
both images of a pair (the same weights: "Siamese"), compared in the embedding space.

    f = EmbeddingNet(dim=32)                  # (N, 1, H, W) -> (N, 32), unit length
    head = VerificationHead(32)               # (f(x1), f(x2)) -> (N,) logits of "same"

EmbeddingNet is a small CNN ending in an adaptive pool, so it takes 28x28 digits and 25x25
faces alike; its output is L2-normalised by default (FaceNet: the embedding lives on the unit
hypersphere, squared distances in [0, 4]). VerificationHead is deck 002's binary classifier on
a pair: y_hat = sigmoid(sum_k w_k |f(x1)_k - f(x2)_k| + b) (DeepFace, Taigman et al. 2014).
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F


class EmbeddingNet(nn.Module):
    """(N, in_channels, H, W) -> (N, dim); H, W >= 12.

    conv3x3(16)-BN-ReLU-maxpool2 -> conv3x3(32)-BN-ReLU-maxpool2 -> conv3x3(32)-BN-ReLU ->
    adaptive avg pool 3x3 -> FC(288, 128)-ReLU -> FC(128, dim) -> L2 normalise (optional).
    """

    def __init__(self, dim=32, in_channels=1, normalize=True):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d((3, 3)))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 9, 128), nn.ReLU(),
                                nn.Linear(128, dim))
        self.dim = dim
        self.normalize = normalize

    def forward(self, x):
        e = self.fc(self.features(x))
        return F.normalize(e, dim=1) if self.normalize else e


class VerificationHead(nn.Module):
    """Deck 002's verification: logits w . |f(x1) - f(x2)| + b, (N, dim), (N, dim) -> (N,).
    The sigmoid of the logit is the probability that the two images show one identity; train
    with F.binary_cross_entropy_with_logits on pair labels (1 = same)."""

    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, 1)

    def forward(self, e1, e2):
        return self.fc((e1 - e2).abs())[:, 0]
