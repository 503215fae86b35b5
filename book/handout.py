"""Make the students' copy of the book: what `make book` needs, without the solutions or grading tools.

    python book/handout.py            # -> _handout/resnet-book/ and _handout/resnet-book.tar.gz
    python book/handout.py --out DIR  # -> DIR/resnet-book/ and DIR/resnet-book.tar.gz

A teacher hands this out instead of the repository: the repository holds the exercises' solutions
(chapters/exercises/solutions/, and in its git history), the grader and the test suite. The copy holds
the chapters, the students' versions of the exercises, img/, experiments/ (the script and the results
chapter 3b plots, without its checkpoints), book/ (`make book`, `make html`),
d2lutils/ without its grading module, and the README, Makefile, pyproject.toml and environment.yml;
and the Chinese edition, zh/ (`make book-zh`), when the repository has it, likewise without solutions.
The teacher's guide and the speaker's notes in the chapters (the slides' `notes` cells) are left
out too. It has no .git folder, so no history to dig solutions out of. The exercise checks stay: they compare
a student's block with the library's reference blocks in d2lutils/models.py, which a student can
read, as the checks need them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "resnet-book"
FILES = ["README.md", "Makefile", "pyproject.toml", "environment.yml"]
FOLDERS = ["chapters", "img", "book", "d2lutils", "experiments"]  # experiments/: chapter 3b plots its results
OPTIONAL = ["zh"]   # the Chinese edition (book/i18n.py generate), once it exists
# never copied, wherever they are: the solutions, the grader, the teacher's guide and the teacher's
# pages (zh/docs, the Chinese docs/; the English docs/ is not copied at all), and what a run leaves behind
LEFT_OUT = shutil.ignore_patterns("solutions", "grading.py", "teachers_guide.ipynb", "docs", "_build", "checkpoints",
                                  "_handout", "__pycache__", ".ipynb_checkpoints", "*.pyc",
                                  "*.egg-info", "*.params")


def without_speaker_notes(path: Path) -> None:
    """Drop the cells a teacher's slides keep as speaker notes (slideshow slide_type 'notes')."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    kept = [c for c in nb.cells if c.metadata.get("slideshow", {}).get("slide_type") != "notes"]
    if len(kept) != len(nb.cells):
        nb.cells = kept
        nbformat.write(nb, path)


def make(out: Path, root: Path = REPO) -> Path:
    """Write out/resnet-book/ (replacing an old one) and out/resnet-book.tar.gz; return the folder."""
    target = out / NAME
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(root / name, target / name)
    for name in FOLDERS + [n for n in OPTIONAL if (root / n).is_dir()]:
        shutil.copytree(root / name, target / name, ignore=LEFT_OUT)
    for notebook in [*(target / "chapters").rglob("*.ipynb"), *(target / "zh").rglob("*.ipynb")]:
        without_speaker_notes(notebook)
    with tarfile.open(out / f"{NAME}.tar.gz", "w:gz") as tar:
        tar.add(target, arcname=NAME)
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "_handout", help="folder to write into")
    args = ap.parse_args(argv)
    target = make(args.out.resolve())
    print(f"handout: {target} and {target}.tar.gz: the book without solutions or grading tools; "
          f"students unpack it and run make book")
    return 0


if __name__ == "__main__":
    sys.exit(main())
