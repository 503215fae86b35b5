"""The Chinese website: `make html` builds it from zh/ beside the English one (html/zh/), and so
does this test (book/build.py, warnings are errors, into a folder of its own).

It checks that:
- both editions build, and the Chinese one says it is Chinese (<html lang="zh-CN">, its title and
  its front page's map from i18n/zh_CN/book/index.po);
- Sphinx's Chinese search indexed the Chinese text: searchindex.js has the word 残差, with chapter 3
  among its pages, and in headless Chromium zh/search.html?q=残差 lists chapter 3;
- every page of either edition that has a counterpart links to it, and the link resolves to it.
Needs zh/ (book/i18n.py generate), jieba (the test extra), npm once (MathJax) and headless Chromium.
BOOK_SOURCE_ROOT=folder tries it on other sources (a folder with chapters/, img/ and zh/).
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

import headless_chromium
from book import build as book_build

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("BOOK_SOURCE_ROOT") or REPO).resolve()
SWITCH = re.compile(r'<p class="book-edition-switch"[^>]*><a href="([^"]+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Both editions built once, as `make html` builds them; the html folder."""
    if not (ROOT / book_build.ZH / "chapters").is_dir():
        pytest.fail(f"{ROOT / 'zh' / 'chapters'} is missing: the Chinese notebooks come from python "
                    "book/i18n.py generate (once every catalog is translated)", pytrace=False)
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, str(REPO / "book" / "build.py"), "--source-root", str(ROOT),
                        "--out", str(out)], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.fail(f"python book/build.py failed:\n{(r.stderr.strip() or r.stdout)[-6000:]}", pytrace=False)
    return out / "_build" / "html"


def search_index(html: Path) -> dict:
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1: text.rindex(")")])


def test_the_chinese_website_is_chinese(site):
    zh = site / book_build.ZH
    index = (zh / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<html[^>]* lang="zh-CN"', index), "the Chinese pages do not say lang=zh-CN"
    title = book_build.notebook_title(book_build.read_notebook(ROOT / "zh" / "chapters" / "03_residual_block.ipynb"))
    page = (zh / "chapters" / "03_residual_block.html").read_text(encoding="utf-8")
    assert re.search(r"[\u4e00-\u9fff]", title) and title in page, f"chapter 3's Chinese title {title!r}"
    assert "## " not in index and "各章" in index, "the front page's map is not the Chinese one"


def test_searching_for_a_chinese_word_finds_chapter_3(site):
    index = search_index(site / book_build.ZH)
    assert "残差" in index["terms"], ("the Chinese search index has no word 残差: is jieba installed "
                                     "(Sphinx indexes no Chinese text without it)?")
    # Sphinx files a page under "titleterms" for the words of its title and leaves those out of its
    # "terms"; its search ranks title matches first. Chapter 3's title holds 残差 (残差块).
    pages = set()
    for section in ("terms", "titleterms"):
        found = index[section].get("残差", [])
        pages |= {found} if isinstance(found, int) else set(found)
    assert "chapters/03_residual_block" in [index["docnames"][i] for i in pages]
    english = search_index(site)
    assert "chapters/03_residual_block" in english["docnames"]


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_the_search_page_lists_chapter_3_for_残差(site, server):
    lacking = headless_chromium.missing()
    if lacking:
        pytest.fail(f"the search is checked in headless Chromium, which needs {lacking}", pytrace=False)
    driver = headless_chromium.start(1280, 1000)
    try:
        driver.get(server + "zh/search.html?q=" + urllib.parse.quote("残差"))
        deadline, found = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            found = driver.execute_script(
                "return [...document.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'))")
            if found and any("03_residual_block" in h for h in found):
                break
            time.sleep(0.5)
        errors = headless_chromium.console_errors(driver)
    finally:
        headless_chromium.stop(driver)
    assert any("chapters/03_residual_block.html" in h for h in found), f"the results for 残差: {found}"
    assert not errors, errors


def pages(root: Path) -> list[str]:
    return [p for p in book_build.page_paths(root) if p not in ("search.html", "genindex.html")]


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_every_page_links_to_the_same_page_in_the_other_language(site, edition):
    here = site if edition == "en" else site / book_build.ZH
    there = site / book_build.ZH if edition == "en" else site
    own = pages(ROOT if edition == "en" else ROOT / book_build.ZH)
    other = set(pages(ROOT / book_build.ZH if edition == "en" else ROOT))
    problems = []
    for page in own:
        links = SWITCH.findall((here / page).read_text(encoding="utf-8"))
        if page not in other:
            if links:
                problems.append(f"{page} links to {links}, but the other edition has no such page")
            continue
        if len(links) != 1:
            problems.append(f"{page}: {len(links)} links to the other edition, not 1")
            continue
        target = ((here / page).parent / links[0]).resolve()
        if target != (there / page).resolve() or not target.is_file():
            problems.append(f"{page} links to {links[0]}, not to the same page in the other edition")
    assert len(own) > 5 and not problems, "\n  ".join(problems)
