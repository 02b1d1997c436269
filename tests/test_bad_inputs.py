"""The bad-input catalogue: every bad input we know of, and what memtui answers.

Each case runs the real command line in-process. The answer must be exactly one line on stderr
("memtui: error: ..." naming the field and what would be valid), exit code 2 (1 where the machine
failed: a full disk), no traceback, and
no file of an existing run directory changed. docs/bad-inputs.md is this table rendered; regenerate
it with `MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py` and commit the result.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memtui.cli import main
from memtui.config import load_preset
from memtui.errors import ConfigError
from memtui.session import start_run

from helpers import full_disk_under_the_log

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"

GOOD_PRESET = """
name = "ok"
epochs = 1
[data]
dataset = "demo"
subset = 300
[model]
width = 16
[[losses]]
name = "ce"
"""


@dataclass
class Case:
    area: str
    what: str  # the bad input, as a user would describe it
    args: Callable[[Path, Path], list[str]]  # (tmp_path, a finished run dir) -> argv after `memtui`
    expect: str  # a fragment of the one-line answer; for an accepted input, what happens instead
    setup: Callable[[Path, Path], None] | None = None
    accepted: bool = False  # not an error at all: the command succeeds (exit 0)
    check: Callable[[Path], None] | None = None  # what must hold of the run dir afterwards
    patch: Callable[[pytest.MonkeyPatch], None] | None = None  # a fault of the machine
    makes_run: bool = False  # the run starts (and its directory stays) before the fault
    code: int = 2  # 1 where the machine failed (a full disk), not the input
    says: str | None = None  # for an accepted input: a line it must print on stderr
    prints: Callable[[str], None] | None = None  # for an accepted input: what holds of stdout


def preset_file(text: str) -> Callable[[Path, Path], list[str]]:
    def args(tmp: Path, _run: Path) -> list[str]:
        path = tmp / "bad.toml"
        path.write_text(text)
        return ["run", "--no-ui", "--preset", str(path), "--out", str(tmp / "out")]
    return args


def run_args(*extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, _run: ["run", "--no-ui", *extra, "--out", str(tmp / "out")]


def resume_args(*extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda _tmp, run: ["run", "--no-ui", "--resume", str(run), *extra]


def on_run(command: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda _tmp, run: [command, str(run), *extra]


def cut_last_line(_tmp: Path, run: Path) -> None:
    """What a kill -9 in the middle of a write leaves: a last line without its end."""
    metrics = run / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes() + b'{"epoch": 3, "loss": "CE", "train_')


def write_idx(path: Path, dims: tuple[int, ...], cut: int = 0, magic: bytes | None = None) -> None:
    """An IDX file of zero bytes with these dimensions; ``cut`` bytes short of whole."""
    import math

    header = (magic or bytes([0, 0, 8, len(dims)])) + b"".join(d.to_bytes(4, "big") for d in dims)
    blob = header + bytes(math.prod(dims))
    path.write_bytes(blob[:len(blob) - cut])


def mnist_dir(images: int = 10, labels: int = 10, cut: int = 0, magic: bytes | None = None
              ) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, _run: Path) -> None:
        raw = tmp / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        write_idx(raw / "train-images-idx3-ubyte", (images, 28, 28), cut=cut, magic=magic)
        write_idx(raw / "train-labels-idx1-ubyte", (labels,))
        write_idx(raw / "t10k-images-idx3-ubyte", (5, 28, 28))
        write_idx(raw / "t10k-labels-idx1-ubyte", (5,))
    return setup


def data_args(preset: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, _run: ["run", "--no-ui", "--preset", preset, "--data-dir", str(tmp / "data"),
                              "--out", str(tmp / "out")]


def not_a_zip(tmp: Path, _run: Path) -> None:
    (tmp / "data").mkdir()
    (tmp / "data" / "cifar10-jpeg.zip").write_bytes(b"<html>404 not found</html>")


def write_file(name: str, write: Callable[[Path], object]) -> Callable[[Path, Path], None]:
    return lambda tmp, _run: (write(tmp / name), None)[1]


def LABELS_FROM(file: str, key: str | None = None) -> str:  # noqa: N802 - reads as a constant
    table = f"[corruption]\nlabels = 'file'\nfile = '{file}'\n"
    return table + (f"key = '{key}'\n" if key else "")


def demo_labels() -> np.ndarray:
    from memtui.data import load

    return load("demo").train_y.numpy()


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def image_folder(odd_size: bool = False, empty_class: bool = False
                 ) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, _run: Path) -> None:
        from PIL import Image

        for split in ("train", "test"):
            for name in ("cat", "dog"):
                (tmp / "pets" / split / name).mkdir(parents=True)
                Image.new("RGB", (8, 8)).save(tmp / "pets" / split / name / "a.png")
        if odd_size:
            Image.new("RGB", (16, 16)).save(tmp / "pets" / "train" / "dog" / "big.png")
        if empty_class:
            (tmp / "pets" / "train" / "emu").mkdir()
    return setup


def evil_cifar100(tmp: Path, _run: Path) -> None:
    import pickle

    folder = tmp / "data" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes(pickle.dumps({"data": RunsCode()}))


HELD_LOCKS: list = []  # the locks of "another process", held until the test session ends


def another_writer(_tmp: Path, run: Path) -> None:
    from memtui.runlog import lock_run_dir

    HELD_LOCKS.append(lock_run_dir(run))


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        document = json.loads((run / name).read_text())
        change(document)
        (run / name).write_text(json.dumps(document))
    return setup


def first_metric_is(value: object) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        record = json.loads(lines[0])
        record["test_acc"] = value
        (run / "metrics.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    return setup


def edit_json_line(index: int, change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        record = json.loads(lines[index])
        change(record)
        lines[index] = json.dumps(record)
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return setup


def full_disk(patch: pytest.MonkeyPatch) -> None:
    import errno

    from memtui.checkpoint import Checkpoint

    def save(self, run_dir):
        from memtui.atomic import atomic_write

        with atomic_write(Path(run_dir) / "checkpoint.pt", "wb") as fh:
            fh.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    patch.setattr(Checkpoint, "save", save)


def file_size_limit(patch: pytest.MonkeyPatch) -> None:
    """A real file-size limit (`ulimit -f`, RLIMIT_FSIZE) of 4 KiB while a checkpoint is written:
    the kernel refuses the write past it with EFBIG. Only around the write, so that pytest's own
    files are not limited."""
    import resource

    from memtui.checkpoint import Checkpoint

    real = Checkpoint.save

    def save(self, run_dir):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            return real(self, run_dir)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    patch.setattr(Checkpoint, "save", save)


class GonePipe:
    """stdout of `memtui run --no-ui | head -3` once head has exited."""

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:  # not a real descriptor: nothing may be redirected under pytest
        raise io.UnsupportedOperation("fileno")


def stdout_is(stream: object) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(sys, "stdout", stream)
    return patch


def new_run_ended(status: str, epochs: int) -> Callable[[Path], None]:
    def check(run: Path) -> None:  # the case's own run, beside the finished one it was given
        summary = json.loads((run.parent / "out" / "summary.json").read_text())
        assert (summary["status"], summary["epochs_completed"]) == (status, epochs)
    return check


def a_terminal(term: str | None, streams: tuple[str, ...] = ("stdout", "stderr")
               ) -> Callable[[pytest.MonkeyPatch], None]:
    """As if ``streams`` were a terminal, with TERM set to ``term`` (None: unset)."""
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        for name in streams:
            monkeypatch.setattr(getattr(sys, name), "isatty", lambda: True, raising=False)
        if term is None:
            monkeypatch.delenv("TERM", raising=False)
        else:
            monkeypatch.setenv("TERM", term)
    return patch


def no_partial_files(tmp: Path) -> None:
    out = tmp / "out"
    assert not list(out.glob("*.tmp"))
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


def every_line_whole(run: Path) -> None:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines][-1] == 3


def edit(path_in_run: str, content: bytes | None) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        target = run / path_in_run
        if content is None:
            target.unlink()
        else:
            target.write_bytes(content)
    return setup


def last_epoch_lost(how: str) -> Callable[[Path, Path], None]:
    """metrics.jsonl without the lines of its last epoch: removed, or overwritten with NUL bytes
    (what a crash can leave on some file systems)."""
    def setup(_tmp: Path, run: Path) -> None:
        metrics = run / "metrics.jsonl"
        lines = metrics.read_bytes().splitlines(keepends=True)
        last = [line for line in lines if json.loads(line)["epoch"] == 2]
        kept = b"".join(lines[:len(lines) - len(last)])
        metrics.write_bytes(kept if how == "removed" else kept + bytes(len(b"".join(last))))
    return setup


def not_a_file(name: str, kind: str) -> Callable[[Path, Path], None]:
    """The run's file ``name`` replaced by a directory or a FIFO of the same name."""
    def setup(_tmp: Path, run: Path) -> None:
        (run / name).unlink()
        if kind == "directory":
            (run / name).mkdir()
        else:
            os.mkfifo(run / name)
    return setup


