# %% [markdown] lang="ko"
# # 채널별·개별 포인트·채널별 분리 합성곱: 비용이 얼마나 드는가
#
# CNN 기초 (deck 004)의 마지막 부분 "채널별 개별 포인트 합성곱"을 따라간다. 슬라이드:
#
# - "채널별 합성곱 (Depthwise Convolution)": 채널마다 **필터** (filter) 하나, "채널방향이 아니라
#   공간 방향으로만" **합성곱** (convolution)을 한다.
# - "개별 포인트 합성곱 (Pointwise Convolution)": 1x1 합성곱으로, "채널 방향으로 압축을 해 채널 수를
#   줄인다".
# - "채널별 합성곱 이후 채널방향 개별 포인트 합성곱 (Depthwise Separable Convolution)": 먼저 공간,
#   그다음 채널 ("1단계에서는 공간방향으로 2단계에서는 채널방향으로").
#
# 일반 합성곱은 두 가지 일을 한꺼번에 한다: 공간 방향으로 거르고(filter), 채널을 섞는다. 이 둘을
# 차례로 하면 훨씬 싸다. 얼마나 싼지 **파라미터** (parameter) 수와
# **곱셈-누산** (multiply-accumulate, MAC) 횟수로 세어 보고, 각 부분을 평범한 반복문과 비교해
# 확인한다. 이 슬라이드들은 그림이다: 각 합성곱이 채널에 무엇을 하는지는 말하지만 수치는 주지
# 않는다. 아래의 수치는 공식에서, 그리고 마지막에는 분리 합성곱을 널리 퍼뜨린 MobileNet 논문에서
# 온다.

# %% [markdown] lang="en"
# # Depthwise, pointwise and depthwise-separable convolution: what they cost
#
# Follows CNN 기초 (deck 004), its last part
# "채널별 개별 포인트 합성곱" (channel-wise and point-wise convolution), slides:
#
# - "채널별 합성곱 (Depthwise Convolution)": one filter per channel, "채널방향이 아니라 공간
#   방향으로만" (only across space, never across channels).
# - "개별 포인트 합성곱 (Pointwise Convolution)": a 1x1 convolution, "채널 방향으로 압축을
#   해 채널 수를 줄인다" (it compresses along the channels to reduce their number).
# - "채널별 합성곱 이후 채널방향 개별 포인트 합성곱 (Depthwise Separable Convolution)": first
#   space, then channels ("1단계에서는 공간방향으로 2단계에서는 채널방향으로").
#
# A standard convolution does two jobs at once: it filters in space and mixes channels. Doing
# them one after the other is much cheaper; we count how much cheaper, in parameters and in
# multiply-accumulates (MACs), and check each piece against a plain loop. These slides are
# pictures: they state what each convolution does to the channels but give no figures; the
# numbers below come from the formulas, and at the end from the MobileNet paper, which made the
# separable convolution popular.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data.transforms import ToTensor, resize
from scratchnet.lesson import check, fast, header, photo, plt, savefig

header("CNN 기초 (deck 004)",
       "채널별 합성곱 / 개별 포인트 합성곱 / 채널별 합성곱 + 채널방향 합성곱",
       "Depthwise, pointwise and depthwise-separable convolution")
pyplot = plt()

astronaut = resize(ToTensor()(photo("astronaut")), (128, 128))     # (3, 128, 128) in [0, 1]
x = astronaut[None]                                                 # (1, 3, 128, 128)
print(f"input {tuple(x.shape)}, {x.dtype}")

# %% [markdown] lang="ko"
# ## 일반 합성곱은 모든 것을 섞는다
#
# `Conv2d(C, M, K)`에는 (C, K, K) 모양의 필터가 M개 있다: 출력 채널 하나하나가 모든 입력 채널을
# 읽는다. **가중치** (weight)는 K * K * C * M개. 출력값 하나는 K * K * C개 수의 내적이므로, H' x W'
# 크기의 출력 맵 하나를 만드는 데 K * K * C * M * H' * W'번의 곱셈-누산이 든다.

