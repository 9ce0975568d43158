"""Typed run configuration: one frozen dataclass per part, named presets, and the checks that run first.

A run is described by one ``RunConfig`` holding an ``EnvConfig`` and one section per learner family
(``DQNConfig`` with its ``ReplayConfig``, ``PPOConfig``, ``A3CConfig``, ``DDPGConfig``, whose variant is
the algo word ``ddpg``, ``td3`` or ``d4pg``); ``RunConfig.algo`` says which family trains, and ``ALGO_FIELDS``
which sections configure it (the others are ignored). Every field carries a docstring: ``fastrl train <algo>
--help`` lists that family's (tyro reads the docstrings), and the resolved config is written as JSON into
every run directory.

A learner family plugs in here with its section (a frozen dataclass, a ``RunConfig`` field), its entry in
``ALGO_FIELDS``, its checks that span parts (``_RUN_CHECKS``), its check against the env's spaces
(``_ENV_CHECKS``), its ``_NESTED`` entry (for ``from_dict``) and its presets (``PRESETS``, with ``algo`` set).

Bad values are refused before anything starts, in two stages:

- ``__post_init__`` of each dataclass checks each field on its own and the fields of one part together
  (``v_min < v_max``); ``RunConfig`` adds what spans parts, per family (``learning_starts >= batch_size``);
- ``check_fits_env(config, observation_space, action_space)`` checks the config against the env it will
  train on (DQN needs a discrete action space; PPO a Discrete or a bounded Box one; the Nature CNN needs
  stacked 84x84 frames).

Every error is a ``ConfigError`` (a ``ValueError``) naming the field as its CLI flag spells it, the value
given and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field, the value and what was expected."""


# ---------------------------------------------------------------------------------------------------------
# The parts
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvConfig:
    """Which environment to train on and how many copies step together."""

    id: Annotated[str, tyro.conf.arg(name="env")] = "CartPole-v1"
    """env id for make_env: CartPole-v1, Catch-v0 (native), Pong-v5 and the other Atari ids (envpool), ..."""
    num_envs: int = 8
    """envs stepped together; each env step of the run counts num_envs env steps"""
    backend: str = "auto"
    """make_env backend: auto, envpool, ale, gymnasium, native"""
    options: tuple[str, ...] = ()
    """make_env options as KEY=VALUE (values are read as JSON where they parse, else as text), e.g.
    episodic_life=true reward_clip=true"""

    def __post_init__(self):
        _require(bool(self.id), "env", self.id, "a non-empty env id")
        _require_int(self, "num_envs", least=1)
        self.make_options()  # parse now, so a malformed option fails before anything starts

    def make_options(self) -> dict[str, Any]:
        """``options`` as keyword arguments for ``make_env``."""
        out: dict[str, Any] = {}
        for item in self.options:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--options {item!r}: expected KEY=VALUE, e.g. episodic_life=true")
            try:
                out[key] = json.loads(text)
            except json.JSONDecodeError:
                out[key] = text
        return out


