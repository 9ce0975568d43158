"""The envpool adapter on the real engine: shapes, seeds, full-game statistics by hand, async send/recv."""

from __future__ import annotations

import envpool
import numpy as np
import pytest
import torch

from fastrl.envs import make_env


def rollout(env, steps: int, reset_seed: int | None = None):
    """Observations, rewards and flags of ``steps`` random steps (cloned: buffers may be reused)."""
    rng = np.random.default_rng(0)
    env.single_action_space.seed(0)
    out = [env.reset(seed=reset_seed).clone()]
    for _ in range(steps):
        actions = np.stack([env.single_action_space.sample() for _ in range(env.num_envs)]) \
            if env.single_action_space.shape else rng.integers(0, env.single_action_space.n, env.num_envs)
        step = env.step(torch.as_tensor(actions))
        out += [step.obs.clone(), step.reward.clone(), step.terminated.clone(), step.truncated.clone()]
    return out


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_atari_shapes_dtypes_and_protocol_defaults():
    env = make_env("Pong-v5", 2, backend="envpool")
    assert env.backend == "envpool" and env.num_envs == 2 and not env.is_async
    assert env._pool.config["frame_skip"] == 4 and env._pool.config["stack_num"] == 4
    assert env._pool.config["noop_max"] == 30 and env._pool.config["max_episode_steps"] == 108_000 // 4
    assert env._pool.config["repeat_action_probability"] == 0.0 and not env._pool.config["episodic_life"]
    obs = env.reset()
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == torch.uint8 and obs.device.type == "cpu"
    step = env.step(torch.tensor([0, 3]))
    assert step.obs.shape == (2, 4, 84, 84) and step.obs.dtype == torch.uint8
    assert step.reward.shape == (2,) and step.reward.dtype == torch.float32
    assert step.terminated.dtype == torch.bool and step.truncated.dtype == torch.bool
    assert step.info["episode_end"].dtype == torch.bool
    assert step.info["episode_return"].dtype == torch.float32
    assert step.info["episode_length"].dtype == torch.int32
    assert step.info["lives"].dtype == torch.int32 and step.info["lives"].shape == (2,)
    env.step(np.array([1, 2], dtype=np.int64))  # numpy actions too
    env.close()


def test_mujoco_float64_observations_arrive_as_float32_and_match_the_raw_engine():
    env = make_env("HalfCheetah-v5", 3, backend="envpool", seed=4, num_threads=1)
    raw = envpool.make("HalfCheetah-v5", env_type="gymnasium", num_envs=3, seed=4, num_threads=1)
    obs = env.reset()
    assert obs.shape == (3, 17) and obs.dtype == torch.float32
    assert torch.equal(obs, torch.from_numpy(raw.reset()[0].astype(np.float32)))
    rng = np.random.default_rng(0)
    for t in range(20):
        actions = rng.uniform(-1, 1, (3, 6))
        step = env.step(torch.from_numpy(actions).float() if t % 2 else actions)
        raw_obs, raw_reward, *_ = raw.step(actions.astype(np.float32).astype(np.float64) if t % 2 else actions)
        assert step.obs.dtype == torch.float32 and step.reward.dtype == torch.float32
        assert torch.equal(step.obs, torch.from_numpy(raw_obs.astype(np.float32)))
        assert torch.equal(step.reward, torch.from_numpy(raw_reward))
    assert "lives" not in step.info


def test_returned_tensors_are_not_overwritten_by_the_next_step():
    env = make_env("HalfCheetah-v5", 2, backend="envpool")
    env.reset()
    first = env.step(torch.ones(2, 6))
    kept = [first.obs.clone(), first.reward.clone(), first.info["episode_return"].clone()]
    env.step(-torch.ones(2, 6))
    assert torch.equal(first.obs, kept[0]) and torch.equal(first.reward, kept[1])
    assert torch.equal(first.info["episode_return"], kept[2])


