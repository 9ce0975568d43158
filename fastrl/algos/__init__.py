"""Learners, one file per family. ``fastrl.runner`` drives each through its module's functions:

- ``train(run)``: the family's loop on a ``fastrl.runner.Run`` (envs, counters, logging, checkpoints);
- ``learner_for(config, observation_space, action_space, device)``: the learner alone, seeded by the
  config (``fastrl eval`` loads a checkpoint's ``state["loop"]["learner"]`` into it);
- ``evaluation_policy(learner, config, epsilon=None) -> (act, description)``: the policy that evaluations
  play, ``act(obs, generator) -> actions``, and how it is described in results ("epsilon 0.05", "greedy");
- optional: ``STAGES`` (the per-stage timers of its loop, default ``fastrl.runner.STAGES``),
  ``env_options(config) -> dict`` (extra ``make_env`` options for the training envs, e.g. async batching),
  ``DISTRIBUTED = True`` (the loop supports torchrun data parallelism);
- instead, a learner that runs its own processes (A3C's Hogwild workers own the envs) offers
  ``train_run(config, run_dir, checkpoint, stop_at=None)`` (its own run plumbing, with the same run
  directory, metrics, checkpoints and resume) and ``evaluate_run(run_dir, ...)`` (``fastrl eval``); and
  ``default_config(env)``: the defaults of ``fastrl train <algo>`` without a preset.

Its config section and presets plug into ``fastrl.config`` (see its docstring).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: algo name (RunConfig.algo, the word after ``fastrl train``) -> its module (one module may serve several
#: words: ddpg, td3 and d4pg are variants of one learner, chosen by the word)
ALGOS = {"dqn": "fastrl.algos.dqn", "ppo": "fastrl.algos.ppo", "a3c": "fastrl.algos.a3c",
         "ddpg": "fastrl.algos.ddpg", "td3": "fastrl.algos.ddpg", "d4pg": "fastrl.algos.ddpg"}


def algo_module(algo: str) -> ModuleType:
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; available: {', '.join(ALGOS)}")
    return importlib.import_module(ALGOS[algo])
