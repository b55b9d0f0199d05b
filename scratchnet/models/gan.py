"""Generative adversarial networks: a generator G maps noise z to images, a discriminator D
scores images as real (logit > 0) or generated; the two are trained against each other
(Goodfellow et al. 2014; deck 003 and the closing slide of deck 002).

    G, D = dcgan(image_size=28, nz=32)      # z (N, 32) -> (N, 1, 28, 28) in [-1, 1]
    G, D = mlp_gan(image_size=8, nz=16)     # the fully connected GAN of the 2014 paper

DCGAN (Radford, Metz and Chintala 2016): the generator upsamples with transposed convolutions,
batch norm and ReLU, ending in tanh; the discriminator downsamples with strided convolutions
(no pooling) and leaky ReLU (slope 0.2), batch norm everywhere but its first layer; weights
drawn from N(0, 0.02). D returns logits, so the losses use binary_cross_entropy_with_logits.
"""
from __future__ import annotations

from .. import nn


def _dcgan_init(module):
    """DCGAN's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (N, nz) -> (N, channels, 4b, 4b) in [-1, 1], b = image_size / 4 (7 for 28, 2 for 8):

    ConvT(nz, 2w, b, 1, 0)-BN-ReLU: b x b -> ConvT(2w, w, 4, 2, 1)-BN-ReLU: 2b x 2b ->
    ConvT(w, channels, 4, 2, 1)-tanh: 4b x 4b."""

    def __init__(self, nz=32, width=32, image_size=28, channels=1):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"DCGANGenerator: image_size must be a multiple of 4 (two "
                             f"stride-2 upsamplings), got {image_size}")
        b = image_size // 4
        self.nz = nz
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, 2 * width, b, 1, 0, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())
        _dcgan_init(self)

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], self.nz, 1, 1))


class DCGANDiscriminator(nn.Module):
    """(N, channels, 4b, 4b) -> (N,) logits of "real":

    Conv(channels, w, 4, 2, 1)-LReLU(0.2) -> Conv(w, 2w, 4, 2, 1)-BN-LReLU(0.2) ->
    Conv(2w, 1, b, 1, 0)."""

    def __init__(self, width=32, image_size=28, channels=1):
        super().__init__()
        b = image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, b, 1, 0))
        _dcgan_init(self)

    def forward(self, x):
        return self.net(x).reshape(x.shape[0])


class MLPGenerator(nn.Module):
    """Goodfellow et al. 2014's fully connected generator: z (N, nz) -> ReLU layers ->
    (N, 1, s, s) through tanh."""

    def __init__(self, nz=16, hidden=128, image_size=8):
        super().__init__()
        self.size = image_size
        self.net = nn.Sequential(nn.Linear(nz, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, image_size * image_size),
                                 nn.Tanh())

    def forward(self, z):
        return self.net(z).reshape(z.shape[0], 1, self.size, self.size)


class MLPDiscriminator(nn.Module):
    """(N, 1, s, s) -> flatten -> leaky-ReLU layers -> (N,) logits (the paper used maxout
    units and dropout; leaky ReLU is the common stand-in)."""

    def __init__(self, hidden=128, image_size=8):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(image_size * image_size, hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


def dcgan(image_size=28, nz=32, width=32, channels=1):
    """(generator, discriminator) of DCGAN sized for `image_size` x `image_size` images."""
    return (DCGANGenerator(nz, width, image_size, channels),
            DCGANDiscriminator(width, image_size, channels))


def mlp_gan(image_size=8, nz=16, hidden=128):
    """(generator, discriminator) of the MLP GAN for `image_size` x `image_size` images."""
    return MLPGenerator(nz, hidden, image_size), MLPDiscriminator(hidden, image_size)
