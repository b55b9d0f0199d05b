# %% [markdown] lang="ko"
# # 고전적 CNN과 LeNet-5: 합성곱, ReLU, 풀링, 그다음 완전결합층과 소프트맥스
#
# 두 덱을 따라간다:
#
# - CNN 기초 (deck 004): "완전결합층 (Fully Connected Layer)" ("Flatten -> FC"), "고전적 구조:
#   [Conv, ReLU, Pool]xN, flatten, [FC, ReLU]xN, FC", 그리고 "Softmax와 Cross-Entropy 비용함수를
#   통한 분류".
# - 딥러닝팀 1팀 (deck 003), 3부 "CNN의 발전과정": LeCun의 1998년 필기체 인식 신경망의 층 표가 실린
#   "LeNet-5" 슬라이드 두 장.
#
# 고전적 구조를 그 처방대로 만들고, deck 003의 LeNet-5 표를 `scratchnet.summary`로 재현하고,
# LeNet-5를 실제 손글씨 숫자로 학습시킨 뒤 그 속을 들여다본다.

# %% [markdown] lang="en"
# # The classic CNN and LeNet-5: conv, ReLU, pool, then fully connected, softmax
#
# Follows two decks:
#
# - CNN 기초 (deck 004): "완전결합층 (Fully Connected Layer)" ("Flatten -> FC"), "고전적 구조:
#   [Conv, ReLU, Pool]xN, flatten, [FC, ReLU]xN, FC" (the classic layout) and "Softmax와
#   Cross-Entropy 비용함수를 통한 분류" (classification with softmax and the cross-entropy cost).
# - 딥러닝팀 1팀 (deck 003), part 3 "CNN의 발전과정" (how CNNs developed): the two "LeNet-5" slides
#   with the layer table of LeCun's 1998 handwriting network.
#
# We build the classic layout from its recipe, reproduce deck 003's LeNet-5 table with
# `scratchnet.summary`, train LeNet-5 on real handwritten digits, and look inside it.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models import lenet5
from scratchnet.train import evaluate

header("CNN 기초 (deck 004) and 딥러닝팀 1팀 (deck 003)",
       "고전적 구조 / Softmax와 Cross-Entropy; LeNet-5", "The classic CNN and LeNet-5")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 고전적 구조를 처방 그대로
#
# deck 004는 고전적 CNN을 한 줄로 요약한다: [Conv, ReLU, Pool] x N, flatten, [FC, ReLU] x N, FC.
# **합성곱** (convolution)과 **풀링** (pooling) 단계는 이미지의 배치(layout)를 유지한 채 특징을
# 추출한다; flatten은 마지막 **특징 맵** (feature map)들을 벡터 하나로 편다;
# **완전결합층** (fully connected layer)들이 결정을 내린다; 마지막 FC는 클래스마다 점수
# (**로짓** (logit)) 하나를 낸다. 그 처방대로 쓰면:

# %% [markdown] lang="en"
# ## The classic layout, as a recipe
#
# Deck 004 sums up the classic CNN in one line: [Conv, ReLU, Pool] x N, flatten,
# [FC, ReLU] x N, FC. The convolution and pooling stages extract features, keeping the image's
# layout; flatten turns the last feature maps into one vector; the fully connected layers make
# the decision; the last FC gives one score (logit) per class. Written as that recipe:

