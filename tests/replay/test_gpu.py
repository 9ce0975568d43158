"""On CUDA: the torch engine holds what the CPU engine holds, and a prioritized round never waits for the GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_env import ScriptedEnvs

from fastrl.ops import _registry
from fastrl.replay import BufferConfig, InsufficientMemoryError, ReplayBuffer

pytestmark = pytest.mark.gpu

LENGTHS = [[2, 6, 1], [4], [3, 8], [5, 1, 1]]
ENDS = [["term", "trunc", "term"], ["trunc"], ["term", "trunc"], ["term", "term", "trunc"]]


def config(stack: int, prioritized: bool, **kw) -> BufferConfig:
    shape = (stack, 6, 6) if stack else (3,)
    return BufferConfig(capacity=4 * 15, num_envs=4, obs_shape=shape, obs_dtype="uint8" if stack else "float32",
                        frame_stack=stack, n_step=3, gamma=0.9, prioritized=prioritized, **kw)


@pytest.mark.parametrize("stack,prioritized", [(4, True), (0, False)])
def test_cuda_buffer_equals_the_cpu_buffer(stack, prioritized):
    cpu = ReplayBuffer(config(stack, prioritized, debug=True))
    gpu = ReplayBuffer(config(stack, prioritized, debug=True), device="cuda")
    assert gpu.engine.name == "torch" and cpu.engine.name == "numba"
    envs = [ScriptedEnvs(LENGTHS, ENDS, stack=stack) for _ in range(2)]
    rng = np.random.default_rng(0)
    cpu.add(envs[0].reset())
    gpu.add(envs[1].reset().cuda())
    for call in range(1, 45):
        actions = rng.integers(0, 5, 4)
        for e, buffer in zip(envs, (cpu, gpu), strict=True):
            obs, reward, terminated, truncated = e.step(actions)
            device = buffer.device
            buffer.add(obs.to(device), torch.from_numpy(actions).to(device), reward.to(device),
                       terminated.to(device), truncated.to(device))
        a, _ = cpu.state()
        b, _ = gpu.state()
        for name in a:
            x, y = a[name], b[name].cpu()
            if name in ("storage.reward", "storage.discount", "storage.horizon", "storage.valid"):
                x, y = x[:-1], y[:-1]  # the torch engine's spare slot
            torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True, msg=f"{name} after call {call}")
        if len(cpu) >= 16:
            slots = cpu.sample(16, torch.Generator().manual_seed(call)).indices
            x, y = cpu.get(slots), gpu.get(slots.cuda())
            for name, u, v in zip(x._fields, x, y, strict=True):
                assert torch.equal(u, v.cpu()), f"batch.{name} after call {call}"


def test_prioritized_round_never_waits_for_the_gpu():
    buffer = ReplayBuffer(config(4, True, checks=False), device="cuda")
    envs = ScriptedEnvs(LENGTHS, ENDS, stack=4)
    steps = [envs.reset()] + [envs.step(np.zeros(4, dtype=np.int64)) for _ in range(40)]
    device = buffer.device
    steps = [s.to(device) if isinstance(s, torch.Tensor) else tuple(t.to(device) for t in s) for s in steps]
    actions = torch.zeros(4, dtype=torch.int64, device=device)
    buffer.add(steps[0])
    for obs, reward, terminated, truncated in steps[1:20]:
        buffer.add(obs, actions, reward, terminated, truncated)
    generator = torch.Generator(device=device).manual_seed(0)
    td = torch.rand(8, device=device)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for obs, reward, terminated, truncated in steps[20:]:
            buffer.add(obs, actions, reward, terminated, truncated)
            batch = buffer.sample(8, generator)
            buffer.update_priorities(batch.indices, td)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert _registry.last_backend("frame_stack_gather") in ("cuda", "triton")
    assert batch.obs.shape == (8, 4, 6, 6) and batch.weights.device.type == "cuda"


def test_cuda_memory_check_refuses_before_allocating():
    with pytest.raises(InsufficientMemoryError, match="torch.cuda.mem_get_info"):
        ReplayBuffer(BufferConfig(capacity=10 ** 9, num_envs=16, obs_shape=(4, 84, 84), obs_dtype="uint8",
                                  frame_stack=4), device="cuda")


def test_a_generator_made_on_cuda_draws_from_a_buffer_on_cuda():
    """torch.Generator(device="cuda") reports no device index; the buffer's device has one."""
    buffer = ReplayBuffer(config(0, False, checks=False), device="cuda")
    envs = ScriptedEnvs(LENGTHS, ENDS, stack=0)
    actions = torch.zeros(4, dtype=torch.int64, device="cuda")
    buffer.add(envs.reset().cuda())
    for _ in range(20):
        obs, reward, terminated, truncated = (t.cuda() for t in envs.step(np.zeros(4, dtype=np.int64)))
        buffer.add(obs, actions, reward, terminated, truncated)
    batch = buffer.sample(8, torch.Generator(device="cuda").manual_seed(0))
    assert batch.indices.device == buffer.device
