"""Headless Chromium for the browser tests (test_book.py, test_jupyterlab.py), driven by Selenium.

Selenium talks to Debian's chromedriver (package chromium-driver), which matches Debian's chromium;
Selenium's own driver download is never used (the machines that run these tests may be offline).
The browser's console and network events come back through chromedriver's logs
(`goog:loggingPrefs`): 'browser' holds console messages and failed loads, 'performance' the
DevTools Network events.

Environment: BOOK_CHROMIUM=path/to/chromium, BOOK_CHROMEDRIVER=path/to/chromedriver.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--no-proxy-server", "--hide-scrollbars", "--mute-audio", "--lang=en-US",
    "--disable-dev-shm-usage",
]
INSTALL_HINT = ("apt-get install chromium chromium-driver fonts-noto-cjk (or set BOOK_CHROMIUM and "
                "BOOK_CHROMEDRIVER to their paths)")


def find(env: str, names: list[str]) -> str | None:
    for name in [os.environ.get(env), *names]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def find_chromium() -> str | None:
    return find("BOOK_CHROMIUM", ["chromium", "chromium-browser", "google-chrome"])


def find_chromedriver() -> str | None:
    return find("BOOK_CHROMEDRIVER", ["/usr/bin/chromedriver", "chromedriver"])


def missing() -> str | None:
    """What is missing to run a browser test, in words, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'the Python package selenium (pip install -e ".[test]")'
    if find_chromium() is None:
        return f"chromium ({INSTALL_HINT})"
    if find_chromedriver() is None:
        return f"chromedriver ({INSTALL_HINT})"
    return None


def start(width: int, height: int, network_log: bool = False):
    """A headless Chromium of this window size; network_log=True also records DevTools Network
    events (read them with network_events)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find_chromium()
    for flag in FLAGS + [f"--window-size={width},{height}"]:
        options.add_argument(flag)
    prefs = {"browser": "ALL"}
    if network_log:
        prefs["performance"] = "ALL"
        options.set_capability("goog:perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    options.set_capability("goog:loggingPrefs", prefs)
    driver = webdriver.Chrome(service=Service(find_chromedriver()), options=options)
    driver.set_script_timeout(120)
    driver.set_page_load_timeout(60)
    # the viewport itself at this size (the window's frame would otherwise take some of it)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


def console_errors(driver) -> list[str]:
    """The browser's error messages since the last call: console.error, uncaught exceptions and
    failed loads (chromedriver files them all under 'browser' at level SEVERE)."""
    return [f"console ({e.get('source')}): {e['message']}" for e in driver.get_log("browser")
            if e["level"] == "SEVERE"]


def network_events(driver) -> list[dict]:
    """DevTools events ({'method', 'params'}) since the last call, from the 'performance' log."""
    return [json.loads(e["message"])["message"] for e in driver.get_log("performance")]


def descendants(pid: int) -> list[int]:
    """Every living process below pid (Linux /proc), children first."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def end_processes(pids: list[int], grace: float = 20) -> list[int]:
    """Wait up to grace seconds for pids (processes this test started) to exit, then SIGKILL the
    ones left; returns those that had to be killed."""
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = [p for p in pids if alive(p)]
    for p in killed:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def stop(driver) -> None:
    """Quit the browser and its driver, and make sure none of their processes is left."""
    pid = driver.service.process.pid
    started = descendants(pid) + [pid]
    try:
        driver.quit()
    finally:
        end_processes(started, grace=10)
