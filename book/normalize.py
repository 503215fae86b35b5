"""Store in each notebook the metadata JupyterLab writes, so that no chapter opens "modified" (●).

    python book/normalize.py chapters/03_residual_block.ipynb ...   # rewrite these, if needed
    python book/normalize.py                  # every notebook under chapters/ (see below)
    python book/normalize.py --check          # exit status 1, naming those not normalized

Why: when JupyterLab opens a notebook its kernel reports its kernelspec and language_info, and
JupyterLab writes them into the notebook's metadata; if they differ from what is stored, the tab
shows ● at once, and closing it asks to save changes the reader never made. `jupyter nbconvert
--execute` keeps an old `display_name` ("Python 3"), so run this after every re-execution.
What it writes: ipykernel's kernelspec (python3, "Python 3 (ipykernel)") and the language_info
ipykernel reports, with this Python's version (the book's notebooks are executed on 3.11); the
check ignores the version, which follows whoever last executed the notebook (the book's JupyterLab
hands a notebook out with its kernel's version: book/jupyter/jupyter_server_config.py).
The students' versions (chapters/exercises/*.ipynb) are left out: d2lutils.exercises generates them
from the solutions, and a test checks they equal what it generates.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def language_info() -> dict:
    """What the book's kernel (ipykernel, on this Python) reports to JupyterLab."""
    from ipykernel.ipkernel import IPythonKernel
    return dict(IPythonKernel.language_info)


def generated_language_info(root: Path = REPO) -> dict:
    """language_info for a page the book generates and never executes (the teacher's guide): the
    kernel's, with the Python version chapter 0 was last executed on, so that generating the page on
    another Python (CI's 3.12 run) writes the same file."""
    info = language_info()
    chapter0 = nbformat.read(root / "chapters" / "00_how_to_use.ipynb", as_version=4)
    info["version"] = chapter0.metadata["language_info"]["version"]
    return info


def book_notebooks(root: Path = REPO) -> list[Path]:
    """Every notebook under chapters/ except the generated students' versions of the exercises."""
    students = set((root / "chapters" / "exercises").glob("*.ipynb"))
    return sorted(p for p in (root / "chapters").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and p not in students)


def problems(nb) -> list[str]:
    """How a notebook's metadata differs from what JupyterLab writes (the version aside)."""
    out = []
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        out.append(f"kernelspec {dict(nb.metadata.get('kernelspec', {}))} (JupyterLab writes {KERNELSPEC})")
    stored = dict(nb.metadata.get("language_info", {}))
    expected = language_info()
    stored.pop("version", None), expected.pop("version", None)
    if stored != expected:
        out.append(f"language_info {stored} (the kernel reports {expected}, and a version)")
    return out


def normalize(path: Path) -> bool:
    """Rewrite path's metadata as JupyterLab would; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    if not problems(nb):
        return False
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info()
    nbformat.write(nb, path)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every one of the book's)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if one is not normalized")
    args = ap.parse_args(argv)
    paths = args.paths or book_notebooks()
    if args.check:
        bad = [(p, problems(nbformat.read(p, as_version=4))) for p in paths]
        bad = [(p, why) for p, why in bad if why]
        for p, why in bad:
            print(f"{p}: {'; '.join(why)}: run python book/normalize.py {p}")
        return 1 if bad else 0
    for p in paths:
        if normalize(p):
            print(f"normalized {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
