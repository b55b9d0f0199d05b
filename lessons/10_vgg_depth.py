# %% [markdown] lang="ko"
# # VGG: 작은 3x3 필터를 깊게 쌓기, 그리고 깊이가 평범한 신경망에 하는 일
#
# 세 덱을 따라간다:
#
# - Day13. CNN and Vision (deck 001), "VGGNet": **스트라이드** (stride) 1의 3x3 **커널** (kernel);
#   3x3 **합성곱** (convolution) 두 개를 쌓으면 5x5 하나와 같은 **수용 영역** (receptive field)을
#   보면서 **파라미터** (parameter)는 더 적다, 294,912 대 409,600.
# - 딥러닝팀 1팀 (deck 003)의 "VGGNet" 슬라이드: "두번의 (3, 3) Convolution layer, 비선형성 2번
#   추가" 대 "한번의 (5, 5)", "양쪽 모두 입력 데이터를 1X1으로 반환함", 파라미터 공식, 그리고 "층이
#   깊을수록 무조건 좋을까?": 층이 너무 많으면 "train/test error가 모두 증가", "과적합보다는
#   최적화(기울기소실)의 문제".
# - CNN 기초 (deck 004), "ImageNet 대회": 2014년, VGG, 19개 층.

# %% [markdown] lang="en"
# # VGG: small 3x3 filters stacked deep, and what depth does to a plain network
#
# Follows three decks:
#
# - Day13. CNN and Vision (deck 001), "VGGNet": 3x3 kernels with stride 1; two stacked 3x3
#   convolutions see as much as one 5x5 (the receptive field) with fewer parameters, 294,912 against
#   409,600.
# - 딥러닝팀 1팀 (deck 003), the "VGGNet" slides: "두번의 (3, 3) Convolution layer, 비선형성 2번
#   추가" (two 3x3 layers add two non-linearities) vs "한번의 (5, 5)" (one), "양쪽 모두 입력
#   데이터를 1X1으로 반환함" (both turn their input into 1x1), the parameter formulas, and "층이
#   깊을수록 무조건 좋을까?" (is deeper always better?): with too many layers "train/test error가
#   모두 증가" (both training and test error go up), "과적합보다는 최적화(기울기소실)의 문제" (a
#   problem of optimisation, vanishing gradients, rather than overfitting).
# - CNN 기초 (deck 004), "ImageNet 대회": 2014, VGG, 19 layers.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.vgg import CONFIGS, make_layers
from scratchnet.nn import init
from scratchnet.train import evaluate

header("Day13. CNN and Vision (deck 001), 딥러닝팀 1팀 (deck 003) and "
       "CNN 기초 (deck 004)",
       "VGGNet: 3x3 vs 5x5, 층이 깊을수록 무조건 좋을까?; ImageNet 대회", "VGG and depth")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 3x3 합성곱 두 개, 아니면 5x5 하나?
#
# deck 001의 예: 입력과 출력이 모두 128채널이고 **편향** (bias)은 없다. 3x3 층 두 개를 쌓으면
# **가중치** (weight)가 3 x 3 x 128 x 128 x 2개, 5x5 층 하나는 5 x 5 x 128 x 128개다. `summary`가
# 층에서 직접 센다:

# %% [markdown] lang="en"
# ## Two 3x3 convolutions or one 5x5?
#
# Deck 001's example: 128 channels in and out, no biases. Two stacked 3x3 layers have
# 3 x 3 x 128 x 128 x 2 weights; one 5x5 layer 5 x 5 x 128 x 128. `summary` counts them from
# the layers:

# %%
C = 128
two_3x3 = nn.Sequential(nn.Conv2d(C, C, 3, bias=False), nn.ReLU(),
                        nn.Conv2d(C, C, 3, bias=False), nn.ReLU())
