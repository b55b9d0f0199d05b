"""Every lesson runs end to end in fast mode, in both languages: in English as a plain script
(`python lessons/NN.py`), in Korean cell by cell through `scratchnet lessons run --lang ko`;
its slide checks pass and it exits cleanly."""
import glob
import os
import subprocess
import sys

import pytest

LESSONS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "lessons",
                                        "[0-9][0-9]_*.py")))


SLIDE = {"en": "slide:", "ko": "슬라이드:"}


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("path", LESSONS, ids=[os.path.basename(p)[:-3] for p in LESSONS])
def test_lesson_runs_in_fast_mode(path, language, tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path), SCRATCHNET_LANG=language)
    if language == "en":
        command = [sys.executable, path]
    else:
        command = [sys.executable, "-m", "scratchnet.cli", "lessons", "run",
                   os.path.basename(path)[:-3], "--lang", language, "--fast"]
    out = subprocess.run(command, env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(path), timeout=300)
    assert out.returncode == 0, f"{os.path.basename(path)} failed:\n{out.stdout[-3000:]}\n" \
                                f"{out.stderr[-3000:]}"
    # every slide figure a lesson checks printed ✓ (a wrong slide is shown with its
    # correction, which itself must be ✓), in the lesson's language
    checks = [line for line in out.stdout.splitlines() if " — scratchnet: " in line]
    assert checks and all(SLIDE[language] in line for line in checks), checks[:3]
    for line in checks:
        if "✗ —" not in line:
            assert line.rstrip().endswith("✓"), line


def test_there_are_at_least_twelve_lessons():
    assert len(LESSONS) >= 12, [os.path.basename(p) for p in LESSONS]
