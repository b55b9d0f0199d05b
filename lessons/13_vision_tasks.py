# %% [markdown] lang="ko"
# # 영상 인식의 네 가지 과제: 분할, 지역화, 검출, 사례 분할
#
# "CNN 응용 사례" (deck 000)의 첫 슬라이드 "영상 인식"은 한 사진으로 네 가지 과제를 보여
# 줍니다. **의미론적 분할** (semantic segmentation)은 모든 픽셀에 범주를 붙이고
# (GRASS, CAT, TREE, SKY), **지역화** (localization)는 주된 물체 하나의 범주와 상자를
# (CAT), **객체 검출** (object detection)은 모든 물체의 범주와 상자를 (DOG, DOG, CAT),
# **사례 분할** (instance segmentation)은 물체마다 따로 픽셀 마스크를 찾습니다.
#
# 이 수업에서는 네 과제를 실제 데이터 두 가지로 봅니다. 하나는 실제 손글씨 숫자(MNIST)를
# 실제 질감·사진 위에 붙인 `DigitScenes` 장면이고, 다른 하나는 사람이 핵을 하나하나 표시한
# 형광 현미경 사진(`Nuclei`)입니다. 그다음 상자끼리 얼마나 겹치는지 재는 IoU를 손으로 계산하고,
# 검출기가 낸 겹치는 상자를 정리하는 NMS를 한 단계씩 따라가고, 마지막으로 "딥러닝의 통계적이해
# 8강: 합성곱 신경망의 응용" (deck 002)이 말하는 대로 지역화를 분류 + 상자 **회귀** (regression)
# (b_x, b_y, b_w, b_h)로 실제로 학습합니다.

# %% [markdown] lang="en"
# # Four tasks of image recognition: segmentation, localisation, detection, instance segmentation
#
# The first slide of "CNN 응용 사례" (CNN applications, deck 000), "영상 인식" (image
# recognition), shows four tasks on one photo. Semantic segmentation gives every pixel a class
# (GRASS, CAT, TREE, SKY); localisation gives the class and the box of the one main object
# (CAT); detection gives the class and box of every object (DOG, DOG, CAT); instance
# segmentation gives each object its own pixel mask.
#
# This lesson shows the four tasks on two sets of real data: `DigitScenes`, real handwritten
# digits (MNIST) pasted on real textures and photos, and `Nuclei`, a fluorescence microscope
# image whose nuclei were outlined by hand. Then we compute by hand how much two boxes overlap
# (IoU), follow non-maximum suppression (NMS) step by step as it tidies a detector's
# overlapping boxes, and finally train localisation for real as classification + box
# regression (b_x, b_y, b_w, b_h), as "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)
# describes it.

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DigitScenes, Nuclei
from scratchnet.data.datasets import VOC_CLASSES
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.ops import box_convert, box_iou, masks_to_boxes, nms
from scratchnet.plotting import target_pictures

header("CNN 응용 사례 (deck 000) and 딥러닝의 통계적이해 8강: 합성곱 신경망의 응용 (deck 002)",
       "영상 인식 (Segmentation / Localization / Detection / Instance Segmentation); "
       "분류와 위치 파악 (b_x, b_y, b_w, b_h)", "Vision tasks")
pyplot = plt()
started = time.perf_counter()

# %% [markdown] lang="ko"
# ## 한 장면, 네 가지 정답
#
# `DigitScenes`의 장면 하나는 네 과제의 정답을 모두 갖고 있습니다. `semantic`은 픽셀마다의
# 범주(0은 배경, 숫자 d는 d + 1, 섞인 가장자리는 255 = 무시), `boxes`와 `labels`는 물체마다의
# **경계 상자** (bounding box)와 범주, `masks`는 물체마다의 마스크입니다. 슬라이드의 검출
# 예시 "DOG, DOG, CAT"처럼 같은 범주 둘과 다른 범주 하나가 있는 장면을 검증(val) 세트에서
# 찾아 씁니다. 지역화는 주된 물체 하나만 답하므로, 상자가 가장 큰 숫자를 주된 물체로 삼습니다.

