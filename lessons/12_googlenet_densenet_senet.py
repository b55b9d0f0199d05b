# %% [markdown] lang="ko"
# # GoogLeNet, DenseNet, SENet, 그리고 8층에서 152층까지의 ImageNet 경주
#
# 세 덱을 따라간다:
#
# - Day13. CNN and Vision (deck 001): "GoogLeNet" (**인셉션 블록** (Inception block): 입력 하나를
#   여러 **커널** (kernel) 크기로 나눠 보냈다가 다시 합치고, 채널 수를 억제하려고 1x1
#   **합성곱** (convolution)을 쓴다, **풀링** (pooling) 뒤에도) 그리고 "DenseNet" (더하지 않고
#   **이어 붙이기** (concatenation); **덴스 블록** (dense block); 1x1 합성곱을 쓰는
#   **전환 블록** (transition block)).
# - 딥러닝팀 1팀 (deck 003): "SENet"과 "SE Block" (squeeze = 1x1xC로 가는
#   **전역 평균 풀링** (global average pooling); excitation = FC C -> C/r, ReLU, FC C/r -> C,
#   **시그모이드** (sigmoid); 그 결과는 "각 채널의 중요도를 의미"하며 **특징 맵** (feature map)에
#   곱해진다), 그리고 "ILSVRC".
# - CNN 기초 (deck 004), "ImageNet 대회": AlexNet 8개 층과 **파라미터** (parameter) 6100만 개, ZFNet
#   8개 층, VGG 19개 층, GoogLeNet 22개 층과 파라미터 500만 개, ResNet 152개 층.

# %% [markdown] lang="en"
# # GoogLeNet, DenseNet and SENet, and the ImageNet race from 8 to 152 layers
#
# Follows three decks:
#
# - Day13. CNN and Vision (deck 001): "GoogLeNet" (the Inception block: one input spread over
#   several kernel sizes and joined again, with 1x1 convolutions to keep the channel count down,
#   even after the pooling) and "DenseNet" (concatenate instead of add; dense blocks; transition
#   blocks with a 1x1 convolution).
# - 딥러닝팀 1팀 (deck 003): "SENet" and "SE Block" (squeeze = global average pooling to 1x1xC;
#   excitation = FC C -> C/r, ReLU, FC C/r -> C, sigmoid; the result "각 채널의 중요도를 의미", the
#   importance of each channel, multiplies the feature map), and "ILSVRC".
# - CNN 기초 (deck 004), "ImageNet 대회": AlexNet 8 layers and 61 million parameters, ZFNet 8
#   layers, VGG 19 layers, GoogLeNet 22 layers and 5 million parameters, ResNet 152 layers.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import models, nn
from scratchnet.data import DataLoader, digits
from scratchnet.lesson import check, fast, header, plt, savefig, slide_is_wrong
from scratchnet.models import SEBlock
from scratchnet.models.googlenet import InceptionBlock
from scratchnet.train import evaluate

header("Day13. CNN and Vision (deck 001), 딥러닝팀 1팀 (deck 003) and "
       "CNN 기초 (deck 004)",
       "GoogLeNet / DenseNet; SENet, SE Block, ILSVRC; ImageNet 대회",
       "GoogLeNet, DenseNet, SENet")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 인셉션 블록: 가지 넷, 이어 붙이기 하나
#
# GoogLeNet의 블록은 1x1, 3x3, 5x5 합성곱과 3x3 **최대 풀링** (max pooling)을 같은 입력에 나란히
# 돌리고, 그 출력을 채널 방향으로 쌓는다. 네 가지 모두 28x28 맵을 유지하므로 (**패딩** (padding),
# 그리고 **스트라이드** (stride) 1의 풀링) 쌓을 수 있다; 출력의 채널 수는 가지들의 채널 수를 모두
# 더한 것이다. 논문의 첫 블록 inception (3a)를, GoogLeNet이 그 지점에서 가지는 192채널 28x28 맵에
# 적용하면:

# %% [markdown] lang="en"
# ## The Inception block: four branches, one concatenation
#
# GoogLeNet's block runs a 1x1, a 3x3 and a 5x5 convolution and a 3x3 max pool side by side
# on the same input, and stacks their outputs along the channels. All four keep the 28x28
# map (padding, and a stride-1 pool), so they can be stacked; the output has as many
# channels as the branches together. The paper's first block, inception (3a), on the
# 192-channel 28x28 map GoogLeNet has at that point:

