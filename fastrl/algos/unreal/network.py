"""UNREAL's network: the A3C LSTM agent's (``fastrl.algos.asynchronous.network``), with the auxiliary heads on
its torso and LSTM (Jaderberg et al. 2017, Figure 1 and appendix):

- pixel control: the LSTM's output → a fully connected layer → a [channels, H', W'] map → two deconvolutions
  (3x3, stride 1: the grid is the frame's size over the cell) giving a dueling V^c and A^c(a) per cell,
  Q^c(s, a) = V^c(s) + A^c(s, a) − mean_a A^c(s, a);
- reward prediction: the torso's features of the k frames, concatenated → 128 units → 3 logits;
- value replay uses the agent's own value head.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fastrl.algos.asynchronous.network import Network
from fastrl.config import UnrealConfig

REWARD_HIDDEN = 128


def grid_of(observation_shape: tuple[int, ...], cell: int) -> tuple[int, int]:
    """The pixel-control grid (H/cell, W/cell) of frames [H, W] or [C, H, W]."""
    height, width = observation_shape[-2:]
    return height // cell, width // cell


class PixelControlHead(nn.Module):
    """Features [T, B, F] → Q^c(s, a) [T, B, A, H', W'] for every cell c of the grid."""

    def __init__(self, features: int, actions: int, grid: tuple[int, int], channels: int):
        super().__init__()
        self.grid, self.channels = grid, channels
        self.fc = nn.Sequential(nn.Linear(features, channels * math.prod(grid)), nn.ReLU())
        self.value = nn.ConvTranspose2d(channels, 1, kernel_size=3, padding=1)
        self.advantage = nn.ConvTranspose2d(channels, actions, kernel_size=3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        steps, batch = features.shape[:2]
        x = self.fc(features.reshape(steps * batch, -1)).view(-1, self.channels, *self.grid)
        advantage = self.advantage(x)
        q = self.value(x) + advantage - advantage.mean(1, keepdim=True)
        return q.view(steps, batch, *q.shape[1:])


class UnrealNetwork(nn.Module):
    """The A3C LSTM network (its ``forward`` is the agent's: logits, V, state) with the heads of the auxiliary
    tasks switched on in ``unreal``."""

    def __init__(self, observation_shape: tuple[int, ...], actions: int, *, torso: str, hidden: tuple[int, ...],
                 lstm_size: int, unreal: UnrealConfig):
        super().__init__()
        self.agent = Network(observation_shape, actions, torso=torso, hidden=hidden, lstm_size=lstm_size,
                             actor_critic=True)
        torso_features = self.agent.torso.out_features
        self.pixel_control = PixelControlHead(lstm_size or torso_features, actions,
                                              grid_of(observation_shape, unreal.pixel_cell),
                                              unreal.pixel_control_channels) if unreal.pixel_control else None
        self.reward_prediction = nn.Sequential(
            nn.Linear(unreal.reward_frames * torso_features, REWARD_HIDDEN), nn.ReLU(),
            nn.Linear(REWARD_HIDDEN, 3)) if unreal.reward_prediction else None

    def initial_state(self, batch: int):
        return self.agent.initial_state(batch)

    def forward(self, obs: torch.Tensor, state=None):
        return self.agent(obs, state)

    def replay(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A replayed sequence ``frames`` [T, ...] from a zero LSTM state: its features [T, F] and V [T]."""
        features, _ = self.agent.core(frames[:, None], self.initial_state(1))
        return features[:, 0], self.agent.value(features[:, 0]).squeeze(-1)

    def pixel_q(self, features: torch.Tensor) -> torch.Tensor:
        """Q^c of each cell for features [T, F]: [T, A, H', W']."""
        return self.pixel_control(features[:, None])[:, 0]

    def reward_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """The reward predictor's logits [1, 3] from k frames [k, ...] (the torso alone: no LSTM)."""
        return self.reward_prediction(self.agent.torso(frames).reshape(1, -1))
