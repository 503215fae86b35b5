"""Build the book as a static HTML site from the outputs stored in the notebooks.

    python book/build.py            # -> book/_build/html/index.html
    python book/build.py --serve    # build, then serve it on http://127.0.0.1:8000/

What it does, in order:
1. finds the chapters (chapters/NN_*.ipynb) and the students' exercise versions
   (chapters/exercises/*.ipynb; never chapters/exercises/solutions/), and checks them against
   book/chapters.yml: a chapter notebook with no entry there, an entry with no notebook, or a
   notebook with no stored outputs fails the build;
2. stages book/_config.yml, the front page (book/index.md with the map generated from
   book/chapters.yml), a generated _toc.yml, chapters/ and img/ into book/_build/src; the exercises
   are staged as handed out, without outputs (a student's saved run stays in their notebook);
3. fetches MathJax (npm package mathjax@3.2.2, checked against a pinned sha512) once into
   book/_build/_cache, so that math renders with no network;
4. runs `jupyter-book build --all --warningiserror --keep-going` (notebooks are never executed:
   execute_notebooks is "off"): any warning, e.g. a broken link or a missing image, fails it;
5. copies MathJax into book/_build/html/_static/mathjax.

Environment: BOOK_SOURCE_ROOT (or --source-root) points at another folder holding chapters/ and
img/ (used to try the machinery on sample notebooks).
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BOOK_DIR = Path(__file__).resolve().parent
REPO = BOOK_DIR.parent

MATHJAX_VERSION = "3.2.2"
MATHJAX_INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
                     "FEsPsjKPZGJvtRZM1vO+geW0OhGw==")
MAP_MARKER = "<!-- book-map -->"
TIMES = REPO / "benchmarks" / "notebook_times.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHAPTER_RE = re.compile(r"^\d\d[a-z]?_[A-Za-z0-9_]+\.ipynb$")  # 03b_...: a chapter between 03 and 04


class BookError(Exception):
    """A problem the person building the book has to fix; the message says what and where."""


@dataclass
class Chapter:
    file: str                       # stem, e.g. "03_residual_block"
    title: str
    teaches: str
    path: Path | None = None        # the notebook, once plan() has found it
    exercises: list = field(default_factory=list)


# --------------------------------------------------------------------------- discovery

def source_root(arg: str | None = None) -> Path:
    root = Path(arg or os.environ.get("BOOK_SOURCE_ROOT") or REPO).resolve()
    if not (root / "chapters").is_dir():
        raise BookError(f"{root} has no chapters/ folder (set --source-root or BOOK_SOURCE_ROOT)")
    return root


def chapter_number(stem: str) -> str:
    """A chapter's number as every page, the map and the README say it: the file name's prefix
    without its leading zero ("03b_plain_vs_residual" -> "3b"), so there is one numbering."""
    m = re.match(r"(\d\d)([a-z]?)_", stem)
    if m is None:
        raise BookError(f"{stem}: a chapter's file name starts with its number, e.g. 03_ or 03b_")
    return str(int(m[1])) + m[2]


def chapter_notebooks(root: Path) -> list[Path]:
    """The chapter notebooks present: chapters/NN_name.ipynb, in file-name order."""
    return sorted(p for p in (root / "chapters").glob("*.ipynb") if CHAPTER_RE.match(p.name))


def exercise_notebooks(root: Path) -> list[Path]:
    """The students' exercise versions present (chapters/exercises/*.ipynb, not solutions/)."""
    return sorted((root / "chapters" / "exercises").glob("*.ipynb"))


def page_paths(root: Path) -> list[str]:
    """The HTML pages the book must have, relative to the html folder (the test opens each)."""
    pages = ["index.html"]
    pages += [f"chapters/{p.stem}.html" for p in chapter_notebooks(root)]
    pages += [f"chapters/exercises/{p.stem}.html" for p in exercise_notebooks(root)]
    return pages + ["search.html", "genindex.html"]


