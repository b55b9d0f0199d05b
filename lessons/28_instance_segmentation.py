# %% [markdown] lang="ko"
# # 인스턴스 분할: Mask R-CNN과 RoIAlign
#
# "CNN 응용 사례" (deck 000)의 첫 슬라이드는 네 과제 중 마지막으로 **인스턴스 분할**
# (instance segmentation)을 보여 줍니다: 개 두 마리와 고양이 한 마리(DOG, DOG, CAT)가 각각
# 자기 마스크를 받습니다. "딥러닝팀 1팀" (deck 003)은 **의미 분할** (semantic segmentation)을
# "이미지를 구성하고 있는 모든 픽셀이 어느 class에 속하는지 분류"로, 인스턴스 분할을 그보다
# "더 세부적으로 분류"하는 "더 복잡"한 과제로 소개합니다. "딥러닝의 통계적이해 8강: 합성곱
# 신경망의 응용" (deck 002)은 인스턴스 분할의 대표적 방법으로 Mask R-CNN을 들고, 그것을
# "Faster R-CNN에 완전 합성곱 신경망과 관심영역(RoI)을 추가하여 Mask를 예측"한다고 요약합니다.
#
# 이 수업은 세 가지를 합니다. (1) 같은 장면의 의미 분할 정답과 인스턴스 정답을 나란히 놓고,
# 의미 분할만으로는 물체를 셀 수 없음을 잽니다. (2) Mask R-CNN의 **마스크 헤드** (mask head),
# 곧 RoI마다 도는 작은 FCN의 모양과 손실을 손으로 확인합니다. (3) RoI 풀링(RoIPool)이 상자를
# 특징 맵 칸에 맞춰 반올림할 때 생기는 어긋남을 한 RoI에서 숫자로 그리고, RoIAlign이 이를
# 어떻게 없애는지 본 다음, 두 방식으로 같은 예산만큼 학습한 Mask R-CNN의 마스크 AP를 잽니다.

# %% [markdown] lang="en"
# # Instance segmentation: Mask R-CNN and RoIAlign
#
# The first slide of "CNN 응용 사례" (deck 000) ends its four tasks with instance
# segmentation: two dogs and a cat (DOG, DOG, CAT) each get a mask of their own. "딥러닝팀 1팀"
# (deck 003) defines semantic segmentation as deciding "which class every pixel of the image
# belongs to", and instance segmentation as a finer, "more complex" classification. "딥러닝의
# 통계적이해 8강: 합성곱 신경망의 응용" (deck 002) names Mask R-CNN as the representative
# method and sums it up as "Faster R-CNN plus a fully convolutional network and the region of
# interest (RoI), predicting a mask".
#
# This lesson does three things. (1) It puts the semantic and the instance answer of one scene
# side by side and measures how semantic segmentation alone fails to count objects. (2) It
# checks by hand the shapes and the loss of Mask R-CNN's mask head, the small FCN run on every
# RoI. (3) It draws, with numbers, how RoI pooling (RoIPool) misplaces a box by rounding it to
# feature-map cells, shows how RoIAlign avoids it, and measures the mask AP of Mask R-CNN
# trained with each on the same budget.

# %%
import os
import time

import numpy as np
from skimage.measure import label as connected_components   # DigitScenes needs scikit-image

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data import DigitScenes
from scratchnet.detection import engine
from scratchnet.detection.recipes import get_recipe
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.metrics import mask_iou
from scratchnet.models.detection.mask_rcnn import (mask_rcnn, maskrcnn_loss,
                                                   maskrcnn_loss_reference,
                                                   paste_masks_in_image, project_masks_on_boxes)
from scratchnet.ops import roi_align, roi_pool, roi_pool_bins
from scratchnet.utils import draw_segmentation_masks

header("CNN 응용 사례 (deck 000), 딥러닝의 통계적이해 8강 (deck 002), 딥러닝팀 1팀 (deck 003)",
       "Instance Segmentation (DOG, DOG, CAT); Semantic Labels; Mask R-CNN; RoI pooling",
       "Instance segmentation", ko="인스턴스 분할")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 의미 분할: 픽셀마다 범주 하나
#
# deck 003의 "Semantic Labels" 그림은 사진 한 장을 12 x 19 칸으로 나누고 칸마다 범주 번호를
# 적습니다: 1 Person, 2 Purse, 3 Plants/Grass, 4 Sidewalk, 5 Building/Structures. 그 표를 그대로
# 옮겨 적고 범주 수와 크기를 확인합니다. 이 표에는 "몇 번째 사람인가"를 적을 자리가 없습니다.
# 사람이 둘이라도, 붙어 서 있으면 1로 칠해진 한 덩어리일 뿐입니다.

# %% [markdown] lang="en"
# ## Semantic segmentation: one class per pixel
#
# Deck 003's "Semantic Labels" figure cuts a photo into 12 x 19 cells and writes a class
# number in each: 1 Person, 2 Purse, 3 Plants/Grass, 4 Sidewalk, 5 Building/Structures. We
# copy the table and check its classes and size. The table has no room for "which person":
# two people standing side by side would be one region of 1s.

# %%
DECK_003_LABELS = np.array([
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5],
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5],
    [3, 3, 3, 3, 3, 3, 1, 1, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5],
    [3, 3, 3, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5],
    [3, 3, 3, 3, 3, 3, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5],
    [5, 5, 3, 3, 3, 3, 1, 1, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    [4, 4, 3, 4, 1, 1, 1, 1, 1, 1, 4, 4, 4, 5, 5, 5, 5, 5, 5],
    [4, 4, 3, 4, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 5, 5, 5, 5],
    [4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4]])
LEGEND = {1: "Person", 2: "Purse", 3: "Plants/Grass", 4: "Sidewalk", 5: "Building/Structures"}
check("deck 003, Semantic Labels: rows x columns of the label table", (12, 19),
      DECK_003_LABELS.shape, ko="deck 003, Semantic Labels: 레이블 표의 행 x 열")
check("deck 003, Semantic Labels: classes in the legend", len(LEGEND),
      len(np.unique(DECK_003_LABELS)), ko="deck 003, Semantic Labels: 범례의 범주 수")
for k, name in LEGEND.items():
    print(f"{k} {name:20s} {int((DECK_003_LABELS == k).sum()):3d} cells")

# %% [markdown] lang="ko"
# ## 같은 장면, 두 가지 정답
#
# `DigitScenes(overlap=True)`는 숫자가 서로 겹치도록 놓고, 장면마다 의미 분할 정답(`semantic`,
# 픽셀마다 범주)과 인스턴스 정답(`masks`, 물체마다 마스크 하나)을 함께 줍니다. deck 000의
# "DOG, DOG, CAT"처럼 같은 숫자 둘과 다른 숫자 하나가 있고, 같은 숫자 둘이 맞닿아 있는 시험
# 장면을 골라 봅니다. 의미 분할 정답에서 그 둘은 한 덩어리(**연결 요소** (connected
# component))입니다. 덩어리를 세어서는 물체 수를 알 수 없고, 인스턴스 마스크만 둘을
# 나눕니다. 시험 장면 전체에서 이런 일이 얼마나 잦은지 셉니다.

