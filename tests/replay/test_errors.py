"""Bad input gets a clear error (what, where, what was expected); too large a buffer is refused before any
allocation; debug mode poisons memory never written; storage size and layout."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from fastrl.replay import BufferConfig, InsufficientMemoryError, ReplayBuffer
from fastrl.replay.memory import free_bytes
from fastrl.replay.storage import RingLayout

ATARI = dict(obs_shape=(4, 84, 84), obs_dtype="uint8", frame_stack=4)


def small(**kw) -> ReplayBuffer:
    return ReplayBuffer(BufferConfig(**{"capacity": 40, "num_envs": 2, "obs_shape": (3,), **kw}))


def step(buffer: ReplayBuffer, **override):
    n = buffer.config.num_envs
    args = dict(obs=torch.zeros(n, *buffer.config.obs_shape, dtype=buffer.obs_dtype),
                action=torch.zeros(n, dtype=torch.int64), reward=torch.zeros(n),
                terminated=torch.zeros(n, dtype=torch.bool), truncated=torch.zeros(n, dtype=torch.bool))
    args.update(override)
    buffer.add(**args)


def test_wrong_shapes_and_dtypes_name_the_field():
    buffer = small()
    with pytest.raises(ValueError, match=re.escape("add: obs has shape (2, 4), expected (2, 3)")):
        buffer.add(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="add: obs has dtype torch.float64, expected torch.float32"):
        buffer.add(torch.zeros(2, 3, dtype=torch.float64))
    buffer.add(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=re.escape("add: reward has shape (3,), expected (2,)")):
        step(buffer, reward=torch.zeros(3))
    with pytest.raises(TypeError, match="add: terminated has dtype torch.float32, expected torch.bool"):
        step(buffer, terminated=torch.zeros(2))
    with pytest.raises(TypeError, match="add: action has dtype torch.float32"):
        step(buffer, action=torch.zeros(2))
    with pytest.raises(ValueError, match="pass obs alone"):
        buffer.add(torch.zeros(2, 3), reward=torch.zeros(2))
    with pytest.raises(TypeError, match="must be a torch tensor or numpy array, got list"):
        step(buffer, reward=[0.0, 0.0])


def test_first_call_needs_the_reset_observation():
    with pytest.raises(ValueError, match="first call after construction takes the observation of env.reset"):
        step(small())


def test_non_finite_reward_names_the_env_in_debug_mode():
    buffer = small(debug=True)
    buffer.add(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="reward of env 1 is not finite"):
        step(buffer, reward=torch.tensor([0.0, float("nan")]))


def test_bad_priorities_and_oversized_batches():
    buffer = small(prioritized=True, n_step=1)
    with pytest.raises(ValueError, match="sample: batch 1 is larger than the 0 valid transitions"):
        buffer.sample(1)
    buffer.add(torch.zeros(2, 3))
    for _ in range(4):
        step(buffer)
    assert len(buffer) == 8
    with pytest.raises(ValueError, match="batch 9 is larger than the 8 valid transitions"):
        buffer.sample(9)
    batch = buffer.sample(4)
    with pytest.raises(ValueError, match=r"abs_td\[2\] = nan \(for slot \d+\) must be finite and >= 0"):
        buffer.update_priorities(batch.indices, torch.tensor([1.0, 1.0, float("nan"), 1.0]))
    with pytest.raises(ValueError, match=r"abs_td\[0\] = -1.0 .* must be finite and >= 0"):
        buffer.update_priorities(batch.indices, torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="abs_td must be a float tensor of shape \\(4,\\)"):
        buffer.update_priorities(batch.indices, torch.ones(3))
    with pytest.raises(ValueError, match="indices\\[0\\] = 9999 is not a slot of this buffer"):
        buffer.update_priorities(torch.tensor([9999]), torch.ones(1))
    with pytest.raises(TypeError, match="samples uniformly"):
        small().update_priorities(batch.indices, torch.ones(4))


def test_config_errors():
    with pytest.raises(ValueError, match="frame_stack=4 needs uint8 observations of shape"):
        BufferConfig(capacity=100, num_envs=1, obs_shape=(4, 84, 84), frame_stack=4)
    with pytest.raises(ValueError, match="need at least 8 per stream"):
        BufferConfig(capacity=10, num_envs=2, n_step=3, **ATARI)
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        BufferConfig(capacity=0, num_envs=1, obs_shape=(3,))


def test_memory_check_refuses_before_allocating():
    free, _ = free_bytes("cpu")
    capacity = 10 ** 9  # 1e9 Atari transitions: about 7 TB of frames
    with pytest.raises(InsufficientMemoryError) as error:
        ReplayBuffer(BufferConfig(capacity=capacity, num_envs=16, **ATARI))
    message = str(error.value)
    needed = int(re.search(r"needs .*? \(([\d,]+) bytes\)", message).group(1).replace(",", ""))
    assert needed > 84 * 84 * capacity
    assert "are free (MemAvailable in /proc/meminfo)" in message
    assert abs(int(re.search(r"only .*? \(([\d,]+) bytes\)", message).group(1).replace(",", "")) - free) < free


def test_one_million_atari_transitions_fit_in_7_5_gb():
    config = BufferConfig(capacity=1_000_000, num_envs=16, n_step=3, prioritized=True, **ATARI)
    needed = ReplayBuffer.bytes_needed(config)
    assert needed <= 7.5e9
    assert needed >= 84 * 84 * 1_000_000  # every frame once


def test_debug_mode_poisons_unwritten_memory():
    buffer = ReplayBuffer(BufferConfig(capacity=40, num_envs=2, debug=True, **{**ATARI, "obs_shape": (4, 5, 5)}))
    assert torch.all(buffer.storage["frames"] == 255)
    assert torch.isnan(buffer.storage["reward"]).all()
    assert torch.all(buffer.storage["action"] == torch.iinfo(torch.int64).max)
    assert not buffer.storage["valid"].any()  # nothing sampleable before it is written


def test_wrap_around_keeps_the_newest_per_env_per_position():
    buffer = small(capacity=2 * 6)
    buffer.add(torch.tensor([[0.0, 0, 0], [1000, 0, 0]]))
    for call in range(1, 20):
        obs = torch.tensor([[call, 0, 0], [1000 + call, 0, 0]], dtype=torch.float32)
        step(buffer, obs=obs)
    stored = buffer.storage["obs"][:, 0].reshape(2, 6)
    latest = torch.tensor([[c for c in range(14, 20)]]).float()
    latest = latest[:, torch.argsort(latest[0] % 6)]  # position of call c is c % 6
    torch.testing.assert_close(stored, torch.cat((latest, latest + 1000)))


def test_layout_advance_wraps_inside_each_stream():
    layout = RingLayout(num_envs=3, per_env=5, pad=3)
    slots = torch.tensor([3, 7, 8 + 3, 2 * 8 + 3 + 4])
    torch.testing.assert_close(layout.advance(slots, torch.tensor([1, 1, 4, 2])), torch.tensor([4, 3, 8 + 7, 2 * 8 + 3 + 1]))


def test_other_input_dtypes_are_converted_as_stored():
    for engine in ("numba", "torch"):
        buffer = ReplayBuffer(BufferConfig(capacity=16, num_envs=2, obs_shape=(3,), action_shape=(2,),
                                           action_dtype="float32"), engine=engine)
        buffer.add(np.zeros((2, 3), dtype=np.float32))  # numpy arrays are taken as they are
        buffer.add(torch.ones(2, 3), torch.full((2, 2), 0.5, dtype=torch.bfloat16),
                   torch.tensor([1.0, 2.0], dtype=torch.float16), torch.tensor([True, True]), torch.zeros(2, dtype=torch.bool))
        batch = buffer.get(torch.tensor([0, 8]))
        assert batch.action.dtype == torch.float32 and batch.action.tolist() == [[0.5, 0.5]] * 2
        assert batch.reward.tolist() == [1.0, 2.0]
    # a half-precision observation store runs on the torch engine
    assert ReplayBuffer(BufferConfig(capacity=16, num_envs=2, obs_shape=(3,), obs_dtype="float16")).engine.name == "torch"