one_5x5 = nn.Sequential(nn.Conv2d(C, C, 5, bias=False), nn.ReLU())
s3 = sn.summary(two_3x3, (C, 5, 5), verbose=False)
s5 = sn.summary(one_5x5, (C, 5, 5), verbose=False)
check("two 3x3 convolutions, weights", 294_912, s3.total_params, ko="3x3 합성곱 두 개, 가중치")
check("3*3*128*128*2", 294_912, 3 * 3 * 128 * 128 * 2, ko="3x3 두 개의 가중치 = 3*3*128*128*2")
check("one 5x5 convolution, weights", 409_600, s5.total_params, ko="5x5 합성곱 하나, 가중치")
check("5*5*128*128", 409_600, 5 * 5 * 128 * 128, ko="5x5 하나의 가중치 = 5*5*128*128")
# "양쪽 모두 입력 데이터를 1X1으로 반환함": a 5x5 input becomes 1x1 either way
check("two 3x3 on a 5x5 input: output size", (1, 1), s3.rows[-1].output_shape[2:],
      ko="5x5 입력에 3x3 두 개: 출력 크기")
check("one 5x5 on a 5x5 input: output size", (1, 1), s5.rows[-1].output_shape[2:],
      ko="5x5 입력에 5x5 하나: 출력 크기")
check("non-linearities, two 3x3 layers", 2, sum(isinstance(m, nn.ReLU) for m in two_3x3),
      ko="비선형성, 3x3 층 두 개")
check("non-linearities, one 5x5 layer", 1, sum(isinstance(m, nn.ReLU) for m in one_5x5),
      ko="비선형성, 5x5 층 하나")
print(f"the pair has {s3.total_params / s5.total_params:.0%} of the weights = 18/25")

# %% [markdown] lang="ko"
# deck 003은 이 개수를 2 x 3^2 x C와 5^2 x C로 쓴다. 이것은 출력 채널 *하나*의 가중치다
# (**필터** (filter) 하나가 C개의 입력 채널 전체에 걸친다); 출력이 C개인 층에는 그런 필터가 C개
# 있으므로, 층의 가중치 수는 2 x 3^2 x C^2와 5^2 x C^2이다 (C = 128이면 필터당 2,304와 3,200, 층
# 묶음당 294,912와 409,600). 비 18/25 = 72%는 어느 쪽이든 같다. (뒤의 슬라이드 하나는 5x5 층
# 아래에도 2 x 3^2 x C를 적었는데, 옮겨 쓰다 생긴 실수다.)

# %% [markdown] lang="en"
# Deck 003 writes the counts as 2 x 3^2 x C and 5^2 x C. Those are the weights of *one*
# output channel (one filter spans all C input channels); a layer with C outputs has C such
# filters, so the layer counts are 2 x 3^2 x C^2 and 5^2 x C^2 (for C = 128: 2,304 and 3,200
# per filter, 294,912 and 409,600 per layer pair). The ratio 18/25 = 72% is the same either way.
# (One later slide prints 2 x 3^2 x C under the 5x5 layer too, a copy slip.)

# %%
assert 2 * 3 ** 2 * C ** 2 == s3.total_params and 5 ** 2 * C ** 2 == s5.total_params
assert np.isclose((2 * 3 ** 2 * C) / (5 ** 2 * C), s3.total_params / s5.total_params)

# %% [markdown] lang="ko"
# ### 같은 수용 영역
#
# 3x3 두 개의 출력 하나하나는 5x5 층의 출력처럼 입력의 5x5 영역에 달려 있다:
# `scratchnet.receptive_field`가 층에서 이를 계산한다 (스트라이드 1인 층마다 r이 k - 1만큼 커진다:
# 1 + 2 + 2 = 5). 직접 *재어* 보기도 한다: 출력 픽셀 하나에서 **역전파** (backpropagation)해서 어느
# 입력 픽셀이 0이 아닌 **기울기** (gradient)를 받는지 본다.

# %% [markdown] lang="en"
# ### Equal receptive fields
#
# Each output of the 3x3 pair depends on a 5x5 patch of the input, like the 5x5 layer's:
# `scratchnet.receptive_field` works it out from the layers (r grows by k - 1 per stride-1
# layer: 1 + 2 + 2 = 5). We also *measure* it: backpropagate from one output pixel and see
# which input pixels get a non-zero gradient.

