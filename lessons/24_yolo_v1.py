# %% [markdown] lang="ko"
# # YOLO v1: 한 번 보고 끝내는 검출
#
# "Day13. CNN and Vision" (deck 001), "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002),
# "딥러닝팀 1팀" (deck 003)은 YOLO(You Only Look Once)를 R-CNN 계열의
# **2단계 검출기** (two-stage detector)에 대한 **1단계 검출기** (one-stage detector)의 답으로
# 소개합니다. 영상을 S x S **그리드** (grid)로 나누고, 각 **그리드 셀** (grid cell)이 B개의
# **경계 상자** (bounding box)와 C개 범주의 확률을 한 번에 예측합니다. 그래서 출력은
# S x S x (B x 5 + C) 텐서입니다. **신뢰값** (confidence score)은 "객체가 포함될 확률과 IoU를
# 곱해서" 구하고(deck 002), 정확도를 조금 내주고 속도를 얻습니다(deck 003, deck 000의
# 속도/정확도 그래프). 이 수업은 그리드, 출력의 모양, 신뢰값, 손실의 각 항을 손으로 계산해
# 확인하고, 1단계와 2단계 검출기를 같은 장면에서 측정합니다.

# %% [markdown] lang="en"
# # YOLO v1: detection in one look
#
# "Day13. CNN and Vision" (deck 001), "딥러닝의 통계적이해 8강" (deck 002) and "딥러닝팀 1팀"
# (deck 003) present YOLO (You Only Look Once) as the one-stage answer to the two-stage R-CNN
# family. The image is cut into an S x S grid, and each grid cell predicts B bounding boxes and
# the probabilities of C classes in one go, so the output is an S x S x (B x 5 + C) tensor.
# Confidence is "the probability that the box holds an object times the IoU" (deck 002); YOLO
# gives up some accuracy for speed (deck 003, deck 000's speed/accuracy chart). This lesson
# checks the grid, the output's shape, the confidence and each term of the loss by hand, and
# measures a one-stage and a two-stage detector on the same scenes.

# %%
import os
import time

import numpy as np

import scratchnet as sn
from scratchnet.data import DigitScenes
from scratchnet.detection import engine
from scratchnet.detection import yolo_v1 as recipe
from scratchnet.detection.recipes import available, get_recipe
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.detection import yolo_v1 as Y

header("Day13. CNN and Vision (deck 001), 딥러닝의 통계적이해 8강 (deck 002), "
       "딥러닝팀 1팀 (deck 003), CNN 응용 사례 (deck 000)",
       "YOLO; Yolo; 1-Stage Detector : YOLO; Detection 성능 그래프", "YOLO v1", ko="YOLO v1")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 그리드: 물체의 중심이 있는 셀이 책임진다
#
# deck 001: "찾고싶은 물체의 중앙이 grid cell에 있으면 그 grid cell의 응답을 통해 bounding과
# 예측을 동시에 할 수 있다." 64 x 64 DigitScenes 장면 하나를 7 x 7 그리드로 나누고, 각 숫자의
# 상자 중심이 떨어지는 셀을 칠합니다. 한 셀에는 물체 하나만 배웁니다(논문의 한계: "each grid
# cell only predicts two boxes and can only have one class"). 두 중심이 한 셀에 떨어지면 작은
# 쪽은 학습되지 않습니다. 시험 장면에서 그런 물체가 얼마나 되는지 셉니다.

# %% [markdown] lang="en"
# ## The grid: the cell that holds an object's centre is responsible for it
#
# Deck 001: if the centre of an object falls in a grid cell, that cell's output both locates
# and classifies it. We cut one 64 x 64 DigitScenes scene into a 7 x 7 grid and shade the cells
# where the digits' box centres fall. A cell learns one object only (the paper's limit: "each
# grid cell only predicts two boxes and can only have one class"); when two centres fall in one
# cell the smaller object is not learned. We count how often that happens on the test scenes.

