"""Networks: torsos that turn observations into features, heads that turn features into action values.

- ``NatureCNN``: the convolutional torso of Mnih et al. (2015) for stacked 84x84 uint8 frames (scaled to
  [0, 1] inside, so frames stay uint8 in replay and on the way in).
- ``MinAtarCNN``: the torso of MinAtar's own agents (Young & Tian 2019; kenjyoung/MinAtar examples/dqn.py and
  AC_lambda.py): one 16-filter 3x3 convolution and a 128-unit layer, a quarter of the Nature CNN's widths, for
  the [C, 10, 10] boolean boards.
- ``DataEfficientCNN``: the torso of data-efficient Rainbow (van Hasselt, Hessel & Aslanides 2019): two
  convolutions with 5x5 filters at stride 5 and a 256-unit layer, for the same stacked 84x84 uint8 frames.
- ``MLP``: a ReLU multilayer perceptron for vector (or small grid) observations, flattened.
- ``QHead``: one linear layer to Q(s, .) ([B, A]), or to per-action logits over C51's atoms ([B, A, atoms]).
- ``DuelingHead``: value and advantage streams combined as V + A - mean_a A (Wang et al. 2016); with atoms,
  the combination acts on logits per atom, before the softmax over atoms (as Rainbow).

- ``NoisyLinear``: a linear layer with factorised Gaussian noise on its weights (Fortunato et al. 2018), the
  NoisyNet exploration of the DQN family; ``q_network(..., noisy_sigma0=0.5)`` makes every linear layer one.

``QNetwork`` = torso + head; ``q_network(...)`` builds one from a ``DQNConfig``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NATURE_FEATURES = 512
DER_FEATURES = 256


class FramesCNN(nn.Module):
    """Convolutions, ReLU after each, then one fully connected ReLU layer of ``features`` units; input
    [B, C, 84, 84] uint8 frames (scaled to [0, 1] inside; float passes as is)."""

    def __init__(self, convs: list[nn.Conv2d], flat: int, features: int):
        super().__init__()
        layers: list[nn.Module] = []
        for conv in convs:
            layers += [conv, nn.ReLU()]
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(flat, features), nn.ReLU())
        self.out_features = features

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0 if obs.dtype == torch.uint8 else obs
        return self.fc(self.convs(x))


class NatureCNN(FramesCNN):
    """Conv 32x8x8/4, 64x4x4/2, 64x3x3/1, then a 512-unit layer; input [B, C, 84, 84] uint8 (or float)."""

    def __init__(self, in_channels: int):
        super().__init__([nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
                          nn.Conv2d(32, 64, kernel_size=4, stride=2),
                          nn.Conv2d(64, 64, kernel_size=3, stride=1)], 64 * 7 * 7, NATURE_FEATURES)


class DataEfficientCNN(FramesCNN):
    """Conv 32x5x5/5, 64x5x5/5 (84 -> 16 -> 3, no padding), then a 256-unit layer; input [B, C, 84, 84] uint8 (or
    float). Data-efficient Rainbow's network (van Hasselt et al. 2019; as Kaixhin/Rainbow's ``--architecture
    data-efficient --hidden-size 256``)."""

    def __init__(self, in_channels: int):
        super().__init__([nn.Conv2d(in_channels, 32, kernel_size=5, stride=5),
                          nn.Conv2d(32, 64, kernel_size=5, stride=5)], 64 * 3 * 3, DER_FEATURES)


MINATAR_FEATURES = 128


class MinAtarCNN(nn.Module):
    """Conv 16x3x3/1 (no padding), then a 128-unit layer, ReLU after each; input [B, C, H, W] (bool or float)."""

    def __init__(self, observation_shape: tuple[int, ...]):
        super().__init__()
        channels, height, width = observation_shape
        self.conv = nn.Sequential(nn.Conv2d(channels, 16, kernel_size=3, stride=1), nn.ReLU(), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(16 * (height - 2) * (width - 2), MINATAR_FEATURES), nn.ReLU())
        self.out_features = MINATAR_FEATURES

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(obs.float()))


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


def torso(network: str, observation_shape: tuple[int, ...], hidden: tuple[int, ...]) -> nn.Module:
    """The torso ``network`` names ("nature_cnn", "der", "minatar" or "mlp") for these observations."""
    if network == "nature_cnn":
        return NatureCNN(observation_shape[0])
    if network == "der":
        return DataEfficientCNN(observation_shape[0])
    if network == "minatar":
        return MinAtarCNN(observation_shape)
    if network == "mlp":
        return MLP(observation_shape, hidden)
    raise ValueError(f"network {network!r}: expected 'nature_cnn', 'der', 'minatar' or 'mlp'")


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


class NoisyLinear(nn.Module):
    """y = (μʷ + σʷ ⊙ εʷ) x + μᵇ + σᵇ ⊙ εᵇ with factorised Gaussian noise (Fortunato et al. 2018, section 3.2):
    εʷ_ij = f(ε_i) f(ε_j), εᵇ_j = f(ε_j), f(x) = sgn(x) √|x|, from p + q standard normal draws (ε_j of the q
    outputs, ε_i of the p inputs) instead of p·q + q. Initialized as the paper: μ ~ U(±1/√p), σ = σ0/√p.

    The noise stays fixed until ``reset_noise`` draws a new sample (the learner resamples per the paper: before
    every action, and independently for the online and target networks at every update). In eval mode (``eval()``)
    the layer is deterministic, the mean weights μ alone.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        self.register_buffer("noise_in", torch.zeros(in_features))    # f(ε_i)
        self.register_buffer("noise_out", torch.zeros(out_features))  # f(ε_j)

    @torch.no_grad()
    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        """New f(ε) vectors, as new tensors: a graph built on the old ones (a loss not yet backpropagated)
        keeps them."""
        for name in ("noise_in", "noise_out"):
            old = getattr(self, name)
            noise = torch.randn(old.shape, generator=generator, device=old.device)
            setattr(self, name, noise.sign() * noise.abs().sqrt())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return nn.functional.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.noise_out, self.noise_in)
        return nn.functional.linear(x, weight, self.bias_mu + self.bias_sigma * self.noise_out)


