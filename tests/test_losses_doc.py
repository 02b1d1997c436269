"""docs/losses.md's loss table is generated from the registry (scripts/make_losses_doc.py): the
page holds exactly the script's output, so a loss added or changed without regenerating it fails
here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("make_losses_doc", ROOT / "scripts" / "make_losses_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_loss_table_of_docs_losses_md_is_the_generators_output():
    generator = _generator()
    page = (ROOT / "docs" / "losses.md").read_text()
    assert generator.current_block(page) == generator.render(), (
        "docs/losses.md is out of date: run python scripts/make_losses_doc.py")


def test_the_table_has_one_row_per_registered_loss():
    from memtui.losses import REGISTRY

    rows = [line for line in _generator().render().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(REGISTRY)
