"""The Chinese edition (i18n/README.md, book/i18n.py): its catalogs, its rules, its notebooks.

On the repository's own catalogs and zh/ notebooks:
- every catalog is up to date with its English (an English edit not yet run through `update` fails);
- every entry of every catalog is translated and none is fuzzy (the failure lists, per catalog, the
  entries a translator has to do);
- every translation keeps what the rules keep (code, math, links, markers, numbers, ...) and uses
  the glossary's Chinese term wherever its English uses the English one;
- zh/ is what the generator makes now, and its notebooks' code cells, outputs and metadata are the
  English ones byte for byte (the students' versions' too).
The generator itself is tried on a copy of the sources with every entry "translated" by a fake
translation (the English with a Chinese mark), so that it is proven before the translators finish:
what it writes, what it refuses, how `update` merges, and that editing one English sentence makes
the catalog check fail.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polib
import pytest

from benchmarks import notebook_times as times
from book import i18n
from book.teachers_guide import ASK

REPO = Path(__file__).resolve().parents[1]
SOURCES = i18n.english_sources()
CATALOGS = sorted(SOURCES)
MARK = "译文："   # what the fake translation puts before each block's text


def entries(path: Path) -> list[polib.POEntry]:
    return [e for e in i18n.read_catalog(path) if not e.obsolete]


# --------------------------------------------------------------------------- the real catalogs

def test_catalogs_are_up_to_date_with_the_english():
    stale = i18n.stale_catalogs()
    assert not stale, (f"catalogs behind their English (an English text changed): {[str(p) for p in stale]}; "
                       "run: .venv/bin/python book/i18n.py update, then translate what it marks")


@pytest.mark.parametrize("relative", CATALOGS, ids=str)
def test_every_entry_is_translated_and_none_is_fuzzy(relative):
    problems = i18n.catalog_problems(relative, SOURCES[relative])
    assert not problems, (f"i18n/zh_CN/{relative}: {len(problems)} of {len(SOURCES[relative])} entries "
                          f"to do (i18n/README.md says how):\n  " + "\n  ".join(problems))


@pytest.mark.parametrize("relative", CATALOGS, ids=str)
def test_translations_keep_the_rules_and_the_glossary(relative):
    terms = i18n.glossary()
    where = relative.with_suffix("").as_posix()
    problems = []
    for e in entries(i18n.CATALOGS / relative):
        if e.msgstr and "fuzzy" not in e.flags:
            found = (i18n.structure_problems(e.msgid, e.msgstr)
                     + i18n.glossary_problems(f"{where}#{e.msgctxt}", e.msgid, e.msgstr, terms))
            problems += [f'msgctxt "{e.msgctxt}", msgid "{e.msgid.splitlines()[0][:60]}": {p}' for p in found]
    assert not problems, f"i18n/zh_CN/{relative}:\n  " + "\n  ".join(problems)


def test_the_chinese_notebooks_are_what_the_catalogs_make():
    try:
        problems = i18n.generated_problems()
    except i18n.IncompleteError as e:
        pytest.fail(f"zh/ cannot be generated yet: {str(e)[:3000]}", pytrace=False)
    assert not problems, "zh/ is not what the catalogs make now:\n  " + "\n  ".join(problems)


def pairs() -> list[tuple[Path, Path]]:
    """(English notebook, Chinese notebook), the students' versions included."""
    out = [(REPO / nb, REPO / i18n.zh_path(nb)) for nb in i18n.source_notebooks()]
    out += [(p, REPO / i18n.ZH / p.relative_to(REPO))
            for p in sorted((REPO / "chapters" / "exercises").glob("*.ipynb"))]
    return out


def differences(english: dict, chinese: dict) -> list[str]:
    """Where a Chinese notebook is not its English one with Chinese markdown text."""
    def text(value) -> str:
        return json.dumps(value, indent=1, ensure_ascii=False)
    out = []
    if text({k: v for k, v in english.items() if k != "cells"}) != text({k: v for k, v in chinese.items() if k != "cells"}):
        out.append("the notebook's metadata or format differ")
    if len(english["cells"]) != len(chinese["cells"]):
        return out + [f"{len(english['cells'])} cells in English, {len(chinese['cells'])} in Chinese"]
    for i, (e, z) in enumerate(zip(english["cells"], chinese["cells"])):
        if e["cell_type"] != "markdown":
            if text(e) != text(z):
                out.append(f"cell {i} ({e['cell_type']}, id {e.get('id')}) differs")
        elif text({k: v for k, v in e.items() if k != "source"}) != text({k: v for k, v in z.items() if k != "source"}):
            out.append(f"markdown cell {i} (id {e.get('id')}): its metadata or id differ")
    return out


