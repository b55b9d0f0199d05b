# %% [markdown] lang="ko"
# # 초해상도: 쌍삼차 보간, SRCNN, FSRCNN, VDSR
#
# "CNN 응용 사례" (deck 000)의 초해상도 부분을 따라갑니다: "Super-resolution", "SRCNN"
# (슬라이드 두 장), "FAST-SRCNN" (네 모델의 표가 있는 슬라이드 두 장), "VDSR" (슬라이드 두 장).

# %% [markdown] lang="en"
# # Super-resolution: bicubic, SRCNN, FSRCNN and VDSR
#
# Follows "CNN 응용 사례" (deck 000), its super-resolution part: "Super-resolution", "SRCNN"
# (two slides), "FAST-SRCNN" (two slides, with the table of four models) and "VDSR" (two
# slides).

# %% [markdown] lang="ko"
# ## 초해상도 (super-resolution)
#
# **초해상도** (super-resolution)는 저해상도 이미지를 고해상도로 복원하는 작업입니다. 덱은
# 단일 이미지 SR (저해상도 이미지 한 장으로 복원)에 집중합니다. 이 레슨은 세 가지 모델을
# 차례로 만듭니다.
#
# - SRCNN: **쌍삼차 보간** (bicubic interpolation)으로 먼저 이미지를 키운 뒤, 합성곱 세 층으로
#   다듬습니다.
# - FSRCNN: 저해상도 이미지에서 바로 계산하고 마지막 층의
#   **전치 합성곱** (transposed convolution)으로 크기를 키웁니다.
# - VDSR: 20 층 깊이로 원본과 보간 이미지의 차이인 **잔차 이미지** (residual image)만 학습합니다.
#
# 학습과 평가는 scikit-image에 들어 있는 실제 사진으로 합니다. astronaut, camera, coffee,
# chelsea, rocket 다섯 장은 Set5 역할을 하는 시험용 사진이라 학습에 한 번도 쓰지 않습니다.

# %% [markdown] lang="en"
# ## Super-resolution
#
# Super-resolution restores a high-resolution image from a low-resolution one. The deck
# focuses on single-image SR (one low-resolution image in, one high-resolution image out).
# This lesson builds three models in turn:
#
# - SRCNN: enlarge with bicubic interpolation first, then refine with three convolutions.
# - FSRCNN: compute on the low-resolution image and enlarge with a transposed convolution as
#   the last layer.
# - VDSR: 20 layers that learn only the residual image, the difference between the original
#   and the interpolated image.
#
# Training and evaluation use real photos bundled with scikit-image. Five of them
# (astronaut, camera, coffee, chelsea, rocket) play the part of Set5 and are never trained on.

# %%
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn, superres
from scratchnet.data.datasets.sr_photos import held_out
from scratchnet.data.transforms import imresize
from scratchnet.lesson import check, fast, header, plt, savefig
from scratchnet.metrics import psnr, ssim
from scratchnet.models import sr

header("\"CNN 응용 사례\" (deck 000)",
       "Super-resolution / SRCNN / FAST-SRCNN (table) / VDSR", "Super-resolution")
pyplot = plt()
SCALE = 3
CROP = 96 if fast() else 192          # HR centre crops of the held-out photos

# %% [markdown] lang="ko"
# ## 기준선: 쌍삼차 보간
#
# 논문들은 고해상도 사진을 MATLAB의 `imresize`로 1/3 크기로 줄여 저해상도 입력을 만들고, 같은
# 함수로 다시 3배 키운 것을 기준선으로 씁니다. `imresize`는 줄일 때 커널을 1/scale 배로 넓혀
# 모든 픽셀을 섞는 **앨리어싱** (aliasing) 방지 필터를 씁니다. PyTorch의 `interpolate(mode=
# "bicubic")`은 계수 a = -0.75, 경계 픽셀 반복을 쓰고, MATLAB은 a = -0.5, 거울 반사를 씁니다.
# 두 커널의 가중치를 그려 봅니다. 평가는 논문처럼 YCbCr의 Y 채널에서, 경계 3 픽셀을 잘라내고
# **최대 신호 대 잡음비** (peak signal-to-noise ratio), 줄여서 PSNR로 합니다.

