"""Lesson 23 (Faster R-CNN) in fast mode: its slide checks pass in Korean, it writes the
figures it announces, and it shows what the prose relies on (the 54 channels, the four
losses, no detector gradient into the RPN's box layer, the recall table)."""

from tests.helpers import run_lesson_fast

FIGURES = ["23_anchors.png", "23_proposal_recall.png", "23_detections.png"]


def _run(tmp_path, language):
    return run_lesson_fast("23_faster_rcnn", language, tmp_path)


def test_lesson_23_runs_fast_and_checks_the_decks_figures(tmp_path):
    r = _run(tmp_path, "en")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = r.stdout
    assert "✗" not in out
    assert "anchors per cell, k: slide: 9 — scratchnet: 9 ✓" in out
    assert "RPN output channels, 9 x (4 + 2): slide: 54 — scratchnet: 54 ✓" in out
    assert "Faster R-CNN losses: slide: 4 — scratchnet: 4 ✓" in out
    assert "slide: 0.2 — scratchnet: 0.2 ✓" in out
    assert "slide: 11.5 — scratchnet: 11.5 ✓" in out
    assert "reach the RPN's box layer: False" in out
    assert "selective s." in out and "RPN " in out
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure
