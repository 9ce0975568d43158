"""Frames stored once rebuild exactly the stacks the real env returned: envpool Pong-v5, 2 envs.

Episodes are cut at 40 steps (truncation) so that a few hundred steps hold several autoresets, and the ring
is small so that it wraps several times. Every valid transition's s and s' must equal, byte for byte, the
stacked observations envpool returned (with ``start_fill="repeat"``: envpool repeats the reset frame).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastrl.replay import BufferConfig, ReplayBuffer

envpool = pytest.importorskip("envpool")

NUM_ENVS, STEPS, PER_ENV, EPISODE = 2, 300, 70, 40


def test_stacks_equal_envpool_pong_stacks():
    env = envpool.make("Pong-v5", env_type="gymnasium", num_envs=NUM_ENVS, seed=3, max_episode_steps=EPISODE)
    config = BufferConfig(capacity=NUM_ENVS * PER_ENV, num_envs=NUM_ENVS, obs_shape=(4, 84, 84), obs_dtype="uint8",
                          frame_stack=4, n_step=3, gamma=0.99)
    buffer = ReplayBuffer(config)
    rng = np.random.default_rng(0)
    history = []          # [call] -> obs [N, 4, 84, 84] as envpool returned it
    done = []             # [call] -> [N] bool
    obs, _ = env.reset()
    history.append(obs.copy())
    done.append(np.zeros(NUM_ENVS, dtype=bool))
    buffer.add(torch.from_numpy(obs))
    for _ in range(STEPS):
        action = rng.integers(0, 6, NUM_ENVS).astype(np.int32)
        obs, reward, terminated, truncated, _ = env.step(action)
        history.append(obs.copy())
        done.append(terminated | truncated)
        buffer.add(torch.from_numpy(obs), torch.from_numpy(action), torch.from_numpy(reward),
                   torch.from_numpy(terminated), torch.from_numpy(truncated))
    env.close()
    assert sum(d.sum() for d in done) >= 2 * (STEPS // EPISODE) - 2  # the run crossed several autoresets

    # Every valid slot: which call it holds is known from the ring position; s' from the stored horizon.
    layout, steps = buffer.layout, buffer.steps
    valid = torch.nonzero(buffer.storage["valid"][: layout.num_slots]).squeeze(1)
    assert valid.numel() > NUM_ENVS * (PER_ENV - 10)
    batch = buffer.get(valid)
    env_of, position = layout.stream_and_position(valid)
    horizon = buffer.storage["horizon"][valid].long()
    crossing = 0
    for b in range(valid.numel()):
        i, q = int(env_of[b]), int(position[b])
        call = steps - 1 - ((steps - 1 - q) % layout.per_env)  # the latest call written at position q
        next_call = call + int(horizon[b])
        np.testing.assert_array_equal(batch.obs[b].numpy(), history[call][i], err_msg=f"s: env {i} call {call}")
        np.testing.assert_array_equal(batch.next_obs[b].numpy(), history[next_call][i],
                                      err_msg=f"s': env {i} call {next_call}")
        assert not done[call][i]  # a terminal observation is never the start of a transition
        first_frames = history[call][i]
        crossing += int(call == 0 or done[call - 1][i]) * int((first_frames[0] == first_frames[3]).all())
    assert crossing >= 1  # some compared stacks were episode starts (the repeated reset frame)

    # and a sampled batch is made of such transitions
    sample = buffer.sample(64, torch.Generator().manual_seed(0))
    assert bool(buffer.storage["valid"][sample.indices].all())
