"""The Atari protocol's options: one set of names and defaults for every backend, mapped to each engine's own.

Defaults follow the standard protocol (Mnih et al. 2015; Machado et al. 2018 for the episode cap): 4 frames
per action with a max over the last two, 84x84 grayscale, a stack of 4 frames, up to 30 no-op starts, at most
108,000 frames (30 minutes) per episode, FIRE pressed at reset where the game needs it. Sticky actions
(``repeat_action_probability``), episodic life (a life loss ends the learner's episode, not the game) and
reward clipping (to [-1, 1]) are options, off by default; the full-game return in ``info`` is unclipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cache

#: option name -> default, the same on every backend
ATARI_DEFAULTS = {
    "frame_skip": 4,
    "frame_stack": 4,
    "img_size": 84,
    "noop_max": 30,
    "max_episode_frames": 108_000,
    "repeat_action_probability": 0.0,
    "episodic_life": False,
    "reward_clip": False,
    "fire_reset": True,
    "full_action_space": False,
}


@dataclass(frozen=True)
class AtariOptions:
    frame_skip: int = ATARI_DEFAULTS["frame_skip"]
    frame_stack: int = ATARI_DEFAULTS["frame_stack"]
    img_size: int = ATARI_DEFAULTS["img_size"]
    noop_max: int = ATARI_DEFAULTS["noop_max"]
    max_episode_frames: int = ATARI_DEFAULTS["max_episode_frames"]
    repeat_action_probability: float = ATARI_DEFAULTS["repeat_action_probability"]
    episodic_life: bool = ATARI_DEFAULTS["episodic_life"]
    reward_clip: bool = ATARI_DEFAULTS["reward_clip"]
    fire_reset: bool = ATARI_DEFAULTS["fire_reset"]
    full_action_space: bool = ATARI_DEFAULTS["full_action_space"]

    def validate(self, where: str) -> AtariOptions:
        minimum = {"frame_skip": 1, "frame_stack": 1, "img_size": 1, "noop_max": 0, "max_episode_frames": 1}
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{where}: {name}={value!r}; expected an integer >= {low}")
        p = self.repeat_action_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{where}: repeat_action_probability={p!r}; expected a number in [0, 1]")
        for name in ("episodic_life", "reward_clip", "fire_reset", "full_action_space"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{where}: {name}={getattr(self, name)!r}; expected True or False")
        return self

    @classmethod
    def pick(cls, options: dict) -> tuple[AtariOptions, dict]:
        """Split ``options`` into the Atari ones (as ``AtariOptions``) and the rest."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names}), {
            k: v for k, v in options.items() if k not in names}


@cache
def atari_games() -> dict[str, str]:
    """CamelCase game name (as in ``Pong-v5``) -> ALE ROM id (``pong``), for every ROM ale-py ships."""
    from ale_py import roms

    return {"".join(part.capitalize() for part in rom.split("_")): rom for rom in roms.get_all_rom_ids()}


_ATARI_ID = re.compile(r"^(?:ALE/)?([A-Za-z0-9]+)-v5$")


def atari_game(env_id: str) -> str | None:
    """The game name of an Atari id (``Pong-v5`` or ``ALE/Pong-v5`` -> ``Pong``); None for other ids."""
    match = _ATARI_ID.match(env_id)
    return match.group(1) if match and match.group(1) in atari_games() else None


def is_atari_id(env_id: str) -> bool:
    return atari_game(env_id) is not None


def rom_name(env_id: str) -> str:
    """The ALE ROM of an Atari id (``Pong-v5`` -> ``pong``)."""
    game = atari_game(env_id)
    if game is None:
        raise ValueError(f"{env_id!r} is not an Atari id (expected e.g. 'Pong-v5')")
    return atari_games()[game]


def atari_ids() -> list[str]:
    return [f"{game}-v5" for game in atari_games()]


def _options(o: AtariOptions | dict) -> AtariOptions:
    """``o`` itself, or the defaults updated with a dict of option names (``{}``: the protocol as is)."""
    return o if isinstance(o, AtariOptions) else AtariOptions(**o).validate("Atari options")


def envpool_kwargs(o: AtariOptions | dict) -> dict:
    """envpool counts the episode cap in agent steps; everything else maps one to one."""
    o = _options(o)
    return {"frame_skip": o.frame_skip, "stack_num": o.frame_stack, "img_height": o.img_size,
            "img_width": o.img_size, "gray_scale": True, "noop_max": o.noop_max,
            "max_episode_steps": max(1, o.max_episode_frames // o.frame_skip),
            "repeat_action_probability": float(o.repeat_action_probability), "episodic_life": o.episodic_life,
            "reward_clip": o.reward_clip, "use_fire_reset": o.fire_reset,
            "full_action_space": o.full_action_space}


def ale_kwargs(o: AtariOptions | dict) -> dict:
    """ale-py's own ``episodic_life`` resets the whole game on a life loss; ``life_loss_info`` is the
    episodic life of the protocol (terminated on a life loss, the game goes on). Clipping is done by the
    adapter, which needs the raw reward for the full-game return."""
    o = _options(o)
    return {"frameskip": o.frame_skip, "stack_num": o.frame_stack, "img_height": o.img_size,
            "img_width": o.img_size, "grayscale": True, "maxpool": True, "noop_max": o.noop_max,
            "max_num_frames_per_episode": o.max_episode_frames,
            "repeat_action_probability": float(o.repeat_action_probability), "episodic_life": False,
            "life_loss_info": o.episodic_life, "reward_clipping": False, "use_fire_reset": o.fire_reset,
            "full_action_space": o.full_action_space}
