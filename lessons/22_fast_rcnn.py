# %% [markdown] lang="ko"
# # Fast R-CNN: 영상은 한 번만, 영역마다 RoI 풀링, 손실은 하나
#
# R-CNN은 제안된 영역 약 2천 개를 하나하나 잘라 CNN에 통과시킵니다. "CNN 응용 사례"
# (deck 000)는 Fast R-CNN의 답을 두 줄로 정리합니다. 이미지를 CNN에 **한 번만 통과**시킨 뒤
# **관심 영역** (region of interest, RoI)으로 쪼개고(**RoI 풀링** (RoI pooling)),
# 크로스엔트로피와 L1 손실을 결합해 한 번에 학습한다(**종단 학습** (end-to-end training)).
# "딥러닝의 통계적이해 8강" (deck 002)은 그 결과를 숫자로 말합니다. 학습은 R-CNN보다 8.8배,
# 시험은 약 146배 빠르다. 이 수업은 RoI 풀링의 두 예시를 계산하고, 손실을 항별로 풀고,
# DigitScenes에서 Fast R-CNN을 짧게 학습한 뒤, 두 배율을 우리 기계에서 재어 봅니다.

# %% [markdown] lang="en"
# # Fast R-CNN: the image once, RoI pooling per region, one loss
#
# R-CNN cuts out each of about 2,000 proposed regions and runs the CNN on every one.
# "CNN 응용 사례" (CNN applications, deck 000) sums up Fast R-CNN's answer in two lines: pass the
# image through the CNN only once and split the result into regions of interest (RoI pooling),
# and train everything at once with cross-entropy plus an L1 loss (end-to-end training).
# "딥러닝의 통계적이해 8강" (deck 002) gives the result in numbers: training 8.8x faster than
# R-CNN, testing about 146x faster. This lesson computes the deck's two RoI pooling examples,
# takes the loss apart term by term, trains a Fast R-CNN briefly on DigitScenes, and measures
# both speed-ups on our machine.

# %%
import math
import os
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data.transforms import resize
from scratchnet.detection import engine
from scratchnet.lesson import check, fast, header, output_dir
from scratchnet.models.detection import DenseWindows, fast_rcnn, fastrcnn_loss
from scratchnet.ops import roi_pool
from scratchnet.ops.boxes import BoxCoder, box_iou
from scratchnet.ops.roi import roi_pool_bins

header("CNN 응용 사례 (deck 000), 딥러닝의 통계적이해 8강 (deck 002), Day13. CNN and Vision "
       "(deck 001)", "Fast R-CNN; ROI 풀링 레이어; R-CNN vs Fast R-CNN", "Fast R-CNN")
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## RoI 풀링: 어떤 크기의 영역이든 7 x 7로
#
# 완전 연결 층은 정해진 크기의 입력을 받습니다. RoI 풀링은 **특징 맵** (feature map) 위의
# 영역을 7 x 7 칸으로 나누고 칸마다 최댓값을 고릅니다. 칸의 크기가 영역 크기 / 7이므로, 덱 000의 예시처럼
# 21 x 14 영역은 3 x 2 맥스 풀링(stride (3, 2)), 35 x 42 영역은 5 x 6 맥스 풀링(stride (5, 6))이
# 되고, 둘 다 7 x 7을 냅니다. `roi_pool_bins`는 커널이 실제로 쓰는 칸을 돌려줍니다(높이 x 너비).

# %% [markdown] lang="en"
# ## RoI pooling: any region to 7 x 7
#
# A fully connected layer takes an input of one fixed size. RoI pooling splits a region of the
# feature map into 7 x 7 bins and keeps the largest value of each. A bin is the region's size
# / 7, so, as in deck 000's example, a 21 x 14 region is max-pooled with 3 x 2 windows (stride
# (3, 2)) and a 35 x 42 region with 5 x 6 windows (stride (5, 6)), both giving 7 x 7.
# `roi_pool_bins` returns the bins the kernel itself uses (height x width).


