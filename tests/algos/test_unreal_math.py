"""UNREAL's auxiliary losses on hand-made batches against the paper's equations (Jaderberg et al. 2017,
section 3): the pixel-change pseudo-reward, the pixel-control n-step Q target and loss, the rebalanced
reward-prediction sampling and loss, value replay's target; and each task switched on alone."""

from __future__ import annotations

import dataclasses
import random

import gymnasium
import numpy as np
import pytest
import torch

from fastrl.algos.asynchronous.network import Network
from fastrl.algos.unreal import losses
from fastrl.algos.unreal.network import UnrealNetwork
from fastrl.algos.unreal.replay import FrameReplay
from fastrl.algos.unreal.workers import auxiliary_loss, spec_for
from fastrl.config import ConfigError, RunConfig, UnrealConfig, check_fits_env, preset

NO_TASKS = dict(pixel_control=False, reward_prediction=False, value_replay=False)


# ---- pixel control --------------------------------------------------------------------------------------


def test_pixel_change_is_the_mean_absolute_change_of_each_cell_over_its_pixels_and_channels():
    frames = torch.zeros(2, 2, 4, 4)  # T+1 = 2 frames of 2 channels, 4x4
    frames[1, 0, 0, 0] = 1.0           # one pixel of channel 0 in the top-left 2x2 cell
    frames[1, 1, 3, 2:] = -1.0         # two pixels of channel 1 in the bottom-right cell
    change = losses.pixel_change(frames, cell=2)
    assert change.shape == (1, 2, 2)
    assert torch.allclose(change[0], torch.tensor([[1 / 8, 0.0], [0.0, 2 / 8]]))  # 8 = 2x2 pixels x 2 channels
    board = torch.tensor([[[0, 1], [0, 0]], [[0, 0], [1, 0]], [[0, 0], [1, 0]]], dtype=torch.bool)  # [3, 2, 2]
    assert torch.equal(losses.pixel_change(board, cell=1), torch.tensor([[[0, 1], [1, 0]], [[0, 0], [0, 0.0]]]))


def test_pixel_control_loss_is_n_step_q_learning_in_every_cell():
    # T = 2 steps, 2 actions, a grid of 1x2 cells; γ = 0.5
    q = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]],
                      [[[0.5, 0.0]], [[1.0, 1.0]]],
                      [[[2.0, -1.0]], [[1.0, 3.0]]]], requires_grad=True)  # [3, A=2, 1, 2]
    actions = torch.tensor([1, 0])
    r = torch.tensor([[[0.25, 0.0]], [[1.0, 0.5]]])  # [2, 1, 2]
    gamma = 0.5
    bootstrap = torch.tensor([[2.0, 3.0]])          # max_a Q(s_2, a) per cell
    r1 = r[1] + gamma * bootstrap
    r0 = r[0] + gamma * r1
    q_taken = torch.stack([q[0, 1], q[1, 0]])       # Q(s_0, a_0 = 1), Q(s_1, a_1 = 0)
    expected = 0.5 * ((r0 - q_taken[0]) ** 2 + (r1 - q_taken[1]) ** 2).sum()
    loss = losses.pixel_control_loss(q, actions, r, terminal=False, gamma=gamma)
    assert torch.allclose(loss, expected)
    loss.backward()
    assert torch.equal(q.grad[2], torch.zeros(2, 1, 2))  # the bootstrap is a target: no gradient through it
    assert torch.equal(q.grad[0, 0], torch.zeros(1, 2)) and torch.equal(q.grad[1, 1], torch.zeros(1, 2))

    terminal = losses.pixel_control_loss(q.detach(), actions, r, terminal=True, gamma=gamma)
    t1, t0 = r[1], r[0] + gamma * r[1]  # R = 0 past a terminal
    assert torch.allclose(terminal, 0.5 * ((t0 - q_taken[0]) ** 2 + (t1 - q_taken[1]) ** 2).sum())


def test_the_pixel_control_head_is_dueling_over_a_grid_of_the_frame_over_the_cell():
    net = UnrealNetwork((4, 10, 10), 3, torso="mlp", hidden=(16,), lstm_size=8,
                        unreal=UnrealConfig(pixel_cell=2, pixel_control_channels=4))
    features, values = net.replay(torch.rand(6, 4, 10, 10) < 0.3)
    q = net.pixel_q(features)
    assert features.shape == (6, 8) and values.shape == (6,) and q.shape == (6, 3, 5, 5)
    x = net.pixel_control.fc(features).view(-1, 4, 5, 5)
    assert torch.allclose(q.mean(1), net.pixel_control.value(x)[:, 0], atol=1e-6)  # mean_a Q^c = V^c


