"""MinAtar native envs: ids, spaces and actions as the package has them, options, seeding, sticky actions,
checkpoints and bad input. (Step-for-step agreement with the package: test_minatar_parity.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from minatar import Environment

from fastrl.envs import make_env
from fastrl.envs.minatar import MINATAR_ENVS

GAMES = {"Asterix": "asterix", "Breakout": "breakout", "Freeway": "freeway", "Seaquest": "seaquest",
         "SpaceInvaders": "space_invaders"}


def test_ids_spaces_and_action_sets_are_the_packages():
    assert set(MINATAR_ENVS) == {f"MinAtar/{name}-v{v}" for name in GAMES for v in (0, 1)}
    for name, module in GAMES.items():
        package = Environment(module)
        channels = package.state_shape()[2]
        for version, actions in ((1, package.minimal_action_set()), (0, list(range(6)))):
            env = make_env(f"MinAtar/{name}-v{version}", 2, backend="native")
            assert env.single_observation_space.shape == (channels, 10, 10)
            assert env.single_observation_space.dtype == np.bool_
            assert env.single_action_space.n == len(actions)
            assert env.game._action_set.tolist() == actions
            obs = env.reset()
            assert obs.shape == (2, channels, 10, 10) and obs.dtype == torch.bool
        assert make_env(f"MinAtar/{name}-v1", 2).backend == "native"  # auto picks the native env


def trajectory(env_id: str, seed: int, actions: torch.Tensor, **options) -> torch.Tensor:
    env = make_env(env_id, actions.shape[1], backend="native", seed=seed, **options)
    frames = [env.reset().clone()]
    for step_actions in actions:
        frames.append(env.step(step_actions).obs.clone())
    return torch.stack(frames)


@pytest.mark.parametrize("name", GAMES)
def test_seeding_and_independent_envs(name):
    env_id = f"MinAtar/{name}-v1"
    n = make_env(env_id, 1, backend="native").single_action_space.n
    actions = torch.randint(0, n, (80, 4), generator=torch.Generator().manual_seed(0))
    first = trajectory(env_id, 3, actions)
    assert torch.equal(first, trajectory(env_id, 3, actions))
    assert not torch.equal(first, trajectory(env_id, 4, actions))
    # Env 0's game depends on the seed and its own actions only, not on the other envs' games.
    other = actions.clone()
    other[:, 1:] = (other[:, 1:] + 1) % n
    assert torch.equal(trajectory(env_id, 3, other)[:, 0], first[:, 0])


def test_sticky_actions_repeat_the_last_action_at_the_given_rate():
    actions = torch.full((40, 64), 2)  # Breakout: right
    never = trajectory("MinAtar/Breakout-v1", 0, actions, sticky_action_prob=0.0)
    always = trajectory("MinAtar/Breakout-v1", 0, actions, sticky_action_prob=1.0)
    paddle = lambda frames: frames[:, :, 0, 9].float().argmax(dim=2)  # noqa: E731
    assert (paddle(never)[3] == 7).all()  # from column 4, three steps right
    assert (paddle(always) == 4).all()  # the first action is the package's initial 'no-op', repeated
    env = make_env("MinAtar/Breakout-v1", 4096, backend="native", seed=0)
    env.reset()
    env.step(torch.full((4096,), 2))
    env.step(torch.zeros(4096, dtype=torch.int64))
    assert 0.08 < env.game._sticky.float().mean() < 0.12  # 0.1 by default


def test_difficulty_ramping_can_be_switched_off():
    env = make_env("MinAtar/Asterix-v1", 8, backend="native", difficulty_ramping=False, sticky_action_prob=0.0)
    env.reset()
    for _ in range(300):
        env.step(torch.zeros(8, dtype=torch.int64))
        assert (env.game.spawn_speed == 10).all() and (env.game.ramp_index == 0).all()


@pytest.mark.parametrize("name", GAMES)
def test_state_dict_continues_the_same_games(name):
    env = make_env(f"MinAtar/{name}-v1", 16, backend="native", seed=2)
    env.reset()
    actions = torch.randint(0, env.single_action_space.n, (60, 16), generator=torch.Generator().manual_seed(1))
    for step_actions in actions[:30]:
        env.step(step_actions)
    state = {k: v if not isinstance(v, dict) else {n: t.clone() for n, t in v.items()}
             for k, v in env.state_dict().items()}
    state["generator"] = state["generator"].clone()
    later = [env.step(a).obs.clone() for a in actions[30:]]
    again = make_env(f"MinAtar/{name}-v1", 16, backend="native", seed=9)
    again.reset()
    again.load_state_dict(state)
    assert all(torch.equal(again.step(a).obs, frame) for a, frame in zip(actions[30:], later, strict=True))


def test_bad_input_is_refused_in_one_line():
    env = make_env("MinAtar/Breakout-v1", 3, backend="native")
    env.reset()
    with pytest.raises(ValueError, match=r"MinAtar/Breakout-v1, step 0: action 3 for env 1 is out of range.*\[0, 2\]"):
        env.step(torch.tensor([0, 3, 1]))
    with pytest.raises(TypeError, match="expected an integer dtype"):
        env.step(np.full(3, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\), expected \(3,\)"):
        env.step(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"sticky_action_prob=1.5; expected a number in \[0, 1\]"):
        make_env("MinAtar/Breakout-v1", 2, backend="native", sticky_action_prob=1.5)
    with pytest.raises(ValueError, match="difficulty_ramping='yes'; expected True or False"):
        make_env("MinAtar/Asterix-v1", 2, backend="native", difficulty_ramping="yes")
    with pytest.raises(ValueError, match="unknown option.*'sticky'.*sticky_action_prob"):
        make_env("MinAtar/Asterix-v1", 2, backend="native", sticky=0.1)
    with pytest.raises(ValueError, match="unknown native env 'MinAtar/Breakout-v2'.*MinAtar/Breakout-v1"):
        make_env("MinAtar/Breakout-v2", 2, backend="native")
    env.step(np.array([0, 1, 2], dtype=np.uint8))  # the env goes on after refusals


@pytest.mark.gpu
@pytest.mark.parametrize("name", GAMES)
def test_cuda_plays_the_same_games_as_the_cpu_from_the_same_draws(name):
    """The same draws (fed to both) and actions give the same boards, rewards and ends on CUDA as on the CPU."""
    n, env_id = 512, f"MinAtar/{name}-v1"
    cpu = make_env(env_id, n, backend="native", device="cpu")
    cuda = make_env(env_id, n, backend="native", device="cuda")
    rng = torch.Generator().manual_seed(0)
    rows = cpu.game.draws.values.shape[0]
    for step in range(300):
        draws = torch.randint(0, 1 << 24, (rows, n), generator=rng)
        cpu.game.draws.feed(draws)
        cuda.game.draws.feed(draws)
        if step == 0:
            assert torch.equal(cpu.reset(), cuda.reset().cpu())
            continue
        actions = torch.randint(0, cpu.single_action_space.n, (n,), generator=rng)
        a, b = cpu.step(actions), cuda.step(actions.cuda())
        assert b.obs.device.type == "cuda"
        for x, y in ((a.obs, b.obs), (a.reward, b.reward), (a.terminated, b.terminated)):
            assert torch.equal(x, y.cpu()), (name, step)
