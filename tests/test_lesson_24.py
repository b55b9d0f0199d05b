"""Lesson 24 (YOLO v1): a fast-mode run in Korean whose slide checks pass and whose figures
are written. (tests/test_lessons.py runs it in both languages as well.)"""
import os
import subprocess
import sys

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..")
FIGURES = ["yolo_grid.png", "yolo_detections.png", "speed_accuracy.png"]


def test_lesson_24_runs_fast_in_korean_and_writes_its_figures(tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg", SCRATCHNET_LANG="ko",
               SCRATCHNET_LESSON_OUT=str(tmp_path), PYTHONPATH=os.path.abspath(ROOT))
    path = os.path.join(ROOT, "lessons", "24_yolo_v1.py")
    r = subprocess.run([sys.executable, "-m", "scratchnet.lesson", path, "--lang", "ko"],
                       env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "✗" not in r.stdout and "슬라이드: (7, 7, 30)" in r.stdout
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure
