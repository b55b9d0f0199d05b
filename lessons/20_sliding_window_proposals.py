# %% [markdown] lang="ko"
# # 슬라이딩 윈도우와 영역 제안: 선택적 검색을 한 단계씩
#
# "CNN 응용 사례" (deck 000)와 "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)은
# 물체 검출을 같은 길로 시작합니다. 먼저 창을 움직이며 부분 영역마다 CNN으로 분류하는
# **슬라이딩 윈도우** (sliding window) 방식(덱 002의 "이동창 객체 검출"), 그리고 그것이 "매우 느림"이라서 물체가 있을 법한
# 영역만 먼저 고르는 **영역 제안** (region proposal), 그 대표인 **선택적 검색** (selective search):
# "2000개 영역을 뽑아내는데 CPU에서 2~3초 걸림". "딥러닝팀 1팀" (deck 003)은 그 방법을
# 한 줄로 요약합니다. 작은 영역을 많이 만든 뒤 계층적 알고리즘으로 합친다.
# 이 레슨은 두 방법을 직접 만들어 창의 수, 시간, 재현율을 잽니다.

# %% [markdown] lang="en"
# # Sliding windows and region proposals: selective search step by step
#
# "CNN 응용 사례" (CNN applications, deck 000) and "딥러닝의 통계적이해 8강: 합성곱 신경망의
# 응용" (deck 002) start object detection on the same road: first the sliding window, which
# moves a window over the image and classifies every crop with a CNN; it is "very slow", so
# region proposals pick the regions likely to hold an object first, and the best known of them
# is selective search: "2,000 regions take 2-3 s on a CPU". "딥러닝팀 1팀" (deck 003) sums the
# method up in one line: make many small regions, then merge them with a hierarchical
# algorithm. This lesson builds both and measures window counts, time and recall.

# %%
import importlib
import time

import numpy as np

import scratchnet as sn
from scratchnet.data import DigitScenes
from scratchnet.data.transforms import imresize
from scratchnet.detection.sliding_window import grey, train_face_classifier
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.metrics import proposal_recall
from scratchnet.models.detection.sliding_window import (SlidingWindowDetector, count_windows,
                                                        sliding_windows)

ss = importlib.import_module("scratchnet.models.detection.selective_search")

header("CNN 응용 사례 (deck 000), 딥러닝의 통계적이해 8강 (deck 002), 딥러닝팀 1팀 (deck 003)",
       "Detection: Sliding window, Region proposal; 지역 제안; Objection Detection",
       "Sliding windows and region proposals", ko="슬라이딩 윈도우와 영역 제안")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 창은 몇 개인가
#
# H x W 이미지 위를 w x w 창이 s 픽셀씩 움직이면, 창이 이미지 안에 온전히 들어가는 위치는
# 한 축에 floor((H - w) / s) + 1 개입니다. 512 x 512 이미지, 64 x 64 창, 보폭 16 이면
# (512 - 64) / 16 + 1 = 29, 모두 29 x 29 = 841 개입니다. 창 크기를 여러 개 쓰면 크기마다 그만큼
# 더해집니다. 크기가 작고 보폭이 좁을수록 창은 제곱으로 늘어납니다.

# %% [markdown] lang="en"
# ## How many windows
#
# A w x w window moving by s pixels over an H x W image fits wholly inside at
# floor((H - w) / s) + 1 positions along each axis. A 512 x 512 image, a 64 x 64 window and a
# stride of 16 give (512 - 64) / 16 + 1 = 29, so 29 x 29 = 841 windows. Several window sizes add
# up, and the count grows with the square of image size over stride.

