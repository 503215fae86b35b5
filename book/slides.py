"""Slides made from the chapters' own cells: one offline reveal.js deck per chapter and per exercise.

    python book/slides.py           # -> book/_build/slides/index.html and one NAME.slides.html per deck
    python book/slides.py --list    # each deck's slides: which cells, how many lines of code and output

Which cells a deck shows, and where a slide starts, is the chapter's own cell metadata, Jupyter's
standard ``slideshow.slide_type`` ("slide", "subslide", "fragment", "-", "skip", "notes"), which RISE
in JupyterLab reads too; there is no second copy of any text. "notes" cells are the speaker's notes;
they carry the tag ``remove-cell`` as well, so the HTML book leaves them out.

A slide must fit a projector (1280x720) with no scrolling, so a cell whose code or output is too long
says, in its metadata ``slides``, which part the slide shows (the chapter's text and outputs stay as
they are):

    "slides": {"lines": [0, 12]}          # source lines 0..11 of the cell (code or markdown)
    "slides": {"output_lines": [0, 8]}    # lines 0..7 of each text output (a table: its text form)
    "slides": {"split": [14]}             # a code cell shown over two slides, cut before line 14

Left-out lines are marked with a line "⋯". ``# NBVAL_IGNORE_OUTPUT`` (a marker for the tests) is not
shown. Each slide may hold at most MAX_LINES lines of code and output; a deck that needs more on one
slide fails the build and says which cell to split or trim.

The decks: every chapter (chapters/NN_*.ipynb) and every exercise's solution notebook
(chapters/exercises/solutions/*.ipynb, whose introduction is the deck; its tasks are "skip").
reveal.js (npm reveal.js@4.6.1) and MathJax (the book's copy, npm mathjax@3.2.2), both checked
against pinned hashes, are fetched once into book/_build/_cache and copied beside the decks.

    python book/slides.py --zh      # the Chinese decks, from zh/ (book/i18n.py), into book/_build/slides/zh/

The Chinese decks are the same cells with the Chinese text. Code and outputs are the English ones, so
their ``lines``, ``output_lines`` and ``split`` hold as they are; a markdown cell's ``lines`` counts the
English cell's lines, which the Chinese text does not have (the generator joins a paragraph's lines),
so the Chinese slide shows the translations of the blocks (paragraphs, lists, tables) whose first line
the English span holds (``translated_span``).
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

BOOK_DIR = Path(__file__).resolve().parent
REPO = BOOK_DIR.parent
sys.path.insert(0, str(REPO))  # run as a script: book.* importable
from book import build as book_build  # noqa: E402
OUT = BOOK_DIR / "_build" / "slides"
CACHE = BOOK_DIR / "_build" / "_cache"
TEMPLATE = BOOK_DIR / "slides_template"

WIDTH, HEIGHT = 1280, 720     # a projector's 720p; the browser test opens every slide at this size
MAX_LINES = 15                # lines of code and output on one slide
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
NOTES_TAG = "remove-cell"     # Jupyter Book leaves a cell with this tag out of the HTML book
OPTIONS = {"lines", "output_lines", "split"}
ELLIPSIS = "⋯"
NBVAL_MARKER = re.compile(r"^# NBVAL_\w+\s*$")

REVEAL_VERSION = "4.6.1"
REVEAL_INTEGRITY = ("sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/"
                    "LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==")
REVEAL_FILES = ("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts/",
                "plugin/notes/notes.js")


# The decks' index page, in each edition's words: (title, heading, how to move)
INDEX_WORDS = {"en": ("Slides", "The book's slides", "Arrow keys move between slides; S opens the "
                      "speaker's notes."),
               "zh-CN": ("幻灯片", "本书的幻灯片", "用方向键在幻灯片之间移动；按S打开演讲者备注。")}
ZH_OUT = OUT / "zh"           # the Chinese decks (--zh), from zh/


class SlidesError(Exception):
    """Something in a notebook's slide metadata, or a missing tool, that its author must fix."""


# --------------------------------------------------------------------------- decks and their cells

def deck_notebooks(root: Path = REPO) -> dict[str, Path]:
    """Deck name -> notebook: the chapters, then each exercise (from its solution notebook)."""
    chapters = book_build.chapter_notebooks(root)
    exercises = book_build.solution_notebooks(root)
    decks = {p.stem: p for p in chapters}
    decks.update({f"exercise-{p.stem}": p for p in exercises})
    return decks


