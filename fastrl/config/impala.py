"""The IMPALA section: actor processes, the learner's batches and V-trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import ConfigError, require_int, require_number, require_widths


@dataclass(frozen=True)
class ImpalaConfig:
    """IMPALA (Espeholt et al. 2018): actor processes act with the parameters as they last read them and queue
    their unrolls; the learner corrects their policy lag with V-trace."""

    actors: int = 2
    """actor processes, each with its own envs (--num-envs of them) and one torch thread"""
    unroll: int = 20
    """env steps per env in one unroll (the paper's 20)"""
    batch_unrolls: int = 2
    """unrolls per gradient update (the batch: batch_unrolls x num_envs trajectories of `unroll` steps)"""
    slots_per_actor: int = 2
    """unroll buffers per actor: an actor fills the next while the learner reads the last"""
    gamma: float = 0.99
    """discount per env step"""
    clip_rho: float = 1.0
    """V-trace: the importance weights of the value targets are clipped at this (rho-bar)"""
    clip_pg_rho: float = 1.0
    """V-trace: the importance weights of the policy gradient are clipped at this"""
    vtrace_lambda: float = 1.0
    """V-trace: lambda of the traces c_t = lambda * min(1, rho_t)"""
    correction: Literal["vtrace", "none"] = "vtrace"
    """vtrace: correct the actors' policy lag with V-trace (the paper); none: take the actors' data as the
    learner's own (rho = c = 1, the importance weights dropped: the n-step on-policy actor-critic targets of A2C,
    on lagged data), the baseline V-trace is measured against"""
    lr: float = 6e-4
    """learning rate of RMSProp (at the start, where anneal_lr)"""
    anneal_lr: bool = True
    """fall linearly from lr to 0 over the run's env steps (as the paper)"""
    rmsprop_alpha: float = 0.99
    """RMSProp: smoothing constant of the squared-gradient average"""
    optim_eps: float = 0.01
    """RMSProp: epsilon (the paper's 0.01)"""
    entropy_coef: float = 0.01
    """weight of the entropy bonus"""
    value_coef: float = 0.5
    """weight of the value (baseline) loss"""
    max_grad_norm: float = 40.0
    """clip the global gradient norm to this (0 = no clipping)"""
    network: Literal["auto", "mlp", "nature_cnn"] = "auto"
    """torso: nature_cnn for stacked 84x84 frames, mlp for vectors; auto picks by the observation's shape"""
    hidden: tuple[int, ...] = (64,)
    """MLP torso: hidden layer widths"""
    eval_deterministic: bool = True
    """evaluate the most likely action (else a sample of the policy)"""
    start_method: Literal["forkserver", "spawn"] = "forkserver"
    """how actor processes start"""

    def __post_init__(self):
        if self.correction not in ("vtrace", "none"):
            raise ConfigError(f"--correction {self.correction!r}: expected vtrace or none")
        for name in ("actors", "unroll", "batch_unrolls", "slots_per_actor"):
            require_int(self, name, least=1)
        require_number(self, "gamma", low=0.0, high=1.0)
        for name in ("clip_rho", "clip_pg_rho", "lr"):
            require_number(self, name, low=0.0, low_open=True)
        require_number(self, "vtrace_lambda", low=0.0, high=1.0)
        require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        for name in ("optim_eps", "entropy_coef", "value_coef", "max_grad_norm"):
            require_number(self, name, low=0.0)
        require_widths(self.hidden)
        if self.batch_unrolls > self.actors * self.slots_per_actor:
            raise ConfigError(f"--batch-unrolls {self.batch_unrolls}: the actors hold only --actors {self.actors} x "
                              f"--slots-per-actor {self.slots_per_actor} unrolls at once; expected at most that")
