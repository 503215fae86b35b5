"""The teacher's guide, generated from what the project measures: chapters/teachers_guide.ipynb.

    python book/teachers_guide.py           # rewrites chapters/teachers_guide.ipynb (make guide)
    python book/teachers_guide.py --check   # exit 1 if the committed guide is out of date

The page is book/teachers_guide.md with four generated parts in place of its markers:
- <!-- chapters -->: per chapter, what a student can do after it (book/teaching.yml), the minutes to
  run it in each profile (the table benchmarks/notebook_times.py writes, BENCHMARK_TABLES; "not
  measured yet" without it), which cells to run live and which to show from the stored run (each code
  cell's time in the committed `cpu` run, from the execution timestamps nbclient stores), and the
  questions for discussion (the "Ask the room:" sentences of the chapter's speaker's notes);
- <!-- mistakes -->: every wrong block the checks are tested against (tests/test_check_mutants.py),
  run through the checks, grouped by what the check says first. Running them all takes minutes, so
  the guide stores a fingerprint (SHA-256) of the files they depend on; `--check` and the test
  compare it, and re-run the mutant quoted by each of the first ROWS_RERUN rows (the most common
  answers) against the message the row shows;
- <!-- grading -->: grading minutes for a class of 30 (benchmarks/grading_time.py's committed output);
- <!-- offline -->: the record book/offline_install.py writes when it tries the wheelhouse route.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import datetime as dt
import hashlib
import importlib
import io
import json
import re
import sys
from pathlib import Path

import yaml

BOOK_DIR = Path(__file__).resolve().parent
REPO = BOOK_DIR.parent
sys.path.insert(0, str(REPO))  # run as a script: book.* importable
from book import normalize, slides  # noqa: E402
TEMPLATE = BOOK_DIR / "teachers_guide.md"
TEACHING = BOOK_DIR / "teaching.yml"
GUIDE = REPO / "chapters" / "teachers_guide.ipynb"
MUTANTS_TEST = REPO / "tests" / "test_check_mutants.py"
OFFLINE_RECORD = BOOK_DIR / "offline_install.json"
# The committed output of the timing scripts, read when present (the scripts belong to other work).
BENCHMARK_TABLES = {"notebook_times": REPO / "benchmarks" / "notebook_times.json",
                    "notebook_times_quick": REPO / "benchmarks" / "notebook_times_quick.json",
                    "grading_time": REPO / "benchmarks" / "grading_time.jsonl"}
LIVE_SECONDS = 20     # a cell that took longer in the stored `cpu` run is shown from the stored run
NOT_MEASURED = "not measured yet"
ROWS_RERUN = 10       # the mistakes table's first rows per exercise, whose quoted mutant stale() re-runs
MARKERS = ("chapters", "mistakes", "grading", "offline")


class GuideError(Exception):
    """Something the guide's author has to fix; the message says what."""


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _cell_label(cell: dict) -> str:
    """The first line of a code cell that says what it does (not a test marker or a comment)."""
    for line in _source(cell).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:60] + ("…" if len(line.strip()) > 60 else "")
    return "(a comment only)"


def _seconds(cell: dict) -> float | None:
    ex = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in ex or "shell.execute_reply" not in ex:
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(ex["shell.execute_reply"]) - parse(ex["iopub.execute_input"])).total_seconds()


# --------------------------------------------------------------------------- per chapter

def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def questions(nb: dict) -> list[str]:
    """The questions of the chapter's speaker's notes: each 'Ask the room: ...' sentence."""
    found = []
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes":
            found += [q.strip() for q in re.findall(r"Ask the room:\s*(.+?)(?:$|\n\n)", _source(cell), re.S)]
    return found


def run_minutes(chapter: str, tables: list[dict]) -> str:
    """The chapter's minutes in each profile timed, from the tables benchmarks/notebook_times.py
    writes (one per profile: {"profile", "machine": {"cpu", "cores"}, "notebooks": [{"notebook",
    "seconds"}]}), with the CPU each was measured on."""
    found = []
    for table in tables:
        seconds = {Path(r["notebook"]).stem: r["seconds"] for r in table.get("notebooks", [])}.get(chapter)
        if seconds is not None:
            m = table["machine"]
            found.append(f"`{table['profile']}` {seconds / 60:.1f} min (on {m['cpu']}, {m['cores']} cores, "
                         f"{table['date']})")
    if not found:
        return f"{NOT_MEASURED} (`benchmarks/notebook_times.py` writes the table)"
    return "; ".join(found)


