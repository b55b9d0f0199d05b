# %% [markdown] lang="ko"
# # 스트라이드와 패딩: 출력은 얼마나 큰가?
#
# 세 강의 자료를 따라간다.
#
# - CNN 기초 (deck 004)의 "합성곱 신경망의 이해": "공간적 이해" (7x7 입력과 3x3 필터, 출력
#   W - K + 1), "패딩(padding)" (P = (K - 1)/2이면 크기가 유지됨), "스트라이드(Stride)"
#   ((W - K + 2P)/S + 1), "1x1 합성곱", "2D 대 1D 합성곱"과 "2D 대 3D 합성곱".
# - 딥러닝팀 1팀 (deck 003)의 "Convolution Layer": "희소 상호작용", "매개변수 공유", "Hyper
#   parameter", "Zero padding" (valid / same / full), "Feature map 크기" (O = (I + 2P - F)/S + 1).
# - Day13. CNN and Vision (deck 001, 블로그 글)의 "Stride, Padding": 커널 크기 k가 홀수이면 패딩
#   p = floor(k/2)로 크기가 유지된다.

# %% [markdown] lang="en"
# # Stride and padding: how big is the output?
#
# Follows three decks:
#
# - CNN 기초 (deck 004), "합성곱 신경망의 이해" (understanding CNNs): "공간적 이해" (the 7x7
#   input and 3x3 filter, output W - K + 1), "패딩(padding)" (P = (K - 1)/2 keeps the size),
#   "스트라이드(Stride)" ((W - K + 2P)/S + 1), "1x1 합성곱" (1x1 convolution), "2D 대 1D 합성곱"
#   and "2D 대 3D 합성곱" (1-D, 2-D, 3-D convolution).
# - 딥러닝팀 1팀 (deck 003), "Convolution Layer": "희소 상호작용" (sparse interaction),
#   "매개변수 공유" (parameter sharing), "Hyper parameter", "Zero padding" (valid / same / full)
#   and "Feature map 크기" (O = (I + 2P - F)/S + 1).
# - Day13. CNN and Vision (deck 001, a blog post), "Stride, Padding": for an odd kernel size k,
#   padding p = floor(k/2) keeps the size.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.lesson import check, header, plt, savefig

header("CNN 기초 (deck 004), 딥러닝팀 1팀 (deck 003) and Day13. CNN and Vision (deck 001)",
       "공간적 이해 / 패딩 / 스트라이드 / 1x1 합성곱 / 1D·2D·3D 합성곱; Zero padding / "
       "Feature map 크기 / 희소 상호작용 / 매개변수 공유; Stride, Padding",
       "Stride and padding", ko="스트라이드와 패딩")
pyplot = plt()


def out_hw(x, weight, **kw):
    """(H', W') of conv2d(x, weight, **kw), computed by running it."""
    with sn.no_grad():
        return tuple(F.conv2d(x, weight, **kw).shape[-2:])


x7 = sn.randn(1, 1, 7, 7)
k3 = sn.randn(1, 1, 3, 3)

# %% [markdown] lang="ko"
# ## 7x7 입력 위의 3x3 필터
#
# 필터는 행마다, 열마다 7 - 3 + 1 = 5개의 위치에 놓인다: 출력은 5x5이다. 일반적으로 크기 W인
# 입력과 크기 K인 필터는 W - K + 1을 낸다.

# %% [markdown] lang="en"
# ## A 3x3 filter on a 7x7 input
#
# The filter fits at 7 - 3 + 1 = 5 positions per row and per column: a 5x5 output. In
# general an input of size W and a filter of size K give W - K + 1.

# %%
check("7x7 input, 3x3 filter, stride 1", (5, 5), out_hw(x7, k3), ko="7x7 입력, 3x3 필터, 스트라이드 1")
check("W - K + 1", 5, 7 - 3 + 1, ko="W - K + 1 (출력 크기)")

# %% [markdown] lang="ko"
# ## 스트라이드: 한 픽셀보다 크게 건너뛰기
#
# **스트라이드** (stride)가 2이면 필터는 0, 2, 4번 열에서 시작한다: 출력은 3x3이다. 슬라이드의
# 공식으로는 (W - K + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3이다. 스트라이드가 3이면 시작 위치는 0, 3,
# 6이지만, 6에서 시작하는 폭 3의 필터는 7픽셀 입력 밖으로 삐져나온다: (7 - 3)/3 + 1 = 2.33은
# 정수가 아니다. 라이브러리는 어떻게 할까?

