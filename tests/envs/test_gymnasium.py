"""The gymnasium adapter on the real library: shapes, seeds, full-game statistics by hand, Atari protocol."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from fastrl.envs import make_env

needs_cv2 = pytest.mark.skipif(importlib.util.find_spec("cv2") is None,
                               reason="gymnasium's AtariPreprocessing needs opencv-python, not installed here")


def rollout(env, steps: int, reset_seed: int | None = None):
    env.single_action_space.seed(0)
    out = [env.reset(seed=reset_seed).clone()]
    for _ in range(steps):
        actions = np.stack([env.single_action_space.sample() for _ in range(env.num_envs)])
        step = env.step(torch.as_tensor(actions))
        out += [step.obs.clone(), step.reward.clone(), step.terminated.clone(), step.truncated.clone()]
    return out


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_discrete_shapes_and_dtypes():
    env = make_env("CartPole-v1", 3, backend="gymnasium")
    assert env.backend == "gymnasium" and not env.is_async
    obs = env.reset()
    assert obs.shape == (3, 4) and obs.dtype == torch.float32
    step = env.step(torch.tensor([0, 1, 0]))
    assert step.obs.shape == (3, 4) and step.reward.dtype == torch.float32
    assert step.terminated.dtype == torch.bool and step.truncated.dtype == torch.bool
    assert set(step.info) == {"episode_end", "episode_return", "episode_length"}
    with pytest.raises(NotImplementedError, match="no async mode"):
        env.send(torch.zeros(3, dtype=torch.int64), torch.arange(3))
    env.close()


def test_continuous_actions_from_float64_numpy_and_float32_tensors():
    env = make_env("Pendulum-v1", 2, backend="gymnasium")
    env.reset()
    assert env.step(np.array([[0.5], [-0.5]])).obs.shape == (2, 3)
    step = env.step(torch.tensor([[1.0], [2.0]]))
    assert step.obs.dtype == torch.float32 and step.reward.shape == (2,)


def test_same_seed_same_trajectory_different_seed_different():
    a = rollout(make_env("CartPole-v1", 3, backend="gymnasium", seed=3), 40)
    b = rollout(make_env("CartPole-v1", 3, backend="gymnasium", seed=3), 40)
    c = rollout(make_env("CartPole-v1", 3, backend="gymnasium", seed=4), 40)
    assert same(a, b) and not same(a, c)
    env = make_env("CartPole-v1", 3, backend="gymnasium", seed=3)
    assert same(rollout(env, 20, reset_seed=8), rollout(env, 20, reset_seed=8))


def test_episode_statistics_match_a_hand_count():
    env = make_env("CartPole-v1", 3, backend="gymnasium", seed=1)
    env.reset()
    pattern = torch.tensor([0, 1, 1])
    ret, length, skip, games = np.zeros(3), np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool), 0
    for t in range(120):
        step = env.step(pattern if t % 6 else 1 - pattern)
        done = (step.terminated | step.truncated).numpy()
        assert np.array_equal(step.info["episode_end"].numpy(), done)
        for i in range(3):
            if skip[i]:
                assert step.reward[i] == 0 and not done[i]
            ret[i] += step.reward[i].item()
            length[i] += not skip[i]
            if done[i]:
                assert step.info["episode_return"][i].item() == ret[i] == length[i]
                assert step.info["episode_length"][i].item() == length[i]
                ret[i], length[i], games = 0.0, 0, games + 1
        skip = done
    assert games >= 5


def test_async_vectorization_runs_each_env_in_its_own_process():
    with make_env("CartPole-v1", 2, backend="gymnasium", vectorization="async", seed=3) as env:
        a = rollout(env, 10)
    b = rollout(make_env("CartPole-v1", 2, backend="gymnasium", seed=3), 10)
    assert same(a, b)  # the same envs and seeds, stepped elsewhere


def test_env_kwargs_reach_gymnasium_make():
    env = make_env("CartPole-v1", 2, backend="gymnasium", env_kwargs={"max_episode_steps": 5})
    env.reset()
    steps = [env.step(torch.tensor([0, 1])) for _ in range(5)]
    assert bool(steps[-1].truncated.all() | steps[-1].terminated.all())


@needs_cv2
def test_atari_protocol_shapes_and_episodic_life():
    env = make_env("Breakout-v5", 2, backend="gymnasium", seed=1, episodic_life=True)
    obs = env.reset()
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == torch.uint8
    rng = np.random.default_rng(0)
    ret, losses, games = np.zeros(2), np.zeros(2, dtype=np.int64), []
    for _ in range(700):
        step = env.step(torch.as_tensor(rng.integers(0, 4, 2)))
        lives = step.info["lives"].numpy()
        over = (step.terminated.numpy() & (lives == 0)) | step.truncated.numpy()
        assert np.array_equal(step.info["episode_end"].numpy(), over)
        for i in range(2):
            ret[i] += step.reward[i].item()
            losses[i] += bool(step.terminated[i]) and not over[i]
            if over[i]:
                assert step.info["episode_return"][i].item() == ret[i]
                games.append(losses[i])
                ret[i], losses[i] = 0.0, 0
    assert games and all(n == 4 for n in games)


@needs_cv2
def test_atari_same_seed_same_trajectory():
    a = rollout(make_env("Pong-v5", 1, backend="gymnasium", seed=2), 30)
    b = rollout(make_env("Pong-v5", 1, backend="gymnasium", seed=2), 30)
    c = rollout(make_env("Pong-v5", 1, backend="gymnasium", seed=3), 30)
    assert same(a, b) and not same(a, c)
