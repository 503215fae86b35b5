"""The HTML book: builds it (book/build.py, warnings are errors) and opens every page in headless
Chromium with no network, driven by Selenium (tests/headless_chromium.py).

Per page it asserts: no console errors, failed or 4xx/5xx loads, or requests that leave 127.0.0.1;
every <img> has a non-zero natural size; every internal link (and its #anchor) resolves in the build;
the math is typeset (each .math element holds MathJax output, no TeX errors, no raw TeX left in the
prose); a chapter page shows its code cells and stored outputs, and its Chinese terms.
The front page must list the chapters of book/chapters.yml in order, linking those written, and
test_every_chapter_in_the_map_is_written fails until every listed chapter and exercise exists.
It saves screenshots of one chapter page and of the front page under book/_build/screenshots/
(and the test's tmp_path).

Needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver fonts-noto-cjk),
the Python package selenium, and npm (for MathJax, fetched once).
The book is built from a copy of the sources in which a student has run and saved an exercise (its
unsolved cells store errors): the build must pass, and show the exercise as handed out.
Environment: BOOK_CHROMIUM=path/to/chromium, BOOK_CHROMEDRIVER=path/to/chromedriver;
BOOK_SKIP_BROWSER=1 skips the browser checks (the build still runs); BOOK_SOURCE_ROOT=folder with chapters/ and img/ tries the book on other notebooks, with
BOOK_OUT=folder to build there instead of book/.
"""
from __future__ import annotations

import functools
import html
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

import headless_chromium
from test_numbering import chapters as chapter_numbers, exercise_counts, problems_in

from book import build as book_build

REPO = Path(__file__).resolve().parents[1]

try:
    SOURCE_ROOT = book_build.source_root()
    PAGES = book_build.page_paths(SOURCE_ROOT)
except book_build.BookError as e:  # no chapters/ at all: every test says so
    SOURCE_ROOT, PAGES = None, []
    NO_SOURCE = str(e)
OUT_ROOT = Path(os.environ.get("BOOK_OUT") or REPO / "book").resolve()
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def students_copy(tmp_path_factory) -> Path:
    """The book's sources as a student leaves them: a copy in which the first exercise was run (quick
    profile, its unsolved cells raising "not written yet ...") and saved, as JupyterLab's autosave does."""
    if SOURCE_ROOT is None:
        pytest.fail(NO_SOURCE)
    root = tmp_path_factory.mktemp("students_copy")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for folder in ("chapters", "img"):
        if (SOURCE_ROOT / folder).is_dir():
            shutil.copytree(SOURCE_ROOT / folder, root / folder, ignore=ignore)
    exercises = book_build.exercise_notebooks(root)
    if exercises:
        r = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "notebook",
                            "--execute", "--allow-errors", "--inplace", exercises[0].name],
                           cwd=exercises[0].parent, capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, D2LUTILS_PROFILE="quick"))
        assert r.returncode == 0, f"running {exercises[0].name} as a student would failed:\n{r.stderr[-3000:]}"
    return root


@pytest.fixture(scope="session")
def built_book(students_copy) -> Path:
    """Build the book once per session, the way the README says, from the students' copy (the build
    must not depend on the state a reader leaves the notebooks in); fail with the build's own words."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(REPO / "book" / "build.py"), "--out", str(OUT_ROOT)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, BOOK_SOURCE_ROOT=str(students_copy)))
    if r.returncode != 0:
        err = r.stderr.strip()
        pytest.fail(f"python book/build.py failed:\n{err[-6000:] or r.stdout[-6000:]}", pytrace=False)
    print(f"\nbook built in {time.monotonic() - t0:.1f} s: {OUT_ROOT / '_build' / 'html'}")
    return OUT_ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def server(built_book):
    """The built book over http on 127.0.0.1 (a free port), as a reader would serve it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_book)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser(built_book):
    if os.environ.get("BOOK_SKIP_BROWSER"):
        pytest.skip("BOOK_SKIP_BROWSER is set: the book was built but not opened in a browser")
    lacking = headless_chromium.missing()
    if lacking:
        pytest.fail(f"the book's pages are checked in headless Chromium, which needs {lacking} "
                    "(or set BOOK_SKIP_BROWSER=1 to skip these checks)", pytrace=False)
    page = Page(headless_chromium.start(1280, 1000, network_log=True))
    try:
        yield page
    finally:
        headless_chromium.stop(page.driver)


