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

The Chinese edition's guide, zh/chapters/teachers_guide.ipynb, is made by the same code in Chinese
(book/i18n.py generate calls ``render_chinese``): the template's blocks, teaching.yml's judgements,
the sentences below (WORDS) and the offline record's are entries of i18n/zh_CN/book/teachers_guide.po;
every number comes from the same measurements, the questions from the Chinese chapters' notes
("向全班提问：", ASK), and the mistakes table is the committed English guide's, its fixed words
translated (``translate_mistakes``): the checks' messages and the mutants' names are program output,
shown as the checks print them. A new measurement changes numbers, never a catalog entry.
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
ASK = {"en": "Ask the room:", "zh": "向全班提问："}   # how a speaker's note puts its question
CONTEXT = "book/teachers_guide.py"     # where WORDS come from, as their catalog entries say
# Every sentence the code adds to the page, with the {fields} it fills in: the English edition's
# words; the Chinese edition says them as i18n/zh_CN/book/teachers_guide.po translates them.
WORDS = {
    "can do": "**After it a student can** {can_do}",
    "minutes": "**Minutes to run it:** {minutes}. The stored `cpu` run's cells took {total} in all "
               "(execution times stored in the notebook; the machine may have been shared).",
    "profile minutes": "`{profile}` {minutes} min (on {cpu}, {cores} cores, {date})",
    "one after another": "{earlier}; {later}",
    "not measured": "not measured yet (`benchmarks/notebook_times.py` writes the table)",
    "seconds": "{seconds} s",
    "minutes short": "{minutes} min",
    "show stored": "**Show from the stored run** (over {live} s each in the stored `cpu` run; live, "
                   "run them in the `quick` profile or on a GPU):",
    "slow cell": "- cell {number}, `{label}`: {seconds} s",
    "run live others": "**Run live:** the other {count} code cells (each under {live} s).",
    "run live all": "**Run live:** every code cell ({count}; each under {live} s in the stored "
                    "`cpu` run).",
    "show stored scaled": "**Show from the stored run** (over {live} s each, estimated: the stored `cpu` "
                          "run's cell times scaled to the {minutes} min that `benchmarks/notebook_times.py` "
                          "measured for the whole chapter; live, run them in the `quick` profile or on a GPU):",
    "run live all scaled": "**Run live:** every code cell ({count}; each under {live} s, estimated from the "
                           "stored `cpu` run's cell times scaled to the {minutes} min that "
                           "`benchmarks/notebook_times.py` measured for the whole chapter).",
    "for discussion": "**For discussion** (from the speaker's notes):",
    "mistakes heading": "### [{exercise}](exercises/{exercise}.ipynb): {total} blocks one edit away, "
                        "{refused} refused, {accepted} accepted",
    "mistakes header": "| the check says first | mistakes that get this answer | e.g. the full message |",
    "and more": "; and {count} more",
    "accepted": "Accepted ({count}): {names}.",
    "none": "none",
    "grading not measured": "Minutes to grade a class of 30: not measured yet, with the book's grader "
                            "and with nbgrader (`benchmarks/grading_time.py` measures both and writes "
                            "`{table}`). The README's \"For teachers: the exercises\" says how to "
                            "grade with either.",
    "grading": "Minutes to grade a class of 30, measured by `benchmarks/grading_time.py` on {cpu}:",
    "grading route": "{grader}, {submissions} submissions on {date}, load average {before} before and {after} after",
    "grading row": "- {route}: {minutes} min",
    "offline not tried": "This route was not tried yet (`book/offline_install.py`).",
    "offline": "Tried by `book/offline_install.py` on {date} ({system}, Python {python}): {wheels} "
               "wheels, {megabytes} MB; the install ran {offline}, then {ran}. Result: {result}.",
}
OFFLINE_WORDS = ("offline", "ran", "result")   # the record's sentences (fixed text of the script)
OFFLINE_CONTEXT = "book/offline_install.json"


def english(context: str, text: str) -> str:
    """The English edition's words: the text itself (``context`` tells a translation where it is)."""
    return text


def say(key: str, tr=english, **fields) -> str:
    """WORDS[key] in the edition's language (``tr(context, English)``), its fields filled in."""
    return tr(CONTEXT, WORDS[key]).format(**fields)


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

