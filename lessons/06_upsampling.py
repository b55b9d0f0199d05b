# %% [markdown] lang="ko"
# # 업샘플링: Nearest Neighbor, Bed of Nails, Max Unpooling, 전치 합성곱
#
# 두 강의 자료를 따라간다.
#
# - CNN 기초 (deck 004)의 "업샘플링 (전치 합성곱의 이해)": "언폴링 (풀링을 푸는 것)" (Nearest
#   Neighbor와 "Bed of Nails"), "Max Unpooling", "업샘플링: 전치 합성곱" (스트라이드 1과 2인 3x3
#   합성곱, 그리고 스트라이드 2인 3x3 전치 합성곱이 5x5를 만든 뒤 4x4로 잘라내는 과정), "Transpose
#   업샘플링: 1d 예시", "왜 전치인가?" (16x4 **희소 행렬** (sparse matrix) C^T).
# - CNN 응용 사례 (deck 000): "Unpooling" (4x4 맥스 풀링과 max unpooling 예시), "Transpose
#   Convolution" (3x3, 스트라이드 2, 패딩 1: 2x2 입력에서 4x4 출력, 겹치는 부분은 더한다).
#
# **이미지 분할** (image segmentation) 신경망은 이미지를 줄여 그 안에 *무엇이* 있는지 찾은 다음,
# 모든 픽셀에 이름을 붙이려면 결과를 다시 키워야 한다. 아래는 특징 맵을 키우는 **업샘플링**
# (upsampling)의 여러 방법이다. 앞의 세 가지는 매개변수가 없고, **전치 합성곱**
# (transposed convolution)은 커널을 학습한다.

# %% [markdown] lang="en"
# # Upsampling: nearest neighbour, bed of nails, max unpooling, transposed convolution
#
# Follows two decks:
#
# - CNN 기초 (deck 004), part "업샘플링 (전치 합성곱의 이해)" (upsampling, understanding the
#   transposed convolution): "언폴링 (풀링을 푸는 것)" (unpooling: nearest neighbour and bed of
#   nails), "Max Unpooling", "업샘플링: 전치 합성곱" (the 3x3 convolutions with stride 1 and 2,
#   and the 3x3 transposed convolution with stride 2 that gives 5x5 before trimming to 4x4),
#   "Transpose 업샘플링: 1d 예시" (a 1-D example) and "왜 전치인가?" (why "transposed": the 16x4
#   sparse matrix C^T).
# - CNN 응용 사례 (deck 000): "Unpooling" (the 4x4 max pooling and max unpooling example) and
#   "Transpose Convolution" (3x3, stride 2, pad 1: a 2x2 input to a 4x4 output, overlapping
#   copies are summed).
#
# Segmentation networks shrink an image to find *what* is in it and must grow the result back to
# label every pixel. These are the ways to grow a feature map; the first three have no
# parameters, the transposed convolution learns its kernel.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import ToTensor, resize
from scratchnet.lesson import check, header, photo, plt, savefig, slide_is_wrong

header("CNN 기초 (deck 004) and CNN 응용 사례 (deck 000)",
       "언폴링 / Max Unpooling / 전치 합성곱 / 1d 예시 / 왜 전치인가?; Unpooling / "
       "Transpose Convolution",
       "Upsampling", ko="업샘플링")
pyplot = plt()

def plane(rows):
    """A list of rows -> a float32 (1, 1, H, W) batch of one single-channel image."""
    return np.array(rows, dtype=np.float32)[None, None]


def show_grids(grids, titles, name, suptitle=None):
    fig, axes = pyplot.subplots(1, len(grids), figsize=(3.2 * len(grids), 3.3))
    for ax, g, title in zip(axes, grids, titles):
        ax.imshow(g, cmap="Blues", vmin=min(0, g.min()), vmax=max(1, g.max()))
        for (i, j), v in np.ndenumerate(g):
            ax.text(j, i, f"{v:g}", ha="center", va="center",
                    color="white" if v > g.max() / 2 else "black")
        ax.set(title=title, xticks=[], yticks=[])
    if suptitle:
        fig.suptitle(suptitle)
    savefig(fig, name)