# %%
def windows_of(height, width):
    """(window (h, w), stride (h, w), output (rows, cols)) of RoI pooling a height x width
    region at its top-left corner to 7 x 7, read off the kernel's bins."""
    rows, cols = roi_pool_bins((0, 0, width - 1, height - 1), 7)
    sizes = {(b - a, d - c) for a, b in rows for c, d in cols}
    strides = {(rows[i + 1][0] - rows[i][0], cols[i + 1][0] - cols[i][0]) for i in range(6)}
    assert len(sizes) == 1 and len(strides) == 1, "bins of unequal size"
    return sizes.pop(), strides.pop(), (len(rows), len(cols))


for (h, w), window, stride in [((21, 14), (3, 2), (3, 2)), ((35, 42), (5, 6), (5, 6))]:
    ours_window, ours_stride, ours_out = windows_of(h, w)
    check(f"deck 000: a {h}x{w} RoI is max-pooled with windows", list(window),
          list(ours_window), ko=f"덱 000: {h}x{w} RoI의 맥스 풀링 창")
    check(f"deck 000: ... with stride", list(stride), list(ours_stride),
          ko="덱 000: ... stride")
    check(f"deck 000: ... to an output feature map of", [7, 7], list(ours_out),
          ko="덱 000: ... 출력 특징맵")

# the op agrees with the max over those windows, on a random 35x42 map
fmap = sn.randn(1, 1, 35, 42)
pooled = roi_pool(fmap, [np.array([[0, 0, 41, 34]], np.float32)], 7).data[0, 0]
by_hand = fmap.data[0, 0].reshape(7, 5, 7, 6).max(axis=(1, 3))
print(f"roi_pool vs the max over 5x6 windows: largest difference "
      f"{np.abs(pooled - by_hand).max():.1e}")
assert np.array_equal(pooled, by_hand)

# %% [markdown] lang="ko"
# 실제 검출기에서 영역은 영상 좌표로 주어지고 특징 맵은 영상보다 작습니다. 여기서 쓰는
# 백본(backbone)은 stride 4이므로 `spatial_scale = 1/4`로 좌표를 줄이고 반올림합니다. 반올림은
# 상자를 특징 맵 한 칸까지 옮길 수 있습니다. Mask R-CNN의 RoIAlign이 고치는 점입니다.

# %% [markdown] lang="en"
# In a detector the regions come in image coordinates and the feature map is smaller than
# the image. The backbone used here has stride 4, so `spatial_scale = 1/4` shrinks the box,
# which is then rounded: the rounding can move a box by up to one cell of the map, which is
# what Mask R-CNN's RoIAlign fixes.

# %%
rows, cols = roi_pool_bins((10, 6, 37, 33), 7, spatial_scale=0.25)
print(f"image box (10, 6, 37, 33) at stride 4 -> rows {rows[0][0]}..{rows[-1][1]}, "
      f"cols {cols[0][0]}..{cols[-1][1]} of the map (x: 10/4 = 2.5 rounds to 3)")
assert cols[0][0] == 3 and rows[0][0] == 2

# %% [markdown] lang="ko"
# ## 손실 하나: 분류 + 상자 회귀
#
# 덱 000은 "Loss = cls loss + bbox loss"라고 씁니다. 논문(Girshick, 2015)의 식은 RoI 하나에 대해
#
# L(p, u, t^u, v) = L_cls(p, u) + λ [u ≥ 1] L_loc(t^u, v)
#
# 입니다. p는 K + 1개 범주(0은 **배경** (background))의 softmax 확률, u는 정답 범주,
# L_cls = -log p_u는 크로스엔트로피입니다. [u ≥ 1]은 **전경** (foreground) RoI에만 상자 손실을
# 더한다는 뜻이고, t^u는 범주 u의 상자 보정값 4개, v는 목표값입니다. L_loc은 네 좌표의
# smooth L1의 합입니다. |x| < 1에서는 0.5 x², 그 밖에서는 |x| - 0.5. 덱이 말하는 L1과 큰 오차에서
# 같고(이상치에 L2보다 덜 민감), 0 근처에서는 미분이 매끄럽습니다. λ = 1.

