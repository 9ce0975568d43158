"""The whole value function and policy of a native small env, over its state grid.

- Catch: every state there is (ball row and column, paddle column): one board per paddle column, each cell the
  value with the ball there, and the greedy action as an arrow (← stay →).
- CartPole: the slice through the cart at rest in the middle (x = 0, ẋ = 0), pole angle × angular velocity:
  the value, and P(push right) (a policy) or the greedy action (Q-values). Outside ±12° the episode has ended;
  the plot marks those bounds.

Other envs have no grid small enough to enumerate: ``value_heatmap`` says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fastrl.viz.agent import Agent, VizError
from fastrl.viz.figures import new_figure, save_png

ARROWS = {0: "←", 1: "·", 2: "→"}
#: the CartPole slice: angle in radians (termination at ±12° ≈ ±0.21) and angular velocity in rad/s
CARTPOLE_ANGLE, CARTPOLE_VELOCITY, CARTPOLE_POINTS = 0.25, 2.5, 101


def catch_boards(rows: int, columns: int) -> tuple[torch.Tensor, np.ndarray]:
    """Every Catch state with the ball still falling: boards [P*(rows-1)*columns, rows, columns] and their
    (paddle, ball row, ball column) [N, 3], paddle-major."""
    index = np.array([(p, y, x) for p in range(columns) for y in range(rows - 1) for x in range(columns)])
    boards = torch.zeros(len(index), rows, columns)
    n = torch.arange(len(index))
    boards[n, torch.as_tensor(index[:, 1]), torch.as_tensor(index[:, 2])] = 1.0
    boards[n, rows - 1, torch.as_tensor(index[:, 0])] = 1.0
    return boards, index


def cartpole_slice() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """States [points², 4] on the angle × angular-velocity grid at x = ẋ = 0, and the two axes."""
    angles = np.linspace(-CARTPOLE_ANGLE, CARTPOLE_ANGLE, CARTPOLE_POINTS)
    velocities = np.linspace(-CARTPOLE_VELOCITY, CARTPOLE_VELOCITY, CARTPOLE_POINTS)
    vel, ang = np.meshgrid(velocities, angles, indexing="ij")  # rows: velocity, columns: angle
    states = np.stack([np.zeros_like(ang), np.zeros_like(ang), ang, vel], axis=-1).reshape(-1, 4)
    return torch.as_tensor(states, dtype=torch.float32), angles, velocities


@torch.no_grad()
def value_heatmap(agent: Agent, path: str | Path) -> Path:
    """Draw the value and the policy over the env's state grid into ``path`` (PNG)."""
    env_id = agent.config.env.id
    if env_id == "Catch-v0":
        return _catch(agent, path)
    if env_id == "CartPole-v1":
        return _cartpole(agent, path)
    raise VizError(f"{env_id}: no state grid to enumerate; value heat maps are drawn for Catch-v0 and CartPole-v1")


def _catch(agent: Agent, path) -> Path:
    from matplotlib.patches import Rectangle

    rows, columns = agent.observation_space.shape
    boards, index = catch_boards(rows, columns)
    out = agent.outputs(boards)
    values = out.value.cpu().numpy().reshape(columns, rows - 1, columns)
    actions = out.scores.argmax(-1).cpu().numpy().reshape(columns, rows - 1, columns)
    fig = new_figure(2.0 * columns + 1.2, 0.32 * rows + 1.6)
    low, high = float(values.min()), float(values.max())
    axes = [fig.add_subplot(1, columns, p + 1) for p in range(columns)]
    for p, ax in enumerate(axes):
        image = ax.imshow(values[p], cmap="viridis", vmin=low, vmax=high, extent=(-0.5, columns - 0.5, rows - 1.5, -0.5))
        for y in range(rows - 1):
            for x in range(columns):
                ax.text(x, y, ARROWS.get(int(actions[p, y, x]), "?"), ha="center", va="center", color="white",
                        fontsize=9)
        ax.add_patch(Rectangle((p - 0.45, rows - 1.15), 0.9, 0.3, color="tab:blue"))  # the paddle's row
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_title(f"paddle at column {p}", fontsize=9)
        ax.set_xticks(range(columns))
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, label=f"{agent.value_name} with the ball in the cell", shrink=0.8)
    fig.suptitle(f"Catch: value and greedy action of every state ({agent.config.algo}, env step "
                 f"{agent.env_steps:,})", fontsize=10)
    return save_png(fig, path)


def _cartpole(agent: Agent, path) -> Path:
    states, angles, velocities = cartpole_slice()
    out = agent.outputs(states)
    shape = (len(velocities), len(angles))
    values = out.value.cpu().numpy().reshape(shape)
    if agent.score_name == "P(a|s)":
        policy, policy_label = out.scores[:, 1].cpu().numpy().reshape(shape), "P(push right)"
    else:
        policy, policy_label = out.scores.argmax(-1).float().cpu().numpy().reshape(shape), "greedy action (1 = right)"
    extent = (np.degrees(angles[0]), np.degrees(angles[-1]), velocities[0], velocities[-1])
    fig = new_figure(11, 4.5)
    for i, (grid, label, cmap) in enumerate(((values, agent.value_name, "viridis"), (policy, policy_label, "coolwarm"))):
        ax = fig.add_subplot(1, 2, i + 1)
        image = ax.imshow(grid, origin="lower", aspect="auto", extent=extent, cmap=cmap)
        fig.colorbar(image, ax=ax, label=label)
        for bound in (-12, 12):
            ax.axvline(bound, color="white", linestyle="--", linewidth=1)
        ax.set_xlabel("pole angle (degrees)")
        ax.set_ylabel("angular velocity (rad/s)")
        ax.set_title(label, fontsize=10)
    fig.suptitle(f"CartPole at x = 0, ẋ = 0 ({agent.config.algo}, env step {agent.env_steps:,}); dashed: ±12°, "
                 f"where the episode ends", fontsize=10)
    return save_png(fig, path)