# %% [markdown] lang="en"
# ## A standard convolution mixes everything
#
# `Conv2d(C, M, K)` has M filters of shape (C, K, K): every output channel reads every input
# channel. Weights: K * K * C * M. Each output value is a dot product of K * K * C numbers, so
# an H' x W' output map costs K * K * C * M * H' * W' multiply-accumulates.

# %%
C, M, K = 3, 8, 3
sn.manual_seed(0)
standard = nn.Conv2d(C, M, K, padding=1, bias=False)
print(f"standard conv weight {tuple(standard.weight.shape)} = (M, C, K, K): "
      f"{standard.weight.numel()} weights = {K}*{K}*{C}*{M}")
assert standard.weight.numel() == K * K * C * M

# %% [markdown] lang="ko"
# ## 채널별 합성곱: 채널마다 필터 하나, 공간 방향으로만
#
# `groups=C`로 두면 C개의 입력 채널이 한 채널짜리 그룹 C개로 나뉘고, 그룹마다 자기 필터를 받는다:
# 가중치 (C, 1, K, K), 모두 K * K * C개. 출력 채널 c는 입력 채널 c를 필터 c로 거른 것이고, 그 밖의
# 것은 섞이지 않는다. **채널별 합성곱** (depthwise convolution)은 정확히 한 채널짜리 합성곱을
# 채널마다 반복한 것과 같다:

# %% [markdown] lang="en"
# ## Depthwise: one filter per channel, space only
#
# With `groups=C` the C input channels are split into C groups of one, and each group gets its
# own filter: weight (C, 1, K, K), K * K * C weights. Output channel c is input channel c
# filtered with filter c, nothing else. That is exactly a loop of single-channel convolutions:

# %%
blur = np.full((3, 3), 1 / 9, dtype=np.float32)
sobel_y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float32)
sobel_x = sobel_y.T.copy()
# red channel blurred, green channel through horizontal-edge Sobel, blue through vertical
dw_weight = sn.tensor(np.stack([blur, sobel_y, sobel_x])[:, None])          # (3, 1, 3, 3)
depthwise = F.conv2d(x, dw_weight, padding=1, groups=C)                     # (1, 3, 128, 128)

by_channel = np.concatenate([
    F.conv2d(x[:, c:c + 1], dw_weight[c:c + 1], padding=1).numpy() for c in range(C)], axis=1)
print(f"depthwise weight {tuple(dw_weight.shape)}, output {tuple(depthwise.shape)}; "
      f"vs one conv per channel: max difference {np.abs(depthwise.numpy() - by_channel).max():.1e}")
assert np.allclose(depthwise.numpy(), by_channel, atol=1e-6)
# "채널별로 합성곱 실행": one output channel per input channel, one filter per channel
check("depthwise: output channels = input channels", C, depthwise.shape[1],
      ko="채널별 합성곱: 출력 채널 수 = 입력 채널 수")
check("depthwise: filters, each one channel deep", (C, 1), tuple(dw_weight.shape[:2]),
      ko="채널별 합성곱: 필터 수, 필터마다 채널 1개")

# "only across space": change the green channel and only output channel 1 moves
poked = x.numpy().copy()
poked[0, 1] += np.random.default_rng(0).random((128, 128), dtype=np.float32)
moved = np.abs(F.conv2d(sn.tensor(poked), dw_weight, padding=1, groups=C).numpy()
               - depthwise.numpy()).max(axis=(0, 2, 3))
print(f"largest change per output channel after changing input channel 1: {moved.round(3)}")
assert moved[0] == 0 and moved[2] == 0 and moved[1] > 0

fig, axes = pyplot.subplots(2, 3, figsize=(9, 6))
names = ["red", "green", "blue"]
titles = ["red * 1/9 box blur", "green * Sobel\n(horizontal edges)",
          "blue * Sobel^T\n(vertical edges)"]
for c in range(3):
    axes[0, c].imshow(astronaut.numpy()[c], cmap="gray", vmin=0, vmax=1)
    axes[0, c].set_title(f"input channel {c} ({names[c]})", fontsize=9)
    out = depthwise.numpy()[0, c]
    lim = np.abs(out).max()
    axes[1, c].imshow(out, cmap="gray" if c == 0 else "coolwarm",
                      vmin=0 if c == 0 else -lim, vmax=lim if c else 1)
    axes[1, c].set_title(f"output {c}: {titles[c]}", fontsize=9)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.suptitle("depthwise convolution: each channel gets its own 3x3 filter")