# %% [markdown] lang="en"
# ## One scene, four answers
#
# A `DigitScenes` scene carries the answers of all four tasks: `semantic` is the class of every
# pixel (0 background, digit d as d + 1, 255 = ignore on blended edges), `boxes` and `labels`
# give each object's bounding box and class, `masks` each object's mask. Like the slide's
# detection example "DOG, DOG, CAT", we look in the validation split for a scene with two
# objects of one class and one of another. Localisation answers for one main object only: we
# take the digit with the largest box.

# %%
tasks = ["Segmentation", "Localization", "Detection", "Instance Segmentation"]
check("deck 000, first slide: the tasks shown", 4, len(tasks),
      ko="deck 000 첫 슬라이드: 과제 수")

scenes = DigitScenes("val", num_samples=300, size=64, num_digits=3, digit_size=(14, 30))
for index in range(len(scenes)):
    image, target = scenes[index]
    counts = sorted(np.unique(target["labels"], return_counts=True)[1].tolist())
    if counts == [1, 2]:
        break
names = [scenes.classes[k] for k in target["labels"]]
print(f"scene {index} of the val split: digits {names}, boxes (x1, y1, x2, y2):")
print(target["boxes"])
check("deck 000, detection example 'DOG, DOG, CAT': objects", 3, len(target["labels"]),
      ko="deck 000 검출 예시 'DOG, DOG, CAT': 물체 수")
check("deck 000, detection example 'DOG, DOG, CAT': classes", 2,
      len(set(target["labels"].tolist())), ko="deck 000 검출 예시: 범주 수")

sides = target["boxes"][:, 2:] - target["boxes"][:, :2]
main = int(np.argmax(sides.prod(axis=1)))
print(f"localisation: the main (largest) object is the digit {names[main]}, "
      f"box {target['boxes'][main]} ({sides[main, 0]:.0f}x{sides[main, 1]:.0f})")
# every box is its mask's extent; masks_to_boxes (torchvision's rule) gives the last pixel
# inside as x2, y2, the datasets the edge one past it, so that x2 - x1 is the width
assert np.array_equal(masks_to_boxes(target["masks"]) + np.float32([0, 0, 1, 1]),
                      target["boxes"])


def show_tasks(axes, image, target, classes, main):
    """The four tasks of deck 000's first slide, drawn on one row of four axes."""
    pictures = target_pictures(image, target, classes, scale=4, main=main)
    for ax, key, title in zip(axes, ("semantic", "localisation", "detection", "instances"),
                              tasks):
        ax.imshow(pictures[key].transpose(1, 2, 0))
        ax.set(xticks=[], yticks=[], title=title)


fig, axes = pyplot.subplots(1, 4, figsize=(11, 3))
show_tasks(axes, image, target, scenes.classes, main)
savefig(fig, "four_tasks_digits")

# %% [markdown] lang="ko"
# 의미론적 분할은 "어느 픽셀이 어떤 숫자인가"만 답하므로 같은 범주의 두 숫자가 한 색으로
# 칠해집니다. 사례 분할은 그 둘을 서로 다른 물체로 나눕니다. 회색 테두리(255)는 숫자 잉크가
# 배경과 섞인 픽셀로, 학습과 평가에서 무시합니다. 상자는 마스크가 차지하는 범위입니다.
# `scratchnet.ops.masks_to_boxes`는 torchvision처럼 x2, y2에 안쪽 마지막 픽셀을 주고, 데이터셋은
# 그 바로 바깥 경계를 줍니다 (그래서 x2 − x1이 픽셀 단위 너비입니다). 위 코드가 둘이 정확히
# 1픽셀 차이임을 확인합니다.
#
# ## 핵 사진의 네 과제
#
# 같은 네 과제를 실제 현미경 사진에서 봅니다. stardist 패키지에 들어 있는 512x512 형광 사진과,
# 사람이 핵 하나하나에 번호를 붙인 라벨 영상입니다. 범주는 "핵" 하나뿐이므로 의미론적 분할은
# 핵/배경 두 값이고, 붙어 있는 핵을 나누는 것은 사례 분할만 할 수 있습니다.

