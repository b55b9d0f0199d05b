# %% [markdown] lang="ko"
# # 풀링: 최대, 평균, 최소; 위치불변; 역전파
#
# 딥러닝팀 1팀 (deck 003)의 "Pooling Layer" (4x4 예시와 그 최대, 평균 결과), "Max/Min pooling",
# "위치불변 (Location invariance)", 그리고 1부의 "이미지 데이터의 가정: 이동에 대한 **불변성**
# (invariance)" (입력이 조금 이동해도 답이 바뀌지 않아야 한다는 가정)을 따라가고, CNN 기초
# (deck 004)의 "풀링층의 이해 — 풀링: **다운샘플링** (downsampling)"을 따라간다.
#
# **풀링** (pooling) 층은 합성곱처럼 창을 미끄러뜨리지만, 학습된 가중치와의 내적 대신 창을 고정된
# 방식으로 요약한다: 가장 큰 값, 평균, 또는 가장 작은 값. 매개변수가 없고, 맵을 작게 만들 뿐이다.

# %% [markdown] lang="en"
# # Pooling: max, average and min; location invariance; the backward pass
#
# Follows 딥러닝팀 1팀 (deck 003): "Pooling Layer" (the 4x4 example with its max and average
# results), "Max/Min pooling" and "위치불변 (Location invariance)", and from part 1 "이미지
# 데이터의 가정: 이동에 대한 불변성" (the assumption that a small shift should not change the
# answer); and CNN 기초 (deck 004), "풀링층의 이해 — 풀링: 다운샘플링"
# (pooling is downsampling).
#
# A pooling layer slides a window like a convolution, but instead of a dot product with learned
# weights it takes a fixed summary of the window: the largest value, the mean, or the smallest.
# It has no parameters; it only makes the map smaller.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import ToTensor
from scratchnet.lesson import check, header, photo, plt, savefig

header("딥러닝팀 1팀 (deck 003) and CNN 기초 (deck 004)",
       "Pooling Layer / Max/Min pooling / 위치불변; 풀링: 다운샘플링",
       "Pooling", ko="풀링")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 딥러닝팀 1팀 (deck 003)의 4x4 예시
#
# 스트라이드 2인 2x2 창은 4x4 맵을 네 블록으로 나누고, 블록마다 숫자 하나가 된다. **맥스 풀링**
# (max pooling)은 가장 큰 값을, **평균 풀링** (average pooling)은 평균을, **최소 풀링**
# (min pooling)은 가장 작은 값을 남긴다. 라이브러리 없이 하려면 (4, 4)를 (2, 2, 2, 2) = (블록 행,
# 블록 안의 행, 블록 열, 블록 안의 열)로 reshape하고 블록 안의 두 축에 대해 줄이면 된다.

# %% [markdown] lang="en"
# ## Deck 003's 4x4 example
#
# A 2x2 window with stride 2 cuts the 4x4 map into four blocks; each block becomes one
# number. Max pooling keeps the largest, average pooling the mean, min pooling the smallest.
# Without any library: reshape (4, 4) into (2, 2, 2, 2) = (block row, row in block, block
# column, column in block) and reduce over the two in-block axes.

# %%
deck = np.array([[29, 15, 28, 184],
                 [0, 100, 70, 38],
                 [12, 12, 7, 2],
                 [12, 12, 45, 6]], dtype=np.float32)
x = sn.tensor(deck[None, None])                     # (N, C, H, W) = (1, 1, 4, 4)
with sn.no_grad():
    mx = F.max_pool2d(x, 2).numpy()[0, 0]
    avg = F.avg_pool2d(x, 2).numpy()[0, 0]
    mn = F.min_pool2d(x, 2).numpy()[0, 0]
check("max pooling", [[100, 184], [12, 45]], mx.tolist(), ko="맥스 풀링")
check("average pooling", [[36, 80], [12, 15]], avg.tolist(), ko="평균 풀링")
print("min pooling (no figure on the slide):", mn.astype(int).tolist())

blocks = deck.reshape(2, 2, 2, 2)
assert np.array_equal(mx, blocks.max(axis=(1, 3)))
assert np.array_equal(avg, blocks.mean(axis=(1, 3)))
assert np.array_equal(mn, blocks.min(axis=(1, 3)))
check("parameters of a pooling layer (가중치를 사용하지 않고)", 0,
      sum(p.numel() for p in sn.nn.MaxPool2d(2).parameters()), ko="풀링 층의 매개변수 (가중치를 사용하지 않고)")

