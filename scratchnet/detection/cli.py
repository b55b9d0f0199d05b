"""`scratchnet detect`: train, evaluate and run the detectors on DigitScenes.

    scratchnet detect list
    scratchnet detect train NAME [--epochs --batch-size --lr --optimizer --num-train
                                  --num-test --seed --set KEY=VALUE ...] [--out DIR]
    scratchnet detect evaluate --checkpoint C [--num-test N]
    scratchnet detect predict IMAGE --checkpoint C --out OUT.png [--score-threshold 0.5]
    scratchnet detect sliding-window IMAGE [--out OUT.png --checkpoint C --sizes --stride]
    scratchnet detect selective-search IMAGE [--out OUT.png --mode fast --top 100]

Bad input (an unknown detector or setting, a missing checkpoint, an unreadable image) is
answered with one line and exit status 2.
"""
from __future__ import annotations

import json
import os


def _value(text):
    """A --set value: JSON when it parses (numbers, true/false, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(args):
    from .engine import DetectionError

    out = {}
    for key in ("epochs", "batch_size", "lr", "optimizer", "num_train", "num_test", "seed"):
        v = getattr(args, key, None)
        if v is not None:
            out[key] = v
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DetectionError(f"--set takes KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = _value(value)
    return out


def cmd_detect(args) -> int:
    from ..train import NonFiniteLossError
    from .engine import DetectionError

    if getattr(args, "detect_fn", None) is not None:      # actions with their own module
        return args.detect_fn(args)
    try:
        if args.action == "list":
            from .recipes import available, get_recipe
            for name in available():
                recipe = get_recipe(name)
                print(f"{name:12} {recipe.summary}")
                print(f"{'':12} settings: " + ", ".join(f"{k}={v}" for k, v in
                                                       sorted(recipe.config().items())))
        elif args.action == "train":
            from .engine import train
            train(args.name, _overrides(args), args.out or os.path.join("runs",
                                                                      f"detect_{args.name}"),
                  progress=not args.no_progress)
        elif args.action == "evaluate":
            from .engine import evaluate_checkpoint
            if args.num_test is not None and args.num_test < 1:
                raise DetectionError(f"--num-test must be >= 1, got {args.num_test}")
            evaluate_checkpoint(args.checkpoint, args.num_test)
        else:
            from .engine import predict_image
            if not os.path.isfile(args.image):
                raise DetectionError(f"no image file at {args.image}")
            if not 0.0 <= args.score_threshold <= 1.0:
                raise DetectionError(f"--score-threshold must be in [0, 1], got "
                                     f"{args.score_threshold}")
            predict_image(args.image, args.checkpoint, args.out, args.score_threshold)
    except (DetectionError, NonFiniteLossError, OSError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return 2
    return 0


def add_parser(sub):
    """Add `detect` with its actions to the top-level subparsers `sub`."""
    d = sub.add_parser("detect", help="object detection on DigitScenes: train, evaluate, "
                                      "predict")
    act = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    act.add_parser("list", help="the detectors and their settings")
    t = act.add_parser("train", help="train a detector, report held-out mAP@0.5 and time")
    t.add_argument("name", help="the detector (see `scratchnet detect list`)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", help="sgd (momentum 0.9), adam, adamw, rmsprop, ...")
    t.add_argument("--num-train", type=int, help="training scenes")
    t.add_argument("--num-test", type=int, help="held-out test scenes for the report")
    t.add_argument("--seed", type=int)
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a recipe setting, e.g. --set proposals=sliding_window (repeatable)")
    t.add_argument("--out", help="output folder (default: runs/detect_NAME)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = act.add_parser("evaluate", help="held-out mAP@0.5 and seconds per image of a "
                                        "checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--num-test", type=int, help="held-out scenes (default: as trained)")
    p = act.add_parser("predict", help="draw a checkpoint's detections on an image file")
    p.add_argument("image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--score-threshold", type=float, default=0.5)
    from .proposals import add_parser as add_proposals
    from .sliding_window import add_parser as add_sliding_window
    add_sliding_window(act)
    add_proposals(act)
    d.set_defaults(fn=cmd_detect)
    return d