# %% [markdown] lang="en"
# ## One loss: classification + box regression
#
# Deck 000 writes "Loss = cls loss + bbox loss". The paper's formula (Girshick, 2015), for one
# RoI, is
#
# L(p, u, t^u, v) = L_cls(p, u) + λ [u ≥ 1] L_loc(t^u, v)
#
# where p are the softmax probabilities of K + 1 classes (0 is background), u the true class,
# and L_cls = -log p_u the cross-entropy. [u ≥ 1] adds the box loss for foreground RoIs only;
# t^u are the 4 box corrections predicted for class u and v their targets. L_loc sums smooth
# L1 over the four coordinates: 0.5 x² for |x| < 1, |x| - 0.5 beyond. For large errors it is the
# L1 the deck names (less sensitive to outliers than L2), and near 0 its derivative is smooth.
# λ = 1.

# %% [markdown] lang="ko"
# 목표값 v는 R-CNN의 상자 매개변수화입니다. 제안 상자(중심 x_a, y_a, 크기 w_a, h_a)에 대한
# 정답 상자(x, y, w, h)의 위치를 (x - x_a) / w_a, (y - y_a) / h_a, log(w / w_a), log(h / h_a)로
# 쓰고, 논문은 이것을 평균 0, 분산 1로 정규화합니다. torchvision처럼 여기서는 고정된 표준편차
# (0.1, 0.1, 0.2, 0.2)로 나눕니다. 즉 가중치 (10, 10, 5, 5)입니다. 제안 [10, 10, 30, 40]과
# 정답 [10, 10, 30, 30]을 손으로 계산해 봅니다.

# %% [markdown] lang="en"
# The targets v are R-CNN's box parametrisation: the true box (x, y, w, h) relative to the
# proposal (centre x_a, y_a, size w_a, h_a) as (x - x_a) / w_a, (y - y_a) / h_a, log(w / w_a),
# log(h / h_a), which the paper normalises to zero mean and unit variance. As torchvision does,
# they are divided here by fixed standard deviations (0.1, 0.1, 0.2, 0.2): weights
# (10, 10, 5, 5). Worked by hand for the proposal [10, 10, 30, 40] and the object
# [10, 10, 30, 30]:

# %%
coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
proposal = np.array([[10.0, 10.0, 30.0, 40.0]])
obj = np.array([[10.0, 10.0, 30.0, 30.0]])
v = coder.encode_single(obj, proposal)[0]
# centres (20, 25) and (20, 20), sizes 20 x 30 and 20 x 20
v_hand = [10 * (20 - 20) / 20, 10 * (20 - 25) / 30, 5 * math.log(20 / 20), 5 * math.log(20 / 30)]
print("targets v:", np.round(v, 4), "by hand:", np.round(v_hand, 4))
assert np.allclose(v, v_hand)

# one foreground RoI of class u = 2 among K + 1 = 4 classes, and one background RoI
logits = np.array([[0.5, 0.2, 2.0, -1.0], [1.5, 0.0, 0.3, 0.1]])
deltas = np.zeros((2, 16))
deltas[0, 8:12] = [0.3, -1.2, 0.0, -3.0]        # class 2's corrections t^u of RoI 0
labels = np.array([2, 0])
targets = np.stack([v, np.zeros(4)])

p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
l_cls = -np.log(p[np.arange(2), labels])
x = deltas[0, 8:12] - v
smooth = np.where(np.abs(x) < 1, 0.5 * x ** 2, np.abs(x) - 0.5)
print(f"L_cls per RoI: {np.round(l_cls, 4)} (-log p_u)")
print(f"t^u - v = {np.round(x, 4)}: smooth L1 {np.round(smooth, 4)} (L1 would be "
      f"{np.round(np.abs(x), 4)})")