fig, axes = pyplot.subplots(1, 4, figsize=(12, 3.2))
block_colour = np.kron(np.array([[0, 1], [2, 3]]), np.ones((2, 2)))
for ax, m, title in zip(axes, [deck, mx, avg, mn], ["input 4x4", "max", "average", "min"]):
    colours = block_colour if m.shape == (4, 4) else np.array([[0, 1], [2, 3]])
    ax.imshow(colours, cmap="Pastel1", vmin=0, vmax=8)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=12)
    ax.set(title=title, xticks=[], yticks=[])
savefig(fig, "deck003_pooling")

# %% [markdown] lang="ko"
# ## 사진을 풀링하기
#
# 풀링은 다운샘플링이다 (CNN 기초, deck 004): 스트라이드 2인 2x2 창은 숫자의 4분의 1을 남긴다.
# 맥스 풀링은 밝은 세부를 남기고(가는 밝은 선도 살아남는다), 평균 풀링은 흐리게 하며, 최소 풀링은
# 어두운 부분을 남긴다.

# %% [markdown] lang="en"
# ## Pooling a photo
#
# Pooling is downsampling (deck 004): 2x2 windows with stride 2 keep a quarter of the
# numbers. Max pooling keeps the bright details (and thin bright lines survive), average
# pooling blurs, min pooling keeps the dark ones.

# %%
camera = ToTensor()(photo("camera"))[None]           # (1, 1, H, W) float32 in [0, 1]
with sn.no_grad():
    pooled = {f"max {k}x{k}": F.max_pool2d(camera, k) for k in (2, 4, 8)}
    pooled.update({f"avg {k}x{k}": F.avg_pool2d(camera, k) for k in (2, 4, 8)})
    pooled.update({f"min {k}x{k}": F.min_pool2d(camera, k) for k in (2, 4, 8)})
H = camera.shape[-1]
for k in (2, 4, 8):
    assert pooled[f"max {k}x{k}"].shape[-1] == H // k
print(f"camera {tuple(camera.shape)} -> " + ", ".join(
    f"{k}x{k}: {tuple(pooled[f'max {k}x{k}'].shape[-2:])}" for k in (2, 4, 8)))

fig, axes = pyplot.subplots(3, 3, figsize=(10, 10))
for ax, (name, img) in zip(axes.T.ravel(), pooled.items()):
    ax.imshow(img.numpy()[0, 0], cmap="gray", vmin=0, vmax=1)
    ax.set(title=f"{name} -> {img.shape[-2]}x{img.shape[-1]}", xticks=[], yticks=[])
savefig(fig, "pooled_photo")

# %% [markdown] lang="ko"
# ## 최소 풀링을 잘 쓰지 않는 이유
#
# 풀링은 보통 ReLU 뒤에 오며, ReLU의 출력은 필터가 반응하지 않은 곳에서 0이다. 맵의 절반쯤이
# 그렇다. 0이 하나라도 있는 창의 최솟값은 0이므로 최소 풀링은 대부분 0을 돌려주고 ("0을 반환할
# 가능성이 높아"), 맥스 풀링은 창 안의 반응을 하나라도 남긴다. 사진의 Sobel 윤곽 맵에 ReLU를
# 적용해 재어 보면 다음과 같다.

# %% [markdown] lang="en"
# ## Why min pooling is rare
#
# Pooling usually follows a ReLU, whose output is 0 wherever the filter did not respond,
# often half of the map. A window holding a single 0 has minimum 0, so min pooling returns
# mostly zeros ("0을 반환할 가능성이 높아"), while max pooling keeps any response in the
# window. Measured on the ReLU of the Sobel edge map of the photo:

# %%
sobel = sn.tensor(np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32)[None, None])
with sn.no_grad():
    edges = F.relu(F.conv2d(camera, sobel))
    print(f"ReLU(Sobel) map: {np.mean(edges.numpy() == 0):.0%} zeros")
    for k in (2, 4):
        z_max = np.mean(F.max_pool2d(edges, k).numpy() == 0)
        z_min = np.mean(F.min_pool2d(edges, k).numpy() == 0)
        print(f"  {k}x{k} pooling: max pooling {z_max:.0%} zeros, min pooling {z_min:.0%}")
        assert z_min > z_max

