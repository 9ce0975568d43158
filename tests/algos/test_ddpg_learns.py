"""TD3 and D4PG learn Pendulum-v1: the presets, run to their ends, are judged on the deterministic policy's
final evaluation (see test_dqn_learns.py). Uniformly random torques score about -1250; -200 needs a policy
that swings the pendulum up and holds it from every start state."""

from __future__ import annotations

import pytest
from test_dqn_learns import SEEDS, assert_ends_solved


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["td3-pendulum", "d4pg-pendulum"])
def test_pendulum_preset_ends_solved(tmp_path, name, seed):
    assert_ends_solved(tmp_path, name, seed, -200.0)
