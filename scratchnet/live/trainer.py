"""The trainer behind `scratchnet live`: one background thread that trains while a web page
watches.

The thread runs the loop every course writes by hand (forward, loss, backward, step), timing
the forward and the backward pass per example as the ConvNetJS demo of deck 002 does, and about
once a second publishes a *frame*: a snapshot of the numbers and of the arrays the page draws
(every layer's activations for the current image, the filters, test images with their top
guesses). The page only ever reads the newest frame; frames it did not ask for are dropped,
never queued, so a slow browser cannot slow training.

Controls (pause, learning rate, ...) come from other threads. Each one is checked completely
before anything changes, then applied under the lock that also guards one training step, so a
change never lands in the middle of a step.
"""
from __future__ import annotations

import collections
import math
import os
import signal
import threading
import time

import numpy as np

from .data import augment

OPTIMIZERS = ("adadelta", "sgd", "adam")
# The ConvNetJS demo: Adadelta (ro 0.95, eps 1e-6), l2 decay 0.0001, batch 4; its lr and
# momentum fields matter for SGD only. Adam starts from the usual 1e-3. The batch here is 16:
# each batch costs Python a fixed overhead, which 4 examples share badly (the demo, in
# JavaScript, ran one example at a time whatever its batch size).
DEFAULT_LR = {"adadelta": 1.0, "sgd": 0.01, "adam": 1e-3}
DEFAULTS = {"optimizer": "adadelta", "lr": 1.0, "momentum": 0.9, "batch_size": 16,
            "weight_decay": 1e-4}
LIMITS = {"lr": (0.0, 10.0), "momentum": (0.0, 0.999), "batch_size": (1, 1024),
          "weight_decay": (0.0, 1.0)}
SLIDE_MS = {"forward": 8.0, "backward": 16.0}    # deck 002, the ConvNetJS demo in a browser
FRAME_SECONDS = 1.0
VAL_CHUNK = 100             # test images evaluated per frame (a rotating window over the set)
TRAIN_WINDOW = 500          # training accuracy: the last 500 examples, as the demo's window
VAL_WINDOW = 1000
N_TEST_SHOWN = 12
MAX_GRAPH_POINTS = 400
TIME_WINDOW = 50


class LiveError(ValueError):
    """A control the trainer refuses; the message is shown on the page as it is."""


def _number(name, value, integer=False):
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or value is None:
        raise LiveError(f"{name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise LiveError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise LiveError(f"{name} must be a finite number, got {value!r}")
    if integer:
        if x != int(x):
            raise LiveError(f"{name} must be a whole number, got {value!r}")
        x = int(x)
    if not lo <= x <= hi:
        raise LiveError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    if name == "lr" and x == 0:
        raise LiveError("lr must be greater than 0 (0 would stop learning; use pause)")
    return x


def check_settings(values: dict) -> dict:
    """Validated copies of the settings in `values` (a dict from the page); LiveError naming
    the first bad or unknown one. Nothing is applied here."""
    out = {}
    for key, value in values.items():
        if key == "optimizer":
            if value not in OPTIMIZERS:
                raise LiveError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                                f"{value!r}")
            out[key] = value
        elif key in LIMITS:
            out[key] = _number(key, value, integer=(key == "batch_size"))
        else:
            raise LiveError(f"unknown setting {key!r}; the settings are "
                            f"{', '.join(['optimizer', *LIMITS])}")
    return out


def leaf_modules(model):
    """(name, module) of the modules without children, in the order they were defined (the
    order of the forward pass for a sequential network)."""
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


