# %% [markdown] lang="ko"
# # im2col: 합성곱은 행렬 곱 한 번이다
#
# CNN 기초 (deck 004)의 "합성곱층의 이해"를 따라간다: "합성곱이란?" (출력 하나하나는 필터와 그
# 아래 조각의 **내적** (dot product)이다: 5x5 * 3x3 예시), "3x32x32 이미지" / "3x5x5 filter"
# (3*5*5개 숫자의 내적), "6개의 필터로 6개의 활성화 맵", "2개의 이미지" (이미지 두 장의 배치),
# 그리고 "왜 전치인가?" (합성곱을 행렬로 쓰면 왜 **전치** (transpose)가 나오는가).
#
# 슬라이드는 출력 위치마다 내적을 하나씩 계산한다. Python으로 그대로 쓰면 느리다. 모든
# 프레임워크가 쓰는 요령(CS231n은 im2col, "image to columns"라 부른다)은 모든 조각을 행렬의 한
# 열로 복사하는 것이다. 그러고 나면 모든 필터, 모든 위치, 배치의 모든 이미지에 대한 내적이 행렬 곱
# 한 번이 되고, BLAS 라이브러리가 이를 최고 속도로 계산한다. 그 수반(adjoint)인 col2im이
# **역전파** (backpropagation)이다.

# %% [markdown] lang="en"
# # im2col: a convolution is one matrix product
#
# Follows CNN 기초 (deck 004), "합성곱층의 이해" (understanding the convolution layer):
# "합성곱이란?" (each output is the dot product of a filter with the patch under it: the
# 5x5 * 3x3 example), "3x32x32 이미지" / "3x5x5 filter" (a dot product of 3*5*5 numbers), "6개의
# 필터로 6개의 활성화 맵" (six filters) and "2개의 이미지" (a batch of two), and "왜 전치인가?"
# (why "transposed": the convolution as a matrix).
#
# The slides compute one dot product per output position. Written that way in Python it is slow;
# the trick every framework uses (CS231n calls it im2col, "image to columns") copies every patch
# into a column of a matrix, after which all the dot products, for all filters, all positions
# and all images of the batch, are a single matrix product that the BLAS library runs at full
# speed. Its adjoint, col2im, is the backward pass.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.kernels.im2col import col2im, im2col
from scratchnet.lesson import check, fast, header, plt, savefig

header("CNN 기초 (deck 004)",
       "합성곱이란? / 3x32x32 이미지 / 6개의 필터로 6개의 활성화 맵 / 2개의 이미지 / 왜 전치인가?",
       "im2col: convolution as a matrix product", ko="im2col: 합성곱을 행렬 곱으로")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 손으로 하는 im2col
#
# 입력 (N, C, H, W)와 kh x kw 창에 대해, 출력 위치 (n, y, x)마다 입력 값 C*kh*kw개를 필터 가중치와
# 같은 순서(채널, 행, 열 순)로 담은 열이 하나씩 생긴다. 모든 위치의 열을 나란히 놓으면 cols
# (C*kh*kw, N*H'*W')가 된다.

# %% [markdown] lang="en"
# ## im2col by hand
#
# For an input (N, C, H, W) and a kh x kw window, each output position (n, y, x) gets one
# column holding its C*kh*kw input values, in the same order as a filter's weights
# (channel, then row, then column). The columns of all positions side by side form
# cols (C*kh*kw, N*H'*W').

# %%
def im2col_loops(x, kh, kw, stride=1):
    """x (N, C, H, W) -> cols (C*kh*kw, N*H'*W'), one column per window (no padding)."""
    N, C, H, W = x.shape
    out_h, out_w = (H - kh) // stride + 1, (W - kw) // stride + 1
    cols = np.empty((C * kh * kw, N * out_h * out_w), dtype=x.dtype)
    for n in range(N):
        for y in range(out_h):
            for t in range(out_w):
                patch = x[n, :, y * stride:y * stride + kh, t * stride:t * stride + kw]
                cols[:, (n * out_h + y) * out_w + t] = patch.ravel()
    return cols


# %% [markdown] lang="ko"
# CNN 기초 (deck 004)의 예시에서 5x5 이미지에는 3x3 = 9개의 창이 있으므로 cols는 9 x 9이다. 필터를
# 펼치면 1 x 9 행이 되고, 곱은 1 x 9 특징 맵이며 그 첫 값이 슬라이드의 4이다.

# %% [markdown] lang="en"
# On deck 004's example the 5x5 image has 3x3 = 9 windows, so cols is 9 x 9. The filter,
# flattened, is a 1 x 9 row; the product is the 1 x 9 feature map, whose first entry is the
# slide's 4.

