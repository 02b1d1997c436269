"""The experiment schema, preset loading and command-line overrides.

Everything a user writes goes through these pydantic models (``extra="forbid"``), so a typo in a
preset or a flag is reported with the field's dotted name and what would be valid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from memtui.corruption import InputMode, LabelMode
from memtui.data import DATASETS
from memtui.errors import ConfigError, did_you_mean
from memtui.losses import REGISTRY
from memtui.models import ARCHITECTURES
from memtui.overrides import FLAG_OF_FIELD
from memtui.presets import DEFAULT_PRESET, read_preset_document

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Strict):
    dataset: str = Field("demo", description="demo, mnist, fashion-mnist or cifar10")
    data_dir: Path | None = Field(
        None, description="folder with the data set in torchvision's layout; read offline"
    )
    subset: PositiveInt | None = Field(
        None, description="train on this many training images (a fixed random subset)"
    )
    test_subset: PositiveInt | None = Field(None, description="evaluate on this many test images")
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


class CorruptionConfig(Strict):
    labels: LabelMode = Field("random", description="how training labels are corrupted")
    noise: float = Field(0.0, ge=0.0, le=1.0, description="corruption rate eta in [0, 1]")
    inputs: InputMode = Field("none", description="how training images are corrupted")


class ModelConfig(Strict):
    arch: str = Field("mlp", description="mlp, cnn8, resnet32 or inception-small")
    width: PositiveInt = Field(512, description="hidden units per MLP layer")
    depth: PositiveInt = Field(1, description="hidden layers of the MLP")
    batchnorm: bool = Field(
        True, description="BatchNorm layers in the network (every architecture); false removes them")

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, value: str) -> str:
        if value not in ARCHITECTURES:
            raise ValueError(
                f"unknown model {value!r}{did_you_mean(value, ARCHITECTURES)}; "
                f"valid: {', '.join(ARCHITECTURES)}"
            )
        return value


class LossSpec(Strict):
    name: str = Field(description="a loss of the registry: " + ", ".join(REGISTRY))
    label: str | None = Field(None, description="display name; defaults to the name in capitals")
    params: dict[str, float] = Field(default_factory=dict, description="overrides of its defaults")

    @field_validator("name")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(
                f"unknown loss {value!r}{did_you_mean(value, REGISTRY)}; valid: {', '.join(REGISTRY)}"
            )
        return value

    @model_validator(mode="after")
    def _known_params(self) -> LossSpec:
        allowed = REGISTRY[self.name].defaults
        for key in self.params:
            if key not in allowed:
                valid = ", ".join(allowed) if allowed else "none"
                raise ValueError(
                    f"loss {self.name!r} has no parameter {key!r}{did_you_mean(key, allowed)}; "
                    f"valid: {valid}"
                )
        REGISTRY[self.name].check(self.params)
        # Resolved: every parameter is written out, so a saved config says exactly what ran.
        self.__dict__["params"] = {**allowed, **self.params}
        return self

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        changed = {k: v for k, v in self.params.items() if REGISTRY[self.name].defaults[k] != v}
        suffix = " " + ",".join(f"{k}={v:g}" for k, v in changed.items()) if changed else ""
        return self.name.upper() + suffix


class OptimizerConfig(Strict):
    name: Literal["sgd", "adam"] = "sgd"
    lr: PositiveFloat = 0.01
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: NonNegativeFloat = 0.0


class ScheduleConfig(Strict):
    kind: Literal["constant", "multistep", "cosine"] = "constant"
    milestones: list[PositiveInt] = Field(
        default_factory=list, description="epochs at which multistep multiplies lr by gamma"
    )
    gamma: PositiveFloat = 0.1


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
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = Field(2048, description="batch size of the per-epoch evaluation")
    eval_every: PositiveInt = Field(1, description="evaluate every N epochs (and the last)")
    seed: int = 0
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 autocasts forward passes on CUDA; weights stay fp32"
    )
    out: Path | None = Field(None, description="run directory; default runs/<timestamp>-<name>")
    checkpoint_every: PositiveInt = Field(
        10, description="write a resumable checkpoint every N epochs (and at the end)")
    backend: Literal["auto", "separate", "fused"] = Field(
        "auto", description="separate models per loss, or all stacked into one fused computation; "
        "auto picks the faster for the device")
    compile: bool = Field(False, description="torch.compile the training step (CUDA)")

    @field_validator("device")
    @classmethod
    def _valid_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"unknown device {value!r}; valid: auto, cpu, cuda, cuda:N, mps")
        return value

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

    @property
    def loss_labels(self) -> list[str]:
        return [spec.display for spec in self.losses]


# ---------------------------------------------------------------------------------------------
# Errors: pydantic's report -> one line naming the field and what would be valid.

def _describe(err: ValidationError, field_names: dict[str, str] | None = None) -> str:
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    shown = loc
    for dotted, flag in (field_names or {}).items():
        if loc == dotted or loc.startswith(dotted + "."):
            shown = flag

    kind = first["type"]
    if kind == "extra_forbidden":
        parent_loc = first["loc"][:-1]
        model: type[BaseModel] = ExperimentConfig
        for part in parent_loc:
            if isinstance(part, int):
                continue
            annotation = model.model_fields[str(part)].annotation
            inner = getattr(annotation, "__args__", (annotation,))
            model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), model)
        key = str(first["loc"][-1])
        valid = list(model.model_fields)
        return f"{shown}: unknown key{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}"
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
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
        raise ConfigError(prefix + _describe(err, field_names)) from None


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
    """The fully resolved config as TOML a user can save, edit and pass back to --preset."""
    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))
