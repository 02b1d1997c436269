"""Specification of the spec table (memtui/specs.py): the one list of data sets, architectures and
losses, each bound to exactly one implementation where training needs it, and the names and
parameter ranges the config checks against.
"""

from __future__ import annotations

import pytest

from memtui import data, losses, models, specs
from memtui.config import ModelConfig, validate
from memtui.errors import ConfigError


def test_every_loss_spec_has_exactly_one_function_and_every_function_a_spec():
    assert set(losses.REGISTRY) == set(specs.LOSSES)
    for name, spec in specs.LOSSES.items():
        assert losses.REGISTRY[name].spec == spec


def test_every_architecture_spec_has_exactly_one_network_and_every_network_a_spec():
    assert set(models.ARCHITECTURES) == set(specs.ARCHITECTURES)


def test_every_data_set_spec_has_exactly_one_reader_and_every_reader_a_spec():
    assert set(data.LOADERS) == set(specs.DATASETS)
    assert data.DATASETS is specs.DATASETS


def test_a_second_implementation_of_a_loss_or_one_without_a_spec_is_refused():
    with pytest.raises(ValueError, match="implemented twice"):
        losses.implements("ce")(losses.cross_entropy)
    with pytest.raises(ValueError, match="no entry in memtui/specs.py"):
        losses.implements("no-such-loss")(losses.cross_entropy)


@pytest.mark.parametrize("name", sorted(specs.LOSSES))
def test_every_loss_parameter_has_a_default_inside_its_range(name):
    spec = specs.LOSSES[name]
    for key, param in spec.params.items():
        assert param.range.contains(param.default), (name, key)
    spec.check(spec.defaults)


def test_every_data_set_says_its_classes_and_image_shape():
    for spec in specs.DATASETS.values():
        if spec.from_data:  # an image folder: its classes and shape are read with it
            assert spec.classes == () and spec.shape == (0, 0, 0)
            continue
        channels, height, width = spec.shape
        assert channels in (1, 3) and height > 0 and width > 0
        assert spec.num_classes == len(set(spec.classes)) >= 2


def test_the_model_options_take_their_defaults_and_bounds_from_the_spec():
    mlp = specs.ARCHITECTURES["mlp"].params
    config = ModelConfig()
    assert (config.width, config.depth) == (mlp["width"].default, mlp["depth"].default)
    with pytest.raises(ConfigError, match="model.width: .* valid: 1 to 65536"):
        validate({"model": {"width": int(mlp["width"].range.high or 0) + 1}})


def test_the_config_knows_the_names_of_the_spec_table_and_suggests_the_nearest():
    with pytest.raises(ConfigError, match=r"unknown loss 'gcee' \(did you mean 'gce'\?\)"):
        validate({"losses": [{"name": "gcee"}]})
    with pytest.raises(ConfigError, match=r"unknown model 'resnet_32' \(did you mean 'resnet32'\?\)"):
        validate({"model": {"arch": "resnet_32"}})
    with pytest.raises(ConfigError, match=r"unknown data set 'cifar' \(did you mean 'cifar10'\?\)"):
        validate({"data": {"dataset": "cifar"}})


def test_a_loss_parameter_is_checked_against_its_spec_range():
    with pytest.raises(ConfigError, match=r"loss 'gce': q = 1.5 is out of range; valid: 0 < x <= 1"):
        validate({"losses": [{"name": "gce", "params": {"q": 1.5}}]})
    assert validate({"losses": [{"name": "gce", "params": {"q": 1.0}}]}).losses[0].params == {
        "q": 1.0}


def test_a_loss_bound_at_run_time_enters_the_spec_table_and_leaves_it(monkeypatch):
    # What the engine's tests do to run a loss that diverges on purpose.
    definition = losses.LossDef("half-ce", "half of CE",
                                lambda logits, target: losses.cross_entropy(logits, target) / 2,
                                symmetric=False)
    with monkeypatch.context() as patch:
        patch.setitem(losses.REGISTRY, "half-ce", definition)
        assert specs.LOSSES["half-ce"] == definition.spec
        assert validate({"losses": [{"name": "half-ce"}]}).loss_labels == ["HALF-CE"]
    assert "half-ce" not in specs.LOSSES and "half-ce" not in losses.REGISTRY
