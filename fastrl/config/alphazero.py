"""The AlphaZero section: self-play search, the replay of (s, π, z), the network and its loss, the matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import ConfigError, require_int, require_number, require_widths


@dataclass(frozen=True)
class AlphaZeroConfig:
    """AlphaZero (Silver et al. 2018): PUCT search guided by (p, v) = f_θ(s) plays both sides of num_envs games
    at once; the network learns l = (z − v)² − πᵀ log p + c‖θ‖² from a replay of (s, π, z)."""

    simulations: int = 32
    """search simulations per self-play move"""
    c_puct: float = 1.5
    """exploration constant of the PUCT rule Q + c_puct P √N(s) / (1 + N(s, a))"""
    dirichlet_alpha: float = 1.0
    """concentration of the Dirichlet noise on the root prior (AlphaZero: 0.3 for chess's ~30 legal moves,
    0.03 for Go's ~250; Connect Four has at most 7)"""
    noise_fraction: float = 0.25
    """ε of the root prior (1 − ε) P + ε η"""
    temperature_moves: int = 8
    """the first moves of each game are sampled from the visit counts (τ = 1), the later ones are the most
    visited (τ → 0)"""
    replay_capacity: int = 100_000
    """positions (s, π, z) kept, the oldest overwritten"""
    batch_size: int = 256
    """positions per gradient step"""
    replay_ratio: float = 2.0
    """positions sampled for training per self-play position stored (gradient steps = stored x ratio /
    batch_size)"""
    learning_starts: int = 1_000
    """positions stored before the first gradient step"""
    mirror: bool = True
    """train on each sampled position or its left-right mirror image (a symmetry of the game), drawn at random"""
    lr: float = 1e-3
    """Adam's learning rate"""
    weight_decay: float = 1e-4
    """c of the loss's c‖θ‖² (over every parameter)"""
    network: Literal["mlp", "resnet"] = "mlp"
    """f_θ's torso: mlp over the flattened board planes, or resnet (AlphaZero's residual tower, smaller)"""
    hidden: tuple[int, ...] = (256, 256)
    """mlp: hidden layer widths"""
    channels: int = 64
    """resnet: channels of every convolution"""
    blocks: int = 4
    """resnet: residual blocks"""
    eval_simulations: int = 32
    """search simulations per move of the evaluated agent (evaluations and matches; no noise, most visited move)"""
    match_games: int = 100
    """games of each match against the fixed opponents (half with the agent moving first)"""
    rollout_simulations: tuple[int, ...] = (50,)
    """the pure-MCTS opponents (uniform prior, value of one random playout): their simulations per move"""
    match_interval: int = 0
    """env steps between matches (0 = at the end only); their win rates and confidence intervals land in the
    metrics row logged next"""

    def __post_init__(self):
        for name in ("simulations", "eval_simulations", "batch_size", "replay_capacity", "channels", "blocks"):
            require_int(self, name, least=1)
        for name in ("temperature_moves", "learning_starts", "match_games", "match_interval"):
            require_int(self, name, least=0)
        require_number(self, "c_puct", low=0.0, low_open=True)
        require_number(self, "dirichlet_alpha", low=0.0, low_open=True)
        require_number(self, "noise_fraction", low=0.0, high=1.0)
        require_number(self, "replay_ratio", low=0.0, low_open=True)
        require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        require_number(self, "weight_decay", low=0.0)
        require_widths(self.hidden)
        for n in self.rollout_simulations:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"--rollout-simulations: {n!r}; expected positive integers")
        if self.batch_size > self.replay_capacity:
            raise ConfigError(f"--batch-size {self.batch_size} is above --replay-capacity {self.replay_capacity}; "
                              f"expected a batch the replay can hold")