# %%
sn.manual_seed(0)
block3a = InceptionBlock(192, 64, 96, 128, 16, 32, 32, large_kernel=5).eval()
x = sn.randn(1, 192, 28, 28)
with sn.no_grad():
    branches = [block3a.branch1(x), block3a.branch2(x), block3a.branch3(x), block3a.branch4(x)]
    out = block3a(x)
for name, b in zip(["1x1", "1x1 -> 3x3", "1x1 -> 5x5", "pool -> 1x1"], branches):
    print(f"branch {name:12}: {tuple(b.shape)}")
print(f"concatenated: {tuple(out.shape)} = 64 + 128 + 32 + 32 channels")
assert out.shape == (1, 256, 28, 28)
assert np.array_equal(out.numpy(), np.concatenate([b.numpy() for b in branches], axis=1))

# %% [markdown] lang="ko"
# ### 1x1 축소가 아끼는 것
#
# 1x1 축소가 없으면 3x3 가지는 192채널 전체를 3x3 **필터** (filter) 128개로, 5x5 가지는 192채널
# 전체를 5x5 필터 32개로 합성곱해야 한다. 먼저 1x1 합성곱으로 96채널과 16채널로 줄이면
# **가중치** (weight)와 **곱셈-누산** (multiply-accumulate, MAC)이 줄어든다:

# %% [markdown] lang="en"
# ### What the 1x1 reductions save
#
# Without them the 3x3 branch would convolve all 192 channels with 128 3x3 filters, and the
# 5x5 branch all 192 with 32 5x5 filters. With a 1x1 convolution down to 96 and 16 channels
# first, the weights and the multiply-accumulates (MACs) drop:

# %%
def conv_weights(module):
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


for name, branch, direct in [("3x3", block3a.branch2, 192 * 3 * 3 * 128),
                             ("5x5", block3a.branch3, 192 * 5 * 5 * 32)]:
    ours = conv_weights(branch)
    print(f"{name} branch: {ours:,} weights with the 1x1 reduction, {direct:,} without "
          f"({direct / ours:.1f}x); per pixel the MACs are the same numbers")
assert conv_weights(block3a.branch2) == 192 * 96 + 96 * 3 * 3 * 128 == 129_024
assert conv_weights(block3a.branch3) == 192 * 16 + 16 * 5 * 5 * 32 == 15_872
s3a = sn.summary(block3a, (192, 28, 28), verbose=False)
print(f"the whole block: {s3a.total_macs / 1e6:.0f}M MACs at 28x28")

# %% [markdown] lang="ko"
# 풀링 가지에도 자기 1x1 합성곱이 있다 (deck 001은 이것을 재미있는 특징이라고 한다): 최대 풀링은
# 192채널을 모두 유지하므로, 이 사영이 없으면 블록의 출력은 64 + 128 + 32 + 192 = 416채널이 되고
# 블록을 지날 때마다 불어난다. 풀링 가지는 받은 것을 모두 넘기기 때문이다.
#
# GoogLeNet을 블록별로 따라가면 (논문의 Table 1): 출력 채널 수는 가지 폭의 합이고, 그것이 다음
# 블록의 입력이다.

# %% [markdown] lang="en"
# The pool branch has its own 1x1 convolution (deck 001 finds that one curious): a max pool
# keeps all 192 channels, so without the projection the block's output would be
# 64 + 128 + 32 + 192 = 416 channels and would grow with every block, since each pool branch
# passes on everything it receives.
#
# Through GoogLeNet, block by block (the paper's Table 1): the output channels are the sums of
# the branch widths, and the next block's input.

# %%
sn.manual_seed(0)
googlenet = models.googlenet().eval()
seen = {}
hooks = [getattr(googlenet, name).register_forward_hook(
    lambda m, inp, out, name=name: seen.__setitem__(name, (inp[0].shape, out.shape)))
    for name in ["inception3a", "inception3b", "inception4a", "inception4b", "inception4c",
                 "inception4d", "inception4e", "inception5a", "inception5b"]]
with sn.no_grad():
    googlenet(sn.randn(1, 3, 224, 224))
for h in hooks:
    h.remove()
