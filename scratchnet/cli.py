"""The `scratchnet` command line.

    scratchnet train lenet5 [--epochs --batch-size --lr --optimizer --data --out --seed]
    scratchnet train fcn8s|fcn16s|fcn32s|deconvnet [--width --scale --pretrain --backbone]
    scratchnet train unet [--data nuclei]
    scratchnet segment compare RUN_DIR... [--out iou_by_size.png]   (segmentation runs)
    scratchnet evaluate CHECKPOINT
    scratchnet info                 versions, numba threading and kernel cache directory
    scratchnet demo                 tensors, backward and a gradient check in ten lines
    scratchnet lessons list|run NAME|all [--lang ko|en] [--fast]
    scratchnet lessons notebook NAME [--lang ko|en] [--out FILE.ipynb]
    scratchnet exercise list|check NAME [--file PATH] [--lang ko|en] [--timeout S]
    scratchnet data show digit-scenes|nuclei|lfw [--n N] [--out FILE.png]
    scratchnet sr train MODEL [--scale 3 --steps --batch-size --lr --out --seed]
    scratchnet sr upscale IN.png OUT.png --checkpoint C
    scratchnet detect list|train NAME|evaluate --checkpoint C|predict IMAGE --checkpoint C
    scratchnet weights list|download NAME|path NAME     (pretrained ImageNet weights)
    scratchnet transfer [--targets --repeats --steps --out --fast]   (deck 002's table)
    scratchnet style CONTENT STYLE OUT.png --steps N [--optimizer lbfgs|adam] [--size --frames]
    scratchnet inside CHECKPOINT|ZOO_NAME IMAGE|test:N [--out DIR --layer --target --top]
    scratchnet live [MODEL] [--data auto|cifar10|mnist-5k|digits] [--port P] [--host H]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys


def cmd_info(args) -> int:
    import numba
    import numpy as np

    import scratchnet
    from scratchnet.kernels import _jit

    print(f"scratchnet {scratchnet.__version__}")
    print(f"python     {platform.python_version()} ({platform.machine()})")
    print(f"numpy      {np.__version__}")
    print(f"numba      {numba.__version__}")
    try:
        import torch
        print(f"torch      {torch.__version__} (optional reference)")
    except ImportError:
        print("torch      not installed (optional: pip install scratchnet[reference])")
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = f"not started yet (requested: {numba.config.THREADING_LAYER})"
    print(f"numba threads         {numba.get_num_threads()} "
          f"(NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS})")
    print(f"numba threading layer {layer}")
    print(f"OMP_WAIT_POLICY       {os.environ.get('OMP_WAIT_POLICY')}")
    print(f"kernel cache          {_jit.cache_dir()}")
    return 0


def cmd_demo(args) -> int:
    import numpy as np

    import scratchnet as sn

    sn.manual_seed(0)
    print("A tensor that records what is computed from it:")
    x = sn.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    w = sn.randn(3, 2, requires_grad=True)
    y = (x @ w).tanh().sum()
    print(f"  x = {x}\n  y = tanh(x @ w).sum() = {y}")
    y.backward()
    print(f"  dy/dx = {x.grad}")
    print("\nGradient check: central differences against the backward pass, in float64:")
    report = sn.gradcheck(lambda a, b: (a @ b).tanh(), [x, w])
    print("  " + str(report).replace("\n", "\n  "))
    print("\nA backward with a bug is caught: t * t.detach() has half the true gradient:")
    print("  " + str(sn.gradcheck(lambda t: t * t.detach(), [x])).replace("\n", "\n  "))
    return 0 if report.passed else 1


def cmd_train(args) -> int:
    from .recipes import RecipeError, train
    from .train import NonFiniteLossError

    if args.model in UNSUPERVISED:
        return _cmd_train_pairs_or_gan(args)
    if args.loss or args.mining or args.margin is not None or args.data == "lfw":
        print(f"error: --loss, --mining, --margin and --data lfw belong to "
              f"{', '.join(UNSUPERVISED)}, not {args.model}")
        return 2
    try:
        _, _, result = train(args.model, args.data, args.epochs, args.batch_size, args.lr,
                             args.optimizer, args.out or os.path.join("runs", args.model),
                             args.seed, args.data_root, args.download,
                             progress=not args.no_progress, limit=args.limit,
                             width=args.width,
                             segmentation_options={"scale": args.scale,
                                                   "pretrain": args.pretrain,
                                                   "n_train": args.train_scenes,
                                                   "backbone": args.backbone,
                                                   "bg_weight": args.bg_weight})
    except (RecipeError, NonFiniteLossError, FileNotFoundError) as e:
        print(f"error: {e}")
        return 2
    return 0


def cmd_segment(args) -> int:
    from .segmentation import SegmentationError, compare_runs

    try:
        compare_runs(args.runs, args.out)
    except (SegmentationError, FileNotFoundError) as e:
        print(f"error: {e}")
        return 2
    return 0


def cmd_evaluate(args) -> int:
    from .recipes import RecipeError, evaluate_checkpoint

    try:
        evaluate_checkpoint(args.checkpoint, args.data_root)
    except (RecipeError, FileNotFoundError) as e:
        print(f"error: {e}")
        return 2
    return 0


def _lesson_files():
    import glob
    import os

    from .exercises.specs import lessons_dir

    return sorted(glob.glob(os.path.join(lessons_dir(), "[0-9][0-9]_*.py")))


def _first_doc_line(path, language=None):
    """A lesson's title: the first line of its first markdown cell in `language` (or of its
    first markdown cell, when the lesson has none in that language)."""
    from .lesson import cells

    markdown = [c for c in cells(path) if c.kind == "markdown" and c.source.strip()]
    chosen = [c for c in markdown if c.lang == language] or markdown
    if not chosen:
        return ""
    return next(ln for ln in chosen[0].source.splitlines() if ln.strip()).lstrip("# ").strip()


def cmd_lessons(args) -> int:
    import os
    import subprocess
    import time

    from .lesson import lang

    language = args.lang or lang()
    files = _lesson_files()
    if not files:
        from .exercises.specs import lessons_dir
        print(f"no lessons found in {lessons_dir()} (set SCRATCHNET_LESSONS to the folder)")
        return 1
    names = {os.path.splitext(os.path.basename(f))[0]: f for f in files}
    if args.action == "list":
        for name, path in names.items():
            print(f"{name:32} {_first_doc_line(path, language)}")
        return 0
    if not args.name:
        print("which lesson? give a name from `scratchnet lessons list`, or all")
        return 2
    if args.name == "all" and args.action == "run":
        chosen = list(names)
    else:
        matches = [n for n in names if n == args.name or n.startswith(args.name)
                   or n.split("_", 1)[1] == args.name]
        if len(matches) != 1:
            print(f"no single lesson matches {args.name!r}; choose from:\n  "
                  + "\n  ".join(names))
            return 2
        chosen = matches
    if args.action == "notebook":
        from .lesson import notebook

        out = args.out or f"{chosen[0]}.{language}.ipynb"
        try:
            notebook(names[chosen[0]], language, out)
        except ImportError as e:
            print(f"error: {e}")
            return 2
        print(f"wrote {out} ({'Korean' if language == 'ko' else 'English'} narration)")
        return 0
    env = dict(os.environ, MPLBACKEND="Agg", SCRATCHNET_LANG=language)
    if args.fast:
        env["SCRATCHNET_FAST"] = "1"
    failed = []
    for name in chosen:
        t0 = time.perf_counter()
        print(f"=== {name}", flush=True)
        rc = subprocess.call([sys.executable, "-m", "scratchnet.lesson", names[name],
                              "--lang", language], env=env, cwd=os.path.dirname(names[name]))
        dt = time.perf_counter() - t0
        print(f"=== {name}: {'ok' if rc == 0 else 'FAILED'} in {dt:.1f} s\n", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"{len(failed)} lesson(s) failed: {', '.join(failed)}")
        return 1
    return 0


def cmd_exercise(args) -> int:
    from . import exercises

    from .lesson import lang as default_lang

    lang = args.lang or default_lang()
    if args.action == "list":
        decks = {}
        for name, ex in exercises.EXERCISES.items():
            decks.setdefault(ex.deck, []).append(ex)
        for deck, group in decks.items():
            print(deck)
            for ex in group:
                print(f"  {ex.name:28} {ex.title_ko if lang == 'ko' else ex.title}")
        return 0
    if not args.name:
        print("which exercise? see `scratchnet exercise list`")
        return 2
    if args.timeout <= 0:
        print(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
        return 2
    try:
        report = exercises.check(args.name, args.file, lang=lang, timeout=args.timeout)
    except ValueError as e:
        print(e)
        return 2
    print(report)
    return 0 if report.passed else 1


def _show_dataset(name, split, n, seed):
    """(samples, class names, title) for `scratchnet data show`."""
    if name == "digit-scenes":
        from .data import DigitScenes
        ds = DigitScenes(split, num_samples=max(n, 1), seed=seed, overlap=True)
        title = f"DigitScenes ({split}): boxes and instance masks"
    elif name == "nuclei":
        from .data import Nuclei
        ds = Nuclei(split)
        title = f"Nuclei ({split}, crops of the stardist image)"
    else:
        from .data import LFWSubset
        ds = LFWSubset(split if split != "val" else "test")
        title = "LFWSubset: faces and non-faces"
    step = max(1, len(ds) // n)
    return [ds[i] for i in range(0, step * n, step)][:n], ds.classes, title


def cmd_data(args) -> int:
    from .plotting import plot_samples

    try:
        samples, names, title = _show_dataset(args.name, args.split, args.n, args.seed)
    except ImportError as e:
        print(f"error: {e}")
        return 2
    out = args.out or f"{args.name}.png"
    plot_samples(samples, out, names, title)
    print(f"wrote {out} ({len(samples)} samples)")
    return 0


def cmd_sr(args) -> int:
    from .superres import SRError, train, upscale
    from .train import NonFiniteLossError

    try:
        if args.action == "train":
            train(args.model, args.scale, args.steps, args.batch_size, args.lr,
                  args.out or os.path.join("runs", f"sr_{args.model}_x{args.scale}"),
                  args.seed, progress=not args.no_progress)
        else:
            upscale(args.input, args.output, args.checkpoint)
    except (SRError, NonFiniteLossError, FileNotFoundError, OSError) as e:
        print(f"error: {e}")
        return 2
    return 0


def _add_sr(sub):
    from .superres import RECIPES

    s = sub.add_parser("sr", help="super-resolution: train SRCNN/FSRCNN/VDSR, upscale images")
    act = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = act.add_parser("train", help="train on photo patches, report held-out PSNR vs bicubic")
    t.add_argument("model", choices=list(RECIPES))
    t.add_argument("--scale", type=int, default=3, choices=[2, 3, 4])
    t.add_argument("--steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--out", help="output folder (default: runs/sr_MODEL_xSCALE)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    u = act.add_parser("upscale", help="upscale an image file with a trained checkpoint")
    u.add_argument("input")
    u.add_argument("output")
    u.add_argument("--checkpoint", required=True)
    s.set_defaults(fn=cmd_sr)


UNSUPERVISED = ("siamese", "dcgan", "gan")


def _add_pair_and_gan_options(s):
    g = s.add_argument_group("siamese / dcgan / gan")
    g.add_argument("--loss", help="siamese: triplet (default, FaceNet's squared form), "
                                  "triplet-torch, contrastive, head; dcgan/gan: "
                                  "non-saturating (default) or minimax")
    g.add_argument("--mining", help="siamese: semi-hard (default), batch-hard or random")
    g.add_argument("--margin", type=float, help="siamese: the loss's margin")


def _cmd_train_pairs_or_gan(args) -> int:
    from .gan import GANError
    from .siamese import SiameseError

    out = args.out or os.path.join("runs", args.model)
    try:
        if args.model == "siamese":
            from .siamese import train
            if args.optimizer or args.batch_size or args.limit:
                raise SiameseError("siamese: --optimizer, --batch-size and --limit are not "
                                   "options of this recipe (Adam, batches of identities x "
                                   "images)")
            train(args.loss or "triplet", args.mining or "semi-hard", args.data or "mnist",
                  args.epochs, args.lr, out=out, seed=args.seed, margin=args.margin,
                  progress=not args.no_progress)
        else:
            from .gan import train
            if args.mining or args.margin is not None:
                raise GANError(f"{args.model}: --mining and --margin belong to siamese")
            train(args.model, args.data or "mnist", args.loss or "non-saturating",
                  args.epochs, args.batch_size, args.lr or 2e-4, out=out, seed=args.seed,
                  progress=not args.no_progress)
    except (SiameseError, GANError, ImportError) as e:
        print(f"error: {e}")
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scratchnet",
                                description="scratchnet: a from-scratch CNN framework for "
                                            "teaching")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    from .recipes import DATASETS, MODELS
    from .segmentation import DATA as SEG_DATA, RECIPES as SEG_MODELS

    s = sub.add_parser("train", help="train a model (LeNet-5 on real digits by default)")
    s.add_argument("model", nargs="?", default="lenet5",
                   choices=sorted(MODELS) + list(SEG_MODELS) + list(UNSUPERVISED))
    s.add_argument("--data", choices=sorted(DATASETS) + list(SEG_DATA) + ["lfw"],
                   help="dataset (default: digits for lenet5, cifar10 for convnetjs_cifar10, "
                        "digit-scenes for the FCNs and deconvnet, nuclei for unet; siamese: "
                        "mnist = MNIST's 5,000-digit sample, or lfw; dcgan/gan: mnist (the "
                        "5,000 sample) or digits)")
    s.add_argument("--data-root", help="folder holding the dataset files (MNIST, CIFAR-10)")
    s.add_argument("--download", action="store_true", help="fetch missing dataset files")
    s.add_argument("--epochs", type=int)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop", "adagrad",
                                           "adadelta"])
    s.add_argument("--out", help="output folder (default: runs/MODEL)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--limit", type=int, help="use only the first N train and test images")
    s.add_argument("--width", type=float,
                   help="segmentation models: channel multiplier (default: the recipe's)")
    s.add_argument("--scale", type=int,
                   help="FCNs/deconvnet: enlarge the 64x64 scenes this many times (bilinear) "
                        "and score the logits averaged back to 64x64 (default: the recipe's)")
    s.add_argument("--pretrain", action=argparse.BooleanOptionalAction, default=None,
                   help="FCNs/deconvnet: start from a VGG-16-BN backbone pretrained as a digit "
                        "classifier on train-split digit crops (default: the recipe's)")
    s.add_argument("--train-scenes", type=int,
                   help="FCNs/deconvnet: DigitScenes training scenes (default: the recipe's)")
    s.add_argument("--backbone", help="FCNs/deconvnet: the pretrained backbone file to read, "
                                      "or write if absent (default: OUT/backbone.npz)")
    s.add_argument("--bg-weight", type=float,
                   help="FCNs/deconvnet: the background's weight in the cross-entropy "
                        "(digits: 1; default: the recipe's)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_pair_and_gan_options(s)
    s.set_defaults(fn=cmd_train)
    s = sub.add_parser("segment", help="semantic segmentation: compare trained runs")
    act = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = act.add_parser("compare", help="mIoU table and IoU-by-size plot of several runs")
    c.add_argument("runs", nargs="+", help="run folders written by `scratchnet train fcn8s` "
                                           "and the others (their history.json)")
    c.add_argument("--out", default="iou_by_size.png", help="PNG file to write")
    c.set_defaults(fn=cmd_segment)
    s = sub.add_parser("evaluate", help="evaluate a checkpoint written by `train`")
    s.add_argument("checkpoint")
    s.add_argument("--data-root")
    s.set_defaults(fn=cmd_evaluate)
    s = sub.add_parser("info", help="versions, numba threading layer and kernel cache")
    s.set_defaults(fn=cmd_info)
    s = sub.add_parser("demo", help="tensors, backward and gradcheck in a few lines")
    s.set_defaults(fn=cmd_demo)
    s = sub.add_parser("lessons", help="list, run or export the follow-along lessons")
    s.add_argument("action", choices=["list", "run", "notebook"])
    s.add_argument("name", nargs="?", help="a lesson name (or its number), or all")
    s.add_argument("--fast", action="store_true",
                   help="shrink training so that each lesson runs in under 30 s "
                        "(also SCRATCHNET_FAST=1)")
    s.add_argument("--lang", choices=["ko", "en"],
                   help="language of the narration: ko (한국어) or en (default: "
                        "SCRATCHNET_LANG, else the locale, else en)")
    s.add_argument("--out", help="notebook: the .ipynb to write (default: NAME.LANG.ipynb)")
    s.set_defaults(fn=cmd_lessons)
    s = sub.add_parser("exercise", help="list the gradient-check exercises or check yours")
    s.add_argument("action", choices=["list", "check"])
    s.add_argument("name", nargs="?")
    s.add_argument("--file", help="your file (default: lessons/exercises/NAME.py)")
    s.add_argument("--lang", choices=["ko", "en"],
                   help="language of the report (default: SCRATCHNET_LANG or the locale)")
    s.add_argument("--timeout", type=float, default=20.0,
                   help="seconds each step of a case may take before it counts as a hang "
                        "(default 20)")
    s.set_defaults(fn=cmd_exercise)
    s = sub.add_parser("data", help="draw samples of a dataset with their targets")
    s.add_argument("action", choices=["show"])
    s.add_argument("name", choices=["digit-scenes", "nuclei", "lfw"])
    s.add_argument("--n", type=int, default=8, help="how many samples (default 8)")
    s.add_argument("--split", default="train", choices=["train", "val", "test"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="PNG file to write (default: NAME.png)")
    s.set_defaults(fn=cmd_data)
    _add_sr(sub)
    from .models.pretrained import add_parser as add_weights
    add_weights(sub)
    from .transfer import add_parser as add_transfer
    add_transfer(sub)
    from .style import add_parser as add_style
    add_style(sub)
    from .inside import add_parser as add_inside
    add_inside(sub)
    from .live.app import add_parser as add_live
    add_live(sub)
    from .detection.cli import add_parser as add_detect
    add_detect(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
