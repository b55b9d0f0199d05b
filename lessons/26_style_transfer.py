# %% [markdown] lang="ko"
# # 신경망 스타일 변환: 그람 행렬, 두 손실, alpha와 beta
#
# "CNN 응용 사례" (deck 000)의 "Style transfer", "Style 합성", "Style loss", "Content loss",
# "전체 loss" 슬라이드와 "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)의
# "스타일 변환" 슬라이드를 따라갑니다. **스타일 변환** (style transfer)은 사진 C의 내용과 그림
# S의 스타일을 합친 새 이미지 G를 만듭니다. 학습하는 것은 네트워크가 아니라 이미지의 픽셀입니다.

# %% [markdown] lang="en"
# # Neural style transfer: Gram matrices, two losses, alpha and beta
#
# Follows the "Style transfer", "Style 합성" (style synthesis), "Style loss", "Content loss" and
# "전체 loss" (total loss) slides of "CNN 응용 사례" (CNN applications, deck 000), and the
# "스타일 변환" (style transfer) slides of "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용"
# (deck 002). Style transfer makes a new image G with the content of a photo C and the style of
# a picture S. What is trained is not the network but the pixels of the image.

# %%
import numpy as np

import scratchnet as sn
from scratchnet import style
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.vgg import CONFIGS

header("CNN 응용 사례 (deck 000), 딥러닝의 통계적이해 8강: 합성곱 신경망의 응용 (deck 002)",
       "Style transfer; Style 합성; Style loss; Content loss; 전체 loss; 스타일 변환",
       "Neural style transfer", ko="신경망 스타일 변환")
pyplot = plt()
sn.manual_seed(0)
SIZE = 40 if fast() else 128       # longer side of the images, in pixels
STEPS = 6 if fast() else 60        # optimisation steps (one loss evaluation each)

# %% [markdown] lang="ko"
# ## 그람 행렬을 손으로
#
# 층 l의 **특징 맵** (feature map)을 채널마다 한 줄로 펼치면 N_l x M_l 행렬 F가 됩니다
# (N_l: 채널 수, M_l = H x W: 위치 수). 덱의 **그람 행렬** (Gram matrix)은
#
#     G_ij = sum_k F_ik F_jk,   곧 G = F F^T   (N_l x N_l)
#
# 입니다. 채널 2개, 2 x 2 맵으로 계산해 봅니다. 채널 1 = [[1, 2], [0, 1]], 채널 2 =
# [[0, 1], [3, 1]] 이면 F의 두 줄은 (1, 2, 0, 1)과 (0, 1, 3, 1)이고
# G_11 = 1 + 4 + 0 + 1 = 6, G_12 = 0 + 2 + 0 + 1 = 3, G_22 = 0 + 1 + 9 + 1 = 11 입니다.
# G_12는 두 채널이 같은 위치에서 함께 켜지는 정도입니다. 위치 k에 대해 더하므로 픽셀을 섞어도
# G는 그대로입니다. 그래서 G는 "어디에 무엇이 있는지"가 아니라 "어떤 무늬들이 함께 나오는지",
# 곧 스타일을 담습니다 (deck 002: "채널 간 상관관계").

# %% [markdown] lang="en"
# ## The Gram matrix by hand
#
# Flatten each channel of layer l's feature map into a row: an N_l x M_l matrix F (N_l
# channels, M_l = H x W positions). The deck's Gram matrix is
#
#     G_ij = sum_k F_ik F_jk,   that is G = F F^T   (N_l x N_l)
#
# Two channels on a 2 x 2 map: channel 1 = [[1, 2], [0, 1]], channel 2 = [[0, 1], [3, 1]], so
# the rows of F are (1, 2, 0, 1) and (0, 1, 3, 1), and G_11 = 1 + 4 + 0 + 1 = 6,
# G_12 = 0 + 2 + 0 + 1 = 3, G_22 = 0 + 1 + 9 + 1 = 11. G_12 says how much the two channels
# fire together at the same place. The sum runs over the positions k, so shuffling the pixels
# leaves G as it is: G holds not "what is where" but "which patterns occur together", the
# style (deck 002: "채널 간 상관관계", the correlation between channels).

# %%
fmap = np.array([[[1.0, 2.0], [0.0, 1.0]],
                 [[0.0, 1.0], [3.0, 1.0]]])          # (C, H, W) = (2, 2, 2), float64
G = style.gram_matrix(sn.tensor(fmap)).data
print("G =\n", G)
check("G_11", 6.0, G[0, 0], ko="G_11")
check("G_12 = G_21", 3.0, G[0, 1], ko="G_12 = G_21")
check("G_22", 11.0, G[1, 1], ko="G_22")
shuffled = fmap.reshape(2, 4)[:, [3, 0, 2, 1]].reshape(2, 2, 2)
print("G of the map with its pixels shuffled:\n", style.gram_matrix(sn.tensor(shuffled)).data)

