# %% [markdown] lang="ko"
# # CNN의 속을 들여다보기
#
# 두 덱을 따라갑니다:
#
# - CNN 기초 (deck 004): "합성곱층의 이해" (3x32x32 이미지, 3x5x5 **필터** (filter) 6개로
#   **활성화 맵** (activation map) 6개, 이미지 2개면 6개짜리 2세트), "필터의 시각화 및 의미"
#   ("첫번째 합성곱층은 국지적 이미지 템플릿이다 (방향성 모서리, 색상 대조 등)", AlexNet: 64
#   filters, each 3 x 11 x 11), 그리고 "ImageNet 대회"의 2013년 ZFNet. ZFNet은 Zeiler와 Fergus가
#   디컨브넷으로 AlexNet의 속을 들여다본 뒤 고친 망입니다.
# - CNN 응용 사례 (deck 000): "DeconvNet 시각화" (Figure 4, 14 x 14에서 224 x 224까지의 활성화).
#
# 이 수업은 학습한 LeNet-5의 속을 다섯 가지 방법으로 봅니다. 첫 층의 필터, 층마다의 활성화 맵,
# Zeiler & Fergus (2014)의 디컨브넷 투영, Simonyan 등 (2014)의 **돌출 맵** (saliency map),
# Selvaraju 등 (2017)의 Grad-CAM. 모두 `scratchnet.visualize`에 있고, `scratchnet inside`
# 명령이 같은 그림을 씁니다.

# %% [markdown] lang="en"
# # Inside a CNN: filters, activation maps, deconvnet projections, saliency, Grad-CAM
#
# Follows two decks:
#
# - CNN 기초 (CNN basics, deck 004): "합성곱층의 이해" (understanding the conv layer: a 3x32x32
#   image, six 3x5x5 filters make six activation maps, two images make two sets of six), "필터의
#   시각화 및 의미" (visualising filters and what they mean: "the first conv layer is a set of
#   local image templates (oriented edges, colour contrast, ...)", AlexNet: 64 filters, each
#   3 x 11 x 11), and ZFNet, 2013, in "ImageNet 대회" (the ImageNet challenge). ZFNet is the
#   network Zeiler and Fergus built after looking inside AlexNet with their deconvnet.
# - CNN 응용 사례 (CNN applications, deck 000): "DeconvNet 시각화" (Figure 4, activations from
#   14 x 14 to 224 x 224).
#
# This lesson looks inside a trained LeNet-5 in five ways: the first layer's filters, the
# activation maps of each layer, Zeiler & Fergus's (2014) deconvnet projections, Simonyan et
# al.'s (2014) saliency maps and Selvaraju et al.'s (2017) Grad-CAM. All five are in
# `scratchnet.visualize`; the `scratchnet inside` command draws the same pictures.

# %%
import time

import numpy as np

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import DataLoader, digits
from scratchnet.inside import pretrained
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models import alexnet, lenet5, zfnet
from scratchnet.models.segmentation import deconvnet
from scratchnet.train import evaluate, fit
from scratchnet.utils import make_grid
from scratchnet.visualize import (deconv_projection, deletion_drop, feature_maps, filter_grid,
                                  grad_cam, layer_names, saliency)

header("CNN 기초 (deck 004), CNN 응용 사례 (deck 000)",
       "합성곱층의 이해; 필터의 시각화 및 의미; ImageNet 대회; DeconvNet 시각화",
       "Inside a CNN", ko="CNN의 속")
pyplot = plt()
started = time.perf_counter()
sn.manual_seed(0)

# %% [markdown] lang="ko"
# ## 훅: 층이 계산하는 것을 엿듣기
#
# **훅** (hook)은 층이 계산할 때마다 불리는 함수입니다. `register_forward_hook(hook)`은 층의
# forward가 끝난 뒤 `hook(module, inputs, output)`을 부르고, 손잡이(handle)를 돌려줍니다
# (`handle.remove()`로 뗍니다). PyTorch와 같은 이름, 같은 규칙입니다. deck 004의 예를 그대로
# 해 봅니다. 3x32x32 이미지 2장에 3x5x5 필터 6개를 적용하면, 이미지마다 활성화 맵 6개,
# 모두 6개짜리 2세트가 나옵니다. 크기는 32 - 5 + 1 = 28입니다.

