"""The table of how long each notebook takes (benchmarks/notebook_times.py, run by hand on a quiet
machine) is there, names every notebook of the book as they are now, and is what the README, chapter 0
and the website show. Nothing is timed here."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from benchmarks import notebook_times as times
from book import build as book_build

REPO = Path(__file__).resolve().parents[1]


RUN = "run .venv/bin/python benchmarks/notebook_times.py on a quiet machine (nothing else running)"


def shown_in(path: Path) -> str | None:
    if path.suffix == ".ipynb":
        cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        return next((times.shown(s) for s in cells if times.shown(s) is not None), None)
    return times.shown(path.read_text(encoding="utf-8"))


def test_the_table_is_shown_where_readers_look():
    for path in times.SHOWN_IN:
        assert shown_in(path) is not None, f"{path.name} has no {times.START} ... {times.END} for the table"


def test_the_table_is_there_and_current():
    path = times.OUT.with_suffix(".json")
    if not path.is_file():
        # Not measured yet (it needs a quiet machine): then no reader may be shown minutes.
        for shown_path in times.SHOWN_IN:
            text = shown_in(shown_path) or ""
            assert text.startswith("Not measured yet") and "min" not in text.replace("minutes", ""), \
                f"{shown_path.name} shows times that no table holds: {text[:200]!r}"
        pytest.skip(f"{path.relative_to(REPO)} does not exist yet: {RUN}")
    table = json.loads(path.read_text(encoding="utf-8"))
    assert table["profile"] == "cpu", f"the table was measured in the {table['profile']} profile: {RUN}"
    assert table["machine"]["cpu"] and table["machine"]["cores"]
    assert table.get("settings") == times.profile_settings("cpu"), \
        f"the table was timed with the cpu profile set to {table.get('settings')!r}; it is now " \
        f"{times.profile_settings('cpu')!r}: {RUN}"
    timed = [r["notebook"] for r in table["notebooks"]]
    expected = [p.relative_to(REPO).as_posix() for p in times.book_notebooks()]
    assert timed == expected, f"the table names {timed}, the book has {expected}: {RUN}"
    assert all(r["seconds"] > 0 for r in table["notebooks"])
    md = times.markdown_table(table)
    for shown_path in times.SHOWN_IN:
        assert shown_in(shown_path) == md, f"{shown_path.name} does not show the current table: {RUN}"
    assert md in times.OUT.with_suffix(".md").read_text(encoding="utf-8")


def test_the_map_shows_the_tables_figures_or_none():
    """The website states no time the table does not hold: without a table no times column, with one
    each chapter's minutes from it."""
    _, chapters, exercises, _ = book_build.plan(REPO)
    assert "min" not in book_build.render_map({}, chapters, exercises, None)
    table = {"profile": "cpu", "date": "2000-01-01", "machine": {"cpu": "a CPU", "cores": 2, "python": "3.11"},
             "notebooks": [{"notebook": f"chapters/{c.file}.ipynb", "seconds": 60.0 * (i + 1)}
                           for i, c in enumerate(chapters)]}
    page = book_build.render_map({}, chapters, exercises, table)
    for i, c in enumerate(chapters):
        row = next(r for r in page.splitlines() if f"(chapters/{c.file}.ipynb)" in r)
        assert f"| {i + 1:.1f} min |" in row, row
    assert "a CPU (2 cores" in page


def test_the_other_profiles_tables_name_every_notebook():
    """A table of another profile (benchmarks/notebook_times_quick.json, read by the teacher's
    guide) is of that profile, was timed with its current settings, and names the book's notebooks
    as they are now."""
    expected = [p.relative_to(REPO).as_posix() for p in times.book_notebooks()]
    tables = sorted(times.OUT.parent.glob(f"{times.OUT.name}_*.json"))
    for path in tables:
        table = json.loads(path.read_text(encoding="utf-8"))
        profile = path.stem.removeprefix(f"{times.OUT.name}_")
        assert table["profile"] == profile and times.out_for(profile) == path.with_suffix(""), path.name
        assert table.get("settings") == times.profile_settings(profile), \
            f"{path.name} was timed with the {profile} profile set to {table.get('settings')!r}: {RUN}"
        assert [r["notebook"] for r in table["notebooks"]] == expected, f"{path.name} is out of date: {RUN}"
        assert all(r["seconds"] > 0 for r in table["notebooks"])


def test_merge_replaces_only_the_named_rows(tmp_path, monkeypatch):
    """``--merge`` times the notebooks named and keeps the other rows with the date they were measured;
    a table from another CPU or profile is refused rather than mixed in."""
    notebooks = [p.relative_to(REPO).as_posix() for p in times.book_notebooks()]
    old = {"profile": "cpu", "date": "2000-01-01", "settings": "old",
           "machine": {"cpu": times.cpu_model(), "cores": 2, "python": "3.11"},
           "notebooks": [{"notebook": n, "seconds": 1.0, "load_before": [0, 0, 0], "load_after": [0, 0, 0]}
                         for n in notebooks]}
    out = tmp_path / "t"
    out.with_suffix(".json").write_text(json.dumps(old))
    monkeypatch.setattr(times, "time_notebook", lambda path, *a: {
        "notebook": path.relative_to(REPO).as_posix(), "seconds": 99.0,
        "load_before": [1, 1, 1], "load_after": [1, 1, 1]})
    times.main([str(REPO / notebooks[-1]), "--out", str(out), "--no-embed", "--merge"])
    new = json.loads(out.with_suffix(".json").read_text())
    assert [r["notebook"] for r in new["notebooks"]] == notebooks
    assert [r["seconds"] for r in new["notebooks"]] == [1.0] * (len(notebooks) - 1) + [99.0]
    assert new["notebooks"][0]["date"] == "2000-01-01" != new["notebooks"][-1]["date"]
    assert new["settings"] == times.profile_settings("cpu")
    assert "2000-01-01 and " in times.markdown_table(new)
    out.with_suffix(".json").write_text(json.dumps({**old, "machine": {**old["machine"], "cpu": "another"}}))
    with pytest.raises(SystemExit, match="time every notebook instead"):
        times.main([str(REPO / notebooks[-1]), "--out", str(out), "--no-embed", "--merge"])
