"""The spec table: every data set, architecture and loss memtui knows, by name, with its
parameters (defaults and valid ranges), the symmetric flag of each loss and a one-line
description.

This is the one place that names them. It imports no torch, so the schema (``config.py``), the
preset and sweep commands and the sweep orchestrator can check a name or a parameter without
paying for it. The implementations are bound to these entries where training needs them:
``losses.REGISTRY`` (a function per loss), ``models.ARCHITECTURES`` (a factory per architecture)
and ``data.LOADERS`` (a reader per data set); tests/test_specs.py holds each binding to exactly
the names here. Adding a loss is one entry in ``LOSSES`` and one function in ``losses.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: How training labels and images are corrupted (the corruption's modes, checked by the config).
LabelMode = Literal["none", "random", "symmetric", "pairflip", "asymmetric", "file"]
InputMode = Literal["none", "shuffled_pixels", "random_pixels", "gaussian"]


@dataclass(frozen=True)
class Range:
    """The values a parameter may take: low < x (or low <= x) and x <= high (if any)."""

    low: float
    low_inclusive: bool = False
    high: float | None = None
    reason: str = ""
    integer: bool = False  # whole numbers only (an order of a series)

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value >= self.low if self.low_inclusive else value > self.low
        whole = not self.integer or float(value).is_integer()
        return above and whole and (self.high is None or value <= self.high)

    def describe(self) -> str:
        low = f"{self.low:g} {'<=' if self.low_inclusive else '<'} x"
        text = f"{low} <= {self.high:g}" if self.high is not None else low
        text += ", a whole number" if self.integer else ""
        return text + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Param:
    default: float
    range: Range


@dataclass(frozen=True)
class Loss:
    """A loss: maps logits [B, K] and labels [B] to per-sample losses [B] (``losses.py``).

    *symmetric*: sum_j L(f(x), j) is the same constant for every input and network output."""

    name: str
    title: str
    symmetric: bool
    params: Mapping[str, Param] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, float]:
        return {key: p.default for key, p in self.params.items()}

    @property
    def ranges(self) -> dict[str, Range]:
        return {key: p.range for key, p in self.params.items()}

    def check(self, params: Mapping[str, float]) -> None:
        """Raise ValueError naming the first parameter outside its valid range."""
        for key, value in params.items():
            valid = self.params[key].range if key in self.params else None
            if valid is not None and not valid.contains(value):
                raise ValueError(
                    f"loss {self.name!r}: {key} = {value:g} is out of range; valid: {valid.describe()}"
                )


@dataclass(frozen=True)
class Dataset:
    """A data set as the config and the networks need it before any image is read."""

    name: str
    title: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]  # C, H, W of every image
    #: classes and shape come with the data (an image folder): known once it is read
    from_data: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Architecture:
    """A network; ``params`` are the ``model.*`` size options it is built from (every one also
    reads ``model.batchnorm``)."""

    name: str
    title: str
    params: Mapping[str, Param] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Losses. Formulas and defaults follow docs/reference.md; the functions are in losses.py.

POSITIVE_ALPHA = Range(0.0, reason="the formula divides by alpha")
GCE_Q = Range(0.0, high=1.0, reason="GCE is defined for 0 < q <= 1; it divides by q")
WEIGHT = Range(0.0, low_inclusive=True, reason="a weight of the sum")
GAMMA = Range(0.0, low_inclusive=True, reason="the focusing exponent; 0 gives CE")
SCALE = Range(0.0, low_inclusive=True, reason="a factor of the loss")
ASYM_A = Range(0.0, reason="AGCE and AEL need a > 0")
AUL_A = Range(1.0, reason="AUL needs a > 1: it takes (a - 1)^q")
ASYM_Q = Range(0.0, reason="the formula divides by q")
L1_WEIGHT = Range(0.0, low_inclusive=True, reason="the weight of the L1 norm of the network")
TAYLOR_T = Range(1.0, low_inclusive=True, high=100.0, integer=True, reason="the order of the series")
POLY_EPS = Range(-1.0, low_inclusive=True, reason="Poly-1 needs 1 + epsilon >= 0")
ECE_M = Range(0.0, low_inclusive=True, reason="the boost of the largest probability")


def _weights(alpha: float, beta: float) -> dict[str, Param]:
    return {"alpha": Param(alpha, WEIGHT), "beta": Param(beta, WEIGHT)}


LOSSES: dict[str, Loss] = {
    spec.name: spec
    for spec in [
        Loss("ce", "cross-entropy", symmetric=False),
        Loss("mse", "squared error", symmetric=False),
        Loss("mae", "mean absolute error", symmetric=True),
        Loss("rll", "robust log loss", symmetric=True,
             params={"alpha": Param(0.1, POSITIVE_ALPHA)}),
        Loss("gce", "generalized cross-entropy", symmetric=False, params={"q": Param(0.7, GCE_Q)}),
        Loss("sce", "symmetric cross-entropy", symmetric=False, params=_weights(0.1, 1.0)),
        Loss("nce", "normalized cross-entropy", symmetric=True),
        Loss("nce+rce", "active-passive NCE+RCE", symmetric=True, params=_weights(1.0, 1.0)),
        Loss("nce+mae", "active-passive NCE+MAE (APL's MAE, 1 - p_y)", symmetric=True,
             params=_weights(1.0, 1.0)),
        # The losses of the comparisons since the paper, with their references' CIFAR-10 defaults
        # (losses.py names each reference and its MNIST settings).
        Loss("rce", "reverse cross-entropy, -log(1e-4) sum_{k!=y} p_k (APL)", symmetric=True),
        Loss("focal", "focal loss, factor (1-p_y)^gamma without gradient (APL)", symmetric=False,
             params={"gamma": Param(0.5, GAMMA)}),
        Loss("nfl", "normalized focal loss (APL)", symmetric=True,
             params={"gamma": Param(0.5, GAMMA), "scale": Param(10.0, SCALE)}),
        Loss("ngce", "normalized generalized cross-entropy (APL)", symmetric=True,
             params={"q": Param(0.1, GCE_Q), "scale": Param(1.0, SCALE)}),
        Loss("nmae", "normalized MAE, (1-p_y)/(2(K-1)) as APL writes it", symmetric=True,
             params={"scale": Param(1.0, SCALE)}),
        Loss("nrce", "normalized RCE, (K-1)/4 * RCE as APL writes it", symmetric=True,
             params={"scale": Param(1.0, SCALE)}),
        Loss("nfl+rce", "active-passive NFL+RCE (APL)", symmetric=True,
             params={**_weights(1.0, 1.0), "gamma": Param(0.5, GAMMA)}),
        Loss("nfl+mae", "active-passive NFL+MAE (APL's MAE, 1 - p_y)", symmetric=True,
             params={**_weights(1.0, 1.0), "gamma": Param(0.5, GAMMA)}),
        Loss("ngce+rce", "active-passive NGCE+RCE (APL)", symmetric=True,
             params={**_weights(1.0, 1.0), "q": Param(0.1, GCE_Q)}),
        Loss("ngce+mae", "active-passive NGCE+MAE (APL's MAE, 1 - p_y)", symmetric=True,
             params={**_weights(1.0, 1.0), "q": Param(0.1, GCE_Q)}),
        Loss("agce", "asymmetric generalized cross-entropy (ALFs)", symmetric=False,
             params={"a": Param(0.6, ASYM_A), "q": Param(0.6, ASYM_Q)}),
        Loss("aul", "asymmetric unhinged loss (ALFs)", symmetric=False,
             params={"a": Param(5.5, AUL_A), "q": Param(3.0, ASYM_Q)}),
        Loss("ael", "asymmetric exponential loss (ALFs)", symmetric=False,
             params={"a": Param(2.5, ASYM_A)}),
        Loss("nce+agce", "NCE + AGCE (ALFs)", symmetric=False,
             params={**_weights(1.0, 4.0), "a": Param(6.0, ASYM_A), "q": Param(1.5, ASYM_Q)}),
        Loss("nce+aul", "NCE + AUL (ALFs)", symmetric=False,
             params={**_weights(1.0, 4.0), "a": Param(6.3, AUL_A), "q": Param(1.5, ASYM_Q)}),
        Loss("nce+ael", "NCE + AEL (ALFs)", symmetric=False,
             params={**_weights(1.0, 4.0), "a": Param(5.0, ASYM_A)}),
        Loss("anl-ce", "active-negative loss NCE+NNCE, + delta * L1 of the weights (ANL)",
             symmetric=True, params={**_weights(5.0, 5.0), "delta": Param(5e-5, L1_WEIGHT)}),
        Loss("norm_mse", "normalized squared error (the paper's code)", symmetric=True,
             params={"alpha": Param(0.1, WEIGHT)}),
        Loss("tce", "Taylor cross-entropy of order t", symmetric=False,
             params={"t": Param(2.0, TAYLOR_T)}),
        Loss("poly1", "Poly-1: CE + epsilon (1 - p_y)", symmetric=False,
             params={"epsilon": Param(1.0, POLY_EPS)}),
        Loss("ece+mae", "eps-softmax CE + MAE", symmetric=False,
             params={**_weights(0.01, 5.0), "m": Param(1e5, ECE_M)}),
    ]
}

# ---------------------------------------------------------------------------------------------
# Data sets; the readers are in data.py.

_FASHION = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
            "ankle boot")
# CIFAR-100's class names as its meta file lists them (fine_label_names, coarse_label_names).
_CIFAR100_FINE = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
wardrobe whale willow_tree wolf woman worm""".split())
_CIFAR100_COARSE = tuple("""
aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices
household_furniture insects large_carnivores large_man-made_outdoor_things
large_natural_outdoor_scenes large_omnivores_and_herbivores medium_mammals
non-insect_invertebrates people reptiles small_mammals trees vehicles_1 vehicles_2""".split())
DATASETS: dict[str, Dataset] = {
    spec.name: spec
    for spec in [
        Dataset("demo", "Fashion-MNIST subset (embedded)", _FASHION, (1, 28, 28)),
        Dataset("mnist", "MNIST", tuple(str(d) for d in range(10)), (1, 28, 28)),
        Dataset("fashion-mnist", "Fashion-MNIST", _FASHION, (1, 28, 28)),
        Dataset("cifar10", "CIFAR-10",
                ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"),
                (3, 32, 32)),
        Dataset("cifar100", "CIFAR-100", _CIFAR100_FINE, (3, 32, 32)),
        Dataset("cifar100-coarse", "CIFAR-100, its 20 superclasses", _CIFAR100_COARSE, (3, 32, 32)),
        Dataset("imagefolder", "image folder (train/<class>/*, test/<class>/*)", (), (0, 0, 0),
                from_data=True),
    ]
}

