"""Lessons 07-12 (architectures) keep the lesson format beyond "runs in fast mode"
(tests/test_lessons.py runs them):

- percent format (`# %%` cells) that jupytext and VS Code open as notebooks, a title line for
  `scratchnet lessons list`, a header naming its decks by title and number (users do not have
  the deck files), slide figures going through `check`;
- lesson 07 still runs without scikit-image, on its generated stand-in photo, and writes every
  figure it announces. (Lessons 08-12 train on scikit-learn's digits, the `datasets` extra.)
"""
import glob
import os
import re
import subprocess
import sys

import pytest

from scratchnet.cli import _first_doc_line

LESSONS_DIR = os.path.join(os.path.dirname(__file__), "..", "lessons")
LESSONS = sorted(p for p in glob.glob(os.path.join(LESSONS_DIR, "[01][0-9]_*.py"))
                 if 7 <= int(os.path.basename(p)[:2]) <= 12)
IDS = [os.path.basename(p)[:-3] for p in LESSONS]


def test_the_six_architecture_lessons_exist():
    assert [os.path.basename(p)[:2] for p in LESSONS] == ["07", "08", "09", "10", "11", "12"]


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_is_a_percent_format_notebook(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("# %% [markdown]") and lines[1].startswith("# # ")
    in_markdown = False
    for n, line in enumerate(lines, 1):
        if line.startswith("# %%"):
            in_markdown = line.startswith("# %% [markdown]")
        elif in_markdown and line.strip():
            assert line.startswith("#"), f"line {n} in a markdown cell is not a comment"
    assert sum(1 for line in lines if line.strip() == "# %%") >= 3
    src = "\n".join(lines)
    assert re.search(r'header\(\s*"[^"]+ \(deck 00[0-4]\)', src), \
        "the header names its deck by title and number, e.g. CNN 기초 (deck 004)"
    assert not re.search(r"00[0-4]_[0-9a-f]{16}\.txt|seeds/", src), \
        "a deck is named by title and number, never by a file name or path users do not have"
    assert "header(" in src and "check(" in src
    # figures go through savefig (saved, and shown when interactive), never plt.show()
    assert "savefig(" in src and ".show()" not in src
    # no absolute paths of a particular machine
    assert not re.search(r"[\"'](/work|/home|/tmp|/root)/", src)


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lessons_list_shows_the_title(path):
    with open(path, encoding="utf-8") as f:
        title = f.read().splitlines()[1][len("# # "):]
    assert title in _first_doc_line(path)


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_jupytext_opens_the_lesson_as_a_notebook(path):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and nb.cells[0].source.startswith("# ")
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.source.strip(), "an empty code cell"


def test_lesson_07_runs_without_scikit_image(tmp_path):
    hidden = tmp_path / "hidden" / "skimage"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('skimage is hidden for this test')\n")
    path = [p for p in LESSONS if os.path.basename(p).startswith("07_")][0]
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path / "out"),
               PYTHONPATH=os.pathsep.join([str(hidden.parent),
                                           os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(path), timeout=300)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "scikit-image is not installed" in out.stdout
    for line in out.stdout.splitlines():
        if "scratchnet:" in line and "slide:" in line:
            assert line.rstrip().endswith("✓"), line
    announced = [ln for ln in out.stdout.splitlines() if ln.startswith("figure: ")]
    written = sorted((tmp_path / "out").glob("*.png"))
    assert announced and len(written) == len(announced)
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name