# %% [markdown] lang="en"
# ## One scene, two answers
#
# `DigitScenes(overlap=True)` lets digits cover each other and gives every scene both answers:
# the semantic one (`semantic`, a class per pixel) and the instance one (`masks`, one mask per
# object). Like deck 000's "DOG, DOG, CAT" we pick a test scene with two copies of one digit
# and one other digit, where the two copies touch. In the semantic answer they are one region
# (one connected component): counting regions does not count objects, and only the instance
# masks tell the two apart. Then we count how often this happens over the test scenes.

# %%
def fused_pairs(target):
    """Pairs of same-class objects whose pixels form one connected region of the class map
    (8-connectivity), and all pairs of same-class objects, in one scene."""
    fused = pairs = 0
    for c in np.unique(target["labels"]):
        members = np.flatnonzero(target["labels"] == c)
        if len(members) < 2:
            continue
        regions = connected_components(target["semantic"] == c, connectivity=2)
        ids = [set(np.unique(regions[target["masks"][k]])) - {0} for k in members]
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs += 1
                fused += bool(ids[a] & ids[b])
    return fused, pairs


def regions_per_class(target):
    """Connected regions (8-connectivity) of each class in the semantic map."""
    classes = sorted(set(np.unique(target["semantic"]).tolist()) - {0, 255})
    return {c: int(connected_components(target["semantic"] == c, connectivity=2).max())
            for c in classes}


# three digits of 14 to 30 pixels, which may cover each other
showcase = DigitScenes("test", num_samples=300, overlap=True, num_digits=3, digit_size=(14, 30))
for scene in range(len(showcase)):
    image, target = showcase[scene]
    counts = sorted(np.unique(target["labels"], return_counts=True)[1].tolist())
    # two of one digit, one of another, all well visible, the pair fused into one region
    if counts == [1, 2] and sum(regions_per_class(target).values()) == 2 \
            and min(m.sum() for m in target["masks"]) >= 40:
        break
names = [DigitScenes.classes[k] for k in target["labels"]]
regions = regions_per_class(target)
print(f"test scene {scene}: digits {names}")
check("deck 000, Instance Segmentation 'DOG, DOG, CAT': masks", 3, len(target["masks"]),
      ko="deck 000, Instance Segmentation 'DOG, DOG, CAT': 마스크 수")
check("deck 000, Instance Segmentation 'DOG, DOG, CAT': classes", 2, len(regions),
      ko="deck 000, Instance Segmentation 'DOG, DOG, CAT': 범주 수")
print(f"the semantic map: {len(regions)} classes in {sum(regions.values())} connected regions; "
      f"the instance answer: {len(target['masks'])} masks")

grey = (np.repeat(image, 3, axis=0) * 255).astype(np.uint8)
fig, axes = pyplot.subplots(1, 4, figsize=(12, 3.2))
axes[0].imshow(DECK_003_LABELS, cmap="tab10", vmin=0.5, vmax=10.5)
axes[0].set_title("deck 003: Semantic Labels")
for k, name in LEGEND.items():
    axes[0].plot([], [], "s", color=pyplot.cm.tab10(k - 1), label=f"{k} {name}")
axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=7, ncol=2,
               frameon=False)
axes[1].imshow(grey.transpose(1, 2, 0))
axes[1].set_title(f"test scene {scene}: {', '.join(names)}")
axes[2].imshow(np.ma.masked_equal(target["semantic"], 255), cmap="tab20", vmin=0, vmax=10)
axes[2].set_title("semantic: one class map")
axes[3].imshow(draw_segmentation_masks(grey, target["masks"], alpha=0.7).transpose(1, 2, 0))
axes[3].set_title("instance: one mask each")
for ax in axes:
    ax.set(xticks=[], yticks=[])
savefig(fig, "semantic_vs_instance")

overlapping = DigitScenes("test", num_samples=100 if fast() else 300, overlap=True)
fused = pairs = 0
for i in range(len(overlapping)):
    f, p = fused_pairs(overlapping[i][1])
    fused += f
    pairs += p
print(f"{len(overlapping)} test scenes with overlap: {pairs} pairs of digits of one class, "
      f"{fused} of them ({100 * fused / pairs:.0f}%) fused into one region of the class map")
assert 0 < fused < pairs

# %% [markdown] lang="ko"
# ## Mask R-CNN = Faster R-CNN + RoI마다 작은 FCN
#
# deck 002의 한 줄 요약을 부품으로 풀면 이렇습니다. 백본과 RPN, 상자 가지(분류 + 상자 회귀)는
# Faster R-CNN 그대로이고, 세 번째 가지인 마스크 헤드가 RoI마다 붙습니다(He 외, 2017, 그림 4).
#
#     RoIAlign 14 x 14  ->  3 x 3 합성곱 4개 (+ ReLU)  ->  2 x 2 전치 합성곱, 스트라이드 2
#     ->  28 x 28  ->  1 x 1 합성곱: 범주마다 마스크 하나 (K + 1 = 11장)
#
# 마스크 헤드에는 **완전결합층** (fully connected layer)이 없습니다. RoI의 공간 배치를 벡터로
# 펴지 않으므로 28 x 28 출력의 각 칸이 자기가 묘사하는 픽셀을 봅니다. deck 002가 말하는
# **완전 합성곱 신경망** (fully convolutional network, FCN)입니다. 논문의 폭(채널 256)으로
# 만든 모델에서 모양과 파라미터 수를 손으로 셉니다.

# %% [markdown] lang="en"
# ## Mask R-CNN = Faster R-CNN + a small FCN per RoI
#
# Deck 002's one-line summary, taken apart: the backbone, the RPN and the box branch
# (classification + box regression) are Faster R-CNN's; a third branch, the mask head, runs
# on every RoI (He et al., 2017, Figure 4):
#
#     RoIAlign 14 x 14  ->  four 3 x 3 convolutions (+ ReLU)  ->  2 x 2 transposed
#     convolution, stride 2  ->  28 x 28  ->  1 x 1 convolution: one mask per class (K + 1 = 11)
#
# The mask head has no fully connected layer. It never flattens the RoI's spatial layout into
# a vector, so each of the 28 x 28 outputs sees the pixels it describes: the fully
# convolutional network (FCN) deck 002 speaks of. On a model built at the paper's width (256
# channels) we count shapes and parameters by hand.

