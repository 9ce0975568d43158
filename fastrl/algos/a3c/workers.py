"""Asynchronous advantage actor-critic (A3C) and asynchronous one-step / n-step Q-learning (Mnih et al. 2016).

N CPU worker processes, each an actor-learner with its own environment and its own copy θ' of the network,
apply their gradients to one set of shared parameters θ without any lock (Hogwild). The variant is chosen
by ``A3CConfig.method``:

A3C (the paper's Algorithm S3), in each worker::

    repeat until T > T_max:
        θ' ← θ                                                    (sync the local copy)
        act with a ~ π(·|s; θ') for t_max steps or until terminal; T ← T + 1 per step
        R = 0 if s is terminal else V(s; θ')                      (bootstrap from V, also at truncation)
        for i = t−1 … t_start:  R ← r_i + γ R
            dθ += ∇ log π(a_i|s_i; θ') (R − V(s_i)) + β ∇ H(π(·|s_i))
            dθ += c_v ∇ (R − V(s_i))²
        Hogwild update of θ with dθ by the shared RMSProp (or shared Adam)

Async n-step Q-learning (Algorithm S2) and one-step Q-learning (Algorithm S1, gradients accumulated over
t_max steps, as the paper's I_AsyncUpdate)::

    repeat until T > T_max:
        θ' ← θ;  act ε-greedily on Q(s, ·; θ') for t_max steps or until terminal
        n-step:   R = 0 if terminal else max_a Q(s_t, a; θ⁻);  R ← r_i + γ R backwards
        one-step: y_i = r_i + γ max_a Q(s_{i+1}, a; θ⁻)  (0 past a terminal)
        dθ = ∇ Σ_i ½ (y_i − Q(s_i, a_i; θ'))²;  Hogwild update of θ
        every target_period global steps T: θ⁻ ← θ  (θ⁻ is shared)

with each worker's final ε drawn from {0.1, 0.01, 0.5} with probabilities {0.4, 0.3, 0.3} and annealed
from 1 over the first ``epsilon_decay_steps`` global steps.

The networks are feed-forward (Nature CNN for stacked frames, MLP for vectors) or, for A3C, with an LSTM
after the torso; the LSTM's state is carried across rollouts and reset at episode ends, and the loss
re-runs the rollout from the state it started with.

The parts: this module holds ``a3c_actor_learner`` and ``q_actor_learner`` (the two algorithms, one worker
process each) and ``evaluator`` (a process that plays greedy episodes with a snapshot of θ);
``fastrl.algos.a3c.supervisor`` the supervisor that ``fastrl.runner.train`` hands an A3C run to (run
directory, metrics, checkpoints, resume: the run's parts). The config (``A3CConfig``) lives in
``fastrl.config.a3c``, the presets (a3c-atari, a3c-catch, a3c-cartpole, nstepq-catch) in ``spec.py``; the
process plumbing (shared memory, shared optimizers, lock-free counters, supervision,
signals) is ``fastrl.hogwild``.

A script that starts a run must do so under ``if __name__ == "__main__":`` (the worker processes import
the script's module first, as with any forkserver or spawn start).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fastrl import checkpoint, hogwild
from fastrl.config import A3CConfig, check_fits_env, network_for
from fastrl.nets import MLP, NatureCNN
from fastrl.run.evaluation import EVAL_SEED_OFFSET
from fastrl.run.intervals import next_multiple

#: the paper's distribution of each Q-learning worker's final epsilon
EPSILON_FINALS = ((0.1, 0.4), (0.01, 0.3), (0.5, 0.3))
#: learner statistics each worker sums into its board row (then the update count), per method family
STATS = {"a3c": ("loss_policy", "loss_value", "entropy", "grad_norm"),
         "q": ("loss", "q_mean", "epsilon", "grad_norm")}
STAT_COLUMNS = 5
EVENTS = "workers.jsonl"
#: modules the forkserver imports once, so that a worker (or a restarted one) starts without importing them
PRELOAD = ("fastrl.algos.a3c.workers", "fastrl.envs", "fastrl.envs.envpool")


# ---------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------


class Network(nn.Module):
    """Torso [→ LSTM] → heads: policy logits and V(s) (A3C), or Q(s, ·) (Q-learning).

    ``forward(obs [T, B, ...], state)`` → ``(out [T, B, A], value [T, B] or None, state)``: T steps of B
    envs; ``state`` is the LSTM's (h, c), each [1, B, lstm_size], or None without an LSTM.
    """

    def __init__(self, observation_shape: tuple[int, ...], actions: int, *, torso: str, hidden: tuple[int, ...],
                 lstm_size: int, actor_critic: bool):
        super().__init__()
        self.torso = NatureCNN(observation_shape[0]) if torso == "nature_cnn" else MLP(observation_shape, hidden)
        features = self.torso.out_features
        self.lstm = nn.LSTM(features, lstm_size) if lstm_size else None
        features = lstm_size or features
        self.head = nn.Linear(features, actions)  # policy logits, or Q
        self.value = nn.Linear(features, 1) if actor_critic else None
        if actor_critic:  # a near-uniform first policy, as common A3C implementations start
            nn.init.orthogonal_(self.head.weight, gain=0.01)
            nn.init.zeros_(self.head.bias)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.lstm is None:
            return None
        zeros = torch.zeros(1, batch, self.lstm.hidden_size)
        return zeros, zeros.clone()

    def forward(self, obs: torch.Tensor, state=None):
        steps, batch = obs.shape[:2]
        x = self.torso(obs.reshape(steps * batch, *obs.shape[2:])).view(steps, batch, -1)
        if self.lstm is not None:
            x, state = self.lstm(x, state)
        out = self.head(x)
        value = self.value(x).squeeze(-1) if self.value is not None else None
        return out, value, state


@dataclass(frozen=True)
class Spec:
    """What every worker process needs to rebuild its part of the run (pickled to it)."""

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

    def network(self) -> Network:
        c = self.a3c
        return Network(self.observation_shape, self.actions, torso=network_for(c, self.observation_shape),
                       hidden=c.hidden, lstm_size=c.lstm_size if c.lstm else 0, actor_critic=c.family == "a3c")

    def make_env(self, num_envs: int, seed: int):
        """The env on the CPU. Action checks are off unless the options ask for them: the workers' actions
        are in range by construction (drawn from the policy's A logits or Q values), and the check cost
        a fifth of a native Catch step."""
        from fastrl.config import EnvConfig
        from fastrl.envs import make_env

        options = {"check_actions": False,
                   **EnvConfig(id=self.env_id, num_envs=num_envs, options=self.env_options).make_options()}
        return make_env(self.env_id, num_envs, backend=self.env_backend, device="cpu", seed=seed, **options)


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
    return Shared(params, target, optimizer, hogwild.Board(c.workers, STAT_COLUMNS), evaluated)


def learning_rate(c: A3CConfig, global_steps: int, total_env_steps: int) -> float:
    if not c.anneal_lr:
        return c.lr
    return c.lr * max(0.0, 1.0 - global_steps / total_env_steps)


# ---------------------------------------------------------------------------------------------------------
# The actor-learners (one per worker process)
# ---------------------------------------------------------------------------------------------------------


def a3c_actor_learner(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """Algorithm S3: one A3C actor-learner, until the global step counter T reaches total_env_steps."""
    c, w = spec.a3c, _Worker(index, spec, shared, incarnation)
    state = w.net.initial_state(1)
    while w.running():
        w.sync()                                                        # θ' ← θ
        start_state = state
        with torch.no_grad():
            for t in range(c.t_max):                                    # act until terminal or t_max steps
                logits, _, state = w.net(w.obs[t:t + 1], state)
                w.step(t, w.sample(logits.view(-1)))                   # a ~ π(·|s; θ')
                if w.done:
                    break
        n = w.length
        logits, values, _ = w.net(w.obs[:n + 1], start_state)           # the rollout again, with gradients
        values = values.view(n + 1)
        returns = w.returns(0.0 if w.terminated else float(values[n].detach()))  # R = V(s_t), or 0 if terminal
        log_probs = logits[:n].view(n, -1).log_softmax(-1)
        log_prob_taken = log_probs.gather(1, w.actions[:n, None]).view(n)
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        advantage = returns - values[:n]
        policy_loss = -(log_prob_taken * advantage.detach()).sum() - c.entropy_coef * entropy.sum()
        value_loss = advantage.pow(2).sum()
        w.update(policy_loss + c.value_coef * value_loss,                # dθ, then the Hogwild update of θ
                 (policy_loss.detach(), value_loss.detach() / n, entropy.detach().mean()))
        if w.done:
            state = w.net.initial_state(1)
        w.next_rollout()


def q_actor_learner(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """Algorithms S2 (n-step) and S1 (one-step) Q-learning: one actor-learner, until T reaches the total."""
    c, w = spec.a3c, _Worker(index, spec, shared, incarnation)
    target = hogwild.bind_flat(spec.network(), shared.target).requires_grad_(False)  # θ⁻, read live
    final_epsilon = _draw_final_epsilon(random.Random(spec.seed * 7919 + index))
    while w.running():
        w.sync()                                                        # θ' ← θ
        epsilon = _epsilon(c, final_epsilon, w.global_steps)
        with torch.no_grad():
            for t in range(c.t_max):                                    # ε-greedy until terminal or t_max steps
                if w.draws.random() < epsilon:
                    w.step(t, w.action_tensor(w.draws.randrange(spec.actions)))
                else:
                    w.step(t, w.net(w.obs[t:t + 1])[0].view(-1).argmax().view(1))
                if w.done:
                    break
            n = w.length
            next_max = target(w.obs[1:n + 1])[0].view(n, -1).max(-1).values       # max_a Q(s_{i+1}, a; θ⁻)
            if c.method == "nstep_q":
                targets = w.returns(0.0 if w.terminated else float(next_max[n - 1]))
            else:
                next_max[n - 1] *= 0.0 if w.terminated else 1.0
                targets = w.rewards[:n] + c.gamma * next_max
        q = w.net(w.obs[:n])[0].view(n, -1)
        q_taken = q.gather(1, w.actions[:n, None]).view(n)
        loss = 0.5 * (targets - q_taken).pow(2).sum()
        w.update(loss, (loss.detach() / n, q_taken.detach().mean(), torch.tensor(epsilon)))
        _refresh_target(c, shared, w.global_steps)                       # θ⁻ ← θ every target_period steps
        w.next_rollout()


def _draw_final_epsilon(rng: random.Random) -> float:
    values, weights = zip(*EPSILON_FINALS, strict=True)
    return rng.choices(values, weights=weights)[0]


def _epsilon(c: A3CConfig, final: float, global_steps: int) -> float:
    if global_steps >= c.epsilon_decay_steps:
        return final
    return c.epsilon_start + (final - c.epsilon_start) * global_steps / c.epsilon_decay_steps


def _refresh_target(c: A3CConfig, shared: Shared, global_steps: int) -> None:
    """The worker that sees T cross a multiple of target_period copies θ into θ⁻. Two may race to it:
    then both copy, which is harmless; no lock needed."""
    version = global_steps // c.target_period
    control = shared.board.control
    if version > int(control[hogwild.TARGET_VERSION]):
        control[hogwild.TARGET_VERSION] = version
        shared.target.copy_(shared.params)


class _Worker:
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
        values = [float(v) for v in stats] + [norm, 1.0]  # the method's STATS, then the update count
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
def evaluate_policy(net: Network, envs, episodes: int, *, epsilon: float, seed: int,
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


def spec_for(config, observation_shape: tuple[int, ...], actions: int) -> Spec:
    return Spec(a3c=config.a3c, env_id=config.env.id, env_backend=config.env.backend,
                env_options=tuple(config.env.options), seed=config.seed, total_env_steps=config.total_env_steps,
                observation_shape=observation_shape, actions=actions, eval_interval=config.eval_interval,
                eval_episodes=config.eval_episodes, stop_return=config.stop_return)


def learner_for(config, observation_space, action_space, device) -> Policy:
    """The policy of a ``RunConfig`` for envs with these (single-env) spaces; only the CPU."""
    return Policy(spec_for(config, tuple(observation_space.shape), int(action_space.n)))


def evaluate_run(run_dir: str | Path, *, episodes: int, epsilon: float | None = None, num_envs: int = 0,
                 checkpoint_path: str | Path | None = None, device: str | None = None,
                 seed: int = 12345) -> dict[str, Any]:
    """``fastrl eval`` for an A3C run: mean and std of the full-game return of its saved policy."""
    from fastrl.runner import load_run_config

    if episodes < 1:
        raise ValueError(f"--episodes {episodes}: expected at least 1")
    if device not in (None, "cpu"):
        raise ValueError(f"--device {device}: A3C policies are evaluated on the CPU")
    config = load_run_config(run_dir)
    ckpt = checkpoint.load(checkpoint_path or run_dir)
    envs = spec_for(config, (), 0).make_env(num_envs or min(episodes, 8), seed)
    try:
        check_fits_env(config, envs.single_observation_space, envs.single_action_space)
        policy = learner_for(config, envs.single_observation_space, envs.single_action_space, "cpu")
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
