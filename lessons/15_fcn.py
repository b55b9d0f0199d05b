# %% [markdown] lang="ko"
# # FCN: 분류기를 완전 합성곱 신경망으로, 픽셀마다 범주를
#
# "Day13. CNN and Vision" (deck 001)은 **완전 합성곱 신경망** (fully convolutional network, FCN)의
# 핵심을 한 문장으로 말합니다. 완전 연결 층 대신 1 x 1 커널의 합성곱 층을 넣으면 출력의 위치
# 정보가 남는다. "CNN 응용 사례" (deck 000)는 그다음을 보여 줍니다. 모델 안에서 영상을
# 다운샘플링한 뒤 다시 업샘플링하고, 얕은 풀링 층의 정보를 덧셈으로 합치며(32s -> 16s -> 8s),
# 그래도 너무 크거나 너무 작은 물체는 놓칩니다. 이 수업은 이 주장들을 숫자로 확인합니다.

# %% [markdown] lang="en"
# # FCN: a classifier made fully convolutional, a class for every pixel
#
# "Day13. CNN and Vision" (deck 001) puts the idea of the fully convolutional network (FCN) in
# one sentence: put a convolution with 1 x 1 kernels where the fully connected layer was, and
# the output keeps its position. "CNN 응용 사례" (CNN applications, deck 000) goes on: inside
# the model, downsample the image and upsample it again, fuse the shallower pooling layers in
# by addition (32s -> 16s -> 8s), and still miss objects that are very large or very small.
# This lesson checks these claims with numbers.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DigitScenes
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.metrics import class_iou, confusion_matrix, mean_iou
from scratchnet.models.segmentation import convert_fc_to_conv, crop_offsets, fcn8s, fcn16s
from scratchnet.nn import init
from scratchnet.segmentation import SIZE_BINS, iou_by_size

header("Day13. CNN and Vision (deck 001), CNN 응용 사례 (deck 000), 딥러닝팀 1팀 (deck 003)",
       "Fully Convolutional Network; FCN; FCN의 단점; Semantic segmentation", "FCN")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 완전 연결 층은 합성곱이다
#
# 4채널 2 x 2 특징 맵을 펼쳐 3개 범주 점수를 내는 **완전결합층** (fully connected layer)
# `Linear(16, 3)`은 같은 가중치를 2 x 2 커널로 쓰는 합성곱 `Conv2d(4, 3, 2)`와 같습니다
# (`convert_fc_to_conv`). 2 x 2 입력에서는 점수 3개가 그대로 나오고, 더 큰 5 x 4 입력에서는
# 커널이 미끄러지며 4 x 3 위치마다 점수를 냅니다. 이것이 **점수 맵** (score map)입니다.

# %% [markdown] lang="en"
# ## A fully connected layer is a convolution
#
# `Linear(16, 3)`, which flattens a 4-channel 2 x 2 feature map into three class scores, is the
# convolution `Conv2d(4, 3, 2)` with the same weights used as a 2 x 2 kernel
# (`convert_fc_to_conv`). On a 2 x 2 input it gives the same three scores; on a larger 5 x 4
# input the kernel slides and gives scores at 4 x 3 positions: a score map.

# %%
fc = nn.Linear(16, 3)
conv = convert_fc_to_conv(fc, in_channels=4, kernel_size=2)
features = sn.randn(1, 4, 2, 2)
same = np.abs(fc(features.reshape(1, 16)).data - conv(features).data.reshape(1, 3)).max()
print(f"Linear(16, 3) vs Conv2d(4, 3, 2) on a 2x2 map: largest difference {same:.1e}")
bigger = conv(sn.randn(1, 4, 5, 4))
print(f"on a 5x4 map the convolution gives a score map of shape {tuple(bigger.shape)}")
assert same < 1e-5 and tuple(bigger.shape) == (1, 3, 4, 3)
# VGG-16's fc6 as a 7x7 convolution: the same 25,088 x 4,096 weights, no new parameter
fc6 = nn.Conv2d(512, 4096, 7)
print(f"fc6 as Conv2d(512, 4096, 7): {fc6.weight.numel() + fc6.bias.numel():,} parameters "
      f"= 25,088 x 4,096 + 4,096 = {25088 * 4096 + 4096:,}")
assert fc6.weight.numel() + fc6.bias.numel() == 25088 * 4096 + 4096