# %% [markdown] lang="en"
# ## Hooks: listening to what a layer computes
#
# A hook is a function called each time a layer computes. `register_forward_hook(hook)` calls
# `hook(module, inputs, output)` after the layer's forward and returns a handle
# (`handle.remove()` takes it off): PyTorch's name and rules. Deck 004's example as it is: six
# 3x5x5 filters on two 3x32x32 images give six activation maps per image, two sets of six,
# each 32 - 5 + 1 = 28 pixels wide.

# %%
conv = nn.Conv2d(3, 6, kernel_size=5)
seen = {}
handle = conv.register_forward_hook(lambda module, inputs, output: seen.update(maps=output))
conv(sn.randn(2, 3, 32, 32))
handle.remove()
maps = seen["maps"]
print("activation maps:", tuple(maps.shape))
check("deck 004: filter shape", (3, 5, 5), tuple(conv.weight.shape[1:]), ko="deck 004: 필터 크기")
check("deck 004: 6 filters -> activation maps per image", 6, maps.shape[1],
      ko="deck 004: 필터 6개 -> 이미지당 활성화 맵 수")
check("deck 004: 2 images -> sets of 6 maps", 2, maps.shape[0],
      ko="deck 004: 이미지 2개 -> 6개짜리 맵 세트 수")

# %% [markdown] lang="ko"
# ## 숫자로 학습한 LeNet-5
#
# `scratchnet train lenet5`가 학습하는 망 그대로입니다. scikit-learn의 손글씨 숫자 1,437장(32 x 32로
# 키우고 표준화)으로 Adam을 씁니다. 빠른 모드에서는 3 에포크만 돌립니다. 디컨브넷의
# **스위치** (switches)를 보이려고, ReLU와 **최대 풀링** (max pooling)을 쓰는 같은 크기의 변형
# ("ZF식 LeNet-5")도 함께 학습합니다. LeNet-5 자신은 tanh와 **평균 풀링** (average pooling)을
# 씁니다.

# %% [markdown] lang="en"
# ## A LeNet-5 trained on the digits
#
# The network `scratchnet train lenet5` trains, on scikit-learn's 1,437 handwritten digits
# (enlarged to 32 x 32 and standardised), with Adam; three epochs in fast mode. To show the
# deconvnet's switches we also train a variant of the same size with ReLU and max pooling
# ("ZF-style LeNet-5"); LeNet-5 itself uses tanh and average pooling.

# %%
train_set, test_set = digits("train", normalize=True), digits("test", normalize=True)
epochs = 3 if fast() else 15


def train(model):
    optimizer = sn.optim.Adam(model.parameters(), lr=3e-3)
    fit(model, DataLoader(train_set, batch_size=32, shuffle=True, generator=0), optimizer,
        epochs=epochs, progress=False, log=None)
    return evaluate(model, DataLoader(test_set, batch_size=360)).accuracy


model = lenet5()
zf_style = lenet5(activation=nn.ReLU)
zf_style.features[2] = nn.MaxPool2d(2)
zf_style.features[5] = nn.MaxPool2d(2)
accuracy, zf_accuracy = train(model), train(zf_style)
print(f"LeNet-5 after {epochs} epochs: test accuracy {accuracy:.1%}; "
      f"ZF-style variant: {zf_accuracy:.1%}")
assert accuracy > (0.85 if fast() else 0.95) and zf_accuracy > (0.85 if fast() else 0.95)
model.eval()
zf_style.eval()
print("layer names:", ", ".join(layer_names(model)))

