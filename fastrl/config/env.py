"""The env section: which environment, how many copies, which backend and options."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import tyro

from fastrl.config.fields import ConfigError, require, require_int

#: the Atari presets' training-env options (the evaluation plays full games with unclipped rewards)
ATARI_OPTIONS = ("episodic_life=true", "reward_clip=true")


@dataclass(frozen=True)
class EnvConfig:
    """Which environment to train on and how many copies step together."""

    id: Annotated[str, tyro.conf.arg(name="env")] = "CartPole-v1"
    """env id for make_env: CartPole-v1, Catch-v0 (native), Pong-v5 and the other Atari ids (envpool), ..."""
    num_envs: int = 8
    """envs stepped together; each env step of the run counts num_envs env steps"""
    backend: str = "auto"
    """make_env backend: auto, envpool, ale, gymnasium, native"""
    options: tuple[str, ...] = ()
    """make_env options as KEY=VALUE (values are read as JSON where they parse, else as text), e.g.
    episodic_life=true reward_clip=true"""

    def __post_init__(self):
        require(bool(self.id), "env", self.id, "a non-empty env id")
        require_int(self, "num_envs", least=1)
        self.make_options()  # parse now, so a malformed option fails before anything starts

    def make_options(self) -> dict[str, Any]:
        """``options`` as keyword arguments for ``make_env``."""
        out: dict[str, Any] = {}
        for item in self.options:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--options {item!r}: expected KEY=VALUE, e.g. episodic_life=true")
            try:
                out[key] = json.loads(text)
            except json.JSONDecodeError:
                out[key] = text
        return out
