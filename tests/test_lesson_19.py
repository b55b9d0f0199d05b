"""Lesson 19 (the live training page): bilingual cell pairs with the glossary, deck named by
title and number, the screenshot it shows is in the repository, and a fast-mode run in under
30 s whose slide check passes and which prints our times next to the slide's.

(tests/test_lessons.py runs every lesson in fast mode in both languages too.)"""
import os
import re
import subprocess
import sys
import time

from scratchnet.lesson import cells

HERE = os.path.dirname(__file__)
LESSON = os.path.join(HERE, "..", "lessons", "19_live_training.py")
GLOSSARY = os.path.join(HERE, "..", "lessons", "GLOSSARY.md")


def test_markdown_cells_come_in_korean_english_pairs():
    langs = [c.lang for c in cells(LESSON) if c.kind == "markdown"]
    assert len(langs) >= 8 and langs == ["ko", "en"] * (len(langs) // 2)
    src = open(LESSON, encoding="utf-8").read()
    assert "002_" not in src and "/work" not in src
    assert "딥러닝의 통계적이해 8강" in src and "deck 002" in src


def test_marked_terms_are_in_the_glossary_and_the_screenshot_exists():
    korean = " ".join(c.source for c in cells(LESSON) if c.lang == "ko")
    marked = re.findall(r"\*\*([^*]+)\*\* \(([^)]+)\)", re.sub(r"\s*\n\s*", " ", korean))
    assert ("혼동 행렬", "confusion matrix") in marked and len(marked) >= 6
    rows = open(GLOSSARY, encoding="utf-8").read().splitlines()
    table = {tuple(c.strip() for c in r.strip("|").split("|")[:2]) for r in rows
             if r.startswith("|")}
    for ko, en in marked:
        assert (ko, en) in table, f"{ko} ({en}) has no row in lessons/GLOSSARY.md"
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", open(LESSON, encoding="utf-8").read()):
        path = os.path.join(os.path.dirname(LESSON), image)
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n", image


def test_runs_in_fast_mode_and_prints_both_times(tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path), SCRATCHNET_LANG="en")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, LESSON], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(LESSON), timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert time.monotonic() - t0 < 60          # under 30 s alone; slack for a busy machine
    lines = out.stdout.splitlines()
    assert "largest random shift (px): slide: 2 — scratchnet: 2 ✓" in lines
    slide = next(line for line in lines if line.startswith("slide (ConvNetJS)"))
    assert slide.split()[-2:] == ["8.0", "16.0"]
    ours = [line for line in lines if line.startswith("scratchnet, batch")]
    assert len(ours) == 3 and all(float(v) > 0 for line in ours for v in line.split()[-2:])
    seen = next(line for line in lines if line.startswith("examples_seen"))
    assert int(seen.split()[-1]) > 0