# %%
image = np.array([[1, 1, 1, 0, 0],
                  [0, 1, 1, 1, 0],
                  [0, 0, 1, 1, 1],
                  [0, 0, 1, 1, 0],
                  [0, 1, 1, 0, 0]], dtype=np.float32)[None, None]
filt = np.array([[1, 0, 1],
                 [0, 1, 0],
                 [1, 0, 1]], dtype=np.float32)[None, None]
cols = im2col_loops(image, 3, 3)
print("cols (9 x 9), column j = the j-th 3x3 window, flattened:\n", cols.astype(int))
row = filt.reshape(1, -1)
fmap = (row @ cols).reshape(3, 3)
check("deck 004: first feature-map value, as row @ cols", 4, fmap[0, 0],
      ko="deck 004: 특징 맵의 첫 값, 행 @ cols로")
print("feature map:\n", fmap.astype(int))
with sn.no_grad():
    assert np.array_equal(fmap, F.conv2d(image, filt).numpy()[0, 0])

# %% [markdown] lang="ko"
# ## scratchnet 커널이 만든 같은 열
#
# `scratchnet/kernels/im2col.py`는 numba로 컴파일한 반복문으로 열을 만든다 (스트라이드, 패딩,
# 팽창(dilation)도 처리하고, 창의 한 행을 통째로 복사한다). 계산 없이 복사만 하므로 반복문과
# 정확히 같아야 한다.

# %% [markdown] lang="en"
# ## The same columns from scratchnet's kernel
#
# `scratchnet/kernels/im2col.py` builds the columns in numba-compiled loops (it also handles
# stride, padding and dilation, and copies whole rows of a window at once). It must agree
# with the loops exactly: it is a copy, no arithmetic.

# %%
ours = im2col(np.ascontiguousarray(image), (3, 3), (1, 1), (0, 0), (1, 1), (3, 3))
assert np.array_equal(ours, cols)
print("im2col kernel == the loops on deck 004's image")

rng = np.random.default_rng(0)
xb = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
for s in (1, 2):
    oh, ow = (9 - 3) // s + 1, (11 - 3) // s + 1
    assert np.array_equal(im2col(xb, (3, 3), (s, s), (0, 0), (1, 1), (oh, ow)),
                          im2col_loops(xb, 3, 3, stride=s))
print("... and on a random (2, 3, 9, 11) batch with strides 1 and 2")

# %% [markdown] lang="ko"
# ## 컬러 이미지, 필터 여섯 개, 이미지 두 장의 배치
#
# CNN 기초 (deck 004)의 3x32x32 이미지와 3x5x5 필터 여섯 개에서는 열마다 숫자가 3*5*5 = 75개이고
# 위치가 28*28 = 784개이다: cols는 75 x 784이다. 펼친 필터 여섯 개가 6 x 75 행렬의 행이 되고, 곱
# 6 x 784가 28x28 활성화 맵 여섯 개이다. 이미지 두 장의 배치는 cols를 넓힐 뿐이다: 75 x 1568.

# %% [markdown] lang="en"
# ## A colour image, six filters, a batch of two
#
# For deck 004's 3x32x32 image with six 3x5x5 filters, every column has 3*5*5 = 75 numbers
# and there are 28*28 = 784 positions: cols is 75 x 784. The six filters, each flattened,
# are the rows of a 6 x 75 matrix, and the product 6 x 784 is the six 28x28 activation maps.
# A batch of two images only makes cols wider: 75 x 1568.

# %%
x = rng.random((2, 3, 32, 32)).astype(np.float32)
weight = rng.standard_normal((6, 3, 5, 5)).astype(np.float32)
cols = im2col(x, (5, 5), (1, 1), (0, 0), (1, 1), (28, 28))
print(f"cols of a batch of two 3x32x32 images, 5x5 windows: {cols.shape}")
assert cols.shape == (75, 2 * 784)
out = (weight.reshape(6, 75) @ cols).reshape(6, 2, 28, 28).transpose(1, 0, 2, 3)
check("the product, as (N, K, H', W')", (2, 6, 28, 28), out.shape, ko="곱을 (N, K, H', W')로")
with sn.no_grad():
    ref = F.conv2d(x, weight).numpy()
print(f"W @ cols vs conv2d: max difference {np.abs(out - ref).max():.1e}")
assert np.allclose(out, ref, atol=1e-5)
print(f"memory: x {x.nbytes:,} bytes, cols {cols.nbytes:,} bytes "
      f"({cols.nbytes / x.nbytes:.1f}x: most pixels sit in up to 25 windows)")

# %% [markdown] lang="ko"
# 숫자 이미지의 열을 그려 보면: 각 열은 8x8 스캔의 3x3 창 하나이므로, 이웃한 열은 같은 획을 한
# 픽셀씩 옮긴 것이다.

# %% [markdown] lang="en"
# The columns of a digit, drawn: each column is one 3x3 window of the 8x8 scan, so
# neighbouring columns are the same strokes shifted by one pixel.

