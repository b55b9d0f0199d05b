# %% [markdown] lang="ko"
# # ResNet: 잔차 블록, 그리고 언제나 통과하는 기울기
#
# 두 덱을 따라간다:
#
# - 딥러닝팀 1팀 (deck 003)의 "ResNet" 슬라이드: "이전 layer의 출력값을 더해줌",
#   **잔차 학습** (residual learning) f(x) = H(x) - x, 그리고 ∂H(x)/∂x = d/dx (F(x) + x) =
#   F'(x) + 1, "기울기 소실 문제 예방하여 레이어 깊게 쌓을 수 있음".
# - Day13. CNN and Vision (deck 001), "ResNet": **스킵 연결** (skip connection), ∂L/∂x = ∂L/∂H
#   (∂F/∂x + 1), 채널 수가 다를 때 1x1 **합성곱** (convolution)을 쓰는
#   **투영 숏컷** (projected shortcut), 합성곱마다 뒤에 오는 **배치 정규화** (batch normalisation),
#   그리고 **병목** (bottleneck).
#
# 레슨 10은 학습이 잘 되지 않는 깊고 평범한 신경망으로 끝났다. 여기서는 그 이유를 재고, 스킵 연결이
# 무엇을 바꾸는지 본다.

# %% [markdown] lang="en"
# # ResNet: the residual block, and the gradient that always gets through
#
# Follows two decks:
#
# - 딥러닝팀 1팀 (deck 003), the "ResNet" slides: "이전 layer의 출력값을 더해줌" (it adds the
#   earlier layer's output), residual learning f(x) = H(x) - x, and ∂H(x)/∂x = d/dx (F(x) + x) =
#   F'(x) + 1, "기울기 소실 문제 예방하여 레이어 깊게 쌓을 수 있음" (it prevents vanishing
#   gradients, so layers can be stacked deep).
# - Day13. CNN and Vision (deck 001), "ResNet": the skip connection, ∂L/∂x = ∂L/∂H (∂F/∂x + 1), the
#   projected shortcut (a 1x1 convolution when the channels differ), batch normalisation after each
#   convolution, and the bottleneck.
#
# Lesson 10 ended with deep plain networks that train badly. Here we measure why, and what the skip
# connection changes.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.resnet import BasicBlock, Bottleneck, resnet18
from scratchnet.train import evaluate

header("딥러닝팀 1팀 (deck 003) and Day13. CNN and Vision (deck 001)",
       "ResNet: H(x) = F(x) + x, dH/dx = F'(x) + 1; projected shortcut, bottleneck", "ResNet")
pyplot = plt()

# %% [markdown] lang="ko"
# ## H(x) = F(x) + x, 그리고 그 도함수
#
# **잔차 블록** (residual block)은 어떤 함수 F (예를 들어 합성곱 두 개)를 계산하고 입력을 다시
# 더한다: H(x) = F(x) + x. 층들은 **잔차** (residual) F(x) = H(x) - x, 곧 원하는 출력과 입력의
# 차이만 배우면 된다. 미분하면 dH/dx = F'(x) + 1. **자동 미분** (autograd)도 같은 값을 낸다.
# 여기서는 x = 0.8에서 F(x) = 0.3 tanh(x):

# %% [markdown] lang="en"
# ## H(x) = F(x) + x, and its derivative
#
# A residual block computes some function F (two convolutions, say) and adds its input back:
# H(x) = F(x) + x. The layers only have to learn the *residual* F(x) = H(x) - x, the
# difference between the wanted output and the input. Differentiating, dH/dx = F'(x) + 1.
# Autograd agrees, here with F(x) = 0.3 tanh(x) at x = 0.8:

# %%
x = sn.tensor(0.8, dtype=sn.float64, requires_grad=True)
H = 0.3 * x.tanh() + x
H.backward()
by_hand = 0.3 * (1 - np.tanh(0.8) ** 2) + 1
check("dH/dx = F'(x) + 1 at x = 0.8 (autograd)", by_hand, x.grad.item(), rel=1e-12,
      ko="x = 0.8에서 dH/dx = F'(x) + 1 (자동 미분)")

