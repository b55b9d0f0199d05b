# %% [markdown] lang="ko"
# # AlexNet: 파라미터 세기, ReLU, 데이터 증강, 드롭아웃, 정규화
#
# 세 덱을 따라간다:
#
# - Day13. CNN and Vision (deck 001): AlexNet의 층을 하나씩 세는 "CNN과 parameter", 그리고 "AlexNet"
#   (ReLU, GPU 두 개, LRN, **데이터 증강** (data augmentation), **드롭아웃** (dropout)).
# - 딥러닝팀 1팀 (deck 003): "AlexNet" 슬라이드 (ReLU와 max pooling,
#   **배치 정규화** (batch normalisation)와 dropout)와 "Data Augmentation" (회전, 뒤집기, 크기 조절,
#   밝기).
# - CNN 기초 (deck 004): "필터의 시각화 및 의미" (AlexNet: **필터** (filter) 64개, 각각 3x11x11)와
#   "ImageNet 대회" (2012: AlexNet, 8개 층, **파라미터** (parameter) 6100만 개).
#
# deck 001의 계산에는 틀린 수치가 하나 있다; 그것을 재현하고, 어디서 왔는지 찾아 바로잡는다.

# %% [markdown] lang="en"
# # AlexNet: counting its parameters, ReLU, augmentation, dropout and normalisation
#
# Follows three decks:
#
# - Day13. CNN and Vision (deck 001): "CNN과 parameter" (CNNs and their parameters), which counts
#   AlexNet's layers one by one, and "AlexNet" (ReLU, two GPUs, LRN, data augmentation, dropout).
# - 딥러닝팀 1팀 (deck 003): the "AlexNet" slides (ReLU and max pooling, batch normalisation and
#   dropout) and "Data Augmentation" (rotation, flip, scaling, brightness).
# - CNN 기초 (deck 004): "필터의 시각화 및 의미" (AlexNet: 64 filters, each 3x11x11) and "ImageNet
#   대회" (2012: AlexNet, 8 layers, 61 million parameters).
#
# Deck 001's count has one wrong figure; we reproduce it, find where it comes from and fix it.

# %%

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.data import transforms as T
from scratchnet.lesson import check, fast, header, photo, plt, savefig, slide_is_wrong
from scratchnet.models import alexnet, alexnet_paper
from scratchnet.nn import init

header("Day13. CNN and Vision (deck 001), 딥러닝팀 1팀 (deck 003) and "
       "CNN 기초 (deck 004)",
       "CNN과 parameter / AlexNet; Data Augmentation; ImageNet 대회", "AlexNet")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 논문의 AlexNet, 층별로
#
# 2012년의 AlexNet은 GPU 하나에 들어가지 않아서, Krizhevsky는 이를 둘로 나누었다: GPU마다 모든 층의
# 필터 절반씩을 맡았다. conv2, conv4, conv5는 자기 GPU에 있는 채널만 읽고 (scratchnet에서는
# `groups=2`), conv3과 **완전결합층** (fully connected layer)들은 두 절반을 모두 읽는다.
# `alexnet_paper()`가 그렇게 만들고, `summary(..., weights_only=True)`는 deck 001처럼
# **편향** (bias)을 빼고 **가중치** (weight)만 센다.

# %% [markdown] lang="en"
# ## The paper's AlexNet, layer by layer
#
# In 2012 AlexNet did not fit on one GPU, so Krizhevsky split it over two: each GPU held half
# the filters of every layer. conv2, conv4 and conv5 only read the channels on their own GPU
# (in scratchnet: `groups=2`); conv3 and the fully connected layers read both halves.
# `alexnet_paper()` builds it that way; `summary(..., weights_only=True)` counts weights without
# biases, as deck 001 does.

# %%
sn.manual_seed(0)
paper = alexnet_paper()
s = sn.summary(paper, (3, 227, 227), weights_only=True)

