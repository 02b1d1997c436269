"""The experiment schema, preset loading and command-line overrides.

Everything a user writes goes through these pydantic models (``extra="forbid"``), so a typo in a
preset or a flag is reported with the field's dotted name and what would be valid. Names and
parameters are checked against the spec table (``specs.py``) alone, so nothing here imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from memtui import specs
from memtui.errors import ConfigError, did_you_mean, printable
from memtui.overrides import FLAG_OF_FIELD
from memtui.presets import DEFAULT_PRESET, read_preset_document
from memtui.specs import (
    ARCHITECTURES,
    CLASS_MAPS,
    DATASETS,
    LOSSES,
    InputMode,
    LabelMode,
    Param,
)

#: Bounds of sizes, epochs and seeds: far beyond any run that could train, small enough that no
#: value inside them overflows what consumes it (torch's seed, a tensor's size).
MAX_SIZE = 10**8
MAX_EPOCHS = 10**6
MAX_SEED = 2**32 - 1

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
#: Control characters (NUL, ESC, ...): a name shown in a terminal must not drive it.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown_text(value: str | None, allowed: str = "") -> str | None:
    """A name or label as typed, unless it holds a control character (but ``allowed``)."""
    found = CONTROL.search(value.translate({ord(c): " " for c in allowed})) if value else None
    if found:
        raise ValueError(f"contains the control character {ascii(found.group())}; use printable "
                         "text")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Strict):
    dataset: str = Field("demo", description="one of " + ", ".join(DATASETS))
    data_dir: Path | None = Field(
        None, validate_default=True,
        description="folder with the data set in torchvision's layout (imagefolder: the folder "
        "holding train/<class>/ and test/<class>/); read offline")
    subset: int | None = Field(
        None, le=MAX_SIZE,
        description="train on this many training images (a fixed random subset; a batch needs 2)"
    )
    test_subset: int | None = Field(None, ge=1, le=MAX_SIZE,
                                    description="evaluate on this many test images")
    holdout: float = Field(
        0.0, ge=0.0, lt=1.0,
        description="fraction of the training set held out (never trained on), a fixed split "
        "independent of the seed, as the paper's train_test_split(test_size=0.2, random_state=42)",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(
                f"unknown data set {value!r}{did_you_mean(value, DATASETS)}; "
                f"valid: {', '.join(DATASETS)}"
            )
        return value

    normalize: bool = Field(
        True, description="standardise inputs with the training set's channel mean and std; "
        "false feeds raw 0-255 pixel values, as the paper's code does")
    augment: bool = Field(
        False, description="random crop (4-pixel zero padding) and horizontal flip of each "
        "training batch, on the device; evaluation sees the images as they are")

    @field_validator("data_dir")
    @classmethod
    def _folder_needs_a_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and info.data.get("dataset") == "imagefolder":
            raise ValueError("the imagefolder data set needs a folder with train/<class>/ and "
                             "test/<class>/")
        return value

    @field_validator("subset")
    @classmethod
    def _subset_forms_a_batch(cls, value: int | None) -> int | None:
        if value is not None and value < 2:
            raise ValueError(f"{value} image(s) cannot form a training batch (BatchNorm needs at "
                             "least 2); give 2 or more")
        return value


class CorruptionConfig(Strict):
    labels: LabelMode = Field("random", description="how training labels are corrupted")
    noise: float = Field(0.0, ge=0.0, le=1.0, description="corruption rate eta in [0, 1]")
    inputs: InputMode = Field("none", description="how training images are corrupted")
    file: Path | None = Field(
        None, description="label file for labels = 'file': CIFAR-N .pt, .npy, .npz, or .csv/.txt "
        "with one label per line, in the data set's order")
    key: str | None = Field(None, description="the label set of a .pt/.npz file of several "
                            "(CIFAR-10N: aggre_label, worse_label, random_label1..3)")
    matrix: list[list[float]] | Path | None = Field(
        None, description="transition matrix for labels = 'asymmetric' (rows: true class, "
        "columns: given class; each row sums to 1), inline or a .npy/.csv file; default: the "
        "data set's class map at rate noise")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED,
        description="seed of the data's randomness (subset, label and input noise); default the "
        "run's seed. Fixed, it keeps the noise while --seed varies the networks")

    @field_validator("noise")
    @classmethod
    def _no_rate_for_a_file(cls, value: float, info: ValidationInfo) -> float:
        if value and info.data.get("labels") == "file":
            raise ValueError("labels from a file carry their own noise; leave noise at 0")
        return value

    @field_validator("file", "key")
    @classmethod
    def _only_for_a_file(cls, value: Any, info: ValidationInfo) -> Any:
        labels = info.data.get("labels")
        if value is not None and labels != "file":
            raise ValueError(f"only read with corruption.labels = 'file' (labels are {labels!r})")
        return value

    @field_validator("matrix")
    @classmethod
    def _only_for_asymmetric(cls, value: Any, info: ValidationInfo) -> Any:
        labels = info.data.get("labels")
        if value is not None and labels != "asymmetric":
            raise ValueError(f"only used with corruption.labels = 'asymmetric' (labels are "
                             f"{labels!r})")
        return value


def _int_option(param: Param, description: str) -> Any:
    """A pydantic field of an integer size option with the spec's default and bounds."""
    valid = param.range
    assert valid.low_inclusive and valid.high is not None
    return Field(int(param.default), ge=int(valid.low), le=int(valid.high),
                 description=description)


