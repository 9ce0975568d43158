"""``RunConfig``: one training run, with one section per learner family.

tyro reads one static dataclass, so every family's section is a field here (``fastrl train <algo> --help``
shows the chosen family's sections, ``Algorithm.sections``, and hides the others'). What spans sections is
checked by the family's own ``check_run`` (its ``spec.py``), looked up through the registry.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tyro

from fastrl.config.a3c import A3CConfig
from fastrl.config.alphazero import AlphaZeroConfig
from fastrl.config.ddpg import DDPGConfig
from fastrl.config.dqn import DQNConfig
from fastrl.config.env import EnvConfig
from fastrl.config.fields import ConfigError, require_int, require_number, resolve_device_name
from fastrl.config.impala import ImpalaConfig
from fastrl.config.nfq import NFQConfig
from fastrl.config.ppo import PPOConfig
from fastrl.config.reinforce import ReinforceConfig
from fastrl.config.replay import ReplayConfig
from fastrl.config.unreal import UnrealConfig


@dataclass(frozen=True)
class RunConfig:
    """One training run: the env, the replay, the learner, and how the run is logged and checkpointed."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the environment"""
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    """the replay memory"""
    dqn: DQNConfig = field(default_factory=DQNConfig)
    """the DQN learner"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """the PPO / A2C learner"""
    a3c: A3CConfig = field(default_factory=A3CConfig)
    """A3C and async Q-learning (Hogwild workers)"""
    ddpg: DDPGConfig = field(default_factory=DDPGConfig)
    """DDPG, TD3 and D4PG (the variant is the algo word)"""
    alphazero: AlphaZeroConfig = field(default_factory=AlphaZeroConfig)
    """AlphaZero: self-play search guided by a (p, v) network"""
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)
    """REINFORCE, with or without a learned baseline"""
    nfq: NFQConfig = field(default_factory=NFQConfig)
    """neural fitted Q iteration"""
    impala: ImpalaConfig = field(default_factory=ImpalaConfig)
    """IMPALA: actor processes and a V-trace learner"""
    unreal: UnrealConfig = field(default_factory=UnrealConfig)
    """UNREAL's auxiliary tasks (its base agent: the a3c section's A3C LSTM)"""
    algo: tyro.conf.Suppress[str] = "dqn"
    """the learner family (set by the command: fastrl train dqn)"""
    preset: str = ""
    """named preset whose values are the defaults (other flags override them); `fastrl train <algo> --help`
    names the presets of that learner"""
    total_env_steps: int = 1_000_000
    """env steps to train for (summed over the num_envs envs, and over the ranks under torchrun)"""
    seed: int = 0
    """seed of the envs, the network initialization, exploration and replay / minibatch sampling"""
    device: str = "cpu"
    """torch device of the learner, the replay and native envs: cpu, cuda, cuda:1, or auto (cuda if present)"""
    run_dir: Path | None = None
    """where the run writes its config, metrics, TensorBoard events, checkpoints and plot; None:
    runs/<env>-<algo>-seed<seed>-<date>"""
    log_interval: int = 10_000
    """env steps between metric rows and progress-line updates (the only host-device syncs of the loop)"""
    checkpoint_interval: int | None = None
    """env steps between checkpoints (0 = only at the end; None = a tenth of total_env_steps, so that an
    interrupted run can always be resumed); each checkpoint also writes a metrics row"""
    keep_checkpoints: int = 2
    """checkpoints kept on disk (the newest); older ones are deleted"""
    eval_interval: int = 0
    """env steps between evaluations of the evaluation policy (DQN: eval_epsilon; PPO: eval_deterministic)
    during training (0 = only at the end)"""
    eval_episodes: int = 10
    """episodes per evaluation"""
    stop_return: float | None = None
    """end the run early once an evaluation's mean return reaches this (None: train for total_env_steps)"""
    torch_threads: int = 0
    """CPU threads of torch's intra-op pool (0 = torch's default). Most presets use 1: the env engine's
    threads want the cores, and two torch threads competing with envpool's made an update several times slower
    (profiles/cpu-amd-epyc-2c/design-measurements.md)"""
    tensorboard: bool = True
    """also write the metrics as TensorBoard scalars"""
    progress: bool = True
    """show the live progress line on the console"""

    def __post_init__(self):
        require_int(self, "total_env_steps", least=1)
        require_int(self, "seed", least=0)
        require_int(self, "log_interval", least=1)
        for name in ("checkpoint_interval", "eval_interval"):
            if getattr(self, name) is not None:  # checkpoint_interval None: resolved by checkpoint_every()
                require_int(self, name, least=0)
        require_int(self, "keep_checkpoints", least=1)
        require_int(self, "torch_threads", least=0)
        require_int(self, "eval_episodes", least=1)
        if self.stop_return is not None:
            require_number(self, "stop_return")
        from fastrl.algos import algorithm
        from fastrl.config.presets import check_preset_name

        if self.preset:
            check_preset_name(self.preset)
        algorithm(self.algo).check_run(self)  # the checks that span sections, per learner family
        resolve_device_name(self.device)

    def resolved_device(self) -> str:
        """``device`` with ``auto`` resolved (cuda where torch sees one, else cpu)."""
        return resolve_device_name(self.device)

    def checkpoint_every(self) -> int:
        """``checkpoint_interval`` with its default resolved: None -> a tenth of ``total_env_steps`` (at least
        one log interval), so that every run writes checkpoints along the way (0: only at the end)."""
        if self.checkpoint_interval is not None:
            return self.checkpoint_interval
        return max(self.total_env_steps // 10, self.log_interval)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def check_fits_env(config: RunConfig, observation_space, action_space) -> None:
    """Refuse a config that cannot train on an env with these (single-env) spaces (the family's own check)."""
    from fastrl.algos import algorithm

    where = f"{config.env.id}" + (f" with preset {config.preset!r}" if config.preset else "")
    algorithm(config.algo).check_env(config, observation_space, action_space, where)


# ---- as JSON (the run directory's config.json) and back; unknown keys are errors ----


def to_dict(config: RunConfig) -> dict[str, Any]:
    """JSON-able dict of ``config`` (paths as text, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def from_dict(data: dict[str, Any]) -> RunConfig:
    """The ``RunConfig`` of ``to_dict``'s output (as stored in a run directory); unknown keys are errors."""
    def build(cls, values: dict[str, Any], where: str):
        if not isinstance(values, dict):
            raise ConfigError(f"config {where or 'root'}: expected an object, got {type(values).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"config {where or 'root'}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
        kwargs = {}
        for name, value in values.items():
            sub = _sections(cls).get(name)
            if sub is not None:
                kwargs[name] = build(sub, value, f"{where}.{name}".lstrip("."))
            elif isinstance(value, list):
                kwargs[name] = tuple(value)
            elif name == "run_dir" and value is not None:
                kwargs[name] = Path(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    return build(RunConfig, data, "")


@functools.cache
def _sections(cls) -> dict[str, type]:
    """The fields of ``cls`` that are dataclasses themselves (RunConfig's sections)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}