# %% [markdown] lang="ko"
# ## 스타일 손실
#
# 생성 이미지의 그람 행렬 G와 스타일 이미지의 그람 행렬 A를 비교하는 **스타일 손실**
# (style loss)은 층마다
#
#     E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2
#
# 이고, 전체 스타일 손실은 층별 가중치 w_l을 곱해 더한 sum_l w_l E_l 입니다. 덱이 쓰는 층은
# conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 입니다. 위의 맵에 A = [[4, 3], [3, 9]]이면
# G - A = [[2, 0], [0, 2]], 제곱의 합 8, N = 2, M = 4 이므로 E = 8 / (4 x 4 x 16) = 1/32
# = 0.03125 입니다. 1/4는 기울기를 깔끔하게 만듭니다. G = F F^T가 F를 두 번 쓰고 제곱이 2를
# 내므로 dE/dF = (G - A) F / (N^2 M^2) 입니다. 이 기울기를 직접 써 보는 연습 문제가
# `scratchnet exercise check style_loss` 입니다.

# %% [markdown] lang="en"
# ## The style loss
#
# The style loss compares the Gram matrix G of the generated image with the style image's A,
# layer by layer,
#
#     E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2
#
# and the total style loss weighs the layers, sum_l w_l E_l. The deck's layers are conv1_1,
# conv2_1, conv3_1, conv4_1 and conv5_1. With the map above and A = [[4, 3], [3, 9]]:
# G - A = [[2, 0], [0, 2]], the squares sum to 8, N = 2 and M = 4, so E = 8 / (4 x 4 x 16) =
# 1/32 = 0.03125. The 1/4 makes the gradient tidy: G = F F^T uses F twice and the square brings
# a 2, so dE/dF = (G - A) F / (N^2 M^2). Writing that gradient yourself is the exercise
# `scratchnet exercise check style_loss`.

# %%
A = np.array([[4.0, 3.0], [3.0, 9.0]])
f = sn.tensor(fmap, requires_grad=True)
E = style.style_loss(f, A)
check("E_l for the 2-channel example", 1 / 32, E.item(), ko="2채널 예의 E_l")
E.backward()
by_hand = (np.diag([2.0, 2.0]) @ fmap.reshape(2, 4) / (2 ** 2 * 4 ** 2)).reshape(2, 2, 2)
check("dE/dF = (G - A) F / (N^2 M^2)", by_hand.tolist(), f.grad.data.tolist(),
      ko="dE/dF = (G - A) F / (N^2 M^2)")
check("the deck's style layers", "conv1_1, conv2_1, conv3_1, conv4_1, conv5_1",
      ", ".join(style.STYLE_LAYERS), ko="덱의 스타일 층")

# %% [markdown] lang="ko"
# ## 콘텐츠 손실
#
# **콘텐츠 손실** (content loss)은 conv4_2의 특징 맵끼리 비교합니다. 생성 이미지의 맵 F와
# 콘텐츠 이미지의 맵 P에 대해
#
#     L_content = 1/2 sum_ij (F_ij - P_ij)^2
#
# 입니다. F = [[1, 2], [3, 4]], P = [[1, 1], [1, 1]]이면 차이 0, 1, 2, 3의 제곱 합이 14이고
# L = 7 입니다. 덱은 1/2 대신 1/(4 * P.size)를 쓰면 더 빨리 수렴한다고 알려져 있다고 덧붙입니다
# (P.size는 P의 원소 수, 여기서 4): 14 / 16 = 0.875. 이 계수는 beta에 1/(2 * P.size)를
# 곱한 것과 같습니다. 그래서 "더 빠른 수렴"은 콘텐츠 가중치를 줄여 스타일 쪽으로 옮긴 효과입니다.

# %% [markdown] lang="en"
# ## The content loss
#
# The content loss compares feature maps at conv4_2: for the generated image's map F and the
# content image's map P,
#
#     L_content = 1/2 sum_ij (F_ij - P_ij)^2
#
# With F = [[1, 2], [3, 4]] and P = [[1, 1], [1, 1]] the differences 0, 1, 2, 3 square to a
# sum of 14, so L = 7. The deck adds that 1/(4 * P.size) instead of 1/2 is known to converge
# faster (P.size: the number of entries of P, here 4): 14 / 16 = 0.875. That factor is the same
# as multiplying beta by 1/(2 * P.size), so the "faster convergence" is the effect of weighing
# content less, towards the style.

# %%
F_map = sn.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
P_map = np.ones((2, 2))
check("content loss, 1/2", 7.0, style.content_loss(F_map, P_map).item(), ko="콘텐츠 손실, 1/2")
check("content loss, 1/(4 * P.size)", 0.875,
      style.content_loss(F_map, P_map, factor="size").item(), ko="콘텐츠 손실, 1/(4 * P.size)")
