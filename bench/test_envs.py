"""pytest-benchmark suite of the envs: one env step through make_env beside one raw engine step.

Run: ``python -m pytest bench/test_envs.py --benchmark-only`` (add ``--benchmark-json PATH`` to keep the
numbers). The raw engine case is the baseline: compare the two rows of the same env and env count.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastrl.benchmarks.envs import _action_pool, raw_loop, wrapped_loop

CASES = [
    ("Pong-v5", "envpool", 16, 16),
    ("Pong-v5", "envpool", 16, 8),
    ("HalfCheetah-v5", "envpool", 16, 16),
    ("CartPole-v1", "envpool", 16, 16),
    ("Pong-v5", "ale", 16, 16),
]


def _ids(case):
    env_id, backend, n, batch = case
    return f"{env_id}-{backend}-n{n}-{'async' if batch < n else 'sync'}"


@pytest.fixture(params=CASES, ids=[_ids(c) for c in CASES])
def case(request):
    return request.param


def _space(env_id, backend):
    from fastrl.envs import make_env

    with make_env(env_id, 1, backend=backend) as env:
        return env.single_action_space


@pytest.mark.parametrize("side", ["raw", "fastrl"])
def test_env_step(benchmark, case, side):
    env_id, backend, num_envs, batch_size = case
    threads = 2
    actions = _action_pool(_space(env_id, backend), num_envs, np.random.default_rng(0))
    if side == "raw":
        body, close = raw_loop(backend, env_id, num_envs, batch_size, threads, actions)
    else:
        body, close = wrapped_loop(backend, env_id, num_envs, batch_size, threads, actions, "cpu", True)
    counter = iter(range(10**9))
    try:
        benchmark.extra_info["env_steps_per_call"] = batch_size
        benchmark(lambda: body(next(counter)))
    finally:
        close()


def test_native_catch_4096(benchmark):
    import torch

    from fastrl.envs import make_env

    env = make_env("Catch-v0", 4096, backend="native")
    env.reset()
    actions = torch.randint(0, 3, (4096,))
    benchmark.extra_info["env_steps_per_call"] = 4096
    benchmark(env.step, actions)