# %%
paper = mask_rcnn(num_classes=11)              # stride-4 backbone, 64 channels; head 256 wide
heads = paper.roi_heads
features = sn.randn(3, paper.backbone.out_channels, 14, 14)
hidden = heads.mask_head(features)
logits = heads.mask_predictor(hidden)
print(f"RoI features {tuple(features.shape)} -> four 3x3 convs {tuple(hidden.shape)} -> "
      f"deconv + 1x1 conv {tuple(logits.shape)}")
assert tuple(hidden.shape) == (3, 256, 14, 14) and tuple(logits.shape) == (3, 11, 28, 28)

branch = [heads.mask_head, heads.mask_predictor]
n_fc = sum(isinstance(m, sn.nn.Linear) for part in branch for m in part.modules())
check("deck 002: fully connected layers in the mask branch (a fully convolutional network)",
      0, n_fc, ko="deck 002: 마스크 가지의 완전결합층 수 (완전 합성곱 신경망)")
c = paper.backbone.out_channels
by_hand = {"four 3x3 convolutions": (9 * c * 256 + 256) + 3 * (9 * 256 * 256 + 256),
           "2x2 transposed convolution": 256 * 256 * 2 * 2 + 256,
           "1x1 convolution to 11 masks": 256 * 11 + 11}
for part, n in by_hand.items():
    print(f"{part:30s} {n:>9,} parameters")
n_branch = sum(p.numel() for part in branch for p in part.parameters())
n_faster = sum(p.numel() for p in paper.parameters()) - n_branch
print(f"mask branch {n_branch:,} parameters, the rest of the detector {n_faster:,}")
assert n_branch == sum(by_hand.values())

# %% [markdown] lang="ko"
# ## 마스크 목표와 손실: 정답 범주의 마스크 하나만
#
# 학습 때 마스크 가지는 **전경** (foreground) RoI에서만 돕니다. RoI의 목표는 그 RoI에 짝지어진
# 물체의 정답 마스크를 RoI를 따라 잘라 28 x 28로 줄인 것입니다(`project_masks_on_boxes`).
# 같은 숫자라도 제안 상자가 어긋나면 목표도 같이 어긋납니다. 마스크 헤드는 "상자 안에서 물체가
# 어디 있는가"를 배웁니다.
#
# 손실은 픽셀마다의 **이진 교차 엔트로피** (binary cross-entropy)를 정답 범주 k의 마스크에서만
# 평균한 것입니다. L_mask = mean BCE(sigmoid(z[k]), t). 나머지 범주의 마스크에는 기울기가 가지
# 않으므로 범주끼리 픽셀을 두고 다투지 않고(픽셀마다 softmax를 쓰는 FCN과 다른 점), 어떤
# 범주인지는 상자 가지가 정합니다. 전체 손실은 Faster R-CNN의 네 손실에 L_mask를 더한 것입니다.

# %% [markdown] lang="en"
# ## Mask targets and the loss: only the true class's mask
#
# In training the mask branch runs on the foreground RoIs only. An RoI's target is the true
# mask of the object it was matched to, cut out along the RoI and shrunk to 28 x 28
# (`project_masks_on_boxes`). When the proposal is off, the target moves with it: the mask
# head learns "where in this box is the object".
#
# The loss is the per-pixel binary cross-entropy averaged over the mask of the true class k
# only: L_mask = mean BCE(sigmoid(z[k]), t). The other classes' masks get no gradient, so the
# classes do not compete for pixels (unlike an FCN's per-pixel softmax), and the box branch
# decides which class it is. The total loss is Faster R-CNN's four losses plus L_mask.

# %%
digit = int(np.argmax([m.sum() for m in target["masks"]]))     # the largest digit of the scene
gt_box = target["boxes"][digit]
shifted = gt_box + np.float32([-4, 3, -4, 3])                  # a proposal 4 px left, 3 px down
t = project_masks_on_boxes(target["masks"], np.stack([gt_box, shifted]), [digit, digit], 28,
                           aligned=True)
print(f"digit {names[digit]}, box {gt_box}: targets {t.shape}, "
      f"{(t[0] >= 0.5).sum()} and {(t[1] >= 0.5).sum()} of 784 pixels >= 0.5")

# the loss by hand on 2 RoIs, 3 classes, 2 x 2 masks: only channel labels[r] counts
z = np.array([[[[2.0, -1.0], [0.5, 0.0]], [[9.0, 9.0], [9.0, 9.0]], [[-3.0, 1.0], [0.0, 4.0]]],
              [[[0.0, 0.0], [0.0, 0.0]], [[1.0, -2.0], [3.0, 0.5]], [[5.0, 5.0], [5.0, 5.0]]]])
labels = np.array([2, 1])
targets = np.array([[[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]])
softplus = lambda v: np.log1p(np.exp(v))                       # noqa: E731
by_hand = np.mean([softplus(-z[r, labels[r]]) * targets[r]
                   + softplus(z[r, labels[r]]) * (1 - targets[r]) for r in range(2)])
# per pixel, log(1 + e^-z) where t = 1 and log(1 + e^z) where t = 0:
# RoI 0, class 2: 0.0486 0.3133 0.6931 0.0181; RoI 1, class 1: 0.3133 0.1269 0.0486 0.4741
# sum 2.0360 / 8 pixels = 0.2545 (the 9s and 5s of the other classes would cost ~9 and ~5 each)
assert abs(by_hand - 2.0360 / 8) < 1e-4
reference = maskrcnn_loss_reference(z, labels, targets)
print(f"L_mask by hand {by_hand:.6f}, per-RoI reference {reference:.6f}")
assert abs(by_hand - reference) < 1e-12

# the vectorised loss on real RoIs: equal to the reference, and no gradient to other classes
rois = np.stack([gt_box, shifted])
z_real = sn.randn(2, 11, 28, 28, requires_grad=True)
loss = maskrcnn_loss(z_real, [rois], [target["masks"]], [target["labels"]],
                     [np.array([digit, digit])], aligned=True)
loss.backward()
grad = z_real.grad.data
true_class = int(target["labels"][digit])
reference = maskrcnn_loss_reference(z_real.data, [true_class] * 2, t)
print(f"maskrcnn_loss {loss.item():.6f}, reference {reference:.6f}; gradient on the true "
      f"class {np.abs(grad[:, true_class]).sum():.4f}, on the other 10 classes "
      f"{np.abs(np.delete(grad, true_class, axis=1)).sum():.4f}")
assert abs(loss.item() - reference) < 1e-5
assert grad[:, true_class].any() and not np.delete(grad, true_class, axis=1).any()

fig, axes = pyplot.subplots(1, 3, figsize=(8, 2.8))
axes[0].imshow(image[0], cmap="gray")
for box, colour, name in ((gt_box, "C2", "true box"), (shifted, "C3", "shifted proposal")):
    axes[0].add_patch(pyplot.Rectangle(box[:2] - 0.5, *(box[2:] - box[:2]), fill=False,
                                       color=colour, lw=1.5, label=name))
axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), frameon=False)
axes[1].imshow(t[0], cmap="gray", vmin=0, vmax=1)
axes[1].set_title("28x28 target, true box")
axes[2].imshow(t[1], cmap="gray", vmin=0, vmax=1)
axes[2].set_title("28x28 target, shifted")
for ax in axes:
    ax.set(xticks=[], yticks=[])
