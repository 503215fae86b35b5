"""The slide decks as a teacher opens them: `python book/slides.py` builds them (as `make slides` does),
and headless Chromium (Selenium, tests/headless_chromium.py) shows every slide of every deck at a
projector's 1280x720, served over http on 127.0.0.1 with no other network.

On every slide: no element reaches outside the slide and nothing has to be scrolled (a box whose
content is wider or taller than the box); every image is drawn and every inline figure has a size;
every formula is typeset (MathJax output, no TeX error, no `$` left in the text). Per deck: no console
error, no request that leaves 127.0.0.1, reveal.js counts the slides book/slides.py planned. The
deck and slide counts are printed (run with -s). A planted deck proves the fit check: a slide too
tall and a code line too wide are refused, a slide that fits is not.

Statically (no browser): the speaker's notes carry the tag that keeps them out of the HTML book, the
line budget holds, and bad slide metadata gets a message that names the cell.
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import headless_chromium

from book import slides

REPO = Path(__file__).resolve().parents[1]

DECKS = slides.deck_notebooks()


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- static checks

@pytest.mark.parametrize("name", list(DECKS))
def test_deck_metadata_is_valid_and_fits_the_line_budget(name):
    cells = slides.slide_cells(read(DECKS[name]), name)
    planned = slides.slides_of(cells)
    assert planned, f"{name}: no slide"
    assert not slides.check_lines(name, planned)


def test_every_deck_has_speaker_notes_kept_out_of_the_book():
    """Each chapter has notes; each notes cell is tagged remove-cell (Jupyter Book drops it)."""
    for name, path in DECKS.items():
        notes = [c for c in read(path)["cells"] if slides.slide_type(c) == "notes"]
        if name.startswith("exercise-"):
            continue  # the students' version is generated from these: no notes there
        assert len(notes) >= 2, f"{name}: {len(notes)} notes cells; a teacher needs notes to present it"
        for cell in notes:
            assert slides.NOTES_TAG in cell["metadata"].get("tags", []), cell["source"][:80]


@pytest.mark.parametrize("metadata, words", [
    ({"slideshow": {"slide_type": "sub-slide"}}, "is not one of"),
    ({"slides": {"lines": [0, 99]}}, "slides.lines must be [start, stop]"),
    ({"slides": {"split": [3]}}, "slides.split must list"),
    ({"slides": {"crop": 3}}, "unknown slides option"),
    ({"slideshow": {"slide_type": "notes"}}, "needs the tag 'remove-cell'"),
])
def test_bad_slide_metadata_is_refused_with_the_cell_named(metadata, words):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Title"},
                    {"cell_type": "markdown", "metadata": metadata, "source": "one\ntwo"}]}
    with pytest.raises(slides.SlidesError) as e:
        slides.slide_cells(nb, "planted")
    assert words in str(e.value) and "planted, cell 1" in str(e.value), str(e.value)


def test_trimming_marks_what_it_leaves_out_and_keeps_the_notebook():
    cell = {"cell_type": "code", "metadata": {"slides": {"lines": [1, 3], "output_lines": [0, 2]}},
            "source": "# NBVAL_IGNORE_OUTPUT\na = 1\nb = 2\nc = 3\nd = 4", "execution_count": 1,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n2\n"},
                        {"output_type": "stream", "name": "stdout", "text": "3\n4\n"}]}
    nb = {"cells": [cell]}
    (shown,) = slides.slide_cells(nb, "planted")
    assert shown["source"] == "⋯\nb = 2\nc = 3\n⋯"
    assert [o["text"] for o in shown["outputs"]] == ["1\n2\n⋯\n"]
    assert nb["cells"][0]["source"].startswith("# NBVAL_IGNORE_OUTPUT")  # the chapter is untouched


# --------------------------------------------------------------------------- in the browser

# Reveal's slide area is .slides (1280x720, scaled to the window). For the slide shown: the elements
# that reach outside it, the boxes that would scroll, images not drawn, figures with no size,
# formulas not typeset.
SLIDE_JS = r"""
const [h, v] = arguments;
Reveal.slide(h, v);
await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
const slide = Reveal.getCurrentSlide();
const box = document.querySelector('.reveal .slides').getBoundingClientRect();
const scale = Reveal.getScale();
const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
  ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '');
