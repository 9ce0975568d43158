"""A3C and async Q-learning pieces on hand-made inputs: returns, the LSTM replay of a rollout, exploration,
and the config checks."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
import torch

from fastrl.algos.a3c import workers as a3c
from fastrl.algos.a3c.spec import default_config
from fastrl.algos.asynchronous import workers as parts
from fastrl.config import ConfigError, check_fits_env, preset


def test_discounted_returns_bootstrap_and_terminal():
    rewards = [1.0, 0.0, 2.0]
    assert parts.discounted_returns(rewards, 10.0, 0.5) == [1.0 + 0.5 * (0.0 + 0.5 * (2.0 + 0.5 * 10.0)),
                                                           0.5 * (2.0 + 0.5 * 10.0), 2.0 + 0.5 * 10.0]
    assert parts.discounted_returns(rewards, 0.0, 0.9) == pytest.approx([1.0 + 0.9 ** 2 * 2.0, 0.9 * 2.0, 2.0])
    assert parts.discounted_returns([], 3.0, 0.9) == []


@pytest.mark.parametrize("lstm_size", [0, 8])
def test_network_replays_a_rollout_as_it_acted(lstm_size):
    """The loss re-runs a rollout from the state it started with: the outputs must be those seen while
    acting step by step (else the gradient would be for other activations)."""
    torch.manual_seed(0)
    net = a3c.Network((10, 5), 3, torso="mlp", hidden=(16,), lstm_size=lstm_size, actor_critic=True)
    obs = torch.rand(6, 1, 10, 5)
    start = net.initial_state(1)
    if start is not None:
        start = (torch.randn_like(start[0]), torch.randn_like(start[1]))
    state, stepped = start, []
    with torch.no_grad():
        for t in range(6):
            out, value, state = net(obs[t:t + 1], state)
            stepped.append((out, value))
    out, value, _ = net(obs, start)
    torch.testing.assert_close(out, torch.cat([o for o, _ in stepped]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(value, torch.cat([v for _, v in stepped]), rtol=1e-5, atol=1e-6)
    assert out.shape == (6, 1, 3) and value.shape == (6, 1)


def test_q_network_has_no_value_head():
    net = a3c.Network((4,), 2, torso="mlp", hidden=(8,), lstm_size=0, actor_critic=False)
    q, value, state = net(torch.rand(3, 2, 4))
    assert q.shape == (3, 2, 2) and value is None and state is None


def test_final_epsilons_follow_the_papers_distribution():
    rng = random.Random(0)
    counts = Counter(a3c._draw_final_epsilon(rng) for _ in range(20_000))
    assert set(counts) == {0.1, 0.01, 0.5}
    for value, probability in a3c.EPSILON_FINALS:
        assert abs(counts[value] / 20_000 - probability) < 0.015


def test_epsilon_anneals_to_the_workers_final_value():
    c = a3c.A3CConfig(method="nstep_q", epsilon_start=1.0, epsilon_decay_steps=1000)
    assert a3c._epsilon(c, 0.1, 0) == 1.0
    assert a3c._epsilon(c, 0.1, 500) == pytest.approx(0.55)
    assert a3c._epsilon(c, 0.1, 1000) == 0.1 and a3c._epsilon(c, 0.1, 10**9) == 0.1


def test_learning_rate_anneals_to_zero():
    c = a3c.A3CConfig(lr=1e-3, anneal_lr=True)
    assert parts.learning_rate(c, 0, 100) == 1e-3
    assert parts.learning_rate(c, 50, 100) == pytest.approx(5e-4)
    assert parts.learning_rate(c, 200, 100) == 0.0
    assert parts.learning_rate(dataclasses.replace(c, anneal_lr=False), 50, 100) == 1e-3


def test_a3c_atari_preset_is_the_papers():
    config = preset("a3c-atari")
    c = config.a3c
    assert (c.workers, c.t_max, c.optimizer, c.lr, c.rmsprop_alpha, c.optim_eps, c.entropy_coef, c.max_grad_norm) \
        == (16, 5, "rmsprop", 7e-4, 0.99, 0.1, 0.01, 40.0)
    assert config.env.id == "Pong-v5" and config.env.num_envs == 1 and "num_threads=1" in config.env.options


@pytest.mark.parametrize("fields, match", [
    ({"method": "sarsa"}, "--method"),
    ({"workers": 0}, "--workers"),
    ({"t_max": 0}, "--t-max"),
    ({"lr": -1.0}, "learning rate"),
    ({"method": "nstep_q", "lstm": True}, "--lstm"),
    ({"optim_eps": 0.0}, "--optim-eps"),
])
def test_bad_a3c_config_is_refused(fields, match):
    with pytest.raises(ConfigError, match=match):
        a3c.A3CConfig(**fields)


def test_run_checks():
    config = preset("a3c-catch")
    with pytest.raises(ConfigError, match="--num-envs"):
        dataclasses.replace(config, env=dataclasses.replace(config.env, num_envs=8))
    with pytest.raises(ConfigError, match="--eval-interval"):
        dataclasses.replace(config, stop_return=0.9, eval_interval=0)
    with pytest.raises(ConfigError, match="Nature CNN"):
        check_fits_env(dataclasses.replace(config, a3c=dataclasses.replace(config.a3c, network="nature_cnn")),
                       *_catch_spaces())


def test_default_config_follows_the_env():
    assert default_config("Breakout-v5").a3c.workers == 16
    assert default_config("Breakout-v5").env.id == "Breakout-v5"
    cartpole = default_config("CartPole-v1")
    assert cartpole.env.num_envs == 1 and cartpole.a3c.network == "mlp"


def _catch_spaces():
    from fastrl.envs import make_env

    env = make_env("Catch-v0", 1, backend="native")
    return env.single_observation_space, env.single_action_space


@pytest.mark.parametrize("env_id, backend", [("Catch-v0", "native"), ("CartPole-v1", "gymnasium"),
                                             ("CartPole-v1", "envpool")])
def test_a_rollout_after_an_episode_end_starts_from_the_new_episode(env_id, backend):
    """Next-step autoreset: after a done step the worker spends the env's reset step (not a transition), so
    the next rollout's first observation is the new episode's first one."""
    spec = a3c.Spec(a3c=a3c.A3CConfig(workers=1, t_max=600, network="mlp", hidden=(8,)), env_id=env_id,
                    env_backend=backend, env_options=(), seed=3, total_env_steps=10**6,
                    observation_shape=(10, 5) if env_id == "Catch-v0" else (4,), actions=3 if env_id == "Catch-v0" else 2,
                    eval_interval=0, eval_episodes=1)
    worker = parts.Worker(0, spec, parts.make_shared(spec, 0), 0)
    for t in range(600):
        worker.step(t, worker.action_tensor(0))
        if worker.done:
            break
    assert worker.done and worker.resets
    final = worker.obs[worker.length].clone()
    worker.next_rollout()
    first = worker.obs[0]
    if env_id == "Catch-v0":
        assert first[0, 0].sum() >= 1 and final[0, 9].sum() >= 1  # ball back in the top row; it was at the bottom
    else:
        assert bool((first.abs() <= 0.05).all()) and not bool((final.abs() <= 0.05).all())  # a reset state
    assert worker.board.episodes_written[0] == 1