def slide_type(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def _keep(lines: list[str], span, where: str, what: str) -> list[str]:
    """lines[start:stop], with an ELLIPSIS line where lines were left out."""
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(i, int) for i in span)
            and 0 <= span[0] < span[1] <= len(lines)):
        raise SlidesError(f"{where}: slides.{what} must be [start, stop] with 0 <= start < stop <= "
                          f"{len(lines)} (the {what.replace('_', ' ')} it has), not {span!r}")
    start, stop = span
    return ([ELLIPSIS] if start > 0 else []) + lines[start:stop] + ([ELLIPSIS] if stop < len(lines) else [])


def _trim_outputs(outputs: list[dict], span, where: str) -> list[dict]:
    """Each text output cut to span (an output shorter than span keeps what it has); a rich output
    with a text form (a table) shows that form."""
    def text_lines(o):
        if o.get("output_type") == "stream":
            return _text(o["text"]).splitlines()
        data = o.get("data", {})
        if "text/plain" in data and not any(k.startswith("image/") for k in data):
            return _text(data["text/plain"]).splitlines()
        return None

    merged = []
    for o in outputs:  # one stream as the reader sees it (nbconvert joins them the same way)
        if (merged and o.get("output_type") == "stream" and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == o.get("name")):
            merged[-1] = {**merged[-1], "text": _text(merged[-1]["text"]) + _text(o["text"])}
        else:
            merged.append(o)
    outputs = merged
    longest = max((len(t) for t in map(text_lines, outputs) if t is not None), default=0)
    _keep([""] * longest, span, where, "output_lines")  # the span must fit the longest output
    out = []
    for o in outputs:
        o, lines = copy.deepcopy(o), text_lines(o)
        if lines is not None and len(lines) > span[0]:
            kept = "\n".join(_keep(lines, [span[0], min(span[1], len(lines))], where, "output_lines"))
            if o.get("output_type") == "stream":
                o["text"] = kept + "\n"
            else:
                o["data"] = {"text/plain": kept}
        elif lines is not None:
            continue  # nothing of it in the span
        out.append(o)
    return out


def _output_lines(outputs: list[dict]) -> int:
    """Lines of text the outputs show (a figure or an HTML table is measured in the browser)."""
    n = 0
    for o in outputs:
        if o.get("output_type") == "stream":
            n += len(_text(o["text"]).rstrip("\n").splitlines())
        elif o.get("output_type") == "error":
            n += len(o.get("traceback", []))
        elif set(o.get("data", {})) == {"text/plain"}:
            n += len(_text(o["data"]["text/plain"]).splitlines())
    return n


def _block_lines(text: str) -> list[tuple[int, int]]:
    """(first line, line after the last) of each markdown block of ``text`` (book/i18n.py's blocks)."""
    from book import i18n
    out, position = [], 0
    for block, separator in i18n.split_blocks(text):
        if block:
            first = text[:position].count("\n")
            out.append((first, first + block.count("\n") + 1))
        position += len(block) + len(separator)
    return out


def translated_span(english: str, translated: str, span, where: str) -> list[int]:
    """The lines of ``translated`` (a markdown cell's translation, block for block) that show the
    blocks whose first line the English cell's ``span`` holds."""
    ours, theirs = _block_lines(english), _block_lines(translated)
    if len(ours) != len(theirs):
        raise SlidesError(f"{where}: the translation has {len(theirs)} blocks, the English {len(ours)}: "
                          "slides.lines cannot be carried over")
    chosen = [k for k, (first, _) in enumerate(ours) if span[0] <= first < span[1]]
    if not chosen:
        raise SlidesError(f"{where}: slides.lines {span!r} starts no block of the English cell")
    return [theirs[chosen[0]][0], theirs[chosen[-1]][1]]