# %% [markdown] lang="ko"
# ## 어떤 크기의 입력도 받는다
#
# 완전 연결 층이 없으므로 FCN은 입력 크기를 가리지 않습니다. 같은 FCN-8s(채널 1/16)에
# 64 x 64와 80 x 96 영상을 넣으면 입력과 같은 크기의 점수 맵이 나옵니다. 첫 합성곱을 100만큼
# 패딩하고 나중에 잘라 내는 **자르기** (crop) 오프셋 19, 5, 27, 9, 31은 층의 기하에서 계산됩니다.

# %% [markdown] lang="en"
# ## Any input size
#
# With no fully connected layer left, the FCN takes any input size. The same FCN-8s (channels
# 1/16) turns a 64 x 64 and an 80 x 96 image into score maps of their own sizes. The crop
# offsets 19, 5, 27, 9, 31 that undo conv1_1's padding of 100 follow from the layers' geometry.

# %%
model = fcn8s(num_classes=11, width=1 / 16)
model.eval()
with sn.no_grad():
    for h, w in [(64, 64), (80, 96)]:
        out = model(sn.randn(1, 3, h, w))
        print(f"input {h}x{w} -> scores {tuple(out.shape)}")
        assert tuple(out.shape) == (1, 11, h, w)
offsets = crop_offsets(100)
print("crop offsets:", offsets)
assert [offsets[k] for k in ("32s", "16s_pool4", "16s", "8s_pool3", "8s")] == [19, 5, 27, 9, 31]

# %% [markdown] lang="ko"
# ## 다운샘플링한 뒤 업샘플링: 쌍선형으로 시작하는 전치 합성곱
#
# FCN은 stride 32의 점수 맵을 **전치 합성곱** (transposed convolution)으로 키웁니다. 이 층을
# **쌍선형 보간** (bilinear interpolation) 필터로 초기화하면(`nn.init.bilinear_`), 학습 전의
# 층은 정확히 쌍선형 보간입니다. 경계만 다릅니다. 전치 합성곱은 영상 밖을 0으로 보고
# `interpolate`는 가장자리 값을 반복하기 때문입니다. 덱 000이 말하는 "마지막 레이어의 특징맵을
# (16x16) 확대"는 FCN-16s의 마지막 층, stride 16의 전치 합성곱입니다.

# %% [markdown] lang="en"
# ## Down, then up: a transposed convolution that starts as bilinear interpolation
#
# FCN enlarges its stride-32 score map with a transposed convolution. Initialised with the
# bilinear filter (`nn.init.bilinear_`), the untrained layer is exactly bilinear interpolation,
# except at the border: the transposed convolution sees zeros outside the image where
# `interpolate` repeats the edge. Deck 000's "the last layer's feature map enlarged (16x16)"
# is FCN-16s's last layer, a transposed convolution of stride 16.

# %%
up = nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bias=False)
init.bilinear_(up.weight)
coarse = sn.randn(1, 3, 8, 8)
with sn.no_grad():
    ours, reference = up(coarse).data, F.interpolate(coarse, scale_factor=2, mode="bilinear",
                                                     align_corners=False).data
inside = np.abs(ours - reference)[..., 1:-1, 1:-1].max()
border = np.abs(ours - reference).max()
print(f"k=4, s=2 bilinear transposed conv vs interpolate: inside {inside:.1e}, "
      f"at the border up to {border:.2f}")
assert inside < 1e-6 < border
check("deck 000: FCN's last map is enlarged 16x (FCN-16s's final stride)", 16,
      fcn16s(11, width=1 / 16).upscore.stride[0], ko="deck 000: FCN의 마지막 맵 확대 배율")

# %% [markdown] lang="ko"
# ## 스킵으로 합치기: 32s -> 16s -> 8s 를 숫자로
#
# stride s의 점수 맵은 s x s 칸마다 점수 한 벌만 가집니다. 정답을 아는 점수 맵이라도 칸마다
# 각 범주가 차지하는 비율밖에 담지 못한다고 해 봅시다. 이를 쌍선형으로 키우고 argmax를 취하면
# 가는 획과 작은 숫자는 배경에 묻힙니다. 그래서 FCN은 pool4(stride 16)와 pool3(stride 8)의
# 점수를 더합니다. `DigitScenes` 시험 장면에서 이 "비율 맵"의 **평균 IoU** (mean IoU)를
# stride마다 재 봅니다. 정답의 원-핫 맵을 s x s로 평균 풀링하고, 쌍선형으로 키우고, argmax를
# 취합니다. 학습된 모델은 점수를 비율보다 자유롭게 정할 수 있으므로 이 값은 상한이 아니라
# stride만의 효과를 보여 주는 비교입니다.

