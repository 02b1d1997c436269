"""The grid file: a base preset, fixed overrides, axes over dotted preset fields, resources.

```toml
base = "mnist-noisy"          # a shipped preset name or a path to a .toml preset
name = "noise-grid"           # default: the grid file's name
[set]                         # optional: the same value in every cell
epochs = 20
"data.subset" = 2000
[grid]                        # the axes; the cells are every combination, in file order
"corruption.labels" = ["symmetric", "pairflip"]
"corruption.noise"  = [0.0, 0.2, 0.4, 0.6, 0.8]
seed                = [0, 1, 2]
[resources]
gpus_per_run = 0.25           # four runs share a GPU
cpus_per_run = 1
retries = 2                   # a cell whose process died is retried from its checkpoint
parallel = 4                  # optional: at most this many cells at a time
```

Keys may be written quoted and dotted (``"corruption.noise"``) or as TOML tables
(``[grid.corruption] noise = [...]``). ``losses`` may be an axis too: each value a
comma-separated string (``"ce,mse"``) or a list of loss tables. Everything is validated before
anything starts: unknown keys and fields, empty axes, repeated values, and every cell's whole
config, a bad one named by its axis and cell in one line (:class:`memtui.errors.ConfigError`).
"""

from __future__ import annotations

import difflib
import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from memtui.config import ExperimentConfig, validate
from memtui.errors import ConfigError, did_you_mean
from memtui.overrides import flatten
from memtui.presets import read_preset_document

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Fields a sweep sets itself; an axis or [set] over them is refused.
RESERVED = {"out": "the sweep puts every cell in sweeps/<id>/cells/<cell>"}
SEED_AXIS = "seed"
#: The most cells a grid may have. Every cell is a validated config, a manifest entry and a run
#: directory; far past this a grid is a typo (an extra axis), and building it would exhaust memory.
MAX_CELLS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    gpus_per_run: NonNegativeFloat = Field(
        0.0, description="GPUs per cell; a fraction shares one GPU (0.25: four cells per GPU)")
    cpus_per_run: PositiveFloat = Field(1.0, description="CPU cores per cell (its torch threads)")
    retries: NonNegativeInt = Field(
        2, description="times a cell whose process died is started again, from its checkpoint")
    parallel: PositiveInt | None = Field(
        None, description="at most this many cells at a time (default: what the machine holds)")


class GridFile(_Strict):
    base: str = Field("demo", description="a shipped preset name or a path to a .toml preset")
    name: str | None = Field(None, description="the sweep's name; default: the grid file's name")
    description: str = ""
    set: dict[str, Any] = Field(default_factory=dict, description="one value for every cell")
    grid: dict[str, Any] = Field(description="axes: dotted field -> list of values")
    resources: Resources = Field(default_factory=Resources)


@dataclass
class Cell:
    name: str
    overrides: dict[str, Any]  # axis -> value, as written in the grid file
    config: ExperimentConfig


@dataclass
class Grid:
    name: str
    source: str
    base: str
    description: str
    fixed: dict[str, Any]
    axes: dict[str, list[Any]]
    resources: Resources
    cells: list[Cell] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)  # the grid file as read


# ---------------------------------------------------------------------------------------------
# Reading and checking


def check_field(dotted: str) -> str | None:
    """None when ``dotted`` names a field of the experiment schema, else why not."""
    if dotted in RESERVED:
        return f"cannot be set by a sweep: {RESERVED[dotted]}"
    model: type[BaseModel] = ExperimentConfig
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.5)
            hint = (f" (did you mean {'.'.join([*parts[:depth], close[0], *parts[depth + 1:]])!r}?)"
                    if close else "")
            where = ".".join(parts[:depth]) or "an experiment"
            return f"unknown field{hint}; {where} has: {', '.join(fields)}"
        if depth == len(parts) - 1:
            return None
        annotation = fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))
        nested = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if nested is None or part == "losses":
            return (f"{'.'.join(parts[:depth + 1])} has no fields to address; give the whole "
                    f"value as the axis {'.'.join(parts[:depth + 1])!r}")
        model = nested
    return None  # pragma: no cover


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    if first["type"] == "extra_forbidden":
        model: type[BaseModel] = Resources if loc[:1] == ["resources"] else GridFile
        where = "[resources]" if loc[:1] == ["resources"] else "the grid file"
        valid = list(model.model_fields)
        return (f"{source}: unknown key {loc[-1]!r} in {where}{did_you_mean(loc[-1], valid)}; "
                f"valid keys: {', '.join(valid)}")
    if first["type"] == "missing" and loc == ["grid"]:
        return f"{source}: no [grid] table; give at least one axis, e.g. seed = [0, 1, 2]"
    message = first["msg"].removeprefix("Value error, ")
    return f"{source}: {'.'.join(loc)}: {message}"