# %%
S, B, C = 7, 2, 10
test = engine.test_scenes(60 if fast() else engine.TEST_SCENES)
# the first scene with four digits
image, target = next(test[i] for i in range(len(test)) if len(test[i][1]["labels"]) == 4)
obj, gt, label, dropped = Y.assign_cells([target], S, C, (64, 64))
fig, ax = pyplot.subplots(figsize=(4, 4))
ax.imshow(image[0], cmap="gray", extent=(0, 64, 64, 0))
cell = 64 / S
for i, j in zip(*np.nonzero(obj[0])):
    ax.add_patch(pyplot.Rectangle((j * cell, i * cell), cell, cell, color="C1", alpha=0.35))
for k in range(1, S):
    ax.axhline(k * cell, color="w", lw=0.6)
    ax.axvline(k * cell, color="w", lw=0.6)
for (x1, y1, x2, y2), lab in zip(target["boxes"], target["labels"]):
    ax.add_patch(pyplot.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="C2"))
    ax.plot((x1 + x2) / 2, (y1 + y2) / 2, "o", color="C3")
    ax.text(x1, y1 - 1, str(lab - 1), color="C2")
ax.set_title(f"{S} x {S} grid: responsible cells shaded")
savefig(fig, "yolo_grid")

targets = [test[i][1] for i in range(len(test))]
n_objects = sum(len(t["labels"]) for t in targets)
for s_grid in (7, 8):
    n_dropped = Y.assign_cells(targets, s_grid, C, (64, 64))[3]
    print(f"{len(test)} test scenes, {n_objects} digits: at S = {s_grid}, {n_dropped} "
          f"({100 * n_dropped / n_objects:.1f}%) share their cell with a larger digit")

# %% [markdown] lang="ko"
# ## 출력은 S x S x (B x 5 + C)
#
# 각 상자는 다섯 수 (x, y, w, h, 신뢰값)을, 각 셀은 C개의 범주 확률을 냅니다. PASCAL VOC에서
# S = 7, B = 2, C = 20이므로 7 x 7 x (2 x 5 + 20) = 7 x 7 x 30 입니다. 논문의 네트워크(합성곱
# 24층, **완전결합층** (fully connected layer) 2층, 기울기 0.1의 leaky ReLU, 448 x 448 입력)를
# `scratchnet.summary`로 살펴봅니다. 출력 모양은 합성곱 채널 폭과 무관하므로 폭을 1/32로 줄인
# 사본을 돌리고, 파라미터 수는 논문 그림 3의 층 표에서 셉니다.

# %% [markdown] lang="en"
# ## The output is S x S x (B x 5 + C)
#
# Each box gives five numbers (x, y, w, h, confidence) and each cell C class probabilities.
# For PASCAL VOC, S = 7, B = 2 and C = 20, so the output is 7 x 7 x (2 x 5 + 20) = 7 x 7 x 30.
# We look at the paper's network (24 convolutions, 2 fully connected layers, leaky ReLU with
# slope 0.1, 448 x 448 input) with `scratchnet.summary`. The output's shape does not depend on
# the convolutions' width, so a copy 1/32 as wide runs here; the parameters are counted from
# the layer table of the paper's Figure 3.

# %%
paper_narrow = Y.yolo_v1(num_classes=21, width=1 / 32)
table = sn.summary(paper_narrow, (3, 448, 448), verbose=False)
grid_shape = table.rows[-1].output_shape[1:]
print(f"YOLO v1 (1/32 wide): {tuple(table.input_shape)} -> {table.rows[-1].output_shape}")
check("deck 001: S x S x (B x 5 + C) with S = 7, B = 2, C = 20", (7, 7, 2 * 5 + 20),
      grid_shape, ko="deck 001: S = 7, B = 2, C = 20일 때 S x S x (B x 5 + C)")
per_box = (grid_shape[-1] - 20) // 2
check("deck 001: numbers per box (x, y, w, h and confidence)", 5, per_box,
      ko="deck 001: 상자 하나의 수 (x, y, w, h와 신뢰값)")
n_conv = sum(1 for r in table.rows if r.type == "Conv2d")
n_fc = sum(1 for r in table.rows if r.type == "Linear")
print(f"{n_conv} convolutions + {n_fc} fully connected layers")
assert (n_conv, n_fc) == (24, 2)

c_in, conv_params = 3, 0
for v in Y.PAPER_CONFIG:
    if v != "M":
        k, c_out, _ = v
        conv_params += k * k * c_in * c_out + c_out
        c_in = c_out