# %% [markdown] lang="en"
# ## The baseline: bicubic interpolation
#
# The papers shrink each high-resolution photo to 1/3 with MATLAB's `imresize` to make the
# low-resolution input, and enlarge it back 3x with the same function for the baseline. When
# shrinking, `imresize` stretches its kernel by 1/scale, a filter against aliasing that mixes
# every pixel. PyTorch's `interpolate(mode="bicubic")` uses a = -0.75 and repeats the border
# pixel; MATLAB uses a = -0.5 and mirrors. We plot both kernels. Evaluation follows the
# papers: the Y channel of YCbCr, 3 border pixels shaved, peak signal-to-noise ratio (PSNR).

# %%
photos = held_out(SCALE, crop=CROP)
cat = next(p for p in photos if p.name == "chelsea")
torch_style = F.interpolate(sn.tensor(cat.lr[None, None]), scale_factor=SCALE,
                            mode="bicubic").numpy()[0, 0]
for name, img in [("imresize (MATLAB, a=-0.5)", cat.bicubic),
                  ("interpolate (PyTorch, a=-0.75)", torch_style)]:
    img = np.clip(img, 0, 1)
    print(f"chelsea x{SCALE} {name:32}: PSNR {psnr(img, cat.hr, shave=SCALE):.2f} dB, "
          f"SSIM {ssim(img, cat.hr, shave=SCALE):.4f}")


def keys(d, a):
    d = np.abs(d)
    return np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                    np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))


d = np.linspace(-2.5, 2.5, 201)
fig, (a1, a2) = pyplot.subplots(1, 2, figsize=(10, 3.4))
a1.plot(d, keys(d, -0.5), label="a = -0.5 (imresize)")
a1.plot(d, keys(d, -0.75), label="a = -0.75 (interpolate)")
a1.axhline(0, color="gray", lw=0.5)
a1.set(title="bicubic kernel W(d)", xlabel="distance d (pixels)")
a1.legend()
a2.imshow(np.hstack([np.clip(cat.bicubic, 0, 1), cat.hr]), cmap="gray", vmin=0, vmax=1)
a2.set(title=f"bicubic x{SCALE} | original (chelsea)")
a2.axis("off")
savefig(fig, "bicubic_baseline")

# %% [markdown] lang="ko"
# ## SRCNN: 세 층의 역할
#
# SRCNN은 보간한 이미지 Y를 받아 세 층을 지납니다. 9x9 합성곱 64개 (패치 추출과 표현), 5x5
# 합성곱 32개 (비선형 매핑), 5x5 합성곱 1개 (재구성). 손실은 덱의 식 L = (1/n) Σ ||F(Y_i) - X_i||²,
# 즉 이미지마다 제곱 오차의 합을 평균한 것입니다. `F.mse_loss`는 픽셀 수로도 나누므로, 둘은
# 픽셀 수만큼 차이 납니다. 덱은 "3 레이어 네트워크가 가장 좋은 성능"이라고 합니다.

# %% [markdown] lang="en"
# ## SRCNN: what the three layers do
#
# SRCNN takes the interpolated image Y through three layers: 64 convolutions of 9x9 (patch
# extraction and representation), 32 of 5x5 (non-linear mapping), one of 5x5
# (reconstruction). The loss is the deck's L = (1/n) Σ ||F(Y_i) - X_i||², the squared error
# of each image summed, averaged over images. `F.mse_loss` also divides by the number of
# pixels, so the two differ by that factor. The deck says three layers worked best.

# %%
srcnn = sr.srcnn(9, 5, 5)
print(srcnn)
convs = [m for m in srcnn.modules() if isinstance(m, nn.Conv2d)]
check("SRCNN layers", 3, len(convs), ko="SRCNN 층 수")
check("SRCNN filter sizes 9-5-5", [9, 5, 5], [c.kernel_size[0] for c in convs],
      ko="SRCNN 필터 크기 9-5-5")

