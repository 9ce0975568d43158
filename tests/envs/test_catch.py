"""Native Catch: shapes, the game's rules on hand-made cases, a step-for-step check against a plain-Python
Catch (bsuite's step), next-step autoreset, episode statistics, seeding, errors, and the make_native front."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastrl.envs.native import NATIVE_ENVS, NativeVecEnv, make_native

LEFT, STAY, RIGHT = 0, 1, 2


def cells(board: torch.Tensor) -> list[tuple[int, int]]:
    """The lit (row, column) cells of one board, sorted."""
    return sorted(map(tuple, board.nonzero().tolist()))


def set_balls(env: NativeVecEnv, columns: list[int]) -> None:
    """Put each env's ball at the given column (top row), as if it had been drawn at reset."""
    env.game.ball_x.copy_(torch.tensor(columns))


def stay(n: int) -> torch.Tensor:
    return torch.full((n,), STAY, dtype=torch.int64)


def test_registry_and_spaces():
    assert {"Catch-v0", "CartPole-v1", "ConnectFour-v0"} <= set(NATIVE_ENVS)
    env = make_native("Catch-v0", 3, device="cpu", seed=0)
    assert env.backend == "native" and env.env_id == "Catch-v0"
    assert env.num_envs == env.batch_size == 3 and not env.is_async
    assert env.single_observation_space.shape == (10, 5)
    assert env.single_observation_space.dtype == np.float32
    assert env.single_action_space.n == 3
    assert env.observation_space.shape == (3, 10, 5)


@pytest.mark.parametrize("rows, columns", [(10, 5), (4, 7), (2, 1)])
def test_shapes_and_dtypes(rows, columns):
    env = make_native("Catch-v0", 6, device="cpu", seed=0, rows=rows, columns=columns)
    obs = env.reset()
    assert obs.shape == (6, rows, columns) and obs.dtype == torch.float32 and obs.device.type == "cpu"
    obs, reward, terminated, truncated, info = env.step(stay(6))
    assert obs.shape == (6, rows, columns) and obs.dtype == torch.float32
    assert reward.shape == (6,) and reward.dtype == torch.float32
    assert terminated.dtype == torch.bool and truncated.dtype == torch.bool
    assert info["episode_end"].dtype == torch.bool
    assert info["episode_return"].dtype == torch.float32
    assert info["episode_length"].dtype == torch.int32
    for value in (reward, terminated, truncated, *info.values()):
        assert value.shape == (6,) and value.device.type == "cpu"


def test_first_board_has_ball_on_top_row_and_paddle_in_the_middle():
    env = make_native("Catch-v0", 64, seed=3)
    obs = env.reset()
    assert obs.sum(dim=(1, 2)).eq(2).all()  # the ball is never on the bottom row at the start
    assert obs[:, 0].sum(dim=1).eq(1).all()
    assert obs[:, 9, 2].eq(1).all()  # paddle at columns // 2
    columns = obs[:, 0].argmax(dim=1)
    assert torch.equal(columns, env.game.ball_x)
    assert len(columns.unique()) > 1  # 64 balls from 5 columns: not all in one


def test_ball_falls_one_row_per_step_and_terminates_after_rows_minus_one_steps():
    env = make_native("Catch-v0", 4, seed=0, rows=6, columns=5)
    env.reset()
    set_balls(env, [0, 1, 3, 4])
    for k in range(1, 6):
        obs, reward, terminated, truncated, info = env.step(stay(4))
        for i, column in enumerate([0, 1, 3, 4]):
            assert (k, column) in cells(obs[i])
            assert (5, 2) in cells(obs[i])
        assert terminated.tolist() == [k == 5] * 4
        assert not truncated.any()
        if k < 5:
            assert reward.tolist() == [0.0] * 4
    assert reward.tolist() == [-1.0] * 4  # the paddle stayed in column 2; no ball fell there
    assert info["episode_length"].tolist() == [5] * 4