# %% [markdown] lang="ko"
# ## Nearest Neighbor와 Bed of Nails
#
# CNN 기초 (deck 004)의 **언폴링** (unpooling) 그림 두 장은 모두 2x2 입력을 4x4 출력으로 바꾼다.
# **최근접 이웃** (nearest neighbour)은 값을 2x2 블록 전체에 복사하고, bed of nails는 값을 블록의
# 왼쪽 위 모서리에 놓고 나머지를 0으로 채운다.

# %% [markdown] lang="en"
# ## Nearest neighbour and bed of nails
#
# Both of deck 004's "unpooling" pictures turn a 2x2 input into a 4x4 output. Nearest
# neighbour copies each value into its whole 2x2 block; bed of nails puts it in the block's
# top-left corner and fills the rest with zeros.

# %%
small = plane([[1, 2], [3, 4]])
with sn.no_grad():
    nearest = F.interpolate(small, scale_factor=2, mode="nearest").numpy()[0, 0]
    nails = F.bed_of_nails(small, 2).numpy()[0, 0]
check("nearest neighbour 2x2 -> 4x4",
      [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], nearest.tolist(),
      ko="최근접 이웃 2x2 -> 4x4")
check("bed of nails 2x2 -> 4x4",
      [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], nails.tolist(),
      ko="bed of nails 2x2 -> 4x4 (0으로 채우기)")
# nearest neighbour is a Kronecker product with a block of ones
assert np.array_equal(nearest, np.kron(small[0, 0], np.ones((2, 2))))
show_grids([small[0, 0], nearest, nails], ["input 2x2", "nearest neighbour", "bed of nails"],
           "nearest_and_nails")

# %% [markdown] lang="ko"
# ## Max Unpooling: 최댓값의 위치를 기억하기
#
# CNN 응용 사례 (deck 000)의 예시이다. 4x4 맵을 맥스 풀링하면 [[6, 8], [9, 7]]이 남고,
# `return_indices=True`이면 각 최댓값이 있던 위치도 기록한다. 나중에 max unpooling은 새
# 값(슬라이드의 [[3, 4], [5, 6]])을 정확히 그 위치에 되돌려 놓고 나머지는 0으로 둔다. 그래서 풀링
# 층과 언풀링 층은 짝을 이루어야 한다 ("짝이 맞아야함").

# %% [markdown] lang="en"
# ## Max unpooling: remember where the maximum was
#
# Deck 000's example. Max pooling of the 4x4 map keeps [[6, 8], [9, 7]]; with
# `return_indices=True` it also records where each maximum sat. Later, max unpooling puts
# new values ([[3, 4], [5, 6]] on the slide) back at exactly those places and zeros
# elsewhere, so pooling and unpooling layers must come in matching pairs ("짝이 맞아야함").

# %%
x4 = plane([[1, 2, 3, 4],
            [5, 6, 7, 8],
            [9, 8, 7, 6],
            [5, 4, 3, 2]])
with sn.no_grad():
    pooled, indices = F.max_pool2d(x4, 2, return_indices=True)
    check("deck 000: max pooling", [[6, 8], [9, 7]], pooled.numpy()[0, 0].tolist(),
          ko="deck 000: 맥스 풀링")
    print("indices (flat positions in the 4x4 plane):", indices.numpy()[0, 0].tolist())
    unpooled = F.max_unpool2d(plane([[3, 4], [5, 6]]), indices, 2).numpy()[0, 0]
check("deck 000: max unpooling of [[3, 4], [5, 6]]",
      [[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0], [0, 0, 0, 0]], unpooled.tolist(),
      ko="deck 000: [[3, 4], [5, 6]]의 max unpooling")
show_grids([x4[0, 0], pooled.numpy()[0, 0], np.array([[3, 4], [5, 6]], float), unpooled],
           ["input 4x4", "max pool (remember where)", "new values", "max unpool"],
           "max_unpooling")