rng = np.random.default_rng(0)
X = sn.tensor(rng.random((4, 1, 12, 12)).astype(np.float32))      # originals
Y = sn.tensor(rng.random((4, 1, 12, 12)).astype(np.float32))      # interpolated inputs
with sn.no_grad():
    out = srcnn(Y)
slide_loss = np.mean([np.sum((out.numpy()[i] - X.numpy()[i]) ** 2) for i in range(4)])
mse = F.mse_loss(out, X).item()
print(f"deck's L = {slide_loss:.4f}; F.mse_loss = {mse:.6f}; ratio {slide_loss / mse:.1f} "
      f"= 12 * 12 pixels")
assert abs(slide_loss / mse - 144) < 1e-3

# %% [markdown] lang="ko"
# ## 큰 필터와 수용 영역
#
# 덱: 9-5-5가 9-1-5보다 좋은 이유는 큰 필터가 더 넓은 **수용 영역** (receptive field)을 보기
# 때문입니다. 출력 한 픽셀에서 역전파한 그레이디언트가 입력의 어느 범위에 닿는지 재어 봅니다.
# 9-1-5는 9 + 0 + 4 = 13, 즉 덱의 "SRCNN은 13x13", 9-5-5는 17, VDSR의 3x3 20 층은 1 + 20·2 = 41입니다.

# %% [markdown] lang="en"
# ## Larger filters and the receptive field
#
# The deck: 9-5-5 beats 9-1-5 because larger filters see a wider receptive field. We measure
# it by backpropagating from one output pixel and seeing which input pixels the gradient
# reaches. 9-1-5 sees 9 + 0 + 4 = 13 (the deck's "SRCNN 13x13"), 9-5-5 sees 17, and VDSR's
# twenty 3x3 layers 1 + 20·2 = 41.