# %% [markdown] lang="en"
# ## Stride: jump more than one pixel
#
# With stride 2 the filter starts at columns 0, 2, 4: a 3x3 output. The slides' formula
# (W - K + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3. With stride 3 the starts would be 0, 3, 6, but
# a 3-wide filter starting at 6 sticks out of a 7-pixel input: (7 - 3)/3 + 1 = 2.33 is not a
# whole number. What does the library do?

# %%
check("7x7 input, 3x3 filter, stride 2", (3, 3), out_hw(x7, k3, stride=2),
      ko="7x7 입력, 3x3 필터, 스트라이드 2")
print(sn.explain_conv_output_size(7, 3, s=2))
print()
print(sn.explain_conv_output_size(7, 3, s=3))
print(f"conv2d with stride 3 gives {out_hw(x7, k3, stride=3)}, as PyTorch does")
try:
    sn.conv_output_size(7, 3, s=3, strict=True)
except ValueError as err:
    print(f"asked to be strict, the size rule refuses: {err}")

# %% [markdown] lang="ko"
# PyTorch (그리고 PyTorch를 따르는 scratchnet)는 내림을 한다: 들어맞는 창만 남기고 남는 픽셀은
# 말없이 버린다. 여기서는 마지막 열과 마지막 행을 한 번도 보지 않으므로, 그 값을 바꿔도 출력은
# 바뀌지 않는다.

# %% [markdown] lang="en"
# PyTorch (and scratchnet, which follows it) rounds down: it keeps the windows that fit and
# silently ignores the leftover pixels. Here the last column and the last row are never seen,
# so changing them cannot change the output:

# %%
x_changed = x7.numpy().copy()
x_changed[..., 6, :] += 100.0          # the last row
x_changed[..., :, 6] += 100.0          # the last column
with sn.no_grad():
    same = np.array_equal(F.conv2d(x7, k3, stride=3).numpy(),
                          F.conv2d(sn.tensor(x_changed), k3, stride=3).numpy())
print(f"stride 3: output unchanged after editing the last row and column: {same}")
assert same
# one pixel of padding on each side makes it fit: (7 + 2 - 3)/3 + 1 = 3
print(f"stride 3 with padding 1: {out_hw(x7, k3, stride=3, padding=1)}")
assert out_hw(x7, k3, stride=3, padding=1) == (3, 3)


def draw_windows(ax, n, k, s, p=0):
    """The n x n input (plus padding) with the top-left corner of every window that fits."""
    size = n + 2 * p
    ax.add_patch(pyplot.Rectangle((p - 0.5, p - 0.5), n, n, color="0.85"))
    starts = range(0, size - k + 1, s)
    used = np.zeros(size, bool)
    for a in starts:
        used[a:a + k] = True
    for c in range(size):
        if not used[c]:
            ax.add_patch(pyplot.Rectangle((c - 0.5, -0.5), 1, size, color="C3", alpha=0.3))
            ax.add_patch(pyplot.Rectangle((-0.5, c - 0.5), size, 1, color="C3", alpha=0.3))
    for i, a in enumerate(starts):
        ax.add_patch(pyplot.Rectangle((a - 0.42, a - 0.42), k - 0.16, k - 0.16, fill=False,
                                      color=f"C{i}", lw=2))
    ax.set(xlim=(-0.6, size - 0.4), ylim=(size - 0.4, -0.6), xticks=range(size),
           yticks=range(size), aspect="equal")
    out = len(starts)
    ax.set_title(f"{n}x{n}, k={k}, s={s}, p={p}: {out}x{out}", fontsize=10)


fig, axes = pyplot.subplots(1, 4, figsize=(14, 3.8))
for ax, (s, p) in zip(axes, [(1, 0), (2, 0), (3, 0), (3, 1)]):
    draw_windows(ax, 7, 3, s, p)
fig.suptitle("windows along the diagonal (grey: the input; red: pixels no window reads)")
savefig(fig, "stride")

