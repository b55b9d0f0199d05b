"""Lesson 21 (R-CNN and SPPNet): a fast-mode run in Korean and English whose slide checks
pass, which writes its figure, and whose timing shows convolving once beating a CNN pass per
region (tests/test_lessons.py runs every lesson too; this adds what lesson 21 announces)."""
import re

import pytest

from tests.helpers import run_lesson_fast


def _run(tmp_path, language):
    return run_lesson_fast("21_rcnn_sppnet", language, tmp_path)


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