# %% [markdown] lang="ko"
# ## 첫 층의 필터와 층마다의 활성화 맵
#
# deck 004는 첫 합성곱층의 필터를 "국지적 이미지 템플릿"이라고 부릅니다. 첫 층의 필터는 픽셀과
# 같은 공간에 있으므로 그대로 그릴 수 있습니다(`filter_grid`: 필터마다 최솟값을 검정, 최댓값을
# 흰색으로). 그 아래는 시험 숫자 하나에 대한 **특징 맵** (feature map)들입니다. `feature_maps`는
# 층 이름(`features.1`은 conv1 뒤의 tanh, `features.4`는 conv2 뒤의 tanh)마다 훅을 걸어 한 번의
# forward에서 모읍니다.

# %% [markdown] lang="en"
# ## The first layer's filters and each layer's activation maps
#
# Deck 004 calls the first conv layer's filters "local image templates". They live in the same
# space as the pixels, so they can be drawn as they are (`filter_grid`: each filter's minimum
# black, its maximum white). Below them, the feature maps of one test digit: `feature_maps`
# hooks each named layer (`features.1` is the tanh after conv1, `features.4` the one after
# conv2) and collects them in one forward pass.

# %%
digit = sn.tensor(test_set.data[:1])
label = int(test_set.targets[0])
maps = feature_maps(model, digit, ["features.1", "features.4"])
print({name: m.shape for name, m in maps.items()})
assert maps["features.1"].shape == (1, 6, 28, 28) and maps["features.4"].shape == (1, 16, 10, 10)
grid = filter_grid(model, nrow=6, padding=1)
fig, axes = pyplot.subplots(3, 1, figsize=(9, 7), gridspec_kw={"height_ratios": [1, 1, 2]})
axes[0].imshow(np.moveaxis(grid, 0, -1), interpolation="nearest")
axes[0].set_title("conv1: 6 filters of 1 x 5 x 5")
axes[1].imshow(np.hstack([m for m in maps["features.1"][0]]), cmap="coolwarm", vmin=-1, vmax=1)
axes[1].set_title(f"features.1: 6 maps of 28 x 28 for a '{label}'")
conv2 = maps["features.4"][0]
axes[2].imshow(np.vstack([np.hstack(list(conv2[r * 8:(r + 1) * 8])) for r in range(2)]),
               cmap="coolwarm", vmin=-1, vmax=1)
axes[2].set_title("features.4: 16 maps of 10 x 10")
for ax in axes:
    ax.set(xticks=[], yticks=[])
fig.tight_layout()
savefig(fig, "lenet5_filters_and_maps")

# %% [markdown] lang="ko"
# ## 디컨브넷: 활성화 하나를 픽셀로 되돌리기 (Zeiler & Fergus)
#
# 한 층에서 활성화 하나만 남기고 나머지를 0으로 둔 뒤, 망을 거꾸로 내려갑니다. 층마다 세 가지를
# 합니다. 올라갈 때 최대 풀링이 고른 자리(스위치)에 값을 되돌려 놓고(**최대 언풀링**
# (max unpooling)), ReLU로 **정류** (rectification)하고, 같은 필터를 전치해서(**전치 합성곱**
# (transposed convolution)) 픽셀 쪽으로 칠합니다. 먼저 손으로 풀 수 있는 예입니다. 5 x 5 이미지의
# (2, 3)에만 1이 있고, 필터는 [[1, 2], [3, 4]]입니다. 4 x 4 합성곱 결과는 (1, 2)=4, (1, 3)=3,
# (2, 2)=2, (2, 3)=1이고, 2 x 2 최대 풀링은 4(스위치 (1, 2))와 2(스위치 (2, 2))를 남깁니다. 가장 센
# 4를 (1, 2)로 돌려 놓고 필터를 칠하면 4 x [[1, 2], [3, 4]]가 1-2행, 2-3열에 놓입니다.

