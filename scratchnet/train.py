"""A small training loop: `fit` runs epochs, `evaluate` measures a model on a loader.

    history = fit(model, train_loader, optimizer, epochs=10, val_loader=test_loader)
    result = evaluate(model, test_loader)
    print(result.accuracy, result.confusion)

The loop is the one every course writes by hand (zero_grad, forward, loss, backward, step);
it adds a progress bar with running loss, accuracy and examples/s, a per-epoch history, and a
clear stop when the loss stops being a finite number.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .autograd.grad_mode import no_grad


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite: training cannot continue meaningfully."""


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_acc: float
    lr: float
    seconds: float
    examples_per_s: float
    val_loss: float = float("nan")
    val_acc: float = float("nan")


@dataclass
class History:
    epochs: list = field(default_factory=list)

    def __getitem__(self, key):
        """A column: history["val_acc"] -> list over epochs."""
        return [getattr(e, key) for e in self.epochs]

    def __len__(self):
        return len(self.epochs)

    def as_dict(self):
        keys = EpochStats.__dataclass_fields__
        return {k: self[k] for k in keys}


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    confusion: np.ndarray       # confusion[true, predicted] counts
    n: int

    def __str__(self):
        return f"loss {self.loss:.4f}, accuracy {self.accuracy:.2%} on {self.n} examples"


def _default_loss():
    from .nn import functional as F
    return F.cross_entropy


def _labels(y):
    return np.asarray(y.data if hasattr(y, "data") else y).reshape(-1)


def _valid(labels, num_classes):
    """Which labels count: all of them, or (for a known number of classes) those in
    [0, num_classes), so that a segmentation map's ignore_index (255) is left out."""
    if num_classes is None:
        return np.ones(labels.shape, bool)
    return (labels >= 0) & (labels < num_classes)


def evaluate(model, loader, loss_fn=None, num_classes=None) -> EvalResult:
    """Mean loss, accuracy and confusion matrix of a classifier over a loader, in eval mode
    (the model's previous mode is restored). For a segmentation model (logits (N, C, H, W),
    labels (N, H, W)) accuracy and confusion count pixels, leaving out labels outside
    [0, num_classes) (the ignore index)."""
    loss_fn = loss_fn or _default_loss()
    was_training = model.training
    model.eval()
    total_loss, n, correct, counted = 0.0, 0, 0, 0
    pairs = []
    try:
        with no_grad():
            for x, y in loader:
                logits = model(x)
                loss = loss_fn(logits, y)
                b = logits.shape[0]
                total_loss += float(loss.item()) * b
                pred = np.argmax(logits.data, axis=1).reshape(-1)
                labels = _labels(y)
                keep = _valid(labels, num_classes)
                correct += int((pred[keep] == labels[keep]).sum())
                counted += int(keep.sum())
                pairs.append((labels[keep], pred[keep]))
                n += b
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader produced no examples")
    if num_classes is None:
        num_classes = int(max(max(t.max(), p.max()) for t, p in pairs)) + 1
    confusion = np.zeros(num_classes * num_classes, dtype=np.int64)
    for t, p in pairs:
        confusion += np.bincount(t.astype(np.int64) * num_classes + p,
                                 minlength=num_classes * num_classes)
    return EvalResult(total_loss / n, correct / max(counted, 1),
                      confusion.reshape(num_classes, num_classes), n)


def fit(model, train_loader, optimizer, epochs=1, loss_fn=None, val_loader=None,
        scheduler=None, progress=True, log=print, num_classes=None) -> History:
    """Train `model` for `epochs` passes over `train_loader`.

    After each epoch: evaluates on `val_loader` (if given), steps `scheduler` (if given) and
    appends an EpochStats to the returned History. Raises NonFiniteLossError, naming the epoch
    and batch, as soon as a loss is NaN or infinite (lower the learning rate, check the data).
    """
    loss_fn = loss_fn or _default_loss()
    history = History()
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        seen, loss_sum, correct, counted = 0, 0.0, 0, 0
        bar = _progress(train_loader, f"epoch {epoch}/{epochs}", progress)
        for step, (x, y) in enumerate(bar):
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            value = float(loss.item())
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"the loss became {value} at epoch {epoch}, batch {step + 1}: training "
                    f"diverged. Lower the learning rate (now {_lr(optimizer):g}), or check the "
                    f"inputs for NaN/inf and the labels for out-of-range classes.")
            loss.backward()
            optimizer.step()
            b = logits.shape[0]
            seen += b
            loss_sum += value * b
            labels = _labels(y)
            keep = _valid(labels, num_classes)
            pred = np.argmax(logits.data, axis=1).reshape(-1)
            correct += int((pred[keep] == labels[keep]).sum())
            counted += int(keep.sum())
            if progress and hasattr(bar, "set_postfix"):
                elapsed = time.perf_counter() - t0
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}",
                                acc=f"{correct / max(counted, 1):.3f}",
                                ex_s=f"{seen / max(elapsed, 1e-9):.0f}")
        seconds = time.perf_counter() - t0
        stats = EpochStats(epoch, loss_sum / max(seen, 1), correct / max(counted, 1),
                           _lr(optimizer), seconds, seen / max(seconds, 1e-9))
        if val_loader is not None:
            r = evaluate(model, val_loader, loss_fn, num_classes)
            stats.val_loss, stats.val_acc = r.loss, r.accuracy
        if scheduler is not None:
            scheduler.step()
        history.epochs.append(stats)
        if log:
            msg = (f"epoch {epoch:>3}: train loss {stats.train_loss:.4f} acc "
                   f"{stats.train_acc:.2%}")
            if val_loader is not None:
                msg += f" | test loss {stats.val_loss:.4f} acc {stats.val_acc:.2%}"
            msg += f" | {stats.examples_per_s:.0f} ex/s"
            log(msg)
    return history


def _lr(optimizer):
    return float(optimizer.param_groups[0]["lr"])


def _progress(loader, desc, enabled):
    if not enabled:
        return loader
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return loader
    return tqdm(loader, desc=desc, leave=False, unit="batch")