def read_notebook(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BookError(f"{path}: not a readable notebook ({e})") from e


def notebook_title(nb: dict) -> str | None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def count_outputs(nb: dict) -> tuple[int, int]:
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return len(code), sum(len(c.get("outputs", [])) for c in code)


@dataclass
class Exercise:
    file: str                       # stem, e.g. "bottleneck"
    teaches: str = ""
    after: str | None = None        # the chapter to read first
    path: Path | None = None


def read_map(book_dir: Path = BOOK_DIR) -> dict:
    """book/chapters.yml, parsed."""
    return yaml.safe_load((book_dir / "chapters.yml").read_text(encoding="utf-8"))


def load_exercises(book_dir: Path = BOOK_DIR, data: dict | None = None) -> list[Exercise]:
    """The exercises: entries of book/chapters.yml (``data``, when already read)."""
    data = read_map(book_dir) if data is None else data
    out = []
    for i, entry in enumerate(data.get("exercises") or []):
        if "file" not in entry:
            raise BookError(f"book/chapters.yml: exercise entry {i + 1} lacks 'file'")
        out.append(Exercise(entry["file"], entry.get("teaches", ""), entry.get("after")))
    return out


def load_map(book_dir: Path = BOOK_DIR, data: dict | None = None) -> tuple[dict, list[Chapter]]:
    """The profiles: and chapters: of book/chapters.yml (``data``, when already read)."""
    data = read_map(book_dir) if data is None else data
    chapters = []
    for i, entry in enumerate(data.get("chapters") or []):
        missing = {"file", "title", "teaches"} - set(entry)
        if missing:
            raise BookError(f"book/chapters.yml: entry {i + 1} lacks {sorted(missing)}")
        chapters.append(Chapter(entry["file"], entry["title"], entry["teaches"]))
    return data.get("profiles") or {}, chapters


def plan(root: Path) -> tuple[dict, list[Chapter], list[Exercise], list[str]]:
    """Match the notebooks present with book/chapters.yml. Returns notes for the person building;
    raises BookError on what must be fixed."""
    data = read_map()
    profiles, chapters = load_map(data=data)
    errors, notes = [], []
    by_stem = {c.file: c for c in chapters}
    for p in chapter_notebooks(root):
        if p.stem not in by_stem:
            errors.append(f"chapters/{p.name} has no entry in book/chapters.yml: add one "
                          f"(file, title, teaches) where it belongs in reading order")
        else:
            by_stem[p.stem].path = p
    stray = [p.name for p in (root / "chapters").glob("*.ipynb") if not CHAPTER_RE.match(p.name)]
    if stray:
        notes.append(f"not in the book (names must look like NN_name.ipynb or NNb_name.ipynb): {', '.join(sorted(stray))}")
    for c in chapters:
        if c.path is None:
            errors.append(f"chapters/{c.file}.ipynb (listed in book/chapters.yml) does not exist: "
                          f"write it, or remove its entry")
            continue
        nb = read_notebook(c.path)
        if notebook_title(nb) is None:
            errors.append(f"chapters/{c.path.name}: no '# Title' heading in a markdown cell (the page needs one)")
        n_code, n_out = count_outputs(nb)
        if n_code and not n_out:
            errors.append(f"chapters/{c.path.name} has no stored outputs: the book would show none "
                          f"(execute it as CONTRIBUTING.md says, then rebuild)")
    listed = load_exercises(data=data)
    by_ex = {e.file: e for e in listed}
    exercises = []
    for p in exercise_notebooks(root):
        ex = by_ex.get(p.stem)
        if ex is None:
            ex = Exercise(p.stem)
            notes.append(f"chapters/exercises/{p.name} is not listed under exercises: in book/chapters.yml "
                         f"(it gets a page, but the map cannot say what it teaches or where it belongs)")
        ex.path = p
        exercises.append(ex)
        if notebook_title(read_notebook(p)) is None:
            errors.append(f"chapters/exercises/{p.name}: no '# Title' heading in a markdown cell")
        owner = by_stem.get(ex.after) if ex.after else None
        if ex.after and owner is None:
            errors.append(f"book/chapters.yml: exercise {ex.file} comes after '{ex.after}', which is no chapter")
        elif owner:
            owner.exercises.append(ex)
    order = {c.file: i for i, c in enumerate(chapters)}
    exercises.sort(key=lambda e: (order.get(e.after, len(order)), e.file))
    for ex in listed:
        if ex.path is None:
            errors.append(f"chapters/exercises/{ex.file}.ipynb (listed in book/chapters.yml) does "
                          f"not exist: generate it (python -m d2lutils.exercises), or remove its "
                          f"entry")
    if errors:
        raise BookError("the book cannot be built:\n  - " + "\n  - ".join(errors))
    return profiles, chapters, exercises, notes


# --------------------------------------------------------------------------- front page and TOC

def load_times(path: Path = TIMES) -> dict | None:
    """benchmarks/notebook_times.json (written by benchmarks/notebook_times.py on a quiet machine), or
    None before it has run: the map then states no times at all rather than guessed ones."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def fmt_minutes(times: dict | None, notebook: str) -> str:
    seconds = {r["notebook"]: r["seconds"] for r in (times or {}).get("notebooks", [])}.get(notebook)
    return "not timed" if seconds is None else f"{seconds / 60:.1f} min"


def render_map(profiles: dict, chapters: list[Chapter], exercises: list[Exercise],
               times: dict | None = None) -> str:
    def title_of(path: Path, fallback: str) -> str:
        return notebook_title(read_notebook(path)) or fallback

    def ex_link(e: Exercise) -> str:
        return f"[{title_of(e.path, e.file)}](chapters/exercises/{e.path.name})"

    timed = [f"minutes (`{times['profile']}`)"] if times else []
    head = "| no. | chapter | what it teaches | " + " | ".join(timed + ["exercises"]) + " |"
    rows = [head, "|" + " --- |" * (4 + len(timed))]
    for c in chapters:
        nb = read_notebook(c.path)
        title = notebook_title(nb) or c.title
        name = f"[{title}](chapters/{c.file}.ipynb)"
        minutes = [fmt_minutes(times, f"chapters/{c.file}.ipynb")] if times else []
        exs = "<br>".join(ex_link(e) for e in c.exercises) or "—"
        cells = [chapter_number(c.file), name, c.teaches.replace("|", "\\|"), *minutes, exs]
        rows.append("| " + " | ".join(cells) + " |")
    out = ["## The chapters", "", "Read them in order: each builds on the one before. Every training "
           "cell prints its run profile, which sets how much it trains:", ""]
    out += [f"- `{p}`: {desc}" for p, desc in profiles.items()]
    if times:
        m = times["machine"]
        out += ["", f"The minutes are wall-clock time to run a notebook top to bottom in the "
                f"`{times['profile']}` profile, measured by `benchmarks/notebook_times.py` on {times['date']} "
                f"on {m['cpu']} ({m['cores']} cores, Python {m['python']})."]
    out += ["", *rows, ""]
    out += ["## The exercises", "",
            "Each exercise notebook is the students' version: the cells to complete say "
            "`# YOUR CODE HERE` and raise `NotImplementedError` until you do. Their solutions live in "
            "`chapters/exercises/solutions/` in the repository and are not part of this book.", ""]
    by_stem = {c.file: c for c in chapters}
    for e in exercises:
        after = by_stem.get(e.after)
        line = f"- {ex_link(e)}"
        if e.teaches:
            line += f": {e.teaches}"
        if after:
            line += f" (after chapter {chapter_number(after.file)}, {after.title})"
        out.append(line)
    if not exercises:
        out.append("*(no exercise notebooks yet)*")
    return "\n".join(out) + "\n"


def render_toc(chapters: list[Chapter], exercises: list[Exercise]) -> str:
    """The sidebar: each chapter's title led by its number, the one the map and the texts use."""
    parts = []
    if chapters:
        def entry(c: Chapter) -> dict:
            title = notebook_title(read_notebook(c.path)) or c.title
            return {"file": f"chapters/{c.file}", "title": f"{chapter_number(c.file)}. {title}"}
        parts.append({"caption": "Chapters", "chapters": [entry(c) for c in chapters]})
    if exercises:
        parts.append({"caption": "Exercises",
                      "chapters": [{"file": f"chapters/exercises/{e.path.stem}"} for e in exercises]})
    toc = {"format": "jb-book", "root": "index"}
    if parts:
        toc["parts"] = parts
    return "# Generated by book/build.py from the notebooks present; do not edit.\n" + yaml.safe_dump(
        toc, sort_keys=False)


# --------------------------------------------------------------------------- staging and build

def stage(root: Path, src: Path, profiles, chapters, exercises) -> None:
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in ("_config.yml", "favicon.svg"):
        shutil.copy2(BOOK_DIR / name, src / name)
    shutil.copytree(BOOK_DIR / "_ext", src / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    template = (BOOK_DIR / "index.md").read_text(encoding="utf-8")
    if MAP_MARKER not in template:
        raise BookError(f"book/index.md lost the marker {MAP_MARKER} where the map goes")
    (src / "index.md").write_text(template.replace(MAP_MARKER, render_map(profiles, chapters, exercises,
                                                                          load_times())),
                                  encoding="utf-8")
    (src / "_toc.yml").write_text(render_toc(chapters, exercises), encoding="utf-8")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "solutions", "*.pyc")
    shutil.copytree(root / "chapters", src / "chapters", ignore=ignore)
    for e in exercises:
        as_handed_out(src / "chapters" / "exercises" / e.path.name)
    if (root / "img").is_dir():
        shutil.copytree(root / "img", src / "img", ignore=ignore)


def as_handed_out(path: Path) -> None:
    """An exercise's page is the students' version as handed out, with no outputs, whatever a reader
    ran and saved in it: a student's run stores errors such as the checks' "not written yet ..."
    (which Sphinx cannot lex as a traceback, and which fail the build) and, later, a solution. The
    reader's notebook keeps its outputs; only the staged copy is cleared."""
    nb = read_notebook(path)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def fetch_mathjax(cache: Path) -> Path:
    """MathJax's es5/ folder, from the npm registry once (npm pack), checked against the pin."""
    es5 = cache / f"mathjax-{MATHJAX_VERSION}" / "es5"
    if (es5 / "tex-chtml.js").is_file():
        return es5
    if shutil.which("npm") is None:
        raise BookError("npm is needed once to fetch MathJax (apt-get install npm, or Node.js's npm)")
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"mathjax-{MATHJAX_VERSION}.tgz"
    if not tgz.is_file():
        print(f"book: fetching mathjax@{MATHJAX_VERSION} from the npm registry", flush=True)
        r = subprocess.run(["npm", "pack", f"mathjax@{MATHJAX_VERSION}", "--silent",
                            "--pack-destination", str(cache)], capture_output=True, text=True)
        if r.returncode != 0 or not tgz.is_file():
            raise BookError(f"npm pack mathjax@{MATHJAX_VERSION} failed:\n{r.stdout}{r.stderr}")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if digest != MATHJAX_INTEGRITY:
        tgz.unlink()
        raise BookError(f"{tgz.name}: sha512 {digest} is not the pinned {MATHJAX_INTEGRITY}")
    tmp = cache / "_unpack"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")]
        tar.extractall(tmp, members=members, filter="data")
    target = es5.parent
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "package").rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return es5


