"""`make handout` (book/handout.py): the students' copy of the book has no solutions and no grading
tools, and the book runs from it.

"No solution code": every line of 20 characters or more that the solution notebooks hold between
`### BEGIN SOLUTION` and `### END SOLUTION`, and that no chapter or students' version shows anyway,
appears in no file of the copy outside d2lutils/ (whose reference blocks the exercise checks compare
against; book/handout.py says so). "Runs": the students' bottleneck notebook, executed in the copy
with the copy's d2lutils first on the path (quick profile), gets as far as the checks, which say
what to write (no import error).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from book import handout

REPO = Path(__file__).resolve().parents[1]


def solution_lines() -> set[str]:
    """The solutions' own lines: in a solution block, and in no chapter or students' version."""
    lines = set()
    for path in (REPO / "chapters" / "exercises" / "solutions").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", "".join(cell["source"]), re.S):
                lines |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 20}
    shown = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "chapters").glob("**/*.ipynb")
                      if "solutions" not in p.parts)
    return {ln for ln in lines if ln not in shown}


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    return handout.make(tmp_path_factory.mktemp("handout"))


def test_the_copy_has_no_solutions_or_grading_tools(copy):
    files = [p for p in copy.rglob("*") if p.is_file()]
    names = {p.relative_to(copy).as_posix() for p in files}
    assert "chapters/exercises/bottleneck.ipynb" in names and "chapters/05_training_resnet.ipynb" in names
    assert "Makefile" in names and any(n.startswith("d2lutils/") and n.endswith("checks.py") for n in names)
    left = [n for n in names if "solutions/" in n or n.endswith("grading.py") or n.startswith(("tests/", ".git"))]
    assert not left, f"the handout holds {left}"
    found = leaks(copy)
    assert not found, "solution code in the handout:\n  " + "\n  ".join(found)
    assert "chapters/teachers_guide.ipynb" not in names
    teachers = [n for n in names if n == "zh/chapters/teachers_guide.ipynb" or n.startswith(("docs/", "zh/docs/"))]
    assert not teachers, f"the handout holds the teacher's pages {teachers}"


def slide_types(path: Path) -> list:
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type")
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def test_the_copy_has_no_speaker_notes(copy):
    """The chapters' speaker's notes (slides' notes cells) are for the teacher: the repository's
    chapters have them, the handout's none, and every other cell is kept."""
    for chapter in sorted((REPO / "chapters").glob("[0-9]*.ipynb")):
        ours, theirs = slide_types(chapter), slide_types(copy / "chapters" / chapter.name)
        assert "notes" not in theirs, f"{chapter.name}: speaker's notes in the handout"
        assert len(theirs) == len(ours) - ours.count("notes"), chapter.name
    assert any("notes" in slide_types(c) for c in (REPO / "chapters").glob("[0-9]*.ipynb")), \
        "no chapter has speaker's notes: the test above checks nothing"
    assert (copy.parent / f"{handout.NAME}.tar.gz").stat().st_size > 100_000


def leaks(root: Path) -> list[str]:
    """Solution lines in the files under root, outside d2lutils/."""
    lines = solution_lines()
    assert len(lines) > 10, f"found only {len(lines)} solution lines: has the solution marker changed?"
    return sorted(f"{p.relative_to(root)}: {ln}" for p in root.rglob("*")
                  if p.is_file() and p.suffix in (".ipynb", ".py", ".md", ".yml", ".sh")
                  and "d2lutils" not in p.relative_to(root).parts
                  for ln in lines if ln in p.read_text(errors="replace"))


def test_the_leak_check_finds_a_solution(tmp_path):
    """The check above can fail: a solution notebook copied under another name is found."""
    solution = next((REPO / "chapters" / "exercises" / "solutions").glob("*.ipynb"))
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "my_notes.ipynb").write_text(solution.read_text(encoding="utf-8"))
    assert leaks(tmp_path)


def test_the_book_runs_from_the_copy(copy):
    env = dict(os.environ, PYTHONPATH=str(copy), D2LUTILS_PROFILE="quick")
    where = subprocess.run([sys.executable, "-c", "import d2lutils; print(d2lutils.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert where.stdout.strip().startswith(str(copy)), f"d2lutils came from {where.stdout}{where.stderr}"
    make = subprocess.run(["make", "-n", "book"], cwd=copy, capture_output=True, text=True, timeout=60)
    assert make.returncode == 0 and 'pip install --quiet -e ".[cpu]"' in make.stdout, make.stdout + make.stderr
    exercise = copy / "chapters" / "exercises" / "bottleneck.ipynb"
    r = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                        "--allow-errors", "--stdout", exercise.name], cwd=exercise.parent, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    outputs = [o for c in json.loads(r.stdout)["cells"] for o in c.get("outputs", [])]
    errors = [o["ename"] for o in outputs if o["output_type"] == "error"]
    assert not {"ModuleNotFoundError", "ImportError", "AttributeError"} & set(errors), errors
    assert any("not written yet" in json.dumps(o) for o in outputs), "the checks did not run"


def test_the_copy_has_the_results_chapter_3b_reads(copy):
    """Chapter 3b plots experiments/*.json, the committed results of experiments/depth.py: a handout
    without them would fail in the chapter's first plot. Checkpoints (resumable state) stay out."""
    import re
    source = (REPO / "chapters" / "03b_plain_vs_residual.ipynb").read_text(encoding="utf-8")
    read = set(re.findall(r"(depth\w*results\.json)", source))
    assert read, "chapter 3b names no results file: has the loader changed?"
    for name in read:
        assert (copy / "experiments" / name).is_file(), f"the handout lacks experiments/{name}"
    assert not (copy / "experiments" / "checkpoints").exists()
