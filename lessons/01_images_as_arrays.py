# %% [markdown]
# # Images as arrays: pixels, channels, (C, H, W) and grayscale
#
# Follows deck 003 (`003_f33a7e07d451897d.txt`, "딥러닝팀 1팀"), part 1 "이미지 데이터의
# 특징" (what image data looks like), slides:
#
# - "컴퓨터에서의 이미지 데이터" (image data in a computer): a picture is a grid of pixels,
#   each pixel a number; the 7x7 black-and-white bitmap; FHD vs QHD.
# - "비트맵 이미지의 표현" (how a bitmap is stored): height x width x channels, and the two
#   orders, PyTorch's (C, H, W) and TensorFlow's (H, W, C) (the slide's "Tensor").
# - "채널" (channels): R, G and B planes of 0..255, and 8-bit grayscale.
#
# Everything below is NumPy plus two scratchnet transforms; the photos are scikit-image's
# `camera` and `chelsea` (a generated picture stands in when scikit-image is missing).

# %%
import numpy as np

import scratchnet as sn
from scratchnet.data.transforms import ToTensor, resize
from scratchnet.lesson import check, header, photo, plt, savefig

header("deck 003 (003_f33a7e07d451897d.txt)",
       "컴퓨터에서의 이미지 데이터 / 비트맵 이미지의 표현 / 채널",
       "Images as arrays")
pyplot = plt()

# %% [markdown]
# ## A bitmap is a matrix
#
# The slide draws a 7x7 face where a black pixel is 1 and a white pixel is 0. Typed in, it is
# just a 7x7 integer array; `imshow` with a reversed grey colour map paints 1 as black.

# %%
smiley = np.array([[0, 0, 0, 0, 0, 0, 0],
                   [0, 1, 0, 0, 0, 1, 0],
                   [0, 0, 0, 0, 0, 0, 0],
                   [0, 0, 0, 1, 0, 0, 0],
                   [0, 1, 0, 0, 0, 1, 0],
                   [0, 0, 1, 1, 1, 0, 0],
                   [0, 0, 0, 0, 0, 0, 0]], dtype=np.uint8)
check("bitmap rows x columns", "7 x 7", "{} x {}".format(*smiley.shape))

# the colour map turns a number into a colour: with "gray_r", 1 -> black (0, 0, 0)
black = tuple(float(v) for v in pyplot.get_cmap("gray_r")(1.0)[:3])
check("a 1 pixel is drawn black (RGB)", (0, 0, 0), black)

fig, ax = pyplot.subplots(figsize=(3, 3))
ax.imshow(smiley, cmap="gray_r", vmin=0, vmax=1)
for (i, j), v in np.ndenumerate(smiley):
    ax.text(j, i, v, ha="center", va="center", color="white" if v else "black")
ax.set(title="deck 003's 7x7 bitmap", xticks=[], yticks=[])
savefig(fig, "bitmap")

# %% [markdown]
# ## More pixels, more detail — and the order of the numbers
#
# "FHD (1920 x 1080) < QHD (2560 x 1440)": screens are named width x height, but an array is
# indexed row first, so a full-HD colour frame is an array of shape (1080, 1920, 3). Mixing up
# the two orders is the most common image bug there is.

# %%
fhd = np.zeros((1080, 1920, 3), dtype=np.uint8)     # (H, W, C): rows, columns, channels
qhd = np.zeros((1440, 2560, 3), dtype=np.uint8)
check("FHD width x height", "1920 x 1080", f"{fhd.shape[1]} x {fhd.shape[0]}")
check("QHD width x height", "2560 x 1440", f"{qhd.shape[1]} x {qhd.shape[0]}")
print(f"pixels: FHD {fhd.shape[0] * fhd.shape[1]:,} < QHD {qhd.shape[0] * qhd.shape[1]:,} "
      f"({qhd.shape[0] * qhd.shape[1] / (fhd.shape[0] * fhd.shape[1]):.2f}x)")
print(f"one FHD frame: {fhd.nbytes:,} bytes as uint8, "
      f"{fhd.astype(np.float32).nbytes:,} as float32 (what a network computes in)")

# %% [markdown]
# ## A grayscale photo: one number per pixel
#
# `camera` is a 512x512 grayscale photo, stored as 8-bit unsigned integers: 2^8 = 256 grey
# levels, 0 black and 255 white (the opposite of the bitmap slide's 1-is-black convention).
# Zooming into an 8x8 patch shows that the picture is nothing but these numbers.

# %%
camera = photo("camera")
print(f"camera: shape {camera.shape}, dtype {camera.dtype}, "
      f"values {camera.min()}..{camera.max()}")
check("grey levels in 8 bits", 256, int(np.iinfo(camera.dtype).max) + 1)

top, left = camera.shape[0] // 4, camera.shape[1] // 2
patch = camera[top:top + 8, left:left + 8]
fig, (a1, a2) = pyplot.subplots(1, 2, figsize=(9, 4.5))
a1.imshow(camera, cmap="gray", vmin=0, vmax=255)
a1.add_patch(pyplot.Rectangle((left - 0.5, top - 0.5), 8, 8, fill=False, color="red", lw=2))
a1.set(title=f"camera {camera.shape}, uint8")
a2.imshow(patch, cmap="gray", vmin=0, vmax=255)
for (i, j), v in np.ndenumerate(patch):
    a2.text(j, i, v, ha="center", va="center", fontsize=8,
            color="black" if v > 128 else "white")