#: Class maps of pairflip and asymmetric label noise (memtui/transitions.py): source class -> the
#: class its labels flip to. Patrini et al. (CVPR 2017) as the SCE/APL code uses them.
CLASS_MAPS: dict[str, dict[int, int]] = {
    # truck->automobile, bird->airplane, deer->horse, cat<->dog
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
    # docs/reference.md gives no map for Fashion-MNIST; these are its visually closest classes,
    # picked the way the MNIST and CIFAR-10 maps are: t-shirt->shirt, pullover->coat,
    # sandal/boot->sneaker.
    "fashion-mnist": {0: 6, 2: 4, 5: 7, 9: 7},
    # CIFAR-100 in the SCE/APL code: blocks of five consecutive fine classes, each flipping to the
    # next in its block (4 -> 0). The blocks are alphabetical runs of class names, not CIFAR-100's
    # superclasses; kept as that code has it, for comparable figures.
    "cifar100": {c: (c // 5) * 5 + (c % 5 + 1) % 5 for c in range(100)},
}
CLASS_MAPS["demo"] = CLASS_MAPS["fashion-mnist"]

# ---------------------------------------------------------------------------------------------
# Architectures; the networks are in models.py.

ARCHITECTURES: dict[str, Architecture] = {
    spec.name: spec
    for spec in [
        Architecture("mlp", "multilayer perceptron (width x depth)", params={
            "width": Param(512, Range(1, low_inclusive=True, high=65536,
                                      reason="hidden units per layer")),
            "depth": Param(1, Range(1, low_inclusive=True, high=256, reason="hidden layers")),
        }),
        Architecture("cnn8", "8-layer CNN of the APL/SCE papers"),
        Architecture("resnet32",
                     "ResNet-32 of the paper's code (option-A shortcuts, Kaiming-normal init)"),
        Architecture("inception-small", "Inception-small (Inception-Lite) of the paper's code"),
        Architecture("resnet34", "ResNet-34 for small images, as CIFAR-N's (kuangliu/pytorch-cifar)"),
        Architecture("preact-resnet18",
                     "PreAct-ResNet-18 for small images, as most label-noise papers' "
                     "(kuangliu/pytorch-cifar)"),
    ]
}

#: A network of the user's own instead of a name above: ``model.arch = "package.module:factory"``
#: (memtui/usermodel.py imports and checks it when the experiment starts).
USER_ARCH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
USER_ARCH_FORM = "'package.module:factory' (a module path, a colon, a callable's name)"


def is_user_arch(arch: str) -> bool:
    """Whether ``arch`` names a factory of the user's ("module:callable"), not a network above."""
    return ":" in arch