@dataclass(frozen=True)
class ReplayConfig:
    """The replay memory: its size, how it is sampled and what one stored transition spans."""

    capacity: int = 100_000
    """transitions kept (the oldest are overwritten)"""
    n_step: int = 1
    """steps summed into one transition's return before bootstrapping (1 = one-step Q-learning)"""
    prioritized: bool = False
    """sample in proportion to priority^alpha (prioritized replay, Schaul et al. 2016) instead of uniformly"""
    alpha: float = 0.5
    """prioritized replay: how strongly priorities shape sampling (0 = uniform)"""
    beta_start: float = 0.4
    """prioritized replay: importance-sampling exponent at the start, annealed linearly to beta_end"""
    beta_end: float = 1.0
    """prioritized replay: importance-sampling exponent reached at the end of the run"""
    priority_eps: float = 1e-6
    """prioritized replay: added to |TD| so that no transition gets priority 0"""
    save_with_checkpoint: bool = False
    """also write the replay memory into each checkpoint (needed for an exact resume; can be large)"""

    def __post_init__(self):
        _require_int(self, "capacity", least=1)
        _require_int(self, "n_step", least=1)
        _require_number(self, "alpha", low=0.0, high=1.0)
        _require_number(self, "beta_start", low=0.0, high=1.0)
        _require_number(self, "beta_end", low=0.0, high=1.0)
        _require_number(self, "priority_eps", low=0.0, low_open=True)


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
    epsilon_start: float = 1.0
    """epsilon-greedy exploration: epsilon at the first env step"""
    epsilon_end: float = 0.01
    """epsilon-greedy exploration: epsilon after epsilon_decay_steps"""
    epsilon_decay_steps: int = 250_000
    """env steps over which epsilon falls linearly from epsilon_start to epsilon_end"""
    eval_epsilon: float = 0.0
    """epsilon of the evaluation policy (0 = greedy)"""
    network: Literal["auto", "mlp", "nature_cnn"] = "auto"
    """torso: nature_cnn for stacked frames, mlp for vectors; auto picks by the observation's shape"""
    hidden: tuple[int, ...] = (256, 256)
    """MLP torso: hidden layer widths (none: Q is linear in the observation)"""

    def __post_init__(self):
        _require_number(self, "gamma", low=0.0, high=1.0)
        _require_int(self, "batch_size", least=1)
        _require_number(self, "replay_ratio", low=0.0, low_open=True)
        _require_int(self, "learning_starts", least=0)
        _require_int(self, "atoms", least=2)
        _require_number(self, "v_min")
        _require_number(self, "v_max")
        if not self.v_min < self.v_max:
            raise ConfigError(f"--v-min {self.v_min} --v-max {self.v_max}: the C51 support needs v_min < v_max")
        _require_number(self, "huber_kappa", low=0.0, low_open=True)
        _require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        _require_number(self, "optim_eps", low=0.0)
        _require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        _require_number(self, "max_grad_norm", low=0.0)
        _require_int(self, "target_period", least=1)
        _require_number(self, "tau", low=0.0, high=1.0, low_open=True)
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            _require_number(self, name, low=0.0, high=1.0)
        _require_int(self, "epsilon_decay_steps", least=0)
        _require_widths(self.hidden)


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
    eval_deterministic: bool = True
    """evaluate with the most likely action (argmax, or the Gaussian's mean) instead of a sample"""
    network: Literal["auto", "mlp", "nature_cnn"] = "auto"
    """torso: nature_cnn (shared by policy and value) for stacked frames, mlp (one for each) for vectors;
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
        _require_int(self, "num_steps", least=1)
        _require_number(self, "gamma", low=0.0, high=1.0)
        _require_number(self, "gae_lambda", low=0.0, high=1.0)
        _require_int(self, "act_threads", least=0)
        for name in ("bf16", "channels_last", "compile"):
            value = getattr(self, name)
            _require(value == "auto" or isinstance(value, bool), name, value, "auto, True or False")
        _require_int(self, "epochs", least=1)
        _require_int(self, "minibatches", least=1)
        _require_number(self, "clip_coef", low=0.0)
        for name in ("value_coef", "entropy_coef", "optim_eps", "max_grad_norm"):
            _require_number(self, name, low=0.0)
        _require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        _require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        if self.target_kl is not None:
            _require_number(self, "target_kl", low=0.0, low_open=True)
        _require_number(self, "init_log_std", low=-20.0, high=2.0)
        if self.clip_value_loss and self.clip_coef == 0:
            raise ConfigError("--clip-value-loss needs --clip-coef > 0 (the value update is clipped to old "
                              "value ± clip_coef); add --no-clip-value-loss")
        _require_widths(self.hidden)


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
        _require_int(self, "workers", least=1)
        _require_int(self, "t_max", least=1)
        _require_number(self, "gamma", low=0.0, high=1.0)
        _require_number(self, "lr", low=0.0, low_open=True, what="the learning rate must be > 0")
        _require_number(self, "rmsprop_alpha", low=0.0, high=1.0)
        for name in ("optim_eps", "entropy_coef", "value_coef", "max_grad_norm"):
            _require_number(self, name, low=0.0)
        _require_widths(self.hidden)
        _require_int(self, "lstm_size", least=1)
        _require_int(self, "target_period", least=1)
        for name in ("epsilon_start", "eval_epsilon"):
            _require_number(self, name, low=0.0, high=1.0)
        _require_int(self, "epsilon_decay_steps", least=0)
        _require_int(self, "max_restarts", least=0)
        if self.lstm and self.method != "a3c":
            raise ConfigError(f"--lstm with --method {self.method}: the LSTM network is for A3C (as in the paper); "
                              f"Q-learning here is feed-forward")
        if self.optimizer == "rmsprop" and self.optim_eps == 0:
            raise ConfigError("--optim-eps 0 with RMSProp: sqrt(g + eps) would divide by zero where g is 0; "
                              "expected eps > 0 (the paper's 0.1)")

    @property
    def family(self) -> str:
        return "a3c" if self.method == "a3c" else "q"


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
        _require_number(self, "gamma", low=0.0, high=1.0)
        _require_int(self, "batch_size", least=1)
        _require_number(self, "replay_ratio", low=0.0, low_open=True)
        _require_int(self, "learning_starts", least=0)
        for name in ("actor_lr", "critic_lr"):
            _require_number(self, name, low=0.0, low_open=True, what="the learning rate must be > 0")
        for name in ("optim_eps", "max_grad_norm", "exploration_noise", "target_noise", "target_noise_clip"):
            _require_number(self, name, low=0.0)
        _require_number(self, "tau", low=0.0, high=1.0, low_open=True)
        _require_int(self, "target_period", least=1)
        _require_number(self, "ou_theta", low=0.0, high=1.0)
        _require_int(self, "policy_delay", least=1)
        _require_int(self, "atoms", least=2)
        _require_number(self, "v_min")
        _require_number(self, "v_max")
        if not self.v_min < self.v_max:
            raise ConfigError(f"--v-min {self.v_min} --v-max {self.v_max}: the D4PG support needs v_min < v_max")
        _require_widths(self.hidden)


@dataclass(frozen=True)
class RunConfig:
    """One training run: the env, the replay, the learner, and how the run is logged and checkpointed."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the environment"""
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    """the replay memory"""
    dqn: DQNConfig = field(default_factory=DQNConfig)
    """the DQN learner"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """the PPO / A2C learner"""
    a3c: A3CConfig = field(default_factory=A3CConfig)
    """A3C and async Q-learning (Hogwild workers)"""
    ddpg: DDPGConfig = field(default_factory=DDPGConfig)
    """DDPG, TD3 and D4PG (the variant is the algo word)"""
    algo: tyro.conf.Suppress[str] = "dqn"
    """the learner family (set by the command: fastrl train dqn)"""
    preset: str = ""
    """named preset whose values are the defaults (other flags override them); `fastrl train <algo> --help`
    names the presets of that learner"""
    total_env_steps: int = 1_000_000
    """env steps to train for (summed over the num_envs envs, and over the ranks under torchrun)"""
    seed: int = 0
    """seed of the envs, the network initialization, exploration and replay / minibatch sampling"""
    device: str = "cpu"
    """torch device of the learner, the replay and native envs: cpu, cuda, cuda:1, or auto (cuda if present)"""
    run_dir: Path | None = None
    """where the run writes its config, metrics, TensorBoard events, checkpoints and plot; None:
    runs/<env>-<algo>-seed<seed>-<date>"""
    log_interval: int = 10_000
    """env steps between metric rows and progress-line updates (the only host-device syncs of the loop)"""
    checkpoint_interval: int | None = None
    """env steps between checkpoints (0 = only at the end; None = a tenth of total_env_steps, so that an
    interrupted run can always be resumed); each checkpoint also writes a metrics row"""
    keep_checkpoints: int = 2
    """checkpoints kept on disk (the newest); older ones are deleted"""
    eval_interval: int = 0
    """env steps between evaluations of the evaluation policy (DQN: eval_epsilon; PPO: eval_deterministic)
    during training (0 = only at the end)"""
    eval_episodes: int = 10
    """episodes per evaluation"""
    stop_return: float | None = None
    """end the run early once an evaluation's mean return reaches this (None: train for total_env_steps)"""
    torch_threads: int = 0
    """CPU threads of torch's intra-op pool (0 = torch's default). The presets use 1: the env engine's
    threads want the cores, and on a 2-core machine a Nature CNN update took 48 ms with 1 thread and 470 ms
    with 2 competing with envpool's"""
    tensorboard: bool = True
    """also write the metrics as TensorBoard scalars"""
    progress: bool = True
    """show the live progress line on the console"""

    def __post_init__(self):
        _require_int(self, "total_env_steps", least=1)
        _require_int(self, "seed", least=0)
        _require_int(self, "log_interval", least=1)
        for name in ("checkpoint_interval", "eval_interval"):
            if getattr(self, name) is not None:  # checkpoint_interval None: resolved by checkpoint_every()
                _require_int(self, name, least=0)
        _require_int(self, "keep_checkpoints", least=1)
        _require_int(self, "torch_threads", least=0)
        _require_int(self, "eval_episodes", least=1)
        if self.stop_return is not None:
            _require_number(self, "stop_return")
        if self.preset and self.preset not in PRESETS:
            preset(self.preset)  # raises the unknown-preset error with suggestions
        if self.algo not in ALGO_FIELDS:
            raise ConfigError(f"algo {self.algo!r}: unknown learner family; expected one of {', '.join(ALGO_FIELDS)}")
        _RUN_CHECKS[self.algo](self)
        _resolve_device_name(self.device)

    def resolved_device(self) -> str:
        """``device`` with ``auto`` resolved (cuda where torch sees one, else cpu)."""
        return _resolve_device_name(self.device)

    def checkpoint_every(self) -> int:
        """``checkpoint_interval`` with its default resolved: None -> a tenth of ``total_env_steps`` (at least
        one log interval), so that every run writes checkpoints along the way (0: only at the end)."""
        if self.checkpoint_interval is not None:
            return self.checkpoint_interval
        return max(self.total_env_steps // 10, self.log_interval)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


# ---------------------------------------------------------------------------------------------------------
# Learner families: which parts configure each, and the checks that span parts
# ---------------------------------------------------------------------------------------------------------

#: learner family (``RunConfig.algo``, the word after ``fastrl train``) -> the ``RunConfig`` fields that
#: configure it. ``fastrl train <algo> --help`` shows these and hides the other families' (their flags
#: share names: ``--lr``, ``--gamma``), and the run ignores the others.
ALGO_FIELDS: dict[str, tuple[str, ...]] = {"dqn": ("dqn", "replay"), "ppo": ("ppo",), "a3c": ("a3c",),
                                           **{variant: ("ddpg", "replay") for variant in DDPG_VARIANTS}}


def _check_dqn_run(config: RunConfig) -> None:
    dqn, replay = config.dqn, config.replay
    least = dqn.batch_size + config.env.num_envs * replay.n_step
    if dqn.learning_starts < least:
        raise ConfigError(f"--learning-starts {dqn.learning_starts} is below {least}: the first update "
                          f"needs --batch-size {dqn.batch_size} complete transitions, and the newest "
                          f"--n-step {replay.n_step} steps of each of the --num-envs {config.env.num_envs} "
                          f"envs are not complete yet")
    if replay.capacity < dqn.batch_size:
        raise ConfigError(f"--capacity {replay.capacity} is below --batch-size {dqn.batch_size}")


def _check_ppo_run(config: RunConfig) -> None:
    ppo, num_envs = config.ppo, config.env.num_envs
    batch = ppo.num_steps * num_envs
    if batch % ppo.minibatches:
        raise ConfigError(f"--minibatches {ppo.minibatches} does not divide the rollout's {batch} transitions "
                          f"(--num-steps {ppo.num_steps} x --num-envs {num_envs}); expected a divisor of {batch}")
    if ppo.async_envs and num_envs % 2:
        raise ConfigError(f"--async-envs steps half the envs while the policy acts for the other half: "
                          f"--num-envs {num_envs} must be even")


def _check_a3c_run(config: RunConfig) -> None:
    if config.env.num_envs != 1:
        raise ConfigError(f"--num-envs {config.env.num_envs}: each A3C worker steps one env; set the number of "
                          f"workers with --workers (and --num-envs 1)")
    if _resolve_device_name(config.device) != "cpu":
        raise ConfigError(f"--device {config.device}: the Hogwild workers share parameters in CPU shared memory; "
                          f"A3C runs on the CPU (for a GPU, use the synchronous A2C: fastrl train ppo "
                          f"--preset a2c-atari)")
    if config.stop_return is not None and not config.eval_interval:
        raise ConfigError("--stop-return needs --eval-interval > 0: the evaluator process's greedy returns "
                          "decide when to stop")


def _check_ddpg_run(config: RunConfig) -> None:
    ddpg, replay = config.ddpg, config.replay
    least = ddpg.batch_size + config.env.num_envs * replay.n_step
    if ddpg.learning_starts < least:
        raise ConfigError(f"--learning-starts {ddpg.learning_starts} is below {least}: the first update "
                          f"needs --batch-size {ddpg.batch_size} complete transitions, and the newest "
                          f"--n-step {replay.n_step} steps of each of the --num-envs {config.env.num_envs} "
                          f"envs are not complete yet")
    if replay.capacity < ddpg.batch_size:
        raise ConfigError(f"--capacity {replay.capacity} is below --batch-size {ddpg.batch_size}")


#: learner family -> the checks of its ``RunConfig`` that span parts (each raises ``ConfigError``)
_RUN_CHECKS = {"dqn": _check_dqn_run, "ppo": _check_ppo_run, "a3c": _check_a3c_run,
               **dict.fromkeys(DDPG_VARIANTS, _check_ddpg_run)}


# ---------------------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------------------

_ATARI_OPTIONS = ("episodic_life=true", "reward_clip=true")


def _dqn_atari() -> RunConfig:
    """Nature DQN (Mnih et al. 2015): RMSProp, Huber loss, hard target copy every 10k updates, eps 1 -> 0.1
    over 1M steps, 1M replay, an update every 4 env steps; 8 envs instead of 1 for throughput."""
    return RunConfig(
        env=EnvConfig(id="Pong-v5", num_envs=8, backend="envpool", options=_ATARI_OPTIONS),
        replay=ReplayConfig(capacity=1_000_000),
        dqn=DQNConfig(gamma=0.99, batch_size=32, replay_ratio=0.25, learning_starts=50_000, loss="huber",
                      optimizer="rmsprop", lr=2.5e-4, optim_eps=0.01, rmsprop_alpha=0.95, rmsprop_centered=True,
                      max_grad_norm=0.0, target_update="hard", target_period=10_000, epsilon_start=1.0,
                      epsilon_end=0.1, epsilon_decay_steps=1_000_000, eval_epsilon=0.05, network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_000, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=1,
    )


def _rainbow_atari() -> RunConfig:
    """Rainbow without noisy nets (Hessel et al. 2018): double + dueling + prioritized + 3-step + C51 with
    Adam (6.25e-5, eps 1.5e-4), target copy every 32k frames (2000 updates at one update per 4 steps)
    and epsilon-greedy exploration in place of noisy nets (1 -> 0.01 over 250k steps, as Dopamine)."""
    return RunConfig(
        env=EnvConfig(id="Pong-v5", num_envs=8, backend="envpool", options=_ATARI_OPTIONS),
        replay=ReplayConfig(capacity=1_000_000, n_step=3, prioritized=True, alpha=0.5, beta_start=0.4,
                            beta_end=1.0),
        dqn=DQNConfig(gamma=0.99, batch_size=32, replay_ratio=0.25, learning_starts=20_000, double=True,
                      dueling=True, distributional=True, atoms=51, v_min=-10.0, v_max=10.0, optimizer="adam",
                      lr=6.25e-5, optim_eps=1.5e-4, max_grad_norm=10.0, target_update="hard",
                      target_period=2_000, epsilon_start=1.0, epsilon_end=0.01, epsilon_decay_steps=250_000,
                      eval_epsilon=0.001, network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_000, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=1,
    )


def _dqn_cartpole() -> RunConfig:
    """CartPole-v1 on envpool: double DQN with a 128x128 MLP, Adam 2e-3 annealed to 0, replay ratio 0.5, a hard
    target copy every 100 updates, eps 1 -> 0.04 over 8k steps (after the RL Zoo's CartPole DQN, whose target
    moves once per 128 updates). With a constant lr and a copy every 10 updates the greedy return reached 500
    by 10k steps and then swung between ~100 and 500 (seed 0 ended at 155). Measured here: final greedy return
    500 for seeds 0-2, and 500 at every evaluation from 30k env steps on."""
    return RunConfig(
        env=EnvConfig(id="CartPole-v1", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=50_000),
        dqn=DQNConfig(gamma=0.99, batch_size=64, replay_ratio=0.5, learning_starts=2_000, double=True,
                      loss="mse", optimizer="adam", lr=2e-3, anneal_lr=True, optim_eps=1e-8, max_grad_norm=10.0,
                      target_update="hard", target_period=100, epsilon_start=1.0, epsilon_end=0.04,
                      epsilon_decay_steps=8_000, network="mlp", hidden=(128, 128)),
        total_env_steps=50_000, log_interval=5_000, eval_episodes=20, torch_threads=1,
    )


def _dqn_catch() -> RunConfig:
    """bsuite's Catch (native, torch): a small MLP, one-step DQN; solved in a few thousand env steps."""
    return RunConfig(
        env=EnvConfig(id="Catch-v0", num_envs=8, backend="native"),
        replay=ReplayConfig(capacity=10_000),
        dqn=DQNConfig(gamma=0.99, batch_size=64, replay_ratio=0.25, learning_starts=500, double=True,
                      loss="mse", optimizer="adam", lr=1e-3, optim_eps=1e-8, max_grad_norm=10.0,
                      target_update="hard", target_period=100, epsilon_start=1.0, epsilon_end=0.05,
                      epsilon_decay_steps=5_000, network="mlp", hidden=(64,)),
        total_env_steps=20_000, log_interval=1_000, eval_episodes=50, torch_threads=1,
    )


def _ppo_atari() -> RunConfig:
    """PPO on Atari as in the PPO paper and CleanRL's ppo_atari: 8 envs x 128 steps, 4 epochs of 4 minibatches,
    Adam 2.5e-4 annealed to 0, clip 0.1 (ratio and value), entropy 0.01, GAE(0.99, 0.95), grad norm 0.5.
    Collected async (half the envs step while the policy acts for the other half: the same transitions).

    Precision, memory format and compile are left to ``auto`` (``fastrl.hardware``): bfloat16 autocast and
    channels-last where the device computes bf16 natively, float32 where torch would emulate it (forcing bf16 on
    an AVX2-only CPU made this preset many times slower than CleanRL's). profiles/*/train-ppo-options.json holds
    what each option measured on each CPU.

    Threads: the update runs on all cores (torch_threads 0), the policy acts on one (act_threads 1) while the
    env engine steps the other half on the rest (fastrl.algos.ppo.async_env_threads). On a machine shared with
    other busy processes, --torch-threads 1 is safer: a two-thread update that loses a core waits at every
    OpenMP barrier (profiles/*/train-ppo.json)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Pong-v5", num_envs=8, backend="envpool", options=_ATARI_OPTIONS),
        ppo=PPOConfig(num_steps=128, gamma=0.99, gae_lambda=0.95, epochs=4, minibatches=4, clip_coef=0.1,
                      clip_value_loss=True, value_coef=0.5, entropy_coef=0.01, optimizer="adam", lr=2.5e-4,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, async_envs=True, act_threads=1,
                      eval_deterministic=False, network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_240, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=0,
    )


def _ppo_atari_fast() -> RunConfig:
    """PPO on Atari tuned for wall clock on a GPU workstation: 64 async envs x 64 steps (4096 transitions per
    rollout), 4 epochs of 8 minibatches, on the GPU where there is one; otherwise ppo-atari. Not yet measured
    on a GPU."""
    base = _ppo_atari()
    return dataclasses.replace(
        base, env=dataclasses.replace(base.env, num_envs=64), ppo=dataclasses.replace(base.ppo, num_steps=64, minibatches=8),
        device="auto", torch_threads=0, log_interval=40_960)


def _ppo_mujoco() -> RunConfig:
    """PPO for MuJoCo as in the PPO paper and CleanRL's ppo_continuous_action: 2048 transitions per rollout
    (8 envs x 256 steps), 10 epochs of 32 minibatches, Adam 3e-4 annealed, clip 0.2, no entropy bonus,
    diagonal Gaussian with state-independent log std, observations and rewards normalized."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="HalfCheetah-v4", num_envs=8, backend="envpool"),
        ppo=PPOConfig(num_steps=256, gamma=0.99, gae_lambda=0.95, epochs=10, minibatches=32, clip_coef=0.2,
                      clip_value_loss=True, value_coef=0.5, entropy_coef=0.0, optimizer="adam", lr=3e-4,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, normalize_observations=True,
                      normalize_rewards=True, network="mlp", hidden=(64, 64)),
        total_env_steps=1_000_000, log_interval=10_240, eval_episodes=10, torch_threads=1,
    )


def _ppo_cartpole() -> RunConfig:
    """CartPole-v1 (native, torch): the RL Zoo's PPO recipe (8 envs x 32 steps, 20 epochs of the whole rollout,
    Adam 1e-3 annealed, clip 0.2, GAE(0.98, 0.8), no entropy bonus) with a 64x64 MLP, for 60k env steps (the
    Zoo's 100k took twice the time and ended alike). Measured here: final greedy return 500 for seeds 0-2."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="CartPole-v1", num_envs=8, backend="native"),
        ppo=PPOConfig(num_steps=32, gamma=0.98, gae_lambda=0.8, epochs=20, minibatches=1, clip_coef=0.2,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.0, optimizer="adam", lr=1e-3,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, network="mlp", hidden=(64, 64)),
        total_env_steps=60_000, log_interval=5_120, eval_episodes=20, torch_threads=1,
    )


def _ppo_catch() -> RunConfig:
    """bsuite's Catch (native, torch): PPO with a small MLP. Measured here: final greedy return 1.0 for seeds
    0-2."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Catch-v0", num_envs=8, backend="native"),
        ppo=PPOConfig(num_steps=16, gamma=0.99, gae_lambda=0.95, epochs=4, minibatches=2, clip_coef=0.2,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, optimizer="adam", lr=1e-3,
                      anneal_lr=False, optim_eps=1e-5, max_grad_norm=0.5, network="mlp", hidden=(64,)),
        total_env_steps=20_000, log_interval=1_024, eval_episodes=50, torch_threads=1,
    )


