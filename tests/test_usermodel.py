"""Specification of a user's own network, ``model.arch = "package.module:factory"``
(memtui/usermodel.py): the factory is imported, called with the input shape, the class count and
the model section's extra keys, and its model is checked once to map a batch to [batch, classes]
logits; everything else is one line naming model.arch."""

from __future__ import annotations

import sys
import textwrap
from itertools import count

import pytest
import torch
from torch import nn

from memtui.errors import ConfigError
from memtui.usermodel import build_user_model, check_logits, is_user_arch, load_factory

_serial = count()

SMALL_CNN = """
    from torch import nn

    def small_cnn(in_shape, num_classes, width=32):
        c, h, w = in_shape
        return nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(width * (h // 2) * (w // 2), num_classes),
        )

    def five_outputs(in_shape, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], 5))

    def flat_output(in_shape, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes),
                             nn.Flatten(0))

    def wrong_input(in_shape, num_classes):
        return nn.Linear(3, num_classes)

    def not_a_module(in_shape, num_classes):
        return 42

    def needs_depth(in_shape, num_classes, depth):
        raise ValueError(f"depth {depth} is too deep\\nsecond line")

    class Nets:
        @staticmethod
        def tiny(in_shape, num_classes):
            return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    WIDTH = 3
"""


@pytest.fixture
def nets(tmp_path, monkeypatch) -> str:
    """A fresh module of factories on sys.path; its name."""
    name = f"user_nets_{next(_serial)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SMALL_CNN))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_factory_in_a_module_builds_the_model_with_the_sections_extra_keys(nets):
    model = build_user_model(f"{nets}:small_cnn", (1, 28, 28), 10, {"width": 8})
    assert isinstance(model, nn.Module)
    assert model[0].out_channels == 8
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_a_factory_may_be_an_attribute_path(nets):
    model = build_user_model(f"{nets}:Nets.tiny", (3, 8, 8), 4)
    assert model(torch.zeros(3, 3, 8, 8)).shape == (3, 4)


def test_the_check_leaves_the_model_untouched_and_draws_no_random_number(nets):
    model = build_user_model(f"{nets}:small_cnn", (1, 28, 28), 10, {"width": 8})
    state = torch.random.get_rng_state()
    check_logits(model, "x:y", (1, 28, 28), 10)
    assert torch.equal(torch.random.get_rng_state(), state)
    bn = model[1]
    assert model.training and int(bn.num_batches_tracked) == 0
    assert torch.equal(bn.running_mean, torch.zeros(8))


def test_a_model_with_the_wrong_number_of_outputs_is_refused_with_what_it_gave(nets):
    with pytest.raises(ConfigError, match=r"^model\.arch: the model of '.*:five_outputs' maps a "
                       r"batch \[2, 1, 28, 28\] to \[2, 5\]; memtui needs float logits "
                       r"\[batch, classes\] = \[2, 10\]$"):
        build_user_model(f"{nets}:five_outputs", (1, 28, 28), 10)


def test_a_model_that_flattens_the_batch_is_refused(nets):
    with pytest.raises(ConfigError, match=r"maps a batch \[2, 1, 4, 4\] to \[20\]"):
        build_user_model(f"{nets}:flat_output", (1, 4, 4), 10)


def test_a_model_that_fails_on_the_input_says_so_in_one_line(nets):
    with pytest.raises(ConfigError) as err:
        build_user_model(f"{nets}:wrong_input", (1, 28, 28), 10)
    message = str(err.value)
    assert message.startswith("model.arch: the model of") and "fails on a batch [2, 1, 28, 28]" in message
    assert "RuntimeError" in message and "\n" not in message


def test_a_path_that_does_not_import_is_one_line():
    with pytest.raises(ConfigError, match=r"^model\.arch: cannot import 'no_such_package_memtui\.nets' "
                       r"\(ModuleNotFoundError: No module named 'no_such_package_memtui'\)$"):
        build_user_model("no_such_package_memtui.nets:cnn", (1, 28, 28), 10)


def test_a_missing_factory_suggests_the_closest_name(nets):
    with pytest.raises(ConfigError, match=r"has no 'smal_cnn' \(did you mean 'small_cnn'\?\)$"):
        load_factory(f"{nets}:smal_cnn")