# %% [markdown] lang="ko"
# deck 001의 수치를 다시 계산하면:
#
# - conv1: 3채널에 걸친 11 x 11 **커널** (kernel), GPU 2개에 필터 48개씩: 11 x 11 x 3 x 48 x 2 =
#   34,848. 이 개수는 입력의 224 (또는 227) 픽셀과 상관없다: 필터는 어디로 움직이든 크기가 같다.
# - conv3은 두 GPU의 128채널을 모두 읽으므로 ("interchange"), 2 x 192개의 필터가 각각 256채널에
#   걸친다: 3 x 3 x 128 x 192 x 4 = 884,736.
# - fc8: 2 x 2048개의 입력에서 1,000개 클래스로: 2048 x 2 x 1000 = 4,096,000.

# %% [markdown] lang="en"
# Deck 001's figures, redone:
#
# - conv1: 11 x 11 kernels over 3 channels, 48 filters on each of 2 GPUs:
#   11 x 11 x 3 x 48 x 2 = 34,848. The count does not depend on the 224 (or 227) pixels of the
#   input: a filter is the same size wherever it slides.
# - conv3 reads both GPUs' 128 channels ("interchange"), so each of 2 x 192 filters spans 256
#   channels: 3 x 3 x 128 x 192 x 4 = 884,736.
# - fc8: 2 x 2048 inputs to 1,000 classes: 2048 x 2 x 1000 = 4,096,000.

# %%
check("conv1 weights", 34_848, s["features.conv1"].weights, ko="conv1 가중치")
check("conv1 = 11*11*3*48*2", 34_848, 11 * 11 * 3 * 48 * 2, ko="conv1 가중치 = 11*11*3*48*2")
check("conv3 weights", 884_736, s["features.conv3"].weights, ko="conv3 가중치")
check("conv3 = 3*3*128*192*4", 884_736, 3 * 3 * 128 * 192 * 4, ko="conv3 가중치 = 3*3*128*192*4")
check("fc8 weights", 4_096_000, s["classifier.fc8"].weights, ko="fc8 가중치")
check("fc8 = 2048*2*1000", 4_096_000, 2048 * 2 * 1000, ko="fc8 가중치 = 2048*2*1000")

# %% [markdown] lang="ko"
# ## fc6: 슬라이드는 엉뚱한 맵을 펼친다
#
# deck 001은 fc6의 가중치를 13 x 13 x 128 x 2 x 2048 x 2 = 177,209,344개로 적는다: conv5 출력의
# 13 x 13 x 128 두 절반을 펼친 것이다. 그러나 conv5 다음에는 3x3, **스트라이드** (stride) 2의
# **최대 풀링** (max pooling)이 오고, (13 - 3)/2 + 1 = 6이다: fc6은 6 x 6 x 256 = 9,216개의 값을
# 읽는다. summary가 두 맵을 모두 보여 준다:

# %% [markdown] lang="en"
# ## fc6: the slide flattens the wrong map
#
# Deck 001 gives fc6 13 x 13 x 128 x 2 x 2048 x 2 = 177,209,344 weights: it flattens the two
# 13 x 13 x 128 halves of conv5's output. But a 3x3, stride-2 max pool comes after conv5, and
# (13 - 3)/2 + 1 = 6: fc6 reads 6 x 6 x 256 = 9,216 values. The summary shows both maps:

# %%
print(f"conv5 output {s['features.conv5'].output_shape}, pool5 output "
      f"{s['features.pool5'].output_shape}, fc6 reads {paper.classifier.fc6.in_features:,} "
      f"values")
assert s["features.conv5"].output_shape == (1, 256, 13, 13)
assert s["features.pool5"].output_shape == (1, 256, 6, 6)
assert sn.conv_output_size(13, 3, 2) == 6
fc6_by_hand = 6 * 6 * 256 * 4096
slide_is_wrong("fc6 weights", 177_209_344, 13 * 13 * 128 * 2 * 2048 * 2, fc6_by_hand,
               s["classifier.fc6"].weights,
               "it uses conv5's 13x13 maps, but fc6 reads the 6x6 maps after the last max "
               "pool: 6*6*256*4096",
               ko="fc6 가중치",
               why_ko="conv5의 13x13 맵을 썼지만 fc6은 마지막 최대 풀링 뒤의 6x6 맵을 읽는다: "
                      "6*6*256*4096")

# %% [markdown] lang="ko"
# fc6 하나에 가중치가 1억 7700만 개라면 AlexNet의 파라미터는 2억 개쯤 될 것이다; 실제 합계(편향
# 포함)는 6100만 개로, deck 004의 수치이자 논문의 "6000만 개"다. 같은 덱은 층을 8개라고 한다:
# **합성곱** (convolution) 다섯 개와 완전결합층 세 개, 곧 가중치가 있는 층이다. 오늘날 대부분의
# 코드가 쓰는 torchvision의 GPU 하나짜리 AlexNet은 필터가 96, 256, 384, 384, 256개가 아니라 64, 192,
# 384, 256, 256개이고, 이 역시 반올림하면 6100만 개다.

# %% [markdown] lang="en"
# With 177 million weights in fc6 alone, AlexNet would have some 200 million parameters; the
# real total (biases included) is 61 million, deck 004's figure, and the paper's "60 million".
# The same deck says 8 layers: five convolutions and three fully connected layers, the layers
# with weights. torchvision's single-GPU AlexNet, the one most code uses today, has 64, 192,
# 384, 256, 256 filters instead of 96, 256, 384, 384, 256, and also rounds to 61 million.

# %%
total = sum(p.numel() for p in paper.parameters())
print(f"paper's AlexNet: {total:,} parameters; with the slide's fc6: "
      f"{total - fc6_by_hand + 177_209_344:,}")
check("AlexNet parameters (millions, paper's layout)", 61, round(total / 1e6),
      ko="AlexNet 파라미터 (백만 개, 논문의 구성)")