HINTS = [
    ("image file not readable", "an image the notebook shows is missing: is it in img/, "
                                "and is the relative path right (../img/ from chapters/)?"),
    ("cross-reference target not found", "a link points to a notebook or heading that does not exist"),
    ("Non-consecutive header level", "headings skip a level (e.g. # then ###): use ## "),
    ("doesn't have a title", "the notebook needs a '# Title' heading in its first markdown cell"),
    ("local id not found", "a link's #anchor names no heading on that page; write anchors as Jupyter "
                           "does: #The-heading-text (spaces -> '-', case kept)"),
    ("unknown_mime_type", "an output has a MIME type the book cannot show"),
    ("Document headings start at", "the notebook's first heading must be a '# Title'"),
]


def readable(line: str, src: Path, root: Path) -> str:
    """A warning about a staged copy, said about the notebook in the repository."""
    line = line.replace(str(src / "index.md"), "book/index.md (+ the map from book/chapters.yml)")
    line = line.replace(str(src) + os.sep, str(root) + os.sep)
    # myst-nb numbers notebook lines as cell * 10000 + line within the cell
    return re.sub(r"\.ipynb:(\d{5,}):", lambda m: f".ipynb: cell {int(m[1]) // 10000} (from 1), "
                  f"line {int(m[1]) % 10000}:", line)


