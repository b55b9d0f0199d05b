"""`scratchnet detect selective-search IMAGE`: region proposals of one image, counted, timed
and drawn (the first `--top` of them)."""
from __future__ import annotations

import time

import numpy as np


def cmd_selective_search(args) -> int:
    from ..models.detection.selective_search import as_rgb, selective_search
    from .sliding_window import read_rgb

    try:
        image = as_rgb(read_rgb(args.image), "detect selective-search")
        if args.top < 0:
            raise ValueError(f"--top must be >= 0, got {args.top}")
        if args.image_scale <= 0:
            raise ValueError(f"--image-scale must be > 0, got {args.image_scale}")
        t0 = time.perf_counter()
        boxes = selective_search(image, args.mode, seed=args.seed,
                                 min_box_size=args.min_box_size,
                                 image_scale=args.image_scale)
        seconds = time.perf_counter() - t0
    except (OSError, ValueError, TypeError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return 2
    h, w = image.shape[:2]
    print(f"{args.image} ({w}x{h}): {len(boxes):,} proposals in {seconds:.2f} s "
          f"(selective search, {args.mode} mode)")
    if args.out:
        from .._atomic import atomic_write
        from ..utils.draw import draw_bounding_boxes

        rgb = np.moveaxis((image * 255).round().astype(np.uint8), -1, 0)
        top = boxes[:args.top]
        rng = np.random.default_rng(0)
        colours = [tuple(int(c) for c in rng.integers(60, 256, 3)) for _ in range(len(top))]
        pic = draw_bounding_boxes(rgb, top, colors=colours)

        def write(f):
            import matplotlib.image as mpimg
            mpimg.imsave(f, np.moveaxis(pic, 0, -1), format="png")

        atomic_write(args.out, write)
        print(f"the first {len(top)} drawn -> {args.out}")
    return 0


def add_parser(act):
    """Add `selective-search` to the `detect` actions `act`."""
    s = act.add_parser("selective-search", help="region proposals of an image (Uijlings et "
                                                "al. 2013): count, time, draw the first N")
    s.add_argument("image", help="an image file, or a scikit-image photo name (astronaut)")
    s.add_argument("--out", help="the PNG to write with the first --top proposals")
    s.add_argument("--mode", choices=("single", "fast", "quality"), default="fast")
    s.add_argument("--top", type=int, default=100, help="how many proposals to draw")
    s.add_argument("--min-box-size", type=int, default=0)
    s.add_argument("--image-scale", type=float, default=1.0,
                   help="resize by this factor first (about 4 for 64x64 scenes)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(detect_fn=cmd_selective_search)
    return s
