"""Lesson 22 (Fast R-CNN): a fast-mode run in English whose slide checks all pass, with the
deck's two RoI pooling examples and both speed-up figures checked, our measured ratios shown
next to them, and the detections figure written."""
import os
import subprocess
import sys

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..")


def test_fast_rcnn_lesson_checks_the_deck(tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg", SCRATCHNET_LANG="en",
               SCRATCHNET_LESSON_OUT=str(tmp_path), PYTHONPATH=os.path.abspath(ROOT))
    path = os.path.join(ROOT, "lessons", "22_fast_rcnn.py")
    r = subprocess.run([sys.executable, "-m", "scratchnet.lesson", path, "--lang", "en"],
                       env=env, cwd=os.path.dirname(path), capture_output=True, text=True,
                       timeout=600)
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