layers_with_weights = [m for m in paper.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
check("AlexNet layers", 8, len(layers_with_weights), ko="AlexNet 층 수")

sn.manual_seed(0)
single = alexnet()
total_tv = sum(p.numel() for p in single.parameters())
print(f"torchvision's AlexNet: {total_tv:,} parameters")
check("AlexNet parameters (millions, torchvision's layout)", 61, round(total_tv / 1e6),
      ko="AlexNet 파라미터 (백만 개, torchvision의 구성)")
# deck 004's first-layer visualisation shows this model's filters
check("AlexNet first layer: filters", 64, single.features[0].out_channels, ko="AlexNet 첫 층: 필터 수")
check("AlexNet first layer: filter shape", (3, 11, 11), single.features[0].weight.shape[1:],
      ko="AlexNet 첫 층: 필터 모양")

names = [r.name.split(".")[-1] for r in s.rows if r.type in ("Conv2d", "Linear")]
weights = [r.weights for r in s.rows if r.type in ("Conv2d", "Linear")]
fc_share = sum(w for n, w in zip(names, weights) if n.startswith("fc")) / sum(weights)
print(f"fully connected layers: {fc_share:.1%} of the weights")
fig, ax = pyplot.subplots(figsize=(8, 3.2))
bars = ax.bar(names, np.array(weights) / 1e6, color=["C0"] * 5 + ["C3"] * 3)
ax.bar_label(bars, [f"{w / 1e6:.2f}M" for w in weights], fontsize=8)
ax.set(ylabel="million weights", ylim=(0, 1.12 * max(weights) / 1e6),
       title=f"AlexNet: {fc_share:.0%} of the weights are in fc6-fc8")
savefig(fig, "alexnet_weights")

# %% [markdown] lang="ko"
# ## tanh 대신 ReLU
#
# AlexNet의 첫 번째 새로움 (deck 001: "ReLU 함수를 사용"): tanh 대신 ReLU (rectified linear unit)
# max(0, z)를 쓴다. tanh는 **포화** (saturation)한다: |z|가 2나 3을 넘으면 **기울기** (gradient)
# 1 - tanh(z)^2가 거의 0이 되고, 거기 갇힌 유닛은 거의 배우지 못한다. ReLU의 기울기는 양수 입력이면
# 언제나 1이다. 논문의 Figure 1: ReLU를 쓴 4층 CNN은 CIFAR-10에서 훈련 오차 25%에 tanh를 쓴 같은
# 신경망보다 여섯 배 빨리 도달했다 (각자 가장 좋은 **학습률** (learning rate)로).

# %% [markdown] lang="en"
# ## ReLU instead of tanh
#
# AlexNet's first novelty (deck 001: "ReLU 함수를 사용"): the rectified linear unit
# max(0, z) instead of tanh. tanh saturates: for |z| beyond 2 or 3 its slope 1 - tanh(z)^2
# is nearly 0, and a unit that is stuck there learns almost nothing. ReLU's slope is 1 for
# every positive input. The paper's Figure 1: a 4-layer CNN with ReLUs reached 25% training
# error on CIFAR-10 six times faster than the same network with tanh, each with its own best
# learning rate.

# %%
z = np.linspace(-4, 4, 401)
fig, (ax1, ax2) = pyplot.subplots(1, 2, figsize=(9, 3))
ax1.plot(z, np.tanh(z), label="tanh")
ax1.plot(z, np.maximum(z, 0), label="ReLU")
ax1.set(title="activation", ylim=(-1.5, 4))
ax2.plot(z, 1 - np.tanh(z) ** 2, label="tanh' = 1 - tanh^2")
ax2.plot(z, (z > 0).astype(float), label="ReLU' = 1 if z > 0")
ax2.set(title="slope: what backpropagation multiplies by")
for ax in (ax1, ax2):
    ax.legend(fontsize=8)
    ax.axhline(0, color="0.8", lw=0.5)
savefig(fig, "relu_vs_tanh")

# %% [markdown] lang="ko"
# ### 숫자 데이터에서의 경주
#
# 같은 작은 CNN (합성곱 + ReLU/tanh + 최대 풀링 두 단계, 은닉 완전결합층 하나)을 16x16 숫자로, 같은
# 난수에서 출발시키고 (**활성화 함수** (activation function)마다 관례대로 배율을 맞춘다: ReLU에는
# He의 초기화, tanh에는 tanh의 gain을 곱한 Glorot의 초기화), 같은 배치를 먹여 모멘텀이 있는 SGD로
# 학습시킨다. 최근 10개 배치의 평균 훈련 오차가 처음으로 25% 아래로 내려갈 때까지의 단계 수를 센다.
# 논문의 기준이다. 빠른 모드에서는 활성화 함수마다 한 학습률로 한 에폭만 돌고 목표에 닿으면 멈춘다;
# 전체 실행은 논문의 탐색처럼 세 학습률 각각에서 세 에폭을 학습한다.

# %% [markdown] lang="en"
# ### The race on the digits
#
# The same small CNN (two conv + ReLU/tanh + max-pool stages, one hidden FC layer) on 16x16
# digits, started from the same random numbers (scaled for each activation as is customary:
# He's for ReLU, Glorot's with tanh's gain for tanh), fed the same batches, trained with SGD
# and momentum. We count the steps until the training error, averaged over 10 batches, first
# drops below 25%, the paper's criterion. In fast mode each activation runs one epoch at one
# learning rate and stops at the target; the full run trains three epochs at each of three
# learning rates, like the paper's search.

# %%
train16 = digits("train", size=16, normalize=True)


def small_cnn(act):
    """(N, 1, 16, 16) -> (N, 10): [conv3x3, act, maxpool] x 2, FC 64, act, FC 10."""
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), act(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), act(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), act(), nn.Linear(64, 10))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if act is nn.ReLU:
                init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                init.xavier_normal_(m.weight, gain=init.calculate_gain("tanh"))
            init.zeros_(m.bias)
    return net


def race(act, lr, epochs, stop_below=None):
    """Per-step training error of small_cnn(act) with SGD(lr, momentum 0.9); stops early once
    steps_to(errors, stop_below) is reached, if given."""
    sn.manual_seed(0)
    net = small_cnn(act)
    opt = sn.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    errors = []
    for epoch in range(epochs):
        for x, y in DataLoader(train16, batch_size=32, shuffle=True, generator=epoch):
            opt.zero_grad()
            logits = net(x)
            F.cross_entropy(logits, y).backward()
            opt.step()
            errors.append(float((logits.data.argmax(axis=1) != y.numpy()).mean()))
            if stop_below is not None and steps_to(errors, stop_below) is not None:
                return np.array(errors)
    return np.array(errors)


