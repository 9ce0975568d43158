"""A run's envs: made from its config, and snapshot into checkpoints where the backend can (native envs)."""

from __future__ import annotations

from typing import Any

from fastrl import checkpoint


def make_env(config, num_envs: int, seed: int, **extra_options):
    """``config``'s env, ``num_envs`` copies seeded ``seed, seed + 1, ...`` (``extra_options`` on top of its
    own options)."""
    from fastrl.envs import make_env as _make_env

    return _make_env(config.env.id, num_envs, backend=config.env.backend, device=config.resolved_device(),
                     seed=seed, **config.env.make_options(), **extra_options)


def env_state(envs) -> dict[str, Any] | None:
    if not hasattr(envs, "state_dict"):
        return None
    state = envs.state_dict()
    return {**state, "generator": checkpoint.b64_tensor(state["generator"])}  # state.json holds text


def load_env_state(envs, state: dict[str, Any]) -> None:
    envs.load_state_dict({**state, "generator": checkpoint.tensor_from_b64(state["generator"])})
