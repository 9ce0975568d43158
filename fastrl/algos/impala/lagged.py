"""IMPALA with a fixed policy lag, in one process: V-trace's correction beside none, on equal terms.

The actor processes' lag comes from their timing (a few updates here), so a run of ``train`` neither forces a
large lag nor repeats itself. Here one actor, in the learner's process, acts for every update with the
parameters of exactly ``lag`` updates before (the first ``lag`` updates learn from the initial parameters'
unrolls), and the rest is IMPALA's own: the actors' ``unroll``, the learner, its loss and its optimizer. With
the run's seed it is deterministic, so ``correction="vtrace"`` and ``"none"`` (``ImpalaConfig``) can be compared
seed by seed at one budget (``fastrl bench lag``, tests/algos/test_impala.py).
"""

from __future__ import annotations

import collections
import copy

import torch

from fastrl import hardware
from fastrl.algos.impala.actors import Slots, unroll
from fastrl.algos.impala.learner import ActorCritic, Impala, learner_for
from fastrl.envs.base import torch_dtype
from fastrl.run.envs import make_env
from fastrl.run.evaluation import EVAL_SEED_OFFSET, evaluate


def train_lagged(config, lag: int) -> Impala:
    """An IMPALA learner trained for ``config``'s budget on unrolls that act with its parameters of ``lag``
    updates before (``batch_unrolls`` unrolls of ``num_envs`` envs per update, on the CPU, on the config's
    torch threads)."""
    with hardware.torch_threads(config.torch_threads):
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            return _train(config, envs, lag)
        finally:
            envs.close()


def _train(config, envs, lag: int) -> Impala:
    c, N = config.impala, config.env.num_envs
    space = envs.single_observation_space
    torch.manual_seed(config.seed)  # the network's initialization, as a run's
    learner = learner_for(config, space, envs.single_action_space, "cpu")
    actor = ActorCritic(learner.observation_shape, learner.actions, c)
    slots = Slots(c.batch_unrolls, c.unroll, N, learner.observation_shape, torch_dtype(space), learner.actions)
    history = collections.deque([copy.deepcopy(learner.net.state_dict())], maxlen=lag + 1)
    generator = torch.Generator().manual_seed(config.seed)
    obs, pending = envs.reset(seed=config.seed), torch.zeros(N, dtype=torch.bool)
    updates = -(-config.total_env_steps // (c.batch_unrolls * c.unroll * N))
    for k in range(updates):
        actor.load_state_dict(history[0])  # the parameters of update max(0, k - lag)
        for s in range(c.batch_unrolls):
            obs, pending = unroll(actor, envs, obs, pending, generator, slots, s, c.unroll)
        batch = {name: torch.cat(list(getattr(slots, name)), dim=1) for name in Slots.FIELDS}
        learner.learn(batch, float(k - max(0, k - lag)), k / updates)
        history.append(copy.deepcopy(learner.net.state_dict()))
    return learner


def final_returns(config, learner: Impala) -> list[float]:
    """The returns of ``config.eval_episodes`` full episodes of the learner's evaluation policy, on envs seeded
    as a run's evaluation envs are."""
    envs = make_env(config, config.env.num_envs, config.seed + EVAL_SEED_OFFSET)
    try:
        return evaluate(envs, learner.act_eval, config.eval_episodes, seed=config.seed + EVAL_SEED_OFFSET,
                        device=learner.device)
    finally:
        envs.close()