# ---- reward prediction ----------------------------------------------------------------------------------


def test_reward_prediction_loss_is_the_cross_entropy_of_the_reward_s_sign():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0], [1.0, 1.0, 1.0]])
    rewards = torch.tensor([0.0, 2.0, -0.5, 1.0])
    assert torch.equal(losses.reward_class(rewards), torch.tensor([0, 1, 2, 1]))
    log_p = logits.log_softmax(-1)
    expected = -(log_p[0, 0] + log_p[1, 1] + log_p[2, 2] + log_p[3, 1])
    assert torch.allclose(losses.reward_prediction_loss(logits, rewards), expected)


def filled_replay(rewards: list[float], ends: set[int], capacity: int | None = None) -> FrameReplay:
    """A replay of len(rewards) transitions whose frame t is the number t, episodes ending after ``ends``."""
    n = len(rewards)
    replay = FrameReplay(capacity or n, (1,), torch.float32)
    start = 0
    for end in sorted(ends | {n - 1}):
        t = torch.arange(start, end + 1, dtype=torch.float32)
        replay.add(t[:, None], torch.zeros(len(t), dtype=torch.int64), torch.tensor(rewards[start:end + 1]),
                   (t + 0.5)[:, None], done=end in ends, terminated=end in ends)
        start = end + 1
    return replay


def test_reward_samples_are_half_rewarding_and_k_frames_of_one_episode():
    rewards = [0.0] * 200
    for t in (10, 50, 51, 120, 190):
        rewards[t] = 1.0 if t != 51 else -1.0
    ends = {10, 99, 150}
    replay = filled_replay(rewards, ends)
    draws, k, samples = random.Random(0), 3, 4000
    rewarding = 0
    for _ in range(samples):
        frames, reward = replay.sample_reward_frames(draws, k)
        tau = int(frames[-1, 0])
        assert torch.equal(frames[:, 0], torch.arange(tau - k + 1, tau + 1, dtype=torch.float32))
        assert float(reward) == rewards[tau]
        assert not any(t in ends for t in range(tau - k + 1, tau))  # no episode ends before τ among the frames
        rewarding += float(reward) != 0
    # P(r ≠ 0) = 1/2 (uniformly it would be 5/200): within 4 standard deviations of 2000
    assert abs(rewarding - samples / 2) < 4 * (samples / 4) ** 0.5


def test_without_rewards_in_the_replay_reward_samples_are_all_of_the_other_kind():
    replay = filled_replay([0.0] * 30, set())
    draws = random.Random(1)
    assert all(float(replay.sample_reward_frames(draws, 3)[1]) == 0 for _ in range(50))


def test_the_replay_is_a_ring_of_the_newest_transitions():
    replay = filled_replay([float(t) for t in range(25)], set(), capacity=10)
    assert replay.full
    _, reward = replay.sample_reward_frames(random.Random(0), 3)
    frames = [float(replay.sample_sequence(random.Random(seed), 4).frames[0, 0]) for seed in range(40)]
    assert min(frames) >= 15 and float(reward) >= 17  # only transitions 15 … 24 are left


# ---- value replay and sequences -------------------------------------------------------------------------


def test_value_replay_regresses_v_on_the_n_step_returns_of_the_sequence():
    values = torch.tensor([0.5, -0.25, 1.0, 2.0], requires_grad=True)
    rewards = torch.tensor([1.0, 0.0, -1.0])
    gamma = 0.9
    r2 = -1.0 + gamma * 2.0
    r1 = 0.0 + gamma * r2
    r0 = 1.0 + gamma * r1
    expected = (r0 - 0.5) ** 2 + (r1 + 0.25) ** 2 + (r2 - 1.0) ** 2
    loss = losses.value_replay_loss(values, rewards, terminal=False, gamma=gamma)
    assert torch.allclose(loss, torch.tensor(expected))
    loss.backward()
    assert values.grad[3] == 0  # V(s_n) bootstraps the target, without gradient
    r2, r1 = -1.0, gamma * -1.0
    r0 = 1.0 + gamma * r1
    terminal = losses.value_replay_loss(values.detach(), rewards, terminal=True, gamma=gamma)
    assert torch.allclose(terminal, torch.tensor((r0 - 0.5) ** 2 + (r1 + 0.25) ** 2 + (r2 - 1.0) ** 2))


def test_a_replayed_sequence_stays_in_its_episode_and_ends_with_the_next_frame():
    replay = filled_replay([0.0] * 40, {9, 24})
    for seed in range(100):
        sequence = replay.sample_sequence(random.Random(seed), 8)
        first, n = int(sequence.frames[0, 0]), sequence.actions.shape[0]
        assert 1 <= n <= 8 and sequence.rewards.shape == (n,)
        assert torch.equal(sequence.frames[:n, 0], torch.arange(first, first + n, dtype=torch.float32))
        assert float(sequence.frames[n, 0]) == first + n - 1 + 0.5  # s_n: the last transition's next frame
        last = first + n - 1
        assert not any(first <= end < last for end in (9, 24))
        assert sequence.terminal == (last in (9, 24))
        assert n == 8 or last in (9, 24, 39)


# ---- the tasks, each switched on alone -------------------------------------------------------------------


@pytest.mark.parametrize("task", ["pixel_control", "value_replay", "reward_prediction"])
def test_each_task_is_switched_on_alone(task):
    u = UnrealConfig(**{**NO_TASKS, task: True}, pixel_cell=1, replay_frames=50, replay_sequence=5)
    assert u.tasks == (task,)
    net = UnrealNetwork((10, 5), 3, torso="mlp", hidden=(16,), lstm_size=8, unreal=u)
    assert (net.pixel_control is not None) == (task == "pixel_control")
    assert (net.reward_prediction is not None) == (task == "reward_prediction")
    rewards = [1.0 if t % 9 == 8 else 0.0 for t in range(50)]
    replay = FrameReplay(50, (10, 5), torch.float32)
    replay.add(torch.rand(50, 10, 5), torch.randint(0, 3, (50,)), torch.tensor(rewards), torch.rand(50, 10, 5),
               done=False, terminated=False)
    loss, stats = auxiliary_loss(u, 0.99, 0.5, net, replay, random.Random(0))
    assert len(stats) == 1 and torch.allclose(loss.detach(), stats[0]) and float(loss.detach()) > 0
    loss.backward()
    head = {"pixel_control": net.pixel_control, "reward_prediction": net.reward_prediction,
            "value_replay": net.agent.value}[task]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_with_every_task_off_the_network_is_a3c_lstm_s():
    config = dataclasses.replace(preset("unreal-catch"), unreal=UnrealConfig(**NO_TASKS))
    spec = spec_for(config, (10, 5), 3)
    a3c_lstm = Network((10, 5), 3, torso="mlp", hidden=(64,), lstm_size=64, actor_critic=True)
    assert [p.shape for p in spec.network().parameters()] == [p.shape for p in a3c_lstm.parameters()]
    assert spec.stats == ("loss_policy", "loss_value", "entropy", "grad_norm")
    assert spec_for(preset("unreal-catch"), (10, 5), 3).stats == (
        "loss_policy", "loss_value", "entropy", "loss_pixel_control", "loss_value_replay", "loss_reward_prediction",
        "grad_norm")


# ---- config checks --------------------------------------------------------------------------------------


def test_bad_configs_are_refused_with_one_line():
    config = preset("unreal-minatar")
    boards = gymnasium.spaces.Box(0, 1, (4, 10, 10), np.bool_)
    actions = gymnasium.spaces.Discrete(3)
    check_fits_env(config, boards, actions)
    with pytest.raises(ConfigError, match="--pixel-cell 3 does not tile"):
        check_fits_env(dataclasses.replace(config, unreal=dataclasses.replace(config.unreal, pixel_cell=3)),
                       boards, actions)
    with pytest.raises(ConfigError, match="pixel control needs frames"):
        check_fits_env(config, gymnasium.spaces.Box(-1, 1, (4,), np.float32), actions)
    check_fits_env(dataclasses.replace(config, unreal=UnrealConfig(**{**NO_TASKS, "value_replay": True})),
                   gymnasium.spaces.Box(-1, 1, (4,), np.float32), actions)  # vectors: without pixel control
    with pytest.raises(ConfigError, match="UNREAL's base agent is A3C"):
        RunConfig(algo="unreal", env=config.env, a3c=dataclasses.replace(config.a3c, method="nstep_q", lstm=False))
    with pytest.raises(ConfigError, match="--replay-frames 20: expected more than --replay-sequence 20"):
        UnrealConfig(replay_frames=20)
