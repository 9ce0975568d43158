"""The action-space check that the specs of discrete-action learners share (light: no torch, for spec.py)."""

from __future__ import annotations

from fastrl.config import ConfigError


def require_discrete_actions(config, action_space, where: str, why: str) -> None:
    """Refuse an env without a ``Discrete`` action space starting at 0; ``why``: what needs it, e.g. "REINFORCE
    here has a categorical policy"."""
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ConfigError(f"{where}: {why} and needs a discrete action space, but {config.env.id} has "
                          f"{action_space}")
    if action_space.start != 0:
        raise ConfigError(f"{where}: actions start at {action_space.start}; {why} over actions 0..n-1")
