# %% [markdown] lang="ko"
# # GAN: 생성자와 판별자
#
# "딥러닝팀 1팀" (deck 003)의 "Image Generation — GAN" 슬라이드 네 장과 "딥러닝의 통계적이해
# 8강" (deck 002)의 마지막 슬라이드 (다음 시간: 오토인코더와 GAN)를 따라갑니다.

# %% [markdown] lang="en"
# # GANs: generator and discriminator
#
# Follows the four "Image Generation — GAN" slides of "딥러닝팀 1팀" (deck 003) and the closing
# slide of "딥러닝의 통계적이해 8강" (deck 002), which announces autoencoders and GANs.

# %% [markdown] lang="ko"
# ## 두 모델의 게임
#
# **생성적 적대 신경망** (generative adversarial network), 곧 GAN은 두 모델로 이루어집니다.
# **생성자** (generator) G는 잡음 z에서 가짜 이미지 G(z)를 만들고,
# **판별자** (discriminator) D는 이미지가 진짜일 확률 sigma(D(x))를 냅니다. 덱의 말대로 "두 모델은 서로를
# 적대적으로 학습하며 서로의 성능을 향상시킵니다". D는 진짜에 1, 가짜에 0을 맞히는 이진
# 교차 엔트로피를 줄입니다. G가 데이터 분포를 완벽히 흉내 내면 최적의 D는 어디서나 1/2을
# 내고, 그때 D의 손실은 2 log 2 = 1.386 입니다 (Goodfellow et al. 2014의 정리 1: 게임의 값
# -log 4).

# %% [markdown] lang="en"
# ## A game of two models
#
# A generative adversarial network (GAN) has two models. The generator G turns noise z into a
# fake image G(z); the discriminator D gives sigma(D(x)), the probability that an image is
# real. In the deck's words, "the two models train adversarially and improve each other". D
# minimises the binary cross-entropy of calling real images 1 and fakes 0. When G imitates
# the data distribution perfectly, the best D says 1/2 everywhere and its loss is 2 log 2 =
# 1.386 (Goodfellow et al. 2014, Theorem 1: the value of the game is -log 4).

# %%
import numpy as np

import scratchnet as sn
from scratchnet import gan
from scratchnet.lesson import check, fast, header, plt, savefig

header("\"딥러닝팀 1팀\" (deck 003) and deck 002's closing slide",
       "Image Generation — GAN (4 slides)", "GANs", ko="GAN")
pyplot = plt()
half = sn.tensor(np.zeros(4))                      # D's logit 0: sigma = 1/2
check("D's loss when it can only guess", round(2 * np.log(2), 6),
      round(gan.discriminator_loss(half, half).item(), 6), ko="D가 찍을 수밖에 없을 때의 손실")

# %% [markdown] lang="ko"
# ## 생성자의 두 가지 손실
#
# 게임 그대로라면 G는 log(1 - sigma(D(G(z))))를 줄입니다 (**미니맥스 손실** (minimax loss)).
# 그러나 학습 초기에 D가 가짜를 쉽게 알아보면 (로짓 -5, sigma = 0.0067) 이 손실의 기울기는
# sigma(-5) = 0.0067로 거의 0입니다. 논문이 권하는 **비포화 손실** (non-saturating loss)
# -log sigma(D(G(z)))는 같은 지점에서 기울기가 1 - sigma(-5) = 0.9933 입니다.

# %% [markdown] lang="en"
# ## The generator's two losses
#
# Played as the game, G minimises log(1 - sigma(D(G(z)))) (the minimax loss). But early in
# training D spots fakes easily (logit -5, sigma = 0.0067), and there this loss's gradient is
# sigma(-5) = 0.0067, almost nothing. The paper's non-saturating loss -log sigma(D(G(z))) has
# gradient 1 - sigma(-5) = 0.9933 at the same point.