savefig(fig, "mask_targets")

# %% [markdown] lang="ko"
# ## RoI 풀링과 RoIAlign: 먼저 deck 000의 예
#
# deck 000의 RoI 풀링 슬라이드는 21 x 14 RoI를 3 x 2 칸으로 최대 풀링해 7 x 7을 만듭니다. 이
# RoI는 특징 맵의 칸 경계에 딱 맞고 21과 14가 7로 나누어떨어지므로 반올림할 것이 없습니다.
# RoIAlign도 같은 3 x 2 칸을 씁니다(칸 안에서 최대 대신 **쌍선형 보간** (bilinear
# interpolation)으로 뽑은 점들의 평균을 낼 뿐입니다). 칸의 크기를 재려고, 값이 곧 자기 위치인
# 특징 맵을 씁니다. 열 j의 값은 j + 0.5(칸의 가운데), 행 i의 값은 i + 0.5입니다. 그러면 RoIAlign의
# 출력은 각 칸이 읽은 자리의 좌표이고, 이웃한 칸끼리의 차이가 칸의 크기입니다.

# %% [markdown] lang="en"
# ## RoI pooling and RoIAlign: deck 000's example first
#
# Deck 000's RoI pooling slide max-pools a 21 x 14 RoI in bins of 3 x 2 to get 7 x 7. That RoI
# sits on the feature map's cell borders and 21 and 14 divide by 7, so there is nothing to
# round. RoIAlign uses the same 3 x 2 bins (it only averages points sampled by bilinear
# interpolation instead of taking the max). To measure the bins we use a feature map whose
# values are their own positions: column j holds j + 0.5 (the cell's centre), row i holds
# i + 0.5. RoIAlign's output is then where each bin reads, and neighbouring bins differ by
# the bin size.