def _duration(seconds: float, tr=english) -> str:
    return (say("seconds", tr, seconds=f"{seconds:.0f}") if seconds < 60
            else say("minutes short", tr, minutes=f"{seconds / 60:.1f}"))


def questions(nb: dict, ask: str = ASK["en"]) -> list[str]:
    """The questions of the chapter's speaker's notes: each 'Ask the room: ...' sentence (``ask``:
    the Chinese notes' 向全班提问：)."""
    found = []
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes":
            found += [q.strip() for q in re.findall(re.escape(ask) + r"\s*(.+?)(?:$|\n\n)", _source(cell), re.S)]
    return found


def run_minutes(chapter: str, tables: list[dict], tr=english) -> str:
    """The chapter's minutes in each profile timed, from the tables benchmarks/notebook_times.py
    writes (one per profile: {"profile", "machine": {"cpu", "cores"}, "notebooks": [{"notebook",
    "seconds"}]}), with the CPU each was measured on."""
    found = []
    for table in tables:
        seconds = _chapter_seconds(table).get(chapter)
        if seconds is not None:
            m = table["machine"]
            found.append(say("profile minutes", tr, profile=table["profile"], minutes=f"{seconds / 60:.1f}",
                             cpu=m["cpu"], cores=m["cores"], date=table["date"]))
    if not found:
        return say("not measured", tr)
    while len(found) > 1:
        found[:2] = [say("one after another", tr, earlier=found[0], later=found[1])]
    return found[0]


def _chapter_seconds(table: dict) -> dict[str, float]:
    """{chapter: seconds, top to bottom} of one notebook-times table."""
    return {Path(r["notebook"]).stem: r["seconds"] for r in table.get("notebooks", [])}


def quiet_seconds(chapter: str, tables: list[dict]) -> float | None:
    """The chapter's seconds, top to bottom, in the `cpu` profile's notebook-times table, if timed."""
    for table in tables:
        if table.get("profile") == "cpu":
            return _chapter_seconds(table).get(chapter)
    return None


def notebook_time_tables() -> list[dict]:
    """The committed notebook-times tables, the shown (`cpu`) profile first."""
    return [t for t in (benchmark("notebook_times"), benchmark("notebook_times_quick")) if t]


def chapter_section(name: str, nb: dict, teaching: dict, tables: list[dict], tr=english,
                    ask: str = ASK["en"]) -> str:
    entry = teaching.get(name)
    if not entry or not entry.get("can_do"):
        raise GuideError(f"book/teaching.yml has no 'can_do' for chapter {name}")
    title = next((ln[2:] for c in nb["cells"] if c["cell_type"] == "markdown"
                  for ln in _source(c).splitlines() if ln.startswith("# ")), name)
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    timed = [(i, c, _seconds(c)) for i, c in code]
    stored_total = sum(s for _, _, s in timed if s is not None)
    # The stored run may have shared the machine (one chapter's took seven times the quiet total):
    # its cell times, scaled to the quiet top-to-bottom time, say which cells are slow.
    quiet = quiet_seconds(name, tables)
    scaled = {"minutes": f"{quiet / 60:.1f}"} if quiet and stored_total else None
    scale = quiet / stored_total if scaled else 1.0
    slow = [(i, c, s * scale) for i, c, s in timed if s is not None and s * scale > LIVE_SECONDS]
    asked = questions(nb, ask)
    if len(asked) < 2:
        raise GuideError(f"{name}: its speaker's notes ask {len(asked)} question(s); the guide needs two "
                         f"(a notes cell with '{ask} ...')")
    out = [f"### [{title}]({name}.ipynb)", "",
           say("can do", tr, can_do=tr("book/teaching.yml", entry["can_do"].strip())), "",
           say("minutes", tr, minutes=run_minutes(name, tables, tr), total=_duration(stored_total, tr)), ""]
    if slow:
        out.append(say("show stored scaled", tr, live=LIVE_SECONDS, **scaled) if scaled
                   else say("show stored", tr, live=LIVE_SECONDS))
        out += [say("slow cell", tr, number=i + 1, label=_cell_label(c), seconds=f"{s:.0f}") for i, c, s in slow]
        out.append("\n" + say("run live others", tr, count=len(code) - len(slow), live=LIVE_SECONDS))
    else:
        out.append(say("run live all scaled", tr, count=len(code), live=LIVE_SECONDS, **scaled) if scaled
                   else say("run live all", tr, count=len(code), live=LIVE_SECONDS))
    out += ["", say("for discussion", tr), ""]
    # an English question starts a sentence here; a Chinese one may start with a name (use_1x1conv)
    out += [f"{k}. {q[0].upper() + q[1:] if ask == ASK['en'] else q}" for k, q in enumerate(asked[:2], 1)]
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
        out += [say("mistakes heading", exercise=EXERCISE_OF[kind], total=len(rows),
                    refused=len(rows) - len(accepted), accepted=len(accepted)), "",
                say("mistakes header"), TABLE_RULE]
        for general, members in sorted(groups.items(), key=lambda g: -len(g[1])):
            names = "; ".join(n for n, _ in members[:4]) + (say("and more", count=len(members) - 4)
                                                              if len(members) > 4 else "")
            shown = _cell(members[0][1])
            example = shown[:300] + ("…" if len(shown) > 300 else "")  # stale() compares these 300
            out.append(f"| {_cell(general)} | {len(members)}: {_cell(names)} | {example} |")
        out += ["", say("accepted", count=len(accepted), names="; ".join(accepted) or say("none")), ""]
    out.append(f"<!-- mistakes-fingerprint {print_fingerprint} -->")
    return "\n".join(out) + "\n"


