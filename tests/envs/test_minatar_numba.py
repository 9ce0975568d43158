"""MinAtar's numba kernels (``fastrl/envs/minatar/numba.py``) against the torch games they implement.

Both kernels step from the same seed (so the same draws) with the same random actions, starting from random
states the torch game reached; every observation, reward, termination and episode statistic, and every field
of the game's state the torch rules define (dead slots' fields are not), must agree at every step. The torch
games themselves are checked against the ``minatar`` package in test_minatar_parity.py, which runs whichever
kernel is the default here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastrl.envs import make_env
from fastrl.ops import _registry

pytest.importorskip("numba")

GAMES = ("Breakout", "Asterix", "Freeway", "Seaquest", "SpaceInvaders")

#: a state field -> the attribute of the mask of slots where the torch rules define it (None: not state)
SLOT_FIELDS = {
    "x": "alive", "rightward": "alive", "gold": "alive",  # Asterix
    **{f"{ring}_{field}": f"{ring}_alive" for ring in ("torpedoes", "divers", "enemies", "bullets")
       for field in ("x", "y", "timer", "rightward")},
    "bullets_timer": None, "is_sub": "enemies_alive", "shot_timer_enemy": "enemies_alive",
    **{f"{ring}_{field}": None for ring in ("torpedoes", "divers", "enemies", "bullets")
       for field in ("age", "new")},
}


def defined_state(game) -> dict[str, torch.Tensor]:
    """The game's state tensors with the fields of dead slots zeroed (scratch tensors, ``_*``, left out)."""
    state = {}
    for name, value in vars(game).items():
        if name.startswith("_") or "__" in name or not isinstance(value, torch.Tensor) or SLOT_FIELDS.get(name, "") is None:
            continue
        mask = SLOT_FIELDS.get(name)
        if name == "shot_timer_enemy":
            value = value * (game.enemies.alive & game.is_sub)
        elif mask is not None:
            value = value * getattr(game, mask)
        state[name] = value
    return state


def assert_same(a, b, where: str) -> None:
    for name, x in a.items():
        y = b[name]
        if not torch.equal(x, y):
            index = (x != y).nonzero()[0].tolist()
            raise AssertionError(f"{where}: {name} differs first at {index}: torch {x[tuple(index)].item()}, "
                                 f"numba {y[tuple(index)].item()}")


@pytest.fixture
def one_thread():
    """Torch on one thread: the torch games' small ops only wait for a second one (much so on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", GAMES)
def test_numba_plays_the_torch_games(name, one_thread):
    n, env_id = 61, f"MinAtar/{name}-v1"
    rng = np.random.default_rng(0)
    reference = make_env(env_id, n, backend="native", seed=5, kernel="reference")
    fast = make_env(env_id, n, backend="native", seed=5, kernel="numba")
    assert (reference.game.kernel, fast.game.kernel) == ("reference", "numba")
    actions = lambda: torch.from_numpy(rng.integers(0, fast.single_action_space.n, size=n))  # noqa: E731
    reference.reset()
    fast.reset()
    ends = 0
    for start in range(3):  # random states the torch game reached, loaded into the numba one
        for _ in range(int(rng.integers(20, 200))):
            reference.step(actions())
        if name == "Seaquest" and start == 1:  # the end of the ramp: an enemy every step, many alive
            reference.game.enemy_spawn_speed.fill_(1)
            reference.game.move_speed.fill_(2)
        if name == "Freeway":  # games of 2500 steps: end some within the run
            reference.game.terminate_timer.copy_(torch.from_numpy(rng.integers(0, 300, size=n)))
        fast.load_state_dict(reference.state_dict())
        for t in range(150):
            step_actions = actions()
            a, b = reference.step(step_actions), fast.step(step_actions)
            where = f"{env_id} start {start} step {t}"
            assert_same({"obs": a.obs, "reward": a.reward, "terminated": a.terminated, "truncated": a.truncated,
                         **a.info}, {"obs": b.obs, "reward": b.reward, "terminated": b.terminated,
                                     "truncated": b.truncated, **b.info}, where)
            assert_same(defined_state(reference.game), defined_state(fast.game), where)
            ends += int(a.terminated.sum())
    assert ends > 0
    assert not getattr(fast.game, "capacity_exceeded", torch.zeros(1, dtype=torch.bool)).any()


def test_the_kernel_is_chosen_and_bad_actions_are_refused(monkeypatch):
    assert make_env("MinAtar/Seaquest-v1", 4, backend="native").game.kernel == "numba"  # numba imports here
    monkeypatch.setenv("FASTRL_BACKEND", "minatar:reference")
    assert make_env("MinAtar/Seaquest-v1", 4, backend="native").game.kernel == "reference"
    with pytest.raises(ValueError, match="kernel='fast'; expected 'numba', 'reference'"):
        make_env("MinAtar/Breakout-v1", 2, backend="native", kernel="fast")
    monkeypatch.delenv("FASTRL_BACKEND")
    # Where numba cannot run, the default is the torch games; asking for numba there is an error.
    monkeypatch.setattr(_registry, "unavailable_reason", lambda op, backend, device: "numba does not import: test")
    monkeypatch.setattr(_registry, "_CHOICES", {})  # choices made so far
    assert make_env("MinAtar/Asterix-v1", 2, backend="native").game.kernel == "reference"
    with pytest.raises(_registry.BackendUnavailable, match="numba does not import"):
        make_env("MinAtar/Asterix-v1", 2, backend="native", kernel="numba")
    monkeypatch.undo()
    env = make_env("MinAtar/Breakout-v1", 3, backend="native", kernel="numba", check_actions=False)
    obs = env.reset().clone()
    with pytest.raises(IndexError, match=r"action 3 for env 1 is out of range \[0, 2\]"):
        env.step(torch.tensor([0, 3, 1]))
    with pytest.raises(IndexError, match=r"action -1 for env 0"):
        env.step(torch.tensor([-1, 0, 1]))
    assert torch.equal(env.game.ball_y, torch.full((3,), 3))  # nothing moved
    assert env.step(torch.tensor([0, 1, 2])).obs.shape == obs.shape