savefig(fig, "depthwise")

# %% [markdown] lang="ko"
# ## 개별 포인트 합성곱: 1x1 합성곱, 채널 방향으로만
#
# 1x1 필터는 픽셀 하나만 보지만, 그 픽셀의 C개 채널을 모두 본다: 픽셀마다 출력은 행렬-벡터 곱이고,
# 모든 픽셀에서 같은 (M, C) 행렬을 쓴다. 가중치는 C * M개.
# **개별 포인트 합성곱** (pointwise convolution)은 채널을 압축할 수 있다 ("채널 수를 줄인다"): RGB를
# 흑백으로 바꾸는 것이 3채널에서 1채널로 가는 1x1 합성곱이고, 가중치는 ITU-R BT.709의 휘도 계수로,
# scikit-image의 `rgb2gray`가 계산하는 것과 같다.

# %% [markdown] lang="en"
# ## Pointwise: a 1x1 convolution, channels only
#
# A 1x1 filter sees one pixel, but all C channels of it: the output at every pixel is a
# matrix-vector product, the same (M, C) matrix at every pixel. Weights: C * M. It can
# compress the channels ("채널 수를 줄인다"): turning RGB into gray is a 1x1 convolution from
# 3 channels to 1, with the luminance weights of ITU-R BT.709, which is what scikit-image's
# `rgb2gray` computes.

# %%
luma = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
pw_weight = sn.tensor(luma.reshape(1, 3, 1, 1))                    # (M=1, C=3, 1, 1)
gray = F.conv2d(x, pw_weight)                                      # (1, 1, 128, 128)
as_matmul = np.einsum("mc,nchw->nmhw", luma[None], x.numpy())
assert np.allclose(gray.numpy(), as_matmul, atol=1e-6)
try:
    from skimage.color import rgb2gray
except ImportError:
    pass
else:
    reference = rgb2gray(astronaut.numpy().transpose(1, 2, 0))
    print(f"1x1 conv vs skimage.color.rgb2gray: max difference "
          f"{np.abs(gray.numpy()[0, 0] - reference).max():.1e}")
    assert np.allclose(gray.numpy()[0, 0], reference, atol=1e-5)
# "채널 방향으로 압축을 해 채널 수를 줄인다", and only the channels: the map keeps its size
check("pointwise: channels 3 -> 1", (3, 1), (x.shape[1], gray.shape[1]),
      ko="개별 포인트 합성곱: 채널 3 -> 1")
check("pointwise: map size kept", x.shape[2:], gray.shape[2:], ko="개별 포인트 합성곱: 맵 크기 유지")
print(f"pointwise: {tuple(x.shape)} -> {tuple(gray.shape)}: the map keeps its 128x128, the "
      f"channels go from 3 to 1")

# %% [markdown] lang="ko"
# ## 채널별 분리 합성곱: 공간 먼저, 그다음 채널
#
# MobileNet의 블록: KxK 채널별 합성곱(필터 C개) 뒤에 1x1 개별 포인트 합성곱(C -> M)을 잇는다.
# **채널별 분리 합성곱** (depthwise separable convolution)의 가중치는 K * K * C * M개가 아니라
# K * K * C + C * M개다.
#
# 이것은 제약이 걸린 일반 합성곱이다. 두 단계를 합치면 출력 채널 m은 sum_c P[m,
# c] * (D_c * x_c)이다: 필터 m의 채널 c가 P[m, c] * D_c인 일반 합성곱이다. 모든 출력 필터가 같은
# C개의 공간 패턴으로 만들어지고, 섞는 가중치만 다르다. 이 항등식을 수치로 확인한다:

# %% [markdown] lang="en"
# ## Depthwise separable: space first, then channels
#
# MobileNet's block: a depthwise KxK convolution (C filters) followed by a pointwise 1x1
# convolution (C -> M). Weights K * K * C + C * M instead of K * K * C * M.
#
# It is a standard convolution with a restriction. Composing the two, output channel m is
# sum_c P[m, c] * (D_c * x_c): a standard convolution whose filter m, channel c is
# P[m, c] * D_c. Every output filter is built from the same C spatial patterns, only mixed
# with different weights. We check that identity numerically:

# %%
sn.manual_seed(1)
separable = nn.Sequential(nn.Conv2d(C, C, K, padding=1, groups=C, bias=False),   # depthwise
                          nn.Conv2d(C, M, 1, bias=False))                        # pointwise
D = separable[0].weight.detach().numpy()[:, 0]          # (C, K, K)
P = separable[1].weight.detach().numpy()[:, :, 0, 0]    # (M, C)
equivalent = sn.tensor(P[:, :, None, None] * D[None])   # (M, C, K, K)
with sn.no_grad():
    two_steps = separable(x).numpy()
one_step = F.conv2d(x, equivalent, padding=1).numpy()
print(f"depthwise then pointwise vs one conv with W[m, c] = P[m, c] * D[c]: "
      f"max difference {np.abs(two_steps - one_step).max():.1e}")
assert np.allclose(two_steps, one_step, atol=1e-5)

# and the converse does not hold: for one input channel c, the M filters of a separable bank
# all carry the same spatial pattern D[c], only scaled by P[:, c], so the (M, K*K) slice W[:, c]
# has rank 1; a standard bank has M independent patterns there (rank min(M, K*K))
W_std = standard.weight.detach().numpy()
rank_separable = np.linalg.matrix_rank(equivalent.numpy()[:, 0].reshape(M, K * K), tol=1e-6)
rank_standard = np.linalg.matrix_rank(W_std[:, 0].reshape(M, K * K), tol=1e-6)
print(f"rank of the filters' slice for input channel 0, an (M, K*K) = ({M}, {K * K}) matrix: "
      f"separable {rank_separable}, standard {rank_standard}")
assert rank_separable == 1 and rank_standard == min(M, K * K)

# %% [markdown] lang="ko"
# ## 파라미터와 곱셈-누산 세기
#
# 출력 픽셀 하나에 일반 합성곱은 K*K*C*M번, 분리 합성곱은 K*K*C + C*M번의 곱셈-누산이 든다. 두
# 비용의 비는
#
#     (K*K*C + C*M) / (K*K*C*M) = 1/M + 1/K^2
#
# 이므로 3x3 **커널** (kernel)에 출력 채널이 많으면 분리 합성곱이 9배 가까이 싸다.
# `scratchnet.summary`가 층 자체에서 둘을 세고, 이를 MobileNet 중간 크기인 14x14에서 512 -> 512
# 층으로 공식과 비교한다.

# %% [markdown] lang="en"
# ## Counting parameters and MACs
#
# Per output pixel, a standard convolution costs K*K*C*M MACs, the separable one
# K*K*C + C*M. Their ratio is
#
#     (K*K*C + C*M) / (K*K*C*M) = 1/M + 1/K^2
#
# so with 3x3 kernels and many output channels the separable version is close to 9x cheaper.
# `scratchnet.summary` counts both from the layers themselves; we compare with the formulas on
# a 512 -> 512 layer at 14x14, the size of the middle of MobileNet.

# %%
C, M, K, H = 512, 512, 3, 14
std_layer = nn.Conv2d(C, M, K, padding=1, bias=False)
sep_layers = nn.Sequential(nn.Conv2d(C, C, K, padding=1, groups=C, bias=False),
                           nn.Conv2d(C, M, 1, bias=False))
s_std = sn.summary(std_layer, (C, H, H), verbose=False)
s_sep = sn.summary(sep_layers, (C, H, H))
assert s_std.total_params == K * K * C * M == 2_359_296
assert s_sep.total_params == K * K * C + C * M == 266_752
assert s_std.total_macs == K * K * C * M * H * H
assert s_sep.total_macs == (K * K * C + C * M) * H * H
ratio = s_sep.total_macs / s_std.total_macs
print(f"standard: {s_std.total_params:,} weights, {s_std.total_macs:,} MACs")
print(f"separable: {s_sep.total_params:,} weights, {s_sep.total_macs:,} MACs")
print(f"ratio {ratio:.4f} = 1/{M} + 1/{K * K} = {1 / M + 1 / K ** 2:.4f}: "
      f"{1 / ratio:.2f}x fewer")
