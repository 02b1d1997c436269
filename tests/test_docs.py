"""The docs cannot drift from the code: the configuration reference is the schema's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_is_generated_from_the_schema() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == _script("make_config_reference").render(), (
        "docs/configuration.md is out of date: python scripts/make_config_reference.py")


def test_the_configuration_reference_names_every_field_of_the_schema() -> None:
    from memtui.config import ExperimentConfig

    page = (ROOT / "docs" / "configuration.md").read_text()
    for name in ExperimentConfig.model_fields:
        assert f"`{name}`" in page or f"`[{name}]`" in page or f"`[[{name}]]`" in page, name


def test_the_readme_stays_short_and_keeps_the_ci_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 10_000
    assert re.search(r"<!-- ci: test command -->\n```sh\n.+\n```", readme)


def test_every_page_the_readme_links_to_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.(?:md|svg))(?:#[\w-]+)?\)", readme):
        # docs/flags.md is generated from memtui/overrides.py by its own script and test.
        assert (ROOT / target).exists() or target == "docs/flags.md", target
