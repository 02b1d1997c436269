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
              "memtui.sample_plots",
              "memtui.sweep.progress", "memtui.tui"}
UI_LIBRARIES = {"textual", "textual_plotext", "rich", "typer"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, type_checking: bool = True) -> set[str]:
    """Absolute names a module imports, inside functions too: such an import runs when the
    function does, and ties the two modules as much as one at the top. ``type_checking=False``
    leaves out what ``if TYPE_CHECKING:`` imports, which never runs."""
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit([*node.body, *node.orelse] if type_checking else list(node.orelse))
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit(list(tree.body))
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def is_front_end(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FRONT_ENDS)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_front_end(n)))
def test_the_core_imports_no_ui_and_no_front_end(name):
    # every import counts: inside functions, and under TYPE_CHECKING (a core type that names a
    # front end's is as upward as an import that runs)
    imported = imports_of(MODULES[name])
    ui = {i for i in imported if i.split(".")[0] in UI_LIBRARIES}
    upward = {i for i in imported if is_front_end(i)}
    assert not ui and not upward, f"{name} imports {sorted(ui | upward)}"


def test_only_the_entry_point_imports_the_command_line():
    importers = {name for name, path in MODULES.items()
                 if {"memtui.cli", "memtui.cli.main"} & imports_of(path)}
    assert importers == {"memtui.__main__"}


def test_no_import_cycle():
    """Counting the imports inside functions: one there still ties the two modules together
    (it was how the view's circle hid). Not those under TYPE_CHECKING: they never run, so they
    cannot make a circle at import time, and they are how a module names a type that a module
    above it holds (memtui.tui.sources names memtui.session.Run) without importing it."""
    graph = {name: {i for i in imports_of(path, type_checking=False) if i in MODULES} - {name}
             for name, path in MODULES.items()}

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = trail[trail.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        for nxt in sorted(graph.get(node, ())):
            if nxt not in done:
                visit(nxt, trail + [node])
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [])


#: The view package in layers, bottom up; a module imports only from its own layer or below
#: (TYPE_CHECKING imports too: a screen names its host's protocol, never the app).
VIEW_LAYERS = [
    # reading runs and sweeps, the widgets, what a screen needs of its app
    ("memtui.tui.widgets", "memtui.tui.sources", "memtui.tui.remote", "memtui.tui.budget",
     "memtui.tui.svg", "memtui.tui.terminal", "memtui.tui.host", "memtui.tui.sweep_follower",
     "memtui.tui.sweep_process"),
    ("memtui.tui.run_screen", "memtui.tui.leaderboard", "memtui.tui.sweep_board",
     "memtui.tui.samples_screen"),  # screens
    ("memtui.tui.app", "memtui.tui.sweep_app", "memtui.tui.picker_app"),
    ("memtui.tui.launch",),
]


def view_layer(name: str) -> int | None:
    for number, layer in enumerate(VIEW_LAYERS):
        if any(name == m or name.startswith(m + ".") for m in layer):
            return number
    return None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("memtui.tui.")))
def test_the_view_imports_only_from_its_layer_or_below(name):
    layer = view_layer(name)
    assert layer is not None, f"{name}: add it to a layer in VIEW_LAYERS"
    above = {i for i in imports_of(MODULES[name]) if i in MODULES
             and (view_layer(i) or 0) > layer}
    assert not above, f"{name} imports {sorted(above)} from above its layer"


def test_the_command_line_opens_the_view_only_through_its_launchers():
    # the terminal check decides view or headless before Textual is imported (memtui --help)
    view = {i for i in imports_of(MODULES["memtui.cli"]) if i in MODULES and view_layer(i)
            is not None}
    assert view <= {"memtui.tui.launch", "memtui.tui.terminal"}, sorted(view)


#: What `memtui --help`, `presets`, `watch`, `report` and `sweep` import before they do their work,
#: the schema they check names with, and the sweep orchestrator (the board's child process too):
#: it starts `memtui run` processes, which import torch; it never needs torch itself.
LIGHT_COMMAND_IMPORTS = [
    "memtui.catalog",
    "memtui.cli",
    "memtui.config",
    "memtui.presets",
    "memtui.report",
    "memtui.resources",
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
    "memtui.tui.launch",
    "memtui.tui.picker_app",
    "memtui.tui.sources",
    "memtui.tui.sweep_app",
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
    ["ls"],
    ["--version"],
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
