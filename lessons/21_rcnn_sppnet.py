# %% [markdown] lang="ko"
# # R-CNN과 SPPNet
#
# "CNN 응용 사례" (deck 000)의 R-CNN 슬라이드 ("R-CNN", "R-CNN의 문제점")와
# "Day13. CNN and Vision" (deck 001)의 R-CNN, SPPNet 부분, "딥러닝의 통계적이해 8강:
# 합성곱 신경망의 응용" (deck 002)의 R-CNN 슬라이드를 따라갑니다.
#
# R-CNN은 이미지 한 장에서 **영역 제안** (region proposal)을 대략 2천 개 뽑고, 영역마다
# 합성곱 신경망을 한 번씩 돌립니다. SPPNet은 합성곱 신경망을 이미지 전체에 한 번만 돌리고
# 영역마다 특징 맵을 잘라 씁니다. 이 레슨은 두 방법을 DigitScenes (64 x 64 장면에 손글씨 숫자)
# 위에서 직접 만들고, 그 비용을 잽니다.

# %% [markdown] lang="en"
# # R-CNN and SPPNet
#
# Follows "CNN 응용 사례" (deck 000), its R-CNN slides ("R-CNN", "R-CNN의 문제점": R-CNN's
# problems), the R-CNN and SPPNet part of "Day13. CNN and Vision" (deck 001), and the R-CNN
# slides of "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002).
#
# R-CNN takes about 2,000 region proposals from an image and runs a CNN once per region.
# SPPNet runs the CNN once over the whole image and cuts each region out of the feature map.
# This lesson builds both on DigitScenes (handwritten digits in 64 x 64 scenes) and measures
# what each costs.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data import DigitScenes
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.detection import RegionCNN, SPPNet
from scratchnet.models.detection.rcnn import (SelectiveSearchProposer, context_boxes,
                                              fit_ridge, regression_pairs, scaled_context,
                                              svm_with_hard_negatives, warp_regions)
from scratchnet.ops.boxes import BoxCoder, box_iou
from scratchnet.ops.spp import pyramid_bins

header("\"CNN 응용 사례\" (deck 000), \"Day13. CNN and Vision\" (deck 001)",
       "R-CNN / R-CNN의 문제점 / SPPNet", "R-CNN and SPPNet", ko="R-CNN과 SPPNet")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 영역 제안: 선택적 검색
#
# 덱 000은 "Region proposal 알고리즘을 통해 관심 영역 추출 (대략 2천개)"라고 씁니다.
# R-CNN 논문 (Girshick et al., 2014)은 **선택적 검색** (selective search)의 "fast" 모드로
# 이미지마다 약 2,000개를 얻었습니다. 500 x 375 크기 사진 기준입니다. 64 x 64 장면에서는
# 영역이 훨씬 적게 나옵니다 (장면을 3배로 키워 검색합니다: 분할의 최소 영역 크기가 픽셀
# 단위라서, 키우지 않으면 4픽셀 숫자가 배경에 묻힙니다).

# %% [markdown] lang="en"
# ## Region proposals: selective search
#
# Deck 000 writes "Region proposal 알고리즘을 통해 관심 영역 추출 (대략 2천개)": regions of
# interest from a region-proposal algorithm, about 2,000. The R-CNN paper (Girshick et al.,
# 2014) got about 2,000 per image from selective search's "fast" mode, on photos of about
# 500 x 375. A 64 x 64 scene yields far fewer (the scene is enlarged 3x for the search: the
# segmentation's minimum region size is in pixels, and without enlarging, a 4-pixel digit
# drowns in the background).

# %%
PAPER_PROPOSALS = 2000          # R-CNN paper, section 2.1: "~2k region proposals"
check("deck 000: regions proposed per image", 2000, PAPER_PROPOSALS,
      ko="덱 000: 이미지당 제안 영역 수")

scenes = DigitScenes("test", num_samples=8 if fast() else 40)
proposer = SelectiveSearchProposer()
counts, seconds, recall = [], [], []
for i in range(len(scenes)):
    image, target = scenes[i]
    t0 = time.perf_counter()
    boxes = proposer(image)
    seconds.append(time.perf_counter() - t0)
    counts.append(len(boxes))
    recall += list(box_iou(target["boxes"], boxes).max(axis=1) >= 0.5)
