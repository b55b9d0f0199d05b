"""Every lesson runs end to end in fast mode: its slide checks pass and it exits cleanly."""
import glob
import os
import subprocess
import sys

import pytest

LESSONS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "lessons",
                                        "[0-9][0-9]_*.py")))


@pytest.mark.parametrize("path", LESSONS, ids=[os.path.basename(p)[:-3] for p in LESSONS])
def test_lesson_runs_in_fast_mode(path, tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path))
    out = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(path), timeout=300)
    assert out.returncode == 0, f"{os.path.basename(path)} failed:\n{out.stdout[-3000:]}\n" \
                                f"{out.stderr[-3000:]}"
    # every slide figure a lesson checks printed ✓ (a wrong slide is shown with its
    # correction, which itself must be ✓)
    for line in out.stdout.splitlines():
        if "scratchnet:" in line and "slide:" in line:
            assert line.rstrip().endswith("✓"), line


def test_there_are_at_least_twelve_lessons():
    assert len(LESSONS) >= 12, [os.path.basename(p) for p in LESSONS]
