"""The machine while a run trains (memtui.resources): sampled off the training thread, each
epoch's mean and max written to metrics.jsonl, read back by every reader."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from memtui.errors import RunDirError
from memtui.events import ResourceUsage
from memtui.resources import Nvml, ResourceMonitor, Sample, Sampler, aggregate
from memtui.runlog import read_run
from memtui.runlog.records import RecordDecoder, from_record, to_record
from memtui.session import start_run

from fake_nvml import install_fake_nvml, install_missing_nvml

GPU_FIGURES = {"util", "mem_used", "mem_total", "power", "power_cap", "temp", "sm_clock"}


def test_two_gpus_give_every_figure_in_plain_units(monkeypatch):
    install_fake_nvml(monkeypatch)
    sampler = Sampler()
    values = sampler.sample().values
    assert sampler.nvml.names == ["NVIDIA H200", "NVIDIA H200"] and sampler.nvml.note == ""
    for i in (0, 1):
        assert {f"gpu{i}_{name}" for name in GPU_FIGURES} <= set(values)
    assert values["gpu0_util"] == 87 and values["gpu1_util"] == 12
    assert values["gpu0_mem_used"] == 31.2e9 and values["gpu0_mem_total"] == 80e9
    assert values["gpu0_power"] == 250.0 and values["gpu0_power_cap"] == 700.0  # W, not mW
    assert values["gpu0_temp"] == 65 and values["gpu1_sm_clock"] == 345
    assert 0 <= values["cpu_percent"] <= 100 and values["rss_bytes"] > 10e6
    assert "torch_allocated" not in values  # a CPU run: no allocator to read


def test_a_figure_a_gpu_cannot_report_is_left_out_not_fatal(monkeypatch):
    import pynvml

    install_fake_nvml(monkeypatch)

    def unsupported(handle):
        raise pynvml.NVMLError_NotSupported()

    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", unsupported)
    values = Sampler().sample().values
    assert "gpu0_power" not in values and values["gpu0_util"] == 87


def test_without_a_driver_the_host_is_sampled_and_the_note_says_why(monkeypatch):
    install_missing_nvml(monkeypatch)
    sampler = Sampler()
    values = sampler.sample().values
    assert set(values) == {"cpu_percent", "rss_bytes"}
    assert sampler.nvml.note == "NVML not available (NVML Shared Library Not Found): no GPU figures"


def test_without_nvidia_ml_py_the_note_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    nvml = Nvml()
    assert nvml.handles == [] and "nvidia-ml-py is not installed" in nvml.note


def test_torch_memory_comes_from_the_reader_the_run_passes_in(monkeypatch):
    install_missing_nvml(monkeypatch)
    values = Sampler(torch_memory=lambda: (1e9, 2e9)).sample().values
    assert values["torch_allocated"] == 1e9 and values["torch_reserved"] == 2e9


def test_an_epoch_is_its_samples_mean_and_max():
    samples = [Sample(0, {"cpu_percent": 10.0, "gpu0_util": 50.0}),
               Sample(1, {"cpu_percent": 30.0}),
               Sample(2, {"cpu_percent": 50.0, "gpu0_util": 100.0})]
    assert aggregate(samples) == {"cpu_percent": (30.0, 50.0), "gpu0_util": (75.0, 100.0)}


def test_the_monitor_samples_in_its_own_thread_and_reports_each_epoch_once(monkeypatch):
    install_fake_nvml(monkeypatch)
    events: list[ResourceUsage] = []
    sampler = Sampler()
    threads: list[str] = []
    real = sampler.sample

    def sample():
        value = real()
        threads.append(threading.current_thread().name)
        return value

    monkeypatch.setattr(sampler, "sample", sample)
    monitor = ResourceMonitor(sampler, events.append, interval_s=0.02).start()
    try:
        deadline = time.monotonic() + 10
        # one sample more than asserted: the last may be taken but not yet added to the epoch
        while len(threads) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        monitor.epoch_measured(type("Measured", (), {"epoch": 1})())
    finally:
        monitor.stop()
    assert set(threads) == {"memtui-resources"}  # never the training thread
    [usage] = events
    assert usage.epoch == 1 and usage.samples >= 3 and usage.gpus == ("NVIDIA H200",) * 2
    assert usage.values["gpu0_util"] == (87.0, 87.0) and usage.note == ""
    assert monitor.latest is not None and monitor.latest.values["gpu1_temp"] == 41


def test_the_note_is_said_once_per_run(monkeypatch):
    install_missing_nvml(monkeypatch)
    events: list[ResourceUsage] = []
    monitor = ResourceMonitor(Sampler(), events.append)
    for epoch in (1, 2, 3):  # no thread: an epoch shorter than a sample takes one at its end
        monitor.epoch_measured(type("Measured", (), {"epoch": epoch})())
    assert [bool(e.note) for e in events] == [True, False, False]
    assert all(e.samples == 1 and set(e.values) == {"cpu_percent", "rss_bytes"} for e in events)


def test_a_usage_line_reads_back_as_the_event_it_was():
    usage = ResourceUsage(3, 12, {"cpu_percent": (40.5, 98.0), "gpu1_temp": (60.0, 66.0)},
                          ("NVIDIA H200", "NVIDIA H200"), "")
    record = to_record(usage)
    assert record == {"event": "resources", "epoch": 3, "samples": 12,
                      "gpus": ["NVIDIA H200", "NVIDIA H200"], "note": "",
                      "cpu_percent": [40.5, 98.0], "gpu1_temp": [60.0, 66.0]}
    assert from_record(json.loads(json.dumps(record))) == usage


@pytest.mark.parametrize("field, value, says", [
    ("cpu_percent", "high", "field 'cpu_percent' is 'high', not [mean, max]"),
    ("cpu_percent", [1.0], "field 'cpu_percent' is '[1.0]', not [mean, max]"),
    ("gpus", "H200", "field 'gpus' is 'H200', not a list of names"),
    ("samples", None, "field 'samples' is None, not a number"),
])
def test_a_damaged_usage_line_is_one_line_naming_its_field(field, value, says):
    record = {"event": "resources", "epoch": 1, "samples": 2, "gpus": [], "note": "",
              "cpu_percent": [1.0, 2.0], field: value}
    with pytest.raises(RunDirError) as caught:
        RecordDecoder(3, ["CE"], 5).decode([record], "metrics.jsonl")
    assert str(caught.value) == f"metrics.jsonl: line 1: {says}"


def test_a_real_run_writes_each_epochs_figures_before_its_end(tiny_config, tmp_path, monkeypatch):
    install_fake_nvml(monkeypatch)
    config = tiny_config(epochs=2).model_copy(update={"out": tmp_path / "run"})
    assert start_run(config).execute().status == "completed"
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
             .splitlines()]
    assert [r["event"] for r in lines if r["epoch"] == 1][-2:] == ["resources", "epoch_ended"]
    usage = [r for r in lines if r["event"] == "resources"]
    assert [r["epoch"] for r in usage] == [1, 2]
    assert all(r["samples"] >= 1 and r["gpus"] == ["NVIDIA H200"] * 2 for r in usage)
    assert usage[0]["gpu0_power"] == [250.0, 250.0] and usage[1]["gpu1_util"] == [12.0, 12.0]
    mean, peak = usage[0]["rss_bytes"]
    assert 10e6 < mean <= peak

    # every reader replays them: watch and report see what the live view saw
    state = read_run(tmp_path / "run").state()
    assert [u.epoch for u in state.resources] == [1, 2] and state.resource_note == ""
    assert state.resources[1].values["gpu1_util"] == (12.0, 12.0)


def test_a_run_without_nvml_records_the_host_and_says_why_once(tiny_config, tmp_path,
                                                                monkeypatch):
    install_missing_nvml(monkeypatch)
    config = tiny_config(epochs=2).model_copy(update={"out": tmp_path / "run"})
    start_run(config).execute()
    state = read_run(tmp_path / "run").state()
    assert [set(u.values) for u in state.resources] == [{"cpu_percent", "rss_bytes"}] * 2
    assert [bool(u.note) for u in state.resources] == [True, False]
    assert "NVML not available" in state.resource_note
