"""FCN (Long, Shelhamer and Darrell, CVPR 2015): a classifier made fully convolutional.

Deck 001's point: replace the fully connected layers by convolutions and the network no longer
cares about the input size; it outputs a map of class scores instead of one vector. Deck 000's:
the map is coarse (1/32 of the image), so upsample it back with a transposed convolution and
fuse in the finer maps of earlier pooling layers through skips.

    image (N, 3, H, W)
      -> VGG-16 conv1_1 ... pool5            (conv1_1 padded by 100, pools in ceil mode)
      -> fc6: 7x7 conv, 4096 channels        (VGG's first Linear, as a convolution)
      -> fc7: 1x1 conv, 4096                 (its second Linear)
      -> score_fr: 1x1 conv, num_classes     (a class-score map at stride 32)
      FCN-32s: upscore (k=64, s=32) -> crop 19 -> (N, num_classes, H, W)
      FCN-16s: upscore2 (k=4, s=2) + score_pool4 (1x1 on pool4, crop 5)
               -> upscore16 (k=32, s=16) -> crop 27
      FCN-8s:  ... + score_pool3 (1x1 on pool3, crop 9) after another 2x upsampling
               -> upscore8 (k=16, s=8) -> crop 31

Why pad by 100 and crop: a 7x7 fc6 needs a pool5 map of at least 7x7, i.e. an image of
about 200 pixels, and the upsampled map must cover the whole image. Padding the first
convolution by 100 makes any input large enough; the price is that each map is shifted
relative to the image, and the crops undo the shift. The offsets are not magic numbers: each
layer maps its output position i to the image coordinate `scale * i + shift` of its window's
centre (`coordinate_map`), and a crop offset is the difference of two shifts over the common
scale. `crop_offsets` computes them; the test checks they come out as the reference
implementation's 19, 5, 27, 9 and 31.

The transposed convolutions start as bilinear interpolation (`nn.init.bilinear_`); the paper
keeps the last one fixed and learns the others (`fixed_final_upsampling`).

Parameters (VOC, 21 classes, width 1): FCN-32s 134,346,581 learned (the paper's Table 1:
134M) plus the fixed 64x64 upsampling (1,806,336 weights); FCN-16s and FCN-8s add the 2x
upsamplings (7,056 each) and the 1x1 score layers on pool4 (10,773) and pool3 (5,397).
`width` scales every channel count (0.25 gives 16 ... 1024 channels) for laptop training.
"""
from __future__ import annotations