# %% [markdown] lang="ko"
# 핵심은 "+ 1"이다. **역전파** (backpropagation)는 돌아가는 길에 모든 층의 **기울기** (gradient)를
# 곱한다. 평범한 더미에서는 그것이 F' 항 여러 개의 곱이다; 이 항들이 대개 1보다 작으면 곱은 깊이에
# 따라 지수적으로 줄어들고, 첫 층들은 거의 배우지 못한다 (deck 003:
# **기울기 소실** (vanishing gradient)). 잔차 블록을 지나는 기울기는 ∂L/∂x =
# ∂L/∂H · F'(x) + ∂L/∂H이다 (deck 001): F'이 무엇을 하든 ∂L/∂H가 그대로 x에 닿는다.
#
# ## 재어 보기: 같은 층으로 만든 평범한 신경망과 잔차 신경망
#
# 같은 부품으로 만든 두 신경망을 8x8 숫자에 쓴다: 3x3 합성곱 + ReLU, 그다음 [conv3x3, ReLU, conv3x3]
# 블록 n개, 그다음 **완전결합층** (fully connected layer) 하나. 평범한 블록은 ReLU로 끝나고, 잔차
# 블록은 그 ReLU 앞에서 입력을 더한다. 둘 다 같은 무작위 **가중치** (weight)에서 출발한다
# (`nn.Conv2d`의 기본 초기화). 배치 하나에 대해 **손실** (loss)을 역전파하고, *첫* 합성곱의 가중치가
# 받은 기울기의 노름을 잰다.

# %% [markdown] lang="en"
# The "+ 1" is the point. Backpropagation multiplies the slopes of all layers on the way back.
# In a plain stack that is a product of many F' terms; if they are typically below 1 the
# product fades exponentially with depth and the first layers hardly learn (deck 003:
# "기울기 소실", vanishing gradients). Through a residual block the gradient is
# ∂L/∂x = ∂L/∂H · F'(x) + ∂L/∂H (deck 001): whatever F' does, ∂L/∂H reaches x unchanged.
#
# ## Measuring it: plain vs residual, same layers
#
# Two networks built from the same parts on 8x8 digits: a 3x3 conv + ReLU, then n blocks
# of [conv3x3, ReLU, conv3x3], then one fully connected layer. The plain block ends in a ReLU;
# the residual block adds its input before that ReLU. Both start from the same random
# weights (`nn.Conv2d`'s default initialisation). For one batch we backpropagate the loss
# and take the norm of the gradient of the *first* convolution's weights.

