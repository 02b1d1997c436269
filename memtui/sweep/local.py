"""The default executor: N cells at a time as subprocesses on this machine; no dependency.

Slots: on the CPU, ``cores // cpus_per_run`` cells at a time (or ``--parallel``), each with
``cores // N`` torch threads. With ``gpus_per_run`` > 0 and GPUs visible, ``1 / gpus_per_run``
slots per GPU (0.25: four cells share a GPU), each slot pinned to its GPU with
``CUDA_VISIBLE_DEVICES``; ``gpus_per_run`` >= 1 gives each slot that many whole GPUs.

ctrl-c (or SIGTERM, SIGHUP) stops the sweep: every running cell gets one SIGINT, stops after its
current batch and keeps its completed epochs (summary ``stopped``), no new cell starts; a second
ctrl-c passes a second SIGINT, which interrupts the runs at once (they still write a checkpoint
of their last completed epoch).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import deque
from contextlib import contextmanager

from memtui.sweep.cell import CellProcess, Outcome
from memtui.sweep.driver import Driver

POLL_S = 0.2


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """The GPUs a run may use, as CUDA_VISIBLE_DEVICES entries; [] without CUDA."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [part.strip() for part in given.split(",") if part.strip() and part.strip() != "-1"]
    # Counted by torch in a child, as a cell will see them: the orchestrator itself never imports
    # torch (about 650 MB and seconds), and only a grid that asks for GPUs pays for the child.
    probe = "import torch; print(torch.cuda.device_count())"
    try:
        found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               timeout=300, stdin=subprocess.DEVNULL)
        return [str(i) for i in range(int(found.stdout.strip()))]
    except (OSError, ValueError, subprocess.SubprocessError):  # pragma: no cover
        return []


def plan_slots(resources: dict, parallel: int | None, say=print) -> tuple[list[dict[str, str]], int]:
    """The environment of each slot, and the torch threads per cell."""
    cores = cpu_cores()
    gpus_per_run = float(resources.get("gpus_per_run") or 0.0)
    cpus_per_run = float(resources.get("cpus_per_run") or 1.0)
    wanted = parallel or resources.get("parallel")
    slots: list[dict[str, str]]
    gpus = visible_gpus() if gpus_per_run > 0 else []
    if gpus_per_run > 0 and not gpus:
        say(f"gpus_per_run is {gpus_per_run:g} but no GPU is visible: cells run on the CPU")
    if gpus:
        if gpus_per_run <= 1:
            per_gpu = max(1, math.floor(1 / gpus_per_run + 1e-9))
            slots = [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus for _ in range(per_gpu)]
        else:
            width = math.ceil(gpus_per_run)
            slots = [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[i:i + width])}
                     for i in range(0, len(gpus) - width + 1, width)]
            if not slots:
                say(f"gpus_per_run is {gpus_per_run:g} but only {len(gpus)} GPUs are visible: "
                    "each cell gets all of them")
                slots = [{"CUDA_VISIBLE_DEVICES": ",".join(gpus)}]
    else:
        slots = [{} for _ in range(max(1, math.floor(cores / cpus_per_run)))]
    if wanted:  # more than the GPUs hold: the slots are shared round-robin
        slots = [slots[i % len(slots)] for i in range(wanted)]
    threads = max(1, cores // len(slots))
    return slots, threads


@contextmanager
def _stop_on_signals(on_signal):
    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, lambda signum, frame: on_signal(signum))
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_local(driver: Driver, parallel: int | None = None) -> None:
    manifest = driver.manifest
    slots, threads = plan_slots(manifest.resources, parallel, say=driver.say)
    queue = deque(driver.to_run)
    running: dict[int, CellProcess] = {}
    driver.say(f"sweep {manifest.name}: {len(queue)} cells to run, {len(slots)} at a time on this "
               f"machine ({threads} torch thread{'s' if threads != 1 else ''} each); "
               f"{manifest.sweep_dir}")

    def on_signal(signum: int) -> None:
        if not driver.stopping:
            driver.say("stopping: every running cell finishes its current batch and keeps its "
                       "completed epochs (ctrl-c again to interrupt at once)")
        driver.stopping = True
        for cell in running.values():
            cell.interrupt()

    with _stop_on_signals(on_signal):
        while running or (queue and not driver.stopping):
            if not driver.stopping:
                for slot, env in enumerate(slots):
                    if slot in running or not queue:
                        continue
                    name = queue.popleft()
                    cell = CellProcess(manifest.cell_dir(name), threads, env)
                    try:
                        cell.start()
                    except (OSError, TimeoutError) as exc:  # unwritable, or locked by another
                        driver.finished(Outcome(name, "failed", 0, str(exc), None, 0.0, {}))
                        continue
                    driver.started(name)
                    running[slot] = cell
                    if driver.stopping:  # a ctrl-c that came while it was starting
                        cell.interrupt()
            for slot, cell in list(running.items()):
                if cell.poll() is None:
                    continue
                del running[slot]
                if driver.finished(cell.outcome(), requested_stop=cell.interrupts > 0):
                    queue.appendleft(cell.name)
            driver.tick()
            time.sleep(POLL_S)
