"""Time each of the book's notebooks, top to bottom in a fresh kernel, and write the table the README,
chapter 0 and the website show.

    .venv/bin/python benchmarks/notebook_times.py                 # cpu profile, every notebook
    .venv/bin/python benchmarks/notebook_times.py --profile quick # -> notebook_times_quick.json (guide only)
    .venv/bin/python benchmarks/notebook_times.py --profile quick chapters/00_how_to_use.ipynb --out /tmp/t --no-embed

Run it by hand on a quiet machine (nothing else running: the figures are wall-clock minutes). It never
writes into chapters/: each notebook runs from a copy in a scratch folder beside the original's folder
layout (the rest of the repository linked in, so ../img and ../experiments resolve). The notebooks: the
chapters in reading order, then the exercises' solution notebooks (a finished exercise; the students'
versions stop at their first unsolved cell). It writes benchmarks/notebook_times.json (read by
book/build.py and checked by tests/test_notebook_times.py) and benchmarks/notebook_times.md, and puts
the same table into the README and chapter 0 (between <!-- notebook-times --> markers): the CPU's model,
its core count, the load average before and after each run, Python's version and the date. The website's
map shows the minutes from the .json. Another profile (``--profile quick``) writes
benchmarks/notebook_times_quick.json and .md and embeds nothing: the README and chapter 0 show the
``cpu`` table, the teacher's guide both. A trial run elsewhere: --out /tmp/t --no-embed.
The Chinese chapter 0 and guide show the same numbers once ``python book/i18n.py generate`` (and
``make guide``) has run: the table's words are in i18n/zh_CN/benchmarks/notebook_times.po (WORDS), so
a new timing needs no translation.
``--keep DIR`` saves each executed copy too. ``--merge`` times only the notebooks named and keeps the
other rows of the existing table (each row carries its date): after a change that alters only some
notebooks' run time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "notebook_times"
SHOWN_PROFILE = "cpu"  # the profile whose table the README, chapter 0 and the website show


def out_for(profile: str) -> Path:
    """Where a profile's table goes: notebook_times(.json/.md) for the shown one, else _<profile>."""
    return OUT if profile == SHOWN_PROFILE else OUT.with_name(f"{OUT.name}_{profile}")


def book_notebooks(root: Path = REPO) -> list[Path]:
    """The chapters in file-name (reading) order, then the exercises' solution notebooks."""
    chapters = sorted(p for p in (root / "chapters").glob("[0-9][0-9]*_*.ipynb"))
    return chapters + sorted((root / "chapters" / "exercises" / "solutions").glob("*.ipynb"))


def cpu_model() -> str:
    """The CPU's model with its family and model numbers, as benchmarks/machine.py names it, without
    the feature flags and the count of CPUs that description ends with (the table gives the cores)."""
    try:
        from benchmarks.machine import cpu_description  # imported as a module (the tests)
    except ImportError:
        from machine import cpu_description  # run as a script: benchmarks/ is on sys.path
    return cpu_description().split(", flags")[0].rsplit(", ", 1)[0]


def profile_settings(profile: str) -> str:
    """The profile as it prints itself: a table timed under other settings is out of date."""
    from d2lutils import profiles
    return str(profiles.PROFILES[profile])


