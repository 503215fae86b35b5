"""What each make target installs: `make book` what reading needs, `make test` and `make teacher` the
rest (the README's two commands; the student's JupyterLab is checked in tests/test_jupyterlab.py).

The closure of `make book`'s requirements is computed from the metadata of the installed packages
(offline): no test tool and no grading tool may come with the book, directly or through another
package.
"""
from __future__ import annotations

import re
import subprocess
try:
    import tomllib
except ImportError:  # Python 3.10: pytest and import-linter depend on tomli there
    import tomli as tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
TEACHERS_AND_TESTS = {"nbgrader", "nbval", "pytest", "pytest-xdist", "selenium", "jupyter-book"}


def pip_installs(target: str, tmp_path: Path) -> list[str]:
    """The `pip install -e ".[...]"` lines `make -n target` would run in a fresh environment."""
    r = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return re.findall(r'pip install --quiet -e "\.\[([^\]]*)\]"', r.stdout)


def closure(extras: set[str]) -> set[str]:
    """What pyproject.toml's dependencies and these extras need, transitively: the first level from
    pyproject.toml, the rest from the installed packages' metadata (markers evaluated here)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
    seen, todo = set(), []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            todo.append((req.name, frozenset(req.extras)))
    while todo:
        dist_name, dist_extras = todo.pop()
        key = canonicalize_name(dist_name)
        if (key, dist_extras) in seen:
            continue
        seen.add((key, dist_extras))
        try:
            requires = metadata.requires(dist_name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. another platform's package): nothing to follow
        for line in requires:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (dist_extras or {""})):
                todo.append((req.name, frozenset(req.extras)))
    return {k for k, _ in seen}


def test_make_book_installs_only_the_book(tmp_path):
    assert pip_installs("book", tmp_path) == ["cpu"], "make book must install d2lutils[cpu] only"


def test_make_book_zh_installs_the_book_and_its_chinese_interface(tmp_path):
    """`make book-zh`: the reading install and JupyterLab's Chinese language pack, no test tool."""
    assert pip_installs("book-zh", tmp_path) == ["zh,cpu"], "make book-zh must install d2lutils[zh,cpu] only"
    needed = closure({"cpu", "zh"})
    assert "jupyterlab-language-pack-zh-cn" in needed and not needed & TEACHERS_AND_TESTS


@pytest.mark.parametrize("target", ["test", "teacher", "html"])
def test_the_other_targets_install_the_tools(target, tmp_path):
    extras = pip_installs(target, tmp_path)
    assert extras and {"test", "teacher"} <= set(extras[0].split(",")), f"make {target} installs .[{extras}]"


def test_the_books_requirements_hold_no_test_or_grading_tool():
    needed = closure({"cpu"})
    assert "mxnet" in needed and "jupyterlab" in needed, f"the closure looks wrong: {sorted(needed)}"
    assert not needed & TEACHERS_AND_TESTS, f"make book would install {sorted(needed & TEACHERS_AND_TESTS)}"
    full = closure({"cpu", "test", "teacher"})
    assert TEACHERS_AND_TESTS <= full, f"make test would lack {sorted(TEACHERS_AND_TESTS - full)}"
