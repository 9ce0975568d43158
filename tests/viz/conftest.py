"""Small real runs for the views of ``fastrl.viz``: trained once per test session by ``fastrl.runner.train``.

A DQN on Catch (a board: image-like observations, Q-values) and a PPO on CartPole (a state vector: V(s) and
P(a|s)), each a few seconds on a quiet machine, each with two checkpoints and the logs a run writes.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import preset
from fastrl.runner import train


def _train(tmp_path_factory, name: str, steps: int, log_interval: int):
    run_dir = tmp_path_factory.mktemp("viz-runs") / name
    config = dataclasses.replace(preset(name), run_dir=run_dir, total_env_steps=steps, log_interval=log_interval,
                                 eval_interval=steps // 2, checkpoint_interval=steps // 2, eval_episodes=8,
                                 tensorboard=False, progress=False)
    return train(config)


@pytest.fixture(scope="session")
def catch_run(tmp_path_factory):
    """dqn-catch for 1,200 env steps (175 updates: the views need a trained network's shapes, not a good one)."""
    return _train(tmp_path_factory, "dqn-catch", 1_200, 400)


@pytest.fixture(scope="session")
def cartpole_run(tmp_path_factory):
    """ppo-cartpole for 4,096 env steps."""
    return _train(tmp_path_factory, "ppo-cartpole", 4_096, 1_024)
