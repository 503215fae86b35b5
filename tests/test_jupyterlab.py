"""JupyterLab as a reader opens the book: `make book` runs book/lab.sh, and so does this test.

The server is book/lab.sh itself (so the two cannot drift), with --no-browser, a free port and a
token; as root the script adds --allow-root by itself. The test gives it its own Jupyter data,
runtime, config, settings and workspace folders: lab.sh then signs the notebooks in a throw-away
trust database instead of the user's, checkpoints go there too, and autosave is off, so that running
a chapter in the page never writes to the repository (checked). In headless Chromium (Selenium,
tests/headless_chromium.py) at a 1280x800 window it checks that:
- the server's root is the repository and the page it opens is chapter 0;
- every notebook of the book, opened WITHOUT running it, loads every image (no 404 in the server's
  log or the browser's, every <img> has a natural size) and draws every stored figure (one image per
  figure output, no "<Figure size ...>" text in its place), none wider than the output area;
- once each notebook's kernel is up, its tab is not marked modified (●): the stored metadata is what
  JupyterLab writes (book/normalize.py);
- the lab shows no grading tools (nbgrader's menu, Validate button, Create Assignment panel, server
  extensions) though the test's environment has nbgrader, and no "news?" pop-up;
- chapter 0 runs through the page (Run > Run All Cells, quick profile) with no error or stderr output.
It saves screenshots under book/_build/screenshots/lab-*.png and stops every process it started.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

import headless_chromium

REPO = Path(__file__).resolve().parents[1]
LAB_SCRIPT = REPO / "book" / "lab.sh"
JUPYTER = Path(sys.executable).parent / "jupyter"
# the notebooks lab.sh signs: every one under chapters/
NOTEBOOKS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
WINDOW = (1280, 800)  # a common laptop screen; JupyterLab shows its file browser beside the notebook
SHOTS = REPO / "book" / "_build" / "screenshots"
FIGURE_TYPES = ("image/svg+xml", "image/png", "image/jpeg")
# A server stops within seconds of SIGTERM (1-5 s measured here, loaded, with two kernels to end).
STOP_SECONDS = 15


class Lab:
    """The JupyterLab server that book/lab.sh started, and its log."""

    def __init__(self, home: Path, options: tuple[str, ...] = ()):
        """``options``: lab.sh's own, before the server's (``("--zh",)``: the Chinese edition)."""
        self.home = home
        self.token = secrets.token_hex(16)
        with socket.socket() as s:  # a free port; --ServerApp.port_retries=0 fails loudly if taken
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        settings = home / "settings" / "@jupyterlab" / "docmanager-extension"
        settings.mkdir(parents=True)
        (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        # JupyterLab makes a checkpoint of each notebook it opens: here, not in chapters/
        config = home / "config"
        config.mkdir()
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"FileCheckpoints": {"checkpoint_dir": str(home / "checkpoints")}}))
        env = dict(os.environ, JUPYTER=str(JUPYTER), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(config),
                   JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
                   PYTHONFAULTHANDLER="1")  # a stuck server's stacks on SIGABRT (stop)
        self.log_path = home / "server.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["sh", str(LAB_SCRIPT), *options, "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}"],
            cwd=home, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.api("status")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"book/lab.sh did not start a server (exit {self.proc.returncode}); "
                                       f"its log:\n{self.log_text()[-3000:]}")
                time.sleep(0.5)

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.url + "api/" + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def open_url(self) -> str:
        """The address lab.sh's server hands the browser it would open (its runtime folder's
        jpserver-file-to-run-*-open.html)."""
        pages = list((self.home / "runtime").glob("jpserver-file-to-run-*-open.html"))
        assert pages, "the server wrote no page to open: book/lab.sh did not name a notebook to open"
        return re.search(r'href="([^"]+)"', pages[0].read_text()).group(1)

    def shut_down_kernels(self) -> None:
        """End every notebook's session and kernel once each kernel is up (a kernel ended while still
        starting holds up the server's next kernel connections for a minute), and wait until they
        are gone. Call it with no page connected to them: a page would try to reconnect."""
        # On two loaded cores (CI runs the suite in two workers) one of a dozen kernels opened in a row
        # was seen to stay 'starting' for over a minute with no page connected; it is cleanup, not
        # what a reader sees, so after two minutes it is ended like the others.
        deadline = time.monotonic() + 120
        while any(k["execution_state"] == "starting" for k in self.api("kernels")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")
        for kernel in self.api("kernels"):
            try:
                self.api(f"kernels/{kernel['id']}", method="DELETE")
            except urllib.error.HTTPError as e:
                if e.code != 404:  # 404: it went with its session meanwhile
                    raise
        while self.api("kernels"):
            assert time.monotonic() < deadline, f"kernels still running: {self.api('kernels')}"
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM: the server shuts its kernels down and exits, in a few seconds. One still running
        STOP_SECONDS later is stuck (a fresh-clone run saw one outlive SIGTERM by 30 s, which runs
        here did not reproduce): SIGABRT then makes it write every thread's stack to its log
        (PYTHONFAULTHANDLER), and a warning in the test report says where it was stuck. Then
        anything of ours still running is killed."""
        started = headless_chromium.descendants(self.proc.pid) + [self.proc.pid]
        log_from = len(self.log_text())
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            warnings.warn(f"book/lab.sh's server was still running {STOP_SECONDS} s after SIGTERM; its "
                          f"log from then on, with its threads' stacks:\n{self.log_text()[log_from:][-6000:]}")
        headless_chromium.end_processes(started, grace=10)
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def browser(lab):
    driver = headless_chromium.start(*WINDOW)
    try:
        yield driver
    finally:
        headless_chromium.stop(driver)