# %% [markdown] lang="ko"
# ## 패딩: valid, same, full
#
# 패딩이 없는 층은 매번 K - 1 픽셀을 잃는다. 3x3 층 열 개를 지나면 32x32 이미지가 12x12로
# 줄어든다. 제로 **패딩** (padding)은 입력 둘레에 0으로 된 행과 열을 P개씩 덧붙인다:
# W - K + 1 + 2P.
#
# - valid (P = 0): 패딩이 없고, 출력이 줄어든다.
# - same (P = (K - 1)/2): 출력이 입력과 같은 크기이다.
# - full (P = K - 1): 픽셀 하나라도 닿는 창은 모두 계산한다. 각 픽셀을 방향마다 K개의 창이
#   읽으므로 ("모든 픽셀이 k번 반복되도록") 출력이 K - 1만큼 커진다.
#
# 한 픽셀이 몇 번 읽히는지는 (모든 값이 1인 커널에서) 출력의 합을 그 픽셀로 미분한 **기울기**
# (gradient)와 같다: 창의 개수는 autograd가 세어 준다.

# %% [markdown] lang="en"
# ## Padding: valid, same, full
#
# Every layer without padding eats K - 1 pixels; ten 3x3 layers would shrink a 32x32 image to
# 12x12. Zero padding adds P rows and columns of zeros around the input: W - K + 1 + 2P.
#
# - valid (P = 0): no padding, the output shrinks.
# - same (P = (K - 1)/2): the output has the input's size.
# - full (P = K - 1): every window that touches at least one pixel; each pixel is read by K
#   windows in each direction ("모든 픽셀이 k번 반복되도록"), so the output grows by K - 1.
#
# How often a pixel is read is the gradient of the output's sum with respect to that pixel
# (with an all-ones kernel): autograd counts the windows for us.

# %%
def windows_per_pixel(n, k, p, dims=2):
    """How many k-wide windows read each pixel of an n-pixel (n x n) input with padding p."""
    shape = (1, 1, n) if dims == 1 else (1, 1, n, n)
    x = sn.zeros(*shape, dtype=sn.float64, requires_grad=True)
    ones = sn.ones(*((1, 1, k) if dims == 1 else (1, 1, k, k)), dtype=sn.float64)
    conv = F.conv1d if dims == 1 else F.conv2d
    conv(x, ones, padding=p).sum().backward()
    return x.grad.numpy()[0, 0]