assert np.isclose(ratio, 1 / M + 1 / K ** 2)

fig, ax = pyplot.subplots(figsize=(6, 3.5))
ms = np.arange(1, 513)
for k in (3, 5, 7):
    ax.plot(ms, 1 / (1 / ms + 1 / k ** 2), label=f"K = {k}")
    ax.axhline(k * k, color="0.7", lw=0.8, ls="--")
ax.set(xscale="log", xlabel="output channels M", ylabel="standard / separable cost",
       title="savings approach K^2 as M grows")
ax.legend()
savefig(fig, "savings")

# %% [markdown] lang="ko"
# ## 곱셈-누산과 실행 시간
#
# 곱셈-누산 횟수가 속도의 전부는 아니다. 일반 합성곱은 큰 행렬 곱 하나(im2col + GEMM)이고, 이는
# CPU와 BLAS 라이브러리가 가장 잘하는 연산이다. 채널별 합성곱 쪽은 읽는 값 하나당 K*K번의
# 곱셈-누산만 하므로 메모리 전송이 속도를 제한하고, 데이터를 따로 한 번 더 훑는다. 그래서 시간의
# 비가 곱셈-누산의 비와 같을 필요는 없고, 다른 작업으로 바쁜 기계에서는 두 시간 모두 흔들린다. 같은
# 입력에서 둘의 시간을 잰다 (참고용일 뿐이다):

# %% [markdown] lang="en"
# ## MACs and time
#
# The MAC count is not the whole story of speed. A standard convolution is one large matrix
# product (im2col + GEMM), the operation CPUs and BLAS libraries are best at. The depthwise
# half does only K*K MACs per value it reads, so memory traffic limits it, and it is a separate
# pass over the data. So the time ratio need not match the MAC ratio, and on a machine busy
# with other work both timings move around. We time both on the same input (indicative
# only):

# %%
n_img = 2 if fast() else 8
xs = sn.randn(n_img, 128, 28, 28)
std_t = nn.Conv2d(128, 128, 3, padding=1, bias=False)
sep_t = nn.Sequential(nn.Conv2d(128, 128, 3, padding=1, groups=128, bias=False),
                      nn.Conv2d(128, 128, 1, bias=False))


def median_ms(layer, repeats):
    times = []
    with sn.no_grad():
        layer(xs)                                    # the first call compiles kernels
        for _ in range(repeats):
            t0 = time.perf_counter()
            layer(xs)
            times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


repeats = 3 if fast() else 15
t_std, t_sep = median_ms(std_t, repeats), median_ms(sep_t, repeats)
mac_ratio = (128 * 9 * 128) / (128 * 9 + 128 * 128)
print(f"batch {tuple(xs.shape)}: standard {t_std:.1f} ms, separable {t_sep:.1f} ms: "
      f"{t_std / t_sep:.1f}x the speed, for {mac_ratio:.1f}x fewer MACs")

# %% [markdown] lang="ko"
# ## MobileNet v1: 분리 블록 열세 개
#
# `scratchnet.models.mobilenet_v1`은 3x3 첫 층(stem) 위에 채널별 분리 블록 열세 개를 쌓는다. 그
# 논문(Howard et al., 2017)은 224x224에서 파라미터 420만 개, 곱셈-덧셈(mult-adds) 5억 6900만 번을
# 보고하고, Table 2에서 그것이 어디에 쓰이는지 보인다: 1x1 (개별 포인트) 합성곱이 곱셈-덧셈의
# 94.86%를 하고 파라미터의 74.59%를 가진다. summary가 이 표를 재현한다. 논문처럼 합성곱과
# **완전결합층** (fully connected layer)의 가중치만 센다 (BatchNorm의 배율과 이동은 뺀다).

# %% [markdown] lang="en"
# ## MobileNet v1: thirteen separable blocks
#
# `scratchnet.models.mobilenet_v1` stacks a 3x3 stem and thirteen depthwise-separable blocks.
# Its paper (Howard et al., 2017) reports 4.2 million parameters and 569 million mult-adds at
# 224x224, and in its Table 2 where they go: the 1x1 (pointwise) convolutions do 94.86% of
# the mult-adds and hold 74.59% of the parameters. The summary reproduces the table, counting
# the weights of the convolutions and the fully connected layer as the paper does (the
# BatchNorm scales and shifts are left out).