fc_params = (7 * 7 * 1024 * 4096 + 4096) + (4096 * 7 * 7 * 30 + 7 * 7 * 30)
print(f"the paper's network: {conv_params:,} parameters in the convolutions, {fc_params:,} in "
      f"the two fully connected layers, {conv_params + fc_params:,} in all")
assert conv_params + fc_params == 271_703_550
small = get_recipe("yolo_v1").build(get_recipe("yolo_v1").config())
small_params = sum(p.numel() for p in small.parameters())
small.eval()
print(f"the small version for 64x64 DigitScenes (`scratchnet detect train yolo_v1`): "
      f"{small_params:,} parameters, output {tuple(small.grid(sn.zeros(1, 1, 64, 64)).shape[1:])}"
      f" = {small.S} x {small.S} x ({small.B} x 5 + {small.C})")

# %% [markdown] lang="ko"
# ## 신뢰값 = Pr(object) x IoU, 셀 하나를 손으로
#
# 논문의 448 x 448 영상, 7 x 7 그리드(셀 하나가 64 픽셀)에서 물체 하나의 상자가
# (136, 200)-(264, 296)이라고 합시다. 중심 (200, 248)은 열 3(192..256), 행 3(192..256)의 셀에
# 있으므로 이 셀이 책임집니다. 셀 안에서의 위치는 x = (200 - 192)/64 = 0.125,
# y = (248 - 192)/64 = 0.875, 크기는 영상 대비 w = 128/448, h = 96/448 입니다.
#
# 이 셀의 두 상자가 이렇게 예측했다고 합시다.
#
# - 상자 1: 같은 크기, 16 픽셀 오른쪽 (152, 200)-(280, 296). 교집합 112 x 96 = 10,752,
#   합집합 12,288 + 12,288 - 10,752 = 13,824, IoU = 10,752 / 13,824 = 7/9 = 0.778.
# - 상자 2: (136, 200)-(200, 248), 물체 안의 64 x 48. IoU = 3,072 / 12,288 = 0.25.
#
# IoU가 가장 큰 상자 1이 **책임 예측기** (responsible predictor)가 되고, 그 신뢰값의 목표는
# Pr(object) x IoU = 1 x 7/9 입니다. 상자 2의 목표는 0 입니다(물체 없음 항). 시험 때의 범주별
# 점수는 Pr(class | object) x Pr(object) x IoU, 곧 범주 확률 x 예측 신뢰값입니다.

# %% [markdown] lang="en"
# ## Confidence = Pr(object) x IoU, one cell by hand
#
# On the paper's 448 x 448 image with a 7 x 7 grid (a cell is 64 pixels), let an object's box
# be (136, 200)-(264, 296). Its centre (200, 248) lies in column 3 (192..256) and row 3
# (192..256): that cell is responsible. Inside the cell x = (200 - 192)/64 = 0.125 and
# y = (248 - 192)/64 = 0.875; relative to the image w = 128/448 and h = 96/448.
#
# Let the cell's two boxes predict:
#
# - box 1: the same size, 16 pixels to the right, (152, 200)-(280, 296). Intersection
#   112 x 96 = 10,752, union 12,288 + 12,288 - 10,752 = 13,824, IoU = 10,752 / 13,824 = 7/9 =
#   0.778.
# - box 2: (136, 200)-(200, 248), a 64 x 48 piece inside the object. IoU = 3,072 / 12,288 =
#   0.25.
#
# Box 1 has the higher IoU and becomes the responsible predictor; its confidence target is
# Pr(object) x IoU = 1 x 7/9. Box 2's target is 0 (the no-object term). At test time the
# class-specific score is Pr(class | object) x Pr(object) x IoU, i.e. class probability times
# the predicted confidence.