# %% [markdown] lang="en"
# ## The deconvnet: one activation back to pixels (Zeiler & Fergus)
#
# Keep one activation of a layer, set the others to zero, and walk the network back down. At
# each layer, three steps: put each value back where max pooling found it on the way up (the
# switches: max unpooling), rectify with a ReLU, and paint the same filters, transposed, onto
# the pixels (a transposed convolution). First an example worked by hand: a 5 x 5 image with a
# single 1 at (2, 3) and the filter [[1, 2], [3, 4]]. The 4 x 4 convolution is 4 at (1, 2), 3
# at (1, 3), 2 at (2, 2), 1 at (2, 3); 2 x 2 max pooling keeps the 4 (switch (1, 2)) and the 2
# (switch (2, 2)). The strongest, 4, goes back to (1, 2), and the filter paints 4 x [[1, 2],
# [3, 4]] onto rows 1-2, columns 2-3.

# %%
tiny = nn.Sequential(nn.Conv2d(1, 1, 2, bias=False), nn.ReLU(), nn.MaxPool2d(2))
tiny[0].weight.data[...] = np.array([[1, 2], [3, 4]], np.float32)
x = np.zeros((1, 1, 5, 5), np.float32)
x[0, 0, 2, 3] = 1
projection = deconv_projection(tiny, sn.tensor(x), "2")[0, 0]
print(projection.astype(int))
expected = np.zeros((5, 5))
expected[1:3, 2:4] = [[4, 8], [12, 16]]
assert np.array_equal(projection, expected)

# %% [markdown] lang="ko"
# 이제 학습한 망에서. 두 번째 합성곱층(ZF식 변형의 `features.4`, ReLU 뒤)에서 가장 세게 반응한
# 채널 넷을 골라, 각 채널의 가장 센 활성화 하나를 픽셀로 되돌립니다. 그림은 그 활성화가 입력의
# 어느 부분, 어떤 획에 반응했는지 보여 줍니다. conv2의 **수용 영역** (receptive field)은
# 14 x 14이므로 투영도 그 창 안에 머뭅니다. LeNet-5 자신에는 스위치가 없습니다. 평균 풀링의
# 전치는 값을 창 전체에 고르게 나누고, tanh는 논문처럼 ReLU로 정류합니다.

# %% [markdown] lang="en"
# Now on the trained networks. For the second conv layer (`features.4` of the ZF-style variant,
# after its ReLU) we take the four channels that respond most strongly and project each one's
# strongest activation back to pixels: the picture shows which part of the input, which
# strokes, that activation responded to. conv2's receptive field is 14 x 14, so the projection
# stays inside that window. LeNet-5 itself has no switches: the transpose of average pooling
# spreads a value evenly over its window, and its tanh is rectified with a ReLU as the paper
# rectifies.

# %%
examples = [int(np.flatnonzero(test_set.targets == d)[0]) for d in (0, 3, 7)]
fig, axes = pyplot.subplots(len(examples) * 2, 5, figsize=(9, 11))
for row, i in enumerate(examples):
    x = sn.tensor(test_set.data[i:i + 1])
    for r, (net, name) in enumerate(((zf_style, "ZF-style"), (model, "LeNet-5"))):
        act = feature_maps(net, x, "features.4")["features.4"][0]
        strongest = np.argsort(-act.reshape(16, -1).max(axis=1))[:4]
        ax = axes[2 * row + r]
        ax[0].imshow(test_set.data[i, 0], cmap="gray")
        ax[0].set_title(f"{name}: digit {test_set.targets[i]}", fontsize=8)
        for k, c in enumerate(strongest):
            p = deconv_projection(net, x, "features.4", channel=int(c))[0, 0]
            nonzero = np.argwhere(p != 0)
            extent = nonzero.max(axis=0) - nonzero.min(axis=0) + 1
            assert extent.max() <= 14, extent        # inside conv2's receptive field
            ax[k + 1].imshow(p, cmap="gray")
            ax[k + 1].set_title(f"channel {c}", fontsize=8)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.tight_layout()
savefig(fig, "deconvnet_projections")

