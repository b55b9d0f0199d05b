"""Training recipes behind `scratchnet train` / `scratchnet evaluate`: which model goes with
which data, and how a run is saved so that it can be evaluated again later."""
from __future__ import annotations

import json
import math
import os
import time

DATASETS = {
    "digits": "scikit-learn's 1,797 real 8x8 handwritten digits, resized to 32x32 (offline)",
    "mnist": "MNIST 28x28, padded to 32x32 (needs the files, or --download)",
    "fashion-mnist": "Fashion-MNIST 28x28, padded to 32x32 (needs the files, or --download)",
    "cifar10": "CIFAR-10 32x32 colour (needs the files, or --download)",
}

MODELS = {
    "lenet5": {"channels": 1, "default_data": "digits"},
    "convnetjs_cifar10": {"channels": 3, "default_data": "cifar10"},
}

# Defaults per dataset: (epochs, batch size, optimizer, learning rate)
HYPER = {
    "digits": (30, 32, "adam", 2e-3),
    "mnist": (5, 64, "adam", 1e-3),
    "fashion-mnist": (8, 64, "adam", 1e-3),
    "cifar10": (10, 32, "adadelta", 1.0),
}

CLASS_NAMES = {
    "fashion-mnist": ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                      "sneaker", "bag", "boot"],
    "cifar10": ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}


class RecipeError(ValueError):
    pass


def _choices(kind, name, options):
    raise RecipeError(f"unknown {kind} {name!r}; valid choices: {', '.join(options)}")


def build_model(name, num_classes=10):
    from . import models
    if name not in MODELS:
        _choices("model", name, MODELS)
    return getattr(models, name)(num_classes=num_classes)


def datasets(name, root=None, download=False, augment=True, channels=1):
    """(train, test) datasets for `name`, shaped for a 32x32 model with `channels` channels."""
    from . import data
    from .data import transforms as T

    if name not in DATASETS:
        _choices("dataset", name, DATASETS)
    if root is not None and not os.path.isdir(root):
        raise RecipeError(f"--data-root {root!r} is not a directory; give the folder that "
                          f"holds the {name} files, or leave it out to use the cache "
                          f"({data.datasets.data_root()})")
    if name == "digits":
        if channels != 1:
            raise RecipeError("digits are grayscale: use a 1-channel model such as lenet5")
        # 1,437 training images are few: shifts of up to 2 pixels (the ConvNetJS demo's
        # augmentation, deck 002) take the test accuracy from about 97% to about 98.5%
        train_tf = T.RandomCrop(32, padding=2) if augment else None
        return (data.digits("train", normalize=True, transform=train_tf),
                data.digits("test", normalize=True))
    if name in ("mnist", "fashion-mnist"):
        if channels != 1:
            raise RecipeError(f"{name} is grayscale: use a 1-channel model such as lenet5")
        cls = data.MNIST if name == "mnist" else data.FashionMNIST
        tf = T.Compose([T.ToTensor(), T.Pad(2)])
        return (cls(root, train=True, transform=tf, download=download),
                cls(root, train=False, transform=tf, download=download))
    if channels != 3:
        raise RecipeError("cifar10 is colour: use a 3-channel model such as convnetjs_cifar10")
    # the ConvNetJS demo's augmentation (deck 002): random flips and shifts of up to 2 pixels
    train_tf = T.Compose([T.ToTensor(), T.RandomCrop(32, padding=2), T.RandomHorizontalFlip()])
    return (data.CIFAR10(root, train=True, download=download,
                         transform=train_tf if augment else T.ToTensor()),
            data.CIFAR10(root, train=False, download=download, transform=T.ToTensor()))


def make_optimizer(name, params, lr):
    from . import optim
    table = {"sgd": lambda: optim.SGD(params, lr=lr, momentum=0.9),
             "adam": lambda: optim.Adam(params, lr=lr),
             "adamw": lambda: optim.AdamW(params, lr=lr),
             "rmsprop": lambda: optim.RMSprop(params, lr=lr),
             "adagrad": lambda: optim.Adagrad(params, lr=lr),
             "adadelta": lambda: optim.Adadelta(params, lr=lr)}
    if name not in table:
        _choices("optimizer", name, table)
    return table[name]()