# %%
by_hand = ((512 - 64) // 16 + 1) ** 2
print("512x512, 64x64 window, stride 16:", by_hand, "windows (by hand)")
assert by_hand == 841
assert count_windows((512, 512), 64, 16) == by_hand == len(sliding_windows((512, 512), [64], 16))
for stride in (32, 16, 8, 4):
    n = sum(count_windows((512, 512), w, stride) for w in (32, 64, 128))
    print(f"window sizes 32, 64, 128 at stride {stride:>2}: {n:>7,} windows")

# %% [markdown] lang="ko"
# ## 얼굴 검출기 하나를 직접
#
# 덱 000의 그림처럼 부분 영역을 잘라 CNN에 넣어 봅니다. 분류기는 scikit-image에 들어 있는
# LFW 얼굴 100장과 얼굴 아닌 영상 100장(25 x 25 흑백)으로 학습한 작은 CNN입니다. 얼굴 아닌
# 예가 너무 적으므로 사람 얼굴이 없는 사진에서 창을 더 잘라 넣고, 그 사진들에서 분류기가 얼굴로
# 착각한 창을 다시 넣어 학습합니다(**어려운 음성 예제 발굴** (hard negative mining), R-CNN도
# 씁니다). 그리고 우주비행사 사진 위에 창을 미끄러뜨립니다. 창 크기마다 이미지를 줄여 창을 25 x 25로
# 맞추므로(**이미지 피라미드** (image pyramid)) 창마다 크기를 바꾸는 것과 같은 창을 봅니다.
# 얼굴 점수 0.5 이상인 창에 **비최대 억제** (non-maximum suppression, NMS)를 적용하면 남는 것이
# 검출입니다.

# %% [markdown] lang="en"
# ## A face detector of our own
#
# As in deck 000's figure: cut out sub-regions and feed each to a CNN. The classifier is a small
# CNN trained on the 100 LFW faces and 100 non-faces (25 x 25 grey) that scikit-image ships.
# Those non-faces are far too few, so windows of photos without a human face are added, and
# then the windows of those photos that the classifier took for faces (hard negative mining,
# as R-CNN does). Then the windows slide over the astronaut photo. Each window size shrinks the
# image so that the window becomes 25 x 25 (an image pyramid): the same windows as resizing
# every crop. Windows with a face score of 0.5 or more, after non-maximum suppression (NMS), are
# the detections.

# %%
import skimage.data  # noqa: E402  (the bundled photos)

# fast mode: a short training without hard negatives, and the larger windows only (expect
# false detections); the full run takes a few minutes
if fast():
    face_net, report = train_face_classifier(epochs=3, num_random=300, rounds=0)
    sizes = (64, 96, 128)
else:
    face_net, report = train_face_classifier()
    sizes = (32, 48, 64, 96, 128)
astronaut = grey(skimage.data.astronaut())
detector = SlidingWindowDetector(face_net, window_sizes=sizes, stride=0.25).eval()
result = detector(astronaut[None, None])[0]
per_window = result["seconds"] / result["num_windows"]
print(f"astronaut 512x512: {result['num_windows']:,} windows classified in "
      f"{result['seconds']:.2f} s ({per_window * 1e6:.0f} us per window); "
      f"{len(result['boxes'])} left after score >= 0.5 and NMS")
fig, ax = pyplot.subplots(figsize=(5, 5))
ax.imshow(astronaut, cmap="gray")
for (x1, y1, x2, y2), s in zip(result["boxes"], result["scores"]):
    ax.add_patch(pyplot.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="red", lw=1.5))
    ax.text(x1, y1 - 2, f"face {s:.2f}", color="red", fontsize=7)
ax.set_axis_off()
ax.set_title("sliding-window face detector")
savefig(fig, "sliding_window_faces")

# %% [markdown] lang="ko"
# 창의 수가 곧 비용입니다. 창 하나가 분류기 한 번이고, 이 작은 CNN이 아니라 VGG 같은 큰 CNN을
# 쓰면 창 하나에 수십 밀리초가 걸립니다. 보폭을 반으로 줄이면 창은 네 배가 됩니다.

# %% [markdown] lang="en"
# The number of windows is the cost: one window, one classifier pass; with a large CNN such as
# VGG instead of this small one, a window takes tens of milliseconds. Halving the stride makes
# four times as many windows.