@pytest.mark.parametrize("arch", ["nets", "nets:", ":f", "a b:f", "nets:f:g", "nets.:f"])
def test_a_malformed_path_is_refused_before_importing(arch):
    with pytest.raises(ConfigError, match=r"is not of the form 'package\.module:factory'"):
        load_factory(arch)


def test_a_factory_that_raises_names_the_call_and_the_first_line_of_its_error(nets):
    with pytest.raises(ConfigError) as err:
        build_user_model(f"{nets}:needs_depth", (1, 28, 28), 10, {"depth": 99})
    assert str(err.value) == (f"model.arch: {nets}:needs_depth((1, 28, 28), 10, depth=99) raised "
                              "ValueError: depth 99 is too deep")


def test_a_factory_that_returns_something_else_than_a_module_is_refused(nets):
    with pytest.raises(ConfigError, match=r"returned an object of type int, not a torch\.nn\.Module$"):
        build_user_model(f"{nets}:not_a_module", (1, 28, 28), 10)


def test_a_name_that_is_not_callable_is_refused(nets):
    with pytest.raises(ConfigError, match=r"is of type int, not a callable"):
        load_factory(f"{nets}:WIDTH")


def test_a_module_in_the_current_directory_imports_and_sys_path_is_restored(tmp_path, monkeypatch):
    name = f"cwd_nets_{next(_serial)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SMALL_CNN))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = list(sys.path)
    try:
        model = build_user_model(f"{name}:small_cnn", (3, 8, 8), 2, {"width": 4})
    finally:
        sys.modules.pop(name, None)
    assert model(torch.zeros(2, 3, 8, 8)).shape == (2, 2)
    assert sys.path == before


@pytest.mark.parametrize("arch, expected", [("mlp", False), ("resnet34", False),
                                            ("pkg.mod:factory", True)])
def test_a_colon_marks_a_users_factory(arch, expected):
    assert is_user_arch(arch) is expected


# ---------------------------------------------------------------------------------------------
# In the config and on the command line

def test_the_model_sections_other_keys_become_the_factorys_options(tiny_config):
    config = tiny_config(model={"arch": "my_nets:small_cnn", "width": 16, "channels": 8,
                                "act": "relu"})
    assert config.model.options == {"channels": 8, "act": "relu"}


@pytest.mark.parametrize("model, message", [
    ({"arch": "mlp", "widht": 8}, r"^model\.widht: unknown key \(did you mean 'width'\?\)"),
    ({"arch": "mlp", "options": {"a": 1}},
     r"^model: only a model\.arch 'package\.module:factory' takes options; 'mlp' is built in"),
    ({"arch": "my nets:cnn"}, r"^model\.arch: 'my nets:cnn' is not of the form 'package\.module:factory'"),
    ({"arch": "resnt34"}, r"^model\.arch: unknown model 'resnt34' \(did you mean 'resnet34'\?\); "
                          r"valid: .*, or 'package\.module:factory' for your own$"),
])
def test_the_config_refuses_what_no_network_takes_in_one_line(tiny_config, model, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(model=model)


def test_memtui_run_with_a_factory_of_the_wrong_shape_exits_2_with_one_line(
        nets, tmp_path, capsys, monkeypatch):
    from memtui.cli import main

    preset = tmp_path / "mine.toml"
    preset.write_text(f'name = "mine"\nepochs = 1\n[data]\ndataset = "demo"\nsubset = 64\n'
                      f'[model]\narch = "{nets}:five_outputs"\n[[losses]]\nname = "ce"\n')
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["memtui", "run", "--preset", str(preset), "--out", str(out),
                                      "--no-ui"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    stderr = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert stderr.count("\n") == 0 and "maps a batch [2, 1, 28, 28] to [2, 5]" in stderr
    assert not out.exists()


def test_the_example_of_docs_networks_md_works_as_written(tmp_path, monkeypatch, tiny_config):
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "networks.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", page, re.S).group(1)
    name = f"my_nets_{next(_serial)}"
    (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    toml_reader = __import__("tomllib" if sys.version_info >= (3, 11) else "tomli")
    section = toml_reader.loads(toml)["model"]
    assert section["arch"] == "my_nets:small_cnn"
    try:
        config = tiny_config(model={**section, "arch": f"{name}:small_cnn"})
        model = build_user_model(config.model.arch, (1, 28, 28), 10, config.model.options)
    finally:
        sys.modules.pop(name, None)
    assert model[0].out_channels == section["channels"]