def _ppo_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool): ppo-mujoco (normalized observations and rewards, 8 envs x 256 steps, 10 epochs of
    32 minibatches, Adam annealed) with Pendulum's shorter horizon (gamma 0.95) and a larger step (lr 1e-3), for
    50k env steps. Measured here: final return of the mean action -158, -179, -181 for seeds 0-2 (uniformly
    random torques: -1250)."""
    base = _ppo_mujoco()
    return dataclasses.replace(base, env=EnvConfig(id="Pendulum-v1", num_envs=8, backend="envpool"),
                               ppo=dataclasses.replace(base.ppo, gamma=0.95, lr=1e-3), total_env_steps=50_000,
                               log_interval=8_192, eval_episodes=20)


def _a2c_atari() -> RunConfig:
    """A2C on Atari as OpenAI Baselines' (Mnih et al. 2016, synchronous): 16 envs x 5 steps, one gradient step
    per rollout, RMSProp 7e-4 (alpha 0.99, eps 1e-5) annealed, n-step returns (lambda 1), no clipping, no
    advantage normalization, entropy 0.01, grad norm 0.5. Threads as ppo-atari: on the 2-core CPU ~1,000 env
    steps/s against ~750 with one torch thread throughout and two env threads (medians of 290-430 rollouts)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Pong-v5", num_envs=16, backend="envpool", options=_ATARI_OPTIONS),
        ppo=PPOConfig(num_steps=5, gamma=0.99, gae_lambda=1.0, epochs=1, minibatches=1, clip_coef=0.0,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, normalize_advantages=False,
                      optimizer="rmsprop", lr=7e-4, anneal_lr=True, optim_eps=1e-5, rmsprop_alpha=0.99,
                      max_grad_norm=0.5, async_envs=True, act_threads=1, eval_deterministic=False,
                      network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_000, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=0,
    )


