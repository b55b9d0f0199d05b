# %% [markdown] lang="ko"
# # 손으로 하는 합성곱: 이동 평균, 블러, Sobel 윤곽, 그리고 커널 뒤집기
#
# **합성곱** (convolution)을 손으로 계산하며 두 강의 자료를 따라간다.
#
# - 딥러닝팀 1팀 (deck 003)의 "Convolution Layer" 슬라이드: "1차원 합성곱" (1/5 **이동 평균**
#   (moving average)), "2차원 합성곱" (1/9 박스 블러, Sobel **필터** (filter), 뒤집힌 **커널**
#   (kernel)로 쓴 정의), "CNN에서의 합성곱" (라이브러리는 **교차 상관** (cross-correlation)을
#   계산한다).
# - CNN 기초 (deck 004)의 "합성곱층의 이해": "합성곱이란?" (5x5 입력과 3x3 필터 예시), "3x32x32
#   이미지"와 "3x5x5 필터", "6개의 필터로 6개의 **활성화 맵** (activation map)", 그리고 이미지
#   2개의 배치.
#
# 각 연산을 공식이 말하는 그대로 반복문으로 쓴 다음, scratchnet의 `conv1d` / `conv2d`가 그
# 반복문과 같은 값을 내는지 확인한다.

# %% [markdown] lang="en"
# # Convolution by hand: moving averages, blur, Sobel edges, and the kernel flip
#
# Follows two decks:
#
# - 딥러닝팀 1팀 (deck 003), "Convolution Layer" slides: "1차원 합성곱" (1-D convolution, the
#   1/5 moving average), "2차원 합성곱" (2-D convolution: the 1/9 box blur, the Sobel filter,
#   the definition with the flipped kernel) and "CNN에서의 합성곱" (convolution in a CNN:
#   libraries compute cross-correlation).
# - CNN 기초 (deck 004), "합성곱층의 이해" (understanding the convolution layer): "합성곱이란?"
#   (what is a convolution: the 5x5 input, 3x3 filter example), "3x32x32 이미지" with a "3x5x5
#   filter", "6개의 필터로 6개의 활성화 맵" (six filters, six activation maps) and the batch of
#   two images.
#
# We write each operation as the loop its formula describes, then check scratchnet's `conv1d` /
# `conv2d` against the loop.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import ToTensor, resize
from scratchnet.lesson import check, header, photo, plt, savefig

header("딥러닝팀 1팀 (deck 003) and CNN 기초 (deck 004)",
       "1차원 합성곱 / 2차원 합성곱 / CNN에서의 합성곱; 합성곱이란? / 3x32x32 이미지",
       "Convolution by hand", ko="손으로 하는 합성곱")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 1차원 합성곱: 이동 평균
#
# 슬라이드의 정의는 y[n] = sum_k h[n - k] x[k]이다. 합성곱의 계수 다섯 개가 모두 h = 1/5이면 출력
# 하나하나가 이웃한 입력 다섯 개의 평균, 곧 이동 평균이 되어 잡음이 평균으로 상쇄되고 곡선이
# 매끄러워진다. 공식 그대로 쓰면 다음과 같다 (계수 다섯 개가 모두 신호 위에 놓이는 곳에서만
# 계산한다).

# %% [markdown] lang="en"
# ## 1-D convolution: a moving average
#
# The slide's definition: y[n] = sum_k h[n - k] x[k]. With five equal taps h = 1/5 every
# output is the mean of five neighbouring inputs, so noise averages out and the curve gets
# smoother. Written as the formula says (only where all five taps see the signal):

# %%
def convolve1d(x, h):
    """y[n] = sum_k h[n - k] x[k], for the n where h lies fully inside x.

    x: (L,), h: (k,) -> (L - k + 1,). Output n of this 'valid' part is index n + k - 1 of the
    full convolution, whose taps are x[n .. n + k - 1]."""
    k = len(h)
    y = np.zeros(len(x) - k + 1, dtype=x.dtype)
    for n in range(len(y)):
        full_n = n + k - 1
        for j in range(n, n + k):
            y[n] += h[full_n - j] * x[j]
    return y


