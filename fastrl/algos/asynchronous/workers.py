"""The parts of an asynchronous (Hogwild) actor-learner run that no one algorithm owns (Mnih et al. 2016).

N CPU worker processes, each an actor-learner with its own env and its own copy θ' of the network, apply their
gradients to one set of shared parameters θ without a lock. A3C and async Q-learning (``fastrl.algos.a3c``) and
UNREAL (``fastrl.algos.unreal``) are such learners; each declares a ``Spec`` subclass (its network, its
actor-learner function, the statistics it reports) and this module gives them the rest:

- ``Spec``: what every worker process needs to rebuild its part of the run (pickled to it);
- ``Shared`` / ``make_shared``: θ (and θ⁻ for Q-learning), the shared optimizer, the board of counters;
- ``Worker``: one actor-learner's env, θ', flat gradient, rollout buffers and board row, with the steps every
  algorithm takes (act, n-step returns, the clipped Hogwild update);
- ``evaluator`` / ``evaluate_policy`` / ``Policy`` / ``evaluate_run``: greedy episodes of a snapshot of θ.

The supervisor around these processes (run directory, metrics, checkpoints, resume) is ``supervisor.py``; the
process plumbing (shared memory, shared optimizers, lock-free counters, supervision, signals) is
``fastrl.hogwild``.
"""

from __future__ import annotations

import abc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from fastrl import checkpoint, hogwild
from fastrl.config import A3CConfig, check_fits_env
from fastrl.run.evaluation import EVAL_SEED_OFFSET
from fastrl.run.intervals import next_multiple

EVENTS = "workers.jsonl"


@dataclass(frozen=True)
class Spec(abc.ABC):
    """What every worker process needs to rebuild its part of the run (pickled to it). A learner family
    subclasses it with its network, its actor-learner and its statistics."""

    a3c: A3CConfig
    env_id: str
    env_backend: str
    env_options: tuple[str, ...]
    seed: int
    total_env_steps: int
    observation_shape: tuple[int, ...]
    actions: int
    eval_interval: int
    eval_episodes: int
    stop_return: float | None = None

    #: modules the forkserver imports once, so that a worker (or a restarted one) starts without importing them
    preload: ClassVar[tuple[str, ...]] = ("fastrl.algos.asynchronous.workers", "fastrl.envs", "fastrl.envs.envpool")

    @abc.abstractmethod
    def network(self) -> nn.Module:
        """θ's module: ``forward(obs [T, B, ...], state)`` → ``(logits or Q [T, B, A], value [T, B] or None,
        state)``, and ``initial_state(batch)``."""

    @abc.abstractmethod
    def actor_learner(self) -> Callable[..., None]:
        """The worker process's function: ``(index, spec, shared, *, incarnation)``, until T reaches the total."""

    @property
    @abc.abstractmethod
    def stats(self) -> tuple[str, ...]:
        """The learner statistics each worker sums into its board row (then the update count)."""

    def make_env(self, num_envs: int, seed: int):
        """The env on the CPU. Action checks are off unless the options ask for them: the workers' actions
        are in range by construction (drawn from the policy's A logits or Q values), and the check cost
        a fifth of a native Catch step."""
        from fastrl.config import EnvConfig
        from fastrl.envs import make_env

        options = {"check_actions": False,
                   **EnvConfig(id=self.env_id, num_envs=num_envs, options=self.env_options).make_options()}
        return make_env(self.env_id, num_envs, backend=self.env_backend, device="cpu", seed=seed, **options)


def spec_fields(config, observation_shape: tuple[int, ...], actions: int) -> dict[str, Any]:
    """The ``Spec`` fields of a ``RunConfig`` for envs with these (single-env) spaces."""
    return dict(a3c=config.a3c, env_id=config.env.id, env_backend=config.env.backend,
                env_options=tuple(config.env.options), seed=config.seed, total_env_steps=config.total_env_steps,
                observation_shape=observation_shape, actions=actions, eval_interval=config.eval_interval,
                eval_episodes=config.eval_episodes, stop_return=config.stop_return)


@dataclass
class Shared:
    """What the workers share: θ, θ⁻ (Q-learning), the optimizer's statistics, the board of counters, and
    the copy of θ that the evaluator last played (where there is an evaluator)."""

    params: torch.Tensor
    target: torch.Tensor | None
    optimizer: hogwild.SharedRMSprop | hogwild.SharedAdam
    board: hogwild.Board
    evaluated: torch.Tensor | None = None