def slide_cells(nb: dict, name: str, english: dict | None = None) -> list[dict]:
    """The notebook's cells as the deck shows them: options of ``slides`` applied, splits made,
    test markers removed. Raises SlidesError on metadata it cannot follow. ``english``: the English
    notebook a translated one (zh/) was made from; its markdown cells' ``lines`` are carried over."""
    cells = []
    source = {c.get("id"): c for c in english["cells"]} if english is not None else {}
    for i, cell in enumerate(nb["cells"]):
        where = f"{name}, cell {i} (from 0)"
        kind = slide_type(cell)
        if kind not in SLIDE_TYPES:
            raise SlidesError(f"{where}: slideshow.slide_type {kind!r} is not one of {SLIDE_TYPES}")
        if kind == "notes" and NOTES_TAG not in cell.get("metadata", {}).get("tags", []):
            raise SlidesError(f"{where}: a notes cell needs the tag {NOTES_TAG!r} (keeps it out of the "
                              "HTML book)")
        options = cell.get("metadata", {}).get("slides", {})
        unknown = set(options) - OPTIONS
        if unknown:
            raise SlidesError(f"{where}: unknown slides option(s) {sorted(unknown)}; the options are "
                              f"{sorted(OPTIONS)}")
        cell = copy.deepcopy(cell)
        lines = _text(cell["source"]).splitlines()
        if cell["cell_type"] == "code":
            lines = [ln for ln in lines if not NBVAL_MARKER.match(ln)]
        if "lines" in options:
            span = options["lines"]
            if english is not None and cell["cell_type"] == "markdown":
                english_text = _text(source[cell.get("id")]["source"])
                _keep(english_text.splitlines(), span, where, "lines")
                span = translated_span(english_text, _text(cell["source"]), span, where)
            lines = _keep(lines, span, where, "lines")
        if "output_lines" in options:
            if cell["cell_type"] != "code":
                raise SlidesError(f"{where}: slides.output_lines is for code cells")
            cell["outputs"] = _trim_outputs(cell.get("outputs", []), options["output_lines"], where)
        cuts = options.get("split", [])
        if cuts:
            if cell["cell_type"] != "code" or sorted(cuts) != cuts or not all(
                    isinstance(c, int) and 0 < c < len(lines) for c in cuts):
                raise SlidesError(f"{where}: slides.split must list increasing line numbers inside the "
                                  f"code cell's {len(lines)} shown lines, not {cuts!r}")
        bounds = [0, *cuts, len(lines)]
        for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
            part = copy.deepcopy(cell)
            part["source"] = "\n".join(lines[a:b])
            part.setdefault("metadata", {})["d2l_cell"] = i
            if k > 0:
                part["metadata"]["slideshow"] = {"slide_type": "subslide"}
                part["id"] = f"{cell.get('id', i)}-part{k}"
            if cell["cell_type"] == "code" and k < len(bounds) - 2:
                part["outputs"] = []
            cells.append(part)
    return cells


@dataclass
class Slide:
    cells: list           # notebook cell numbers on it
    lines: int            # lines of code and text output on it


def slides_of(cells: list[dict]) -> list[Slide]:
    """The slides a deck has (horizontal and vertical alike), as reveal.js counts them."""
    slides: list[Slide] = []
    for cell in cells:
        kind = slide_type(cell)
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not slides:
            slides.append(Slide([], 0))
        slide = slides[-1]
        if cell["metadata"]["d2l_cell"] not in slide.cells:
            slide.cells.append(cell["metadata"]["d2l_cell"])
        if cell["cell_type"] == "code":
            slide.lines += len(_text(cell["source"]).splitlines()) + _output_lines(cell.get("outputs", []))
    return slides


def check_lines(name: str, slides: list[Slide]) -> list[str]:
    return [f"{name}: the slide of cells {s.cells} has {s.lines} lines of code and output (at most "
            f"{MAX_LINES}): split or trim a cell with its metadata 'slides' (see book/slides.py)"
            for s in slides if s.lines > MAX_LINES]


# --------------------------------------------------------------------------- reveal.js and MathJax

def fetch_reveal(cache: Path = CACHE) -> Path:
    """reveal.js's files the decks load (``REVEAL_FILES``)."""
    return book_build.fetch_npm_package("reveal.js", REVEAL_VERSION, REVEAL_INTEGRITY, REVEAL_FILES, cache,
                                        error=SlidesError)


# --------------------------------------------------------------------------- building the decks

