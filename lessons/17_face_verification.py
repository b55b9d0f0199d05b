# %% [markdown] lang="ko"
# # 얼굴 검증: 샴 네트워크, 세 쌍 손실, ROC
#
# "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)의 얼굴 인식 부분을 따라갑니다:
# "얼굴 인식", "얼굴 식별" (슬라이드 두 장), "얼굴 검증".

# %% [markdown] lang="en"
# # Face verification: Siamese networks, the triplet loss, ROC
#
# Follows "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002), its face-recognition part:
# "얼굴 인식" (face recognition), "얼굴 식별" (face identification, two slides) and "얼굴 검증"
# (face verification).

# %% [markdown] lang="ko"
# ## 검증과 식별
#
# **얼굴 검증** (face verification)은 두 이미지가 같은 사람인지 묻고,
# **얼굴 식별** (face identification)은 이 사람이 누구인지 묻습니다. 둘 다 합성곱 신경망 f가 이미지를 벡터
# f(x), 곧 **임베딩** (embedding)으로 바꾸고 그 거리를 비교합니다. 같은 f를 두 이미지에
# 똑같이 적용하므로 **샴 네트워크** (Siamese network)라고 부릅니다.
#
# 솔직하게 밝혀 둡니다: 이 프로젝트가 오프라인으로 설치할 수 있는 패키지에는 사람마다
# 이름표가 붙은 얼굴 데이터가 없습니다. 그래서 이 레슨의 "사람"은 MNIST 5,000장 표본의
# 숫자 클래스입니다. 숫자 0-7로 학습하고, 학습 때 한 번도 보지 못한 8과 9로 검증합니다.
# 새로운 사람을 시험 때 처음 만나는 얼굴 검증과 같은 상황입니다.

# %% [markdown] lang="en"
# ## Verification and identification
#
# Face verification asks whether two images show the same person; face identification asks
# who this person is. Both turn an image into a vector f(x), an embedding, with a CNN f, and
# compare distances. The same f is applied to both images, hence a Siamese network.
#
# Said plainly: no identity-labelled face set ships in any package this project can install
# offline, so the "people" of this lesson are the digit classes of MNIST's 5,000-image sample.
# Training sees digits 0-7; verification runs on 8 and 9, never seen in training: new people
# at test time, as in face verification.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import siamese
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.models.siamese import VerificationHead
from scratchnet.nn.mining import mine_triplets

header("\"딥러닝의 통계적이해 8강: 합성곱 신경망의 응용\" (deck 002)",
       "얼굴 인식 / 얼굴 식별 / 얼굴 검증", "Face verification", ko="얼굴 검증")
pyplot = plt()

# %% [markdown] lang="ko"
# ## 세 쌍 손실을 손으로
#
# 덱의 **세 쌍 손실** (triplet loss)은 기준 이미지 A, 같은 사람 P, 다른 사람 N에 대해
#
#     L(A, P, N) = max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0)
#
# 이고 alpha는 **마진** (margin)입니다. 2차원 임베딩 세 개로 계산해 봅니다:
# f(A) = (1, 0), f(P) = (0.6, 0.8), f(N) = (0.8, 0.6), alpha = 0.2.
# ||A - P||^2 = 0.16 + 0.64 = 0.8, ||A - N||^2 = 0.04 + 0.36 = 0.4 이므로
# L = 0.8 - 0.4 + 0.2 = 0.6 입니다. N이 P보다 가까우니 "어려운" 세 쌍입니다.
# N을 (0, 1)로 옮기면 ||A - N||^2 = 2 이고 0.8 - 2 + 0.2 < 0 이라 손실은 0입니다.

# %% [markdown] lang="en"
# ## The triplet loss by hand
#
# The deck's triplet loss, for an anchor A, a positive P (same person) and a negative N
# (another person), is
#
#     L(A, P, N) = max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0)
#
# with alpha the margin. Three 2-D embeddings: f(A) = (1, 0), f(P) = (0.6, 0.8),
# f(N) = (0.8, 0.6), alpha = 0.2. ||A - P||^2 = 0.16 + 0.64 = 0.8 and ||A - N||^2 = 0.04 +
# 0.36 = 0.4, so L = 0.8 - 0.4 + 0.2 = 0.6: N is nearer than P, a "hard" triplet. Moving N to
# (0, 1) gives ||A - N||^2 = 2 and 0.8 - 2 + 0.2 < 0: zero loss.

