"""Shipped presets: TOML files under presets/ (in the wheel as memtui/presets), listed and read
without building an experiment, so ``memtui presets`` starts without torch. memtui.config
validates what is read here."""

from __future__ import annotations

import sys
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from memtui.errors import ConfigError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_PACKAGE = "memtui"
PRESET_FOLDER = "presets"
DEFAULT_PRESET = "demo"


def _preset_root() -> Traversable:
    return resources.files(PRESET_PACKAGE).joinpath(PRESET_FOLDER)


def shipped_presets() -> dict[str, str]:
    """Shipped preset name -> one-line description, sorted by name."""
    found = {}
    for entry in _preset_root().iterdir():
        if entry.name.endswith(".toml"):
            name = entry.name[: -len(".toml")]
            try:
                found[name] = tomllib.loads(entry.read_text("utf-8")).get("description", "")
            except tomllib.TOMLDecodeError:  # pragma: no cover - shipped presets are tested
                found[name] = "(malformed)"
    return dict(sorted(found.items()))


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or "\\" in ref or Path(ref).is_file()


def read_preset_document(ref: str) -> tuple[dict[str, Any], str]:
    """The raw TOML document of a shipped preset name or a file path, and where it came from."""
    if _looks_like_path(ref):
        path = Path(ref)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise ConfigError(f"preset file {ref} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"preset file {ref} cannot be read: {exc}") from None
        source = str(path)
    else:
        names = shipped_presets()
        if ref not in names:
            raise ConfigError(
                f"unknown preset {ref!r}{did_you_mean(ref, names)}; shipped presets: "
                f"{', '.join(names)} (or give a path to a .toml file)"
            )
        text = _preset_root().joinpath(f"{ref}.toml").read_text("utf-8")
        source = f"preset {ref!r}"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    if not document:  # an empty file would run every default under the name "custom"
        raise ConfigError(f"{source} is empty: it sets no option; start from a shipped preset "
                          "(`memtui presets show demo` prints one)")
    return document, source