@pytest.mark.parametrize("english, chinese", pairs(), ids=lambda p: str(p.relative_to(REPO)))
def test_code_outputs_and_metadata_are_the_englishs(english, chinese):
    assert chinese.exists(), f"{chinese.relative_to(REPO)} is missing: run python book/i18n.py generate"
    problems = differences(i18n.read_notebook(english), i18n.read_notebook(chinese))
    assert not problems, f"{chinese.relative_to(REPO)} against {english.relative_to(REPO)}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the generator, on fake translations

def fake(msgid: str) -> str:
    """A 'translation' that keeps everything the rules keep: the mark after the block's markdown
    syntax (heading, list item, table row, quote), and a speaker's note's question marked as the
    Chinese notes mark it."""
    return re.sub(r"^((?:### BEGIN SOLUTION\n)?(?:#+ |[-*+] |\d+\. |\| |> )?)", lambda m: m[1] + MARK,
                  msgid, count=1).replace(ASK["en"], ASK["zh"])


def fill(catalogs: Path, translate=fake) -> None:
    for path in catalogs.rglob("*.po"):
        po = i18n.read_catalog(path)
        for e in po:
            if not e.obsolete:
                e.msgstr, e.flags = translate(e.msgid), []
        po.save(str(path))


@pytest.fixture
def fake_root(tmp_path) -> tuple[Path, Path]:
    """(a copy of the repository's English sources, its catalogs with every entry fake-translated)."""
    root = tmp_path / "repo"
    for folder in ("chapters", *i18n.SHARED):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "benchmarks").mkdir()
    shutil.copy2(REPO / "benchmarks" / "notebook_times.json", root / "benchmarks")  # chapter 0's table
    (root / "book").mkdir()
    for name in ("teachers_guide.md", "teaching.yml", "offline_install.json"):  # the guide's words
        shutil.copy2(REPO / "book" / name, root / "book")
    catalogs = tmp_path / "catalogs"
    i18n.update(root, catalogs)
    fill(catalogs)
    return root, catalogs


def test_fake_translations_keep_the_rules():
    """The fixture's translation is a fair stand-in: the rules' check accepts it on every entry."""
    problems = [(ctx, m[:50], i18n.structure_problems(m, fake(m)))
                for english in SOURCES.values() for ctx, m in english]
    assert not [p for p in problems if p[2]]


def test_generate_makes_every_chinese_notebook(fake_root):
    root, catalogs = fake_root
    texts = i18n.generate_texts(root, catalogs)
    expected = {i18n.zh_path(nb) for nb in i18n.source_notebooks(root)}
    expected |= {Path(i18n.ZH) / p.relative_to(root) for p in (root / "chapters" / "exercises").glob("*.ipynb")}
    expected.add(i18n.zh_path(i18n.GUIDE))
    assert set(texts) == expected
    for notebook in i18n.source_notebooks(root):
        english = i18n.read_notebook(root / notebook)
        chinese = json.loads(texts[i18n.zh_path(notebook)])
        assert not differences(english, chinese), notebook
        for e, z in zip(english["cells"], chinese["cells"]):
            if e["cell_type"] == "markdown":
                blocks = [b for b, _ in i18n.split_blocks("".join(e["source"])) if i18n.translatable(b)]
                # a generated region (chapter 0's run times) is written anew, not translated
                text = i18n.REGION.sub("", "".join(z["source"]))
                assert text.count(MARK) == len(blocks), (notebook, e["id"])
                # the text a block keeps as it is (display math) is the English's
                for b, _ in i18n.split_blocks("".join(e["source"])):
                    if not i18n.translatable(b) and i18n.region_name(b) is None:
                        assert b in "".join(z["source"])