# %%
class PlainBlock(nn.Module):
    """x -> relu(conv(relu(conv(x)))). (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class ResidualBlock(PlainBlock):
    """x -> relu(F(x) + x), F = conv, relu, conv: the same layers plus the skip."""

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


def network(block, n_blocks, width=8):
    """(N, 1, 8, 8) -> (N, 10) with 1 + 2 * n_blocks conv layers."""
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                         *[block(width) for _ in range(n_blocks)],
                         nn.Flatten(), nn.Linear(width * 8 * 8, 10))


train8 = digits("train", size=8, normalize=True)
test8 = digits("test", size=8, normalize=True)
xb, yb = train8.get_batch(np.arange(64))


def gradient_norms(block, n_blocks):
    """Norm of dL/dW for every conv layer, first to last, for one batch at initialisation."""
    sn.manual_seed(0)
    net = network(block, n_blocks)
    F.cross_entropy(net(xb), yb).backward()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return np.array([np.linalg.norm(m.weight.grad.numpy()) for m in convs])


blocks = [1, 2, 4, 8, 16]
first = {"plain": [], "residual": []}
for n in blocks:
    first["plain"].append(gradient_norms(PlainBlock, n)[0])
    first["residual"].append(gradient_norms(ResidualBlock, n)[0])
    print(f"{1 + 2 * n:2} conv layers: |dL/dW| at the first layer: plain "
          f"{first['plain'][-1]:.2e}, residual {first['residual'][-1]:.2e}")
# the plain gradient fades by orders of magnitude; the residual one stays the same size
assert first["plain"][-1] < 1e-6 * first["plain"][0]
assert 0.5 < first["residual"][-1] / first["residual"][0] < 5

deepest_plain = gradient_norms(PlainBlock, blocks[-1])
deepest_res = gradient_norms(ResidualBlock, blocks[-1])
print(f"{len(deepest_plain)} conv layers, last / first layer's gradient norm: plain "
      f"10^{np.log10(deepest_plain[-1] / deepest_plain[0]):.1f}, residual "
      f"10^{np.log10(deepest_res[-1] / deepest_res[0]):.1f}")
fig, (ax1, ax2) = pyplot.subplots(1, 2, figsize=(11, 3.6))
layers = [1 + 2 * n for n in blocks]
ax1.semilogy(layers, first["plain"], "o-", label="plain")
ax1.semilogy(layers, first["residual"], "s-", label="with skips")
ax1.set(xlabel="conv layers", ylabel="|dL/dW| of the first layer", xticks=layers,
        title="the gradient that reaches the first layer")
ax1.legend()
ax2.semilogy(range(1, len(deepest_plain) + 1), deepest_plain, "o-", ms=3, label="plain")
ax2.semilogy(range(1, len(deepest_res) + 1), deepest_res, "s-", ms=3, label="with skips")
ax2.set(xlabel="conv layer (1 = next to the input)", ylabel="|dL/dW|",
        title=f"layer by layer, {len(deepest_plain)} conv layers")
ax2.legend()
savefig(fig, "gradient_norms")

# %% [markdown] lang="ko"
# 평범한 신경망에서는 블록마다 기울기에 1보다 한참 작은 수가 곱해져서, 33개 층을 지나면 거의
# 아무것도 남지 않는다: 첫 층의 기울기는 마지막 층의 기울기보다 12자릿수쯤 작다. 스킵 연결이 있으면
# 모든 블록이 "+ 1" 경로로 기울기를 넘겨주고, 첫 층도 마지막 층과 비슷한 만큼을 받는다.
#
# ## 학습시키기
#
# 같은 17층 신경망 두 개를 똑같이 학습시킨다 (모멘텀이 있는 SGD, 같은 배치). 평범한 쪽은 출발점의
# 손실 ln(10) = 2.30, 곧 균등하게 찍을 때의 손실에서 벗어나지 못한다; 잔차 쪽은 배운다.

# %% [markdown] lang="en"
# In the plain network each block multiplies the gradient by a factor well below 1, so after
# 33 layers almost nothing is left: the first layer's gradient is about twelve orders of
# magnitude below the last layer's. With the skips every block passes the gradient on
# through its "+ 1" path, and the first layer gets about as much as the last.
#
# ## Training them
#
# The same two 17-layer networks, trained identically (SGD with momentum, the same batches).
# The plain one never leaves the starting loss ln(10) = 2.30, the loss of guessing uniformly;
# the residual one learns.

# %%
n_blocks, epochs = 8, (1 if fast() else 4)
results = {}
for name, block in [("plain", PlainBlock), ("residual", ResidualBlock)]:
    sn.manual_seed(0)
    net = network(block, n_blocks)
    opt = sn.optim.SGD(net.parameters(), lr=0.03, momentum=0.9)
    losses = []
    for epoch in range(epochs):
        for x_, y_ in DataLoader(train8, batch_size=32, shuffle=True, generator=epoch):
            opt.zero_grad()
            loss = F.cross_entropy(net(x_), y_)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    accuracy = evaluate(net, DataLoader(test8, batch_size=360)).accuracy
    results[name] = (np.array(losses), accuracy)
    print(f"{name:8}: last training loss {np.mean(losses[-10:]):.3f}, test accuracy "
          f"{accuracy:.1%}")
assert results["residual"][1] > results["plain"][1] + 0.3

fig, ax = pyplot.subplots(figsize=(7, 3.4))
for name, (losses, accuracy) in results.items():
    ax.plot(np.arange(10, len(losses) + 1), np.convolve(losses, np.full(10, 0.1), mode="valid"),
            label=f"{name} ({accuracy:.0%} test accuracy)")
ax.axhline(np.log(10), color="0.6", ls="--", lw=0.8)
ax.text(len(losses) / 2, np.log(10) - 0.15, "ln 10: uniform guessing", fontsize=8, color="0.4")
ax.set(xlabel="step", ylabel="training loss (mean of 10 steps)",
       title=f"{1 + 2 * n_blocks} conv layers, with and without skips")
ax.legend()
savefig(fig, "plain_vs_residual")

# %% [markdown] lang="ko"
# ## scratchnet의 ResNet에 있는 블록
#
# `scratchnet.models.resnet.BasicBlock` (ResNet-18/34)은 합성곱마다 뒤에 배치 정규화를 두고
# (deck 001: "convolution 이후 Batch normalization"), ReLU는 더한 뒤에 둔다:
# relu(BN(conv(relu(BN(conv(x))))) + x). 손으로 풀어 써도 같은 수가 나온다:

# %% [markdown] lang="en"
# ## The block in scratchnet's ResNet
#
# `scratchnet.models.resnet.BasicBlock` (ResNet-18/34) puts a batch normalisation after each
# convolution (deck 001: "convolution 이후 Batch normalization") and the ReLU after the sum:
# relu(BN(conv(relu(BN(conv(x))))) + x). Written out by hand it gives the same numbers:

# %%
sn.manual_seed(0)
block = BasicBlock(16, 16).eval()
x = sn.randn(2, 16, 8, 8)
with sn.no_grad():
    by_hand = F.relu(block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x))))) + x)
    out = block(x)
assert np.allclose(out.numpy(), by_hand.numpy(), atol=1e-6)

# %% [markdown] lang="ko"
# 블록이 할 수 있는 가장 좋은 일이 아무것도 하지 않는 것이라면, F를 0으로 보내기만 하면 된다: 마지막
# BN의 배율이 0이면 (`resnet18(zero_init_residual=True)`는 모든 블록을 그렇게 시작한다) 블록은
# 음수가 아닌 입력에 대해 정확히 **항등 함수** (identity)다. 그 앞의 ReLU가 내는 입력이 바로 그렇다.
# 평범한 블록이라면 항등 행렬을 가중치로 배워야 할 것이다.

# %% [markdown] lang="en"
# If the best thing a block can do is nothing, it only has to drive F to zero: with the last
# BN's scale at 0 (`resnet18(zero_init_residual=True)` starts every block like that) the block
# is exactly the identity on non-negative input, which is what the ReLU before it produces. A
# plain block would have to learn the identity matrix in its weights.

# %%
block.bn2.weight.data[...] = 0
x_pos = F.relu(sn.randn(2, 16, 8, 8))
with sn.no_grad():
    assert np.array_equal(block(x_pos).numpy(), x_pos.numpy())
print("with bn2's scale at 0 the block passes its input through unchanged")

# %% [markdown] lang="ko"
# ## 투영 숏컷
#
# "+ x"를 하려면 F(x)와 x의 모양이 같아야 한다. 블록이 맵을 절반으로 줄이고 채널을 두 배로 늘리면
# (ResNet의 단계 경계에서) 모양이 다르다:

# %% [markdown] lang="en"
# ## The projected shortcut
#
# "+ x" needs F(x) and x to have the same shape. When a block halves the map and doubles the
# channels (ResNet's stage boundaries), they do not:

# %%
x = sn.randn(1, 64, 16, 16)
try:
    BasicBlock(64, 128, stride=2)(x)
except ValueError as err:
    print(f"ValueError: {err}")
else:
    raise AssertionError("a 64-channel x was added to a 128-channel F(x)")

# %% [markdown] lang="ko"
# 그래서 **숏컷** (shortcut) 자체가 **스트라이드** (stride) 2의 1x1 합성곱 (그리고 BN)을 받는다: 한
# 칸 건너 픽셀을 고르고 64채널을 128채널로 옮기며, 가중치는 64 x 128 = 8,192개다. 이것이 deck 001의
# "projected shortcut" (투영 숏컷)이다. ResNet-18의 두 번째 단계 첫 블록에 하나 있다:

# %% [markdown] lang="en"
# So the shortcut itself gets a 1x1 convolution with stride 2 (and a BN): it picks every
# second pixel and maps 64 channels to 128, for 64 x 128 = 8,192 weights. That is deck 001's
# "projected shortcut". ResNet-18's first block of stage 2 has one:

# %%
sn.manual_seed(0)
r18 = resnet18()
first_of_stage2 = r18.layer2[0]
projection = first_of_stage2.downsample[0]
print(f"layer2.0.downsample: {projection}")
with sn.no_grad():
    out = first_of_stage2(x)
print(f"{tuple(x.shape)} -> {tuple(out.shape)}")
assert projection.kernel_size == (1, 1) and projection.stride == (2, 2)
assert projection.weight.numel() == 64 * 128 and out.shape == (1, 128, 8, 8)
# within a stage the shapes match and the shortcut is x itself
assert r18.layer2[1].downsample is None

# %% [markdown] lang="ko"
# ## 병목
#
# ResNet-50과 그보다 깊은 신경망에서 He et al.은 3x3 합성곱 두 개를 세 층으로 바꾼다: 256채널을 64로
# 줄이는 1x1, 64채널에서의 3x3, 그리고 다시 256으로 늘리는 1x1 (deck 001: "1x1 convolution으로 축소
# 후 연산, 이후 다시 확장"). 이것이 병목 (bottleneck)이다. 256채널 입력에서:

# %% [markdown] lang="en"
# ## The bottleneck
#
# For ResNet-50 and deeper, He et al. replace the two 3x3 convolutions by three layers: a 1x1
# that squeezes 256 channels to 64, the 3x3 on 64 channels, and a 1x1 that expands back to
# 256 (deck 001: "1x1 convolution으로 축소 후 연산, 이후 다시 확장"). On a 256-channel input:

# %%
bottleneck = Bottleneck(256, 64)
two_3x3 = BasicBlock(256, 256)
basic64 = BasicBlock(64, 64)


def conv_weights(module):
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


w_bottle, w_two, w_basic = conv_weights(bottleneck), conv_weights(two_3x3), conv_weights(basic64)
assert w_bottle == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256 == 69_632
assert w_two == 2 * 3 * 3 * 256 * 256 == 1_179_648
print(f"bottleneck 256 -> 64 -> 64 -> 256: {w_bottle:,} weights; two 3x3 convs on 256 channels: "
      f"{w_two:,} ({w_two / w_bottle:.1f}x more)")
print(f"a basic block on 64 channels: {w_basic:,} weights, about the same cost as the "
      f"bottleneck that works on 4x as many channels")
s_bottle = sn.summary(bottleneck, (256, 56, 56), verbose=False)
s_basic = sn.summary(basic64, (64, 56, 56), verbose=False)
print(f"at 56x56: bottleneck {s_bottle.total_macs / 1e6:.0f}M MACs, basic block on 64 channels "
      f"{s_basic.total_macs / 1e6:.0f}M MACs")
assert abs(w_basic - w_bottle) / w_basic < 0.06

fig, ax = pyplot.subplots(figsize=(7, 2.8))
labels = ["two 3x3\n(256 ch)", "bottleneck\n1x1-3x3-1x1 (256 ch)", "two 3x3\n(64 ch)"]
values = [w_two, w_bottle, w_basic]
bars = ax.barh(labels, values, color=["C3", "C0", "C2"])
ax.bar_label(bars, [f"{v:,}" for v in values], fontsize=8)
ax.set(xlabel="weights", xlim=(0, 1.25 * w_two), title="what the bottleneck saves")
savefig(fig, "bottleneck")