print(f"selective search on {len(scenes)} test scenes: {np.mean(counts):.0f} proposals per "
      f"scene (min {min(counts)}, max {max(counts)}), {np.median(seconds):.2f} s per scene, "
      f"recall at IoU 0.5: {np.mean(recall):.2f}")

# %% [markdown] lang="ko"
# ## 워핑과 문맥 패딩
#
# 합성곱 신경망의 완전연결층은 고정된 입력 크기를 요구하므로, R-CNN은 모든 영역을 같은
# 크기로 늘리거나 줄입니다. 덱 000의 "이미지 리사이즈 (wrapping)"이 이 **워핑** (warping)입니다.
# 논문은 227 x 227로 워핑하면서 영역 둘레에 주변 픽셀 16개를 함께 넣습니다 (**문맥 패딩**
# (context padding)). 영역 자체는 가운데 195 x 195를 차지하고, 이미지 밖은 평균값으로 채웁니다.
# 우리는 32 x 32로 워핑하므로 패딩을 비율대로 줄입니다: round(16 x 32 / 227) = 2.

# %% [markdown] lang="en"
# ## Warping with context
#
# A CNN's fully connected layers need a fixed input size, so R-CNN stretches every region to
# one size: deck 000's "이미지 리사이즈 (wrapping)" (image resizing, "wrapping" for warping).
# The paper warps to 227 x 227 and takes 16 pixels of the region's surroundings along
# (context padding): the region itself fills the central 195 x 195, and whatever falls
# outside the image is filled with the mean. We warp to 32 x 32, so the padding shrinks in
# proportion: round(16 x 32 / 227) = 2.

# %%
assert scaled_context(227) == 16 and scaled_context(32) == 2
grown = context_boxes([[10, 10, 38, 38]], 32, 2)[0]
print("a 28 x 28 box [10, 10, 38, 38] grows by 32/28 to", grown.tolist(),
      "so that after warping it fills 28 of 32 pixels")

image, target = scenes[0]
gt = target["boxes"]
crops_plain = warp_regions(image, gt, 32, context=0)
crops_context = warp_regions(image, gt, 32, context=2)
fig, axes = pyplot.subplots(2, len(gt) + 1, figsize=(2.2 * (len(gt) + 1), 4.4))
axes[0, 0].imshow(image[0], cmap="gray")
for (x1, y1, x2, y2) in gt:
    axes[0, 0].add_patch(pyplot.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                          color="tab:orange"))
axes[0, 0].set_title("scene")
for (x1, y1, x2, y2) in proposer(image)[:30]:
    axes[1, 0].add_patch(pyplot.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                          color="tab:blue", lw=0.6))
axes[1, 0].imshow(image[0], cmap="gray")
axes[1, 0].set_title("30 proposals")
for j in range(len(gt)):
    axes[0, j + 1].imshow(crops_plain[j, 0], cmap="gray")
    axes[0, j + 1].set_title("warped, p = 0")
    axes[1, j + 1].imshow(crops_context[j, 0], cmap="gray")
    axes[1, j + 1].set_title("warped, p = 2")
for ax in axes.ravel():
    ax.axis("off")
savefig(fig, "rcnn_warping")

# %% [markdown] lang="ko"
# ## SVM: 클래스마다 하나, 힌지 손실과 하드 네거티브 마이닝
#
# R-CNN은 ImageNet 분류로 미리 학습한 합성곱 신경망을 워핑한 영역의 소프트맥스 분류기로
# **미세 조정** (fine-tuning)합니다 (물체와 IoU 0.5 이상이면 그 클래스, 아니면 배경). 우리에게는
# ImageNet이 없으므로 학습 장면의 숫자들을 워핑해 먼저 10개 클래스 분류기로 학습합니다. 그다음 fc7 특징 위에 클래스마다 선형
# **서포트 벡터 머신** (support vector machine, SVM)을 따로 학습합니다. 손실은 **힌지 손실**
# (hinge loss) max(0, 1 - y f(x))입니다. 양성은 정답 상자뿐이고, 그 클래스의 모든 물체와
# IoU가 0.3 미만인 영역이 음성입니다. 음성은 수백만 개라서 한꺼번에 학습하지 않습니다:
# 일부로 학습하고, 모든 음성에 점수를 매겨, 마진 안쪽 (점수 > -1)의 "어려운" 음성을 더해 다시
# 학습합니다. 이것이 **하드 네거티브 마이닝** (hard negative mining)입니다.
#
# 1차원 예: 양성 x = 2, 음성 x = -2, -2.5, 1.5. 처음에는 음성 -2만 봅니다.

