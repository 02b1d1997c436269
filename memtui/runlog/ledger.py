"""The sample ledger's files in a run directory, with numpy only: the engine's ledger
(memtui.ledger) writes them, the view, the report and notebooks read them.

Files (beside config.json; written whole or not at all, see memtui.atomic):

- ``ledger.npz``      every training sample's ledger, per loss, and the per-epoch scoreboard.
                      Written at most every ``LEDGER_WRITE_S`` seconds, at checkpoints and at
                      the end. ``np.load(path)`` reads it: no memtui, no pickle, no pyarrow (why
                      npz and not Parquet: memtui already depends on numpy and nothing else reads
                      columnar files; the arrays are 2-D per loss, which npz keeps as they are).
- ``thumbnails.npz``  uint8 images of the few hundred samples a view shows (the first memorised
                      corrupted ones of each loss, a fixed draw of others), so that ``watch`` of a
                      copied or remote run needs no data set.
- ``trajectories/epoch-NNNNNN.npz``  optional (``ledger.trajectories``): every loss's prediction
                      of every sample at that epoch, int8, one small compressed file per epoch.

Keys of ``ledger.npz`` (N samples, L losses, K classes, S scores, C counts, E epochs scored):

- ``version`` (int), ``epoch`` (the last epoch in it; 0: none yet)
- ``index`` int64 [N]: the sample's position in the data set's training split
- ``given`` int16 [N] (the label trained on), ``true`` int16 [N] (the original label),
  ``corrupted`` bool [N] (given != true)
- ``loss_labels`` [L], ``class_names`` [K], ``score_names`` [S], ``count_names`` [C]: strings
- ``epochs_seen`` int32 [L]: epochs the loss was measured at (eval_every, divergence)
- per loss and sample, [L, N]: ``first_fit`` int32 (first epoch predicted as the given label,
  -1: never), ``fit_since`` int32 (the epoch since which it has been predicted as the given label
  at every measurement; -1: not at the last one; for a corrupted sample, when it was memorised),
  ``forgets`` int32 (forgetting events: predicted as the given label at one measurement, not at the
  next), ``last_pred`` int16, ``aum`` float32 (mean over the measurements of the logit margin
  z_given - max_{k != given} z_k), ``confidence`` float32 (mean of p(given | x)),
  ``variability`` float32 (population std of p(given | x))
- scoreboard, per measured epoch: ``history_epoch`` int32 [E], ``history_auroc`` and
  ``history_precision`` float32 [E, L, S] (NaN: undefined, or the loss was not measured then),
  ``history_counts`` int32 [E, L, C] (-1: not measured)

The measurements are memtui's end-of-epoch evaluation pass (eval mode, whole training set), not
Toneva et al.'s minibatch presentations: a forgetting event here is between two consecutive
evaluated epochs.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memtui.atomic import atomic_write
from memtui.errors import RunDirError

LEDGER_FILE = "ledger.npz"
THUMBNAILS_FILE = "thumbnails.npz"
TRAJECTORIES_DIR = "trajectories"
LEDGER_VERSION = 1
#: The ledger file is rewritten at an epoch end at most this often (and at checkpoints, at the end).
LEDGER_WRITE_S = 30.0
NEVER = -1  # first_fit / fit_since of a sample not (or no longer) predicted as its given label


@dataclass(frozen=True)
class Score:
    """A per-sample score used as a detector of the corrupted labels."""

    name: str
    title: str
    suspect_when: str  # "low" or "high": which end flags a corrupted label
    help: str


#: The detector scores, in the order of the scoreboard's last axis: the one list the ledger, its
#: events, the view and the report read.
SCORES: tuple[Score, ...] = (
    Score("aum", "AUM", "low", "area under the margin: mean logit margin of the given label "
          "(Pleiss et al. 2020); low flags a corrupted label"),
    Score("confidence", "confidence", "low", "mean p(given | x) over epochs (data maps, "
          "Swayamdipta et al. 2020); low flags a corrupted label"),
    Score("forgetting", "forgetting", "high", "forgetting events between evaluated epochs "
          "(Toneva et al. 2019, per epoch here); never fitted counts as the most forgotten"),
    Score("first_fit", "first fit", "high", "the first epoch predicted as the given label; "
          "late (or never) flags a corrupted label"),
)
SCORE_NAMES = tuple(s.name for s in SCORES)
#: Per-epoch counts per loss: corrupted samples newly memorised (predicted as their given label
#: now, not at the previous measurement) and forgotten (the reverse); the same for clean samples.
COUNT_NAMES = ("memorized", "forgotten", "fitted_clean", "forgotten_clean")
#: The flat names of one loss's per-epoch figures, as its metrics.jsonl line carries them.
FIGURE_NAMES = (*COUNT_NAMES, *(f"auroc_{s.name}" for s in SCORES),
                *(f"precision_{s.name}" for s in SCORES))
SAMPLE_ARRAYS = ("first_fit", "fit_since", "forgets", "last_pred", "aum", "confidence",
                 "variability")
_STRING_KEYS = ("loss_labels", "class_names", "score_names", "count_names")
_REQUIRED = ("version", "epoch", "index", "given", "true", "corrupted", "epochs_seen",
             "history_epoch", "history_auroc", "history_precision", "history_counts",
             *_STRING_KEYS, *SAMPLE_ARRAYS)


@dataclass(frozen=True)
class LossLedger:
    """One loss's arrays, each [N] in the ledger's sample order."""

    label: str
    epochs_seen: int
    first_fit: np.ndarray
    fit_since: np.ndarray
    forgets: np.ndarray
    last_pred: np.ndarray
    aum: np.ndarray
    confidence: np.ndarray
    variability: np.ndarray

    @property
    def fitted(self) -> np.ndarray:
        """Bool [N]: predicted as the given label at the last measurement."""
        return self.fit_since >= 0


@dataclass(frozen=True)
class Scoreboard:
    """The per-epoch detector figures: ``auroc[label]`` and ``precision[label]`` are [E, S]
    (columns in ``score_names`` order), ``counts[label]`` is [E, C]."""

    epochs: np.ndarray
    score_names: tuple[str, ...]
    count_names: tuple[str, ...]
    auroc: dict[str, np.ndarray]
    precision: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]

    def series(self, label: str, score: str, kind: str = "auroc") -> tuple[np.ndarray, np.ndarray]:
        """(epochs, values) of one score of one loss, the epochs it was not measured left out."""
        table = (self.auroc if kind == "auroc" else self.precision)[label]
        values = table[:, self.score_names.index(score)]
        keep = ~np.isnan(values)
        return self.epochs[keep], values[keep]


@dataclass(frozen=True)
class Thumbnails:
    """uint8 images [T, C, H, W] of the ledger rows ``rows`` [T]."""

    rows: np.ndarray
    images: np.ndarray

    def image(self, row: int) -> np.ndarray | None:
        """The [C, H, W] image of ledger row ``row``, or None when it is not in the pack."""
        hit = np.flatnonzero(self.rows == row)
        return self.images[hit[0]] if hit.size else None


@dataclass(frozen=True)
class LedgerView:
    """A run's sample ledger as read from its directory (see the module docstring for fields)."""

    path: Path
    epoch: int
    index: np.ndarray
    given: np.ndarray
    true: np.ndarray
    corrupted: np.ndarray
    class_names: tuple[str, ...]
    losses: tuple[LossLedger, ...]
    scoreboard: Scoreboard
    thumbnails: Thumbnails | None

    @property
    def num_samples(self) -> int:
        return int(self.given.shape[0])

    @property
    def num_corrupted(self) -> int:
        return int(self.corrupted.sum())

    @property
    def loss_labels(self) -> tuple[str, ...]:
        return tuple(loss.label for loss in self.losses)

    def loss(self, label: str) -> LossLedger:
        for loss in self.losses:
            if loss.label == label:
                return loss
        raise KeyError(f"no loss {label!r} in the ledger; it has {', '.join(self.loss_labels)}")

    def memorized(self, label: str) -> np.ndarray:
        """Bool [N]: corrupted samples predicted as their given label at the last measurement."""
        return self.corrupted & self.loss(label).fitted

    def memorized_order(self, label: str) -> np.ndarray:
        """Rows of the memorised corrupted samples, earliest memorised first (ties: by row)."""
        rows = np.flatnonzero(self.memorized(label))
        return rows[np.argsort(self.loss(label).fit_since[rows], kind="stable")]

    def prediction_matrix(self, label: str) -> np.ndarray:
        """int64 [K, K]: corrupted samples counted by original class (row) and the loss's last
        prediction (column); compare with ``given`` to tell memorised from recovered."""
        k = len(self.class_names)
        rows = self.corrupted
        pred = self.loss(label).last_pred[rows].astype(np.int64)
        matrix = np.zeros((k, k), dtype=np.int64)
        valid = (pred >= 0) & (pred < k)
        np.add.at(matrix, (self.true[rows].astype(np.int64)[valid], pred[valid]), 1)
        return matrix