def test_the_chinese_students_versions_come_from_the_chinese_solutions(fake_root):
    """Generated as the English ones are: the same code cells (stubs, no outputs), Chinese text, and
    the solutions' text answers replaced by the stub."""
    root, catalogs = fake_root
    texts = i18n.generate_texts(root, catalogs)
    for english_path in sorted((root / "chapters" / "exercises").glob("*.ipynb")):
        english = i18n.read_notebook(english_path)
        chinese = json.loads(texts[Path(i18n.ZH) / english_path.relative_to(root)])
        assert not differences(english, chinese), english_path.name
        text = "\n".join("".join(c["source"]) for c in chinese["cells"] if c["cell_type"] == "markdown")
        assert MARK in text and "### BEGIN SOLUTION" not in text and "YOUR ANSWER HERE" in text


def test_an_incomplete_catalog_is_refused_naming_its_entries(fake_root):
    root, catalogs = fake_root
    path = catalogs / "chapters" / "03_residual_block.po"
    po = i18n.read_catalog(path)
    untranslated, fuzzy = [e for e in po if not e.obsolete][1:3]
    untranslated.msgstr = ""
    fuzzy.flags = ["fuzzy"]
    po.save(str(path))
    with pytest.raises(i18n.IncompleteError) as error:
        i18n.generate(root, catalogs)
    message = str(error.value)
    assert "i18n/zh_CN/chapters/03_residual_block.po" in message
    assert f'untranslated: msgctxt "{untranslated.msgctxt}", msgid "{untranslated.msgid.splitlines()[0][:40]}' in message
    assert f'fuzzy (the English changed: fix the translation, then remove the flag): msgctxt "{fuzzy.msgctxt}"' in message
    assert not (root / i18n.ZH).exists(), "an incomplete catalog must stop every notebook, not just its own"


def test_generate_writes_zh_with_its_links_and_the_check_sees_every_change(fake_root):
    root, catalogs = fake_root
    written = i18n.generate(root, catalogs)
    assert written and i18n.generated_problems(root, catalogs) == []
    assert i18n.generate(root, catalogs) == [], "a second run must write nothing"
    chapter = root / i18n.ZH / "chapters"
    # what the chapters reach through '..' is there from zh/chapters too
    assert (chapter / "../img/residual_block.svg").resolve().is_file()
    assert (chapter / ".." / "experiments" / "depth_results.json").is_file()
    for name in i18n.SHARED:
        assert (root / i18n.ZH / name).is_symlink()
    target = chapter / "03_residual_block.ipynb"
    target.write_text(target.read_text(encoding="utf-8").replace(MARK, "", 1), encoding="utf-8")
    (chapter / "99_stray.ipynb").write_text("{}", encoding="utf-8")
    (root / i18n.ZH / "img").unlink()
    problems = "\n".join(i18n.generated_problems(root, catalogs))
    assert "zh/chapters/03_residual_block.ipynb: differs" in problems
    assert "zh/chapters/99_stray.ipynb: not made from any English notebook" in problems
    assert "zh/img: should be a link to ../img" in problems
    i18n.generate(root, catalogs)
    assert i18n.generated_problems(root, catalogs) == [] and not (chapter / "99_stray.ipynb").exists()


def english_block(root: Path, notebook: str, cell_id: str, index: int = 0) -> str:
    nb = i18n.read_notebook(root / notebook)
    cell = next(c for c in nb["cells"] if c.get("id") == cell_id)
    return [b for b, _ in i18n.split_blocks("".join(cell["source"])) if i18n.translatable(b)][index]


def edit_english(root: Path, notebook: str, old: str, new: str) -> None:
    """An author's edit: ``old`` becomes ``new`` in the one markdown cell that has it."""
    path = root / notebook
    nb = i18n.read_notebook(path)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown" and old in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace(old, new, 1).splitlines(keepends=True)
    path.write_text(i18n.dumps(nb), encoding="utf-8")


