# %% [markdown]
# # Pooling: max, average and min; location invariance; the backward pass
#
# Follows deck 003 (`003_f33a7e07d451897d.txt`, "딥러닝팀 1팀"): "Pooling Layer" (the 4x4
# example with its max and average results), "Max/Min pooling" and "위치불변 (Location
# invariance)", and from part 1 "이미지 데이터의 가정: 이동에 대한 불변성" (the assumption
# that a small shift should not change the answer); and deck 004 (`004_6b7976dd12174aaa.txt`)
# "풀링층의 이해 — 풀링: 다운샘플링" (pooling is downsampling).
#
# A pooling layer slides a window like a convolution, but instead of a dot product with
# learned weights it takes a fixed summary of the window: the largest value, the mean, or the
# smallest. It has no parameters; it only makes the map smaller.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import ToTensor
from scratchnet.lesson import check, header, photo, plt, savefig

header("deck 003 (003_f33a7e07d451897d.txt) and deck 004 (004_6b7976dd12174aaa.txt)",
       "Pooling Layer / Max/Min pooling / 위치불변; 풀링: 다운샘플링",
       "Pooling")
pyplot = plt()

# %% [markdown]
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
check("max pooling", [[100, 184], [12, 45]], mx.tolist())
check("average pooling", [[36, 80], [12, 15]], avg.tolist())
print("min pooling (no figure on the slide):", mn.astype(int).tolist())

blocks = deck.reshape(2, 2, 2, 2)
assert np.array_equal(mx, blocks.max(axis=(1, 3)))
assert np.array_equal(avg, blocks.mean(axis=(1, 3)))
assert np.array_equal(mn, blocks.min(axis=(1, 3)))
check("parameters of a pooling layer (가중치를 사용하지 않고)", 0,
      sum(p.numel() for p in sn.nn.MaxPool2d(2).parameters()))

fig, axes = pyplot.subplots(1, 4, figsize=(12, 3.2))
block_colour = np.kron(np.array([[0, 1], [2, 3]]), np.ones((2, 2)))
for ax, m, title in zip(axes, [deck, mx, avg, mn], ["input 4x4", "max", "average", "min"]):
    colours = block_colour if m.shape == (4, 4) else np.array([[0, 1], [2, 3]])
    ax.imshow(colours, cmap="Pastel1", vmin=0, vmax=8)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=12)
    ax.set(title=title, xticks=[], yticks=[])
savefig(fig, "deck003_pooling")

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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