TABLE_RULE = "| --- | --- | --- |"


def translate_mistakes(part: str, tr) -> str:
    """The committed mistakes table (``mistakes_section``'s English text) in another edition's words:
    its headings, header row, "and N more" and accepted lines said by ``tr``; the checks' messages
    and the mutants' names as the checks print them. A line of another form is refused, so the
    table cannot come out half translated."""
    def pattern(key: str) -> re.Pattern:
        """WORDS[key] as a regular expression, each {field} a named group (a repeated one the same)."""
        out, seen = [], set()
        for part in re.split(r"(\{\w+\})", WORDS[key]):
            name = part[1:-1] if re.fullmatch(r"\{\w+\}", part) else None
            out.append(re.escape(part) if name is None else f"(?P={name})" if name in seen
                       else f"(?P<{name}>.*?)")
            seen.add(name)
        return re.compile("".join(out))
    heading, accepted = pattern("mistakes heading"), pattern("accepted")
    more = re.compile(re.escape(WORDS["and more"]).replace(r"\{count\}", r"(?P<count>\d+)") + r"(?= \|)")
    out = []
    for line in part.splitlines():
        if line in ("", TABLE_RULE) or re.fullmatch(r"<!-- mistakes-(begin|fingerprint [0-9a-f]{64}) -->", line):
            out.append(line)
        elif m := heading.fullmatch(line):
            out.append(say("mistakes heading", tr, **m.groupdict()))
        elif line == WORDS["mistakes header"]:
            out.append(say("mistakes header", tr))
        elif m := accepted.fullmatch(line):
            names = say("none", tr) if m["names"] == WORDS["none"] else m["names"]
            out.append(say("accepted", tr, count=m["count"], names=names))
        elif ROW_RE.fullmatch(line):
            out.append(more.sub(lambda m: say("and more", tr, count=m["count"]), line, count=1))
        else:
            raise GuideError(f"the mistakes table has a line of no known form: {line[:120]!r}")
    return "\n".join(out) + ("\n" if part.endswith("\n") else "")


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


def grading_table(tr=english) -> dict | None:
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
            "minutes_for_30": {say("grading route", tr, grader=r["grader"], submissions=r["submissions"],
                                   date=r["date"], before=f'{r["load_before"]:.1f}',
                                   after=f'{r["load_after"]:.1f}'):
                               r["minutes"] for r in latest.values()}}


def grading_section(table: dict | None, tr=english) -> str:
    if table is None:
        return say("grading not measured", tr, table=_rel(BENCHMARK_TABLES['grading_time'])) + "\n"
    cpu = table.get("cpu", "the CPU the table names")
    rows = [say("grading row", tr, route=route, minutes=minutes)
            for route, minutes in table.get("minutes_for_30", {}).items()]
    if not rows:
        raise GuideError(f"{_rel(BENCHMARK_TABLES['grading_time'])} has no 'minutes_for_30'")
    return say("grading", tr, cpu=cpu) + "\n\n" + "\n".join(rows) + "\n"