# %%
# float64, so that the hand arithmetic matches to 12 digits
A = sn.tensor(np.array([[1.0, 0.0]]), requires_grad=True)
P = sn.tensor(np.array([[0.6, 0.8]]), requires_grad=True)
N = sn.tensor(np.array([[0.8, 0.6]]), requires_grad=True)
loss = F.squared_triplet_margin_loss(A, P, N, margin=0.2)
check("L(A, P, N), hard triplet", 0.6, round(loss.item(), 12), ko="L(A, P, N), 어려운 세 쌍")
easy = F.squared_triplet_margin_loss(A, P, sn.tensor(np.array([[0.0, 1.0]])), margin=0.2)
check("L(A, P, N) with N = (0, 1)", 0.0, easy.item(), ko="N = (0, 1)일 때 L(A, P, N)")
loss.backward()
# dL/dA = 2(A - P) - 2(A - N) = 2(N - P) = (0.4, -0.4): A moves towards P, away from N
check("dL/df(A)", [0.4, -0.4], np.round(A.grad.data[0], 12).tolist(), ko="dL/df(A)")

# %% [markdown] lang="ko"
# ## 제곱 거리와 PyTorch의 거리
#
# 덱과 FaceNet은 제곱 거리를 씁니다. PyTorch의 `triplet_margin_loss`는 제곱하지 않은 거리
# max(d(A, P) - d(A, N) + margin, 0)를 씁니다. 같은 세 쌍에서 sqrt(0.8) - sqrt(0.4) + 0.2
# = 0.4620 이므로 두 손실의 크기와 마진의 의미가 다릅니다. scratchnet은 둘 다 제공합니다:
# `F.squared_triplet_margin_loss` (덱)와 `F.triplet_margin_loss` (PyTorch).

# %% [markdown] lang="en"
# ## Squared distances and PyTorch's distances
#
# The deck and FaceNet use squared distances; PyTorch's `triplet_margin_loss` uses plain ones,
# max(d(A, P) - d(A, N) + margin, 0). On the same triplet that is sqrt(0.8) - sqrt(0.4) + 0.2
# = 0.4620, so the two losses and their margins live on different scales. scratchnet has both:
# `F.squared_triplet_margin_loss` (the deck's) and `F.triplet_margin_loss` (PyTorch's).

# %%
plain = F.triplet_margin_loss(A.detach(), P.detach(), N.detach(), margin=0.2, eps=0.0)
check("PyTorch's unsquared form", round(np.sqrt(0.8) - np.sqrt(0.4) + 0.2, 4),
      round(plain.item(), 4), ko="PyTorch의 제곱하지 않은 형태")

# %% [markdown] lang="ko"
# ## 세 쌍 고르기
#
# 무작위 세 쌍은 대부분 이미 쉬워서 손실과 기울기가 0입니다. 그래서 배치 안에서 고릅니다
# (**세 쌍 마이닝** (triplet mining)). 1차원 임베딩 여섯 개 (클래스 0: 0, 1, 3;
# 클래스 1: 0.5, 2.5, 6)로 보면, 기준 0의 가장 먼 양성은 3 (거리^2 = 9), 가장 가까운 음성은
# 0.5 (0.25)입니다 (batch-hard). FaceNet의 semi-hard는 양성보다 멀지만 가장 가까운 음성을
# 고릅니다: 양성 1 (거리^2 = 1)에는 2.5 (6.25).

# %% [markdown] lang="en"
# ## Choosing triplets
#
# Most random triplets are already easy, with zero loss and zero gradient, so triplets are
# chosen within the batch (triplet mining). Six 1-D embeddings (class 0: 0, 1, 3; class 1:
# 0.5, 2.5, 6): for the anchor 0 the farthest positive is 3 (squared distance 9) and the
# nearest negative 0.5 (0.25): batch-hard. FaceNet's semi-hard takes the nearest negative that
# is still farther than the positive: for the positive 1 (squared distance 1), 2.5 (6.25).

# %%
emb = np.array([[0.0], [1.0], [3.0], [0.5], [2.5], [6.0]])
labels = np.array([0, 0, 0, 1, 1, 1])
a, p, n = mine_triplets(emb, labels, "batch-hard")
check("batch-hard for anchor 0: (positive, negative)", [3.0, 0.5],
      [float(emb[p[0], 0]), float(emb[n[0], 0])], ko="기준 0의 batch-hard: (양성, 음성)")
a, p, n = mine_triplets(emb, labels, "semi-hard")
check("semi-hard for (anchor 0, positive 1): negative", 2.5, float(emb[n[0], 0]),
      ko="(기준 0, 양성 1)의 semi-hard 음성")

