"""Lesson 22 (Fast R-CNN): a fast-mode run in English whose slide checks all pass, with the
deck's two RoI pooling examples and both speed-up figures checked, our measured ratios shown
next to them, and the detections figure written."""

from tests.helpers import run_lesson_fast


def test_fast_rcnn_lesson_checks_the_deck(tmp_path):
    r = run_lesson_fast("22_fast_rcnn", "en", tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = r.stdout
    assert "✗" not in out
    assert "a 21x14 RoI is max-pooled with windows: slide: [3, 2] — scratchnet: [3, 2] ✓" in out
    assert "a 35x42 RoI is max-pooled with windows: slide: [5, 6] — scratchnet: [5, 6] ✓" in out
    assert out.count("to an output feature map of: slide: [7, 7] — scratchnet: [7, 7] ✓") == 2
    assert "(84 h / 9.5 h): slide: 8.8 — scratchnet: 8.8 ✓" in out
    assert "(47 s / 0.32 s): slide: 146 — scratchnet: 146.9 ✓" in out
    assert "(slide: 146x)" in out and "(slide: 8.8x)" in out
    assert (tmp_path / "fast_rcnn_detections.png").stat().st_size > 0