# %% [markdown] lang="ko"
# ## 사진에서
#
# 고양이 사진을 맥스 풀링으로 4배 줄이고(위치를 기억해 두고) 네 가지 방법으로 다시 키운다. 최근접
# 이웃은 블록을 만들고, 쌍선형 보간(`interpolate`의 매끄러운 선택지)은 이웃을 섞으며, bed of
# nails와 max unpooling은 대부분의 픽셀을 0으로 남긴다: 이 둘은 빈 곳을 채우는 합성곱이 뒤따르도록
# 만든 것이다. Max unpooling은 모든 값을 그 창에서 가장 밝았던 픽셀 자리로 돌려 놓으므로(색
# 채널마다 자기 위치를 기억해서 색깔 점이 생긴다) 수염 같은 밝은 세부가 원래 자리에 놓인다.

# %% [markdown] lang="en"
# ## On a photo
#
# Shrink the cat 4x with max pooling (keeping the indices), then grow it back four ways.
# Nearest neighbour gives blocks, bilinear interpolation (the smooth option of `interpolate`)
# blends neighbours, bed of nails and max unpooling leave most pixels at zero: they are meant
# to be followed by a convolution that fills the gaps. Max unpooling puts every value back
# where the brightest pixel of its window was (each colour channel remembers its own place,
# hence the coloured dots), so bright details such as whiskers land where they were.

# %%
cat = resize(ToTensor()(photo("chelsea")), (256, 256))[None]    # (1, 3, 256, 256)
with sn.no_grad():
    small_cat, cat_idx = F.max_pool2d(cat, 4, return_indices=True)    # (1, 3, 64, 64)
    grown = {
        "nearest": F.interpolate(small_cat, scale_factor=4, mode="nearest"),
        "bilinear": F.interpolate(small_cat, scale_factor=4, mode="bilinear"),
        "bed of nails": F.bed_of_nails(small_cat, 4),
        "max unpool": F.max_unpool2d(small_cat, cat_idx, 4),
    }
for name, img in grown.items():
    assert img.shape == cat.shape, name
    print(f"{name:13} {tuple(small_cat.shape)} -> {tuple(img.shape)}, "
          f"{np.mean(img.numpy() == 0):.0%} zeros")