check("the deck's content layer", "conv4_2", style.CONTENT_LAYER, ko="덱의 콘텐츠 층")

# %% [markdown] lang="ko"
# ## VGG-19와 그 층 이름
#
# 덱은 ImageNet으로 학습해 둔 **사전학습된 모형** (pretrained model) VGG-19를 씁니다.
# 19는 가중치가 있는 층의 수입니다: 합성곱 16개와 완전 연결 층 3개. scratchnet의 VGG-19는
# torchvision과 같은 순서로 층을 쌓으므로
# conv1_1 ... conv5_1, conv4_2는 `features`의 번호로 정해집니다 (`style.VGG19_LAYERS`).
#
# 솔직하게 밝혀 둡니다: ImageNet 가중치 파일은 오프라인으로 설치할 수 있는 패키지에 들어 있지
# 않습니다. 파일이 캐시에 없으면 아래 셀은 그렇다고 한 줄로 말하고 **무작위 가중치**
# (random weights)의 VGG-19를 씁니다. He, Wang, Hopcroft (NeurIPS 2016, "A Powerful
# Generative Model Using Random Weights for the Deep Image Representation")는 학습하지 않은
# VGG의 특징도 스타일과 내용을 담는다는 것을 보였습니다. 결과는 사전학습 특징과 다르게
# 보입니다. 가중치가 있으면 두 결과를 나란히 보여 줍니다.

# %% [markdown] lang="en"
# ## VGG-19 and its layer names
#
# The deck uses a pretrained VGG-19. 19 is the number of layers with weights: 16 convolutions
# and 3 fully connected layers. scratchnet's VGG-19 stacks its layers in torchvision's order,
# so conv1_1 ... conv5_1 and conv4_2 are indices into `features` (`style.VGG19_LAYERS`).
#
# Said plainly: the ImageNet weight file does not ship in any package this project can
# install offline. When the file is not in the cache, the cell below says so in one line and
# uses a VGG-19 with random weights. He, Wang and Hopcroft (NeurIPS 2016, "A Powerful
# Generative Model Using Random Weights for the Deep Image Representation") showed that the
# features of an untrained VGG still carry style and content; the results look different
# from pretrained ones. With the weights present, both are shown side by side.

# %%
convs = sum(1 for v in CONFIGS["E"] if v != "M")
check("VGG-19: layers with weights (16 conv + 3 fc)", 19, convs + 3,
      ko="VGG-19: 가중치가 있는 층 (합성곱 16 + 완전 연결 3)")
for name in style.STYLE_LAYERS + (style.CONTENT_LAYER,):
    print(f"{name}: features[{style.VGG19_LAYERS[name]}] (its ReLU: "
          f"features[{style.layer_index(name)}])")
features, pretrained = style.vgg19_features()
layers = style.STYLE_LAYERS + (style.CONTENT_LAYER,)
extractor = style.VGGFeatures(features, layers)

# %% [markdown] lang="ko"
# ## alpha와 beta: 스타일과 내용 사이
#
# 덱의 전체 손실은 loss = alpha * style_loss + beta * content_loss 입니다 (Gatys 등의 논문은
# 글자를 바꿔 alpha를 내용에, beta를 스타일에 붙입니다. 중요한 것은 비율입니다). 콘텐츠
# 이미지에서 출발해 픽셀을 L-BFGS로 고칩니다. beta = 1로 두고 alpha를 100배씩 키우면 왼쪽에서
# 오른쪽으로 "Content loss에 더 강한 가중치"에서 "Style loss에 더 강한 가중치"로 갑니다.
# 콘텐츠는 scikit-image의 고양이 사진, 스타일은 염색된 조직 사진입니다.
# 균형점은 이미지 크기에 따라 움직입니다. L_content는 conv4_2의 위치 M개에 대해 더하고 E_l은
# M^2로 나누므로, 큰 이미지일수록 같은 모습을 얻는 데 더 큰 alpha가 필요합니다.

# %% [markdown] lang="en"
# ## Alpha and beta: between style and content
#
# The deck's total loss is loss = alpha * style_loss + beta * content_loss (Gatys et al. swap
# the letters, alpha for content and beta for style; what matters is the ratio). Starting from
# the content image, L-BFGS updates the pixels. With beta = 1 and alpha growing 100-fold at a
# time, the strip goes from "Content loss에 더 강한 가중치" (more weight on content) on the left
# to "Style loss에 더 강한 가중치" (more weight on style) on the right. The content is
# scikit-image's cat photo, the style its stained-tissue picture.
# Where the balance sits depends on the image size: L_content sums over the M positions of
# conv4_2 while E_l divides by M^2, so a larger image needs a larger alpha for the same look.

