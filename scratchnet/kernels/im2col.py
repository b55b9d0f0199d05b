"""im2col and col2im: a convolution rewritten as one matrix product.

im2col copies every receptive field of a batch into a column of a matrix:

    x (N, C, H, W)  ->  cols (C*kh*kw, N*H'*W')

    cols[(c*kh + i)*kw + j, (n*H' + y)*W' + t] = x[n, c, y*sh - ph + i*dh, t*sw - pw + j*dw]

(0 where that tap falls in the padding). A convolution with weight (K, C, kh, kw) is then
`weight.reshape(K, C*kh*kw) @ cols`, a (K, N*H'*W') matrix: one GEMM for the whole batch.

col2im is the adjoint (the transpose) of im2col: it sends every entry of a column back to the
pixel it was copied from and sums the entries that land on the same pixel (windows overlap
whenever the stride is smaller than the kernel). So <im2col(x), c> == <x, col2im(c)> for every
x and c, which is exactly why col2im computes the input gradient of a convolution and the
forward pass of a transposed convolution.

Padding is given as the rows/columns added before the first pixel (top, left); the output
size (H', W') is passed in, so the caller decides how much padding there is after the last
pixel (PyTorch's padding='same' pads less on the left than on the right for even kernels).

Both kernels can work on a band of output rows y0 <= y < y1 instead of all of them: the
columns of a band are a contiguous block of the full matrix, so a large image (an FCN's
262x262 map) is built, multiplied and summed back band by band in a buffer that stays in the
cache, and col2im adds each band onto the image (neighbouring bands share input rows).

Row-major order of the rows keeps the weight layout (K, C, kh, kw) a plain reshape. Each
output row of a window is a run of W' taps with stride sw, so the kernels copy runs, not
single pixels, and zero the parts of a run that fall in the padding.

The kernels are serial on purpose. The GEMM that follows already runs one OpenBLAS thread
per core. On two shared cores a prange version was at best 1.6x faster alone (the 3x3
layers) but often stalled ~10 ms at its barrier while another process held a core, and its
idle threads compete with OpenBLAS's (benchmarks/bench_conv.py).

Indices inside the inner loops are unsigned: numba must otherwise check every index for
Python's negative wrap-around, and that check alone stops LLVM from vectorising the copies
(about 3x slower). The callers validate every argument; these kernels trust their input.
"""
from __future__ import annotations

import numpy as np
from numba import uint64

from ._jit import jit


@jit
def valid_range(first_tap, size, stride, out_size):
    """Output positions o in [lo, hi) whose tap o*stride + first_tap lies in [0, size).

    first_tap is j*d - p for tap j of the window: the input coordinate that output 0 reads.
    """
    lo = -(first_tap // stride)                  # ceil(-first_tap / stride)
    hi = -((first_tap - size) // stride)         # ceil((size - first_tap) / stride)
    lo = min(max(lo, 0), out_size)
    hi = min(max(hi, lo), out_size)
    return lo, hi


@jit
def im2col_kernel(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, y0, y1):
    """Fill cols (C*kh*kw, N*(y1-y0)*out_w) from x (N, C, H, W); both C-contiguous.

    Only output rows y0 <= y < y1 are built (all of them: y0 = 0, y1 = out_h), so a large
    image can be cut into bands of rows whose columns fit in the cache."""
    N, C, H, W = x.shape
    P = (y1 - y0) * out_w
    L = N * P
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    usw = uint64(sw)
    for c in range(C):
        for i in range(kh):
            ylo, yhi = valid_range(i * dh - ph, H, sh, out_h)
            for j in range(kw):
                xlo, xhi = valid_range(j * dw - pw, W, sw, out_w)
                row = (c * kh + i) * kw + j
                for n in range(N):
                    for y in range(y0, y1):
                        dst = uint64(row * L + n * P + (y - y0) * out_w)
                        if y < ylo or y >= yhi:
                            for t in range(uint64(out_w)):
                                cf[dst + t] = 0
                            continue
                        src = uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                     + xlo * sw + j * dw - pw)
                        for t in range(uint64(xlo)):
                            cf[dst + t] = 0
                        run = dst + uint64(xlo)
                        if sw == 1:
                            for t in range(uint64(xhi - xlo)):
                                cf[run + t] = xf[src + t]
                        else:
                            for t in range(uint64(xhi - xlo)):
                                cf[run + t] = xf[src + t * usw]
                        for t in range(uint64(xhi), uint64(out_w)):
                            cf[dst + t] = 0
    return cols


@jit
def col2im_kernel(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, y0, y1, zero):
    """x (N, C, H, W) += the columns of cols (C*kh*kw, N*(y1-y0)*out_w), each at its pixel.

    The columns are those of output rows y0 <= y < y1 (all of them: 0, out_h), as im2col
    builds them; a band of rows adds into x on top of the bands before it. zero: overwrite x
    with zeros first (the first band). Both C-contiguous."""
    N, C, H, W = x.shape
    P = (y1 - y0) * out_w
    L = N * P
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    if zero:
        for t in range(uint64(xf.size)):
            xf[t] = 0
    usw = uint64(sw)
    for c in range(C):
        for i in range(kh):
            ylo, yhi = valid_range(i * dh - ph, H, sh, out_h)
            ylo, yhi = max(ylo, y0), min(yhi, y1)
            for j in range(kw):
                xlo, xhi = valid_range(j * dw - pw, W, sw, out_w)
                row = (c * kh + i) * kw + j
                for n in range(N):
                    for y in range(ylo, yhi):
                        src = uint64(row * L + n * P + (y - y0) * out_w + xlo)
                        dst = uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                     + xlo * sw + j * dw - pw)
                        if sw == 1:
                            for t in range(uint64(xhi - xlo)):
                                xf[dst + t] += cf[src + t]
                        else:
                            for t in range(uint64(xhi - xlo)):
                                xf[dst + t * usw] += cf[src + t]
    return x


def im2col(x, kernel_size, stride, padding, dilation, out_size, out=None, rows=None):
    """Receptive fields as columns.

    x: (N, C, H, W) C-contiguous; kernel_size, stride, dilation: (h, w) pairs; padding:
    (top, left); out_size: (H', W'). rows: optional (y0, y1), only the windows of output
    rows y0..y1-1 (default: all H'). out: optional C-contiguous (C*kh*kw, N*(y1-y0)*W')
    buffer of x's dtype to fill (reused across calls to spare an allocation).
    Returns cols: (C*kh*kw, N*(y1-y0)*W').
    """
    N, C = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = (kernel_size, stride, padding,
                                                          dilation, out_size)
    y0, y1 = (0, oh) if rows is None else rows
    if out is None:
        out = np.empty((C * kh * kw, N * (y1 - y0) * ow), dtype=x.dtype)
    return im2col_kernel(x, out, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, y0, y1)


def col2im(cols, input_shape, kernel_size, stride, padding, dilation, out_size, out=None,
           rows=None, accumulate=False):
    """The adjoint of im2col: scatter columns back to pixels, summing overlaps.

    cols: (C*kh*kw, N*(y1-y0)*W') C-contiguous; input_shape: (N, C, H, W); the other
    arguments as in im2col. out: optional C-contiguous (N, C, H, W) buffer of cols' dtype,
    overwritten, or added to with accumulate=True (how the bands of one image add up).
    Returns x: (N, C, H, W).
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = (kernel_size, stride, padding,
                                                          dilation, out_size)
    y0, y1 = (0, oh) if rows is None else rows
    if out is None:
        out = np.empty(input_shape, dtype=cols.dtype)
    return col2im_kernel(cols, out, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, y0, y1,
                         not accumulate)