# %% [markdown] lang="en"
# Semantic segmentation only answers "which pixel is which digit", so the two digits of one
# class get one colour; instance segmentation tells them apart as two objects. The grey rims
# (255) are pixels where the ink blends into the background; training and evaluation ignore
# them. A box is the extent of its mask: `scratchnet.ops.masks_to_boxes` gives, as torchvision
# does, the last pixel inside as x2, y2, the datasets the edge just past it (so that x2 − x1 is
# the width in pixels); the code above checks they differ by exactly one pixel.
#
# ## The four tasks on the nuclei image
#
# The same four tasks on a real microscope image: the 512x512 fluorescence image the stardist
# package ships, with a label image in which a person numbered every nucleus. There is one
# class, "nucleus", so semantic segmentation has two values, nucleus and background; only
# instance segmentation separates nuclei that touch.

# %%
whole_image, whole = Nuclei("all", crop_size=512)[0]
print(f"the nuclei image: {whole_image.shape[1]}x{whole_image.shape[2]}, "
      f"{len(whole['labels'])} labelled nuclei")
assert len(whole["labels"]) == 125              # the count the dataset's authors give

crops = Nuclei("all", crop_size=128)
best = max(range(len(crops)), key=lambda i: len(crops[i][1]["labels"]))
crop_image, crop_target = crops[best]
crop_sides = crop_target["boxes"][:, 2:] - crop_target["boxes"][:, :2]
print(f"crop {best}: {len(crop_target['labels'])} nuclei (the most of the 16 crops)")
fig, axes = pyplot.subplots(1, 4, figsize=(11, 3))
show_tasks(axes, crop_image, crop_target, crops.classes, int(np.argmax(crop_sides.prod(1))))
savefig(fig, "four_tasks_nuclei")

# %% [markdown] lang="ko"
# ## IoU를 손으로
#
# 예측한 상자가 정답 상자와 얼마나 맞는지는
# **합집합 대비 교집합** (intersection over union, IoU)으로 잽니다. 두 상자가 겹치는
# 넓이를 두 상자를 합친 넓이로 나눈 값으로, 0(겹치지 않음)에서 1(똑같음) 사이입니다.
#
# 상자 A = (1, 1, 5, 5)와 B = (3, 2, 7, 6) (x1, y1, x2, y2)를 봅시다. 넓이는 각각 4 × 4 = 16.
# 겹치는 부분은 x가 max(1, 3) = 3부터 min(5, 7) = 5까지 폭 2, y가 max(1, 2) = 2부터
# min(5, 6) = 5까지 높이 3이므로 교집합은 2 × 3 = 6, 합집합은 16 + 16 − 6 = 26, IoU는
# 6 / 26 = 3/13 ≈ 0.231입니다.

# %% [markdown] lang="en"
# ## IoU by hand
#
# How well a predicted box matches the true one is measured by the intersection over union
# (IoU): the area where the two boxes overlap divided by the area they cover together, from 0
# (no overlap) to 1 (the same box).
#
# Take A = (1, 1, 5, 5) and B = (3, 2, 7, 6) as (x1, y1, x2, y2). Each has area 4 × 4 = 16.
# They overlap from x = max(1, 3) = 3 to min(5, 7) = 5 (width 2) and from y = max(1, 2) = 2 to
# min(5, 6) = 5 (height 3): intersection 2 × 3 = 6, union 16 + 16 − 6 = 26, IoU = 6 / 26 =
# 3/13 ≈ 0.231.

