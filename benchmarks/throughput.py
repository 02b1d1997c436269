"""Training throughput of memtui's engine against a bare loop and against research-style code.

    python benchmarks/throughput.py                          # MNIST MLP and CIFAR-10 CNN, CPU
    python benchmarks/throughput.py --preset mnist-noisy --subset 10000 --epochs 2 --repeats 3
    python benchmarks/throughput.py --preset cifar10-random --device cuda --backends separate,fused \
        --precisions fp32,bf16 --data-dir DIR

Rows, all over the same corrupted data, the same losses (default CE, MSE, RLL), the same model,
batch size and optimiser:

- ``engine``: ``memtui.engine.Engine`` training all losses in lockstep, with its per-epoch
  evaluation (training images/s from its EpochMetrics, evaluation share from eval_seconds);
- ``bare``: the practical limit, a plain PyTorch loop over the same tensors preloaded on the
  device, one model per loss, same batch size, no evaluation;
- ``reference``: code written the way research code usually is: a torchvision dataset with
  per-sample transforms (ToTensor, Normalize), a DataLoader, one run per loss after another, an
  evaluation pass over the training and test sets every epoch (accuracy read with .item()).

Each row runs in its own fresh subprocess (clean peak memory: VmHWM from /proc, and
torch.cuda.max_memory_allocated on CUDA). The first epoch of every row is a warm-up and is not
timed. Rows are run interleaved (A B C A B C ...) and each figure is the median over repeats, so
that a machine shared with other work slows every row alike.

"images/s" is training images of the data set per second with all losses trained, i.e. the epoch's
images over the time it took to train every loss's model on them once.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: benchmark workload -> defaults for it on each device type
WORKLOADS = {
    "mnist-noisy": {"cpu": {"subset": 10000, "test_subset": 2000},
                    "cuda": {"subset": None, "test_subset": None}},
    "cifar10-random": {"cpu": {"subset": 64, "test_subset": 64},
                       "cuda": {"subset": None, "test_subset": None}},
}
DEFAULT_DATA_DIR = os.environ.get(
    "MEMTUI_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))


# ---------------------------------------------------------------------------------------------
# One row, in a fresh process


def peak_rss_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource

        scale = 1024 if sys.platform != "darwin" else 1024 * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    except Exception:
        return None


def make_config(spec: dict):
    from memtui.config import apply_overrides, load_preset
    from memtui.overrides import parse_losses

    config = load_preset(spec["preset"])
    overrides = {
        "epochs": spec["epochs"] + 1,  # + the warm-up epoch
        "losses": parse_losses(spec["losses"]),
        "device": spec["device"],
        "data.data_dir": spec["data_dir"],
        "data.subset": spec["subset"],
        "data.test_subset": spec["test_subset"],
        "eval_every": 1,
        "backend": spec.get("backend", "separate"),
        "precision": spec.get("precision", "fp32"),
        "compile": spec.get("compile", False),
    }
    if spec.get("threads"):  # the engine sets its own count (memtui.session): the same as the rows'
        overrides["threads"] = spec["threads"]
    return apply_overrides(config, overrides)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def row_engine(spec: dict) -> dict:
    import tempfile

    from memtui.events import EpochMetrics, RunFinished
    from memtui.session import start_run

    class Collect:
        critical = False
        def __init__(self) -> None:
            self.epochs: dict[int, dict] = {}
            self.finished = None

        def handle(self, event) -> None:
            if isinstance(event, EpochMetrics):
                self.epochs.setdefault(event.epoch, event.values)
            elif isinstance(event, RunFinished):
                self.finished = event

    collect = Collect()
    with tempfile.TemporaryDirectory(prefix="memtui-bench-") as tmp:
        # as `memtui run` trains it: run log, checkpoints and all
        config = make_config(spec).model_copy(update={"out": Path(tmp) / "run"})
        run = start_run(config, sinks=[collect])
        run.execute()
    engine = run.engine
    if collect.finished is None or collect.finished.status != "completed":
        raise RuntimeError(f"engine run did not complete: {collect.finished}")
    timed = [v for epoch, v in sorted(collect.epochs.items()) if epoch > 1]
    train = [v["seconds"] - v["eval_seconds"] for v in timed]
    evals = [v["eval_seconds"] for v in timed]
    return {"n": len(engine.data.train_x), "train_s": statistics.median(train),
            "eval_s": statistics.median(evals), "backend": type(engine.bank).__name__}


def row_bare(spec: dict) -> dict:
    import torch

    from memtui import data as data_module
    from memtui.bank.optim import autocast_context, make_optimizer
    from memtui.device import resolve_device
    from memtui.losses import REGISTRY
    from memtui.models import build_model
    from memtui.prepare import batch_slices, prepare_data

    config = make_config(spec)
    device = resolve_device(config.device)
    data = prepare_data(config, device)
    torch.manual_seed(config.seed)
    info = data_module.DATASETS[config.data.dataset]
    initial = build_model(config.model, info.shape, info.num_classes).to(device)
    channels_last = device.type == "cuda" and any(
        isinstance(m, torch.nn.Conv2d) for m in initial.modules())
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if channels_last:
        initial = initial.to(memory_format=torch.channels_last)
    models = [copy.deepcopy(initial) for _ in config.losses]
    optimizers = [make_optimizer(m.parameters(), config.optimizer) for m in models]
    loss_fns = [REGISTRY[s.name].bind(s.params) for s in config.losses]
    n = len(data.train_x)
    slices = batch_slices(n, config.batch_size)
    times = []
    for _ in range(config.epochs):
        order = torch.randperm(n, device=device)
        sync(device)
        start = time.perf_counter()
        for model, optimizer, loss_fn in zip(models, optimizers, loss_fns):
            model.train()
            for part in slices:
                idx = order[part]
                x = data.normalise(data.train_x[idx])
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast_context(device, config.precision):
                    logits = model(x)
                loss = loss_fn(logits, data.labels.noisy[idx]).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return {"n": n, "train_s": statistics.median(times[1:]), "eval_s": 0.0}


class NoisyLabels:
    """A data set with its labels replaced (research code's usual wrapper for label noise)."""

    def __init__(self, base, indices, labels) -> None:
        self.base, self.indices, self.labels = base, indices, labels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        image, _ = self.base[self.indices[i]]
        return image, self.labels[i]


def reference_datasets(config):
    """torchvision data sets with per-sample transforms, noisy labels identical to the engine's."""
    import torch

    try:
        from torchvision import datasets, transforms
    except ImportError:  # memtui itself does not need it (docs/install.md)
        raise SystemExit("the reference rows need torchvision, which memtui does not install: "
                         "pip install 'memtui[bench]'") from None

    from memtui import data as data_module
    from memtui.corruption import corrupt_labels

    name = config.data.dataset
    split = data_module.load(name, config.data.data_dir)
    mean, std = data_module.channel_stats(split.train_x)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(mean.tolist(), std.tolist())])
    if name in ("mnist", "fashion-mnist"):
        cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        train_base = cls(str(config.data.data_dir), train=True, transform=transform)
        test_base = cls(str(config.data.data_dir), train=False, transform=transform)
    else:
        # torchvision's CIFAR10 keeps the images in memory as an HWC array and converts each
        # sample to PIL on access; the same class, filled from memtui's decoded images.
        def cifar(x, y):
            ds = datasets.CIFAR10.__new__(datasets.CIFAR10)
            datasets.VisionDataset.__init__(ds, "", transform=transform)
            ds.train = True
            ds.data = x.permute(0, 2, 3, 1).contiguous().numpy()
            ds.targets = y.tolist()
            return ds

        train_base, test_base = cifar(split.train_x, split.train_y), cifar(split.test_x,
                                                                             split.test_y)
    # The subsets memtui.data.take_subset draws: same generator, same order of draws.
    gen = torch.Generator().manual_seed(config.seed)

    def pick(count, n):
        if n is None or n >= count:
            return torch.arange(count)
        return torch.randperm(count, generator=gen)[:n].sort().values

    train_idx = pick(len(split.train_y), config.data.subset)
    test_idx = pick(len(split.test_y), config.data.test_subset)
    labels = corrupt_labels(split.train_y[train_idx], config.corruption.labels,
                            config.corruption.noise, split.info.num_classes, seed=config.seed,
                            dataset=name)
    train = NoisyLabels(train_base, train_idx.tolist(), labels.noisy.tolist())
    test = NoisyLabels(test_base, test_idx.tolist(), split.test_y[test_idx].tolist())
    return train, test, split.info