class LiveTrainer:
    """Trains `model` on `data` (a LiveData) in a background thread; see the module doc.

    out_dir: where save_checkpoint writes checkpoint.npz (and load_checkpoint reads it).
    seed: the order of the examples and the augmentation (the weights are the model's own).
    """

    def __init__(self, model, data, model_name, out_dir, seed=0, settings=None):
        self.model, self.data, self.model_name = model, data, model_name
        self.out_dir = os.fspath(out_dir)
        self.checkpoint_path = os.path.join(self.out_dir, "checkpoint.npz")
        self.rng = np.random.default_rng(seed)
        self.settings = dict(DEFAULTS)
        if settings:
            self.settings.update(check_settings(settings))
        self.lock = threading.Lock()
        self._running = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.error = None
        self.message = ""
        self._order = self.rng.permutation(len(data.train_y))
        self._cursor = 0
        # test images in a fixed shuffled order, so that the shown ones mix the classes
        self._val_order = self.rng.permutation(len(data.test_y))
        self._val_cursor = 0
        self.examples_seen = 0
        self.steps = 0
        self.loss = float("nan")
        # per-example times of the last steps; their medians ignore the first steps' numba
        # compilation and the odd pause of a busy machine
        self._fwd_ms = collections.deque(maxlen=TIME_WINDOW)
        self._bwd_ms = collections.deque(maxlen=TIME_WINDOW)
        self.l2_loss = 0.0
        self._train_hits = collections.deque(maxlen=TRAIN_WINDOW)
        self._val_pairs = collections.deque(maxlen=VAL_WINDOW)
        self._graph = []            # [examples seen, smoothed loss]
        self._graph_every = 1
        self._graph_count = 0
        self._current = 0           # index of the training image the page shows
        self._last_good = None
        self.frame = None
        self.frame_version = 0
        self._build_optimizer()
        self._publish()

    def _build_optimizer(self):
        from .. import optim
        s = self.settings
        weights = [p for p in self.model.parameters() if p.ndim > 1]
        others = [p for p in self.model.parameters() if p.ndim <= 1]
        # L2 decay on the weights, not the biases, as ConvNetJS (l2_decay_mul 0 for biases)
        groups = [{"params": weights, "weight_decay": s["weight_decay"]},
                  {"params": others, "weight_decay": 0.0}]
        if s["optimizer"] == "adadelta":
            self.opt = optim.Adadelta(groups, lr=s["lr"], rho=0.95, eps=1e-6)
        elif s["optimizer"] == "sgd":
            self.opt = optim.SGD(groups, lr=s["lr"], momentum=s["momentum"])
        else:
            self.opt = optim.Adam(groups, lr=s["lr"])

    @property
    def paused(self):
        return not self._running.is_set()

    def pause(self):
        self._running.clear()
        self.message = "paused"
        self._republish()

    def resume(self):
        if self._stop.is_set():
            raise LiveError("the trainer has stopped")
        self.error = None
        self._running.set()
        self.message = "training"
        self._republish()

    def _republish(self):
        """A new frame now (after a control), taken between two training steps."""
        with self.lock:
            self._publish()

    def update(self, values: dict) -> dict:
        """Apply new settings (all checked first: one bad value changes nothing). Choosing an
        optimizer without an lr takes that optimizer's usual learning rate."""
        new = check_settings(values)
        if "optimizer" in new and "lr" not in new and new["optimizer"] != \
                self.settings["optimizer"]:
            new["lr"] = DEFAULT_LR[new["optimizer"]]
        with self.lock:
            rebuild = new.get("optimizer", self.settings["optimizer"]) != \
                self.settings["optimizer"]
            self.settings.update(new)
            if rebuild:
                self._build_optimizer()
            else:
                for group in self.opt.param_groups:
                    group["lr"] = self.settings["lr"]
                    if "momentum" in group:
                        group["momentum"] = self.settings["momentum"]
                self.opt.param_groups[0]["weight_decay"] = self.settings["weight_decay"]
        self.message = "set " + ", ".join(f"{k} = {v:g}" if not isinstance(v, str) else
                                          f"{k} = {v}" for k, v in new.items())
        self._republish()
        return dict(self.settings)

    def save_checkpoint(self) -> str:
        from .. import serialization
        with self.lock:
            state = _weights(self.model)
            meta = {"model": self.model_name, "data": self.data.name,
                    "examples_seen": self.examples_seen, **self.settings}
        try:
            serialization.save({"model": state, "meta": meta}, self.checkpoint_path)
        except OSError as e:
            raise LiveError(f"could not write {self.checkpoint_path}: {e}") from None
        self.message = f"saved {self.checkpoint_path} after {meta['examples_seen']:,} examples"
        return self.checkpoint_path

    def load_checkpoint(self) -> str:
        from .. import serialization
        if not os.path.exists(self.checkpoint_path):
            raise LiveError(f"there is no checkpoint at {self.checkpoint_path} yet: save one "
                            f"first")
        try:
            ckpt = serialization.load(self.checkpoint_path, as_numpy=True)
        except ValueError as e:
            raise LiveError(str(e)) from None
        meta = ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}
        if meta.get("model") != self.model_name or "model" not in ckpt:
            raise LiveError(f"{self.checkpoint_path} holds a {meta.get('model')!r} model, "
                            f"this page trains {self.model_name!r}: nothing was loaded")
        with self.lock:
            try:
                self.model.load_state_dict(ckpt["model"])
            except (ValueError, KeyError) as e:
                raise LiveError(f"{self.checkpoint_path} does not fit this model: {e}") \
                    from None
            self.examples_seen = int(meta.get("examples_seen", self.examples_seen))
            # the optimizer's running averages are not in the checkpoint: they start afresh
            self._build_optimizer()
        self.message = (f"loaded {self.checkpoint_path} ({self.examples_seen:,} examples "
                        f"seen when it was saved)")
        self._republish()
        return self.checkpoint_path

    def start(self, paused=False):
        if not paused:
            self._running.set()
            self.message = "training"
        self._thread = threading.Thread(target=self._loop, name="scratchnet-live-trainer",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout=30.0):
        self._stop.set()
        self._running.set()         # wake a paused loop so that it sees the stop
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self):
        # Ctrl-C and SIGTERM are the main thread's, which serves the page and stops training:
        # blocked here, they are blocked in the threads this one starts too (numba's, the
        # convolutions'), so the kernel hands them to the main thread rather than to a thread
        # busy in a kernel. Without it the Ctrl-C test (tests/test_live.py) now and then hung:
        # the main thread never raised KeyboardInterrupt, this one sat in a numba kernel.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._train_until_stopped()
        except Exception as e:      # shown on the page instead of a silently dead thread
            self._running.clear()
            self.error = f"training stopped: {type(e).__name__}: {e}"
            self.message = "stopped by an error"
            try:
                self._republish()
            except Exception:       # the failing code may be the frame itself: keep the old
                pass

    def _train_until_stopped(self):
        last_frame = time.perf_counter()
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait(0.2)
                continue
            with self.lock:
                if self._stop.is_set() or not self._running.is_set():
                    continue
                self._step()
            if time.perf_counter() - last_frame >= FRAME_SECONDS:
                with self.lock:
                    self._publish(validate=True)
                last_frame = time.perf_counter()

    def _next_batch(self, n):
        idx = self._order[self._cursor:self._cursor + n]
        self._cursor += len(idx)
        if self._cursor >= len(self._order):
            self._order = self.rng.permutation(len(self.data.train_y))
            self._cursor = 0
        return idx

    def _step(self):
        from ..autograd.tensor import Tensor
        from ..nn import functional as F
        d = self.data
        idx = self._next_batch(self.settings["batch_size"])
        x = Tensor(augment(d.train_x[idx], self.rng, d.flips))
        y = d.train_y[idx]
        self.model.train()
        self.opt.zero_grad()
        t0 = time.perf_counter()
        logits = self.model(x)
        loss = F.cross_entropy(logits, Tensor(y))
        t1 = time.perf_counter()
        value = float(loss.item())
        if not math.isfinite(value):
            self._diverged(value)
            return
        loss.backward()
        t2 = time.perf_counter()
        self.opt.step()
        n = len(idx)
        self._fwd_ms.append(1000 * (t1 - t0) / n)
        self._bwd_ms.append(1000 * (t2 - t1) / n)
        self.loss = _ema(self.loss, value)
        self._train_hits.extend((np.argmax(logits.data, axis=1) == y).tolist())
        self.examples_seen += n
        self.steps += 1
        self._current = int(idx[-1])
        self._graph_count += 1
        if self._graph_count >= self._graph_every:
            self._graph_count = 0
            self._graph.append([self.examples_seen, self.loss])
            if len(self._graph) > MAX_GRAPH_POINTS:
                # keep every other point and add points half as often from now on
                self._graph = self._graph[::2]
                self._graph_every *= 2

    def _diverged(self, value):
        """Called under the lock by _step: stop, go back to the last good weights, say why."""
        restored = ""
        if self._last_good is not None:
            self.model.load_state_dict(self._last_good)
            restored = ", and the weights went back to those of the last good frame"
        self._build_optimizer()
        self._running.clear()
        self.error = (f"the loss became {value} (training diverged): paused{restored}. Lower "
                      f"the learning rate (now {self.settings['lr']:g}) or check the data, "
                      f"then resume.")
        self.message = "paused"
        self._publish()

    def _l2_loss(self):
        wd = self.opt.param_groups[0]["weight_decay"]
        return 0.5 * wd * sum(float((p.data.astype(np.float64) ** 2).sum())
                              for p in self.opt.param_groups[0]["params"])

    def _validate_chunk(self):
        """Forward VAL_CHUNK test images (the next ones of a rotating window); returns their
        indices and softmax probabilities."""
        from ..autograd.grad_mode import no_grad
        from ..autograd.tensor import Tensor
        n = len(self.data.test_y)
        idx = self._val_order[(self._val_cursor + np.arange(min(VAL_CHUNK, n))) % n]
        self._val_cursor = int((self._val_cursor + len(idx)) % n)
        self.model.eval()
        with no_grad():
            logits = self.model(Tensor(self.data.test_x[idx])).data.astype(np.float64)
        self.model.train()
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = z / z.sum(axis=1, keepdims=True)
        self._val_pairs.extend(zip(self.data.test_y[idx].tolist(),
                                   probs.argmax(axis=1).tolist()))
        return idx, probs

    def _layers(self, image):
        """[(name, kind, activation (C, H, W) or (K,), weight or None)] for one image."""
        from ..autograd.grad_mode import no_grad
        from ..autograd.tensor import Tensor
        captured, handles = [], []
        for name, module in leaf_modules(self.model):
            def hook(m, inputs, output, name=name):
                captured.append((name, type(m).__name__, np.array(output.data[0])))
            handles.append(module.register_forward_hook(hook))
        self.model.eval()
        try:
            with no_grad():
                self.model(Tensor(image[None]))
        finally:
            self.model.train()
            for h in handles:
                h.remove()
        modules = dict(leaf_modules(self.model))
        out = []
        for name, kind, act in captured:
            w = getattr(modules[name], "weight", None)
            out.append((name, kind, act, None if w is None else np.array(w.data)))
        return out

    def _publish(self, validate=False):
        """Build a new frame and swap it in (one reference assignment: readers see the old
        frame or the new one, never half of one)."""
        d = self.data
        if validate:
            idx, probs = self._validate_chunk()
            if math.isfinite(self.loss):
                self._last_good = _weights(self.model)
        else:
            old = self.frame
            idx, probs = (old["test_idx"], old["test_probs"]) if old else \
                self._validate_chunk()
        self.l2_loss = self._l2_loss()
        k = len(d.classes)
        confusion = np.zeros((k, k), np.int64)
        for t, p in self._val_pairs:
            confusion[t, p] += 1
        val_acc = (np.trace(confusion) / confusion.sum()) if confusion.sum() else float("nan")
        shown = idx[:N_TEST_SHOWN]
        tests = []
        for i, j in enumerate(shown):
            top = np.argsort(-probs[i])[:3]
            tests.append({"label": d.classes[int(d.test_y[j])],
                          "correct": bool(top[0] == d.test_y[j]),
                          "guesses": [[d.classes[int(c)], float(probs[i, c])] for c in top]})
        layers = self._layers(d.train_x[self._current])
        stats = {
            "version": self.frame_version + 1,
            "time": time.time(),
            "paused": self.paused,
            "message": self.message,
            "error": self.error,
            "model": self.model_name,
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
            "data": d.name, "data_note": d.note, "classes": d.classes,
            "settings": dict(self.settings),
            "examples_seen": self.examples_seen, "steps": self.steps,
            "forward_ms_per_example": _median(self._fwd_ms),
            "backward_ms_per_example": _median(self._bwd_ms),
            "slide_ms": SLIDE_MS,
            "classification_loss": _num(self.loss),
            "l2_weight_decay_loss": _num(self.l2_loss),
            "train_accuracy": _num(np.mean(self._train_hits) if self._train_hits else
                                   float("nan")),
            "val_accuracy": _num(val_acc), "val_examples": int(confusion.sum()),
            "loss_graph": [[e, _num(v)] for e, v in self._graph],
            "confusion": confusion.tolist(),
            "current_label": d.classes[int(d.train_y[self._current])],
            "layers": [{"name": n, "kind": kind, "shape": list(a.shape),
                        "filters": None if w is None else list(w.shape),
                        "range": [_num(a.min()), _num(a.max())]}
                       for n, kind, a, w in layers],
            "tests": tests,
        }
        self.frame_version += 1
        self.frame = {"stats": stats, "input": d.train_x[self._current].copy(),
                      "layers": layers, "test_images": d.test_x[shown].copy(),
                      "test_idx": idx, "test_probs": probs}


def _weights(model):
    """A copy of the model's state dict as ndarrays."""
    return {k: np.array(getattr(v, "data", v)) for k, v in model.state_dict().items()}


def _median(values):
    return float(np.median(values)) if values else None


def _ema(old, new, keep=0.95):
    return new if not math.isfinite(old) else keep * old + (1 - keep) * new


def _num(x):
    """A float for JSON: None instead of NaN/inf (JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None
