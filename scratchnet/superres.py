"""Super-resolution recipes behind `scratchnet sr`: train a model on photo patches, measure it
on the held-out photos against bicubic, upscale an image with a checkpoint.

    model, history, table = train("fsrcnn", scale=3, out="runs/sr_fsrcnn_x3")
    table = evaluate(model, "fsrcnn", scale=3)         # [{'photo', 'bicubic', 'model'}, ...]
    upscale("in.png", "out.png", "runs/sr_fsrcnn_x3/checkpoint.npz")

Training minimises the MSE between the output and the high-resolution patch on Y (the papers'
loss) with Adam, its rate annealed to zero along a cosine over the run (the papers used SGD
with small learning rates and days of GPU time; Adam reaches the same region in minutes).
Every `eval_every` steps the held-out photos' centre crops are measured, so the curve shows
PSNR on photos the model never saw; the final table uses the whole photos. Models run on
whole images in tiles (`apply`), each tile with a halo of input pixels wider than the
receptive field, so the result equals one pass over the image.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Callable, NamedTuple

import numpy as np


class Recipe(NamedTuple):
    """A model's default training: `make(scale)` builds it, `takes_lr` says whether it reads the
    LR image (else its bicubic upscaling); `steps` of `batch` patches with Adam at `lr`."""
    make: Callable
    takes_lr: bool
    steps: int
    batch: int
    lr: float


RECIPES = {
    # The SRCNNs and FSRCNNs share one budget, 3000 steps of 16 patches (48,000, 1.7 passes
    # over the 28,616 training patches), so that they can be compared; the ReLU models take
    # Adam at 3e-4, the PReLU ones 1e-3, the better of 1e-4 / 3e-4 / 1e-3 in 600-step trials.
    # VDSR's patch costs 7x SRCNN-Ex's: 500 steps of 8. Measured at x3 on the whole held-out
    # photos (bicubic 29.65 dB), one thread, training CPU time: srcnn 30.33 (417 s),
    # srcnn_915 30.26 (137 s), fsrcnn_t1 30.27 (48 s), fsrcnn_t2 30.28 (27 s), fsrcnn 30.27
    # (24 s, +0.62 dB), vdsr 30.46 (272 s). FSRCNN used to stop at 600 steps (+0.40 dB):
    # too few, not yet one pass over the patches. Tried at 600-6000 steps and not kept: the
    # paper's 10x smaller rate for the deconvolution (-0.1 dB: Adam's step does not grow with
    # the gradient, which is what the smaller SGD rate tamed), 20 x 20 LR patches with the
    # loss off the zero-padded border (+0.08 dB for 2.7x the time), rotations on top of the
    # flips (no change), SGD with momentum (+0.05 dB at 1e-2; 1e-1 diverges). Every model but VDSR starts from plain upscaling
    # (models.sr.identity_init_); VDSR's residual starts at bicubic by itself.
    "srcnn": Recipe(lambda s: _sr().srcnn(9, 5, 5), False, 3000, 16, 3e-4),
    "srcnn_915": Recipe(lambda s: _sr().srcnn(9, 1, 5), False, 3000, 16, 3e-4),
    "fsrcnn": Recipe(lambda s: _sr().fsrcnn(scale=s), True, 3000, 16, 1e-3),
    "fsrcnn_t1": Recipe(lambda s: _sr().fsrcnn_transition1(scale=s), True, 3000, 16, 3e-4),
    "fsrcnn_t2": Recipe(lambda s: _sr().fsrcnn_transition2(scale=s), True, 3000, 16, 1e-3),
    "vdsr": Recipe(lambda s: _sr().vdsr(20), False, 500, 8, 1e-4),
}
HALO = 24          # input pixels around each tile: more than any recipe's receptive radius


def _sr():
    from .models import sr
    return sr


class SRError(ValueError):
    """A bad recipe name, scale or checkpoint, explained."""


def build(name, scale):
    if name not in RECIPES:
        raise SRError(f"sr: unknown model {name!r}; choose from {', '.join(RECIPES)}")
    if not isinstance(scale, int) or not 2 <= scale <= 4:
        raise SRError(f"sr: scale must be 2, 3 or 4, got {scale!r}")
    return RECIPES[name].make(scale), RECIPES[name].takes_lr


def apply(model, image, takes_lr, scale, tile=96):
    """Run `model` on one (H, W) image (the LR image if `takes_lr`, else its bicubic
    upscaling) in tiles of `tile` input pixels plus a halo, without a graph; returns the HR
    (H', W') float32 output, not clipped."""
    import scratchnet as sn

    h, w = image.shape
    f = scale if takes_lr else 1
    halo = HALO // f + 1
    out = np.zeros((h * f, w * f), np.float32)
    model.eval()
    with sn.no_grad():
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                t0, l0 = max(top - halo, 0), max(left - halo, 0)
                b1, r1 = min(top + tile, h), min(left + tile, w)
                x = image[t0:min(b1 + halo, h), l0:min(r1 + halo, w)]
                y = model(sn.tensor(np.ascontiguousarray(x, np.float32)[None, None])).data[0, 0]
                out[top * f:b1 * f, left * f:r1 * f] = \
                    y[(top - t0) * f:(b1 - t0) * f, (left - l0) * f:(r1 - l0) * f]
    return out


def evaluate(model, takes_lr, scale=3, images=None, crop=None):
    """PSNR and SSIM (Y, shave = scale, outputs clipped to [0, 1]) of bicubic and of the model
    on each held-out photo: a list of dicts, one per photo, plus the mean as 'mean'."""
    from .data.datasets.sr_photos import held_out
    from .metrics import psnr, ssim

    images = images if images is not None else held_out(scale, crop)
    rows = []
    for im in images:
        bic = np.clip(im.bicubic, 0, 1)
        sr_img = np.clip(apply(model, im.lr if takes_lr else im.bicubic, takes_lr, scale), 0, 1)
        rows.append({"photo": im.name, "bicubic": psnr(bic, im.hr, shave=scale),
                     "model": psnr(sr_img, im.hr, shave=scale),
                     "bicubic_ssim": ssim(bic, im.hr, shave=scale),
                     "model_ssim": ssim(sr_img, im.hr, shave=scale)})
    rows.append({k: (float(np.mean([r[k] for r in rows])) if k != "photo" else "mean")
                 for k in rows[0]})
    return rows


def format_table(rows, name):
    lines = [f"{'photo':12}{'bicubic dB':>12}{name + ' dB':>16}{'gain':>8}"
             f"{'SSIM bic':>10}{'SSIM ' + name:>16}"]
    for r in rows:
        lines.append(f"{r['photo']:12}{r['bicubic']:12.2f}{r['model']:16.2f}"
                     f"{r['model'] - r['bicubic']:+8.2f}{r['bicubic_ssim']:10.4f}"
                     f"{r['model_ssim']:16.4f}")
    return "\n".join(lines)


def train(name="srcnn", scale=3, steps=None, batch_size=None, lr=None, out=None, seed=0,
          progress=True, log=print, eval_every=None, eval_crop=96, final_crop=None,
          photos=None, identity_start=True):
    """Train recipe `name` at `scale` and write checkpoint.npz, history.json, curves.png and
    crops.png into `out`. Returns (model, history dict, held-out table rows).
    identity_start=False keeps the papers' random initialisation (see identity_init_)."""
    from . import optim, random, serialization
    from .data import DataLoader
    from .data.datasets.sr_photos import TRAIN_PHOTOS, SRPatches, held_out
    from .nn import functional as F
    from .train import NonFiniteLossError, _progress

    log = log or (lambda *a: None)
    build(name, scale)                      # validates the name and scale
    recipe = RECIPES[name]
    takes_lr = recipe.takes_lr
    steps, batch_size, lr = steps or recipe.steps, batch_size or recipe.batch, lr or recipe.lr
    eval_every = eval_every or max(steps // 5, 1)
    random.manual_seed(seed)
    model, _ = build(name, scale)
    if identity_start and name != "vdsr":
        _sr().identity_init_(model)
    t_data = time.perf_counter()
    patches = SRPatches(scale, upscaled=not takes_lr, photos=photos or TRAIN_PHOTOS)
    loader = DataLoader(patches, batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=seed)
    probe = held_out(scale, eval_crop)
    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    n_w = _sr().table_weights(model)
    log(f"training {name} x{scale} ({n_w:,} weights): {len(patches):,} patches of "
        f"{'LR' if takes_lr else 'bicubic'} input from {len(patches.images)} photos "
        f"(prepared in {time.perf_counter() - t_data:.1f} s), {steps} steps of {batch_size}, "
        f"Adam lr={lr:g} annealed to 0 (cosine), seed {seed}")
    history = {"step": [], "loss": [], "eval_step": [], "psnr": [], "seconds": []}
    bicubic_probe = evaluate(model, takes_lr, scale, probe)[-1]["bicubic"]
    t0, cpu0 = time.perf_counter(), time.process_time()
    batches = iter(loader)
    for step in _progress(range(1, steps + 1), f"{name} x{scale}", progress):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        model.train()
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        value = float(loss.item())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"the loss became {value} at step {step}: lower the "
                                     f"learning rate (now {lr:g})")
        loss.backward()
        opt.step()
        schedule.step()
        history["step"].append(step)
        history["loss"].append(value)
        if step % eval_every == 0 or step == steps:
            p = evaluate(model, takes_lr, scale, probe)[-1]["model"]
            history["eval_step"].append(step)
            history["psnr"].append(p)
            history["seconds"].append(time.perf_counter() - t0)
            log(f"step {step:>5}: loss {np.mean(history['loss'][-eval_every:]):.5f}, "
                f"held-out crops {p:.2f} dB (bicubic {bicubic_probe:.2f}), "
                f"{time.perf_counter() - t0:.0f} s")
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    table = evaluate(model, takes_lr, scale, crop=final_crop)
    log(format_table(table, name))
    log(f"{name} x{scale}: {table[-1]['model']:.2f} dB vs bicubic {table[-1]['bicubic']:.2f} "
        f"dB on the held-out photos after {seconds:.0f} s of training ({cpu_seconds:.0f} s of "
        f"CPU time, probes included)")
    if out:
        os.makedirs(out, exist_ok=True)
        meta = {"model": name, "scale": scale, "steps": steps, "batch_size": batch_size,
                "lr": lr, "seed": seed, "train_seconds": seconds,
                "train_cpu_seconds": cpu_seconds, "params": n_w,
                "held_out_psnr": table[-1]["model"], "bicubic_psnr": table[-1]["bicubic"],
                "held_out_ssim": table[-1]["model_ssim"],
                "bicubic_ssim": table[-1]["bicubic_ssim"]}
        serialization.save({"model": model.state_dict(), "meta": meta},
                           os.path.join(out, "checkpoint.npz"))
        with open(os.path.join(out, "history.json"), "w") as f:
            json.dump({"meta": meta, "history": history, "table": table}, f, indent=1)
        plot_curves(history, bicubic_probe, os.path.join(out, "curves.png"), f"{name} x{scale}")
        plot_crops(model, takes_lr, scale, os.path.join(out, "crops.png"), name)
        log(f"wrote {out}/checkpoint.npz, history.json, curves.png, crops.png")
    return model, history, table


