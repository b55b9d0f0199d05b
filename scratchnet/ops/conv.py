"""Convolution and transposed convolution, under torch.nn.functional's names.

    conv2d            x (N, C, H, W), weight (K, C/g, kh, kw), bias (K,) -> (N, K, H', W')
    conv1d            x (N, C, L),    weight (K, C/g, k),      bias (K,) -> (N, K, L')
    conv_transpose2d  x (N, C, H, W), weight (C, K/g, kh, kw), bias (K,) -> (N, K, H'', W'')

    H'  = floor((H + 2p - d*(kh - 1) - 1) / s) + 1
    H'' = (H - 1)*s - 2p + d*(kh - 1) + output_padding + 1

A 3-D input (C, H, W) (2-D (C, L) for conv1d) is one image without the batch dimension, as
in PyTorch. Convolution here is cross-correlation, as in every deep-learning library: the
kernel is not flipped (`scratchnet.flip` it to get the textbook convolution).

How it is computed (CS231n's im2col): every receptive field of the batch becomes a column of
`cols` (C*kh*kw, N*H'*W') and the convolution is one matrix product per group,

    out = weight.reshape(K, C*kh*kw) @ cols                      forward
    d weight = d_out @ cols.T                                    weight gradient
    d x = col2im(weight.reshape(K, C*kh*kw).T @ d_out)           input gradient

col2im, the adjoint of im2col, sums the overlapping windows back into pixels. The last line
*is* the transposed convolution: conv_transpose2d(y, W) = d/dx <conv2d(x, W), y>. So the
module has two passes, and both ops are made of them:

    _im2col_pass  image -> columns -> (W @ cols, and/or d_out @ cols.T)
    _col2im_pass  grid  -> W.T @ grid -> col2im -> image

    conv2d            forward: _im2col_pass      backward: _col2im_pass (dx), _im2col_pass (dW)
    conv_transpose2d  forward: _col2im_pass      backward: _im2col_pass (dx and dW)

Four kinds of pass skip the columns: a 1x1 convolution with stride 1 and no padding is
already a matrix product on the (C, H*W) planes; a depthwise convolution (one input channel
per group, MobileNet's) is a direct loop in scratchnet/kernels/conv_depthwise.py, since its
matrix product would have only kh*kw terms per output; and a stride-1 3x3 or 5x5 pass that
makes few channels (LeNet's, ConvNetJS's: the forward pass, and the input gradient, which is
again a stride-1 convolution) runs the direct kernel of scratchnet/kernels/conv_direct.py,
where the thin GEMM would run far below its peak (DIRECT_MAX_FILTERS says when); the weight
gradient of such a layer is a direct kernel too, dot products over the same wide rows; and
a stride-1 3x3 layer with at least 64 channels in and out (ResNet's, VGG's, U-Net's) runs
Winograd's F(2x2, 3x3) (scratchnet/kernels/winograd.py): 16 matrix products over 2x2 tiles
of the output, which make 16 multiplications where the columns make 36, for all three passes
(WINOGRAD_MIN_CHANNELS says when).

Memory: the columns are k*k times bigger than the input, so they are built for a few images
at a time (`COLUMN_BUDGET_BYTES`) in one reused buffer, or for a band of one image's output
rows when a whole image is too big, and never kept for backward: the backward rebuilds them
from the saved input (benchmarks/bench_conv.py measures this against keeping them). Under
no_grad nothing is saved at all.

Threads: with OpenBLAS on T > 1 threads, a pass whose chunks have many columns is shared:
its chunks are cut into T runs and each of T threads builds and multiplies its own, OpenBLAS
on one thread meanwhile (scratchnet/_threads.py, _share below); in a pass with few columns
per filter each product's rows are cut between the same threads instead. Taking
turns, serial im2col then a 2-thread GEMM, left a core idle during every im2col and handed
the cores back and forth between numba's code and OpenBLAS's spinning threads at every chunk.

Copies: when a chunk is one image (or a band of it), its columns of the output are rows
y0..y1 of that image's (K, H'*W') plane, a strided view, and the GEMM writes there directly;
the gradient's rows are read the same way. Several images per chunk need one transposing copy
(K, b, H'W') <-> (b, K, H'W'), cheap at the small sizes where that happens. Measured on one
core (CPU time, forward + both backward products, before -> after these three changes): FCN's
16-channel 3x3 layer on 262x262 maps, batch 8, 273 -> 170 ms; ResNet-18's 512-channel layer
on 2x2 maps, batch 16, 26 -> 14 ms.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .. import _threads
from ..autograd.function import Function, register
from ..kernels import conv_depthwise as KD
from ..kernels import conv_direct as KDIR
from ..kernels import winograd as KW
from ..kernels.im2col import col2im, im2col
from ..shapes import conv_output_size, conv_transpose_output_size, describe_window, ntuple
from .methods import as_tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

COLUMN_BUDGET_BYTES = 4 * 2**20
"""Size of the column buffer: as many images per matrix product as fit, or a band of one
image's output rows when a whole image does not. A few MB keeps the buffer in the cache
between im2col writing it and the GEMM reading it. 1 MB (one core's L2 cache on the AMD
EPYC of bench_conv.py's runs) made the ConvNetJS and FCN layers 5-10% faster on one thread,
but each chunk is one more GEMM call, and with 2 BLAS threads every call forks and joins the
threads: an FCN-8s step makes 3,223 calls at 1 MB against 826 at 4 MB, and when other
processes compete for the cores each join can wait for a descheduled thread (a 2-thread
ResNet-18 step so measured: 16 s at 1 MB, 7 s at 4 MB, 2 s with one BLAS thread)."""

MIN_CHUNK_COLUMNS = 256
"""...but a chunk has at least this many columns (output pixels) when the batch has them:
ResNet-18's last 3x3 layers (2x2 maps, 4,608 rows of columns) ran a fifth slower when a
smaller budget cut their 64 columns in two."""


SHARE_MIN_COLUMNS_PER_FILTER = 2
"""A pass's chunks are shared between threads only where a chunk has at least this many
columns per filter (see _share); elsewhere each product's rows are cut between them."""


DIRECT_MAX_FILTERS = 32
DIRECT_MAX_ROWS = 1600
DIRECT_MIN_USEFUL = 0.6
"""When the direct kernel (scratchnet/kernels/conv_direct.py) replaces im2col + GEMM: a
stride-1, ungrouped convolution pass with a 3- or 5-wide kernel that makes at most 32 output
channels from at most 1,600 = C*kh*kw inputs per output pixel (the largest measured), where at
least 60% of the kernel's multiply-adds make an output (`conv_direct.useful_fraction`: small
unpadded maps and one or two output channels waste the rest). Measured one pass at a time
against im2col + GEMM (`python benchmarks/bench_conv.py --extras --direct`, one thread, CPU
time, best of 5-9, ms), with the ratio GEMM time / direct time:

    pass (C -> K)                 batch            useful   direct    GEMM   ratio  chosen
    LeNet conv1 fwd (1->6)        64x1x32x32 k5     0.66     0.54     0.78   1.46   direct
    LeNet conv1 dx (6->1)                           0.22     1.54     0.66   0.43   GEMM
    LeNet conv2 fwd (6->16)       64x6x14x14 k5     0.71     0.70     0.74   1.06   direct
    LeNet conv2 dx (16->6)                          0.57     1.38     0.73   0.53   GEMM
    ConvNetJS conv1 fwd (3->16)   32x3x32x32 k5     0.89     1.35     1.99   1.47   direct
    ConvNetJS conv1 dx (16->3)                      0.67     2.00     2.67   1.34   direct
    ConvNetJS conv2 fwd (16->20)  32x16x16x16 k5    0.80     2.04     2.91   1.42   direct
    ConvNetJS conv2 dx (20->16)                     0.80     2.14     2.93   1.37   direct
    3x3 at 28 fwd (128->128)      8x128x28x28       0.88    22.2     21.3    0.96   GEMM
    sweep, 3..64 -> 8..32, 3x3 and 5x5, 16x16 and 32x32 maps       1.12-2.73   direct
    sweep, 3..64 -> 64                                             0.90-2.78   GEMM

and the weight gradient, measured later the same way (the direct side is
conv_direct.direct_conv2d_weight_grad; "C -> K" as in the forward pass):

    LeNet conv2 dW (6->16)        64x6x14x14 k5     0.71     0.67     0.74   1.10   GEMM (dx is)
    ConvNetJS conv1 dW (3->16)    32x3x32x32 k5     0.89     1.30     1.95   1.50   direct
    ConvNetJS conv2 dW (16->20)   32x16x16x16 k5    0.80     2.12     2.93   1.38   direct
    sweep, 3..64 -> 8..32                                          0.98-2.41   direct
    sweep, 3..64 -> 64                                             0.81-1.47   GEMM

The weight gradient follows the forward pass's rule, except next to an input gradient that is
a GEMM (LeNet's layers): see ConvGeometry.direct_weight_grad_fits.

Up to 32 filters a GEMM with so few rows runs far from its peak and the columns cost as much
as the product; at 64 filters the two trade places from layer to layer."""


WINOGRAD_MIN_CHANNELS = 64
WINOGRAD_MIN_TILES = 256
"""When Winograd's F(2x2, 3x3) (scratchnet/kernels/winograd.py) replaces im2col + GEMM: an
ungrouped 3x3 layer, stride 1, no dilation, with at least 64 channels in and out and at least
256 tiles of 2x2 output pixels in the batch, for all three of its passes. Measured one pass at
a time against im2col + GEMM (`python benchmarks/bench_conv.py --extras --winograd`, one
thread, CPU time, best of 7, ms; ratio = GEMM time / Winograd time):

    layer (N, C, H, W) -> K       tiles    forward       input grad    weight grad
    8x64x56x56 -> 64              6,272    19.0  1.25    19.1  1.23    23.8  1.07
    8x128x28x28 -> 128            1,568    14.8  1.42    14.4  1.42    18.3  1.18
    8x256x14x14 -> 256              392    17.8  1.25    17.7  1.21    20.7  1.16
    8x512x7x7 -> 512                128    20.6  1.09    21.6  1.01    24.9  0.93   (im2col)
    16x512x7x7 -> 512               256    37.9  1.15    39.6  1.08    41.9  1.07
    32x512x7x7 -> 512               512    77.3  1.14    77.3  1.11    80.0  1.30
    16x64x16x16 -> 64             1,024     3.0  1.47     3.2  1.25     3.5  1.27
    16x128x8x8 -> 128               256     2.6  1.58     2.6  1.37     3.5  1.18
    16x256x4x4 -> 256                64     3.1  1.33     3.6  1.07     3.9  1.10   (im2col)
    16x512x2x2 -> 512                16     7.6  0.75    10.2  0.56    15.7  0.37   (im2col)
    8x48x56x56 -> 48              6,272     9.8  1.62     9.7  1.37    13.7  1.09   (im2col)
    8x32x56x56 -> 64              6,272     9.3  1.19    15.0  1.00    13.1  0.93   (im2col)

(Winograd's time, then the ratio; "(im2col)": the rule leaves the layer to im2col.) With
few tiles the 16 products have few columns, and each reads every transformed weight, where
im2col's one product reads them once; and the filters cost the same to transform however
few tiles use them: 512 x 512 filters take 4-5 ms, and the weight gradient as much to
transform back, which 128 tiles barely earn back (an earlier run of the same command: 1.00,
1.00 and 0.81 for 8x512x7x7). Below 256 tiles the gains come and go from run to run
(16x256x4x4 on one thread: 1.07-1.33 here, 0.99-1.11 in another sweep), and with two threads
16x256x4x4 took 13.3 ms forward and backward by Winograd, 11.4 by im2col. 48 channels gain
too (1.09-1.62), but the course's layers have 64 or more; with 32 channels in, the input and
weight gradients gain nothing (1.00, 0.93), and with 32 out the direct kernel takes the
forward pass."""

WINOGRAD_BLOCK_TILES = 128
WINOGRAD_GRAD_BLOCK_TILES = 256
"""Tiles per product: the transformed tiles stay in the cache between the transform writing
them and the product reading them. The weight gradient's products sum over the tiles, and
take more of them at a time (16 products of 64 x 64 from 3x3 at 56, one core: 14.4 ms at 56
tiles a product, 12.1 at 252; at 1,008 the transforms no longer fit the cache)."""


class ConvGeometry:
    """The shapes of one convolution, checked, in the conv2d direction.

    image (N, C, H, W) --conv with weight (K, C/groups, kh, kw)--> grid (N, K, out_h, out_w)

    For a transposed convolution the roles swap: its input is the grid, its output the image.
    pad = (top, left); the padding after the last pixel follows from out_h and out_w.
    """

    def __init__(self, N, C, H, W, K, groups, kernel, stride, pad, dilation, out_hw):
        self.N, self.C, self.H, self.W, self.K, self.groups = N, C, H, W, K, groups
        self.kernel, self.stride, self.pad, self.dilation = kernel, stride, pad, dilation
        self.out_h, self.out_w = out_hw

    @property
    def image_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def grid_shape(self):
        return (self.N, self.K, self.out_h, self.out_w)

    @property
    def is_pointwise(self):
        """1x1, stride 1, no padding: the columns would be the image itself."""
        return (self.kernel == (1, 1) and self.stride == (1, 1) and self.pad == (0, 0)
                and (self.out_h, self.out_w) == (self.H, self.W))

    @property
    def is_depthwise(self):
        """One image channel per group (K may be a multiple of C)."""
        return self.groups == self.C and self.groups > 1

    def direct_fits(self, input_grad=False):
        """Whether the direct kernel computes the forward pass (image -> grid, C -> K), or
        with input_grad the input gradient (grid -> image, K -> C), faster than im2col +
        GEMM: see DIRECT_MAX_FILTERS."""
        kh, kw = self.kernel
        c_in, c_out = (self.K, self.C) if input_grad else (self.C, self.K)
        if not (self.groups == 1 and self.stride == (1, 1)
                and kw in KDIR.DIRECT_KERNEL_WIDTHS and c_out <= DIRECT_MAX_FILTERS
                and c_in * kh * kw <= DIRECT_MAX_ROWS):
            return False
        image, out = (self.out_h, self.out_w), (self.H, self.W)
        if not input_grad:
            image, out = out, image
        return KDIR.useful_fraction((self.N, c_in) + image, self.kernel, out, self.dilation,
                                    c_out) >= DIRECT_MIN_USEFUL

    def winograd_fits(self):
        """Whether Winograd's F(2x2, 3x3) computes this layer's passes: see
        WINOGRAD_MIN_CHANNELS. The input gradient is a 3x3 stride-1 convolution as well,
        over as many tiles; the rule holds for all three passes of the layer."""
        tiles = self.N * -(-self.out_h // 2) * -(-self.out_w // 2)
        return (self.kernel == (3, 3) and self.stride == (1, 1) and self.dilation == (1, 1)
                and self.groups == 1 and min(self.C, self.K) >= WINOGRAD_MIN_CHANNELS
                and tiles >= WINOGRAD_MIN_TILES)

    def direct_weight_grad_fits(self, with_input_grad=True):
        """Whether the direct weight-gradient kernel computes the weight gradient: where the
        forward pass is direct, unless the same backward also computes an input gradient
        that is a GEMM (LeNet's layers: too few channels to make). OpenBLAS's threads spin
        for a while after each product, and numba's threads woken right after find a core
        taken: LeNet conv2 forward + backward with two threads took 1.5-3.2 ms from one
        process to the next with the weight gradient direct, 1.7-2.0 ms with it a second
        BLAS product after the first (`bench_conv.py --threads 2 --rounds 3 --repeats 30
        --only lenet_conv2`)."""
        return self.direct_fits() and (not with_input_grad
                                       or self.direct_fits(input_grad=True))

    def window_args(self):
        return (self.kernel, self.stride, self.pad, self.dilation, (self.out_h, self.out_w))

    def chunks(self, itemsize):
        """The pieces the columns are built in, as (n0, b, y0, y1): images n0..n0+b-1, output
        rows y0..y1-1. Whole images, as many as fit in COLUMN_BUDGET_BYTES (at least
        MIN_CHUNK_COLUMNS output pixels); an image whose columns alone are bigger is cut into
        bands of output rows that fit (an FCN's 262x262 map with 16 channels has 40 MB of
        columns per image)."""
        kh, kw = self.kernel
        per_row = self.C * kh * kw * self.out_w * itemsize
        per_image = per_row * self.out_h
        if per_image <= COLUMN_BUDGET_BYTES:
            P = self.out_h * self.out_w
            m = max(COLUMN_BUDGET_BYTES // max(per_image, 1), -(-MIN_CHUNK_COLUMNS // P))
            m = max(1, min(m, self.N))
            return [(n0, min(m, self.N - n0), 0, self.out_h) for n0 in range(0, self.N, m)]
        band = max(1, COLUMN_BUDGET_BYTES // per_row)
        return [(n, 1, y0, min(y0 + band, self.out_h))
                for n in range(self.N) for y0 in range(0, self.out_h, band)]


def _chunk_columns(chunks, out_w):
    """The widest chunk's number of columns: the size of the buffers."""
    return max((b * (y1 - y0) * out_w for _, b, y0, y1 in chunks), default=0)


def _grid_rows(grid, n0, b, y0, y1, buf):
    """The columns of grid (N, K, H', W') for a chunk, as a (K, b*(y1-y0)*W') matrix.

    One image: a view of its rows y0..y1-1, no copy (each of the K rows is a contiguous run,
    which the matrix product reads with a row stride). Several images: (b, K, h*w) ->
    (K, b*h*w) copied into buf."""
    N, K, h, w = grid.shape
    if b == 1:
        return grid[n0].reshape(K, h * w)[:, y0 * w:y1 * w]
    rows = buf[:K * b * h * w].reshape(K, b, h * w)
    np.copyto(rows, grid[n0:n0 + b].reshape(b, K, h * w).transpose(1, 0, 2))
    return rows.reshape(K, b * h * w)


# The weight gradient is the sum over chunks of grid_rows @ cols.T, (K, R). OpenBLAS runs
# the same product as (cols @ grid_rows.T).T as fast or faster (up to 2x with few filters,
# LeNet's and ConvNetJS's), so that transposed sum is what is kept; turning it the right way
# at the end is a strided copy of K*R numbers (~5 ns each), negligible next to the K*R*N*H'*W'
# multiply-adds unless the batch has few output pixels (ResNet's last layers: 512 x 4608 at
# 2x2 took 16 ms to turn, 4 ms to compute). Below this many output pixels, no transpose.
_DW_TRANSPOSED_FROM_PIXELS = 1024


@_threads.own_threads
def _im2col_pass(g, image, weight=None, grid=None, direct_dw=True):
    """Columns of `image`, contracted two ways (either may be skipped):

    image (N, C, H, W) C-contiguous; weight (K, C/G, kh, kw) -> out (N, K, out_h, out_w),
    the convolution; grid (N, K, out_h, out_w) C-contiguous -> dw (K, C/G, kh, kw), the
    weight gradient of <conv(image, W), grid>. Returns (out or None, dw or None).

    Where the direct kernel fits (g.direct_fits()), it computes both, the weight gradient
    only if direct_dw (the caller's g.direct_weight_grad_fits(...)).
    """
    G, K = g.groups, g.K
    Kg, Cg = K // G, g.C // G
    kh, kw = g.kernel
    dtype = image.dtype
    want_out, want_dw = weight is not None, grid is not None
    out = np.empty(g.grid_shape, dtype) if want_out else None
    dw = None
    if g.direct_fits():
        if want_out:
            _direct_conv(g, image, weight, out, g.pad)
            want_out = False
        if want_dw and direct_dw:
            dw = _direct_weight_grad(g, image, np.ascontiguousarray(grid))
        if dw is not None or not want_dw:
            return out, dw
        # not direct_dw, or an inf or NaN in the input: the weight gradient is computed
        # below, where only real products add up

    if g.winograd_fits():
        if want_out and _winograd_conv(image, weight, out, g.pad):
            want_out = False
        if want_dw:
            dw = _winograd_weight_grad(image, np.ascontiguousarray(grid), g.pad)
            if dw is not None:
                want_dw = False
        if not (want_out or want_dw):
            return out, dw
        # an inf or NaN in the input: computed below, where only real products add up

    if g.is_depthwise:
        dw = np.zeros((K, kh, kw), dtype) if want_dw else None
        if want_out:
            KD.depthwise_forward(image, weight, out, *_flat_window(g))
        if want_dw:
            KD.depthwise_weight_grad(image, np.ascontiguousarray(grid), dw,
                                     *_flat_window(g))
    elif g.is_pointwise:
        P = g.H * g.W
        planes = image.reshape(g.N, G, Cg, P)
        if want_out:
            _threads.matmul_by_rows(weight.reshape(G, Kg, Cg), planes,
                                    out.reshape(g.N, G, Kg, P))
        if want_dw:
            # one product per image; summing N small (Kg, Cg) results is cheap
            dw = _threads.matmul_by_rows(grid.reshape(g.N, G, Kg, P),
                                         planes.transpose(0, 1, 3, 2)).sum(0)
    else:
        chunks = g.chunks(image.itemsize)
        width = _chunk_columns(chunks, g.out_w)
        w_rows = weight.reshape(G, Kg, Cg * kh * kw) if want_out else None
        transposed = g.N * g.out_h * g.out_w >= _DW_TRANSPOSED_FROM_PIXELS
        # each run of chunks returns the sum of its weight gradients; they add up in order
        runs, split = _share(g, chunks, width)
        parts = _threads.run_all([partial(_im2col_chunks, g, image, run, width, w_rows,
                                          out if want_out else None,
                                          grid if want_dw else None, transposed, split)
                                  for run in runs])
        parts = [p for p in parts if p is not None]
        if want_dw:
            dw = parts[0] if parts else np.zeros((G, Kg, Cg * kh * kw), dtype)
            for part in parts[1:]:
                dw += part
            if parts and transposed:
                dw = dw.transpose(0, 2, 1)
    if want_dw:
        dw = np.ascontiguousarray(dw).reshape(K, Cg, kh, kw)
    return out, dw


@_threads.own_threads
def _col2im_pass(g, grid, weight):
    """The adjoint of the convolution in the image: grid (N, K, out_h, out_w) and weight
    (K, C/G, kh, kw) -> image (N, C, H, W) = d/d image <conv(image, weight), grid>."""
    G, K = g.groups, g.K
    Kg, Cg = K // G, g.C // G
    kh, kw = g.kernel
    dtype = grid.dtype
    image = np.empty(g.image_shape, dtype)
    grid = np.ascontiguousarray(grid)

    # a stride-1 convolution's input gradient is a stride-1 convolution of the grid with
    # the kernel flipped and its channels swapped, padded by the kernel's reach minus the
    # forward's padding
    (dh, dw) = g.dilation
    reach = (dh * (kh - 1) - g.pad[0], dw * (kw - 1) - g.pad[1])
    if g.direct_fits(input_grad=True):
        _direct_conv(g, grid, _flipped(weight), image, reach)
        return image
    if g.winograd_fits() and _winograd_conv(grid, weight, image, reach, flip=True):
        return image
    # (else an inf or NaN in the grid or the weight: the columns below)
    if g.is_depthwise:
        KD.depthwise_input_grad(grid, weight, image, *_flat_window(g))
    elif g.is_pointwise:
        P = g.H * g.W
        _threads.matmul_by_rows(weight.reshape(G, Kg, Cg).transpose(0, 2, 1),
                                grid.reshape(g.N, G, Kg, P), image.reshape(g.N, G, Cg, P))
    else:
        chunks = g.chunks(dtype.itemsize)
        w_cols = weight.reshape(G, Kg, Cg * kh * kw).transpose(0, 2, 1)
        # the bands of one image add onto each other: a run holds whole images
        width = _chunk_columns(chunks, g.out_w)
        runs, split = _share(g, chunks, width, whole_images=True)
        _threads.run_all([partial(_col2im_chunks, g, grid, run, width, w_cols, image, split)
                          for run in runs])
    return image


def _share(g, chunks, width, whole_images=False):
    """(runs, split): the chunks as runs, one per thread that shares the pass
    (scratchnet/_threads.py), contiguous, of about equal columns (with whole_images a run
    starts only at an image's first band), and split = 1; or, when the pass is not shared,
    one run of all the chunks and split = the threads between which each product's rows are
    cut (_threads.matmul_by_rows; it cuts only products big enough).

    Sharing splits the columns between the threads, and each thread reads all of the weights
    (and makes a whole weight gradient, added up at the end); OpenBLAS's threads split the
    weights and each reads all of the columns. So a pass is shared only where a chunk's
    columns outnumber the filters SHARE_MIN_COLUMNS_PER_FILTER times: ResNet-18's 3x3 layers
    at batch 8 (forward, then both backward products, ms, two threads, BLAS threads -> shared):
    64 filters on 56x56 maps, 1,792 columns: 23-34 -> 12-14, 46-58 -> 26; 512 filters on 7x7
    maps, 196 columns: 17-18 -> 16-18, 28-30 -> 36-41. There the pass stays one run, and
    its products are cut by rows between the same threads instead. (Measured before these
    layers went to Winograd's F(2x2, 3x3), which cuts its tiles between the threads the same
    way, see _tile_runs; the rule holds for the strided, 1x1 and larger kernels left here.)"""
    parts = _threads.workers()
    kh, kw = g.kernel
    work = g.K * g.C // g.groups * kh * kw * g.N * g.out_h * g.out_w     # multiply-adds
    if (parts < 2 or not chunks or work < _threads.MIN_WORK * parts
            or width < SHARE_MIN_COLUMNS_PER_FILTER * (g.K // g.groups)):
        return [chunks], parts
    if chunks[0][1] > 1:
        # whole images, several per chunk: as many chunks as fit, rounded up to a multiple of
        # the threads, of equal numbers of images (ResNet-18's 128 filters on 8x8 maps at
        # batch 16 made chunks of 14 and 2 images; now 8 and 8)
        count = -(-len(chunks) // parts) * parts
        m = -(-g.N // count)
        chunks = [(n0, min(m, g.N - n0), 0, g.out_h) for n0 in range(0, g.N, m)]
    elif len(chunks) < parts:
        # one image (or its few bands): each in thinner bands, enough for every thread
        k = -(-parts // len(chunks))
        chunks = [(n0, 1, r, min(r + step, y1)) for n0, _, y0, y1 in chunks
                  for step in [-(-(y1 - y0) // k)] for r in range(y0, y1, step)]
    sizes = [b * (y1 - y0) for _, b, y0, y1 in chunks]
    cuts = [y0 == 0 for _, _, y0, _ in chunks] if whole_images else None
    runs = [[chunks[i] for i in run] for run in _threads.split(sizes, parts, cuts)]
    # a pass that still ends up one run (one image's bands in the col2im pass) cuts its rows
    return runs, (parts if len(runs) == 1 else 1)


def _im2col_chunks(g, image, chunks, width, w_rows, out, grid, transposed, split=1):
    """_im2col_pass's loop over some of its chunks, with buffers of its own: writes their part
    of out (if given) and returns the sum of their weight gradients (if grid is given), as
    (G, Rg, Kg) if transposed else (G, Kg, Rg). split: see _share."""
    G, K, ow = g.groups, g.K, g.out_w
    kh, kw = g.kernel
    R, Kg, P = g.C * kh * kw, K // G, g.out_h * ow
    cols_buf = np.empty(R * width, image.dtype)
    grid_buf = np.empty(K * width, image.dtype)
    shape = (G, R // G, Kg) if transposed else (G, Kg, R // G)
    # the first chunk's product is the sum so far; later ones go through one buffer
    dw, part = None, (np.empty(shape, image.dtype) if grid is not None and len(chunks) > 1
                      else None)
    for n0, b, y0, y1 in chunks:
        L = b * (y1 - y0) * ow
        cols = im2col(image[n0:n0 + b], *g.window_args(), rows=(y0, y1),
                      out=cols_buf[:R * L].reshape(R, L)).reshape(G, R // G, L)
        if out is not None:
            if b == 1:      # straight into the output, whose rows y0..y1-1 are a view
                _threads.matmul_by_rows(w_rows, cols,
                                        out[n0].reshape(G, Kg, P)[:, :, y0 * ow:y1 * ow], split)
            else:
                y = _threads.matmul_by_rows(w_rows, cols, grid_buf[:K * L].reshape(G, Kg, L),
                                            split)
                out[n0:n0 + b] = y.reshape(K, b, g.out_h, ow).transpose(1, 0, 2, 3)
        if grid is not None:
            rows = _grid_rows(grid, n0, b, y0, y1, grid_buf).reshape(G, Kg, L)
            a, b_t = ((cols, rows.transpose(0, 2, 1)) if transposed
                      else (rows, cols.transpose(0, 2, 1)))
            if dw is None:
                dw = _threads.matmul_by_rows(a, b_t, np.empty(shape, image.dtype), split)
            else:
                dw += _threads.matmul_by_rows(a, b_t, part, split)
    return dw


def _col2im_chunks(g, grid, chunks, width, w_cols, image, split=1):
    """_col2im_pass's loop over some of its chunks (whole images), with buffers of its own.
    split: see _share."""
    G, K, ow = g.groups, g.K, g.out_w
    kh, kw = g.kernel
    R, Kg = g.C * kh * kw, K // G
    cols_buf = np.empty(R * width, grid.dtype)
    grid_buf = np.empty(K * width, grid.dtype)
    for n0, b, y0, y1 in chunks:
        L = b * (y1 - y0) * ow
        rows = _grid_rows(grid, n0, b, y0, y1, grid_buf).reshape(G, Kg, L)
        cols = _threads.matmul_by_rows(w_cols, rows, cols_buf[:R * L].reshape(G, R // G, L),
                                       split)
        # the bands of one image overlap by the kernel's reach: later bands add on
        col2im(cols.reshape(R, L), (b, g.C, g.H, g.W), *g.window_args(), rows=(y0, y1),
               out=image[n0:n0 + b], accumulate=y0 > 0)


def _flipped(weight):
    """(K, C, kh, kw) -> (C, K, kh, kw) turned by 180 degrees: the kernel of the input
    gradient of a stride-1 convolution."""
    return np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def _tile_runs(image_count, out_hw, channels, block_tiles):
    """(tile rows of the batch, tiles per row, runs): the batch's rows of 2x2 output tiles in
    blocks of at most about block_tiles tiles, as (r0, r1), their sizes at most one row
    apart, and those blocks in runs, one per thread that shares the pass
    (scratchnet/_threads.py), or one run if too little work (channels: the multiply-adds per
    tile and 4x4 position)."""
    tiles_h, tiles_w = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    rows = image_count * tiles_h
    count = -(-rows // max(1, block_tiles // tiles_w))          # blocks
    parts = _threads.workers()
    shared = parts >= 2 and 16 * channels * rows * tiles_w >= _threads.MIN_WORK * parts
    if shared:
        # rounded up to a multiple of the threads (3x3 at 28's weight gradient: 7 blocks of
        # 16 tile rows, 4 on one thread and 3 on the other; now 8 of 14)
        count = min(-(-count // parts) * parts, rows)
    blocks = [(rows * i // count, rows * (i + 1) // count) for i in range(count)]
    if not shared:
        return tiles_h, tiles_w, [blocks]
    runs = _threads.split([r1 - r0 for r0, r1 in blocks], parts)
    return tiles_h, tiles_w, [[blocks[i] for i in run] for run in runs]


def _tiles(buf, rows, tiles):
    """A (rows, 16, tiles) array at the start of buf, flat."""
    return buf[:rows * 16 * tiles].reshape(rows, 16, tiles)


def _by_position(a):
    """(rows, 16, cols) -> the 16 matrices (16, rows, cols), a view."""
    return a.transpose(1, 0, 2)


def _winograd_conv(image, weight, out, pad, flip=False):
    """out (N, K, H', W') = the 3x3 stride-1 convolution of image (N, C, H, W) with weight
    (K, C, 3, 3), padded by pad = (top, left), by Winograd's F(2x2, 3x3); with flip, with
    _flipped(weight) (C, K, 3, 3) instead. False (out unfinished) if an output came out inf
    or NaN: the transforms add and subtract pixels before they are weighted, so an inf pixel
    can meet an inf of the other sign and make a NaN where the direct sum has inf; the
    caller then computes the pass the direct way."""
    K, C = weight.shape[:2]
    if flip:
        K, C = C, K
    U = np.empty((K, 16, C), weight.dtype)
    KW.filter_transform(weight, flip, U)
    tiles_h, tiles_w, runs = _tile_runs(image.shape[0], out.shape[2:], K * C,
                                        WINOGRAD_BLOCK_TILES)
    bad = _threads.run_all([partial(_winograd_conv_blocks, image, _by_position(U), out, pad,
                                    tiles_h, tiles_w, blocks) for blocks in runs])
    return sum(bad) == 0


def _winograd_conv_blocks(image, U, out, pad, tiles_h, tiles_w, blocks):
    """_winograd_conv's loop over some blocks of tile rows, with buffers of its own; how many
    outputs came out inf or NaN. U: the 16 (K, C) matrices."""
    (N, C, H, W), K = image.shape, out.shape[1]
    most = max(r1 - r0 for r0, r1 in blocks) * tiles_w
    V_buf, M_buf = np.empty(C * 16 * most, image.dtype), np.empty(K * 16 * most, image.dtype)
    xf = image.reshape(-1)
    bad = 0
    for r0, r1 in blocks:
        L = (r1 - r0) * tiles_w
        V, M = _tiles(V_buf, C, L), _tiles(M_buf, K, L)
        KW.input_transform(xf, C, H, W, r0, r1, tiles_h, pad[0], pad[1], V)
        with np.errstate(invalid="ignore", over="ignore"):   # counted below, redone if any
            np.matmul(U, _by_position(V), out=_by_position(M))
        bad += KW.output_transform(M, r0, r1, tiles_h, out)
    return bad


def _winograd_weight_grad(image, grid, pad):
    """The weight gradient (K, C, 3, 3) of the 3x3 stride-1 convolution of image
    (N, C, H, W) padded by pad, given the output gradient grid (N, K, H', W'), by the
    adjoint of Winograd's F(2x2, 3x3): dU = sum over tiles of dM V^T, dW = G^T dU G. Partial
    sums per run, added in order. None if it is not finite (see _winograd_conv)."""
    (N, C), K = image.shape[:2], grid.shape[1]
    tiles_h, tiles_w, runs = _tile_runs(N, grid.shape[2:], K * C, WINOGRAD_GRAD_BLOCK_TILES)
    parts = _threads.run_all([partial(_winograd_weight_grad_blocks, image, grid, pad,
                                      tiles_h, tiles_w, blocks) for blocks in runs])
    dU = parts[0]
    for part in parts[1:]:
        dU += part
    dw = np.empty((K, C, 3, 3), dU.dtype)
    KW.filter_grad(dU, dw)
    return dw if np.isfinite(dw).all() else None


def _winograd_weight_grad_blocks(image, grid, pad, tiles_h, tiles_w, blocks):
    """_winograd_weight_grad's loop over some blocks of tile rows: their part of dU
    (K, 16, C)."""
    (N, C, H, W), (K, out_h, out_w) = image.shape, grid.shape[1:]
    most = max(r1 - r0 for r0, r1 in blocks) * tiles_w
    V_buf, dM_buf = np.empty(C * 16 * most, image.dtype), np.empty(K * 16 * most, image.dtype)
    xf, gf = image.reshape(-1), grid.reshape(-1)
    # the first block's product is the sum so far; later ones go through one buffer
    dU = np.empty((K, 16, C), image.dtype)
    part = np.empty_like(dU) if len(blocks) > 1 else None
    for i, (r0, r1) in enumerate(blocks):
        L = (r1 - r0) * tiles_w
        V, dM = _tiles(V_buf, C, L), _tiles(dM_buf, K, L)
        KW.input_transform(xf, C, H, W, r0, r1, tiles_h, pad[0], pad[1], V)
        KW.grad_transform(gf, K, out_h, out_w, r0, r1, tiles_h, dM)
        with np.errstate(invalid="ignore", over="ignore"):   # checked at the end, redone
            np.matmul(_by_position(dM), _by_position(V).transpose(0, 2, 1),
                      out=_by_position(dU if i == 0 else part))
            if i > 0:
                dU += part
    return dU


def _direct_conv(g, image, weight, out, pad):
    """out (N, K', H', W') = the stride-1 convolution of image (N, C', H, W) by weight
    (K', C', kh, kw) padded by pad = (top, left), with the kernel: g gives the dilation."""
    B, run, length = KDIR.direct_geometry(image.shape, g.kernel, out.shape[2:], g.dilation)
    return KDIR.direct_conv2d(image, weight, out, pad[0], pad[1], *g.dilation, B, run, length)


def _direct_weight_grad(g, image, grid):
    """The weight gradient (K, C, kh, kw) of the stride-1 convolution g of image (N, C, H, W),
    given the output gradient grid (N, K, H', W'), with the kernel: partial sums over runs of
    images, added here in a fixed order (the same for any number of threads).

    None when the result is not finite: the kernel's sums also run over the thrown-away
    positions of its wide rows, where the output gradient is 0, and 0 * inf = NaN there
    would turn a weight that never sees an inf pixel into NaN. With finite inputs those
    products are exact zeros; otherwise the caller computes the gradient with im2col."""
    B, run, length = KDIR.direct_geometry(image.shape, g.kernel, grid.shape[2:], g.dilation)
    partial = np.empty((KDIR.weight_grad_slots(g.N, B), g.K, g.C) + g.kernel, image.dtype)
    KDIR.direct_conv2d_weight_grad(image, grid, partial, *g.pad, *g.dilation, B, run, length)
    dw = partial.sum(axis=0)
    return dw if np.isfinite(dw).all() else None


def _flat_window(g):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g.kernel, g.stride, g.pad, g.dilation
    return kh, kw, sh, sw, ph, pw, dh, dw


def _check_arrays(op, x, weight, bias, spatial):
    """dtypes and ranks; returns (x with a batch dimension, whether one was added)."""
    names = {1: "(N, C, L)", 2: "(N, C, H, W)"}[spatial]
    unbatched = {1: "(C, L)", 2: "(C, H, W)"}[spatial]
    for name, a in (("input", x), ("weight", weight), ("bias", bias)):
        if a is not None and not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: {name} must be a Tensor or an ndarray, got "
                            f"{type(a).__name__}")
    if weight.dtype not in _FLOATS:
        raise TypeError(f"{op}: the weight must be float32 or float64, got {weight.dtype}")
    if x.dtype != weight.dtype:
        hint = "call .float() on the input" if x.dtype.kind in "biu" else \
            "convert one with .to() so both match"
        raise TypeError(f"{op}: the input is {x.dtype} but the weight is {weight.dtype}; "
                        f"{hint} (PyTorch refuses mixed dtypes too)")
    if bias is not None and bias.dtype != weight.dtype:
        raise TypeError(f"{op}: the bias is {bias.dtype} but the weight is {weight.dtype}")
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: expected a {spatial + 2}-D {names} input or a {spatial + 1}-D "
                         f"{unbatched} unbatched one, got a {x.ndim}-D input of shape "
                         f"{tuple(x.shape)}")
    if weight.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 2}-D weight, got shape "
                         f"{tuple(weight.shape)}")
    if 0 in weight.shape[2:]:
        # numba would happily slide an empty window and return uninitialised memory
        sizes = " x ".join(str(k) for k in weight.shape[2:])
        raise ValueError(f"{op}: kernel size should be greater than zero, but the weight "
                         f"{tuple(weight.shape)} has a {sizes} kernel (as in PyTorch)")
    added = x.ndim == spatial + 1
    x = x[None] if added else x
    if 0 in x.shape[2:] or x.shape[1] == 0:
        raise ValueError(f"{op}: the input {tuple(x.shape)} has an empty dimension")
    return x, added


def _check_groups(op, layer, groups, c_in, c_out):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    for what, n in (("input", c_in), ("output", c_out)):
        if n % groups:
            raise ValueError(f"{layer}: groups={groups} must divide the {n} {what} channels, "
                             f"but {n} % {groups} = {n % groups}")


def _conv_geometry(op, x, weight, bias, stride, padding, dilation, groups, spatial=2):
    """Check a convolution's arguments (x already 4-D); return its ConvGeometry.
    spatial=1: a conv1d seen as a conv2d of height 1, described in 1-D terms."""
    N, C, H, W = x.shape
    K, Cg, kh, kw = weight.shape
    s = ntuple(stride, 2, "stride", op, 1)
    d = ntuple(dilation, 2, "dilation", op, 1)
    span = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple, "
                             f"got {padding!r}")
        if padding == "same" and s != (1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided "
                             f"convolutions (stride={stride}), as in PyTorch")
        p = (0, 0) if padding == "valid" else None
    else:
        p = ntuple(padding, 2, "padding", op, 0)
    shown = slice(2 - spatial, 2)
    layer = describe_window(op, (kh, kw)[shown], s[shown], padding if p is None else p[shown],
                            d[shown], channels=(C, K), groups=groups)
    if isinstance(groups, (int, np.integer)) and groups >= 1 and Cg * groups != C:
        raise ValueError(f"{layer}: the input has {C} channels but the weight "
                         f"{tuple(weight.shape)} expects weight.shape[1] * groups = "
                         f"{Cg} * {groups} = {Cg * groups}")
    _check_groups(op, layer, groups, Cg * groups if isinstance(groups, int) else C, K)
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"{layer}: the bias must have shape ({K},), one per output channel, "
                         f"got {tuple(bias.shape)}")
    if p is None:
        # 'same': total padding span - 1 per dimension, the odd pixel after the last one
        top, left = (span[0] - 1) // 2, (span[1] - 1) // 2
        out_hw = (H, W)
    else:
        top, left = p
        out_hw = (conv_output_size(H, kh, s[0], p[0], d[0], layer=f"{layer} height"),
                  conv_output_size(W, kw, s[1], p[1], d[1],
                                   layer=f"{layer} {'width' if spatial == 2 else 'length'}"))
    return ConvGeometry(N, C, H, W, K, int(groups), (kh, kw), s, (top, left), d, out_hw)


def _conv_transpose_geometry(op, x, weight, bias, stride, padding, output_padding, groups,
                             dilation):
    """Check a transposed convolution's arguments (x already 4-D). Returns the geometry of
    the convolution it is the transpose of: its output is that convolution's image."""
    N, C_in, H, W = x.shape
    C_w, Kg, kh, kw = weight.shape
    s = ntuple(stride, 2, "stride", op, 1)
    p = ntuple(padding, 2, "padding", op, 0)
    op_ = ntuple(output_padding, 2, "output_padding", op, 0)
    d = ntuple(dilation, 2, "dilation", op, 1)
    ok_groups = isinstance(groups, (int, np.integer)) and not isinstance(groups, bool) \
        and groups >= 1
    c_out = Kg * groups if ok_groups else Kg
    layer = describe_window(op, (kh, kw), s, p, d, channels=(C_in, c_out), groups=groups,
                            output_padding=op_)
    if C_w != C_in:
        raise ValueError(f"{layer}: the input has {C_in} channels but the weight "
                         f"{tuple(weight.shape)} expects weight.shape[0] = {C_w} "
                         f"(a transposed convolution's weight is (in, out/groups, kh, kw))")
    _check_groups(op, layer, groups, C_in, c_out)
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{layer}: the bias must have shape ({c_out},), one per output "
                         f"channel, got {tuple(bias.shape)}")
    out_h = conv_transpose_output_size(H, kh, s[0], p[0], op_[0], d[0],
                                       layer=f"{layer} height")
    out_w = conv_transpose_output_size(W, kw, s[1], p[1], op_[1], d[1],
                                       layer=f"{layer} width")
    return ConvGeometry(N, c_out, out_h, out_w, C_in, int(groups), (kh, kw), s, p, d, (H, W))


def _conv_forward(ctx, op, spatial, x, weight, bias, stride, padding, dilation, groups):
    x_shape, w_shape = x.shape, weight.shape
    x, _ = _check_arrays(op, x, weight, bias, spatial)
    if spatial == 1:
        # a 1-D convolution is a 2-D one on images of height 1
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        (s,), (d,) = ntuple(stride, 1, "stride", op), ntuple(dilation, 1, "dilation", op)
        stride, dilation = (1, s), (1, d)
        if not isinstance(padding, str):
            padding = (0,) + ntuple(padding, 1, "padding", op)
    g = _conv_geometry(op, x, weight, bias, stride, padding, dilation, groups, spatial)
    x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
    out, _ = _im2col_pass(g, x, weight=weight)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    if any(ctx.needs_input_grad[:2]):
        # the input, not the columns: backward rebuilds them (k*k times less memory held)
        ctx.save_for_backward(x, weight)
    ctx.geometry, ctx.shapes = g, (x_shape, w_shape)
    return out.reshape(x_shape[:-spatial - 1] + (g.K,) + out.shape[4 - spatial:])


def _conv_backward(ctx, grad):
    g = ctx.geometry
    x_shape, w_shape = ctx.shapes
    need_x, need_w, need_b = (tuple(ctx.needs_input_grad) + (False,) * 3)[:3]
    grad = np.ascontiguousarray(grad).reshape(g.grid_shape)
    dx = dw = db = None
    if need_x:
        dx = _col2im_pass(g, grad, ctx.saved_arrays[1]).reshape(x_shape)
    if need_w:
        dw = _im2col_pass(g, ctx.saved_arrays[0], grid=grad,
                          direct_dw=g.direct_weight_grad_fits(need_x))[1].reshape(w_shape)
    if need_b:
        db = grad.sum(axis=(0, 2, 3))
    return (dx, dw, db)[:len(ctx.needs_input_grad)]


@register("conv2d")
class Conv2d(Function):
    """2-D convolution (cross-correlation) of a batch with K filters.

    x: (N, C, H, W) or (C, H, W); weight: (K, C/groups, kh, kw); bias: (K,) or None
    -> (N, K, H', W'), H' = floor((H + 2p - d*(kh-1) - 1)/s) + 1, and

    out[n, k, y, t] = bias[k] + sum over c of k's group, i, j of
                      weight[k, c, i, j] * x[n, c, y*s - p + i*d, t*s - p + j*d]

    with x = 0 in the padding.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return _conv_forward(ctx, "conv2d", 2, x, weight, bias, stride, padding, dilation,
                             groups)

    @staticmethod
    def backward(ctx, grad):
        return _conv_backward(ctx, grad)


@register("conv1d")
class Conv1d(Function):
    """1-D convolution: conv2d on images of height 1.

    x: (N, C, L) or (C, L); weight: (K, C/groups, k); bias: (K,) or None -> (N, K, L'),
    L' = floor((L + 2p - d*(k-1) - 1)/s) + 1.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return _conv_forward(ctx, "conv1d", 1, x, weight, bias, stride, padding, dilation,
                             groups)

    @staticmethod
    def backward(ctx, grad):
        return _conv_backward(ctx, grad)


@register("conv_transpose2d")
class ConvTranspose2d(Function):
    """Transposed convolution: the input gradient of conv2d, used as a layer.

    x: (N, C, H, W) or (C, H, W); weight: (C, K/groups, kh, kw); bias: (K,) or None
    -> (N, K, H'', W''), H'' = (H - 1)*s - 2p + d*(kh - 1) + output_padding + 1.

    Every input pixel scatters a copy of its kernel, scaled by its value, into the output
    (s pixels apart for neighbouring inputs); overlapping copies are summed; then p rows and
    columns are trimmed from each border. output_padding adds rows/columns at the bottom
    right, choosing among the sizes a stride-s convolution maps to the same H.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                dilation=1):
        op = "conv_transpose2d"
        x_shape = x.shape
        x, _ = _check_arrays(op, x, weight, bias, 2)
        g = _conv_transpose_geometry(op, x, weight, bias, stride, padding, output_padding,
                                     groups, dilation)
        x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        out = _col2im_pass(g, x, weight)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        if any(ctx.needs_input_grad[:2]):
            ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.x_shape = g, x_shape
        return out if len(x_shape) == 4 else out[0]

    @staticmethod
    def backward(ctx, grad):
        g = ctx.geometry
        need_x, need_w, need_b = (tuple(ctx.needs_input_grad) + (False,) * 3)[:3]
        grad = np.ascontiguousarray(grad).reshape(g.image_shape)
        dx = dw = db = None
        if need_x or need_w:
            x, weight = ctx.saved_arrays
            # one pass over the columns of grad serves both gradients
            dx, dw = _im2col_pass(g, grad, weight=weight if need_x else None,
                                  grid=x if need_w else None)
            dx = None if dx is None else dx.reshape(ctx.x_shape)
        if need_b:
            db = grad.sum(axis=(0, 2, 3))
        return (dx, dw, db)[:len(ctx.needs_input_grad)]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution, as torch.nn.functional.conv2d.

    (N, C, H, W) or (C, H, W) with weight (K, C/groups, kh, kw) -> (N, K, H', W').
    padding: an int, a pair (ph, pw), 'valid' (none) or 'same' (output size = input size,
    stride 1 only; an odd total goes after the last pixel, as in PyTorch).
    """
    return Conv2d.apply(as_tensor(input), _tensor_or_none(weight), _tensor_or_none(bias),
                        stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution, as torch.nn.functional.conv1d: (N, C, L) -> (N, K, L')."""
    return Conv1d.apply(as_tensor(input), _tensor_or_none(weight), _tensor_or_none(bias),
                        stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution, as torch.nn.functional.conv_transpose2d.

    (N, C, H, W) with weight (C, K/groups, kh, kw) -> (N, K, H'', W''),
    H'' = (H - 1)*s - 2p + d*(kh - 1) + output_padding + 1.
    """
    return ConvTranspose2d.apply(as_tensor(input), _tensor_or_none(weight),
                                 _tensor_or_none(bias), stride=stride, padding=padding,
                                 output_padding=output_padding, groups=groups,
                                 dilation=dilation)


def _tensor_or_none(v):
    return None if v is None else as_tensor(v)
