# %% [markdown]
# # Upsampling: nearest neighbour, bed of nails, max unpooling, transposed convolution
#
# Follows two decks:
#
# - deck 004 (`004_6b7976dd12174aaa.txt`, "CNN 기초"), part "업샘플링 (전치 합성곱의 이해)"
#   (upsampling, understanding the transposed convolution): "언폴링 (풀링을 푸는 것)"
#   (unpooling: nearest neighbour and bed of nails), "Max Unpooling", "업샘플링: 전치 합성곱"
#   (the 3x3 convolutions with stride 1 and 2, and the 3x3 transposed convolution with stride
#   2 that gives 5x5 before trimming to 4x4), "Transpose 업샘플링: 1d 예시" (a 1-D example)
#   and "왜 전치인가?" (why "transposed": the 16x4 sparse matrix C^T).
# - deck 000 (`000_caba833c15764d1c.txt`, "CNN 응용 사례"): "Unpooling" (the 4x4 max pooling
#   and max unpooling example) and "Transpose Convolution" (3x3, stride 2, pad 1: a 2x2 input
#   to a 4x4 output, overlapping copies are summed).
#
# Segmentation networks shrink an image to find *what* is in it and must grow the result back
# to label every pixel. These are the ways to grow a feature map; the first three have no
# parameters, the transposed convolution learns its kernel.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import ToTensor, resize
from scratchnet.lesson import check, header, photo, plt, savefig, slide_is_wrong

header("deck 004 (004_6b7976dd12174aaa.txt) and deck 000 (000_caba833c15764d1c.txt)",
       "언폴링 / Max Unpooling / 전치 합성곱 / 1d 예시 / 왜 전치인가?; Unpooling / "
       "Transpose Convolution",
       "Upsampling")
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


# %% [markdown]
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
      [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], nearest.tolist())
check("bed of nails 2x2 -> 4x4",
      [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], nails.tolist())
# nearest neighbour is a Kronecker product with a block of ones
assert np.array_equal(nearest, np.kron(small[0, 0], np.ones((2, 2))))
show_grids([small[0, 0], nearest, nails], ["input 2x2", "nearest neighbour", "bed of nails"],
           "nearest_and_nails")

# %% [markdown]
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
    check("deck 000: max pooling", [[6, 8], [9, 7]], pooled.numpy()[0, 0].tolist())
    print("indices (flat positions in the 4x4 plane):", indices.numpy()[0, 0].tolist())
    unpooled = F.max_unpool2d(plane([[3, 4], [5, 6]]), indices, 2).numpy()[0, 0]
check("deck 000: max unpooling of [[3, 4], [5, 6]]",
      [[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0], [0, 0, 0, 0]], unpooled.tolist())
show_grids([x4[0, 0], pooled.numpy()[0, 0], np.array([[3, 4], [5, 6]], float), unpooled],
           ["input 4x4", "max pool (remember where)", "new values", "max unpool"],
           "max_unpooling")

# %% [markdown]
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

# %% [markdown]
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
          tuple(F.conv2d(sn.randn(1, 1, 4, 4), w3, stride=1, padding=1).shape[-2:]))
    check("4x4 through a 3x3 conv, stride 2, pad 1", (2, 2),
          tuple(F.conv2d(sn.randn(1, 1, 4, 4), w3, stride=2, padding=1).shape[-2:]))
    y2 = sn.randn(1, 1, 2, 2)
    full = F.conv_transpose2d(y2, w3, stride=2).numpy()[0, 0]
    check("2x2 through a 3x3 transposed conv, stride 2", (5, 5), full.shape)
    out4 = F.conv_transpose2d(y2, w3, stride=2, padding=1, output_padding=1).numpy()[0, 0]
check("after trimming the top row and left column", (4, 4), full[1:, 1:].shape)
assert np.allclose(out4, full[1:, 1:])

# %% [markdown]
# In PyTorch's (and scratchnet's) arguments, "trim one from the top and the left" is
# `padding=1` (trim one pixel from every side: 3x3) plus `output_padding=1` (give one back at
# the bottom and right: 4x4). The size rule, worked out:

# %%
print(sn.explain_conv_transpose_output_size(2, 3, s=2, p=1, output_padding=1))
print()
print(sn.explain_conv_transpose_output_size(2, 3, s=2, p=1))

# %% [markdown]
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
          tuple(F.conv2d(sn.randn(1, 1, 5, 5), w3, stride=2).shape[-2:]))
    check("2x2 back through its transpose", (5, 5),
          tuple(F.conv_transpose2d(sn.randn(1, 1, 2, 2), w3, stride=2).shape[-2:]))

# %% [markdown]
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
check("deck 000: output size", (4, 4), ours.shape)
check("deck 000: first pixel's copy, top-left 2x2", [[0, 1], [1, -1]],
      steps[0][:2, :2].tolist())
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

# %% [markdown]
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

# %% [markdown]
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
      out5.tolist())
check("after removing one pixel: 2 x 2", 2 * 2, len(out4))
print(f"5 -> 4: {out5.tolist()} -> {out4.tolist()}")

# %% [markdown]
# ## Why "transposed"?
#
# Lesson 03 wrote a convolution as a matrix: for a 4x4 input and a 3x3 kernel (stride 1, no
# padding) the output is 2x2, so conv(x) = C @ x with C of shape 4 x 16 (4 outputs, 16
# inputs). The transposed matrix C^T is 16 x 4: it takes the 4 outputs back to 16 pixels, and
# that is precisely the transposed convolution: `conv_transpose2d(y, w)` = C^T @ y.

# %%
w = sn.tensor(np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3))
C = sn.conv_matrix(w, (1, 4, 4)).numpy()
check("C^T (sparse matrix)", (16, 4), C.T.shape)
y = np.array([[0.5], [-1.0], [2.0], [3.0]])
check("Y", (4, 1), y.shape)
xt = C.T @ y
check("C^T @ Y", (16, 1), xt.shape)
with sn.no_grad():
    direct = F.conv_transpose2d(y.reshape(1, 1, 2, 2), w).numpy()
print(f"C^T @ y vs conv_transpose2d: max difference {np.abs(xt.ravel() - direct.ravel()).max()}")
assert np.allclose(xt.ravel(), direct.ravel())

# ... and C^T @ y is the gradient of <conv2d(x, w), y> with respect to x
xg = sn.zeros(1, 1, 4, 4, dtype=sn.float64, requires_grad=True)
(F.conv2d(xg, w) * sn.tensor(y.reshape(1, 1, 2, 2))).sum().backward()
assert np.allclose(xg.grad.numpy().ravel(), xt.ravel())
print("conv_transpose2d(y, w) == d/dx <conv2d(x, w), y>: the backward pass of a convolution")

# %% [markdown]
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
               "row of 16; output (1, 0)'s window starts at pixel (1, 0) = row 4")
check("entries of C^T columns 1-2 that match the slide", 32,
      int(np.sum(slide_CT[:, :2] == our_CT[:, :2])))
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
