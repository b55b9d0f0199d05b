"""Style transfer speed: one L-BFGS step on a 256 x 256 image through VGG-19 up to conv5_1,
ours against PyTorch CPU, each in its own processes (benchmarks/harness.py).

    python benchmarks/bench_style.py [--rounds 3] [--repeats 3] [--threads 1] [--size 256]

A step is what `scratchnet style --optimizer lbfgs` does per step: `LBFGS(max_iter=1)` calls
the closure once (ImageNet normalisation, VGG-19 features[:30] forward, the deck's style loss
on conv1_1 ... conv5_1 and content loss on conv4_2, backward to the pixels) and updates the
image. Both sides get the same He-normal random weights from a seeded NumPy generator, so the
first loss is the same on both (the harness checks it). Goal: at most 2x PyTorch's time.
"""
from __future__ import annotations

import numpy as np

import harness

STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
# indices of the ReLU after each named conv in torchvision's vgg19().features
RELU_AFTER = {"conv1_1": 1, "conv2_1": 6, "conv3_1": 11, "conv4_1": 20, "conv4_2": 22,
              "conv5_1": 29}
CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
ALPHA, BETA = 1e6, 1.0


def weights():
    """He-normal (fan_out) conv weights and zero biases for features[:30], in order."""
    rng = np.random.default_rng(0)
    out, c = [], 3
    for v in CONFIG:
        if v == "M":
            continue
        std = np.sqrt(2.0 / (v * 9))
        out.append(((rng.standard_normal((v, c, 3, 3)) * std).astype(np.float32),
                    np.zeros(v, np.float32)))
        c = v
    return out


def images(size):
    rng = np.random.default_rng(1)
    return (rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32),
            rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32))


def add_arguments(ap):
    ap.add_argument("--size", type=int, default=256, help="image side (default 256)")


def ours(args):
    import scratchnet as sn
    from scratchnet import optim, style

    features = style.random_vgg19_features()
    convs = [m for m in features if isinstance(m, sn.nn.Conv2d)]
    for conv, (w, b) in zip(convs, weights()):
        conv.weight.data[...] = w
        conv.bias.data[...] = b
    extractor = style.VGGFeatures(features, STYLE + ("conv4_2",))
    content, style_img = images(args.size)
    objective = style.StyleTransfer(extractor, content, style_img, alpha=ALPHA, beta=BETA)
    x = sn.tensor(content.copy(), requires_grad=True)
    opt = optim.LBFGS([x], max_iter=1, history_size=50)

    def closure():
        opt.zero_grad()
        total, _, _ = objective.loss(x)
        total.backward()
        return total

    def step():
        return float(opt.step(closure).item())
    step.checksum = lambda loss: loss
    return {f"L-BFGS step, VGG-19 to conv5_1, {args.size}x{args.size}": step}


def torch_side(args):
    import torch

    layers, c, ws = [], 3, iter(weights())
    for v in CONFIG:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
            continue
        conv = torch.nn.Conv2d(c, v, 3, padding=1)
        w, b = next(ws)
        conv.weight.data = torch.from_numpy(w)
        conv.bias.data = torch.from_numpy(b)
        layers += [conv, torch.nn.ReLU()]
        c = v
    net = torch.nn.Sequential(*layers).requires_grad_(False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    wanted = {i: name for name, i in RELU_AFTER.items()}

    def feats(x):
        out, h = {}, (x - mean) / std
        for i, layer in enumerate(net):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
        return out

    def gram(f):
        flat = f.reshape(f.shape[1], -1)
        return flat @ flat.T

    content, style_img = (torch.from_numpy(a) for a in images(args.size))
    with torch.no_grad():
        targets = {k: gram(v) for k, v in feats(style_img).items() if k in STYLE}
        p = feats(content)["conv4_2"]
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=1, history_size=50)

    def closure():
        opt.zero_grad()
        f = feats(x)
        s = 0.0
        for name in STYLE:
            n, m = f[name].shape[1], f[name].shape[2] * f[name].shape[3]
            s = s + 0.2 * ((gram(f[name]) - targets[name]) ** 2).sum() / (4 * n ** 2 * m ** 2)
        total = ALPHA * s + BETA * 0.5 * ((f["conv4_2"] - p) ** 2).sum()
        total.backward()
        return total

    def step():
        return float(opt.step(closure))
    step.checksum = lambda loss: loss
    return {f"L-BFGS step, VGG-19 to conv5_1, {args.size}x{args.size}": step}


def report(result, args):
    ratios = harness.ratios(result, "torch")
    for case, ratio in ratios.items():
        print(f"{case}: scratchnet takes {1 / ratio:.2f}x PyTorch's time (goal <= 2)")
    return {"time_vs_torch": {c: 1 / r for c, r in ratios.items()}}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="style",
                 description=__doc__.splitlines()[0], add_arguments=add_arguments,
                 rounds=3, repeats=3, report=report)