def _a2c_catch() -> RunConfig:
    """bsuite's Catch (native, torch): A2C as a2c-atari (16 envs x 5 steps, one RMSProp step per rollout, n-step
    returns, no clipping, no advantage normalization) with a small MLP and a larger step (lr 3e-3, constant).
    Measured here (2 cores): final greedy return 1.0 for seeds 0-2."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Catch-v0", num_envs=16, backend="native"),
        ppo=PPOConfig(num_steps=5, gamma=0.99, gae_lambda=1.0, epochs=1, minibatches=1, clip_coef=0.0,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, normalize_advantages=False,
                      optimizer="rmsprop", lr=3e-3, anneal_lr=False, optim_eps=1e-5, rmsprop_alpha=0.99,
                      max_grad_norm=0.5, network="mlp", hidden=(64,)),
        total_env_steps=30_000, log_interval=1_040, eval_episodes=50, torch_threads=1,
    )


def _a3c_atari() -> RunConfig:
    """A3C FF on Atari as the paper: 16 workers, t_max 5, shared RMSProp lr 7e-4 (alpha 0.99, eps 0.1) annealed
    to 0, entropy 0.01, gradient-norm clip 40; one envpool env per worker on one thread (stacked 84x84 frames,
    episodic life, clipped rewards); Nature CNN torso. Not trained to a score here (2 cores: one worker runs
    about 250 env steps/s)."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Pong-v5", num_envs=1, backend="envpool",
                      options=("episodic_life=true", "reward_clip=true", "num_threads=1")),
        a3c=A3CConfig(method="a3c", workers=16, t_max=5, optimizer="rmsprop", lr=7e-4, anneal_lr=True,
                      rmsprop_alpha=0.99, optim_eps=0.1, entropy_coef=0.01, value_coef=0.5, max_grad_norm=40.0,
                      network="nature_cnn"),
        total_env_steps=20_000_000, log_interval=50_000, checkpoint_interval=1_000_000, eval_interval=1_000_000,
        eval_episodes=5, torch_threads=1)


