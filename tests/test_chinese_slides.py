"""The Chinese slide decks (`python book/slides.py --zh`, from zh/): the English decks' cells with the
Chinese text, checked as tests/test_slides.py checks the English ones.

Statically: each Chinese deck plans as many slides as the English one and keeps the line budget (code
and outputs are the English ones); a markdown cell's `lines` span, which counts English lines, is
carried over block by block, and a translation whose blocks do not match is refused. In headless
Chromium at 1280x720: every slide of every Chinese deck fits with nothing to scroll, its images drawn
and formulas typeset, no request leaving 127.0.0.1, and the pages say lang="zh-CN".
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from book import slides
from test_slides import browser, check_deck, read, serve  # noqa: F401 (browser: the same fixture)

REPO = Path(__file__).resolve().parents[1]
ZH = REPO / "zh"
DECKS = slides.deck_notebooks()


def chinese(path: Path) -> Path:
    return ZH / path.relative_to(REPO)


@pytest.mark.parametrize("name", list(DECKS))
def test_each_chinese_deck_plans_the_english_slides_within_the_budget(name):
    english = read(DECKS[name])
    ours = slides.slides_of(slides.slide_cells(english, name))
    theirs = slides.slides_of(slides.slide_cells(read(chinese(DECKS[name])), name, english))
    assert [s.cells for s in theirs] == [s.cells for s in ours]
    assert not slides.check_lines(name, theirs)


def test_a_markdown_span_is_carried_over_block_by_block():
    english = "# Title\n\nOne paragraph\nover two lines.\n\n- a list\n- of two\n\nLeft out."
    translated = "# 标题\n\n一段文字。\n\n- 一个列表\n- 两项\n\n略去。"
    # the English span [0, 6) starts the title, the paragraph and the list: the same three blocks
    assert slides.translated_span(english, translated, [0, 6], "here") == [0, 6]
    assert slides.translated_span(english, translated, [2, 4], "here") == [2, 3]
    with pytest.raises(slides.SlidesError, match="the translation has 3 blocks, the English 4"):
        slides.translated_span(english, "# 标题\n\n一段文字。\n\n略去。", [0, 6], "here")
    nb = {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {"slides": {"lines": [0, 6]}},
                     "source": translated}]}
    source = {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": english}]}
    (shown,) = slides.slide_cells(nb, "planted", source)
    assert shown["source"] == "# 标题\n\n一段文字。\n\n- 一个列表\n- 两项\n⋯"


@pytest.fixture(scope="module")
def built_decks() -> Path:
    """The Chinese decks, built as `make slides` builds them."""
    r = subprocess.run([sys.executable, str(REPO / "book" / "slides.py"), "--zh"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"python book/slides.py --zh failed:\n{r.stderr[-4000:] or r.stdout[-4000:]}"
    return slides.ZH_OUT


def test_every_slide_of_every_chinese_deck_fits_and_renders(built_decks, browser):
    httpd = serve(built_decks.parent.parent)
    port = httpd.server_address[1]
    problems = []
    try:
        for name, path in DECKS.items():
            page = built_decks / f"{name}.slides.html"
            assert '<html lang="zh-CN">' in page.read_text(encoding="utf-8"), page
            planned = len(slides.slides_of(slides.slide_cells(read(chinese(path)), name, read(path))))
            count, found, _ = check_deck(browser, f"http://127.0.0.1:{port}/"
                                                  f"{built_decks.relative_to(built_decks.parent.parent)}/{name}.slides.html")
            if count != planned:
                found.append(f"reveal.js shows {count} slides, book/slides.py planned {planned}")
            problems += [f"{name}: {p}" for p in found]
    finally:
        httpd.shutdown()
    assert not problems, f"{len(problems)} problems:\n  " + "\n  ".join(problems)