# %% [markdown] lang="en"
# ## The SVMs: one per class, hinge loss and hard-negative mining
#
# R-CNN takes a CNN pre-trained on ImageNet classification and fine-tunes it as a softmax
# classifier of warped regions (IoU >= 0.5 with an object: its class, else background). With no
# ImageNet here, the CNN is first trained as a 10-way classifier of the training scenes'
# warped digits. Then, on the fc7 features, it trains one linear support
# vector machine (SVM) per class with the hinge loss max(0, 1 - y f(x)). The positives are the
# ground-truth boxes only; regions with IoU below 0.3 with every object of the class are the
# negatives. There are millions of negatives, so they are not all trained on at once: train
# on some, score all negatives, add the "hard" ones inside the margin (score > -1), train
# again. That is hard-negative mining.
#
# A 1-D example: a positive at x = 2, negatives at -2, -2.5 and 1.5. The first round sees only
# the negative at -2.

# %%
w, b, rounds = svm_with_hard_negatives(np.array([[2.0]]), np.array([[-2.0], [-2.5], [1.5]]),
                                       C=1e4, initial_negatives=[0], tol=1e-9,
                                       max_epochs=100000)
for r in rounds:
    print(f"round {r['round']}: {r['working_negatives']} negative(s) in training, "
          f"{r['added']} hard negative(s) found")
print(f"final SVM: f(x) = {w[0]:.2f} x {b:+.2f}")
# round 0: the widest margin between 2 and -2 is f(x) = 0.5 x; f(1.5) = 0.75 > -1: hard.
# round 1: margins 1 at x = 2 and -1 at x = 1.5: 2w + b = 1, 1.5w + b = -1 -> w = 4, b = -7
assert rounds[0]["added"] == 1 and abs(w[0] - 4) < 1e-2 and abs(b + 7) < 2e-2

# %% [markdown] lang="ko"
# ## 경계 상자 회귀: 목표값을 손으로
#
# 덱 000: "Bbox reg: 선형 회귀를 통해 박스의 세밀한 위치 조정". **경계 상자 회귀** (bounding-box
# regression)는 제안 상자 P (중심 P_x, P_y, 크기 P_w, P_h)를 정답 G로 옮기는 네 수를 배웁니다:
#
#     t_x = (G_x - P_x) / P_w     t_y = (G_y - P_y) / P_h
#     t_w = log(G_w / P_w)        t_h = log(G_h / P_h)
#
# P = [10, 10, 30, 50]: 중심 (20, 30), 20 x 40. G = [12, 8, 36, 56]: 중심 (24, 32), 24 x 48.
# 그러면 t_x = 4/20 = 0.2, t_y = 2/40 = 0.05, t_w = t_h = log 1.2 = 0.1823입니다.
# 논문은 pool5 특징에서 이 t를 클래스마다 **릿지 회귀** (ridge regression)로 예측하고
# (람다 = 1000), 정답과 IoU가 0.6을 넘는 제안만 학습에 씁니다.

# %% [markdown] lang="en"
# ## Box regression: the targets by hand
#
# Deck 000: "Bbox reg: 선형 회귀를 통해 박스의 세밀한 위치 조정" (fine-tune the box's position
# by linear regression). Bounding-box regression learns four numbers that move a proposal P
# (centre P_x, P_y, size P_w, P_h) onto the ground truth G:
#
#     t_x = (G_x - P_x) / P_w     t_y = (G_y - P_y) / P_h
#     t_w = log(G_w / P_w)        t_h = log(G_h / P_h)
#
# P = [10, 10, 30, 50]: centre (20, 30), 20 x 40. G = [12, 8, 36, 56]: centre (24, 32),
# 24 x 48. So t_x = 4/20 = 0.2, t_y = 2/40 = 0.05, t_w = t_h = log 1.2 = 0.1823. The paper
# predicts t per class from pool5 features by ridge regression (lambda = 1000), trained only on
# proposals whose IoU with the ground truth exceeds 0.6.

