"""A3C and async n-step Q-learning learn with 2 Hogwild workers: the presets, run to their ends, are judged
on the final evaluation the supervisor makes of the parameters the workers left (see test_dqn_learns.py)."""

from __future__ import annotations

import pytest
from test_dqn_learns import SEEDS, assert_ends_solved


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, target", [("a3c-catch", 0.9), ("nstepq-catch", 0.9), ("a3c-cartpole", 475.0)])
def test_a3c_preset_ends_solved(tmp_path, name, target, seed):
    assert_ends_solved(tmp_path, name, seed, target)
