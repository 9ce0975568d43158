"""The gymnasium backend's one-env engine (``OneEnv``) steps exactly as ``gymnasium.make_vec``'s SyncVectorEnv
with next-step autoreset: the same observations, rewards, flags and lives, through episode ends and resets."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from fastrl.envs import make_env
from fastrl.envs.atari import ATARI_DEFAULTS, AtariOptions
from fastrl.envs.gymnasium import OneEnv, _atari_setup


def engines(env_id: str):
    if env_id == "Breakout-v5":
        gym_id, kwargs, wrappers = _atari_setup("Breakout", AtariOptions(**ATARI_DEFAULTS), env_id)
    else:
        gym_id, kwargs, wrappers = env_id, {}, None
    vec = gymnasium.make_vec(gym_id, 1, vectorization_mode="sync", wrappers=wrappers,
                             vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP}, **kwargs)
    return OneEnv(gym_id, kwargs, wrappers), vec


@pytest.mark.parametrize("env_id, steps", [("CartPole-v1", 3000), ("Pendulum-v1", 700), ("Hopper-v5", 1500),
                                           ("Breakout-v5", 600)])
def test_one_env_steps_as_sync_vector_env(env_id, steps):
    one, vec = engines(env_id)
    vec.action_space.seed(0)
    try:
        np.testing.assert_array_equal(one.reset(seed=3)[0], vec.reset(seed=3)[0])
        ends = 0
        for _ in range(steps):
            action = vec.action_space.sample()
            got, want = one.step(action), vec.step(action)
            for name, a, b in zip(("obs", "reward", "terminated", "truncated"), got[:4], want[:4], strict=True):
                np.testing.assert_array_equal(a, b, err_msg=name)
            if "lives" in want[4]:
                np.testing.assert_array_equal(got[4]["lives"], want[4]["lives"])
            ends += int(got[2][0] or got[3][0])
        assert ends >= 2, "the comparison must cross episode ends"
    finally:
        one.close()
        vec.close()


def test_make_env_steps_one_env_in_the_callers_thread():
    env = make_env("CartPole-v1", 1, backend="gymnasium")
    assert isinstance(env.engine, OneEnv)
    assert not isinstance(make_env("CartPole-v1", 2, backend="gymnasium").engine, OneEnv)
