"""DeconvNet (Noh, Hong and Han, ICCV 2015): VGG-16 as an hourglass.

Deck 000: the encoder is VGG-16's convolutions; the decoder mirrors it, every pooling layer
paired with an unpooling layer that puts each value back where its maximum came from (the
"switches", i.e. max_pool2d's indices) and every convolution with a deconvolution (a
transposed convolution; 3x3 stride 1 with padding 1 computes the same shapes as a
convolution, so only the name and the weight layout differ). Between them fc6/fc7 are
convolutions, 7x7 to a 1x1 map and 1x1, and deconv-fc6 expands the 1x1 map back to 7x7.

    (N, 3, 224, 224)
      conv1 (2x 64) pool1 112   conv2 (2x 128) pool2 56   conv3 (3x 256) pool3 28
      conv4 (3x 512) pool4 14   conv5 (3x 512) pool5 7
      fc6: 7x7 conv 4096 -> 1x1     fc7: 1x1 conv 4096 -> 1x1
      deconv-fc6: 7x7 transposed conv 512 -> 7x7
      unpool5 14, deconv5 (3x 512)  unpool4 28, deconv4 (512, 512, 256)
      unpool3 56, deconv3 (256, 256, 128)  unpool2 112, deconv2 (128, 64)
      unpool1 224, deconv1 (64, 64)  score: 1x1 conv num_classes
    -> (N, num_classes, 224, 224)

Every convolution and deconvolution is followed by batch normalisation and ReLU, as in the
paper. Parameters at width 1 with 21 classes: 251,772,245 weights and biases in the
convolutions (the paper: 252M), plus 2 per channel for each batch norm.

The input must be a multiple of 32 and at least 224 in the paper's geometry (fc6 is 7x7
without padding): `fc_kernel` shrinks fc6 for smaller images (2 for a 64x64 input, whose
pool5 map is 2x2). `width` scales every channel count.
"""
from __future__ import annotations

from ... import nn, no_grad
from .fcn import VGG16, _scaled

# channels of each decoder stage, top (after unpool5) to bottom (after unpool1)
DECODER = [[512, 512, 512], [512, 512, 256], [256, 256, 128], [128, 64], [64, 64]]


def _conv_bn_relu(c_in, c_out, transposed=False):
    layer = (nn.ConvTranspose2d(c_in, c_out, 3, padding=1) if transposed
             else nn.Conv2d(c_in, c_out, 3, padding=1))
    return [layer, nn.BatchNorm2d(c_out), nn.ReLU()]


class DeconvNet(nn.Module):
    """(N, 3, H, W) -> (N, num_classes, H, W), H and W multiples of 32 with H/32 >= fc_kernel.

    `encoder` holds five stages (conv blocks); `pools` keep their indices for `unpools`;
    `decoder` holds the five mirrored deconvolution blocks. `record_activations` gives every
    stage's map, from the 7x7 bottom to the full-size top (deck 000's Figure 4)."""

    def __init__(self, num_classes: int = 21, width: float = 1.0, fc_kernel: int = 7,
                 dropout: float = 0.5):
        super().__init__()
        self.num_classes, self.fc_kernel = num_classes, fc_kernel
        stages, block, c_in = [], [], 3
        for v in VGG16:
            if v == "M":
                stages.append(nn.Sequential(*block))
                block = []
                continue
            c_out = _scaled(v, width)
            block += _conv_bn_relu(c_in, c_out)
            c_in = c_out
        self.encoder = nn.ModuleList(stages)
        self.pools = nn.ModuleList([nn.MaxPool2d(2, 2, return_indices=True) for _ in stages])
        fc = _scaled(4096, width)
        self.fc6 = nn.Sequential(nn.Conv2d(c_in, fc, fc_kernel), nn.BatchNorm2d(fc), nn.ReLU(),
                                 nn.Dropout(dropout))
        self.fc7 = nn.Sequential(nn.Conv2d(fc, fc, 1), nn.BatchNorm2d(fc), nn.ReLU(),
                                 nn.Dropout(dropout))
        self.deconv_fc6 = nn.Sequential(nn.ConvTranspose2d(fc, c_in, fc_kernel),
                                        nn.BatchNorm2d(c_in), nn.ReLU())
        self.unpools = nn.ModuleList([nn.MaxUnpool2d(2, 2) for _ in stages])
        blocks = []
        for channels in DECODER:
            layers = []
            for v in channels:
                c_out = _scaled(v, width)
                layers += _conv_bn_relu(c_in, c_out, transposed=True)
                c_in = c_out
            blocks.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(blocks)
        self.score = nn.Conv2d(c_in, num_classes, 1)

    def _check(self, x):
        h, w = x.shape[-2:]
        if h % 32 or w % 32 or h // 32 < self.fc_kernel or w // 32 < self.fc_kernel:
            raise ValueError(
                f"DeconvNet: a {h}x{w} input gives a {h / 32:g}x{w / 32:g} pool5 map; five "
                f"poolings need multiples of 32 and fc6 ({self.fc_kernel}x{self.fc_kernel}) "
                f"needs pool5 >= {self.fc_kernel}, i.e. inputs of at least "
                f"{32 * self.fc_kernel}x{32 * self.fc_kernel} (or a smaller fc_kernel)")

    def forward(self, x, record=None):
        """record: an optional dict that receives every stage's output by name."""
        self._check(x)
        keep = (lambda name, v: record.__setitem__(name, v)) if record is not None else \
            (lambda name, v: None)
        switches = []
        for i, (stage, pool) in enumerate(zip(self.encoder, self.pools), start=1):
            x = stage(x)
            keep(f"conv{i}", x)
            x, idx = pool(x)
            switches.append((idx, x.shape[-2] * 2, x.shape[-1] * 2))
            keep(f"pool{i}", x)
        x = self.fc7(self.fc6(x))
        keep("fc7", x)
        x = self.deconv_fc6(x)
        keep("deconv_fc6", x)
        for level, (unpool, block) in enumerate(zip(self.unpools, self.decoder)):
            i = 5 - level
            idx, h, w = switches[i - 1]
            x = unpool(x, idx, output_size=(h, w))
            keep(f"unpool{i}", x)
            x = block(x)
            keep(f"deconv{i}", x)
        return self.score(x)

    def record_activations(self, x) -> dict:
        """Every stage's map for input x, from conv1 down to fc7 and back up to deconv1
        (computed without a graph: these are for looking at)."""
        record = {}
        with no_grad():
            self.forward(x, record)
        return record


def deconvnet(num_classes: int = 21, width: float = 1.0, **kwargs) -> DeconvNet:
    """DeconvNet on VGG-16, batch norm after every (de)convolution."""
    return DeconvNet(num_classes, width, **kwargs)
