# %% [markdown] lang="ko"
# # 실시간 학습 페이지: ConvNetJS CIFAR-10 데모
#
# "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002)의 "합성곱 신경망 실험" 슬라이드를
# 따라갑니다. 슬라이드는 Karpathy의 ConvNetJS CIFAR-10 데모로, 브라우저 안에서 작은 CNN을
# 학습하며 예제당 순전파 8 ms, 역전파 16 ms 같은 통계를 보여 줍니다.

# %% [markdown] lang="en"
# # A live training page: the ConvNetJS CIFAR-10 demo
#
# Follows "딥러닝의 통계적이해 8강: 합성곱 신경망의 응용" (deck 002), its "합성곱 신경망 실험"
# slide: Karpathy's ConvNetJS CIFAR-10 demo, which trains a small CNN inside the browser and
# shows statistics such as 8 ms forward and 16 ms backprop per example.

# %% [markdown] lang="ko"
# ## 데모를 직접 띄우기
#
# 터미널에서 `scratchnet live`를 실행하면 학습이 백그라운드에서 돌고, 출력된 주소
# `http://127.0.0.1:PORT/?token=...`의 페이지가 1초에 한 번쯤 새로 그려집니다. 페이지에는 슬라이드의
# 통계 (예제당 **순전파** (forward pass)와 **역전파** (backpropagation) 시간, 분류 손실,
# **가중치 감쇠** (weight decay) 손실, 학습 정확도와 **검증 정확도** (validation accuracy),
# 본 예제 수), 손실 그래프, 현재 이미지에 대한 각 층의 활성화와 필터, 시험 이미지와 상위 추측,
# 그리고 **혼동 행렬** (confusion matrix)이 나옵니다. 일시 정지, **학습률** (learning rate),
# 모멘텀, 배치 크기, 가중치 감쇠, 최적화 방법 (Adadelta, SGD+모멘텀, Adam), 체크포인트 저장과
# 불러오기도 페이지에서 바꿉니다. CIFAR-10이 캐시에 없으면 인터넷 없이 MNIST 5,000장 표본으로
# 학습하고, 페이지에 그렇게 적습니다. 아래 그림은 헤드리스 chromium으로 찍은 화면으로,
# MNIST 표본 2,160개를 본 뒤 일시 정지한 모습입니다.
#
# ![scratchnet live](images/19_live_training.png)

# %% [markdown] lang="en"
# ## Running the demo yourself
#
# `scratchnet live` in a terminal trains in the background and prints an address
# `http://127.0.0.1:PORT/?token=...` whose page redraws about once a second. It shows the
# slide's statistics (forward and backprop time per example, classification loss, L2 weight
# decay loss, training and validation accuracy, examples seen), a loss graph, every layer's
# activations and filters for the current image, test images with the top guesses, and the
# confusion matrix. Pause, learning rate, momentum, batch size, weight decay, the optimizer
# (Adadelta, SGD+momentum, Adam) and saving or loading a checkpoint are controls on the page.
# Without CIFAR-10 in the cache it trains, offline, on MNIST's 5,000-image sample and says so
# on the page. The picture below was taken in headless chromium, paused after 2,160 examples
# of the MNIST sample.
#
# ![scratchnet live](images/19_live_training.png)

# %%
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.lesson import check, fast, header
from scratchnet.live.data import augment, load_live_data
from scratchnet.live.trainer import SLIDE_MS, LiveTrainer
from scratchnet.models import convnetjs_cifar10

header("\"딥러닝의 통계적이해 8강: 합성곱 신경망의 응용\" (deck 002)",
       "합성곱 신경망 실험 (ConvNetJS CIFAR-10 demo)", "A live training page",
       ko="실시간 학습 페이지")
sn.manual_seed(0)
data = load_live_data("auto", channels=3)
print(data.note)
model = convnetjs_cifar10()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown] lang="ko"
# ## 예제당 순전파와 역전파 시간
#
# 데모는 자바스크립트로 예제를 하나씩 계산했습니다. 여기서는 배치 하나를 순전파 (손실까지)와
# 역전파로 나누어 재고 배치 크기로 나눕니다. 배치 1은 데모와 같은 조건이고, 배치 16은
# `scratchnet live`의 기본값입니다. 슬라이드의 8 ms / 16 ms는 데모를 돌린 그 브라우저와
# 컴퓨터의 숫자라서 우리가 재현할 값이 아닙니다. 나란히 출력만 합니다. 이 기계에서 여러 사람이
# 동시에 계산하면 시간은 흔들립니다.

