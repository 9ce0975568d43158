"""The section of the asynchronous learners (A3C, async n-step and one-step Q-learning)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import ConfigError, require_int, require_number, require_widths

#: the asynchronous methods of Mnih et al. (2016): A3C, async n-step and one-step Q-learning
A3C_METHODS = ("a3c", "nstep_q", "onestep_q")


@dataclass(frozen=True)
class A3CConfig:
    """The asynchronous learners: A3C, async n-step and one-step Q-learning, and their Hogwild workers."""

    method: Literal["a3c", "nstep_q", "onestep_q"] = "a3c"
    """a3c: advantage actor-critic (Algorithm S3); nstep_q / onestep_q: async Q-learning (S2 / S1)"""
    workers: int = 16
    """actor-learner processes, each with one env and one torch thread"""
    t_max: int = 5
    """env steps each worker acts before it computes its gradients and updates the shared parameters"""
    gamma: float = 0.99
    """discount per env step"""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """shared-statistics optimizer: rmsprop (the paper's shared RMSProp) or adam (shared moments)"""
    lr: float = 7e-4
    """learning rate (at the start, where anneal_lr)"""
    anneal_lr: bool = True
    """fall linearly from lr to 0 over the run's total_env_steps (as the paper)"""
    rmsprop_alpha: float = 0.99
    """RMSProp: smoothing constant of the shared squared-gradient average"""
    optim_eps: float = 0.1
    """RMSProp: epsilon inside the square root, sqrt(g + eps) (the paper's 0.1); Adam: added to sqrt(v)"""
    entropy_coef: float = 0.01
    """A3C: weight β of the policy's entropy bonus"""
    value_coef: float = 0.5
    """A3C: weight of the value loss (R − V)² against the policy loss"""
    max_grad_norm: float = 40.0
    """clip each worker's gradient to this global L2 norm before its update (0 = no clipping)"""
    network: Literal["auto", "mlp", "nature_cnn"] = "auto"
    """torso: nature_cnn for stacked 84x84 frames, mlp for vectors; auto picks by the observation's shape"""
    hidden: tuple[int, ...] = (256,)
    """MLP torso: hidden layer widths"""
    lstm: bool = False
    """A3C: an LSTM after the torso (the paper's A3C LSTM); its state is reset at episode ends"""
    lstm_size: int = 256
    """A3C with --lstm: LSTM cells"""
    target_period: int = 40_000
    """Q-learning: global env steps between copies of the shared parameters into the shared target network"""
    epsilon_start: float = 1.0
    """Q-learning: epsilon of every worker at T = 0"""
    epsilon_decay_steps: int = 1_000_000
    """Q-learning: global env steps over which each worker's epsilon falls linearly to its final value
    (drawn once per worker from 0.1, 0.01, 0.5 with probabilities 0.4, 0.3, 0.3, as the paper)"""
    eval_epsilon: float = 0.0
    """epsilon of the evaluated policy (0 = greedy: argmax of the policy's logits or of Q)"""
    max_restarts: int = 3
    """worker or evaluator deaths that are restarted; the next one stops the run with an error"""
    start_method: Literal["forkserver", "spawn"] = "forkserver"
    """how worker processes start: forkserver (imports paid once, fast restarts) or spawn"""

    def __post_init__(self):
        if self.method not in A3C_METHODS:
            raise ConfigError(f"--method {self.method!r}: expected one of {', '.join(A3C_METHODS)}")
        require_int(self, "workers", least=1)
        require_int(self, "t_max", least=1)
        require_number(self, "gamma", low=0.0, high=1.0)
        require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        for name in ("optim_eps", "entropy_coef", "value_coef", "max_grad_norm"):
            require_number(self, name, low=0.0)
        require_widths(self.hidden)
        require_int(self, "lstm_size", least=1)
        require_int(self, "target_period", least=1)
        for name in ("epsilon_start", "eval_epsilon"):
            require_number(self, name, low=0.0, high=1.0)
        require_int(self, "epsilon_decay_steps", least=0)
        require_int(self, "max_restarts", least=0)
        if self.lstm and self.method != "a3c":
            raise ConfigError(f"--lstm with --method {self.method}: the LSTM network is for A3C (as in the paper); "
                              f"Q-learning here is feed-forward")
        if self.optimizer == "rmsprop" and self.optim_eps == 0:
            raise ConfigError("--optim-eps 0 with RMSProp: sqrt(g + eps) would divide by zero where g is 0; "
                              "expected eps > 0 (the paper's 0.1)")

    @property
    def family(self) -> str:
        return "a3c" if self.method == "a3c" else "q"