# %%
def iou(a, b):
    """IoU of two boxes (x1, y1, x2, y2), the formula as written above."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


A, B = (1, 1, 5, 5), (3, 2, 7, 6)
print(f"IoU(A, B) = {iou(A, B):.4f}")
assert iou(A, B) == 6 / 26 == 3 / 13
assert iou(A, A) == 1.0 and iou(A, (5, 5, 9, 9)) == 0.0     # touching corners do not overlap
# scratchnet.ops.box_iou (torchvision's name) computes every pair at once, (N, 4) x (M, 4)
pairwise = box_iou(np.float32([A, B]), np.float32([A, B, (5, 5, 9, 9)]))
print(f"box_iou:\n{pairwise}")
# B and (5, 5, 9, 9) share the 2 x 1 strip [5, 7] x [5, 6]: 2 / (16 + 16 - 2) = 1/15
assert np.allclose(pairwise, [[1, 3 / 13, 0], [3 / 13, 1, 1 / 15]], rtol=1e-6, atol=0)

# %% [markdown] lang="ko"
# ## NMS를 한 단계씩
#
# 검출기는 보통 한 물체 주위에 조금씩 다른 상자를 여러 개 냅니다.
# **비최대 억제** (non-maximum suppression, NMS)는 그중 하나만 남깁니다.
# **신뢰값** (confidence score)이 가장 높은 상자를 남기고, 그 상자와 IoU가 문턱값(0.5)보다
# *큰* 상자를 모두 지우고, 남은 상자로 되풀이합니다.
#
# 위 장면의 세 숫자 주위에 정답 상자를 조금씩 흔든 후보 상자를 세 개씩 만들고 점수를 붙여
# 봅니다. 상자의 각 변은 상자 크기의 7%까지만 움직이므로, 같은 상자에서 나온 두 후보의 IoU는
# 적어도 (0.86 / 1.14)² ≈ 0.569입니다. 가장 나쁜 경우는 한 후보가 사방으로 7%씩 줄고 다른
# 후보가 7%씩 늘어 한쪽이 다른 쪽 안에 들어간 경우입니다 (아래 코드가 모든 극단 경우를 따져
# 확인합니다).

# %% [markdown] lang="en"
# ## NMS step by step
#
# A detector usually proposes several slightly different boxes around each object.
# Non-maximum suppression (NMS) keeps one of them: keep the box with the highest confidence
# score, delete every box whose IoU with it is *greater* than the threshold (0.5), and repeat
# with the boxes that are left.
#
# Around each of the three digits of the scene above we make three candidates by shaking the
# true box a little, and give them scores. Each edge moves by at most 7% of the box's size, so
# two candidates from one box overlap with IoU at least (0.86 / 1.14)² ≈ 0.569: the worst case
# is one candidate shrunk by 7% on every side inside the other grown by 7% (the code below
# tries every extreme case to confirm it).

# %%
rng = np.random.default_rng(0)
candidates, scores, owner = [], [], []
for k, box in enumerate(target["boxes"]):
    size = np.tile(box[2:] - box[:2], 2)              # (w, h, w, h)
    for _ in range(3):
        candidates.append(box + rng.uniform(-0.07, 0.07, 4) * size)
        scores.append(round(float(rng.uniform(0.3, 0.99)), 2))
        owner.append(k)
candidates, scores = np.array(candidates, np.float32), np.array(scores)
# the worst IoU of two shaken copies of the unit box, over every edge moved by +-7%
extremes = np.array(np.meshgrid(*[[-0.07, 0.07]] * 8)).reshape(8, -1).T
worst = min(iou(np.add((0, 0, 1, 1), e[:4]), np.add((0, 0, 1, 1), e[4:])) for e in extremes)
print(f"worst IoU of two candidates from one box: {worst:.4f} = (0.86 / 1.14)^2 "
      f"= {(0.86 / 1.14) ** 2:.4f}")
assert np.isclose(worst, (0.86 / 1.14) ** 2) and worst > 0.5


def nms_step_by_step(boxes, scores, threshold):
    """Indices kept by NMS, printing each step: highest score first, suppress IoU > threshold."""
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    keep = []
    while order:
        best, rest = order[0], order[1:]
        keep.append(best)
        ious = {j: iou(boxes[best], boxes[j]) for j in rest}
        gone = [j for j in rest if ious[j] > threshold]
        print(f"keep box {best} (score {scores[best]:.2f}); IoU with the others: "
              + ", ".join(f"{j}: {ious[j]:.2f}" for j in rest)
              + f"  -> suppressed {gone if gone else 'none'}")
        order = [j for j in rest if ious[j] <= threshold]
    return keep


keep = nms_step_by_step(candidates, scores, 0.5)
print(f"kept {keep}: one box per digit -> {[owner[k] for k in keep]}")
assert sorted(owner[k] for k in keep) == [0, 1, 2]
# scratchnet.ops.nms follows torchvision: the same boxes, best first
assert nms(candidates, scores.astype(np.float32), 0.5).tolist() == keep

# %% [markdown] lang="ko"
# 같은 숫자 주위의 후보끼리는 IoU가 크고, 떨어져 있는 숫자의 후보끼리는 거의 또는 전혀 겹치지
# 않으므로, 숫자 하나에 상자 하나가 남습니다. 물체가 서로 겹쳐 있으면 문턱값이
# 중요해집니다. 너무 낮으면 옆 물체의 상자까지 지우고, 너무 높으면 한 물체에 상자가 여럿
# 남습니다.
#
# ## 지역화 = 분류 + 상자 회귀
#
# deck 002의 "분류와 위치 파악"은 지역화를 이렇게 설명합니다. 분류는 마지막 층의 소프트맥스로,
# 경계 상자는 중심점 (b_x, b_y)와 너비 b_w, 높이 b_h 네 값을 회귀로 구합니다.
# 그래서 신경망 하나에 머리(head)가 둘입니다. 같은 합성곱 특징에서 10개 범주의 점수와
# 상자 네 값을 냅니다. 네 값은 이미지 크기로 나눠 0..1로 두고 시그모이드로 그 범위에
# 맞춥니다. 손실은 교차 엔트로피 + 5 × 상자 값의 평균 제곱 오차입니다.
#
# 숫자 하나만 있는 32x32 장면(단일 숫자 모드)으로 학습하고, 학습에 쓰지 않은 숫자와 배경으로
# 된 시험 장면에서 분류 정확도와 IoU를 잽니다. 비교 기준은 "언제나 학습 세트의 평균 상자를
# 답하는" 예측입니다.

# %% [markdown] lang="en"
# Candidates around the same digit overlap a lot, candidates of digits apart barely overlap if
# at all, so one box per digit survives. When objects overlap each other the threshold
# matters: too low and it deletes the neighbour's box, too high and one object keeps several
# boxes.
#
# ## Localisation = classification + box regression
#
# Deck 002's "분류와 위치 파악" (classification and localisation) puts it this way: the class
# comes from a softmax on the last layer, the bounding box as four numbers, the centre
# (b_x, b_y), the width b_w and the height b_h, by regression. So one network has two heads
# on the same convolutional features: ten class scores and the four box numbers. The numbers
# are divided by the image size to lie in 0..1, and a sigmoid keeps them there. The loss is
# cross-entropy + 5 × the mean squared error of the box numbers.
#
# We train on 32x32 scenes with one digit (single-digit mode) and measure the class accuracy
# and the IoU on test scenes whose digits and backgrounds were never used for training. The
# baseline always answers the training set's mean box.

# %%
SIZE = 32
n_train, n_test, epochs = (1500, 300, 3) if fast() else (6000, 1000, 12)


def localisation_arrays(split, n):
    """images (n, 1, 32, 32), digit labels (n,) in 0..9, boxes (n, 4) as (b_x, b_y, b_w, b_h)
    divided by the image size."""
    ds = DigitScenes(split, num_samples=n, size=SIZE, num_digits=1, digit_size=(10, 28))
    images, labels, boxes = [], [], []
    for i in range(n):
        img, t = ds[i]
        images.append(img)
        labels.append(t["labels"][0] - 1)             # DigitScenes' label d + 1 -> digit d
        boxes.append(t["boxes"][0])
    # (x1, y1, x2, y2) -> centre, width, height: box_convert's "cxcywh" is deck 002's
    # (b_x, b_y, b_w, b_h)
    return np.stack(images), np.array(labels), box_convert(np.stack(boxes), "xyxy",
                                                           "cxcywh") / SIZE


x_train, y_train, b_train = localisation_arrays("train", n_train)
x_test, y_test, b_test = localisation_arrays("test", n_test)
mean, std = 0.5, 0.25                                  # images lie in [0, 1]


class Localiser(nn.Module):
    """(N, 1, 32, 32) -> class scores (N, 10) and box (N, 4) = (b_x, b_y, b_w, b_h) in 0..1."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU())
        self.classifier = nn.Linear(128, 10)
        self.box = nn.Linear(128, 4)

    def forward(self, x):
        h = self.features(x)
        return self.classifier(h), self.box(h).sigmoid()


