# %% [markdown]
# # VGG: small 3x3 filters stacked deep, and what depth does to a plain network
#
# Follows three decks:
#
# - Day13. CNN and Vision (deck 001), "VGGNet": 3x3 kernels
#   with stride 1; two stacked 3x3 convolutions see as much as one 5x5 (the receptive field)
#   with fewer parameters, 294,912 against 409,600.
# - 딥러닝팀 1팀 (deck 003), the "VGGNet" slides: "두번의 (3, 3)
#   Convolution layer, 비선형성 2번 추가" (two 3x3 layers add two non-linearities) vs "한번의
#   (5, 5)" (one), "양쪽 모두 입력 데이터를 1X1으로 반환함" (both turn their input into 1x1),
#   the parameter formulas, and "층이 깊을수록 무조건 좋을까?" (is deeper always better?):
#   with too many layers "train/test error가 모두 증가" (both training and test error go up),
#   "과적합보다는 최적화(기울기소실)의 문제" (a problem of optimisation, vanishing gradients,
#   rather than overfitting).
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

# %% [markdown]
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
check("two 3x3 convolutions, weights", 294_912, s3.total_params)
check("3*3*128*128*2", 294_912, 3 * 3 * 128 * 128 * 2)
check("one 5x5 convolution, weights", 409_600, s5.total_params)
check("5*5*128*128", 409_600, 5 * 5 * 128 * 128)
# "양쪽 모두 입력 데이터를 1X1으로 반환함": a 5x5 input becomes 1x1 either way
check("two 3x3 on a 5x5 input: output size", (1, 1), s3.rows[-1].output_shape[2:])
check("one 5x5 on a 5x5 input: output size", (1, 1), s5.rows[-1].output_shape[2:])
check("non-linearities, two 3x3 layers", 2, sum(isinstance(m, nn.ReLU) for m in two_3x3))
check("non-linearities, one 5x5 layer", 1, sum(isinstance(m, nn.ReLU) for m in one_5x5))
print(f"the pair has {s3.total_params / s5.total_params:.0%} of the weights = 18/25")

# %% [markdown]
# Deck 003 writes the counts as 2 x 3^2 x C and 5^2 x C. Those are the weights of *one*
# output channel (one filter spans all C input channels); a layer with C outputs has C such
# filters, so the layer counts are 2 x 3^2 x C^2 and 5^2 x C^2 (for C = 128: 2,304 and 3,200
# per filter, 294,912 and 409,600 per layer pair). The ratio 18/25 = 72% is the same either way.
# (One later slide prints 2 x 3^2 x C under the 5x5 layer too, a copy slip.)

# %%
assert 2 * 3 ** 2 * C ** 2 == s3.total_params and 5 ** 2 * C ** 2 == s5.total_params
assert np.isclose((2 * 3 ** 2 * C) / (5 ** 2 * C), s3.total_params / s5.total_params)

# %% [markdown]
# ### Equal receptive fields
#
# Each output of the 3x3 pair depends on a 5x5 patch of the input, like the 5x5 layer's:
# `scratchnet.receptive_field` works it out from the layers (r grows by k - 1 per stride-1
# layer: 1 + 2 + 2 = 5). We also *measure* it: backpropagate from one output pixel and see
# which input pixels get a non-zero gradient.

# %%
check("receptive field, two 3x3", 5, sn.receptive_field(two_3x3).size)
check("receptive field, one 5x5", 5, sn.receptive_field(one_5x5).size)

sn.manual_seed(0)
probe = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
x = sn.rand(1, 1, 11, 11, requires_grad=True)
probe(x)[0, 0, 5, 5].backward()
seen = np.abs(x.grad.numpy()[0, 0]) > 0
rows, cols = np.nonzero(seen)
print(f"input pixels that influence output (5, 5): rows {rows.min()}..{rows.max()}, "
      f"columns {cols.min()}..{cols.max()}")
assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (5, 5)

# %% [markdown]
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
check("VGG-19 weight layers (16 conv + 3 FC)", 19, len(vgg19_convs) + 3)

# %% [markdown]
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

# %% [markdown]
# Given enough steps the deep stacks would get somewhere, but every added plain layer makes
# the start slower and the landscape harder. Lesson 11 measures the gradient that reaches the
# first layer and shows how ResNet's skip connections fix it.