# %% [markdown] lang="en"
# ## Fusing skips: 32s -> 16s -> 8s in numbers
#
# A score map of stride s holds one set of scores per s x s cell. Suppose even a map that knows
# the truth holds only each class's share of each cell: upsampled bilinearly, its argmax loses
# thin strokes and small digits to the background. That is why FCN adds the scores of pool4
# (stride 16) and pool3 (stride 8). We measure the mean IoU of this "share map" at each stride
# on DigitScenes' test scenes: average-pool the one-hot truth s x s, upsample bilinearly, take
# the argmax. A trained model may set its scores more freely than shares, so this is not a
# ceiling, but a comparison that isolates the stride.

# %%
N = 40 if fast() else 600
scenes = DigitScenes("test", num_samples=N)
pairs = [scenes[i] for i in range(N)]
truth = np.stack([t["semantic"] for _, t in pairs]).astype(np.int64)
targets = [t for _, t in pairs]
onehot = np.moveaxis(np.eye(11)[np.where(truth == 255, 0, truth)], -1, 1)
ceiling, by_size = {}, {}
for stride in (32, 16, 8):
    pooled = F.avg_pool2d(sn.tensor(onehot), stride)
    scores = F.interpolate(pooled, scale_factor=stride, mode="bilinear", align_corners=False)
    pred = np.argmax(scores.data, axis=1)
    ceiling[stride] = mean_iou(confusion_matrix(pred, truth, 11))
    by_size[f"stride {stride}"] = iou_by_size(pred, targets)
    print(f"stride {stride:2d} (FCN-{stride}s): share-map mIoU {ceiling[stride]:.3f}, "
          f"digit IoU {class_iou(confusion_matrix(pred, truth, 11))[1:].mean():.3f}")
assert ceiling[8] > ceiling[16] > ceiling[32]

# %% [markdown] lang="ko"
# ## FCN의 단점: 아주 작은 물체
#
# 같은 비율 맵을 숫자 크기별로 나누면 덱 000의 "물체가 너무 크거나 작으면 잘 탐지하지 못함"
# 가운데 작은 쪽이 보입니다. stride 32에서는 어떤 숫자도 남지 않고, stride 16에서는 가장 큰
# 숫자만, stride 8에서야 중간 크기가 살아납니다. 높이 12픽셀보다 작은 숫자는 어느 stride에서도
# 사라집니다. 너무 큰 물체에서 범주가 뒤섞이는 쪽은 학습된 모델의 수용 영역 문제이므로
# `scratchnet train fcn8s`가 쓰는 `iou_by_size.png`에서 봅니다.

# %% [markdown] lang="en"
# ## FCN's failure: very small objects
#
# Split the same share maps by digit size and deck 000's "objects that are too large or too
# small are not detected well" shows on its small side: at stride 32 no digit survives, at
# stride 16 only the largest, and only stride 8 brings back the middle sizes. Digits under 12
# pixels tall vanish at every stride. The large-object failure (mixed labels inside one object)
# comes from a trained model's limited receptive field: see the `iou_by_size.png` that
# `scratchnet train fcn8s` writes.

# %%
fig, ax = pyplot.subplots(figsize=(5.5, 3.5))
centres = [(a + b) / 2 for a, b in zip(SIZE_BINS[:-1], SIZE_BINS[1:])]
small = {}
for name, (heights, ious) in by_size.items():
    means = [ious[(heights >= a) & (heights < b)].mean()
             if ((heights >= a) & (heights < b)).any() else np.nan
             for a, b in zip(SIZE_BINS[:-1], SIZE_BINS[1:])]
    small[name] = (ious[heights < 12].mean(), ious[heights >= 24].mean())
    ax.plot(centres, means, "o-", label=name)
ax.set(xlabel="digit height (pixels)", ylabel="IoU of the share map", ylim=(0, 1),
       title="upsampled class shares: IoU by digit size")
ax.grid(alpha=0.3)
ax.legend()
savefig(fig, "fcn_iou_by_size")
for name, (tiny, large) in small.items():
    print(f"{name}: digits under 12 px IoU {tiny:.3f}, digits of 24 px and more {large:.3f}")
assert small["stride 8"][1] > small["stride 16"][1] > small["stride 32"][1]
assert max(tiny for tiny, _ in small.values()) < 0.05

