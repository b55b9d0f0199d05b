"""GAN recipe behind `scratchnet train dcgan` / `scratchnet train gan`: train a generator
against a discriminator on real digits, save a grid of samples per epoch, the loss curves and
a judge's verdict on the samples.

    G, D, report = train("dcgan", data="mnist", loss="non-saturating", out="runs/dcgan")

With D's logit l = D(x) and sigma the sigmoid, the discriminator minimises the binary
cross-entropy of real (label 1) vs generated (label 0) images. The generator has two choices
(Goodfellow et al. 2014, section 3):

    minimax         minimise  log(1 - sigma(D(G(z))))  (the game's value): its gradient vanishes
                    while D rejects the samples easily, i.e. at the start of training
    non-saturating  minimise -log sigma(D(G(z)))        (same fixed point, strong gradients
                    early; what the paper recommends and DCGAN uses)

The judge is a small classifier trained on the real digits; on generated samples it reports its
mean confidence (max softmax) and the histogram of the classes it assigns. A generator that
covers every digit gives a flat histogram; mode collapse (many z mapped to a few digits) shows
as a skewed one, measured by the histogram's entropy relative to log 10.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

MODELS = ("dcgan", "gan")
LOSSES = ("non-saturating", "minimax")
# data: (image size, epochs, batch size) sized for minutes of 2 cores
DATA = {"mnist": (28, 10, 64), "digits": (8, 10, 64)}
WIDTH = 16          # DCGAN channels: 16 and 32 (the paper: 128 to 1024, for 64x64 colour)
N_JUDGE = 1000


class GANError(ValueError):
    """A bad option of the GAN recipe, explained."""


def load_real(data="mnist"):
    """(images (N, 1, s, s) float32 in [-1, 1] (the generator's tanh range), labels (N,))."""
    from .data.datasets.digit_scenes import load_source_digits
    if data not in DATA:
        raise GANError(f"gan: data must be 'mnist' or 'digits', got {data!r}")
    images, labels = load_source_digits("mnist" if data == "mnist" else "sklearn")
    return (images[:, None] * 2 - 1).astype(np.float32), labels


def generator_loss(logits_fake, loss="non-saturating"):
    """The generator's loss on D's logits for generated images (see the module docstring)."""
    from . import ones_like, zeros_like
    from .nn import functional as F
    if loss == "non-saturating":
        return F.binary_cross_entropy_with_logits(logits_fake, ones_like(logits_fake))
    if loss == "minimax":
        return -F.binary_cross_entropy_with_logits(logits_fake, zeros_like(logits_fake))
    raise GANError(f"gan: loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def discriminator_loss(logits_real, logits_fake):
    """BCE of real images labelled 1 plus generated images labelled 0 (mean over each)."""
    from . import ones_like, zeros_like
    from .nn import functional as F
    return (F.binary_cross_entropy_with_logits(logits_real, ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, zeros_like(logits_fake)))


def train_judge(images, labels, epochs=8, seed=0):
    """A classifier of real digits: MLP (s*s -> 256 -> 10), Adam. Returns (model, held-out
    accuracy on a fixed 20% of the images)."""
    from . import nn, optim, random, tensor
    from .nn import functional as F
    random.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    n_test = len(labels) // 5
    test, train = order[:n_test], order[n_test:]
    d = images[0].size
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for s in range(0, len(train), 64):
            idx = train[s:s + 64]
            loss = F.cross_entropy(model(tensor(images[idx])), tensor(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        train = train[rng.permutation(len(train))]
    acc = float(np.mean(judge_probs(model, images[test]).argmax(1) == labels[test]))
    return model, acc


def judge_probs(judge, images):
    """(N, 10) softmax probabilities of the judge on images (N, 1, s, s)."""
    from . import no_grad, tensor
    from .nn import functional as F
    judge.eval()
    with no_grad():
        return F.softmax(judge(tensor(images)), dim=1).data.astype(np.float64)


def judge_report(judge, images):
    """Mean confidence, class histogram (counts) and normalised entropy of the histogram
    (1 = every class equally often, 0 = one class only) of the judge on `images`."""
    p = judge_probs(judge, images)
    hist = np.bincount(p.argmax(1), minlength=10)
    share = hist / hist.sum()
    nz = share[share > 0]
    return {"confidence": float(p.max(1).mean()), "histogram": hist.tolist(),
            "entropy": float(-(nz * np.log(nz)).sum() / np.log(10)) + 0.0,
            "top_class_share": float(share.max())}


def sample(G, z):
    """Generated images (N, 1, s, s) for noise z (N, nz), G in eval mode, no graph."""
    from . import no_grad, tensor
    G.eval()
    with no_grad():
        x = G(tensor(z)).data
    G.train()
    return x


def train(model="dcgan", data="mnist", loss="non-saturating", epochs=None, batch_size=None,
          lr=2e-4, nz=None, out="runs/dcgan", seed=0, log=print, progress=True, plots=True,
          judge=None, steps_per_epoch=None):
    """Train G and D with Adam (lr 2e-4, beta1 = 0.5, DCGAN's settings); writes
    samples_epochNN.png per epoch, progression.png, curves.png, report.json and
    checkpoint.npz into `out`. Returns (G, D, report). `judge` reuses a (model, accuracy)
    from train_judge; steps_per_epoch caps the batches of an epoch (quick runs)."""
    from . import optim, random, serialization, tensor
    from ._atomic import atomic_write
    from .models.gan import dcgan, mlp_gan

    log = log or (lambda *a: None)
    if model not in MODELS:
        raise GANError(f"gan: model must be one of {', '.join(MODELS)}, got {model!r}")
    if loss not in LOSSES:
        raise GANError(f"gan: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    images, labels = load_real(data)
    size, d_epochs, d_batch = DATA[data]
    epochs = d_epochs if epochs is None else int(epochs)
    batch_size = d_batch if batch_size is None else int(batch_size)
    if epochs < 1 or batch_size < 2 or not lr > 0:
        raise GANError(f"gan: epochs >= 1, batch size >= 2 and lr > 0 are needed, got "
                       f"{epochs}, {batch_size}, {lr}")
    nz = nz or (32 if model == "dcgan" else 16)
    os.makedirs(out, exist_ok=True)
    random.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G, D = dcgan(size, nz, WIDTH) if model == "dcgan" else mlp_gan(size, nz)
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    fixed_z = rng.standard_normal((64, nz)).astype(np.float32)
    log(f"{model} on {data} ({len(labels)} real {size}x{size} digits), generator loss {loss}, "
        f"{epochs} epochs, batch {batch_size}, Adam lr {lr:g} beta1 0.5")
    history = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
    grids = []
    t0 = time.perf_counter()
    n_batches = len(labels) // batch_size
    n_batches = min(n_batches, steps_per_epoch) if steps_per_epoch else n_batches
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(labels))
        for b in range(n_batches):
            real = tensor(images[order[b * batch_size:(b + 1) * batch_size]])
            z = tensor(rng.standard_normal((batch_size, nz)).astype(np.float32))
            fake = G(z)
            # discriminator step: the generated batch is a constant here (detached)
            l_real, l_fake = D(real), D(fake.detach())
            d_loss = discriminator_loss(l_real, l_fake)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # generator step through the updated discriminator
            g_loss = generator_loss(D(fake), loss)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            history["d_loss"].append(d_loss.item())
            history["g_loss"].append(g_loss.item())
            history["d_real"].append(float(_sigmoid(l_real.data).mean()))
            history["d_fake"].append(float(_sigmoid(l_fake.data).mean()))
        grid = sample(G, fixed_z)
        grids.append(grid)
        if plots:
            save_grid(grid, os.path.join(out, f"samples_epoch{epoch:02d}.png"),
                      f"{model} ({loss}) epoch {epoch}")
        k = n_batches
        log(f"epoch {epoch}: D loss {np.mean(history['d_loss'][-k:]):.3f}, G loss "
            f"{np.mean(history['g_loss'][-k:]):.3f}, D(real) {np.mean(history['d_real'][-k:]):.2f}"
            f", D(fake) {np.mean(history['d_fake'][-k:]):.2f} ({time.perf_counter() - t0:.0f} s)")
    seconds = time.perf_counter() - t0
    judge_model, judge_acc = judge or train_judge(images, labels, seed=seed)
    generated = sample(G, rng.standard_normal((N_JUDGE, nz)).astype(np.float32))
    verdict = judge_report(judge_model, generated)
    real_verdict = judge_report(judge_model, images[rng.permutation(len(labels))[:N_JUDGE]])
    log(f"judge (held-out accuracy on real digits {judge_acc:.1%}) on {N_JUDGE} samples: "
        f"confidence {verdict['confidence']:.2f} (real digits: {real_verdict['confidence']:.2f})"
        f", class histogram {verdict['histogram']}, entropy {verdict['entropy']:.2f} "
        f"(1 = every digit equally often)")
    report = {"model": model, "data": data, "loss": loss, "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "nz": nz, "seed": seed,
              "train_seconds": seconds, "judge_accuracy": judge_acc, "generated": verdict,
              "real": real_verdict}
    serialization.save({"generator": G.state_dict(), "discriminator": D.state_dict()},
                       os.path.join(out, "checkpoint.npz"))
    text = json.dumps({"report": report, "history": history}, indent=1)
    atomic_write(os.path.join(out, "report.json"), lambda f: f.write(text.encode("utf-8")))
    if plots:
        save_progression(grids, os.path.join(out, "progression.png"))
        plot_losses(history, os.path.join(out, "curves.png"), f"{model} ({loss})")
        log(f"wrote {out}/samples_epochNN.png, progression.png, curves.png, report.json, "
            f"checkpoint.npz")
    return G, D, report


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def tile(images, cols=8):
    """(N, 1, s, s) images in [-1, 1] -> one grey (H', W') array in [0, 1], `cols` per row
    with 1-pixel white borders (utils.make_grid, torchvision's layout)."""
    from .utils.draw import make_grid
    return make_grid(np.clip(images, -1, 1), nrow=cols, padding=1, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)[0]


def save_grid(images, path, title=""):
    from .plotting import _plt, _save
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 4.2))
    ax.imshow(tile(images), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def save_progression(grids, path):
    """One row per epoch: the first 8 samples of the fixed noise, so the same z can be
    followed from blur to digit."""
    from .plotting import _plt, _save
    plt = _plt()
    rows = np.stack([tile(g[:8]) for g in grids])
    fig, axes = plt.subplots(len(grids), 1, figsize=(4, 0.6 * len(grids) + 0.4), squeeze=False)
    for i, (ax, row) in enumerate(zip(axes[:, 0], rows)):
        ax.imshow(row, cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"epoch {i + 1}", fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_losses(history, path, title):
    from .plotting import _plt, _save
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    a1.plot(history["d_loss"], lw=0.8, label="discriminator")
    a1.plot(history["g_loss"], lw=0.8, label="generator")
    a1.set(xlabel="step", ylabel="loss", title=f"{title}: losses")
    a2.plot(history["d_real"], lw=0.8, label="D(real)")
    a2.plot(history["d_fake"], lw=0.8, label="D(G(z))")
    a2.set(xlabel="step", ylabel="sigmoid(D)", title="discriminator's outputs")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
