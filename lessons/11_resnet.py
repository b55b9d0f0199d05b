# %% [markdown]
# # ResNet: the residual block, and the gradient that always gets through
#
# Follows two decks:
#
# - deck 003 (`003_f33a7e07d451897d.txt`, "딥러닝팀 1팀"), the "ResNet" slides: "이전 layer의
#   출력값을 더해줌" (it adds the earlier layer's output), residual learning
#   f(x) = H(x) - x, and ∂H(x)/∂x = d/dx (F(x) + x) = F'(x) + 1, "기울기 소실 문제 예방하여
#   레이어 깊게 쌓을 수 있음" (it prevents vanishing gradients, so layers can be stacked deep).
# - deck 001 (`001_4943f345b6f0fdd0.txt`, "Day13. CNN and Vision"), "ResNet": the skip
#   connection, ∂L/∂x = ∂L/∂H (∂F/∂x + 1), the projected shortcut (a 1x1 convolution when the
#   channels differ), batch normalisation after each convolution, and the bottleneck.
#
# Lesson 10 ended with deep plain networks that train badly. Here we measure why, and what the
# skip connection changes.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.resnet import BasicBlock, Bottleneck, resnet18
from scratchnet.train import evaluate

header("deck 003 (003_f33a7e07d451897d.txt) and deck 001 (001_4943f345b6f0fdd0.txt)",
       "ResNet: H(x) = F(x) + x, dH/dx = F'(x) + 1; projected shortcut, bottleneck", "ResNet")
pyplot = plt()

# %% [markdown]
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
check("dH/dx = F'(x) + 1 at x = 0.8 (autograd)", by_hand, x.grad.item(), rel=1e-12)

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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