# %%
check("receptive field, two 3x3", 5, sn.receptive_field(two_3x3).size, ko="수용 영역, 3x3 두 개")
check("receptive field, one 5x5", 5, sn.receptive_field(one_5x5).size, ko="수용 영역, 5x5 하나")

sn.manual_seed(0)
probe = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
x = sn.rand(1, 1, 11, 11, requires_grad=True)
probe(x)[0, 0, 5, 5].backward()
seen = np.abs(x.grad.numpy()[0, 0]) > 0
rows, cols = np.nonzero(seen)
print(f"input pixels that influence output (5, 5): rows {rows.min()}..{rows.max()}, "
      f"columns {cols.min()}..{cols.max()}")
assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (5, 5)

# %% [markdown] lang="ko"
# 쌓을수록 이득이다: 3x3 층 n개는 가중치 9n C^2개로 (2n + 1) x (2n + 1) 픽셀을 보고, (2n+1)x(2n+1)
# 층 하나는 (2n + 1)^2 C^2개가 필요하다. 3x3 층 세 개는 49 C^2 대신 27 C^2로 7x7을 본다. 그래서
# VGG는 3x3보다 큰 것을 쓰지 않는다 (deck 001: 요즘 커널은 7x7을 넘는 일이 드물다). VGG-16의 3x3 층
# 열세 개와 2x2 **풀링** (pooling) 다섯 개를 지나면, 마지막 **특징 맵** (feature map)은 224 x 224
# 이미지의 212 x 212 픽셀을 본다:

# %% [markdown] lang="en"
# Stacking keeps paying: n stacked 3x3 layers see (2n + 1) x (2n + 1) pixels with 9n C^2
# weights, one (2n+1)x(2n+1) layer needs (2n + 1)^2 C^2. Three 3x3 layers see 7x7 with 27 C^2
# instead of 49 C^2, which is why VGG uses nothing larger than 3x3 (deck 001: kernels rarely
# exceed 7x7 today). Through VGG-16's thirteen 3x3 layers and five 2x2 pools, the last
# feature maps see 212 x 212 pixels of a 224 x 224 image:

# %%
n = np.arange(1, 6)
print("stacked 3x3 layers:", n.tolist())
print("receptive field:  ", (2 * n + 1).tolist())
print("weights / C^2:    ", (9 * n).tolist(), "vs one big kernel", ((2 * n + 1) ** 2).tolist())
vgg16_convs = make_layers(CONFIGS["D"])
field = sn.receptive_field(vgg16_convs, 224)
print(f"VGG-16's convolutional part: receptive field {field.size}, output "
      f"{field.rows[-1].output_size}")
assert field.size == 212 and field.rows[-1].output_size == (7, 7)
# deck 004: "VGG, 19 layers" is configuration E: 16 convolutions, then 3 fully connected
vgg19_convs = [v for v in CONFIGS["E"] if v != "M"]
check("VGG-19 weight layers (16 conv + 3 FC)", 19, len(vgg19_convs) + 3,
      ko="VGG-19의 가중치 층 (합성곱 16 + FC 3)")

# %% [markdown] lang="ko"
# ## 층이 깊을수록 무조건 좋을까?
#
# VGG는 19개 층까지 갔고, 논문은 16층과 19층이 거의 같다는 것을 알았다. deck 003의 그래프는 ResNet
# 논문의 첫 그림이 말하는 바, 곧 왜 아무도 그냥 더 쌓지 않았는지를 보여 준다: 평범한 56층 신경망은
# 20층 신경망보다 훈련 오차와 테스트 오차가 모두 *높다*. 깊은 신경망이
# **과적합** (overfitting)이라면 훈련 오차는 더 낮아야 한다; 그런데 더 높으니, 문제는
# **최적화** (optimisation)다: 기울기가 돌아가는 길에 모든 층을 지나야 하고, 그러면서 사라진다.
#
# 이 실험을 원래의 8x8 숫자 스캔에서 작게 되풀이한다: 깊이가 다른 3x3 합성곱 + ReLU 층의 평범한 더미
# (깊은 ReLU 더미를 위해 설계된 배율인 He 초기화), 그 뒤에 **완전결합층** (fully connected layer)
# 하나. 모두 똑같이 학습한다: 같은 최적화기, **학습률** (learning rate), 배치, 단계 수.