# %% [markdown] lang="ko"
# Zeiler와 Fergus의 Figure 2는 채널마다 검증 영상 전체에서 가장 센 활성화 9개를 골라, 각각의
# 투영과 그 활성화가 본 영상 조각을 나란히 보여 줍니다. 같은 것을 ZF식 LeNet-5의 conv2 채널
# 넷에 대해 시험 숫자 360개로 합니다. 조각은 conv2의 수용 영역 14 x 14입니다(맵의 (i, j)는 입력의
# 2i..2i+13행, 2j..2j+13열을 봅니다). 한 채널의 9개 투영이 서로 닮았다면, 그 채널은 숫자와
# 상관없이 같은 모양(획의 방향, 끝, 굽음)에 반응하는 것입니다.

# %% [markdown] lang="en"
# Zeiler and Fergus's Figure 2 takes, for each channel, the nine strongest activations over the
# whole validation set and shows each one's projection next to the image patch it saw. We do
# the same for four conv2 channels of the ZF-style LeNet-5 over the 360 test digits. The
# patches are conv2's 14 x 14 receptive field (position (i, j) of its map sees rows 2i..2i+13
# and columns 2j..2j+13 of the input). When the nine projections of a channel look alike, the
# channel responds to one shape (a stroke's direction, an end, a bend) whatever the digit.

# %%
all_digits = sn.tensor(test_set.data)
conv2_maps = feature_maps(zf_style, all_digits, "features.4")["features.4"]      # (360, 16, 10, 10)
peak = conv2_maps.reshape(len(test_set), 16, -1).max(axis=2)                       # (360, 16)
channels = np.argsort(-peak.max(axis=0))[:4]
fig, axes = pyplot.subplots(2, 4, figsize=(10, 5.4))
for k, c in enumerate(channels):
    top9 = np.argsort(-peak[:, c], kind="stable")[:9]
    projections = deconv_projection(zf_style, all_digits[top9], "features.4", channel=int(c))
    tiles_p, tiles_x = [], []
    for n, image_index in enumerate(top9):
        i, j = np.unravel_index(np.argmax(conv2_maps[image_index, c]), (10, 10))
        window = (slice(2 * i, 2 * i + 14), slice(2 * j, 2 * j + 14))
        p = projections[n, 0]
        assert not np.any(np.delete(p.ravel(), np.ravel_multi_index(
            np.mgrid[window].reshape(2, -1), p.shape)))           # nothing outside the window
        tiles_p.append(p[window])
        tiles_x.append(test_set.data[image_index, 0][window])
    for row, tiles in enumerate((tiles_p, tiles_x)):
        grid = make_grid(np.array(tiles)[:, None], nrow=3, padding=1, normalize=True,
                         scale_each=True, pad_value=1.0)
        axes[row, k].imshow(np.moveaxis(grid, 0, -1))
        axes[row, k].set(xticks=[], yticks=[])
    axes[0, k].set_title(f"conv2 channel {c}: top 9", fontsize=9)
axes[0, 0].set_ylabel("projections")
axes[1, 0].set_ylabel("image patches")
fig.tight_layout()
savefig(fig, "deconvnet_top9")

# %% [markdown] lang="ko"
# ## 돌출 맵과 Grad-CAM: 어느 픽셀이 답을 만들었나
#
# 돌출 맵(Simonyan 등 2014)은 **클래스 점수** (class score) S_c(softmax 전의 로짓)의
# 픽셀에 대한 **기울기** (gradient)입니다. 채널들에 걸친 |dS_c/dx|의 최댓값을 그립니다. 작은
# 변화로 점수를 가장 크게 바꾸는 픽셀이 밝습니다. Grad-CAM(Selvaraju 등 2017)은 한 층의 맵 A_k를
# 씁니다. alpha_k = mean_ij dS_c/dA_k[i, j] (기울기의 전역 평균), cam = ReLU(sum_k alpha_k A_k),
# 그다음 입력 크기로 쌍선형 업샘플링합니다. 층의 기울기는 `Tensor.register_hook`으로 읽습니다.
# 훅은 backward가 그 텐서에 이르면 기울기를 받습니다.