def test_editing_one_english_sentence_fails_the_check_until_it_is_translated_again(fake_root):
    """The mutation that matters: the editions cannot drift. One sentence of chapter 3 changes."""
    root, catalogs = fake_root
    notebook, relative = "chapters/03_residual_block.ipynb", Path("chapters/03_residual_block.po")
    old = english_block(root, notebook, "e0a28064", 1)
    new = old.replace("has two paths.", "has two paths, side by side.")
    assert i18n.catalog_problems(relative, i18n.english_entries(Path(notebook), root), catalogs) == []
    edit_english(root, notebook, "has two paths.", "has two paths, side by side.")
    english = i18n.english_entries(Path(notebook), root)
    problems = i18n.catalog_problems(relative, english, catalogs)
    assert any(p.startswith("not in the catalog") and "e0a28064" in p for p in problems), problems
    assert relative in i18n.stale_catalogs(root, catalogs)
    assert i18n.update(root, catalogs) == [catalogs / relative]
    entry = next(e for e in entries(catalogs / relative) if e.msgid == new)
    assert "fuzzy" in entry.flags and entry.previous_msgid == old and entry.msgstr == fake(old)
    assert not [e for e in i18n.read_catalog(catalogs / relative) if e.obsolete], \
        "the old entry became the fuzzy one's hint, not an obsolete entry"
    problems = i18n.catalog_problems(relative, english, catalogs)
    assert len(problems) == 1 and problems[0].startswith("fuzzy") and "e0a28064" in problems[0]
    with pytest.raises(i18n.IncompleteError):
        i18n.generate_texts(root, catalogs)
    po = i18n.read_catalog(catalogs / relative)   # the translator's fix
    fixed = next(e for e in po if e.msgid == new)
    fixed.msgstr, fixed.flags, fixed.previous_msgid = fake(new), [], None
    po.save(str(catalogs / relative))
    assert i18n.catalog_problems(relative, english, catalogs) == []
    zh = json.loads(i18n.generate_texts(root, catalogs)[i18n.zh_path(Path(notebook))])
    assert any("side by side" in "".join(c["source"]) for c in zh["cells"])


def chapter0_times(text: str) -> str:
    """What chapter 0 (its notebook's text) shows between the run-time table's markers."""
    return next(times.shown("".join(c["source"])) for c in json.loads(text)["cells"]
                if c["cell_type"] == "markdown" and times.shown("".join(c["source"])) is not None)


def test_a_new_timing_changes_no_entry_and_the_chinese_chapter_0_shows_it(fake_root):
    """benchmarks/notebook_times.py rewrites chapter 0's table with every run: its numbers are no
    catalog entry (the table is a generated region), and generate writes the Chinese table from the
    same data in the words of i18n/zh_CN/benchmarks/notebook_times.po."""
    root, catalogs = fake_root
    shutil.copy2(i18n.CATALOGS / i18n.TIMES_CATALOG, catalogs / i18n.TIMES_CATALOG)  # the real words
    chapter0 = root / "chapters" / "00_how_to_use.ipynb"
    table = json.loads((root / "benchmarks" / "notebook_times.json").read_text(encoding="utf-8"))
    table["date"] = "2031-01-01"
    for row in table["notebooks"]:
        row["seconds"], row["date"] = row["seconds"] + 600.0, "2031-01-01"
    table["notebooks"][0]["seconds"] = 4321.0
    times.write(table, root / "benchmarks" / "notebook_times", [chapter0])   # as a timing run writes it
    assert "| 72.0 |" in times.shown(chapter0.read_text(encoding="utf-8"))
    assert i18n.stale_catalogs(root, catalogs) == [], "a new timing changed a catalog entry"
    for relative, english in i18n.english_sources(root).items():
        assert i18n.catalog_problems(relative, english, catalogs) == [], relative
    shown = chapter0_times(i18n.generate_texts(root, catalogs)[i18n.zh_path(Path("chapters/00_how_to_use.ipynb"))])
    assert "| `chapters/00_how_to_use.ipynb` | 72.0 |" in shown and "于2031-01-01测得" in shown, shown
    assert "| 笔记本 | 分钟 | 运行前平均负载 | 运行后平均负载 |" in shown and "Measured" not in shown, shown


def test_the_chinese_chapter_0_shows_the_committed_timing_in_chinese():
    shown = chapter0_times((REPO / "zh" / "chapters" / "00_how_to_use.ipynb").read_text(encoding="utf-8"))
    table = json.loads(times.OUT.with_suffix(".json").read_text(encoding="utf-8"))
    english = times.markdown_table(table)
    assert shown.splitlines()[3:] == english.splitlines()[3:], "the rows are not the English table's"
    assert shown.splitlines()[2] == "| 笔记本 | 分钟 | 运行前平均负载 | 运行后平均负载 |"
    assert shown.startswith("由`benchmarks/notebook_times.py`于"), shown[:80]