def _a3c_catch() -> RunConfig:
    """bsuite's Catch (native, torch) with 2 workers: A3C FF with a small MLP, t_max 10 (an episode is 9
    steps), shared RMSProp 2e-3 annealed to 0 over 50k env steps, entropy 0.05. With lr 1e-3 constant and
    entropy 0.01, greedy returns swung between 0.6 and 1.0 to the end (seed 1 ended at 0.64 after 40k steps).
    Measured here (2 cores): final greedy return 1.0 for seeds 0-2 in each of two tries (Hogwild runs do not
    repeat), and 1.0 at every evaluation from 35k env steps on."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Catch-v0", num_envs=1, backend="native"),
        a3c=A3CConfig(method="a3c", workers=2, t_max=10, optimizer="rmsprop", lr=2e-3, anneal_lr=True,
                      rmsprop_alpha=0.99, optim_eps=1e-5, entropy_coef=0.05, value_coef=0.5, max_grad_norm=40.0,
                      network="mlp", hidden=(64,)),
        total_env_steps=50_000, log_interval=2_000, eval_episodes=50, torch_threads=1)


def _a3c_cartpole() -> RunConfig:
    """CartPole-v1 (native, torch) with 2 workers: A3C FF, 64x64 MLP, t_max 20, shared Adam 2e-3 annealed to 0
    over 300k env steps, gradient norm clipped to 1. With lr 1e-3 seed 1 ended at 458 (seeds 0, 2: 500); over
    200k steps seed 0 ended at 256, and without the entropy bonus one run collapsed to always one action.
    Measured here (2 cores): final greedy return 500 for seeds 0-2."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="CartPole-v1", num_envs=1, backend="native"),
        a3c=A3CConfig(method="a3c", workers=2, t_max=20, optimizer="adam", lr=2e-3, anneal_lr=True,
                      optim_eps=1e-8, entropy_coef=0.01, value_coef=0.5, max_grad_norm=1.0,
                      network="mlp", hidden=(64, 64)),
        total_env_steps=300_000, log_interval=10_000, eval_episodes=20, torch_threads=1)


