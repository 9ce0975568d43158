"""der-atari100k: data-efficient Rainbow (van Hasselt, Hessel & Aslanides 2019) on the Atari-100k protocol: the
preset's values, its network (``network="der"``), the 20-step returns of one env, the published rows that bench
learn sets beside it, and one short run end to end."""

from __future__ import annotations

import dataclasses
import json

import gymnasium
import numpy as np
import pytest
import torch

from fastrl.benchmarks.learn import LearnBenchConfig, frame_skip, seed_config
from fastrl.benchmarks.published import at, published_for
from fastrl.config import ConfigError, check_fits_env, preset
from fastrl.nets import DataEfficientCNN, NoisyLinear, q_network
from fastrl.replay import BufferConfig, ReplayBuffer

FRAMES = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
GAMES = {"Pong-v5": -19.3, "Breakout-v5": 1.9, "Boxing-v5": 0.2}  # DER's 100k scores, as published.py quotes them


def test_der_atari100k_is_data_efficient_rainbow():
    config = preset("der-atari100k")
    dqn, replay, env = config.dqn, config.replay, config.env
    # what DER changes in Rainbow (Kaixhin/Rainbow's DER command; Dopamine's DER.gin where it agrees)
    assert config.total_env_steps == 100_000 and frame_skip(config) * config.total_env_steps == 400_000
    assert dqn.replay_ratio == 1.0                              # an update every env step
    assert replay.n_step == 20                                   # the paper's n (DER.gin: 10, as SPR)
    assert dqn.learning_starts == 1_600                          # agent steps of history before learning
    assert (dqn.target_update, dqn.target_period) == ("hard", 2_000)  # updates = env steps here
    assert (dqn.optimizer, dqn.lr, dqn.optim_eps) == ("adam", 1e-4, 1.5e-4)
    assert replay.capacity >= config.total_env_steps             # "unbounded": the replay holds the whole run
    assert dqn.network == "der"
    # Rainbow's own (Hessel et al. 2018, Table 1)
    assert (dqn.double, dqn.dueling, dqn.distributional, replay.prioritized) == (True, True, True, True)
    assert dqn.exploration == "noisy" and dqn.noisy_sigma0 == 0.5
    assert (dqn.atoms, dqn.v_min, dqn.v_max, dqn.gamma, dqn.batch_size) == (51, -10.0, 10.0, 0.99, 32)
    assert (replay.alpha, replay.beta_start, replay.beta_end) == (0.5, 0.4, 1.0)
    assert dqn.eval_epsilon == 0.001
    # the Atari-100k protocol: one env, no sticky actions, 30 no-ops, 108k-frame episodes, life loss as terminal
    # in training (full games in evaluation: the env's full-game return), clipped rewards in training
    assert (env.num_envs, env.backend) == (1, "envpool")
    options = env.make_options()
    assert options.get("repeat_action_probability", 0.0) == 0.0
    assert options.get("noop_max", 30) == 30 and options.get("max_episode_frames", 108_000) == 108_000
    assert options["episodic_life"] is True and options["reward_clip"] is True
    assert not options.get("full_action_space", False)
    assert replay.save_with_checkpoint  # a cut-off run resumes with its whole history


def test_der_network_is_the_papers():
    """Conv 32x5x5 stride 5 and 64x5x5 stride 5 without padding (84 -> 16 -> 3: 576 features), 256 units, then
    the dueling C51 head; NoisyNet makes every linear layer noisy, the torso's 256-unit layer too."""
    net = q_network((4, 84, 84), 6, network="der", hidden=(), dueling=True, atoms=51, noisy_sigma0=0.5)
    assert isinstance(net.torso, DataEfficientCNN)
    first, second = net.torso.convs[0], net.torso.convs[2]
    assert (first.in_channels, first.out_channels, first.kernel_size, first.stride, first.padding) == (
        4, 32, (5, 5), (5, 5), (0, 0))
    assert (second.in_channels, second.out_channels, second.kernel_size, second.stride, second.padding) == (
        32, 64, (5, 5), (5, 5), (0, 0))
    fc = net.torso.fc[0]
    assert isinstance(fc, NoisyLinear) and (fc.in_features, fc.out_features) == (576, 256)
    assert net.torso.convs(torch.zeros(1, 4, 84, 84)).shape == (1, 576)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert net(frames).shape == (3, 6, 51)
    torch.testing.assert_close(net(frames), net(frames.float() / 255.0))  # uint8 frames are scaled inside