h = np.full(5, 1 / 5)
check("moving-average kernel taps", [1 / 5] * 5, h, ko="이동 평균 커널의 계수")
rng = np.random.default_rng(0)
t = np.linspace(0, 4 * np.pi, 120)
signal = np.sin(t) + 0.3 * rng.standard_normal(t.size)
smooth = convolve1d(signal, h)
# scratchnet's conv1d takes (N, C, L) and weights (K, C, k)
ours = F.conv1d(signal[None, None], h[None, None])[0, 0].numpy()
print(f"conv1d vs the loop: max difference {np.abs(ours - smooth).max():.1e}")
assert np.allclose(ours, smooth, rtol=1e-12, atol=1e-12)
assert np.isclose(ours[10], signal[10:15].mean(), rtol=1e-12)   # the mean of five inputs
print(f"roughness (std of the step-to-step change): input {np.diff(signal).std():.3f}, "
      f"averaged {np.diff(ours).std():.3f}")

fig, ax = pyplot.subplots(figsize=(8, 3))
ax.plot(t, signal, ".", color="0.6", label="noisy input x")
ax.plot(t[2:-2], ours, "C3", lw=2, label="y = h * x, h = [1/5]*5")
ax.set(title="deck 003: a 1/5 kernel is a moving average", xlabel="t")
ax.legend()
savefig(fig, "moving_average")

# %% [markdown] lang="ko"
# ## 합성곱인가, 교차 상관인가?
#
# 교과서의 2차원 합성곱 S(i, j) = sum_m sum_n I(m, n) K(i - m, j - n)은 커널을 거꾸로 훑는다:
# 커널이 위아래, 좌우로 뒤집힌다. 딥러닝 라이브러리(PyTorch, 그리고 scratchnet)는 그 대신 교차
# 상관 S(i, j) = sum_m sum_n I(i + m, j + n) K(m, n)을 계산한다: 뒤집지 않고 커널을 쓰인 그대로
# 이미지 위에 놓는다. 두 반복문을 그대로 쓰면 다음과 같다.

# %% [markdown] lang="en"
# ## Convolution or cross-correlation?
#
# The textbook 2-D convolution S(i, j) = sum_m sum_n I(m, n) K(i - m, j - n) runs through
# the kernel backwards: it is flipped top-bottom and left-right. Deep-learning libraries
# (PyTorch, and so scratchnet) compute the cross-correlation
# S(i, j) = sum_m sum_n I(i + m, j + n) K(m, n) instead: no flip, the kernel is laid on the
# image as written. Both loops, literally:

# %%
def correlate2d(image, kernel):
    """Cross-correlation, 'valid' part: (H, W) * (kh, kw) -> (H - kh + 1, W - kw + 1)."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def convolve2d(image, kernel):
    """True convolution S(i, j) = sum_m sum_n I(m, n) K(i - m, j - n), 'valid' part.

    Output (i, j) here is (i + kh - 1, j + kw - 1) of the full convolution."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            fi, fj = i + kh - 1, j + kw - 1
            for m in range(i, i + kh):
                for n in range(j, j + kw):
                    out[i, j] += image[m, n] * kernel[fi - m, fj - n]
    return out