def make_shared(spec: Spec, seed: int) -> Shared:
    """θ initialized (seeded by ``seed``) in shared memory, θ⁻ = θ for Q-learning, the shared optimizer's
    statistics and an empty board."""
    c = spec.a3c
    torch.manual_seed(seed)
    net = spec.network()
    params = hogwild.shared_zeros(hogwild.parameter_count(net))
    hogwild.flatten_into(net, params)
    target = params.clone().share_memory_() if c.family == "q" else None
    if c.optimizer == "rmsprop":
        optimizer = hogwild.SharedRMSprop(params, alpha=c.rmsprop_alpha, eps=c.optim_eps)
    else:
        optimizer = hogwild.SharedAdam(params, eps=c.optim_eps)
    evaluated = params.clone().share_memory_() if spec.eval_interval else None
    return Shared(params, target, optimizer, hogwild.Board(c.workers, len(spec.stats) + 1), evaluated)


def learning_rate(c: A3CConfig, global_steps: int, total_env_steps: int) -> float:
    if not c.anneal_lr:
        return c.lr
    return c.lr * max(0.0, 1.0 - global_steps / total_env_steps)


# ---------------------------------------------------------------------------------------------------------
# One actor-learner's plumbing
# ---------------------------------------------------------------------------------------------------------


class Worker:
    """One actor-learner's own state: its env, θ' (a view of one flat tensor), the flat gradient, the
    rollout buffers (preallocated), and its row of the board."""

    def __init__(self, index: int, spec: Spec, shared: Shared, incarnation: int):
        self.index, self.spec, self.shared, self.board = index, spec, shared, shared.board
        self.gamma = spec.a3c.gamma
        self.net = spec.network()
        self.theta = torch.empty(shared.params.numel())
        self.grad = torch.zeros(shared.params.numel())
        hogwild.bind_flat(self.net, self.theta, self.grad)
        self.env = spec.make_env(1, worker_seed(spec.seed, index, incarnation))
        self.draws = random.Random(worker_seed(spec.seed, index, incarnation))  # actions, exploration
        self._action = torch.zeros(1, dtype=torch.int64)
        t_max = spec.a3c.t_max
        first = self.env.reset()
        self.obs = torch.zeros((t_max + 1, *first.shape), dtype=first.dtype)  # [t_max + 1, 1, ...]
        self.obs[0].copy_(first)
        self.actions = torch.zeros(t_max, dtype=torch.int64)
        self.rewards = torch.zeros(t_max)
        self.length, self.done, self.terminated, self.resets = 0, False, False, False
        self.global_steps = self.board.total_steps()
        self._unreported_steps = 0
        # next-step autoreset (fastrl.envs.base): these engines reset after every done step; ale and gymnasium
        # after a game's end only (with episodic life, a lost life is terminal but the game goes on)
        self._resets_on_every_done = self.env.backend in ("envpool", "native")
        self._checked = False

    def running(self) -> bool:
        self.global_steps = self.board.total_steps()
        return self.global_steps < self.spec.total_env_steps and not self.board.stopping()

    def sync(self) -> None:
        self.theta.copy_(self.shared.params)

    def sample(self, logits: torch.Tensor) -> torch.Tensor:
        """An action drawn from softmax(``logits``) [A], by inverting the CDF in Python: for a handful of
        actions this costs a few microseconds, a sixth of ``torch.multinomial`` on one row."""
        probabilities = logits.softmax(-1).tolist()
        u, total = self.draws.random(), 0.0
        for action, p in enumerate(probabilities):
            total += p
            if u < total:
                return self.action_tensor(action)
        return self.action_tensor(len(probabilities) - 1)  # u beyond the rounded total

    def action_tensor(self, action: int) -> torch.Tensor:
        self._action[0] = action
        return self._action

    def step(self, t: int, action: torch.Tensor) -> None:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.obs[t + 1].copy_(obs)
        self.actions[t] = action[0]
        self.rewards[t] = reward[0]
        self.length = t + 1
        self._unreported_steps += 1
        self.terminated = bool(terminated[0])
        self.done = self.terminated or bool(truncated[0])
        if self.done:
            game_over = bool(info["episode_end"][0])
            self.resets = game_over or self._resets_on_every_done  # the env's next step is an autoreset
            if game_over:
                self.board.record_episode(self.index, self.global_steps + self._unreported_steps,
                                          float(info["episode_return"][0]), int(info["episode_length"][0]))

    def returns(self, bootstrap: float) -> torch.Tensor:
        """R_i for the rollout's steps i < n, from R_n = ``bootstrap`` (see ``discounted_returns``)."""
        return torch.tensor(discounted_returns(self.rewards[:self.length].tolist(), bootstrap, self.gamma))

    def update(self, loss: torch.Tensor, stats: tuple[torch.Tensor, ...]) -> None:
        """dθ = ∇loss on θ', clipped; then the lock-free update of the shared θ (``apply_gradients``)."""
        c = self.spec.a3c
        self.grad.zero_()
        loss.backward()
        if not self._checked:
            hogwild.check_grads_bound(self.net, self.grad)
            self._checked = True
        norm = hogwild.clip_grad_norm_(self.grad, c.max_grad_norm)
        apply_gradients(self.shared, self.grad, learning_rate(c, self.global_steps, self.spec.total_env_steps))
        values = [float(v) for v in stats] + [norm, 1.0]  # the spec's stats (grad_norm last), then the count
        self.board.stats[self.index] += torch.tensor(values, dtype=torch.float64)
        self.board.updates[self.index] += 1
        self.board.steps[self.index] += self._unreported_steps
        self.global_steps += self._unreported_steps
        self._unreported_steps = 0

    def next_rollout(self) -> None:
        """The next rollout's first observation: the last one, or where the env resets after a done step the
        new episode's (the next-step autoreset: one step whose action is ignored, not a transition)."""
        if self.resets:
            obs = self.env.step(self.actions[:1])[0]
            self._unreported_steps += 1
            self.obs[0].copy_(obs)
        else:
            self.obs[0].copy_(self.obs[self.length])
        self.length, self.done, self.terminated, self.resets = 0, False, False, False


