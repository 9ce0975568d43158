"""PPO learns MinAtar Breakout on the device loop (native envs, fastrl.device_rollout), judged on the final
evaluation of the preset's own run (see test_dqn_learns.py).

A uniformly random policy scores 0.41 ± 0.68 on MinAtar/Breakout-v1 (500 episodes, fastrl's native env, seed 0):
it rarely returns the ball. 4.0 is ten times that mean, and is reached only by a policy that tracks the ball.
"""

from __future__ import annotations

import pytest
from test_dqn_learns import assert_ends_solved

BREAKOUT_TARGET = 4.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", (0, 1))
def test_ppo_minatar_ends_far_beyond_random_on_breakout(tmp_path, seed):
    rows = assert_ends_solved(tmp_path, "ppo-minatar", seed, BREAKOUT_TARGET)
    assert "ms_env" in rows[-1] and "ms_rollout" not in rows[-1]  # the CPU runs the device rollout eagerly
