"""Helpers for the follow-along lessons in `lessons/`.

    from scratchnet.lesson import check, slide_is_wrong, fast, savefig

    check("VGG: two 3x3 convs, weights", 294_912, two_3x3_weights)
    # slide: 294,912 — scratchnet: 294,912 ✓

Every number a slide states goes through `check`, which raises `SlideMismatch` (and so fails
the lesson, and CI) when scratchnet computes something else. Where the slide itself is wrong,
`slide_is_wrong` prints the slide's figure, the reason, and the right figure, and still checks
that scratchnet reproduces both the slide's mistake and the correction.

A lesson is a percent-format file whose markdown cells come in pairs, Korean then English
(`# %% [markdown] lang="ko"`, then `lang="en"`). `run` executes it cell by cell and prints the
narration of one language between the code cells' output (`scratchnet lessons run NAME
--lang ko`); run as a plain script, the narration is comments and only the output shows.
"""
from __future__ import annotations

import os
import re
import sys
import unicodedata
from dataclasses import dataclass


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


def slide_is_wrong(label: str, slide, slide_reproduced, correct, ours, why: str,
                   ko: str | None = None, why_ko: str | None = None):
    """A slide's figure that is wrong: show it, reproduce the mistake, give the right one.

    slide_reproduced: the slide's arithmetic redone (must equal `slide`);
    correct: the right figure, worked out independently; ours: what scratchnet computes
    (must equal `correct`). `ko` and `why_ko` are the Korean label and reason (English is
    used when absent)."""
    if not _equal(slide, slide_reproduced, 0.0):
        raise SlideMismatch(f"{label}: could not reproduce the slide's {_fmt(slide)} "
                            f"(redone: {_fmt(slide_reproduced)})")
    if lang() == "ko":
        print(f"{ko or label}: 슬라이드: {_fmt(slide)} ✗ — {why_ko or why}")
    else:
        print(f"{label}: slide: {_fmt(slide)} ✗ — {why}")
    return check(f"{label} (corrected)", correct, ours, ko=f"{ko or label} (정정)")


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


def header(deck: str, slides: str, topic: str, ko: str | None = None):
    """Print which deck and slides a lesson follows, e.g. deck "CNN 기초 (deck 004)";
    `ko` is the topic in Korean (English is used when absent)."""
    if lang() == "ko":
        line = f"{ko or topic} — {deck}의 슬라이드: {slides}"
    else:
        line = f"{topic} — follows {deck}: {slides}"
    print(line)
    print("-" * min(_width(line), 100))


_CELL = re.compile(r"^# %%(?P<rest>.*)$")
_LANG = re.compile(r"""\blang\s*=\s*["']?(?P<lang>[A-Za-z-]+)["']?""")


@dataclass
class Cell:
    """One cell of a percent-format lesson: kind 'code' or 'markdown', its language (the
    `lang` metadata, None when absent), its text (markdown without the leading '# '), and the
    1-based line of its first text line in the file."""
    kind: str
    lang: str | None
    source: str
    line: int


def cells(path: str) -> list:
    """The cells of the percent-format lesson at `path`, in file order. Text before the
    first `# %%` marker is a code cell of its own when it holds anything."""
    with open(path, encoding="utf-8") as f:
        text = f.read().splitlines()
    found, kind, language, start, body = [], "code", None, 1, []

    def close():
        while body and not body[-1].strip():
            body.pop()
        if kind == "markdown":
            src = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body)
        else:
            src = "\n".join(body)
        if src.strip() or kind == "markdown":
            found.append(Cell(kind, language, src, start))

    for n, line in enumerate(text, 1):
        m = _CELL.match(line)
        if m:
            if n > 1:
                close()
            rest = m.group("rest")
            kind = "markdown" if "[markdown]" in rest else "code"
            lm = _LANG.search(rest)
            language = lm.group("lang").lower() if lm else None
            start, body = n + 1, []
        else:
            body.append(line)
    close()
    return found


def narration(markdown: str) -> str:
    """A markdown cell as plain text for a terminal: headings lose their '#' and are
    underlined, emphasis and code marks are dropped, everything else is kept as written."""
    out = []
    for line in markdown.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line if not heading else heading.group(2))
        line = re.sub(r"`([^`]+)`", r"\1", line)
        out.append(line)
        if heading:
            rule = "=" if len(heading.group(1)) == 1 else "-"
            out.append(rule * min(_width(line), 100))
    return "\n".join(out)


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def run(path: str, language: str | None = None) -> None:
    """Execute the lesson at `path` cell by cell as `__main__`, printing the markdown cells of
    `language` ('ko' or 'en'; default `lang()`) as plain text before the code that follows
    them (a markdown cell without `lang` is printed in either language). Tracebacks name the
    lesson's own lines; an exception stops the lesson and propagates."""
    import types

    language = language or lang()
    os.environ["SCRATCHNET_LANG"] = language     # check() and header() speak it too
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath(path)
    saved, saved_argv = sys.modules.get("__main__"), sys.argv
    sys.modules["__main__"], sys.argv = module, [module.__file__]
    sys.path.insert(0, os.path.dirname(module.__file__))
    try:
        for cell in cells(path):
            if cell.kind == "markdown":
                if cell.lang in (language, None):
                    print("\n" + narration(cell.source) + "\n", flush=True)
                continue
            # pad with blank lines so that line numbers in tracebacks are the file's
            code = compile("\n" * (cell.line - 1) + cell.source, module.__file__, "exec")
            exec(code, module.__dict__)
            sys.stdout.flush()
    finally:
        sys.modules["__main__"], sys.argv = saved, saved_argv
        sys.path.remove(os.path.dirname(module.__file__))


def notebook(path: str, language: str, out: str) -> str:
    """Write the lesson at `path` as a Jupyter notebook `out` holding the code cells and only
    the markdown cells of `language`. Needs jupytext (the `notebooks` extra)."""
    try:
        import jupytext
    except ImportError as e:
        raise ImportError("writing a notebook needs jupytext: pip install jupytext "
                          "(or scratchnet[notebooks])") from e
    nb = jupytext.read(path)
    kept = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            if c.metadata.get("lang") != language:
                continue
            c.metadata.pop("lang")
        kept.append(c)
    nb.cells = kept
    nb.metadata["language"] = language
    jupytext.write(nb, out, fmt="ipynb")
    return out


def _main(argv=None) -> int:
    """`python -m scratchnet.lesson LESSON.py [--lang ko|en]`: what `scratchnet lessons run`
    starts for each lesson, in a process of its own."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m scratchnet.lesson")
    p.add_argument("path")
    p.add_argument("--lang", choices=["ko", "en"])
    args = p.parse_args(argv)
    run(args.path, args.lang)
    return 0


__all__ = ["lang", "check", "slide_is_wrong", "fast", "savefig", "output_dir", "plt", "header", "photo",
           "SlideMismatch", "Cell", "cells", "narration", "run", "notebook"]

if __name__ == "__main__":
    sys.exit(_main())
