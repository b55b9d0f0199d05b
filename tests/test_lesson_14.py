"""Lesson 14 (super-resolution): bilingual cell pairs with the glossary, deck named by title and
number, and a fast-mode run whose slide checks all pass.

(tests/test_lessons.py runs every lesson in fast mode too; this file adds the format checks
of the bilingual lessons and the figures this lesson announces.)"""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)
LESSON = os.path.join(HERE, "..", "lessons", "14_super_resolution.py")
GLOSSARY = os.path.join(HERE, "..", "lessons", "GLOSSARY.md")


def _cells(src):
    """(header line, body) of every cell."""
    parts = re.split(r"^(# %%.*)$", src, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def test_markdown_cells_come_in_korean_english_pairs():
    src = open(LESSON, encoding="utf-8").read()
    cells = _cells(src)
    langs = [re.search(r'lang="(\w+)"', h).group(1) for h, _ in cells
             if h.startswith("# %% [markdown]") and "lang=" in h]
    assert len(langs) >= 8 and len(langs) % 2 == 0
    assert langs == ["ko", "en"] * (len(langs) // 2)
    assert "000_" not in src and "/work" not in src        # the deck by title, no paths
    assert "CNN 응용 사례" in src and "deck 000" in src


def test_marked_terms_are_in_the_glossary():
    src = open(LESSON, encoding="utf-8").read()
    korean = "".join(b for h, b in _cells(src) if 'lang="ko"' in h)
    marked = re.findall(r"\*\*([^*]+)\*\* \(([^)]+)\)", korean)
    assert len(marked) >= 5
    rows = open(GLOSSARY, encoding="utf-8").read().splitlines()
    assert "| 한국어 | English | decks |" in rows
    table = {tuple(c.strip() for c in r.strip("|").split("|")[:2]) for r in rows
             if r.startswith("|")}
    for ko, en in marked:
        assert (ko, en) in table, f"{ko} ({en}) has no row in lessons/GLOSSARY.md"


def test_runs_in_fast_mode(tmp_path):
    pytest.importorskip("skimage")
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path))
    out = subprocess.run([sys.executable, LESSON], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(LESSON), timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    checks = [line for line in out.stdout.splitlines() if "slide:" in line]
    assert len(checks) >= 14 and all(line.rstrip().endswith("✓") for line in checks)
    for fig in ("bicubic_baseline", "receptive_fields", "vdsr_residual", "side_by_side"):
        assert (tmp_path / f"{fig}.png").exists()