def _nstepq_catch() -> RunConfig:
    """bsuite's Catch (native, torch) with 2 workers: async n-step Q-learning (t_max 5), shared target network
    refreshed every 500 global steps, epsilon annealed over 5k global steps, for 30k env steps. Measured here
    (2 cores): final greedy return 1.0 for seeds 0-2, and 1.0 at every evaluation from 15k env steps on."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Catch-v0", num_envs=1, backend="native"),
        a3c=A3CConfig(method="nstep_q", workers=2, t_max=5, optimizer="rmsprop", lr=1e-3, anneal_lr=False,
                      rmsprop_alpha=0.99, optim_eps=1e-5, max_grad_norm=40.0, network="mlp", hidden=(64,),
                      target_period=500, epsilon_decay_steps=5_000),
        total_env_steps=30_000, log_interval=2_000, eval_episodes=50, torch_threads=1)


def _td3_mujoco() -> RunConfig:
    """TD3 as Fujimoto et al. (2018) and their reference code: actor and twin critics of 256-256 units, Adam
    3e-4, batch 256, gamma 0.99, tau 0.005, exploration N(0, 0.1), target smoothing N(0, 0.2) clipped to ±0.5,
    the actor and targets updated every 2 critic updates, 25k uniformly random steps first, one update per env
    step, a 1M replay; 8 envpool envs instead of 1 (8 updates after each step of the 8)."""
    return RunConfig(
        algo="td3", env=EnvConfig(id="HalfCheetah-v5", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=1_000_000),
        ddpg=DDPGConfig(gamma=0.99, batch_size=256, replay_ratio=1.0, learning_starts=25_000, actor_lr=3e-4,
                        critic_lr=3e-4, tau=0.005, exploration="gaussian", exploration_noise=0.1, policy_delay=2,
                        target_noise=0.2, target_noise_clip=0.5, hidden=(256, 256)),
        total_env_steps=1_000_000, log_interval=10_000, checkpoint_interval=100_000, eval_interval=50_000,
        eval_episodes=10, torch_threads=1)


def _ddpg_mujoco() -> RunConfig:
    """DDPG as re-tuned by Fujimoto et al. (2018, "OurDDPG"): td3-mujoco without TD3's three changes (one
    critic, no target smoothing, the actor and targets updated after every critic update)."""
    return dataclasses.replace(_td3_mujoco(), algo="ddpg")


def _d4pg_mujoco() -> RunConfig:
    """D4PG (Barth-Maron et al. 2018) with Acme's settings: a 51-atom categorical critic, 5-step returns, Adam
    1e-4 for both networks, batch 256, exploration N(0, 0.3), hard target copies every 100 updates, gradient
    norms clipped to 40; one update per env step, 8 envpool envs. The support [-200, 1400] covers
    HalfCheetah's discounted returns (rewards up to ~12 per step); other envs may want their own --v-min/--v-max."""
    return RunConfig(
        algo="d4pg", env=EnvConfig(id="HalfCheetah-v5", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=1_000_000, n_step=5),
        ddpg=DDPGConfig(gamma=0.99, batch_size=256, replay_ratio=1.0, learning_starts=25_000, actor_lr=1e-4,
                        critic_lr=1e-4, max_grad_norm=40.0, target_update="hard", target_period=100,
                        exploration="gaussian", exploration_noise=0.3, atoms=51, v_min=-200.0, v_max=1400.0,
                        hidden=(256, 256)),
        total_env_steps=1_000_000, log_interval=10_000, checkpoint_interval=100_000, eval_interval=50_000,
        eval_episodes=10, torch_threads=1)


