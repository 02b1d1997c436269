"""Recompute tests/golden/losses.json: every memtui loss's value and gradient on fixed logits, by
the reference repositories' own loss code (memtui's implementations are its own; this script
only runs theirs).

    git clone https://github.com/HanxunH/Active-Passive-Losses /tmp/apl
    git clone https://github.com/hitcszx/ALFs /tmp/alfs
    git clone https://github.com/Virusdoll/Active-Negative-Loss /tmp/anl
    git clone https://github.com/cswjl/eps-softmax /tmp/eps
    git clone https://github.com/dbp1994/memorization-pakdd-2021 /tmp/pakdd
    python scripts/golden_losses.py /tmp/apl /tmp/alfs /tmp/anl /tmp/eps /tmp/pakdd

Each file is read at the commit pinned below (``git show``), unmodified, into a temporary folder
and imported from there (APL's ``mlconfig`` import gets a one-line stub). Logits are float64
(eps-softmax's in float32, see FLOAT32); per-sample values come from batches of one row,
gradients from the sum over the rows. Taylor CE and Poly-1 have no public code: their papers'
formulas, written out here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

#: module name -> (repository, file, commit) of each reference, in the order of the arguments.
REFERENCES = {
    "apl_loss": ("HanxunH/Active-Passive-Losses", "loss.py",
                 "04bce5344035ca69102b9cfb0228df0f49f1707d"),
    "alfs_losses": ("hitcszx/ALFs", "lnl/losses.py", "61245e9de0d2d8262495717546c1860ff01421b8"),
    "anl_loss": ("Virusdoll/Active-Negative-Loss", "loss.py",
                 "0c50009cf82959310ea21365a64b01d723ccdac7"),
    "eps_losses": ("cswjl/eps-softmax", "losses.py", "f81685c3f00e4ce77b5da36a183a1cdf60fb6655"),
    "pakdd_losses": ("dbp1994/memorization-pakdd-2021", "losses.py",
                     "c0e6813c24542ad04ffd632220d325c037534ed6"),
}

K = 10
# Mild, moderate and wrong outputs; a confident correct one (p_y = 1 - 5.5e-5); a confident
# wrong one past every clamp (p_y = 7.6e-10 < 1e-8, p_max = 1 - 6.9e-9 > 1 - 1e-8); a uniform one.
LOGITS = [
    [0.3, -0.2, 0.1, 0.5, -0.4, 0.0, 0.2, -0.1, 0.4, -0.3],
    [1.2, -0.7, 2.5, 0.4, -1.9, 0.8, -0.3, 1.6, -1.1, 0.2],
    [-0.5, 1.8, 0.9, -2.2, 3.1, 0.0, -1.4, 2.0, 0.6, -0.8],
    [0.0, 0.0, 0.0, 0.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 21.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
]
TARGETS = [7, 2, 9, 5, 0, 4]
# eps-softmax's boost m = 1e5 is quantised in float32 ((m + p) / (m + 1) resolves p only to
# ~1e-3): its numbers come from its code run in float32, as it trains.
FLOAT32 = {"ece+mae"}

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def load_references(clones: list[Path], folder: Path) -> dict[str, ModuleType]:
    (folder / "mlconfig.py").write_text("def register(x):\n    return x\n")
    for module, clone in zip(REFERENCES, clones, strict=True):
        _, path, commit = REFERENCES[module]
        text = subprocess.run(["git", "-C", str(clone), "show", f"{commit}:{path}"], check=True,
                              capture_output=True, text=True).stdout
        (folder / f"{module}.py").write_text(text)
    sys.path.insert(0, str(folder))
    modules = {module: importlib.import_module(module) for module in REFERENCES}
    torch.autograd.set_detect_anomaly(False)  # the paper's module switches it on globally
    return modules


def source(module: str, name: str) -> str:
    repo, path, commit = REFERENCES[module]
    return f"{repo} {path} @ {commit} {name}"


def taylor(t: int) -> Loss:
    """Feng et al., IJCAI 2020: sum_{k=1}^t (1 - p_y)^k / k."""
    def fn(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = 1 - torch.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
        return sum((s**k / k for k in range(1, t + 1)), torch.zeros_like(s)).mean()
    return fn


def poly1(epsilon: float) -> Loss:
    """Leng et al., ICLR 2022, the paper's listing: pt, CE and Poly1 = CE + epsilon (1 - pt)."""
    def fn(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pt = torch.sum(nn.functional.one_hot(y, K) * torch.softmax(z, dim=-1), dim=-1)
        ce = nn.functional.cross_entropy(z, y, reduction="none")
        return (ce + epsilon * (1 - pt)).mean()
    return fn


def cases(refs: dict[str, ModuleType]) -> dict[str, tuple[str, dict[str, float], Loss, str]]:
    """key -> (memtui loss, its parameters, the reference returning the batch mean, source)."""
    apl, alfs, anl, eps, pakdd = (refs[m] for m in REFERENCES)

    class NoWeights(nn.Module):
        """ANL's loss takes the model for its L1 term: none here (the per-sample part only)."""

    def anl_ce(alpha: float, beta: float, delta: float) -> Loss:
        loss = anl.ActiveNegativeLoss(anl.NormalizedCrossEntropy(K),
                                      anl.NormalizedNegativeCrossEntropy(K, 1e-7),
                                      alpha, beta, delta)
        return lambda z, y: loss(z, y, NoWeights())

    def paper(cls: Any, **kw: float) -> Loss:
        loss = cls(num_class=K, reduction="none", **kw)
        return lambda z, y: loss(z, y).mean()

    a, f, n, e, p = "apl_loss", "alfs_losses", "anl_loss", "eps_losses", "pakdd_losses"
    return {
        "ce": ("ce", {}, nn.CrossEntropyLoss(), source(a, "torch.nn.CrossEntropyLoss")),
        "mse": ("mse", {}, paper(pakdd.MSE), source(p, "MSE")),
        "mae": ("mae", {}, paper(pakdd.MAE), source(p, "MAE")),
        "rll": ("rll", {"alpha": 0.1}, paper(pakdd.RLL, alpha=0.1), source(p, "RLL")),
        "rll@0.01": ("rll", {"alpha": 0.01}, paper(pakdd.RLL, alpha=0.01), source(p, "RLL")),
        "gce": ("gce", {"q": 0.7}, apl.GeneralizedCrossEntropy(K, q=0.7),
                source(a, "GeneralizedCrossEntropy")),
        "sce": ("sce", {"alpha": 0.1, "beta": 1.0}, apl.SCELoss(0.1, 1.0, K), source(a, "SCELoss")),
        "nce": ("nce", {}, apl.NormalizedCrossEntropy(K), source(a, "NormalizedCrossEntropy")),
        "nce+rce": ("nce+rce", {"alpha": 1.0, "beta": 1.0}, apl.NCEandRCE(1.0, 1.0, K),
                    source(a, "NCEandRCE")),
        "nce+rce@mnist": ("nce+rce", {"alpha": 1.0, "beta": 10.0}, apl.NCEandRCE(1.0, 10.0, K),
                          source(a, "NCEandRCE")),
        "nce+mae": ("nce+mae", {"alpha": 1.0, "beta": 1.0}, apl.NCEandMAE(1.0, 1.0, K),
                    source(a, "NCEandMAE")),
        "rce": ("rce", {}, apl.ReverseCrossEntropy(K), source(a, "ReverseCrossEntropy")),
        "focal": ("focal", {"gamma": 0.5}, apl.FocalLoss(gamma=0.5), source(a, "FocalLoss")),
        "focal@2": ("focal", {"gamma": 2.0}, apl.FocalLoss(gamma=2.0), source(a, "FocalLoss")),
        "nfl": ("nfl", {"gamma": 0.5, "scale": 10.0},
                apl.NormalizedFocalLoss(scale=10.0, gamma=0.5, num_classes=K),
                source(a, "NormalizedFocalLoss")),
        "nfl@mnist": ("nfl", {"gamma": 0.5, "scale": 1.0},
                      apl.NormalizedFocalLoss(scale=1.0, gamma=0.5, num_classes=K),
                      source(a, "NormalizedFocalLoss")),
        "ngce": ("ngce", {"q": 0.1, "scale": 1.0},
                 apl.NormalizedGeneralizedCrossEntropy(K, scale=1.0, q=0.1),
                 source(a, "NormalizedGeneralizedCrossEntropy")),
        "ngce@mnist": ("ngce", {"q": 0.1, "scale": 10.0},
                       apl.NormalizedGeneralizedCrossEntropy(K, scale=10.0, q=0.1),
                       source(a, "NormalizedGeneralizedCrossEntropy")),
        "nmae": ("nmae", {"scale": 1.0}, apl.NormalizedMeanAbsoluteError(K, 1.0),
                 source(a, "NormalizedMeanAbsoluteError")),
        "nrce": ("nrce", {"scale": 1.0}, apl.NormalizedReverseCrossEntropy(K, 1.0),
                 source(a, "NormalizedReverseCrossEntropy")),
        "nfl+rce": ("nfl+rce", {"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
                    apl.NFLandRCE(1.0, 1.0, K, gamma=0.5), source(a, "NFLandRCE")),
        "nfl+mae": ("nfl+mae", {"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
                    apl.NFLandMAE(1.0, 1.0, K, gamma=0.5), source(a, "NFLandMAE")),
        "ngce+rce": ("ngce+rce", {"alpha": 1.0, "beta": 1.0, "q": 0.1},
                     apl.NGCEandRCE(1.0, 1.0, K, q=0.1), source(a, "NGCEandRCE")),
        "ngce+mae": ("ngce+mae", {"alpha": 1.0, "beta": 1.0, "q": 0.1},
                     apl.NGCEandMAE(1.0, 1.0, K, q=0.1), source(a, "NGCEandMAE")),
        "agce": ("agce", {"a": 0.6, "q": 0.6}, alfs.AGCELoss(K, a=0.6, q=0.6),
                 source(f, "AGCELoss")),
        "aul": ("aul", {"a": 5.5, "q": 3.0}, alfs.AUELoss(K, a=5.5, q=3), source(f, "AUELoss")),
        "ael": ("ael", {"a": 2.5}, alfs.AExpLoss(K, a=2.5), source(f, "AExpLoss")),
        "ael@mnist": ("ael", {"a": 3.5}, alfs.AExpLoss(K, a=3.5), source(f, "AExpLoss")),
        "nce+agce": ("nce+agce", {"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
                     alfs.NCEandAGCE(1.0, 4.0, K, a=6, q=1.5), source(f, "NCEandAGCE")),
        "nce+agce@mnist": ("nce+agce", {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2},
                           alfs.NCEandAGCE(0.0, 1.0, K, a=4, q=0.2), source(f, "NCEandAGCE")),
        "nce+aul": ("nce+aul", {"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
                    alfs.NCEandAUE(1.0, 4.0, K, a=6.3, q=1.5), source(f, "NCEandAUE")),
        "nce+aul@mnist": ("nce+aul", {"alpha": 0.0, "beta": 1.0, "a": 3.0, "q": 0.1},
                          alfs.NCEandAUE(0.0, 1.0, K, a=3, q=0.1), source(f, "NCEandAUE")),
        "nce+ael": ("nce+ael", {"alpha": 1.0, "beta": 4.0, "a": 5.0},
                    alfs.NCEandAEL(1.0, 4.0, K, a=5), source(f, "NCEandAEL")),
        "anl-ce": ("anl-ce", {"alpha": 5.0, "beta": 5.0, "delta": 5e-5}, anl_ce(5.0, 5.0, 5e-5),
                   source(n, "ActiveNegativeLoss(NormalizedCrossEntropy, "
                             "NormalizedNegativeCrossEntropy(min_prob=1e-7))")),
        "anl-ce@mnist": ("anl-ce", {"alpha": 1.0, "beta": 1.0, "delta": 1e-6},
                         anl_ce(1.0, 1.0, 1e-6), source(n, "anl_ce")),
        "norm_mse": ("norm_mse", {"alpha": 0.1}, paper(pakdd.MSE_APL, alpha=0.1, beta=1.0),
                     source(p, "MSE_APL")),
        "tce": ("tce", {"t": 2.0}, taylor(2),
                "Feng et al., IJCAI 2020, the order-t Taylor CE (no public code)"),
        "tce@6": ("tce", {"t": 6.0}, taylor(6),
                  "Feng et al., IJCAI 2020, the order-t Taylor CE (no public code)"),
        "poly1": ("poly1", {"epsilon": 1.0}, poly1(1.0),
                  "Leng et al., ICLR 2022, the paper's Poly-1 listing"),
        "ece+mae": ("ece+mae", {"alpha": 0.01, "beta": 5.0, "m": 1e5},
                    eps.ECEandMAE(1e5, alpha=0.01, beta=5.0), source(e, "ECEandMAE")),
    }


def evaluate(fn: Loss, dtype: torch.dtype) -> tuple[list[float], list[list[float]]]:
    z = torch.tensor(LOGITS, dtype=dtype)
    y = torch.tensor(TARGETS)
    values = [float(fn(z[i:i + 1], y[i:i + 1])) for i in range(len(y))]
    zz = z.clone().requires_grad_()
    (fn(zz, y) * len(y)).backward()
    assert zz.grad is not None
    return values, zz.grad.tolist()


def _ten_digits(x: float) -> float:
    return float(f"{x:.10g}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for module, (repo, _, _) in REFERENCES.items():
        parser.add_argument(module, type=Path, help=f"a git clone of {repo}")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests/golden/losses.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        refs = load_references([getattr(args, m) for m in REFERENCES], Path(folder))
        out: dict[str, Any] = {"K": K, "logits": LOGITS, "targets": TARGETS, "cases": {}}
        for key, (name, params, fn, where) in cases(refs).items():
            dtype = torch.float32 if key in FLOAT32 else torch.float64
            values, grad = evaluate(fn, dtype)
            assert all(math.isfinite(v) for v in values), key
            out["cases"][key] = {
                "loss": name, "params": params, "source": where, "dtype": str(dtype)[6:],
                "value": [_ten_digits(v) for v in values],
                "grad": [[_ten_digits(g) for g in row] for row in grad],
            }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(out['cases'])} cases -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
