"""UNREAL (Jaderberg et al. 2017): the A3C LSTM agent learning, beside its own loss, three auxiliary tasks from
a small replay of its own frames, on Hogwild workers (``fastrl.algos.asynchronous``). In each worker::

    repeat until T > T_max:
        θ' ← θ;  act with a ~ π(·|s; θ') for t_max steps or until terminal; add the transitions to the replay
        L = L_A3C (the rollout's, as A3C)
        once the replay is full (its 2000 frames):
            sequence ← up to replay_sequence transitions of one episode, run from a zero LSTM state
            L += λ_PC L_PC(sequence)          pixel control
            L += λ_VR c_v L_VR(sequence)      value-function replay
            L += λ_RP L_RP(k frames)          reward prediction, rewarding and not 50/50
        Hogwild update of θ with ∇L

The losses are ``losses.py``, the replay and its sampling ``replay.py``, the network's heads ``network.py``.
Pixel control and value replay read one sampled sequence (one forward pass for both); the paper's agent feeds
its LSTM the last action and reward too, this one only the frame, as A3C LSTM here (so that with every task
off it is fastrl's A3C LSTM exactly).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from fastrl.algos.asynchronous import supervisor
from fastrl.algos.asynchronous import workers as parts
from fastrl.algos.asynchronous.actor_critic import act, actor_critic_loss
from fastrl.algos.asynchronous.workers import Shared, Worker
from fastrl.algos.unreal.losses import (
    pixel_change,
    pixel_control_loss,
    reward_prediction_loss,
    value_replay_loss,
)
from fastrl.algos.unreal.network import UnrealNetwork
from fastrl.algos.unreal.replay import FrameReplay
from fastrl.config import UnrealConfig, network_for

#: the base agent's statistics, then each auxiliary task's loss (``UnrealConfig.tasks``), then the gradient norm
AGENT_STATS = ("loss_policy", "loss_value", "entropy")


@dataclass(frozen=True)
class Spec(parts.Spec):
    """UNREAL's part of the run (see ``asynchronous.workers.Spec``): the a3c section is the base agent."""

    unreal: UnrealConfig = UnrealConfig()

    preload: ClassVar[tuple[str, ...]] = ("fastrl.algos.unreal.workers", *parts.Spec.preload)

    def network(self) -> UnrealNetwork:
        c = self.a3c
        return UnrealNetwork(self.observation_shape, self.actions, torso=network_for(c, self.observation_shape),
                             hidden=c.hidden, lstm_size=c.lstm_size if c.lstm else 0, unreal=self.unreal)

    def actor_learner(self) -> Callable[..., None]:
        return unreal_actor_learner

    @property
    def stats(self) -> tuple[str, ...]:
        return (*AGENT_STATS, *(f"loss_{task}" for task in self.unreal.tasks), "grad_norm")


def unreal_actor_learner(index: int, spec: Spec, shared: Shared, *, incarnation: int = 0) -> None:
    """One UNREAL actor-learner, until the global step counter T reaches total_env_steps."""
    c, u, w = spec.a3c, spec.unreal, Worker(index, spec, shared, incarnation)
    replay = FrameReplay(u.replay_frames, w.obs.shape[2:], w.obs.dtype)
    state = w.net.initial_state(1)
    while w.running():
        w.sync()                                                        # θ' ← θ
        start_state = state
        state = act(c, w, state)                                        # a ~ π(·|s; θ') until terminal or t_max
        n = w.length
        replay.add(w.obs[:n, 0], w.actions[:n], w.rewards[:n], w.obs[1:n + 1, 0], w.done, w.terminated)
        loss, stats = actor_critic_loss(c, w, start_state)
        if replay.full and u.tasks:
            aux, aux_stats = auxiliary_loss(u, c.gamma, c.value_coef, w.net, replay, w.draws)
            loss, stats = loss + aux, stats + aux_stats
        else:  # the auxiliary losses report 0 until the replay is full
            stats += (torch.zeros(()),) * len(u.tasks)
        w.update(loss, stats)                                           # dθ, then the Hogwild update of θ
        if w.done:
            state = w.net.initial_state(1)
        w.next_rollout()


def auxiliary_loss(u: UnrealConfig, gamma: float, value_coef: float, net: UnrealNetwork, replay: FrameReplay,
                   draws) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """λ_PC L_PC + λ_VR c_v L_VR + λ_RP L_RP of the tasks switched on, from one replayed sequence and one
    rebalanced reward sample; and each task's loss, in ``u.tasks`` order."""
    losses: dict[str, torch.Tensor] = {}
    if u.pixel_control or u.value_replay:
        sequence = replay.sample_sequence(draws, u.replay_sequence)
        features, values = net.replay(sequence.frames)
        if u.pixel_control:
            losses["pixel_control"] = u.pixel_control_coef * pixel_control_loss(
                net.pixel_q(features), sequence.actions, pixel_change(sequence.frames, u.pixel_cell),
                sequence.terminal, u.pixel_control_gamma)
        if u.value_replay:
            losses["value_replay"] = u.value_replay_coef * value_coef * value_replay_loss(
                values, sequence.rewards, sequence.terminal, gamma)
    if u.reward_prediction:
        frames, reward = replay.sample_reward_frames(draws, u.reward_frames)
        losses["reward_prediction"] = u.reward_prediction_coef * reward_prediction_loss(
            net.reward_logits(frames), reward.view(1))
    terms = [losses[task] for task in u.tasks]
    return sum(terms), tuple(term.detach() for term in terms)


def spec_for(config, observation_shape: tuple[int, ...], actions: int) -> Spec:
    return Spec(**parts.spec_fields(config, observation_shape, actions), unreal=config.unreal)


#: ``Algorithm.learner_for``, ``supervise`` and ``evaluate_run`` of UNREAL: the shared ones, with its Spec
learner_for = functools.partial(parts.policy_for, spec_for)
train_run = functools.partial(supervisor.train_run, spec_for)
evaluate_run = functools.partial(parts.evaluate_run, spec_for)