def _losses_value(value: Any) -> Any:
    """A value of a ``losses`` axis: "ce,mse" or ["ce", {name = "rll", ...}] -> loss tables."""
    if isinstance(value, str):
        return [{"name": part.strip()} for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [{"name": item} if isinstance(item, str) else item for item in value]
    return value


def _item_name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("label") or item.get("name"))
    return str(item)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "-".join(_item_name(item) for item in value)
    return str(value).replace(",", "-")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+=-]+", "", text.replace(" ", "-")) or "x"


def cell_names(axes: dict[str, list[Any]], combos: list[tuple[Any, ...]]) -> list[str]:
    """Directory names, e.g. labels-pairflip_noise-0.4_seed-1: each axis by its last part (the
    whole dotted name where two axes share one), then its value."""
    leaves = [axis.rsplit(".", 1)[-1] for axis in axes]
    short = [leaf if leaves.count(leaf) == 1 else axis.replace(".", "-")
             for leaf, axis in zip(leaves, axes)]
    names = ["_".join(f"{_safe(s)}-{_safe(_format_value(v))}" for s, v in zip(short, combo))
             for combo in combos]
    if len(set(names)) < len(names):  # values that differ only in characters dropped above
        width = len(str(len(names)))
        names = [f"{i:0{width}d}-{name}" for i, name in enumerate(names)]
    return names