previous_out = None
for name, (shape_in, shape_out) in seen.items():
    blk = getattr(googlenet, name)
    widths = [blk.branch1.conv.out_channels, blk.branch2[1].conv.out_channels,
              blk.branch3[1].conv.out_channels, blk.branch4[1].conv.out_channels]
    print(f"{name}: {shape_in[1]:4} x {shape_in[2]:2}x{shape_in[3]:<2} -> "
          f"{' + '.join(map(str, widths))} = {shape_out[1]}")
    assert shape_out[1] == sum(widths)
    assert previous_out is None or shape_in[1] == previous_out
    previous_out = shape_out[1]

# %% [markdown] lang="ko"
# ## DenseNet: 더하지 말고 이어 붙이기
#
# ResNet은 블록의 입력을 출력에 더한다; DenseNet은 이어 붙인다 (deck 001: "input과 output을
# 합친다"). 덴스 블록 안에서 층 i는 앞선 *모든* 출력을 읽고, 층마다 정해진 수 k개의 새 채널을
# 더한다. 이 k가 **성장률** (growth rate)이다. 그래서 층 i로 들어가는 채널 수는 c0 + i * k이다:
# deck 001이 걱정하듯 "지수단위로" (층마다 두 배로) 늘지 않고 선형으로 는다; 두 배가 되려면 층마다
# 읽는 만큼의 채널을 내야 한다. 전환 블록 (BN, ReLU, 채널을 절반으로 줄이는 1x1 합성곱, 맵을
# 절반으로 줄이는 2x2 **평균 풀링** (average pooling))이 덴스 블록 사이에서 채널 수를 되돌린다.
# DenseNet-121의 첫 블록: c0 = 64, k = 32, 층 6개.

# %% [markdown] lang="en"
# ## DenseNet: concatenate, don't add
#
# ResNet adds a block's input to its output; DenseNet concatenates (deck 001: "input과 output을
# 합친다"). Inside a dense block, layer i reads *all* earlier outputs, and each layer adds a
# fixed number k of new channels, the growth rate. So the channels into layer i are
# c0 + i * k: they grow linearly, not "지수단위로" (exponentially, doubling per layer) as
# deck 001 fears; doubling would need each layer to output as many channels as it reads. A
# transition block (BN, ReLU, 1x1 conv halving the channels, 2x2 average pool halving the map)
# resets the count between dense blocks. DenseNet-121's first block: c0 = 64, k = 32,
# 6 layers.

# %%
sn.manual_seed(0)
densenet = models.densenet121().eval()
channels_in = []
hooks = []
for block_name in ["denseblock1", "denseblock2", "denseblock3", "denseblock4"]:
    for layer in getattr(densenet.features, block_name).values():
        hooks.append(layer.register_forward_hook(
            lambda m, inp, out: channels_in.append(m.conv1.in_channels)))
maps = {}
for name in ["denseblock1", "transition1", "denseblock2", "transition2", "denseblock3",
             "transition3", "denseblock4"]:
    hooks.append(getattr(densenet.features, name).register_forward_hook(
        lambda m, inp, out, name=name: maps.__setitem__(name, tuple(out.shape[1:]))))
with sn.no_grad():
    densenet(sn.randn(1, 3, 224, 224))
for h in hooks:
    h.remove()
print("channels into the 6 layers of dense block 1:", channels_in[:6])
assert channels_in[:6] == [64 + i * 32 for i in range(6)]
for name, shape in maps.items():
    print(f"after {name:12}: {shape[0]:5} channels, {shape[1]}x{shape[2]}")
assert maps["denseblock1"][0] == 64 + 6 * 32 == 256 and maps["transition1"] == (128, 28, 28)
assert maps["denseblock4"][0] == 512 + 16 * 32 == 1024

fig, ax = pyplot.subplots(figsize=(9, 3))
ax.plot(channels_in, ".-", ms=3)
ax.set(xlabel="dense layer (all 58 of DenseNet-121, in order)",
       ylabel="input channels", title="linear growth inside each block, halved by transitions")
savefig(fig, "densenet_channels")