a2.set(title="the red 8x8 patch: the numbers themselves", xticks=[], yticks=[])
savefig(fig, "camera_pixels")

# %% [markdown]
# ## Colour: three planes
#
# A colour photo has a red, a green and a blue value per pixel, each 0..255. scikit-image (like
# PIL, OpenCV and TensorFlow) hands it out as (H, W, C). PyTorch, and so scratchnet, compute
# in (C, H, W): each channel is one contiguous plane, which is what a convolution slides over.
# `ToTensor` does the move and scales 0..255 to 0..1 in float32, as torchvision's does.
# The slide's example sizes are (3, 256, 256) and (256, 256, 3); we resize the cat to 256x256.

# %%
chelsea = photo("chelsea")
print(f"chelsea as loaded: {chelsea.shape} (H, W, C), {chelsea.dtype}")
check("channels of a colour photo", 3, chelsea.shape[-1])
check("channel values (uint8)", "0..255",
      f"{np.iinfo(chelsea.dtype).min}..{np.iinfo(chelsea.dtype).max}")

chw = resize(ToTensor()(chelsea), (256, 256))     # (3, H, W) float32 -> (3, 256, 256)
check("PyTorch order (C, H, W)", (3, 256, 256), chw.shape)
hwc = chw.permute(1, 2, 0)                          # back to (H, W, C) for plotting
check("TensorFlow order (H, W, C)", (256, 256, 3), hwc.shape)
print(f"dtype {chw.dtype}, values {float(chw.min()):.3f}..{float(chw.max()):.3f}")
# the same pixel, addressed in both orders
y, x = 100, 150
print(f"pixel (y={y}, x={x}): chw[:, y, x] = {chw.numpy()[:, y, x].round(3)}, "
      f"hwc[y, x, :] = {hwc.numpy()[y, x, :].round(3)}")
assert np.array_equal(chw.numpy()[:, y, x], hwc.numpy()[y, x, :])

# %% [markdown]
# Each channel shown on its own is a grayscale image: bright where the photo holds a lot of
# that colour. The slide's remark "the channel of the dominant colour is the brightest" holds
# for the orange cat: red has the highest mean.

# %%
names = ["R", "G", "B"]
means = chw.numpy().reshape(3, -1).mean(axis=1)
for n, m in zip(names, means):
    print(f"mean of {n}: {m:.3f}")
print(f"brightest channel: {names[int(np.argmax(means))]}")

fig, axes = pyplot.subplots(1, 4, figsize=(13, 3.4))
axes[0].imshow(hwc.numpy())
axes[0].set_title("RGB (H, W, C)")
for c, (ax, n) in enumerate(zip(axes[1:], names)):
    ax.imshow(chw.numpy()[c], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"channel {c} = {n}, mean {means[c]:.2f}")
for ax in axes:
    ax.set(xticks=[], yticks=[])
savefig(fig, "channels")

# %% [markdown]
# ## From colour to grayscale
#
# Grayscale keeps only brightness (the slide: "광도의 정보만을 전달함", only luminance). The
# eye is most sensitive to green, so brightness is a weighted sum with the largest weight on
# G. Two standards are in use: ITU-R BT.601 (0.299, 0.587, 0.114; old TV, and torchvision's
# `rgb_to_grayscale`) and BT.709 (0.2125, 0.7154, 0.0721; HDTV, and scikit-image's
# `rgb2gray`). A weighted sum over the channel axis is one `tensordot`.

# %%
bt601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
bt709 = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
gray601 = np.tensordot(bt601, chw.numpy(), axes=1)      # (3,) . (3, H, W) -> (H, W)
gray709 = np.tensordot(bt709, chw.numpy(), axes=1)
print(f"gray: shape {gray709.shape}, dtype {gray709.dtype}; the two standards differ by up "
      f"to {np.abs(gray601 - gray709).max():.3f} (on a 0..1 scale)")
try:
    from skimage.color import rgb2gray
except ImportError:
    pass
else:
    # scikit-image works on (H, W, C): the same numbers, the other order
    ref = rgb2gray(hwc.numpy())
    print(f"ours (BT.709) vs skimage.color.rgb2gray: max difference "
          f"{np.abs(ref - gray709).max():.1e}")
    assert np.allclose(ref, gray709, atol=1e-5)

fig, axes = pyplot.subplots(1, 3, figsize=(11, 3.8))
for ax, img, title in zip(axes, [gray601, gray709, gray601 - gray709],
                          ["BT.601 gray", "BT.709 gray", "601 - 709"]):
    im = ax.imshow(img, cmap="gray" if "-" not in title else "coolwarm")
    ax.set(title=title, xticks=[], yticks=[])
fig.colorbar(im, ax=axes[2], fraction=0.046)
savefig(fig, "grayscale")

# %% [markdown]
# ## A batch
#
# A network takes several images at once: stack them on a new first axis to get
# (N, C, H, W). Two copies of the cat make the batch of deck 004's "2개의 이미지" slide
# (two images), which lesson 02 sends through six filters.

# %%
batch = sn.stack([chw, chw.flip(-1)])           # the cat and its mirror image
check("batch (N, C, H, W)", (2, 3, 256, 256), batch.shape)
print(f"{batch.numel():,} numbers, {batch.numpy().nbytes:,} bytes in float32")
