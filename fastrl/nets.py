"""Networks: torsos that turn observations into features, heads that turn features into action values.

- ``NatureCNN``: the convolutional torso of Mnih et al. (2015) for stacked 84x84 uint8 frames (scaled to
  [0, 1] inside, so frames stay uint8 in replay and on the way in).
- ``MLP``: a ReLU multilayer perceptron for vector (or small grid) observations, flattened.
- ``QHead``: one linear layer to Q(s, .) ([B, A]), or to per-action logits over C51's atoms ([B, A, atoms]).
- ``DuelingHead``: value and advantage streams combined as V + A - mean_a A (Wang et al. 2016); with atoms,
  the combination acts on logits per atom, before the softmax over atoms (as Rainbow).

``QNetwork`` = torso + head; ``q_network(...)`` builds one from a ``DQNConfig``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NATURE_FEATURES = 512


class NatureCNN(nn.Module):
    """Conv 32x8x8/4, 64x4x4/2, 64x3x3/1, then a 512-unit layer; input [B, C, 84, 84] uint8 (or float)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(64 * 7 * 7, NATURE_FEATURES), nn.ReLU())
        self.out_features = NATURE_FEATURES

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0 if obs.dtype == torch.uint8 else obs
        return self.fc(self.convs(x))


class MLP(nn.Module):
    """Linear + ReLU layers of widths ``hidden`` on the flattened observation."""

    def __init__(self, observation_shape: tuple[int, ...], hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(observation_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.layers(obs.float())


class QHead(nn.Module):
    """Features -> Q values [B, A], or logits [B, A, atoms] when ``atoms`` is given."""

    def __init__(self, features: int, actions: int, atoms: int | None = None):
        super().__init__()
        self.actions, self.atoms = actions, atoms
        self.linear = nn.Linear(features, actions * (atoms or 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.linear(features)
        return out if self.atoms is None else out.view(-1, self.actions, self.atoms)


class DuelingHead(nn.Module):
    """Q = V + A - mean_a A; with ``atoms``, per atom on the logits ([B, A, atoms])."""

    def __init__(self, features: int, actions: int, atoms: int | None = None):
        super().__init__()
        self.actions, self.atoms = actions, atoms
        self.value = nn.Linear(features, atoms or 1)
        self.advantage = nn.Linear(features, actions * (atoms or 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        per_atom = self.atoms or 1
        value = self.value(features).view(-1, 1, per_atom)
        advantage = self.advantage(features).view(-1, self.actions, per_atom)
        out = dueling_combine(value, advantage)
        return out if self.atoms is not None else out.squeeze(-1)


def dueling_combine(value: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
    """V + A - mean over actions of A; ``value`` [B, 1, k], ``advantage`` [B, A, k] -> [B, A, k].

    Subtracting the mean makes V and A identifiable (any constant moved between them would otherwise
    give the same Q) while keeping the advantages' ranking, hence the greedy action.
    """
    return value + advantage - advantage.mean(dim=1, keepdim=True)


class QNetwork(nn.Module):
    """Torso + head. ``forward`` gives Q values [B, A] or, for C51, logits [B, A, atoms]."""

    def __init__(self, torso: nn.Module, head: nn.Module):
        super().__init__()
        self.torso, self.head = torso, head

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))


def q_network(observation_shape: tuple[int, ...], actions: int, *, network: str, hidden: tuple[int, ...],
              dueling: bool, atoms: int | None) -> QNetwork:
    """The Q network of a DQN variant: ``network`` "nature_cnn" or "mlp"; ``atoms`` None unless C51."""
    if network == "nature_cnn":
        torso = NatureCNN(observation_shape[0])
    elif network == "mlp":
        torso = MLP(observation_shape, hidden)
    else:
        raise ValueError(f"network {network!r}: expected 'nature_cnn' or 'mlp'")
    head_cls = DuelingHead if dueling else QHead
    return QNetwork(torso, head_cls(torso.out_features, actions, atoms))
