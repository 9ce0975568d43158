"""What ``fastrl bench train`` measures: its flags, the presets ``--algo`` picks, and learner options."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastrl.config import ALGO_FIELDS, ConfigError, RunConfig

#: learner family -> the presets ``--algo`` measures
DEFAULT_PRESETS = {"dqn": ("dqn-cartpole", "dqn-atari"), "ppo": ("ppo-atari",), "td3": ("td3-mujoco",),
                   "ddpg": ("ddpg-mujoco",), "d4pg": ("d4pg-mujoco",), "reinforce": ("reinforce-cartpole",),
                   "nfq": ("nfq-cartpole",), "impala": ("impala-catch",)}


@dataclass
class TrainBenchConfig:
    """End-to-end training env steps/s beside the env-only rate and the learner-only bound."""

    algo: Literal["dqn", "ppo", "td3", "ddpg", "d4pg", "reinforce", "nfq", "impala"] = "dqn"
    """learner family whose default presets to measure (dqn: dqn-cartpole, dqn-atari; ppo: ppo-atari; td3,
    ddpg, d4pg: td3-mujoco, ddpg-mujoco, d4pg-mujoco; reinforce, nfq, impala: reinforce-cartpole, nfq-cartpole,
    impala-catch; a3c: its own suite, fastrl.benchmarks.train_a3c: steps/s against --workers)"""
    preset: tuple[str, ...] = ()
    """presets to measure instead of --algo's (see fastrl train <algo> --help)"""
    env: str | None = None
    """env id for every preset (default: each preset's own)"""
    seconds: float = 10.0
    """length of each of the three measurements"""
    fill: int = 2_000
    """env steps of random play in the replay before updates start (the presets' learning_starts is cut
    to this, or to the least a batch needs)"""
    capacity: int = 100_000
    """replay capacity cap (presets ask up to 1M; the cost of a step hardly depends on it)"""
    device: str = "cpu"
    """torch device of the learner, the replay and native envs"""
    torch_threads: int = 0
    """CPU threads of torch (0: the preset's setting)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/train.json only with --save)"""
    save: bool = False
    """write the records to profiles/<hardware>/train.json when --json is not given"""
    learner_options: tuple[str, ...] = ()
    """learner config fields to set, as KEY=VALUE (JSON values), e.g. bf16=true channels_last=true
    async_envs=false (PPO), replay_ratio=0.5 hidden=[32,32] (DQN, DDPG)"""
    compare: tuple[str, ...] = ()
    """PPO: learner option sets to hold against the preset's own on the learner-only bound, each a
    space-separated KEY=VALUE list (e.g. 'compile=true' 'bf16=false channels_last=false'); measured in
    alternating rounds with the preset's learner, rows learner-only[OPTIONS] and act-only[OPTIONS] with
    ratio_vs_preset"""
    compare_rounds: int = 8
    """alternating rounds of --compare: in each, every learner learns once from its rollout"""
    busy_cores: int = 0
    """also measure the loop end to end while this many other processes each keep a core busy, beside the idle
    figure (rows fastrl[busy N] with ratio_vs_idle)"""
    profile: bool = False
    """also write a torch.profiler trace (Chrome trace JSON, for Perfetto) of a few steady-state iterations of
    each preset's training loop to profiles/<hardware>/traces/train-<preset>-<env>.json.gz"""

    def presets(self) -> tuple[str, ...]:
        return self.preset or DEFAULT_PRESETS[self.algo]


def with_learner_options(config: RunConfig, options: tuple[str, ...], flag: str = "--learner-options") -> RunConfig:
    """``config`` with its learner section's fields set from KEY=VALUE items (``flag``: where they came from,
    for the error messages)."""
    section = ALGO_FIELDS[config.algo][0]
    values = {}
    for item in options:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. bf16=true")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    learner = getattr(config, section)
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(learner)})
    if unknown:
        raise ConfigError(f"{flag}: {', '.join(unknown)} not fields of {type(learner).__name__}")
    return dataclasses.replace(config, **{section: dataclasses.replace(learner, **values)})