def _td3_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool) with TD3 made small for a CPU: 64-64 networks, Adam 1e-3, batch 128, tau 0.01,
    exploration N(0, 0.2), 1k random steps, one update per env step of 4 envs, for 12k env steps. Measured here:
    final mean return of 20 evaluation episodes -141, -120, -103 for seeds 0-2 (uniformly random torques:
    -1250); above -200 at every evaluation from 10k env steps on, though one seed dipped to -590 at 8k."""
    return RunConfig(
        algo="td3", env=EnvConfig(id="Pendulum-v1", num_envs=4, backend="envpool"),
        replay=ReplayConfig(capacity=100_000),
        ddpg=DDPGConfig(gamma=0.99, batch_size=128, replay_ratio=1.0, learning_starts=1_000, actor_lr=1e-3,
                        critic_lr=1e-3, tau=0.01, exploration_noise=0.2, policy_delay=2, target_noise=0.2,
                        target_noise_clip=0.5, hidden=(64, 64)),
        total_env_steps=12_000, log_interval=2_000, eval_interval=2_000, eval_episodes=20, torch_threads=1)


def _d4pg_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool) with D4PG made small for a CPU: 64-64 networks, a 51-atom support on [-800, 0]
    (Pendulum's rewards lie in [-16.3, 0]), 3-step returns, Adam 1e-3, batch 128, exploration N(0, 0.2), 1k
    random steps, one update per env step of 4 envs, for 8k env steps. Measured here: final mean return of 20
    evaluation episodes -138, -141, -132 for seeds 0-2; above -170 at every evaluation from 4k env steps on."""
    return RunConfig(
        algo="d4pg", env=EnvConfig(id="Pendulum-v1", num_envs=4, backend="envpool"),
        replay=ReplayConfig(capacity=100_000, n_step=3),
        ddpg=DDPGConfig(gamma=0.99, batch_size=128, replay_ratio=1.0, learning_starts=1_000, actor_lr=1e-3,
                        critic_lr=1e-3, tau=0.005, exploration_noise=0.2, atoms=51, v_min=-800.0, v_max=0.0,
                        hidden=(64, 64)),
        total_env_steps=8_000, log_interval=2_000, eval_interval=2_000, eval_episodes=20, torch_threads=1)


#: preset name -> the function that builds it (its docstring says what it is; its ``algo`` which learner)
PRESETS = {
    "dqn-atari": _dqn_atari,
    "rainbow-atari": _rainbow_atari,
    "dqn-cartpole": _dqn_cartpole,
    "dqn-catch": _dqn_catch,
    "ppo-atari": _ppo_atari,
    "ppo-atari-fast": _ppo_atari_fast,
    "ppo-mujoco": _ppo_mujoco,
    "ppo-cartpole": _ppo_cartpole,
    "ppo-catch": _ppo_catch,
    "ppo-pendulum": _ppo_pendulum,
    "a2c-atari": _a2c_atari,
    "a2c-catch": _a2c_catch,
    "a3c-atari": _a3c_atari,
    "a3c-catch": _a3c_catch,
    "a3c-cartpole": _a3c_cartpole,
    "nstepq-catch": _nstepq_catch,
    "td3-mujoco": _td3_mujoco,
    "ddpg-mujoco": _ddpg_mujoco,
    "d4pg-mujoco": _d4pg_mujoco,
    "td3-pendulum": _td3_pendulum,
    "d4pg-pendulum": _d4pg_pendulum,
}


def presets_of(algo: str) -> list[str]:
    """The presets of one learner family."""
    return [name for name, build in PRESETS.items() if build().algo == algo]


