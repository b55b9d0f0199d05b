"""Every lesson speaks Korean and English in one file (see the lesson format in the README):

- each markdown cell is a pair, a `lang="ko"` cell immediately followed by its `lang="en"`
  cell; a cell in one language only, an English cell before its Korean one, or a pair split by
  a code cell is an error;
- every glossary term a lesson marks in Korean, `**한국어** (English)`, has a row in
  lessons/GLOSSARY.md;
- no lesson points to the course decks' files (users do not have them): decks are named by
  title and number;
- `scratchnet lessons run --lang ko` prints the Korean narration between the cells' output and
  the Korean check line; `scratchnet lessons notebook` keeps one language.
"""
import glob
import json
import os
import re
import subprocess
import sys
import unicodedata

import pytest

from scratchnet.lesson import cells, narration

ROOT = os.path.join(os.path.dirname(__file__), "..")
LESSONS_DIR = os.path.join(ROOT, "lessons")
LESSONS = sorted(glob.glob(os.path.join(LESSONS_DIR, "[0-9][0-9]_*.py")))
IDS = [os.path.basename(p)[:-3] for p in LESSONS]
GLOSSARY = os.path.join(LESSONS_DIR, "GLOSSARY.md")
MARK = re.compile(r"\*\*([^*\n]+)\*\* \(([^()\n]+)\)")
DECK_FILE = re.compile(r"seeds/|00[0-9]_[0-9a-f]{16}(\.txt)?")


def hangul(text):
    return any(unicodedata.name(c, "").startswith("HANGUL") for c in text)


def pairing_problems(path):
    """What breaks the Korean-then-English pairing of a lesson's markdown cells."""
    problems, waiting = [], None          # waiting: a Korean cell whose English is due next
    for cell in cells(path):
        where = f"line {cell.line - 1}"
        if cell.kind == "code":
            if waiting:
                problems.append(f"the Korean cell at {waiting} is not followed by its English "
                                f"cell (a code cell comes first)")
                waiting = None
            continue
        if cell.lang == "ko":
            if waiting:
                problems.append(f"the Korean cell at {waiting} has no English cell")
            if not hangul(cell.source):
                problems.append(f"the Korean cell at {where} holds no Korean")
            waiting = where
        elif cell.lang == "en":
            if not waiting:
                problems.append(f"the English cell at {where} has no Korean cell before it")
            waiting = None
        else:
            problems.append(f"the markdown cell at {where} has no lang=\"ko\"/\"en\" metadata")
    if waiting:
        problems.append(f"the Korean cell at {waiting} has no English cell")
    return problems


def glossary_rows():
    with open(GLOSSARY, encoding="utf-8") as f:
        lines = f.read().splitlines()
    head = lines.index("| 한국어 | English | decks |")
    rows = []
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        rows.append(tuple(part.strip() for part in line.strip().strip("|").split("|")))
    return rows


def write_lesson(tmp_path, text):
    path = tmp_path / "99_example.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = '''# %% [markdown] lang="ko"
# # 풀링
#
# **최대 풀링** (max pooling)은 가장 큰 값을 남긴다.

# %% [markdown] lang="en"
# # Pooling
#
# Max pooling keeps the largest value.

# %%
print("output of the first cell")

# %% [markdown] lang="ko"
# ## 두 번째

# %% [markdown] lang="en"
# ## Second