class Page:
    """One browser tab, reused page after page, and what happened while a page was open."""

    def __init__(self, driver):
        self.driver = driver

    def goto(self, url: str) -> None:
        """Open url (Selenium returns once its load event has fired), forgetting earlier events."""
        self.events()
        self.driver.get(url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression; a promise is awaited."""
        return self.driver.execute_script(f"return ({expression.strip()});")

    def events(self) -> tuple[list[str], list[dict]]:
        """Console errors and DevTools Network events since the last call."""
        return headless_chromium.console_errors(self.driver), headless_chromium.network_events(self.driver)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.driver.get_screenshot_as_png())
        return path


# What the page reports once it has settled: MathJax done, fonts loaded, images decoded.
PAGE_REPORT_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const hasMathJax = !!document.querySelector('script[src*="mathjax"]');
  let mathjaxError = null;
  if (hasMathJax) {
    for (let i = 0; i < 300 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
    try { await MathJax.startup.promise; } catch (e) { mathjaxError = String(e); }
    if (!(window.MathJax && MathJax.startup)) mathjaxError = 'MathJax did not start';
  }
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 10000); })));
  await document.fonts.ready;
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    if (!n.parentElement || n.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) continue;
    // a $ or a TeX delimiter left in the prose is math that did not parse
    if (/\$|\\\(|\\\)|\\\[|\\\]|\\frac|\\begin\{/.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 100));
  }
  const mathEls = [...document.querySelectorAll('.math')];
  return {
    title: document.title,
    hasMathJax, mathjaxError,
    mathElements: mathEls.length,
    mjxContainers: document.querySelectorAll('mjx-container').length,
    untypeset: mathEls.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.trim().slice(0, 100)),
    texErrors: [...document.querySelectorAll('mjx-merror')].map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 100)),
    raw,
    images: imgs.map(i => ({src: i.currentSrc || i.src, w: i.naturalWidth, h: i.naturalHeight})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    codeCells: document.querySelectorAll('.cell_input').length,
    outputs: document.querySelectorAll('.cell_output').length,
    text: document.body.innerText,
  };
})()
"""


def problems_in_events(events: list[dict], origin: str) -> list[str]:
    """Failed loads, 4xx/5xx answers and requests that leave origin, from DevTools Network events."""
    out = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Network.responseReceived" and p.get("response", {}).get("status", 200) >= 400:
            out.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"load failed ({p.get('errorText')}): request {p.get('requestId')}")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith((origin, "data:", "blob:", "about:")):
                out.append(f"the page asks the network for {url} (the book must work offline)")
    return out


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)


@functools.lru_cache(maxsize=None)
def ids_in(path: Path) -> frozenset:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def broken_links(links: list[str], origin: str, html_dir: Path) -> list[str]:
    bad = []
    for href in sorted(set(links)):
        if not href.startswith(origin):
            continue  # external (not reachable offline) or mailto: etc.
        u = urllib.parse.urlsplit(href)
        rel = urllib.parse.unquote(u.path).lstrip("/")
        target = html_dir / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            bad.append(f"{href}: no such file in the build")
        elif u.fragment and target.suffix == ".html" and urllib.parse.unquote(u.fragment) not in ids_in(target):
            bad.append(f"{href}: no element with id '{u.fragment}' in {rel or 'index.html'}")
    return bad


def source_notebook(page: str) -> Path | None:
    if page.startswith("chapters/"):
        nb = SOURCE_ROOT / page[: -len(".html")]
        return nb.with_suffix(".ipynb")
    return None


# --------------------------------------------------------------------------- tests

