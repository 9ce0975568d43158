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
from fastrl.envs.minatar.freeway import HALF
from fastrl.envs.native import make_native

#: (function of the package that draws, index of the draw within one call of it) -> (fastrl's draw row, how
#: the call's draw derives from the row's, or None: the same). ``Environment.act``'s sticky draw is "sticky".
CALLS = {
    "asterix": {("_spawn_entity", 0): ("spawn_left", None), ("_spawn_entity", 1): ("spawn_gold", None),
                ("_spawn_entity", 2): ("spawn_slot", None)},
    "breakout": {("reset", 0): ("serve", None)},
    # Freeway: one draw per car, its top bit the direction and its other bits, doubled, the speed (freeway.py).
    "freeway": {("_randomize_cars", 0): ("car", lambda u: (u & (HALF - 1)) * 2),
                ("_randomize_cars", 1): ("car", lambda u: (u >> 23) * HALF + HALF // 2)},
    "seaquest": {("_spawn_enemy", 0): ("enemy_left", None), ("_spawn_enemy", 1): ("enemy_sub", None),
                 ("_spawn_enemy", 2): ("enemy_row", None), ("_spawn_diver", 0): ("diver_left", None),
                 ("_spawn_diver", 1): ("diver_row", None)},
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
        row, derive = ("sticky", None) if name == "sticky" else self.calls[key]
        rows = self.column[self.slices[row]].astype(np.int64)
        assert len(rows) == count, (key, count, len(rows))
        return rows if derive is None else derive(rows)

    def rand(self, *size):
        real = minatar_draws.as_real(self._draws(int(np.prod(size)) if size else 1))
        return real.reshape(size) if size else float(real[0])

    def randint(self, low, high=None, size=None):
        low, high = (0, low) if high is None else (low, high)
        values = low + minatar_draws.integers_of(self._draws(size or 1), high - low)
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


def play_side_by_side(env_id: str, n: int, steps: int, seed: int, start=None, probe=None, **options) -> dict:
    """Step fastrl's ``env_id`` and ``n`` package envs with the same actions and draws; assert equality at
    every step. ``start(game, package_game, i)`` changes both sides' first games of env i alike; ``probe(game)`` returns a
    [n] bool tensor of a rule being exercised. Returns what the run covered (episodes ended, reward, probes)."""
    env = make_native(env_id, n, seed=seed, **options)
    game = env.game
    rng = np.random.default_rng(seed)
    slices = game.draws.slices
    originals, sources = package_envs(game.game, n, slices, **{k: v for k, v in options.items()})
    assert tuple(originals[0].minimal_action_set()) == game.minimal_actions
    action_set = game._action_set.tolist()  # -v1: the minimal set; -v0: all six
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
    if start is not None:
        for i, original in enumerate(originals):
            start(game, original.env, i)
        game._render(obs)
    compare_boards(obs, originals, "reset")
    restart = np.zeros(n, dtype=bool)
    ends, total, probed = 0, 0.0, 0
    for t in range(steps):
        actions = rng.integers(0, len(action_set), size=n)
        feed()
        obs, reward, terminated, truncated, _ = env.step(torch.from_numpy(actions))
        expected = np.zeros((2, n))  # reward, termination
        for i, original in enumerate(originals):
            if restart[i]:
                original.reset()
            else:
                expected[:, i] = original.act(action_set[actions[i]])
        got = np.stack([reward.numpy(), terminated.numpy()])
        if not np.array_equal(got, expected):
            kind, i = np.argwhere(got != expected)[0]
            raise AssertionError(f"{env_id} env {i} step {t}: {('reward', 'termination')[kind]} {got[kind, i]}, "
                                 f"minatar {expected[kind, i]}")
        assert not truncated.any()
        compare_boards(obs, originals, f"step {t}")
        restart = terminated.numpy().copy()
        ends += int(restart.sum())
        total += float(reward.sum())
        probed += 0 if probe is None else int(probe(game).sum())
    assert not getattr(game, "capacity_exceeded", torch.zeros(1, dtype=torch.bool)).any()
    return {"episodes": ends, "reward": total, "probed": probed}


def compare_boards(obs: torch.Tensor, originals, where: str) -> None:
    ours = obs.numpy()
    expected = np.stack([original.state() for original in originals]).transpose(0, 3, 1, 2)
    if not np.array_equal(ours, expected):
        i, channel, y, x = np.argwhere(ours != expected)[0]
        raise AssertionError(f"env {i} {where}: board differs first at channel {channel}, cell ({y}, {x}): "
                             f"fastrl {ours[i, channel, y, x]}, minatar {expected[i, channel, y, x]}")


def early_freeway_ends(game, package, i) -> None:
    """First games that end after 100 + 150 i steps, so that a short run sees every env's game end."""
    game.terminate_timer[i] = package.terminate_timer = 100 + 150 * i


@pytest.mark.parametrize(("env_id", "n", "steps", "episodes", "start"), [
    ("MinAtar/Breakout-v1", 25, 400, 500, None),
    ("MinAtar/SpaceInvaders-v1", 25, 400, 20, None),
    ("MinAtar/Freeway-v1", 8, 1300, 8, early_freeway_ends),  # a whole game is 2500 steps
    ("MinAtar/Asterix-v1", 25, 400, 40, None),
    ("MinAtar/Seaquest-v1", 25, 400, 40, None),
    ("MinAtar/Breakout-v0", 10, 200, 50, None),  # all six actions
])
def test_same_game_as_the_package(env_id, n, steps, episodes, start):
    covered = play_side_by_side(env_id, n, steps, seed=0, start=start)
    assert covered["episodes"] >= episodes and covered["reward"] > 0, covered


def hard_seaquest(game, package, i) -> None:
    """The ramp's end (an enemy every step, moving every 3) and six divers on board."""
    game.enemy_spawn_speed.fill_(1)
    game.move_speed.fill_(2)
    game.ramp_index.fill_(19)
    game.diver_count.fill_(6)
    package.e_spawn_speed, package.move_speed, package.ramp_index, package.diver_count = 1, 2, 19, 6


def hard_space_invaders(game, package, i) -> None:
    """One alien left in the wave, right above the cannon's column."""
    game.aliens.zero_()
    game.aliens[7] = 1 << 5  # rows of column bits
    game.alien_count.fill_(1)
    package.alien_map[:] = 0
    package.alien_map[7, 5] = 1


def hard_asterix(game, package, i) -> None:
    """Near the ramp's end: spawns every other step, moves every other step, the next ramp in 3 steps."""
    for name, value in (("spawn_speed", 2), ("move_speed", 2), ("ramp_index", 5), ("ramp_timer", 3)):
        getattr(game, name).fill_(value)
        setattr(package, name, value)


def hard_breakout(game, package, i) -> None:
    """No brick left: the wall comes back when the ball first reaches the bottom row."""
    game.bricks.zero_()
    package.brick_map[:] = 0


@pytest.mark.parametrize(("env_id", "start", "probe"), [
    ("MinAtar/Seaquest-v1", hard_seaquest, lambda game: game.diver_count < 0),
    ("MinAtar/SpaceInvaders-v1", hard_space_invaders, lambda game: game.ramp_index > 0),
    ("MinAtar/Asterix-v1", hard_asterix, lambda game: game.spawn_speed == 1),
    ("MinAtar/Breakout-v1", hard_breakout, lambda game: game.bricks == (1 << 30) - 1),
])
def test_same_game_from_the_same_hard_states(env_id, start, probe):
    """Rules random play seldom reaches (the end of the ramps, a cleared wave, a full load of divers), played
    from the same changed first state on both sides."""
    covered = play_side_by_side(env_id, 25, 120, seed=1, start=start, probe=probe)
    assert covered["probed"] > 0, covered
