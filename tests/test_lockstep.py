"""The lockstep guarantee, for every loss memtui has: all the models start from the same initial
weights and train on the same batches in the same order, so the loss is the only difference.
Checked through the real assembly and engine, with both model banks and with a network of the
user's own."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from memtui import session
from memtui.losses import REGISTRY, BoundLoss
from memtui.session import build_engine

USER_NET = """
    from torch import nn

    def tiny(in_shape, num_classes, hidden=8):
        c, h, w = in_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))
"""


class Recording:
    """A bound loss that keeps every training batch of labels it is given (evaluation, which also
    computes the loss, runs without gradients and is left out)."""

    def __init__(self, bound: BoundLoss) -> None:
        self.bound = bound
        self.weight_l1 = bound.weight_l1
        self.labels: list[torch.Tensor] = []

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.requires_grad:
            self.labels.append(target.detach().cpu().clone())
        return self.bound(logits, target)


def _model_states(bank) -> list[dict[str, torch.Tensor]]:
    count = len(bank.state_dict()["models"])
    return [{k: v.detach().cpu().clone() for k, v in bank.state_dict()["models"][i].items()}
            for i in range(count)]


def _run_recording(config, monkeypatch):
    recorders: list[Recording] = []

    def bind_recording(cfg):
        recorders.extend(Recording(REGISTRY[spec.name].bind(spec.params)) for spec in cfg.losses)
        return list(recorders)

    monkeypatch.setattr(session, "bind_losses", bind_recording)
    inputs: list[list[torch.Tensor]] = []
    engine = build_engine(config)
    initial = _model_states(engine.bank)
    models = getattr(engine.bank, "models", None)
    if models is not None:  # separate models: each one's own forward sees its batch
        inputs = [[] for _ in models]
        for i, model in enumerate(models):
            model.register_forward_pre_hook(
                lambda module, args, i=i: inputs[i].append(args[0].detach().cpu().clone())
                if module.training else None)
    engine.run()
    return initial, recorders, inputs


@pytest.mark.parametrize("backend", ["separate", "fused"])
def test_every_loss_starts_from_the_same_weights_and_sees_the_same_batches(
        tiny_config, monkeypatch, backend):
    config = tiny_config(losses=[{"name": name} for name in REGISTRY], epochs=2, backend=backend)
    initial, recorders, inputs = _run_recording(config, monkeypatch)
    assert len(recorders) == len(REGISTRY) == len(initial)
    for state in initial[1:]:
        assert state.keys() == initial[0].keys()
        assert all(torch.equal(state[k], initial[0][k]) for k in state)
    steps = len(recorders[0].labels)
    assert steps == 2 * (256 // 64)
    for recorder in recorders[1:]:
        assert len(recorder.labels) == steps
        assert all(torch.equal(a, b) for a, b in zip(recorder.labels, recorders[0].labels))
    for seen in inputs[1:]:
        assert len(seen) == steps and all(torch.equal(a, b) for a, b in zip(seen, inputs[0]))


def test_a_users_own_network_trains_in_lockstep_too(tiny_config, monkeypatch, tmp_path):
    name = "lockstep_user_nets"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_NET))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        config = tiny_config(model={"arch": f"{name}:tiny", "hidden": 5},
                             losses=[{"name": "ce"}, {"name": "nce+agce"}, {"name": "anl-ce"}])
        assert config.model.options == {"hidden": 5}
        initial, recorders, inputs = _run_recording(config, monkeypatch)
    finally:
        sys.modules.pop(name, None)
    assert initial[0]["1.weight"].shape == (5, 1 * 28 * 28)  # the factory got hidden = 5
    for state in initial[1:]:
        assert all(torch.equal(state[k], initial[0][k]) for k in state)
    for seen in inputs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(seen, inputs[0]))
    assert all(torch.equal(a, b) for a, b in zip(recorders[2].labels, recorders[0].labels))