by_hand = (l_cls.mean(), smooth.sum() / 2)     # both averaged over the R = 2 sampled RoIs
cls, box = fastrcnn_loss(sn.tensor(logits), sn.tensor(deltas), labels, targets)
print(f"fastrcnn_loss: L_cls {cls.item():.4f}, L_loc {box.item():.4f}; by hand "
      f"{by_hand[0]:.4f}, {by_hand[1]:.4f}")
assert np.allclose([cls.item(), box.item()], by_hand)

# %% [markdown] lang="ko"
# ## 미니배치: 영상마다 RoI 64개, 전경 25%
#
# 논문은 한 영상에서 RoI 64개를 뽑습니다. 정답과 IoU가 0.5 이상인 영역에서 25%(전경), IoU가
# [0.1, 0.5)인 영역에서 나머지(배경)를 뽑고, 0.1 미만은 쓰지 않습니다. 학습할 때는 정답 상자도
# 제안에 더합니다. 여기서 쓰는 제안은 **선택적 검색** (selective search) 대신 64 x 64 장면을
# 빽빽하게 훑는 여러 크기의 슬라이딩 윈도 2,828개입니다(논문 5.5절도 이런 dense 상자를
# 시험합니다). 장면 하나에서 세어 봅니다.

# %% [markdown] lang="en"
# ## The mini-batch: 64 RoIs per image, 25% foreground
#
# The paper samples 64 RoIs from an image: 25% from regions with IoU >= 0.5 with an object
# (foreground), the rest from IoU in [0.1, 0.5) (background); below 0.1 is not used. In
# training the ground-truth boxes join the proposals. The proposals here are not selective
# search but 2,828 dense sliding windows of several sizes over the 64 x 64 scene (the paper's
# section 5.5 tries such dense boxes too). Counted on one scene:

# %%
scene, target = engine.train_scenes(4)[1]
windows = DenseWindows()(scene)
best = box_iou(target["boxes"], windows).max(axis=0)
n_fg, n_bg = int((best >= 0.5).sum()), int(((best >= 0.1) & (best < 0.5)).sum())
print(f"{len(windows)} windows on a scene with {len(target['boxes'])} digits: {n_fg} "
      f"foreground (IoU >= 0.5), {n_bg} background (0.1 <= IoU < 0.5), "
      f"{len(windows) - n_fg - n_bg} unused (IoU < 0.1)")
model = fast_rcnn()
props, _, sampled, _ = model.roi_heads.select_training_samples([windows], [target])
print(f"sampled: {int((sampled[0] > 0).sum())} foreground + {int((sampled[0] == 0).sum())} "
      f"background = {len(sampled[0])} RoIs")
assert len(sampled[0]) == 64 and (sampled[0] > 0).sum() == min(16, n_fg + len(target["boxes"]))

# %% [markdown] lang="ko"
# ## 짧은 학습
#
# 백본, RoI 풀링, 두 완전 연결 층(fc6, fc7), 그리고 범주 점수와 범주별 상자 보정을 내는 두 출력
# 층을 처음부터 한 손실로 학습합니다(논문은 ImageNet으로 학습한 VGG-16에서 시작합니다).
# 빠른 모드에서는 몇 걸음만 걸어 손실이 줄어드는 것만 봅니다. 전체 학습과 검출 성능(mAP@0.5)은
# `scratchnet detect train fast_rcnn`이 냅니다.

# %% [markdown] lang="en"
# ## A short training run
#
# The backbone, RoI pooling, the two fully connected layers (fc6, fc7) and the two output
# layers (class scores and per-class box corrections) are trained from scratch with the one
# loss (the paper starts from an ImageNet-trained VGG-16). Fast mode takes a few steps only
# and shows the loss going down; `scratchnet detect train fast_rcnn` gives the full run and
# its detection score (mAP@0.5).