# %%
def classic_cnn(in_channels, image_size, conv_channels, fc_sizes, num_classes):
    """[Conv3x3 (same padding), ReLU, MaxPool 2x2] per entry of conv_channels, flatten,
    [FC, ReLU] per entry of fc_sizes, FC to num_classes.
    (N, in_channels, S, S) -> (N, num_classes)."""
    layers, c, s = [], in_channels, image_size
    for k in conv_channels:
        layers += [nn.Conv2d(c, k, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, s = k, s // 2
    layers.append(nn.Flatten())
    n = c * s * s
    for m in fc_sizes:
        layers += [nn.Linear(n, m), nn.ReLU()]
        n = m
    layers.append(nn.Linear(n, num_classes))
    return nn.Sequential(*layers)


sn.manual_seed(0)
small = classic_cnn(1, 32, conv_channels=[8, 16], fc_sizes=[64], num_classes=10)
print(small)
s = sn.summary(small, (1, 32, 32))
# each pool halves the map: 32 -> 16 -> 8, so flatten hands 16 * 8 * 8 numbers to the FC part
assert s["6"].output_shape == (1, 16 * 8 * 8)
fc_share = sum(r.params for r in s.rows if r.type == "Linear") / s.total_params
print(f"the fully connected layers hold {fc_share:.0%} of the parameters")
assert fc_share > 0.9

# %% [markdown] lang="ko"
# **파라미터** (parameter)는 거의 모두 첫 번째 완전결합층에 있다: 펼친 값 1,024개 하나하나를 64개
# 유닛 하나하나와 잇기 때문이다. 합성곱은 작은 **필터** (filter) 몇 개를 모든 위치에서 다시 쓰므로
# (**매개변수 공유** (parameter sharing)), 이미지가 커져도 비용이 늘지 않는다. 이 불균형 때문에
# 이후의 신경망들은 FC 부분을 줄이거나 없앤다 (레슨 09-12).
#
# ## LeNet-5, deck 003의 표
#
# LeNet-5는 ReLU와 **최대 풀링** (max pooling) 이전의 고전적 구조다:
# **활성화 함수** (activation function)로 tanh를, 풀링으로 2x2 **평균 풀링** (average pooling)을
# 쓴다. deck 003의 표를 한 행씩, 32x32 이미지가 `scratchnet.models.lenet5()`를 지날 때
# `scratchnet.summary`가 재는 값과 나란히 놓는다:

# %% [markdown] lang="en"
# Almost all the parameters sit in the first fully connected layer: it connects every one of
# the 1,024 flattened values to every one of its 64 units. The convolutions reuse a few small
# filters everywhere (parameter sharing), so their cost does not grow with the image. This
# imbalance is why later networks shrink or drop the FC part (lessons 9 to 12).
#
# ## LeNet-5, deck 003's table
#
# LeNet-5 is the classic layout before ReLU and max pooling: tanh activations and 2x2
# average pooling. Deck 003's table, row by row, next to what `scratchnet.summary` measures
# when a 32x32 image goes through `scratchnet.models.lenet5()`:

# %%
sn.manual_seed(0)
model = lenet5()
table = sn.summary(model, (1, 32, 32))
rows = {r.name: r for r in table.rows}


def hwc(shape):
    """(1, C, H, W) -> "H X W X C", the slide's way of writing a feature map."""
    _, c, h, w = shape
    return f"{h} X {w} X {c}"


check("Conv 1: filters", 6, model.features[0].out_channels, ko="Conv 1: 필터 수")
check("Conv 1: filter size", "5 * 5", "{} * {}".format(*model.features[0].kernel_size),
      ko="Conv 1: 필터 크기")
check("Conv 1: stride", 1, model.features[0].stride[0], ko="Conv 1: 스트라이드")
check("Conv 1: feature map", "28 X 28 X 6", hwc(rows["features.0"].output_shape),
      ko="Conv 1: 특징 맵")
check("Conv 1: activation", "tanh", type(model.features[1]).__name__.lower(), ko="Conv 1: 활성화 함수")
check("Avg. pooling 1: size / stride", (2, 2), (model.features[2].kernel_size,
                                                 model.features[2].stride),
                                                 ko="Avg. pooling 1: 크기 / 스트라이드")
check("Avg. pooling 1: feature map", "14 X 14 X 6", hwc(rows["features.2"].output_shape),
      ko="Avg. pooling 1: 특징 맵")
check("Conv 2: filters", 16, model.features[3].out_channels, ko="Conv 2: 필터 수")
check("Conv 2: filter size", "5 * 5", "{} * {}".format(*model.features[3].kernel_size),
      ko="Conv 2: 필터 크기")
check("Conv 2: feature map", "10 X 10 X 16", hwc(rows["features.3"].output_shape),
      ko="Conv 2: 특징 맵")
check("Avg. pooling 2: feature map", "5 X 5 X 16", hwc(rows["features.5"].output_shape),
      ko="Avg. pooling 2: 특징 맵")
check("Conv 3: filters", 120, model.features[6].out_channels, ko="Conv 3: 필터 수")
check("Conv 3: feature map (values)", 120, int(np.prod(rows["features.6"].output_shape)),
      ko="Conv 3: 특징 맵 (값의 개수)")
check("Fully Connected 1: neurons", 84, rows["classifier.1"].output_shape[1],
      ko="Fully Connected 1: 뉴런 수")
check("Fully Connected 2: neurons", 10, rows["classifier.3"].output_shape[1],
      ko="Fully Connected 2: 뉴런 수")
# "3개의 Convolution Layer와 2개의 Pooling Layer를 교차하여 통과한 후 120으로 축소됨"
check("convolution layers", 3, sum(isinstance(m, nn.Conv2d) for m in model.modules()),
      ko="합성곱 층 수")
check("pooling layers", 2, sum(isinstance(m, nn.AvgPool2d) for m in model.modules()), ko="풀링 층 수")

# %% [markdown] lang="ko"
# 각 크기는 레슨 03의 출력 크기 공식 O = (I + 2P - F)/S + 1에서 나온다: (32 - 5)/1 + 1 = 28, 28/2 =
# 14, (14 - 5)/1 + 1 = 10, 10/2 = 5, (5 - 5)/1 + 1 = 1. Conv 3의 5x5 필터는 5x5 맵을 꼭 맞게
# 덮으므로, "120"은 1x1 맵 120개다: 완전결합층처럼 동작하는 합성곱이다. 표에는 파라미터 수가 없다;
# 손으로 세면 (**가중치** (weight) + 필터나 뉴런마다 **편향** (bias) 하나) LeNet-5의 61,706개가
# 나온다:

# %% [markdown] lang="en"
# Each size follows from the output-size formula O = (I + 2P - F)/S + 1 of lesson 03:
# (32 - 5)/1 + 1 = 28, 28/2 = 14, (14 - 5)/1 + 1 = 10, 10/2 = 5, (5 - 5)/1 + 1 = 1. Conv 3's
# 5x5 filters exactly cover the 5x5 maps, so "120" is 120 maps of 1x1: a convolution that acts
# like a fully connected layer. The table does not list parameters; counting them by hand
# (weights + one bias per filter or neuron) gives LeNet-5's 61,706:

# %%
sizes = [32]
for f, s_ in [(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)]:
    sizes.append(sn.conv_output_size(sizes[-1], f, s_))
print("map sizes through the network:", " -> ".join(map(str, sizes)))
assert sizes == [32, 28, 14, 10, 5, 1]
by_hand = {"conv1": 6 * (1 * 5 * 5) + 6, "conv2": 16 * (6 * 5 * 5) + 16,
           "conv3": 120 * (16 * 5 * 5) + 120, "fc1": 84 * 120 + 84, "fc2": 10 * 84 + 10}
print("parameters by hand:", by_hand, "total", f"{sum(by_hand.values()):,}")
assert sum(by_hand.values()) == table.total_params == 61_706

# %% [markdown] lang="ko"
# ## LeNet-5를 손글씨 숫자로 학습하기
#
# scikit-learn에는 8x8 픽셀로 스캔한 숫자 1,797개가 들어 있다; `scratchnet.data.digits`는 이를
# LeNet의 32x32로 키우고 학습용 1,437개와 테스트용 360개로 나눈다. 학습 반복은 모든 프레임워크가
# 돌리는 그것이다: 순전파, **손실** (loss), **역전파** (backpropagation), 갱신. 곡선을 그리려고 매
# 단계의 손실을 모아 둔다.

# %% [markdown] lang="en"
# ## Training LeNet-5 on handwritten digits
#
# scikit-learn ships 1,797 scanned digits of 8x8 pixels; `scratchnet.data.digits` enlarges
# them to LeNet's 32x32 and splits them into 1,437 for training and 360 for testing. The loop
# is the one every framework runs: forward, loss, backward, step. We keep every step's loss
# for the curve.

# %%
train_set, test_set = digits("train"), digits("test")
print(train_set, test_set)
epochs = 1 if fast() else 15
sn.manual_seed(0)
model = lenet5()
optimizer = sn.optim.Adam(model.parameters(), lr=3e-3)
loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=0)
test_loader = DataLoader(test_set, batch_size=360)

step_losses, test_curve = [], []
for epoch in range(epochs):
    for x, y in loader:
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        step_losses.append(float(loss.item()))
        if len(step_losses) % 8 == 0:
            test_curve.append((len(step_losses), evaluate(model, test_loader).accuracy))
    result = evaluate(model, test_loader)
    print(f"epoch {epoch + 1}: last training loss {step_losses[-1]:.3f}, test {result}")
test_curve.append((len(step_losses), result.accuracy))
# chance is 10%; one pass over the 1,437 training digits already gets far past it
assert result.accuracy > (0.6 if fast() else 0.93)

fig, (ax1, ax2) = pyplot.subplots(1, 2, figsize=(10, 3.4))
ax1.plot(step_losses, lw=0.8, color="0.6", label="each step")
width = 8
ax1.plot(np.arange(width - 1, len(step_losses)),
         np.convolve(step_losses, np.full(width, 1 / width), mode="valid"), "C0",
         label=f"mean of {width} steps")
ax1.set(xlabel="step (batch of 64)", ylabel="cross-entropy", title="LeNet-5 training loss")
ax1.legend()
ax2.plot(*zip(*test_curve), "o-", ms=3)
ax2.set(xlabel="step", ylabel="test accuracy", ylim=(0, 1), title="the 360 test digits")
savefig(fig, "lenet5_training")

fig, ax = pyplot.subplots(figsize=(4.2, 4))
ax.imshow(result.confusion, cmap="Blues")
for (i, j), v in np.ndenumerate(result.confusion):
    if v:
        ax.text(j, i, v, ha="center", va="center", fontsize=7,
                color="white" if v > result.confusion.max() / 2 else "black")
ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
       title="confusion on the test digits")
