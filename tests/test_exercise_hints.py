"""Every structural hint of every exercise fires on a realistic wrong solution, written the way
a student would write it (not as the checker's own variant), and each hint reads in Korean and
English."""
import numpy as np
import pytest

from scratchnet import exercises as E
from tests.test_exercises import solution, student

WRONG = {}


def wrong(key):
    def register(fn):
        WRONG.setdefault(key, []).append(fn)
        return fn
    return register


@wrong("linear.transpose")
def linear_dw_x_t_dout(dout, x, w, b):
    return dout @ w, x.T @ dout, dout.sum(axis=0)


@wrong("linear.batch_sum")
def linear_db_mean(dout, x, w, b):
    return dout @ w, dout.T @ x, dout.mean(axis=0)


@wrong("linear.mean")
def linear_dw_over_n(dout, x, w, b):
    return dout @ w, dout.T @ x / x.shape[0], dout.sum(axis=0)


@wrong("relu.mask")
def relu_no_mask(dout, x):
    return dout.copy()


@wrong("relu.mask")
def relu_sign(dout, x):
    return dout * np.sign(x)


@wrong("relu.dout")
def relu_local_derivative(dout, x):
    return (x > 0).astype(float)


@wrong("relu.zero")
def relu_ge(dout, x):
    return dout * (x >= 0)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@wrong("softmax_cross_entropy.onehot")
def ce_no_onehot(dout, logits, labels):
    return dout * _softmax(logits) / len(labels)


@wrong("softmax_cross_entropy.mean")
def ce_sum_not_mean(dout, logits, labels):
    p = _softmax(logits)
    p[np.arange(len(labels)), labels] -= 1
    return dout * p


@wrong("softmax_cross_entropy.dout")
def ce_no_dout(dout, logits, labels):
    p = _softmax(logits)
    p[np.arange(len(labels)), labels] -= 1
    return p / len(labels)


@wrong("softmax_cross_entropy.sign")
def ce_flipped(dout, logits, labels):
    p = _softmax(logits)
    p[np.arange(len(labels)), labels] -= 1
    return -dout * p / len(labels)


def _conv_backward(dout, x, w, b, stride, padding, assign=False, first_only=False, crop=True):
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = xp[:, :, hs:hs + kh, ws:ws + kw]
            if first_only:
                dw += np.einsum("k,chw->kchw", dout[0, :, i, j], win[0])
            else:
                dw += np.einsum("nk,nchw->kchw", dout[:, :, i, j], win)
            contrib = np.einsum("nk,kchw->nchw", dout[:, :, i, j], w)
            if assign:
                dxp[:, :, hs:hs + kh, ws:ws + kw] = contrib
            else:
                dxp[:, :, hs:hs + kh, ws:ws + kw] += contrib
    db = dout[0].sum(axis=(1, 2)) if first_only else dout.sum(axis=(0, 2, 3))
    dx = dxp[:, :, padding:padding + h, padding:padding + wd] if crop else dxp
    return dx, dw, db


@wrong("conv2d_loops.accumulate")
def conv_assign(dout, x, w, b, stride=1, padding=0):
    return _conv_backward(dout, x, w, b, stride, padding, assign=True)


@wrong("conv2d_loops.batch")
def conv_first_example(dout, x, w, b, stride=1, padding=0):
    return _conv_backward(dout, x, w, b, stride, padding, first_only=True)


@wrong("conv2d_loops.padding")
def conv_uncropped(dout, x, w, b, stride=1, padding=0):
    return _conv_backward(dout, x, w, b, stride, padding, crop=False)


@wrong("max_pool.accumulate")
def pool_window_assign(dout, x, kernel_size=2, stride=2):
    # issue 9's example: dx[window] = mask * dout zeroes the rest of the window
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs:hs + kernel_size, ws:ws + kernel_size]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, hs:hs + kernel_size, ws:ws + kernel_size] = \
                mask * dout[:, :, i, j][:, :, None, None]
    return dx


@wrong("max_pool.accumulate")
def pool_argmax_assign(dout, x, kernel_size=2, stride=2):
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs:hs + kernel_size, ws:ws + kernel_size].reshape(n, c, -1)
            r, s = np.unravel_index(win.argmax(axis=2), (kernel_size, kernel_size))
            for a in range(n):
                for b in range(c):
                    dx[a, b, hs + r[a, b], ws + s[a, b]] = dout[a, b, i, j]
    return dx