def test_catch_gives_plus_one_and_miss_gives_minus_one():
    env = make_native("Catch-v0", 5, seed=0, rows=4, columns=5)
    env.reset()
    # Paddle starts in column 2 and gets three moves before the ball lands.
    set_balls(env, [2, 0, 4, 3, 0])
    plan = torch.tensor([STAY, LEFT, RIGHT, STAY, RIGHT])  # caught, caught, caught, missed, missed
    for _ in range(2):
        _, reward, terminated, _, _ = env.step(plan)
        assert not terminated.any() and not reward.any()
    obs, reward, terminated, truncated, info = env.step(plan)
    assert terminated.all() and not truncated.any()
    assert reward.tolist() == [1.0, 1.0, 1.0, -1.0, -1.0]
    assert cells(obs[0]) == [(3, 2)]  # ball and paddle in one cell
    assert cells(obs[3]) == [(3, 2), (3, 3)]
    assert cells(obs[4]) == [(3, 0), (3, 4)]
    assert info["episode_end"].all()
    assert info["episode_return"].tolist() == [1.0, 1.0, 1.0, -1.0, -1.0]
    assert info["episode_length"].tolist() == [3] * 5


def test_paddle_stops_at_the_walls():
    env = make_native("Catch-v0", 2, seed=0, rows=10, columns=5)
    env.reset()
    for _ in range(8):  # two moves reach a wall; the other six push against it
        obs, *_ = env.step(torch.tensor([LEFT, RIGHT]))
    assert env.game.paddle_x.tolist() == [0, 4]
    assert obs[0, 9, 0] == 1.0 and obs[1, 9, 4] == 1.0


def test_next_step_autoreset():
    env = make_native("Catch-v0", 3, seed=0, rows=3, columns=5)
    env.reset()
    set_balls(env, [2, 2, 0])
    for _ in range(2):
        _, reward, terminated, *_ = env.step(torch.tensor([RIGHT, STAY, LEFT]))
    assert terminated.all() and reward.tolist() == [-1.0, 1.0, 1.0]
    paddles_before = env.game.paddle_x.clone()
    # The step after a done ignores its action and returns the new episode's first board.
    obs, reward, terminated, truncated, info = env.step(torch.tensor([LEFT, RIGHT, LEFT]))
    assert not terminated.any() and not truncated.any() and not info["episode_end"].any()
    assert reward.tolist() == [0.0, 0.0, 0.0]
    assert info["episode_length"].tolist() == [0, 0, 0]
    assert info["episode_return"].tolist() == [0.0, 0.0, 0.0]
    assert not torch.equal(paddles_before, env.game.paddle_x)
    for i in range(3):
        top, bottom = cells(obs[i])
        assert top[0] == 0 and bottom == (2, 2)  # ball on the top row, paddle back in the middle
    # ... and the new episode then plays normally.
    obs, reward, terminated, *_ = env.step(torch.tensor([LEFT, STAY, RIGHT]))
    assert not terminated.any()
    assert [cells(obs[i])[-1] for i in range(3)] == [(2, 1), (2, 2), (2, 3)]
    assert [cells(obs[i])[0][0] for i in range(3)] == [1, 1, 1]


def reference_catch(first_obs: np.ndarray, actions: np.ndarray, rows: int, columns: int):
    """bsuite's Catch in plain Python for one env, with next-step autoreset.

    The new ball column at each autoreset is read from the env under test's first board of the new episode
    (``first_obs[t]``, used where the reference restarts), since the random draw is the env's own.
    """
    ball_x, ball_y, paddle_x, restart = int(np.argmax(first_obs[0][0])), 0, columns // 2, False
    out = []
    for t, action in enumerate(actions):
        if restart:
            ball_x, ball_y, paddle_x, restart = int(np.argmax(first_obs[t + 1][0])), 0, columns // 2, False
            reward, done = 0.0, False
        else:
            paddle_x = min(max(paddle_x + int(action) - 1, 0), columns - 1)
            ball_y += 1
            done = ball_y == rows - 1
            reward = (1.0 if paddle_x == ball_x else -1.0) if done else 0.0
            restart = done
        board = np.zeros((rows, columns), np.float32)
        board[ball_y, ball_x] = 1.0
        board[rows - 1, paddle_x] = 1.0
        out.append((board, reward, done))
    return out