savefig(fig, "lenet5_confusion")

# %% [markdown] lang="ko"
# ## 소프트맥스와 교차 엔트로피
#
# LeNet의 마지막 층은 점수 열 개 y_i를 낸다. **소프트맥스** (softmax)는 이를 확률로 바꾼다,
# softmax(y_i) = e^{y_i} / sum_j e^{y_j}: 모두 양수이고 합이 1이며, 가장 큰 점수가 가장 큰 몫을
# 받는다.
#
# deck 004는 **비용함수** (cost function)를 J(θ) = sum_i y^(i) log(ŷ^(i))로 쓴다. y는 원-핫
# (one-hot) 레이블, ŷ은 소프트맥스 출력이다. 인쇄된 그대로는 마이너스 부호가 빠져 있다: log ŷ은 0
# 이하이므로 그 합은 음수이고 예측이 좋아질수록 *커진다*; 최소화할 비용은 그 음수, -sum_i y^(i) log
# ŷ^(i) = -log ŷ_label이다. 이것이 **교차 엔트로피** (cross-entropy)다. 학습한 모델이 테스트 집합에
# 내는 로짓으로 `F.cross_entropy`를 이 공식과 비교한다.

# %% [markdown] lang="en"
# ## Softmax and cross-entropy
#
# LeNet's last layer gives ten scores y_i. Softmax turns them into probabilities,
# softmax(y_i) = e^{y_i} / sum_j e^{y_j}: all positive, summing to 1, the largest score
# getting the largest share.
#
# Deck 004 writes the cost as J(θ) = sum_i y^(i) log(ŷ^(i)), with y the one-hot label and ŷ
# the softmax output. As printed it misses a minus sign: log ŷ is at most 0, so that sum is
# negative and *grows* as the prediction improves; a cost to minimise is its negative,
# -sum_i y^(i) log ŷ^(i) = -log ŷ_label. We check `F.cross_entropy` against that formula on the
# trained model's logits for the test set.