# %% [markdown] lang="ko"
# ## 덱의 검증 머리
#
# 덱의 "얼굴 검증" 슬라이드는 두 인코딩의 원소별 차이에 가중합과 **시그모이드** (sigmoid)를
# 적용해 같은지 여부를 이항 분류합니다: y_hat = sigmoid(sum_k w_k |f(x1)_k - f(x2)_k| + b).
# w = (1, -2, 0.5), b = 0.25, |차이| = (1, 2, 4) 이면 1 - 4 + 2 + 0.25 = -0.75,
# sigmoid(-0.75) = 0.3208 입니다.

# %% [markdown] lang="en"
# ## The deck's verification head
#
# The deck's "얼굴 검증" slide classifies "same or not" with a sigmoid on a weighted sum of the
# element-wise differences of the two encodings: y_hat = sigmoid(sum_k w_k |f(x1)_k -
# f(x2)_k| + b). With w = (1, -2, 0.5), b = 0.25 and |differences| = (1, 2, 4):
# 1 - 4 + 2 + 0.25 = -0.75, and sigmoid(-0.75) = 0.3208.

# %%
head = VerificationHead(3)
head.fc.weight.data[...] = [[1.0, -2.0, 0.5]]
head.fc.bias.data[...] = [0.25]
logit = head(sn.tensor([[1.0, 2.0, 3.0]]), sn.tensor([[0.0, 4.0, -1.0]]))
check("y_hat", round(1 / (1 + np.exp(0.75)), 4), round(float(logit.sigmoid().item()), 4),
      ko="y_hat")

# %% [markdown] lang="ko"
# ## 학습하고 처음 보는 숫자로 검증하기
#
# 임베딩 CNN을 숫자 0-7로 학습합니다 (semi-hard 마이닝, 덱의 제곱 세 쌍 손실, 단위 길이
# 임베딩). 그다음 8과 9의 이미지 쌍 4,000개 (반은 같은 숫자, 반은 다른 숫자)의 거리로
# **ROC 곡선** (ROC curve)을 그립니다. 곡선 아래 넓이 AUC, 오수락과 오거부가 같아지는
# **동일 오류율** (equal error rate), 가장 가까운 이웃으로 맞힌 비율 (식별)을 잽니다.
# 빠른 모드는 짧게 학습하므로 수치가 낮습니다. 전체 실행 (`scratchnet train siamese`)은
# 2코어에서 몇 분 걸리고 AUC 0.935를 냈습니다.

# %% [markdown] lang="en"
# ## Train, then verify on digits never seen
#
# The embedding CNN trains on digits 0-7 (semi-hard mining, the deck's squared triplet loss,
# unit-length embeddings). Then 4,000 pairs of 8s and 9s (half the same digit, half not) give
# the ROC curve from their distances; we measure its area (AUC), the equal error rate (false
# accepts = false rejects) and the nearest-neighbour hit rate (identification). Fast mode
# trains briefly, so its figures are lower; the full run (`scratchnet train siamese`) takes a
# few minutes on 2 cores and measured AUC 0.935.

# %%
model, _, report = siamese.train("triplet", "semi-hard", epochs=1 if fast() else 3,
                                 steps_per_epoch=8 if fast() else None,
                                 out=sn.lesson.output_dir() + "/siamese", plots=False,
                                 progress=False)
print(f"AUC {report['auc']:.3f}, EER {report['eer']:.3f}, best-threshold accuracy "
      f"{report['accuracy']:.3f}, nearest-neighbour top-1 {report['top1']:.3f}")
x_tr, y_tr, x_te, y_te = siamese.load_identities()
fig, (a1, a2) = pyplot.subplots(1, 2, figsize=(9, 4))
a1.plot(report["fpr"], report["tpr"])
a1.plot([0, 1], [0, 1], "k:")
a1.set(xlabel="false-positive rate", ylabel="true-positive rate",
       title=f"unseen digits 8, 9: AUC {report['auc']:.3f}")
xy = siamese.pca_2d(report["embeddings"])
for c in (8, 9):
    a2.scatter(*xy[y_te == c].T, s=4, label=str(c))
a2.legend()
a2.set(title="PCA of the embedding (unseen digits)")
savefig(fig, "17_roc_embedding.png")

# %% [markdown] lang="ko"
# 학습하지 않은 네트워크와 비교하면 학습이 무엇을 했는지 보입니다. 같은 쌍에서 무작위
# 가중치의 AUC를 잽니다.

# %% [markdown] lang="en"
# Comparing with the untrained network shows what training did: the AUC of random weights on
# the same pairs.

# %%
sn.random.manual_seed(1)
untrained = siamese.verify(type(model)(32), x_te, y_te)
print(f"untrained AUC {untrained['auc']:.3f} vs trained {report['auc']:.3f}")