// every element, but a figure (svg) or a formula (mjx-container) as one box: their insides are drawn
// within it, and measuring thousands of paths would make the check slow
const elements = [];
(function walk(node) {
  for (const el of node.children) {
    if (el.matches('aside.notes, script, style')) continue;
    elements.push(el);
    if (!el.matches('svg, mjx-container')) walk(el);
  }
})(slide);
const outside = [], scrolls = [];
for (const el of elements) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.bottom > box.bottom + 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.left < box.left - 1) {
    if (!outside.some(o => o.el.contains(el)))
      outside.push({el, what: `${name(el)} ${Math.round(r.width / scale)}x${Math.round(r.height / scale)} ` +
        `reaches ${Math.round((r.bottom - box.top) / scale)} px down, ${Math.round((r.right - box.left) / scale)} px across`});
  }
  const cs = getComputedStyle(el);
  const clipX = /(auto|scroll|hidden)/.test(cs.overflowX), clipY = /(auto|scroll|hidden)/.test(cs.overflowY);
  if ((clipX && el.scrollWidth > el.clientWidth + 2) || (clipY && el.scrollHeight > el.clientHeight + 2))
    scrolls.push(`${name(el)} holds ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
}
const text = [...slide.querySelectorAll('.jp-RenderedMarkdown')].map(m => {
  const c = m.cloneNode(true); c.querySelectorAll('mjx-container, code, pre').forEach(e => e.remove());
  return c.textContent; }).join(' ');
return {
  outside: outside.map(o => o.what), scrolls,
  images: [...slide.querySelectorAll('img')].filter(i => !(i.complete && i.naturalWidth > 0))
            .map(i => (i.getAttribute('src') || '').slice(0, 80)),
  figures: [...slide.querySelectorAll('.jp-RenderedSVG, .jp-RenderedImage')].length,
  flat: [...slide.querySelectorAll('.jp-RenderedSVG svg, .jp-RenderedSVG img, .jp-RenderedImage img')]
          .filter(f => f.getBoundingClientRect().height < 20).length,
  formulas: slide.querySelectorAll('mjx-container').length,
  mathErrors: slide.querySelectorAll('mjx-merror').length,
  rawTex: (text.match(/\$[^$\s][^$]*\$|\\\(|\\\[/g) || []).slice(0, 3),
};
"""

READY_JS = r"""
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  if (window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done({slides: Reveal.getTotalSlides(),
      indices: Reveal.getSlides().map(s => Reveal.getIndices(s))}));
  } else if (Date.now() - t0 > 60000) { done(null); } else { setTimeout(poll, 100); }
})();
"""


def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def check_deck(driver, url: str) -> tuple[int, list[str], dict]:
    """Open a deck and look at every slide: (slides, problems, totals)."""
    headless_chromium.console_errors(driver)
    headless_chromium.network_events(driver)
    driver.get(url)
    state = driver.execute_async_script(READY_JS)
    assert state, f"{url}: reveal.js or MathJax did not start within 60 s"
    problems, totals = [], {"figures": 0, "formulas": 0}
    for k, ix in enumerate(state["indices"]):
        s = driver.execute_script(f"return (async () => {{{SLIDE_JS}}})(...arguments)", ix["h"], ix["v"])
        where = f"slide {k + 1} (#/{ix['h']}/{ix['v']})"
        problems += [f"{where}: {w} (outside the 1280x720 slide)" for w in s["outside"][:3]]
        problems += [f"{where}: {w} (has to be scrolled)" for w in s["scrolls"][:3]]
        problems += [f"{where}: image not drawn: {src}" for src in s["images"]]
        problems += [f"{where}: {s['flat']} figure(s) drawn with no height"] if s["flat"] else []
        problems += [f"{where}: {s['mathErrors']} formula(s) with a TeX error"] if s["mathErrors"] else []
        problems += [f"{where}: TeX left untypeset: {s['rawTex']}"] if s["rawTex"] else []
        totals["figures"] += s["figures"]
        totals["formulas"] += s["formulas"]
    problems += headless_chromium.console_errors(driver)
    for event in headless_chromium.network_events(driver):
        if event["method"] == "Network.requestWillBeSent":
            target = event["params"]["request"]["url"]
            if not target.startswith(("http://127.0.0.1", "data:", "blob:")):
                problems.append(f"a request leaves the machine: {target[:120]}")
        elif event["method"] == "Network.responseReceived" and event["params"]["response"]["status"] >= 400:
            problems.append(f"{event['params']['response']['status']}: {event['params']['response']['url']}")
    return state["slides"], problems, totals


@pytest.fixture(scope="module")
def browser():
    lacking = headless_chromium.missing()
    if lacking:
        pytest.fail(f"the slides are checked in headless Chromium, which needs {lacking}", pytrace=False)
    driver = headless_chromium.start(slides.WIDTH, slides.HEIGHT, network_log=True)
    try:
        yield driver
    finally:
        headless_chromium.stop(driver)


@pytest.fixture(scope="module")
def built_decks() -> Path:
    """The decks, built the way `make slides` builds them."""
    r = subprocess.run([sys.executable, str(REPO / "book" / "slides.py")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"python book/slides.py failed:\n{r.stderr[-4000:] or r.stdout[-4000:]}"
    return slides.OUT


def test_every_slide_of_every_deck_fits_and_renders(built_decks, browser):
    httpd = serve(built_decks.parent)
    port = httpd.server_address[1]
    report, problems = [], []
    try:
        for name, path in DECKS.items():
            planned = len(slides.slides_of(slides.slide_cells(read(path), name)))
            count, found, totals = check_deck(
                browser, f"http://127.0.0.1:{port}/{built_decks.name}/{name}.slides.html")
            report.append(f"{name}: {count} slides, {totals['figures']} figures, {totals['formulas']} formulas")
            if count != planned:
                found.append(f"reveal.js shows {count} slides, book/slides.py planned {planned}")
            has_math = any("$" in "".join(c["source"]) for c in slides.slide_cells(read(path), name)
                           if c["cell_type"] == "markdown" and slides.slide_type(c) not in ("skip", "notes"))
            if has_math and not totals["formulas"]:
                found.append("the deck's text has formulas, the slides show none typeset")
            problems += [f"{name}: {p}" for p in found]
    finally:
        httpd.shutdown()
    print(f"\n{len(report)} decks, {sum(int(r.split(': ')[1].split()[0]) for r in report)} slides:\n  "
          + "\n  ".join(report))
    assert not problems, f"{len(problems)} problems:\n  " + "\n  ".join(problems)


PLANTED = {
    "cells": [
        {"cell_type": "markdown", "id": "fits", "metadata": {"slideshow": {"slide_type": "slide"}},
         "source": "# A slide that fits\n\nOne line, and a formula: $x + F(x)$."},
        {"cell_type": "markdown", "id": "tall", "metadata": {"slideshow": {"slide_type": "slide"}},
         "source": "## Too tall\n\n" + "\n".join(f"- point {i}" for i in range(40))},
        {"cell_type": "code", "id": "wide", "metadata": {"slideshow": {"slide_type": "slide"}},
         "execution_count": 1,
         "source": "x = 1  # " + "a very long comment " * 20, "outputs": []},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_the_fit_check_refuses_a_planted_overflowing_slide(built_decks, browser, tmp_path):
    """The check is proven by what it refuses: a deck with one slide that fits, one 40 lines tall
    and one with a code line wider than the slide."""
    folder = tmp_path / "slides"
    shutil.copytree(built_decks / "reveal.js", folder / "reveal.js")
    shutil.copytree(built_decks / "mathjax", folder / "mathjax")
    cells = slides.slide_cells(PLANTED, "planted")
    (folder / "planted.slides.html").write_text(slides.export(PLANTED, cells, "planted"), encoding="utf-8")
    httpd = serve(tmp_path)
    try:
        count, problems, totals = check_deck(
            browser, f"http://127.0.0.1:{httpd.server_address[1]}/slides/planted.slides.html")
    finally:
        httpd.shutdown()
    print("\nplanted deck: " + "\n  ".join(problems))
    assert count == 3 and totals["formulas"] == 1
    assert not [p for p in problems if p.startswith("slide 1 ")], problems
    assert any(p.startswith("slide 2 ") and "outside the 1280x720 slide" in p for p in problems), problems
    assert any(p.startswith("slide 3 ") for p in problems), problems


# --------------------------------------------------------------------------- live, with RISE in JupyterLab

RISE_CHAPTER = "chapters/03_residual_block.ipynb"
RISE_THEME_FONTS = "https://fonts.googleapis.com/css?family="

RISE_STATE_JS = r"""
const present = [...document.querySelectorAll('.reveal .slides section.present')];
const leaf = present[present.length - 1];
return {
  slides: document.querySelectorAll('.reveal .slides section').length,
  present: leaf ? [...document.querySelectorAll('.reveal .slides section')].indexOf(leaf) : -1,
  text: leaf ? leaf.innerText.trim().slice(0, 120) : null,
  hash: location.hash,
};
"""


def test_rise_opens_a_chapter_in_jupyterlab_and_advances_a_slide(lab, browser):
    """The chapter opens in JupyterLab; RISE's "Open as Reveal Slideshow" (the page at rise/PATH that
    the command opens, here without the command's save of the notebook) shows its first slide, the
    title, and the right arrow key moves to the next slide, whose text is another cell's."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    stored = (REPO / RISE_CHAPTER).read_bytes()
    try:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"{lab.url}rise/{RISE_CHAPTER}?token={lab.token}", timeout=30).close()
    except urllib.error.HTTPError as e:
        pytest.fail(f"the server has no RISE page ({e.code}): is jupyterlab-rise installed? "
                    "(make book installs it: pyproject's dependencies)", pytrace=False)
    headless_chromium.network_events(browser)  # forget the decks' requests
    browser.get(f"{lab.url}rise/{RISE_CHAPTER}?activeCellIndex=0&token={lab.token}")
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        state = browser.execute_script(RISE_STATE_JS)
        if state["present"] >= 0 and state["text"]:
            break
        time.sleep(0.5)
    assert state and state["present"] >= 0, f"RISE showed no slide of {RISE_CHAPTER} within 120 s: {state}"
    title = read(REPO / RISE_CHAPTER)["cells"][0]["source"][0].lstrip("# ").strip()
    assert title in state["text"], f"the first slide shows {state['text']!r}, not the title {title!r}"
    first = state
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = browser.execute_script(RISE_STATE_JS)
        if state["present"] != first["present"] and state["text"]:
            break
        time.sleep(0.3)
    assert state["present"] != first["present"], f"the right arrow did not advance the slide: {state}"
    assert state["text"] != first["text"], state
    # RISE's default reveal.js theme imports two web fonts from Google Fonts (News Cycle, Lato); with no
    # network the browser uses its own sans-serif and nothing else changes. Anything else must be local.
    leaving = [e["params"]["request"]["url"][:120] for e in headless_chromium.network_events(browser)
               if e["method"] == "Network.requestWillBeSent"
               and not e["params"]["request"]["url"].startswith(
                   ("http://127.0.0.1", "data:", "blob:", "ws://127.0.0.1", RISE_THEME_FONTS))]
    assert not leaving, f"RISE asked the network for: {leaving}"
    time.sleep(1.5)  # the slide transition ends
    shots = REPO / "book" / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shots / "rise-03_residual_block.png"))
    print(f"\nRISE: {first['slides']} slides; slide {first['present']} -> {state['present']}: {state['text'][:60]!r}")
    assert (REPO / RISE_CHAPTER).read_bytes() == stored, f"showing the slides changed {RISE_CHAPTER}"