# What the open notebook shows: its cells, its images and its figure outputs. Each figure is scrolled
# into view before it is measured (JupyterLab skips the layout of cells out of view).
NOTEBOOK_STATE_JS = r"""
const sleep = ms => new Promise(r => setTimeout(r, ms));
const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'));
if (!panel) return null;
const nb = panel.querySelector('.jp-Notebook');
const outputs = [...nb.querySelectorAll('.jp-OutputArea-output')];
const figures = [];
for (const o of outputs.filter(o => o.matches('.jp-RenderedSVG, .jp-RenderedImage'))) {
  const img = o.querySelector('img');
  if (arguments[0] && img) { o.scrollIntoView({block: 'center'}); await sleep(50); }
  figures.push({drawn: !!img && img.complete && img.naturalWidth > 0,
                width: img ? Math.round(img.getBoundingClientRect().width) : 0,
                room: o.clientWidth, scrolls: o.scrollWidth > o.clientWidth + 1});
}
const current = document.querySelector('.lm-DockPanel .lm-TabBar-tab.lm-mod-current');
return {
  tab: current?.querySelector('.lm-TabBar-tabLabel')?.textContent,
  modified: !!current?.classList.contains('jp-mod-dirty'),
  kernel: panel.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status'),
  cells: nb.querySelectorAll('.jp-Cell').length,
  images: [...nb.querySelectorAll('img')].map(i => ({src: (i.getAttribute('src') || '').slice(0, 100),
    complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})),
  figures,
  figureText: outputs.filter(o => /<Figure size|Cannot display an untrusted/.test(o.textContent))
                     .map(o => o.textContent.trim().slice(0, 80)),
  prompts: [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim()),
  stderr: [...nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(o => o.textContent.trim().slice(0, 300)),
};
"""


def notebook_state(driver, measure: bool = False) -> dict | None:
    return driver.execute_script(f"return (async () => {{{NOTEBOOK_STATE_JS}}})(...arguments)", measure)