# %%
for frac in (0.5, 0.25, 0.125):
    d = SlidingWindowDetector(face_net, window_sizes=sizes, stride=frac)
    crops, _ = d.windows(astronaut[None])
    print(f"stride {frac:>5} of the window: {len(crops):>7,} windows, about "
          f"{len(crops) * per_window:.2f} s with this CNN")

# %% [markdown] lang="ko"
# ## 선택적 검색 1단계: 그래프 기반 분할
#
# 선택적 검색은 먼저 이미지를 작은 영역으로 잘게 나눕니다(Felzenszwalb와 Huttenlocher의
# **그래프 기반 분할** (graph-based segmentation)). 픽셀이 노드, 이웃한 8 픽셀과의 색 차이가
# 간선 가중치입니다. 가벼운 간선부터 보면서, 간선 가중치 w가 두 영역 각자의 "내부 차이 + k/|C|"
# 보다 작거나 같으면 두 영역을 합칩니다. 내부 차이는 영역 안에서 가장 무거운 간선이고, k/|C|는
# 작은 영역일수록 쉽게 합쳐지게 합니다. k가 크면 영역이 커집니다. scikit-image의
# `felzenszwalb`와 같은 알고리즘이므로 분할도 같아야 합니다.

# %% [markdown] lang="en"
# ## Selective search, step 1: graph-based segmentation
#
# Selective search starts by cutting the image into small regions (Felzenszwalb and
# Huttenlocher's graph-based segmentation). Pixels are nodes; the colour difference to each of
# the 8 neighbours is an edge weight. Edges are visited from the lightest; an edge of weight w
# merges its two regions when w is at most each region's "internal difference + k/|C|". The
# internal difference is the heaviest edge inside the region, and k/|C| lets small regions merge
# easily. A larger k gives larger regions. It is the algorithm of scikit-image's
# `felzenszwalb`, so the segments must be the same.

# %%
from skimage.segmentation import felzenszwalb as skimage_felzenszwalb  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

cat = imresize(skimage.data.chelsea().astype(np.float64).transpose(2, 0, 1) / 255,
               size=(375, 500)).transpose(1, 2, 0).clip(0, 1)
hsv = ss.colour_space(cat, "hsv")
segments = {}
for k in (50, 100, 300):
    t0 = time.perf_counter()
    segments[k] = ss.felzenszwalb(hsv, scale=k, sigma=0.8, min_size=k)
    t_ours = time.perf_counter() - t0
    ref = skimage_felzenszwalb(hsv, scale=k, sigma=0.8, min_size=k, channel_axis=-1)
    ari = adjusted_rand_score(ref.ravel(), segments[k].ravel())
    print(f"k = {k:>3}: {segments[k].max() + 1:>4} segments (scikit-image: {ref.max() + 1}), "
          f"adjusted Rand index {ari:.4f}, {t_ours:.2f} s")
    assert ari > 0.99


def mean_colour(image, labels):
    """Paint every segment with its mean colour."""
    n = labels.max() + 1
    out = np.stack([np.bincount(labels.ravel(), image[..., c].ravel(), n) /
                    np.bincount(labels.ravel(), minlength=n) for c in range(3)], axis=-1)
    return out[labels]


fig, axes = pyplot.subplots(1, 4, figsize=(14, 3))
axes[0].imshow(cat)
axes[0].set_title("chelsea, 500x375")
for ax, k in zip(axes[1:], (50, 100, 300)):
    ax.imshow(mean_colour(cat, segments[k]))
    ax.set_title(f"k = {k}: {segments[k].max() + 1} segments")
for ax in axes:
    ax.set_axis_off()
savefig(fig, "felzenszwalb_segments")