@wrong("max_pool.batch")
def pool_global_max(dout, x, kernel_size=2, stride=2):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs:hs + kernel_size, ws:ws + kernel_size]
            mask = win == win.max()
            dx[:, :, hs:hs + kernel_size, ws:ws + kernel_size] += \
                mask * dout[:, :, i, j][:, :, None, None]
    return dx


@wrong("max_pool.ties")
def pool_every_max(dout, x, kernel_size=2, stride=2):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs:hs + kernel_size, ws:ws + kernel_size]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, hs:hs + kernel_size, ws:ws + kernel_size] += \
                mask * dout[:, :, i, j][:, :, None, None]
    return dx


def _bn_parts(x, eps):
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    return (x - x.mean(axis=0)) * inv_std, inv_std


@wrong("batch_norm.centred")
def bn_constant_statistics(dout, x, gamma, beta, eps=1e-5):
    x_hat, inv_std = _bn_parts(x, eps)
    return dout * gamma * inv_std, (dout * x_hat).sum(0), dout.sum(0)


@wrong("batch_norm.variance")
def bn_mean_term_only(dout, x, gamma, beta, eps=1e-5):
    x_hat, inv_std = _bn_parts(x, eps)
    g = dout * gamma
    return inv_std * (g - g.mean(axis=0)), (dout * x_hat).sum(0), dout.sum(0)


@wrong("batch_norm.x_hat")
def bn_dgamma_with_x(dout, x, gamma, beta, eps=1e-5):
    dx, _, dbeta = solution("batch_norm")(dout, x, gamma, beta, eps)
    return dx, (dout * x).sum(0), dbeta


@wrong("batch_norm.mean")
def bn_dbeta_mean(dout, x, gamma, beta, eps=1e-5):
    dx, dgamma, _ = solution("batch_norm")(dout, x, gamma, beta, eps)
    return dx, dgamma, dout.mean(0)


@wrong("max_unpool.plane")
def unpool_whole_tensor_index(dout, y, indices, output_size):
    return dout.reshape(-1)[indices.reshape(-1)].reshape(y.shape)


@wrong("max_unpool.fixed")
def unpool_top_left(dout, y, indices, output_size):
    k = output_size[0] // y.shape[2]
    return dout[:, :, ::k, ::k].copy()


@wrong("max_unpool.dout")
def unpool_returns_values(dout, y, indices, output_size):
    n, c = y.shape[:2]
    out = np.zeros((n * c, output_size[0] * output_size[1]))
    np.put_along_axis(out, indices.reshape(n * c, -1), y.reshape(n * c, -1), axis=1)
    return np.take_along_axis(out, indices.reshape(n * c, -1), axis=1).reshape(y.shape)


@wrong("conv_transpose.flip")
def convT_flipped_kernel(dout, x, w, stride=1, padding=0):
    dx, _ = solution("conv_transpose")(dout, x, np.flip(w, (2, 3)), stride, padding)
    return dx, solution("conv_transpose")(dout, x, w, stride, padding)[1]


