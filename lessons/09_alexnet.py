# %% [markdown]
# # AlexNet: counting its parameters, ReLU, augmentation, dropout and normalisation
#
# Follows three decks:
#
# - deck 001 (`001_4943f345b6f0fdd0.txt`, blog post "Day13. CNN and Vision"): "CNN과
#   parameter" (CNNs and their parameters), which counts AlexNet's layers one by one, and
#   "AlexNet" (ReLU, two GPUs, LRN, data augmentation, dropout).
# - deck 003 (`003_f33a7e07d451897d.txt`, "딥러닝팀 1팀"): the "AlexNet" slides (ReLU and
#   max pooling, batch normalisation and dropout) and "Data Augmentation" (rotation, flip,
#   scaling, brightness).
# - deck 004 (`004_6b7976dd12174aaa.txt`, "CNN 기초"): "필터의 시각화 및 의미" (AlexNet: 64
#   filters, each 3x11x11) and "ImageNet 대회" (2012: AlexNet, 8 layers, 61 million
#   parameters).
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

header("deck 001 (001_4943f345b6f0fdd0.txt), deck 003 (003_f33a7e07d451897d.txt) and "
       "deck 004 (004_6b7976dd12174aaa.txt)",
       "CNN과 parameter / AlexNet; Data Augmentation; ImageNet 대회", "AlexNet")
pyplot = plt()

# %% [markdown]
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

# %% [markdown]
# Deck 001's figures, redone:
#
# - conv1: 11 x 11 kernels over 3 channels, 48 filters on each of 2 GPUs:
#   11 x 11 x 3 x 48 x 2 = 34,848. The count does not depend on the 224 (or 227) pixels of the
#   input: a filter is the same size wherever it slides.
# - conv3 reads both GPUs' 128 channels ("interchange"), so each of 2 x 192 filters spans 256
#   channels: 3 x 3 x 128 x 192 x 4 = 884,736.
# - fc8: 2 x 2048 inputs to 1,000 classes: 2048 x 2 x 1000 = 4,096,000.

# %%
check("conv1 weights", 34_848, s["features.conv1"].weights)
check("conv1 = 11*11*3*48*2", 34_848, 11 * 11 * 3 * 48 * 2)
check("conv3 weights", 884_736, s["features.conv3"].weights)
check("conv3 = 3*3*128*192*4", 884_736, 3 * 3 * 128 * 192 * 4)
check("fc8 weights", 4_096_000, s["classifier.fc8"].weights)
check("fc8 = 2048*2*1000", 4_096_000, 2048 * 2 * 1000)

# %% [markdown]
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
               "pool: 6*6*256*4096")

# %% [markdown]
# With 177 million weights in fc6 alone, AlexNet would have some 200 million parameters; the
# real total (biases included) is 61 million, deck 004's figure, and the paper's "60 million".
# The same deck says 8 layers: five convolutions and three fully connected layers, the layers
# with weights. torchvision's single-GPU AlexNet, the one most code uses today, has 64, 192,
# 384, 256, 256 filters instead of 96, 256, 384, 384, 256, and also rounds to 61 million.

# %%
total = sum(p.numel() for p in paper.parameters())
print(f"paper's AlexNet: {total:,} parameters; with the slide's fc6: "
      f"{total - fc6_by_hand + 177_209_344:,}")
check("AlexNet parameters (millions, paper's layout)", 61, round(total / 1e6))
layers_with_weights = [m for m in paper.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
check("AlexNet layers", 8, len(layers_with_weights))

sn.manual_seed(0)
single = alexnet()
total_tv = sum(p.numel() for p in single.parameters())
print(f"torchvision's AlexNet: {total_tv:,} parameters")
check("AlexNet parameters (millions, torchvision's layout)", 61, round(total_tv / 1e6))
# deck 004's first-layer visualisation shows this model's filters
check("AlexNet first layer: filters", 64, single.features[0].out_channels)
check("AlexNet first layer: filter shape", (3, 11, 11), single.features[0].weight.shape[1:])

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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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

# %% [markdown]
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