_MLP = ARCHITECTURES["mlp"].params


class ModelConfig(Strict):
    arch: str = Field("mlp", description="one of " + ", ".join(ARCHITECTURES)
                      + ", or 'package.module:factory' for a network of your own")
    width: int = _int_option(_MLP["width"], "hidden units per MLP layer")
    depth: int = _int_option(_MLP["depth"], "hidden layers of the MLP")
    batchnorm: bool = Field(
        True, description="BatchNorm layers in the network (every architecture); false removes them")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword arguments of your own factory (arch 'module:factory'); the "
        "[model] section's other keys land here too")

    @model_validator(mode="before")
    @classmethod
    def _factory_keys(cls, data: Any) -> Any:
        # A factory of the user's takes keys memtui does not know: they become its options. For
        # a built-in network an unknown key stays an error (a typo of width, say).
        if isinstance(data, dict) and specs.is_user_arch(str(data.get("arch", ""))):
            own = {k: v for k, v in data.items() if k not in cls.model_fields}
            if own:
                data = {k: v for k, v in data.items() if k in cls.model_fields}
                data["options"] = {**data.get("options", {}), **own}
        return data

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, value: str) -> str:
        if specs.is_user_arch(value):
            if not specs.USER_ARCH.match(value):
                raise ValueError(f"{value!r} is not of the form {specs.USER_ARCH_FORM}")
            return value
        if value not in ARCHITECTURES:
            raise ValueError(
                f"unknown model {value!r}{did_you_mean(value, ARCHITECTURES)}; "
                f"valid: {', '.join(ARCHITECTURES)}, or 'package.module:factory' for your own"
            )
        return value

    @model_validator(mode="after")
    def _options_only_for_a_factory(self) -> ModelConfig:
        if self.options and not specs.is_user_arch(self.arch):
            raise ValueError(f"only a model.arch 'package.module:factory' takes options; "
                             f"{self.arch!r} is built in (its keys: width, depth, batchnorm)")
        return self


class LossSpec(Strict):
    name: str = Field(description="a loss of the spec table: " + ", ".join(LOSSES))
    label: str | None = Field(None, description="display name; defaults to the name in capitals")
    params: dict[str, float] = Field(default_factory=dict, description="overrides of its defaults")

    @field_validator("label")
    @classmethod
    def _printable_label(cls, value: str | None) -> str | None:
        return _shown_text(value)

    @field_validator("name")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value not in LOSSES:
            raise ValueError(
                f"unknown loss {value!r}{did_you_mean(value, LOSSES)}; valid: {', '.join(LOSSES)}"
            )
        return value

    @model_validator(mode="after")
    def _known_params(self) -> LossSpec:
        allowed = LOSSES[self.name].defaults
        for key in self.params:
            if key not in allowed:
                valid = ", ".join(allowed) if allowed else "none"
                raise ValueError(
                    f"loss {self.name!r} has no parameter {key!r}{did_you_mean(key, allowed)}; "
                    f"valid: {valid}"
                )
        LOSSES[self.name].check(self.params)
        # Resolved: every parameter is written out, so a saved config says exactly what ran.
        self.__dict__["params"] = {**allowed, **self.params}
        return self

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        changed = {k: v for k, v in self.params.items() if LOSSES[self.name].defaults[k] != v}
        suffix = " " + ",".join(f"{k}={v:g}" for k, v in changed.items()) if changed else ""
        return self.name.upper() + suffix


class OptimizerConfig(Strict):
    name: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.01, gt=0.0, le=1e3, allow_inf_nan=False)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1e3, allow_inf_nan=False)
    nesterov: bool = Field(False, description="Nesterov momentum (SGD with momentum > 0)")
    clip_grad_norm: float | None = Field(
        None, gt=0.0, le=1e6, allow_inf_nan=False,
        description="clip each loss's model's gradient to this total L2 norm before every step "
        "(APL, ALFs and ANL clip at 5)")

    @model_validator(mode="after")
    def _nesterov_needs_sgd_momentum(self) -> OptimizerConfig:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("nesterov = true needs name 'sgd' and momentum > 0 "
                             f"(got name {self.name!r}, momentum {self.momentum:g})")
        return self


