"""Lessons 15 (FCN) and 16 (DeconvNet): a fast-mode run in Korean and in English whose slide
checks all pass and whose announced figures are written, and the lesson facts the prose relies
on (the skip-fusion ordering, the deck's unpooling example, Figure 4's sizes).

(tests/test_lessons.py and tests/test_lessons_bilingual.py run every lesson in fast mode and
check the cell pairs and the glossary; this file adds what these two lessons announce.)"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..")
LESSONS = {"15_fcn": ["fcn_iou_by_size.png", "semantic_vs_instance.png"],
           "16_deconvnet": ["deconvnet_figure4.png"]}


def _run(name, tmp_path, language):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg", SCRATCHNET_LANG=language,
               SCRATCHNET_LESSON_OUT=str(tmp_path), PYTHONPATH=os.path.abspath(ROOT))
    path = os.path.join(ROOT, "lessons", f"{name}.py")
    return subprocess.run([sys.executable, "-m", "scratchnet.lesson", path, "--lang", language],
                          env=env, cwd=os.path.dirname(path), capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_runs_fast_in_korean_and_writes_its_figures(name, tmp_path):
    r = _run(name, tmp_path, "ko")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "✗" not in r.stdout and "슬라이드:" in r.stdout
    for figure in LESSONS[name]:
        assert (tmp_path / figure).stat().st_size > 0, figure


def test_fcn_lesson_reports_the_skip_fusion_ordering(tmp_path):
    r = _run("15_fcn", tmp_path, "en")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if "share-map mIoU" in ln]
    values = [float(ln.split("share-map mIoU")[1].split(",")[0]) for ln in lines]
    assert len(values) == 3 and values[2] > values[1] > values[0]       # 8s > 16s > 32s
    assert "slide: 16 — scratchnet: 16 ✓" in r.stdout


def test_deconvnet_lesson_checks_the_unpooling_example_and_figure_4(tmp_path):
    r = _run("16_deconvnet", tmp_path, "en")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0], [0, 0, 0, 0]] ✓" in r.stdout
    assert "[14, 28, 28, 56, 56, 112, 112, 224, 224] ✓" in r.stdout
