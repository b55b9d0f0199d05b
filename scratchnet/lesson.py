"""Helpers for the follow-along lessons in `lessons/`.

    from scratchnet.lesson import check, slide_is_wrong, fast, savefig

    check("VGG: two 3x3 convs, weights", 294_912, two_3x3_weights)
    # slide: 294,912 — scratchnet: 294,912 ✓

Every number a slide states goes through `check`, which raises `SlideMismatch` (and so fails
the lesson, and CI) when scratchnet computes something else. Where the slide itself is wrong,
`slide_is_wrong` prints the slide's figure, the reason, and the right figure, and still checks
that scratchnet reproduces both the slide's mistake and the correction.
"""
from __future__ import annotations

import os
import sys


class SlideMismatch(AssertionError):
    """scratchnet does not reproduce a number stated on a slide."""


def fast() -> bool:
    """True in fast mode (`scratchnet lessons run --fast`, or SCRATCHNET_FAST=1): lessons
    shrink their training so that each runs in under 30 s."""
    return os.environ.get("SCRATCHNET_FAST", "0") not in ("", "0", "false", "no")


def lang() -> str:
    """The language lessons speak: SCRATCHNET_LANG ('ko' or 'en'), else the locale's
    (LC_ALL, LC_MESSAGES, LANG starting with 'ko' means Korean), else English."""
    chosen = os.environ.get("SCRATCHNET_LANG", "").strip().lower()
    if chosen in ("ko", "en"):
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def _fmt(v):
    if isinstance(v, float) and not float(v).is_integer():
        return f"{v:,.4g}"
    if isinstance(v, (int, float)):
        return f"{int(v):,}"
    return str(v)


def _equal(a, b, rel):
    try:
        import numpy as np
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a_arr.shape != b_arr.shape:
            return False
        return bool(np.allclose(a_arr, b_arr, rtol=rel, atol=0 if rel else 1e-12))
    except (TypeError, ValueError):
        return a == b


def check(label: str, slide, ours, rel: float = 0.0, ko: str | None = None):
    """Print `slide: X — scratchnet: Y ✓` (in Korean, `슬라이드: X — scratchnet: Y ✓` with the
    label `ko`) and raise SlideMismatch unless they agree (exactly, or within a relative
    tolerance `rel` for rounded slide figures)."""
    ok = _equal(slide, ours, rel)
    mark = "✓" if ok else "✗"
    if lang() == "ko":
        print(f"{ko or label}: 슬라이드: {_fmt(slide)} — scratchnet: {_fmt(ours)} {mark}")
    else:
        print(f"{label}: slide: {_fmt(slide)} — scratchnet: {_fmt(ours)} {mark}")
    if not ok:
        raise SlideMismatch(f"{label}: the slide says {_fmt(slide)}, scratchnet computes "
                            f"{_fmt(ours)}")
    return ours


def slide_is_wrong(label: str, slide, slide_reproduced, correct, ours, why: str):
    """A slide's figure that is wrong: show it, reproduce the mistake, give the right one.

    slide_reproduced: the slide's arithmetic redone (must equal `slide`);
    correct: the right figure, worked out independently; ours: what scratchnet computes
    (must equal `correct`)."""
    if not _equal(slide, slide_reproduced, 0.0):
        raise SlideMismatch(f"{label}: could not reproduce the slide's {_fmt(slide)} "
                            f"(redone: {_fmt(slide_reproduced)})")
    print(f"{label}: slide: {_fmt(slide)} ✗ — {why}")
    return check(f"{label} (corrected)", correct, ours)


def output_dir() -> str:
    """Where a lesson writes its figures: SCRATCHNET_LESSON_OUT, else lessons/_out/<name>."""
    env = os.environ.get("SCRATCHNET_LESSON_OUT")
    if env:
        path = env
    else:
        main = sys.modules.get("__main__")
        script = getattr(main, "__file__", None) or "interactive"
        stem = os.path.splitext(os.path.basename(script))[0]
        base = os.path.dirname(os.path.abspath(script)) if script != "interactive" else "."
        path = os.path.join(base, "_out", stem)
    os.makedirs(path, exist_ok=True)
    return path


def interactive() -> bool:
    """True in Jupyter / IPython, where figures are shown as well as saved."""
    return "ipykernel" in sys.modules or hasattr(sys, "ps1")


def plt():
    """matplotlib.pyplot, with the file-only Agg backend when nothing can show a window."""
    import matplotlib
    if not interactive():
        matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def savefig(fig, name: str) -> str:
    """Save `fig` as <output_dir>/<name>.png; show it when running interactively."""
    path = os.path.join(output_dir(), name if name.endswith(".png") else name + ".png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"figure: {os.path.relpath(path)}")
    pyplot = plt()
    if interactive():
        pyplot.show()
    else:
        pyplot.close(fig)
    return path


def generated_photo(colour: bool = True):
    """A 256x256 stand-in photo (uint8): a lit disc and a dark square on a gradient, in warm
    tones when `colour` so that red is the brightest channel, as in the cat photo."""
    import numpy as np

    yy, xx = np.mgrid[0:256, 0:256] / 255.0
    grey = 0.25 + 0.4 * xx
    grey[(yy - 0.4) ** 2 + (xx - 0.6) ** 2 < 0.06] = 0.9
    grey[150:220, 30:100] = 0.1
    if not colour:
        return (grey * 255).astype(np.uint8)
    rgb = np.stack([grey, 0.8 * grey, 0.6 * grey + 0.1 * yy], axis=-1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def photo(name: str):
    """scikit-image's sample photo `name` (uint8, (H, W) for 'camera', else (H, W, 3)), or a
    generated stand-in when scikit-image is not installed."""
    try:
        from skimage import data
    except ImportError:
        print(f"scikit-image is not installed: a generated picture replaces '{name}'")
        return generated_photo(colour=name != "camera")
    return getattr(data, name)()


def header(deck: str, slides: str, topic: str):
    """Print which deck and slides a lesson follows."""
    line = f"{topic} — follows {deck}: {slides}"
    print(line)
    print("-" * min(len(line), 100))


__all__ = ["lang", "check", "slide_is_wrong", "fast", "savefig", "output_dir", "plt", "header", "photo",
           "SlideMismatch"]