# %%
P = np.array([[10, 10, 30, 50]], np.float32)
G = np.array([[12, 8, 36, 56]], np.float32)
by_hand = [4 / 20, 2 / 40, np.log(24 / 20), np.log(48 / 40)]
t = BoxCoder((1, 1, 1, 1)).encode_single(G, P)[0]
print("t (by hand):  ", np.round(by_hand, 4).tolist())
print("t (BoxCoder): ", np.round(t, 4).tolist())
assert np.allclose(t, by_hand, rtol=1e-6)
print("decoded back:", BoxCoder((1, 1, 1, 1)).decode_single(t[None], P)[0].tolist())
iou = float(box_iou(P, G)[0, 0])
print(f"IoU(P, G) = 720 / 1232 = {iou:.3f}: below 0.6, so the paper would not train on "
      f"this pair: {len(regression_pairs(P, G, np.array([1]))[0])} pairs")
# ridge regression in one dimension, worked by hand: x = [-1, 1], t = [-2, 2], lambda = 2
W, c = fit_ridge([[-1.0], [1.0]], [[-2.0], [2.0]], lam=2.0)
print(f"ridge: w = sum(x t) / (sum(x^2) + lambda) = 4 / (2 + 2) = {W[0, 0]:.2f}")

# %% [markdown] lang="ko"
# ## 2,000번의 합성곱 vs 한 번의 합성곱 (SPPNet)
#
# 덱 001: "R-CNN에서는 후보 2000개에 대하여 모두 CNN을 한 번씩 돌려야했기 때문에 시간이 너무
# 오래걸렸다. SPPNet에서는 CNN을 한번만 돌린다." SPPNet은 특징 맵에서 각 영역의 창을 잘라
# **공간 피라미드 풀링** (spatial pyramid pooling)으로 고정된 길이의 벡터를 만듭니다: n x n
# 칸마다 최댓값, 피라미드 (6, 3, 2, 1)이면 채널마다 36 + 9 + 4 + 1 = 50칸입니다. 논문의 13 x 13
# conv5에서 칸의 경계는 창 = ceil(13/n), 보폭 = floor(13/n)입니다.
#
# 같은 CNN (가중치는 시간과 무관하므로 학습 전 그대로)으로 2,000개 영역을 재 봅니다.

# %% [markdown] lang="en"
# ## 2,000 CNN passes against one (SPPNet)
#
# Deck 001: "R-CNN에서는 후보 2000개에 대하여 모두 CNN을 한 번씩 돌려야했기 때문에 시간이 너무
# 오래걸렸다. SPPNet에서는 CNN을 한번만 돌린다." (R-CNN had to run the CNN once for each of the
# 2,000 candidates, which took far too long; SPPNet runs the CNN only once.) SPPNet cuts each
# region's window out of the feature map and pools it with spatial pyramid pooling into a
# fixed-length vector: the max of each of n x n bins, 36 + 9 + 4 + 1 = 50 bins per channel for
# the pyramid (6, 3, 2, 1). On the paper's 13 x 13 conv5, the bins have window ceil(13/n) and
# stride floor(13/n).
#
# The same CNN (its weights do not change its speed, so it is used untrained) times 2,000
# regions.

# %%
for n in (6, 3, 2, 1):
    print(f"13 pixels into {n} bins:", pyramid_bins(13, n, "paper"))
print("bins per channel:", sum(n * n for n in (6, 3, 2, 1)), "-> with 256 channels:",
      256 * sum(n * n for n in (6, 3, 2, 1)), "numbers per region, whatever its size")

