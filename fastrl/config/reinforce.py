"""The REINFORCE section: Monte-Carlo policy gradient, with or without a learned baseline."""

from __future__ import annotations

from dataclasses import dataclass

from fastrl.config.fields import require_int, require_number, require_widths


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE (Williams 1992): the policy gradient of whole episodes' Monte-Carlo returns, optionally less a
    learned state-value baseline (Sutton & Barto, section 13.4)."""

    gamma: float = 0.99
    """discount per env step of the Monte-Carlo return G_t"""
    episodes_per_update: int = 8
    """complete episodes (over all envs) per gradient step"""
    baseline: bool = False
    """learn V(s) by regression on G_t and weight each step's log-probability by G_t - V(s_t) instead of G_t"""
    lr: float = 1e-3
    """learning rate of the policy (Adam)"""
    baseline_lr: float = 1e-3
    """learning rate of the baseline V(s) (Adam)"""
    optim_eps: float = 1e-8
    """epsilon of Adam (added to the denominator)"""
    max_grad_norm: float = 0.0
    """clip the policy's and the baseline's global gradient norm to this (0 = no clipping)"""
    horizon: int = 1_000
    """steps kept per env: the longest episode it learns from (a longer one stops the run with an error)"""
    hidden: tuple[int, ...] = (64,)
    """hidden layer widths of the policy's MLP and of the baseline's"""
    eval_deterministic: bool = True
    """evaluate the most likely action (else a sample of the policy)"""

    def __post_init__(self):
        require_number(self, "gamma", low=0.0, high=1.0)
        require_int(self, "episodes_per_update", least=1)
        for name in ("lr", "baseline_lr"):
            require_number(self, name, low=0.0, low_open=True, what="the learning rate must be > 0")
        for name in ("optim_eps", "max_grad_norm"):
            require_number(self, name, low=0.0)
        require_int(self, "horizon", least=2)
        require_widths(self.hidden)