# %% [markdown] lang="ko"
# ## SE 블록: 채널마다 가중치 하나
#
# deck 003의 squeeze-and-excitation 블록을 (N, C, H, W) 특징 맵에서 한 단계씩:
#
# 1. **압축 단계** (squeeze): z_c = 1/(H W) sum_ij u_c(i, j), 1x1xC로 가는 전역 평균 풀링;
# 2. **재조정 단계** (excitation): s = sigmoid(W2 relu(W1 z)), W1: C -> C/r, W2: C/r -> C;
# 3. 배율 적용: 맵의 채널 c마다 s_c를 곱한다.
#
# 시그모이드의 값은 0과 1 사이에 엄격히 들어간다 (슬라이드는 [0, 1)로 적는다). 학습하기 전에는
# 가중치가 임의의 값이므로, 합성곱마다 뒤에 SE 블록을 둔 작은 신경망을 숫자 데이터로 학습시킨 뒤,
# 그것이 여러 숫자에 주는 채널 가중치를 살펴본다.

# %% [markdown] lang="en"
# ## The SE block: a weight for every channel
#
# Deck 003's squeeze-and-excitation block, step by step on a (N, C, H, W) feature map:
#
# 1. squeeze: z_c = 1/(H W) sum_ij u_c(i, j), global average pooling to 1x1xC;
# 2. excitation: s = sigmoid(W2 relu(W1 z)), with W1: C -> C/r and W2: C/r -> C;
# 3. scale: every channel c of the map is multiplied by s_c.
#
# The sigmoid's values lie strictly between 0 and 1 (the slide writes [0, 1)). Untrained, the
# weights are arbitrary, so we train a small network with an SE block after each convolution
# on the digits, then look at the channel weights it gives different digits.