sn.manual_seed(0)
cnn = RegionCNN().eval()
spp = SPPNet(trunk=cnn.features, levels=(4, 2, 1)).eval()
rng = np.random.default_rng(0)
N_REGIONS = 2000
timed = 200 if fast() else N_REGIONS          # fast mode times 200 and scales linearly
xy = rng.uniform(0, 48, (N_REGIONS, 2))
wh = rng.uniform(6, 40, (N_REGIONS, 2))
regions = np.concatenate([xy, np.minimum(xy + wh, 64)], axis=1).astype(np.float32)
with sn.no_grad():
    cnn.extract(sn.tensor(warp_regions(image, regions[:8])))       # warm up the kernels
    spp.region_features(image, regions[:8])
    t0 = time.perf_counter()
    for i in range(0, timed, 250):
        cnn.extract(sn.tensor(warp_regions(image, regions[i:min(i + 250, timed)])))
    rcnn_s = (time.perf_counter() - t0) * N_REGIONS / timed
    t0 = time.perf_counter()
    fmap = spp.conv_map(image)
    conv_s = time.perf_counter() - t0
    pooled, fc7 = spp.region_features(image, regions)
    spp_s = time.perf_counter() - t0
print(f"R-CNN:  warp + CNN for {N_REGIONS} regions: {rcnn_s:.2f} s"
      + (f" (timed on {timed}, scaled)" if timed < N_REGIONS else ""))
print(f"SPPNet: one convolution of the 2x image {conv_s * 1000:.0f} ms, then pooling + fc for "
      f"all {N_REGIONS}: {spp_s:.2f} s in total")
print(f"SPPNet is {rcnn_s / spp_s:.0f}x faster on this image (2 shared cores, under load)")
print("pooled features:", tuple(pooled.shape), "=", fmap.shape[1], "channels x 21 bins")

# %% [markdown] lang="ko"
# ## 덱의 숫자와 우리의 숫자
#
# 덱 000의 "R-CNN의 문제점": **다단계 학습** (multi-stage training) (미세 조정, SVM, 선형
# 회귀), 학습 84시간, 모든 영역의 특징을 디스크에 저장 (수백 GB), 테스트 이미지 한 장에 47초.
# 84시간과 47초는 Fast R-CNN 논문 (Girshick, 2015) 표 4의 VGG16 R-CNN 수치입니다. SPPNet의 속도
# 수치는 덱에 나오지 않습니다 (덱 001은 "CNN을 한번만 돌린다"고만 씁니다).
#
# 우리 수치는 `scratchnet detect train rcnn`과 `scratchnet detect train sppnet`으로 잰 것입니다
# (DigitScenes 학습 장면 200개, 테스트 장면 100개, 선택적 검색, 2코어를 여러 사람이 함께 쓰는
# 중, 스레드 1개).

# %% [markdown] lang="en"
# ## The deck's figures and ours
#
# Deck 000's "R-CNN의 문제점": multi-stage training (fine-tuning, SVMs, linear regression),
# 84 hours to train, the features of every region stored on disk (hundreds of GB), 47 seconds
# to test one image. The 84 h and 47 s are the VGG16 R-CNN figures of the Fast R-CNN paper
# (Girshick, 2015), table 4. The decks state no SPPNet speed figure (deck 001 says only that it
# runs the CNN once).
#
# Ours were measured with `scratchnet detect train rcnn` and `scratchnet detect train sppnet`
# (200 DigitScenes training scenes, 100 test scenes, selective search, two cores shared by
# several people, one thread).

# %%
FAST_RCNN_TABLE4 = {"R-CNN training hours": 84, "R-CNN test seconds per image": 47}
check("deck 000: R-CNN training time (hours)", 84,
      FAST_RCNN_TABLE4["R-CNN training hours"], ko="덱 000: R-CNN 학습 시간 (시간)")
check("deck 000: R-CNN test time per image (s)", 47,
      FAST_RCNN_TABLE4["R-CNN test seconds per image"],
      ko="덱 000: R-CNN 테스트 시간 (이미지당 초)")