fig, axes = pyplot.subplots(2, 6, figsize=(16, 6))
panels = [("original 256", cat), ("max pool 4x4: 64", small_cat)] + list(grown.items())
top, left, size = 96, 136, 64                  # a 64x64 window of the 256 image: eye, cheek
for col, (name, img) in enumerate(panels):
    a = np.clip(img.numpy()[0].transpose(1, 2, 0), 0, 1)
    f = a.shape[0] // 64                       # 4 for 256-pixel images, 1 for the small one
    zoom = a[top * f // 4:(top + size) * f // 4, left * f // 4:(left + size) * f // 4]
    axes[0, col].imshow(a)
    axes[0, col].add_patch(pyplot.Rectangle((left * f // 4 - 0.5, top * f // 4 - 0.5),
                                            size * f // 4, size * f // 4, fill=False,
                                            color="w", lw=1))
    axes[0, col].set_title(name)
    axes[1, col].imshow(zoom, interpolation="nearest")
    axes[1, col].set_title("zoom on the white box")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
savefig(fig, "photo_upsampling")

# %% [markdown] lang="ko"
# ## 전치 합성곱, CNN 기초 (deck 004)의 순서대로
#
# 스트라이드 1, 패딩 1인 3x3 합성곱은 4x4 입력을 4x4로 유지하고, 스트라이드 2이면 2x2로 줄인다:
# *학습 가능한 다운샘플링*이다. 반대 방향으로 가면(슬라이드: "학습 가능한 업샘플링에 1보다 작은
# 스트라이드를 쓸 수 있을까?"), 입력 픽셀 하나하나가 자기 값으로 필터의 복사본에 가중치를 주어
# 출력에 붙이고, 입력 한 픽셀마다 출력에서 2픽셀씩 옮겨 간다. 복사본이 겹치는 곳은 더한다. 그러면
# 2x2 입력은 방향마다 (2 - 1)*2 + 3 = 5픽셀을 덮어 5x5가 되고, 위와 왼쪽에서 한 픽셀씩 잘라내면
# 4x4 출력이 된다.

# %% [markdown] lang="en"
# ## Transposed convolution, in deck 004's steps
#
# A 3x3 convolution with stride 1 and padding 1 keeps a 4x4 input 4x4; with stride 2 it
# shrinks it to 2x2, a *learnable downsampling*. Going the other way (the slide: "can we use
# stride < 1 for learnable upsampling?"), each input pixel weights a copy of the filter by
# its value and pastes it into the output, moving 2 output pixels for every input pixel;
# where copies overlap, they are summed. A 2x2 input then covers (2 - 1)*2 + 3 = 5 pixels
# each way: 5x5, and trimming one pixel from the top and the left gives the 4x4 output.

# %%
w3 = sn.randn(1, 1, 3, 3)
with sn.no_grad():
    check("4x4 through a 3x3 conv, stride 1, pad 1", (4, 4),
          tuple(F.conv2d(sn.randn(1, 1, 4, 4), w3, stride=1, padding=1).shape[-2:]),
          ko="4x4 입력, 3x3 합성곱, 스트라이드 1, 패딩 1")
    check("4x4 through a 3x3 conv, stride 2, pad 1", (2, 2),
          tuple(F.conv2d(sn.randn(1, 1, 4, 4), w3, stride=2, padding=1).shape[-2:]),
          ko="4x4 입력, 3x3 합성곱, 스트라이드 2, 패딩 1")
    y2 = sn.randn(1, 1, 2, 2)
    full = F.conv_transpose2d(y2, w3, stride=2).numpy()[0, 0]
    check("2x2 through a 3x3 transposed conv, stride 2", (5, 5), full.shape,
          ko="2x2 입력, 3x3 전치 합성곱, 스트라이드 2")
    out4 = F.conv_transpose2d(y2, w3, stride=2, padding=1, output_padding=1).numpy()[0, 0]
check("after trimming the top row and left column", (4, 4), full[1:, 1:].shape,
      ko="맨 위 행과 왼쪽 열을 잘라낸 뒤")
assert np.allclose(out4, full[1:, 1:])

# %% [markdown] lang="ko"
# PyTorch (그리고 scratchnet)의 인자로 "위와 왼쪽에서 하나씩 잘라내기"는 `padding=1`(모든 변에서
# 한 픽셀씩 잘라 3x3)에 `output_padding=1`(아래와 오른쪽에 하나를 돌려주어 4x4)을 더한 것이다.
# 크기 규칙을 계산해 보면 다음과 같다.

# %% [markdown] lang="en"
# In PyTorch's (and scratchnet's) arguments, "trim one from the top and the left" is
# `padding=1` (trim one pixel from every side: 3x3) plus `output_padding=1` (give one back at
# the bottom and right: 4x4). The size rule, worked out:

# %%
print(sn.explain_conv_transpose_output_size(2, 3, s=2, p=1, output_padding=1))
print()
print(sn.explain_conv_transpose_output_size(2, 3, s=2, p=1))

# %% [markdown] lang="ko"
# 슬라이드는 왜 잘라내는가? 여러 입력 크기가 같은 출력으로 줄어들기 때문이다: 스트라이드 2, 패딩
# 1인 3x3 합성곱은 3x3 입력*과* 4x4 입력을 모두 2x2로 만들고, 전치 합성곱은 어느 쪽으로 돌아가야
# 할지 알 수 없다. `output_padding`이 그것을 고른다. 슬라이드의 다른 짝인 패딩 없는 5x5 입력도
# 2x2로 합성곱되며, 그 전치는 잘라내지 않고 5x5로 돌아간다.

# %% [markdown] lang="en"
# Why does the slide trim at all? Several input sizes shrink to the same output: a 3x3
# convolution with stride 2 and padding 1 turns a 3x3 *and* a 4x4 input into 2x2, and the
# transposed convolution cannot know which one to go back to. `output_padding` picks. The
# slide's other pairing, a 5x5 input with no padding, also convolves to 2x2, and its
# transpose returns to 5x5 with no trimming at all.

# %%
with sn.no_grad():
    for n in (3, 4):
        print(f"3x3 conv, stride 2, pad 1: {n}x{n} -> "
              f"{tuple(F.conv2d(sn.randn(1, 1, n, n), w3, stride=2, padding=1).shape[-2:])}")
    check("5x5 through a 3x3 conv, stride 2, no padding", (2, 2),
          tuple(F.conv2d(sn.randn(1, 1, 5, 5), w3, stride=2).shape[-2:]),
          ko="5x5 입력, 3x3 합성곱, 스트라이드 2, 패딩 없음")
    check("2x2 back through its transpose", (5, 5),
          tuple(F.conv_transpose2d(sn.randn(1, 1, 2, 2), w3, stride=2).shape[-2:]),
          ko="2x2를 그 전치로 되돌리기")

# %% [markdown] lang="ko"
# ## CNN 응용 사례 (deck 000)의 숫자들
#
# 입력 [[1, -1], [0, 1]], 필터 [[-1, 1, -1], [1, 0, 1], [-1, 1, -1]], 스트라이드 2, 패딩 1.
# 슬라이드는 첫 단계를 보여 준다: 입력의 왼쪽 위 픽셀(1)에 필터를 곱해 그 중심을 출력 (0, 0)에
# 붙인다. 4x4 출력 안에서 이 복사본은 왼쪽 위 2x2에 [[0, 1], [1, -1]]을 더한다. 이어서 나머지 세
# 픽셀이 두 픽셀씩 떨어진 곳에 복사본을 붙이고, 겹치는 복사본은 더하며 ("출력값이 겹치는 부분은
# 모든 출력값을 더해줌"), 패딩이 테두리를 잘라낸다. 그 흩뿌리기를 손으로 쓰면 다음과 같다.

# %% [markdown] lang="en"
# ## Deck 000's numbers
#
# Input [[1, -1], [0, 1]], filter [[-1, 1, -1], [1, 0, 1], [-1, 1, -1]], stride 2, pad 1.
# The slide shows the first step: the input's top-left pixel (1) times the filter, pasted
# with its centre on output (0, 0); inside the 4x4 output that copy contributes
# [[0, 1], [1, -1]] to the top-left 2x2. Then the other three pixels paste their copies two
# pixels further on, overlapping copies add up ("출력값이 겹치는 부분은 모든 출력값을
# 더해줌"), and the pad trims the border. Written as that scatter, by hand:

# %%
x_in = np.array([[1, -1], [0, 1]], dtype=np.float32)
kernel = np.array([[-1, 1, -1], [1, 0, 1], [-1, 1, -1]], dtype=np.float32)


def transposed_by_scatter(x, k, stride, pad, output_padding=0):
    """Each input pixel adds x[i, j] * k at (stride*i, stride*j) of a canvas; then `pad`
    pixels are trimmed from the top/left and the output keeps (H-1)*s - 2p + k + op rows."""
    H, W = x.shape
    kh, kw = k.shape
    canvas = np.zeros(((H - 1) * stride + kh + output_padding,
                       (W - 1) * stride + kw + output_padding), dtype=x.dtype)
    steps = []
    for i in range(H):
        for j in range(W):
            canvas[stride * i:stride * i + kh, stride * j:stride * j + kw] += x[i, j] * k
            steps.append(canvas.copy())
    out_h = (H - 1) * stride - 2 * pad + kh + output_padding
    out_w = (W - 1) * stride - 2 * pad + kw + output_padding
    trim = lambda c: c[pad:pad + out_h, pad:pad + out_w]    # noqa: E731
    return trim(canvas), [trim(s) for s in steps]


by_hand, steps = transposed_by_scatter(x_in, kernel, stride=2, pad=1, output_padding=1)
with sn.no_grad():
    ours = F.conv_transpose2d(x_in[None, None], kernel[None, None], stride=2, padding=1,
                              output_padding=1).numpy()[0, 0]
check("deck 000: output size", (4, 4), ours.shape, ko="deck 000: 출력 크기")
check("deck 000: first pixel's copy, top-left 2x2", [[0, 1], [1, -1]],
      steps[0][:2, :2].tolist(), ko="deck 000: 첫 픽셀의 복사본, 왼쪽 위 2x2")
print("the full output:\n", ours.astype(int))
assert np.array_equal(ours, by_hand)
print(f"output (0, 1) is {steps[0][0, 1]:g} after the first copy and {ours[0, 1]:g} at the "
      f"end: the second pixel (-1) adds its copy on top")

fig, axes = pyplot.subplots(1, 5, figsize=(15, 3.4))
for ax, (s, title) in zip(axes, zip(steps + [ours], [f"after input pixel {p}" for p in
                                                      [(0, 0), (0, 1), (1, 0), (1, 1)]]
                                        + ["conv_transpose2d"])):
    ax.imshow(s, cmap="coolwarm", vmin=-2, vmax=2)
    for (i, j), v in np.ndenumerate(s):
        ax.text(j, i, f"{v:g}", ha="center", va="center")
    ax.set(title=title, xticks=[], yticks=[])
fig.suptitle("deck 000: 3x3 transposed conv, stride 2, pad 1 — copies pasted and summed "
             "(already trimmed to 4x4)")
savefig(fig, "deck000_transposed_steps")

# %% [markdown] lang="ko"
# 겹침에는 눈에 보이는 부작용이 있다. 3x3 커널과 스트라이드 2에서는 어떤 출력 픽셀은 복사본을
# 하나, 어떤 픽셀은 둘, 어떤 픽셀은 넷 받는다. 모든 값이 1인 커널로 상수 이미지를 업샘플링하면 그
# 무늬가 보인다: 전치 합성곱의 바둑판 무늬 인공물(checkerboard artefact)로, 학습이 이를 상쇄하도록
# 배워야 한다 (또는 크기 조절 뒤에 합성곱을 두면 피할 수 있다).

# %% [markdown] lang="en"
# Overlaps have a visible side effect. With a 3x3 kernel and stride 2, some output pixels
# receive one copy, some two, some four. Upsampling a constant image with an all-ones kernel
# shows the pattern: the checkerboard artefact of transposed convolutions, which training
# has to learn to cancel (or which a resize followed by a convolution avoids).

# %%
with sn.no_grad():
    counts = F.conv_transpose2d(sn.ones(1, 1, 6, 6), sn.ones(1, 1, 3, 3), stride=2,
                                padding=1, output_padding=1).numpy()[0, 0]
print("copies summed at each output pixel (6x6 -> 12x12):\n", counts[:6, :6].astype(int))
assert set(np.unique(counts[1:-1, 1:-1]).tolist()) == {1.0, 2.0, 4.0}
fig, ax = pyplot.subplots(figsize=(4, 4))
ax.imshow(counts, cmap="viridis")
ax.set(title="ones 6x6 -> 12x12, all-ones 3x3 kernel, s=2", xticks=[], yticks=[])
savefig(fig, "checkerboard")

# %% [markdown] lang="ko"
# ## 1차원 예시
#
# 입력 [a, b], 필터 [x, y, z], 스트라이드 2: a의 복사본 [ax, ay, az]와 b의 복사본 [bx, by, bz]는
# 두 칸 떨어져 시작해 한 곳에서 겹친다: [ax, ay, az + bx, by, bz], 길이 5. 입력의 정확히 두
# 배(2 x 2 = 4)를 얻으려면 출력 픽셀 하나를 버려야 한다. a = 2, b = 3, x, y, z = 1, 10, 100이면
# 모든 곱이 자릿수에 드러난다.

# %% [markdown] lang="en"
# ## The 1-D example
#
# Input [a, b], filter [x, y, z], stride 2: a's copy [ax, ay, az] and b's copy [bx, by, bz]
# start two apart and overlap in one place: [ax, ay, az + bx, by, bz], 5 long. To get
# exactly twice the input (2 x 2 = 4) one output pixel has to go. With a = 2, b = 3 and
# x, y, z = 1, 10, 100 every product is visible in the digits.

# %%
a, b = 2.0, 3.0
fx, fy, fz = 1.0, 10.0, 100.0
sig = np.array([[[[a, b]]]], np.float32)             # (1, 1, 1, 2): a 1-D signal as a row
filt1 = np.array([[[[fx, fy, fz]]]], np.float32)     # (1, 1, 1, 3)
with sn.no_grad():
    out5 = F.conv_transpose2d(sig, filt1, stride=(1, 2)).numpy()[0, 0, 0]
    out4 = F.conv_transpose2d(sig, filt1, stride=(1, 2), padding=(0, 1),
                              output_padding=(0, 1)).numpy()[0, 0, 0]
check("[ax, ay, az + bx, by, bz]", [a * fx, a * fy, a * fz + b * fx, b * fy, b * fz],
      out5.tolist(), ko="[ax, ay, az + bx, by, bz] (겹친 곳은 더함)")
check("after removing one pixel: 2 x 2", 2 * 2, len(out4), ko="픽셀 하나를 버린 뒤: 2 x 2")
print(f"5 -> 4: {out5.tolist()} -> {out4.tolist()}")

# %% [markdown] lang="ko"
# ## 왜 "전치"인가?
#
# 레슨 03은 합성곱을 행렬로 썼다: 4x4 입력과 3x3 커널(스트라이드 1, 패딩 없음)의 출력은 2x2이므로
# conv(x) = C @ x이고 C의 모양은 4 x 16(출력 4개, 입력 16개)이다. 전치 행렬 C^T는 16 x 4로, 출력
# 4개를 픽셀 16개로 되돌린다. 이것이 바로 전치 합성곱이다: `conv_transpose2d(y, w)` = C^T @ y.
# C^T는 대부분의 원소가 0인 희소 행렬이다.

# %% [markdown] lang="en"
# ## Why "transposed"?
#
# Lesson 03 wrote a convolution as a matrix: for a 4x4 input and a 3x3 kernel (stride 1, no
# padding) the output is 2x2, so conv(x) = C @ x with C of shape 4 x 16 (4 outputs, 16
# inputs). The transposed matrix C^T is 16 x 4: it takes the 4 outputs back to 16 pixels, and
# that is precisely the transposed convolution: `conv_transpose2d(y, w)` = C^T @ y.

# %%
w = sn.tensor(np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3))
C = sn.conv_matrix(w, (1, 4, 4)).numpy()
check("C^T (sparse matrix)", (16, 4), C.T.shape, ko="C^T (희소 행렬)")
y = np.array([[0.5], [-1.0], [2.0], [3.0]])
check("Y", (4, 1), y.shape, ko="Y (출력)")
xt = C.T @ y
check("C^T @ Y", (16, 1), xt.shape, ko="C^T @ Y (16픽셀로 되돌림)")
with sn.no_grad():
    direct = F.conv_transpose2d(y.reshape(1, 1, 2, 2), w).numpy()
print(f"C^T @ y vs conv_transpose2d: max difference {np.abs(xt.ravel() - direct.ravel()).max()}")
assert np.allclose(xt.ravel(), direct.ravel())

# ... and C^T @ y is the gradient of <conv2d(x, w), y> with respect to x
xg = sn.zeros(1, 1, 4, 4, dtype=sn.float64, requires_grad=True)
(F.conv2d(xg, w) * sn.tensor(y.reshape(1, 1, 2, 2))).sum().backward()
assert np.allclose(xg.grad.numpy().ravel(), xt.ravel())
print("conv_transpose2d(y, w) == d/dx <conv2d(x, w), y>: the backward pass of a convolution")

# %% [markdown] lang="ko"
# 슬라이드는 C^T를 기호 w_{i,j}로 보여 준다. 처음 두 열은 맞지만 셋째와 넷째 열은 이미지가 16픽셀
# 한 줄인 것처럼 한 행씩 밀려 있다: 셋째 열(출력 픽셀 (1, 0))은 2행에서 시작하지만 그 출력의 창은
# 입력 픽셀 (1, 0), 곧 펼친 이미지의 4행에서 시작하고, 넷째 열(출력 (1, 1))은 픽셀
# (1, 1) = 5행에서 시작한다. 슬라이드에서는 마지막 두 행이 모두 0이지만, 실제로는 출력 (1, 1)의
# w_{2,2}가 마지막 픽셀인 15행에 놓인다. 아래는 w_{i,j}를 숫자 10*i + j + 1로 나타낸 슬라이드의
# 행렬을 그대로 옮긴 것과, 같은 방식으로 나타낸 `conv_matrix`의 비교이다.

# %% [markdown] lang="en"
# The slide prints C^T with symbols w_{i,j}. Its first two columns are right, but the third
# and fourth are shifted by one row each, as if the image were a single row of 16 pixels:
# column 3 (output pixel (1, 0)) starts at row 2, but that output's window starts at input
# pixel (1, 0) = row 4 of the flattened image, and column 4 (output (1, 1)) at pixel (1, 1) =
# row 5. On the slide the last two rows are all zero; in fact w_{2,2} of output (1, 1) lands
# on the last pixel, row 15. Below, the slide's matrix as printed, with w_{i,j} encoded as
# the number 10*i + j + 1, against `conv_matrix` with the same encoding.

# %%
def w_(i, j):
    return 10 * i + j + 1


slide_CT = np.array([
    [w_(0, 0), 0, 0, 0],
    [w_(0, 1), w_(0, 0), 0, 0],
    [w_(0, 2), w_(0, 1), w_(0, 0), 0],
    [0, w_(0, 2), w_(0, 1), w_(0, 0)],
    [w_(1, 0), 0, w_(0, 2), w_(0, 1)],
    [w_(1, 1), w_(1, 0), 0, w_(0, 2)],
    [w_(1, 2), w_(1, 1), w_(1, 0), 0],
    [0, w_(1, 2), w_(1, 1), w_(1, 0)],
    [w_(2, 0), 0, w_(1, 2), w_(1, 1)],
    [w_(2, 1), w_(2, 0), 0, w_(1, 2)],
    [w_(2, 2), w_(2, 1), w_(2, 0), 0],
    [0, w_(2, 2), w_(2, 1), w_(2, 0)],
    [0, 0, w_(2, 2), w_(2, 1)],
    [0, 0, 0, w_(2, 2)],
    [0, 0, 0, 0],
    [0, 0, 0, 0]], dtype=np.float64)
coded = np.array([[w_(i, j) for j in range(3)] for i in range(3)], dtype=np.float64)
our_CT = sn.conv_matrix(coded, (4, 4)).numpy().T
print("our C^T, w_{i,j} as 10*i + j + 1:\n", our_CT.astype(int))
# where w_{0,0} sits in each column = the flattened index of that output's window corner
slide_starts = [int(np.flatnonzero(col == w_(0, 0))[0]) for col in slide_CT.T]
our_starts = [int(np.flatnonzero(col == w_(0, 0))[0]) for col in our_CT.T]
corner_rows = [4 * oy + ox for oy in range(2) for ox in range(2)]     # pixel (oy, ox) of 4x4
slide_is_wrong("row of w_{0,0} in each column of C^T", [0, 1, 2, 3], slide_starts,
               corner_rows, our_starts,
               "columns 3 and 4 are shifted by one row each, as if the 4x4 image were one "
               "row of 16; output (1, 0)'s window starts at pixel (1, 0) = row 4",
               ko="C^T의 각 열에서 w_{0,0}이 놓인 행",
               why_ko="셋째와 넷째 열이 4x4 이미지를 16픽셀 한 줄로 본 것처럼 한 행씩 밀려 "
                      "있다; 출력 (1, 0)의 창은 픽셀 (1, 0) = 4행에서 시작한다")
check("entries of C^T columns 1-2 that match the slide", 32,
      int(np.sum(slide_CT[:, :2] == our_CT[:, :2])), ko="C^T 1-2열에서 슬라이드와 맞는 원소 수")
assert not np.array_equal(slide_CT, our_CT)

fig, axes = pyplot.subplots(1, 2, figsize=(6, 7))
for ax, m, title in zip(axes, [slide_CT, our_CT], ["C^T as printed on the slide",
                                                    "C^T from conv_matrix"]):
    ax.imshow(np.ma.masked_equal(m, 0), cmap="viridis", vmin=1, vmax=23)
    for (i, j), v in np.ndenumerate(m):
        if v:
            i_w, j_w = divmod(int(v) - 1, 10)
            ax.text(j, i, f"w{i_w}{j_w}", ha="center", va="center", fontsize=8, color="w")
    ax.set(title=title, xticks=range(4), yticks=range(16), xlabel="output pixel",
           ylabel="input pixel")
savefig(fig, "why_transposed")
