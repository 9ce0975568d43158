"""Typed run configuration: one frozen dataclass per part, the named presets, and the checks that run first.

A run is described by one ``RunConfig`` (``run.py``) holding an ``EnvConfig`` (``env.py``) and one section per
learner family: ``DQNConfig`` with its ``ReplayConfig``, ``PPOConfig``, ``A3CConfig``, ``DDPGConfig`` (whose
variant is the algo word ``ddpg``, ``td3`` or ``d4pg``). ``RunConfig.algo`` says which family trains; that
family's ``Algorithm`` (``fastrl.algos``) says which sections configure it, holds its presets and its checks.
Every field carries a docstring: ``fastrl train <algo> --help`` lists that family's (tyro reads them), and the
resolved config is written as JSON into every run directory (``to_dict``/``from_dict``, ``run.py``).

Bad values are refused before anything starts, in two stages:

- ``__post_init__`` of each section checks each field on its own and the fields of one section together
  (``v_min < v_max``, ``fields.py``); ``RunConfig`` then runs the family's ``check_run`` for what spans
  sections (``learning_starts >= batch_size``);
- ``check_fits_env(config, observation_space, action_space)`` runs the family's ``check_env`` against the env
  it will train on (DQN needs a discrete action space; the Nature CNN stacked 84x84 frames).

Every error is a ``ConfigError`` (a ``ValueError``) naming the field as its CLI flag spells it, the value
given and what was expected.
"""

from fastrl.config.a3c import A3C_METHODS, A3CConfig
from fastrl.config.ddpg import DDPG_VARIANTS, DDPGConfig
from fastrl.config.dqn import DQNConfig
from fastrl.config.env import ATARI_OPTIONS, EnvConfig
from fastrl.config.fields import ConfigError
from fastrl.config.impala import ImpalaConfig
from fastrl.config.nfq import NFQConfig
from fastrl.config.ppo import PPOConfig
from fastrl.config.presets import ALGO_FIELDS, PRESETS, preset, presets_of
from fastrl.config.reinforce import ReinforceConfig
from fastrl.config.replay import ReplayConfig
from fastrl.config.run import RunConfig, check_fits_env, from_dict, to_dict
from fastrl.config.torso import network_for
from fastrl.config.unreal import UnrealConfig

__all__ = ["A3C_METHODS", "ALGO_FIELDS", "ATARI_OPTIONS", "DDPG_VARIANTS", "PRESETS", "A3CConfig", "ConfigError",
           "DDPGConfig", "DQNConfig", "EnvConfig", "ImpalaConfig", "NFQConfig", "PPOConfig", "ReinforceConfig",
           "ReplayConfig", "RunConfig", "UnrealConfig", "check_fits_env", "from_dict", "network_for", "preset",
           "presets_of", "to_dict"]
