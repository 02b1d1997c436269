"""``memtui sweep --on ray`` and ``--on ray://host:port``: every cell a Ray task (Ray core, plain
tasks), with the grid's resources.

- ``--on ray`` calls ``ray.init()``: it joins the cluster in ``RAY_ADDRESS``, else the one a
  ``ray start`` on this machine runs, else starts a local instance for the sweep.
- ``--on ray://host:port`` joins a remote cluster through Ray Client. Every node needs memtui
  installed, and the sweep directory at the same path (shared storage): a task runs the same
  ``memtui run`` subprocess as the local executor, on the cell's run directory.

A task asks for ``num_cpus = cpus_per_run`` and ``num_gpus = gpus_per_run`` (Ray sets
``CUDA_VISIBLE_DEVICES`` for it; 0.25 puts four cells on a GPU) and is retried ``retries`` times
when its worker dies or its run process dies (``CellDied``); the retry resumes from the cell's
checkpoint. It returns the attempt's outcome, a plain dict. ctrl-c writes a stop file beside each
submitted cell: a running task passes one SIGINT to its run, which stops after the current batch
and keeps its epochs; a task not started yet returns at once, and its cell stays pending.
"""

from __future__ import annotations

import math
import signal
import time
from collections import deque
from typing import Any

from memtui.errors import ConfigError
from memtui.sweep.cell import (
    CellDied,
    Outcome,
    clear_stop,
    outcome_from_disk,
    read_attempts,
    request_stop,
    run_cell,
)
from memtui.sweep.driver import Driver

WAIT_S = 0.5


def _cell_task(cell_dir: str, threads: int) -> dict[str, Any]:
    return run_cell(cell_dir, threads)


def connect(address: str | None):
    try:
        import ray
    except ImportError:
        raise ConfigError("--on ray needs Ray; install it with: pip install 'memtui[ray]'") from None
    if ray.is_initialized():
        return ray, False
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(log_to_driver=False)
    except ConnectionError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--on: cannot reach the Ray cluster {address or ''}: {first}") from None
    return ray, True


def run_ray(driver: Driver, address: str | None, parallel: int | None = None) -> None:
    ray, started_here = connect(address)
    driver.started_at = time.monotonic()  # ETAs count from here, not from starting Ray
    manifest = driver.manifest
    res = manifest.resources
    cpus = float(res.get("cpus_per_run") or 1.0)
    gpus = float(res.get("gpus_per_run") or 0.0)
    cluster = ray.cluster_resources()
    if gpus > 0 and cluster.get("GPU", 0) <= 0:
        driver.say(f"gpus_per_run is {gpus:g} but the Ray cluster has no GPU: cells run on CPUs")
        gpus = 0.0
    if cpus > cluster.get("CPU", 0):
        raise ConfigError(f"cpus_per_run is {cpus:g} but the Ray cluster has "
                          f"{cluster.get('CPU', 0):g} CPUs: no cell could be placed")
    retries = int(res.get("retries", 0))
    threads = max(1, math.floor(cpus))
    task = ray.remote(_cell_task).options(
        num_cpus=cpus, num_gpus=gpus, max_retries=retries, retry_exceptions=[CellDied])
    # Ray does the retries; the driver records outcomes only.
    driver.retries = 0
    queue = deque(driver.to_run)
    limit = parallel or res.get("parallel") or len(queue)
    refs: dict[Any, tuple[str, int, float]] = {}  # ref -> (cell, attempts before, submitted at)
    driver.say(f"sweep {manifest.name}: {len(queue)} cells as Ray tasks ({cpus:g} CPU, {gpus:g} "
               f"GPU each; cluster {cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} "
               f"GPUs); {manifest.sweep_dir}")

    def on_signal(signum, frame) -> None:
        if not driver.stopping:
            driver.say("stopping: every running cell finishes its current batch and keeps its "
                       "completed epochs")
        driver.stopping = True

    previous = {sig: signal.signal(sig, on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop_sent = False
    try:
        while refs or (queue and not driver.stopping):
            if driver.stopping and not stop_sent:
                # Through the sweep directory: ray.cancel(force=False) does not reach a task that
                # waits for its run process (ray-project/ray#32954), and force would kill the run
                # without its summary.
                stop_sent = True
                for name, _, _ in refs.values():
                    request_stop(manifest.cell_dir(name))
            while queue and len(refs) < limit and not driver.stopping:
                name = queue.popleft()
                cell_dir = manifest.cell_dir(name).resolve()
                clear_stop(cell_dir)
                refs[task.remote(str(cell_dir), threads)] = (name, read_attempts(cell_dir),
                                                              time.monotonic())
                manifest.update(name, status="running")
            driver.tick()
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                name, attempts_before, submitted = refs.pop(ref)
                cell_dir = manifest.cell_dir(name)
                try:
                    outcome = Outcome(**ray.get(ref))
                    if outcome.status == "pending":  # stopped before it started
                        manifest.update(name, status="pending")
                        continue
                except Exception as exc:  # retries used up
                    if read_attempts(cell_dir) == attempts_before:  # never started
                        manifest.update(name, status="pending")
                        continue
                    status = "stopped" if driver.stopping else "died"
                    message = "" if driver.stopping else _short(exc)
                    outcome = outcome_from_disk(cell_dir, status, message,
                                                time.monotonic() - submitted)
                driver.tries[name] = read_attempts(cell_dir) - attempts_before
                driver.finished(outcome, requested_stop=driver.stopping)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if started_here:
            ray.shutdown()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    core = next((line for line in reversed(text) if "CellDied" in line), None)
    return (core or (text[0] if text else type(exc).__name__))[:300]
