"""Specification of the overrides table as the one declaration of the shared flags: `memtui run`
and `memtui sweep` build their options from it, and docs/flags.md holds the table it generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from memtui import cli
from memtui.errors import ConfigError
from memtui.overrides import (
    DOC_BEGIN,
    DOC_END,
    OVERRIDES,
    SWEEP_OVERRIDES,
    markdown_table,
    with_table,
)

FLAGS_DOC = Path(__file__).resolve().parents[1] / "docs" / "flags.md"


def test_docs_flags_md_holds_the_table_the_generator_makes():
    text = FLAGS_DOC.read_text(encoding="utf-8")
    assert text == with_table(text), ("docs/flags.md is out of date: run "
                                      "`python -m memtui.overrides docs/flags.md`")
    assert f"{DOC_BEGIN}\n{markdown_table()}{DOC_END}" in text


def test_the_table_has_a_row_per_override_in_order():
    rows = markdown_table().splitlines()[2:]
    assert [row.split(" | ")[0].strip("| `") for row in rows] == [o.flag for o in OVERRIDES]
    device = next(row for row in rows if row.startswith("| `--device`"))
    assert "every cell" in device and "| yes |" in device
    assert "&lt;timestamp&gt;" in markdown_table()  # no stray HTML tags in rendered Markdown


def test_the_generator_rewrites_only_between_its_markers_and_needs_them():
    document = f"intro\n{DOC_BEGIN}\nstale\n{DOC_END}\nafter\n"
    written = with_table(document)
    assert written.startswith("intro\n") and written.endswith(f"{DOC_END}\nafter\n")
    assert "stale" not in written and with_table(written) == written
    with pytest.raises(ConfigError, match="markers"):
        with_table("no markers here")


def test_sweep_takes_its_shared_flags_from_the_table_and_passes_them_to_every_cell(monkeypatch,
                                                                                    tmp_path):
    assert {o.flag for o in SWEEP_OVERRIDES} == {"--device", "--data-dir", "--label-file"}
    import memtui.sweep.runner as runner

    seen = {}

    def prepare_sweep(*args):
        seen["overrides"] = args[-1]

    monkeypatch.setattr(runner, "prepare_sweep", prepare_sweep)
    result = CliRunner().invoke(cli.app, ["sweep", "noise-grid", "--dry-run", "--device", "cpu",
                                          "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["overrides"] == {"device": "cpu", "data.data_dir": tmp_path}
    result = CliRunner().invoke(cli.app, ["sweep", "noise-grid", "--dry-run"])
    assert seen["overrides"] == {}
    import typer

    options = {param.opts[0]: param.help
               for param in typer.main.get_command(cli.app).commands["sweep"].params}
    for override in SWEEP_OVERRIDES:
        assert options[override.flag] == override.help
