"""Evaluation: full-game returns of a policy over a fixed number of episodes, spread evenly over the envs."""

from __future__ import annotations

from collections.abc import Callable

import torch

#: offset between the training envs' seed and the evaluation envs' seed
EVAL_SEED_OFFSET = 1_000_003


def evaluate(envs, act: Callable, episodes: int, *, seed: int, device: torch.device,
             on_episode: Callable[[float], None] | None = None) -> list[float]:
    """Full-game returns of ``episodes`` episodes of the policy ``act(obs, generator) -> actions`` (its
    random draws from a generator on ``device`` seeded ``seed``); ``on_episode(return)`` after each one counted
    (``fastrl eval``'s progress bar).

    Env i contributes its first ``episodes // E`` (+1 for the first ``episodes % E`` envs) episodes, so
    that short episodes are not over-represented (taking the first ``episodes`` to end would favour them).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    n = envs.num_envs
    quota = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
    returns: list[float] = []
    obs = envs.reset(seed=seed)
    while any(q > 0 for q in quota):
        obs, _, _, _, info = envs.step(act(obs, generator))
        ended = torch.as_tensor(info["episode_end"]).cpu()
        if ended.any():
            values = torch.as_tensor(info["episode_return"]).cpu()
            for i in ended.nonzero().flatten().tolist():
                if quota[i] > 0:
                    quota[i] -= 1
                    returns.append(float(values[i]))
                    if on_episode is not None:
                        on_episode(returns[-1])
    return returns