# %%
model.eval()
x_test, y_test = test_set.get_batch(np.arange(len(test_set)))
with sn.no_grad():
    logits = model(x_test)
probs = F.softmax(logits, dim=1).numpy()
assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and (probs > 0).all()
by_hand_probs = np.exp(logits.numpy() - logits.numpy().max(axis=1, keepdims=True))
by_hand_probs /= by_hand_probs.sum(axis=1, keepdims=True)
assert np.allclose(probs, by_hand_probs, atol=1e-6)

labels = y_test.numpy()
one_hot = np.eye(10)[labels]
slide_J = (one_hot * np.log(probs)).sum(axis=1).mean()
ours = float(F.cross_entropy(logits, y_test).item())
print(f"deck 004's J as printed: {slide_J:.4f} (negative); cross_entropy: {ours:.4f}")
assert slide_J < 0 and np.isclose(ours, -slide_J, rtol=1e-5)

# one digit the model gets right, and the one it gets most wrong (the largest -log p[label])
per_example = -np.log(probs[np.arange(len(labels)), labels])
right = int(np.flatnonzero(probs.argmax(axis=1) == labels)[0])
worst = int(per_example.argmax())
fig, axes = pyplot.subplots(2, 2, figsize=(8, 5.2), gridspec_kw={"width_ratios": [1, 2.5]})
for row, i in enumerate([right, worst]):
    axes[row, 0].imshow(x_test.numpy()[i, 0], cmap="gray_r")
    axes[row, 0].set(title=f"test digit {i}, label {labels[i]}", xticks=[], yticks=[])
    axes[row, 1].bar(range(10), probs[i],
                     color=["C3" if k == labels[i] else "C0" for k in range(10)])
    axes[row, 1].set(xticks=range(10), ylim=(0, 1), ylabel="softmax probability",
                     title=f"-log p[label] = {per_example[i]:.3f}")