# -- writing ------------------------------------------------------------------------------------

def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """An .npz as ``np.savez_compressed`` writes one, but integer arrays deflated at level 1 and
    float arrays stored: per-sample floats hardly compress (measured: level 6 took a 48,000-sample,
    7-loss ledger from 9.4 MB to 4.4 MB in 2.0 s under load; this layout makes 5.2 MB in 0.2 s),
    and the ledger is rewritten during training."""
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(
            fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in arrays.items():
            array = np.asanyarray(value)
            member: str | zipfile.ZipInfo = key + ".npy"
            if array.dtype.kind == "f":
                member = zipfile.ZipInfo(key + ".npy")
                member.compress_type = zipfile.ZIP_STORED
            with archive.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def write_ledger(run_dir: Path, arrays: dict[str, Any]) -> Path:
    """Write ``ledger.npz`` whole; ``arrays`` holds every key of the module docstring."""
    missing = [key for key in _REQUIRED if key not in arrays]
    if missing:
        raise ValueError(f"ledger arrays lack {', '.join(missing)}")
    path = Path(run_dir) / LEDGER_FILE
    _save_npz(path, arrays)
    return path


def write_thumbnails(run_dir: Path, rows: np.ndarray, images: np.ndarray) -> Path:
    path = Path(run_dir) / THUMBNAILS_FILE
    _save_npz(path, {"version": np.int32(LEDGER_VERSION), "rows": np.asarray(rows, np.int64),
                     "images": np.asarray(images, np.uint8)})
    return path


def trajectory_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / TRAJECTORIES_DIR / f"epoch-{epoch:06d}.npz"


def write_trajectory(run_dir: Path, epoch: int, predictions: np.ndarray) -> Path:
    """One epoch's predictions [L, N] (int8; -1 where a loss was not measured)."""
    path = trajectory_path(run_dir, epoch)
    path.parent.mkdir(exist_ok=True)
    _save_npz(path, {"epoch": np.int32(epoch), "predictions": predictions})
    return path


# -- reading ------------------------------------------------------------------------------------

def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise RunDirError(f"{path.parent} has no {path.name} (the run was started without the "
                          "sample ledger, by an older memtui, or has not written it yet)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise RunDirError(f"{path} cannot be read ({type(exc).__name__}); it is damaged") from None


def has_ledger(run_dir: Path) -> bool:
    return (Path(run_dir) / LEDGER_FILE).is_file()


def _check(arrays: dict[str, np.ndarray], path: Path) -> tuple[int, int]:
    for key in _REQUIRED:
        if key not in arrays:
            raise RunDirError(f"{path}: array {key!r} is missing")
    version = int(arrays["version"])
    if version > LEDGER_VERSION:
        raise RunDirError(f"{path} was written by a newer memtui (ledger version {version}, this "
                          f"one reads up to {LEDGER_VERSION}); upgrade memtui to read it")
    n = int(arrays["given"].shape[0])
    num_losses = int(arrays["loss_labels"].shape[0])
    for key in ("index", "true", "corrupted"):
        if arrays[key].shape != (n,):
            raise RunDirError(f"{path}: array {key!r} has shape {arrays[key].shape}, not ({n},)")
    for key in SAMPLE_ARRAYS:
        if arrays[key].shape != (num_losses, n):
            raise RunDirError(f"{path}: array {key!r} has shape {arrays[key].shape}, "
                              f"not ({num_losses}, {n})")
    return n, num_losses


def read_ledger(run_dir: Path) -> LedgerView:
    """The ledger of a run directory. RunDirError (one line) when it is absent, damaged or newer."""
    run_dir = Path(run_dir)
    path = run_dir / LEDGER_FILE
    arrays = _load(path)
    _check(arrays, path)
    labels = tuple(str(s) for s in arrays["loss_labels"])
    losses = tuple(
        LossLedger(label, int(arrays["epochs_seen"][i]),
                   *(arrays[key][i] for key in SAMPLE_ARRAYS))
        for i, label in enumerate(labels))
    scoreboard = Scoreboard(
        epochs=arrays["history_epoch"],
        score_names=tuple(str(s) for s in arrays["score_names"]),
        count_names=tuple(str(s) for s in arrays["count_names"]),
        auroc={label: arrays["history_auroc"][:, i] for i, label in enumerate(labels)},
        precision={label: arrays["history_precision"][:, i] for i, label in enumerate(labels)},
        counts={label: arrays["history_counts"][:, i] for i, label in enumerate(labels)},
    )
    return LedgerView(
        path=path, epoch=int(arrays["epoch"]), index=arrays["index"], given=arrays["given"],
        true=arrays["true"], corrupted=arrays["corrupted"].astype(bool),
        class_names=tuple(str(s) for s in arrays["class_names"]), losses=losses,
        scoreboard=scoreboard, thumbnails=read_thumbnails(run_dir))


def read_thumbnails(run_dir: Path) -> Thumbnails | None:
    """The thumbnail pack, or None when the run has none (or it cannot be read: the view then
    shows no images, which is no reason to refuse the rest)."""
    path = Path(run_dir) / THUMBNAILS_FILE
    if not path.is_file():
        return None
    try:
        arrays = _load(path)
        return Thumbnails(arrays["rows"], arrays["images"])
    except (RunDirError, KeyError):
        return None


def read_trajectories(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(epochs [E], predictions [E, L, N]) of every trajectory file, in epoch order; empty
    arrays when the run kept none."""
    folder = Path(run_dir) / TRAJECTORIES_DIR
    files = sorted(folder.glob("epoch-*.npz")) if folder.is_dir() else []
    if not files:
        return np.zeros(0, np.int32), np.zeros((0, 0, 0), np.int8)
    loaded = [_load(f) for f in files]
    epochs = np.array([int(a["epoch"]) for a in loaded], np.int32)
    return epochs, np.stack([a["predictions"] for a in loaded])
