"""The Chinese edition in JupyterLab: `make book-zh` runs book/lab.sh --zh, and so does this test.

The server is the root conftest's lab fixture, tests/test_jupyterlab.py's Lab (its own Jupyter folders,
a token, autosave off), with lab.sh's option --zh (LAB_OPTIONS). In headless Chromium it checks that:
- the page lab.sh opens is the Chinese chapter 0, zh/chapters/00_how_to_use.ipynb, and JupyterLab's
  own interface is in Chinese (the language pack, made the default by book/jupyter-zh/): its menus
  say 文件, 编辑, 运行 ... and not File, Edit, Run;
- the Chinese chapter 3, opened without running it, shows its Chinese text, its diagram
  (../img/residual_block.svg through the zh/img link) and its stored figure, with no 404 and no
  error in the browser.
Needs zh/ (book/i18n.py generate), the `zh` extra and headless Chromium.
"""
from __future__ import annotations

import time

import pytest

from test_jupyterlab import (notebook_state, open_notebook, page_errors, server_log_404s,
                             stored_figures, wait_for)
from test_jupyterlab import browser  # noqa: F401  (the same browser fixture, on this module's lab)

CHAPTER_0 = "zh/chapters/00_how_to_use.ipynb"
CHAPTER_3 = "zh/chapters/03_residual_block.ipynb"
ENGLISH_MENUS = {"File", "Edit", "View", "Run", "Kernel", "Tabs", "Settings", "Help"}
# The root conftest's lab fixture starts book/lab.sh with these options, as `make book-zh` does; without
# zh/ lab.sh says to run python book/i18n.py generate, and the fixture fails with its words.
LAB_OPTIONS = ("--zh",)


DIAGRAM = "/zh/img/residual_block.svg"
HEADING_JS = "return document.querySelector('.jp-RenderedMarkdown h1')?.textContent || ''"
MENUS_JS = "return [...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(e => e.textContent.trim());"


def test_the_chinese_lab_opens_chapter_0_in_a_chinese_interface(lab, browser):
    url = lab.open_url()
    assert f"/lab/tree/{CHAPTER_0}" in url, f"lab.sh --zh opens {url}"
    browser.get(url.replace("localhost", "127.0.0.1"))
    wait_for(browser, lambda s: s["tab"] == "00_how_to_use.ipynb", "the Chinese chapter 0 is the open tab")
    deadline = time.monotonic() + 60
    while not (menus := browser.execute_script(MENUS_JS)) or "文件" not in menus:
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab's menus are {menus}, not Chinese (文件, 编辑, ...): is the language "
                        "pack installed (pyproject's zh extra) and book/jupyter-zh on the config path?",
                        pytrace=False)
        time.sleep(0.5)
    assert {"文件", "编辑", "运行"} <= set(menus) and not ENGLISH_MENUS & set(menus), menus


def test_a_chinese_chapter_shows_its_text_diagram_and_stored_figure(lab, browser):
    log_from = len(lab.log_text())
    nb, state = open_notebook(lab, browser, CHAPTER_3)
    # JupyterLab renders markdown after the cells exist; on a loaded machine the diagram's <img> can
    # come seconds later. Wait for it (a missing diagram still fails, after the timeout, below).
    wait_for(browser, lambda s: any(DIAGRAM in i["src"] for i in s["images"])
             and all(i["complete"] for i in s["images"]), f"{DIAGRAM} is rendered", timeout=60)
    deadline = time.monotonic() + 30
    while not browser.execute_script(HEADING_JS) and time.monotonic() < deadline:
        time.sleep(0.5)
    state = notebook_state(browser, measure=True)
    time.sleep(0.2)  # late messages reach the logs
    problems = page_errors(browser) + server_log_404s(lab, log_from)
    if not any(DIAGRAM in i["src"] for i in state["images"]):
        problems.append(f"the diagram residual_block.svg is not on the page: {state['images']}")
    problems += [f"image not drawn: {i['src']}" for i in state["images"] if not (i["w"] > 0 and i["h"] > 0)]
    figures = stored_figures(nb)
    if not figures or len(state["figures"]) != figures:
        problems.append(f"the notebook stores {figures} figures, the page has {len(state['figures'])}")
    problems += [f"a stored figure is not drawn: {f}" for f in state["figures"] if not f["drawn"]]
    problems += [f"a figure shown as text (untrusted notebook?): {t!r}" for t in state["figureText"]]
    title = next(line[2:] for c in nb["cells"] if c["cell_type"] == "markdown"
                 for line in "".join(c["source"]).splitlines() if line.startswith("# "))
    shown = browser.execute_script(HEADING_JS)
    if title.strip() not in shown:
        problems.append(f"the chapter's Chinese title {title!r} is not its first heading on the page ({shown!r})")
    assert not problems, f"{CHAPTER_3} in the Chinese JupyterLab:\n  " + "\n  ".join(problems)
