"""Native CartPole: agreement with gymnasium's CartPole-v1 step for step, truncation, autoreset, episode
statistics, seeding and bad actions."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from fastrl.envs.native import make_native

# One float32 step is ~20 rounded operations on values of order 1: a few ulp (6e-8 each) of error,
# against gymnasium's float64 arithmetic.
STEP_RTOL, STEP_ATOL = 1e-5, 1e-6
# Whole episodes (10-35 steps here): the unstable pole amplifies that rounding; measured up to 4e-7.
EPISODE_RTOL, EPISODE_ATOL = 1e-5, 2e-6


def balancing_actions(obs: torch.Tensor) -> torch.Tensor:
    """A simple controller that keeps the pole up for 500 steps: push towards where the pole is falling."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).long()


def test_shapes_dtypes_and_start_states():
    env = make_native("CartPole-v1", 256, device="cpu", seed=0)
    assert env.single_observation_space == gymnasium.make("CartPole-v1").observation_space
    assert env.single_action_space.n == 2
    obs = env.reset()
    assert obs.shape == (256, 4) and obs.dtype == torch.float32 and obs.device.type == "cpu"
    assert obs.abs().max() < 0.05 and obs.std() > 0.02  # uniform in [-0.05, 0.05): spread over the range
    obs, reward, terminated, truncated, info = env.step(torch.ones(256, dtype=torch.int64))
    assert obs.shape == (256, 4) and obs.dtype == torch.float32
    assert reward.dtype == torch.float32 and reward.tolist() == [1.0] * 256
    assert terminated.dtype == truncated.dtype == info["episode_end"].dtype == torch.bool
    assert info["episode_return"].dtype == torch.float32 and info["episode_length"].dtype == torch.int32


def test_each_step_agrees_with_gymnasium():
    """Set gymnasium's state to ours before every step, apply the same action, compare the results."""
    n, steps = 32, 150
    env = make_native("CartPole-v1", n, seed=2)
    reference = CartPoleEnv()
    reference.reset(seed=0)
    actions = torch.randint(0, 2, (steps, n), generator=torch.Generator().manual_seed(3))
    obs = env.reset().clone()
    compared = terminations = 0
    restart = torch.zeros(n, dtype=torch.bool)
    for t in range(steps):
        new_obs, reward, terminated, truncated, _ = env.step(actions[t])
        for i in range(n):
            if restart[i]:
                continue  # an autoreset step: no dynamics to compare
            reference.reset()
            reference.state = obs[i].double().numpy()
            ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(int(actions[t, i]))
            np.testing.assert_allclose(new_obs[i].numpy(), ref_obs, rtol=STEP_RTOL, atol=STEP_ATOL,
                                       err_msg=f"env {i}, step {t}")
            assert reward[i].item() == ref_reward
            assert terminated[i].item() == ref_terminated, (i, t)
            assert not truncated[i]
            compared += 1
            terminations += ref_terminated
        restart = terminated | truncated
        obs = new_obs.clone()
    assert compared > n * steps * 0.9 and terminations > 50  # the run covered many episodes and their ends


def test_free_running_episodes_follow_gymnasium_until_they_end():
    """From the same start state and actions, whole episodes agree and end at the same step."""
    n = 16
    env = make_native("CartPole-v1", n, seed=5)
    obs = env.reset()
    references = []
    for i in range(n):
        reference = CartPoleEnv()
        reference.reset(seed=i)
        reference.state = obs[i].double().numpy()
        references.append(reference)
    actions = torch.randint(0, 2, (100, n), generator=torch.Generator().manual_seed(4))
    running = [True] * n
    for t in range(100):
        obs, reward, terminated, truncated, _ = env.step(actions[t])
        for i in np.flatnonzero(running):
            ref_obs, _, ref_terminated, _, _ = references[i].step(int(actions[t, i]))
            np.testing.assert_allclose(obs[i].numpy(), ref_obs, rtol=EPISODE_RTOL, atol=EPISODE_ATOL,
                                       err_msg=f"env {i}, step {t}")
            assert terminated[i].item() == ref_terminated, (i, t)
            running[i] = not ref_terminated
    assert not any(running)  # random actions drop every pole well within 100 steps