def make_noisy(module: nn.Module, sigma0: float) -> nn.Module:
    """``module`` with every ``nn.Linear`` inside replaced by a fresh ``NoisyLinear`` of the same shape."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, NoisyLinear(child.in_features, child.out_features, sigma0))
        else:
            make_noisy(child, sigma0)
    return module


def reset_noise(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Draw new noise in every ``NoisyLinear`` of ``module``."""
    for layer in module.modules():
        if isinstance(layer, NoisyLinear):
            layer.reset_noise(generator)


class QNetwork(nn.Module):
    """Torso + head. ``forward`` gives Q values [B, A] or, for C51, logits [B, A, atoms]."""

    def __init__(self, torso: nn.Module, head: nn.Module):
        super().__init__()
        self.torso, self.head = torso, head

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))


def q_network(observation_shape: tuple[int, ...], actions: int, *, network: str, hidden: tuple[int, ...],
              dueling: bool, atoms: int | None, noisy_sigma0: float | None = None) -> QNetwork:
    """The Q network of a DQN variant: ``network`` "nature_cnn", "der", "minatar" or "mlp" (``torso``); ``atoms`` None
    unless C51; ``noisy_sigma0``: every fully connected layer a ``NoisyLinear`` with this σ0 (NoisyNet), None:
    plain."""
    body = torso(network, observation_shape, hidden)
    head_cls = DuelingHead if dueling else QHead
    net = QNetwork(body, head_cls(body.out_features, actions, atoms))
    return net if noisy_sigma0 is None else make_noisy(net, noisy_sigma0)
