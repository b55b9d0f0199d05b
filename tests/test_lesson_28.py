"""Lesson 28 (instance segmentation): a fast-mode run in Korean whose slide checks pass and
whose figures are written, and the hand-worked numbers its prose states (the RoI pooling bins
and the x each RoI layer reads on one RoI). (tests/test_lessons.py runs it in both languages,
tests/test_lessons_bilingual.py checks its cell pairs and glossary terms.)"""
from tests.helpers import run_lesson_fast

FIGURES = ["semantic_vs_instance.png", "mask_targets.png", "roi_pool_vs_align.png",
           "roi_shift.png", "mask_through_roi_layers.png", "mask_rcnn_predictions.png",
           "mask_ap.png"]


def test_lesson_28_runs_fast_in_korean_checks_the_decks_and_writes_its_figures(tmp_path):
    r = run_lesson_fast("28_instance_segmentation", "ko", tmp_path, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = r.stdout
    assert "✗" not in out
    for line in ("deck 003, Semantic Labels: 레이블 표의 행 x 열: 슬라이드: (12, 19) — "
                 "scratchnet: (12, 19) ✓",
                 "deck 003, Semantic Labels: 범례의 범주 수: 슬라이드: 5 — scratchnet: 5 ✓",
                 "deck 000, Instance Segmentation 'DOG, DOG, CAT': 마스크 수: 슬라이드: 3 — "
                 "scratchnet: 3 ✓",
                 "deck 002: 마스크 가지의 완전결합층 수 (완전 합성곱 신경망): 슬라이드: 0 — "
                 "scratchnet: 0 ✓",
                 "deck 000: RoI 21x14 -> 7x7, RoI 풀링 칸 (행, 열): 슬라이드: [3, 2] — "
                 "scratchnet: [3, 2] ✓",
                 "deck 000: RoI 21x14 -> 7x7, RoIAlign 칸 (행, 열): 슬라이드: [3, 2] — "
                 "scratchnet: [3.0, 2.0] ✓"):
        assert line in out, line
    # the box (10, 6, 37, 33) at stride 4, worked by hand in the lesson's prose
    assert "rows [(2, 6), (5, 9)], columns [(3, 7), (6, 10)]" in out
    assert "RoI pooling (max)        reads x = [26. 38.]" in out
    assert "RoIAlign, aligned=False  reads x = [18.75 32.25]" in out
    assert "RoIAlign, aligned=True   reads x = [16.75 30.25]" in out
    assert "from -0.50 to +3.25 pixels" in out
    # the mask branch of the paper's width: 4 convs, deconv, 1x1 conv, counted by hand
    assert "mask branch 2,183,179 parameters" in out
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure
