"""Every stored transition against a naive reference that keeps each observation whole.

Scripted episodes of lengths 1 to 9 (terminals inside a stack, truncations, several per ring) run through
small rings that wrap several times, so the head keeps overwriting the oldest episode. After every call,
each slot's validity, s (rebuilt frame stack), a, n-step reward, discount and s' must equal what the
reference computes from the env's own history.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_env import ScriptedEnvs, expected_transition, zero_before_start

from fastrl.replay import BufferConfig, ReplayBuffer

LENGTHS = [[1, 2, 5, 3], [7, 1, 4], [2, 9, 3]]
ENDS = [["term", "trunc", "term", "trunc"], ["trunc", "term", "term"], ["term", "term", "trunc"]]


def make(stack: int, n: int, fill: str, per_env: int, prioritized: bool = False, gamma: float = 0.9,
         engine: str | None = None):
    envs = ScriptedEnvs(LENGTHS, ENDS, stack=stack)
    shape = (stack, envs.hw, envs.hw) if stack else (3,)
    config = BufferConfig(capacity=per_env * envs.num_envs, num_envs=envs.num_envs, obs_shape=shape,
                          obs_dtype="uint8" if stack else "float32", frame_stack=stack, n_step=n, gamma=gamma,
                          start_fill=fill, prioritized=prioritized)
    return envs, ReplayBuffer(config, engine=engine)


def check_all(envs: ScriptedEnvs, buffer: ReplayBuffer) -> int:
    """Compare every slot with the reference; return the number of valid transitions."""
    cfg, layout = buffer.config, buffer.layout
    steps, per_env, pad = envs.calls, layout.per_env, layout.pad
    slots, expected = [], []
    for i in range(envs.num_envs):
        for k in range(max(0, steps - per_env), steps):
            slot = i * layout.row + pad + k % per_env
            want = expected_transition(envs, i, k, cfg.n_step, cfg.gamma)
            if cfg.frame_stack and k < steps - per_env + pad:
                want = None  # the oldest stack - 1 positions: their stacks would reach overwritten frames
            assert bool(buffer.storage["valid"][slot]) == (want is not None), f"env {i} call {k} (slot {slot})"
            if want is not None:
                slots.append(slot)
                expected.append((i, k, *want))
    assert len(buffer) == len(slots)
    if not slots:
        return 0
    batch = buffer.get(torch.tensor(slots))
    for b, (i, k, next_call, reward, discount, action) in enumerate(expected):
        where = f"env {i} call {k}"
        if cfg.frame_stack and cfg.start_fill == "zero":
            obs, next_obs = zero_before_start(envs, i, k), zero_before_start(envs, i, next_call)
        else:
            obs, next_obs = envs.history[i][k], envs.history[i][next_call]
        np.testing.assert_array_equal(batch.obs[b].numpy(), obs, err_msg=f"s of {where}")
        np.testing.assert_array_equal(batch.next_obs[b].numpy(), next_obs, err_msg=f"s' of {where}")
        assert int(batch.action[b]) == action, where
        assert float(batch.reward[b]) == pytest.approx(reward, rel=1e-5, abs=1e-5), where
        assert float(batch.discount[b]) == pytest.approx(discount, rel=1e-6), where
    return len(slots)


@pytest.mark.parametrize("engine", ["numba", "torch"])
@pytest.mark.parametrize("stack,fill", [(4, "repeat"), (4, "zero"), (2, "repeat"), (0, "repeat")])
@pytest.mark.parametrize("n", [1, 3])
def test_every_transition_matches_the_reference(stack, fill, n, engine):
    envs, buffer = make(stack, n, fill, per_env=13, engine=engine)
    assert buffer.engine.name == engine
    rng = np.random.default_rng(1)
    buffer.add(envs.reset())
    seen = 0
    for _ in range(70):  # > 5 laps of a 13-slot ring
        actions = rng.integers(0, 6, envs.num_envs)
        obs, reward, terminated, truncated = envs.step(actions)
        buffer.add(obs, torch.from_numpy(actions), reward, terminated, truncated)
        seen += check_all(envs, buffer)
    assert seen > 500  # the comparison ran over many transitions, not an empty set


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_prioritized_buffer_stores_the_same_transitions(engine):
    envs, buffer = make(4, 3, "repeat", per_env=11, prioritized=True, engine=engine)
    buffer.add(envs.reset())
    for _ in range(40):
        actions = np.zeros(envs.num_envs, dtype=np.int64)
        buffer.add(*_step(envs, actions))
        check_all(envs, buffer)
    # exactly the valid slots carry a priority (the max priority, 1 before any update)
    leaves = buffer.sampler.leaf_priorities()
    valid = buffer.storage["valid"][: buffer.layout.num_slots]
    assert torch.equal(leaves > 0, valid)
    assert torch.all(leaves[valid] == 1.0)


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_reset_call_mid_run_drops_pending_transitions(engine):
    envs, buffer = make(4, 3, "repeat", per_env=12, engine=engine)
    buffer.add(envs.reset())
    for _ in range(5):
        buffer.add(*_step(envs, np.zeros(envs.num_envs, dtype=np.int64)))
    before = len(buffer)
    buffer.add(envs.reset())  # the learner reset every env: transitions still pending have no end
    assert len(buffer) == before
    check_all(envs, buffer)
    for _ in range(20):
        buffer.add(*_step(envs, np.zeros(envs.num_envs, dtype=np.int64)))
        check_all(envs, buffer)


def _step(envs, actions):
    obs, reward, terminated, truncated = envs.step(actions)
    return obs, torch.from_numpy(actions), reward, terminated, truncated