# %%
obj_box = np.array([[136.0, 200.0, 264.0, 296.0]])
out = np.zeros((1, 7, 7, 30))
# box 1: centre (216, 248) -> x = (216 - 192)/64, y = 0.875; sqrt of w, h in image fractions
out[0, 3, 3, 0:5] = [24 / 64, 56 / 64, (128 / 448) ** 0.5, (96 / 448) ** 0.5, 0.6]
# box 2: centre (168, 224) -> x = (168 - 192)/64 = -0.375 (outside its cell, allowed), y = 0.5
out[0, 3, 3, 5:10] = [-24 / 64, 32 / 64, (64 / 448) ** 0.5, (48 / 448) ** 0.5, 0.3]
out[0, 3, 3, 10 + 2] = 0.7                        # Pr(class "2" | object): label 3
cell_target = [{"boxes": obj_box, "labels": np.array([3])}]
m = Y.match(out, cell_target, B=2, C=20, size=(448, 448))
iou1, iou2 = m["iou"][0, 3, 3]
print(f"IoU of box 1: by hand 10,752 / 13,824 = {10752 / 13824:.6f}, scratchnet {iou1:.6f}")
print(f"IoU of box 2: by hand 3,072 / 12,288 = {3072 / 12288:.6f}, scratchnet {iou2:.6f}")
assert abs(iou1 - 7 / 9) < 1e-12 and abs(iou2 - 0.25) < 1e-12
print("responsible predictor: box", int(np.argmax(m["resp"][0, 3, 3])) + 1,
      f"-> confidence target Pr(object) x IoU = 1 x {iou1:.4f}")
assert m["resp"][0, 3, 3].tolist() == [True, False]
score = Y.class_scores(out, 2)[0, 3, 3, 0, 2]
print(f"class-specific score of box 1 for class 2: 0.7 x 0.6 = {score:.2f}")
assert abs(score - 0.42) < 1e-12

# %% [markdown] lang="ko"
# ## 손실, 항 하나씩
#
# 논문의 **손실함수** (loss function)는 모두 제곱 오차의 합입니다.
#
# 1. 좌표: λ_coord = 5 x [(x - x̂)² + (y - ŷ)² + (√w - √ŵ)² + (√h - √ĥ)²], 책임 예측기에만.
#    너비와 높이는 제곱근으로 비교합니다: 큰 상자에서의 몇 픽셀보다 작은 상자에서의 몇 픽셀이
#    더 중요하기 때문입니다.
# 2. 물체 있음: (C - IoU)², 책임 예측기에만. IoU는 목표(상수)이므로 기울기가 흐르지 않습니다.
# 3. 물체 없음: λ_noobj = 0.5 x C², 나머지 모든 예측기에. 대부분의 셀은 비어 있으므로 이 항의
#    가중치를 줄입니다.
# 4. 범주: Σ (p(c) - p̂(c))², 물체가 있는 셀에서만.
#
# 위 셀에서 상자 1의 좌표 오차는 x 방향 16 픽셀 = 0.25 셀 뿐이므로 좌표 항은 5 x 0.25² =
# 0.3125, 물체 있음 항은 (0.6 - 7/9)², 물체 없음 항은 0.5 x 0.3², 범주 항은 0.3² (정답 범주)
# 더하기 다른 범주 확률의 제곱(모두 0)입니다.

# %% [markdown] lang="en"
# ## The loss, term by term
#
# The paper's loss is a sum of squared errors:
#
# 1. coordinates: λ_coord = 5 times [(x - x̂)² + (y - ŷ)² + (√w - √ŵ)² + (√h - √ĥ)²], for the
#    responsible predictor only. Width and height are compared as square roots: a few pixels
#    matter more on a small box than on a large one.
# 2. object: (C - IoU)², for the responsible predictor; the IoU is a target (a constant), no
#    gradient flows through it.
# 3. no object: λ_noobj = 0.5 times C², for every other predictor; most cells are empty, so
#    this term is weighted down.
# 4. classes: Σ (p(c) - p̂(c))², only in cells that hold an object.
#
# In the cell above, box 1 is off by 16 pixels = 0.25 cell in x only, so the coordinate term
# is 5 x 0.25² = 0.3125; the object term is (0.6 - 7/9)²; the no-object term 0.5 x 0.3²; the
# class term 0.3² for the right class plus the squares of the other classes' probabilities
# (all 0).

# %%
terms = Y.yolo_v1_loss_reference(out, cell_target, B=2, C=20, size=(448, 448))
by_hand = {"loss_coord": 5 * 0.25 ** 2, "loss_obj": (0.6 - 7 / 9) ** 2,
           "loss_noobj": 0.5 * 0.3 ** 2, "loss_class": 0.3 ** 2}