_OUTPUTS = ("checkpoint.npz", "history.json", "curves.png", "confusion.png")


def check_settings(epochs=None, batch_size=None, lr=None, limit=None):
    """Refuse settings that cannot train (None means "the recipe's default"), before any
    data is loaded: 0 or a negative number is never replaced by a default silently."""
    for name, value in (("epochs", epochs), ("batch size", batch_size), ("limit", limit)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise RecipeError(f"--{name.replace(' ', '-')} must be a whole number >= 1, got "
                              f"{value}")
    if lr is not None and not (math.isfinite(lr) and lr >= 0):
        # torch's optimizers: "Invalid learning rate" for lr < 0
        raise RecipeError(f"--lr must be a finite number >= 0, got {lr}")


def prepare_out_dir(out):
    """Create the output folder `out` now, so that a path that cannot be a folder (a file,
    or a folder under a file) or a folder that cannot be written fails before training."""
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise RecipeError(f"--out {out} is a file, not a folder; give a folder for the "
                          f"checkpoint and plots")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise RecipeError(f"--out {out}: cannot create this folder ({e.strerror}); give a "
                          f"folder that can be written") from None
    blocking = [n for n in _OUTPUTS if os.path.isdir(os.path.join(out, n))]
    if blocking:
        raise RecipeError(f"--out {out}: {blocking[0]} there is a folder, where the run's "
                          f"{blocking[0]} file would go; remove it or choose another --out")
    if not os.access(out, os.W_OK):
        raise RecipeError(f"--out {out} is not writable; give a folder that can be written")
    return out


def train(model_name="lenet5", data_name=None, epochs=None, batch_size=None, lr=None,
          optimizer=None, out="runs/lenet5", seed=0, data_root=None, download=False,
          progress=True, log=print, limit=None, width=None, segmentation_options=None):
    """Train, evaluate, and write checkpoint.npz, history.json, curves.png and
    confusion.png into `out`. Returns (model, history, test result).
    Segmentation models (fcn8s, unet, ...) go to scratchnet.segmentation.train, which returns
    (model, history, held-out report); segmentation_options (scale, pretrain, n_train,
    backbone, bg_weight) go with them."""
    from . import data, optim, plotting, random, serialization
    from . import segmentation
    from ._atomic import atomic_write
    from .train import evaluate, fit

    if model_name in segmentation.RECIPES:
        try:
            return segmentation.train(model_name, data_name, epochs, batch_size, lr,
                                      optimizer, out, seed, progress, log, limit, width,
                                      **(segmentation_options or {}))
        except segmentation.SegmentationError as e:
            raise RecipeError(str(e)) from e
    if width is not None:
        raise RecipeError(f"--width scales the segmentation models; {model_name} has none")
    if any(v is not None for v in (segmentation_options or {}).values()):
        raise RecipeError(f"--scale, --pretrain/--no-pretrain, --train-scenes, --backbone and "
                          f"--bg-weight belong to the segmentation models, not {model_name}")
    log = log or (lambda *a: None)
    if model_name not in MODELS:
        _choices("model", model_name, MODELS)
    check_settings(epochs, batch_size, lr, limit)
    data_name = data_name or MODELS[model_name]["default_data"]
    d_epochs, d_batch, d_opt, d_lr = HYPER.get(data_name, HYPER["digits"])
    epochs = d_epochs if epochs is None else epochs
    batch_size = d_batch if batch_size is None else batch_size
    optimizer = optimizer or d_opt
    lr = lr if lr is not None else (d_lr if optimizer == d_opt else 1e-3)

    random.manual_seed(seed)
    train_set, test_set = datasets(data_name, data_root, download,
                                   channels=MODELS[model_name]["channels"])
    # after the data (whose errors come first), before the first epoch
    prepare_out_dir(out)
    if limit is not None:
        train_set = data.Subset(train_set, list(range(min(limit, len(train_set)))))
        test_set = data.Subset(test_set, list(range(min(limit, len(test_set)))))
    train_loader = data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                   generator=seed)
    test_loader = data.DataLoader(test_set, batch_size=256)
    model = build_model(model_name)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    # the learning rate follows half a cosine from lr down to 0 over the run
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"training {model_name} ({n_params:,} parameters) on {data_name}: "
        f"{len(train_set)} train / {len(test_set)} test images, {epochs} epochs, batch "
        f"{batch_size}, {optimizer} lr={lr:g} (cosine schedule), seed {seed}")
    t0 = time.perf_counter()
    history = fit(model, train_loader, opt, epochs=epochs, val_loader=test_loader,
                  scheduler=scheduler, progress=progress, log=log, num_classes=10)
    seconds = time.perf_counter() - t0
    result = evaluate(model, test_loader, num_classes=10)
    log(f"test accuracy: {result.accuracy:.2%} ({result.n} images) after {seconds:.1f} s "
        f"of training")

    meta = {"model": model_name, "data": data_name, "epochs": epochs, "batch_size": batch_size,
            "optimizer": optimizer, "lr": lr, "seed": seed, "test_accuracy": result.accuracy,
            "train_seconds": seconds}
    serialization.save({"model": model.state_dict(), "meta": meta},
                       os.path.join(out, "checkpoint.npz"))
    text = json.dumps({"meta": meta, "epochs": history.as_dict(),
                       "confusion": result.confusion.tolist()}, indent=1)
    atomic_write(os.path.join(out, "history.json"), lambda f: f.write(text.encode("utf-8")))
    plotting.plot_history(history, os.path.join(out, "curves.png"), title=model_name)
    plotting.plot_confusion(result.confusion, os.path.join(out, "confusion.png"),
                            CLASS_NAMES.get(data_name),
                            title=f"{model_name} on {data_name}: {result.accuracy:.1%}")
    log(f"wrote {out}/checkpoint.npz, history.json, curves.png, confusion.png")
    return model, history, result