def offline_record(root: Path = REPO) -> dict | None:
    path = root / OFFLINE_RECORD.relative_to(BOOK_DIR.parent)
    return read(path) if path.is_file() else None


def offline_section(tr=english, root: Path = REPO) -> str:
    r = offline_record(root)
    if r is None:
        return say("offline not tried", tr) + "\n"
    fields = {**r, **{k: tr(OFFLINE_CONTEXT, r[k]) for k in OFFLINE_WORDS}}
    return say("offline", tr, **fields) + "\n"


# --------------------------------------------------------------------------- the page

def template(root: Path = REPO) -> str:
    """book/teachers_guide.md, the page's fixed text with its markers."""
    text = (root / TEMPLATE.relative_to(BOOK_DIR.parent)).read_text(encoding="utf-8")
    missing = [m for m in MARKERS if f"<!-- {m} -->" not in text]
    if missing:
        raise GuideError(f"book/teachers_guide.md lost the marker(s) {missing}")
    return text


def teaching(root: Path = REPO) -> dict:
    """book/teaching.yml's chapters: {chapter: {"can_do": ...}}."""
    return yaml.safe_load((root / TEACHING.relative_to(BOOK_DIR.parent)).read_text(encoding="utf-8"))["chapters"]


def english_words(root: Path = REPO) -> list[tuple[str, str]]:
    """(context, English) of every text the Chinese guide translates: the template's blocks (as
    book/i18n.py cuts markdown), teaching.yml's judgements, WORDS and the offline record's sentences."""
    from book import i18n
    out = [("book/teachers_guide.md", block) for block, _ in i18n.split_blocks(template(root))
           if i18n.translatable(block)]
    out += [("book/teaching.yml", entry["can_do"].strip()) for entry in teaching(root).values()]
    out += [(CONTEXT, text) for text in WORDS.values()]
    record = offline_record(root)
    out += [(OFFLINE_CONTEXT, record[k]) for k in OFFLINE_WORDS] if record else []
    return list(dict.fromkeys(out))


def render(mistakes_part: str | None = None, tr=english, notebooks: dict[str, dict] | None = None,
           ask: str = ASK["en"], root: Path = REPO) -> str:
    """The page's text; ``mistakes_part`` (the committed table) saves running every mutant. Another
    edition passes its words (``tr``, for the template too), its chapters (``notebooks``, name ->
    notebook; default: chapters/ under ``root``) and how its notes ask (``ask``)."""
    text = template(root)
    if tr is not english:
        from book import i18n
        text = i18n.translate_page("book/teachers_guide.md", text, tr)
    if notebooks is None:
        notebooks = {name: read(path) for name, path in slides.deck_notebooks(root).items()
                     if not name.startswith("exercise-")}
    tables, judgements = notebook_time_tables(), teaching(root)
    chapters = [chapter_section(name, nb, judgements, tables, tr, ask) for name, nb in notebooks.items()]
    if mistakes_part is None:
        machinery = _mutant_machinery()
        mistakes_part = mistakes_section(mistakes(machinery), fingerprint(machinery))
    parts = {"chapters": "\n".join(chapters), "mistakes": mistakes_part,
             "grading": grading_section(grading_table(tr), tr), "offline": offline_section(tr, root)}
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
                                         "language_info": normalize.generated_language_info()},
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


def render_chinese(tr, notebooks: dict[str, dict], root: Path = REPO) -> str:
    """The Chinese guide's notebook text (zh/chapters/teachers_guide.ipynb): the English guide's
    page in the words ``tr`` gives (book/i18n.py's catalog), the Chinese chapters (``notebooks``,
    name -> notebook) and their notes' questions, and the committed English guide's mistakes table
    with its fixed words translated. No mutant is run: the English guide's test keeps that table
    current, and this one is made from it."""
    path = root / GUIDE.relative_to(BOOK_DIR.parent)
    found = MISTAKES_RE.search(guide_text(read(path))) if path.is_file() else None
    if found is None:
        raise GuideError(f"{_rel(path)} has no generated mistakes table: run make guide first")
    page = render(translate_mistakes(found.group(0), tr), tr, notebooks, ASK["zh"], root)
    return dumps(notebook(page))


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