def notebook_time_tables() -> list[dict]:
    """The committed notebook-times tables, the shown (`cpu`) profile first."""
    return [t for t in (benchmark("notebook_times"), benchmark("notebook_times_quick")) if t]


def chapter_section(name: str, nb: dict, teaching: dict, tables: list[dict]) -> str:
    entry = teaching.get(name)
    if not entry or not entry.get("can_do"):
        raise GuideError(f"book/teaching.yml has no 'can_do' for chapter {name}")
    title = next((ln[2:] for c in nb["cells"] if c["cell_type"] == "markdown"
                  for ln in _source(c).splitlines() if ln.startswith("# ")), name)
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    timed = [(i, c, _seconds(c)) for i, c in code]
    slow = [(i, c, s) for i, c, s in timed if s is not None and s > LIVE_SECONDS]
    stored_total = sum(s for _, _, s in timed if s is not None)
    asked = questions(nb)
    if len(asked) < 2:
        raise GuideError(f"{name}: its speaker's notes ask {len(asked)} question(s); the guide needs two "
                         "(a notes cell with 'Ask the room: ...')")
    out = [f"### [{title}]({name}.ipynb)", "",
           f"**After it a student can** {entry['can_do'].strip()}", "",
           f"**Minutes to run it:** {run_minutes(name, tables)}. The stored `cpu` run's cells took "
           f"{_duration(stored_total)} in all (execution times stored in the notebook; the machine "
           "may have been shared).", ""]
    if slow:
        out.append(f"**Show from the stored run** (over {LIVE_SECONDS} s each in the stored `cpu` run; "
                   "live, run them in the `quick` profile or on a GPU):")
        out += [f"- cell {i + 1}, `{_cell_label(c)}`: {s:.0f} s" for i, c, s in slow]
        out.append(f"\n**Run live:** the other {len(code) - len(slow)} code cells (each under "
                   f"{LIVE_SECONDS} s).")
    else:
        out.append(f"**Run live:** every code cell ({len(code)}; each under {LIVE_SECONDS} s in the "
                   "stored `cpu` run).")
    out += ["", "**For discussion** (from the speaker's notes):", ""]
    out += [f"{k}. {q[0].upper()}{q[1:]}" for k, q in enumerate(asked[:2], 1)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the exercises' mistakes

@functools.cache
def _mutant_machinery():
    """The mutants and the checks, imported from where they live (the test module's path is fixed;
    d2lutils' modules are imported by their package path)."""
    if not MUTANTS_TEST.is_file():
        raise GuideError(f"{MUTANTS_TEST.relative_to(REPO)} is missing: the mistakes table is generated "
                         "from its mutants")
    sys.path.insert(0, str(MUTANTS_TEST.parent))
    return importlib.import_module(MUTANTS_TEST.stem)


def fingerprint(machinery) -> str:
    """SHA-256 over the files the mistakes table depends on: the mutants' test module and the
    modules of the checks, the behaviour analysis and the reference blocks."""
    import d2lutils.models
    files = [MUTANTS_TEST, Path(machinery.checks.__file__), Path(machinery.behaviour.__file__),
             Path(d2lutils.models.__file__)]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()


_SAYS: dict = {}   # (kind, mutant name) -> message: a check run once per process


def what_the_check_says(machinery, kind: str, mutant) -> str:
    if (kind, mutant.name) in _SAYS:
        return _SAYS[kind, mutant.name]
    block = machinery.build_block(kind, mutant.program, mutant.convs)
    block.__name__ = "Mutant"
    with contextlib.redirect_stdout(io.StringIO()):
        message = machinery.refusal(machinery.CHECKS[kind], block)
    _SAYS[kind, mutant.name] = "accepted" if message is None else " ".join(message.split())
    return _SAYS[kind, mutant.name]


def mistakes(machinery, names: set | None = None) -> dict:
    """exercise kind -> {mutant name: what the check says} (only ``names``, when given)."""
    return {kind: {m.name: what_the_check_says(machinery, kind, m) for m in machinery.mutants(kind)
                   if names is None or m.name in names}
            for kind in machinery.PROGRAMS}


EXERCISE_OF = {"bottleneck": "bottleneck", "preact": "preactivation"}


def _cell(text: str) -> str:
    """Text as a markdown table cell shows it."""
    return text.replace("|", "\\|").replace("`", "'")


def _general(message: str) -> str:
    """A message less its numbers and settings, so that one kind of answer groups its mutants."""
    head = re.split(r"(?<=[.:])\s", message, maxsplit=1)[0]
    return re.sub(r"\s*\([^()]*\)|\b\d[\d,.]*(e-?\d+)?\b", lambda m: "" if m[0].strip().startswith("(") else "N",
                  head).rstrip(":")


def mistakes_section(found: dict, print_fingerprint: str) -> str:
    out = ["<!-- mistakes-begin -->"]
    for kind, rows in found.items():
        accepted = [n for n, m in rows.items() if m == "accepted"]
        groups: dict[str, list] = {}
        for name, message in rows.items():
            if message != "accepted":
                groups.setdefault(_general(message), []).append((name, message))
        out += [f"### [{EXERCISE_OF[kind]}](exercises/{EXERCISE_OF[kind]}.ipynb): {len(rows)} blocks one "
                f"edit away, {len(rows) - len(accepted)} refused, {len(accepted)} accepted", "",
                "| the check says first | mistakes that get this answer | e.g. the full message |",
                "| --- | --- | --- |"]
        for general, members in sorted(groups.items(), key=lambda g: -len(g[1])):
            names = "; ".join(n for n, _ in members[:4]) + (f"; and {len(members) - 4} more"
                                                              if len(members) > 4 else "")
            shown = _cell(members[0][1])
            example = shown[:300] + ("…" if len(shown) > 300 else "")  # stale() compares these 300
            out.append(f"| {_cell(general)} | {len(members)}: {_cell(names)} | {example} |")
        out += ["", f"Accepted ({len(accepted)}): " + ("; ".join(accepted) or "none") + ".", ""]
    out.append(f"<!-- mistakes-fingerprint {print_fingerprint} -->")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- timings and the room

def benchmark(name: str) -> dict | None:
    path = BENCHMARK_TABLES[name]
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise GuideError(f"{_rel(path)} is not JSON ({e}); the guide reads it as "
                         "book/teachers_guide.py's BENCHMARK_TABLES describes") from e


def grading_table() -> dict | None:
    """benchmarks/grading_time.py's records (benchmarks/grading_time.jsonl, one run per line) as the
    table grading_section reads: the latest run of each route (the book's grader, nbgrader) with the
    load it ran under. Records without a route are issue 20's comparisons of two graders."""
    path = BENCHMARK_TABLES["grading_time"]
    if not path.is_file():
        return None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    latest = {r["route"]: r for r in records if "route" in r}
    if not latest:
        return None
    return {"cpu": list(latest.values())[-1]["cpu"],
            "minutes_for_30": {f'{r["grader"]}, {r["submissions"]} submissions on {r["date"]}, load '
                               f'average {r["load_before"]:.1f} before and {r["load_after"]:.1f} after':
                               r["minutes"] for r in latest.values()}}


def grading_section(table: dict | None) -> str:
    if table is None:
        return (f"Minutes to grade a class of 30: {NOT_MEASURED}, with the book's grader and with "
                "nbgrader (`benchmarks/grading_time.py` measures both and writes "
                f"`{_rel(BENCHMARK_TABLES['grading_time'])}`). The README's \"For "
                "teachers: the exercises\" says how to grade with either.\n")
    cpu = table.get("cpu", "the CPU the table names")
    rows = [f"- {route}: {minutes} min" for route, minutes in table.get("minutes_for_30", {}).items()]
    if not rows:
        raise GuideError(f"{_rel(BENCHMARK_TABLES['grading_time'])} has no 'minutes_for_30'")
    return f"Minutes to grade a class of 30, measured by `benchmarks/grading_time.py` on {cpu}:\n\n" + \
        "\n".join(rows) + "\n"


def offline_section() -> str:
    if not OFFLINE_RECORD.is_file():
        return f"This route was {NOT_MEASURED.replace('measured', 'tried')} (`book/offline_install.py`).\n"
    r = read(OFFLINE_RECORD)
    return (f"Tried by `book/offline_install.py` on {r['date']} ({r['system']}, Python {r['python']}): "
            f"{r['wheels']} wheels, {r['megabytes']} MB; the install ran {r['offline']}, then "
            f"{r['ran']}. Result: {r['result']}.\n")


# --------------------------------------------------------------------------- the page

def render(mistakes_part: str | None = None) -> str:
    """The page's text; ``mistakes_part`` (the committed table) saves running every mutant."""
    text = TEMPLATE.read_text(encoding="utf-8")
    missing = [m for m in MARKERS if f"<!-- {m} -->" not in text]
    if missing:
        raise GuideError(f"book/teachers_guide.md lost the marker(s) {missing}")
    teaching = yaml.safe_load(TEACHING.read_text(encoding="utf-8"))["chapters"]
    tables = notebook_time_tables()
    chapters = [chapter_section(name, read(path), teaching, tables)
                for name, path in slides.deck_notebooks().items() if not name.startswith("exercise-")]
    if mistakes_part is None:
        machinery = _mutant_machinery()
        mistakes_part = mistakes_section(mistakes(machinery), fingerprint(machinery))
    parts = {"chapters": "\n".join(chapters), "mistakes": mistakes_part,
             "grading": grading_section(grading_table()), "offline": offline_section()}
    for marker, part in parts.items():
        text = text.replace(f"<!-- {marker} -->", part.rstrip("\n"))
    return text


def notebook(text: str) -> dict:
    """The page as a notebook: one markdown cell per '## ' section."""
    sections = re.split(r"\n(?=## )", text.strip("\n"))
    cells = [{"cell_type": "markdown", "id": f"guide-{k}", "metadata": {},
              "source": s.strip("\n").splitlines(keepends=True)} for k, s in enumerate(sections)]
    # The metadata JupyterLab writes (book/normalize.py), so the guide does not open modified (●).
    return {"cells": cells, "metadata": {"kernelspec": dict(normalize.KERNELSPEC),
                                         "language_info": normalize.language_info()},
            "nbformat": 4, "nbformat_minor": 5}


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


MISTAKES_RE = re.compile(r"<!-- mistakes-begin -->.*?<!-- mistakes-fingerprint ([0-9a-f]{64}) -->\n?", re.S)


def stale(committed_text: str) -> list[str]:
    """Why the committed guide (its text) is out of date; empty when it is current. The page is
    rebuilt around the committed mistakes table and compared whole; the table itself is checked by
    its fingerprint and by re-running the mutants its first rows quote against the messages shown."""
    found = MISTAKES_RE.search(committed_text)
    if not found:
        return ["the guide has no generated mistakes table"]
    machinery = _mutant_machinery()
    problems = []
    if found.group(1) != fingerprint(machinery):
        problems.append("the checks, their mutants or the reference blocks changed since the mistakes "
                        "table was made")
    for kind, examples in shown_examples(found.group(0)).items():
        first_rows = set(list(examples)[:ROWS_RERUN])
        for name, says in mistakes(machinery, first_rows)[kind].items():
            shown = _cell(says)
            if shown[:300] + ("…" if len(shown) > 300 else "") != examples[name]:
                problems.append(f"{kind}, {name}: the check now says {says[:160]!r}, the guide shows "
                                f"{examples[name][:160]!r}")
    if dumps(notebook(render(found.group(0)))) != dumps(notebook(committed_text)):
        problems.append("the chapters, their notes or stored runs, the timings or book/teachers_guide.md "
                        "changed since the guide was made")
    return problems


ROW_RE = re.compile(r"^\| (?P<general>.*?) \| \d+: (?P<first>[^;|]+?)(?:;[^|]*)? \| (?P<example>.*) \|$", re.M)


def shown_examples(table: str) -> dict:
    """exercise kind -> {mutant name: the full message the table shows for it}: the first mutant of
    each row, whose message is the row's example."""
    out = {}
    for section in re.split(r"^### ", table, flags=re.M)[1:]:
        link = re.match(r"\[(\w+)\]", section).group(1)
        kind = {v: k for k, v in EXERCISE_OF.items()}[link]
        out[kind] = {m["first"]: m["example"] for m in ROW_RE.finditer(section)
                     if m["general"] != "the check says first"}
    return out


def guide_text(nb: dict) -> str:
    return "\n\n".join(_source(c).strip("\n") for c in nb["cells"]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if chapters/teachers_guide.ipynb is stale")
    args = ap.parse_args(argv)
    try:
        if args.check:
            if not GUIDE.is_file():
                print(f"{GUIDE.relative_to(REPO)} is missing: run make guide", file=sys.stderr)
                return 1
            problems = stale(guide_text(read(GUIDE)))
            for p in problems:
                print(f"out of date: {p}", file=sys.stderr)
            if problems:
                print("run make guide (python book/teachers_guide.py) and commit the result", file=sys.stderr)
            return 1 if problems else 0
        GUIDE.write_text(dumps(notebook(render())), encoding="utf-8")
        print(f"guide: wrote {GUIDE.relative_to(REPO)}")
    except GuideError as e:
        print(f"\nGUIDE FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