def run_jupyter_book(src: Path, out_root: Path, root: Path) -> None:
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(src), "--path-output", str(out_root),
           "--all", "--warningiserror", "--keep-going", "--builder", "html"]
    print("book: " + " ".join(cmd), flush=True)
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    proc.wait()
    plain = [ANSI.sub("", ln) for ln in lines]
    warnings = [ln for ln in plain if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", ln)]
    if proc.returncode != 0 or warnings:
        msg = [f"jupyter-book build failed (exit {proc.returncode}); the build treats every warning "
               f"as an error:"]
        for w in warnings:
            msg.append("  " + readable(w, src, root))
            msg += [f"      -> {hint}" for key, hint in HINTS if key in w]
        if not warnings:
            msg += plain[-25:]
        raise BookError("\n".join(msg))


def build(root: Path | None = None, out_root: Path | None = None) -> Path:
    root = source_root(root)
    out_root = Path(out_root or BOOK_DIR).resolve()
    build_dir = out_root / "_build"
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once (two pytest runs) take turns
        return _build(root, build_dir, out_root)


def _build(root: Path, build_dir: Path, out_root: Path) -> Path:
    profiles, chapters, exercises, notes = plan(root)
    for n in notes:
        print(f"book: note: {n}")
    es5 = fetch_mathjax(build_dir / "_cache")
    src = build_dir / "src"
    stage(root, src, profiles, chapters, exercises)
    html = build_dir / "html"
    run_jupyter_book(src, out_root, root)
    shutil.copytree(es5, html / "_static" / "mathjax", dirs_exist_ok=True)
    missing = [p for p in page_paths(root) if not (html / p).is_file()]
    if missing:
        raise BookError(f"the build has no page for: {', '.join(missing)}")
    print(f"book: built {len(page_paths(root))} pages from {root}: {html / 'index.html'}")
    return html


def serve(html: Path, port: int) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"book: serving {html} on http://127.0.0.1:{port}/ (Ctrl-C stops)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-root", help="folder with chapters/ and img/ (default: the repository)")
    ap.add_argument("--out", help="folder that gets _build/ (default: book/)")
    ap.add_argument("--serve", action="store_true", help="serve the built book on 127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    try:
        html = build(args.source_root, args.out)
    except BookError as e:
        print(f"\nBOOK BUILD FAILED: {e}", file=sys.stderr)
        return 1
    if args.serve:
        serve(html, args.port)
    else:
        print(f"book: to read it, run  python -m http.server -b 127.0.0.1 -d {html} 8000  "
              f"and open http://127.0.0.1:8000/  (or python book/build.py --serve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
