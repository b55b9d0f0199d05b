"""The `scratchnet` command line.

    scratchnet info                 versions, numba threading and kernel cache directory
    scratchnet demo                 tensors, backward and a gradient check in ten lines
"""
from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scratchnet",
                                description="scratchnet: a from-scratch CNN framework for "
                                            "teaching")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("info", help="versions, numba threading layer and kernel cache")
    s.set_defaults(fn=cmd_info)
    s = sub.add_parser("demo", help="tensors, backward and gradcheck in a few lines")
    s.set_defaults(fn=cmd_demo)
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
