"""Lesson 24 (YOLO v1): a fast-mode run in Korean whose slide checks pass and whose figures
are written. (tests/test_lessons.py runs it in both languages as well.)"""
from tests.helpers import run_lesson_fast

FIGURES = ["yolo_grid.png", "yolo_detections.png", "speed_accuracy.png"]


def test_lesson_24_runs_fast_in_korean_and_writes_its_figures(tmp_path):
    r = run_lesson_fast("24_yolo_v1", "ko", tmp_path, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "✗" not in r.stdout and "슬라이드: (7, 7, 30)" in r.stdout
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure
