"""Lessons 17 (face verification) and 18 (GANs) in fast mode: every slide check passes, the
figures they announce are written, and lesson 17 says plainly that its identities are digit
classes. (tests/test_lessons.py runs them in both languages; tests/test_lessons_bilingual.py
checks their cell pairs and glossary terms.)"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)
LESSONS = os.path.join(HERE, "..", "lessons")


def _run(name, tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", SCRATCHNET_LANG="en",
               SCRATCHNET_LESSON_OUT=str(tmp_path), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, os.path.join(LESSONS, name)], capture_output=True,
                         text=True, env=env, cwd=LESSONS, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize("name, n_checks, figures", [
    ("17_face_verification.py", 7, ["17_roc_embedding.png"]),
    ("18_gans.py", 3, ["18_samples.png", "18_class_histograms.png"]),
])
def test_lesson_checks_pass(name, n_checks, figures, tmp_path):
    text = _run(name, tmp_path)
    checks = [line for line in text.splitlines() if " — scratchnet: " in line]
    assert len(checks) == n_checks and all(line.endswith("✓") for line in checks), checks
    for fig in figures:
        assert f"{fig}" in text


def test_lesson_17_says_identities_are_digit_classes():
    src = open(os.path.join(LESSONS, "17_face_verification.py"), encoding="utf-8").read()
    assert "no identity-labelled face set ships" in src and "digit classes" in src
    assert "이름표가 붙은 얼굴 데이터가 없습니다" in src
