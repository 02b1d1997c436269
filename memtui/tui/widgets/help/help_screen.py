"""The help screen (`?`): the keys, what the header's figures are, then what each metric means
(memtui.metrics)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from memtui.metrics import METRICS

#: The first keys differ: a live run is stopped by q; a watched one is only left.
LIVE_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  stop training after the current batch, write the summary, exit
  [b]p[/b]          pause / resume training
"""
WATCH_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  leave the view (the runs themselves go on)
"""
HELP_TEXT = """\
  [b]o[/b]          overlay: one metric of every loss on one chart
  [b]m[/b]          next metric in the overlay
  [b]l[/b]          accuracy or loss chart in the panes (small terminals show one)
  [b]g[/b]          log-scale values on the loss charts
  [b]x[/b]          x range: the whole run, the last 50, 20 or 10 epochs
  [b]←[/b] [b]→[/b]        cursor: the exact values at an epoch, in the tables ([b]escape[/b]: off)
  [b]b[/b]          leaderboard: best and final values per run × loss (Enter opens a run)
  [b]r[/b]          resources: GPU utilisation, memory, power, temperature, SM clock; host CPU,
             RSS, torch memory (one header line in a small terminal, history when larger)
  [b]e[/b]          samples: which corrupted labels each loss memorised, when, and what it
             predicts ([b]tab[/b] or [b]1[/b]-[b]5[/b]: panel, [b]\\[[/b] [b]][/b]: loss, [b]escape[/b]: back)
  [b]s[/b]          save an SVG screenshot into the run directory
  [b]?[/b]          this help

[b]Header[/b]
  [b]preset · data set train/test[/b]  the preset's name; the images trained and tested on
  [b]random labels 40% (N)[/b]  how labels are corrupted and the share asked for; N is how many
      training labels actually differ from the true ones (a resampled label may land on the
      true class, so N can be below the share): [i]memorized[/i] and [i]recovered[/i] count these
  [b]mlp 1×512 lr 0.1 · cpu[/b]  model (depth × width), learning rate, device
  [b]epoch k/N[/b]  the epoch in progress of those planned, elapsed time, [b]ETA[/b] at the mean
      pace of the epochs so far, [b]img/s[/b] training images per second (each loss sees every
      image), and the status (RUNNING, FOLLOWING a run directory, PAUSED, COMPLETED, ...)
  [b]GPU0 87% 31.2G/80.0G 65°C │ CPU │ RSS │ torch[/b]  with [b]r[/b]: per GPU utilisation, memory
      used/total, temperature (and power/cap, SM clock with one GPU); host CPU, this run's
      process memory, torch's allocated/reserved; "now" live, else the last epoch's mean

[b]Metrics[/b]
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def __init__(self, live: bool = True, leading_keys: str | None = None) -> None:
        """``live``: a run in this process (LIVE_KEYS) or a watched one (WATCH_KEYS);
        ``leading_keys``: other keys in their place (the sweep board's)."""
        super().__init__()
        self.leading_keys = leading_keys or (LIVE_KEYS if live else WATCH_KEYS)

    def compose(self) -> ComposeResult:
        metrics = "\n".join(f"  [b]{m.title:<11}[/b] {m.help}" for m in METRICS.values())
        keys = "[b]Keys[/b]\n" + self.leading_keys + HELP_TEXT
        with Vertical(id="help"):
            yield Static(keys + metrics + "\n\n[dim]escape or ? closes this help[/dim]")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