# %%
def field_by_backprop(model, size=61):
    x = sn.tensor(np.random.default_rng(1).standard_normal((1, 1, size, size)),
                  requires_grad=True)
    model.double()(x)[0, 0, size // 2, size // 2].backward()
    reach = np.abs(x.grad.numpy()[0, 0]) > 0
    rows, cols = np.nonzero(reach)
    return int(rows.max() - rows.min() + 1), reach


fields = {}
for label, model in [("SRCNN 9-1-5", sr.srcnn(9, 1, 5)), ("SRCNN 9-5-5", sr.srcnn(9, 5, 5)),
                     ("VDSR (20 layers)", sr.vdsr(20))]:
    measured, reach = field_by_backprop(model)
    assert measured == sn.receptive_field(model).size
    fields[label] = reach
    print(f"{label:18}: receptive field {measured}x{measured} (backprop), "
          f"{sn.receptive_field(model).size} (calculator)")
check("SRCNN receptive field", 13, field_by_backprop(sr.srcnn(9, 1, 5))[0],
      ko="SRCNN 수용 영역")
check("VDSR receptive field", 41, field_by_backprop(sr.vdsr(20))[0], ko="VDSR 수용 영역")
fig, axes = pyplot.subplots(1, 3, figsize=(9, 3.2))
for a, (label, reach) in zip(axes, fields.items()):
    a.imshow(reach, cmap="Blues")
    a.set_title(label)
    a.axis("off")
savefig(fig, "receptive_fields")

# %% [markdown] lang="ko"
# ## FSRCNN 표: 파라미터와 연산량
#
# 덱의 표는 SRCNN-Ex에서 FSRCNN까지 네 모델을 비교합니다. 1번 모델 (Transition State 1)은
# 저해상도 이미지를 그대로 받아 마지막 층을 deconv로 바꾸었고, 2번·3번 모델은 1x1 합성곱의
# **병목** (bottleneck)으로 12 채널로 줄였다 다시 늘립니다. 파라미터 수는 합성곱 가중치만 셉니다
# (편향과 PReLU 기울기는 빼고). 속도 향상은 고해상도 픽셀 하나를 만드는 데 드는
# **곱셈-누산** (multiply-accumulate, MAC) 수 (MAC)의 비입니다. 저해상도에서 계산하면 픽셀 수가
# 1/9이므로 가중치 수 / 9 MAC이 됩니다: 57,184 × 9 / 58,976 = 8.73.

# %% [markdown] lang="en"
# ## The FSRCNN table: parameters and cost
#
# The deck's table compares four models from SRCNN-Ex to FSRCNN. Model 1 (Transition
# State 1) takes the low-resolution image and replaces the last layer by a deconvolution;
# models 2 and 3 squeeze to 12 channels and back with 1x1 bottleneck convolutions.
# Parameters count convolution weights only (no biases, no PReLU slopes). The speed-up is
# the ratio of multiply-accumulates (MACs) per high-resolution pixel: working at low
# resolution there are 1/9 as many pixels, so weights / 9 MACs: 57,184 × 9 / 58,976 = 8.73.

# %%
table = [("SRCNN-Ex", lambda: sr.srcnn(9, 5, 5), 57184, 1.0, 32.83),
         ("Transition State 1", sr.fsrcnn_transition1, 58976, 8.7, 32.95),
         ("Transition State 2", sr.fsrcnn_transition2, 17088, 30.1, 33.01),
         ("FSRCNN (56,12,4)", sr.fsrcnn, 12464, 41.3, 33.06)]
macs = {}
for name, make, params, speedup, _ in table:
    model = make()
    macs[name] = sr.macs_per_hr_pixel(model, SCALE)
    check(f"{name} parameters", params, sr.table_weights(model), ko=f"{name} 파라미터 수")
    check(f"{name} speed-up (MACs per HR pixel)", speedup,
          round(57184 / macs[name], 1), ko=f"{name} 속도 향상 (HR 픽셀당 MAC)")
    print(f"    {macs[name]:,.0f} MACs per HR pixel")
check("model 1 is 8x faster than SRCNN", 8, int(57184 / macs["Transition State 1"]),
      ko="1번 모델은 SRCNN보다 8배 빠름")

# %% [markdown] lang="ko"
# ### 같은 예산으로 학습한 PSNR
#
# 표의 PSNR (Set5)은 논문이 큰 데이터로 오래 학습한 결과라 여기서 재현할 수 없습니다. 대신 네
# 모델을 같은 단계 수만큼 짧게 학습하고, 시험용 사진의 가운데 부분에서 PSNR을 재서 논문 값
# 옆에 둡니다 (fast 모드에서는 몇 단계뿐이라 숫자에 의미가 없습니다). 논문은 무작위
# 가중치에서 며칠 동안 학습하지만, 여기서는 몇 분 안에 보간보다 나아지도록 각 층의 한 채널을
# 그대로 통과시키는 경로로 시작합니다 (`sr.identity_init_`: SRCNN은 입력 복사, FSRCNN은 선형
# 보간에서 출발). 제대로 된 측정은 `scratchnet sr train fsrcnn --scale 3`로 합니다. 기본
# 설정으로 네 모델에 같은 양의 패치를 주면 결과가 서로 아주 가깝게 모여서 표의 순서는
# 뚜렷하지 않고, 남는 차이는 학습 시간입니다 (README의 초해상도 절에 측정한 표와 이유가
# 있습니다).

# %% [markdown] lang="en"
# ### PSNR on the same budget
#
# The table's PSNR (Set5) comes from long training on large data and cannot be reproduced
# here. Instead the four models train briefly for the same number of steps and are measured
# on centre crops of the held-out photos, next to the paper's values (in fast mode only a few
# steps: the numbers mean nothing). The papers start from random weights and train for
# days; here each model starts with one channel of every layer passing its input through
# (`sr.identity_init_`: SRCNN starts as a copy of its input, FSRCNN as linear interpolation),
# so that minutes of training improve on interpolation instead of first relearning it. For
# real measurements use `scratchnet sr train fsrcnn --scale 3`. Given the same number of
# patches by their default recipes, the four models end very close together, so the
# table's ordering does not clearly show; what remains is the training time (the
# README's super-resolution section has the measured table and why).

# %%
STEPS = 3 if fast() else 300
PHOTOS = ("brick", "coins") if fast() else None
bicubic_db = np.mean([psnr(np.clip(p.bicubic, 0, 1), p.hr, shave=SCALE) for p in photos])
print(f"{'model':20}{'paper Set5 dB':>15}{'ours dB':>10}   (bicubic {bicubic_db:.2f} dB, "
      f"{STEPS} steps each)")
names = {"SRCNN-Ex": "srcnn", "Transition State 1": "fsrcnn_t1",
         "Transition State 2": "fsrcnn_t2", "FSRCNN (56,12,4)": "fsrcnn"}
trained = {}
for name, _, _, _, paper_db in table:
    model, _, rows = superres.train(names[name], SCALE, steps=STEPS, batch_size=8,
                                    progress=False, log=None, eval_every=STEPS,
                                    eval_crop=48, final_crop=CROP, photos=PHOTOS)
    trained[name] = model
    print(f"{name:20}{paper_db:15.2f}{rows[-1]['model']:10.2f}")

# %% [markdown] lang="ko"
# ## VDSR: 잔차 이미지
#
# VDSR은 이미지를 처음부터 만들지 않고, 원본과 보간 이미지의 차이 (잔차)만 예측해 보간
# 이미지에 더합니다. 잔차는 대부분 0 근처이고 가장자리에만 값이 있어서, 20 층 깊이에서도
# 학습이 잘 수렴합니다. 학습 전의 VDSR은 마지막 층이 거의 0이라 보간 이미지를 그대로
# 돌려줍니다.

# %% [markdown] lang="en"
# ## VDSR: the residual image
#
# VDSR does not generate the image from scratch: it predicts only the difference between the
# original and the interpolated image (the residual) and adds it to the interpolation. The
# residual is near zero except at edges, so even 20 layers converge. Before training, VDSR's
# last layer is almost zero and it returns the interpolated image as it is.

# %%
vdsr = sr.vdsr(20)
check("VDSR layers", 20, sum(isinstance(m, nn.Conv2d) for m in vdsr.modules()),
      ko="VDSR 층 수")
residual = cat.hr - cat.bicubic
with sn.no_grad():
    untrained = vdsr(sn.tensor(cat.bicubic[None, None])).numpy()[0, 0]
print(f"residual image: mean {residual.mean():+.4f}, |residual| < 0.05 on "
      f"{np.mean(np.abs(residual) < 0.05):.0%} of the pixels")
print(f"untrained VDSR vs its input: max difference {np.abs(untrained - cat.bicubic).max():.4f}")
fig, axes = pyplot.subplots(1, 3, figsize=(10, 3.4))
for a, (t, img, cmap, lim) in zip(axes, [
        ("bicubic (input)", cat.bicubic, "gray", (0, 1)),
        ("residual = original - bicubic", residual, "RdBu", (-0.2, 0.2)),
        ("original", cat.hr, "gray", (0, 1))]):
    a.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1])
    a.set_title(t)
    a.axis("off")
savefig(fig, "vdsr_residual")

# %% [markdown] lang="ko"
# ## 나란히 보기
#
# 가장 작은 모델 FSRCNN의 결과를 보간 이미지, 원본과 나란히 놓습니다.

# %% [markdown] lang="en"
# ## Side by side
#
# The smallest model, FSRCNN, next to bicubic and the original.

# %%
model = trained["FSRCNN (56,12,4)"]
out = np.clip(superres.apply(model, cat.lr, True, SCALE), 0, 1)
fig, axes = pyplot.subplots(1, 3, figsize=(10, 3.4))
for a, (t, img) in zip(axes, [
        (f"bicubic {psnr(np.clip(cat.bicubic, 0, 1), cat.hr, shave=SCALE):.2f} dB",
         np.clip(cat.bicubic, 0, 1)),
        (f"FSRCNN {psnr(out, cat.hr, shave=SCALE):.2f} dB", out), ("original", cat.hr)]):
    a.imshow(img, cmap="gray", vmin=0, vmax=1)
    a.set_title(t)
    a.axis("off")
savefig(fig, "side_by_side")
