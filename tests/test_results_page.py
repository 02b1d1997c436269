"""docs/results.md cannot drift from its data: every table between its markers is what
`memtui report` prints from the runs committed under docs/results-data/."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "make_results", ROOT / "scripts" / "results" / "make_results.py")
assert spec and spec.loader
make_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_results)

PAGE_TABLES = make_results.tables_in_page((ROOT / "docs" / "results.md").read_text())


def _normalised(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.strip().splitlines()]


def test_the_page_has_tables_made_from_data() -> None:
    assert PAGE_TABLES, "docs/results.md has no <!-- table: KEY --> blocks"
    assert set(PAGE_TABLES) <= set(make_results.TABLES)


@pytest.mark.parametrize("key", sorted(PAGE_TABLES))
def test_a_table_is_what_memtui_report_prints_from_the_committed_runs(key: str) -> None:
    assert _normalised(PAGE_TABLES[key]) == _normalised(make_results.report(key))


@pytest.mark.parametrize("key", sorted(PAGE_TABLES))
def test_every_run_behind_a_table_is_committed_whole(key: str) -> None:
    for run in make_results.run_dirs(key):
        for name in make_results.RUN_FILES:
            assert (run / name).is_file(), f"{run / name} is missing"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed", f"{run} did not complete"