# %% [markdown] lang="ko"
# ## 2단계: 유사도
#
# 이웃한 두 영역 a, b의 유사도는 네 가지의 합입니다.
#
# - 색: 채널마다 25칸 색 히스토그램(L1 정규화)의 **히스토그램 교집합** (histogram intersection)
#   sum_k min(c_a^k, c_b^k)
# - 질감: 채널마다 8방향 가우시안 미분(sigma = 1)의 10칸 히스토그램(SIFT와 비슷)의 교집합
# - 크기: 1 - (|a| + |b|) / |이미지|, 작은 영역끼리 먼저 합쳐지게
# - 채움: 1 - (|a와 b를 감싼 상자| - |a| - |b|) / |이미지|, 서로의 빈 곳을 메우는 영역끼리
#
# k = 100 분할에서 처음 합쳐지는 쌍의 네 값을 봅니다.

# %% [markdown] lang="en"
# ## Step 2: similarities
#
# The similarity of two neighbouring regions a and b is a sum of four:
#
# - colour: the histogram intersection sum_k min(c_a^k, c_b^k) of 25-bin colour histograms per
#   channel (L1-normalised);
# - texture: the same on 10-bin histograms of Gaussian derivatives (sigma = 1) in 8 orientations
#   per channel (SIFT-like);
# - size: 1 - (|a| + |b|) / |image|, so that small regions merge first;
# - fill: 1 - (|box around a and b| - |a| - |b|) / |image|, for regions that fill each other's
#   gaps.
#
# The four values of the first pair merged in the k = 100 segmentation:

# %%
regions = ss.region_features(segments[100], hsv)
hierarchy = ss.hierarchical_grouping(regions, "CTSF")
a, b = hierarchy.merges[0]
parts = {}
for letter, name in zip("CTSF", ("colour", "texture", "size", "fill")):
    w = ss.similarity_weights(letter)
    parts[name] = ss._grouping.similarity(
        regions.size[a], regions.size[b], regions.box[a], regions.box[b], regions.colour[a],
        regions.colour[b], regions.texture[a], regions.texture[b], regions.image_size, w)
print(f"first merge: regions {a} ({regions.size[a]:.0f} px) and {b} ({regions.size[b]:.0f} px)")
for name, v in parts.items():
    print(f"  s_{name:<8} {v:.4f}")
print(f"  sum        {sum(parts.values()):.4f} (the grouping's: {hierarchy.sims[0]:.4f})")
assert abs(sum(parts.values()) - hierarchy.sims[0]) < 1e-12

# %% [markdown] lang="ko"
# ## 3단계: **계층적 그룹화** (hierarchical grouping)
#
# 가장 비슷한 이웃 쌍을 하나로 합치고, 새 영역과 그 이웃의 유사도를 다시 계산하기를 영역이
# 하나 남을 때까지 되풀이합니다. n개 영역에서 n - 1번 합치므로 영역은 모두 2n - 1개이고, 그
# 하나하나가 후보 상자입니다. 몇 단계의 모습을 그려 봅니다.

# %% [markdown] lang="en"
# ## Step 3: hierarchical grouping
#
# Merge the most similar neighbouring pair into one, compute the new region's similarity to its
# neighbours, and repeat until one region is left. n regions take n - 1 merges, so there are
# 2n - 1 regions in all, and each is a candidate box. A few stages:

# %%
def labels_after(labels, merges, steps):
    """The segmentation after the first `steps` merges (merge t makes region n + t)."""
    n = labels.max() + 1
    final = np.arange(n + steps)
    for t, (p, q) in enumerate(merges[:steps]):
        final[p] = final[q] = n + t
    for i in range(n + steps - 1, -1, -1):     # a region's owner has a higher id: go down
        final[i] = final[final[i]]
    return np.unique(final[:n], return_inverse=True)[1][labels]


n0 = regions.size.shape[0]
stages = [n0, 50, 10, 3]
fig, axes = pyplot.subplots(1, len(stages), figsize=(14, 3))
for ax, left in zip(axes, stages):
    lab = labels_after(segments[100], hierarchy.merges, n0 - left)
    ax.imshow(mean_colour(cat, lab))
    ax.set_title(f"{lab.max() + 1} regions")
    ax.set_axis_off()
    assert lab.max() + 1 == left