# %%
for loss, want, ko in (("minimax", 1 / (1 + np.exp(5)), "미니맥스"),
                       ("non-saturating", 1 / (1 + np.exp(-5)), "비포화")):
    t = sn.tensor(np.array([-5.0]), requires_grad=True)
    gan.generator_loss(t, loss).backward()
    check(f"|gradient| of the {loss} loss at logit -5", round(want, 4),
          round(abs(float(t.grad.data[0])), 4), ko=f"로짓 -5에서 {ko} 손실의 기울기 크기")

# %% [markdown] lang="ko"
# ## 학습하며 보는 표본
#
# scikit-learn의 8x8 손글씨 숫자 1,797장으로 두 손실을 나란히 학습합니다 (빠른 모드는 Goodfellow
# 2014의 MLP GAN을 잠깐, 전체 실행은 DCGAN: 전치 합성곱, 배치 정규화, ReLU의 생성자와
# 스트라이드 합성곱, leaky ReLU의 판별자, Adam beta1 = 0.5). 같은 잡음 z에서 나온 표본을 에폭마다
# 한 줄씩 그립니다.

# %% [markdown] lang="en"
# ## Samples through training
#
# The two losses train side by side on scikit-learn's 1,797 8x8 handwritten digits (fast mode:
# Goodfellow 2014's MLP GAN, briefly; the full run: DCGAN, a generator of transposed
# convolutions, batch norm and ReLU against a discriminator of strided convolutions and leaky
# ReLU, Adam with beta1 = 0.5). Each row shows the samples of the same noise z after one more
# epoch.

# %%
images, labels = gan.load_real("digits")
judge = gan.train_judge(images, labels, epochs=2 if fast() else 8)
print(f"judge: a classifier of real digits, held-out accuracy {judge[1]:.1%}")
runs = {}
for loss in gan.LOSSES:
    runs[loss] = gan.train("gan" if fast() else "dcgan", "digits", loss,
                           epochs=2 if fast() else 10, steps_per_epoch=6 if fast() else None,
                           lr=1e-3 if fast() else 2e-4, judge=judge, plots=False,
                           out=sn.lesson.output_dir() + f"/gan_{loss}", progress=False)
fig, axes = pyplot.subplots(1, 2, figsize=(8, 4))
for ax, (loss, (G, D, report)) in zip(axes, runs.items()):
    z = np.random.default_rng(0).standard_normal((32, report["nz"])).astype(np.float32)
    ax.imshow(gan.tile(gan.sample(G, z)), cmap="gray")
    ax.set_axis_off()
    ax.set_title(f"{loss}: judge confidence {report['generated']['confidence']:.2f}")
savefig(fig, "18_samples.png")

# %% [markdown] lang="ko"
# ## 모드 붕괴
#
# 판별자를 속이는 가장 쉬운 길은 그럴듯한 숫자 몇 개만 계속 만드는 것입니다. 이것이
# **모드 붕괴** (mode collapse)입니다. 진짜 숫자로 학습한 분류기에게 표본 1,000장의 클래스를
# 물으면 드러납니다: 모든 숫자를 고루 만들면 막대가 평평하고 (엔트로피 1), 붕괴하면 몇
# 클래스에 몰립니다.

# %% [markdown] lang="en"
# ## Mode collapse
#
# The easiest way to fool the discriminator is to keep making a few convincing digits: mode
# collapse. Asking the classifier trained on real digits for the classes of 1,000 samples
# shows it: a generator that makes every digit gives flat bars (entropy 1), a collapsed one
# piles them on a few classes.

# %%
fig, axes = pyplot.subplots(1, 2, figsize=(8, 3), sharey=True)
for ax, (loss, (_, _, report)) in zip(axes, runs.items()):
    g = report["generated"]
    ax.bar(range(10), g["histogram"])
    ax.set(xticks=range(10), xlabel="judged class",
           title=f"{loss}: entropy {g['entropy']:.2f}")
    print(f"{loss}: confidence {g['confidence']:.2f}, histogram {g['histogram']}")
savefig(fig, "18_class_histograms.png")
