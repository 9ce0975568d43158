"""The ``gymnasium`` backend: any registered gymnasium env through ``gymnasium.make_vec`` (sync only).

Options: ``vectorization`` (``"sync"``, the default: all envs in this process, one after the other; or
``"async"``: one process per env, stepped in parallel), ``check_actions`` (default True), and ``env_kwargs``
(a dict passed to ``gymnasium.make``) for non-Atari ids.

Atari ids (``Pong-v5`` or ``ALE/Pong-v5``) get the protocol of ``fastrl.envs.atari``, with the same option
names and defaults as envpool and ale: ``ALE/<Game>-v5`` without frame skip or sticky actions of its own,
then gymnasium's ``AtariPreprocessing`` (no-op starts, frame skip with max-pooling, 84x84 grayscale; it needs
``opencv-python``), FIRE at reset where the game has it, and ``FrameStackObservation``. Details differ from the
C++ engines (e.g. 1..30 no-ops instead of 0..29). Episodic life is done here as ale-py does it: ``terminated``
on a life loss, the game goes on; reward clipping too, so that the full-game return stays raw.

gymnasium returns fresh arrays each step (``copy=True``), so on the CPU they are handed over without a copy.
One env in sync mode runs as ``OneEnv``: stepped in the caller's thread without ``SyncVectorEnv``, whose
per-step concatenation and deep copies cost more than a classic-control env's own step.
"""

from __future__ import annotations

import functools

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from fastrl.envs.atari import ATARI_DEFAULTS, AtariOptions, atari_game
from fastrl.envs.base import LIFE_LOSS_ADDED, NO_LIVES, HostEngineVecEnv, Step, take_options

VECTORIZATIONS = ("sync", "async")


def gymnasium_ids() -> list[str]:
    _register_ale()
    return list(gymnasium.registry)


@functools.cache
def _register_ale() -> None:
    import ale_py

    gymnasium.register_envs(ale_py)