def row_reference(spec: dict) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from memtui.bank.optim import make_optimizer
    from memtui.device import resolve_device
    from memtui.losses import REGISTRY
    from memtui.models import build_model

    config = make_config(spec)
    device = resolve_device(config.device)
    train, test, info = reference_datasets(config)
    workers = spec.get("workers", 0)
    loader_args = {"num_workers": workers, "pin_memory": device.type == "cuda",
                   "persistent_workers": workers > 0}
    train_loader = DataLoader(train, batch_size=config.batch_size, shuffle=True, drop_last=False,
                              **loader_args)
    eval_train = DataLoader(train, batch_size=config.batch_size, shuffle=False, **loader_args)
    eval_test = DataLoader(test, batch_size=config.batch_size, shuffle=False, **loader_args)
    torch.manual_seed(config.seed)
    initial = build_model(config.model, info.shape, info.num_classes).to(device)

    def evaluate(model, loader):
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                correct += (model(x).argmax(1) == y).sum().item()
                total += len(y)
        return correct / total

    train_times, eval_times = [], []
    for spec_loss in config.losses:  # one run per loss, one after another
        loss_fn = REGISTRY[spec_loss.name].bind(spec_loss.params)
        model = copy.deepcopy(initial)
        optimizer = make_optimizer(model.parameters(), config.optimizer)
        for epoch in range(config.epochs):
            sync(device)
            start = time.perf_counter()
            model.train()
            for x, y in train_loader:
                x, y = x.to(device), y.to(device)
                if len(y) < 2:
                    continue
                loss = loss_fn(model(x), y).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                running = loss.item()  # noqa: F841 - the per-batch logging research code does
            sync(device)
            middle = time.perf_counter()
            evaluate(model, eval_train)
            evaluate(model, eval_test)
            end = time.perf_counter()
            if epoch > 0:
                train_times.append(middle - start)
                eval_times.append(end - middle)
    losses = len(config.losses)
    epochs = config.epochs - 1
    # Per epoch with all losses: each loss's epoch, summed over losses.
    return {"n": len(train), "train_s": sum(train_times) / epochs,
            "eval_s": sum(eval_times) / epochs, "losses": losses}