def steps_to(errors, target=0.25, window=10):
    """The first step at which the mean error of the last `window` batches is below target."""
    if len(errors) < window:
        return None
    smooth = np.convolve(errors, np.full(window, 1 / window), mode="valid")
    below = np.flatnonzero(smooth < target)
    return int(below[0]) + window if len(below) else None


rates = [0.03] if fast() else [0.01, 0.03, 0.1]
epochs = 1 if fast() else 3
best = {}
for act in (nn.ReLU, nn.Tanh):
    for lr in rates:
        errors = race(act, lr, epochs, stop_below=0.25 if fast() else None)
        n = steps_to(errors)
        print(f"{act.__name__:5} lr {lr:<5}: 25% training error after "
              f"{n if n is not None else 'more than ' + str(len(errors))} steps")
        key = n if n is not None else np.inf
        if act.__name__ not in best or key < best[act.__name__][0]:
            best[act.__name__] = (key, lr, errors)
assert all(np.isfinite(v[0]) for v in best.values()), "an activation never reached 25%"
ratio = best["Tanh"][0] / best["ReLU"][0]
print(f"best of each: ReLU {best['ReLU'][0]} steps, tanh {best['Tanh'][0]} steps: tanh needs "
      f"{ratio:.2f}x as many (the paper measured 6x on CIFAR-10)")

fig, ax = pyplot.subplots(figsize=(7, 3.4))
for name, (n, lr, errors) in best.items():
    smooth = np.convolve(errors, np.full(10, 0.1), mode="valid")
    ax.plot(np.arange(10, len(errors) + 1), smooth, label=f"{name}, lr {lr}: {n} steps to 25%")
ax.axhline(0.25, color="0.5", ls="--", lw=0.8)
ax.set(xlabel="step", ylabel="training error (mean of 10 batches)", ylim=(0, 1),
       title="ReLU vs tanh on the digits")
ax.legend()
savefig(fig, "relu_vs_tanh_race")

# %% [markdown] lang="ko"
# 이 작고 쉬운 문제에서는 여섯 배의 차이가 나지 않고, 오히려 tanh가 앞설 수도 있다: 입력은
# 정규화되어 있고 가중치는 활성화 함수에 맞게 배율이 정해져 있어서, tanh가 거의 선형인 구간에서
# 일하고 포화하지 않기 때문이다. ReLU의 장점은 이런 조건이 깨지는 곳에서 드러난다. AlexNet은 원래의
# 픽셀 값(0..255에서 평균을 뺀 값)을 11x11x3 필터에 넣었다; 여기서도 정규화를 건너뛰면 같은 일이
# 일어나, 첫 층의 tanh 유닛 대부분이 포화한 채로 시작한다:

# %% [markdown] lang="en"
# On this small, easy problem there is no six-fold gap, and tanh may even be ahead: the inputs
# are normalised and the weights scaled for each activation, so tanh works in its near-linear
# range and does not saturate. ReLU's advantages show where those conditions fail. AlexNet
# fed raw pixel values (0..255, minus the mean) into 11x11x3 filters; the same happens here if
# we skip the normalisation, and most first-layer tanh units start out saturated:

# %%
raw = digits("train", size=16).data[:256] * 255.0
raw -= raw.mean()
normalised = train16.data[:256]
sn.manual_seed(0)
first = small_cnn(nn.Tanh)[0]
with sn.no_grad():
    for label, images in [("normalised", normalised), ("raw 0..255 pixels", raw)]:
        pre = first(sn.tensor(images.astype(np.float32))).numpy()
        stuck = float((1 - np.tanh(pre) ** 2 < 0.01).mean())
        print(f"{label:18}: {stuck:.0%} of the first layer's tanh units have slope < 0.01")
assert stuck > 0.3

