"""The first layer's weights, drawn as pictures.

- A conv layer (Nature CNN: 32 filters of 8x8 over 4 stacked frames): one row per filter, one tile per input
  channel (oldest frame first), each filter on its own symmetric colour scale.
- A linear layer over a board (Catch's MLP): each hidden unit's weights laid out as the board, the first
  ``LINEAR_UNITS`` units: the MLP's "filters".
- A linear layer over a state vector (CartPole): the weight matrix, units by state features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fastrl.viz.agent import Agent
from fastrl.viz.figures import new_figure, save_png

#: units drawn for a linear first layer over a board
LINEAR_UNITS = 32
#: filters drawn for a conv first layer
CONV_FILTERS = 32
#: filters a row of the mosaic, and the blank pixels between filters
MOSAIC_COLUMNS, GAP = 8, 2


def filter_tiles(agent: Agent) -> np.ndarray:
    """The first layer's weights as tiles [F, C, h, w]: conv filters, or linear units reshaped to the observation
    (a vector observation gives one [1, 1, units, D] tile)."""
    weight = agent.first_layer.weight.detach().float().cpu()
    if isinstance(agent.first_layer, torch.nn.Conv2d):
        return weight[:CONV_FILTERS].numpy()
    shape = agent.observation_space.shape
    if len(shape) >= 2:
        return weight[:LINEAR_UNITS].reshape(-1, 1, *shape[-2:]).numpy()
    return weight.numpy()[None, None]


def mosaic(tiles: np.ndarray, columns: int) -> np.ndarray:
    """Tiles [F, C, h, w] as one picture: ``columns`` filters a row, each filter's C channels side by side, each
    filter scaled to [-1, 1] by its own largest |weight|; NaN (drawn blank) in the gaps."""
    count, channels, h, w = tiles.shape
    rows = -(-count // columns)
    cell_h, cell_w = h + GAP, channels * (w + 1) - 1 + GAP
    out = np.full((rows * cell_h - GAP, columns * cell_w - GAP), np.nan)
    for f in range(count):
        scale = np.abs(tiles[f]).max() or 1.0
        top, left = (f // columns) * cell_h, (f % columns) * cell_w
        for c in range(channels):
            x = left + c * (w + 1)
            out[top:top + h, x:x + w] = tiles[f, c] / scale
    return out


def plot_filters(agent: Agent, path: str | Path) -> Path:
    """Draw the first layer's weights (see the module docstring) into ``path`` (PNG)."""
    tiles = filter_tiles(agent)
    count, channels, h, w = tiles.shape
    kind = type(agent.first_layer).__name__
    if count == 1 and channels == 1:  # a vector observation: the weight matrix itself
        picture, scale = tiles[0, 0], np.abs(tiles).max() or 1.0
        fig = new_figure(5, 5)
        ax = fig.add_subplot()
        image = ax.imshow(picture, aspect="auto", cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
        fig.colorbar(image, ax=ax, label="weight")
        ax.set_xlabel("state feature")
        ax.set_ylabel("hidden unit")
    else:
        picture = mosaic(tiles, MOSAIC_COLUMNS // 2 if channels > 1 else MOSAIC_COLUMNS)
        fig = new_figure(9.0, min(12.0, 9.0 * picture.shape[0] / picture.shape[1] + 1.0))
        ax = fig.add_subplot()
        ax.imshow(picture, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        what = f"{count} filters, each its {channels} input frames oldest first" if channels > 1 else \
            f"{count} hidden units' weights laid out as the board"
        ax.set_xlabel(f"{what}; each on its own scale (red +, blue −)", fontsize=9)
    fig.suptitle(f"first layer ({kind}, {tuple(agent.first_layer.weight.shape)}): {agent.config.env.id} "
                 f"{agent.config.algo}, env step {agent.env_steps:,}", fontsize=10)
    return save_png(fig, path)