# %%
def position_maps(height, width, stride=1.0):
    """(2, 1, 1, H, W) float64: the image x and y of every cell's centre, stride * (j + 0.5)
    and stride * (i + 0.5), so that pooling them tells where a bin reads."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([stride * (xs + 0.5), stride * (ys + 0.5)])[:, None, None]


ramp_x, ramp_y = position_maps(21, 14)
rows, cols = roi_pool_bins((0, 0, 13, 20), 7)        # RoI pooling: x2, y2 are the last cells
check("deck 000: RoI 21x14 -> 7x7, RoI pooling bin (rows, cols)", [3, 2],
      [rows[0][1] - rows[0][0], cols[0][1] - cols[0][0]],
      ko="deck 000: RoI 21x14 -> 7x7, RoI 풀링 칸 (행, 열)")
assert all(b - a == 3 for a, b in rows) and all(b - a == 2 for a, b in cols)
box_21x14 = [np.array([[0, 0, 14, 21]], np.float64)]  # RoIAlign: edges, 14 wide, 21 high
read_x = roi_align(ramp_x, box_21x14, 7, 1.0, sampling_ratio=2, aligned=True).data[0, 0]
read_y = roi_align(ramp_y, box_21x14, 7, 1.0, sampling_ratio=2, aligned=True).data[0, 0]
check("deck 000: RoI 21x14 -> 7x7, RoIAlign bin (rows, cols)", [3, 2],
      [float(np.diff(read_y[:, 0]).mean()), float(np.diff(read_x[0]).mean())],
      ko="deck 000: RoI 21x14 -> 7x7, RoIAlign 칸 (행, 열)")
print("RoIAlign reads columns at", read_x[0], "and rows at", read_y[:, 0])

# %% [markdown] lang="ko"
# ## 어긋남: 반올림된 칸 대 쌍선형 표본점, RoI 하나에서
#
# 실제 검출기의 RoI는 영상 좌표의 실수이고, 특징 맵은 영상보다 작습니다(여기서 스트라이드 4,
# 64 x 64 영상에 16 x 16 맵). 상자 (10, 6, 37, 33)을 2 x 2 칸으로 뽑아 봅니다(논문 그림 3처럼
# 칸마다 표본점 4개). 손으로 계산하면:
#
# - RoI 풀링은 먼저 상자를 맵의 칸에 맞춰 **양자화** (quantisation), 곧 반올림합니다.
#   x: 10/4 = 2.5 -> 3, 37/4 = 9.25 -> 9, 곧 열 3..9 (7열) = 영상 x 12..40 (실제 10..37).
#   y: 6/4 = 1.5 -> 2, 33/4 = 8.25 -> 8, 곧 행 2..8 = 영상 y 8..36 (실제 6..33).
#   반올림은 모서리마다 최대 반 칸(= 2 픽셀)을 옮깁니다. 그다음 칸도 양자화합니다. 7열을 2로
#   나누면 3.5열이므로 칸 0은 열 floor(0) .. ceil(3.5) = 3..6, 칸 1은 floor(3.5) .. ceil(7) =
#   6..9 이고, 열 6은 두 칸에 다 들어갑니다.
# - RoIAlign은 반올림하지 않습니다. aligned=True는 칸의 가운데를 좌표로 맞추려고 반 칸을 빼서
#   x: 10/4 - 0.5 = 2.0 .. 37/4 - 0.5 = 8.75, 칸 너비 6.75 / 2 = 3.375 입니다. 칸 0의 두 표본점은
#   칸의 1/4과 3/4 지점, 2.84375와 4.53125 열, 영상으로 (u + 0.5) x 4 = 13.375와 20.125 픽셀,
#   평균 16.75는 실제 칸 0 (10 .. 23.5)의 가운데 그대로입니다.
# - 원래의 RoIAlign(aligned=False, 논문과 torchvision의 기본값)은 그 반 칸을 빼지 않아서 모든
#   표본점이 반 칸, 곧 2 픽셀 오른쪽 아래를 읽습니다. 반올림은 없지만 **반 픽셀 어긋남**
#   (half-pixel misalignment)이 남습니다.
#
# 위치 맵에서 세 방식이 읽는 x를 재어 손 계산과 맞춰 봅니다. RoI 풀링은 칸의 최댓값, 곧 칸의
# 마지막 열(영상 x 26과 38)을 읽습니다.

# %% [markdown] lang="en"
# ## The misalignment: quantised bins against bilinear samples, on one RoI
#
# A real detector's RoIs are real numbers in image coordinates, and the feature map is
# smaller than the image (here stride 4: a 16 x 16 map for a 64 x 64 image). We pool the box
# (10, 6, 37, 33) into 2 x 2 bins (with 4 sampling points per bin, as in the paper's
# Figure 3). By hand:
#
# - RoI pooling first quantises the box to the map's cells (rounding). x: 10/4 = 2.5 -> 3,
#   37/4 = 9.25 -> 9, i.e. columns 3..9 (7 columns) = image x 12..40 (the box is 10..37).
#   y: 6/4 = 1.5 -> 2, 33/4 = 8.25 -> 8, rows 2..8 = image y 8..36 (the box is 6..33).
#   Rounding moves each edge by up to half a cell (= 2 pixels). Then the bins are quantised
#   too: 7 columns / 2 = 3.5, so bin 0 takes columns floor(0) .. ceil(3.5) = 3..6 and bin 1
#   floor(3.5) .. ceil(7) = 6..9; column 6 belongs to both.
# - RoIAlign does not round. aligned=True subtracts half a cell so that cell centres sit at
#   whole coordinates: x from 10/4 - 0.5 = 2.0 to 37/4 - 0.5 = 8.75, bins 6.75 / 2 = 3.375
#   wide. Bin 0's two sampling points lie at 1/4 and 3/4 of the bin, columns 2.84375 and
#   4.53125, in the image (u + 0.5) x 4 = 13.375 and 20.125 pixels; their mean 16.75 is exactly
#   the centre of the true bin 0 (10 .. 23.5).
# - The original RoIAlign (aligned=False, the paper's formula and torchvision's default) does
#   not subtract that half cell, so every sampling point reads half a cell, 2 pixels, to the
#   right and below: no rounding, but a half-pixel misalignment remains.
#
# On the position maps we measure the x each method reads and compare with the hand
# computation. RoI pooling reads each bin's maximum, i.e. its last column (image x 26 and 38).

# %%
STRIDE = 4
box = np.array([10.0, 6.0, 37.0, 33.0])
pos_x, pos_y = position_maps(16, 16, STRIDE)
rois = [box[None]]
rows, cols = roi_pool_bins(box, 2, spatial_scale=1 / STRIDE)
print(f"RoI pooling bins: rows {rows}, columns {cols} of the 16x16 map")
assert cols == [(3, 7), (6, 10)] and rows == [(2, 6), (5, 9)]
read = {"RoI pooling (max)": roi_pool(pos_x, rois, 2, 1 / STRIDE).data[0, 0, 0],
        "RoIAlign, aligned=False": roi_align(pos_x, rois, 2, 1 / STRIDE, 2, False).data[0, 0, 0],
        "RoIAlign, aligned=True": roi_align(pos_x, rois, 2, 1 / STRIDE, 2, True).data[0, 0, 0]}
true_centres = box[0] + (box[2] - box[0]) * np.array([0.25, 0.75])
for name, xs in read.items():
    print(f"{name:24s} reads x = {xs}  (true bin centres {true_centres})")
assert np.array_equal(read["RoI pooling (max)"], [26.0, 38.0])
assert np.allclose(read["RoIAlign, aligned=False"], true_centres + STRIDE / 2)
assert np.allclose(read["RoIAlign, aligned=True"], true_centres)

fig, ax = pyplot.subplots(figsize=(5.5, 5.5))
colours = ["C0", "C1", "C2", "C3"]
for k, ((r0, r1), (c0, c1)) in enumerate((r, c) for r in rows for c in cols):
    ax.add_patch(pyplot.Rectangle((c0 * STRIDE, r0 * STRIDE), (c1 - c0) * STRIDE,
                                  (r1 - r0) * STRIDE, color=colours[k], alpha=0.18))
qx1, qy1 = cols[0][0] * STRIDE, rows[0][0] * STRIDE
qx2, qy2 = cols[-1][1] * STRIDE, rows[-1][1] * STRIDE
ax.add_patch(pyplot.Rectangle((qx1, qy1), qx2 - qx1, qy2 - qy1, fill=False, color="C3",
                              lw=1.5, label="RoI pooling: rounded box, 2x2 bins (shaded)"))
ax.add_patch(pyplot.Rectangle(box[:2], *(box[2:] - box[:2]), fill=False, color="k", lw=2,
                              ls="--", label="the RoI (10, 6, 37, 33)"))
bw, bh = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
for i in range(2):
    for j in range(2):
        ax.add_patch(pyplot.Rectangle((box[0] + j * bw, box[1] + i * bh), bw, bh, fill=False,
                                      color="k", lw=0.6))
frac = np.array([0.25, 0.75])
sx = np.concatenate([box[0] + (j + frac) * bw for j in range(2)])
sy = np.concatenate([box[1] + (i + frac) * bh for i in range(2)])
gx, gy = np.meshgrid(sx, sy)
ax.plot(gx.ravel(), gy.ravel(), "o", color="C2", ms=6,
        label="RoIAlign (aligned=True): 4 bilinear samples per bin")
ax.plot(gx.ravel() + STRIDE / 2, gy.ravel() + STRIDE / 2, "o", mfc="none", color="C4", ms=6,
        label="aligned=False: the same, half a cell off")
for k in range(0, 49, STRIDE):
    ax.axhline(k, color="0.8", lw=0.5, zorder=0)
    ax.axvline(k, color="0.8", lw=0.5, zorder=0)
ax.set(xlim=(0, 48), ylim=(48, 0), aspect="equal", xlabel="image x (pixels; a cell is 4)",
       ylabel="image y", title="one RoI on a stride-4 feature map")
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
savefig(fig, "roi_pool_vs_align")

# %% [markdown] lang="ko"
# 상자를 0.25 픽셀씩 16 픽셀(네 칸)까지 오른쪽으로 옮기며 칸 0이 읽는 자리를 봅니다. RoI
# 풀링이 읽는 영역(반올림된 칸의 가운데)은 계단처럼 네 픽셀마다 한 번 뜁니다. 상자가 움직여도
# 특징은 그대로이다가 한꺼번에 한 칸 옮겨 갑니다. RoIAlign은 상자와 함께 부드럽게 움직입니다.
# RoI 풀링의 오차는 -0.5에서 +3.25 픽셀까지로, 반 칸(2 픽셀)보다 큽니다. 칸 0이 두 칸이 나눠
# 갖는 열까지 가져가기 때문입니다. aligned=False는 늘 +2 픽셀(반 칸), aligned=True는 0입니다.
# 분류에는 이 정도 어긋남이 거의 상관없지만(칸 하나는 숫자 전체보다 작습니다), 픽셀 단위의
# 마스크에는 그대로 오차가 됩니다.

# %% [markdown] lang="en"
# We slide the box to the right in steps of 0.25 pixel, up to 16 pixels (four cells), and
# watch where bin 0 reads. What RoI pooling reads (the centre of its rounded bin) moves like a
# staircase, one jump every four pixels: the feature stays put while the box moves, then moves
# a whole cell at once. RoIAlign moves smoothly with the box. RoI pooling's error runs from
# -0.5 to +3.25 pixels, more than half a cell (2 pixels), because bin 0 also takes the column
# the two bins share; aligned=False is always +2 pixels (half a cell) off, aligned=True 0.
# A classifier hardly minds such an error (a cell is smaller than a whole digit); a
# pixel-accurate mask inherits it.

# %%
shifts = np.arange(0, 16, 0.25)
pool_centre, align_read, shifted_read = [], [], []
for s in shifts:
    b = box + np.array([s, 0.0, s, 0.0])
    (c0, c1) = roi_pool_bins(b, 2, spatial_scale=1 / STRIDE)[1][0]
    pool_centre.append(STRIDE * (c0 + c1) / 2)
    align_read.append(roi_align(pos_x, [b[None]], 2, 1 / STRIDE, 2, True).data[0, 0, 0, 0])
    shifted_read.append(roi_align(pos_x, [b[None]], 2, 1 / STRIDE, 2, False).data[0, 0, 0, 0])
truth = box[0] + shifts + (box[2] - box[0]) / 4
errors = {"RoI pooling": np.array(pool_centre) - truth,
          "RoIAlign, aligned=False": np.array(shifted_read) - truth,
          "RoIAlign, aligned=True": np.array(align_read) - truth}
for name, e in errors.items():
    print(f"{name:24s} error of bin 0's centre: from {e.min():+.2f} to {e.max():+.2f} pixels")
assert (errors["RoI pooling"].min(), errors["RoI pooling"].max()) == (-0.5, 3.25)
assert np.abs(errors["RoIAlign, aligned=True"]).max() < 1e-9
assert np.allclose(errors["RoIAlign, aligned=False"], STRIDE / 2)

fig, ax = pyplot.subplots(figsize=(6, 3.5))
ax.plot(shifts, truth, "k--", lw=1, label="true centre of bin 0")
ax.step(shifts, pool_centre, where="post", color="C3", label="RoI pooling (rounded bin)")
ax.plot(shifts, shifted_read, color="C4", label="RoIAlign, aligned=False")
ax.plot(shifts, align_read, color="C2", lw=2, alpha=0.7, label="RoIAlign, aligned=True")
ax.set(xlabel="box shifted right by (pixels)", ylabel="image x that bin 0 reads",
       title="sliding the RoI across a stride-4 map")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
savefig(fig, "roi_shift")

# %% [markdown] lang="ko"
# ## 학습 없이 재는 손실: 정답 마스크를 특징으로
#
# 어긋남이 마스크를 얼마나 망치는지 학습과 무관하게 잴 수 있습니다. 가장 좋은 특징은 정답
# 마스크 그 자체입니다. 정답 마스크를 백본의 스트라이드(`scratchnet detect train mask_rcnn`의
# 백본은 2)로 평균 풀링해 "칸마다 물체가 덮는 비율"이라는 특징 맵을 만들고, 모델의 마스크
# 가지가 쓰는 바로 그 층(`mask_roi_pool`: RoIAlign 또는 RoI 풀링, 14 x 14)으로 정답 상자의
# 특징을 뽑은 다음, 모델이 하듯 상자에 붙이고(`paste_masks_in_image`) 0.5(와 그보다 낮은 몇
# 값)에서 자릅니다. 완벽한 마스크 헤드라도 넘을 수 없는 한계입니다. 정답 마스크와의 IoU가 0.5
# 이상이면 마스크 AP@0.5에서 맞는 마스크로 칩니다.

# %% [markdown] lang="en"
# ## What is lost before any training: the true mask as the feature
#
# How much the misalignment spoils a mask can be measured without training. The best possible
# feature is the true mask itself: we average-pool each true mask by the backbone's stride (2
# for the backbone of `scratchnet detect train mask_rcnn`) into a map of "the fraction of each
# cell the object covers", take the true box's features with the very layer the model's mask
# branch uses (`mask_roi_pool`: RoIAlign or RoI pooling, 14 x 14), paste them into the box as
# the model does (`paste_masks_in_image`) and cut at 0.5 (and a few lower values). No mask
# head, however good, can do better than what these features allow. A mask whose IoU with the
# truth is 0.5 or more counts as correct for mask AP@0.5.

# %%
recipe = get_recipe("mask_rcnn")
layers = {"RoI pooling": recipe.build(recipe.config({"mask_roi_pool": "pool"})),
          "RoIAlign": recipe.build(recipe.config({"mask_roi_pool": "align"}))}
layers = {name: model.roi_heads.mask_roi_pool for name, model in layers.items()}
layers["RoIAlign, aligned=False"] = sn.nn.RoIAlign(14, layers["RoIAlign"].spatial_scale, 2,
                                                   aligned=False)
stride = round(1 / layers["RoIAlign"].spatial_scale)
for name, layer in layers.items():
    print(f"{name:24s} {layer!r}")

CUTS = (0.1, 0.2, 0.3, 0.4, 0.5)
ious = {name: {cut: [] for cut in CUTS} for name in layers}
heights, examples = [], {}
for i in range(len(overlapping)):
    scene_image, scene = overlapping[i]
    if not len(scene["masks"]):
        continue
    coverage = F.avg_pool2d(sn.tensor(scene["masks"][:, None].astype(np.float32)), stride)
    rois = np.concatenate([np.arange(len(scene["boxes"]), dtype=np.float32)[:, None],
                           scene["boxes"]], axis=1)            # object k on its own map k
    for name, layer in layers.items():
        pasted = paste_masks_in_image(layer(coverage, rois).data, scene["boxes"],
                                      scene["masks"].shape[1:], aligned=True)[:, 0]
        for cut in CUTS:
            ious[name][cut] += np.diag(mask_iou(pasted >= cut, scene["masks"])).tolist()
        examples.setdefault(i, {})[name] = pasted
    heights += (scene["boxes"][:, 3] - scene["boxes"][:, 1]).tolist()
heights = np.array(heights)
ious = {name: {cut: np.array(v) for cut, v in by_cut.items()} for name, by_cut in ious.items()}
print(f"\n{len(heights)} digits of {len(overlapping)} test scenes, true boxes, stride {stride}; "
      f"share of masks with IoU >= 0.5:")
print(f"{'mask layer':24s} {'cut 0.5':>8s} {'best cut':>9s} {'at best':>8s} {'< 16 px':>8s} "
      f"{'>= 16 px':>9s}")
best = {}
for name, by_cut in ious.items():
    best[name] = max(CUTS, key=lambda cut: (by_cut[cut] >= 0.5).mean())
    v = by_cut[best[name]] >= 0.5
    print(f"{name:24s} {(by_cut[0.5] >= 0.5).mean():8.1%} {best[name]:9.1f} {v.mean():8.1%} "
          f"{v[heights < 16].mean():8.1%} {v[heights >= 16].mean():9.1%}")
for cut in CUTS:                                    # the same order at every cut
    hit = {name: (ious[name][cut] >= 0.5).mean() for name in layers}
    assert hit["RoIAlign"] > hit["RoIAlign, aligned=False"] > hit["RoI pooling"], cut

# one large digit as each layer lets it through
scene_index = next(i for i in examples if (overlapping[i][1]["boxes"][:, 3]
                                           - overlapping[i][1]["boxes"][:, 1] >= 24).any())
scene = overlapping[scene_index][1]
k = int(np.argmax(scene["boxes"][:, 3] - scene["boxes"][:, 1]))
x1, y1, x2, y2 = (int(v) for v in scene["boxes"][k])
crop = (slice(max(y1 - 3, 0), y2 + 3), slice(max(x1 - 3, 0), x2 + 3))
fig, axes = pyplot.subplots(1, 4, figsize=(10, 3))
axes[0].imshow(scene["masks"][k][crop], cmap="gray")
axes[0].set_title("true mask")
for ax, name in zip(axes[1:], layers):
    pasted = examples[scene_index][name][k]
    iou = mask_iou((pasted >= best[name])[None], scene["masks"][k][None])[0, 0]
    ax.imshow(pasted[crop], cmap="magma", vmin=0, vmax=1)
    ax.contour(scene["masks"][k][crop], levels=[0.5], colors="c", linewidths=0.8)
    ax.set_title(f"{name}\nIoU {iou:.2f} at cut {best[name]}", fontsize=9)
for ax in axes:
    ax.set(xticks=[], yticks=[])
savefig(fig, "mask_through_roi_layers")

# %% [markdown] lang="ko"
# 표의 "best cut"은 층마다 가장 좋은 자르는 값입니다. 학습된 마스크 헤드는 자기 임계값을 배울 수
# 있으므로 각 층에 가장 유리한 값으로 비교합니다. 어느 값에서 비교해도 순서는 같습니다.
# RoIAlign이 가장 많은 마스크를 살리고, RoI 풀링(반올림 + 칸마다 최댓값: 마스크가 한쪽으로 밀리고
# 두꺼워집니다)이 가장 적게 살립니다. 반올림은 없지만 반 칸 어긋난 aligned=False는 그 사이입니다.
# 논문도 같은 것을 봤습니다. 쌍선형 보간을 쓰지만 RoI를 양자화하는 RoIWarp는 RoI 풀링과 비슷했고,
# "정렬이 핵심"이라고 결론짓습니다. 어긋남의 값은 작은 숫자가 가장 크게 치릅니다. 16 픽셀보다
# 작은 숫자(스트라이드 2에서 8칸 미만)에서 한두 픽셀의 어긋남은 획 하나를 통째로 옮기므로, RoI
# 풀링으로는 그런 숫자의 마스크가 거의 살아남지 못합니다.

# %% [markdown] lang="en"
# "best cut" is the cut that suits each layer best: a trained mask head can learn its own
# threshold, so each layer is compared at its most favourable value. The order is the same at
# every cut: RoIAlign keeps the most masks, RoI pooling (rounding + the maximum of each bin:
# masks pushed to one side and thickened) the fewest, and aligned=False, with no rounding but
# half a cell off, lies between. The paper saw the same: RoIWarp, which samples bilinearly but
# quantises the RoI, did no better than RoI pooling, and it concludes that alignment is the
# key. Small digits pay the most for misalignment: under 16 pixels (fewer than 8 cells at
# stride 2) an error of a pixel or two moves a whole stroke, and through RoI pooling almost
# none of their masks survive.

# %% [markdown] lang="ko"
# ## 같은 반 픽셀, 목표와 붙여넣기에서
#
# 반 픽셀은 특징을 뽑을 때만 숨어 있지 않습니다. torchvision의 Mask R-CNN은 마스크 목표를
# aligned=False인 RoIAlign으로 잘라 내고(반 픽셀 밀린 목표), 예측한 마스크를 x1..x2를 모두
# 포함하는 픽셀에, 곧 상자보다 한 픽셀 넓게 붙이며, 넓힌 상자를 정수로 자릅니다. COCO의 큰
# 물체에는 티가 안 나지만 획 두께가 한두 픽셀인 숫자에는 큽니다. 정답 마스크를 28 x 28 목표로
# 잘랐다가 다시 붙여 보면(완벽한 마스크 헤드가 낼 수 있는 최선) 알 수 있습니다.
# `scratchnet detect train mask_rcnn`은 그래서 Detectron2처럼 정렬된 방식(`mask_aligned=True`:
# 상자의 모서리가 픽셀의 모서리)을 씁니다.

# %% [markdown] lang="en"
# ## The same half pixel, in the targets and in the paste
#
# The half pixel does not only hide in feature extraction. torchvision's Mask R-CNN cuts the
# mask targets out with RoIAlign at aligned=False (targets shifted by half a pixel), pastes a
# predicted mask onto the pixels x1..x2 inclusive, one pixel wider than the box, and truncates
# the widened box to whole pixels. COCO's large objects hardly notice; digits with strokes one
# or two pixels thick do. We see it by cutting each true mask out as a 28 x 28 target and
# pasting it back, the best a perfect mask head could do. That is why `scratchnet detect train
# mask_rcnn` uses the aligned way, as Detectron2 does (`mask_aligned=True`: the box's edges
# are pixel edges).

# %%
round_trip = {False: [], True: []}
for i in range(len(overlapping)):
    scene = overlapping[i][1]
    if not len(scene["masks"]):
        continue
    every = np.arange(len(scene["masks"]))
    for aligned in round_trip:
        cut_out = project_masks_on_boxes(scene["masks"], scene["boxes"], every, 28, aligned)
        back = paste_masks_in_image(cut_out[:, None], scene["boxes"], scene["masks"].shape[1:],
                                    aligned=aligned)[:, 0]
        round_trip[aligned] += np.diag(mask_iou(back >= 0.5, scene["masks"])).tolist()
for aligned, name in ((False, "torchvision (aligned=False)"), (True, "aligned (Detectron2)")):
    v = np.array(round_trip[aligned])
    print(f"true masks through the 28x28 round trip, {name:27s}: mean IoU {v.mean():.3f}, "
          f"IoU >= 0.5 for {(v >= 0.5).mean():.1%}")
assert np.mean(round_trip[True]) > 0.95 > np.mean(round_trip[False])
assert all(model.roi_heads.mask_aligned for model in
           (recipe.build(recipe.config({"mask_roi_pool": kind})) for kind in ("align", "pool")))

# %% [markdown] lang="ko"
# ## 학습해서 재기: 마스크 AP, RoIAlign 대 RoI 풀링
#
# 이제 실제 모델입니다. `scratchnet detect train mask_rcnn`의 Mask R-CNN을 두 번 학습합니다. 한
# 번은 마스크 가지에 RoIAlign(기본값), 한 번은 RoI 풀링(`--set mask_roi_pool=pool`)을 쓰고,
# 나머지(백본, RPN, 상자 가지의 RoIAlign, 학습 장면, 에폭, 씨앗)는 똑같습니다. 둘 다 겹치는
# 숫자가 있는 같은 시험 장면에서 **마스크 AP** (mask AP)@0.5, 곧 상자 대신 마스크의 IoU로 잰
# VOC AP로 비교합니다. 논문에서 RoIAlign은 스트라이드 16의 특징에서 마스크 AP를 약 3점
# 올렸고(표 2c, 이득의 대부분은 IoU가 높은 AP75에서), 스트라이드 32에서는 7.3점(AP75는
# 10.5점) 올렸습니다(표 2d).
#
# 빠른 모드에서는 몇 단계만 학습하므로 두 모델 모두 아직 아무것도 찾지 못하고, 순서를 따질 수
# 없습니다. 제대로 된 비교는 보통 모드(레시피의 전체 예산)에서 나오고,
# `runs/detect_mask_rcnn/`과 `runs/detect_mask_rcnn_pool/`에 체크포인트가 있으면 그것을 씁니다.

# %% [markdown] lang="en"
# ## Trained and measured: mask AP, RoIAlign against RoI pooling
#
# Now the real model. We train the Mask R-CNN of `scratchnet detect train mask_rcnn` twice:
# once with RoIAlign in the mask branch (the default), once with RoI pooling
# (`--set mask_roi_pool=pool`); everything else (backbone, RPN, the box branch's RoIAlign,
# training scenes, epochs, seed) is the same. Both are compared by mask AP@0.5, VOC's AP with
# the IoU of masks instead of boxes, on the same test scenes with overlapping digits. In the
# paper RoIAlign raised mask AP by about 3 points on stride-16 features (Table 2c, most of the
# gain at high IoU, AP75) and by 7.3 points (AP75: 10.5) on stride-32 features (Table 2d).
#
# Fast mode trains a few steps only, so neither model finds anything yet and no order can be
# read from it. The real comparison comes from normal mode (the recipe's full budget); when
# `runs/detect_mask_rcnn/` and `runs/detect_mask_rcnn_pool/` hold checkpoints, those are
# used.

# %%
RUNS = {"RoIAlign": ("align", os.path.join("runs", "detect_mask_rcnn", "checkpoint.npz")),
        "RoI pooling": ("pool", os.path.join("runs", "detect_mask_rcnn_pool", "checkpoint.npz"))}
FAST_BUDGET = {"num_train": 8, "epochs": 1, "num_val": 0, "num_test": 6}


def budget(config):
    """The settings both runs must share: all but the mask branch's RoI layer."""
    return {k: v for k, v in config.items() if k not in ("mask_roi_pool", "num_test")}