# %% [markdown] lang="en"
# ## Saliency and Grad-CAM: which pixels made the answer
#
# A saliency map (Simonyan et al. 2014) is the gradient of the class score S_c (the logit,
# before softmax) with respect to the pixels; we draw the maximum of |dS_c/dx| over channels.
# Bright pixels are those whose small change moves the score most. Grad-CAM (Selvaraju et al.
# 2017) uses a layer's maps A_k: alpha_k = mean_ij dS_c/dA_k[i, j] (the gradient averaged over
# the map), cam = ReLU(sum_k alpha_k A_k), then bilinear upsampling to the input's size. The
# layer's gradient is read with `Tensor.register_hook`: the hook receives the gradient when
# backward reaches that tensor.

# %%
x = sn.tensor(test_set.data[:1]).requires_grad_(True)
captured = {}


def keep_gradient(module, inputs, output):
    output.register_hook(lambda g: captured.update(grad=g.data.copy()))


handle = model.features[4].register_forward_hook(keep_gradient)
logits = model(x)
c = int(np.argmax(logits.data[0]))
logits[0, c].backward()
handle.remove()
print(f"d S_{c} / d features.4: shape {captured['grad'].shape}; "
      f"alpha (first 4 channels) {np.round(captured['grad'][0].mean(axis=(1, 2))[:4], 4)}")
model.zero_grad()

idx = examples + [int(np.flatnonzero(test_set.targets == d)[0]) for d in (1, 8)]
batch = sn.tensor(test_set.data[idx])
smap = saliency(model, batch)
cam = grad_cam(model, batch, "features.4")
ink = test_set.data[idx, 0] > test_set.data[idx, 0].mean(axis=(1, 2), keepdims=True)
on_ink = (smap * ink).sum(axis=(1, 2)) / smap.sum(axis=(1, 2))
print(f"share of the saliency on the digit's strokes: {np.round(on_ink, 2)} "
      f"(the strokes cover {np.round(ink.mean(axis=(1, 2)), 2)} of the image)")
fig, axes = pyplot.subplots(3, len(idx), figsize=(2 * len(idx), 6))
for k in range(len(idx)):
    axes[0, k].imshow(test_set.data[idx[k], 0], cmap="gray")
    axes[0, k].set_title(f"digit {test_set.targets[idx[k]]}", fontsize=9)
    axes[1, k].imshow(smap[k], cmap="hot")
    axes[2, k].imshow(test_set.data[idx[k], 0], cmap="gray")
    axes[2, k].imshow(cam[k] / max(cam[k].max(), 1e-12), cmap="jet", alpha=0.5)
axes[1, 0].set_ylabel("saliency")
axes[2, 0].set_ylabel("Grad-CAM")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.tight_layout()
savefig(fig, "saliency_and_gradcam")

# %% [markdown] lang="ko"
# 그림이 말하는 것: 돌출 맵은 획과 그 가장자리에 모이지만(획이 그림의 약 40%를 덮는데 돌출의
# 절반 남짓이 획 위에 있습니다), Grad-CAM은 숫자 '1'이나 '0'에서 획이 *없는* 자리를 비추기도
# 합니다. 숫자를 가르는 증거에는 빈 곳도 있기 때문입니다. 다른 숫자라면 획이 지나갈 자리가 비어
# 있다는 것이 '1'의 증거입니다. conv2의 10 x 10 맵에서 올라온 Grad-CAM은 거칠고, 돌출 맵은 픽셀
# 단위로 잘지만 잡음이 많습니다. 두 방법은 서로를 보완합니다.

# %% [markdown] lang="en"
# What the pictures say: the saliency gathers on the strokes and their edges (the strokes
# cover about 40% of the image and carry a little over half of the saliency), but Grad-CAM
# sometimes lights up places *without* ink, for a '1' or a '0': blank space is evidence too.
# That the places where other digits would have strokes are empty is what makes a '1'.
# Grad-CAM, coming up from conv2's 10 x 10 maps, is coarse; saliency is pixel-fine but noisy.
# The two complement each other.