def _apply(document: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    import copy

    document = copy.deepcopy(document)
    for dotted, value in overrides.items():
        target = document
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = _losses_value(value) if dotted == "losses" else value
    return document


def _value_error(dotted: str, value: Any) -> str | None:
    """A quick check of one value alone, so a typo is named by its axis before any cell."""
    if dotted == "losses" and not isinstance(value, (str, list)):
        return "a losses value is a string like \"ce,mse\" or a list of losses"
    if isinstance(value, dict):
        return "a value may not be a table"
    return None


def _check_size(raw_axes: dict[str, Any], source: str) -> None:
    """ConfigError for a grid of more than MAX_CELLS cells, counted from the axes' lengths
    before any cell is built (or any axis checked value by value)."""
    lengths = {axis: len(values) for axis, values in raw_axes.items() if isinstance(values, list)}
    count = 1
    for length in lengths.values():
        count *= length
    if count > MAX_CELLS:
        shape = " x ".join(f"{length:,} {axis}" for axis, length in lengths.items())
        raise ConfigError(f"{source}: the grid has {count:,} cells ({shape}); at most "
                          f"{MAX_CELLS:,} are allowed: drop an axis or some of its values")


def parse_grid(document: dict[str, Any], source: str, default_name: str = "sweep",
               cli_overrides: dict[str, Any] | None = None, base_dir: Path | None = None) -> Grid:
    """A checked grid with its cells; ConfigError (one line) for anything wrong."""
    try:
        spec = GridFile.model_validate(document)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None
    fixed = flatten(spec.set)
    raw_axes = flatten(spec.grid)
    if not raw_axes:
        raise ConfigError(f"{source}: [grid] has no axes; give at least one, e.g. seed = [0, 1, 2]")
    for dotted in fixed:
        problem = check_field(dotted)
        if problem:
            raise ConfigError(f"{source}: [set] {dotted!r}: {problem}")
    _check_size(raw_axes, source)
    axes: dict[str, list[Any]] = {}
    for dotted, values in raw_axes.items():
        problem = check_field(dotted)
        if problem:
            raise ConfigError(f"{source}: axis {dotted!r}: {problem}")
        if dotted in fixed:
            raise ConfigError(f"{source}: axis {dotted!r} is also in [set]; keep one")
        if not isinstance(values, list):
            raise ConfigError(f"{source}: axis {dotted!r}: give a list of values, e.g. "
                              f"{dotted!r} = [{values!r}]" if not isinstance(values, str) else
                              f"{source}: axis {dotted!r}: give a list of values, e.g. "
                              f"\"{dotted}\" = [\"{values}\"]")
        if not values:
            raise ConfigError(f"{source}: axis {dotted!r} is empty; give at least one value")
        seen: list[Any] = []
        for value in values:
            problem = _value_error(dotted, value)
            if problem:
                raise ConfigError(f"{source}: axis {dotted!r}, value {value!r}: {problem}")
            if value in seen:
                raise ConfigError(f"{source}: axis {dotted!r} lists {value!r} twice")
            seen.append(value)
        axes[dotted] = list(values)

    base_ref = spec.base
    if base_dir is not None and (base_ref.endswith(".toml") or "/" in base_ref):
        beside = base_dir / base_ref  # a relative path is read beside the grid file first
        if not Path(base_ref).is_absolute() and beside.is_file():
            base_ref = str(beside)
    base_document, base_source = read_preset_document(base_ref)
    base_config = validate(base_document, f"{source}: base {base_source}")
    base = base_config.model_dump(mode="python", exclude_none=True)
    base = _apply(base, fixed)
    if cli_overrides:
        base = _apply(base, {k: v for k, v in cli_overrides.items() if v is not None})
    try:
        validate(base, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: [set]: {exc}") from None

    combos = list(itertools.product(*axes.values()))
    names = cell_names(axes, combos)
    cells = []
    for name, combo in zip(names, combos):
        overrides = dict(zip(axes, combo))
        try:
            config = validate(_apply(base, overrides))
        except ConfigError as exc:
            message = str(exc)
            culprit = next((a for a in axes if message.startswith((f"{a}:", f"{a}."))), None)
            named = (f"axis {culprit!r} = {overrides[culprit]!r}, cell {name}" if culprit
                     else f"cell {name} ({', '.join(f'{a} = {v!r}' for a, v in overrides.items())})")
            raise ConfigError(f"{source}: {named}: {message}") from None
        cells.append(Cell(name, overrides, config))
    return Grid(name=spec.name or default_name, source=source, base=spec.base,
                description=spec.description, fixed=fixed, axes=axes, resources=spec.resources,
                cells=cells, document=document)


def shipped_grids() -> dict[str, Any]:
    """Grid files shipped in memtui/presets/sweeps: name -> resource."""
    from importlib import resources

    folder = resources.files("memtui").joinpath("presets").joinpath("sweeps")
    try:
        return {entry.name[:-len(".toml")]: entry for entry in folder.iterdir()
                if entry.name.endswith(".toml")}
    except (FileNotFoundError, NotADirectoryError):  # pragma: no cover
        return {}


def grid_source(ref: Path) -> tuple[str, str, Path | None]:
    """(TOML text, name for messages, folder for a relative base) of a grid file path or of a
    shipped grid's name (``memtui sweep noise-grid``)."""
    path = Path(ref)
    if not path.exists() and path.suffix == "" and len(path.parts) == 1:
        shipped = shipped_grids()
        if str(ref) in shipped:
            return shipped[str(ref)].read_text("utf-8"), f"shipped grid {str(ref)!r}", None
        raise ConfigError(f"grid file {ref} does not exist, and no shipped grid is called "
                          f"{str(ref)!r}{did_you_mean(str(ref), shipped)}; shipped grids: "
                          f"{', '.join(sorted(shipped)) or 'none'}")
    try:
        return path.read_text("utf-8"), str(path), path.parent
    except FileNotFoundError:
        raise ConfigError(f"grid file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"grid file {path} cannot be read: {exc}") from None


def load_grid(path: Path, cli_overrides: dict[str, Any] | None = None) -> Grid:
    text, source, folder = grid_source(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    path = Path(path)
    return parse_grid(document, source,
                      default_name=_safe(path.stem) if path.suffix else _safe(path.name),
                      cli_overrides=cli_overrides, base_dir=folder)
