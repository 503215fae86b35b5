"""Every notebook of the book stores the metadata JupyterLab writes (book/normalize.py), so no chapter
opens "modified" (●); a later `nbconvert --execute` can bring the old metadata back, and then this
fails with the command that fixes it. tests/test_jupyterlab.py checks the tabs in a browser."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from book import normalize

REPO = Path(__file__).resolve().parents[1]


def test_every_notebook_is_normalized():
    paths = normalize.book_notebooks()
    assert any(p.name == "03_residual_block.ipynb" for p in paths) and \
        not any(p.parent.name == "exercises" for p in paths), [str(p) for p in paths]
    bad = {str(p.relative_to(REPO)): why for p in paths
           if (why := normalize.problems(nbformat.read(p, as_version=4)))}
    assert not bad, "not what JupyterLab writes; run python book/normalize.py:\n" + "\n".join(
        f"  {p}: {'; '.join(w)}" for p, w in bad.items())


@pytest.mark.parametrize("damage", ["display_name", "language_info"])
def test_the_normalizer_fixes_what_it_finds(damage, tmp_path, capsys):
    """A notebook as nbconvert left one ('Python 3'), or with a kernel's partial language_info, is
    refused by --check, rewritten by the script, and then passes; its cells are untouched. (The
    script's main() runs in this process: a subprocess per call cost seconds of imports each.)"""
    path = tmp_path / "chapter.ipynb"
    shutil.copy2(REPO / "chapters" / "00_how_to_use.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    if damage == "display_name":
        nb.metadata.kernelspec.display_name = "Python 3"
    else:
        nb.metadata.language_info = {"name": "python"}
    nbformat.write(nb, path)
    assert normalize.main(["--check", str(path)]) == 1
    assert "book/normalize.py" in capsys.readouterr().out
    assert normalize.main([str(path)]) == 0
    assert normalize.main(["--check", str(path)]) == 0
    fixed = nbformat.read(path, as_version=4)
    assert fixed.cells == nbformat.read(REPO / "chapters" / "00_how_to_use.ipynb", as_version=4).cells
