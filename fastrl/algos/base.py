"""``Algorithm``: everything the rest of fastrl needs to know of a learner, declared once in its ``spec.py``.

The runner, the CLI, the benches and the config read an algorithm only through this record: its names, its
config sections, presets and checks, how to build its learner, the policy its evaluations play, and either
the loop it runs on a ``fastrl.runner.Run`` or the supervisor that runs its own processes. The heavy parts
(torch modules) are named by import path (``lazy``), so reading a spec (``fastrl train --help``, a preset)
loads no learner.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: the per-stage host timers of an off-policy loop (``Run.stopwatch``)
OFF_POLICY_STAGES = ("env", "act", "replay_add", "sample", "update")


class lazy:  # noqa: N801 (used like a function: lazy("module:name"))
    """A callable named by ``"package.module:attribute"``, imported on its first call."""

    def __init__(self, path: str):
        self.path = path
        self._target: Callable | None = None

    def resolve(self) -> Callable:
        if self._target is None:
            module, _, name = self.path.partition(":")
            self._target = getattr(importlib.import_module(module), name)
        return self._target

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.path!r})"


def no_env_options(config) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, eq=False)  # one record per family: compared and hashed by identity
class Algorithm:
    """One learner family, as its ``spec.py`` declares it (see ``fastrl.algos`` for the registry)."""

    names: tuple[str, ...]
    """the words after ``fastrl train`` that choose it (DDPG, TD3 and D4PG are one family of three names)"""
    sections: tuple[str, ...]
    """the ``RunConfig`` fields that configure it: ``fastrl train <name> --help`` shows these and hides the
    other families' (their flags share names: ``--lr``, ``--gamma``)"""
    presets: Mapping[str, Callable[[], Any]]
    """preset name -> the function that builds its ``RunConfig`` (its docstring says what it is)"""
    check_run: Callable[[Any], None]
    """``check_run(config)``: the checks that span the config's sections; raises ``ConfigError``"""
    check_env: Callable[[Any, Any, Any, str], None]
    """``check_env(config, observation_space, action_space, where)``: refuses an env it cannot train on"""
    learner_for: Callable[..., Any]
    """``learner_for(config, observation_space, action_space, device)``: the learner, seeded by the config
    (``fastrl eval`` loads a checkpoint's ``state["loop"]["learner"]`` into it)"""
    evaluation_policy: Callable[..., Any] | None = None
    """``evaluation_policy(learner, config, epsilon=None) -> (act(obs, generator), description)``"""
    train: Callable[[Any], Any] | None = None
    """the loop on a ``fastrl.runner.Run`` (envs, counters, logging, checkpoints)"""
    supervise: Callable[..., None] | None = None
    """instead of ``train``: ``supervise(config, run_dir, checkpoint, stop_at=None)`` for a learner that runs
    its own processes (A3C's Hogwild workers own the envs) with the run's parts"""
    evaluate_run: Callable[..., dict] | None = None
    """``fastrl eval`` for a learner that evaluates its own way (recurrent or shared-memory policies)"""
    stages: tuple[str, ...] = OFF_POLICY_STAGES
    """the per-stage timers of its loop"""
    env_options: Callable[[Any], dict[str, Any]] = no_env_options
    """extra ``make_env`` options for the training envs (e.g. async batching)"""
    distributed: bool = False
    """the loop supports torchrun data parallelism"""
    default_config: Callable[[str | None], Any] | None = None
    """the config of ``fastrl train <name>`` without a preset (default: ``RunConfig(algo=name)``)"""
    resolve_hardware: Callable[..., tuple[Any, list]] | None = None
    """``resolve_hardware(config, observation_space, action_space) -> (config, choices)``: the learner's
    ``auto`` options resolved for this machine, each a ``fastrl.hardware.Choice`` (see ``fastrl.hardware``)"""

    def __post_init__(self):
        if (self.train is None) == (self.supervise is None):
            raise TypeError(f"algorithm {self.names[0]}: declare exactly one of train (a loop on a Run) and "
                            f"supervise (its own processes)")
