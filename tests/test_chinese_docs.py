"""The Chinese pages of docs/ (zh/docs/*.md): made by book/i18n.py generate from docs/*.md and the
catalogs i18n/zh_CN/docs/*.po, never by hand.

The catalogs' completeness, rules and glossary are checked with every other catalog's in
test_chinese_edition (english_sources lists these too). Here:
- each docs page has its Chinese page, which is what the generator makes now;
- its code blocks are the English page's byte for byte, in the same order;
- its relative links resolve: to the Chinese page where the Chinese edition has one, else to the
  English file (README.md);
- an edited English sentence is a catalog entry to translate again, and the page is refused until
  it is; a Chinese page no English page makes is called out.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from book import i18n

REPO = Path(__file__).resolve().parents[1]
PAGES = i18n.doc_pages()
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def texts() -> dict[Path, str]:
    return i18n.generate_texts()


def test_the_teachers_and_the_platforms_pages_are_there():
    assert {p.name for p in PAGES} >= {"teaching.md", "platforms-and-gpus.md"}


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_the_chinese_page_is_what_the_catalog_makes(page, texts):
    chinese = REPO / i18n.zh_path(page)
    assert chinese.is_file(), f"{chinese.relative_to(REPO)} is missing: run python book/i18n.py generate"
    assert chinese.read_text(encoding="utf-8") == texts[i18n.zh_path(page)], \
        f"{chinese.relative_to(REPO)} is out of date: run python book/i18n.py generate"
    assert re.search(r"^# .*[\u4e00-\u9fff]", chinese.read_text(encoding="utf-8"), re.M), "no Chinese title"


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_code_blocks_are_the_englishs_byte_for_byte(page):
    english = FENCE.findall((REPO / page).read_text(encoding="utf-8"))
    chinese = FENCE.findall((REPO / i18n.zh_path(page)).read_text(encoding="utf-8"))
    assert english and chinese == english


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_relative_link_resolves(page):
    chinese = REPO / i18n.zh_path(page)
    for target in LINK.findall(chinese.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if path and not re.match(r"[a-z]+:", path):
            assert (chinese.parent / path).exists(), f"{chinese.relative_to(REPO)} links to {target}, which is not there"


def write_notebook(path: Path, cells: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": s}
                                          for i, s in enumerate(cells)],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")


@pytest.fixture
def small_root(tmp_path) -> tuple[Path, Path]:
    """A repository with one chapter and one docs page, its catalogs translated."""
    root, catalogs = tmp_path / "repo", tmp_path / "catalogs"
    write_notebook(root / "chapters" / "00_a.ipynb", ["# A chapter"])
    (root / "docs").mkdir()
    (root / "docs" / "x.md").write_text(
        "# A page\n\nSee [the chapter](../chapters/00_a.ipynb), the [README](../README.md#the-data) and "
        "[the site](https://example.org/a).\n\n```bash\nmake book   # a comment stays English\n```\n",
        encoding="utf-8")
    i18n.update(root, catalogs)
    chinese = {"# A chapter": "# 一章", "# A page": "# 一页"}
    for path in catalogs.rglob("*.po"):
        po = i18n.read_catalog(path)
        for e in po:
            e.msgstr = chinese.get(e.msgid) or e.msgid.replace("See ", "参见 ")
        po.save(str(path))
    return root, catalogs


def test_links_go_to_the_chinese_page_where_there_is_one(small_root):
    root, catalogs = small_root
    page = i18n.generate_texts(root, catalogs)[Path("zh/docs/x.md")]
    assert page.startswith("# 一页\n\n参见 ")
    assert "[the chapter](../chapters/00_a.ipynb)" in page        # zh/chapters/00_a.ipynb
    assert "[README](../../README.md#the-data)" in page            # no Chinese README: the English one
    assert "[the site](https://example.org/a)" in page
    assert "```bash\nmake book   # a comment stays English\n```\n" in page


def test_an_edited_english_sentence_is_refused_until_translated(small_root):
    root, catalogs = small_root
    relative = Path("docs/x.po")
    assert i18n.catalog_problems(relative, i18n.page_entries(Path("docs/x.md"), root), catalogs) == []
    english = root / "docs" / "x.md"
    english.write_text(english.read_text(encoding="utf-8").replace("the [README]", "our [README]"),
                       encoding="utf-8")
    problems = i18n.catalog_problems(relative, i18n.page_entries(Path("docs/x.md"), root), catalogs)
    assert any(p.startswith("not in the catalog") and "our [README]" in p for p in problems), problems
    assert relative in i18n.stale_catalogs(root, catalogs)
    i18n.update(root, catalogs)
    edited = next(e for e in i18n.read_catalog(catalogs / relative) if "our [README]" in e.msgid)
    assert "fuzzy" in edited.flags
    with pytest.raises(i18n.IncompleteError, match="docs/x.po"):
        i18n.generate_texts(root, catalogs)


def test_a_stray_chinese_page_is_called_out_and_removed(small_root):
    root, catalogs = small_root
    i18n.generate(root, catalogs)
    assert i18n.generated_problems(root, catalogs) == []
    (root / "zh" / "docs" / "old.md").write_text("# 旧页\n", encoding="utf-8")
    assert "zh/docs/old.md: not made from any English notebook" in "\n".join(i18n.generated_problems(root, catalogs))
    i18n.generate(root, catalogs)
    assert not (root / "zh" / "docs" / "old.md").exists()