# %% [markdown] lang="en"
# ## Is deeper always better?
#
# VGG went to 19 layers, and the paper found 16 and 19 about equally good. Deck 003's graph
# makes the point of the ResNet paper's first figure, which shows why nobody simply went on: a
# plain 56-layer network has *higher* training and test error than a 20-layer one. If the deep network were
# overfitting, its training error would be lower; it is higher, so the trouble is
# optimisation: the gradient has to pass through every layer on the way back and fades.
#
# We repeat the experiment in miniature on the original 8x8 digit scans: plain stacks of
# 3x3 conv + ReLU layers of different depth (He-initialised, the scaling designed for deep
# ReLU stacks), then one fully connected layer, trained identically: same optimizer,
# learning rate, batches and number of steps.

# %%
train8 = digits("train", size=8, normalize=True)
test8 = digits("test", size=8, normalize=True)


def plain_net(depth, width):
    """(N, 1, 8, 8) -> (N, 10): `depth` [conv3x3 (same padding), ReLU] layers, then FC."""
    layers, c = [], 1
    for _ in range(depth):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
        c = width
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * 8 * 8, 10))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, nonlinearity="relu")
            init.zeros_(m.bias)
    return net


depths = [3, 16] if fast() else [2, 4, 8, 12, 16, 20]
width, epochs = (8, 1) if fast() else (16, 6)
curves, train_err, test_err = {}, {}, {}
for depth in depths:
    sn.manual_seed(0)
    net = plain_net(depth, width)
    opt = sn.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for epoch in range(epochs):
        for x, y in DataLoader(train8, batch_size=32, shuffle=True, generator=epoch):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    curves[depth] = np.array(losses)
    train_err[depth] = 1 - evaluate(net, DataLoader(train8, batch_size=500)).accuracy
    test_err[depth] = 1 - evaluate(net, DataLoader(test8, batch_size=360)).accuracy
    print(f"{depth:2} conv layers: final training loss {np.mean(losses[-20:]):.3f}, "
          f"training error {train_err[depth]:.1%}, test error {test_err[depth]:.1%}")

shallow, deep = depths[0], depths[-1]
# the deepest plain network is worse on the training set too: not overfitting
assert train_err[deep] > train_err[shallow] + 0.02
assert test_err[deep] > test_err[shallow] + 0.02

fig, (ax1, ax2) = pyplot.subplots(1, 2, figsize=(11, 3.6))
window = 10
for depth, losses in curves.items():
    ax1.plot(np.arange(window, len(losses) + 1),
             np.convolve(losses, np.full(window, 1 / window), mode="valid"),
             label=f"{depth} layers")
ax1.set(xlabel="step (batch of 32)", ylabel="training loss (mean of 10 steps)",
        title="plain networks: deeper trains slower")
ax1.legend(fontsize=8)
ax2.plot(depths, [100 * train_err[d] for d in depths], "o-", label="training error")
ax2.plot(depths, [100 * test_err[d] for d in depths], "s--", label="test error")
ax2.set(xlabel="conv layers", ylabel="error (%)", xticks=depths,
        title="both errors grow with depth")
ax2.legend()
savefig(fig, "depth_plain")

# %% [markdown] lang="ko"
# 단계가 충분하면 깊은 더미도 어딘가에 이르겠지만, 평범한 층을 하나 더할 때마다 출발은 느려지고
# **손실** (loss) 지형은 험해진다. 레슨 11에서는 첫 층에 닿는 기울기를 재고, ResNet의
# **스킵 연결** (skip connection)이 이를 어떻게 고치는지 보인다.

# %% [markdown] lang="en"
# Given enough steps the deep stacks would get somewhere, but every added plain layer makes
# the start slower and the landscape harder. Lesson 11 measures the gradient that reaches the
# first layer and shows how ResNet's skip connections fix it.
