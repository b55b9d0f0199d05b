# %% [markdown] lang="ko"
# # 배열로 보는 이미지: 픽셀, 채널, (C, H, W)와 흑백
#
# 딥러닝팀 1팀 (deck 003)의 1부 "이미지 데이터의 특징"을 따라가며, 다루는 슬라이드는 다음과 같다.
#
# - "컴퓨터에서의 이미지 데이터": 이미지는 **픽셀** (pixel)이라 불리는 사각형의 집합이고, 각
#   픽셀은 숫자 하나이다. 7x7 흑백 비트맵, FHD와 QHD.
# - "비트맵 이미지의 표현": 세로 x 가로 x **채널** (channel), 그리고 두 가지 순서인 PyTorch의
#   (C, H, W)와 TensorFlow의 (H, W, C) (슬라이드의 "Tensor").
# - "채널": 0~255 값을 가지는 R, G, B 평면과 8비트 그레이스케일(grayscale).
#
# 아래 코드는 NumPy와 scratchnet의 변환 두 개가 전부이다. 사진은 scikit-image의 `camera`와
# `chelsea`이다 (scikit-image가 없으면 생성한 그림이 대신 쓰인다).

# %% [markdown] lang="en"
# # Images as arrays: pixels, channels, (C, H, W) and grayscale
#
# Follows 딥러닝팀 1팀 (deck 003), part 1 "이미지 데이터의 특징" (what image data looks
# like), slides:
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

header("딥러닝팀 1팀 (deck 003)",
       "컴퓨터에서의 이미지 데이터 / 비트맵 이미지의 표현 / 채널",
       "Images as arrays", ko="배열로 보는 이미지")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 비트맵은 행렬이다
#
# 슬라이드는 검정 픽셀이 1, 흰 픽셀이 0인 7x7 얼굴을 그린다. 이미지를 **행렬** (matrix)의 형태로
# 나타낸 것이 **비트맵 이미지** (bitmap image)이다. 그대로 입력하면 7x7 정수 배열일 뿐이고, 회색
# 컬러맵을 뒤집어(`gray_r`) `imshow`로 그리면 1이 검정으로 칠해진다.

# %% [markdown] lang="en"
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
check("bitmap rows x columns", "7 x 7", "{} x {}".format(*smiley.shape), ko="비트맵 행 x 열")

# the colour map turns a number into a colour: with "gray_r", 1 -> black (0, 0, 0)
black = tuple(float(v) for v in pyplot.get_cmap("gray_r")(1.0)[:3])
check("a 1 pixel is drawn black (RGB)", (0, 0, 0), black, ko="1인 픽셀은 검정 (RGB)")

fig, ax = pyplot.subplots(figsize=(3, 3))
ax.imshow(smiley, cmap="gray_r", vmin=0, vmax=1)
for (i, j), v in np.ndenumerate(smiley):
    ax.text(j, i, v, ha="center", va="center", color="white" if v else "black")
ax.set(title="deck 003's 7x7 bitmap", xticks=[], yticks=[])
savefig(fig, "bitmap")

# %% [markdown] lang="ko"
# ## 픽셀이 많을수록 고화질 — 그리고 숫자의 순서
#
# "FHD (1920 x 1080) < QHD (2560 x 1440)": 화면은 가로 x 세로로 부르지만 배열은 행(세로)부터
# 색인하므로, FHD 컬러 프레임 한 장은 (1080, 1920, 3) 모양의 배열이다. 두 순서를 혼동하는 것이
# 이미지 코드에서 가장 흔한 버그이다.

# %% [markdown] lang="en"
# ## More pixels, more detail — and the order of the numbers
#
# "FHD (1920 x 1080) < QHD (2560 x 1440)": screens are named width x height, but an array is
# indexed row first, so a full-HD colour frame is an array of shape (1080, 1920, 3). Mixing up
# the two orders is the most common image bug there is.

# %%
fhd = np.zeros((1080, 1920, 3), dtype=np.uint8)     # (H, W, C): rows, columns, channels
qhd = np.zeros((1440, 2560, 3), dtype=np.uint8)
check("FHD width x height", "1920 x 1080", f"{fhd.shape[1]} x {fhd.shape[0]}",
      ko="FHD 가로 x 세로")
check("QHD width x height", "2560 x 1440", f"{qhd.shape[1]} x {qhd.shape[0]}",
      ko="QHD 가로 x 세로")
print(f"pixels: FHD {fhd.shape[0] * fhd.shape[1]:,} < QHD {qhd.shape[0] * qhd.shape[1]:,} "
      f"({qhd.shape[0] * qhd.shape[1] / (fhd.shape[0] * fhd.shape[1]):.2f}x)")
print(f"one FHD frame: {fhd.nbytes:,} bytes as uint8, "
      f"{fhd.astype(np.float32).nbytes:,} as float32 (what a network computes in)")

# %% [markdown] lang="ko"
# ## 흑백 사진: 픽셀마다 숫자 하나
#
# `camera`는 512x512 흑백 사진으로, 8비트 부호 없는 정수로 저장된다. 2^8 = 256단계의 밝기에서 0은
# 검정, 255는 흰색이다 (1이 검정인 비트맵 슬라이드와 반대). 8x8 조각을 확대해 보면 사진은 이
# 숫자들일 뿐이다.