class FullDevice(GonePipe):
    """stdout redirected to /dev/full: every write fails with ENOSPC."""

    def write(self, _text: str) -> int:
        import errno

        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        pass


def grid_file(text: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    def args(tmp: Path, _run: Path) -> list[str]:
        (tmp / "grid.toml").write_text(text)
        return ["sweep", str(tmp / "grid.toml"), *extra]
    return args


HUGE_GRID = "base = 'demo'\n[grid]\n" + "".join(
    f"{axis} = {list(range(1, 11))}\n" for axis in
    ["seed", "epochs", "batch_size", "eval_batch_size", "eval_every", "'model.width'", "'model.depth'",
     "checkpoint_every", "'data.test_subset'"])


def each_run_once(csv_text: str) -> None:
    rows = csv_text.strip().splitlines()[1:]
    assert len(rows) == len(set(rows)) == 3, csv_text  # one run, three losses


def newer_schema(name: str) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        document = json.loads((run / name).read_text())
        document["schema_version"] = 99
        (run / name).write_text(json.dumps(document))
    return setup


CASES = [
    # -- command-line values -------------------------------------------------------------------
    Case("flag", "unknown preset name", run_args("--preset", "dmeo"),
         "unknown preset 'dmeo' (did you mean 'demo'?)"),
    Case("flag", "preset path that does not exist", run_args("--preset", "./nope.toml"),
         "preset file ./nope.toml does not exist"),
    Case("flag", "unknown loss", run_args("--losses", "ce,rl"),
         "--losses: unknown loss 'rl' (did you mean 'rll'?)"),
    Case("flag", "empty loss list", run_args("--losses", ","), "--losses: give at least one loss"),
    Case("flag", "noise above 1", run_args("--noise", "1.5"),
         "--noise: 1.5 is out of range; valid: 0 to 1"),
    Case("flag", "noise below 0", run_args("--noise", "-0.1"),
         "--noise: -0.1 is out of range; valid: 0 to 1"),
    Case("flag", "zero epochs", run_args("--epochs", "0"), "--epochs: 0 is out of range; valid: 1 to"),
    Case("flag", "absurd epochs", run_args("--epochs", "10000000000"),
         "--epochs: 10000000000 is out of range; valid: 1 to 1000000"),
    Case("flag", "zero subset", run_args("--subset", "0"),
         "--subset: 0 image(s) cannot form a training batch"),
    Case("flag", "a subset too small to form a batch", run_args("--subset", "1"),
         "--subset: 1 image(s) cannot form a training batch (BatchNorm needs at least 2); give 2 or more"),
    Case("flag", "negative seed", run_args("--seed", "-1"),
         "--seed: -1 is out of range; valid: 0 to 4294967295"),
    Case("flag", "absurd seed", run_args("--seed", "100000000000000000000"),
         "--seed: 100000000000000000000 is out of range; valid: 0 to 4294967295"),
    Case("flag", "zero threads", run_args("--threads", "0"),
         "--threads: 0 is out of range; valid: 1 to 1024"),
    Case("flag", "unknown device", run_args("--device", "tpu"), "--device: unknown device 'tpu'"),
    Case("flag", "data set missing offline",
         run_args("--preset", "mnist-noisy", "--data-dir", "/nonexistent"),
         "MNIST not found: expected MNIST/raw/"),
    Case("flag", "output dir under a regular file",
         lambda tmp, _run: ["run", "--no-ui", "--out", str(tmp / "afile" / "out")],
         "cannot be written", setup=lambda tmp, _run: (tmp / "afile").write_text("x")),
    Case("flag", "output dir that already holds a run",
         lambda _tmp, run: ["run", "--no-ui", "--out", str(run)], "already holds a run"),
    Case("flag", "an empty --out (`--out \"\"` would mean the current directory)",
         lambda _tmp, _run: ["run", "--no-ui", "--out", ""], "--out: an empty path"),
    Case("flag", "an --out whose name is too long for the file system",
         lambda _tmp, _run: ["run", "--no-ui", "--out", "a" * 300],
         "(File name too long)"),
    Case("flag", "a subset larger than the data set",
         run_args("--subset", "6000"), "data.subset (--subset): 6,000 images asked, but demo has "
         "5,000 training images; give at most 5,000"),
    # -- preset files ----------------------------------------------------------------------------
    Case("preset", "malformed TOML", preset_file("epochs = [1,\n"), "is not valid TOML"),
    Case("preset", "unknown top-level key", preset_file("epoch = 3\n"),
         "epoch: unknown key (did you mean 'epochs'?)"),
    Case("preset", "unknown nested key", preset_file("[model]\nwidht = 3\n"),
         "model.widht: unknown key (did you mean 'width'?)"),
    Case("preset", "unknown model", preset_file("[model]\narch = 'mpl'\n"),
         "model.arch: unknown model 'mpl' (did you mean 'mlp'?)"),
    Case("preset", "own network whose module does not import",
         preset_file("[model]\narch = 'no_such_module_memtui:net'\n"),
         "model.arch: cannot import 'no_such_module_memtui' (ModuleNotFoundError"),
    Case("preset", "own network that does not give [batch, classes] logits",
         preset_file("[model]\narch = 'torch.nn:Identity'\n"),
         "model.arch: the model of 'torch.nn:Identity' maps a batch [2, 1, 28, 28] to "
         "[2, 1, 28, 28]; memtui needs float logits [batch, classes] = [2, 10]"),
    Case("preset", "unknown data set", preset_file("[data]\ndataset = 'mnsit'\n"),
         "data.dataset: unknown data set 'mnsit' (did you mean 'mnist'?)"),
    Case("preset", "unknown label corruption", preset_file("[corruption]\nlabels = 'pairflop'\n"),
         "corruption.labels: 'pairflop' is not valid (did you mean 'pairflip'?)"),
    Case("preset", "zero batch size", preset_file("batch_size = 0\n"),
         "batch_size: 0 is out of range; valid: 2 to 100000000"),
    Case("preset", "a batch of one (BatchNorm cannot train on it)", preset_file("batch_size = 1\n"),
         "batch_size: 1 is out of range; valid: 2 to 100000000"),
    Case("preset", "an infinite learning rate", preset_file("[optimizer]\nlr = inf\n"),
         "optimizer.lr: Input should be a finite number"),
    Case("preset", "an absurd model width", preset_file("[model]\nwidth = 10000000000\n"),
         "model.width: 10000000000 is out of range; valid: 1 to 65536"),
    Case("preset", "threads of the wrong type", preset_file("threads = 'many'\n"),
         "threads: Input should be a valid integer"),
    Case("preset", "wrong type", preset_file("epochs = 'ten'\n"), "epochs: Input should be a valid integer"),
    Case("preset", "no losses", preset_file("losses = []\n"), "losses: List should have at least 1 item"),
    Case("preset", "unknown loss parameter",
         preset_file("[[losses]]\nname = 'rll'\nparams = { alpah = 1.0 }\n"),
         "loss 'rll' has no parameter 'alpah' (did you mean 'alpha'?)"),
    Case("preset", "two losses with one display name",
         preset_file("[[losses]]\nname = 'rll'\n[[losses]]\nname = 'rll'\n"),
         "two losses are both shown as 'RLL'"),
    Case("preset", "RLL with alpha = 0 (its formula divides by alpha)",
         preset_file("[[losses]]\nname = 'rll'\nparams = { alpha = 0.0 }\n"),
         "losses.0: loss 'rll': alpha = 0 is out of range; valid: 0 < x (the formula divides by "
         "alpha)"),
    Case("preset", "GCE with q = 0 (its formula divides by q)",
         preset_file("[[losses]]\nname = 'gce'\nparams = { q = 0.0 }\n"),
         "losses.0: loss 'gce': q = 0 is out of range; valid: 0 < x"),
    Case("preset", "an empty file", preset_file(""), "is empty: it sets no option"),
    Case("preset", "a NUL byte in the name", preset_file('name = "a\\u0000b"\n'),
         "name: contains the control character '\\x00'; use printable text"),
    Case("preset", "a key with an escape sequence in it (echoed escaped, not to the terminal)",
         preset_file('"epo\\u001b[2Jchs" = 1\n'), "epo\\x1b[2Jchs: unknown key"),
    Case("preset", "pair-flip noise above 0.5 (the wrong class is the majority)",
         preset_file(GOOD_PRESET + "[corruption]\nlabels = 'pairflip'\nnoise = 0.7\n"),
         "it runs, after one line: `memtui: warning: corruption.noise = 0.7 with pairflip labels: "
         "above 0.5 most images of each flipped class carry their pair's label, so the wrong class "
         "is the majority there`", accepted=True, says="memtui: warning: corruption.noise = 0.7"),
    Case("preset", "file that is not UTF-8",
         lambda tmp, _run: (tmp.joinpath("bin.toml").write_bytes(b"\xff\xfe\x00"),
                            ["run", "--no-ui", "--preset", str(tmp / "bin.toml")])[1],
         "cannot be read"),
    # -- data files ------------------------------------------------------------------------------
    Case("data", "a truncated IDX file (an interrupted download)", data_args("mnist-noisy"),
         "train-images-idx3-ubyte is damaged: 7,852 bytes, its header says 7,856 (a truncated "
         "download?)", setup=mnist_dir(cut=4)),
    Case("data", "an IDX file of another format", data_args("mnist-noisy"),
         "train-images-idx3-ubyte is damaged: not an IDX file of 3-dimensional unsigned bytes",
         setup=mnist_dir(magic=b"\x1f\x8b\x08\x00")),
    Case("data", "a label file of the wrong length", data_args("mnist-noisy"),
         "train-labels-idx1-ubyte is damaged: 9 labels for 10 images in train-images-idx3-ubyte",
         setup=mnist_dir(labels=9)),
    Case("data", "a zip archive that is not a zip", data_args("cifar10-noisy"),
         "cifar10-jpeg.zip is damaged: not a readable zip archive (File is not a zip file)",
         setup=not_a_zip),
    # -- labels from a file, transition matrices, image folders ---------------------------------
    Case("label file", "a label file shorter than the training set",
         preset_file(GOOD_PRESET + LABELS_FROM("short.npy")),
         "corruption.file: short.npy holds 10 labels; the demo training set has 5,000 images",
         setup=write_file("short.npy", lambda p: np.save(p, np.zeros(10, dtype=np.int64)))),
    Case("label file", "a label that is not a class",
         preset_file(GOOD_PRESET + LABELS_FROM("labels.csv")),
         "corruption.file: labels.csv: label 12 at position 3 is not a class of demo (valid: 0..9)",
         setup=write_file("labels.csv", lambda p: p.write_text(
             "\n".join("12" if i == 3 else "0" for i in range(5000))))),
    Case("label file", "clean labels in another order than the data set's",
         preset_file(GOOD_PRESET + LABELS_FROM("human.pt", "worse_label")),
         "its clean_label differs from the demo training labels",
         setup=write_file("human.pt", lambda p: torch.save(
             {"clean_label": np.sort(demo_labels()), "worse_label": demo_labels()}, p))),
    Case("label file", "a .pt label file whose pickle would run code",
         preset_file(GOOD_PRESET + LABELS_FROM("evil.pt")),
         "holds a pickle that would build other objects than arrays",
         setup=write_file("evil.pt", lambda p: torch.save({"worse_label": RunsCode()}, p))),
    Case("label file", "a label set the file does not have",
         preset_file(GOOD_PRESET + LABELS_FROM("human.pt", "worst_label")),
         "corruption.key: human.pt has no label set 'worst_label' (did you mean 'worse_label'?)",
         setup=write_file("human.pt", lambda p: torch.save(
             {"clean_label": demo_labels(), "worse_label": demo_labels()}, p))),
    Case("label file", "a file of several label sets and no key",
         preset_file(GOOD_PRESET + LABELS_FROM("human.pt")),
         "corruption.key: human.pt holds several label sets; name one with corruption.key: "
         "aggre_label, worse_label",
         setup=write_file("human.pt", lambda p: torch.save(
             {"clean_label": demo_labels(), "aggre_label": demo_labels(),
              "worse_label": demo_labels()}, p))),
    Case("flag", "--label-file for labels that do not come from a file",
         run_args("--label-file", "labels.npy"),
         "--label-file: only read with corruption.labels = 'file' (labels are 'random')"),
    Case("flag", "a label-file preset without --label-file", run_args("--preset", "cifar10n-worse"),
         "corruption.file: labels = 'file' needs a label file; give --label-file PATH"),
    Case("preset", "a transition matrix of the wrong size",
         preset_file(GOOD_PRESET + "[corruption]\nlabels = 'asymmetric'\n"
                     "matrix = [[0.5, 0.5], [0.0, 1.0]]\n"),
         "corruption.matrix: a matrix of shape (2, 2); the data set has 10 classes"),
    Case("preset", "a transition matrix whose row does not sum to 1",
         preset_file(GOOD_PRESET + "[corruption]\nlabels = 'asymmetric'\nmatrix = 't.csv'\n"),
         "corruption.matrix: row 0 sums to 0.9; each row i holds P(given label j | true label i)",
         setup=write_file("t.csv", lambda p: p.write_text(
             "\n".join(" ".join("0.9" if i == j == 0 else str(float(i == j)) for j in range(10))
                       for i in range(10))))),
    Case("preset", "asymmetric noise on a data set without a class map",
         preset_file("[data]\ndataset = 'imagefolder'\ndata_dir = '.'\n"
                     "[corruption]\nlabels = 'asymmetric'\nnoise = 0.4\n"),
         "corruption.labels: asymmetric noise has no class map for data set 'imagefolder'"),
    Case("preset", "an image folder data set without data_dir",
         preset_file("[data]\ndataset = 'imagefolder'\n"),
         "data.data_dir: the imagefolder data set needs a folder with train/<class>/ and "
         "test/<class>/"),
    Case("data", "an image folder of images of two sizes",
         preset_file("[data]\ndataset = 'imagefolder'\ndata_dir = 'pets'\n"),
         "images differ in size: pets/train/dog/big.png is 16x16 pixels, pets/train/cat/a.png is 8x8",
         setup=image_folder(odd_size=True)),
    Case("data", "an image folder with an empty class",
         preset_file("[data]\ndataset = 'imagefolder'\ndata_dir = 'pets'\n"),
         "pets/train/emu holds no images", setup=image_folder(empty_class=True)),
    Case("data", "a CIFAR-100 pickle that would run code",
         preset_file("[data]\ndataset = 'cifar100'\ndata_dir = 'data'\n"),
         "meta is not a CIFAR-100 pickle: it names", setup=evil_cifar100),
    # -- the machine -----------------------------------------------------------------------------
    Case("machine", "a full disk (the checkpoint cannot be written)",
         preset_file(GOOD_PRESET.replace("epochs = 1\n", "epochs = 2\ncheckpoint_seconds = 0\n")),
         "cannot write …/out/checkpoint.pt (No space left on device, ENOSPC: disk full)",
         patch=full_disk, makes_run=True, check=no_partial_files, code=1),
    Case("machine", "a file-size limit under the checkpoint (`ulimit -f`, a real one)",
         preset_file(GOOD_PRESET.replace("epochs = 1\n", "epochs = 2\ncheckpoint_seconds = 0\n")),
         "cannot write …/out/checkpoint.pt (File too large, EFBIG: over the file-size limit, see "
         "ulimit -f)", patch=file_size_limit, makes_run=True, check=no_partial_files, code=1),
    Case("machine", "a full disk under metrics.jsonl",
         preset_file(GOOD_PRESET.replace("epochs = 1\n", "epochs = 3\n")),
         "cannot write the run log in …/out (No space left on device, ENOSPC: disk full)",
         patch=full_disk_under_the_log, makes_run=True, code=1,
         check=lambda tmp: new_run_ended("failed", 1)(tmp / "run")),
    Case("machine", "stdout a closed pipe (`memtui run --no-ui | head -3` after head exits)",
         preset_file(GOOD_PRESET.replace("epochs = 1\n", "epochs = 2\n")),
         "the display is dropped; training goes on to the end and writes its summary",
         patch=stdout_is(GonePipe()), accepted=True, check=new_run_ended("completed", 2)),
    Case("machine", "stdout closed (`memtui run >&-`)",
         preset_file(GOOD_PRESET.replace("epochs = 1\n", "epochs = 2\n")),
         "it runs headless, to the end", patch=stdout_is(None), accepted=True,
         check=new_run_ended("completed", 2)),
    Case("machine", "stdout that cannot be written (`memtui presets show demo > /dev/full`)",
         lambda _tmp, _run: ["presets", "show", "demo"],
         "cannot write the output (No space left on device)", patch=stdout_is(FullDevice()), code=1),
    Case("machine", "stdout that cannot be written (`memtui report RUN -f csv > /dev/full`)",
         on_run("report", "-f", "csv"), "cannot write the output (No space left on device)",
         patch=stdout_is(FullDevice()), code=1),
    # -- run directories given to --resume -----------------------------------------------------
    Case("run dir", "resume a file, not a directory",
         lambda _tmp, run: ["run", "--resume", str(run / "config.json")],
         "config.json is a file, not a run directory"),
    Case("run dir", "resume a run whose metrics.jsonl lost its last epoch's lines",
         resume_args("--epochs", "5"), "metrics.jsonl holds 1 whole epoch(s), but summary.json "
         "counts 2", setup=last_epoch_lost("removed")),
    Case("run dir", "resume a killed run whose metrics.jsonl ends in NUL bytes over the "
         "checkpoint's epoch", resume_args("--epochs", "5"),
         "metrics.jsonl holds 1 whole epoch(s), but checkpoint.pt counts 2: the log lost epoch 2",
         setup=lambda tmp, run: (edit("summary.json", None)(tmp, run),
                                 last_epoch_lost("zeroed")(tmp, run))),
    Case("run dir", "resume a killed run whose metrics.jsonl was deleted",
         resume_args("--epochs", "5"),
         "metrics.jsonl holds 0 whole epoch(s), but checkpoint.pt counts 2: the log lost epochs 1-2",
         setup=lambda tmp, run: (edit("summary.json", None)(tmp, run),
                                 edit("metrics.jsonl", None)(tmp, run))),
    Case("run dir", "resume a run whose checkpoint.pt is a FIFO", resume_args("--epochs", "5"),
         "checkpoint.pt is a FIFO (named pipe), not a file; move it aside",
         setup=not_a_file("checkpoint.pt", "fifo")),
    Case("run dir", "resume a run whose metrics.jsonl is a FIFO", resume_args("--epochs", "5"),
         "metrics.jsonl is a FIFO (named pipe), not a file; move it aside",
         setup=not_a_file("metrics.jsonl", "fifo")),
    Case("run dir", "resume a run that another process is writing", resume_args("--epochs", "5"),
         "is being written by another memtui (pid", setup=another_writer),
    Case("run dir", "config.json with a field of the wrong type", resume_args("--epochs", "5"),
         "config.json: field 'losses' is \"CE\", not a list",
         setup=edit_json("config.json", lambda d: d.update(losses="CE"))),
    Case("run dir", "resume a directory that does not exist",
         lambda tmp, _run: ["run", "--resume", str(tmp / "missing")], "does not exist"),
    Case("run dir", "resume an empty directory",
         lambda tmp, _run: (tmp.joinpath("empty").mkdir(), ["run", "--resume", str(tmp / "empty")])[1],
         "is not a memtui run directory (no config.json)"),
    Case("run dir", "resume a run that ended before its first checkpoint", resume_args("--epochs", "3"),
         "it restarts from epoch 0 with its own config and says so in one line: `memtui: RUN has no "
         "checkpoint.pt (it ended before its first one): restarting it from epoch 0 with its own "
         "config`", setup=edit("checkpoint.pt", None), accepted=True),
    Case("run dir", "resume a damaged checkpoint", resume_args("--epochs", "5"), "it is damaged",
         setup=edit("checkpoint.pt", b"not a checkpoint")),
    Case("run dir", "config.json that is not JSON", resume_args("--epochs", "5"),
         "config.json is not valid JSON", setup=edit("config.json", b"{\"schema_version\": 1,")),
    Case("run dir", "config.json of a newer memtui", resume_args("--epochs", "5"),
         "written by a newer memtui", setup=newer_schema("config.json")),
    Case("run dir", "metrics.jsonl with a broken line in the middle", resume_args("--epochs", "5"),
         "metrics.jsonl: line 1 is not valid JSON",
         setup=lambda _tmp, run: (run / "metrics.jsonl").write_bytes(
             b"{oops\n" + (run / "metrics.jsonl").read_bytes())),
    Case("run dir", "resume a run that completed all its epochs", resume_args(),
         "completed all 2 epochs; pass --epochs N with N > 2"),
    Case("run dir", "resume with fewer epochs than done", resume_args("--epochs", "1"),
         "--epochs: the run has completed 2 epochs already, so 1 would train none; give more "
         "than 2 to extend it"),
    Case("run dir", "extend a run whose learning rate followed a cosine schedule",
         resume_args("--epochs", "5"), "--epochs cannot extend a run with a cosine schedule",
         setup=lambda _tmp, run: (run / "config.json").write_text(
             (run / "config.json").read_text().replace('"kind": "constant"', '"kind": "cosine"'))),
    Case("run dir", "resume with an override that changes the experiment",
         resume_args("--noise", "0.2"), "--noise cannot be combined with --resume"),
    Case("run dir", "resume a run whose metrics.jsonl ends in a cut line (kill -9 mid-write)",
         resume_args("--epochs", "3"), "the cut line is dropped and the run goes on from its "
         "checkpoint", setup=cut_last_line, accepted=True, check=lambda run: every_line_whole(run)),
    # -- run directories given to watch and report ----------------------------------------------
    Case("watch", "a directory that does not exist",
         lambda tmp, _run: ["watch", str(tmp / "missing")], "does not exist"),
    Case("watch", "a file, not a directory", lambda _tmp, run: ["watch", str(run / "config.json")],
         "config.json is a file, not a run directory"),
    Case("watch", "metrics.jsonl that is a FIFO (a reader would wait on it forever)",
         on_run("watch"), "metrics.jsonl is a FIFO (named pipe), not a file; move it aside",
         setup=not_a_file("metrics.jsonl", "fifo")),
    Case("watch", "summary.json that is a directory", on_run("watch"),
         "summary.json is a directory, not a file; move it aside",
         setup=not_a_file("summary.json", "directory")),
    Case("watch", "a completed run whose metrics.jsonl ends in NUL bytes over its last epoch",
         on_run("watch"), "metrics.jsonl holds 1 whole epoch(s), but summary.json counts 2",
         setup=last_epoch_lost("zeroed")),
    Case("watch", "an empty directory",
         lambda tmp, _run: (tmp.joinpath("empty").mkdir(), ["watch", str(tmp / "empty")])[1],
         "is not a memtui run directory (no config.json)"),
    Case("watch", "no argument, and no runs under ./runs", lambda _tmp, _run: ["watch"],
         "no runs found under runs; start one with `memtui run`"),
    Case("watch", "a run of a newer memtui", on_run("watch"), "written by a newer memtui",
         setup=newer_schema("config.json")),
    Case("watch", "config.json without its config", on_run("watch"),
         "config.json: field 'config' is missing",
         setup=edit_json("config.json", lambda d: d.pop("config"))),
    Case("watch", "config.json with a number where a section belongs", on_run("watch"),
         "config.json: field 'config.data' is 7, not an object",
         setup=edit_json("config.json", lambda d: d["config"].update(data=7))),
    Case("watch", "a metrics.jsonl line with a metric of the wrong type", on_run("watch"),
         "metrics.jsonl: line 1: field 'test_acc' is 'high', not a number",
         setup=first_metric_is("high")),
    Case("watch", "stdout is not a terminal (a pipe or a file)", on_run("watch"),
         "watch needs a terminal, and stdout is not one; for a summary of the run use "
         "`memtui report RUN_DIR`"),
    Case("watch", "stderr is not a terminal (2>log): the view would be drawn into it",
         on_run("watch"),
         "watch needs a terminal, and stderr is not one; for a summary of the run use "
         "`memtui report RUN_DIR`", patch=a_terminal("xterm-256color", streams=("stdout",))),
    Case("watch", "TERM=dumb", on_run("watch"),
         "watch needs a terminal that can draw (TERM is dumb)", patch=a_terminal("dumb")),
    Case("watch", "TERM unset", on_run("watch"),
         "watch needs a terminal that can draw (TERM is unset)", patch=a_terminal(None)),
    Case("report", "a directory that does not exist",
         lambda tmp, _run: ["report", str(tmp / "missing")], "does not exist"),
    Case("report", "a file, not a directory",
         lambda _tmp, run: ["report", str(run / "metrics.jsonl")],
         "metrics.jsonl is a file, not a run directory"),
    Case("report", "metrics.jsonl that is a directory", on_run("report"),
         "metrics.jsonl is a directory, not a file; move it aside",
         setup=not_a_file("metrics.jsonl", "directory")),
    Case("report", "summary.json that is a FIFO", on_run("report"),
         "summary.json is a FIFO (named pipe), not a file; move it aside",
         setup=not_a_file("summary.json", "fifo")),
    Case("report", "a completed run whose metrics.jsonl lost its last epoch's lines",
         on_run("report"), "metrics.jsonl holds 1 whole epoch(s), but summary.json counts 2: the "
         "log lost epoch 2", setup=last_epoch_lost("removed")),
    Case("report", "a completed run whose metrics.jsonl was deleted", on_run("report"),
         "metrics.jsonl holds 0 whole epoch(s), but summary.json counts 2: the log lost epochs 1-2",
         setup=edit("metrics.jsonl", None)),
    Case("report", "one run given twice (`report RUN ./RUN/`)",
         lambda _tmp, run: ["report", str(run), f"{run}/", "-f", "csv"],
         "each directory is reported once", accepted=True, prints=each_run_once),
    Case("report", "--plot of a run with no epoch measured yet",
         on_run("report", "--plot", "curves.svg"),
         "--plot: the runs have no epoch measured yet; nothing to draw",
         setup=lambda tmp, run: (edit("summary.json", None)(tmp, run),
                                 edit("metrics.jsonl", b"")(tmp, run))),
    Case("report", "a run without summary.json (still going, or killed)", on_run("report"),
         "summarised from metrics.jsonl, its status shown as `running` or `unfinished: process gone "
         "(pid N)` / `unfinished: not updated for N s`", setup=edit("summary.json", None),
         accepted=True),
    Case("report", "a truncated summary.json", on_run("report"), "summary.json is not valid JSON",
         setup=edit("summary.json", b'{"schema_version": 1, "status": "comp')),
    Case("report", "a summary.json of a newer memtui", on_run("report"),
         "written by a newer memtui", setup=newer_schema("summary.json")),
    Case("report", "a summary.json with a field of the wrong type", on_run("report"),
         "summary.json: field 'status' is 5, not a string",
         setup=edit_json("summary.json", lambda d: d.update(status=5))),
    Case("report", "a metrics.jsonl line with an epoch of the wrong type", on_run("report"),
         "metrics.jsonl: line 1: field 'epoch' is 'one', not a number",
         setup=edit_json_line(0, lambda r: r.update(epoch="one"))),
    Case("report", "a metrics.jsonl line that is not an object", on_run("report"),
         "metrics.jsonl: line 1 is not a JSON object",
         setup=lambda _tmp, run: (run / "metrics.jsonl").write_bytes(
             b"[1, 2]\n" + (run / "metrics.jsonl").read_bytes())),
    Case("report", "an unknown --format", on_run("report", "--format", "xml"),
         "Invalid value for '--format' / '-f': 'xml' is not valid; valid: table, markdown, csv, json"),
    Case("report", "--plot to an unsupported file type", on_run("report", "--plot", "curves.gif"),
         "--plot: cannot draw 'curves.gif'; give a file ending in .svg or .png"),
    Case("report", "a run whose metrics.jsonl ends in a cut line (kill -9 mid-write)",
         on_run("report", "--format", "csv"), "the cut line is ignored; the whole lines are reported",
         setup=cut_last_line, accepted=True),
    # -- sweeps ------------------------------------------------------------------------------------
    Case("sweep", "a grid of 10^9 cells (nine axes of ten values)", grid_file(HUGE_GRID, "--dry-run"),
         "the grid has 1,000,000,000 cells (10 seed x 10 epochs x"),
    Case("sweep", "--resume of a file, not a directory",
         lambda _tmp, run: ["sweep", "--resume", str(run / "config.json")],
         "config.json is a file, not a sweep directory"),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("finished") / "run"
    path.mkdir()
    config = load_preset("demo").model_copy(update={"epochs": 2, "out": path})
    config.schedule.kind = "constant"  # so that --epochs may extend it
    config = config.model_copy(update={"data": config.data.model_copy(update={"subset": 300})})
    start_run(config).execute()
    return path


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


#: The stdout of the last case run (only accepted cases look at it).
PRINTED: list[str] = [""]


def answer(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["memtui", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    PRINTED[0] = captured.out
    return exit_info.value.code, captured.err


#: What each case answered, as the catalogue shows it: filled by the tests above it, so that the
#: catalogue test runs again only the cases a selection (-k) left out.
ANSWERS: dict[tuple[str, str], str] = {}


def catalogue_answer(stderr: str, tmp: Path) -> str:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    message = last.removeprefix("memtui: error: ").replace(str(tmp), "…")
    message = re.sub(r"pid \d+ on [^)]+\)", "pid … on …)", message)
    # The list of shipped presets grows; the catalogue should not have to.
    return re.sub(r"shipped presets: [^(]*\(", "shipped presets: … (", message)


def run_case(case: Case, tmp_path: Path, finished_run: Path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    if case.setup:
        case.setup(tmp_path, run)
    before = fingerprint(run)
    monkeypatch.chdir(tmp_path)
    if case.patch:
        case.patch(monkeypatch)
    code, stderr = answer(case.args(tmp_path, run), capsys, monkeypatch)
    ANSWERS[(case.area, case.what)] = catalogue_answer(stderr, tmp_path)
    return code, stderr, before, fingerprint(run)


REFUSED = [c for c in CASES if not c.accepted]
ACCEPTED = [c for c in CASES if c.accepted]


@pytest.mark.parametrize("case", REFUSED, ids=[f"{c.area}: {c.what}" for c in REFUSED])
def test_bad_input_gets_one_clear_line_exit_2_and_loses_nothing(case, tmp_path, finished_run,
                                                              capsys, monkeypatch):
    code, stderr, before, after = run_case(case, tmp_path, finished_run, capsys, monkeypatch)
    lines = stderr.strip().splitlines()
    assert code == case.code, stderr
    if case.makes_run:  # the run's own output came first; its error is the last line
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("memtui: error: "), stderr
    assert case.expect in lines[0].replace(str(tmp_path), "…")
    assert "Traceback" not in stderr
    assert before == after, "an existing run directory must not change"
    if case.makes_run:
        assert case.check is not None
        case.check(tmp_path)
    else:
        assert not (tmp_path / "out").exists(), "a refused run leaves no directory behind"


@pytest.mark.parametrize("case", ACCEPTED, ids=[f"{c.area}: {c.what}" for c in ACCEPTED])
def test_damage_a_kill_can_do_is_not_an_error(case, tmp_path, finished_run, capsys, monkeypatch):
    code, stderr, _, _ = run_case(case, tmp_path, finished_run, capsys, monkeypatch)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    if case.check:
        case.check(tmp_path / "run")
    if case.says:
        assert any(line.startswith(case.says) for line in stderr.splitlines()), stderr
    if case.prints:
        case.prints(PRINTED[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_names_the_devices_that_would_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stderr = answer(["run", "--no-ui", "--device", "cuda", "--out", "o"], capsys, monkeypatch)
    assert code == 2
    assert "no CUDA device; valid here: auto, cpu" in stderr


def render_catalogue(rows: list[tuple[Case, str]]) -> str:
    lines = [
        "# Bad-input catalogue",
        "",
        "Every bad input we have tried, and memtui's answer: one line on stderr (for a "
        "fault that strikes a running run, its last line), exit code "
        "2 (1 where the machine failed, not the input, as marked), no traceback, and no file of "
        "an existing run directory changed; or, in the rows "
        "marked *accepted*, not an error at all: what memtui does instead, with exit code 0 and "
        "no traceback. Each row is a case of "
        "`tests/test_bad_inputs.py`, which checks exactly this; the answers below are what it "
        "printed (temporary paths shortened to `…`). Regenerate with "
        "`MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py`.",
        "",
        "| where | bad input | memtui answers |",
        "| --- | --- | --- |",
    ]
    for case, message in rows:
        escaped = message.replace("|", "\\|")
        if case.accepted:
            answer = f"accepted (exit 0): {case.expect}"
        elif "`" in escaped:
            answer = f"`` {escaped} ``"  # the message quotes a command
        else:
            answer = f"`{escaped}`"
        if case.code != 2 and not case.accepted:
            answer += f" (exit {case.code}: the machine failed, not the input)"
        lines.append(f"| {case.area} | {case.what} | {answer} |")
    lines += [
        "",
        "The same faults in real processes are tested in `tests/test_kill_resume.py`: "
        "`memtui run --no-ui 2>&1 | head -3`, `memtui run >&-`, and `kill -9` at several moments "
        "after the first epoch followed by `--resume` (the metrics equal an uninterrupted run's). "
        "A display that raises, even SystemExit, is dropped and training goes on; SystemExit "
        "inside the run writes the summary before it exits (`tests/test_reliability.py`). "
        "`memtui watch` of a run whose process died before its summary shows `PROCESS GONE "
        "(PID N)` in its header (`tests/tui/test_reliability_view.py`), and of a run not written "
        "for 30 s or more `NOT UPDATED FOR N S` (the rule: `tests/test_reliability.py`).",
        "",
        "Also checked elsewhere: a `--device cuda` request on a machine without CUDA "
        "(`tests/test_bad_inputs.py`), a truncated last line of metrics.jsonl, which readers skip "
        "as a write in progress while a run is followed (`tests/test_runlog.py`, "
        "`tests/tui/test_watch.py`), random preset documents (the property tests in the same "
        "file: the loader never raises anything but its own config error), and random run files "
        "(`tests/test_run_files.py`: config.json, metrics.jsonl and summary.json with arbitrary "
        "JSON values; watch's reader and every report format raise nothing but their one line).",
        "",
    ]
    return "\n".join(lines)


def test_the_catalogue_in_docs_is_this_table(tmp_path_factory, finished_run, capsys, monkeypatch):
    rows = []
    for case in CASES:
        if (case.area, case.what) not in ANSWERS:
            with monkeypatch.context() as patch:
                run_case(case, tmp_path_factory.mktemp("case"), finished_run, capsys, patch)
        rows.append((case, ANSWERS[(case.area, case.what)]))
    rendered = render_catalogue(rows)
    if os.environ.get("MEMTUI_WRITE_CATALOGUE"):
        CATALOGUE.parent.mkdir(exist_ok=True)
        CATALOGUE.write_text(rendered)
    assert CATALOGUE.read_text() == rendered, (
        "docs/bad-inputs.md is out of date: MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py")


# -- random preset documents --------------------------------------------------------------------

KEYS = ["name", "description", "data", "dataset", "subset", "corruption", "labels", "noise",
        "inputs", "model", "arch", "width", "depth", "losses", "params", "alpha", "label", "optimizer",
        "lr", "momentum", "schedule", "kind", "milestones", "epochs", "batch_size", "seed", "device",
        "precision", "out", "eval_every", "backend", "random", "mlp", "ce", "rll", "cuda",
        "threads", "checkpoint_seconds", "checkpoint_every", "test_subset", "eval_batch_size"]
scalars = (st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
           | st.booleans() | st.sampled_from(KEYS) | st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.sampled_from(KEYS), documents, max_size=6))
def test_the_preset_loader_raises_nothing_but_config_error(document, tmp_path):
    import tomli_w

    path = tmp_path / "random.toml"
    try:
        path.write_text(tomli_w.dumps(document))
    except (TypeError, ValueError):  # not representable as TOML (e.g. mixed-type arrays in old TOML)
        return
    try:
        load_preset(str(path))
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_as_a_preset_gives_a_config_or_a_config_error(text, tmp_path):
    path = tmp_path / "random.toml"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        load_preset(str(path))
    except ConfigError as exc:
        assert str(exc)