# %%
from scratchnet.models import mobilenet_v1   # noqa: E402

s = sn.summary(mobilenet_v1(), (3, 224, 224), verbose=False)
print(f"MobileNet v1: {s.total_params:,} parameters, {s.total_macs:,} MACs")
assert round(s.total_params / 1e6, 1) == 4.2 and round(s.total_macs / 1e6) == 569

weighted = [r for r in s.rows if r.type in ("Conv2d", "Linear")]
kinds = {"Conv 1x1": ".pointwise.", "Conv DW 3x3": ".depthwise.", "Conv 3x3": "features.0.",
         "Fully connected": "classifier."}
paper = {"Conv 1x1": (94.86, 74.59), "Conv DW 3x3": (3.06, 1.06), "Conv 3x3": (1.19, 0.02),
         "Fully connected": (0.18, 24.33)}
all_macs, all_weights = sum(r.macs for r in weighted), sum(r.weights for r in weighted)
share = {}
print(f"{'layer type':16} {'mult-adds':>10} {'(paper)':>8} {'parameters':>11} {'(paper)':>8}")
for kind, pattern in kinds.items():
    rows = [r for r in weighted if r.name.startswith(pattern) or pattern in r.name]
    share[kind] = (100 * sum(r.macs for r in rows) / all_macs,
                   100 * sum(r.weights for r in rows) / all_weights)
    print(f"{kind:16} {share[kind][0]:9.2f}% {paper[kind][0]:7.2f}% {share[kind][1]:10.2f}% "
          f"{paper[kind][1]:7.2f}%")
assert sum(len([r for r in weighted if p in r.name]) for p in kinds.values()) == len(weighted)
for kind in kinds:
    if kind != "Conv 3x3":
        assert np.allclose(share[kind], paper[kind], atol=0.006), kind

# %% [markdown] lang="ko"
# 한 행이 맞지 않는다: 논문은 3x3 첫 층의 곱셈-덧셈을 1.19%로 적었지만, 우리는 1.91%를 센다. 논문의
# 네 행을 더하면 1.19로는 99.29%, 1.91로는 100.01%가 되므로, 표에서 두 숫자가 자리를 바꾼 것이다. 첫
# 층의 곱셈-누산 10,838,016번(출력 112 x 112 x 32개, 각각 27번)은 568,740,352의 1.91%다.

# %% [markdown] lang="en"
# One row disagrees: the paper prints 1.19% of the mult-adds for the 3x3 stem, we count
# 1.91%. The paper's own four rows add up to 99.29% with 1.19 and to 100.01% with 1.91, so
# the table swapped two digits; the stem's 10,838,016 MACs (112 x 112 x 32 outputs, 27 MACs
# each) are 1.91% of 568,740,352.

# %%
stem = s["features.0.0"]
assert stem.macs == 112 * 112 * 32 * 27 == 10_838_016
print(f"paper's mult-add column: {sum(v[0] for v in paper.values()):.2f}% as printed, "
      f"{sum(v[0] for v in paper.values()) - 1.19 + 1.91:.2f}% with 1.91")
assert np.isclose(share["Conv 3x3"][0], 1.91, atol=0.005)
assert np.isclose(share["Conv 3x3"][1], paper["Conv 3x3"][1], atol=0.006)

fig, ax = pyplot.subplots(figsize=(9, 3.2))
depthwise_rows = [r for r in weighted if ".depthwise." in r.name]
pointwise_rows = [r for r in weighted if ".pointwise." in r.name]
blocks = range(1, 14)
ax.bar([b - 0.2 for b in blocks], [r.macs / 1e6 for r in depthwise_rows], 0.4,
       label="depthwise 3x3")
ax.bar([b + 0.2 for b in blocks], [r.macs / 1e6 for r in pointwise_rows], 0.4,
       label="pointwise 1x1")
ax.set(xlabel="separable block", ylabel="million MACs", xticks=list(blocks),
       title="MobileNet v1 at 224x224: the 1x1 convolutions do the work")
ax.legend()
savefig(fig, "mobilenet_macs")