savefig(fig, "hierarchical_grouping")
print(f"{n0} segments -> {len(hierarchy.merges)} merges -> {len(hierarchy.boxes)} regions "
      f"(2n - 1 = {2 * n0 - 1})")
assert len(hierarchy.boxes) == 2 * n0 - 1

# %% [markdown] lang="ko"
# ## 4단계: 다양화, 그리고 슬라이드의 숫자
#
# 한 가지 분할과 한 가지 유사도로는 놓치는 물체가 있으므로, 논문의 "fast" 모드는 색 공간 2개
# (HSV, Lab) x k 2개 (50, 100) x 유사도 조합 2개 (C+T+S+F, T+S+F) = 8가지 계층을 만들고
# (**다양화 전략** (diversification strategy)), 모든 영역에 "계층 안의 위치 x 난수" 값을 매겨
# 정렬합니다. 큰 영역이 앞에 오고, 같은 상자는 한 번만 남습니다. 500 x 375 사진에서 상자 수와
# 시간을 재고, 슬라이드의 "2000개 영역, CPU에서 2~3초"와 견줍니다. 개수는 사진마다 다르므로
# 여러 사진의 평균을 슬라이드의 유효숫자 한 자리로 반올림해 비교하고, 시간은 이 프로세스가 쓴 CPU
# 시간입니다(다른 사람이 같은 CPU를 쓰는 동안 벽시계 시간은 늘어납니다).

# %% [markdown] lang="en"
# ## Step 4: diversification, and the slide's numbers
#
# One segmentation and one similarity miss some objects, so the paper's "fast" mode builds
# 2 colour spaces (HSV, Lab) x 2 k (50, 100) x 2 similarity combinations (C+T+S+F, T+S+F) = 8
# hierarchies (a diversification strategy), gives every region the value "position in its
# hierarchy x a random number" and sorts by it: large regions first, each box once. We count
# the boxes and time the search on 500 x 375 photos and compare with the slide's "2,000 regions,
# 2-3 s on a CPU". The count varies from photo to photo, so the mean over several photos is
# rounded to the slide's one significant figure; the time is the CPU time of this process (the
# wall-clock time grows while others share the CPU).

# %%
photos = ["chelsea", "coffee"] if fast() else ["chelsea", "coffee", "astronaut", "rocket"]
counts, cpu = [], []
for name in photos:
    rgb = getattr(skimage.data, name)().astype(np.float64) / 255
    img = imresize(rgb.transpose(2, 0, 1), size=(375, 500)).transpose(1, 2, 0).clip(0, 1)
    t0 = time.process_time()
    boxes = ss.selective_search(img, "fast")
    cpu.append(time.process_time() - t0)
    counts.append(len(boxes))
    if name == "chelsea":
        chelsea_boxes = boxes
    print(f"{name:>10} 500x375: {len(boxes):,} proposals, {cpu[-1]:.2f} s CPU")
mean_count = float(np.mean(counts))
print(f"mean: {mean_count:,.0f} proposals, {np.mean(cpu):.2f} s CPU per photo")
check("selective search (fast) proposals per 500x375 photo, to one significant figure", 2000,
      int(float(f"{mean_count:.0e}")), ko="선택적 검색(fast) 500x375 사진 한 장의 후보 수, 유효숫자 한 자리")
check("selective search seconds per photo on one CPU core: 2-3 s or less (1 = yes)", 1,
      int(np.mean(cpu) <= 3.0), ko="선택적 검색 사진 한 장의 CPU 시간이 2~3초 이하 (1 = 예)")

fig, ax = pyplot.subplots(figsize=(6, 4.5))
ax.imshow(cat)
first = chelsea_boxes[:40]
for x1, y1, x2, y2 in first:
    ax.add_patch(pyplot.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1,
                                  color=pyplot.cm.tab20(np.random.default_rng(int(x1 + y1)).random())))
