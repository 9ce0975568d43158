"""Named presets, gathered from every algorithm's spec (each family declares its own in its ``spec.py``)."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator, Mapping

from fastrl.config.fields import ConfigError


class _Presets(Mapping):
    """Preset name -> the function that builds it, over every registered algorithm (read on each use, so a
    registry changed in a test shows)."""

    def _all(self) -> dict[str, Callable]:
        from fastrl.algos import algorithms

        out: dict[str, Callable] = {}
        for algorithm in dict.fromkeys(algorithms().values()):  # one per family, in registry order
            out.update(algorithm.presets)
        return out

    def __getitem__(self, name: str) -> Callable:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class _AlgoFields(Mapping):
    """Algo name -> the ``RunConfig`` sections that configure it (``Algorithm.sections``)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        from fastrl.algos import algorithms

        return algorithms()[name].sections

    def __iter__(self) -> Iterator[str]:
        from fastrl.algos import algorithms

        return iter(algorithms())

    def __len__(self) -> int:
        from fastrl.algos import algorithms

        return len(algorithms())


PRESETS: Mapping[str, Callable] = _Presets()
ALGO_FIELDS: Mapping[str, tuple[str, ...]] = _AlgoFields()


def check_preset_name(name: str) -> None:
    """Refuse an unknown preset name, suggesting the nearest ones."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, list(PRESETS), n=2, cutoff=0.4)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(f"--preset {name!r}: unknown preset{hint}; presets: {', '.join(PRESETS)}")


def presets_of(algo: str) -> list[str]:
    """The presets of one learner family (those whose config trains with ``algo``)."""
    return [name for name, build in PRESETS.items() if build().algo == algo]


def preset(name: str, env: str | None = None):
    """The named preset, on ``env`` where given (else on the preset's own env)."""
    check_preset_name(name)
    config = dataclasses.replace(PRESETS[name](), preset=name)
    if env is None or env == config.env.id:
        return config
    from fastrl.envs.atari import atari_game

    if config.env.options and atari_game(config.env.id) and not atari_game(env):
        raise ConfigError(f"--preset {name} is made for Atari games (stacked 84x84 frames, options "
                          f"{' '.join(config.env.options)}), but {env} is not one; presets for other envs: "
                          f"{', '.join(p for p in PRESETS if 'atari' not in p)}")
    # Another env may live on another backend: let make_env pick it.
    return dataclasses.replace(config, env=dataclasses.replace(config.env, id=env, backend="auto"))