def test_a_generated_region_sharing_a_paragraph_is_refused():
    with pytest.raises(i18n.I18nError, match="put a blank line before and after it"):
        [b for b, _ in i18n.split_blocks(
            "Some text.\n<!-- notebook-times -->\n| a |\n<!-- /notebook-times -->") if i18n.translatable(b)]


def test_update_merges_as_msgmerge_does(fake_root):
    """A new block is untranslated, a removed one obsolete with its translation, and English that
    comes back gets its old translation back, not fuzzy; unchanged catalogs are not rewritten."""
    root, catalogs = fake_root
    notebook, relative = "chapters/00_how_to_use.ipynb", Path("chapters/00_how_to_use.po")
    assert i18n.update(root, catalogs) == []
    removed = english_block(root, notebook, "8835e2a5", 3)   # "## Summary (小结)"
    assert removed == "## Summary (小结)"
    edit_english(root, notebook, "## Summary (小结)\n\n", "")
    edit_english(root, notebook, "## Exercises\n\n", "## Exercises\n\nA brand-new paragraph.\n\n")
    assert i18n.update(root, catalogs) == [catalogs / relative]
    po = i18n.read_catalog(catalogs / relative)
    new = next(e for e in po if e.msgid == "A brand-new paragraph.")
    assert new.msgstr == "" and "fuzzy" not in new.flags
    gone = next(e for e in po if e.msgid == removed)
    assert gone.obsolete and gone.msgstr == fake(removed)
    edit_english(root, notebook, "## Exercises\n\nA brand-new paragraph.\n\n", "## Exercises\n\n## Summary (小结)\n\n")
    i18n.update(root, catalogs)
    back = next(e for e in i18n.read_catalog(catalogs / relative) if e.msgid == removed)
    assert not back.obsolete and back.msgstr == fake(removed) and not back.flags