class ScheduleConfig(Strict):
    kind: Literal["constant", "multistep", "cosine"] = "constant"
    milestones: list[Annotated[int, Field(ge=1, le=MAX_EPOCHS)]] = Field(
        default_factory=list, max_length=1000,
        description="epochs at which multistep multiplies lr by gamma"
    )
    gamma: float = Field(0.1, gt=0.0, le=1e3, allow_inf_nan=False)
    warmup_epochs: int = Field(
        0, ge=0, le=MAX_EPOCHS,
        description="raise lr linearly over this many epochs (lr * (e+1)/warmup in epoch e), then "
        "follow the schedule: cosine over the remaining epochs, multistep at its own milestones")

    @model_validator(mode="after")
    def _milestones_after_warmup(self) -> ScheduleConfig:
        early = [m for m in self.milestones if m <= self.warmup_epochs]
        if self.warmup_epochs and self.kind == "multistep" and early:
            raise ValueError(f"milestone {early[0]} falls in the warm-up (warmup_epochs = "
                             f"{self.warmup_epochs}); give milestones after it")
        return self


class LedgerConfig(Strict):
    enabled: bool = Field(
        True, description="keep the per-sample ledger (memorised when, forgetting events, AUM, "
        "data-map confidence and variability) from each evaluation pass, and write ledger.npz")
    trajectories: bool = Field(
        False, description="also write every sample's prediction of every evaluated epoch "
        "(int8, one compressed file per epoch under trajectories/)")


class ExperimentConfig(Strict):
    name: str = Field("custom", description="short name, used in the run directory's name")
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    corruption: CorruptionConfig = Field(default_factory=CorruptionConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    losses: list[LossSpec] = Field(
        default_factory=lambda: [LossSpec(name="ce")], min_length=1, max_length=32
    )
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(128, ge=2, le=MAX_SIZE,
                            description="training batch size (BatchNorm needs at least 2)")
    eval_batch_size: int = Field(2048, ge=1, le=MAX_SIZE,
                                 description="batch size of the per-epoch evaluation")
    eval_every: int = Field(1, ge=1, le=MAX_EPOCHS, description="evaluate every N epochs (and the last)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed for corruption, init and batch order")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 autocasts forward passes on CUDA; weights stay fp32"
    )
    out: Path | None = Field(None, description="run directory; default runs/<timestamp>-<name>")
    checkpoint_every: int = Field(
        10, ge=1, le=MAX_EPOCHS,
        description="write a resumable checkpoint every N epochs (and at the end)")
    checkpoint_seconds: float = Field(
        60.0, ge=0.0, le=86400.0, allow_inf_nan=False,
        description="also write one at the first epoch boundary this many seconds after the last; "
        "0: every epoch")
    threads: int | None = Field(
        None, ge=1, le=1024,
        description="CPU threads for training; default 1 (fastest on a shared machine, measured)")
    backend: Literal["auto", "separate", "fused"] = Field(
        "auto", description="separate models per loss, or all stacked into one fused computation; "
        "auto picks the faster for the device")
    compile: bool = Field(False, description="torch.compile the training step (CUDA)")
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        return _shown_text(value) or value

    @field_validator("description")
    @classmethod
    def _printable_description(cls, value: str) -> str:
        return _shown_text(value, allowed="\n\t") or value

    @field_validator("out", mode="before")
    @classmethod
    def _named_out(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path; give a directory, e.g. runs/mine (or leave it out "
                             "for runs/<timestamp>-<name>)")
        return value

    @field_validator("device")
    @classmethod
    def _valid_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"unknown device {value!r}; valid: auto, cpu, cuda, cuda:N, mps")
        return value

    @model_validator(mode="after")
    def _a_class_map_for_flips(self) -> ExperimentConfig:
        mode = self.corruption.labels
        if (mode == "pairflip" or mode == "asymmetric" and self.corruption.matrix is None) \
                and self.data.dataset not in CLASS_MAPS:
            raise ValueError(f"corruption.labels: {mode} noise has no class map for data set "
                             f"{self.data.dataset!r} (maps: {', '.join(CLASS_MAPS)})"
                             + ("; give corruption.matrix" if mode == "asymmetric" else ""))
        return self

    @model_validator(mode="after")
    def _distinct_labels(self) -> ExperimentConfig:
        seen: set[str] = set()
        for spec in self.losses:
            if spec.display in seen:
                raise ValueError(
                    f"two losses are both shown as {spec.display!r}; give one a distinct label"
                )
            seen.add(spec.display)
        return self

    @model_validator(mode="after")
    def _warmup_within_the_run(self) -> ExperimentConfig:
        if self.schedule.warmup_epochs >= self.epochs:
            raise ValueError(f"schedule.warmup_epochs: {self.schedule.warmup_epochs} leaves no epoch "
                             f"of the schedule in a run of {self.epochs}; give fewer than epochs")
        return self

    @property
    def loss_labels(self) -> list[str]:
        return [spec.display for spec in self.losses]