axes[1, 1].set_xlabel("class (red: the true one)")
fig.tight_layout()
savefig(fig, "softmax")

# %% [markdown] lang="ko"
# ## LeNet-5의 속: 필터와 특징 맵
#
# 학습을 마친 첫 층의 5x5 필터 여섯 개, 그리고 그것들이 숫자 하나로 만드는 것: Conv 1의 28x28 맵
# 여섯 개(tanh 이후), 14x14로 풀링한 것, 그다음 Conv 2의 10x10 맵 열여섯 개. 빨강은 양수, 파랑은
# 음수다. 앞쪽 맵은 아직 숫자처럼 보이고 저마다 다른 획과 경계를 강조한다; 깊은 맵일수록 작고
# 추상적이다.

# %% [markdown] lang="en"
# ## Inside LeNet-5: filters and feature maps
#
# The six 5x5 filters of the first layer, after training, and what they make of one digit:
# the six 28x28 maps of Conv 1 (after tanh), pooled to 14x14, then the sixteen 10x10 maps of
# Conv 2. Red is positive, blue negative. Early maps still look like the digit, each
# stressing different strokes and edges; deeper maps are smaller and more abstract.

# %%
i = right
captured = {}
hooks = [model.features[i].register_forward_hook(
    lambda m, inp, out, i=i: captured.__setitem__(i, out.numpy()[0])) for i in (1, 2, 4)]
with sn.no_grad():
    model(x_test[i:i + 1])
for h in hooks:
    h.remove()
assert captured[1].shape == (6, 28, 28) and captured[2].shape == (6, 14, 14)
assert captured[4].shape == (16, 10, 10)

filters = model.features[0].weight.detach().numpy()[:, 0]       # (6, 5, 5)
fig, axes = pyplot.subplots(3, 6, figsize=(10, 5.4))
lim = np.abs(filters).max()
for k in range(6):
    axes[0, k].imshow(filters[k], cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[0, k].set_title(f"filter {k}", fontsize=9)
    axes[1, k].imshow(captured[1][k], cmap="coolwarm", vmin=-1, vmax=1)
    axes[1, k].set_title(f"conv1 map {k}", fontsize=9)
    axes[2, k].imshow(captured[2][k], cmap="coolwarm", vmin=-1, vmax=1)
    axes[2, k].set_title(f"pooled {k}", fontsize=9)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.suptitle(f"LeNet-5's first layer on a '{labels[i]}'")
savefig(fig, "lenet5_conv1")

fig, axes = pyplot.subplots(2, 8, figsize=(11, 3.2))
for k, ax in enumerate(axes.ravel()):
    ax.imshow(captured[4][k], cmap="coolwarm", vmin=-1, vmax=1)
    ax.set_title(f"conv2 map {k}", fontsize=8)
    ax.set(xticks=[], yticks=[])
savefig(fig, "lenet5_conv2")