stored = {}
for name, (kind, path) in RUNS.items():
    if os.path.exists(path):
        model, meta = engine.load_checkpoint(path)
        if meta["config"].get("mask_roi_pool") == kind:
            stored[name] = (model, meta)
if len(stored) == 2 and budget(stored["RoIAlign"][1]["config"]) \
        == budget(stored["RoI pooling"][1]["config"]):
    models = {name: model for name, (model, _) in stored.items()}
    config = recipe.config(stored["RoIAlign"][1]["config"], strict=False)
    print("using the checkpoints in runs/: " + ", ".join(
        f"{name} ({meta['config']['epochs']} epochs of {meta['config']['num_train']} scenes)"
        for name, (_, meta) in stored.items()))
else:
    models = {}
    for name, (kind, _) in RUNS.items():
        config = recipe.config(dict(FAST_BUDGET if fast() else {}, mask_roi_pool=kind))
        sn.manual_seed(int(config["seed"]))
        model = recipe.build(config)
        train_set, _ = recipe.datasets(config)
        t0 = time.perf_counter()
        recipe.train(model, train_set, config, progress=False, log=None)
        print(f"{name}: trained {config['epochs']} epoch(s) on {len(train_set)} scenes in "
              f"{time.perf_counter() - t0:.0f} s")
        models[name] = model
