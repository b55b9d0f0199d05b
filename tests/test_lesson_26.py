"""Lesson 26 (style transfer) in fast mode: every slide check passes, its three figures are
written, and it says plainly which features it used (random VGG-19 weights offline).
(tests/test_lessons.py runs it in both languages; tests/test_lessons_bilingual.py checks its
cell pairs and glossary terms.)"""
import os
import subprocess
import sys

HERE = os.path.dirname(__file__)
LESSONS = os.path.join(HERE, "..", "lessons")
NAME = "26_style_transfer.py"


def test_lesson_26_checks_and_figures(tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", SCRATCHNET_LANG="en",
               SCRATCHNET_LESSON_OUT=str(tmp_path), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, os.path.join(LESSONS, NAME)], capture_output=True,
                         text=True, env=env, cwd=LESSONS, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    checks = [line for line in out.stdout.splitlines() if " — scratchnet: " in line]
    assert len(checks) == 10 and all(line.endswith("✓") for line in checks), checks
    for fig in ("26_alpha_beta_strip.png", "26_lbfgs_vs_adam.png",
                "26_random_vs_pretrained.png"):
        assert (tmp_path / fig).exists(), fig
    # which features: one line either way, never a random model passed off as pretrained
    said = [line for line in out.stdout.splitlines() if line.startswith("features: ")]
    assert len(said) == 1
    if "random weights" in said[0]:
        assert "only random VGG-19 features are shown" in out.stdout


def test_lesson_26_states_the_random_weights_paper_in_both_languages():
    import re
    src = open(os.path.join(LESSONS, NAME), encoding="utf-8").read()
    src = re.sub(r"\n# ?", " ", src)        # markdown cells wrap their lines in comments
    title = "A Powerful Generative Model Using Random Weights for the Deep Image Representation"
    assert src.count(title) == 2 and "He, Wang and Hopcroft" in src
    assert "무작위 가중치" in src and "He, Wang, Hopcroft" in src