# %% [markdown] lang="ko"
# ## 데이터 증강
#
# deck 003: 이미지 하나를 회전하고, 뒤집고, 크기를 바꾸고, 밝기를 바꿔 비슷한 이미지 여럿을 만든다
# ("좌우반전, 회전 등의 방법으로 여러 비슷한 이미지를 만드는 데이터 증강"). 그러면 신경망이 더
# 다양한 것을 보고 **과적합** (overfitting)이 줄어든다. 이것이 데이터 증강이다. AlexNet은 잘라내기,
# 뒤집기, 색 바꾸기를 썼다. `scratchnet.data.transforms`의 각 변환은 부를 때마다 새 파라미터를
# 뽑는다: scikit-image의 고양이 사진에 각각 네 번씩.

# %% [markdown] lang="en"
# ## Data augmentation
#
# Deck 003: from one image, make many similar ones by rotating, flipping, scaling and
# changing the brightness ("좌우반전, 회전 등의 방법으로 여러 비슷한 이미지를 만드는 데이터
# 증강"), so that the network sees more variety and overfits less. AlexNet used crops, flips
# and colour changes. Each transform in `scratchnet.data.transforms` draws new parameters
# every call: four draws of each, on scikit-image's cat.

# %%
cat = T.ToTensor()(photo("chelsea")).numpy()           # (3, 300, 451) in [0, 1]
augmentations = {
    "rotation (±30°)": T.RandomRotation(30, generator=1),
    "flip": T.RandomHorizontalFlip(p=0.5, generator=2),
    "scaling (crop 35-100%)": T.RandomResizedCrop(cat.shape[1:], scale=(0.35, 1.0),
                                                  generator=3),
    "brightness (x0.4-1.6)": T.ColorJitter(brightness=0.6, generator=4),
}
fig, axes = pyplot.subplots(4, 5, figsize=(12, 7.2))
for row, (name, transform) in enumerate(augmentations.items()):
    axes[row, 0].imshow(cat.transpose(1, 2, 0))
    axes[row, 0].set_ylabel(name, fontsize=9)
    axes[row, 0].set_title("original" if row == 0 else "", fontsize=9)
    for col in range(1, 5):
        out = transform(cat)
        assert out.shape == cat.shape and out.dtype == cat.dtype
        axes[row, col].imshow(np.clip(out.transpose(1, 2, 0), 0, 1))
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.suptitle("deck 003's augmentations, four random draws each")
savefig(fig, "augmentation")

# each one does exactly what it says
assert np.array_equal(T.RandomHorizontalFlip(p=1.0)(cat), cat[:, :, ::-1])
assert np.allclose(T.ColorJitter(brightness=(0.5, 0.5))(cat), cat * 0.5, atol=1e-6)
quarter = T.RandomRotation((90, 90))(cat[:, :300, :300])
assert np.allclose(quarter, np.rot90(cat[:, :300, :300], k=1, axes=(1, 2)), atol=1e-5)

# %% [markdown] lang="ko"
# ## 드롭아웃
#
# AlexNet의 fc6과 fc7은 p = 0.5의 드롭아웃을 쓴다: 학습하는 동안 각 유닛의 출력을 확률 0.5로 0으로
# 만들어서, 어떤 유닛도 특정한 다른 유닛에 기댈 수 없게 한다. 살아남은 값에는 1/(1 - p) = 2를 곱해
# 기댓값이 변하지 않게 하고, 테스트할 때 (`model.eval()`) 드롭아웃은 아무것도 하지 않는다.

# %% [markdown] lang="en"
# ## Dropout
#
# AlexNet's fc6 and fc7 use dropout with p = 0.5: during training each unit's output is set
# to 0 with probability 0.5, so no unit can count on a particular other one. The survivors are
# multiplied by 1/(1 - p) = 2 so that the expected value is unchanged, and at test time
# (`model.eval()`) dropout does nothing.

# %%
drop = nn.Dropout(p=0.5)
ones = sn.ones(1000, 100)
sn.manual_seed(0)
out = drop(ones).numpy()
print(f"training: {np.mean(out == 0):.1%} zeros, survivors equal {np.unique(out[out > 0])}, "
      f"mean {out.mean():.3f}")
