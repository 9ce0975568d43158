"""The ``minatar`` package as ``fastrl bench envs``'s baseline for the native MinAtar envs.

The package runs one game per ``Environment`` in Python; its throughput for N envs is N of them stepped in a
Python loop, each step being what an agent needs: ``act`` (with the package's sticky actions and difficulty
ramp, the same defaults as the native env) and ``state()`` for the observation, and ``reset()`` when a game
ends. The actions are the bench's pre-drawn batches mapped through the id's action set, as the native env
maps them. The package runs on one core, so ``ratio_per_core`` in the bench divides the native env's ratio by
the torch threads it ran with.

At most ``MAX_ENVS`` package envs are made, whatever the native env's count: a Python loop steps one env at a
time, so its rate does not grow with the envs it cycles through, and building 65,536 of them took longer than
a GPU lease's bench part (profiles/h200/README.md).
"""

from __future__ import annotations

from collections.abc import Callable

#: the most package envs the baseline steps in turn (its env steps/s is per env step, not per batch)
MAX_ENVS = 1024


def covers(env_id: str) -> bool:
    """Whether ``env_id`` is a native MinAtar env that the package can run beside."""
    from fastrl.envs.minatar import MINATAR_ENVS

    return env_id in MINATAR_ENVS


def package_loop(env_id: str, num_envs: int, actions, seed: int = 0) -> tuple[Callable[[int], int], Callable]:
    """(body, close): one body call steps min(``num_envs``, MAX_ENVS) package envs once each; returns env
    steps."""
    from minatar import Environment

    from fastrl.envs.minatar import MINATAR_ENVS

    game = MINATAR_ENVS[env_id]
    num_envs = min(num_envs, MAX_ENVS)
    envs = [Environment(game.game) for _ in range(num_envs)]
    for i, env in enumerate(envs):
        env.seed(seed + i)
        env.reset()
    action_set = list(range(6)) if game.full_action_set else envs[0].minimal_action_set()
    pool = [[action_set[a] for a in batch[:num_envs].tolist()] for batch in actions]

    def body(i: int) -> int:
        for env, action in zip(envs, pool[i % len(pool)], strict=True):
            _, done = env.act(action)
            env.state()
            if done:
                env.reset()
        return num_envs

    return body, lambda: None