def plot_curves(history, bicubic, path, title):
    """Training loss per step and held-out PSNR against the bicubic line."""
    from .plotting import _plt
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.semilogy(history["step"], history["loss"], lw=0.8)
    a1.set(xlabel="step", ylabel="MSE loss", title=f"{title}: training loss")
    a2.plot(history["eval_step"], history["psnr"], "o-", label="model")
    a2.axhline(bicubic, color="gray", ls="--", label="bicubic")
    a2.set(xlabel="step", ylabel="PSNR (dB, Y)", title="held-out crops")
    for a in (a1, a2):
        a.grid(alpha=0.3)
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_crops(model, takes_lr, scale, path, name, photo="chelsea", size=96):
    """Side by side: bicubic | model | original, one centre crop of a held-out photo."""
    from .data.datasets.sr_photos import held_out
    from .metrics import psnr
    from .plotting import _plt

    (im,) = held_out(scale, crop=size, names=(photo,))
    out = np.clip(apply(model, im.lr if takes_lr else im.bicubic, takes_lr, scale), 0, 1)
    bic = np.clip(im.bicubic, 0, 1)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    panels = [(f"bicubic {psnr(bic, im.hr, shave=scale):.2f} dB", bic),
              (f"{name} {psnr(out, im.hr, shave=scale):.2f} dB", out), ("original", im.hr)]
    for a, (t, img) in zip(axes, panels):
        a.imshow(img, cmap="gray", vmin=0, vmax=1)
        a.set_title(t)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_checkpoint(path):
    """(model, takes_lr, scale, meta) from a checkpoint written by `train`."""
    from . import serialization
    if not os.path.exists(path):
        raise SRError(f"no checkpoint at {path}; `scratchnet sr train` writes "
                      f"<out>/checkpoint.npz")
    ckpt = serialization.load(path)
    if not isinstance(ckpt, dict) or "meta" not in ckpt or "scale" not in ckpt["meta"]:
        raise SRError(f"{path} is not a `scratchnet sr train` checkpoint")
    meta = ckpt["meta"]
    scale = int(meta["scale"])
    model, takes_lr = build(str(meta["model"]), scale)
    model.load_state_dict(ckpt["model"])
    return model, takes_lr, scale, meta