# %% [markdown] lang="ko"
# ## 위치불변
#
# 맥스 풀링은 특징이 창 안 *어디에* 있는지가 아니라 *있다는 것*을 알린다: 밝은 픽셀을 2x2 창
# 안에서 어디로 옮겨도 풀링한 맵은 바뀌지 않는다. 옆 창으로 옮기면 바뀐다. 풀링은 창보다 작은
# 이동에 대한 불변성을 주고, 풀링 층을 쌓으면 더 큰 이동에 대한 불변성을 얻는다. 이것이
# **위치불변** (location invariance)이다.

# %% [markdown] lang="en"
# ## Location invariance
#
# Max pooling reports *that* a feature is in a window, not *where*: move a bright pixel
# anywhere inside its 2x2 window and the pooled map does not change. Move it into the next
# window and it does; pooling buys invariance to shifts smaller than its window, and a stack
# of pooling layers to larger ones.

# %%
def spot(y, x):
    plane = np.zeros((1, 1, 4, 4), np.float32)
    plane[0, 0, y, x] = 9.0
    return plane


positions = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]
with sn.no_grad():
    outs = [F.max_pool2d(spot(*p), 2).numpy()[0, 0] for p in positions]
for p, o in zip(positions, outs):
    print(f"spot at {p}: max pool -> {o.astype(int).tolist()}")
assert all(np.array_equal(o, outs[0]) for o in outs[:4])
assert not np.array_equal(outs[4], outs[0])

fig, axes = pyplot.subplots(2, 5, figsize=(12, 5))
for col, (p, o) in enumerate(zip(positions, outs)):
    axes[0, col].imshow(spot(*p)[0, 0], cmap="magma", vmin=0, vmax=9)
    axes[0, col].set_title(f"spot at {p}")
    axes[1, col].imshow(o, cmap="magma", vmin=0, vmax=9)
    axes[1, col].set_title("max pool 2x2")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
savefig(fig, "invariance_toy")

# %% [markdown] lang="ko"
# 사진의 윤곽 맵에서: 한 픽셀 떨어진 두 조각(장면이 한 픽셀 이동한 것)을 잘라, 풀링 전과 후에 두
# 맵이 크기에 비해 얼마나 다른지 잰다. 창이 클수록 한 픽셀 이동의 영향이 작다. camera 사진에서는
# 모든 크기에서 맥스 풀링이 평균보다 덜 바뀐다: 작은 이동이 창의 최댓값을 바꾸는 일은 드물지만,
# 옮겨진 픽셀 하나하나가 평균은 조금씩 움직이기 때문이다. (차이가 얼마나 큰지는 그림에 따라
# 다르다.)

# %% [markdown] lang="en"
# On the photo's edge map: take two crops one pixel apart (the scene moved by one pixel) and
# measure how different the maps are, relative to their size, before and after pooling.
# The bigger the window, the less a one-pixel move matters. On the camera photo max pooling
# also changes less than averaging at every size: a small shift rarely changes which value is
# the largest in a window, while every shifted pixel moves the mean a little. (How large the
# gap is depends on the picture.)

# %%
def relative_change(a, b):
    return float(np.abs(a - b).mean() / np.abs(a).mean())


e = edges.numpy()
W = (e.shape[-1] - 1) // 16 * 16                   # divisible by 2, 4, 8 and 16
a, b = e[..., :W], e[..., 1:W + 1]                 # the same scene, one pixel apart
print(f"no pooling:  {relative_change(a, b):.2f}")
changes = {}
with sn.no_grad():
    for k in (2, 4, 8, 16):
        changes[k] = (relative_change(F.max_pool2d(a, k).numpy(), F.max_pool2d(b, k).numpy()),
                      relative_change(F.avg_pool2d(a, k).numpy(), F.avg_pool2d(b, k).numpy()))
        print(f"{k:2}x{k:<2} pool: max {changes[k][0]:.2f}, average {changes[k][1]:.2f}")
assert changes[16][0] < changes[2][0] < relative_change(a, b)

fig, ax = pyplot.subplots(figsize=(6, 3.5))
ks = list(changes)
ax.plot([1] + ks, [relative_change(a, b)] + [changes[k][0] for k in ks], "o-", label="max")
ax.plot([1] + ks, [relative_change(a, b)] + [changes[k][1] for k in ks], "s-",
        label="average")
ax.set(xscale="log", xticks=[1] + ks, xticklabels=["none"] + [f"{k}x{k}" for k in ks],
       xlabel="pooling window", ylabel="relative change",
       title="edge map moved by one pixel: how much the output changes")
ax.legend()
savefig(fig, "invariance_photo")

