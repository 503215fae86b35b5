"""The Chinese teacher's guide (zh/chapters/teachers_guide.ipynb): made by book/teachers_guide.py in
the words of i18n/zh_CN/book/teachers_guide.po (book/i18n.py generate writes it), never by hand.

It checks that:
- the committed Chinese guide is what the generator makes now (test_chinese_edition checks the whole
  of zh/; here the guide alone, and its catalog complete, so a failure names the guide);
- every number of the English guide is in the Chinese one, its questions are the Chinese chapters'
  notes' (向全班提问：), and no fixed English sentence of the generator is left in it;
- a new measurement (notebook times, grading minutes) changes no catalog entry and shows in the
  Chinese guide; an edited English sentence (template, teaching.yml or the generator's words) is
  a catalog entry to translate again, and the Chinese guide is refused until it is;
- the mistakes table's fixed words are translated line by line, and a line of unknown form is refused.
"""
from __future__ import annotations

import collections
import json
import re
import shutil
from pathlib import Path

import pytest

from book import i18n
from book import teachers_guide as guide

REPO = Path(__file__).resolve().parents[1]
ZH_GUIDE = REPO / i18n.zh_path(i18n.GUIDE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def chinese_chapters(root: Path = REPO) -> dict[str, dict]:
    from book import build
    return {p.stem: guide.read(root / i18n.ZH / p.relative_to(root)) for p in build.chapter_notebooks(root)}


def guide_words(root: Path = REPO) -> dict[Path, dict]:
    return {i18n.GUIDE_CATALOG: i18n.translations(i18n.GUIDE_CATALOG, guide.english_words(root))}


def render_chinese(root: Path = REPO) -> str:
    return guide.guide_text(json.loads(guide.render_chinese(
        i18n.words(guide_words(root), i18n.GUIDE_CATALOG), chinese_chapters(root), root)))


@pytest.fixture(scope="module")
def chinese() -> str:
    assert ZH_GUIDE.is_file(), f"{ZH_GUIDE.relative_to(REPO)} is missing: run python book/i18n.py generate"
    return guide.guide_text(guide.read(ZH_GUIDE))


def test_the_guides_catalog_is_complete_and_current():
    problems = i18n.catalog_problems(i18n.GUIDE_CATALOG, guide.english_words())
    assert not problems, "i18n/zh_CN/book/teachers_guide.po:\n  " + "\n  ".join(problems)


def test_the_committed_chinese_guide_is_what_the_generator_makes_now(chinese):
    made = guide.render_chinese(i18n.words(guide_words(), i18n.GUIDE_CATALOG), chinese_chapters(), REPO)
    assert ZH_GUIDE.read_text(encoding="utf-8") == made, \
        "zh/chapters/teachers_guide.ipynb is out of date: run python book/i18n.py generate"


def test_every_number_of_the_english_guide_is_in_the_chinese_one(chinese):
    english = guide.guide_text(guide.read(guide.GUIDE))
    # the questions come from each edition's notes, which say numbers their own way (11 million, 11×10⁶)
    def numbers(text: str) -> collections.Counter:
        text = re.sub(r"^\d\. .*$", "", text, flags=re.M)
        return collections.Counter(NUMBER.findall(text))
    missing = numbers(english) - numbers(chinese)
    assert not missing, f"numbers of the English guide the Chinese one lacks: {sorted(missing.elements())[:40]}"
    assert re.search(r"[\u4e00-\u9fff]", chinese.split("\n", 1)[0]), "the title is not Chinese"


def test_no_fixed_english_sentence_is_left(chinese):
    """The generator's words and the template's sentences are all said in Chinese (the checks'
    messages and the mutants' names stay as the checks print them)."""
    for key, text in guide.WORDS.items():
        fixed = max(re.split(r"\{\w+\}", text), key=len).strip(" ;:.(")
        if len(fixed) > 3:
            assert fixed not in chinese, f"WORDS[{key!r}] is in English in the Chinese guide: {fixed!r}"
    for sentence in ("Each chapter is also a slide deck", "A lab without internet", "## Summary"):
        assert sentence not in chinese


def test_the_questions_are_the_chinese_notes(chinese):
    found = re.findall(r"^\d\. (.+)$", chinese, flags=re.M)
    assert len(found) == 2 * len(chinese_chapters())
    for name, nb in chinese_chapters().items():
        asked = guide.questions(nb, guide.ASK["zh"])
        english = guide.questions(guide.read(REPO / "chapters" / f"{name}.ipynb"))
        assert len(asked) == len(english), f"{name}: {len(english)} questions in English, {len(asked)} in Chinese"
        assert asked[0] in found and asked[1] in found, name
    note = {"cells": [{"cell_type": "markdown", "source": "**演讲者备注**。指着x。向全班提问：为什么？",
                       "metadata": {"slideshow": {"slide_type": "notes"}}}]}
    assert guide.questions(note, guide.ASK["zh"]) == ["为什么？"]
    assert "1. use_1x1conv" in chinese, "a question that starts with a name keeps its case"


def test_a_new_measurement_changes_no_entry_and_shows_in_the_chinese_guide(tmp_path, monkeypatch):
    """New notebook times and new grading minutes: the same catalog, new numbers."""
    table = json.loads(guide.BENCHMARK_TABLES["notebook_times"].read_text(encoding="utf-8"))
    for row in table["notebooks"]:
        row["seconds"] = 4321.0
    table["date"] = "2031-01-01"
    times = tmp_path / "notebook_times.json"
    times.write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setitem(guide.BENCHMARK_TABLES, "notebook_times", times)
    grading = tmp_path / "grading_time.jsonl"
    grading.write_text('{"grader": "g", "route": "book", "submissions": 30, "minutes": 99.5, '
                       '"load_before": 0.1, "load_after": 0.2, "cpu": "a CPU", "date": "2031-01-02"}\n',
                       encoding="utf-8")
    monkeypatch.setitem(guide.BENCHMARK_TABLES, "grading_time", grading)
    assert i18n.catalog_problems(i18n.GUIDE_CATALOG, guide.english_words(REPO)) == [], \
        "a new measurement changed the guide's catalog entries"
    text = render_chinese()
    assert "`cpu`配置72.0分钟" in text and "2031-01-01" in text, text[:3000]
    assert "- g，2031-01-02，30份提交，运行前平均负载0.1，运行后0.2：99.5分钟" in text, text


def test_an_edited_english_sentence_is_refused_until_translated(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    for name in ("teachers_guide.md", "teaching.yml", "offline_install.json"):
        shutil.copy2(REPO / "book" / name, root / "book")
    catalogs = tmp_path / "catalogs"
    (catalogs / "book").mkdir(parents=True)
    shutil.copy2(i18n.CATALOGS / i18n.GUIDE_CATALOG, catalogs / i18n.GUIDE_CATALOG)
    assert i18n.catalog_problems(i18n.GUIDE_CATALOG, guide.english_words(root), catalogs) == []
    template = root / "book" / "teachers_guide.md"
    template.write_text(template.read_text(encoding="utf-8").replace(
        "in two ways:", "in two ways, both offline:"), encoding="utf-8")
    yml = root / "book" / "teaching.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("as mini-batches.", "as mini-batches of 256."),
                   encoding="utf-8")
    monkeypatch.setitem(guide.WORDS, "none", "nothing")
    problems = i18n.catalog_problems(i18n.GUIDE_CATALOG, guide.english_words(root), catalogs)
    assert len([p for p in problems if p.startswith("not in the catalog")]) == 3, problems
    assert any("Each chapter is also a slide deck" in p for p in problems if p.startswith("not in"))
    with pytest.raises(i18n.IncompleteError):
        i18n.translations(i18n.GUIDE_CATALOG, guide.english_words(root), catalogs)
    # the edit, merged, is fuzzy: the old Chinese is the translator's hint
    po = i18n.merge(i18n.read_catalog(catalogs / i18n.GUIDE_CATALOG), guide.english_words(root), "guide")
    edited = next(e for e in po if "both offline" in e.msgid)
    assert "fuzzy" in edited.flags and edited.msgstr.startswith("每一章同时也是一套幻灯片")


def test_the_mistakes_table_is_translated_line_by_line():
    part = guide.MISTAKES_RE.search(guide.guide_text(guide.read(guide.GUIDE))).group(0)
    assert guide.translate_mistakes(part, guide.english) == part
    marked = guide.translate_mistakes(part, lambda context, text: "<" + text + ">")
    assert len([ln for ln in marked.splitlines() if ln.startswith("<### [")]) == 2
    assert not [ln for ln in marked.splitlines() if ln.startswith("### ")]
    assert marked.count("<| the check says first") == 2 and marked.count("<Accepted (") == 2
    assert marked.count("<; and ") == part.count("; and ") > 0
    with pytest.raises(guide.GuideError, match="no known form"):
        guide.translate_mistakes(part.replace("| --- | --- | --- |", "A stray line.", 1), guide.english)