def upscale(in_path, out_path, checkpoint, log=print):
    """Upscale an image file by the checkpoint's scale: the model on Y, bicubic (imresize) on
    Cb and Cr, as the papers do for colour. Returns the (H', W'[, 3]) float image written."""
    import matplotlib.image as mpimg

    from .data.transforms import imresize
    from .metrics import rgb_to_ycbcr, ycbcr_to_rgb

    model, takes_lr, scale, meta = load_checkpoint(checkpoint)
    img = np.asarray(mpimg.imread(in_path), dtype=np.float64)
    if img.dtype.kind != "f" or img.max() > 1.0:
        img = img / 255.0
    grey = img.ndim == 2
    ycc = img[None] if grey else rgb_to_ycbcr(np.moveaxis(img[..., :3], -1, 0))
    up = imresize(ycc, scale=scale)
    y = apply(model, ycc[0] if takes_lr else up[0], takes_lr, scale)
    up[0] = y
    result = np.clip(up[0] if grey else np.moveaxis(ycbcr_to_rgb(up), 0, -1), 0, 1)
    mpimg.imsave(out_path, result, cmap="gray" if grey else None, vmin=0, vmax=1)
    log(f"{in_path} {img.shape[1]}x{img.shape[0]} -> {out_path} "
        f"{result.shape[1]}x{result.shape[0]} with {meta['model']} x{scale}")
    return result