def sn_conv(image, kernel):
    """scratchnet's conv2d on one single-channel (H, W) image and one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0].numpy()


# %% [markdown] lang="ko"
# ## 1/9 박스 블러: 딥러닝팀 1팀 (deck 003)의 5x5 예시
#
# "CNN에서의 합성곱" 슬라이드는 3x3 커널을 5x5 이미지 위로 미끄러뜨리고 **특징 맵**
# (feature map)을 소수 첫째 자리까지 보여 준다. 그 숫자들은 각 3x3 창의 단순 평균, 곧 1/9 박스
# 블러이다. 이 커널은 대칭이므로 뒤집어도 달라지는 것이 없다.

# %% [markdown] lang="en"
# ## The 1/9 box blur, on deck 003's 5x5 example
#
# Deck 003's "CNN에서의 합성곱" slide slides a 3x3 kernel over a 5x5 image and shows the
# feature map to one decimal. The numbers are the plain mean of each 3x3 window, the 1/9 box
# blur; since that kernel is symmetric, flipping it changes nothing.

# %%
deck003_image = np.array([[3, 3, 2, 1, 0],
                          [0, 0, 1, 3, 1],
                          [3, 1, 2, 2, 3],
                          [2, 0, 0, 2, 2],
                          [2, 0, 0, 0, 1]], dtype=np.float64)
box = np.full((3, 3), 1 / 9)
blurred = sn_conv(deck003_image, box)
check("deck 003 feature map (one decimal)",
      [[1.7, 1.7, 1.7], [1.0, 1.2, 1.8], [1.1, 0.8, 1.3]], blurred.round(1).tolist(),
      ko="deck 003의 특징 맵 (소수 첫째 자리)")
assert np.allclose(blurred, correlate2d(deck003_image, box))
assert np.allclose(blurred, convolve2d(deck003_image, box))
print(np.array2string(blurred, precision=3))

# %% [markdown] lang="ko"
# 사진에 박스 블러를 적용하면 세밀한 부분이 평균으로 지워진다 ("사진이 흐려지는"). 3x3 박스는
# 약하고, 같은 생각을 1/81 계수 81개로 키운 9x9 박스에서는 뚜렷하게 보인다. 아래 잘라낸 부분은
# 사진사의 얼굴과 카메라이다.

# %% [markdown] lang="en"
# On a photo, the box blur averages away fine detail ("사진이 흐려지는", the picture gets
# blurry). A 3x3 box is gentle; a 9x9 box, the same idea with 81 taps of 1/81, shows it
# clearly. The crops below show the photographer's face and his camera.

# %%
camera = ToTensor()(photo("camera")).numpy()[0]          # (H, W) float32 in [0, 1]
blur3 = sn_conv(camera, np.full((3, 3), 1 / 9, dtype=np.float32))
blur9 = sn_conv(camera, np.full((9, 9), 1 / 81, dtype=np.float32))
print(f"camera {camera.shape} -> 3x3 blur {blur3.shape}, 9x9 blur {blur9.shape} "
      f"(each kernel eats k - 1 pixels: lesson 03)")
assert blur3.dtype == np.float32          # float32 in, float32 out

crop = (slice(80, 240), slice(170, 330))
fig, axes = pyplot.subplots(1, 3, figsize=(11, 3.9))
for ax, img, off, title in zip(axes, [camera, blur3, blur9], [0, 1, 4],
                               ["original", "3x3 box (1/9)", "9x9 box (1/81)"]):
    # a valid convolution shifts coordinates by (k - 1)/2: crop the same scene each time
    ax.imshow(img[crop[0].start - off:crop[0].stop - off, crop[1].start - off:crop[1].stop - off],
              cmap="gray", vmin=0, vmax=1)
    ax.set(title=title, xticks=[], yticks=[])
savefig(fig, "box_blur")

# %% [markdown] lang="ko"
# ## Sobel: 윤곽을 찾는 미분 필터
#
# 슬라이드의 Sobel 커널 [[+1, +2, +1], [0, 0, 0], [-1, -2, -1]]은 세로 방향 차분(위 +1, 아래 -1)과
# 가로 방향 [1, 2, 1] 평활화의 외적이다. 이런 **미분 필터** (derivative filter)는 평평한 곳에서는
# 0을, 한 행에서 다음 행으로 밝기가 바뀌는 곳에서는 큰 값을 내므로 가로 방향 윤곽을 그린다
# ("급격하게 값이 변하는 부분을 테두리로"). 전치한 커널은 세로 윤곽을 찾고, 둘을 합치면 윤곽의
# 세기가 된다.

# %% [markdown] lang="en"
# ## Sobel: a derivative filter that finds edges
#
# The slide's Sobel kernel [[+1, +2, +1], [0, 0, 0], [-1, -2, -1]] is a vertical difference
# (+1 above, -1 below) times a horizontal [1, 2, 1] smoothing: an outer product. It answers
# zero on flat regions and strongly where brightness changes from one row to the next, so it
# outlines horizontal edges ("급격하게 값이 변하는 부분을 테두리로", sharp changes are
# edges). Its transpose finds vertical edges; together they give the edge strength.

# %%
sobel = np.array([[+1, +2, +1],
                  [0, 0, 0],
                  [-1, -2, -1]], dtype=np.float32)
check("Sobel = [1, 0, -1]^T x [1, 2, 1]", sobel.astype(int).tolist(),
      np.outer([1, 0, -1], [1, 2, 1]).tolist(), ko="Sobel = [1, 0, -1]^T와 [1, 2, 1]의 외적")
flat = np.full((5, 5), 0.7, dtype=np.float32)
print(f"Sobel on a flat patch: {np.abs(sn_conv(flat, sobel)).max():.1g} (zero up to float32 "
      f"rounding)")
step = np.repeat(np.array([1, 1, 1, 0, 0, 0], dtype=np.float32)[:, None], 5, axis=1)
print("Sobel on a bright-above-dark step, per row:", sn_conv(step, sobel)[:, 0])

edges_h = sn_conv(camera, sobel)             # horizontal edges
edges_v = sn_conv(camera, sobel.T.copy())    # vertical edges
magnitude = np.hypot(edges_h, edges_v)
fig, axes = pyplot.subplots(1, 3, figsize=(12, 4.2))
lim = np.percentile(np.abs(edges_h), 99.5)      # let a few extreme pixels saturate
axes[0].imshow(edges_h, cmap="coolwarm", vmin=-lim, vmax=lim)
axes[0].set_title("Sobel: horizontal edges (signed)")
axes[1].imshow(edges_v, cmap="coolwarm", vmin=-lim, vmax=lim)
axes[1].set_title("Sobel transposed: vertical edges")
axes[2].imshow(magnitude, cmap="gray_r")
axes[2].set_title("edge strength sqrt(h^2 + v^2)")
for ax in axes:
    ax.set(xticks=[], yticks=[])
savefig(fig, "sobel")

# %% [markdown] lang="ko"
# ## Sobel에서는 뒤집기가 중요하다
#
# 박스 커널은 대칭이지만 Sobel은 아니다: 위아래로 뒤집으면 -Sobel이 된다. 그래서 교과서의 합성곱과
# 라이브러리의 교차 상관은 부호가 반대인 결과를 낸다. (Python 반복문은 느리므로) 작게 잘라낸
# 이미지에서 셋을 서로 확인한다.
#
# - `conv2d(image, K)` == 교차 상관 반복문,
# - 교과서 합성곱 반복문 == `conv2d(image, flip(K))`.
#
# 라이브러리가 굳이 뒤집지 않는 이유 ("커널을 뒤집는 것은 큰 의미가 없음"): 신경망은 무작위
# 초기값에서 출발해 커널을 학습한다. 합성곱에 필요한 커널이 무엇이든 교차 상관은 그것을 뒤집은
# 커널을 학습하면 되고, 결과는 똑같이 좋다.

# %% [markdown] lang="en"
# ## The flip matters for Sobel
#
# The box kernel is symmetric, Sobel is not: flipped top-bottom it becomes -Sobel. So the
# textbook convolution and the library's cross-correlation give opposite signs. On a small
# crop (the Python loops are slow) we check all three against each other:
#
# - `conv2d(image, K)` == the cross-correlation loop,
# - the textbook convolution loop == `conv2d(image, flip(K))`.
#
# Why the libraries do not bother to flip ("커널을 뒤집는 것은 큰 의미가 없음", flipping
# means little): a network learns its kernels from random starting values. Whatever kernel
# convolution would need, cross-correlation learns the flipped one, and it is just as good.

# %%
patch = camera[100:132, 200:232].astype(np.float64)
k64 = sobel.astype(np.float64)
xcorr_loop, conv_loop = correlate2d(patch, k64), convolve2d(patch, k64)
ours = sn_conv(patch, k64)
flipped = sn.flip(sn.tensor(k64), dims=(0, 1)).numpy()
print(f"conv2d vs cross-correlation loop: {np.abs(ours - xcorr_loop).max():.1e}")
print(f"conv2d with the flipped kernel vs the convolution loop: "
      f"{np.abs(sn_conv(patch, flipped) - conv_loop).max():.1e}")
print(f"cross-correlation vs convolution for Sobel: {np.abs(xcorr_loop - conv_loop).max():.3f}"
      f" (and conv == -xcorr: {np.allclose(conv_loop, -xcorr_loop)})")
assert np.allclose(ours, xcorr_loop) and np.allclose(sn_conv(patch, flipped), conv_loop)
assert np.allclose(conv_loop, -xcorr_loop)
try:
    from scipy import signal as sps
except ImportError:
    pass
else:
    # SciPy names both: correlate2d is the library convention, convolve2d the textbook one
    assert np.allclose(ours, sps.correlate2d(patch, k64, mode="valid"))
    assert np.allclose(conv_loop, sps.convolve2d(patch, k64, mode="valid"))
    print("scipy.signal.correlate2d / convolve2d agree with both loops")

# %% [markdown] lang="ko"
# ## CNN 기초 (deck 004)의 예시: 5x5 입력과 3x3 필터
#
# "합성곱이란?": 필터 [[1, 0, 1], [0, 1, 0], [1, 0, 1]]를 5x5 이진 이미지의 왼쪽 위 모서리에
# 놓으면, 곱 아홉 개(슬라이드의 작은 x1 / x0 표시)의 합이 특징 맵의 첫 값 4가 된다. 아홉 위치
# 모두로 미끄러뜨리면 3x3 맵이 채워진다.

# %% [markdown] lang="en"
# ## Deck 004's example: a 5x5 input and a 3x3 filter
#
# "합성곱이란?": the filter [[1, 0, 1], [0, 1, 0], [1, 0, 1]] lies on the top-left corner of
# the 5x5 binary image; the nine products (the small x1 / x0 marks on the slide) add up to the
# first feature-map value, 4. Sliding it over all nine positions fills the 3x3 map.

# %%
deck004_image = np.array([[1, 1, 1, 0, 0],
                          [0, 1, 1, 1, 0],
                          [0, 0, 1, 1, 1],
                          [0, 0, 1, 1, 0],
                          [0, 1, 1, 0, 0]], dtype=np.float32)
deck004_filter = np.array([[1, 0, 1],
                           [0, 1, 0],
                           [1, 0, 1]], dtype=np.float32)
products = deck004_image[:3, :3] * deck004_filter
print("the nine products at the first position:\n", products.astype(int))
feature_map = sn_conv(deck004_image, deck004_filter)
check("deck 004: first feature-map value", 4, feature_map[0, 0], ko="deck 004: 특징 맵의 첫 값")
check("deck 004: sum of the nine products", 4, products.sum(), ko="deck 004: 곱 아홉 개의 합")
print("the whole feature map:\n", feature_map.astype(int))
assert np.array_equal(feature_map, correlate2d(deck004_image, deck004_filter))

fig, axes = pyplot.subplots(1, 3, figsize=(9, 3.2))
for ax, m, title in zip(axes, [deck004_image, deck004_filter, feature_map],
                        ["5x5 input", "3x3 filter", "3x3 feature map"]):
    ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.max()))
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, int(v), ha="center", va="center",
                color="white" if v > m.max() / 2 else "black")
    ax.set(title=title, xticks=[], yticks=[])
axes[0].add_patch(pyplot.Rectangle((-0.5, -0.5), 3, 3, fill=False, color="C3", lw=2))
axes[2].add_patch(pyplot.Rectangle((-0.5, -0.5), 1, 1, fill=False, color="C3", lw=2))
savefig(fig, "deck004_example")

# %% [markdown] lang="ko"
# ## 필터 여섯 개를 통과하는 컬러 이미지
#
# CNN 기초 (deck 004): 3x32x32 이미지(CIFAR-10 사진의 크기)와 3x5x5 필터. 필터는 언제나 입력 채널
# 전체에 걸쳐 있으므로 한 위치에서 숫자 하나를 낸다: 픽셀 값 75개와 **가중치** (weight) 75개의
# 내적에 **편향** (bias)을 더한 값이다. 방향마다 32 - 5 + 1 = 28개의 위치가 있어 필터 하나가 28x28
# 활성화 맵 하나를 만든다. 필터 여섯 개면 맵 여섯 개, 6x28x28이다. 배치의 이미지 두 장은 여섯 장씩
# 두 묶음 (N, K, H', W') = (2, 6, 28, 28)을 낸다.
#
# 여기의 필터는 학습 전 `nn.Conv2d(3, 6, 5)`의 무작위 초기 가중치이다.

# %% [markdown] lang="en"
# ## A colour image through six filters
#
# Deck 004: a 3x32x32 image (the size of a CIFAR-10 picture) and a 3x5x5 filter. A filter
# always spans all input channels, so each position gives one number: a dot product of 75
# pixel values with 75 weights, plus a bias. 32 - 5 + 1 = 28 positions per direction make one
# 28x28 activation map per filter; six filters, six maps: 6x28x28. Two images in a batch give
# two sets of six (N, K, H', W') = (2, 6, 28, 28).
#
# The filters here are `nn.Conv2d(3, 6, 5)`'s random initial weights, as before any training.

# %%
cat = resize(ToTensor()(photo("chelsea")), (32, 32))          # (3, 32, 32)
check("image (C, H, W)", (3, 32, 32), cat.shape, ko="이미지 (C, H, W)")
sn.manual_seed(0)
conv = sn.nn.Conv2d(3, 6, kernel_size=5)
check("one filter (C, kh, kw)", (3, 5, 5), conv.weight.shape[1:], ko="필터 하나 (C, kh, kw)")
print(f"numbers in one dot product: {int(np.prod(conv.weight.shape[1:]))} (3*5*5), plus a bias")
with sn.no_grad():
    maps = conv(cat[None])
check("activation maps of one image", (1, 6, 28, 28), maps.shape, ko="이미지 한 장의 활성화 맵")

# one activation value by hand: the dot product of a 3x5x5 window with filter 0
y, x = 10, 7
by_hand = (cat.numpy()[:, y:y + 5, x:x + 5] * conv.weight.detach().numpy()[0]).sum() \
    + conv.bias.detach().numpy()[0]
print(f"map 0 at ({y}, {x}): by hand {by_hand:.6f}, conv2d {maps.numpy()[0, 0, y, x]:.6f}")
assert np.isclose(by_hand, maps.numpy()[0, 0, y, x], rtol=1e-5, atol=1e-6)

batch = sn.stack([cat, cat.flip(-1)])
with sn.no_grad():
    check("two images, six filters", (2, 6, 28, 28), conv(batch).shape, ko="이미지 두 장, 필터 여섯 개")

# a filter must be as deep as the image: a grayscale image does not fit 3x5x5 filters
gray = cat.mean(0, keepdim=True)[None]          # (1, 1, 32, 32)
try:
    conv(gray)
except ValueError as err:
    print(f"ValueError: {err}")
else:
    raise AssertionError("a 1-channel image went through 3-channel filters")

fig, axes = pyplot.subplots(2, 7, figsize=(13, 4))
axes[0, 0].imshow(cat.permute(1, 2, 0).numpy())
axes[0, 0].set_title("3x32x32 input", fontsize=9)
axes[1, 0].axis("off")
w = conv.weight.detach().numpy()
for k in range(6):
    f = w[k].transpose(1, 2, 0)
    axes[0, k + 1].imshow((f - f.min()) / (f.max() - f.min()))
    axes[0, k + 1].set_title(f"filter {k} (3x5x5)", fontsize=9)
    axes[1, k + 1].imshow(maps.numpy()[0, k], cmap="gray")
    axes[1, k + 1].set_title(f"map {k} (28x28)", fontsize=9)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
savefig(fig, "six_filters")