# %%
try:
    digit = np.asarray(sn.data.digits("test", size=8)[0][0], dtype=np.float32)[0]
except ImportError:
    print("scikit-learn is not installed: a drawn 7 replaces the digit scan")
    digit = np.zeros((8, 8), np.float32)
    digit[1, 1:7] = 1
    digit[np.arange(2, 8), np.arange(6, 0, -1)] = 1
dcols = im2col(np.ascontiguousarray(digit[None, None]), (3, 3), (1, 1), (0, 0), (1, 1), (6, 6))
fig, (a1, a2) = pyplot.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [1, 4]})
a1.imshow(digit, cmap="gray_r")
a1.add_patch(pyplot.Rectangle((-0.5, -0.5), 3, 3, fill=False, color="C3", lw=2))
a1.set(title="8x8 digit, first 3x3 window", xticks=[], yticks=[])
a2.imshow(dcols, cmap="gray_r", aspect="auto")
a2.add_patch(pyplot.Rectangle((-0.5, -0.5), 1, 9, fill=False, color="C3", lw=2))
a2.set(title="im2col: 9 x 36, one column per window", xlabel="window (y*6 + x)",
       ylabel="tap (i*3 + j)")
savefig(fig, "digit_columns")

# %% [markdown] lang="ko"
# ## col2im: 수반 연산과 역전파
#
# col2im은 반대 방향으로 간다: 모든 열의 모든 원소를 그것이 복사되어 온 픽셀에 다시 더한다.
# im2col의 역연산은 아니지만(9개의 창에 복사된 픽셀은 값 9개를 더해 받는다) 전치이다: 모든 이미지
# x와 모든 열 행렬 c에 대해 <im2col(x), c> = <x, col2im(c)>. 이것이 바로 입력 기울기의 규칙이다:
# out = W @ cols이면 d cols = W.T @ d out이고, d x = col2im(d cols)이다.

# %% [markdown] lang="en"
# ## col2im: the adjoint, and the backward pass
#
# col2im goes the other way: it adds every entry of every column back onto the pixel it was
# copied from. It is not the inverse of im2col (a pixel copied into 9 windows gets 9 values
# added up) but its transpose: for every image x and every column matrix c,
# <im2col(x), c> = <x, col2im(c)>. That is exactly the rule for the input gradient: if
# out = W @ cols, then d cols = W.T @ d out, and d x = col2im(d cols).

# %%
xs = rng.standard_normal((1, 2, 6, 7))
c = rng.standard_normal((2 * 9, 4 * 5))
lhs = np.sum(im2col(xs, (3, 3), (1, 1), (0, 0), (1, 1), (4, 5)) * c)
rhs = np.sum(xs * col2im(c, xs.shape, (3, 3), (1, 1), (0, 0), (1, 1), (4, 5)))
print(f"<im2col(x), c> = {lhs:.12f}\n<x, col2im(c)> = {rhs:.12f}")
assert np.isclose(lhs, rhs, rtol=1e-12)

ones = np.ones((9, 25))
print("col2im of all-ones columns counts the windows per pixel (7x7 input, 3x3):\n",
      col2im(ones, (1, 1, 7, 7), (3, 3), (1, 1), (0, 0), (1, 1), (5, 5))[0, 0].astype(int))

# the input gradient that autograd computes for conv2d is col2im(W.T @ d_out)
xt = sn.tensor(x[:1].astype(np.float64), requires_grad=True)
wt = sn.tensor(weight.astype(np.float64))
d_out = rng.standard_normal((1, 6, 28, 28))
F.conv2d(xt, wt).backward(sn.tensor(d_out))
by_hand = col2im(wt.numpy().reshape(6, 75).T @ d_out.transpose(1, 0, 2, 3).reshape(6, -1),
                 (1, 3, 32, 32), (5, 5), (1, 1), (0, 0), (1, 1), (28, 28))
print(f"col2im(W.T @ d_out) vs autograd's x.grad: max difference "
      f"{np.abs(by_hand - xt.grad.numpy()).max():.1e}")
assert np.allclose(by_hand, xt.grad.numpy(), rtol=1e-10, atol=1e-10)