# %% [markdown] lang="ko"
# ## 맥스 풀링의 역전파
#
# 창의 가장 큰 값만 출력에 닿으므로 손실에 영향을 주는 것도 그 값뿐이다: 출력마다 기울기는 그 창의
# 최댓값 위치(`return_indices=True`가 알려 주는 "스위치")로 돌아가고, 나머지 픽셀은 0을 받는다.
# 딥러닝팀 1팀 (deck 003)의 예시에서 위에서 내려온 기울기가 1, 2, 3, 4이면 100, 184, 45가 1, 2,
# 4를 받는다. 왼쪽 아래 창에는 12가 네 개 있는데, 값이 같으면 행 우선 순서로 첫 번째가 받는다
# (PyTorch의 규칙). 평균 풀링은 창의 기울기를 각 픽셀에 4분의 1씩 나눠 준다.

# %% [markdown] lang="en"
# ## The backward pass of max pooling
#
# Only the largest value of a window reaches the output, so only it affects the loss: the
# gradient of each output goes back to the position of its window's maximum (the "switch"
# that `return_indices=True` reports), and every other pixel gets 0. On deck 003's example,
# with upstream gradients 1, 2, 3, 4: 100, 184 and 45 receive 1, 2 and 4; the lower-left
# window holds four 12s, and a tie goes to the first in row-major order (PyTorch's rule).
# Average pooling instead hands each pixel a quarter of its window's gradient.

# %%
xg = sn.tensor(deck[None, None], requires_grad=True)
out, idx = F.max_pool2d(xg, 2, return_indices=True)
upstream = np.array([[[[1, 2], [3, 4]]]], np.float32)
out.backward(sn.tensor(upstream))
print("indices (flat offsets into the 4x4 plane):", idx.numpy()[0, 0].tolist())
print("x.grad after max pooling:\n", xg.grad.numpy()[0, 0].astype(int))
expected = np.zeros(16, np.float32)
expected[idx.numpy().ravel()] = upstream.ravel()
assert np.array_equal(xg.grad.numpy().ravel(), expected)
assert idx.numpy()[0, 0].tolist() == [[5, 3], [8, 14]]

xa = sn.tensor(deck[None, None], requires_grad=True)
F.avg_pool2d(xa, 2).backward(sn.tensor(upstream))
print("x.grad after average pooling:\n", xa.grad.numpy()[0, 0])
assert np.array_equal(xa.grad.numpy()[0, 0], np.kron(upstream[0, 0], np.full((2, 2), 0.25)))

# %% [markdown] lang="ko"
# 창이 겹치면(3x3 창, 스트라이드 1) 한 픽셀이 여러 창의 최댓값이 될 수 있고, 그 기울기는 그 모든
# 창의 기울기의 합이다. 기울기 검사(float64 중앙 차분)로 동점이 없어 미분이 정의되는 무작위
# 입력에서 역전파를 확인한다.

# %% [markdown] lang="en"
# When windows overlap (3x3 windows, stride 1), one pixel can be the maximum of several
# windows, and its gradient is the sum over all of them. A gradient check (central
# differences in float64) confirms the backward pass on a random input, where there are no
# ties to make the derivative undefined.

# %%
xo = sn.tensor(deck[None, None], requires_grad=True)
F.max_pool2d(xo, 3, stride=1).sum().backward()
print("3x3 windows, stride 1: how many windows each pixel wins\n",
      xo.grad.numpy()[0, 0].astype(int))
assert xo.grad.numpy()[0, 0, 1, 1] == 3          # 100 tops three of the four windows

rng = np.random.default_rng(0)
xr = sn.tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
report = sn.gradcheck(lambda t: F.max_pool2d(t, 3, stride=1), [xr])
print(report)
assert report.passed

fig, axes = pyplot.subplots(1, 3, figsize=(10, 3.4))
for ax, g, title in zip(axes, [xg.grad, xa.grad, xo.grad],
                        ["max 2x2, upstream 1..4", "average 2x2, upstream 1..4",
                         "max 3x3 stride 1, upstream 1s"]):
    m = g.numpy()[0, 0]
    ax.imshow(m, cmap="Oranges", vmin=0, vmax=max(m.max(), 1))
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:g}\n({deck[i, j]:g})", ha="center", va="center", fontsize=9,
                color="white" if v > m.max() / 2 else "black")
    ax.set(title=title, xticks=[], yticks=[])
fig.suptitle("gradient reaching each input pixel (its value in brackets)")
savefig(fig, "backward")