def test_agrees_step_for_step_with_plain_python_catch():
    rows, columns, n, steps = 5, 4, 8, 40
    env = make_native("Catch-v0", n, seed=11, rows=rows, columns=columns)
    actions = torch.randint(0, 3, (steps, n), generator=torch.Generator().manual_seed(5))
    boards = [env.reset().clone()]
    results = []
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        boards.append(obs.clone())
        results.append((reward.clone(), terminated.clone(), truncated.clone()))
    boards = torch.stack(boards).numpy()
    for i in range(n):
        expected = reference_catch(boards[:, i], actions[:, i].numpy(), rows, columns)
        for t, (board, reward, done) in enumerate(expected):
            assert np.array_equal(boards[t + 1, i], board), (i, t)
            assert results[t][0][i].item() == reward, (i, t)
            assert results[t][1][i].item() == done and not results[t][2][i].item(), (i, t)


def test_agrees_step_for_step_with_envpools_catch():
    """envpool ships bsuite's Catch in C++; with the same balls and actions both give the same steps."""
    envpool = pytest.importorskip("envpool")
    n, steps = 6, 30
    theirs = envpool.make_gymnasium("Catch-v0", num_envs=n, seed=3)
    ours = make_native("Catch-v0", n, seed=0)
    their_obs, _ = theirs.reset()
    ours.reset()
    actions = torch.randint(0, 3, (steps, n), generator=torch.Generator().manual_seed(2))
    fresh = np.ones(n, dtype=bool)  # envpool just returned a new episode's first board
    done = np.zeros(n, dtype=bool)
    outcomes = set()
    for t in range(steps):
        if fresh.any():  # play envpool's ball column in ours too
            set_balls(ours, np.where(fresh, their_obs[:, 0].argmax(axis=1), ours.game.ball_x.numpy()).tolist())
        their_obs, their_reward, their_terminated, their_truncated, _ = theirs.step(actions[t].numpy())
        obs, reward, terminated, truncated, _ = ours.step(actions[t])
        fresh, done = done, their_terminated | their_truncated  # a step after a done is an autoreset
        for i in range(n):
            if fresh[i]:  # the new ball column is each engine's own draw: compare the rest of the board
                assert np.array_equal(obs[i, 1:].numpy(), their_obs[i, 1:]), (i, t)
            else:
                assert np.array_equal(obs[i].numpy(), their_obs[i]), (i, t)
        assert np.array_equal(reward.numpy(), their_reward) and np.array_equal(terminated.numpy(), their_terminated)
        assert np.array_equal(truncated.numpy(), their_truncated)
        outcomes.update(their_reward[their_terminated].tolist())
    assert outcomes == {1.0, -1.0}  # 3 episodes of 6 envs: catches and misses both compared


def test_episode_statistics_match_a_hand_count():
    env = make_native("Catch-v0", 16, seed=4, rows=4, columns=3)
    env.reset()
    actions = torch.randint(0, 3, (50, 16), generator=torch.Generator().manual_seed(0))
    running_return, running_length = [0.0] * 16, [0] * 16
    restart = [False] * 16
    ended = 0
    for t in range(50):
        _, reward, terminated, truncated, info = env.step(actions[t])
        for i in range(16):
            if restart[i]:
                running_return[i], running_length[i] = 0.0, 0
            else:
                running_return[i] += reward[i].item()
                running_length[i] += 1
            restart[i] = bool(terminated[i] or truncated[i])
            assert info["episode_end"][i].item() == restart[i]
            if restart[i]:
                ended += 1
                assert info["episode_return"][i].item() == running_return[i]
                assert info["episode_length"][i].item() == running_length[i] == 3
    assert ended == 16 * 12  # 50 steps = 12 full (3 steps + 1 restart) games, plus 2 steps of a 13th


def trajectory(seed: int, steps: int = 30, n: int = 32, reset_seed: int | None = None) -> torch.Tensor:
    env = make_native("Catch-v0", n, seed=seed, rows=5, columns=5)
    frames = [env.reset(seed=reset_seed).clone()]
    actions = torch.randint(0, 3, (steps, n), generator=torch.Generator().manual_seed(1))
    for t in range(steps):
        frames.append(env.step(actions[t]).obs.clone())
    return torch.stack(frames)


def test_same_seed_same_trajectories_and_different_seeds_differ():
    assert torch.equal(trajectory(7), trajectory(7))
    assert not torch.equal(trajectory(7), trajectory(8))
    assert torch.equal(trajectory(0, reset_seed=7), trajectory(7))  # reset(seed=...) re-seeds