assert abs(np.mean(out == 0) - 0.5) < 0.01 and np.all(np.isin(out, [0.0, 2.0]))
drop.eval()
assert np.array_equal(drop(ones).numpy(), ones.numpy())
print("eval: the identity")

# %% [markdown] lang="ko"
# ## 국소 응답 정규화(LRN)와 배치 정규화
#
# ReLU의 출력에는 상한이 없어서, AlexNet은 각 유닛을 채널 방향 이웃들의 활동으로 눌러 주었다: b_c =
# a_c / (k + α Σ_{c'=c-2}^{c+2} a_{c'}^2)^β, k = 2, α = 1e-4, β = 0.75 (논문의 값). 이것이
# **국소 응답 정규화** (local response normalisation)다. deck 001은 LRN이 지금은 거의 쓰이지
# 않는다고 적는다; deck 003의 배치 정규화가 그 자리를 대신했다. `alexnet_paper`의 LRN 층을
# 반복문으로 쓴 공식과 비교한다:

# %% [markdown] lang="en"
# ## Local response normalisation (LRN) and batch normalisation
#
# ReLU outputs are unbounded, so AlexNet damped each unit by the activity of its neighbours in
# the channel direction: b_c = a_c / (k + α Σ_{c'=c-2}^{c+2} a_{c'}^2)^β with k = 2, α = 1e-4,
# β = 0.75 (the paper's values). Deck 001 notes that LRN is rarely used now; batch
# normalisation (deck 003's "배치 정규화") replaced it. We check `alexnet_paper`'s LRN layer
# against the formula written as a loop:

# %%
a = np.abs(np.random.default_rng(0).normal(0, 30, (1, 96, 3, 3))).astype(np.float32)
lrn = paper.features.norm1
b = np.empty_like(a)
for c in range(96):
    window = a[0, max(0, c - 2):min(96, c + 3)]
    b[0, c] = a[0, c] / (2 + 1e-4 * (window ** 2).sum(axis=0)) ** 0.75
with sn.no_grad():
    ours = lrn(sn.tensor(a)).numpy()
print(f"LRN vs the paper's formula: max relative difference "
      f"{np.abs(ours - b).max() / np.abs(b).max():.1e}; a strong unit shrinks from "
      f"{a.max():.1f} to {ours.flat[a.argmax()]:.1f}")
assert np.allclose(ours, b, rtol=1e-5)

# %% [markdown] lang="ko"
# 배치 정규화는 각 채널을 배치와 위치 전체에 걸쳐 표준화하고, (x - mean) / sqrt(var + eps), 학습되는
# γ와 β로 배율을 곱하고 이동한다 (처음에는 1과 0). 학습 모드에서는 배치 자신의 통계를 쓰고, 평가
# 모드를 위해 이동 평균을 기록해 둔다.

# %% [markdown] lang="en"
# Batch normalisation standardises each channel over the batch and the positions,
# (x - mean) / sqrt(var + eps), then scales and shifts it with learned γ and β (1 and 0 at
# the start). In training mode it uses the batch's own statistics, and keeps running averages
# for eval mode.

# %%
batch = sn.tensor(np.stack([T.RandomResizedCrop(64, generator=i)(cat) for i in range(8)]))
bn = nn.BatchNorm2d(3)
with sn.no_grad():
    normed = bn(batch).numpy()
print("per-channel mean before:", batch.numpy().mean(axis=(0, 2, 3)).round(3),
      "after:", normed.mean(axis=(0, 2, 3)).round(6))
print("per-channel variance after:", normed.var(axis=(0, 2, 3)).round(4))
assert np.allclose(normed.mean(axis=(0, 2, 3)), 0, atol=1e-5)
assert np.allclose(normed.var(axis=(0, 2, 3)), 1, atol=1e-3)
# the running mean moved 10% (momentum 0.1) of the way from 0 to the batch mean
assert np.allclose(bn.running_mean.numpy(), 0.1 * batch.numpy().mean(axis=(0, 2, 3)),
                   atol=1e-6)