# %%
sn.manual_seed(0)
model = fast_rcnn()
steps, batch = (12, 4) if fast() else (240, 8)
train_set = engine.train_scenes(steps * batch)
opt = sn.optim.Adam(model.parameters(), lr=1e-3)
history = engine.fit(model, train_set, opt, epochs=1, batch_size=batch, progress=False,
                     log=None)
losses = history.step_losses
print(f"{steps} steps of {batch} scenes: summed loss {np.mean(losses[:3]):.3f} (first 3) -> "
      f"{np.mean(losses[-3:]):.3f} (last 3)")
assert np.mean(losses[-3:]) < np.mean(losses[:3])
held_out = engine.test_scenes(8 if fast() else 100)
report = engine.evaluate(model, held_out)
print(f"held-out mAP@0.5 after this short run: {report['map']:.3f} on {report['n_images']} "
      f"scenes ({'fast mode: a few steps only' if fast() else 'one pass over the scenes'})")
engine.plot_predictions(model, held_out, os.path.join(output_dir(), "fast_rcnn_detections.png"),
                        n=4, title="Fast R-CNN after a short run (grey: truth)")
print(f"figure: {os.path.relpath(os.path.join(output_dir(), 'fast_rcnn_detections.png'))}")

# %% [markdown] lang="ko"
# ## 빨라진 정도: 덱의 숫자와 우리의 숫자
#
# 덱 002의 8.8배와 146배는 논문 표 4(VGG-16)에서 온 것입니다. R-CNN은 학습 84시간, 영상당 시험
# 47초(덱 000의 숫자), Fast R-CNN은 9.5시간, 0.32초입니다. 먼저 이 비율을 확인합니다.

# %% [markdown] lang="en"
# ## How much faster: the deck's figures and ours
#
# Deck 002's 8.8x and 146x come from the paper's Table 4 (VGG-16): R-CNN trains in 84 hours and
# tests an image in 47 s (deck 000's figures), Fast R-CNN in 9.5 hours and 0.32 s. First the
# ratios:

# %%
check("deck 002: Fast R-CNN trains faster than R-CNN by (84 h / 9.5 h)", 8.8,
      round(84 / 9.5, 1), ko="덱 002: 학습 속도 배율 (84시간 / 9.5시간)")
check("deck 002: ... and tests faster by about (47 s / 0.32 s)", 146, 47 / 0.32, rel=0.01,
      ko="덱 002: 시험 속도 배율, 약 (47초 / 0.32초)")

# %% [markdown] lang="ko"
# 이제 같은 백본으로 두 방식을 잽니다. R-CNN 방식은 영역마다 영상을 잘라 32 x 32로 바꾸고
# (warp) CNN을 영역 수만큼 돌립니다. Fast R-CNN은 CNN을 한 번 돌리고 영역마다 RoI 풀링만 합니다.
# 시험은 영상 한 장(영역 2,828개)의 시간, 학습은 RoI 128개짜리 한 걸음(R-CNN: 잘라 낸 영역 128개,
# Fast R-CNN: 영상 2장 x RoI 64개)의 순전파 + 역전파 시간을 비교합니다. 시험 시간은 두 쪽 모두
# 신경망 부분(CNN과 두 출력 층)만 재고, 그 뒤의 **비최대 억제** (non-maximum suppression,
# NMS)는 넣지 않습니다. 빠른 모드에서 R-CNN 시험은 영역 일부만 재고 영역 수에 비례해 늘립니다.

# %% [markdown] lang="en"
# Now both ways with the same backbone. The R-CNN way crops every region from the image,
# warps it to 32 x 32 and runs the CNN once per region; Fast R-CNN runs the CNN once and only
# RoI-pools each region. Testing compares the time for one image (2,828 regions); training
# compares one step of 128 RoIs, forward and backward (R-CNN: 128 warped crops; Fast R-CNN: 2
# images x 64 RoIs). Both test times cover the network (crops or RoIs through the CNN and the
# heads), not the NMS after it. In fast mode R-CNN's test time is measured on part of the
# regions and scaled by the number of regions.