def preset(name: str, env: str | None = None) -> RunConfig:
    """The named preset, on ``env`` where given (else on the preset's own env)."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=2, cutoff=0.4)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(f"--preset {name!r}: unknown preset{hint}; presets: {', '.join(PRESETS)}")
    config = dataclasses.replace(PRESETS[name](), preset=name)
    if env is None or env == config.env.id:
        return config
    from fastrl.envs.atari import atari_game

    if config.env.options and atari_game(config.env.id) and not atari_game(env):
        raise ConfigError(f"--preset {name} is made for Atari games (stacked 84x84 frames, options "
                          f"{' '.join(config.env.options)}), but {env} is not one; presets for other envs: "
                          f"{', '.join(p for p in PRESETS if 'atari' not in p)}")
    # Another env may live on another backend: let make_env pick it.
    return dataclasses.replace(config, env=dataclasses.replace(config.env, id=env, backend="auto"))


# ---------------------------------------------------------------------------------------------------------
# Checks against the env, serialization
# ---------------------------------------------------------------------------------------------------------


def check_fits_env(config: RunConfig, observation_space, action_space) -> None:
    """Refuse a config that cannot train on an env with these (single-env) spaces (per learner family)."""
    where = f"{config.env.id}" + (f" with preset {config.preset!r}" if config.preset else "")
    _ENV_CHECKS[config.algo](config, observation_space, action_space, where)


def _dqn_fits_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ConfigError(f"{where}: DQN needs a discrete action space, but {config.env.id} has {action_space}; "
                          f"use a learner for continuous actions")
    if action_space.start != 0:
        raise ConfigError(f"{where}: actions start at {action_space.start}; DQN expects actions 0..n-1")
    _torso_fits(config.dqn, observation_space, config.env.id, where)


def _ppo_fits_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium
    import numpy as np

    if isinstance(action_space, gymnasium.spaces.Discrete):
        if action_space.start != 0:
            raise ConfigError(f"{where}: actions start at {action_space.start}; PPO expects actions 0..n-1")
    elif isinstance(action_space, gymnasium.spaces.Box):
        if len(action_space.shape) != 1:
            raise ConfigError(f"{where}: PPO's Gaussian policy needs a flat Box action space, but "
                              f"{config.env.id} has shape {action_space.shape}")
        if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
            raise ConfigError(f"{where}: PPO clips continuous actions to the space's bounds, but {config.env.id} "
                              f"has unbounded actions {action_space}")
    else:
        raise ConfigError(f"{where}: PPO needs a Discrete or a Box action space, but {config.env.id} has "
                          f"{action_space}")
    _torso_fits(config.ppo, observation_space, config.env.id, where)
    shape = tuple(observation_space.shape or ())
    if config.ppo.normalize_observations and network_for(config.ppo, shape) == "nature_cnn":
        raise ConfigError(f"{where}: --normalize-observations is for vector observations; the Nature CNN "
                          f"scales frames by 1/255 itself")


def _torso_fits(learner, observation_space, env_id: str, where: str) -> None:
    shape = tuple(observation_space.shape or ())
    if network_for(learner, shape) == "nature_cnn" and (len(shape) != 3 or shape[1:] != (84, 84)):
        raise ConfigError(f"{where}: the Nature CNN (--network nature_cnn) needs stacked 84x84 frames "
                          f"[C, 84, 84], but {env_id} observes shape {shape}; use --network mlp")


def _a3c_fits_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete) or action_space.start != 0:
        raise ConfigError(f"{where}: A3C and async Q-learning here need a discrete action space 0..n-1, but "
                          f"{config.env.id} has {action_space}")
    _torso_fits(config.a3c, observation_space, config.env.id, where)


def _ddpg_fits_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium
    import numpy as np

    name = config.algo.upper()
    if not isinstance(action_space, gymnasium.spaces.Box) or len(action_space.shape) != 1:
        raise ConfigError(f"{where}: {name} needs a flat continuous (Box) action space, but {config.env.id} has "
                          f"{action_space}; for discrete actions use dqn or ppo")
    low, high = action_space.low, action_space.high
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ConfigError(f"{where}: {name} scales its actions to the space's bounds, but {config.env.id} has "
                          f"{action_space}; expected finite bounds with low < high in every dimension")
    shape = tuple(observation_space.shape or ())
    if not isinstance(observation_space, gymnasium.spaces.Box) or len(shape) == 3:
        raise ConfigError(f"{where}: {name}'s actor and critics are MLPs on vector observations, but "
                          f"{config.env.id} observes {observation_space}")


#: learner family -> its check against the env's spaces
_ENV_CHECKS = {"dqn": _dqn_fits_env, "ppo": _ppo_fits_env, "a3c": _a3c_fits_env,
               **dict.fromkeys(DDPG_VARIANTS, _ddpg_fits_env)}


def network_for(learner, observation_shape: tuple[int, ...]) -> str:
    """The torso to build: the learner config's ``network``, with ``auto`` resolved by the observation's shape."""
    if learner.network != "auto":
        return learner.network
    return "nature_cnn" if len(observation_shape) == 3 and observation_shape[1:] == (84, 84) else "mlp"


def to_dict(config: RunConfig) -> dict[str, Any]:
    """JSON-able dict of ``config`` (paths as text, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def from_dict(data: dict[str, Any]) -> RunConfig:
    """The ``RunConfig`` of ``to_dict``'s output (as stored in a run directory); unknown keys are errors."""
    def build(cls, values: dict[str, Any], where: str):
        if not isinstance(values, dict):
            raise ConfigError(f"config {where or 'root'}: expected an object, got {type(values).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"config {where or 'root'}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
        kwargs = {}
        for name, value in values.items():
            sub = _NESTED.get((cls, name))
            if sub is not None:
                kwargs[name] = build(sub, value, f"{where}.{name}".lstrip("."))
            elif isinstance(value, list):
                kwargs[name] = tuple(value)
            elif name == "run_dir" and value is not None:
                kwargs[name] = Path(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    return build(RunConfig, data, "")


_NESTED = {(RunConfig, "env"): EnvConfig, (RunConfig, "replay"): ReplayConfig, (RunConfig, "dqn"): DQNConfig,
           (RunConfig, "ppo"): PPOConfig, (RunConfig, "a3c"): A3CConfig, (RunConfig, "ddpg"): DDPGConfig}


# ---------------------------------------------------------------------------------------------------------
# Field checks
# ---------------------------------------------------------------------------------------------------------


def _flag(name: str) -> str:
    return "--" + ("env" if name == "id" else name.replace("_", "-"))


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{_flag(name)} {value!r}: expected {expected}")


def _require_int(obj: Any, name: str, *, least: int) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{_flag(name)} {value!r}: expected an integer >= {least}")


def _require_number(obj: Any, name: str, *, low: float | None = None, high: float | None = None,
                    low_open: bool = False, what: str | None = None) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{_flag(name)} {value!r}: expected a finite number")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        raise ConfigError(f"{_flag(name)} {value!r}: {what or 'expected a number ' + ' and '.join(bounds)}")


def _require_widths(hidden: tuple[int, ...]) -> None:
    for i, width in enumerate(hidden):
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ConfigError(f"--hidden: width {i} is {width!r}; expected positive integers")


def _resolve_device_name(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"--device {device!r}: not a torch device ({err}); expected cpu, cuda, cuda:N or auto") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device!r}: torch sees no CUDA device here; use --device cpu")
    return str(parsed)
