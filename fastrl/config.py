"""Typed run configuration: one frozen dataclass per part, named presets, and the checks that run first.

A run is described by one ``RunConfig`` holding an ``EnvConfig``, a ``ReplayConfig`` and the learner's
config (``DQNConfig``). Every field carries a docstring: ``fastrl train dqn --help`` lists them (tyro reads
the docstrings), and the resolved config is written as JSON into every run directory.

Bad values are refused before anything starts, in two stages:

- ``__post_init__`` of each dataclass checks each field on its own and the fields of one part together
  (``v_min < v_max``); ``RunConfig`` adds what spans parts (``learning_starts >= batch_size``);
- ``check_fits_env(config, observation_space, action_space)`` checks the config against the env it will
  train on (DQN needs a discrete action space; the Nature CNN needs stacked 84x84 frames).

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
    """learning rate"""
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
        for i, width in enumerate(self.hidden):
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ConfigError(f"--hidden: width {i} is {width!r}; expected positive integers")


@dataclass(frozen=True)
class RunConfig:
    """One training run: the env, the replay, the learner, and how the run is logged and checkpointed."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the environment"""
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    """the replay memory"""
    dqn: DQNConfig = field(default_factory=DQNConfig)
    """the DQN learner"""
    algo: tyro.conf.Suppress[str] = "dqn"
    """the learner family (set by the command: fastrl train dqn)"""
    preset: str = ""
    """named preset whose values are the defaults (other flags override them): dqn-atari, rainbow-atari,
    dqn-cartpole, dqn-catch"""
    total_env_steps: int = 1_000_000
    """env steps to train for (summed over the num_envs envs)"""
    seed: int = 0
    """seed of the envs, the network initialization, exploration and replay sampling"""
    device: str = "cpu"
    """torch device of the learner, the replay and native envs: cpu, cuda, cuda:1, or auto (cuda if present)"""
    run_dir: Path | None = None
    """where the run writes its config, metrics, TensorBoard events, checkpoints and plot; None:
    runs/<env>-<algo>-seed<seed>-<date>"""
    log_interval: int = 10_000
    """env steps between metric rows and progress-line updates (the only host-device syncs of the loop)"""
    checkpoint_interval: int = 0
    """env steps between checkpoints (0 = only at the end); each checkpoint also writes a metrics row"""
    keep_checkpoints: int = 2
    """checkpoints kept on disk (the newest); older ones are deleted"""
    eval_interval: int = 0
    """env steps between evaluations of the evaluation policy (eval_epsilon) during training (0 = only at
    the end)"""
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
            _require_int(self, name, least=0)
        _require_int(self, "keep_checkpoints", least=1)
        _require_int(self, "torch_threads", least=0)
        _require_int(self, "eval_episodes", least=1)
        if self.stop_return is not None:
            _require_number(self, "stop_return")
        if self.preset and self.preset not in PRESETS:
            preset(self.preset)  # raises the unknown-preset error with suggestions
        if self.algo != "dqn":
            raise ConfigError(f"algo {self.algo!r}: only 'dqn' is implemented so far")
        least = self.dqn.batch_size + self.env.num_envs * self.replay.n_step
        if self.dqn.learning_starts < least:
            raise ConfigError(f"--learning-starts {self.dqn.learning_starts} is below {least}: the first update "
                              f"needs --batch-size {self.dqn.batch_size} complete transitions, and the newest "
                              f"--n-step {self.replay.n_step} steps of each of the --num-envs {self.env.num_envs} "
                              f"envs are not complete yet")
        if self.replay.capacity < self.dqn.batch_size:
            raise ConfigError(f"--capacity {self.replay.capacity} is below --batch-size {self.dqn.batch_size}")
        _resolve_device_name(self.device)

    def resolved_device(self) -> str:
        """``device`` with ``auto`` resolved (cuda where torch sees one, else cpu)."""
        return _resolve_device_name(self.device)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


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
    """CartPole-v1 on envpool: double DQN with a 128x128 MLP, Adam 2e-3, replay ratio 0.5,
    a hard target copy every 10 updates, eps 1 -> 0.04 over 8k steps. Measured here: greedy return 500
    within 10k-15k env steps for seeds 0-5 (the RL Zoo's CartPole DQN is the same recipe)."""
    return RunConfig(
        env=EnvConfig(id="CartPole-v1", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=50_000),
        dqn=DQNConfig(gamma=0.99, batch_size=64, replay_ratio=0.5, learning_starts=2_000, double=True,
                      loss="mse", optimizer="adam", lr=2e-3, optim_eps=1e-8, max_grad_norm=10.0,
                      target_update="hard", target_period=10, epsilon_start=1.0, epsilon_end=0.04,
                      epsilon_decay_steps=8_000, network="mlp", hidden=(128, 128)),
        total_env_steps=50_000, log_interval=5_000, eval_episodes=10, torch_threads=1,
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


#: preset name -> the function that builds it (its docstring says what it is)
PRESETS = {
    "dqn-atari": _dqn_atari,
    "rainbow-atari": _rainbow_atari,
    "dqn-cartpole": _dqn_cartpole,
    "dqn-catch": _dqn_catch,
}


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
    """Refuse a config that cannot train on an env with these (single-env) spaces."""
    import gymnasium

    where = f"{config.env.id}" + (f" with preset {config.preset!r}" if config.preset else "")
    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ConfigError(f"{where}: DQN needs a discrete action space, but {config.env.id} has {action_space}; "
                          f"use a learner for continuous actions")
    if action_space.start != 0:
        raise ConfigError(f"{where}: actions start at {action_space.start}; DQN expects actions 0..n-1")
    shape = tuple(observation_space.shape or ())
    network = network_for(config.dqn, shape)
    if network == "nature_cnn" and (len(shape) != 3 or shape[1:] != (84, 84)):
        raise ConfigError(f"{where}: the Nature CNN (--network nature_cnn) needs stacked 84x84 frames "
                          f"[C, 84, 84], but {config.env.id} observes shape {shape}; use --network mlp")


def network_for(dqn: DQNConfig, observation_shape: tuple[int, ...]) -> str:
    """The torso to build: ``dqn.network``, with ``auto`` resolved by the observation's shape."""
    if dqn.network != "auto":
        return dqn.network
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


_NESTED = {(RunConfig, "env"): EnvConfig, (RunConfig, "replay"): ReplayConfig, (RunConfig, "dqn"): DQNConfig}


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
