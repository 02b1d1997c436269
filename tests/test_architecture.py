"""The architecture as rules a test can hold: what each layer may import, and how fast the
commands that do not train start.

Layers, bottom up: the core (data, corruption, models, losses, bank, engine, run log, config,
read model, session) -> the front-ends (headless reporter, report, live view) -> the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "memtui"

#: Front-ends and the command line: everything else is the core.
FRONT_ENDS = {"memtui.__main__", "memtui.cli", "memtui.headless", "memtui.report", "memtui.sweep.report",
              "memtui.sweep.progress", "memtui.tui"}
UI_LIBRARIES = {"textual", "textual_plotext", "rich", "typer"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names a module imports (anywhere, or only at module level)."""
    tree = ast.parse(path.read_text("utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    # At module level only plain statements count: `if TYPE_CHECKING:` imports cost nothing.
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def is_front_end(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FRONT_ENDS)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_front_end(n)))
def test_the_core_imports_no_ui_and_no_front_end(name):
    imported = imports_of(MODULES[name], top_level_only=False)
    ui = {i for i in imported if i.split(".")[0] in UI_LIBRARIES}
    upward = {i for i in imported if is_front_end(i)}
    assert not ui and not upward, f"{name} imports {sorted(ui | upward)}"


def test_module_level_imports_have_no_cycle():
    graph = {name: {i for i in imports_of(path, top_level_only=True) if i in MODULES} - {name}
             for name, path in MODULES.items()}

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = trail[trail.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        for nxt in graph.get(node, ()):
            if nxt not in done:
                visit(nxt, trail + [node])
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [])


#: What `memtui --help`, `presets`, `watch`, `report` and `sweep` import before they do their work,
#: the schema they check names with, and the sweep orchestrator (the board's child process too):
#: it starts `memtui run` processes, which import torch; it never needs torch itself.
LIGHT_COMMAND_IMPORTS = [
    "memtui.cli",
    "memtui.config",
    "memtui.presets",
    "memtui.report",
    "memtui.runlog",
    "memtui.runstate",
    "memtui.specs",
    "memtui.sweep.background",
    "memtui.sweep.cell",
    "memtui.sweep.driver",
    "memtui.sweep.grid",
    "memtui.sweep.local",
    "memtui.sweep.manifest",
    "memtui.sweep.progress",
    "memtui.sweep.ray_exec",
    "memtui.sweep.runner",
    "memtui.tui.app",
    "memtui.tui.sources",
    "memtui.tui.sweep_board",
]


@pytest.mark.parametrize("module", LIGHT_COMMAND_IMPORTS)
def test_commands_that_do_not_train_start_without_torch(module):
    # A fresh interpreter: this test process has torch loaded already.
    code = f"import sys, {module}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False", f"importing {module} loads torch"


#: Commands run to their end (imports inside the command's function count too).
LIGHT_COMMANDS = [
    ["presets", "show", "demo"],
    ["sweep", "noise-grid", "--dry-run"],
]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS, ids=" ".join)
def test_commands_that_do_not_train_run_to_their_end_without_torch(argv, tmp_path):
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules))\n"
            f"sys.argv = ['memtui', *{argv!r}]\n"
            "from memtui.cli import main\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "torch loaded: False", f"memtui {' '.join(argv)}"