k = 3
for name, p in [("valid", 0), ("same", (k - 1) // 2), ("full", k - 1)]:
    print(f"{name:5} P={p}: 7x7 -> {out_hw(x7, k3, padding=p)}, windows per pixel along a "
          f"row: {windows_per_pixel(7, k, p, dims=1).astype(int)}")
check("same padding P = (K - 1)/2 keeps 7x7", (7, 7), out_hw(x7, k3, padding=(3 - 1) // 2),
      ko="same 패딩 P = (K - 1)/2이면 7x7 유지")
check("full padding: windows per pixel along a row (k each)", [k] * 7,
      windows_per_pixel(7, k, k - 1, dims=1).astype(int).tolist(),
      ko="full 패딩: 한 행에서 픽셀마다 창의 수 (각각 k개)")
check("'same' as a keyword", (7, 7), out_hw(x7, k3, padding="same"), ko="키워드 'same'")

fig, axes = pyplot.subplots(1, 3, figsize=(11, 3.6))
for ax, (name, p) in zip(axes, [("valid", 0), ("same", 1), ("full", 2)]):
    counts = windows_per_pixel(7, 3, p)
    im = ax.imshow(counts, cmap="viridis", vmin=1, vmax=9)
    for (i, j), v in np.ndenumerate(counts):
        ax.text(j, i, int(v), ha="center", va="center", color="w" if v < 5 else "k")
    ax.set(title=f"{name} (P={p}): output {out_hw(x7, k3, padding=p)[0]}x"
                 f"{out_hw(x7, k3, padding=p)[1]}", xticks=[], yticks=[])
fig.suptitle("how many 3x3 windows read each pixel of a 7x7 input: with valid or same "
             "padding the border counts less")
savefig(fig, "padding_coverage")

# %% [markdown] lang="ko"
# ## 어떤 패딩이 크기를 유지하나? p = floor(k/2)
#
# Day13. CNN and Vision (deck 001): 출력 n + 2p - k + 1은 p = (k - 1)/2일 때 n과 같고, k가
# 홀수이면 이는 floor(k/2)이다. k가 짝수이면 양쪽에 같은 패딩으로는 안 된다: p = k/2는 n + 1을,
# p = k/2 - 1은 n - 1을 낸다. 커널 크기가 홀수인 이유 중 하나이다. PyTorch의 `padding='same'`은
# 짝수 커널을 비대칭으로(앞쪽을 뒤쪽보다 한 픽셀 적게) 패딩하고, scratchnet도 같다.

# %% [markdown] lang="en"
# ## Which padding keeps the size? p = floor(k/2)
#
# Deck 001: the output n + 2p - k + 1 equals n when p = (k - 1)/2, which for an odd k is
# floor(k/2). For an even k no equal padding on both sides works: p = k/2 gives n + 1, and
# p = k/2 - 1 gives n - 1. That is one reason kernels are odd. PyTorch's `padding='same'` pads
# an even kernel unevenly (one pixel less before than after), and scratchnet does the same.

# %%
n = 28
for k in (1, 3, 5, 7, 9, 11):
    p = k // 2
    got = out_hw(sn.zeros(1, 1, n, n), sn.zeros(1, 1, k, k), padding=p)
    check(f"k={k}: p = floor(k/2) = {p} keeps {n}x{n}", (n, n), got,
          ko=f"k={k}: p = floor(k/2) = {p}이면 {n}x{n} 유지")
for p in (1, 2):
    print(f"k=4, p={p}: {n}x{n} -> {out_hw(sn.zeros(1, 1, n, n), sn.zeros(1, 1, 4, 4), padding=p)}")
print(f"k=4, padding='same': -> "
      f"{out_hw(sn.zeros(1, 1, n, n), sn.zeros(1, 1, 4, 4), padding='same')}")

# %% [markdown] lang="ko"
# ## 공식을 층과 맞춰 보기
#
# 딥러닝팀 1팀 (deck 003)은 O = (I + 2P - F)/S + 1로, CNN 기초 (deck 004)는 (W - K + 2P)/S + 1로
# 쓴다. "Hyper parameter" 슬라이드의 **하이퍼파라미터** (hyper-parameter)로 보면, 필터가 크거나
# 스트라이드가 클수록 특징 맵이 작아진다. 아래에서는 공식으로 구한 크기마다 32x32 입력에
# `conv2d`가 실제로 만드는 크기와 비교한다.

# %% [markdown] lang="en"
# ## The formula, checked against the layer
#
# Deck 003 writes it O = (I + 2P - F)/S + 1, deck 004 (W - K + 2P)/S + 1. With the
# hyper-parameters of the "Hyper parameter" slide: a bigger filter or a bigger stride gives a
# smaller feature map. Below, each size from the formula is compared with what `conv2d`
# produces on a 32x32 input.

# %%
print("output size O for I = 32; each cell: P = 0 / P = floor(F/2)")
print("        S=1      S=2      S=3")
for f in (1, 3, 5, 7):
    cells = []
    for s in (1, 2, 3):
        sizes = []
        for p in (0, f // 2):
            formula = (32 + 2 * p - f) // s + 1
            got = out_hw(sn.zeros(1, 1, 32, 32), sn.zeros(1, 1, f, f), stride=s, padding=p)[0]
            assert got == formula == sn.conv_output_size(32, f, s, p)
            sizes.append(got)
        cells.append(f"{sizes[0]:3}/{sizes[1]:<3}")
    print(f"F={f}  " + "  ".join(cells))
# the decks' own numbers: 7x7 with 3x3 at strides 1 and 2, and LeNet's 32 -> 28 with 5x5
check("(7 - 3 + 2*0)/1 + 1", 5, sn.conv_output_size(7, 3, 1, 0), ko="(7 - 3 + 2*0)/1 + 1 (스트라이드 1)")
check("(7 - 3 + 2*0)/2 + 1", 3, sn.conv_output_size(7, 3, 2, 0), ko="(7 - 3 + 2*0)/2 + 1 (스트라이드 2)")
check("3x32x32 with 5x5 filters", 28, sn.conv_output_size(32, 5, 1, 0), ko="3x32x32 입력과 5x5 필터")

# %% [markdown] lang="ko"
# ## 1x1 합성곱
#
# 1x1 필터는 픽셀 하나만 보지만 그 픽셀의 채널은 모두 본다: 픽셀마다 입력 값 C개와 가중치 C개의
# 내적을 구한다. 이런 필터 K개는 각 픽셀의 채널 벡터에 곱하는 K x C 행렬이므로, **1x1 합성곱**
# (1x1 convolution)은 채널 수를 바꾸고(여기서는 64 -> 32) 높이와 너비는 그대로 둔다.

# %% [markdown] lang="en"
# ## 1x1 convolution
#
# A 1x1 filter sees one pixel, but all its channels: at every pixel it takes a dot product
# of the C input values with C weights. K such filters are a K x C matrix applied to each
# pixel's channel vector, so a 1x1 convolution changes the number of channels (here 64 -> 32)
# and leaves height and width alone.

# %%
x = sn.randn(2, 64, 14, 14)
w1 = sn.randn(32, 64, 1, 1)
with sn.no_grad():
    y = F.conv2d(x, w1)
per_pixel = np.einsum("kc,nchw->nkhw", w1.numpy()[:, :, 0, 0], x.numpy())
print(f"1x1 conv: {x.shape} -> {y.shape}; equals a per-pixel matrix product: "
      f"max difference {np.abs(y.numpy() - per_pixel).max():.1e}")
assert y.shape == (2, 32, 14, 14) and np.allclose(y.numpy(), per_pixel, atol=1e-4)

# %% [markdown] lang="ko"
# ## 1차원, 2차원, 3차원 합성곱
#
# 합성곱의 차원은 데이터의 축 개수가 아니라 필터가 미끄러지는 방향의 개수이다. 필터는 언제나 입력
# 채널 전체에 걸쳐 있다.
#
# - 1차원 (`conv1d`): 신호 (N, C, L), 필터 (K, C, k), L을 따라 이동 -> (N, K, L').
# - 2차원 (`conv2d`): 이미지 (N, C, H, W), 필터 (K, C, kh, kw), H와 W를 따라 이동.
# - 3차원: 볼륨이나 동영상 (N, C, D, H, W), 필터 (K, C, kd, kh, kw), D를 따라서도 이동.
#
# scratchnet에는 conv3d가 없지만, 3차원 합성곱은 2차원 합성곱의 합이다: 출력의 d번째 조각은 입력
# 조각 d .. d + kd - 1과 필터의 kd개 조각의 2차원 합성곱을 더한 것이다.

# %% [markdown] lang="en"
# ## 1-D, 2-D and 3-D convolution
#
# The dimension of a convolution is the number of directions its filter slides in, not the
# number of axes of the data. The filter always spans all input channels.
#
# - 1-D (`conv1d`): a signal (N, C, L), filters (K, C, k), slide along L -> (N, K, L').
# - 2-D (`conv2d`): an image (N, C, H, W), filters (K, C, kh, kw), slide along H and W.
# - 3-D: a volume or video (N, C, D, H, W), filters (K, C, kd, kh, kw), slide along D too.
#
# scratchnet has no conv3d, but one is a sum of 2-D convolutions: output slice d adds up the
# 2-D convolutions of input slices d .. d + kd - 1 with the kd slices of the filter.

# %%
sig = sn.randn(1, 2, 50)
with sn.no_grad():
    print(f"1-D: {sig.shape} * (4, 2, 5) -> {F.conv1d(sig, sn.randn(4, 2, 5)).shape}")
    img = sn.randn(1, 3, 32, 32)
    print(f"2-D: {img.shape} * (4, 3, 5, 5) -> {F.conv2d(img, sn.randn(4, 3, 5, 5)).shape}")


def conv3d_from_conv2d(x, weight):
    """3-D convolution (no padding, stride 1) as a sum of 2-D ones.

    x: (N, C, D, H, W), weight: (K, C, kd, kh, kw) -> (N, K, D - kd + 1, H', W')."""
    kd = weight.shape[2]
    slices = []
    for d in range(x.shape[2] - kd + 1):
        slices.append(sum(F.conv2d(x[:, :, d + i], weight[:, :, i]) for i in range(kd)))
    return sn.stack(slices, axis=2)


vol = sn.randn(1, 3, 8, 16, 16)
w3 = sn.randn(4, 3, 3, 5, 5)
with sn.no_grad():
    out3 = conv3d_from_conv2d(vol, w3)
print(f"3-D: {vol.shape} * {w3.shape} -> {out3.shape}")
assert out3.shape == (1, 4, 6, 12, 12)
# the definition, directly: every 3x5x5 window of the volume times every filter
windows = np.lib.stride_tricks.sliding_window_view(vol.numpy(), (3, 5, 5), axis=(2, 3, 4))
direct = np.einsum("ncdhwabe,kcabe->nkdhw", windows, w3.numpy())
print(f"   vs the definition summed over all windows: max difference "
      f"{np.abs(direct - out3.numpy()).max():.1e}")
assert np.allclose(direct, out3.numpy(), atol=1e-4)

# %% [markdown] lang="ko"
# ## 희소 상호작용과 매개변수 공유
#
# 합성곱은 두 가지 제약이 걸린 **완전결합층** (fully connected layer)이고, `sn.conv_matrix`가 둘
# 다 보여 준다: 이 함수는 이미지 한 장에 대한 conv2d를 conv(x) = C @ x인 행렬 C로 쓴다.
#
# - **희소 상호작용** (sparse interaction): 출력 하나는 자기 창 아래의 K x K 픽셀에만 의존한다.
#   C의 그 행에서 나머지 원소는 모두 0이다.
# - **매개변수 공유** (parameter sharing): 모든 행이 같은 K x K 가중치를 자리만 옮겨 담는다.
#
# 8x8 입력과 가중치가 1..9인 3x3 커널로 그리면 C는 36 x 64이다.

# %% [markdown] lang="en"
# ## Sparse interaction and parameter sharing
#
# A convolution is a fully connected layer with two restrictions, and `sn.conv_matrix` shows
# both: it writes conv2d on one image as the matrix C with conv(x) = C @ x.
#
# - sparse interaction (희소 상호작용): an output depends only on the K x K pixels under its
#   window; every other entry of its row of C is 0.
# - parameter sharing (매개변수 공유): every row holds the same K x K weights, shifted.
#
# Drawn for an 8x8 input and a 3x3 kernel with the weights 1..9, C is 36 x 64:

# %%
kernel = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
C = sn.conv_matrix(kernel, (8, 8)).numpy()
nonzero = np.count_nonzero(C, axis=1)
print(f"C: {C.shape}; non-zeros per row: {sorted(set(nonzero.tolist()))} of {C.shape[1]}; "
      f"distinct non-zero values: {np.unique(C[C != 0]).astype(int)}")
assert set(nonzero) == {9} and len(np.unique(C[C != 0])) == 9
x8 = sn.randn(1, 1, 8, 8)
with sn.no_grad():
    assert np.allclose(C @ x8.numpy().ravel(),
                       F.conv2d(x8, sn.tensor(kernel[None, None])).numpy().ravel(), atol=1e-5)

fig, ax = pyplot.subplots(figsize=(10, 6))
shown = np.ma.masked_equal(C, 0)
ax.imshow(shown, cmap="viridis", aspect="equal")
ax.set(title="conv2d of an 8x8 image with a 3x3 kernel (weights 1..9) as a 36 x 64 matrix: "
             "white = 0", xlabel="input pixel (64)", ylabel="output pixel (36)")
savefig(fig, "conv_matrix")

# %% [markdown] lang="ko"
# 그 제약을 없앨 때의 대가를 레슨 02의 맵으로 세어 보자: 3x32x32 이미지에서 28x28 맵 여섯 개.
# 합성곱은 6 x 3 x 5 x 5개의 가중치와 6개의 편향을 가진다. 같은 3 x 32 x 32개의 숫자에서 같은
# 6 x 28 x 28개의 숫자를 만드는 완전결합층은 (입력, 출력) 쌍마다 가중치가 하나씩 필요하다.

# %% [markdown] lang="en"
# The price of dropping those restrictions, counted on the maps of lesson 02: a 3x32x32 image
# to six 28x28 maps. The convolution has 6 x 3 x 5 x 5 weights and 6 biases; a fully
# connected layer producing the same 6 x 28 x 28 numbers from the same 3 x 32 x 32 numbers
# needs a weight for every (input, output) pair.

# %%
def n_params(module):
    return sum(p.numel() for p in module.parameters())


conv_layer = sn.nn.Conv2d(3, 6, 5)
fc_layer = sn.nn.Linear(3 * 32 * 32, 6 * 28 * 28)
conv_count, fc_count = n_params(conv_layer), n_params(fc_layer)
print(f"conv 3->6, 5x5: {conv_count:,} parameters  (6*3*5*5 + 6 = {6 * 3 * 5 * 5 + 6:,})")
print(f"FC 3072->4704:  {fc_count:,} parameters  (3072*4704 + 4704 = "
      f"{3072 * 4704 + 4704:,})")
print(f"the FC layer needs {fc_count / conv_count:,.0f} times more")
assert conv_count == 456 and fc_count == 3072 * 4704 + 4704
