# %% [markdown] lang="ko"
# # DeconvNet: 풀링과 언풀링, 합성곱과 역합성곱을 짝지은 모래시계
#
# "CNN 응용 사례" (deck 000)는 FCN의 단점을 보완하는 구조로 DeconvNet을 소개합니다. VGG-16
# 네트워크를 **모래시계** (hourglass)처럼 쌓고, 풀링과 **언풀링** (unpooling), 합성곱과
# **역합성곱** (deconvolution)을 짝지어 연결합니다. 이 수업은 짝이 왜 맞아야 하는지 덱의
# 예제로 확인하고, 덱의 Figure 4(14 x 14에서 224 x 224까지 층마다의 활성화)를 우리 데이터로
# 학습한 모델에서 다시 그립니다.

# %% [markdown] lang="en"
# # DeconvNet: an hourglass of paired pooling/unpooling and convolution/deconvolution
#
# "CNN 응용 사례" (CNN applications, deck 000) introduces DeconvNet as the remedy for FCN's
# weaknesses: VGG-16 stacked like an hourglass, pooling paired with unpooling and convolution
# with deconvolution. This lesson checks with the deck's example why the pairs must match, and
# redraws the deck's Figure 4 (each layer's activation, from 14 x 14 to 224 x 224) from a model
# trained on our data.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import data, optim
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.segmentation import deconvnet
from scratchnet.segmentation import load_test, load_train

header("CNN 응용 사례 (deck 000)", "Unpooling; DeconvNet; DeconvNet 시각화 (Figure 4)",
       "DeconvNet")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 풀링과 언풀링은 짝이 맞아야 한다
#
# 덱의 예제입니다. 4 x 4 입력을 2 x 2 **최대 풀링** (max pooling)하면 [[6, 8], [9, 7]]이
# 남습니다. 풀링은 최댓값이 있던 자리, 곧 **스위치** (switches)를 기억합니다(`return_indices`).
# **최대 언풀링** (max unpooling)은 [[3, 4], [5, 6]]을 그 자리에 되돌려 놓고 나머지는 0으로
# 채웁니다.

# %% [markdown] lang="en"
# ## Pooling and unpooling come in pairs
#
# The deck's example: 2 x 2 max pooling of a 4 x 4 input leaves [[6, 8], [9, 7]]. Pooling
# remembers where each maximum was, the switches (`return_indices`). Max unpooling puts
# [[3, 4], [5, 6]] back at those places and fills the rest with zeros.

# %%
x = sn.tensor(np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6], [5, 4, 3, 2]],
                       np.float32).reshape(1, 1, 4, 4))
pooled, switches = F.max_pool2d(x, 2, return_indices=True)
check("deck 000: max pooling of the 4x4 example", [[6, 8], [9, 7]],
      pooled.data[0, 0].astype(int).tolist(), ko="deck 000: 4x4 예제의 최대 풀링")
print("switches (flat positions in the 4x4 input):", switches.data[0, 0].tolist())
unpooled = F.max_unpool2d(sn.tensor(np.array([[[[3, 4], [5, 6]]]], np.float32)), switches, 2)
check("deck 000: max unpooling of [[3, 4], [5, 6]]",
      [[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0], [0, 0, 0, 0]],
      unpooled.data[0, 0].astype(int).tolist(), ko="deck 000: [[3, 4], [5, 6]]의 최대 언풀링")

# %% [markdown] lang="ko"
# 다른 입력의 스위치로 언풀링하면 값이 엉뚱한 자리로 갑니다. 덱이 "pooling과 unpooling은
# 짝이 맞아야 함"이라고 하는 까닭입니다. DeconvNet은 다섯 풀링 층의 스위치를 모두 보관했다가
# 거울 위치의 언풀링 층에 넘깁니다.

# %% [markdown] lang="en"
# Unpool with the switches of another input and the values land in the wrong places: that is
# why the deck says pooling and unpooling must be paired. DeconvNet keeps the switches of all
# five pooling layers and hands each to the unpooling layer at the mirrored level.

# %%
other = sn.tensor(np.rot90(x.data, axes=(2, 3)).copy())
_, other_switches = F.max_pool2d(other, 2, return_indices=True)
wrong = F.max_unpool2d(sn.tensor(np.array([[[[3, 4], [5, 6]]]], np.float32)), other_switches, 2)
print("unpooled with another input's switches:\n", wrong.data[0, 0].astype(int))
assert not np.array_equal(wrong.data, unpooled.data)

# %% [markdown] lang="ko"
# ## 역합성곱 층
#
# 덱은 "Transpose convolution == deconvolution"이라고 적습니다. DeconvNet의 역합성곱은 3 x 3,
# stride 1, 패딩 1의 **전치 합성곱** (transposed convolution)이라 합성곱과 같은 크기를 내고,
# 가중치 배치만 (입력, 출력, 3, 3)으로 다릅니다. 전치 합성곱은 합성곱의 입력에 대한 기울기와
# 같습니다. 바닥의 deconv-fc6만 7 x 7 커널로 1 x 1 맵을 7 x 7로 펼칩니다.