# %%
content = style.prepare(style.load_image("chelsea"), SIZE)
style_img = style.prepare(style.load_image("immunohistochemistry"), content.shape[-2:])
alphas = [1e4, 1e6, 1e8]
results = {}
for alpha in alphas:
    objective = style.StyleTransfer(extractor, content, style_img, alpha=alpha, beta=1.0)
    image, history = style.synthesize(objective, content, STEPS, "lbfgs")
    results[alpha] = (image, history)
    with sn.no_grad():
        _, s, c = objective.loss(sn.tensor(image))
    print(f"alpha {alpha:.0e}: style loss {s.item():.3g}, content loss {c.item():.3g} after "
          f"{STEPS} steps ({history[-1][3]} loss evaluations)")
fig, axes = pyplot.subplots(1, len(alphas) + 2, figsize=(3 * (len(alphas) + 2), 3))
panels = [("content", content)] + [(f"alpha = {a:.0e}", results[a][0]) for a in alphas] + \
    [("style", style_img)]
for ax, (title, img) in zip(axes, panels):
    ax.imshow(style.to_hwc(img))
    ax.set_title(title)
    ax.axis("off")
savefig(fig, "26_alpha_beta_strip.png")

# %% [markdown] lang="ko"
# ## L-BFGS와 Adam
#
# Gatys 등은 L-BFGS로 픽셀을 고쳤습니다. L-BFGS는 최근 몇 걸음의 기울기 변화로 곡률을
# 어림해 방향을 고치는 **준뉴턴 방법** (quasi-Newton method)입니다. 한 걸음마다 강한 Wolfe
# 조건의 선 탐색으로 걸음 길이를 정하므로 손실을 한 번 넘게 계산하기도 합니다. 그래서 Adam에게
# 같은 횟수의 손실 계산을 주고 비교합니다 (`scratchnet.optim.LBFGS`는 torch.optim.LBFGS와 같은
# 반복값을 냅니다).

# %% [markdown] lang="en"
# ## L-BFGS and Adam
#
# Gatys et al. updated the pixels with L-BFGS, a quasi-Newton method that estimates the
# curvature from how the gradient changed over the last few steps and bends the direction
# accordingly. Each step picks its length by a line search for the strong Wolfe conditions,
# which may evaluate the loss more than once, so Adam gets the same number of loss
# evaluations (`scratchnet.optim.LBFGS` follows torch.optim.LBFGS iterate for iterate).

# %%
objective = style.StyleTransfer(extractor, content, style_img, alpha=1e6, beta=1.0)
curves = {"lbfgs": results[1e6][1]}
budget = curves["lbfgs"][-1][3]          # Adam gets as many loss evaluations as L-BFGS used
_, curves["adam"] = style.synthesize(objective, content, budget, "adam")
fig, ax = pyplot.subplots(figsize=(5, 3.5))
for name, history in curves.items():
    ax.semilogy([h[3] for h in history], [h[0] for h in history], label=name)
    print(f"{name}: total loss {history[0][0]:.4g} -> {history[-1][0]:.4g} in "
          f"{history[-1][3]} loss evaluations")
ax.set(xlabel="loss evaluations", ylabel="alpha * style + beta * content",
       title="alpha = 1e6, beta = 1")
ax.legend()
savefig(fig, "26_lbfgs_vs_adam.png")

# %% [markdown] lang="ko"
# ## 무작위 특징과 사전학습 특징
#
# ImageNet 가중치가 있으면 같은 설정으로 무작위 가중치의 결과를 옆에 놓습니다. 없으면 무작위
# 특징의 결과만 있고, 그렇다고 말합니다.

# %% [markdown] lang="en"
# ## Random features and pretrained features
#
# With ImageNet weights present, the result of random weights goes next to it, same settings.
# Without them there is only the random-feature result, and the cell says so.

# %%
if pretrained:
    random_extractor = style.VGGFeatures(style.random_vgg19_features(), layers)
    objective = style.StyleTransfer(random_extractor, content, style_img, alpha=1e6, beta=1.0)
    random_image, _ = style.synthesize(objective, content, STEPS, "lbfgs")
    pair = [("pretrained VGG-19", results[1e6][0]), ("random VGG-19", random_image)]
else:
    print("ImageNet weights are not in the cache: only random VGG-19 features are shown")
    pair = [("random VGG-19", results[1e6][0])]
fig, axes = pyplot.subplots(1, len(pair), figsize=(3.5 * len(pair), 3.5), squeeze=False)
for ax, (title, img) in zip(axes[0], pair):
    ax.imshow(style.to_hwc(img))
    ax.set_title(title)
    ax.axis("off")
savefig(fig, "26_random_vs_pretrained.png")