# %% [markdown] lang="ko"
# ## 같은 합성곱을 계산하는 세 가지 방법과 시간
#
# 1. 단순 반복문: (이미지, 필터, 위치)마다 Python 반복 한 번, 각각 NumPy로 75항 내적.
#    슬라이드의 그림을 그대로 계산한 것이다.
# 2. 교과서식 NumPy: 대신 커널 위치 kh*kw개를 돈다. 위치마다 배치 전체를 옮긴 뷰에 가중치의 한
#    열을 곱해(`tensordot`) 더한다. Python 반복은 N*K*H'*W'번이 아니라 kh*kw번이다.
# 3. scratchnet의 `conv2d`: numba im2col 커널 다음에 행렬 곱 한 번 (BLAS).
#
# 네 번째 줄은 미리 만든 열에 대한 행렬 곱만 잰다: im2col 기반 합성곱은 그 안에서 도는 GEMM보다
# 빠를 수 없다. 수치는 기계와 그 기계가 동시에 하는 일에 따라 달라지며, 중요한 것은 비율이다.
# GFLOP/s는 출력 하나의 가중치 하나마다 2 flop(곱셈 한 번, 덧셈 한 번)으로 센다.

# %% [markdown] lang="en"
# ## Three ways to compute the same convolution, timed
#
# 1. naive loops: one Python iteration per (image, filter, position), each a 75-term dot
#    product in NumPy: the slides' picture, computed literally.
# 2. textbook NumPy: loop over the kh*kw kernel offsets instead; each offset multiplies a
#    shifted view of the whole batch by one column of the weights (`tensordot`) and adds it
#    up. kh*kw Python iterations instead of N*K*H'*W'.
# 3. scratchnet's `conv2d`: the numba im2col kernel, then one matrix product (BLAS).
#
# A fourth row times the matrix product alone, on columns built beforehand: no im2col-based
# convolution can be faster than the GEMM it runs on. The figures depend on the machine and
# on what else it is doing; the ratios are the point. GFLOP/s counts 2 flops (a multiply and
# an add) per weight per output.

# %%
def conv_naive(x, w):
    N, C, H, W = x.shape
    K, _, kh, kw = w.shape
    out = np.zeros((N, K, H - kh + 1, W - kw + 1), dtype=x.dtype)
    for n in range(N):
        for k in range(K):
            for y in range(H - kh + 1):
                for t in range(W - kw + 1):
                    out[n, k, y, t] = np.sum(x[n, :, y:y + kh, t:t + kw] * w[k])
    return out


def conv_textbook(x, w):
    N, C, H, W = x.shape
    K, _, kh, kw = w.shape
    out_h, out_w = H - kh + 1, W - kw + 1
    out = np.zeros((N, K, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            shifted = x[:, :, i:i + out_h, j:j + out_w]              # (N, C, H', W')
            out += np.tensordot(w[:, :, i, j], shifted, axes=([1], [1])).transpose(1, 0, 2, 3)
    return out


def conv_scratchnet(x, w):
    with sn.no_grad():
        return F.conv2d(x, w).numpy()


if fast():
    shape, wshape, repeats = (2, 3, 32, 32), (8, 3, 3, 3), 3
else:
    shape, wshape, repeats = (4, 16, 48, 48), (32, 16, 3, 3), 3
xb = rng.standard_normal(shape).astype(np.float32)
wb = rng.standard_normal(wshape).astype(np.float32)
prebuilt = im2col(xb, wshape[2:], (1, 1), (0, 0), (1, 1),
                  (shape[2] - wshape[2] + 1, shape[3] - wshape[3] + 1))
w_rows = wb.reshape(wshape[0], -1)
ways = {"naive loops": conv_naive, "textbook NumPy": conv_textbook,
        "scratchnet conv2d": conv_scratchnet, "matmul only": lambda x, w: w_rows @ prebuilt}
results = {name: fn(xb, wb) for name, fn in ways.items()}     # also warms up numba and BLAS
for name in ("naive loops", "textbook NumPy"):
    assert np.allclose(results[name], results["scratchnet conv2d"], rtol=1e-4, atol=1e-3)

times = {name: [] for name in ways}
for _ in range(repeats):              # interleaved, so a busy moment hurts all three alike
    for name, fn in ways.items():
        t0 = time.perf_counter()
        fn(xb, wb)
        times[name].append(time.perf_counter() - t0)
median = {name: float(np.median(t)) for name, t in times.items()}
N, C, H, W = shape
K, _, kh, kw = wshape
flops = 2 * N * K * C * kh * kw * (H - kh + 1) * (W - kw + 1)
print(f"x {shape}, weight {wshape}, float32, median of {repeats}:")
print(f"{'':20}{'ms':>10}{'GFLOP/s':>10}{'/ conv2d':>10}")
for name, t in median.items():
    print(f"{name:20}{t * 1e3:10.2f}{flops / t / 1e9:10.2f}"
          f"{t / median['scratchnet conv2d']:10.1f}")
assert median["scratchnet conv2d"] < median["naive loops"]

fig, ax = pyplot.subplots(figsize=(7, 2.8))
ax.barh(list(median)[::-1], [median[n] * 1e3 for n in list(median)[::-1]], color="C0")
ax.set_xscale("log")
ax.set(xlabel="milliseconds (log scale)", title=f"conv2d of {shape} with {wshape}")
savefig(fig, "timings")
