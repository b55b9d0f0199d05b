"""Lesson 13 (the four vision tasks) keeps the bilingual lesson format and runs in fast mode in
Korean with every slide check passing (tests/test_lessons.py runs it in English):

- every markdown cell is a Korean cell (lang="ko") followed at once by its English cell;
- every term marked in Korean as **한국어** (English) has a row in lessons/GLOSSARY.md;
- decks are named by title and number, never by a file of the course material;
- figures go through savefig, and each one announced is written.
"""
import os
import re
import subprocess
import sys
import unicodedata

import pytest

LESSONS_DIR = os.path.join(os.path.dirname(__file__), "..", "lessons")
LESSON = os.path.join(LESSONS_DIR, "13_vision_tasks.py")
MARK = re.compile(r"\*\*([^*\n]+)\*\* \(([^()\n]+)\)")


def hangul(text):
    return any(unicodedata.name(c, "").startswith("HANGUL") for c in text)


def markdown_cells():
    jupytext = pytest.importorskip("jupytext")
    return [c for c in jupytext.read(LESSON).cells]


def test_markdown_cells_come_in_korean_english_pairs():
    cells = markdown_cells()
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    waiting = None
    for n, cell in enumerate(cells):
        if cell.cell_type == "code":
            assert waiting is None, f"cell {waiting}: a Korean cell without its English cell"
            assert cell.source.strip()
            continue
        lang = cell.metadata.get("lang")
        if lang == "ko":
            assert waiting is None and hangul(cell.source), f"cell {n}"
            waiting = n
        else:
            # English cells quote the decks' Korean titles, so only their place is checked
            assert lang == "en" and waiting == n - 1, f"cell {n}: {lang!r} after {waiting}"
            waiting = None
    assert waiting is None


def test_marked_terms_are_in_the_glossary():
    with open(os.path.join(LESSONS_DIR, "GLOSSARY.md"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    head = lines.index("| 한국어 | English | decks |")
    rows = set()
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        ko, en, decks = (p.strip() for p in line.strip().strip("|").split("|"))
        assert re.fullmatch(r"—|\d{3}(, \d{3})*", decks), line
        rows.add((ko, en))
    marked = [m for c in markdown_cells() if c.metadata.get("lang") == "ko"
              for m in MARK.findall(c.source)]
    assert len(marked) >= 5
    missing = [m for m in marked if m not in rows]
    assert not missing, f"marked terms missing from lessons/GLOSSARY.md: {missing}"


def test_decks_are_named_by_title_and_number():
    with open(LESSON, encoding="utf-8") as f:
        src = f.read()
    assert not re.search(r"seeds/|00[0-9]_[0-9a-f]{16}", src)
    assert "deck 000" in src and "deck 002" in src and "CNN 응용 사례" in src
    assert "check(" in src and "savefig(" in src and ".show()" not in src
    assert not re.search(r"[\"'](/work|/home|/tmp|/root)/", src)


def test_lesson_13_runs_in_fast_mode_in_korean(tmp_path):
    for module in ("skimage", "mlxtend", "stardist", "tifffile"):
        pytest.importorskip(module)
    env = dict(os.environ, SCRATCHNET_FAST="1", SCRATCHNET_LANG="ko", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path))
    out = subprocess.run([sys.executable, LESSON], env=env, capture_output=True, text=True,
                         cwd=LESSONS_DIR, timeout=300)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    # check lines read "label: 슬라이드: X — scratchnet: Y ✓" (the header names slides too)
    checks = [ln for ln in out.stdout.splitlines() if "슬라이드:" in ln and "— scratchnet:" in ln]
    assert len(checks) >= 5 and all(ln.rstrip().endswith("✓") for ln in checks), checks
    announced = [ln for ln in out.stdout.splitlines() if ln.startswith("figure: ")]
    written = sorted(tmp_path.glob("*.png"))
    assert len(announced) == len(written) == 4
