"""Lesson 27 (inside a CNN): a fast-mode run in Korean whose slide checks all pass and whose
figures are written, and the facts its prose relies on (the worked deconvnet example, the
deck's numbers, the one line said when AlexNet's ImageNet weights are absent).

(tests/test_lessons.py and tests/test_lessons_bilingual.py run every lesson in both
languages and check the cell pairs and the glossary; this file adds what lesson 27 announces.)"""

from tests.helpers import run_lesson_fast

FIGURES = ["lenet5_filters_and_maps.png", "deconvnet_projections.png", "deconvnet_top9.png",
           "saliency_and_gradcam.png"]


def _run(tmp_path, language):
    return run_lesson_fast("27_inside_a_cnn", language, tmp_path)


def test_lesson_27_runs_fast_checks_the_decks_and_writes_its_figures(tmp_path):
    r = _run(tmp_path, "en")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = r.stdout
    assert "✗" not in out
    for line in ("deck 004: 6 filters -> activation maps per image: slide: 6 — scratchnet: 6 ✓",
                 "deck 004: 2 images -> sets of 6 maps: slide: 2 — scratchnet: 2 ✓",
                 "deck 004: AlexNet first-layer filters: slide: 64 — scratchnet: 64 ✓",
                 "deck 004: each filter: slide: (3, 11, 11) — scratchnet: (3, 11, 11) ✓",
                 "[14, 28, 28, 56, 56, 112, 112, 224, 224] ✓",
                 "deck 004: ZFNet layers: slide: 8 — scratchnet: 8 ✓"):
        assert line in out, line
    # the hand-worked deconvnet example: 4 * [[1, 2], [3, 4]] at rows 1-2, columns 2-3
    assert " [ 0  0  4  8  0]\n [ 0  0 12 16  0]" in out
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 0, figure
    weights_lines = [ln for ln in out.splitlines() if "ImageNet weights for AlexNet" in ln]
    if not (tmp_path / "alexnet_filters.png").exists():
        assert len(weights_lines) == 1 and weights_lines[0].startswith("no ImageNet weights")
