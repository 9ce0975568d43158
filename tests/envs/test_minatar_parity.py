"""MinAtar: fastrl's batched games against the ``minatar`` package, step for step, with the same random draws.

Both sides play from one table of draws per step (``fastrl.envs.minatar.draws``): fastrl's env is fed the
table through ``Draws.feed``; each package env gets a ``TableRandom`` as its ``random`` (the package's own
hook: ``Environment.random`` and ``env.random``), which answers every ``rand`` / ``randint`` call of the
package from the row that names the call. Every observation, reward and termination is compared at every
step, over random actions and many episodes, with next-step autoreset on fastrl's side matched by a
``reset()`` of the package env.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch
from minatar import Environment

from fastrl.envs.minatar import draws as minatar_draws
from fastrl.envs.native import make_native

#: (function of the package that draws, index of the draw within one call of it) -> fastrl's draw row.
#: ``Environment.act``'s sticky-action draw is keyed "sticky".
CALLS = {
    "asterix": {("_spawn_entity", 0): "spawn_left", ("_spawn_entity", 1): "spawn_gold",
                ("_spawn_entity", 2): "spawn_slot"},
    "breakout": {("reset", 0): "serve"},
    "freeway": {("_randomize_cars", 0): "speed", ("_randomize_cars", 1): "direction"},
    "space_invaders": {},
}


class TableRandom:
    """A stand-in for ``numpy.random.RandomState`` inside one package env: each call is answered from the
    current step's column of the draw table, at the row named by the calling function (``CALLS``)."""

    def __init__(self, game: str, slices: dict[str, slice]):
        self.calls, self.slices = CALLS[game], slices
        self.column: np.ndarray | None = None
        self.seen: Counter = Counter()

    def next_step(self, column: np.ndarray) -> None:
        self.column, self.seen = column, Counter()

    def _draws(self, count: int) -> np.ndarray:
        caller = sys._getframe(2).f_code
        name = "sticky" if caller.co_filename.endswith("environment.py") else caller.co_name
        key = name if name == "sticky" else (name, self.seen[name])
        self.seen[name] += 1
        assert self.seen[name] == 1 or name != "sticky", "the sticky draw is made once per step"
        rows = self.column[self.slices["sticky" if name == "sticky" else self.calls[key]]]
        assert len(rows) == count, (key, count, len(rows))
        return rows.astype(np.int64)

    def rand(self, *size):
        real = (self._draws(int(np.prod(size)) if size else 1) + 0.5) / minatar_draws.SPAN
        return real.reshape(size) if size else float(real[0])

    def randint(self, low, high=None, size=None):
        low, high = (0, low) if high is None else (low, high)
        u = self._draws(size or 1)
        values = low + (((2 * u + 1) * (high - low)) >> (minatar_draws.BITS + 1))
        return values if size is not None else int(values[0])


def package_envs(game: str, n: int, slices, **options):
    envs, sources = [], []
    for _ in range(n):
        env = Environment(game, **options)
        source = TableRandom(game, slices)
        env.random = env.env.random = source
        envs.append(env)
        sources.append(source)
    return envs, sources


def play_side_by_side(env_id: str, n: int, steps: int, seed: int, **options) -> dict:
    """Step fastrl's ``env_id`` and ``n`` package envs with the same actions and draws; assert equality at
    every step. Returns counts (episodes ended, reward) to show what the run covered."""
    env = make_native(env_id, n, seed=seed, **options)
    game = env.game
    rng = np.random.default_rng(seed)
    slices = game.draws.slices
    originals, sources = package_envs(game.game, n, slices, **{k: v for k, v in options.items()})
    action_set = originals[0].minimal_action_set()
    assert tuple(action_set) == game.minimal_actions
    rows = game.draws.values.shape[0]

    def feed() -> np.ndarray:
        table = rng.integers(0, minatar_draws.SPAN, size=(rows, n), dtype=np.int64)
        game.draws.feed(torch.from_numpy(table))
        for i, source in enumerate(sources):
            source.next_step(table[:, i])
        return table

    feed()
    obs = env.reset()
    for original in originals:
        original.reset()
    compare_boards(obs, originals, "reset")
    restart = np.zeros(n, dtype=bool)
    ends, total = 0, 0.0
    for t in range(steps):
        actions = rng.integers(0, len(action_set), size=n)
        feed()
        obs, reward, terminated, truncated, _ = env.step(torch.from_numpy(actions))
        for i, original in enumerate(originals):
            if restart[i]:
                original.reset()
                expected_reward, expected_end = 0, False
            else:
                expected_reward, expected_end = original.act(action_set[actions[i]])
            assert reward[i].item() == expected_reward, f"{env_id} env {i} step {t}: reward"
            assert terminated[i].item() == expected_end, f"{env_id} env {i} step {t}: termination"
        assert not truncated.any()
        compare_boards(obs, originals, f"step {t}")
        restart = terminated.numpy().copy()
        ends += int(restart.sum())
        total += float(reward.sum())
    return {"episodes": ends, "reward": total}


def compare_boards(obs: torch.Tensor, originals, where: str) -> None:
    ours = obs.numpy()
    for i, original in enumerate(originals):
        expected = original.state().transpose(2, 0, 1)
        if not np.array_equal(ours[i], expected):
            channel, y, x = np.argwhere(ours[i] != expected)[0]
            raise AssertionError(f"env {i} {where}: board differs first at channel {channel}, cell ({y}, {x}): "
                                 f"fastrl {ours[i][channel, y, x]}, minatar {expected[channel, y, x]}")


@pytest.mark.parametrize(("env_id", "n", "steps", "episodes"), [
    ("MinAtar/Breakout-v1", 25, 400, 500),
    ("MinAtar/SpaceInvaders-v1", 25, 400, 20),
    ("MinAtar/Freeway-v1", 8, 2600, 8),
    ("MinAtar/Asterix-v1", 25, 400, 40),
])
def test_same_game_as_the_package(env_id, n, steps, episodes):
    covered = play_side_by_side(env_id, n, steps, seed=0)
    assert covered["episodes"] >= episodes and covered["reward"] > 0, covered
