"""The command-line overrides of an experiment, declared once: the flag, the config field it
sets, whether a resumed run may change it, whether a sweep takes it for every cell, and its help.
``memtui run`` and ``memtui sweep`` build their options from this table, errors name the flag,
the resume refusal reads it, and docs/flags.md is generated from it
(``python -m memtui.overrides docs/flags.md``). Torch-free, so ``--help`` is fast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Override:
    flag: str
    field: str  # dotted field of ExperimentConfig
    type: type  # what the command line parses the value as (the config validates it further)
    help: str
    with_resume: bool = False  # may be given with --resume without changing the experiment
    resume_note: str = ""  # what it does with --resume, where that differs
    in_sweep: bool = False  # `memtui sweep` takes it too and sets it in every cell
    example: str = ""  # a value, for the docs

    @property
    def param(self) -> str:
        """The Python parameter name Typer gives the flag."""
        return self.flag.lstrip("-").replace("-", "_")


OVERRIDES: tuple[Override, ...] = (
    Override("--epochs", "epochs", int,
             "Number of epochs (with --resume: the new total, to extend a run).", with_resume=True,
             resume_note="to extend it", example="30"),
    Override("--losses", "losses", str, "Comma-separated losses with default parameters, e.g. ce,mse,rll.",
             example="ce,mse,rll"),
    Override("--noise", "corruption.noise", float,
             "Corruption rate in [0, 1] for the preset's label corruption mode.", example="0.8"),
    Override("--seed", "seed", int, "Seed for corruption, init and batch order.", example="1"),
    Override("--device", "device", str, "auto, cpu, cuda, cuda:N or mps.", with_resume=True,
             in_sweep=True, example="cuda"),
    Override("--data-dir", "data.data_dir", Path,
             "Folder holding the data set in torchvision's layout (read offline).", with_resume=True,
             in_sweep=True, example="~/data"),
    Override("--label-file", "corruption.file", Path,
             "Label file for corruption.labels = 'file' (CIFAR-N .pt, .npy, .npz, .csv/.txt).",
             in_sweep=True, example="CIFAR-10_human.pt"),
    Override("--subset", "data.subset", int,
             "Train on a fixed random subset of this many training images.", example="10000"),
    Override("--out", "out", str, "Run directory to write (default runs/<timestamp>-<preset>).",
             example="runs/mine"),
    Override("--threads", "threads", int,
             "CPU threads to train with (default 1: fastest when other processes share the cores).",
             with_resume=True, example="2"),
)

#: The overrides `memtui sweep` takes, for every cell of its grid.
SWEEP_OVERRIDES: tuple[Override, ...] = tuple(o for o in OVERRIDES if o.in_sweep)

BY_PARAM: dict[str, Override] = {o.param: o for o in OVERRIDES}
#: dotted field -> flag, for error messages that should name what the user typed.
FLAG_OF_FIELD: dict[str, str] = {o.field: o.flag for o in OVERRIDES}


def refused_with_resume(given: dict[str, Any]) -> list[str]:
    """The flags among ``given`` (parameter -> value, None when not given) that a resume refuses."""
    return [BY_PARAM[p].flag for p, value in given.items()
            if value is not None and p in BY_PARAM and not BY_PARAM[p].with_resume]


def allowed_with_resume() -> str:
    """'--epochs (to extend it), --device and --data-dir': for help and errors."""
    flags = [o.flag + (f" ({o.resume_note})" if o.resume_note else "")
             for o in OVERRIDES if o.with_resume]
    return ", ".join(flags[:-1]) + " and " + flags[-1] if len(flags) > 1 else "".join(flags)


def parse_losses(text: str) -> list[dict[str, Any]]:
    """'ce,mse,rll' -> loss specs with default parameters."""
    from memtui.errors import ConfigError

    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("--losses: give at least one loss, e.g. --losses ce,mse,rll")
    return [{"name": name} for name in names]


def to_fields(given: dict[str, Any]) -> dict[str, Any]:
    """Parameter -> value (None when not given) as dotted field -> value for apply_overrides."""
    fields = {}
    for param, value in given.items():
        if value is None or param not in BY_PARAM:
            continue
        fields[BY_PARAM[param].field] = parse_losses(value) if param == "losses" else value
    return fields


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"corruption": {"noise": x}}`` -> ``{"corruption.noise": x}``, the dotted names that
    overrides, sweep grids and run comparisons use; keys already dotted stay as they are, lists
    stay values. No top-level field of an experiment is a free-form table, so a table is always
    a path."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


# -- the generated flag table (docs/flags.md) ----------------------------------------------------

DOC_BEGIN = "<!-- flags:begin -->"
DOC_END = "<!-- flags:end -->"


def markdown_table() -> str:
    """The overrides as a Markdown table, one row per flag in the table's order."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    rows = ["| flag | field | what it sets | with `run --resume` | `memtui sweep` | example |",
            "|---|---|---|---|---|---|"]
    for o in OVERRIDES:
        resume = ("yes" + (f" ({o.resume_note})" if o.resume_note else "")) if o.with_resume else "no"
        example = f"`{o.flag} {o.example}`" if o.example else ""
        rows.append(f"| `{o.flag}` | `{o.field}` | {cell(o.help)} | {resume} | "
                    f"{'every cell' if o.in_sweep else ''} | {example} |")
    return "\n".join(rows) + "\n"


def with_table(document: str) -> str:
    """``document`` with the text between its flag markers replaced by ``markdown_table()``."""
    from memtui.errors import ConfigError

    start, end = document.find(DOC_BEGIN), document.find(DOC_END)
    if start < 0 or end < start:
        raise ConfigError(f"no {DOC_BEGIN} ... {DOC_END} markers to write the flag table between")
    return f"{document[:start + len(DOC_BEGIN)]}\n{markdown_table()}{document[end:]}"


def main(argv: list[str] | None = None) -> int:
    """``python -m memtui.overrides FILE...``: rewrite the flag table in each file in place."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m memtui.overrides docs/flags.md", file=sys.stderr)
        return 2
    for path in map(Path, paths):
        path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