# %%
from scratchnet.lesson import check
check("four", 4, 2 + 2, ko="넷")
'''


def test_a_well_formed_lesson_has_no_pairing_problem(tmp_path):
    assert pairing_problems(write_lesson(tmp_path, GOOD)) == []


@pytest.mark.parametrize("broken, expected", [
    # the English half of the second pair is missing
    (GOOD.replace('# %% [markdown] lang="en"\n# ## Second\n\n', ""), "English cell"),
    # the Korean half of the first pair is missing
    (GOOD.split("\n\n", 1)[1],
     "has no Korean cell before it"),
    # English before Korean
    (GOOD.replace('# %% [markdown] lang="ko"\n# ## 두 번째\n\n# %% [markdown] lang="en"\n'
                  '# ## Second',
                  '# %% [markdown] lang="en"\n# ## Second\n\n# %% [markdown] lang="ko"\n'
                  '# ## 두 번째'), "has no Korean cell before it"),
    # a pair split by a code cell
    (GOOD.replace('# 두 번째\n\n# %% [markdown] lang="en"',
                  '# 두 번째\n\n# %%\nx = 1\n\n# %% [markdown] lang="en"'),
     "a code cell comes first"),
    # a markdown cell with no language
    (GOOD.replace('# %% [markdown] lang="ko"\n# ## 두 번째',
                  '# %% [markdown]\n# ## 두 번째'), "no lang="),
    # a "Korean" cell written in English
    (GOOD.replace("# ## 두 번째", "# ## Second"), "holds no Korean"),
], ids=["english-missing", "korean-missing", "english-first", "split-by-code", "no-lang",
        "korean-in-english"])
def test_a_broken_pairing_is_found(tmp_path, broken, expected):
    problems = pairing_problems(write_lesson(tmp_path, broken))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_every_markdown_cell_is_a_korean_english_pair(path):
    assert pairing_problems(path) == []


def test_the_glossary_is_a_table_of_korean_english_and_decks():
    rows = glossary_rows()
    assert rows, "lessons/GLOSSARY.md has no rows"
    for ko, en, decks in rows:
        assert hangul(ko) and en and not hangul(en), (ko, en)
        # decks by number, e.g. "000, 003", or "—" when no deck uses the Korean word
        assert re.fullmatch(r"00[0-4](, 00[0-4])*|—", decks), (ko, decks)
    assert len({(ko, en) for ko, en, _ in rows}) == len(rows), "a doubled row"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_every_marked_term_is_in_the_glossary(path):
    known = {(ko, en) for ko, en, _ in glossary_rows()}
    marked = set()
    for cell in cells(path):
        if cell.kind == "markdown" and cell.lang == "ko":
            marked |= set(MARK.findall(re.sub(r"\s*\n\s*", " ", cell.source)))
    missing = sorted(marked - known)
    assert not missing, f"marked in {os.path.basename(path)} but not in GLOSSARY.md: {missing}"


def test_the_glossary_check_finds_a_missing_term(tmp_path):
    path = write_lesson(tmp_path, GOOD.replace("**최대 풀링** (max pooling)",
                                               "**없는 용어** (no such term)"))
    known = {(ko, en) for ko, en, _ in glossary_rows()}
    marked = set(MARK.findall(cells(path)[0].source))
    assert marked == {("없는 용어", "no such term")} and not marked & known


@pytest.mark.parametrize("path", LESSONS + [os.path.join(ROOT, "README.md"), GLOSSARY],
                         ids=IDS + ["README", "GLOSSARY"])
def test_decks_are_named_by_title_and_number_not_by_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = [m.group(0) for m in DECK_FILE.finditer(text)]
    assert not found, f"{os.path.basename(path)} points to the decks' files: {found}"


def _run(args, tmp_path, **env):
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg",
               SCRATCHNET_LESSON_OUT=str(tmp_path / "out"), **env)
    return subprocess.run([sys.executable, "-m", "scratchnet.cli", *args], env=env,
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300)


def test_lessons_run_speaks_korean_between_the_outputs(tmp_path):
    path = LESSONS[0]
    out = _run(["lessons", "run", os.path.basename(path)[:2], "--lang", "ko", "--fast"],
               tmp_path, SCRATCHNET_LANG="en")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    markdown = [c for c in cells(path) if c.kind == "markdown"]
    ko_titles = [narration(c.source).splitlines()[0] for c in markdown if c.lang == "ko"]
    en_titles = [narration(c.source).splitlines()[0] for c in markdown if c.lang == "en"]
    # every Korean cell is printed, as plain text (no '#', no '**'), and no English one
    for title in ko_titles:
        assert title in lines, title
    for title in en_titles:
        assert title not in lines, title
    assert not any(ln.startswith("#") or "**" in ln for ln in lines)
    # the check lines are Korean
    checks = [ln for ln in lines if "scratchnet:" in ln]
    assert checks and all(re.fullmatch(r".+: 슬라이드: .+ — scratchnet: .+ ✓", ln)
                          for ln in checks), checks
    # narration comes between outputs: the second Korean heading is printed after the first
    # check line, which is printed after the first heading
    first_check = lines.index(checks[0])
    assert lines.index(ko_titles[0]) < first_check < lines.index(ko_titles[-1])


def test_lessons_run_in_english(tmp_path):
    path = LESSONS[0]
    out = _run(["lessons", "run", os.path.basename(path)[:-3], "--lang", "en", "--fast"],
               tmp_path, SCRATCHNET_LANG="ko")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    markdown = [c for c in cells(path) if c.kind == "markdown"]
    assert narration(markdown[1].source).splitlines()[0] in out.stdout.splitlines()
    assert "슬라이드:" not in out.stdout and "slide:" in out.stdout
    assert not any(hangul(narration(c.source)) and narration(c.source) in out.stdout
                   for c in markdown if c.lang == "ko")


def test_the_language_defaults_to_the_locale(tmp_path):
    env = {"SCRATCHNET_LANG": "", "LC_ALL": "ko_KR.UTF-8"}
    out = _run(["lessons", "list"], tmp_path, **env)
    first_title = narration(cells(LESSONS[0])[0].source).splitlines()[0]
    assert out.returncode == 0 and first_title in out.stdout and hangul(first_title)


def test_a_failing_cell_fails_the_run_and_names_the_lesson_line(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01_broken.py").write_text(
        GOOD.replace('check("four", 4, 2 + 2, ko="넷")', 'check("four", 5, 2 + 2, ko="넷")'),
        encoding="utf-8")
    out = _run(["lessons", "run", "01", "--lang", "ko"], tmp_path,
               SCRATCHNET_LESSONS=str(lessons))
    assert out.returncode == 1
    assert "넷: 슬라이드: 5 — scratchnet: 4 ✗" in out.stdout
    line = GOOD.splitlines().index('check("four", 4, 2 + 2, ko="넷")') + 1
    assert f'01_broken.py", line {line}' in out.stderr and "SlideMismatch" in out.stderr
    # the narration before the failing cell was printed, in Korean only
    assert "두 번째" in out.stdout and "Second" not in out.stdout


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_notebook_holds_one_language(tmp_path, language):
    pytest.importorskip("jupytext")
    path = LESSONS[0]
    target = tmp_path / "lesson.ipynb"
    out = _run(["lessons", "notebook", os.path.basename(path)[:2], "--lang", language,
                "--out", str(target)], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    nb = json.loads(target.read_text(encoding="utf-8"))
    got_md = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    got_code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    lesson = cells(path)
    assert got_md == [c.source for c in lesson if c.kind == "markdown" and c.lang == language]
    assert got_code == [c.source for c in lesson if c.kind == "code"]
    assert all(hangul(s) for s in got_md) if language == "ko" else \
        not any(hangul(s.splitlines()[0]) for s in got_md)


@pytest.mark.parametrize("language, expected", [
    ("en", ["Pooling — follows CNN 기초 (deck 004): 풀링층의 이해",
            "fc6 weights: slide: 177,209,344 ✗ — 13x13 instead of 6x6",
            "fc6 weights (corrected): slide: 37,748,736 — scratchnet: 37,748,736 ✓"]),
    ("ko", ["풀링 — CNN 기초 (deck 004)의 슬라이드: 풀링층의 이해",
            "fc6 가중치: 슬라이드: 177,209,344 ✗ — 6x6 대신 13x13",
            "fc6 가중치 (정정): 슬라이드: 37,748,736 — scratchnet: 37,748,736 ✓"]),
])
def test_header_and_slide_is_wrong_speak_the_lesson_language(monkeypatch, capsys, language,
                                                              expected):
    from scratchnet.lesson import SlideMismatch, header, slide_is_wrong

    monkeypatch.setenv("SCRATCHNET_LANG", language)
    header("CNN 기초 (deck 004)", "풀링층의 이해", "Pooling", ko="풀링")
    # AlexNet's fc6 as the blog post computes it (13x13x128x2 inputs, 2x2048 outputs) and
    # as it is (6x6x256 inputs, 4096 outputs)
    slide_is_wrong("fc6 weights", 177_209_344, 13 * 13 * 128 * 2 * 2048 * 2, 37_748_736,
                   6 * 6 * 256 * 4096, "13x13 instead of 6x6", ko="fc6 가중치",
                   why_ko="6x6 대신 13x13")
    lines = capsys.readouterr().out.splitlines()
    assert [lines[0], lines[2], lines[3]] == expected
    assert set(lines[1]) == {"-"}
    # without the Korean words, Korean output falls back to the English ones
    slide_is_wrong("fc6 weights", 1, 1, 2, 2, "why")
    out = capsys.readouterr().out
    assert ("fc6 weights: 슬라이드: 1 ✗ — why" in out) == (language == "ko")
    with pytest.raises(SlideMismatch):
        slide_is_wrong("fc6 weights", 1, 1, 2, 3, "why", ko="fc6 가중치")
