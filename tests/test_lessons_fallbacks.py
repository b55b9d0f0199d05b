"""Lessons 01-06 keep their promises beyond "runs in fast mode" (tests/test_lessons.py):

- without scikit-image, scikit-learn or SciPy they still run, on generated stand-ins, and every
  slide check still passes (the photos and digits are optional extras, not requirements);
- they are in the percent format (`# %%` cells) that jupytext and VS Code open as notebooks,
  and `scratchnet lessons list` shows their title.
"""
import glob
import os
import re
import subprocess
import sys

import pytest

from scratchnet.cli import _first_doc_line

LESSONS_DIR = os.path.join(os.path.dirname(__file__), "..", "lessons")
LESSONS = sorted(glob.glob(os.path.join(LESSONS_DIR, "0[1-6]_*.py")))
OPTIONAL = ("skimage", "sklearn", "scipy")
IDS = [os.path.basename(p)[:-3] for p in LESSONS]


def _uses_optional(path):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    return any(s in src for s in ("from skimage", "digits(", "from scipy"))


@pytest.fixture
def hidden_packages(tmp_path):
    """A folder that, put first on PYTHONPATH, makes importing the optional packages fail."""
    root = tmp_path / "hidden"
    for name in OPTIONAL:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(
            f"raise ImportError('{name} is hidden for this test')\n")
    return str(root)


@pytest.mark.parametrize("path", [p for p in LESSONS if _uses_optional(p)],
                         ids=[i for p, i in zip(LESSONS, IDS) if _uses_optional(p)])
def test_lesson_runs_without_optional_packages(path, hidden_packages, tmp_path):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path / "out"),
               PYTHONPATH=os.pathsep.join([hidden_packages, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(path), timeout=300)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    with open(path, encoding="utf-8") as f:
        src = f.read()
    if "from skimage" in src or "photo(" in src or "digits(" in src:
        # the stand-in was really used, not the real data
        assert "is not installed" in out.stdout
    for line in out.stdout.splitlines():
        if "scratchnet:" in line and "slide:" in line:
            assert line.rstrip().endswith("✓"), line
    # every figure the lesson announced was written, as a PNG
    announced = [ln for ln in out.stdout.splitlines() if ln.startswith("figure: ")]
    written = sorted((tmp_path / "out").glob("*.png"))
    assert announced and len(written) == len(announced)
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_is_a_percent_format_notebook(path):
    assert re.fullmatch(r"0[1-6]_[a-z0-9_]+\.py", os.path.basename(path))
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0] == '# %% [markdown] lang="ko"', "a lesson opens with a Korean markdown cell"
    assert lines[1].startswith("# # "), "whose first line is the title"
    # in a markdown cell every non-blank line is a comment, or the script would not run and
    # the notebook would show code as text
    in_markdown = False
    for n, line in enumerate(lines, 1):
        if line.startswith("# %%"):
            in_markdown = line.startswith("# %% [markdown]")
        elif in_markdown and line.strip():
            assert line.startswith("#"), f"line {n} in a markdown cell is not a comment"
    code_cells = sum(1 for line in lines if line.strip() == "# %%")
    assert code_cells >= 3
    src = "\n".join(lines)
    # the header names the deck(s) it follows by title and number, e.g. "CNN 기초 (deck 004)",
    # and slide numbers are checked
    assert re.search(r"header\(\"[^\"]+ \(deck 00[0-4]\)", src)
    assert "header(" in src and "check(" in src


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lessons_list_shows_the_title(path):
    with open(path, encoding="utf-8") as f:
        title = f.read().splitlines()[1][len("# # "):]
    # the listing is the CLI's business; what a lesson owes it is a first line with the title
    assert title in _first_doc_line(path)


def test_the_six_lessons_exist():
    assert [os.path.basename(p).split("_")[0] for p in LESSONS] == \
        ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_jupytext_opens_the_lesson_as_a_notebook(path):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and nb.cells[0].source.startswith("# ")
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3
    # a stray or doubled `# %%` marker would leave an empty code cell
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.source.strip(), "an empty code cell"
