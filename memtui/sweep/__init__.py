"""Sweeps: a grid of experiments over dotted preset fields, each cell an ordinary run directory.

- :mod:`memtui.sweep.grid`      the grid file (TOML): schema, validation, expansion into cells
- :mod:`memtui.sweep.manifest`  ``manifest.json``: the cells, their overrides and status
- :mod:`memtui.sweep.cell`      one attempt at one cell: ``memtui run`` (or ``run --resume``) in a
                                subprocess, so a cell is a run directory like any other
- :mod:`memtui.sweep.local`     the default executor: N cells at a time on this machine
- :mod:`memtui.sweep.ray_exec`  cells as Ray tasks (``pip install 'memtui[ray]'``)
- :mod:`memtui.sweep.runner`    ``memtui sweep``: create or resume a sweep, progress, ctrl-c
- :mod:`memtui.sweep.report` ``memtui report SWEEP_DIR``: mean +- std over seeds, long table,
                                figures

Nothing here imports torch at module level: the orchestrator only starts processes and reads
files.
"""