def read_checkpoint(path):
    """The dict a `scratchnet train` run saved at `path` (its "model" state dict and "meta"),
    or a RecipeError that says in one line what is wrong with the file."""
    from . import serialization

    try:
        ckpt = serialization.load_run_checkpoint(path, "train")
    except ValueError as e:
        raise RecipeError(str(e)) from e
    meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
    if not (isinstance(meta, dict) and isinstance(ckpt.get("model"), dict)
            and isinstance(meta.get("model"), str) and isinstance(meta.get("data"), str)):
        raise RecipeError(f"{path} is not a `scratchnet train` checkpoint (it needs a 'model' "
                          f"state dict and 'meta' naming the model and data)")
    return ckpt


def load_classifier(ckpt, path):
    """The classifier (lenet5, convnetjs_cifar10) a checkpoint read by `read_checkpoint`
    names, with its trained weights."""
    from .nn.modules.module import StateDictError

    name = ckpt["meta"]["model"]
    model = build_model(name)
    try:
        model.load_state_dict(ckpt["model"])
    except StateDictError as e:
        problems = str(e).splitlines()[1:]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise RecipeError(f"{path}: its weights do not fit the {name} model it names: "
                          f"{problems[0].strip()[:300]}{more}") from e
    return model


def evaluate_checkpoint(path, data_root=None, log=print):
    """Rebuild the model a checkpoint was trained as, and evaluate it on its test set."""
    from . import data
    from .train import evaluate

    ckpt = read_checkpoint(path)
    meta = ckpt["meta"]
    if meta.get("task") == "segmentation":
        from . import segmentation
        try:
            return segmentation.evaluate_checkpoint(ckpt, path, log)
        except segmentation.SegmentationError as e:
            raise RecipeError(str(e)) from e
    name = meta["model"]
    model = load_classifier(ckpt, path)
    _, test_set = datasets(str(meta["data"]), data_root,
                           channels=MODELS[name]["channels"])
    result = evaluate(model, data.DataLoader(test_set, batch_size=256), num_classes=10)
    log(f"{name} on {meta['data']} test set: {result}")
    labels = CLASS_NAMES.get(str(meta["data"])) or [str(i) for i in range(10)]
    log("confusion matrix (rows: true class, columns: predicted):")
    log("        " + " ".join(f"{c[:6]:>6}" for c in labels))
    for lab, row in zip(labels, result.confusion):
        log(f"{lab[:6]:>6}  " + " ".join(f"{v:6d}" for v in row))
    return result