# Measured with `scratchnet detect train rcnn` and
# `scratchnet detect train sppnet --set trunk=runs/detect_rcnn/checkpoint.npz` (defaults:
# 200 training scenes, 100 held-out test scenes, selective search at 3x), NUMBA_NUM_THREADS=1,
# on two cores shared with other jobs: noisy. "test s/image" includes selective search (212
# proposals per test scene on average); "without proposals" is a second pass over the same
# scenes with the proposals already computed.
MEASURED = {
    "R-CNN": {"train s": 499, "test s/image": 0.630, "without proposals": 0.557,
              "mAP@0.5": 0.565, "cache bytes": 70_166_781},
    "SPPNet": {"train s": 161, "test s/image": 0.470, "without proposals": 0.105,
               "mAP@0.5": 0.306, "cache bytes": 75_107_581},
}
R_CNN_CONV_STAGES_S = 198 + 149   # stage 0 + 1 of that R-CNN run: SPPNet's frozen conv layers
for name, m in MEASURED.items():
    print(f"{name:7} train {m['train s']:4d} s, test {m['test s/image']:.2f} s per image "
          f"({m['without proposals']:.3f} s without proposals), mAP@0.5 {m['mAP@0.5']:.3f}, "
          f"feature cache {m['cache bytes'] / 2 ** 20:.0f} MiB for 150 scenes")
print(f"SPPNet / R-CNN at test, proposals aside: "
      f"{MEASURED['R-CNN']['without proposals'] / MEASURED['SPPNet']['without proposals']:.1f}x")
r = MEASURED["R-CNN"]
print(f"deck: 84 h to train, 47 s per image; ours: {r['train s'] / 3600:.2f} h "
      f"({84 * 3600 / r['train s']:.0f}x less), {r['test s/image']:.2f} s per image")
print(f"SPPNet's training adds the {R_CNN_CONV_STAGES_S} s its conv layers took in the R-CNN "
      f"run: {MEASURED['SPPNet']['train s'] + R_CNN_CONV_STAGES_S} s in all")
# `scratchnet detect train sppnet` alone trains its conv layers itself (stage 0): 677 s in
# all, mAP@0.5 0.336, 0.383 s per test image, in the same conditions
print("SPPNet with its own stage 0 (no R-CNN checkpoint): 677 s, mAP@0.5 0.336")
print(f"this image, measured just now: R-CNN {rcnn_s:.2f} s for {N_REGIONS} regions, "
      f"SPPNet {spp_s:.2f} s")

# %% [markdown] lang="ko"
# 우리 장면은 64 x 64이고 영역은 테스트 장면당 약 210개, 합성곱 신경망은 32 x 32 입력에
# 6개 층이라서, R-CNN의 테스트 시간은 47초가 아니라 1초 미만입니다. 그래도 순서는 같습니다:
# 합성곱을 한 번만 하는 SPPNet이 빠르고, 그 차이는 영역 수에 비례해 커집니다 (위의 2,000개
# 영역 측정). 테스트 시간에는 선택적 검색 시간이 들어 있어, 두 방법의 차이가 줄어 보입니다.
#
# SPPNet의 mAP가 R-CNN보다 낮은 이유: 논문처럼 합성곱 층을 고정했고, 그 층은 워핑한 32 x 32
# 영역으로 학습했습니다. 특징 맵에서 작은 숫자는 몇 칸밖에 되지 않습니다. 논문도 합성곱 층을
# 미세 조정하지 못하는 것을 SPPNet의 한계로 꼽았고, Fast R-CNN이 이를 해결합니다 (레슨 22).

# %% [markdown] lang="en"
# Our scenes are 64 x 64 with about 210 regions per test scene, and the CNN is six layers on
# 32 x 32 inputs, so R-CNN tests in under a second, not 47. The ordering holds all the same:
# SPPNet, convolving once, is faster, and the gap grows with the number of regions (the
# 2,000-region measurement above). The test times include selective search, which both pay,
# so the gap looks smaller there.
#
# Why SPPNet's mAP is below R-CNN's: as in the paper its conv layers are frozen, and they
# learned from warped 32 x 32 regions; on the feature map a small digit is a few cells. The
# paper names the conv layers it cannot fine-tune as SPPNet's limit; Fast R-CNN lifts it
# (lesson 22).
