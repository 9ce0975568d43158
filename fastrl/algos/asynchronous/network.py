"""The network of the asynchronous actor-critics: a torso, an optional LSTM, and policy and value heads
(A3C FF and A3C LSTM, Mnih et al. 2016), or Q(s, ·) heads (async Q-learning). UNREAL (``fastrl.algos.unreal``)
builds its auxiliary heads on this one."""

from __future__ import annotations

import torch
from torch import nn

from fastrl.nets import MLP
from fastrl.nets import torso as make_torso


def per_step(module: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """``module`` on each of T steps of B envs: [T, B, ...] -> [T, B, F]."""
    steps, batch = obs.shape[:2]
    return module(obs.reshape(steps * batch, *obs.shape[2:])).view(steps, batch, -1)


class Network(nn.Module):
    """Torso [→ LSTM] → heads: policy logits and V(s) (A3C), or Q(s, ·) (Q-learning).

    ``forward(obs [T, B, ...], state)`` → ``(out [T, B, A], value [T, B] or None, state)``: T steps of B
    envs; ``state`` is the LSTM's (h, c), each [1, B, lstm_size], or None without an LSTM.

    An actor-critic on vector observations without an LSTM gives V(s) its own MLP, as fastrl's PPO does
    (frames and an LSTM keep the shared torso of the paper). Through one shared MLP, V's errors, which grow
    with the returns (CartPole's reach ~100 at γ 0.99), drove the layers the policy reads too: a3c-cartpole's
    greedy policy fell from 500 to 33-110 mid-run and one run ended at 302 (seed 1, three runs).
    """

    def __init__(self, observation_shape: tuple[int, ...], actions: int, *, torso: str, hidden: tuple[int, ...],
                 lstm_size: int, actor_critic: bool):
        super().__init__()
        self.torso = make_torso(torso, observation_shape, hidden)
        features = self.torso.out_features
        self.lstm = nn.LSTM(features, lstm_size) if lstm_size else None
        features = lstm_size or features
        self.head = nn.Linear(features, actions)  # policy logits, or Q
        self.value = nn.Linear(features, 1) if actor_critic else None
        self.value_torso = MLP(observation_shape, hidden) if actor_critic and torso == "mlp" and not lstm_size \
            else None
        if actor_critic:  # a near-uniform first policy, as common A3C implementations start
            nn.init.orthogonal_(self.head.weight, gain=0.01)
            nn.init.zeros_(self.head.bias)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.lstm is None:
            return None
        zeros = torch.zeros(1, batch, self.lstm.hidden_size)
        return zeros, zeros.clone()

    def core(self, obs: torch.Tensor, state=None) -> tuple[torch.Tensor, tuple | None]:
        """The torso [and LSTM] on T steps of B envs: features [T, B, F] (what the heads read) and the state."""
        x = per_step(self.torso, obs)
        if self.lstm is not None:
            x, state = self.lstm(x, state)
        return x, state

    def forward(self, obs: torch.Tensor, state=None):
        x, state = self.core(obs, state)
        out = self.head(x)
        if self.value is None:
            return out, None, state
        if self.value_torso is not None:
            x = per_step(self.value_torso, obs)
        return out, self.value(x).squeeze(-1), state
