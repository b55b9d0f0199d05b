"""Lesson 21 (R-CNN and SPPNet): a fast-mode run in Korean and English whose slide checks
pass, which writes its figure, and whose timing shows convolving once beating a CNN pass per
region (tests/test_lessons.py runs every lesson too; this adds what lesson 21 announces)."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
LESSON = os.path.join(ROOT, "lessons", "21_rcnn_sppnet.py")


def _run(tmp_path, language):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg", SCRATCHNET_LANG=language,
               SCRATCHNET_LESSON_OUT=str(tmp_path), PYTHONPATH=os.path.abspath(ROOT))
    return subprocess.run([sys.executable, "-m", "scratchnet.lesson", LESSON, "--lang",
                           language], env=env, cwd=os.path.dirname(LESSON),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("language, mark", [("ko", "슬라이드:"), ("en", "slide:")])
def test_lesson_21_runs_and_checks_the_decks_figures(tmp_path, language, mark):
    r = _run(tmp_path, language)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "✗" not in r.stdout
    assert r.stdout.count(mark) >= 3                 # ~2,000 regions, 84 h, 47 s
    assert (tmp_path / "rcnn_warping.png").stat().st_size > 0
    if language == "en":
        faster = re.search(r"SPPNet is (\d+)x faster", r.stdout)
        assert faster and int(faster.group(1)) > 1, r.stdout[-1500:]
        assert "round 1: 2 negative(s) in training, 0 hard negative(s) found" in r.stdout
