"""Lesson 20 (sliding windows and selective search): a fast-mode run in Korean whose slide
checks all pass and whose figures are written, and in English the figures the prose relies
on (the hand-counted 841 windows, the segmentation identical to scikit-image's, 2n - 1
regions, selective search beating random windows on recall).

(tests/test_lessons.py and tests/test_lessons_bilingual.py run every lesson in fast mode and
check the cell pairs and the glossary; this file adds what this lesson announces.)"""

from tests.helpers import run_lesson_fast

NAME = "20_sliding_window_proposals"
FIGURES = ["sliding_window_faces.png", "felzenszwalb_segments.png", "hierarchical_grouping.png",
           "selective_search_first_40.png", "recall_vs_proposals.png"]


def _run(tmp_path, language):
    return run_lesson_fast(NAME, language, tmp_path, timeout=900, NUMBA_NUM_THREADS="1")


def test_lesson_20_runs_fast_in_korean_and_writes_its_figures(tmp_path):
    r = _run(tmp_path, "ko")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "✗" not in r.stdout and r.stdout.count("— scratchnet:") == 2
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure


def test_lesson_20_reports_what_its_prose_says(tmp_path):
    r = _run(tmp_path, "en")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "stride 16: 841 windows (by hand)" in out
    assert "adjusted Rand index 1.0000" in out
    assert "(2n - 1 = " in out
    assert "slide: 2,000 — scratchnet: 2,000 ✓" in out