ax.set_axis_off()
ax.set_title("the first 40 proposals")
savefig(fig, "selective_search_first_40")

# %% [markdown] lang="ko"
# ## 후보 수에 따른 **재현율** (recall)
#
# 제안의 품질은 물체 중 몇 개를 어떤 후보가 IoU 0.5 이상으로 덮느냐, 곧 재현율로 잽니다. 후보를
# 앞에서부터 N개만 쓸 때의 재현율을 DigitScenes 시험 장면에서 그립니다. 64 x 64 장면은 논문이
# 가정한 500 x 375 사진보다 훨씬 작아서 k = 50의 최소 영역(50 픽셀)이 작은 숫자를 통째로
# 삼키므로, 4배로 키운 뒤 검색하고 상자를 되돌립니다(`image_scale=4`). 같은 수의 슬라이딩 윈도우와도
# 비교합니다.

# %% [markdown] lang="en"
# ## Recall against the number of proposals
#
# Proposals are judged by recall: the share of objects that some proposal covers with IoU 0.5
# or more. We plot it against N, keeping the first N proposals, on DigitScenes' test scenes. A
# 64 x 64 scene is far smaller than the 500 x 375 photos the paper's settings assume (k = 50
# means segments of at least 50 pixels, which swallow small digits whole), so the scene is
# enlarged 4 times for the search and the boxes scaled back (`image_scale=4`). Sliding windows
# in random order, as many as the proposals, are the baseline.

# %%
num_scenes = 6 if fast() else 100
scenes = DigitScenes("test", num_samples=num_scenes)
proposals, targets = [], []
for i in range(num_scenes):
    image, target = scenes[i]
    proposals.append(ss.selective_search(image[0], "fast", image_scale=4))
    targets.append(target)
grid = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
recall = proposal_recall(proposals, targets, counts=grid)
windows = sliding_windows((64, 64), [6, 8, 11, 16, 23, 32, 45], [2, 2, 3, 4, 6, 8, 11])
rng = np.random.default_rng(0)
window_recall = proposal_recall([windows[rng.permutation(len(windows))]
                                 for _ in range(num_scenes)], targets, counts=grid)
mean_props = np.mean([len(p) for p in proposals])
print(f"{num_scenes} scenes, {sum(len(t['boxes']) for t in targets)} digits, "
      f"{mean_props:.0f} proposals per scene on average; {len(windows)} square windows")
for n, r, rw in zip(grid, recall, window_recall):
    print(f"  first {n:>4}: selective search recall {r:.3f}, sliding windows {rw:.3f}")
fig, ax = pyplot.subplots(figsize=(5.5, 3.8))
ax.semilogx(grid, recall, "o-", label="selective search (fast, image_scale=4)")
ax.semilogx(grid, window_recall, "s--", label="sliding windows, random order")
ax.set(xlabel="number of proposals kept", ylabel="recall at IoU 0.5", ylim=(0, 1.02),
       title="DigitScenes test: recall vs number of proposals")
ax.grid(alpha=0.3)
ax.legend()
savefig(fig, "recall_vs_proposals")
assert recall[grid.index(200)] > window_recall[grid.index(200)]

# %% [markdown] lang="ko"
# 선택적 검색은 수백 개 후보로 대부분의 숫자를 덮지만, 같은 수의 무작위 순서 창은 한참 못 미칩니다.
# 그래도 후보 하나하나를 CNN에 넣으면 2,000번입니다. 다음 레슨(R-CNN과 SPPNet)이 그 비용을 잽니다.

# %% [markdown] lang="en"
# Selective search covers most digits with a few hundred proposals, where as many windows in
# random order fall far short. Still, feeding each proposal to a CNN means 2,000 passes: the
# next lesson (R-CNN and SPPNet) measures that cost.

# %%
print(f"lesson time: {time.perf_counter() - started:.1f} s")
