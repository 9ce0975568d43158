"""One loop for every replay-based learner (the DQN family, DDPG / TD3 / D4PG), with the learner's hooks.

The loop of Mnih et al. (2015, Algorithm 1), for N envs stepping together::

    for each env step (N transitions at once):
        a = learner.behave(s)                       (ε-greedy; exploration noise; uniform before learning starts)
        s', r, done = envs.step(a);  store (s, a, r, s') in D;  learner.observe(s', done)
        every 1 / replay_ratio env steps, once D holds learning_starts env steps:
            learner_step: sample a minibatch from D, learner.update(minibatch) -> |δ|,
                          prioritized: D turns |δ| into priorities

The learner owns its update rule (the target y, the loss, the target networks); this module owns the order
of the steps, the replay-ratio schedule and what a checkpoint of the loop holds, so a resume continues every
learner the same way. ``fastrl bench train`` times ``learner_step`` itself, not a copy of it.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch

from fastrl import checkpoint


class OffPolicyLearner(Protocol):
    updates: int

    def behave(self, obs: torch.Tensor, env_steps: int, learning: bool) -> torch.Tensor:
        """The actions of the behaviour policy; ``learning``: the replay holds enough to learn from."""

    def observe(self, obs: torch.Tensor, done: torch.Tensor | None) -> None:
        """Sees every new observation (and which envs' episodes ended; None at a reset)."""

    def update(self, batch) -> torch.Tensor:
        """One gradient step on a minibatch; the absolute TD errors [B] (detached)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def updates_total(config, section) -> int:
    """The gradient updates of a ``RunConfig``'s whole run: ``replay_ratio`` per env step after
    ``learning_starts`` (``section``: the learner's config section)."""
    return max(1, math.ceil((config.total_env_steps - section.learning_starts) * section.replay_ratio))


def updates_due(env_steps: int, updates_done: int, section, learning_from: int) -> int:
    """Gradient updates to run now so that from env step ``learning_from`` on, ``updates_done`` (counted
    from there) keeps up with replay_ratio × env steps (one update at ``learning_from`` itself)."""
    if env_steps < learning_from:
        return 0
    target = math.floor((env_steps - learning_from) * section.replay_ratio) + 1
    return max(0, target - updates_done)


def learner_step(replay, learner: OffPolicyLearner, batch_size: int, sampling: torch.Generator,
                 prioritized: bool, clock) -> None:
    """Sample a minibatch, update the learner on it, and (prioritized) give the replay its TD errors;
    ``clock``: the stage timers (``fastrl.run.stopwatch.Stopwatch``)."""
    with clock("sample"):
        batch = replay.sample(batch_size, sampling)
    with clock("update"):
        abs_td = learner.update(batch)
        if prioritized:
            replay.update_priorities(batch.indices, abs_td)


def train(run, learner: OffPolicyLearner, section) -> OffPolicyLearner:
    """Train ``learner`` (configured by ``section``: batch_size, gamma, learning_starts, replay_ratio) on
    ``run``'s envs until the run's step budget is spent."""
    clock, envs = run.stopwatch, run.envs
    prioritized = run.config.replay.prioritized
    replay = run.make_replay(section.gamma, updates_total(run.config, section))
    sampling = torch.Generator(device=run.device).manual_seed(run.config.seed + 1)  # replay draws
    # Updates start once the replay holds learning_starts env steps: at learning_starts in a fresh run, and
    # learning_starts after a resume that starts with an empty replay.
    learning_from, updates_before = section.learning_starts, 0
    if run.checkpoint is not None:
        saved = run.checkpoint.state["loop"]
        learner.load_state_dict(saved["learner"])
        checkpoint.set_generator_state(sampling, saved["sampling"])
        learning_from, updates_before = saved["learning_from"], saved["updates_before"]
        if replay.steps == 0:
            learning_from, updates_before = run.env_steps + section.learning_starts, learner.updates
    obs = run.start(replay)
    if not run.envs_restored:  # new episodes: the learner sees their first observations
        learner.observe(obs, None)

    def state() -> dict[str, Any]:
        return {"learner": learner.state_dict(), "obs": obs, "sampling": checkpoint.generator_state(sampling),
                "learning_from": learning_from, "updates_before": updates_before}

    running = run.env_steps < run.config.total_env_steps
    while running:
        with clock("act"):
            action = learner.behave(obs, run.env_steps, run.env_steps >= learning_from)
        with clock("env"):
            obs, reward, terminated, truncated, info = envs.step(action)
        with clock("replay_add"):
            replay.add(obs, action, reward, terminated, truncated)
            learner.observe(obs, terminated | truncated)
        run.after_step(info)
        for _ in range(updates_due(run.env_steps, learner.updates - updates_before, section, learning_from)):
            learner_step(replay, learner, section.batch_size, sampling, prioritized, clock)
        running = run.tick(learner, state, replay)
    return learner