@pytest.mark.parametrize("env_id", ["Breakout-v5", "CartPole-v1"])
def test_same_seed_same_trajectory_different_seed_different(env_id):
    steps = 40
    a = rollout(make_env(env_id, 2, backend="envpool", seed=3), steps)
    b = rollout(make_env(env_id, 2, backend="envpool", seed=3), steps)
    c = rollout(make_env(env_id, 2, backend="envpool", seed=4), steps)
    assert same(a, b)
    assert not same(a, c)


def test_reset_with_a_seed_replays_the_episodes():
    env = make_env("CartPole-v1", 3, backend="envpool", seed=0)
    first = rollout(env, 30)
    seeded = rollout(env, 30, reset_seed=11)
    assert same(seeded, rollout(env, 30, reset_seed=11))
    assert same(seeded, rollout(make_env("CartPole-v1", 3, backend="envpool", seed=11), 30))
    assert not same(first, seeded)


def hand_count(env, steps: int, actions_for, game_over_of, reset_after):
    """Step ``env`` and check each ``episode_end`` / return / length against a count made here.

    ``game_over_of(step)`` says by hand where a full game ended; ``reset_after(step, game_over)`` which
    envs the engine will spend their next step on an autoreset. Returns the finished games as
    (env, return, length, life losses)."""
    n = env.num_envs
    ret, length, losses = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    skip, new_game = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    games = []
    env.reset()
    for t in range(steps):
        step = env.step(actions_for(t))
        reward, term, trunc = step.reward.numpy(), step.terminated.numpy(), step.truncated.numpy()
        game_over = game_over_of(step)
        for i in range(n):
            if new_game[i]:
                ret[i], length[i], losses[i] = 0.0, 0, 0
            if skip[i]:
                assert reward[i] == 0 and not term[i] and not trunc[i], "an autoreset step"
            ret[i] += reward[i]
            length[i] += not skip[i]
            losses[i] += term[i] and not game_over[i]
        assert np.array_equal(step.info["episode_end"].numpy(), game_over), t
        for i in np.flatnonzero(game_over):
            assert step.info["episode_return"][i].item() == pytest.approx(ret[i], abs=1e-4), (t, i)
            assert step.info["episode_length"][i].item() == length[i], (t, i)
            games.append((i, ret[i], length[i], losses[i]))
        skip, new_game = reset_after(step, game_over), game_over
    return games


def test_episode_statistics_match_a_hand_count_cartpole():
    env = make_env("CartPole-v1", 3, backend="envpool", seed=1)
    pattern = torch.tensor([0, 1, 1])  # env 0 pushes left only (short games), the others alternate slowly
    games = hand_count(env, 120, lambda t: pattern if t % 6 else 1 - pattern,
                       lambda s: (s.terminated | s.truncated).numpy(),
                       lambda s, over: (s.terminated | s.truncated).numpy())
    assert len(games) >= 5
    assert all(ret == length for _, ret, length, _ in games)  # CartPole pays 1 per step


def test_full_game_statistics_with_episodic_life_span_all_lives():
    env = make_env("Breakout-v5", 2, backend="envpool", seed=2, episodic_life=True)
    rng = np.random.default_rng(0)
    # Breakout: a game is over when the last of its 5 lives is lost (lives read 0) or at the frame cap.
    games = hand_count(env, 900, lambda t: torch.as_tensor(rng.integers(0, 4, 2)),
                       lambda s: ((s.terminated & (s.info["lives"] == 0)) | s.truncated).numpy(),
                       lambda s, over: (s.terminated | s.truncated).numpy())  # envpool resets after each life
    assert len(games) >= 2
    assert all(losses == 4 for *_, losses in games)  # each game's return spans 5 lives, 4 life-loss ends


