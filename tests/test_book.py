"""The HTML book: builds it (book/build.py, warnings are errors) and opens every page in headless
Chromium with no network, through the Chrome DevTools Protocol (websocket-client).

Per page it asserts: no console errors, failed or 4xx/5xx loads, or requests that leave 127.0.0.1;
every <img> has a non-zero natural size; every internal link (and its #anchor) resolves in the build;
the math is typeset (each .math element holds MathJax output, no TeX errors, no raw TeX left in the
prose); a chapter page shows its code cells and stored outputs, and its Chinese terms.
The front page must list the chapters of book/chapters.yml in order, linking those written, and
test_every_chapter_in_the_map_is_written fails until every listed chapter and exercise exists.
It saves screenshots of one chapter page and of the front page under book/_build/screenshots/
(and the test's tmp_path).

Needs Debian's chromium (apt-get install chromium fonts-noto-cjk) and npm (for MathJax, fetched once).
Environment: BOOK_CHROMIUM=path/to/chromium; BOOK_SKIP_BROWSER=1 skips the browser checks (the build
still runs); BOOK_SOURCE_ROOT=folder with chapters/ and img/ tries the book on other notebooks, with
BOOK_OUT=folder to build there instead of book/.
"""
from __future__ import annotations

import functools
import html
import html.parser
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("book_build", REPO / "book" / "build.py")
book_build = importlib.util.module_from_spec(spec)
sys.modules["book_build"] = book_build
spec.loader.exec_module(book_build)

try:
    SOURCE_ROOT = book_build.source_root()
    PAGES = book_build.page_paths(SOURCE_ROOT)
except book_build.BookError as e:  # no chapters/ at all: every test says so
    SOURCE_ROOT, PAGES = None, []
    NO_SOURCE = str(e)
OUT_ROOT = Path(os.environ.get("BOOK_OUT") or REPO / "book").resolve()
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--no-proxy-server", "--hide-scrollbars", "--mute-audio", "--lang=en-US",
    "--window-size=1280,1000", "--remote-allow-origins=*", "--remote-debugging-port=0",
]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book once per session, the way the README says; fail with the build's own words."""
    if SOURCE_ROOT is None:
        pytest.fail(NO_SOURCE)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(REPO / "book" / "build.py"), "--out", str(OUT_ROOT)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, BOOK_SOURCE_ROOT=str(SOURCE_ROOT)))
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


def find_chromium() -> str | None:
    for name in [os.environ.get("BOOK_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def browser(built_book):
    if os.environ.get("BOOK_SKIP_BROWSER"):
        pytest.skip("BOOK_SKIP_BROWSER is set: the book was built but not opened in a browser")
    exe = find_chromium()
    if exe is None:
        pytest.fail("headless Chromium is needed to check the book's pages: apt-get install chromium "
                    "fonts-noto-cjk (or set BOOK_CHROMIUM=/path/to/chromium, or BOOK_SKIP_BROWSER=1 "
                    "to skip these checks)", pytrace=False)
    profile = Path(tempfile.mkdtemp(prefix="book-chromium-"))
    cdp = None
    try:
        cdp = Chromium(exe, profile)
        yield cdp
    finally:
        if cdp is not None:
            cdp.close()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- a small CDP client

class Chromium:
    """Headless Chromium driven over the DevTools protocol; one tab, reused page after page."""

    def __init__(self, exe: str, profile: Path):
        import websocket  # websocket-client

        self.log = open(profile / "chromium.log", "wb")
        self.proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # its own process group: close() ends it whole
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{exe} did not start (exit {self.proc.returncode}); "
                                   f"its log: {(profile / 'chromium.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        targets = json.load(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True, http_no_proxy=["127.0.0.1"])
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ["Page", "Runtime", "Log", "Network"]:
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1,
                  mobile=False)

    def _recv(self) -> dict:
        return json.loads(self.ws.recv())

    def send(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = self._recv()
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev["method"] == method:
                    return ev
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = self._recv()
            except Exception:  # websocket timeout: loop to report
                continue
            finally:
                self.ws.settimeout(60)
            if "method" in msg:
                self.events.append(msg)

    def goto(self, url: str, timeout: float = 30) -> None:
        """Open url and return once its load event has fired (not a late one of the page before)."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while True:
            ev = self.wait_for("Page.loadEventFired", max(0.1, deadline - time.monotonic()))
            self.events.remove(ev)
            try:
                if self.evaluate("location.href + ' ' + document.readyState", 10) == f"{url} complete":
                    return
            except RuntimeError:  # the context went away mid-navigation: wait for the next load
                pass

    def evaluate(self, expression: str, timeout: float = 60):
        r = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True,
                      timeout=timeout * 1000)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        import base64
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the browser and its helpers, started by us
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(10)
                time.sleep(0.2)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


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
    out = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {args}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"uncaught exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"console ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
        elif m == "Network.responseReceived" and p.get("response", {}).get("status", 200) >= 400:
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
    time.sleep(0.05)
    browser.send("Runtime.evaluate", expression="0")  # collect events that arrived meanwhile
    problems = problems_in_events(browser.events, server)

    problems += [f"image with no natural size: {i['src']}" for i in report["images"] if not (i["w"] > 0 and i["h"] > 0)]
    problems += broken_links(report["links"], server, built_book)
    if report["mathElements"] and not report["hasMathJax"]:
        problems.append("the page has math but does not load MathJax")
    if report["mathjaxError"]:
        problems.append(f"MathJax failed: {report['mathjaxError']}")
    problems += [f"math not typeset: {t}" for t in report["untypeset"]]
    problems += [f"TeX error in math: {t}" for t in report["texErrors"]]
    problems += [f"raw TeX or a stray $ in the page's text (math that did not parse): {t!r}" for t in report["raw"]]

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