# %% [markdown] lang="en"
# ## Forward and backprop time per example
#
# The demo computed one example at a time in JavaScript. Here we time one batch's forward pass
# (up to the loss) and its backward pass separately and divide by the batch size. Batch 1 is
# the demo's setting; batch 16 is `scratchnet live`'s default. The slide's 8 ms / 16 ms are
# the numbers of the browser and computer that ran the demo, not something for us to
# reproduce: we print them side by side, nothing more. On a shared machine the times wobble.


# %%
def per_example_ms(batch, repeats):
    """Median forward and backward milliseconds per example over `repeats` batches."""
    rng = np.random.default_rng(0)
    fwd, bwd = [], []
    for r in range(repeats + 2):                # the first two warm the kernels up
        idx = rng.integers(0, len(data.train_y), batch)
        x = sn.tensor(data.train_x[idx])
        y = sn.tensor(data.train_y[idx])
        model.zero_grad()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if r >= 2:
            fwd.append(1000 * (t1 - t0) / batch)
            bwd.append(1000 * (t2 - t1) / batch)
    return float(np.median(fwd)), float(np.median(bwd))


repeats = 5 if fast() else 30
print(f"{'':22}{'forward ms':>12}{'backprop ms':>13}")
print(f"{'slide (ConvNetJS)':22}{SLIDE_MS['forward']:>12.1f}{SLIDE_MS['backward']:>13.1f}")
for batch in (1, 16, 64):
    f, b = per_example_ms(batch, repeats)
    print(f"{f'scratchnet, batch {batch}':22}{f:>12.2f}{b:>13.2f}")

# %% [markdown] lang="ko"
# ## 데이터 증강: 뒤집기와 2 픽셀 이동
#
# 슬라이드의 데모는 **데이터 증강** (data augmentation)으로 무작위 좌우 뒤집기와 가로세로 최대
# 2 픽셀 이동을 씁니다. 이것은 우리 코드가 재현할 숫자입니다. 밝은 점 하나만 있는 이미지를
# 여러 번 증강하여 점이 움직인 거리를 잽니다.

# %% [markdown] lang="en"
# ## Data augmentation: flips and 2-pixel shifts
#
# The slide's demo augments with random left-right flips and shifts of up to 2 pixels
# horizontally and vertically. That number is ours to reproduce: augment an image holding a
# single bright pixel many times and measure how far the pixel moved.

# %%
dot = np.zeros((500, 1, 9, 9), np.float32)
dot[:, 0, 4, 4] = 1.0
moved = augment(dot, np.random.default_rng(0), flips=False)
where = np.array([np.argwhere(img[0] == 1.0)[0] for img in moved]) - 4
print("shifts seen (dy, dx):", sorted({tuple(int(v) for v in w) for w in where})[:6], "...")
check("largest random shift (px)", 2, int(np.abs(where).max()),
      ko="가장 큰 무작위 이동 (픽셀)")

# %% [markdown] lang="ko"
# ## 페이지 뒤의 학습 스레드
#
# 페이지 뒤에서는 `LiveTrainer`가 스레드 하나로 학습하고 1초에 한 번쯤 프레임 (숫자와 그림의
# 스냅숏)을 만듭니다. 브라우저는 가장 최근 프레임만 읽으므로, 느린 브라우저가 학습을 늦추지
# 못합니다. 페이지 없이 몇 초 돌려서 페이지에 나올 숫자를 출력해 봅니다.

# %% [markdown] lang="en"
# ## The training thread behind the page
#
# Behind the page, a `LiveTrainer` trains in one thread and about once a second makes a frame
# (a snapshot of the numbers and pictures). The browser only reads the newest frame, so a slow
# browser cannot slow training down. We run it for a few seconds without a page and print the
# numbers the page would show.

# %%
import tempfile

trainer = LiveTrainer(convnetjs_cifar10(), data, "convnetjs_cifar10", tempfile.mkdtemp())
trainer.start()
time.sleep(4 if fast() else 20)
trainer.pause()
trainer.stop()
s = trainer.frame["stats"]
for key in ("forward_ms_per_example", "backward_ms_per_example", "classification_loss",
            "l2_weight_decay_loss", "train_accuracy", "val_accuracy", "examples_seen"):
    value = s[key]
    print(f"{key:26} {'-' if value is None else format(value, '.4g')}")