# %%
class SmallSENet(nn.Module):
    """(N, 1, 16, 16) -> (N, 10): [conv3x3, ReLU, SE(r=4), maxpool 2] x 2, flatten, FC."""

    def __init__(self):
        super().__init__()
        self.conv1, self.se1 = nn.Conv2d(1, 16, 3, padding=1), SEBlock(16, reduction=4)
        self.conv2, self.se2 = nn.Conv2d(16, 32, 3, padding=1), SEBlock(32, reduction=4)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(self.se1(F.relu(self.conv1(x))), 2)
        x = F.max_pool2d(self.se2(F.relu(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


C, r = 32, 4
sn.manual_seed(0)
senet = SmallSENet()
se = senet.se2
check("FC1: C -> C/r (weight shape)", (C // r, C), se.fc1.weight.shape,
      ko="FC1: C -> C/r (가중치 모양)")
check("FC2: C/r -> C (weight shape)", (C, C // r), se.fc2.weight.shape,
      ko="FC2: C/r -> C (가중치 모양)")
se_params = sum(p.numel() for p in se.parameters())
assert se_params == 2 * C * C // r + C // r + C
print(f"SE block on {C} channels, r = {r}: {se_params} parameters = 2C^2/r + C/r + C")

train16, test16 = digits("train", size=16, normalize=True), digits("test", size=16,
                                                                     normalize=True)
opt = sn.optim.Adam(senet.parameters(), lr=1e-2)
for epoch in range(1 if fast() else 8):
    for xb, yb in DataLoader(train16, batch_size=32, shuffle=True, generator=epoch):
        opt.zero_grad()
        F.cross_entropy(senet(xb), yb).backward()
        opt.step()
accuracy = evaluate(senet, DataLoader(test16, batch_size=360)).accuracy
print(f"small SE network: {accuracy:.1%} test accuracy")
assert accuracy > 0.5

# %% [markdown] lang="ko"
# 이제 학습된 SE 블록이 보는 입력에서 세 단계를 손으로 계산하고, 블록 자신의 출력과 비교한다:

# %% [markdown] lang="en"
# Now the three steps by hand on the input the trained SE block sees, checked against the
# block's own output:

# %%
x_test, y_test = test16.get_batch(np.arange(len(test16)))
captured = {}
hook = se.register_forward_hook(lambda m, inp, out: captured.update(u=inp[0], out=out))
senet.eval()
with sn.no_grad():
    senet(x_test)
hook.remove()
u = captured["u"]                                                    # (N, 32, 8, 8)
with sn.no_grad():
    z = F.adaptive_avg_pool2d(u, 1).reshape(u.shape[0], C)           # squeeze
    s = F.sigmoid(se.fc2(F.relu(se.fc1(z)))).numpy()                 # excitation
assert np.allclose(z.numpy(), u.numpy().mean(axis=(2, 3)), atol=1e-6)
assert np.allclose(captured["out"].numpy(), u.numpy() * s[:, :, None, None], atol=1e-6)
assert ((s > 0) & (s < 1)).all()
print(f"channel weights s: min {s.min():.3f}, max {s.max():.3f}")

labels = y_test.numpy()
a, b = int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == 7)[0])
class_means = np.stack([s[labels == k].mean(axis=0) for k in range(10)])
deviation = class_means - class_means.mean(axis=0)
fig = pyplot.figure(figsize=(11, 6.2))
grid = fig.add_gridspec(2, 5, height_ratios=[1, 1.1])
for col, i in enumerate([a, b]):
    ax_img = fig.add_subplot(grid[0, col])
    ax_img.imshow(x_test.numpy()[i, 0], cmap="gray_r")
    ax_img.set(title=f"test digit {i} (a '{labels[i]}')", xticks=[], yticks=[])
ax_bar = fig.add_subplot(grid[0, 2:])
ax_bar.bar(np.arange(C) - 0.2, s[a], 0.4, label=f"the '{labels[a]}'")
ax_bar.bar(np.arange(C) + 0.2, s[b], 0.4, label=f"the '{labels[b]}'")
ax_bar.set(ylim=(0, 1), xlabel="channel", ylabel="s", title="SE weights of the second block")
ax_bar.legend(fontsize=8)
ax = fig.add_subplot(grid[1, :])
lim = np.abs(deviation).max()
im = ax.imshow(deviation, cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
ax.set(xlabel="channel", ylabel="digit class", yticks=range(10),
       title=f"per-class mean weight minus the channel's overall mean (note the scale: "
             f"±{lim:.2f})")
fig.colorbar(im, ax=ax, fraction=0.02)
fig.tight_layout()
savefig(fig, "se_weights")
per_channel = s.mean(axis=0)
print(f"spread of the weights between channels (std of the channel means): "
      f"{per_channel.std():.3f}; between images, per channel: {s.std(axis=0).mean():.3f}; "
      f"between the class means: {class_means.std(axis=0).mean():.3f}")
assert np.abs(s[a] - s[b]).max() > 1e-3      # the weights do depend on the input

# %% [markdown] lang="ko"
# 이 작은 SE 블록이 배운 것은 대부분 채널마다 고정된 가중치다: 어떤 채널은 모든 입력에서 낮춰지고,
# 어떤 채널은 높여진다. 입력에 따라 달라지는 부분은 여기서 100분의 몇 정도이고, 한 클래스가 나머지와
# 다른 곳에서 가장 크다. 이는 SENet 논문이 앞쪽 층에 대해 보고한 것 (모든 클래스에서 거의 같은
# 재조정)과 맞는다; 논문의 깊은 층에서는 가중치가 클래스마다 달라지는데, 몇 초 학습한 2층 신경망은
# 그것을 보여 줄 만큼 깊지 않다.

# %% [markdown] lang="en"
# Most of what this small SE block learned is a fixed weight per channel: some channels are
# turned down for every input, others up. The part that depends on the input is a few
# hundredths here, largest where a class differs from the rest. That matches what the SENet
# paper reports for early layers (nearly the same excitation for every class); in its deep
# layers the weights become class-specific, which a two-layer network trained for seconds
# does not have the depth to show.

# %% [markdown] lang="ko"
# SE-ResNet-50에서는 SE 블록 (r = 16)이 모든 **병목** (bottleneck) 안, **숏컷** (shortcut)을 더하기
# 전의 **잔차** (residual) 가지 위에 놓인다. deck 003은 이것이 비용을 별로 늘리지 않는다고 한다
# ("연산량을 많이 증가시키지 않고"): 파라미터가 10%쯤 늘고, 블록마다 곱셈-누산 2C^2/r번이 블록
# 전체의 수백만 번에 더해질 뿐이다.

# %% [markdown] lang="en"
# In SE-ResNet-50 an SE block (r = 16) sits in every bottleneck, on the residual branch before
# the shortcut is added. Deck 003 says it adds little ("연산량을 많이 증가시키지 않고"): about
# 10% more parameters, and per block 2C^2/r MACs against the block's millions.

# %%
sn.manual_seed(0)
r50, se50 = models.resnet50(), models.se_resnet50()
p50, pse = sum(p.numel() for p in r50.parameters()), sum(p.numel() for p in se50.parameters())
print(f"ResNet-50 {p50:,} parameters, SE-ResNet-50 {pse:,}: +{pse / p50 - 1:.1%}")
assert 0.05 < pse / p50 - 1 < 0.15
block = se50.layer1[0]
s_block = sn.summary(block, (64, 56, 56), verbose=False)
se_macs = sum(row.macs for row in s_block.rows if row.name.startswith("se."))
print(f"first SE bottleneck at 56x56: {s_block.total_macs:,} MACs, of which the SE block "
      f"{se_macs:,} ({se_macs / s_block.total_macs:.4%})")
assert se_macs == 2 * 256 * 256 // 16

# %% [markdown] lang="ko"
# ## ImageNet 경주를 모델 모음에서 확인하기
#
# deck 004의 ILSVRC 우승 모델 목록은 신경망마다 깊이를 적는데, 입력에서 출력까지 가장 긴 경로에 있는
# 가중치 있는 층의 수로 센 것이다 (나란한 가지는 한 번만 센다; 인셉션 블록은 2층, 병목은 3층).
# **모델 모음** (model zoo)의 모델들을 같은 방식으로 센다:

# %% [markdown] lang="en"
# ## The ImageNet race, checked against the zoo
#
# Deck 004's list of ILSVRC winners gives each network's depth, counted as the layers with
# weights on the longest path from input to output (branches side by side count once; an
# Inception block is 2 deep, a bottleneck 3). We count the same way on the zoo's models:

# %%
def depth(module):
    """Convolutions and fully connected layers on the longest input-to-output path."""
    if hasattr(module, "receptive_paths"):
        return max((sum(depth(m) for m in path) for path in module.receptive_paths()),
                   default=0)
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 1
    return sum(depth(child) for child in module.children())


def millions(model):
    return sum(p.numel() for p in model.parameters()) / 1e6


sn.manual_seed(0)
zoo = {"AlexNet": models.alexnet(), "ZFNet": models.zfnet(),
       # the initial values do not matter for counting; VGG's own init takes longer
       "VGG-19": models.vgg19(init_weights=False), "GoogLeNet": googlenet,
       "ResNet-152": models.resnet152()}
check("2012 AlexNet: layers", 8, depth(zoo["AlexNet"]), ko="2012 AlexNet: 층 수")
check("2012 AlexNet: parameters (millions)", 61, round(millions(zoo["AlexNet"])),
      ko="2012 AlexNet: 파라미터 (백만 개)")
check("2013 ZFNet: layers", 8, depth(zoo["ZFNet"]), ko="2013 ZFNet: 층 수")
check("2014 VGG: layers", 19, depth(zoo["VGG-19"]), ko="2014 VGG: 층 수")
check("2014 GoogLeNet: layers", 22, depth(zoo["GoogLeNet"]), ko="2014 GoogLeNet: 층 수")
check("2015 ResNet: layers", 152, depth(zoo["ResNet-152"]), ko="2015 ResNet: 층 수")
# counted the same way, DenseNet-121 and ResNet-50 have the depths in their names
assert depth(densenet) == 121 and depth(r50) == 50
print(f"DenseNet-121: {depth(densenet)} layers, ResNet-50: {depth(r50)}, SE-ResNet-50: "
      f"{depth(se50)} (its SE blocks add two fully connected layers per block)")

# %% [markdown] lang="ko"
# 모델 모음의 ZFNet은 논문의 Figure 3을 따른다: GPU 하나에 AlexNet의 필터 수, 첫 층은 11x11/4 대신
# 7x7/2. 슬라이드의 "더 많은 필터"는 ZFNet 논문이 함께 보고한 더 큰 변형으로, conv3-5에 필터가 512,
# 1024, 512개다.
#
# GoogLeNet의 "파라미터 500만 개"는 세어 보면 맞지 않는다. 이 수는 GoogLeNet이 AlexNet보다
# 파라미터를 12배 적게 쓴다는 논문의 언급에서 나왔다 (61 / 12 = 510만). 논문 Table 1의 층을 더하면
# (5x5 커널, 가중치만) 700만 개이고, 그중 마지막 **분류기** (classifier)가 100만 개를 가진다; "5x5"
# 가지에 3x3 커널을 쓰는 torchvision 판은 660만 개다. Table 1을 가지 폭만으로 손으로 세고, 논문의
# 5x5 커널로 만든 모음의 모델과 비교한다:

# %% [markdown] lang="en"
# The zoo's ZFNet follows the paper's Figure 3: AlexNet's filter counts on one GPU, with a
# 7x7/2 first layer instead of 11x11/4. The slide's "more filters" is a larger variant the
# ZFNet paper also reports, with 512, 1024 and 512 filters in conv3-5.
#
# GoogLeNet's "5 million parameters" does not survive counting. It comes from the paper's
# remark that GoogLeNet uses 12 times fewer parameters than AlexNet (61 / 12 = 5.1 million).
# Adding up the layers of the paper's Table 1 (its 5x5 kernels, weights only) gives 7.0
# million, of which the final classifier holds 1.0 million; torchvision's version, with 3x3
# kernels in the "5x5" branch, has 6.6 million. We count Table 1 by hand, from the branch
# widths alone, and compare with the zoo's model built with the paper's 5x5 kernels:

# %%
table1 = [  # #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
    (64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64),                        # 3a, 3b
    (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
    (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128),                  # 4a-4e
    (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)]                # 5a, 5b
by_hand = 7 * 7 * 3 * 64 + 64 * 64 + 3 * 3 * 64 * 192      # stem: 7x7 conv, 1x1, 3x3
c = 192
for n1, r3, n3, r5, n5, pp in table1:
    by_hand += c * n1 + c * r3 + 9 * r3 * n3 + c * r5 + 25 * r5 * n5 + c * pp
    c = n1 + n3 + n5 + pp
by_hand += c * 1000                                         # the classifier, 1024 -> 1000
paper_layout = models.googlenet(large_kernel=5)
ours = sum(m.weight.numel() for m in paper_layout.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
slide_is_wrong("2014 GoogLeNet: parameters", 5_000_000, round(61e6 / 12, -6), by_hand, ours,
               "61M / 12, rounded; the layers of the paper's Table 1 add up to "
               f"{by_hand / 1e6:.1f} million weights",
               ko="2014 GoogLeNet: 파라미터",
               why_ko="6100만 / 12를 반올림한 값이다; 논문 Table 1의 층을 더하면 가중치가 "
                      f"{by_hand / 1e4:,.0f}만 개다")
print(f"torchvision's layout: {millions(googlenet):.1f} million parameters")

# %% [markdown] lang="ko"
# 이 목록과 함께 누구나 보여 주는 그래프: ILSVRC의 top-5 분류 오류율을 연도별로 (대회와 논문들이
# 보고한 수치; 2014년 VGG는 GoogLeNet에 이어 2위였다) 깊이와 함께 놓는다. deck 003: ResNet부터는
# 우승 모델의 오류율이 훈련받은 사람 주석자에게서 잰 5.1%보다 낮다.

# %% [markdown] lang="en"
# The chart everyone shows with this list: ILSVRC's top-5 classification error by year (the
# figures reported by the challenge and the papers; VGG came second in 2014, behind
# GoogLeNet) against depth. Deck 003: from ResNet on,
# the winners' error is below the 5.1% measured for a trained human annotator.

# %%
history = [("2010", "(shallow)", 28.2, None), ("2011", "(shallow)", 25.8, None),
           ("2012", "AlexNet", 16.4, "AlexNet"), ("2013", "ZFNet", 11.7, "ZFNet"),
           ("2014", "VGG (2nd)", 7.3, "VGG-19"), ("2014", "GoogLeNet", 6.7, "GoogLeNet"),
           ("2015", "ResNet", 3.57, "ResNet-152")]
fig, ax = pyplot.subplots(figsize=(9, 3.8))
xs = np.arange(len(history))
bars = ax.bar(xs, [h[2] for h in history], color="C0")
ax.bar_label(bars, [f"{h[2]}%" for h in history], fontsize=8)
ax.axhline(5.1, color="C3", ls="--", lw=1)
ax.text(len(history) - 0.5, 5.6, "human: 5.1%", color="C3", ha="right", fontsize=8)
ax.set_xticks(xs, [f"{h[0]}\n{h[1]}" for h in history], fontsize=8)
ax.set(ylabel="top-5 error (%)", title="ILSVRC classification, best entries: error down, "
                                       "depth up")
ax2 = ax.twinx()
ax2.plot([x for x, h in zip(xs, history) if h[3]],
         [depth(zoo[h[3]]) for h in history if h[3]], "o-", color="C1")
ax2.set_ylabel("layers (counted on the zoo's models)", color="C1")
savefig(fig, "ilsvrc_history")