def test_links_to_headings_point_at_the_chinese_headings(tmp_path):
    """A link to a heading names it as Jupyter does; the Chinese heading has another name, and
    the generator follows it, in the same notebook and across notebooks."""
    root, catalogs = tmp_path / "repo", tmp_path / "catalogs"
    (root / "chapters").mkdir(parents=True)
    def notebook(cells):
        return {"cells": [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": s}
                          for i, s in enumerate(cells)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "chapters" / "00_a.ipynb").write_text(json.dumps(notebook(
        ["# The start\n\nSee [below](#The-end) and [b](01_b.ipynb#Other-heading).", "## The end"])))
    (root / "chapters" / "01_b.ipynb").write_text(json.dumps(notebook(["# Other heading"])))
    i18n.update(root, catalogs)
    names = {"# The start": "# 开始", "## The end": "## 结尾", "# Other heading": "# 另一个标题"}
    fill(catalogs, lambda m: names.get(m, MARK + m))
    texts = i18n.generate_texts(root, catalogs)
    a = "".join(json.loads(texts[Path("zh/chapters/00_a.ipynb")])["cells"][0]["source"])
    assert "[below](#结尾)" in a and "[b](01_b.ipynb#另一个标题)" in a


def test_a_line_break_inside_chinese_text_is_no_space():
    """Translators wrap lines as the English does; between two Chinese characters the break would
    show as a space, so the generator takes it out (and only there)."""
    assert i18n.unwrap("第一行，\n第二行") == "第一行，第二行"
    assert i18n.unwrap("- 列表项的\n  续行") == "- 列表项的续行"
    assert i18n.unwrap("中文\nEnglish\n中文") == "中文\nEnglish\n中文"
    assert i18n.unwrap("一行\n- 另一项") == "一行\n- 另一项"


# --------------------------------------------------------------------------- the rules' checks

GOOD = ("A **residual block** (残差块) adds `x` to $F(\\mathbf{x})$ over 2 paths; see "
        "[chapter 3](03_residual_block.ipynb).")
GOOD_ZH = ("**残差块**（residual block）把 `x` 加到 $F(\\mathbf{x})$ 上，经过 2 条路径；"
           "见[第3章](03_residual_block.ipynb)。")
BROKEN = [  # (what the translator did, the check's words)
    (GOOD_ZH.replace("`x`", "x"), "inline code"),
    (GOOD_ZH.replace("\\mathbf{x}", "x"), "math"),
    (GOOD_ZH.replace("03_residual_block.ipynb", "03.ipynb"), "link targets"),
    (GOOD_ZH.replace("**残差块**", "残差块"), "bold"),
    (GOOD_ZH.replace("2 条", "两条"), "numbers"),
    ("# " + GOOD_ZH, "headings"),
    ("- " + GOOD_ZH, "list items"),
]


def test_the_rules_check_accepts_a_faithful_translation():
    assert i18n.structure_problems(GOOD, GOOD_ZH) == []


@pytest.mark.parametrize("chinese, words", BROKEN, ids=[w for _, w in BROKEN])
def test_the_rules_check_refuses_a_broken_translation(chinese, words):
    problems = i18n.structure_problems(GOOD, chinese)
    assert len(problems) == 1 and problems[0].startswith(words), problems


def test_the_rules_check_keeps_markers_tables_and_comments():
    answer = "### BEGIN SOLUTION\n1. An answer.\n### END SOLUTION"
    assert i18n.structure_problems(answer, "### BEGIN SOLUTION\n1. 答案。\n### END SOLUTION") == []
    assert "solution markers" in i18n.structure_problems(answer, "1. 答案。")[0]
    table = "| a | b |\n| --- | --- |\n| 1 | 2 |"
    assert i18n.structure_problems(table, "| 甲 | 乙 |\n| --- | --- |\n| 1 | 2 |") == []
    assert any("table" in p for p in i18n.structure_problems(table, "| 甲 乙 |\n| --- |\n| 1 2 |"))
    assert "HTML comments" in i18n.structure_problems("<!-- m -->\nText", "文字")[0]


def test_the_glossary_gives_one_chinese_term_per_english_term():
    terms = i18n.glossary()
    assert len({t.english.lower() for t in terms}) == len(terms)
    assert all(re.search(r"[\u4e00-\u9fff]", t.chinese) for t in terms)


def test_the_glossary_check_finds_a_missing_term_and_honours_exceptions():
    terms = [i18n.Term("residual block", "残差块", frozenset({"chapters/x#c1"})),
             i18n.Term("learning rate", "学习率", frozenset())]
    english = "Two residual blocks, each with a learning-rate of its own."
    assert i18n.glossary_problems("chapters/x#c2", english, "两个残差块，各有自己的学习率。", terms) == []
    problems = i18n.glossary_problems("chapters/x#c2", english, "两个残差模块，各有自己的步长。", terms)
    assert [p.split(":")[0] for p in problems] == ["uses 'residual block'", "uses 'learning rate'"]
    assert i18n.glossary_problems("chapters/x#c1", english, "两个残差模块，各有自己的学习率。", terms) == []
    # the term inside code, math or a link target is not prose
    assert i18n.glossary_problems("chapters/x#c2", "Call `residual_block()` [x](residual-block.ipynb)",
                                  "调用 `residual_block()` [x](residual-block.ipynb)", terms) == []


# --------------------------------------------------------------------------- the blocks

def test_every_markdown_cell_is_its_blocks_joined():
    for notebook in i18n.source_notebooks():
        nb = i18n.read_notebook(REPO / notebook)
        for cell in i18n.markdown_cells(nb, notebook):
            source = "".join(cell["source"])
            assert "".join(b + s for b, s in i18n.split_blocks(source)) == source, (notebook, cell["id"])


def test_lists_fences_and_display_math_stay_one_block():
    text = "Intro.\n\n- one\n\n- two\n  more\n\n```\ncode\n\nmore code\n```\n\n$$a\n\nb$$\n\nEnd."
    assert [b for b, _ in i18n.split_blocks(text)] == [
        "Intro.", "- one\n\n- two\n  more", "```\ncode\n\nmore code\n```", "$$a\n\nb$$", "End."]
    assert [i18n.translatable(b) for b, _ in i18n.split_blocks(text)] == [True, True, False, False, True]