def test_returned_tensors_stay_valid_through_the_next_step():
    env = make_native("Catch-v0", 8, seed=0)
    first = env.reset()
    kept = first.clone()
    second = env.step(stay(8)).obs
    assert torch.equal(first, kept)  # the previous step's obs is untouched by the next step
    assert not torch.equal(first, second)


def test_bad_actions_raise_with_env_index_and_the_env_survives():
    env = make_native("Catch-v0", 4, seed=0)
    env.reset()
    env.step(stay(4))
    with pytest.raises(ValueError, match=r"Catch-v0, step 1: action 3 for env 2 is out of range.*\[0, 2\]"):
        env.step(torch.tensor([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"action -1 for env 0 is out of range"):
        env.step(np.array([-1, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(4,\)"):
        env.step(torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match=r"dtype torch.float32, expected an integer dtype"):
        env.step(torch.ones(4))
    with pytest.raises(TypeError, match=r"expected a torch tensor or numpy array"):
        env.step([1, 1, 1, 1])
    # The failed calls did not step; the env still works, with numpy int32 and (N, 1) actions too.
    obs, *_ , info = env.step(np.ones((4, 1), dtype=np.int32))
    assert info["episode_length"].tolist() == [2] * 4


def test_check_actions_off_skips_range_checks_but_not_the_size():
    env = make_native("Catch-v0", 2, seed=0, check_actions=False)
    assert env.check_actions is False
    env.reset()
    env.step(torch.tensor([5, -3]))  # unchecked: moves clamp at the walls
    assert env.game.paddle_x.tolist() == [4, 0]
    with pytest.raises(ValueError, match=r"shape \(1,\), expected \(2,\)"):
        env.step(torch.tensor([1]))


def test_step_before_reset_and_async_calls_raise():
    env = make_native("Catch-v0", 2, seed=0)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(stay(2))
    with pytest.raises(NotImplementedError, match="no async mode"):
        env.send(stay(2), torch.arange(2))
    with pytest.raises(NotImplementedError, match="no async mode"):
        env.recv()


def test_make_native_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown native env 'catch-v0' \(did you mean 'Catch-v0'"):
        make_native("catch-v0", 2)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'cols' \(did you mean 'columns'\?\); "
                                         r"valid options: check_actions, columns, rows"):
        make_native("Catch-v0", 2, cols=3)
    with pytest.raises(ValueError, match="valid options: check_actions, max_episode_steps"):
        make_native("CartPole-v1", 2, rows=3)
    with pytest.raises(ValueError, match=r"num_envs=0; expected a positive integer"):
        make_native("Catch-v0", 0)
    with pytest.raises(ValueError, match=r"rows=1; expected an integer >= 2"):
        make_native("Catch-v0", 2, rows=1)
    with pytest.raises(TypeError, match="seed"):
        make_native("Catch-v0", 2, seed=1.5)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            make_native("Catch-v0", 2, device="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu_given_the_same_balls():
    n, rows = 1000, 10
    envs = {d: make_native("Catch-v0", n, device=d, seed=0, rows=rows) for d in ("cpu", "cuda")}
    envs["cuda"].reset()
    envs["cpu"].reset()
    set_balls(envs["cpu"], envs["cuda"].game.ball_x.cpu().tolist())
    actions = torch.randint(0, 3, (rows - 1, n), generator=torch.Generator().manual_seed(0))
    for t in range(rows - 1):  # one full episode: no random draw is used
        cpu = envs["cpu"].step(actions[t])
        cuda = envs["cuda"].step(actions[t].cuda())
        assert cuda.obs.device.type == "cuda" and cuda.info["episode_length"].device.type == "cuda"
        for a, b in zip((cpu.obs, cpu.reward, cpu.terminated, cpu.info["episode_return"]),
                        (cuda.obs, cuda.reward, cuda.terminated, cuda.info["episode_return"]), strict=True):
            assert torch.equal(a, b.cpu())
    assert cuda.terminated.all()
    # Seeding on the device: same seed, same balls.
    again = make_native("Catch-v0", n, device="cuda", seed=0, rows=rows)
    again.reset()
    first = make_native("Catch-v0", n, device="cuda", seed=0, rows=rows).reset()
    assert torch.equal(again.reset(seed=0), first)