from ... import nn
from ...nn import init

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M"]


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def vgg16_features(width: float = 1.0, first_padding: int = 1, batch_norm: bool = False,
                   ceil_mode: bool = False, return_indices: bool = False) -> nn.Sequential:
    """VGG-16's convolutional part with torchvision's indices (features.0 ... features.30),
    so a torchvision VGG-16 state dict loads into it. (N, 3, H, W) -> (N, 512w, ~H/32, ~W/32)."""
    layers, c_in = [], 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil_mode,
                                       return_indices=return_indices))
            continue
        c_out = _scaled(v, width)
        padding = first_padding if not layers else 1
        layers.append(nn.Conv2d(c_in, c_out, 3, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
        c_in = c_out
    return nn.Sequential(*layers)


def coordinate_map(layers) -> tuple[float, float]:
    """(scale, shift) such that output position i of the chain sits at image coordinate
    scale * i + shift (the centre of its window). Each item is ("conv", k, s, p) for a
    convolution or pooling window, or ("up", k, s, p) for a transposed convolution."""
    scale, shift = 1.0, 0.0
    for kind, k, s, p in layers:
        if kind == "conv":          # output i looks at input i*s - p ... i*s - p + k - 1
            shift += scale * (-p + (k - 1) / 2)
            scale *= s
        elif kind == "up":          # output o gathers input i where o = i*s - p + t, 0 <= t < k
            scale /= s
            shift += scale * (p - (k - 1) / 2)
        else:
            raise ValueError(f"coordinate_map: unknown layer kind {kind!r}")
    return scale, shift


def crop_offset(target: tuple[float, float], other: tuple[float, float]) -> int:
    """How many rows/columns to cut from the start of `other` so it lines up with
    `target`: both maps must have the same scale, and the difference of shifts must be a
    whole number of positions."""
    (a, b_t), (a2, b_o) = target, other
    if a != a2:
        raise ValueError(f"crop_offset: the maps have different scales ({a} vs {a2})")
    offset = (b_t - b_o) / a
    if offset != int(offset) or offset < 0:
        raise ValueError(f"crop_offset: the maps are {offset} positions apart, not a whole, "
                         "non-negative number; they cannot be aligned by cropping")
    return int(offset)


def _stage_chain(first_padding: int, stages: int):
    """The windows of VGG-16 up to pool{stages} (all 3x3 convs are pad 1, except the first)."""
    chain = []
    for v in VGG16:
        if v == "M":
            chain.append(("conv", 2, 2, 0))
            stages -= 1
            if stages == 0:
                break
        else:
            chain.append(("conv", 3, 1, first_padding if not chain else 1))
    return chain


def crop_offsets(first_padding: int = 100) -> dict[str, int]:
    """Every crop of FCN-32s/16s/8s, computed from the layers' geometry:
    {"32s": 19, "16s_pool4": 5, "16s": 27, "8s_pool4": 5, "8s_pool3": 9, "8s": 31} for the
    paper's first_padding=100."""
    image = (1.0, 0.0)
    pool3, pool4 = _stage_chain(first_padding, 3), _stage_chain(first_padding, 4)
    score_fr = _stage_chain(first_padding, 5) + [("conv", 7, 1, 0), ("conv", 1, 1, 0),
                                                 ("conv", 1, 1, 0)]
    up2 = score_fr + [("up", 4, 2, 0)]
    up4 = up2 + [("up", 4, 2, 0)]     # fused at pool4's grid, then upsampled again
    return {
        "32s": crop_offset(image, coordinate_map(score_fr + [("up", 64, 32, 0)])),
        "16s_pool4": crop_offset(coordinate_map(up2), coordinate_map(pool4)),
        "16s": crop_offset(image, coordinate_map(up2 + [("up", 32, 16, 0)])),
        "8s_pool4": crop_offset(coordinate_map(up2), coordinate_map(pool4)),
        "8s_pool3": crop_offset(coordinate_map(up4), coordinate_map(pool3)),
        "8s": crop_offset(image, coordinate_map(up4 + [("up", 16, 8, 0)])),
    }


def _crop(x, offset: int, like):
    """x[..., offset:offset+h, offset:offset+w] with (h, w) the size of `like`."""
    h, w = like.shape[-2:]
    if x.shape[-2] < offset + h or x.shape[-1] < offset + w:
        raise ValueError(f"FCN crop: a {x.shape[-2]}x{x.shape[-1]} map cannot give {h}x{w} "
                         f"from offset {offset}; the input is too small for this geometry")
    return x[:, :, offset:offset + h, offset:offset + w]


def _upsampler(channels: int, k: int, s: int) -> nn.ConvTranspose2d:
    up = nn.ConvTranspose2d(channels, channels, k, stride=s, bias=False)
    init.bilinear_(up.weight)
    return up


class FCN(nn.Module):
    """FCN-32s, -16s or -8s on VGG-16: (N, 3, H, W) -> (N, num_classes, H, W) class scores.

    variant: "32s", "16s" or "8s"; width: channel multiplier; first_padding: conv1_1's
    padding (the paper's 100; the crops follow from it); fixed_final_upsampling: keep the last
    transposed convolution at bilinear interpolation, as the paper does; batch_norm: VGG-16-BN
    as the backbone (a BatchNorm2d after every 3x3 convolution, torchvision's vgg16_bn order;
    the geometry and crops are unchanged). The paper fine-tunes an ImageNet VGG-16; trained
    from scratch, the plain one stays at "all background" (see scratchnet.segmentation).
    Module names follow the reference implementation (fc6, fc7, score_fr, upscore2,
    score_pool4, upscore_pool4, score_pool3, upscore8/16/32); `features` follows torchvision's
    VGG-16 indices, so its ImageNet convolutions load by name.
    """

    def __init__(self, variant: str = "8s", num_classes: int = 21, width: float = 1.0,
                 first_padding: int = 100, dropout: float = 0.5,
                 fixed_final_upsampling: bool = True, batch_norm: bool = False):
        super().__init__()
        if variant not in ("32s", "16s", "8s"):
            raise ValueError(f"FCN: variant must be '32s', '16s' or '8s', got {variant!r}")
        self.variant, self.num_classes = variant, num_classes
        self.offsets = crop_offsets(first_padding)
        c5, fc = _scaled(512, width), _scaled(4096, width)
        self.features = vgg16_features(width, first_padding, batch_norm, ceil_mode=True)
        self.fc6 = nn.Conv2d(c5, fc, 7)
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.drop = nn.Dropout(dropout)
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        final = {"32s": (64, 32), "16s": (32, 16), "8s": (16, 8)}[variant]
        if variant in ("16s", "8s"):
            self.upscore2 = _upsampler(num_classes, 4, 2)
            self.score_pool4 = nn.Conv2d(_scaled(512, width), num_classes, 1)
            init.zeros_(self.score_pool4.weight)      # the skip starts silent, as the paper's
            init.zeros_(self.score_pool4.bias)
        if variant == "8s":
            self.upscore_pool4 = _upsampler(num_classes, 4, 2)
            self.score_pool3 = nn.Conv2d(_scaled(256, width), num_classes, 1)
            init.zeros_(self.score_pool3.weight)
            init.zeros_(self.score_pool3.bias)
        self.upscore = _upsampler(num_classes, *final)
        if fixed_final_upsampling:
            self.upscore.weight.requires_grad_(False)
        init.zeros_(self.score_fr.weight)
        init.zeros_(self.score_fr.bias)

    def _pools(self, x):
        """Run the VGG features, keeping pool3 and pool4 (the skips' inputs)."""
        pools = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pools.append(x)
        return pools[2], pools[3], x

    def forward(self, x):
        image = x
        pool3, pool4, pool5 = self._pools(x)
        h = self.drop(self.fc6(pool5).relu())
        h = self.drop(self.fc7(h).relu())
        score = self.score_fr(h)                          # stride 32
        if self.variant == "32s":
            return _crop(self.upscore(score), self.offsets["32s"], image)
        up = self.upscore2(score)                         # stride 16
        score = up + _crop(self.score_pool4(pool4), self.offsets["16s_pool4"], up)
        if self.variant == "16s":
            return _crop(self.upscore(score), self.offsets["16s"], image)
        up = self.upscore_pool4(score)                    # stride 8
        score = up + _crop(self.score_pool3(pool3), self.offsets["8s_pool3"], up)
        return _crop(self.upscore(score), self.offsets["8s"], image)


def fcn32s(num_classes: int = 21, width: float = 1.0, **kwargs) -> FCN:
    """FCN-32s: one 32x upsampling of the stride-32 score map."""
    return FCN("32s", num_classes, width, **kwargs)


def fcn16s(num_classes: int = 21, width: float = 1.0, **kwargs) -> FCN:
    """FCN-16s: the stride-32 scores upsampled 2x and fused with scores from pool4."""
    return FCN("16s", num_classes, width, **kwargs)


def fcn8s(num_classes: int = 21, width: float = 1.0, **kwargs) -> FCN:
    """FCN-8s: FCN-16s fused once more with scores from pool3, then upsampled 8x."""
    return FCN("8s", num_classes, width, **kwargs)


def convert_fc_to_conv(linear: nn.Linear, in_channels: int, kernel_size) -> nn.Conv2d:
    """The convolution that computes what `linear` computes on a flattened (C, kh, kw) map:
    weight (out, C*kh*kw) -> (out, C, kh, kw). On a map of exactly (kh, kw) it gives the
    same numbers (as a 1x1 map); on a larger map it slides, giving a map of scores, one per
    window position (deck 001: "FC 대신 1x1 conv").

    Flatten order matters: scratchnet and torch flatten (C, H, W) in C order, channel-major,
    which is exactly the order of a Conv2d weight's last three axes."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    out_features, in_features = linear.weight.shape
    if in_features != in_channels * kh * kw:
        raise ValueError(f"convert_fc_to_conv: Linear({in_features} -> {out_features}) does "
                         f"not read a {in_channels}x{kh}x{kw} map: {in_channels}*{kh}*{kw} = "
                         f"{in_channels * kh * kw}, not {in_features}")
    conv = nn.Conv2d(in_channels, out_features, (kh, kw), bias=linear.bias is not None,
                     dtype=linear.weight.dtype)
    weight = linear.weight.detach().numpy()
    state = {"weight": weight.reshape(out_features, in_channels, kh, kw)}
    if linear.bias is not None:
        state["bias"] = linear.bias.detach().numpy()
    conv.load_state_dict(state)
    return conv


class FullyConvolutionalVGG(nn.Module):
    """A trained VGG classifier with its three Linear layers turned into convolutions (fc6 as
    7x7, fc7 and fc8 as 1x1): (N, 3, H, W) -> (N, num_classes, H', W'), H' = (H/32) - 6 for
    H a multiple of 32. At 224x224 the 1x1 output equals the classifier's logits."""

    def __init__(self, vgg):
        super().__init__()
        fc6, fc7, fc8 = [m for m in vgg.classifier if isinstance(m, nn.Linear)]
        channels = fc6.weight.shape[1] // 49
        self.features = vgg.features
        self.fc6 = convert_fc_to_conv(fc6, channels, 7)
        self.fc7 = convert_fc_to_conv(fc7, fc7.weight.shape[1], 1)
        self.fc8 = convert_fc_to_conv(fc8, fc8.weight.shape[1], 1)

    def forward(self, x):
        x = self.features(x)
        x = self.fc6(x).relu()
        x = self.fc7(x).relu()
        return self.fc8(x)