class _FireReset(gymnasium.Wrapper):
    """Press FIRE once after each reset, as envpool and ale-py do (``use_fire_reset``) for games that need it."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()
        self._fire = meanings.index("FIRE") if "FIRE" in meanings else None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self._fire is None:
            return obs, info
        obs, _, terminated, truncated, info = self.env.step(self._fire)
        if terminated or truncated:
            obs, info = self.env.reset()
        return obs, info


def _atari_setup(game: str, o: AtariOptions, where: str):
    """The gymnasium id, ``make`` kwargs and wrappers that give ``game`` the protocol of ``o``."""
    try:
        import cv2  # noqa: F401  (AtariPreprocessing resizes with OpenCV)
    except ImportError as error:
        raise ImportError(f"{where}: gymnasium's AtariPreprocessing needs OpenCV (pip install "
                          f"opencv-python-headless); the envpool and ale backends do not") from error
    _register_ale()
    kwargs = {"frameskip": 1, "repeat_action_probability": float(o.repeat_action_probability),
              "full_action_space": o.full_action_space, "max_num_frames_per_episode": o.max_episode_frames}
    wrappers = [functools.partial(gymnasium.wrappers.AtariPreprocessing, noop_max=o.noop_max,
                                  frame_skip=o.frame_skip, screen_size=o.img_size, terminal_on_life_loss=False,
                                  grayscale_obs=True, scale_obs=False)]
    if o.fire_reset:
        wrappers.append(_FireReset)
    wrappers.append(functools.partial(gymnasium.wrappers.FrameStackObservation, stack_size=o.frame_stack))
    return f"ALE/{game}-v5", kwargs, wrappers


class OneEnv:
    """One gymnasium env as a vector env of one, with ``SyncVectorEnv``'s next-step autoreset (the step after
    an episode's end resets it: the reset observation, reward 0, no flags) and its seeding (``reset(seed=s)``
    seeds the env with s). Each observation is copied, as ``SyncVectorEnv`` copies them: an env may reuse
    its own buffer."""

    num_envs = 1

    def __init__(self, env_id: str, kwargs: dict, wrappers):
        env = gymnasium.make(env_id, **kwargs)
        for wrap in wrappers or ():
            env = wrap(env)
        self.env = env
        self.single_observation_space, self.single_action_space = env.observation_space, env.action_space
        self._ended = False

    def reset(self, seed: int | None = None):
        obs, info = self.env.reset(seed=seed)
        self._ended = False
        return self._batch(obs), self._infos(info)

    def step(self, actions: np.ndarray):
        if self._ended:
            obs, info = self.env.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            obs, reward, terminated, truncated, info = self.env.step(actions[0])
        self._ended = terminated or truncated
        return (self._batch(obs), np.array([reward], dtype=np.float64), np.array([terminated]),
                np.array([truncated]), self._infos(info))

    @staticmethod
    def _batch(obs) -> np.ndarray:
        return np.array(obs)[None]

    @staticmethod
    def _infos(info: dict) -> dict:
        """The scalar entries as arrays of one (``lives`` for Atari), as ``SyncVectorEnv`` gathers them."""
        return {key: np.array([value]) for key, value in info.items() if np.isscalar(value)}

    def close(self) -> None:
        self.env.close()


class GymnasiumVecEnv(HostEngineVecEnv):
    backend = "gymnasium"

    def __init__(self, env_id: str, num_envs: int, *, device: torch.device, seed: int = 0, **options):
        where = f"{env_id} (gymnasium)"
        game = atari_game(env_id)
        defaults = {"vectorization": "sync", "check_actions": True}
        defaults |= ATARI_DEFAULTS if game else {"env_kwargs": {}}
        opts = take_options(options, defaults, where)
        vectorization = opts.pop("vectorization")
        if vectorization not in VECTORIZATIONS:
            raise ValueError(f"{where}: vectorization={vectorization!r}; expected one of {VECTORIZATIONS}")
        self.check_actions = bool(opts.pop("check_actions"))
        if game:
            atari = AtariOptions(**opts).validate(where)
            gym_id, kwargs, wrappers = _atari_setup(game, atari, where)
            life_rule, clip = (LIFE_LOSS_ADDED if atari.episodic_life else NO_LIVES), atari.reward_clip
        else:
            if not isinstance(opts["env_kwargs"], dict):
                raise ValueError(f"{where}: env_kwargs={opts['env_kwargs']!r}; expected a dict of keyword "
                                 f"arguments for gymnasium.make")
            gym_id, kwargs, wrappers = env_id, dict(opts.pop("env_kwargs")), None
            life_rule, clip = NO_LIVES, False
        self._atari = game is not None
        self.env_id, self.num_envs, self.batch_size, self.device = env_id, num_envs, num_envs, device
        self._seed = seed
        if num_envs == 1 and vectorization == "sync":
            self._vec = OneEnv(gym_id, kwargs, wrappers)
        else:
            self._vec = gymnasium.make_vec(gym_id, num_envs, vectorization_mode=vectorization,
                                           vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP},
                                           wrappers=wrappers, **kwargs)
        self.single_observation_space = self._vec.single_observation_space
        self.single_action_space = self._vec.single_action_space
        for kind, space in (("observation", self.single_observation_space), ("action", self.single_action_space)):
            if not isinstance(space, (gymnasium.spaces.Box, gymnasium.spaces.Discrete)):
                self._vec.close()
                raise ValueError(f"{where}: {kind} space {space} is not supported (Box and Discrete are)")
        self.action_dtype = np.dtype(self.single_action_space.dtype)
        self._setup(lives=self._atari, life_rule=life_rule, resets_on_done=False, clip=clip)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{self._where}: seed={seed!r}; expected an integer or None")
        if not self._started and seed is None:
            seed = self._seed
        obs, _ = self._vec.reset(seed=seed)
        if seed is not None:
            self._seed = seed
        self._mark_reset()
        return self._reset_obs(obs)

    def step(self, actions) -> Step:
        self._require_started("step")
        actions = self._host_actions(actions, None)
        obs, reward, terminated, truncated, info = self._vec.step(actions)
        self._steps += 1
        return self._deliver(obs, reward, terminated, truncated, reward, terminated,
                             info["lives"] if self._atari else None, None)

    @property
    def engine(self):
        """The engine below this adapter (gymnasium's vector env), configured as this env is: the raw baseline of
        ``fastrl bench envs``, stepped with numpy actions and no wrapper."""
        return self._vec

    def close(self) -> None:
        self._vec.close()