def export(nb: dict, cells: list[dict], name: str, language: str = "en") -> str:
    """The deck's HTML: nbconvert's slides exporter with the book's template (book/slides_template);
    ``language``: the page's lang (zh-CN: the browser picks Chinese fonts)."""
    import nbformat
    from nbconvert import SlidesExporter

    deck = copy.deepcopy(nb)
    deck["cells"] = cells
    for cell in deck["cells"]:
        cell.get("metadata", {}).pop("slides", None)
    exporter = SlidesExporter(extra_template_basedirs=[str(TEMPLATE.parent)],
                              template_name=TEMPLATE.name, reveal_url_prefix="reveal.js", reveal_theme="white",
                              reveal_width=str(WIDTH), reveal_height=str(HEIGHT),
                              reveal_transition="none", exclude_anchor_links=True)
    exporter.mathjax_url = "mathjax/tex-chtml.js"
    node = nbformat.reads(json.dumps(deck), as_version=4)  # joins multi-line strings, as a file read does
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": name}})
    if language != "en":
        body = re.sub(r"<html(?: lang=\"[^\"]*\")?>", f'<html lang="{language}">', body, count=1)
    return body


def build(root: Path = REPO, out: Path = OUT, verbose: bool = True, english: Path | None = None,
          language: str = "en") -> dict[str, int]:
    """Every deck into out/ with reveal.js and MathJax beside them; deck name -> number of slides.
    ``english``: for translated decks (root zh/), the root of the English notebooks they come from."""
    decks = deck_notebooks(root)
    if not decks:
        raise SlidesError(f"{root / 'chapters'} holds no chapter or exercise notebook")
    planned, problems = {}, []
    for name, path in decks.items():
        nb = json.loads(path.read_text(encoding="utf-8"))
        source = (json.loads((english / path.relative_to(root)).read_text(encoding="utf-8"))
                  if english is not None else None)
        cells = slide_cells(nb, name, source)
        slides = slides_of(cells)
        problems += check_lines(name, slides)
        if not slides:
            problems.append(f"{name}: no cell is on a slide (every cell is 'skip' or 'notes')")
        planned[name] = (nb, cells, slides)
    if problems:
        raise SlidesError("the decks do not fit:\n  - " + "\n  - ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(fetch_reveal(), out / "reveal.js", dirs_exist_ok=True)
    shutil.copytree(book_build.fetch_mathjax(CACHE), out / "mathjax", dirs_exist_ok=True)
    if (root / "img").is_dir():   # chapters link their diagrams as ../img/NAME.svg
        shutil.copytree(root / "img", out.parent / "img", dirs_exist_ok=True)
    counts = {}
    for name, (nb, cells, slides) in planned.items():
        (out / f"{name}.slides.html").write_text(export(nb, cells, name, language), encoding="utf-8")
        counts[name] = len(slides)
        if verbose:
            print(f"slides: {name}: {len(slides)} slides -> {out / (name + '.slides.html')}")
    rows = "\n".join(f'<li><a href="{n}.slides.html">{n}</a> ({c} slides)</li>' for n, c in counts.items())
    words = INDEX_WORDS[language]
    (out / "index.html").write_text(
        f"<!DOCTYPE html><html lang='{language}'><head><meta charset='utf-8'><title>{words[0]}</title></head>"
        f"<body><h1>{words[1]}</h1><ul>\n{rows}\n</ul><p>{words[2]}</p></body></html>\n", encoding="utf-8")
    if verbose:
        print(f"slides: {len(counts)} decks, {sum(counts.values())} slides: {out / 'index.html'}")
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print each deck's slides; build nothing")
    ap.add_argument("--out", type=Path, help=f"where the decks go (default: {OUT}, with --zh {ZH_OUT})")
    ap.add_argument("--zh", action="store_true", help="the Chinese decks, from zh/ (book/i18n.py generate)")
    args = ap.parse_args(argv)
    try:
        if args.list:
            for name, path in deck_notebooks().items():
                slides = slides_of(slide_cells(json.loads(path.read_text(encoding="utf-8")), name))
                print(f"{name}: {len(slides)} slides")
                for k, s in enumerate(slides):
                    print(f"  {k:3d}  cells {s.cells}  {s.lines} lines" + ("  TOO LONG" if s.lines > MAX_LINES else ""))
            return 0
        if args.zh:
            if not (REPO / "zh" / "chapters").is_dir():
                raise SlidesError("zh/chapters does not exist: make the Chinese notebooks first "
                                  "(python book/i18n.py generate)")
            build(REPO / "zh", args.out or ZH_OUT, english=REPO, language="zh-CN")
        else:
            build(out=args.out or OUT)
    except SlidesError as e:
        print(f"\nSLIDES FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
