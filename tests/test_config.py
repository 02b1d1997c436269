"""Specification of experiment configs and presets.

A preset is a TOML file validated by the pydantic schema (unknown keys refused). Shipped presets
all load; ``memtui presets show NAME`` prints TOML that loads back to the same config; losses
carry their own parameters and display names, and two losses may not share a display name.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from memtui.cli import app
from memtui.config import apply_overrides, load_preset, to_toml, validate
from memtui.errors import ConfigError
from memtui.losses import REGISTRY
from memtui.overrides import parse_losses
from memtui.presets import DEFAULT_PRESET, shipped_presets
from memtui.session import bind_losses, describe_losses

PRESETS = sorted(shipped_presets())


def test_the_default_preset_is_demo_and_is_shipped():
    assert DEFAULT_PRESET == "demo"
    assert "demo" in PRESETS


def test_issue_2_presets_are_shipped():
    expected = {"demo", "mnist-random", "mnist-noisy", "fashion-mnist-noisy", "cifar10-random",
                "cifar10-noisy"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_shipped_preset_loads_with_a_description_and_its_own_name(name):
    config = load_preset(name)
    assert config.name == name
    assert shipped_presets()[name].strip()


@pytest.mark.parametrize("name", PRESETS)
def test_presets_show_output_loads_back_to_an_equal_config(name, tmp_path):
    result = CliRunner().invoke(app, ["presets", "show", name])
    assert result.exit_code == 0, result.output
    saved = tmp_path / "my.toml"
    saved.write_text(result.stdout)
    assert load_preset(str(saved)) == load_preset(name)


def test_to_toml_writes_every_default_out():
    text = to_toml(load_preset("demo"))
    for key in ("[optimizer]", "momentum", "[schedule]", "batch_size", "eval_batch_size", "seed",
                "alpha"):
        assert key in text


def test_two_rlls_with_different_alpha_keep_their_own_parameters_and_labels():
    config = validate({"losses": [
        {"name": "rll", "label": "RLL a=0.1", "params": {"alpha": 0.1}},
        {"name": "rll", "label": "RLL a=1", "params": {"alpha": 1.0}},
        {"name": "ce"},
    ]})
    assert config.loss_labels == ["RLL a=0.1", "RLL a=1", "CE"]
    assert [spec.params for spec in config.losses] == [{"alpha": 0.1}, {"alpha": 1.0}, {}]
    assert [info.params for info in describe_losses(config)] == [{"alpha": 0.1}, {"alpha": 1.0}, {}]
    import torch

    logits, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    first, second = (fn(logits, y) for fn in bind_losses(config)[:2])
    torch.testing.assert_close(first, REGISTRY["rll"].bind({"alpha": 0.1})(logits, y))
    torch.testing.assert_close(second, REGISTRY["rll"].bind({"alpha": 1.0})(logits, y))
    assert not torch.allclose(first, second)


def test_unlabelled_losses_with_different_parameters_get_distinct_display_names():
    config = validate({"losses": [{"name": "rll"}, {"name": "rll", "params": {"alpha": 0.5}}]})
    assert len(set(config.loss_labels)) == 2
    assert config.loss_labels[0] == "RLL"


def test_loss_parameters_are_resolved_to_their_full_values():
    config = validate({"losses": [{"name": "sce", "params": {"alpha": 0.01}}]})
    assert config.losses[0].params == {"alpha": 0.01, "beta": 1.0}


@pytest.mark.parametrize("losses", [
    [{"name": "ce"}, {"name": "ce"}],
    [{"name": "ce", "label": "same"}, {"name": "mse", "label": "same"}],
    [{"name": "rll", "params": {"alpha": 0.5}}, {"name": "rll", "params": {"alpha": 0.5}}],
])
def test_duplicate_display_names_are_refused(losses):
    with pytest.raises(ConfigError, match="distinct label"):
        validate({"losses": losses})


@pytest.mark.parametrize("document, message", [
    ({"epoch": 3}, "did you mean 'epochs'"),
    ({"optimizer": {"lrr": 0.1}}, "did you mean 'lr'"),
    ({"data": {"dataset": "mnits"}}, "did you mean 'mnist'"),
    ({"model": {"arch": "resnet_32"}}, "did you mean 'resnet32'"),
    ({"losses": [{"name": "rl"}]}, "did you mean 'rll'"),
    ({"losses": [{"name": "rll", "params": {"alpa": 0.2}}]}, "did you mean 'alpha'"),
    ({"corruption": {"labels": "symetric"}}, "did you mean 'symmetric'"),
])
def test_unknown_names_are_refused_with_the_closest_valid_one(document, message):
    with pytest.raises(ConfigError, match=message):
        validate(document)


@pytest.mark.parametrize("document, field", [
    ({"corruption": {"noise": 1.5}}, "corruption.noise"),
    ({"corruption": {"noise": -0.1}}, "corruption.noise"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": -3}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"optimizer": {"lr": 0}}, "optimizer.lr"),
    ({"losses": []}, "losses"),
])
def test_out_of_range_values_are_refused_naming_the_field(document, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        validate(document)


def test_unknown_preset_names_the_closest_shipped_one():
    with pytest.raises(ConfigError, match="did you mean 'demo'"):
        load_preset("dmeo")


def test_malformed_toml_is_a_config_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_preset(str(bad))


def test_a_missing_preset_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_preset(str(tmp_path / "nowhere.toml"))


def test_overrides_replace_fields_and_name_the_flag_in_errors():
    config = apply_overrides(load_preset("demo"), {
        "epochs": 3, "losses": parse_losses("ce, gce"), "corruption.noise": 0.2, "seed": 5,
        "data.subset": 100,
    })
    assert (config.epochs, config.corruption.noise, config.seed, config.data.subset) == (3, 0.2, 5, 100)
    assert config.loss_labels == ["CE", "GCE"]
    with pytest.raises(ConfigError, match="^--noise:"):
        apply_overrides(config, {"corruption.noise": 2.0})
    with pytest.raises(ConfigError, match="^--epochs:"):
        apply_overrides(config, {"epochs": 0})


def test_an_override_of_none_leaves_the_preset_value():
    config = load_preset("demo")
    assert apply_overrides(config, {"epochs": None, "seed": None}) == config


def test_empty_loss_list_on_the_command_line_is_refused():
    with pytest.raises(ConfigError, match="--losses"):
        parse_losses(" , ")


@pytest.mark.parametrize("loss, params, field", [
    ("rll", {"alpha": 0.0}, "alpha"),
    ("rll", {"alpha": -1.0}, "alpha"),
    ("gce", {"q": 0.0}, "q"),
    ("gce", {"q": 1.5}, "q"),
    ("sce", {"alpha": -0.5}, "alpha"),
])
def test_loss_parameters_outside_their_valid_range_are_refused_at_load(loss, params, field):
    with pytest.raises(ConfigError) as caught:
        validate({"losses": [{"name": loss, "params": params}]})
    message = str(caught.value)
    assert message.startswith("losses.0:") and "\n" not in message
    assert f"{field} = " in message and "out of range; valid: 0 <" in message


def test_holdout_is_a_fraction_below_one():
    assert validate({"data": {"holdout": 0.2}}).data.holdout == 0.2
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="^data.holdout:"):
            validate({"data": {"holdout": bad}})


@pytest.mark.parametrize("name", ["paper-mnist-random", "paper-mnist-noisy", "paper-cifar10-random",
                                  "paper-cifar10-noisy"])
def test_paper_presets_follow_the_papers_released_code(name):
    config = load_preset(name)
    assert config.model.arch in ("inception-small", "resnet32")
    assert (config.optimizer.name, config.optimizer.lr, config.optimizer.momentum,
            config.optimizer.weight_decay) == ("sgd", 0.1, 0.9, 0.0)
    assert (config.batch_size, config.epochs) == (128, 200)
    assert (config.schedule.kind, config.schedule.milestones, config.schedule.gamma) == (
        "multistep", [100, 150], 0.1)
    assert config.data.holdout == 0.2
    assert {"ce", "mse", "rll"} <= {spec.name for spec in config.losses}
    rll = next(spec for spec in config.losses if spec.name == "rll")
    assert rll.params == {"alpha": 0.1}
    if "mnist" in name:
        assert config.model.batchnorm is False  # the paper's README runs MNIST with --batch_norm 0


@pytest.mark.parametrize("name", ["mnist-noisy", "fashion-mnist-noisy", "paper-mnist-noisy"])
def test_mnist_presets_take_apls_nce_rce_at_its_step_not_its_weights(name):
    """APL trains MNIST's NCE+RCE (alpha 1, beta 10) at lr 0.01; these presets train at lr 0.1,
    so the loss is scaled by 0.01 / 0.1 to take the same step (at (1, 10) the network collapsed)."""
    config = load_preset(name)
    nce_rce = next(spec for spec in config.losses if spec.name == "nce+rce")
    apl_alpha, apl_beta, apl_lr = 1.0, 10.0, 0.01
    scale = apl_lr / config.optimizer.lr
    assert nce_rce.params == pytest.approx({"alpha": apl_alpha * scale, "beta": apl_beta * scale})
