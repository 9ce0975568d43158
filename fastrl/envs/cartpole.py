"""CartPole-v1, batched in torch: gymnasium's dynamics for ``num_envs`` carts on one device, in float32.

Same physics as ``gymnasium/envs/classic_control/cartpole.py`` (explicit Euler, tau 0.02 s, force 10 N,
termination beyond 12 degrees or 2.4 m, start state uniform in [-0.05, 0.05)), reward 1 for every step
including the terminating one, and the ``TimeLimit`` of CartPole-v1: truncated once an episode has lasted
``max_episode_steps`` (500) steps, also on a step that terminates (as gymnasium's wrapper does).

Differences from gymnasium, both deliberate: the state is float32 (gymnasium integrates in float64 and
casts the observation), so a step agrees to float32 rounding and long trajectories drift apart as the
dynamics amplify rounding; and the thresholds are compared in float32. Random start states come from a
torch generator, not gymnasium's numpy one.

This module holds only the game; ``fastrl.envs.native.NativeVecEnv`` wraps it into a ``VecEnv``.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_LENGTH = 0.5  # gymnasium's ``length``: half the pole's length
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE = 10.0
TAU = 0.02
THETA_LIMIT = 12 * 2 * math.pi / 360
X_LIMIT = 2.4
START_BOUND = 0.05


class CartPole:
    """The state of ``num_envs`` cart-poles and the batched step that advances them."""

    id = "CartPole-v1"

    def __init__(self, num_envs: int, device: torch.device, *, max_episode_steps: int = 500):
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1:
            raise ValueError(f"{self.id}: option max_episode_steps={max_episode_steps!r}; expected an integer >= 1")
        self.num_envs, self.max_episode_steps = num_envs, max_episode_steps
        high = np.array([X_LIMIT * 2, np.inf, THETA_LIMIT * 2, np.inf], dtype=np.float32)
        self.single_observation_space = gymnasium.spaces.Box(-high, high, dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(2)
        f32 = dict(dtype=torch.float32, device=device)
        # One row per state variable (x, x_dot, theta, theta_dot), so each is a contiguous vector.
        self.state = torch.zeros(4, num_envs, **f32)
        self.elapsed = torch.zeros(num_envs, dtype=torch.int32, device=device)
        self._start = torch.zeros(4, num_envs, **f32)
        self._force, self._cos, self._sin, self._temp, self._theta_acc, self._x_acc, self._scratch = (
            torch.zeros(num_envs, **f32) for _ in range(7))
        self._out_of_bounds = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def reset(self, generator: torch.Generator, obs: torch.Tensor) -> None:
        """Start a new episode in every env and write the first observations into ``obs``."""
        self.state.uniform_(-START_BOUND, START_BOUND, generator=generator)
        self.elapsed.zero_()
        obs.copy_(self.state.T)

    def step(self, actions: torch.Tensor, restart: torch.Tensor, generator: torch.Generator,
             obs: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """Advance every env by one step, writing into the given output tensors.

        ``actions`` are int64 in {0, 1}. Envs where ``restart`` is True ignore their action and start a new
        episode instead (reward 0, flags False). Start states are drawn for *every* env at every step, used
        or not, so env i's random stream does not depend on when other envs restart.
        """
        x, x_dot, theta, theta_dot = self.state
        force, cos, sin, temp = self._force, self._cos, self._sin, self._temp
        theta_acc, x_acc, scratch = self._theta_acc, self._x_acc, self._scratch

        torch.mul(actions, 2 * FORCE, out=force).sub_(FORCE)  # action 1 pushes right, 0 left
        torch.cos(theta, out=cos)
        torch.sin(theta, out=sin)
        # temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
        torch.mul(theta_dot, theta_dot, out=temp).mul_(POLE_MASS_LENGTH).mul_(sin).add_(force).div_(TOTAL_MASS)
        # theta_acc = (g * sin - cos * temp) / (length * (4/3 - masspole * cos**2 / total_mass))
        torch.mul(cos, cos, out=scratch).mul_(MASS_POLE).div_(TOTAL_MASS).neg_().add_(4.0 / 3.0).mul_(HALF_LENGTH)
        torch.mul(cos, temp, out=x_acc)  # x_acc is scratch space here, until its own line below
        torch.mul(sin, GRAVITY, out=theta_acc).sub_(x_acc).div_(scratch)
        # x_acc = temp - polemass_length * theta_acc * cos / total_mass
        torch.mul(theta_acc, POLE_MASS_LENGTH, out=x_acc).mul_(cos).div_(TOTAL_MASS).neg_().add_(temp)
        # Explicit Euler: positions move with the old velocities.
        x.add_(x_dot, alpha=TAU)
        x_dot.add_(x_acc, alpha=TAU)
        theta.add_(theta_dot, alpha=TAU)
        theta_dot.add_(theta_acc, alpha=TAU)

        self._start.uniform_(-START_BOUND, START_BOUND, generator=generator)
        torch.where(restart, self._start, self.state, out=self.state)
        self.elapsed.add_(1).masked_fill_(restart, 0)

        torch.abs(x, out=scratch)
        torch.gt(scratch, X_LIMIT, out=terminated)
        torch.abs(theta, out=scratch)
        torch.gt(scratch, THETA_LIMIT, out=self._out_of_bounds)
        terminated.logical_or_(self._out_of_bounds)
        torch.ge(self.elapsed, self.max_episode_steps, out=truncated)
        torch.logical_not(restart, out=reward)
        obs.copy_(self.state.T)
