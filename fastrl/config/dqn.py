"""The DQN section: the learner and its variants (double, dueling, C51), its optimizer and exploration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import (
    ConfigError,
    require,
    require_int,
    require_number,
    require_replay_schedule,
    require_support,
    require_widths,
)


@dataclass(frozen=True)
class DQNConfig:
    """The DQN learner and its variants (double, dueling, C51, target updates, optimizer, exploration)."""

    gamma: float = 0.99
    """discount per env step"""
    batch_size: int = 32
    """transitions per gradient update"""
    replay_ratio: float = 0.25
    """gradient updates per env step (0.25 = one update every 4 env steps, as in Nature DQN)"""
    learning_starts: int = 50_000
    """env steps of experience collected before the first update"""
    double: bool = False
    """double Q-learning: the online network picks the next action, the target network values it"""
    dueling: bool = False
    """dueling head: Q = V + A - mean(A)"""
    distributional: bool = False
    """C51: learn a categorical return distribution on a fixed support instead of its mean"""
    atoms: int = 51
    """C51: atoms of the support"""
    v_min: float = -10.0
    """C51: lowest value of the support"""
    v_max: float = 10.0
    """C51: highest value of the support"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss (ignored by C51, whose loss is the cross-entropy to the projected target)"""
    huber_kappa: float = 1.0
    """Huber loss: |TD| beyond which the loss grows linearly"""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """optimizer"""
    lr: float = 1e-4
    """learning rate (at the start, where anneal_lr)"""
    anneal_lr: bool = False
    """fall linearly from lr to 0 over the run's gradient updates"""
    optim_eps: float = 1.5e-4
    """epsilon of Adam / RMSProp (added to the denominator)"""
    rmsprop_alpha: float = 0.95
    """RMSProp: smoothing constant of the squared-gradient average"""
    rmsprop_centered: bool = True
    """RMSProp: normalize by the gradient's variance instead of its second moment (as Nature DQN)"""
    max_grad_norm: float = 10.0
    """clip the global gradient norm to this (0 = no clipping)"""
    target_update: Literal["hard", "polyak"] = "hard"
    """target network: hard copy every target_period updates, or Polyak averaging after every update"""
    target_period: int = 2_000
    """hard target update: gradient updates between copies"""
    tau: float = 0.005
    """Polyak target update: target <- tau * online + (1 - tau) * target"""
    exploration: Literal["epsilon", "noisy"] = "epsilon"
    """epsilon: epsilon-greedy on Q (the fields below); noisy: NoisyNet (Fortunato et al. 2018): every fully
    connected layer has factorised Gaussian noise on its weights, resampled before every action, and the
    behaviour policy is greedy on the noisy network (the epsilon fields are not read in training)"""
    noisy_sigma0: float = 0.5
    """NoisyNet: initial noise scale sigma0 (each layer's sigma starts at sigma0 / sqrt(inputs))"""
    epsilon_start: float = 1.0
    """epsilon-greedy exploration: epsilon at the first env step"""
    epsilon_end: float = 0.01
    """epsilon-greedy exploration: epsilon after epsilon_decay_steps"""
    epsilon_decay_steps: int = 250_000
    """env steps over which epsilon falls linearly from epsilon_start to epsilon_end"""
    eval_epsilon: float = 0.0
    """epsilon of the evaluation policy (0 = greedy)"""
    network: Literal["auto", "mlp", "nature_cnn", "der", "minatar"] = "auto"
    """torso: nature_cnn for stacked frames, der (data-efficient Rainbow's conv 32x5x5/5, 64x5x5/5 and 256 units)
    for the same frames, mlp for vectors, minatar (MinAtar's conv 16x3x3 and 128 units) for MinAtar's
    [C, 10, 10] boards; auto picks nature_cnn or mlp by the observation's shape"""
    hidden: tuple[int, ...] = (256, 256)
    """MLP torso: hidden layer widths (none: Q is linear in the observation)"""
    fused_update: Literal["auto"] | bool = "auto"
    """act and update through one compiled CPU kernel each (fastrl.ops.mlp_q) instead of eager torch: for an
    MLP Q network without dueling or C51 head, trained with Adam on the CPU. auto: where that measures faster
    at the start of the run (small networks and batches)"""

    def __post_init__(self):
        require_replay_schedule(self)
        require_support(self, "C51")
        require_number(self, "huber_kappa", low=0.0, low_open=True)
        require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        require_number(self, "optim_eps", low=0.0)
        require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        require_number(self, "max_grad_norm", low=0.0)
        require_int(self, "target_period", least=1)
        require_number(self, "tau", low=0.0, high=1.0, low_open=True)
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            require_number(self, name, low=0.0, high=1.0)
        require_int(self, "epsilon_decay_steps", least=0)
        if self.exploration not in ("epsilon", "noisy"):
            raise ConfigError(f"--exploration {self.exploration!r}: expected epsilon or noisy")
        require_number(self, "noisy_sigma0", low=0.0, low_open=True)
        require_widths(self.hidden)
        require(self.fused_update == "auto" or isinstance(self.fused_update, bool), "fused_update",
                self.fused_update, "auto, True or False")
