"""The machine in the view (`r`): one line for the header at small sizes, a panel with the
per-epoch history as sparklines at larger ones. Both read the RunState's ResourceUsage events
(memtui.resources) and, for a run in this process, the monitor's newest sample."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from memtui.resources import gpu_key
from memtui.runstate import RunState

SPARKS = "▁▂▃▄▅▆▇█"
#: Epochs a sparkline shows (the newest).
HISTORY = 12


def bytes_text(value: float | None) -> str:
    if value is None:
        return "—"
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value / 1e3:.0f}k"


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.0f}{unit}"


def sparkline(values: Sequence[float | None], width: int = HISTORY, top: float | None = None
              ) -> str:
    """The newest ``width`` values as block characters, scaled to ``top`` (else their max)."""
    shown = list(values)[-width:]
    known = [v for v in shown if v is not None]
    high = top if top else max(known, default=0.0)
    if not known or high <= 0:
        return " " * len(shown)
    return "".join(" " if v is None else SPARKS[min(len(SPARKS) - 1, int(v / high * len(SPARKS)))]
                   for v in shown)


def current(state: RunState, live: dict[str, float] | None) -> tuple[dict[str, float], str]:
    """What the figures are now: the live sample (a run in this process), else the last epoch's
    means; and what they are ("now", "epoch 12 mean")."""
    if live:
        return live, "now"
    if state.resources:
        last = state.resources[-1]
        return {k: mean for k, (mean, _) in last.values.items()}, f"epoch {last.epoch} mean"
    return {}, ""


def gpu_count(state: RunState, now: dict[str, float]) -> int:
    names = state.resources[-1].gpus if state.resources else ()
    count = len(names)
    while gpu_key(count, "util") in now or gpu_key(count, "mem_total") in now:
        count += 1
    return count


def header_line(state: RunState, live: dict[str, float] | None) -> Text:
    """One line: every GPU (shorter with several), the host, torch's memory."""
    now, what = current(state, live)
    line = Text(no_wrap=True, overflow="ellipsis")
    if not now:
        line.append("resources: waiting for the first epoch's figures", style="dim")
        return line
    gpus = gpu_count(state, now)
    for i in range(gpus):
        g = lambda name, i=i: now.get(gpu_key(i, name))  # noqa: E731
        line.append(f"GPU{i} ", style="bold")
        line.append(f"{_num(g('util'), '%')} {bytes_text(g('mem_used'))}/"
                    f"{bytes_text(g('mem_total'))} {_num(g('temp'), '°C')}")
        if gpus == 1:
            line.append(f" {_num(g('power'))}/{_num(g('power_cap'), 'W')} "
                        f"{_num(g('sm_clock'), 'MHz')}")
        line.append(" │ ", style="dim")
    line.append("CPU ", style="bold")
    line.append(f"{_num(now.get('cpu_percent'), '%')} ")
    line.append("RSS ", style="bold")
    line.append(bytes_text(now.get("rss_bytes")))
    if "torch_allocated" in now:
        line.append(" │ ", style="dim")
        line.append("torch ", style="bold")
        line.append(f"{bytes_text(now.get('torch_allocated'))}/"
                    f"{bytes_text(now.get('torch_reserved'))}")
    if not gpus and state.resource_note:
        line.append(" │ ", style="dim")
        line.append("no GPU figures (NVML)", style="dim")
    line.append(f"  ({what})", style="dim")
    return line


def _history(state: RunState, key: str) -> list[float | None]:
    return [usage.values[key][0] if key in usage.values else None for usage in state.resources]


def _peak(state: RunState, key: str) -> float | None:
    peaks = [usage.values[key][1] for usage in state.resources[-HISTORY:] if key in usage.values]
    return max(peaks, default=None)


def panel_text(state: RunState, live: dict[str, float] | None) -> Text:
    """A row per GPU, the host and torch: the figure now, its peak over the epochs shown and
    the per-epoch means as a sparkline."""
    now, what = current(state, live)
    text = Text(no_wrap=True, overflow="ellipsis")
    epochs = state.resources[-HISTORY:]
    span = (f"epochs {epochs[0].epoch}-{epochs[-1].epoch}" if len(epochs) > 1
            else f"epoch {epochs[0].epoch}" if epochs else "no epoch yet")
    text.append("resources", style="bold")
    text.append(f"  figures: {what or 'none yet'} · max and sparklines: per-epoch, {span}",
                style="dim")

    def cell(label: str, key: str, shown: str, peak: str, top: float | None = None) -> None:
        text.append(f" {label:<5} ", style="bold")
        text.append(f"{shown:>11} ")
        text.append(f"max {peak:<6} ", style="dim")
        text.append(sparkline(_history(state, key), top=top), style="cyan")

    names = state.resources[-1].gpus if state.resources else ()
    for i in range(gpu_count(state, now)):
        g = lambda name, i=i: now.get(gpu_key(i, name))  # noqa: E731
        name = names[i] if i < len(names) else ""
        text.append(f"\nGPU{i} {name[:12]:<12}", style="bold")
        text.append(f" {_num(g('temp'), '°C'):>4} {_num(g('sm_clock'), 'MHz'):>7}")
        cell("util", gpu_key(i, "util"), _num(g("util"), "%"),
             _num(_peak(state, gpu_key(i, "util")), "%"), top=100)
        cell("mem", gpu_key(i, "mem_used"), f"{bytes_text(g('mem_used'))}/"
             f"{bytes_text(g('mem_total'))}", bytes_text(_peak(state, gpu_key(i, "mem_used"))),
             top=g("mem_total"))
        cell("power", gpu_key(i, "power"), f"{_num(g('power'))}/{_num(g('power_cap'), 'W')}",
             _num(_peak(state, gpu_key(i, "power")), "W"), top=g("power_cap"))
    text.append(f"\n{'host':<30}", style="bold")
    cell("CPU ", "cpu_percent", _num(now.get("cpu_percent"), "%"),
         _num(_peak(state, "cpu_percent"), "%"), top=100)
    cell("RSS", "rss_bytes", bytes_text(now.get("rss_bytes")),
         bytes_text(_peak(state, "rss_bytes")))
    if "torch_allocated" in now:
        text.append(f"\n{'torch ' + state.device:<30}", style="bold")
        cell("alloc", "torch_allocated", bytes_text(now.get("torch_allocated")),
             bytes_text(_peak(state, "torch_allocated")))
        cell("reserved", "torch_reserved", bytes_text(now.get("torch_reserved")),
             bytes_text(_peak(state, "torch_reserved")))
    if state.resource_note:
        text.append(f"\n{state.resource_note}", style="dim")
    return text


class ResourcePanel(Static):
    """The fuller view of the machine, below the header; hidden until `r`."""

    def show_figures(self, state: RunState, live: dict[str, float] | None) -> None:
        text = panel_text(state, live)
        if text.markup != getattr(self, "_shown", None):  # the view ticks every second
            self._shown = text.markup
            self.update(text)