# %% [markdown] lang="en"
# ## A grayscale photo: one number per pixel
#
# `camera` is a 512x512 grayscale photo, stored as 8-bit unsigned integers: 2^8 = 256 grey
# levels, 0 black and 255 white (the opposite of the bitmap slide's 1-is-black convention).
# Zooming into an 8x8 patch shows that the picture is nothing but these numbers.

# %%
camera = photo("camera")
print(f"camera: shape {camera.shape}, dtype {camera.dtype}, "
      f"values {camera.min()}..{camera.max()}")
check("grey levels in 8 bits", 256, int(np.iinfo(camera.dtype).max) + 1, ko="8비트의 밝기 단계")

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

# %% [markdown] lang="ko"
# ## 컬러: 세 개의 평면
#
# 컬러 사진은 픽셀마다 빨강, 초록, 파랑 값을 하나씩 가지며 각각 0~255이다. 이미지 데이터는 R, G, B
# 3개의 채널로 구성된다. scikit-image는 (PIL, OpenCV, TensorFlow처럼) (H, W, C)로 내주지만,
# PyTorch와 scratchnet은 (C, H, W)로 계산한다. 채널 하나가 연속된 평면 하나이고, 합성곱이
# 미끄러지며 훑는 것이 바로 이 평면이다. `ToTensor`가 축을 옮기고 0..255를 float32의 0..1로 바꾼다
# (torchvision과 같다). 슬라이드의 예시 크기는 (3, 256, 256)과 (256, 256, 3)이므로 고양이 사진을
# 256x256으로 줄인다.

# %% [markdown] lang="en"
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
check("channels of a colour photo", 3, chelsea.shape[-1], ko="컬러 사진의 채널 수")
check("channel values (uint8)", "0..255",
      f"{np.iinfo(chelsea.dtype).min}..{np.iinfo(chelsea.dtype).max}", ko="채널 값의 범위 (uint8)")

chw = resize(ToTensor()(chelsea), (256, 256))     # (3, H, W) float32 -> (3, 256, 256)
check("PyTorch order (C, H, W)", (3, 256, 256), chw.shape, ko="PyTorch 순서 (C, H, W)")
hwc = chw.permute(1, 2, 0)                          # back to (H, W, C) for plotting
check("TensorFlow order (H, W, C)", (256, 256, 3), hwc.shape, ko="TensorFlow 순서 (H, W, C)")
print(f"dtype {chw.dtype}, values {float(chw.min()):.3f}..{float(chw.max()):.3f}")
# the same pixel, addressed in both orders
y, x = 100, 150
print(f"pixel (y={y}, x={x}): chw[:, y, x] = {chw.numpy()[:, y, x].round(3)}, "
      f"hwc[y, x, :] = {hwc.numpy()[y, x, :].round(3)}")
assert np.array_equal(chw.numpy()[:, y, x], hwc.numpy()[y, x, :])

# %% [markdown] lang="ko"
# 채널 하나만 떼어 보면 흑백 이미지이고, 사진에 그 색이 많을수록 밝다. 슬라이드의 "많이 포함된
# 색일수록 해당 채널이 상대적으로 밝음"은 주황색 고양이에서도 성립한다: R의 평균이 가장 크다.

# %% [markdown] lang="en"
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

# %% [markdown] lang="ko"
# ## 컬러에서 흑백으로
#
# 흑백(grayscale)은 밝기만 남긴다 (슬라이드: "'광도의 정보'만을 전달함", 곧 **광도** (luminance)만
# 전달한다). 눈은 초록에 가장 민감하므로 밝기는 G에 가장 큰 가중치를 둔 가중합이다. 두 가지 표준이
# 쓰인다: ITU-R BT.601 (0.299, 0.587, 0.114; 옛 TV, torchvision의 `rgb_to_grayscale`)과 BT.709
# (0.2125, 0.7154, 0.0721; HDTV, scikit-image의 `rgb2gray`). 채널 축에 대한 가중합은 `tensordot`
# 한 번이다.

# %% [markdown] lang="en"
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

# %% [markdown] lang="ko"
# ## 배치
#
# 신경망은 이미지 여러 장을 한꺼번에 받는다. 새 첫 번째 축으로 쌓으면 (N, C, H, W)가 된다. 고양이
# 사진 두 장이 CNN 기초 (deck 004)의 "2개의 이미지" 슬라이드의 **배치** (batch)가 되고, 레슨
# 02에서 이 배치를 필터 여섯 개에 통과시킨다.

# %% [markdown] lang="en"
# ## A batch
#
# A network takes several images at once: stack them on a new first axis to get
# (N, C, H, W). Two copies of the cat make the batch of the "2개의 이미지" slide (two images)
# of CNN 기초 (deck 004), which lesson 02 sends through six filters.

# %%
batch = sn.stack([chw, chw.flip(-1)])           # the cat and its mirror image
check("batch (N, C, H, W)", (2, 3, 256, 256), batch.shape, ko="배치 (N, C, H, W)")
print(f"{batch.numel():,} numbers, {batch.numpy().nbytes:,} bytes in float32")