def wait_for(driver, ready, what: str, timeout: float = 90) -> dict:
    """Poll the notebook until ready(state) holds; the last state, for the test's own messages."""
    deadline = time.monotonic() + timeout
    while True:
        state = notebook_state(driver)
        if state and ready(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {timeout} s; the page shows {state}", pytrace=False)
        time.sleep(0.5)


def stored_figures(nb: dict) -> int:
    return sum(1 for c in nb["cells"] for o in c.get("outputs", [])
               if any(t in o.get("data", {}) for t in FIGURE_TYPES))


def open_notebook(lab: Lab, driver, path: str) -> tuple[dict, dict]:
    """Open path in JupyterLab (a fresh workspace, nothing run) and wait until its cells, images and
    stored figures are on the page."""
    nb = json.loads((REPO / path).read_text(encoding="utf-8"))
    driver.get("about:blank")
    headless_chromium.console_errors(driver)  # forget the last page's messages
    driver.get(f"{lab.url}lab/tree/{path}?reset&token={lab.token}")
    wait_for(driver, lambda s: s["tab"] == Path(path).name and s["cells"] == len(nb["cells"])
             and all(i["complete"] for i in s["images"])
             and len(s["figures"]) + len(s["figureText"]) >= stored_figures(nb),
             f"{path} opened in JupyterLab with its {len(nb['cells'])} cells, images and figures")
    return nb, notebook_state(driver, measure=True)


def page_errors(driver) -> list[str]:
    """The browser's error messages, less Chromium's note that it did not ask "leave the page?" when
    the test left the notebook before: JupyterLab asks that for a notebook with unsaved changes, and
    opening one whose stored kernel name differs from the kernel's updates its metadata."""
    return [e for e in headless_chromium.console_errors(driver)
            if "Blocked attempt to show a 'beforeunload' confirmation panel" not in e]


def server_log_404s(lab: Lab, since: int) -> list[str]:
    return [line for line in lab.log_text()[since:].splitlines() if re.search(r"\b404 (GET|HEAD)\b", line)]


def test_lab_serves_the_repository_and_opens_chapter_0(lab, browser):
    """The root is the repository (the README, img/ and d2lutils/ can be browsed), and the address
    lab.sh hands the browser opens chapter 0."""
    names = {item["name"] for item in lab.api("contents")["content"]}
    assert {"README.md", "img", "d2lutils", "chapters"} <= names, f"the server's root shows {sorted(names)}"
    url = lab.open_url()
    assert "/lab/tree/chapters/00_how_to_use.ipynb" in url, f"lab.sh opens {url}"
    browser.get(url.replace("localhost", "127.0.0.1"))
    state = wait_for(browser, lambda s: s["tab"] == "00_how_to_use.ipynb", "chapter 0 is the open tab")
    assert state["cells"] > 0


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_shows_its_images_and_stored_figures_before_running(path, lab, browser):
    log_from = len(lab.log_text())
    nb, state = open_notebook(lab, browser, path)
    time.sleep(0.2)  # late messages reach the logs
    problems = page_errors(browser) + server_log_404s(lab, log_from)
    problems += [f"image not drawn: {i['src']}" for i in state["images"] if not (i["w"] > 0 and i["h"] > 0)]
    figures = stored_figures(nb)
    if len(state["figures"]) != figures:
        problems.append(f"the notebook stores {figures} figures, the page has {len(state['figures'])} figure outputs")
    problems += [f"a stored figure is not drawn: {f}" for f in state["figures"] if not f["drawn"]]
    problems += [f"a figure shown as text (untrusted notebook?): {t!r}" for t in state["figureText"]]
    problems += [f"a figure {f['width']} px wide in an output area of {f['room']} px: the reader has to scroll"
                 for f in state["figures"] if f["scrolls"]]
    # stored metadata that differs from what the kernel reports shows the tab modified before any edit
    if turns_modified(browser, path):
        problems.append("it opens modified (●): its stored metadata is not what JupyterLab writes "
                        f"(python book/normalize.py {path})")
    assert not problems, f"{path} in JupyterLab, before running it:\n  " + "\n  ".join(problems)


def turns_modified(browser, path: str) -> bool:
    """Whether the open notebook's tab shows modified (●) once its kernel is up: JupyterLab writes the
    kernel's kernelspec and language_info a moment after the kernel is ready, so watch a few seconds."""
    wait_for(browser, lambda s: s["kernel"] == "idle", f"{path}'s kernel is ready", 120)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and not notebook_state(browser)["modified"]:
        time.sleep(0.25)
    return notebook_state(browser)["modified"]


def test_a_notebook_run_on_another_python_does_not_open_modified(lab, browser):
    """The chapters store the Python version they were executed on; a reader's kernel is often another
    (Debian 12's python3.11 is 3.11.2), and JupyterLab marked every chapter modified there. The book's
    server (book/jupyter/jupyter_server_config.py) hands a notebook out with its own Python's version."""
    folder = REPO / "book" / "_build" / "lab-check"
    folder.mkdir(parents=True, exist_ok=True)
    nb = json.loads((REPO / "chapters" / "02_batch_norm.ipynb").read_text(encoding="utf-8"))
    nb["cells"] = nb["cells"][:1]
    nb["metadata"]["language_info"]["version"] = "3.0.0"
    path = folder / f"other_python_{os.getpid()}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    try:
        open_notebook(lab, browser, path.relative_to(REPO).as_posix())
        assert not turns_modified(browser, path.name), \
            "a notebook stored by Python 3.0.0 opens modified (●) in the book's JupyterLab"
    finally:
        path.unlink()


# What a student should not see: the teacher's grading tools and the news pop-up.
LEAN_JS = r"""
return {
  menus: [...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(e => e.textContent.trim()),
  buttons: [...document.querySelectorAll('.jp-Toolbar button, .jp-ToolbarButtonComponent')]
             .map(e => (e.textContent + ' ' + (e.getAttribute('title') || '')).trim()),
  tabs: [...document.querySelectorAll('.lm-TabBar-tab')].map(e => e.getAttribute('title') || e.textContent),
  toasts: [...document.querySelectorAll('.Toastify__toast')].map(e => e.textContent.trim().slice(0, 120)),
};
"""


def test_the_students_lab_is_lean(lab, browser):
    """The environment of `make test` holds nbgrader (its menu, Validate button and Create Assignment
    panel) and JupyterLab asks about news on a first start: the book's lab shows neither, and does
    not search for language servers (book/jupyter/jupyter_server_config.json)."""
    open_notebook(lab, browser, "chapters/00_how_to_use.ipynb")
    wait_for(browser, lambda s: s["kernel"] == "idle", "chapter 0's kernel is ready", 120)
    time.sleep(3)  # the news question comes a moment after the page is up
    seen = browser.execute_script(LEAN_JS)
    problems = [f"menu '{m}'" for m in seen["menus"] if "grader" in m.lower()]
    problems += [f"toolbar button '{b}'" for b in seen["buttons"] if re.search(r"validate|grader", b, re.I)]
    problems += [f"side panel '{t}'" for t in seen["tabs"] if re.search(r"grader|create assignment", t or "", re.I)]
    problems += [f"pop-up '{t}'" for t in seen["toasts"] if "news" in t.lower()]
    problems += [f"server log: {line.strip()}" for line in lab.log_text().splitlines() if "nbgrader" in line.lower()]
    # jupyter-lsp's search for language servers (npm runs in a thread a stopping server waits for)
    problems += [f"server log: {line.strip()[:120]}" for line in lab.log_text().splitlines()
                 if "non-installed server" in line]
    assert seen["menus"] and seen["tabs"], f"the page showed no menus or side panels: {seen}"
    assert not problems, "the student's JupyterLab shows the teacher's tools or a pop-up:\n  " + "\n  ".join(problems)


def test_chapter_0_runs_in_the_page(lab, browser, tmp_path):
    """Clear the outputs, Run All Cells from the menu, and wait: every code cell ran, in order, with no
    error or stderr output, and its figure is drawn. Screenshots of the result and of chapter 3."""
    path = "chapters/00_how_to_use.ipynb"
    stored = (REPO / path).read_bytes()
    browser.get("about:blank")
    lab.shut_down_kernels()  # the kernels of the notebooks opened before: chapter 0 gets a fresh one
    nb, _ = open_notebook(lab, browser, path)
    code_cells = sum(c["cell_type"] == "code" for c in nb["cells"])
    click_menu(browser, "Edit", "Clear Outputs of All Cells")
    wait_for(browser, lambda s: all(p == "[ ]:" for p in s["prompts"]), "the outputs are cleared", 30)
    click_menu(browser, "Run", "Run All Cells")
    state = wait_for(browser, lambda s: all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]),
                     "every code cell of chapter 0 has run", 240)
    assert state["prompts"] == [f"[{i}]:" for i in range(1, code_cells + 1)], \
        f"Run All stopped or ran out of order: {state['prompts']}"
    # JupyterLab shows an error (a traceback) as stderr too; and Run All stops at the first one
    assert not state["stderr"], f"chapter 0 wrote errors or warnings: {state['stderr']}"
    state = wait_for(browser, lambda s: len(s["figures"]) == stored_figures(nb)
                     and all(f["drawn"] for f in s["figures"]), "chapter 0's figure is drawn again", 30)
    assert (REPO / path).read_bytes() == stored, f"the test's JupyterLab saved {path}: is autosave on?"
    shots = [screenshot_of(browser, ".jp-RenderedSVG", SHOTS / "lab-00_how_to_use-run.png")]
    open_notebook(lab, browser, "chapters/03_residual_block.ipynb")
    shots.append(screenshot_of(browser, ".jp-RenderedMarkdown img", SHOTS / "lab-03_residual_block.png"))
    shots.append(screenshot_of(browser, ".jp-RenderedSVG", SHOTS / "lab-03_residual_block-figure.png"))
    for shot in shots:
        (tmp_path / shot.name).write_bytes(shot.read_bytes())
        assert shot.stat().st_size > 10_000, f"{shot} is suspiciously small: a blank page?"
    print("\nscreenshots: " + ", ".join(map(str, shots)))


def click_menu(driver, menu: str, item: str) -> None:
    """Choose menu > item from JupyterLab's menu bar, as a reader would."""
    from selenium.webdriver.common.by import By

    def labelled(selector: str, text: str):
        found = [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.text.strip() == text]
        assert found, f"JupyterLab shows no '{text}' ({selector})"
        return found[0]

    labelled(".lm-MenuBar-itemLabel", menu).click()
    deadline = time.monotonic() + 10
    while not any(e.text.strip() == item for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")):
        assert time.monotonic() < deadline, f"the {menu} menu has no '{item}'"
        time.sleep(0.2)
    labelled(".lm-Menu-itemLabel", item).click()


def screenshot_of(driver, selector: str, path: Path) -> Path:
    """A screenshot of the page with the first element matching selector in the middle of it."""
    driver.execute_script("document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})", selector)
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(driver.get_screenshot_as_png())
    return path
