"""Lessons 07-12 (architectures) keep the lesson format beyond "runs in fast mode"
(tests/test_lessons.py runs them):

- percent format (`# %%` cells) that jupytext and VS Code open as notebooks, a title line for
  `scratchnet lessons list`, a header naming its decks by title and number (users do not have
  the deck files), slide figures going through `check`;
- bilingual: every markdown cell is a Korean cell followed by its English twin (jupytext cell
  metadata `lang="ko"` / `lang="en"`), the terms marked `**한국어** (English)` are rows of
  lessons/GLOSSARY.md, and every `check` has a Korean label;
- lesson 07 still runs without scikit-image, on its generated stand-in photo, and writes every
  figure it announces. (Lessons 08-12 train on scikit-learn's digits, the `datasets` extra.)
"""
import ast
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


HANGUL = re.compile(r"[\uac00-\ud7a3]")
MARKED = re.compile(r"\*\*([^*\n]*[\uac00-\ud7a3][^*\n]*)\*\* \(([^()\n]+)\)")


def _markdown_cells(path):
    jupytext = pytest.importorskip("jupytext")
    return [c for c in jupytext.read(path).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_every_markdown_cell_is_a_korean_english_pair(path):
    jupytext = pytest.importorskip("jupytext")
    cells = jupytext.read(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        lang = cell.metadata.get("lang")
        assert lang in ("ko", "en"), f"markdown cell {i} has no lang: {cell.source[:60]!r}"
        if lang == "ko":
            twin = cells[i + 1] if i + 1 < len(cells) else None
            assert twin is not None and twin.cell_type == "markdown" \
                and twin.metadata.get("lang") == "en", \
                f"Korean cell {i} is not followed by its English cell: {cell.source[:60]!r}"
            assert HANGUL.search(cell.source), f"cell {i} is marked ko but is not Korean"
            # the twins open with the same kind of line: a heading of the same level or prose
            ko_head = re.match(r"#*", cell.source).group(0)
            en_head = re.match(r"#*", twin.source).group(0)
            assert ko_head == en_head, f"cell {i}: heading levels differ ({ko_head!r}, {en_head!r})"
        else:
            before = cells[i - 1] if i else None
            assert before is not None and before.cell_type == "markdown" \
                and before.metadata.get("lang") == "ko", \
                f"English cell {i} has no Korean cell before it: {cell.source[:60]!r}"


def _glossary():
    path = os.path.join(LESSONS_DIR, "GLOSSARY.md")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert "| 한국어 | English | decks |" in lines
    rows = set()
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("한국어", "---"):
            assert re.fullmatch(r"(00[0-4](, 00[0-4])*|—)", cells[2]), line
            rows.add((cells[0], cells[1]))
    return rows


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_marked_terms_are_in_the_glossary_once_per_lesson(path):
    glossary = _glossary()
    marked = []
    for cell in _markdown_cells(path):
        if cell.metadata.get("lang") == "ko":
            marked += MARKED.findall(cell.source)
    assert marked, "the Korean cells mark no glossary term"
    missing = [m for m in marked if m not in glossary]
    assert not missing, f"marked but not in lessons/GLOSSARY.md: {missing}"
    korean = [ko for ko, _ in marked]
    assert len(korean) == len(set(korean)), "a term is marked more than once"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_every_slide_check_has_a_korean_label(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "check"]
    assert calls
    for call in calls:
        ko = [k.value for k in call.keywords if k.arg == "ko"]
        assert ko and isinstance(ko[0], ast.Constant) and HANGUL.search(ko[0].value), \
            f"line {call.lineno}: check(...) without a Korean label ko=..."


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