# %% [markdown] lang="ko"
# ## 지도가 맞는지 어떻게 아나: 삭제 시험
#
# 그림이 그럴듯하다고 옳은 것은 아닙니다. **삭제 시험** (deletion test)은 지도가 가장 높게 꼽은
# 픽셀 10%를 배경값으로 지우고, 예측한 클래스의 로짓이 얼마나 떨어지는지 잽니다. 비교 대상은
# 획 위에서 무작위로 고른 같은 수의 픽셀, 그리고 가장 밝은 픽셀입니다. 돌출 맵과 Grad-CAM은
# 무작위 획보다 훨씬 많이 떨어뜨리지만, 가장 밝은 픽셀을 지우는 쪽이 더 많이 떨어뜨립니다.
# 기울기는 "조금 바꾸면 얼마나 변하나"(민감도)를 재지, "이 픽셀이 점수에 얼마나 보탰나"(기여)를
# 재지 않기 때문입니다.

# %% [markdown] lang="en"
# ## How do we know a map is right? A deletion test
#
# A plausible picture is not a right one. A deletion test blanks the 10% of pixels a map ranks
# highest (sets them to the background value) and measures how far the predicted class's logit
# falls; the comparisons are as many pixels chosen at random on the strokes, and the brightest
# pixels. Saliency and Grad-CAM make the logit fall much more than random strokes do, but
# blanking the brightest pixels makes it fall further still: a gradient measures sensitivity
# ("how much would a small change move the score"), not contribution ("how much did this pixel
# add to the score").

# %%
x = test_set.data[:200]
blank = np.float32(train_set.data.min())


def fall(ranking, k=102):
    """Mean fall of the predicted logit after blanking the k pixels `ranking` puts first."""
    return deletion_drop(model, x, ranking, k, blank)


noise = np.random.default_rng(0).random((len(x), 32, 32))
falls = {"saliency": fall(saliency(model, sn.tensor(x))),
         "Grad-CAM": fall(grad_cam(model, sn.tensor(x), "features.4") + 1e-9 * noise),
         "random strokes": fall(noise * ((x[:, 0] > blank + 0.5) + 1e-3 * noise)),
         "brightest": fall(x[:, 0] + 1e-6 * noise)}
for name, value in falls.items():
    print(f"blank the top 10% by {name:15s}: the logit falls by {value:.2f}")
assert falls["saliency"] > falls["random strokes"] and falls["Grad-CAM"] > falls["random strokes"]

# %% [markdown] lang="ko"
# ## AlexNet의 첫 층 필터 (deck 004의 그림)
#
# deck 004의 그림은 ImageNet으로 학습한 AlexNet의 첫 층 필터 64개(각 3 x 11 x 11)입니다. 모양은
# 가중치 없이도 확인됩니다. 그림은 torchvision의 ImageNet 가중치 파일이 캐시에 있을 때만 그립니다.
# 없으면 한 줄로 그렇다고 말하고, 무작위 가중치를 학습된 것처럼 그리지 않습니다. 그 대신 위에서
# 학습한 LeNet-5의 필터가 이 수업의 그림입니다.

# %% [markdown] lang="en"
# ## AlexNet's first-layer filters (deck 004's picture)
#
# Deck 004's picture is the 64 first-layer filters (each 3 x 11 x 11) of an AlexNet trained on
# ImageNet. Their shape can be checked without weights; the picture is drawn only when
# torchvision's ImageNet weight file is in the cache. Without it the lesson says so in one
# line and never draws random weights as if they were trained: the LeNet-5 filters above are
# this lesson's picture instead.

# %%
architecture = alexnet()
check("deck 004: AlexNet first-layer filters", 64, architecture.features[0].out_channels,
      ko="deck 004: AlexNet 첫 층 필터 수")
check("deck 004: each filter", (3, 11, 11), tuple(architecture.features[0].weight.shape[1:]),
      ko="deck 004: 필터 하나의 크기")