def time_notebook(path: Path, profile: str, timeout: int, keep: Path | None = None) -> dict:
    """Run a copy of path (errors stop it) and return its wall-clock seconds and the load around it;
    ``keep``: a folder to save the executed copy in (under its path in the repository), so that a
    timing run can also serve as a re-execution (compare it with the stored one before using it)."""
    rel = path.resolve().relative_to(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / rel
        copy.parent.mkdir(parents=True)
        shutil.copy2(path, copy)
        for entry in REPO.iterdir():  # the rest of the repository as it is (../img, ../experiments)
            if entry.name != rel.parts[0] and not entry.name.startswith("."):
                (Path(tmp) / entry.name).symlink_to(entry)
        load_before = os.getloadavg()
        t0 = time.monotonic()
        r = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "notebook",
                            "--execute", "--inplace", f"--ExecutePreprocessor.timeout={timeout}", str(copy)],
                           cwd=copy.parent, env=dict(os.environ, D2LUTILS_PROFILE=profile),
                           capture_output=True, text=True)
        seconds = time.monotonic() - t0
        if keep is not None and r.returncode == 0:
            (keep / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(copy, keep / rel)
    if r.returncode != 0:
        raise SystemExit(f"{rel} failed in the {profile} profile:\n{r.stderr[-3000:]}")
    return {"notebook": rel.as_posix(), "seconds": round(seconds, 1),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


START, END = "<!-- notebook-times -->", "<!-- /notebook-times -->"
SHOWN_IN = [REPO / "README.md", REPO / "chapters" / "00_how_to_use.ipynb"]


# The table's words, as the English edition says them. The Chinese edition says them as
# i18n/zh_CN/benchmarks/notebook_times.po translates them (book/i18n.py extracts them from here), so
# a new timing changes the numbers of either edition's table and no translation.
WORDS = {
    "measured": "Measured by `benchmarks/notebook_times.py` on {dates}: {cpu}, {cores} cores, "
                "Python {python}, `{profile}` profile. Wall-clock minutes, top to bottom in a fresh "
                "kernel; the load averages (1, 5, 15 min) say how quiet the machine was.",
    "dates": "{earlier} and {later}",
    "header": "| notebook | minutes | load before | load after |",
    "not measured": "Not measured yet: `benchmarks/notebook_times.py` writes this table when run on a "
                    "quiet machine.",
}


def english(context: str, text: str) -> str:
    """The English edition's words: the text itself (``context`` tells a translation where it is)."""
    return text


def say(key: str, tr=english, **fields) -> str:
    """WORDS[key] in an edition's language (``tr(context, English)``), its fields filled in."""
    return tr("benchmarks/notebook_times.py", WORDS[key]).format(**fields)


def markdown_table(table: dict | None, tr=english) -> str:
    """The table as the README, chapter 0 and benchmarks/notebook_times.md show it (None: not
    measured yet); ``tr``: the edition's words (the Chinese chapter 0 passes its catalog's)."""
    if table is None:
        return say("not measured", tr)
    m = table["machine"]
    dates = sorted({row.get("date", table["date"]) for row in table["notebooks"]})
    while len(dates) > 1:
        dates[:2] = [say("dates", tr, earlier=dates[0], later=dates[1])]
    lines = [say("measured", tr, dates=dates[0], cpu=m["cpu"], cores=m["cores"], python=m["python"],
                 profile=table["profile"]), "", say("header", tr), "| --- | --- | --- | --- |"]
    for row in table["notebooks"]:
        lines.append(f"| `{row['notebook']}` | {row['seconds'] / 60:.1f} | "
                     f"{' / '.join(map(str, row['load_before']))} | {' / '.join(map(str, row['load_after']))} |")
    return "\n".join(lines)


def shown(text: str) -> str | None:
    """What text holds between the markers (None: no markers)."""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def embed(path: Path, table_md: str) -> None:
    """Put the table between the markers of the README or of chapter 0's markdown cell."""
    if path.suffix == ".ipynb":
        import nbformat  # the book's environment has it; the rest of this script needs only Python
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "markdown" and shown(c.source) is not None]
        if not cells:
            raise SystemExit(f"{path}: no markdown cell with {START} ... {END}")
        text = cells[0].source
        cells[0].source = text.split(START)[0] + f"{START}\n{table_md}\n{END}" + text.split(END, 1)[1]
        nbformat.write(nb, path)
        return
    text = path.read_text(encoding="utf-8")
    if shown(text) is None:
        raise SystemExit(f"{path}: no {START} ... {END} to put the table between")
    path.write_text(text.split(START)[0] + f"{START}\n{table_md}\n{END}" + text.split(END, 1)[1], encoding="utf-8")


def write(table: dict, out: Path, shown_in: list[Path] = SHOWN_IN) -> None:
    out.with_suffix(".json").write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    table_md = markdown_table(table)
    out.with_suffix(".md").write_text(f"# How long each notebook takes\n\n{table_md}\n", encoding="utf-8")
    for path in shown_in:
        embed(path, table_md)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of the book")
    ap.add_argument("--profile", default="cpu", help="D2LUTILS_PROFILE for the runs (default cpu)")
    ap.add_argument("--out", type=Path, help="where to write (.json and .md are added; default: out_for(profile))")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds a cell may run")
    ap.add_argument("--no-embed", action="store_true", help="write only the .json and .md files (a trial run)")
    ap.add_argument("--keep", type=Path, help="save each executed copy under this folder")
    ap.add_argument("--merge", action="store_true",
                    help="keep the existing table's rows for the notebooks not named")
    args = ap.parse_args(argv)
    paths = args.notebooks or book_notebooks()
    out = args.out or out_for(args.profile)
    kept = {}
    if args.merge:
        old = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        if old["profile"] != args.profile or old["machine"]["cpu"] != cpu_model():
            raise SystemExit(f"--merge: {out}.json was measured in the {old['profile']} profile on "
                             f"{old['machine']['cpu']}; time every notebook instead")
        kept = {row["notebook"]: {"date": old["date"], **row} for row in old["notebooks"]}
    shown_in = [] if args.no_embed or args.profile != SHOWN_PROFILE else SHOWN_IN
    rows = []
    for p in paths:
        print(f"timing {p} ({args.profile} profile) ...", flush=True)
        rows.append({**time_notebook(p.resolve(), args.profile, args.timeout, args.keep),
                     "date": dt.date.today().isoformat()})
        print(f"  {rows[-1]['seconds'] / 60:.1f} min, load {rows[-1]['load_before']} -> {rows[-1]['load_after']}")
    kept.update({row["notebook"]: row for row in rows})
    order = [p.relative_to(REPO).as_posix() for p in book_notebooks()]
    rows = sorted(kept.values(), key=lambda row: order.index(row["notebook"])
                  if row["notebook"] in order else len(order))
    table = {"profile": args.profile, "date": dt.date.today().isoformat(),
             "settings": profile_settings(args.profile),
             "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
             "notebooks": rows}
    write(table, out, shown_in)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}" +
          (f"; the table is shown in {', '.join(p.name for p in shown_in)} (then run make guide, which "
             "writes the Chinese edition too)" if shown_in else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