ROWS = {"engine": row_engine, "bare": row_bare, "reference": row_reference}


def run_row(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"]) if spec.get("threads") else None
    result = ROWS[spec["kind"]](spec)
    result["peak_rss_mib"] = peak_rss_mib()
    if spec["device"].startswith("cuda"):
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


# ---------------------------------------------------------------------------------------------
# The driver: rows interleaved in subprocesses, medians, a table of ratios


def row_label(spec: dict) -> str:
    if spec["kind"] == "engine":
        label = f"engine {spec['backend']} {spec['precision']}"
        return label + (" compile" if spec.get("compile") else "")
    if spec["kind"] == "bare":
        return f"bare loop {spec['precision']}"
    return f"reference workers={spec['workers']}"


def spawn(spec: dict, timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--row", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit {done.returncode}"}


def machine_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def fmt(value, pattern="{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def summarise(workload: str, specs: list[dict], results: dict[str, list[dict]]) -> dict:
    rows = {}
    for spec in specs:
        label = row_label(spec)
        good = [r for r in results[label] if "error" not in r]
        if not good:
            rows[label] = {"error": results[label][-1]["error"] if results[label] else "not run"}
            continue
        med = {key: statistics.median(r[key] for r in good if r.get(key) is not None)
               for key in ("train_s", "eval_s", "peak_rss_mib", "peak_cuda_mib")
               if any(r.get(key) is not None for r in good)}
        n = good[0]["n"]
        med.update(n=n, runs=len(good), images_per_s=n / med["train_s"],
                   epoch_s=med["train_s"] + med["eval_s"],
                   spread=(min(r["train_s"] for r in good), max(r["train_s"] for r in good)))
        med["eval_share"] = med["eval_s"] / med["epoch_s"]
        rows[label] = med
    return {"workload": workload, "rows": rows}


def print_table(summary: dict, device: str, losses: str) -> list[str]:
    rows = summary["rows"]
    first = next((r for r in rows.values() if "n" in r), {})
    lines = [f"\n{summary['workload']} ({losses}), {first.get('n', '?')} training images, "
             f"{device}: medians of {first.get('runs', '?')} interleaved runs"]
    head = (f"{'row':<28}{'train img/s':>12}{'epoch s':>9}{'train s (min-max)':>20}"
            f"{'eval':>7}{'peak RSS MiB':>13}{'peak CUDA MiB':>14}")
    lines += [head, "-" * len(head)]
    for label, r in rows.items():
        if "error" in r:
            lines.append(f"{label:<28}  failed: {r['error']}")
            continue
        spread = f"{r['train_s']:.2f} ({r['spread'][0]:.2f}-{r['spread'][1]:.2f})"
        lines.append(f"{label:<28}{r['images_per_s']:>12.0f}{r['epoch_s']:>9.2f}{spread:>20}"
                     f"{r['eval_share']:>7.0%}{fmt(r.get('peak_rss_mib'), '{:.0f}'):>13}"
                     f"{fmt(r.get('peak_cuda_mib'), '{:.0f}'):>14}")
    bare = next((r for label, r in rows.items() if label.startswith("bare") and "n" in r), None)
    ref = rows.get("reference workers=0")
    for label, r in rows.items():
        if not label.startswith("engine") or "n" not in r:
            continue
        parts = []
        if bare:
            parts.append(f"training throughput {r['images_per_s'] / bare['images_per_s']:.2f}x "
                         "the bare loop (target >= 0.9x)")
        if ref and "n" in ref:
            parts.append(f"epoch end to end {ref['epoch_s'] / r['epoch_s']:.2f}x faster than the "
                         "reference (target >= 3x)")
        if parts:
            lines.append(f"{label}: " + "; ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="mnist-noisy,cifar10-random",
                        help="workloads, comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per row (after one "
                        "warm-up epoch)")
    parser.add_argument("--subset", type=int, help="training images (default: per workload and "
                        "device; 0 = all)")
    parser.add_argument("--test-subset", type=int, help="test images (default as --subset)")
    parser.add_argument("--losses", default="ce,mse,rll")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of every row")
    parser.add_argument("--rows", default="engine,bare,reference")
    parser.add_argument("--backends", default="separate", help="engine backends, e.g. "
                        "separate,fused")
    parser.add_argument("--precisions", default="fp32", help="e.g. fp32,bf16 (engine and bare)")
    parser.add_argument("--compile", action="store_true", help="add engine rows with compile")
    parser.add_argument("--workers", default="0", help="reference DataLoader workers, e.g. 0,2")
    parser.add_argument("--threads", type=int, help="torch threads per row (CPU; default: as "
                        "`memtui run`, memtui.session.DEFAULT_THREADS)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per row")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--budget", type=float, help="seconds for the whole benchmark: rows that "
                        "would start after it are skipped, and the table is printed anyway")
    args = parser.parse_args(argv)
    if args.row:
        print(json.dumps(run_row(json.loads(args.row))))
        return 0

    started = time.monotonic()
    kinds = [k.strip() for k in args.rows.split(",") if k.strip()]
    all_lines = [f"machine: {machine_name(args.device)}; torch {__import__('torch').__version__}"]
    print(all_lines[0], flush=True)
    report = {"machine": all_lines[0], "workloads": []}
    if args.threads is None and args.device == "cpu":
        # every row with the count `memtui run` trains with; torch's own default (one per core)
        # would give the bare loop more threads than the engine
        from memtui.session import DEFAULT_THREADS

        args.threads = DEFAULT_THREADS
    if args.threads:
        all_lines.append(f"torch threads per row: {args.threads}")
        print(all_lines[-1], flush=True)
    for workload in [w.strip() for w in args.preset.split(",") if w.strip()]:
        defaults = WORKLOADS.get(workload, {}).get(args.device, {"subset": None,
                                                                   "test_subset": None})
        subset = defaults["subset"] if args.subset is None else (args.subset or None)
        test_subset = (defaults["test_subset"] if args.test_subset is None
                       else (args.test_subset or None))
        base = {"preset": workload, "device": args.device, "epochs": args.epochs,
                "losses": args.losses, "data_dir": args.data_dir, "subset": subset,
                "test_subset": test_subset, "threads": args.threads}
        specs = []
        precisions = args.precisions.split(",")
        for kind in kinds:
            if kind == "engine":
                for backend in args.backends.split(","):
                    for precision in precisions:
                        specs.append({**base, "kind": kind, "backend": backend,
                                      "precision": precision})
                        if args.compile:
                            specs.append({**specs[-1], "compile": True})
            elif kind == "bare":
                specs += [{**base, "kind": kind, "precision": p} for p in precisions]
            elif kind == "reference":
                specs += [{**base, "kind": kind, "workers": int(w)}
                          for w in args.workers.split(",")]
            else:
                parser.error(f"unknown row {kind!r}; valid: {', '.join(ROWS)}")
        results: dict[str, list[dict]] = {row_label(s): [] for s in specs}
        for repeat in range(args.repeats):
            for spec in specs:  # interleaved: every row once per round
                left = args.budget - (time.monotonic() - started) if args.budget else args.timeout
                if left <= 5:
                    results[row_label(spec)].append({"error": "skipped: out of --budget"})
                    continue
                result = spawn(spec, min(args.timeout, left))
                results[row_label(spec)].append(result)
                shown = (f"{result['n'] / result['train_s']:.0f} img/s, eval "
                         f"{result['eval_s']:.2f} s" if "error" not in result
                         else result["error"])
                print(f"  [{workload} round {repeat + 1}] {row_label(spec)}: {shown}", flush=True)
        summary = summarise(workload, specs, results)
        summary["subset"], summary["test_subset"] = subset, test_subset
        summary["raw"] = results
        report["workloads"].append(summary)
        lines = print_table(summary, machine_name(args.device), args.losses)
        print("\n".join(lines), flush=True)
        all_lines += lines
        if args.json:  # after every workload, so a later timeout keeps what was measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
