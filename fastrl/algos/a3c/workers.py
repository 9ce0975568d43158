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
process each) and their ``Spec``; what any Hogwild actor-learner run needs besides (the network, a worker's
plumbing, the evaluator process, the supervisor that ``fastrl.runner.train`` hands the run to) is
``fastrl.algos.asynchronous``, shared with UNREAL. The config (``A3CConfig``) lives in ``fastrl.config.a3c``,
the presets (a3c-atari, a3c-catch, a3c-cartpole, nstepq-catch) in ``spec.py``; the process plumbing (shared
memory, shared optimizers, lock-free counters, supervision, signals) is ``fastrl.hogwild``.

A script that starts a run must do so under ``if __name__ == "__main__":`` (the worker processes import
the script's module first, as with any forkserver or spawn start).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from fastrl import hogwild
from fastrl.algos.asynchronous import supervisor
from fastrl.algos.asynchronous import workers as parts
from fastrl.algos.asynchronous.actor_critic import act, actor_critic_loss
from fastrl.algos.asynchronous.network import Network
from fastrl.algos.asynchronous.workers import Shared, Worker
from fastrl.config import A3CConfig, network_for

#: the paper's distribution of each Q-learning worker's final epsilon
EPSILON_FINALS = ((0.1, 0.4), (0.01, 0.3), (0.5, 0.3))
#: learner statistics each worker sums into its board row (then the update count), per method family
STATS = {"a3c": ("loss_policy", "loss_value", "entropy", "grad_norm"),
         "q": ("loss", "q_mean", "epsilon", "grad_norm")}


@dataclass(frozen=True)
class Spec(parts.Spec):
    """A3C's and async Q-learning's part of the run (see ``asynchronous.workers.Spec``)."""

    preload: ClassVar[tuple[str, ...]] = ("fastrl.algos.a3c.workers", *parts.Spec.preload)

    def network(self) -> Network:
        c = self.a3c
        return Network(self.observation_shape, self.actions, torso=network_for(c, self.observation_shape),
                       hidden=c.hidden, lstm_size=c.lstm_size if c.lstm else 0, actor_critic=c.family == "a3c")

    def actor_learner(self) -> Callable[..., None]:
        return a3c_actor_learner if self.a3c.family == "a3c" else q_actor_learner

    @property
    def stats(self) -> tuple[str, ...]:
        return STATS[self.a3c.family]


# ---------------------------------------------------------------------------------------------------------
# The actor-learners (one per worker process)
# ---------------------------------------------------------------------------------------------------------


def a3c_actor_learner(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """Algorithm S3: one A3C actor-learner, until the global step counter T reaches total_env_steps."""
    c, w = spec.a3c, Worker(index, spec, shared, incarnation)
    state = w.net.initial_state(1)
    while w.running():
        w.sync()                                                        # θ' ← θ
        start_state = state
        state = act(c, w, state)                                        # a ~ π(·|s; θ') until terminal or t_max
        w.update(*actor_critic_loss(c, w, start_state))                 # dθ, then the Hogwild update of θ
        if w.done:
            state = w.net.initial_state(1)
        w.next_rollout()


def q_actor_learner(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """Algorithms S2 (n-step) and S1 (one-step) Q-learning: one actor-learner, until T reaches the total."""
    c, w = spec.a3c, Worker(index, spec, shared, incarnation)
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


def spec_for(config, observation_shape: tuple[int, ...], actions: int) -> Spec:
    return Spec(**parts.spec_fields(config, observation_shape, actions))


#: ``Algorithm.learner_for``, ``supervise`` and ``evaluate_run`` of A3C: the shared ones, with its Spec
learner_for = functools.partial(parts.policy_for, spec_for)
train_run = functools.partial(supervisor.train_run, spec_for)
evaluate_run = functools.partial(parts.evaluate_run, spec_for)