# %%
def warped(image, boxes, size=32):
    """(K, C, size, size) crops of image (C, H, W), each region warped to size x size."""
    out = []
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        crop = image[:, y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        out.append(resize(crop, (size, size)))
    return np.stack(out).astype(np.float32)


def head_on_crops(model, crops):
    """R-CNN's way: the CNN on each warped crop, its whole map pooled to 7x7, the heads."""
    features = model.backbone(sn.tensor(crops))
    whole = [np.array([[0, 0, 31, 31]], np.float32)] * len(crops)
    pooled = model.roi_heads.box_roi_pool(features, whole)
    return model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))


def head_on_image(model, image, boxes):
    """Fast R-CNN's way: the CNN once, every region RoI-pooled from its map, the heads."""
    features = model.backbone(sn.tensor(image[None]))
    pooled = model.roi_heads.box_roi_pool(features, [boxes])
    return model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))


def median_seconds(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


model.eval()
image = held_out[0][0]
n_regions = len(windows)
measured = 200 if fast() else n_regions
with sn.no_grad():
    rcnn_test = median_seconds(lambda: [head_on_crops(model, warped(image, windows[i:i + 256]))
                                        for i in range(0, measured, 256)], 1)
    fast_test = median_seconds(lambda: head_on_image(model, image, windows))
rcnn_test *= n_regions / measured

model.train()
images, targets = engine.collate([train_set[0], train_set[1]])
crops = warped(images.data[0], windows[:128])
crop_labels = np.arange(128) % 11


def rcnn_step():
    logits, _ = head_on_crops(model, crops)
    F.cross_entropy(logits, sn.tensor(crop_labels)).backward()


def fast_step():
    sum(model(images, targets).values()).backward()


rcnn_train = median_seconds(rcnn_step)
fast_train = median_seconds(fast_step)
model.zero_grad()
print(f"test, one image of {n_regions} regions: R-CNN way {rcnn_test:.2f} s, Fast R-CNN "
      f"{fast_test:.3f} s -> {rcnn_test / fast_test:.0f}x (slide: 146x)")
print(f"train, one step of 128 RoIs: R-CNN way {rcnn_train:.3f} s, Fast R-CNN "
      f"{fast_train:.3f} s -> {rcnn_train / fast_train:.1f}x (slide: 8.8x)")
assert rcnn_test > fast_test

# %% [markdown] lang="ko"
# 시험 배율은 영역 수에서 옵니다. R-CNN 방식은 CNN을 영역마다 돌리므로 영역 2,828개면 32 x 32
# 영상 2,828장을 처리하고, Fast R-CNN은 64 x 64 영상 한 장과 RoI 풀링, 완전 연결 층만 계산합니다.
# 학습 배율은 덱의 8.8배와 직접 비교할 수 없습니다. 논문의 84시간에는 모든 영역의 특징을
# 디스크에 쓰고(수백 GB) SVM과 회귀를 따로 학습하는 다단계 과정이 들어 있지만, 여기서 재는 것은
# 한 걸음의 계산뿐이고 우리 영상(64 x 64)과 백본은 작습니다. 우리 기계는 CPU 2개를
# 여럿이 나눠 쓰므로 시간은 측정할 때마다 흔들립니다.

# %% [markdown] lang="en"
# The test speed-up comes from the number of regions: the R-CNN way runs the CNN per region,
# 2,828 images of 32 x 32, while Fast R-CNN computes one 64 x 64 image, the RoI pooling and the
# fully connected layers. The training ratio does not compare directly with the deck's 8.8x:
# the paper's 84 hours include a multi-stage pipeline that writes every region's features to
# disk (hundreds of GB) and trains SVMs and regressors separately, while here only the
# computation of one step is timed, on small images (64 x 64) and a small backbone. Our
# machine shares 2 CPUs among several users, so the times move from run to run.

# %%
elapsed = time.perf_counter() - started
print(f"lesson ran in {elapsed:.1f} s{' (fast mode)' if fast() else ''}")