for k, v in by_hand.items():
    print(f"{k}: by hand {v:.6f}, reference implementation {terms[k]:.6f}")
    assert abs(v - terms[k]) < 1e-12, k
fast_terms = Y.yolo_v1_loss(sn.tensor(out), cell_target, B=2, C=20, size=(448, 448))
print("vectorised loss: " + ", ".join(f"{k} {float(v.data):.6f}" for k, v in fast_terms.items()))
assert all(abs(float(fast_terms[k].data) - terms[k]) < 1e-12 for k in terms)

# %% [markdown] lang="ko"
# ## 64 x 64 장면에서 학습
#
# 작은 YOLO v1(합성곱 8층, 첫 층의 스트라이드 2와 최대 풀링 2번, 8 x 8 특징 맵)을
# DigitScenes로 학습합니다(`scratchnet detect train yolo_v1`). 빠른 모드에서는 몇 초만
# 학습하므로 검출은 아직 엉망이고, `runs/detect_yolo_v1/checkpoint.npz`가 있으면 그 모델을
# 씁니다.

# %% [markdown] lang="en"
# ## Training on 64 x 64 scenes
#
# The small YOLO v1 (8 convolutions, a stride-2 first layer and 2 max pools, an 8 x 8 feature
# map) trains on DigitScenes (`scratchnet detect train yolo_v1`). In fast mode it trains for
# seconds only, so its detections are still poor; when `runs/detect_yolo_v1/checkpoint.npz`
# exists that model is used instead.

# %%
checkpoint = os.path.join("runs", "detect_yolo_v1", "checkpoint.npz")
if os.path.exists(checkpoint):
    model, meta = engine.load_checkpoint(checkpoint)
    print(f"loaded {checkpoint}: held-out mAP@0.5 {meta['map']:.3f} when it was trained")
else:
    config = get_recipe("yolo_v1").config(
        {"num_train": 64, "epochs": 1, "batch_size": 16, "num_val": 0} if fast() else {})
    model = get_recipe("yolo_v1").build(config)
    get_recipe("yolo_v1").train(model, engine.train_scenes(config["num_train"]), config,
                                progress=False)
model.eval()
report = engine.evaluate(model, test)
yolo_map = report["map"]
print(f"YOLO v1 (small): held-out mAP@0.5 {yolo_map:.3f} on {report['n_images']} scenes")
fig, axes = pyplot.subplots(1, 4, figsize=(12, 3))
images, targets8 = engine.collate([test[i] for i in range(4)])
dets = engine.predict(model, images)
for ax, im, d, t in zip(axes, images.data, dets, targets8):
    ax.imshow(np.moveaxis(engine.draw_detections(im, d, score_threshold=0.2, targets=t), 0, -1))
    ax.axis("off")
savefig(fig, "yolo_detections")

# %% [markdown] lang="ko"
# ## YOLO의 전형적인 오류
#
# 논문은 오류를 분석해 "localization errors account for more of YOLO's errors than all other
# sources combined"라고 합니다. 같은 방식(범주마다 점수가 높은 검출 N개, N은 그 범주의 물체
# 수)으로 우리 장면의 오류를 나누고, 놓친 물체 중 셀을 다른 물체와 나눈 것과 작은 것(8 픽셀
# 미만)을 셉니다. deck 003: "작은 개체의 인식률이 떨어짐". 마지막 표는 숫자 높이별 재현율로,
# 맞는 범주로 찾은 비율과 범주와 상관없이 상자만 맞힌 비율을 나란히 보여 줍니다. 둘의 차이가
# 범주 혼동의 몫입니다. DigitScenes는 숫자끼리 1 픽셀 이상 떨어뜨려 놓으므로 두 중심이 한
# 셀에 떨어지는 일은 드물고, 4~7 픽셀 높이의 숫자는 사람도 읽기 어렵습니다.