trained, reason = pretrained("alexnet")
if trained is None:
    print(f"no ImageNet weights for AlexNet: {reason}")
else:
    grid = filter_grid(trained, nrow=8, padding=1)
    assert grid.shape == (3, 8 * 12 + 1, 8 * 12 + 1)
    fig, ax = pyplot.subplots(figsize=(6, 6))
    ax.imshow(np.moveaxis(grid, 0, -1), interpolation="nearest")
    ax.set(title="AlexNet (ImageNet): 64 filters of 3 x 11 x 11", xticks=[], yticks=[])
    savefig(fig, "alexnet_filters")

# %% [markdown] lang="ko"
# ## 어느 층이든 이름으로: deck 000의 Figure 4와 ZFNet
#
# 훅은 모델 코드를 고치지 않고 어느 층이든 이름으로 엿듣습니다. deck 000의 DeconvNet 시각화
# (Figure 4)는 디컨볼루션 망의 맵 크기를 14 x 14에서 224 x 224까지 나열합니다. 같은 구조(채널은
# 1/64로 줄여 크기만 봅니다)의 언풀링 층과 디컨볼루션 블록에 이름으로 훅을 걸어 확인합니다. 끝으로
# deck 004의 ImageNet 연표에서 ZFNet은 8층입니다.

# %% [markdown] lang="en"
# ## Any layer by name: deck 000's Figure 4, and ZFNet
#
# Hooks listen to any layer by name without touching the model's code. Deck 000's DeconvNet
# visualisation (Figure 4) lists the deconvolution network's map sizes from 14 x 14 to
# 224 x 224; we check them by hooking the unpooling layers and deconvolution blocks of the same
# architecture (channels cut to 1/64: sizes only) by name. Last, deck 004's ImageNet timeline
# gives ZFNet 8 layers.

# %%
net = deconvnet(num_classes=21, width=1 / 64)
figure4 = ["decoder.0", "unpools.1", "decoder.1", "unpools.2", "decoder.2", "unpools.3",
           "decoder.3", "unpools.4", "decoder.4"]
sizes = feature_maps(net, sn.randn(1, 3, 224, 224), figure4)
check("deck 000, Figure 4 (b)-(j): map sizes by layer name",
      [14, 28, 28, 56, 56, 112, 112, 224, 224], [sizes[k].shape[-1] for k in figure4],
      ko="deck 000 Figure 4 (b)-(j): 층 이름으로 읽은 맵 크기")
zf = zfnet()
weighted = [n for n, m in zf.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
check("deck 004: ZFNet layers", 8, len(weighted), ko="deck 004: ZFNet 층 수")

# %% [markdown] lang="ko"
# ## 정리
#
# - 훅 두 가지: `register_forward_hook`(층의 출력)과 `Tensor.register_hook`(텐서의 기울기).
#   층 단위의 `register_full_backward_hook`(층의 입력과 출력에 대한 기울기)도 있습니다. 모두
#   PyTorch와 같은 이름과 규칙이라 그대로 옮겨 쓸 수 있습니다.
# - 필터는 첫 층만 픽셀 공간에 있습니다. 더 깊은 층은 디컨브넷 투영, 돌출 맵, Grad-CAM으로 봅니다.
# - 같은 그림을 명령으로: `scratchnet inside runs/lenet5/checkpoint.npz test:0 --out DIR`.

# %% [markdown] lang="en"
# ## Summary
#
# - Two kinds of hooks: `register_forward_hook` (a layer's output) and `Tensor.register_hook`
#   (a tensor's gradient); per layer there is also `register_full_backward_hook` (the gradients
#   with respect to a layer's inputs and outputs). All have PyTorch's names and rules, so they
#   carry over as they are.
# - Only the first layer's filters live in pixel space; deeper layers are seen through deconvnet
#   projections, saliency maps and Grad-CAM.
# - The same pictures from the command line:
#   `scratchnet inside runs/lenet5/checkpoint.npz test:0 --out DIR`.

# %%
print(f"lesson ran in {time.perf_counter() - started:.1f} s")