def test_truncation_at_500_steps_then_autoreset():
    env = make_native("CartPole-v1", 4, seed=0)
    obs = env.reset()
    for t in range(1, 501):
        obs, reward, terminated, truncated, info = env.step(balancing_actions(obs))
        assert not terminated.any(), t
        assert truncated.tolist() == [t == 500] * 4, t
    assert info["episode_end"].all()
    assert info["episode_length"].tolist() == [500] * 4 and info["episode_return"].tolist() == [500.0] * 4
    obs, reward, terminated, truncated, info = env.step(balancing_actions(obs))
    assert reward.tolist() == [0.0] * 4 and not (terminated | truncated).any()
    assert info["episode_length"].tolist() == [0] * 4
    assert obs.abs().max() < 0.05  # a new episode's start state


def test_termination_on_the_last_allowed_step_sets_both_flags_as_gymnasium_does():
    env = make_native("CartPole-v1", 2, seed=0, max_episode_steps=3)
    env.reset()
    env.step(torch.tensor([0, 1]))
    env.step(torch.tensor([0, 1]))
    env.game.state[2, 0] = 0.3  # env 0's pole is past 12 degrees before its third step
    _, reward, terminated, truncated, info = env.step(torch.tensor([0, 1]))
    assert terminated.tolist() == [True, False] and truncated.tolist() == [True, True]
    assert reward.tolist() == [1.0, 1.0] and info["episode_length"].tolist() == [3, 3]


def test_autoreset_ignores_the_action_and_statistics_match_a_hand_count():
    n = 8
    env = make_native("CartPole-v1", n, seed=1)
    env.reset()
    actions = torch.randint(0, 2, (120, n), generator=torch.Generator().manual_seed(0))
    count = [0] * n
    restart = [False] * n
    ends = 0
    for t in range(120):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        for i in range(n):
            if restart[i]:
                assert reward[i].item() == 0.0 and not terminated[i] and not truncated[i]
                assert obs[i].abs().max() < 0.05
                count[i] = 0
            else:
                assert reward[i].item() == 1.0
                count[i] += 1
            restart[i] = bool(terminated[i] or truncated[i])
            assert info["episode_end"][i].item() == restart[i]
            if restart[i]:
                ends += 1
                assert info["episode_length"][i].item() == count[i]
                assert info["episode_return"][i].item() == float(count[i])
    assert ends >= n * 2


def run(seed: int, actions: torch.Tensor) -> torch.Tensor:
    env = make_native("CartPole-v1", actions.shape[1], seed=seed)
    frames = [env.reset().clone()]
    for step_actions in actions:
        frames.append(env.step(step_actions).obs.clone())
    return torch.stack(frames)


def test_seeding():
    actions = torch.randint(0, 2, (80, 6), generator=torch.Generator().manual_seed(0))
    assert torch.equal(run(3, actions), run(3, actions))
    assert not torch.equal(run(3, actions), run(4, actions))
    # Env 0's trajectory depends on the seed and its own actions, not on the others' (nor their restarts).
    other = actions.clone()
    other[:, 1:] = 1 - other[:, 1:]
    a, b = run(3, actions), run(3, other)
    assert torch.equal(a[:, 0], b[:, 0]) and not torch.equal(a[:, 1:], b[:, 1:])


def test_bad_actions_raise_with_env_index():
    env = make_native("CartPole-v1", 3, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=r"CartPole-v1, step 0: action 2 for env 1 is out of range.*\[0, 1\]"):
        env.step(torch.tensor([0, 2, 1]))
    with pytest.raises(TypeError, match="expected an integer dtype"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        env.step(torch.zeros(3, 2, dtype=torch.int64))
    env.step(np.array([0, 1, 0], dtype=np.uint8))


@pytest.mark.gpu
def test_cuda_steps_agree_with_cpu():
    n = 512
    cpu = make_native("CartPole-v1", n, device="cpu", seed=0)
    cuda = make_native("CartPole-v1", n, device="cuda", seed=0)
    cpu.reset()
    first = cuda.reset().clone()  # the env writes later steps into the same output buffers
    assert first.device.type == "cuda"
    cpu.game.state.copy_(cuda.game.state.cpu())
    # pushes that alternate (env i starts left or right by its parity) keep every pole up for 8 steps from a
    # start state, so no reset draws random numbers (random pushes felled one of 512 within 8 steps)
    actions = (torch.arange(8)[:, None] + torch.arange(n)[None, :]) % 2
    for t in range(8):
        a, b = cpu.step(actions[t]), cuda.step(actions[t].cuda())
        torch.testing.assert_close(b.obs.cpu(), a.obs, rtol=STEP_RTOL, atol=STEP_ATOL)
        assert torch.equal(a.terminated, b.terminated.cpu()) and not a.terminated.any()
        assert b.info["episode_length"].device.type == "cuda"
    again = make_native("CartPole-v1", n, device="cuda", seed=0)
    assert torch.equal(again.reset(), first)