def discounted_returns(rewards: list[float], bootstrap: float, gamma: float) -> list[float]:
    """R_i = r_i + γ R_{i+1} for i = n−1 … 0, from R_n = ``bootstrap`` (0 after a terminal step)."""
    out = [0.0] * len(rewards)
    big_r = bootstrap
    for i in range(len(rewards) - 1, -1, -1):
        big_r = rewards[i] + gamma * big_r
        out[i] = big_r
    return out


def apply_gradients(shared: Shared, grad: torch.Tensor, lr: float) -> None:
    """The Hogwild update: the shared optimizer writes θ and its statistics in place, with no lock."""
    shared.optimizer.step(grad, lr, shared.board.total_updates())


def worker_seed(seed: int, index: int, incarnation: int) -> int:
    """Seed of worker ``index``'s env and sampling; a restarted worker (``incarnation`` > 0) gets a new one."""
    return seed + 10_007 * (index + 1) + 1_000_039 * incarnation


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------


def evaluator(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """Every eval_interval global steps: copy θ (into ``shared.evaluated`` too), play eval_episodes episodes
    greedily (eval_epsilon), and post the returns to the board for the supervisor to log.

    An evaluation that reaches stop_return is confirmed before the run stops on it: the same θ plays
    eval_episodes more episodes on other seeds, and the target counts as reached only if those reach it
    too (the best of many noisy evaluations overstates its policy: without this, runs stopped on a lucky
    0.92 on Catch whose policy then scored 0.5). Once reached, the evaluator is done, leaving that θ for the
    supervisor to end the run with."""
    board = shared.board
    net = spec.network()
    theta = torch.empty(shared.params.numel())
    hogwild.bind_flat(net, theta)
    envs = spec.make_env(min(spec.eval_episodes, 8), spec.seed + EVAL_SEED_OFFSET)
    next_eval = next_multiple(board.total_steps(), spec.eval_interval)
    rounds = 0

    def play() -> list[float]:
        nonlocal rounds
        rounds += 1
        return evaluate_policy(net, envs, spec.eval_episodes, epsilon=spec.a3c.eval_epsilon,
                               seed=spec.seed + EVAL_SEED_OFFSET + 7 * rounds + 1_009 * incarnation,
                               stop=board.stopping)

    while not board.stopping():
        steps = board.total_steps()
        if steps >= spec.total_env_steps:
            return
        if steps < next_eval:
            time.sleep(0.02)
            continue
        theta.copy_(shared.params)
        shared.evaluated.copy_(theta)
        returns, reached = play(), False
        if spec.stop_return is not None and not board.stopping() and _mean(returns) >= spec.stop_return:
            confirmation = play()
            reached = _mean(confirmation) >= spec.stop_return
            returns += confirmation
        if board.stopping():
            return
        board.record_eval(steps, returns, reached)
        if reached:
            return
        next_eval = next_multiple(board.total_steps(), spec.eval_interval)


def _mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


@torch.no_grad()
def evaluate_policy(net: nn.Module, envs, episodes: int, *, epsilon: float, seed: int,
                    stop: Callable[[], bool] | None = None) -> list[float]:
    """Full-game returns of ``episodes`` episodes of the greedy policy (argmax of logits or Q; a uniform
    action with probability ``epsilon``). Env i plays its share of the episodes, so that short episodes are
    not over-represented; an LSTM's state is reset where an env's episode (or life) ended. ``stop``: polled
    every step; when it says True the episodes so far are returned (the run is stopping)."""
    n = envs.num_envs
    quota = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
    generator = torch.Generator().manual_seed(seed)
    obs = envs.reset(seed=seed)
    state = net.initial_state(n)
    restarted = torch.zeros(n, dtype=torch.bool)
    returns: list[float] = []
    while any(q > 0 for q in quota) and not (stop is not None and stop()):
        out, _, state = net(obs[None], state)
        action = out[0].argmax(-1)
        if epsilon > 0:
            explore = torch.rand(n, generator=generator) < epsilon
            action = torch.where(explore, torch.randint(0, out.shape[-1], (n,), generator=generator), action)
        obs, _, terminated, truncated, info = envs.step(action)
        done = (terminated | truncated).cpu()
        if state is not None:  # zero the state entering a new episode: at the done step and the autoreset after it
            keep = (~(done | restarted)).float().view(1, n, 1)
            state = (state[0] * keep, state[1] * keep)
        restarted = done
        ended = info["episode_end"].cpu()
        if ended.any():
            values = info["episode_return"].cpu()
            for i in ended.nonzero().flatten().tolist():
                if quota[i] > 0:
                    quota[i] -= 1
                    returns.append(float(values[i]))
    return returns


class Policy:
    """The trained network for ``fastrl eval``: ``act(obs, epsilon)`` as DQN's learner, and the checkpoint's
    parameters loaded by ``load_state_dict``."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.net = spec.network()
        self.device = torch.device("cpu")

    def load_state_dict(self, state: dict) -> None:
        params = state["params"]
        expected = hogwild.parameter_count(self.net)
        if params.numel() != expected:
            raise checkpoint.CheckpointError(f"the checkpoint's parameters have {params.numel()} elements; the "
                                             f"configured network has {expected} (was the config changed?)")
        hogwild.bind_flat(self.net, params.to(torch.float32).contiguous().clone())


def policy_for(spec_for: Callable[..., Spec], config, observation_space, action_space, device) -> Policy:
    """The policy of a ``RunConfig`` for envs with these (single-env) spaces, on the CPU; ``spec_for(config,
    observation_shape, actions)``: the family's ``Spec`` (a family's ``learner_for`` is this, bound to it)."""
    return Policy(spec_for(config, tuple(observation_space.shape), int(action_space.n)))


def evaluate_run(spec_for: Callable[..., Spec], run_dir: str | Path, *, episodes: int, epsilon: float | None = None,
                 num_envs: int = 0, checkpoint_path: str | Path | None = None, device: str | None = None,
                 seed: int = 12345) -> dict[str, Any]:
    """``fastrl eval`` for a Hogwild run: mean and std of the full-game return of its saved policy;
    ``spec_for(config, observation_shape, actions)``: the family's ``Spec``."""
    from fastrl.runner import load_run_config

    if episodes < 1:
        raise ValueError(f"--episodes {episodes}: expected at least 1")
    if device not in (None, "cpu"):
        raise ValueError(f"--device {device}: Hogwild policies are evaluated on the CPU")
    config = load_run_config(run_dir)
    ckpt = checkpoint.load(checkpoint_path or run_dir)
    envs = spec_for(config, (), 0).make_env(num_envs or min(episodes, 8), seed)
    try:
        check_fits_env(config, envs.single_observation_space, envs.single_action_space)
        policy = policy_for(spec_for, config, envs.single_observation_space, envs.single_action_space, "cpu")
        policy.load_state_dict(ckpt.state["loop"]["learner"])
        epsilon = config.a3c.eval_epsilon if epsilon is None else epsilon
        returns = torch.tensor(evaluate_policy(policy.net, envs, episodes, epsilon=epsilon, seed=seed),
                               dtype=torch.float64)
    finally:
        envs.close()
    return {"env": config.env.id, "run_dir": str(run_dir), "checkpoint": ckpt.path.name, "env_steps": ckpt.step,
            "episodes": len(returns), "policy": f"epsilon {epsilon}" if epsilon else "greedy",
            "return_mean": float(returns.mean()), "return_std": float(returns.std(unbiased=False)),
            "returns": returns.tolist()}
