"""The PPO / A2C section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import ConfigError, require, require_int, require_number, require_widths


@dataclass(frozen=True)
class PPOConfig:
    """PPO (clipped surrogate, Schulman et al. 2017) and A2C (Mnih et al. 2016) as configuration of one
    learner: A2C is one epoch of one minibatch, no clipping, RMSProp (see the a2c-atari preset)."""

    num_steps: int = 128
    """env steps per env in one rollout (the rollout holds num_steps x num_envs transitions)"""
    gamma: float = 0.99
    """discount per env step"""
    gae_lambda: float = 0.95
    """GAE's lambda: 1 = Monte Carlo returns bootstrapped at the rollout's end, 0 = one-step TD"""
    epochs: int = 4
    """passes over each rollout"""
    minibatches: int = 4
    """minibatches per epoch (the rollout's transitions split evenly; 1 = the whole rollout at once)"""
    clip_coef: float = 0.1
    """PPO's clip range of the probability ratio, 1 ± clip_coef (0 = no clipping: the plain policy
    gradient of A2C)"""
    clip_value_loss: bool = True
    """clip the value update to old value ± clip_coef as well (PPO2's value clipping)"""
    value_coef: float = 0.5
    """weight of the value loss"""
    entropy_coef: float = 0.01
    """weight of the entropy bonus"""
    normalize_advantages: bool = True
    """standardize the advantages within each minibatch"""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """optimizer"""
    lr: float = 2.5e-4
    """learning rate (at the start, where anneal_lr)"""
    anneal_lr: bool = True
    """fall linearly from lr to 0 over the run's updates"""
    optim_eps: float = 1e-5
    """epsilon of Adam / RMSProp (added to the denominator)"""
    rmsprop_alpha: float = 0.99
    """RMSProp: smoothing constant of the squared-gradient average"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this (0 = no clipping)"""
    target_kl: float | None = None
    """stop a rollout's epochs early once the approximate KL to the collecting policy exceeds this (None:
    always run every epoch)"""
    normalize_observations: bool = False
    """standardize vector observations by running statistics (updated after each rollout's update)"""
    normalize_rewards: bool = False
    """scale rewards by the running standard deviation of the discounted return (as gymnasium's
    NormalizeReward), clipped to ±10"""
    init_log_std: float = 0.0
    """continuous actions: initial log standard deviation of the diagonal Gaussian policy"""
    async_envs: bool = False
    """collect with half the envs stepping while the policy acts for the other half (envpool / ale async
    mode, batch_size = num_envs / 2); the transitions are those of sync collection"""
    act_threads: int = 0
    """CPU threads of torch while a rollout is collected (0: the run's torch_threads, as the update): with
    async envs, 1 leaves the other cores to the env threads that step one half while the policy acts for the
    other, and the update after it still gets all of torch_threads"""
    update_threads: int = 0
    """CPU threads of torch for the update's minibatch steps. 0: chosen as the run goes between 1 and the run's
    torch_threads, whichever has run the recent steps faster (``fastrl.adaptive_threads``): on idle cores more
    threads win, but when another process takes a core, a multi-thread step waits for the thread that lost it
    at every barrier. The choice follows the machine's load, so two runs may then differ in the last bits;
    a fixed count keeps a run bit for bit reproducible"""
    eval_deterministic: bool = True
    """evaluate with the most likely action (argmax, or the Gaussian's mean) instead of a sample"""
    network: Literal["auto", "mlp", "nature_cnn", "minatar"] = "auto"
    """torso: nature_cnn (shared by policy and value) for stacked frames, minatar (MinAtar's conv 16x3x3 and
    128 units, shared) for MinAtar's [C, 10, 10] boards, mlp (one for each) for vectors;
    auto picks by the observation's shape"""
    hidden: tuple[int, ...] = (64, 64)
    """MLP torsos: hidden layer widths"""
    bf16: Literal["auto"] | bool = "auto"
    """run the network's forward passes under bfloat16 autocast (weights, optimizer and losses stay float32);
    auto: where the device computes bf16 natively (AVX-512 BF16 or AMX on the CPU, a GPU from Ampere on) and
    the torso is the Nature CNN (fastrl.hardware says why; the run's meta.json records the choice)"""
    channels_last: Literal["auto"] | bool = "auto"
    """keep the Nature CNN's weights and inputs in channels-last memory layout; auto: with bf16"""
    compile: Literal["auto"] | bool = "auto"
    """run the minibatch loss (forward, log-probabilities, losses; and so its backward) through torch.compile;
    the first update compiles it. auto: off (measured slower than eager on the CPU; not yet measured on a GPU)"""

    def __post_init__(self):
        require_int(self, "num_steps", least=1)
        require_number(self, "gamma", low=0.0, high=1.0)
        require_number(self, "gae_lambda", low=0.0, high=1.0)
        require_int(self, "act_threads", least=0)
        require_int(self, "update_threads", least=0)
        for name in ("bf16", "channels_last", "compile"):
            value = getattr(self, name)
            require(value == "auto" or isinstance(value, bool), name, value, "auto, True or False")
        require_int(self, "epochs", least=1)
        require_int(self, "minibatches", least=1)
        require_number(self, "clip_coef", low=0.0)
        for name in ("value_coef", "entropy_coef", "optim_eps", "max_grad_norm"):
            require_number(self, name, low=0.0)
        require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        if self.target_kl is not None:
            require_number(self, "target_kl", low=0.0, low_open=True)
        require_number(self, "init_log_std", low=-20.0, high=2.0)
        if self.clip_value_loss and self.clip_coef == 0:
            raise ConfigError("--clip-value-loss needs --clip-coef > 0 (the value update is clipped to old "
                              "value ± clip_coef); add --no-clip-value-loss")
        require_widths(self.hidden)
