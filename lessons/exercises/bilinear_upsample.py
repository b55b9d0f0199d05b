"""Exercise: the backward pass of bilinear upsampling (FCN's decoder), align_corners=False.

    x: (N, C, H, W) -> out: (N, C, Ho, Wo), size = (Ho, Wo)
    Output row i reads input rows r0 and r1 = min(r0 + 1, H - 1) at the half-pixel source
        src = max((i + 0.5) * H / Ho - 0.5, 0),   r0 = floor(src),   a = src - r0
    out[i] = (1 - a) * x[r0] + a * x[r1], and the same along the columns with W / Wo.
    (torch.nn.functional.interpolate(x, size, mode="bilinear", align_corners=False))

Write `backward`: given dout (N, C, Ho, Wo), return dx (N, C, H, W): every input pixel
collects dout from each output it contributed to, times the weight it had. Check it with:

    scratchnet exercise check bilinear_upsample

연습 문제: 이중 선형 업샘플링(bilinear upsampling, FCN의 디코더)의 역전파, align_corners=False.

`backward`를 작성하세요: (N, C, Ho, Wo) 모양의 dout을 받아 (N, C, H, W) 모양의 dx를 반환합니다.
각 입력 픽셀은 자신이 기여한 모든 출력에서, 기여할 때의 가중치를 곱한 dout을 모읍니다 (누적).
절반 픽셀(half-pixel) 규칙과 가장자리의 clamp를 잊지 마세요.

    scratchnet exercise check bilinear_upsample --lang ko
"""
import numpy as np


def source_pixels(out_size, in_size):
    """For each output index: the two input indices it reads and the weight of the second."""
    src = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, src - i0


def forward(x, size):
    r0, r1, a = source_pixels(size[0], x.shape[2])
    c0, c1, b = source_pixels(size[1], x.shape[3])
    rows = x[:, :, r0] * (1 - a)[:, None] + x[:, :, r1] * a[:, None]
    return rows[:, :, :, c0] * (1 - b) + rows[:, :, :, c1] * b


def backward(dout, x, size):
    raise NotImplementedError("write the backward pass of bilinear upsampling")
