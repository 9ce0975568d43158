"""MinAtar (Young & Tian 2019) as native batched torch envs: the ``minatar`` package's five games, step for step.

``make_env("MinAtar/Breakout-v1", 4096, backend="native", device=...)`` runs 4096 games as one batch of tensor
ops on the device. The ids are the package's gymnasium ids: ``-v1`` takes the game's minimal action set,
``-v0`` all six actions. Observations are boolean [num_envs, channels, 10, 10] boards with the original's
channels (channel-first; the package gives [10, 10, channels]). Options: ``sticky_action_prob`` (0.1) and
``difficulty_ramping`` (True), the package's ``Environment`` arguments, and ``kernel``: what runs the step,
``"reference"`` (the torch ops, any device) or ``"numba"`` (one compiled loop over the envs, CPU,
``numba.py``); by default numba on the CPU where it imports, else the torch ops (``FASTRL_BACKEND=minatar:reference``
chooses too). Both play the same games from the same seed (``tests/envs/test_minatar_numba.py``).

Each game is the package's rules on batched state (``breakout.py`` etc.; ``game.py`` holds the shared step
order and sticky actions, ``draws.py`` the random draws). ``tests/envs/test_minatar_parity.py`` steps each
game beside the package with the same actions and the same random draws and compares every observation,
reward and termination.

Differences from the package, none in the rules: the randomness is torch's (one table of 24-bit draws per step,
``draws.py``, instead of numpy's 53-bit ``rand``), so a game's outcome probabilities differ from the package's
by at most 2**-24 and the same seed does not give the package's games; Freeway takes one draw per car where the
package takes two; Seaquest holds its things in fixed rings whose sizes the rules bound (``seaquest.py``). The
torch ops pay off at thousands of envs, not at one; the numba kernels on the CPU at any number
(``fastrl bench envs``: profiles/*/envs-minatar.json).
"""

from __future__ import annotations

from fastrl.envs.minatar.asterix import Asterix
from fastrl.envs.minatar.breakout import Breakout
from fastrl.envs.minatar.freeway import Freeway
from fastrl.envs.minatar.seaquest import Seaquest
from fastrl.envs.minatar.space_invaders import SpaceInvaders

GAMES = (Asterix, Breakout, Freeway, Seaquest, SpaceInvaders)


def _full_action_set(game: type) -> type:
    """The -v0 variant of a game: the same rules over all six actions."""
    return type(f"{game.__name__}FullActions", (game,), {"id": game.id.replace("-v1", "-v0"),
                                                          "full_action_set": True})


#: env id -> game class, for ``fastrl.envs.native.NATIVE_ENVS``
MINATAR_ENVS: dict[str, type] = {cls.id: cls for game in GAMES for cls in (game, _full_action_set(game))}
