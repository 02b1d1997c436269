"""The metrics measured per loss per epoch: the one list that the engine, the run log, the
headless table, the TUI and the report all read their names, titles and formats from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    fmt: str  # format spec for display
    higher_is_better: bool | None  # None: not a quality measure (lr, timings)
    help: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("train_acc", "train acc", ".1%", True,
               "accuracy against the (noisy) labels the model is trained on"),
        Metric("memorized", "memorized", ".1%", None,
               "corrupted samples predicted as their corrupted label"),
        Metric("recovered", "recovered", ".1%", True,
               "corrupted samples predicted as their original label"),
        Metric("clean_acc", "clean acc", ".1%", True,
               "accuracy on the training samples that were not corrupted"),
        Metric("test_acc", "test acc", ".1%", True, "accuracy on the clean test set"),
        Metric("test_loss", "test loss", ".4f", False,
               "this loss's own value on the clean test set (scales differ between losses)"),
        Metric("train_loss", "train loss", ".4f", False, "mean training loss of the epoch"),
        Metric("lr", "lr", ".2g", None, "learning rate of the epoch"),
        Metric("seconds", "s/epoch", ".2f", None, "wall time of the epoch, all losses, with eval"),
        Metric("eval_seconds", "eval s", ".2f", None, "wall time of the epoch's evaluation"),
        Metric("images_per_s", "img/s", ",.0f", None,
               "training images per second, each image counted once for all losses in lockstep"),
    ]
}

#: The metrics that describe the model's predictions (measured by the evaluation pass).
EVAL_METRICS = ("train_acc", "memorized", "recovered", "clean_acc", "test_acc", "test_loss")


def format_value(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    return format(value, METRICS[name].fmt)
