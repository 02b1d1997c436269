"""The machine while a run trains: per GPU utilisation, memory, power, temperature and SM clock
(NVML), torch's allocated and reserved memory, the host's CPU and the process's RSS.

A ``ResourceMonitor`` samples about once a second in a thread of its own, so the training thread
never waits on NVML or /proc; at the end of each epoch (the engine's observers seam) it emits the
epoch's mean and max of every figure as one ``ResourceUsage`` event, which the run log keeps in
metrics.jsonl, so `memtui watch` of a finished or remote run shows them too.

NVML comes from nvidia-ml-py (the module it installs is called ``pynvml``; the PyPI package named
pynvml is a deprecated wrapper). Without it, without a driver or without a GPU the monitor says
so once, in the first event's ``note``, and samples the host alone. Nothing here imports torch:
whoever knows the run's device passes its memory reader in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memtui.events import Event, ResourceUsage

#: Seconds between samples.
SAMPLE_INTERVAL_S = 1.0

#: Figure key -> (short title, unit). GPU figures are per device: ``gpu<i>_<name>``.
HOST_FIGURES = {"cpu_percent": ("CPU", "%"), "rss_bytes": ("RSS", "B"),
                "torch_allocated": ("torch alloc", "B"), "torch_reserved": ("torch reserved", "B")}
GPU_FIGURES = {"util": ("util", "%"), "mem_used": ("mem", "B"), "mem_total": ("mem total", "B"),
               "power": ("power", "W"), "power_cap": ("power cap", "W"), "temp": ("temp", "°C"),
               "sm_clock": ("SM clock", "MHz")}

#: (allocated, reserved) bytes of torch's caching allocator on the run's device.
TorchMemory = Callable[[], tuple[float, float]]


def gpu_key(index: int, name: str) -> str:
    return f"gpu{index}_{name}"


@dataclass(frozen=True)
class Sample:
    """One reading: figure key -> value (absent when it could not be read)."""

    at: float
    values: dict[str, float]


class Nvml:
    """The GPUs NVML sees, opened once; ``note`` says why there are none."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.names: list[str] = []
        self.note = ""
        self._nvml: Any = None
        try:
            import pynvml  # nvidia-ml-py
        except ImportError:
            self.note = "NVML not available (nvidia-ml-py is not installed): no GPU figures"
            return
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.names = [_text(_or_none(pynvml.nvmlDeviceGetName, h) or f"GPU {i}")
                          for i, h in enumerate(self.handles)]
        except pynvml.NVMLError as exc:  # no driver, no library: the host alone
            self.handles, self.names = [], []
            self.note = f"NVML not available ({exc}): no GPU figures"
            return
        self._nvml = pynvml
        if not self.handles:
            self.note = "NVML sees no GPU: no GPU figures"

    def read(self, values: dict[str, float]) -> None:
        """Put every GPU's figures into ``values``; one that cannot be read is left out (a GPU
        without a power sensor, say)."""
        nvml = self._nvml
        if nvml is None:
            return
        for i, handle in enumerate(self.handles):
            util = _or_none(nvml.nvmlDeviceGetUtilizationRates, handle)
            memory = _or_none(nvml.nvmlDeviceGetMemoryInfo, handle)
            power = _or_none(nvml.nvmlDeviceGetPowerUsage, handle)  # mW
            cap = _or_none(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)  # mW
            figures = {
                "util": util.gpu if util is not None else None,
                "mem_used": memory.used if memory is not None else None,
                "mem_total": memory.total if memory is not None else None,
                "power": power / 1000 if power is not None else None,
                "power_cap": cap / 1000 if cap is not None else None,
                "temp": _or_none(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
                "sm_clock": _or_none(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM),
            }
            values.update({gpu_key(i, k): float(v) for k, v in figures.items() if v is not None})


def _or_none(read: Callable[..., Any], *args: Any) -> Any:
    """One NVML reading, None when this GPU does not support it (NVMLError)."""
    try:
        return read(*args)
    except Exception:  # pynvml.NVMLError and its many subclasses; a reading is never fatal
        return None


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Sampler:
    """Reads every figure now. ``torch_memory``: the run's device's allocator (None on CPU)."""

    def __init__(self, torch_memory: TorchMemory | None = None,
                 nvml: Nvml | None = None) -> None:
        import psutil

        self.nvml = nvml if nvml is not None else Nvml()
        self.torch_memory = torch_memory
        self._process = psutil.Process()
        self._psutil = psutil
        psutil.cpu_percent(interval=None)  # the first call only starts the count

    def sample(self) -> Sample:
        values: dict[str, float] = {
            "cpu_percent": float(self._psutil.cpu_percent(interval=None)),
            "rss_bytes": float(self._process.memory_info().rss),
        }
        if self.torch_memory is not None:
            try:
                values["torch_allocated"], values["torch_reserved"] = self.torch_memory()
            except Exception:  # the device went away mid-run: the other figures still count
                pass
        self.nvml.read(values)
        return Sample(time.monotonic(), values)


def aggregate(samples: Sequence[Sample]) -> dict[str, tuple[float, float]]:
    """Figure -> (mean, max) over the samples that have it."""
    seen: dict[str, list[float]] = {}
    for sample in samples:
        for key, value in sample.values.items():
            seen.setdefault(key, []).append(value)
    return {key: (sum(values) / len(values), max(values)) for key, values in seen.items()}


class ResourceMonitor:
    """Samples in a daemon thread; an EpochObserver that emits each epoch's ResourceUsage.

    ``emit``: where the events go (the engine's ``emit``, so they reach every sink on the
    training thread, in order with the epoch's other events)."""

    def __init__(self, sampler: Sampler, emit: Callable[[Event], None],
                 interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.sampler = sampler
        self.emit = emit
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._noted = False
        #: The newest sample, for a display in this process (None before the first).
        self.latest: Sample | None = None

    def start(self) -> ResourceMonitor:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="memtui-resources",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        # the first sample after one interval: host CPU is a share of the time since the last
        # reading, and one taken at once would cover a few milliseconds
        while not self._stop.wait(self.interval_s):
            self.take()

    def take(self) -> Sample:
        """One sample now (the thread's, or a test's)."""
        sample = self.sampler.sample()
        with self._lock:
            self._samples.append(sample)
            self.latest = sample
        return sample

    def epoch_measured(self, result: Any) -> None:
        """The engine's observer call: the epoch's figures as one event. Only a first epoch
        shorter than a sample interval (or a monitor without its thread) samples here, on the
        training thread."""
        with self._lock:
            samples, self._samples = self._samples, []
        if not samples:  # an epoch shorter than the interval: the newest sample stands for it
            samples = [self.latest] if self.latest is not None else [self.sampler.sample()]
        note = "" if self._noted else self.sampler.nvml.note
        self._noted = True
        self.emit(ResourceUsage(result.epoch, len(samples), aggregate(samples),
                                tuple(self.sampler.nvml.names), note))
