"""Detector recipes behind `scratchnet detect train NAME`: how to build each detector from a
config, its default config, and how to train it.

Each detector has its own module in this package (scratchnet/detection/NAME.py) defining
`RECIPE = Recipe(...)`; RECIPE_MODULES lists the names, and a name is offered once its module
exists. A config is a flat dict of JSON-friendly values: the training settings every recipe
shares (TRAINING) plus the recipe's own (its `defaults`), e.g. the proposer of Fast R-CNN.

    recipe = get_recipe("fast_rcnn")
    config = recipe.config({"epochs": 2})          # defaults + overrides, checked
    model = recipe.build(config)
    history = recipe.train(model, train_set, config, progress=True, log=print)
"""
from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

from .engine import DetectionError

# detector name -> module holding its RECIPE
RECIPE_MODULES = {
    "rcnn": "scratchnet.detection.rcnn",
    "sppnet": "scratchnet.detection.sppnet",
    "fast_rcnn": "scratchnet.detection.fast_rcnn",
    "faster_rcnn": "scratchnet.detection.faster_rcnn",
    "yolo_v1": "scratchnet.detection.yolo_v1",
    "mask_rcnn": "scratchnet.detection.mask_rcnn",
}

# training settings every recipe has; a recipe's defaults may change their values
TRAINING = {
    "epochs": 8,            # passes over the training scenes
    "batch_size": 8,        # scenes per step
    "optimizer": "sgd",     # scratchnet.recipes.make_optimizer: sgd has momentum 0.9
    "lr": 0.01,             # followed by a cosine schedule down to 0
    "num_train": 1000,      # DigitScenes("train") scenes
    "num_test": 300,        # held-out DigitScenes("test") scenes (seed 0) for the report
    "num_val": 100,         # of those, the first num_val give the mAP curve per epoch (0: none)
    "seed": 0,
    "in_channels": 1,       # DigitScenes is grey
}
_WHOLE = ("epochs", "batch_size", "num_train", "num_test")


@dataclass
class Recipe:
    """name: the CLI name; summary: one line for the log; build(config) -> nn.Module
    following the detection contract; defaults: the recipe's own config keys (and any
    TRAINING values it changes); train(model, train_set, config, progress, log) ->
    engine.DetectionHistory, or None for the shared loop (fit_default); data(config,
    train) -> (training set or None, held-out set), or None for DigitScenes (engine's
    train_scenes and test_scenes); class_names: the names of the labels, CLASS_NAMES when
    None."""

    name: str
    summary: str
    build: Callable
    defaults: dict = field(default_factory=dict)
    train_fn: Optional[Callable] = None
    data: Optional[Callable] = None
    names: Optional[Callable] = None

    def datasets(self, config, train=True):
        """(training set, held-out set) of a config; the training set is None when
        train=False (evaluation only)."""
        from . import engine

        if self.data is not None:
            return self.data(config, train)
        train_set = engine.train_scenes(int(config["num_train"]), int(config["seed"])) \
            if train else None
        return train_set, engine.test_scenes(int(config["num_test"]))

    def class_names(self, config):
        from .engine import CLASS_NAMES

        return self.names(config) if self.names is not None else CLASS_NAMES

    def config(self, overrides=None, strict=True):
        """TRAINING, then the recipe's defaults, then overrides; unknown keys are refused
        (strict=False keeps them: an old checkpoint's config is read as it was written)."""
        config = dict(TRAINING)
        config.update(self.defaults)
        for key, value in (overrides or {}).items():
            if strict and key not in config:
                raise DetectionError(f"{self.name}: unknown setting {key!r}; the settings "
                                     f"are {', '.join(sorted(config))}")
            if strict:
                _check_kind(self.name, key, value, config[key])
            config[key] = value
        check_training(config)
        return config

    def train(self, model, train_set, config, progress=True, log=print):
        fn = self.train_fn or fit_default
        return fn(model, train_set, config, progress=progress, log=log)


def _check_kind(name, key, value, default):
    """A setting keeps the kind of its default: a whole number, a number, a string, a list
    or true/false (None as default accepts anything)."""
    kinds = [(bool, "true or false", lambda v: isinstance(v, bool)),
             (int, "a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
             (float, "a number", lambda v: isinstance(v, (int, float))
              and not isinstance(v, bool)),
             (str, "a string", lambda v: isinstance(v, str)),
             ((list, tuple), "a list such as [16, 32, 64]",
              lambda v: isinstance(v, (list, tuple)))]
    for kind, words, ok in kinds:
        if isinstance(default, kind):
            if not ok(value):
                raise DetectionError(f"{name}: setting {key} must be {words}, like its default "
                                     f"{default!r}; got {value!r}")
            return


def check_training(config):
    """Refuse training settings that cannot train, naming them."""
    for key in _WHOLE:
        v = config[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise DetectionError(f"--{key.replace('_', '-')} must be a whole number >= 1, "
                                 f"got {v!r}")
    v = config["num_val"]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise DetectionError(f"num_val must be a whole number >= 0, got {v!r}")
    lr = config["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
            or lr < 0:
        raise DetectionError(f"--lr must be a finite number >= 0, got {lr!r}")


def fit_default(model, train_set, config, progress=True, log=print, val_set=None):
    """The shared end-to-end training: the configured optimizer on every trainable
    parameter, a cosine learning-rate schedule over the epochs, engine.fit, and the held-out
    mAP of the first num_val test scenes (of val_set when given) after each epoch."""
    from .. import optim
    from ..data import Subset
    from ..recipes import RecipeError, make_optimizer
    from . import engine

    params = [p for p in model.parameters() if p.requires_grad]
    try:
        opt = make_optimizer(config["optimizer"], params, float(config["lr"]))
    except RecipeError as e:
        raise DetectionError(str(e)) from None
    epochs = int(config["epochs"])
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    val_fn = None
    if config["num_val"]:
        n_val = min(int(config["num_val"]), int(config["num_test"]))
        val = engine.test_scenes(n_val) if val_set is None else \
            Subset(val_set, range(min(n_val, len(val_set))))
        val_fn = lambda m: engine.evaluate(m, val, batch_size=8)["map"]  # noqa: E731
    return engine.fit(model, train_set, opt, epochs=epochs,
                      batch_size=int(config["batch_size"]), scheduler=scheduler,
                      progress=progress, log=log, seed=int(config["seed"]), val_fn=val_fn)


def available():
    """The detector names whose recipe module is present."""
    names = []
    for name, module in RECIPE_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if found:
            names.append(name)
    return names


def get_recipe(name):
    """The Recipe of a detector name; DetectionError naming the choices otherwise."""
    names = available()
    if name not in names:
        raise DetectionError(f"unknown detector {name!r}; valid choices: "
                             f"{', '.join(names) or '(none installed)'}")
    recipe = getattr(importlib.import_module(RECIPE_MODULES[name]), "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise DetectionError(f"{RECIPE_MODULES[name]} defines no RECIPE = Recipe(...)")
    return recipe