def test_der_network_fits_frames_and_refuses_vectors():
    config = preset("der-atari100k")
    check_fits_env(config, FRAMES, gymnasium.spaces.Discrete(6))
    vector = dataclasses.replace(config, env=dataclasses.replace(config.env, id="CartPole-v1"))
    with pytest.raises(ConfigError, match=r"data-efficient Rainbow's CNN \(--network der\) needs stacked 84x84 "
                                          r"frames \[C, 84, 84\], but CartPole-v1 observes shape \(4,\)"):
        check_fits_env(vector, gymnasium.spaces.Box(-1, 1, (4,), np.float32), gymnasium.spaces.Discrete(2))


def test_twenty_step_returns_of_one_env():
    """n = 20, gamma 0.99, one env, reward 1 a step, terminated at step 25: a transition 20 steps from the end
    sums 20 rewards and bootstraps with gamma^20; a later one is cut at the termination (discount 0)."""
    gamma, n, last = 0.99, 20, 25
    buffer = ReplayBuffer(BufferConfig(capacity=64, num_envs=1, obs_shape=(1,), n_step=n, gamma=gamma))
    buffer.add(torch.zeros(1, 1))
    for t in range(1, last + 1):
        buffer.add(torch.full((1, 1), float(t)), torch.tensor([t % 3]), torch.tensor([1.0]),
                   torch.tensor([t == last]), torch.tensor([False]))
    batch = buffer.get(torch.tensor([0, 4, 5, 10, 24]))
    full = sum(gamma ** k for k in range(n))
    expected_reward = [full, full, full, sum(gamma ** k for k in range(last - 10)), 1.0]
    torch.testing.assert_close(batch.reward, torch.tensor(expected_reward), rtol=1e-6, atol=0)
    # from step 5 the 20th step is the terminal one: all 20 rewards, nothing to bootstrap from
    torch.testing.assert_close(batch.discount, torch.tensor([gamma ** n, gamma ** n, 0.0, 0.0, 0.0]), rtol=1e-6,
                               atol=0)
    torch.testing.assert_close(batch.next_obs[:, 0], torch.tensor([20.0, 24.0, 25.0, 25.0, 25.0]))


@pytest.mark.parametrize("env_id", sorted(GAMES))
def test_bench_learn_sets_the_der_row_beside_the_preset(env_id):
    """``fastrl bench learn --preset der-atari100k --env <game>``: the run's algo is "dqn" and its final point
    (100k env steps, 400k frames) picks DER's row in env steps."""
    config = seed_config(LearnBenchConfig(preset="der-atari100k", env=env_id), 0)
    assert config.algo == "dqn" and config.env.id == env_id
    row = at(published_for(config.algo, env_id), config.total_env_steps, "env_steps")
    assert row is not None and row.method.startswith("DER") and (row.x, row.x_unit) == (100_000, "env_steps")
    assert row.score == GAMES[env_id] and "Table 5" in row.source


@pytest.mark.slow
def test_der_trains_end_to_end_and_evaluates(tmp_path):
    """2000 env steps on Boxing (400 updates after the 1600 steps of history), one evaluation game at the end."""
    from fastrl.train_cli import train_main

    run_dir = tmp_path / "der"
    assert train_main(["dqn", "--preset", "der-atari100k", "--env", "Boxing-v5", "--total-env-steps", "2000",
                       "--eval-episodes", "1", "--no-save-with-checkpoint", "--no-tensorboard", "--no-progress",
                       "--run-dir", str(run_dir)]) == 0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    final = rows[-1]
    assert final["env_steps"] == 2000 and final["updates"] == 401
    assert final["eval_episodes"] == 1 and np.isfinite(final["eval_return_mean"])
    assert -100 <= final["eval_return_mean"] <= 100  # a Boxing game's score
