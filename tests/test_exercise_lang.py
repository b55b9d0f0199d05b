"""Exercises read in Korean and English: every hint, every template docstring, the list and
the report (`--lang ko|en`, default from scratchnet.lesson.lang())."""
import ast
import re

import pytest

from scratchnet import exercises as E
from scratchnet.exercises.specs import template_path
from scratchnet.exercises.text import Text
from tests.test_exercises import student

HANGUL = re.compile("[\uac00-\ud7a3]")


def all_texts(ex):
    """Every message an exercise can print as a hint, with where it comes from."""
    out = [(f"hint {h.key}", h.text) for h in ex.hints]
    out += [(f"mistake d{g}", t) for g, variants in ex.mistakes.items() for _, t in variants]
    out += [(f"shape hint d{g}", t) for (g, _), t in ex.shape_hints.items()]
    return out


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_every_hint_has_both_languages(name):
    ex = E.EXERCISES[name]
    texts = all_texts(ex)
    assert len(texts) >= 3
    for where, t in texts:
        assert isinstance(t, Text), f"{name} {where} is not bilingual: {t!r}"
        assert t.en.strip() and not HANGUL.search(t.en), f"{name} {where}: English {t.en!r}"
        assert HANGUL.search(t.ko), f"{name} {where}: no Korean in {t.ko!r}"
    assert HANGUL.search(ex.title_ko) and ex.title and ex.deck


@pytest.mark.parametrize("name", sorted(E.EXERCISES))
def test_every_template_docstring_has_both_languages(name):
    with open(template_path(name), encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    en, _, ko = doc.partition("연습 문제:")
    assert en.startswith("Exercise:") and not HANGUL.search(en), en
    assert HANGUL.search(ko) and "`backward`" in ko
    assert f"scratchnet exercise check {name} --lang ko" in ko


def test_report_in_korean_and_in_english():
    def no_mask(dout, x):
        return dout.copy()
    ko = str(E.check("relu", module=student("relu", no_mask), lang="ko"))
    en = str(E.check("relu", module=student("relu", no_mask), lang="en"))
    assert "아직 아님" in ko and "힌트 (dx)" in ko and "x > 0인 곳에서는 맞고" in ko
    assert "NOT YET" in en and "hint (dx)" in en and not HANGUL.search(en)


def test_language_defaults_to_the_lesson_language(monkeypatch):
    monkeypatch.setenv("SCRATCHNET_LANG", "ko")
    report = E.check("relu", module=student("relu", lambda d, x: d * (x > 0)))
    assert "통과" in str(report)
    monkeypatch.setenv("SCRATCHNET_LANG", "en")
    report = E.check("relu", module=student("relu", lambda d, x: d * (x > 0)))
    assert "PASSED" in str(report)


def test_named_failure_in_korean_from_the_command_line(tmp_path, capsys):
    from scratchnet import cli
    path = tmp_path / "relu.py"
    path.write_text("import sys\nsys.exit(3)\n")
    rc = cli.main(["exercise", "check", "relu", "--file", str(path), "--lang", "ko"])
    out = capsys.readouterr().out
    assert rc == 1 and "sys.exit(3)를 호출했습니다" in out and "위의 오류부터 고치세요" in out


def test_list_is_grouped_by_deck_in_both_languages(capsys):
    from scratchnet import cli
    assert cli.main(["exercise", "list", "--lang", "ko"]) == 0
    ko = capsys.readouterr().out
    assert cli.main(["exercise", "list", "--lang", "en"]) == 0
    en = capsys.readouterr().out
    for out in (ko, en):
        lines = out.splitlines()
        decks = [ln for ln in lines if not ln.startswith(" ")]
        assert len(decks) == len(set(decks)), "each deck is listed once"
        assert all(re.search(r"\(deck 00\d\)$", d) for d in decks)
        assert sum(ln.startswith("  ") for ln in lines) == len(E.EXERCISES)
    assert "최대 풀링" in ko and "Max pooling" in en


def test_readme_lists_every_exercise_under_its_deck():
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Gradient-check exercises"):text.index("## Models")]
    rows = {ln.split("|")[1].strip(): ln.split("|")[2] for ln in section.splitlines()
            if ln.startswith("| ") and "(deck" in ln}
    for name, ex in E.EXERCISES.items():
        deck_number = ex.deck[ex.deck.index("(deck"):]
        row = next(v for k, v in rows.items() if k.endswith(deck_number))
        assert f"`{name}`" in row, f"{name} is not listed under {ex.deck} in the README"