if fast():
    # a barely trained model keeps 100 weak boxes per image, and the mask head runs on each
    for model in models.values():
        model.roi_heads.detections_per_img = 10
_, held_out = recipe.datasets(recipe.config(dict(config, num_test=6 if fast() else 300),
                                            strict=False), train=False)
reports = {name: engine.evaluate(model, held_out) for name, model in models.items()}
print(f"\n{len(held_out)} held-out test scenes with overlapping digits "
      f"({reports['RoIAlign']['n_objects']} digits)")
print(f"{'mask branch':14s} {'box mAP@0.5':>12s} {'mask AP@0.5':>12s} {'COCO mask AP':>13s}")
for name, r in reports.items():
    print(f"{name:14s} {r['map']:12.3f} {r['mask_map']:12.3f} {r['mask_coco_map']:13.3f}")
gain = reports["RoIAlign"]["mask_map"] - reports["RoI pooling"]["mask_map"]
print(f"RoIAlign - RoI pooling: {100 * gain:+.1f} points of mask AP@0.5"
      + (" (fast mode: a few steps of training, not a comparison)" if fast() else ""))

fig, axes = pyplot.subplots(2, 4, figsize=(11, 6))
images, targets = engine.collate([held_out[i] for i in range(4)])
for row, (name, r) in zip(axes, reports.items()):
    for ax, im, det, tgt in zip(row, images.data, r["preds"], targets):   # the first 4 scenes
        # the N best-scoring detections of a scene with N digits, whatever their score
        top = np.argsort(-det["scores"], kind="stable")[:len(tgt["labels"])]
        best_n = {key: det[key][top] for key in ("boxes", "scores", "labels", "masks")}
        ax.imshow(np.moveaxis(engine.draw_detections(im, best_n, score_threshold=0.0,
                                                     targets=tgt), 0, -1))
        ax.set(xticks=[], yticks=[])
    row[0].set_ylabel(f"mask branch: {name}")
fig.suptitle("the N best detections of a scene with N digits (true boxes in grey)")
savefig(fig, "mask_rcnn_predictions")

fig, ax = pyplot.subplots(figsize=(5, 3.2))
x = np.arange(2)
for j, (name, r) in enumerate(reports.items()):
    ax.bar(x + (j - 0.5) * 0.38, [r["map"], r["mask_map"]], 0.38, label=name)
ax.set_xticks(x, ["box mAP@0.5", "mask AP@0.5"])
ax.set(ylim=(0, 1), title=f"Mask R-CNN on {len(held_out)} held-out scenes")
ax.legend()
savefig(fig, "mask_ap")
print(f"lesson time: {time.perf_counter() - started:.1f} s")
