"""Learners, one file per family. Each module offers ``train(run)`` (its loop, on a ``fastrl.runner.Run``)
and ``learner_for(config, observation_shape, actions, device)`` (the learner alone, e.g. for evaluation)."""

from __future__ import annotations

import importlib
from types import ModuleType

#: algo name (RunConfig.algo, the word after ``fastrl train``) -> its module
ALGOS = {"dqn": "fastrl.algos.dqn"}


def algo_module(algo: str) -> ModuleType:
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; available: {', '.join(ALGOS)}")
    return importlib.import_module(ALGOS[algo])