# ---------------------------------------------------------------------------------------------
# Errors: pydantic's report -> one line naming the field and what would be valid.

def _model_at(loc: tuple) -> type[BaseModel]:
    """The model class that holds the field at ``loc`` (list indices skipped)."""
    model: type[BaseModel] = ExperimentConfig
    for part in loc:
        if isinstance(part, int) or str(part) not in model.model_fields:
            continue
        annotation = model.model_fields[str(part)].annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), model)
    return model


def _range_of(loc: tuple) -> str:
    """'0 to 4294967295' for a field with bounds, '' when it cannot be told."""
    names = [str(p) for p in loc if not isinstance(p, int)]
    if not names:
        return ""
    field = _model_at(tuple(names[:-1])).model_fields.get(names[-1])
    if field is None:
        return ""
    low = high = None
    low_open = high_open = False
    for item in field.metadata:
        for attr, is_low, is_open in (("ge", True, False), ("gt", True, True),
                                      ("le", False, False), ("lt", False, True)):
            value = getattr(item, attr, None)
            if value is None:
                continue
            if is_low:
                low, low_open = value, is_open
            else:
                high, high_open = value, is_open
    def text(value: Any) -> str:
        return str(value) if isinstance(value, int) else f"{value:g}"

    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {text(low)}"
    if low is None:
        return f"{'<' if high_open else '<='} {text(high)}"
    left = text(low) + (" (exclusive)" if low_open else "")
    right = text(high) + (" (exclusive)" if high_open else "")
    return f"{left} to {right}"


def _describe(err: ValidationError, field_names: dict[str, str] | None = None) -> str:
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    shown = loc
    for dotted, flag in (field_names or {}).items():
        if loc == dotted or loc.startswith(dotted + "."):
            shown = flag

    kind = first["type"]
    if kind == "extra_forbidden":
        model = _model_at(first["loc"][:-1])
        key = str(first["loc"][-1])
        valid = list(model.model_fields)
        return f"{shown}: unknown key{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}"
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = _range_of(first["loc"])
        if bounds:
            message = f"{first.get('input')!r} is out of range; valid: {bounds}"
    if kind.startswith("literal_error"):
        given = first.get("input")
        expected = first.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        message = f"{given!r} is not valid{did_you_mean(given, choices)}; valid: {expected}"
    if not loc or kind == "value_error" and not first["loc"]:
        return message
    return f"{shown}: {message}"


def validate(document: dict[str, Any], source: str = "", field_names: dict[str, str] | None = None
             ) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(document)
    except ValidationError as err:
        prefix = f"{source}: " if source else ""
        raise ConfigError(printable(prefix + _describe(err, field_names))) from None


def config_warnings(config: ExperimentConfig) -> list[str]:
    """What a valid experiment does that its author may not expect, a line each (shown as
    ``memtui: warning: ...`` before it runs; nothing is refused)."""
    found = []
    noise = config.corruption.noise
    if config.corruption.labels == "pairflip" and noise > 0.5:
        found.append(f"corruption.noise = {noise:g} with pairflip labels: above 0.5 most images "
                     "of each flipped class carry their pair's label, so the wrong class is the "
                     "majority there")
    return found


def load_preset(ref: str = DEFAULT_PRESET) -> ExperimentConfig:
    document, source = read_preset_document(ref)
    return validate(document, source)


# ---------------------------------------------------------------------------------------------
# Command-line overrides

def apply_overrides(config: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """A new config with dotted fields replaced; ``overrides`` maps dotted field -> value."""
    document = config.model_dump(mode="python", exclude_none=True)
    for dotted, value in overrides.items():
        if value is None:
            continue
        target = document
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return validate(document, field_names=FLAG_OF_FIELD)


def to_toml(config: ExperimentConfig) -> str:
    """The resolved config as TOML a user can save, edit and pass back to --preset: every option
    that has a value (TOML has no null; an unset option is left out)."""
    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))
