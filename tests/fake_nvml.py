"""A fake NVML for CPU machines: nvidia-ml-py's module functions replaced, two GPUs or none."""

from __future__ import annotations

from types import SimpleNamespace

import pynvml

#: What each fake GPU reports, in NVML's units (bytes, mW, °C, MHz).
GPUS = [
    {"name": "NVIDIA H200", "util": 87, "used": 31_200_000_000, "total": 80_000_000_000,
     "power_mw": 250_000, "cap_mw": 700_000, "temp": 65, "sm": 1980},
    {"name": "NVIDIA H200", "util": 12, "used": 2_000_000_000, "total": 80_000_000_000,
     "power_mw": 90_000, "cap_mw": 700_000, "temp": 41, "sm": 345},
]


def install_fake_nvml(monkeypatch, gpus=GPUS) -> list[str]:
    """NVML answering for ``gpus``; returns the log of calls (a handle is the GPU's index)."""
    calls: list[str] = []

    def device(name, read):
        def call(handle, *args):
            calls.append(name)
            return read(gpus[handle], *args)
        monkeypatch.setattr(pynvml, name, call)

    monkeypatch.setattr(pynvml, "nvmlInit", lambda: calls.append("nvmlInit"))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: len(gpus))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: i)
    device("nvmlDeviceGetName", lambda g: g["name"])
    device("nvmlDeviceGetUtilizationRates", lambda g: SimpleNamespace(gpu=g["util"], memory=0))
    device("nvmlDeviceGetMemoryInfo",
           lambda g: SimpleNamespace(used=g["used"], total=g["total"], free=g["total"] - g["used"]))
    device("nvmlDeviceGetPowerUsage", lambda g: g["power_mw"])
    device("nvmlDeviceGetEnforcedPowerLimit", lambda g: g["cap_mw"])
    device("nvmlDeviceGetTemperature", lambda g, sensor: g["temp"])
    device("nvmlDeviceGetClockInfo", lambda g, clock: g["sm"])
    return calls


def install_missing_nvml(monkeypatch) -> None:
    """A machine without the NVIDIA driver: nvmlInit fails as it does there."""
    def fail():
        raise pynvml.NVMLError_LibraryNotFound()
    monkeypatch.setattr(pynvml, "nvmlInit", fail)
