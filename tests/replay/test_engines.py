"""The CPU engine (numba) and the torch engine (the CUDA one, run here on the CPU) hold the same bytes after
every call and draw the same batches from the same generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_env import ScriptedEnvs

from fastrl.ops import _registry
from fastrl.replay import BufferConfig, ReplayBuffer

LENGTHS = [[2, 6, 1], [4], [3, 8], [5, 1, 1]]
ENDS = [["term", "trunc", "term"], ["trunc"], ["term", "trunc"], ["term", "term", "trunc"]]


def assert_same_state(a: ReplayBuffer, b: ReplayBuffer, where: str) -> None:
    ta, meta_a = a.state()
    tb, meta_b = b.state()
    assert meta_a == meta_b, where
    for name in ta:
        x, y = ta[name], tb[name]
        if name in ("storage.reward", "storage.discount", "storage.horizon", "storage.valid"):
            x, y = x[:-1], y[:-1]  # the spare slot of the torch engine's masked writes holds anything
        torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True, msg=f"{name} differs {where}")


@pytest.mark.parametrize("stack,n,prioritized", [(4, 3, False), (4, 1, True), (0, 3, True), (2, 2, False)])
def test_numba_and_torch_engines_agree(stack, n, prioritized):
    buffers = []
    for engine in ("numba", "torch"):
        envs = ScriptedEnvs(LENGTHS, ENDS, stack=stack, hw=5)
        shape = (stack, envs.hw, envs.hw) if stack else (3,)
        config = BufferConfig(capacity=4 * 12, num_envs=4, obs_shape=shape, obs_dtype="uint8" if stack else "float32",
                              frame_stack=stack, n_step=n, gamma=0.8, prioritized=prioritized,
                              debug=True)  # poison: memory never written is equal too
        buffers.append((envs, ReplayBuffer(config, engine=engine)))
    (envs_a, a), (envs_b, b) = buffers
    assert (a.engine.name, b.engine.name) == ("numba", "torch")
    rng = np.random.default_rng(0)
    a.add(envs_a.reset())
    b.add(envs_b.reset())
    generators = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for call in range(1, 50):
        actions = rng.integers(0, 5, 4)
        for envs, buffer in buffers:
            obs, reward, terminated, truncated = envs.step(actions)
            buffer.add(obs, torch.from_numpy(actions), reward, terminated, truncated)
        if call == 30:  # a reset of every env mid-run
            a.add(envs_a.reset())
            b.add(envs_b.reset())
        assert_same_state(a, b, f"after call {call}")
        if len(a) >= 8:
            x, y = a.sample(8, generators[0]), b.sample(8, generators[1])
            if stack:  # the torch engine rebuilt its stacks through the op (its reference on the CPU)
                assert _registry.last_backend("frame_stack_gather") == "reference"
            for name, u, v in zip(x._fields, x, y, strict=True):
                assert torch.equal(u, v), f"batch.{name} differs after call {call}"
            if prioritized:
                td = torch.rand(8, generator=torch.Generator().manual_seed(call))
                a.update_priorities(x.indices, td)
                b.update_priorities(y.indices, td)
