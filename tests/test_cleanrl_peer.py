"""The CleanRL peer: its script is CleanRL's own file, the old-gym adapter gives envpool's pools in gym 0.2x's
shape, and its rate is read from the lines the script prints."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fastrl.benchmarks.cleanrl_peer import SCRIPT, OldGymPool, steady_rate

#: sha256 of cleanrl/ppo_atari_envpool.py at github.com/vwxyzjn/cleanrl commit fe8d8a03
UPSTREAM_SHA256 = "d1672d9822929ef21c1ea0b63e853f330387892550b924abf32d6f755d6a97c8"


def test_the_script_is_cleanrls_file_unmodified():
    assert hashlib.sha256(SCRIPT.read_bytes()).hexdigest() == UPSTREAM_SHA256


def test_steady_rate_leaves_out_the_first_iteration():
    # 1000 steps an iteration; the first ends at 4 s, the later ones at 5, 6 and 8 s: each SPS line prints
    # global step / seconds so far (250, 400, 500, 500), and the steady rate is 3000 steps over 4 s
    output = "global_step=8, episodic_return=-21\nSPS: 250\nSPS: 400\nSPS: 500\nSPS: 500\n"
    assert steady_rate(output, 1000) == 750.0


def test_steady_rate_needs_two_iterations():
    with pytest.raises(RuntimeError, match="1 usable SPS lines"):
        steady_rate("SPS: 300\n", 1024)


def test_old_gym_pool_gives_obs_on_reset_and_four_values_on_step():
    envpool = pytest.importorskip("envpool")
    pool = envpool.make("Pong-v5", env_type="gym", num_envs=2, episodic_life=True, reward_clip=True, seed=1)
    envs = OldGymPool(pool)
    envs.num_envs = 2  # the script sets it; the pool's own property has no setter
    obs = envs.reset()
    assert isinstance(obs, np.ndarray) and obs.shape == (2, 4, 84, 84)
    obs, reward, done, info = envs.step(np.zeros(2, dtype=np.int64))
    assert obs.shape == (2, 4, 84, 84) and reward.shape == done.shape == (2,) and done.dtype == np.bool_
    assert {"lives", "reward", "terminated"} <= set(info) and envs.action_space.n == 6