def test_reward_clip_clips_the_reward_but_not_the_full_game_return():
    kwargs = dict(backend="envpool", seed=5, max_episode_frames=1600)  # 400 steps, then truncation
    raw_env = make_env("SpaceInvaders-v5", 1, **kwargs)
    clip_env = make_env("SpaceInvaders-v5", 1, reward_clip=True, **kwargs)
    raw_env.reset(), clip_env.reset()
    rng = np.random.default_rng(1)
    big, ended = 0, False
    for _ in range(420):
        actions = torch.as_tensor(rng.integers(0, 6, 1))
        raw, clip = raw_env.step(actions), clip_env.step(actions)
        assert torch.equal(clip.reward, raw.reward.clamp(-1, 1))
        big += int((raw.reward.abs() > 1).sum())
        assert torch.equal(clip.info["episode_end"], raw.info["episode_end"])
        if raw.info["episode_end"].any():
            assert torch.equal(clip.info["episode_return"], raw.info["episode_return"])
            assert torch.equal(clip.info["episode_length"], raw.info["episode_length"])
            ended = True
    assert big > 0 and ended  # rewards above 1 were clipped; a game ended (truncated at the frame cap)


def test_async_send_recv_returns_the_stepped_envs_and_steps_them_all():
    env = make_env("CartPole-v1", 5, backend="envpool", batch_size=2, seed=0)
    assert env.is_async and env.batch_size == 2
    assert env.reset() is None
    seen = np.zeros(5, dtype=np.int64)
    for _ in range(40):
        step = env.recv()
        ids = step.env_ids
        assert ids.dtype == torch.int64 and ids.shape == (2,) and len(set(ids.tolist())) == 2
        assert step.obs.shape == (2, 4) and step.reward.shape == (2,)
        assert step.info["episode_end"].shape == (2,)
        first = seen[ids.numpy()] == 0
        assert torch.all(step.reward[torch.from_numpy(first)] == 0)  # a first observation is a reset one
        seen[ids.numpy()] += 1
        env.send(torch.zeros(2, dtype=torch.int64), ids)
    assert (seen > 0).all() and seen.sum() == 80
    with pytest.raises(RuntimeError, match="send.*recv"):
        env.step(torch.zeros(5, dtype=torch.int64))


def test_async_episode_statistics_match_a_hand_count():
    env = make_env("CartPole-v1", 4, backend="envpool", batch_size=3, seed=7)
    env.reset()
    ret, length, skip = np.zeros(4), np.zeros(4, dtype=np.int64), np.ones(4, dtype=bool)
    games = 0
    for _ in range(150):
        step = env.recv()
        ids = step.env_ids.numpy()
        done = (step.terminated | step.truncated).numpy()
        for row, i in enumerate(ids):
            ret[i] += step.reward[row].item()
            length[i] += not skip[i]
            if done[row]:
                assert step.info["episode_end"][row] and step.info["episode_return"][row].item() == ret[i]
                assert step.info["episode_length"][row].item() == length[i]
                ret[i], length[i], games = 0.0, 0, games + 1
            skip[i] = done[row]
        env.send(torch.zeros(3, dtype=torch.int64), step.env_ids)
    assert games >= 10


def test_async_atari_and_re_reset():
    env = make_env("Pong-v5", 3, backend="envpool", batch_size=2, num_threads=2)
    env.reset()
    step = env.recv()
    assert step.obs.shape == (2, 4, 84, 84) and step.info["lives"].shape == (2,)
    env.send(np.array([1, 2]), step.env_ids.numpy())
    env.recv()
    assert env.reset() is None  # in flight: a new pool, all envs start over
    assert sorted(env.recv().env_ids.tolist()) in ([0, 1], [0, 2], [1, 2])


def test_check_actions_off_still_steps_valid_actions():
    env = make_env("CartPole-v1", 2, backend="envpool", check_actions=False)
    env.reset()
    assert env.step(torch.tensor([0, 1])).obs.shape == (2, 4)
    with pytest.raises(ValueError, match="shape"):  # a wrong size never reaches the engine
        env.step(torch.tensor([0, 1, 1]))
