"""The DQN learner's fused CPU path (fused_update) against its eager path: the same steps, the same actions,
checkpoints that either path loads, and the choice of path at the start of a run."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

from fastrl.algos.dqn.fusion import _random_batch, fused_choice
from fastrl.algos.dqn.learner import DQN, _builder
from fastrl.config import ConfigError, DQNConfig, preset
from fastrl.runner import train

CLOSE = {"rtol": 1e-5, "atol": 1e-6}
VARIANTS = {
    "huber-hard-target": {},
    "double-mse-annealed": {"double": True, "loss": "mse", "anneal_lr": True},
    "polyak-unclipped": {"target_update": "polyak", "max_grad_norm": 0.0},
}


def pair(**options) -> tuple[DQN, DQN]:
    """A fused and an eager learner with the same initial networks."""
    config = DQNConfig(hidden=(32, 32), batch_size=16, lr=1e-3, target_period=3, **options)
    learners = []
    for fused in (True, False):
        torch.manual_seed(0)
        learners.append(DQN(dataclasses.replace(config, fused_update=fused), (4,), 3, "cpu", seed=0,
                            updates_total=12))
    return learners[0], learners[1]


def batches(count: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        batch = _random_batch(16, (4,), 3)
        yield batch._replace(obs=torch.randn(16, 4, generator=generator),
                             next_obs=torch.randn(16, 4, generator=generator),
                             reward=torch.randn(16, generator=generator),
                             weights=torch.rand(16, generator=generator))


def assert_same_networks(a: DQN, b: DQN) -> None:
    for name, module in (("online", "online"), ("target", "target")):
        for x, y in zip(getattr(a, module).parameters(), getattr(b, module).parameters(), strict=True):
            torch.testing.assert_close(x, y, **CLOSE, msg=name)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_steps_equal_eager_steps(variant):
    fused, eager = pair(**VARIANTS[variant])
    assert fused.fused is not None and eager.fused is None
    for batch in batches(12):
        torch.testing.assert_close(fused.update(batch), eager.update(batch), **CLOSE)
    assert_same_networks(fused, eager)
    got, want = fused.take_stats(), eager.take_stats()
    assert got.keys() == want.keys() and got["updates"] == want["updates"] == 12
    for key in ("loss", "q_mean", "abs_td_mean", "grad_norm"):
        assert got[key] == pytest.approx(want[key], rel=1e-5), key
    obs = torch.randn(50, 4)
    assert torch.equal(fused.act(obs, 0.3), eager.act(obs, 0.3))  # same greedy actions, same draws


@pytest.mark.parametrize("saver_fused", [True, False])
def test_a_checkpoint_of_either_path_resumes_on_the_other(saver_fused):
    fused, eager = pair()
    saver, loader = (fused, eager) if saver_fused else (eager, fused)
    for batch in batches(4):
        saver.update(batch)
    loader.load_state_dict(copy.deepcopy(saver.state_dict()))  # as from disk: no tensor shared with the saver
    for batch in batches(5, seed=1):
        torch.testing.assert_close(saver.update(batch), loader.update(batch), **CLOSE)
    assert_same_networks(saver, loader)
    assert loader.optimizer.state_dict()["state"][0]["step"].item() == 9


def test_fused_update_true_is_refused_where_the_kernels_cannot_run():
    def choice(dqn, shape=(4,), actions=2):
        return fused_choice(dqn, shape, actions, "cpu", _builder(shape, actions))

    with pytest.raises(ConfigError, match="--fused-update True: the fused kernels take a plain Q head"):
        choice(DQNConfig(dueling=True, fused_update=True))
    assert choice(DQNConfig(exploration="noisy")).value is False
    refused = choice(DQNConfig(optimizer="rmsprop"))
    assert refused.value is False and "RMSProp" in refused.reason
    assert choice(DQNConfig(), (4, 84, 84), 6).value is False  # stacked frames: the Nature CNN


def test_auto_measures_both_paths_and_the_run_records_the_choice(tmp_path):
    config = dataclasses.replace(preset("dqn-catch"), total_env_steps=600, run_dir=tmp_path, tensorboard=False,
                                 progress=False, eval_interval=0)
    assert config.dqn.fused_update == "auto"
    train(config)
    assert json.loads((tmp_path / "config.json").read_text())["dqn"]["fused_update"] == "auto"  # as asked
    choices = {c["field"]: c for c in json.loads((tmp_path / "meta.json").read_text())["hardware_choices"]}
    assert choices["fused_update"]["value"] in (True, False)
    assert "us per update fused" in choices["fused_update"]["reason"]