@wrong("conv_transpose.padding")
def convT_no_padding(dout, x, w, stride=1, padding=0):
    n, cin, h, wd = x.shape
    k = w.shape[2]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(h):
        for j in range(wd):
            win = dout[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            kh, kw = win.shape[2:]
            dx[:, :, i, j] = np.einsum("nokl,cokl->nc", win, w[:, :, :kh, :kw])
            dw[:, :, :kh, :kw] += np.einsum("nc,nokl->cokl", x[:, :, i, j], win)
    return dx, dw


@wrong("conv_transpose.batch")
def convT_dw_first_example(dout, x, w, stride=1, padding=0):
    dx, _ = solution("conv_transpose")(dout, x, w, stride, padding)
    _, dw = solution("conv_transpose")(dout[:1], x[:1], w, stride, padding)
    return dx, dw


def _smooth_l1_grad(pred, target, beta, kind):
    x = pred - target
    if kind == "quadratic":
        return x / beta
    if kind == "l1":
        return np.sign(x)
    return np.where(np.abs(x) < beta, x / beta, np.sign(x))


@wrong("smooth_l1.background")
def smooth_l1_every_roi(dout, pred, target, labels, beta=1.0):
    return dout * _smooth_l1_grad(pred, target, beta, "right") / len(pred)


@wrong("smooth_l1.linear")
def smooth_l1_no_switch(dout, pred, target, labels, beta=1.0):
    g = _smooth_l1_grad(pred, target, beta, "quadratic") * (labels > 0)[:, None]
    return dout * g / len(pred)


@wrong("smooth_l1.quadratic")
def smooth_l1_plain_l1(dout, pred, target, labels, beta=1.0):
    g = _smooth_l1_grad(pred, target, beta, "l1") * (labels > 0)[:, None]
    return dout * g / len(pred)


@wrong("smooth_l1.normalise")
def smooth_l1_over_foreground(dout, pred, target, labels, beta=1.0):
    fg = labels > 0
    g = _smooth_l1_grad(pred, target, beta, "right") * fg[:, None]
    return dout * g / max(fg.sum(), 1)


def _pixel_softmax_minus_onehot(logits, target, ignore_index):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(p)
    np.put_along_axis(onehot, np.where(target == ignore_index, 0, target)[:, None], 1.0, axis=1)
    return p - onehot


@wrong("pixel_cross_entropy.ignored")
def pixel_ce_ignored_as_class_0(dout, logits, target, ignore_index=255):
    valid = target != ignore_index
    return dout * _pixel_softmax_minus_onehot(logits, target, ignore_index) / valid.sum()


@wrong("pixel_cross_entropy.count")
def pixel_ce_over_all_pixels(dout, logits, target, ignore_index=255):
    valid = target != ignore_index
    g = _pixel_softmax_minus_onehot(logits, target, ignore_index) * valid[:, None]
    return dout * g / valid.size


@wrong("pixel_cross_entropy.layout")
def pixel_ce_reshape_without_transpose(dout, logits, target, ignore_index=255):
    n, c, h, w = logits.shape
    flat = logits.reshape(-1, c)          # mixes classes and pixels unless H = W = 1
    t = target.reshape(-1)
    z = flat - flat.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    valid = t != ignore_index
    p[np.arange(len(t))[valid], t[valid]] -= 1
    p[~valid] = 0
    return (dout * p / valid.sum()).reshape(n, c, h, w)


@wrong("pixel_cross_entropy.image_mean")
def pixel_ce_mean_of_image_means(dout, logits, target, ignore_index=255):
    valid = target != ignore_index
    g = _pixel_softmax_minus_onehot(logits, target, ignore_index) * valid[:, None]
    per_image = valid.reshape(len(valid), -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dout * g / per_image[:, None, None, None] / len(valid)


def _bilinear_source(out_size, in_size, clamp=True):
    src = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
    if clamp:
        src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    return i0, np.minimum(i0 + 1, in_size - 1), src - i0


def _bilinear_backward(dout, x, size, fancy=False, clamp=True, rows_for_cols=False):
    h, w = x.shape[2:]
    r0, r1, a = _bilinear_source(size[0], h, clamp)
    c0, c1, b = _bilinear_source(size[1], h if rows_for_cols else w, clamp)
    c0, c1 = np.minimum(c0, w - 1), np.minimum(c1, w - 1)
    drows = np.zeros(dout.shape[:3] + (w,))
    dx = np.zeros_like(x)
    if fancy:   # += through fancy indexing: a repeated index adds once
        drows[:, :, :, c0] += dout * (1 - b)
        drows[:, :, :, c1] += dout * b
        dx[:, :, r0] += drows * (1 - a)[:, None]
        dx[:, :, r1] += drows * a[:, None]
        return dx
    np.add.at(drows, (slice(None), slice(None), slice(None), c0), dout * (1 - b))
    np.add.at(drows, (slice(None), slice(None), slice(None), c1), dout * b)
    np.add.at(dx, (slice(None), slice(None), r0), drows * (1 - a)[:, None])
    np.add.at(dx, (slice(None), slice(None), r1), drows * a[:, None])
    return dx


@wrong("bilinear_upsample.accumulate")
def bilinear_fancy_index_add(dout, x, size):
    return _bilinear_backward(dout, x, size, fancy=True)


@wrong("bilinear_upsample.border")
def bilinear_no_clamp(dout, x, size):
    return _bilinear_backward(dout, x, size, clamp=False)


@wrong("bilinear_upsample.axes")
def bilinear_height_for_width(dout, x, size):
    return _bilinear_backward(dout, x, size, rows_for_cols=True)


def _roi_pool_backward(dout, x, boxes, output_size, spatial_scale, assign=False,
                       image_zero=False, ignore_scale=False, rounding=None):
    from scratchnet.exercises.solutions.roi_pool import _bins, _round
    rnd = rounding or _round
    scale = 1.0 if ignore_scale else spatial_scale
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for k, box in enumerate(boxes):
        b = 0 if image_zero else int(box[0])
        x1, y1, x2, y2 = (rnd(v * scale) for v in box[1:])
        for ph, (h0, h1) in enumerate(_bins(y1, y2, output_size[0])):
            for pw, (w0, w1) in enumerate(_bins(x1, x2, output_size[1])):
                h0, h1 = min(max(h0, 0), h), min(max(h1, 0), h)
                w0, w1 = min(max(w0, 0), w), min(max(w1, 0), w)
                if h1 <= h0 or w1 <= w0:
                    continue
                win = x[b, :, h0:h1, w0:w1].reshape(c, -1)
                r, s = np.unravel_index(win.argmax(axis=1), (h1 - h0, w1 - w0))
                if assign:
                    dx[b, np.arange(c), h0 + r, w0 + s] = dout[k, :, ph, pw]
                else:
                    dx[b, np.arange(c), h0 + r, w0 + s] += dout[k, :, ph, pw]
    return dx


@wrong("roi_pool.accumulate")
def roi_pool_assign(dout, x, boxes, output_size, spatial_scale=1.0):
    return _roi_pool_backward(dout, x, boxes, output_size, spatial_scale, assign=True)


@wrong("roi_pool.batch_index")
def roi_pool_first_image(dout, x, boxes, output_size, spatial_scale=1.0):
    return _roi_pool_backward(dout, x, boxes, output_size, spatial_scale, image_zero=True)


@wrong("roi_pool.scale")
def roi_pool_unscaled(dout, x, boxes, output_size, spatial_scale=1.0):
    return _roi_pool_backward(dout, x, boxes, output_size, spatial_scale, ignore_scale=True)


@wrong("roi_pool.rounding")
def roi_pool_numpy_round(dout, x, boxes, output_size, spatial_scale=1.0):
    return _roi_pool_backward(dout, x, boxes, output_size, spatial_scale,
                              rounding=lambda v: int(np.round(v)))


def _triplet_grads(a, p, n, alpha, mask=True, factor=2.0, mean=True):
    gap = ((a - p) ** 2).sum(axis=1) - ((a - n) ** 2).sum(axis=1) + alpha
    active = (gap > 0)[:, None] if mask else np.ones((len(a), 1))
    scale = active / len(a) if mean else active
    return factor * (n - p) * scale, -factor * (a - p) * scale, factor * (a - n) * scale


@wrong("triplet_loss.easy")
def triplet_no_hinge(dout, a, p, n, alpha=0.2):
    return tuple(dout * g for g in _triplet_grads(a, p, n, alpha, mask=False))


@wrong("triplet_loss.square")
def triplet_forgot_the_two(dout, a, p, n, alpha=0.2):
    return tuple(dout * g for g in _triplet_grads(a, p, n, alpha, factor=1.0))


@wrong("triplet_loss.sign")
def triplet_pulls_the_negative(dout, a, p, n, alpha=0.2):
    da, dp, dn = _triplet_grads(a, p, n, alpha)
    return dout * da, -dout * dp, -dout * dn


@wrong("triplet_loss.mean")
def triplet_sum_not_mean(dout, a, p, n, alpha=0.2):
    return tuple(dout * g for g in _triplet_grads(a, p, n, alpha, mean=False))


def _style_grad(f, a, factor=1.0, m_power=2, n_power=2):
    c = f.shape[0]
    m = f.shape[1] * f.shape[2]
    fm = f.reshape(c, m)
    g = fm @ fm.T
    return (factor * (g - a) @ fm / (c ** n_power * m ** m_power)).reshape(f.shape)


@wrong("style_loss.twice")
def style_one_factor(dout, f, a):
    return dout * _style_grad(f, a, factor=0.5)


@wrong("style_loss.positions")
def style_m_not_squared(dout, f, a):
    return dout * _style_grad(f, a, m_power=1)


@wrong("style_loss.filters")
def style_n_not_squared(dout, f, a):
    return dout * _style_grad(f, a, n_power=1)


@wrong("dice_loss.denominator")
def dice_numerator_only(dout, p, g, eps=1.0):
    denom = p.sum(axis=(1, 2), keepdims=True) + g.sum(axis=(1, 2), keepdims=True) + eps
    return -dout * 2 * g / denom / len(p)


@wrong("dice_loss.per_image")
def dice_whole_batch(dout, p, g, eps=1.0):
    inter = (p * g).sum()
    denom = p.sum() + g.sum() + eps
    return -dout * (2 * g * denom - (2 * inter + eps)) / denom ** 2


@wrong("dice_loss.sign")
def dice_coefficient_gradient(dout, p, g, eps=1.0):
    return -solution("dice_loss")(dout, p, g, eps)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


@wrong("gan_bce.saturating")
def gan_saturating_generator(dout, real, fake, player="discriminator"):
    if player == "discriminator":
        return solution("gan_bce")(dout, real, fake, player)
    # minimising log(1 - D(G(z))) as in the first GAN paper's minimax game
    return np.zeros_like(real), -dout * _sig(fake) / len(fake)


@wrong("gan_bce.fake_label")
def gan_fakes_labelled_real(dout, real, fake, player="discriminator"):
    if player == "discriminator":
        return dout * (_sig(real) - 1) / len(real), dout * (_sig(fake) - 1) / len(fake)
    return solution("gan_bce")(dout, real, fake, player)


@wrong("gan_bce.mean")
def gan_sum_not_mean(dout, real, fake, player="discriminator"):
    dr, df = solution("gan_bce")(dout, real, fake, player)
    return dr * len(real), df * len(fake)


@wrong("gan_bce.generator_real")
def gan_generator_also_real(dout, real, fake, player="discriminator"):
    if player == "discriminator":
        return solution("gan_bce")(dout, real, fake, player)
    return dout * (_sig(real) - 1) / len(real), dout * (_sig(fake) - 1) / len(fake)


def _roi_align_backward(dout, x, boxes, output_size, spatial_scale, sampling_ratio, aligned,
                        nearest=False, average=True, image_zero=False, always_aligned=False):
    from scratchnet.exercises.solutions.roi_align import _samples, _taps
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for k, box in enumerate(boxes):
        b = 0 if image_zero else int(box[0])
        for ph, pw, count, points in _samples(box, output_size, spatial_scale, sampling_ratio,
                                              aligned or always_aligned):
            g = dout[k, :, ph, pw] / (max(count, 1) if average else 1)
            for y, xx in points:
                if nearest:   # the nearest pixel instead of the four around the sample
                    yi, xi = int(round(y)), int(round(xx))
                    if 0 <= yi < h and 0 <= xi < w:
                        dx[b, :, yi, xi] += g
                    continue
                ty, tx = _taps(y, h), _taps(xx, w)
                if ty is None or tx is None:
                    continue
                (y0, y1, ly), (x0, x1, lx) = ty, tx
                dx[b, :, y0, x0] += (1 - ly) * (1 - lx) * g
                dx[b, :, y0, x1] += (1 - ly) * lx * g
                dx[b, :, y1, x0] += ly * (1 - lx) * g
                dx[b, :, y1, x1] += ly * lx * g
    return dx


@wrong("roi_align.weights")
def roi_align_nearest_pixel(dout, x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2,
                            aligned=True):
    return _roi_align_backward(dout, x, boxes, output_size, spatial_scale, sampling_ratio,
                               aligned, nearest=True)


@wrong("roi_align.count")
def roi_align_sum_of_samples(dout, x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2,
                             aligned=True):
    return _roi_align_backward(dout, x, boxes, output_size, spatial_scale, sampling_ratio,
                               aligned, average=False)


@wrong("roi_align.aligned")
def roi_align_always_half_pixel(dout, x, boxes, output_size, spatial_scale=1.0,
                                sampling_ratio=2, aligned=True):
    return _roi_align_backward(dout, x, boxes, output_size, spatial_scale, sampling_ratio,
                               aligned, always_aligned=True)


@wrong("roi_align.batch_index")
def roi_align_first_image(dout, x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2,
                          aligned=True):
    return _roi_align_backward(dout, x, boxes, output_size, spatial_scale, sampling_ratio,
                               aligned, image_zero=True)


def _yolo_backward(dout, pred, target, obj, resp, lambda_coord, sqrt=True, all_boxes=False,
                   every_cell=False, times_lambda=True):
    b = pred.shape[3]
    chosen = np.ones(resp.shape + (b,)) if all_boxes else (np.arange(b) == resp[..., None])
    cells = np.ones_like(obj) if every_cell else obj
    mask = (cells[..., None] * chosen)[..., None]
    grad = 2 * (pred - target[..., None, :])
    if sqrt:
        root = np.sqrt(pred[..., 2:])
        grad[..., 2:] = (root - np.sqrt(target[..., None, 2:])) / root
    scale = lambda_coord if times_lambda else 1.0
    return dout * scale * grad * mask / len(pred)


@wrong("yolo_coord.sqrt")
def yolo_no_square_roots(dout, pred, target, obj, resp, lambda_coord=5.0):
    return _yolo_backward(dout, pred, target, obj, resp, lambda_coord, sqrt=False)


@wrong("yolo_coord.responsible")
def yolo_every_predictor(dout, pred, target, obj, resp, lambda_coord=5.0):
    return _yolo_backward(dout, pred, target, obj, resp, lambda_coord, all_boxes=True)


@wrong("yolo_coord.no_object")
def yolo_every_cell(dout, pred, target, obj, resp, lambda_coord=5.0):
    return _yolo_backward(dout, pred, target, obj, resp, lambda_coord, every_cell=True)


@wrong("yolo_coord.lambda")
def yolo_without_lambda(dout, pred, target, obj, resp, lambda_coord=5.0):
    return _yolo_backward(dout, pred, target, obj, resp, lambda_coord, times_lambda=False)


CASES = [(key.split(".")[0], key, fn) for key, fns in WRONG.items() for fn in fns]


@pytest.mark.parametrize("name,key,backward", CASES, ids=[f"{k}-{f.__name__}" for _, k, f in CASES])
def test_structural_hint_fires_on_a_realistic_wrong_solution(name, key, backward):
    report = E.check(name, module=student(name, backward), lang="en")
    assert not report.passed
    assert key in report.hint_keys, str(report)
    hint = next(h for h in E.EXERCISES[name].hints if h.key == key)
    assert hint.text.en in str(report)


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_every_exercise_has_three_structural_hints_each_tested(name):
    keys = [h.key for h in E.EXERCISES[name].hints]
    assert len(keys) >= 3 and len(set(keys)) == len(keys)
    assert all(k.startswith(name + ".") for k in keys)
    untested = [k for k in keys if k not in WRONG]
    assert not untested, f"hints without a realistic wrong solution: {untested}"


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_reference_solution_fires_no_structural_hint(name):
    report = E.check(name, module=student(name, solution(name)))
    assert report.passed and report.hint_keys == []


def test_max_pool_window_assignment_gets_the_accumulate_hint_in_korean():
    report = E.check("max_pool", module=student("max_pool", pool_window_assign), lang="ko")
    assert "누적(+=)" in str(report) and "아직 아님" in str(report)


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_hints_survive_gradients_of_the_wrong_shape(name):
    ex = E.EXERCISES[name]

    def flat(dout, *args, **kw):
        grads = solution(name)(dout, *args, **kw)
        grads = grads if isinstance(grads, tuple) else (grads,)
        out = tuple(g.ravel()[:-1] for g in grads)
        return out if len(ex.grad_inputs) > 1 else out[0]

    report = E.check(name, module=student(name, flat), lang="en")
    assert not report.passed and "expected" in str(report)