# %% [markdown] lang="ko"
# ## 의미론적 분할과 사례 분할
#
# "딥러닝팀 1팀" (deck 003)의 정의대로 **의미론적 분할** (semantic segmentation)은 모든 픽셀이
# 어느 범주에 속하는지만 답합니다. 같은 숫자가 둘 있으면 한 덩어리입니다. **사례 분할**
# (instance segmentation)은 물체마다 마스크를 따로 냅니다. FCN은 앞의 것만 합니다.

# %% [markdown] lang="en"
# ## Semantic versus instance segmentation
#
# In the words of "딥러닝팀 1팀" (deck 003), semantic segmentation only says which class every
# pixel belongs to: two copies of one digit are one region. Instance segmentation gives each
# object its own mask. FCN does the former only.

# %%
for image, target in (DigitScenes("val", num_samples=200, num_digits=3)[i] for i in range(200)):
    labels = target["labels"]
    if len(labels) == 3 and len(set(labels.tolist())) < 3:
        break
classes = sorted(set(np.unique(target["semantic"]).tolist()) - {0, 255})
print(f"instances (masks): {len(target['masks'])}, classes in the semantic map: {classes}")
assert len(target["masks"]) > len(classes)
fig, axes = pyplot.subplots(1, 3, figsize=(8, 2.8))
axes[0].imshow(image[0], cmap="gray")
axes[1].imshow(np.ma.masked_equal(target["semantic"], 255), cmap="tab20", vmin=0, vmax=10)
axes[2].imshow(sum((i + 1) * m for i, m in enumerate(target["masks"])), cmap="tab10")
for a, t in zip(axes, ("image", "semantic: one class map", "instance: one mask each")):
    a.set_title(t)
    a.axis("off")
savefig(fig, "semantic_vs_instance")

# %% [markdown] lang="ko"
# ## 직접 학습하기
#
# `scratchnet train fcn8s`(그리고 fcn16s, fcn32s, deconvnet)는 DigitScenes에서 학습하고 시험
# 장면의 mIoU, 범주별 IoU, 크기별 IoU 그림, 영상 / 정답 / 예측 그림을 씁니다. 논문이 ImageNet으로
# 학습된 VGG-16에서 출발하듯, 이 레시피는 먼저 같은 VGG-16-BN 합성곱 층을 학습 분할의 숫자
# 조각으로 숫자 분류기로 **사전학습** (pretraining)합니다. 장면은 두 배로 키워 넣고(획이 가늘어
# stride 8의 점수 지도로는 그릴 수 없으므로), 배경의 손실 가중치 0.1로 기울어진 점수에서 예측할 때
# log 0.1을 되돌려 뺍니다. 약 52 CPU-분의 기본 실행(12 에폭)이 시험 mIoU 0.626에 이릅니다(가중된
# 점수를 그대로 argmax하면 0.561, 원래 크기 장면으로는 0.510, 사전학습 없이는 0.084로 모두 배경).
# 같은 백본, 같은 예산(두 배 장면, 3 에폭)에서 잰 스킵 융합의 효과는 FCN-32s 0.084, FCN-16s 0.240,
# FCN-8s 0.251입니다. pool4 스킵이 있어야 숫자가 그려지고,
# 16s와 8s의 차이는 한 번의 실행으로 가릴 수 없습니다. 논문의 62.2 mean IU와의 차이와 그 이유는
# README의 "Semantic segmentation" 표에 있습니다.

# %% [markdown] lang="en"
# ## Train one yourself
#
# `scratchnet train fcn8s` (and fcn16s, fcn32s, deconvnet) trains on DigitScenes and writes the
# held-out mIoU, per-class IoU, the IoU-by-size plot and image / truth / prediction triplets.
# As the paper starts from an ImageNet VGG-16, the recipe first **pretrains** the same
# VGG-16-BN conv stack as a digit classifier on digit crops of the training split. The scenes
# go in enlarged twice (the strokes are too thin for a stride-8 score map to draw), and the
# prediction takes log 0.1 back off the background score that the loss's background weight
# of 0.1 tilted. The default run of about 52 CPU-minutes (12 epochs) reaches a held-out mIoU
# of 0.626 (0.561 from the plain argmax of the weighted scores, 0.510 on native scenes, 0.084,
# all background, without the pretraining). Skip fusion, measured with the same backbone and
# budget (scenes x2, 3 epochs): FCN-32s 0.084, FCN-16s 0.240, FCN-8s 0.251. The pool4 skip is
# what lets the net draw digits at all;
# 16s against 8s is a difference one run cannot tell. How far all this is from the paper's
# 62.2 mean IU and why is in README's "Semantic segmentation" table.

# %%
print(f"lesson ran in {time.perf_counter() - started:.1f} s")