sn.manual_seed(0)
model = Localiser()
check("deck 002: numbers of a bounding box (b_x, b_y, b_w, b_h)", 4, model.box.out_features,
      ko="deck 002: 경계 상자의 값 수 (b_x, b_y, b_w, b_h)")
optimizer = sn.optim.Adam(model.parameters(), lr=2e-3)


def matched_iou(pred, true):
    """IoU of each predicted (b_x, b_y, b_w, b_h) box with its own true box: the diagonal of
    box_iou on the boxes turned back into (x1, y1, x2, y2)."""
    return np.diag(box_iou(box_convert(pred, "cxcywh", "xyxy"),
                           box_convert(true, "cxcywh", "xyxy")))


def evaluate_localiser():
    model.eval()
    with sn.no_grad():
        scores, boxes = model(sn.tensor((x_test - mean) / std))
    model.train()
    return (scores.numpy().argmax(1) == y_test).mean(), matched_iou(boxes.numpy(), b_test)


order_rng = np.random.default_rng(0)
history = []
for epoch in range(epochs):
    perm = order_rng.permutation(n_train)
    for start in range(0, n_train, 64):
        idx = perm[start:start + 64]
        scores, boxes = model(sn.tensor((x_train[idx] - mean) / std))
        loss = F.cross_entropy(scores, sn.tensor(y_train[idx])) \
            + 5 * F.mse_loss(boxes, sn.tensor(b_train[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    accuracy, ious = evaluate_localiser()
    history.append((accuracy, ious.mean()))
    print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {accuracy:.1%}, "
          f"mean IoU {ious.mean():.3f}, IoU > 0.5 for {(ious > 0.5).mean():.1%}")

baseline = matched_iou(np.tile(b_train.mean(axis=0), (n_test, 1)), b_test)
print(f"baseline (always the mean training box): mean IoU {baseline.mean():.3f}, "
      f"IoU > 0.5 for {(baseline > 0.5).mean():.1%}; chance accuracy 10%")
assert history[0][1] > baseline.mean() and ious.mean() > baseline.mean() + 0.05
if not fast():
    assert accuracy > 0.5 and (ious > 0.5).mean() > (baseline > 0.5).mean() + 0.2

# %% [markdown] lang="ko"
# 상자 머리는 첫 에포크부터 평균 상자보다 낫습니다. 숫자가 어디 있는지는 밝기 차이만으로도
# 꽤 드러나기 때문입니다. 범주는 더 많은 장면과 에포크가 필요합니다. 숫자 크기가 10에서
# 28픽셀까지 다르고, 배경 질감이 펜 획처럼 보일 때가 있어서입니다. 빠른 모드(장면 1,500개,
# 3 에포크)에서는 주로 상자를 배우고, 전체 실행(장면 6,000개, 12 에포크)에서 분류 정확도가
# 올라옵니다. 아래 그림은 시험 장면에서 정답 상자(초록)와 예측 상자(빨강), 예측/정답
# 숫자입니다.

# %% [markdown] lang="en"
# The box head beats the mean box from the first epoch: where the digit lies shows in the
# contrast alone. The class needs more scenes and epochs, since digits range from 10 to 28
# pixels and some textures look like pen strokes. Fast mode (1,500 scenes, 3 epochs) mostly
# learns the box; the class accuracy comes up in the full run (6,000 scenes, 12 epochs).
# Below, test scenes with the true box (green), the predicted box (red) and predicted/true
# digit.

# %%
model.eval()
with sn.no_grad():
    scores, boxes = model(sn.tensor((x_test[:8] - mean) / std))
fig, axes = pyplot.subplots(1, 8, figsize=(12, 2))
for k, ax in enumerate(axes):
    ax.imshow(x_test[k, 0], cmap="gray", vmin=0, vmax=1)
    for box, colour in ((b_test[k], "lime"), (boxes.numpy()[k], "red")):
        cx, cy, w, h = box * SIZE
        ax.add_patch(pyplot.Rectangle((cx - w / 2 - 0.5, cy - h / 2 - 0.5), w, h, fill=False,
                                      edgecolor=colour, lw=1.2))
    ax.set(xticks=[], yticks=[],
           title=f"{scores.numpy()[k].argmax()}/{y_test[k]}  IoU {ious[k]:.2f}")
savefig(fig, "localisation_predictions")

fig, ax = pyplot.subplots(figsize=(5, 3))
ax.plot(range(1, epochs + 1), [a for a, _ in history], "o-", label="class accuracy")
ax.plot(range(1, epochs + 1), [m for _, m in history], "s-", label="mean IoU")
ax.axhline(baseline.mean(), color="0.5", ls="--", label="mean-box IoU")
ax.set(xlabel="epoch", ylim=(0, 1), title="localisation on unseen digits and backgrounds")
ax.legend()
savefig(fig, "localisation_training")

# %% [markdown] lang="ko"
# ## 정리
#
# - 네 과제는 답의 모양이 다릅니다. 픽셀마다 범주 하나(분할), 범주 하나 + 상자 하나(지역화),
#   물체마다 범주 + 상자(검출), 물체마다 마스크(사례 분할).
# - IoU는 두 상자(또는 마스크)가 겹치는 정도이고, NMS는 IoU로 중복 상자를 지웁니다.
# - 지역화는 분류 머리와 상자 회귀 머리를 가진 신경망 하나로 풀립니다. 검출은 물체 수를 미리
#   모른다는 점이 다르며, 다음 수업들의 R-CNN 계열과 YOLO가 그 문제를 다룹니다.
# - deck 002가 말하는 PASCAL VOC의 20개 범주는 `VOCDetection`이 읽는 범주 목록 그대로입니다.

# %% [markdown] lang="en"
# ## Summary
#
# - The four tasks differ in the shape of their answer: a class per pixel (segmentation), one
#   class and one box (localisation), a class and a box per object (detection), a mask per
#   object (instance segmentation).
# - IoU measures how much two boxes (or masks) overlap; NMS uses it to delete duplicate boxes.
# - Localisation is one network with a classification head and a box-regression head.
#   Detection differs in that the number of objects is not known in advance; the R-CNN family
#   and YOLO of the next lessons deal with that.
# - The 20 PASCAL VOC classes deck 002 mentions are the class list `VOCDetection` reads.

# %%
check("deck 002: PASCAL VOC classes", 20, len(VOC_CLASSES), ko="deck 002: PASCAL VOC 범주 수")
print(f"lesson time: {time.perf_counter() - started:.1f} s")
