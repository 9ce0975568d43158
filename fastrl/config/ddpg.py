"""The section of the deterministic-policy-gradient learners (DDPG, TD3, D4PG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import (
    require_int,
    require_number,
    require_replay_schedule,
    require_support,
    require_widths,
)

#: the deterministic-policy-gradient learners, one family whose variant is the algo word (fastrl train td3)
DDPG_VARIANTS = ("ddpg", "td3", "d4pg")


@dataclass(frozen=True)
class DDPGConfig:
    """DDPG (Lillicrap et al. 2015), TD3 (Fujimoto et al. 2018) and D4PG (Barth-Maron et al. 2018) as one
    learner. The variant is the algo word (fastrl train ddpg | td3 | d4pg); fields marked TD3: or D4PG: are read
    by that variant only; n-step returns and prioritized replay are the replay's (--n-step, --prioritized). The
    defaults are Fujimoto et al.'s TD3 settings."""

    gamma: float = 0.99
    """discount per env step"""
    batch_size: int = 256
    """transitions per gradient update"""
    replay_ratio: float = 1.0
    """critic updates per env step, the update-to-data ratio (1 = one update per transition, as the papers)"""
    learning_starts: int = 25_000
    """env steps of uniformly random actions collected before the first update and the first policy action"""
    actor_lr: float = 3e-4
    """learning rate of the actor (Adam)"""
    critic_lr: float = 3e-4
    """learning rate of the critic(s) (Adam)"""
    optim_eps: float = 1e-8
    """epsilon of Adam (added to the denominator)"""
    max_grad_norm: float = 0.0
    """clip the actor's and the critic's global gradient norms to this (0 = no clipping)"""
    target_update: Literal["polyak", "hard"] = "polyak"
    """target networks: Polyak averaging after each actor update, or a hard copy every target_period updates"""
    tau: float = 0.005
    """Polyak target update: target <- tau * online + (1 - tau) * target"""
    target_period: int = 100
    """hard target update: critic updates between copies (D4PG's 100)"""
    exploration: Literal["gaussian", "ou"] = "gaussian"
    """exploration noise added to the policy's action: independent Gaussian, or Ornstein-Uhlenbeck (per env,
    restarted at episode ends; DDPG's original)"""
    exploration_noise: float = 0.1
    """standard deviation of the exploration noise, in half-ranges of the action space ((high - low) / 2)"""
    ou_theta: float = 0.15
    """Ornstein-Uhlenbeck noise: its pull towards 0 per env step (x <- x - theta * x + sigma * N(0, 1))"""
    policy_delay: int = 2
    """TD3: critic updates per actor (and target) update"""
    target_noise: float = 0.2
    """TD3: standard deviation of the target-policy smoothing noise, in half-ranges (0 = no smoothing)"""
    target_noise_clip: float = 0.5
    """TD3: the smoothing noise is clipped to ± this, in half-ranges"""
    atoms: int = 51
    """D4PG: atoms of the critic's categorical support"""
    v_min: float = -150.0
    """D4PG: lowest value of the support (cover the env's discounted returns)"""
    v_max: float = 150.0
    """D4PG: highest value of the support"""
    normalize_observations: bool = False
    """standardize observations by running statistics of every observation collected (the replay keeps them
    raw; the networks see them standardized by the current statistics)"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden layer widths of the actor's and of each critic's MLP"""

    def __post_init__(self):
        require_replay_schedule(self)
        for name in ("actor_lr", "critic_lr"):
            require_number(self, name, low=0.0, low_open=True, what="the learning rate must be > 0")
        for name in ("optim_eps", "max_grad_norm", "exploration_noise", "target_noise", "target_noise_clip"):
            require_number(self, name, low=0.0)
        require_number(self, "tau", low=0.0, high=1.0, low_open=True)
        require_int(self, "target_period", least=1)
        require_number(self, "ou_theta", low=0.0, high=1.0)
        require_int(self, "policy_delay", least=1)
        require_support(self, "D4PG")
        require_widths(self.hidden)
