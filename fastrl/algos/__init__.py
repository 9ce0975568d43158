"""The learners: one package each (``fastrl/algos/<name>/``), declared once by the ``ALGORITHM`` of its
``spec.py`` (a ``fastrl.algos.base.Algorithm``), and listed here by one line of ``SPECS``.

Adding a learner is one folder (its config section in ``fastrl/config/``, its presets and checks, learner and
loop in the folder) and one line below. The registry loads the specs lazily, on the first lookup; a spec
names its heavy parts by import path, so a lookup loads no torch module.
"""

from __future__ import annotations

import functools
import importlib

from fastrl.algos.base import Algorithm

#: the spec module of every learner family, each with its ``ALGORITHM``
SPECS = (
    "fastrl.algos.dqn.spec",
    "fastrl.algos.ppo.spec",
    "fastrl.algos.a3c.spec",
    "fastrl.algos.ddpg.spec",
    "fastrl.algos.alphazero.spec",
    "fastrl.algos.reinforce.spec",
    "fastrl.algos.nfq.spec",
    "fastrl.algos.impala.spec",
    "fastrl.algos.unreal.spec",
)


def algorithms() -> dict[str, Algorithm]:
    """Every algo name (the word after ``fastrl train``) -> its ``Algorithm``."""
    return _load(SPECS)


@functools.cache
def _load(specs: tuple[str, ...]) -> dict[str, Algorithm]:
    out: dict[str, Algorithm] = {}
    for path in specs:
        algorithm = importlib.import_module(path).ALGORITHM
        for name in algorithm.names:
            if name in out:
                raise TypeError(f"{path}: algo name {name!r} is taken by {out[name].names[0]}")
            out[name] = algorithm
    return out


def algorithm(name: str) -> Algorithm:
    """The ``Algorithm`` that ``fastrl train <name>`` trains; ``ConfigError`` for an unknown name."""
    found = algorithms()
    if name not in found:
        from fastrl.config.fields import ConfigError

        raise ConfigError(f"algo {name!r}: unknown learner family; expected one of {', '.join(found)}")
    return found[name]
