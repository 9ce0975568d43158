"""The env's own pictures, in colour at full resolution, one per step of a single env.

- envpool Atari: the engine renders (``render_mode="rgb_array"``): Atari's 210x160 RGB screen, not the agent's
  84x84 grey stack.
- gymnasium, and envpool's other envs (MuJoCo, classic control): ``render_mode="rgb_array"`` through
  ``gymnasium.make`` of the same id (MuJoCo renders offscreen with EGL where no display is set). envpool's own
  MuJoCo renderer needs an OpenGL context it does not make: MuJoCo then ends the process.
- native (Catch, CartPole): drawn here from the observation, which is the whole state of both games.
- ale-py's vector env has no renderer: such a run is refused with a one-line error naming the backends that do.

``RenderedEnv`` makes one env that can render and hands out ``frame()`` after each reset or step.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from fastrl.envs.atari import is_atari_id
from fastrl.viz.agent import Agent, VizError

#: pixels per cell of a Catch board
CATCH_CELL = 40
BACKGROUND = (24, 24, 32)
BALL = (235, 80, 60)
PADDLE = (90, 170, 250)
GRID = (48, 48, 60)


def render_catch(board: np.ndarray) -> np.ndarray:
    """A Catch board [rows, columns] (1.0 at the ball and the paddle, the paddle on the bottom row) as RGB."""
    rows, columns = board.shape
    image = np.empty((rows * CATCH_CELL, columns * CATCH_CELL, 3), np.uint8)
    image[:] = BACKGROUND
    image[::CATCH_CELL, :] = GRID
    image[:, ::CATCH_CELL] = GRID
    for row, column in zip(*np.nonzero(board > 0.5), strict=True):
        colour = PADDLE if row == rows - 1 else BALL
        y, x = row * CATCH_CELL, column * CATCH_CELL
        if row == rows - 1:  # the paddle: a flat bar; a ball caught on it shows as the ball on the bar
            image[y + CATCH_CELL // 2:y + CATCH_CELL - 4, x + 2:x + CATCH_CELL - 2] = colour
        else:
            _disc(image, y + CATCH_CELL // 2, x + CATCH_CELL // 2, CATCH_CELL // 2 - 5, colour)
    return image


def render_cartpole(state: np.ndarray, width: int = 600, height: int = 400) -> np.ndarray:
    """CartPole's state (x, x_dot, theta, theta_dot) as RGB, drawn as gymnasium draws it (same scale: the
    track spans ±4.8 m; the pole is 1 m long)."""
    from PIL import Image, ImageDraw

    from fastrl.envs.cartpole import HALF_LENGTH, X_LIMIT

    x, _, theta, _ = (float(v) for v in state)
    scale = width / (2 * X_LIMIT * 2)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    track_y = int(height * 0.75)
    draw.line([(0, track_y), (width, track_y)], fill=(0, 0, 0), width=1)
    for limit in (-X_LIMIT, X_LIMIT):  # where the episode ends
        lx = width / 2 + limit * scale
        draw.line([(lx, track_y - 10), (lx, track_y + 10)], fill=(200, 60, 60), width=2)
    cart_x = width / 2 + x * scale
    cart_w, cart_h = 50, 30
    draw.rectangle([cart_x - cart_w / 2, track_y - cart_h / 2, cart_x + cart_w / 2, track_y + cart_h / 2],
                   fill=(0, 0, 0))
    pole_len = 2 * HALF_LENGTH * scale
    tip = (cart_x + pole_len * np.sin(theta), track_y - pole_len * np.cos(theta))
    draw.line([(cart_x, track_y), tip], fill=(202, 152, 101), width=10)
    draw.ellipse([cart_x - 5, track_y - 5, cart_x + 5, track_y + 5], fill=(129, 132, 203))
    return np.asarray(image)


NATIVE_RENDERERS = {"Catch-v0": render_catch, "CartPole-v1": render_cartpole}


class RenderedEnv:
    """One env of the agent's run that also gives its own full-colour frame after each reset and step."""

    def __init__(self, agent: Agent, seed: int):
        config = agent.config
        backend = _backend_of(config)
        self.env_id = config.env.id
        self._renderer = None
        if backend == "native":
            self._renderer = NATIVE_RENDERERS.get(self.env_id)
            if self._renderer is None:
                raise VizError(f"{self.env_id} (native) has no renderer in fastrl.viz.frames; native envs drawn: "
                               f"{', '.join(NATIVE_RENDERERS)}")
            self.envs = agent.make_env(1, seed)
        elif backend == "envpool" and is_atari_id(self.env_id):
            self.envs = agent.make_env(1, seed, render_mode="rgb_array")
        elif backend in ("envpool", "gymnasium"):
            if is_atari_id(self.env_id):
                raise VizError(f"{self.env_id} (gymnasium): the Atari protocol's wrappers hide the screen; record "
                               f"the video with the envpool backend (same game and options)")
            os.environ.setdefault("MUJOCO_GL", "egl" if not os.environ.get("DISPLAY") else "glfw")
            kwargs = {"render_mode": "rgb_array"}
            if backend == "gymnasium":
                kwargs = {**config.env.make_options().get("env_kwargs", {}), **kwargs}
            self.envs = agent.make_env(1, seed, backend="gymnasium", env_kwargs=kwargs)
        else:
            raise VizError(f"{self.env_id} ({backend}): this backend cannot render its frames; the envpool, "
                           f"gymnasium and native backends can (evaluate the run's policy with one of them)")
        self._obs: torch.Tensor | None = None

    def reset(self, seed: int) -> torch.Tensor:
        self._obs = self.envs.reset(seed=seed)
        return self._obs

    def step(self, action: torch.Tensor):
        step = self.envs.step(action)
        self._obs = step[0]
        return step

    def frame(self) -> np.ndarray:
        """The current frame [H, W, 3] uint8."""
        if self._renderer is not None:
            return self._renderer(self._obs[0].cpu().numpy())
        try:
            if self.envs.backend == "envpool":
                frame = self.envs.engine.render(env_ids=[0])[0]
            else:
                frame = self.envs.engine.render()[0]
        except Exception as err:  # an engine's renderer failing (no OpenGL, no display): one line, not a traceback
            raise VizError(f"{self.env_id} ({self.envs.backend}) could not render a frame: {err}") from None
        if frame is None:
            raise VizError(f"{self.env_id} ({self.envs.backend}) rendered no frame (is render_mode rgb_array?)")
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def close(self) -> None:
        self.envs.close()


def _backend_of(config) -> str:
    """The backend ``make_env`` takes for the run's env (``auto`` resolved as it resolves it)."""
    from fastrl.envs import _auto_backend

    return config.env.backend if config.env.backend != "auto" else _auto_backend(config.env.id)


def _disc(image: np.ndarray, cy: int, cx: int, radius: int, colour) -> None:
    yy, xx = np.ogrid[:image.shape[0], :image.shape[1]]
    image[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = colour