# %% [markdown] lang="en"
# ## YOLO's typical errors
#
# The paper's error analysis finds that "localization errors account for more of YOLO's errors
# than all other sources combined". With the same method (per class the N best-scoring
# detections, N its number of objects) we sort our errors into kinds, and count the missed
# objects that share a cell with another and the small ones (under 8 pixels high). Deck 003:
# small objects are recognised less well. The last table gives recall by digit height: found
# with the right class, and located by a box of any class; the difference is what class
# confusion costs. DigitScenes keeps digits at least 1 pixel apart, so two centres rarely fall
# in one cell, and a digit 4 to 7 pixels high is hard to read even for a person.

# %%
test_targets = [test[i][1] for i in range(len(test))]
kinds = recipe.error_breakdown(report["preds"], test_targets)
print("top detections by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
missed = recipe.missed_objects(report["preds"], test_targets, S=model.S)
print(f"found {missed['found']} of {missed['objects']} digits (score >= 0.2, IoU >= 0.5); "
      f"digits sharing a cell: {missed['shared_cell_found']} of {missed['shared_cell']} found; "
      f"digits under 8 px: {missed['small_found']} of {missed['small']} found")
by_size = recipe.recall_by_size(report["preds"], test_targets)
print("digit height   digits   recall (right class)   located (any class)")
for k, n in enumerate(by_size["objects"]):
    lo, hi = by_size["bins"][k], by_size["bins"][k + 1]
    print(f"{lo:>3}-{hi:<3} px     {n:>5}   {by_size['recall'][k]:>20.2f}   "
          f"{by_size['located'][k]:>19.2f}")

# %% [markdown] lang="ko"
# ## 1단계와 2단계, 측정
#
# deck 003: 1단계 검출기는 "속도는 빠르지만 상대적으로 정확도가 떨어짐", 2단계는 "상대적으로
# 느리지만 높은 정확도". 같은 시험 장면, 같은 코어에서 한 장씩 처리하는 속도(초당 영상 수)와
# mAP@0.5를 재어 deck 000의 속도/정확도 그래프처럼 그립니다. Faster R-CNN은 학습된 체크포인트가
# `runs/detect_faster_rcnn/`에 있을 때 그 mAP를 쓰고, 속도는 학습과 무관하므로 언제나 잽니다.

# %% [markdown] lang="en"
# ## One stage against two, measured
#
# Deck 003: a one-stage detector is "fast but relatively less accurate", a two-stage one
# "relatively slow but accurate". We measure images per second (one image at a time) and
# mAP@0.5 on the same test scenes and cores, and draw them like deck 000's speed/accuracy
# chart. Faster R-CNN's mAP is used when a trained checkpoint is in `runs/detect_faster_rcnn/`;
# its speed does not depend on training, so it is always measured.

# %%
n_timed = 10 if fast() else 50
timing_images = engine.collate([test[i] for i in range(n_timed)])[0]
yolo_rate = recipe.images_per_second(model, timing_images)
points = {"YOLO v1 (small)": (yolo_rate, yolo_map)}
print(f"YOLO v1 (small): {yolo_rate:.0f} images per second, one image at a time")
if "faster_rcnn" in available():
    faster_ckpt = os.path.join("runs", "detect_faster_rcnn", "checkpoint.npz")
    if os.path.exists(faster_ckpt):
        faster, faster_meta = engine.load_checkpoint(faster_ckpt)
        faster_map = faster_meta["map"]
    else:
        r = get_recipe("faster_rcnn")
        faster, faster_map = r.build(r.config()), float("nan")
    faster_rate = recipe.images_per_second(faster, timing_images)
    points["Faster R-CNN"] = (faster_rate, faster_map)
    print(f"Faster R-CNN: {faster_rate:.0f} images per second, held-out mAP@0.5 "
          + ("pending (no trained checkpoint here)" if np.isnan(faster_map)
             else f"{faster_map:.3f}"))
    print(f"YOLO v1 is {yolo_rate / faster_rate:.1f}x as fast as Faster R-CNN here (one "
          f"process timing both: benchmarks/bench_detectors.py times each in its own)")
else:
    print("Faster R-CNN is not installed here: the chart shows YOLO alone")
fig = recipe.plot_speed_accuracy(points, None)
savefig(fig, "speed_accuracy")
print(f"lesson time: {time.perf_counter() - started:.1f} s")