def test_book_builds_without_warnings(built_book):
    """book/build.py runs jupyter-book with --warningiserror; here: the pages exist and MathJax is local."""
    for page in PAGES:
        assert (built_book / page).is_file(), f"the build has no {page}"
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (built_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    index = (built_book / "index.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in index and "mathjax/tex-chtml.js" in index


def test_a_students_run_exercise_builds_as_handed_out(students_copy, built_book):
    """After a student ran and saved an exercise (its errors stored), the build still passes, and the
    exercise's page is the version handed out: its code, no outputs."""
    ran = book_build.exercise_notebooks(students_copy)
    if not ran:
        pytest.skip("no exercise notebooks in this book")
    nb = book_build.read_notebook(ran[0])
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors, f"the student's run of {ran[0].name} stored no error: this test no longer tests the case"
    for p in book_build.exercise_notebooks(SOURCE_ROOT):
        page = (built_book / "chapters" / "exercises" / f"{p.stem}.html").read_text(encoding="utf-8")
        assert 'class="cell_input' in page and 'class="cell_output' not in page, \
            f"chapters/exercises/{p.stem}.html shows outputs; it must show the students' version as handed out"


def test_every_chapter_in_the_map_is_written():
    """The finished book has every chapter and exercise of book/chapters.yml (until then the build
    goes on, and the map shows a missing chapter unlinked)."""
    if SOURCE_ROOT is None:
        pytest.fail(NO_SOURCE)
    _, chapters = book_build.load_map()
    missing = [f"chapters/{c.file}.ipynb" for c in chapters]
    missing += [f"chapters/exercises/{e.file}.ipynb" for e in book_build.load_exercises()]
    missing = [m for m in missing if not (SOURCE_ROOT / m).is_file()]
    assert not missing, f"listed in book/chapters.yml but not written yet: {', '.join(missing)}"


def test_front_page_is_the_map(built_book):
    """index.html lists the chapters in order, links each one written, and names its exercises."""
    _, chapters = book_build.load_map()
    page = (built_book / "index.html").read_text(encoding="utf-8")
    main = page[page.index('<h2>The chapters'):] if '<h2>The chapters' in page else page
    at = 0
    for c in chapters:
        path = SOURCE_ROOT / "chapters" / f"{c.file}.ipynb"
        title = (book_build.notebook_title(book_build.read_notebook(path)) if path.is_file() else None) or c.title
        shown = html.escape(title, quote=False)
        found = main.find(shown, at)
        assert found >= 0, f"the front page does not list '{title}' after the chapters before it"
        at = found
        if path.is_file():
            assert f'href="chapters/{c.file}.html"' in main, f"the front page does not link chapters/{c.file}"
    for p in book_build.exercise_notebooks(SOURCE_ROOT):
        assert f'href="chapters/exercises/{p.stem}.html"' in main, f"the front page does not link {p.name}"


@pytest.mark.parametrize("page", PAGES)
def test_page_in_headless_chromium(page, browser, server, built_book):
    browser.goto("about:blank")
    browser.goto(server + page)
    report = browser.evaluate(PAGE_REPORT_JS)
    time.sleep(0.05)  # let events that arrived meanwhile reach the logs
    console, network = browser.events()
    problems = console + problems_in_events(network, server)

    problems += [f"image with no natural size: {i['src']}" for i in report["images"] if not (i["w"] > 0 and i["h"] > 0)]
    problems += broken_links(report["links"], server, built_book)
    if report["mathElements"] and not report["hasMathJax"]:
        problems.append("the page has math but does not load MathJax")
    if report["mathjaxError"]:
        problems.append(f"MathJax failed: {report['mathjaxError']}")
    problems += [f"math not typeset: {t}" for t in report["untypeset"]]
    problems += [f"TeX error in math: {t}" for t in report["texErrors"]]
    problems += [f"raw TeX or a stray $ in the page's text (math that did not parse): {t!r}" for t in report["raw"]]

    problems += problems_in("the page's text", built_book, report["text"], chapter_numbers(SOURCE_ROOT),
                            exercise_counts())

    nb_path = source_notebook(page)
    if nb_path is not None:
        nb = book_build.read_notebook(nb_path)
        n_code, n_out = book_build.count_outputs(nb)
        if n_code and not report["codeCells"]:
            problems.append(f"the notebook has {n_code} code cells, the page shows none")
        if n_out and not report["outputs"]:
            problems.append(f"the notebook has {n_out} stored outputs, the page shows none")
        text = "".join("".join(c.get("source", "")) for c in nb["cells"] if c["cell_type"] == "markdown")
        math = "".join(re.findall(r"\$[^$]*\$", text))
        for term in set(CJK.findall(text)) - set(CJK.findall(math)):
            if term not in report["text"]:
                problems.append(f"Chinese text '{term}' from the notebook is not on the page")
        if "$" in text and not report["mjxContainers"]:
            problems.append("the notebook has $ math, the page has no typeset math")
    assert not problems, f"{page} ({report['title']}):\n  " + "\n  ".join(problems)


# Every link to a chapter page in the sidebar and in the map's rows, with the number shown beside it.
NUMBERS_JS = r"""
(() => {
  const out = [];
  for (const a of document.querySelectorAll('nav.bd-docs-nav a[href*="chapters/"]'))
    out.push({where: 'sidebar', href: a.getAttribute('href'), shown: a.textContent.trim()});
  for (const tr of document.querySelectorAll('table tbody tr')) {
    const a = tr.querySelector('a[href*="chapters/"]');
    if (a) out.push({where: 'map', href: a.getAttribute('href'), shown: tr.cells[0].textContent.trim()});
  }
  for (const li of document.querySelectorAll('li')) {
    const a = li.querySelector('a[href*="chapters/exercises/"]');
    const m = li.textContent.match(/after chapter (\w+),/);
    if (a && m) out.push({where: 'exercise list', href: a.getAttribute('href'), shown: m[1]});
  }
  return out;
})()
"""


def test_one_numbering_on_the_site(browser, server):
    """The sidebar and the map number each chapter as its file name does (03b_... is 3b), and each
    exercise is placed after the chapter that book/chapters.yml names, by that chapter's number."""
    browser.goto(server + "index.html")
    shown = browser.evaluate(NUMBERS_JS)
    after = {e.file: e.after for e in book_build.load_exercises()}
    problems, seen = [], set()
    for s in shown:
        stem = Path(s["href"].split("#")[0]).stem
        if "/exercises/" in s["href"]:
            expected = book_build.chapter_number(after[stem]) if s["where"] == "exercise list" else None
        elif book_build.CHAPTER_RE.match(stem + ".ipynb"):
            expected = book_build.chapter_number(stem)
        else:  # a page that is not a chapter (the teacher's guide) has no number
            expected = None
        if expected is None:
            continue
        seen.add((s["where"], stem))
        number = re.match(r"\w+", s["shown"])
        if not number or number[0] != expected:
            problems.append(f"the {s['where']} shows {s['shown']!r} for {s['href']}: chapter {expected}")
    for p in book_build.chapter_notebooks(SOURCE_ROOT):
        for where in ("sidebar", "map"):
            if (where, p.stem) not in seen:
                problems.append(f"the {where} has no numbered link to {p.stem}")
    assert not problems, "two numberings on the website:\n  " + "\n  ".join(problems)


def test_screenshot_of_a_chapter(browser, server, built_book, tmp_path):
    """Screenshots of one chapter (its top, and its first display equation if further down) and of
    the front page, for a person to look at."""
    pages = [p for p in PAGES if p.startswith("chapters/") and "/exercises/" not in p]
    if not pages:
        pytest.fail("no chapter notebook in chapters/ to take a screenshot of")
    preferred = [p for p in ("chapters/03_residual_block.html", "chapters/02_batch_norm.html") if p in pages]
    page = (preferred or pages)[0]
    browser.goto(server + page)
    browser.evaluate(PAGE_REPORT_JS)
    stem = Path(page).stem
    shots_dir = built_book.parent / "screenshots"
    saved = [browser.screenshot(shots_dir / f"{stem}-top.png")]
    below = browser.evaluate(
        "(() => { const m = document.querySelector('div.math, mjx-container[display=\"true\"]');"
        " if (!m || m.getBoundingClientRect().bottom < window.innerHeight) return false;"
        " m.scrollIntoView({block: 'center'}); return true; })()")
    if below:  # the first display equation is not in the first screen: show it too
        time.sleep(0.3)
        saved.append(browser.screenshot(shots_dir / f"{stem}-math.png"))
    browser.goto(server + "index.html")
    browser.evaluate(PAGE_REPORT_JS)
    saved.append(browser.screenshot(shots_dir / "index.png"))
    for p in saved:
        shutil.copy2(p, tmp_path / p.name)
        assert p.stat().st_size > 10_000, f"{p} is suspiciously small: a blank page?"
    print("\nscreenshots: " + ", ".join(str(p) for p in saved) + f" (copies in {tmp_path})")


def test_readme_and_website_share_a_title():
    """The README's first heading is the website's title (book/_config.yml)."""
    import yaml
    title = yaml.safe_load((REPO / "book" / "_config.yml").read_text(encoding="utf-8"))["title"]
    first = next(ln for ln in (REPO / "README.md").read_text(encoding="utf-8").splitlines() if ln.startswith("# "))
    assert first[2:].strip() == title, f"README: {first!r}, website: {title!r}"