# %% [markdown] lang="en"
# ## Deconvolution layers
#
# The deck writes "Transpose convolution == deconvolution". DeconvNet's deconvolutions are 3 x
# 3, stride 1, padding 1 transposed convolutions: they keep the size as a convolution does,
# with the weight laid out as (in, out, 3, 3). A transposed convolution is the gradient of a
# convolution with respect to its input. Only deconv-fc6 at the bottom uses a 7 x 7 kernel, to
# spread the 1 x 1 map back to 7 x 7.

# %%
w = sn.randn(6, 4, 3, 3)                    # conv2d: 4 -> 6 channels
y = sn.randn(1, 6, 5, 5)
inp = sn.zeros(1, 4, 5, 5, requires_grad=True)
(F.conv2d(inp, w, padding=1) * y).sum().backward()
deconv = F.conv_transpose2d(y, w, padding=1)  # the same weight, read as (in=6, out=4)
print(f"conv_transpose2d(y, W) vs d<conv2d(x, W), y>/dx: largest difference "
      f"{np.abs(deconv.data - inp.grad.data).max():.1e}; shape {tuple(deconv.shape)}")
assert np.allclose(deconv.data, inp.grad.data, atol=1e-5)
net = deconvnet(num_classes=21, width=1 / 64)     # one channel per 64: sizes only
net.eval()
maps = net.record_activations(sn.randn(1, 3, 224, 224))
print("fc7", tuple(maps["fc7"].shape[-2:]), "-> deconv_fc6", tuple(maps["deconv_fc6"].shape[-2:]))
figure4 = ["deconv5", "unpool4", "deconv4", "unpool3", "deconv3", "unpool2", "deconv2",
           "unpool1", "deconv1"]
check("deck 000, Figure 4 (b)-(j): map sizes for a 224x224 input",
      [14, 28, 28, 56, 56, 112, 112, 224, 224], [maps[k].shape[-1] for k in figure4],
      ko="deck 000 Figure 4 (b)-(j): 224x224 입력의 맵 크기")

# %% [markdown] lang="ko"
# ## 학습한 뒤의 활성화: 우리 데이터로 그린 Figure 4
#
# 덱의 Figure 4는 학습된 DeconvNet에서 층마다 "가장 대표적인" 활성화 하나를 보여 줍니다.
# 위로 갈수록 배경의 잡음은 줄고 물체의 모양이 또렷해집니다. 같은 구조(채널 1/8, fc6는 2 x 2)를
# `DigitScenes` 64 x 64 장면에서 잠깐 학습하고, 시험 장면 하나에서 층마다 평균 활성화가 가장
# 큰 채널을 그립니다. 64 x 64 입력이므로 크기는 4 x 4에서 64 x 64까지입니다.

# %% [markdown] lang="en"
# ## Activations after training: Figure 4 on our data
#
# The deck's Figure 4 shows, for a trained DeconvNet, the "most representative" activation of
# each layer: going up, background noise fades and the object's shape sharpens. We train the
# same architecture (channels 1/8, a 2 x 2 fc6) briefly on 64 x 64 `DigitScenes` scenes and draw,
# for one test scene, each layer's channel with the largest mean activation. With a 64 x 64
# input the sizes run from 4 x 4 to 64 x 64.

# %%
STEPS, BATCH = (2, 4) if fast() else (150, 16)
model = deconvnet(num_classes=11, width=1 / 8, fc_kernel=2)
train_set = load_train("digit-scenes", 3, limit=STEPS * BATCH)
loader = data.DataLoader(train_set, batch_size=BATCH, shuffle=True, generator=0)
opt = optim.Adam(model.parameters(), lr=1e-3)
model.train()
losses = []
for step, (images, labels) in zip(range(STEPS), loader):
    opt.zero_grad()
    loss = F.cross_entropy(model(images), labels, ignore_index=255)
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"{STEPS} steps of batch {BATCH}: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
test_images, test_labels, _ = load_test("digit-scenes", 3, limit=8)
model.eval()
maps = model.record_activations(sn.tensor(test_images[:1]))
fig, axes = pyplot.subplots(2, 5, figsize=(11, 4.6))
panels = [("input", test_images[0, 0])] + [
    (f"{k} {maps[k].shape[-1]}x{maps[k].shape[-1]}",
     maps[k].data[0, int(np.argmax(maps[k].data[0].mean(axis=(1, 2))))]) for k in figure4]
for a, (title, img) in zip(axes.flat, panels):
    a.imshow(img, cmap="gray" if title == "input" else "viridis", interpolation="nearest")
    a.set_title(title, fontsize=9)
    a.axis("off")
savefig(fig, "deconvnet_figure4")

# %% [markdown] lang="ko"
# 빠른 모드의 두 단계는 학습이라 부르기 어렵습니다. 그림은 거의 초기 가중치의 활성화입니다.
# 전체 모드(150단계)나 `scratchnet train deconvnet`으로 학습한 모델의 그림과 비교해 보세요.
# 덱의 그림은 PASCAL VOC에서 며칠 학습한 전체 크기 모델의 것입니다.

# %% [markdown] lang="en"
# Two steps in fast mode are hardly training: the figure shows nearly the initial weights'
# activations. Compare it with the full mode's (150 steps) or with a model trained by
# `scratchnet train deconvnet`; the deck's figure comes from a full-size model trained on
# PASCAL VOC for days.

# %%
print(f"lesson ran in {time.perf_counter() - started:.1f} s")
