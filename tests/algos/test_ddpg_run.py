"""DDPG / TD3 / D4PG runs: resume continues bit for bit, the CLI trains on both MuJoCo backends and Pendulum,
writes the run directory, evaluates it, lists its fields and refuses configs that cannot work.

Bit-for-bit resume needs envs whose state a checkpoint holds (the runner snapshots native torch envs; envpool
and gymnasium envs start new episodes on resume), and the native envs are discrete. So the resume test runs on
``TorchPendulum``: gymnasium's Pendulum-v1 dynamics batched in torch, inside the native backend's ``VecEnv``
(with float actions), served by the runner's ``make_env`` for its id."""

from __future__ import annotations

import dataclasses
import json
import math

import gymnasium
import numpy as np
import pytest
import torch

from fastrl import checkpoint
from fastrl.config import DDPGConfig, EnvConfig, ReplayConfig, RunConfig, preset
from fastrl.envs.native import NativeVecEnv
from fastrl.log import EPISODES, METRICS, read_jsonl
from fastrl.runner import train


class TorchPendulum:
    """gymnasium's Pendulum-v1 (g = 10, m = l = 1, dt = 0.05, torque in [-2, 2], speed in [-8, 8], truncated
    after 200 steps) for ``num_envs`` pendulums on one device; the game half of a native env."""

    id = "TorchPendulum-v0"

    def __init__(self, num_envs: int, device: torch.device):
        self.single_observation_space = gymnasium.spaces.Box(np.array([-1.0, -1.0, -8.0], np.float32),
                                                             np.array([1.0, 1.0, 8.0], np.float32))
        self.single_action_space = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.theta = torch.zeros(num_envs, device=device)
        self.speed = torch.zeros(num_envs, device=device)
        self.elapsed = torch.zeros(num_envs, dtype=torch.int32, device=device)
        self._start = torch.zeros(2, num_envs, device=device)

    def _draw_start(self, generator: torch.Generator) -> None:
        self._start[0].uniform_(-math.pi, math.pi, generator=generator)
        self._start[1].uniform_(-1.0, 1.0, generator=generator)

    def _observe(self, obs: torch.Tensor) -> None:
        obs.copy_(torch.stack([self.theta.cos(), self.theta.sin(), self.speed], dim=1))

    def reset(self, generator: torch.Generator, obs: torch.Tensor) -> None:
        self._draw_start(generator)
        self.theta.copy_(self._start[0])
        self.speed.copy_(self._start[1])
        self.elapsed.zero_()
        self._observe(obs)

    def step(self, actions, restart, generator, obs, reward, terminated, truncated) -> None:
        torque = actions.clamp(-2.0, 2.0)
        angle = (self.theta + math.pi) % (2 * math.pi) - math.pi
        cost = angle.square() + 0.1 * self.speed.square() + 0.001 * torque.square()
        speed = (self.speed + (15.0 * self.theta.sin() + 3.0 * torque) * 0.05).clamp(-8.0, 8.0)
        self._draw_start(generator)  # every step, used or not (see fastrl.envs.native)
        self.theta.copy_(torch.where(restart, self._start[0], self.theta + speed * 0.05))
        self.speed.copy_(torch.where(restart, self._start[1], speed))
        self.elapsed.add_(1).masked_fill_(restart, 0)
        reward.copy_(torch.where(restart, 0.0, -cost))
        terminated.zero_()
        torch.ge(self.elapsed, 200, out=truncated)
        self._observe(obs)


class TorchPendulumEnv(NativeVecEnv):
    """The native ``VecEnv`` around ``TorchPendulum``, its action buffer made float (the native games are
    discrete)."""

    def __init__(self, num_envs: int, *, device, seed: int):
        super().__init__(TorchPendulum, num_envs, device=device, seed=seed)
        self._actions = torch.zeros(num_envs, dtype=torch.float32, device=self.device)


@pytest.fixture
def torch_pendulum(monkeypatch):
    import fastrl.runner as runner

    make_env = runner.make_env

    def make(config, num_envs, seed, **options):
        if config.env.id == TorchPendulum.id:
            return TorchPendulumEnv(num_envs, device=config.resolved_device(), seed=seed)
        return make_env(config, num_envs, seed, **options)

    monkeypatch.setattr(runner, "make_env", make)


def test_torch_pendulum_is_gymnasiums_pendulum():
    """The resume test's env follows gymnasium's dynamics (same states, rewards for the same torques)."""
    gym = gymnasium.make("Pendulum-v1").unwrapped
    gym.reset(seed=0)
    env = TorchPendulumEnv(1, device="cpu", seed=0)
    env.reset()
    env.game.theta.fill_(float(gym.state[0]))
    env.game.speed.fill_(float(gym.state[1]))
    for u in np.linspace(-3.0, 3.0, 25):
        expected_obs, expected_reward, *_ = gym.step(np.array([u], np.float32))
        obs, reward, *_ = env.step(torch.tensor([[u]], dtype=torch.float32))
        assert np.allclose(obs[0].numpy(), expected_obs, atol=1e-4)
        assert float(reward[0]) == pytest.approx(float(expected_reward), abs=1e-4)


K = 400  # env steps before the interruption (100 steps of 4 envs; updates start at 200)

VARIANTS = {
    "td3-normalized": ("td3", dict(normalize_observations=True), {}),
    "ddpg-ou": ("ddpg", dict(exploration="ou", exploration_noise=0.3), {}),
    "d4pg-prioritized-3-step": ("d4pg", dict(v_min=-400.0, v_max=0.0, atoms=21), dict(prioritized=True, n_step=3)),
}


def pendulum_run(run_dir, algo: str, ddpg: dict, replay: dict) -> RunConfig:
    return RunConfig(
        algo=algo, env=EnvConfig(id=TorchPendulum.id, num_envs=4, backend="native"),
        replay=ReplayConfig(capacity=4_000, save_with_checkpoint=True, **replay),
        ddpg=DDPGConfig(batch_size=32, replay_ratio=0.5, learning_starts=200, hidden=(16, 16), actor_lr=1e-3,
                        critic_lr=1e-3, **ddpg),
        total_env_steps=2 * K, log_interval=100, checkpoint_interval=K, eval_interval=K, eval_episodes=4,
        run_dir=run_dir, tensorboard=False, progress=False, torch_threads=1)


def learning_rows(run_dir):
    """metrics.jsonl without the wall-clock fields (SPS, per-stage ms), which no two runs share."""
    return [{k: v for k, v in row.items() if k != "sps" and not k.startswith("ms_")}
            for row in read_jsonl(run_dir / METRICS)]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resumed_run_equals_the_uninterrupted_run(tmp_path, torch_pendulum, variant):
    algo, ddpg, replay = VARIANTS[variant]
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(pendulum_run(whole, algo, ddpg, replay))
    train(pendulum_run(split, algo, ddpg, replay), stop_at=K)
    assert [p.name for p in checkpoint.list_checkpoints(split)] == [f"step_{K:012d}"]
    train(resume=split)

    rows = learning_rows(whole)
    assert [r["env_steps"] for r in rows] == list(range(100, 2 * K + 1, 100))
    assert rows[-1]["updates"] == 301 and "eval_return_mean" in rows[-1] and "actor_loss" in rows[-1]
    assert learning_rows(split) == rows
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)
    a, b = (checkpoint.load(d).state["loop"]["learner"] for d in (whole, split))
    for part in ("actor", "critic", "actor_target", "critic_target"):
        assert a[part].keys() == b[part].keys() and all(torch.equal(a[part][k], b[part][k]) for k in a[part])
    if ddpg.get("normalize_observations"):
        assert torch.equal(a["obs_norm"]["mean"], b["obs_norm"]["mean"]) and a["obs_norm"]["count"] > 2 * K


# ---------------------------------------------------------------------------------------------------------
# The CLI: train, eval, help, refusals
# ---------------------------------------------------------------------------------------------------------


def test_td3_pendulum_run_directory_and_eval(tmp_path, capsys):
    from fastrl.train_cli import eval_main, train_main

    run_dir = tmp_path / "run"
    argv = ["td3", "--preset", "td3-pendulum", "--total-env-steps", "800", "--learning-starts", "400",
            "--log-interval", "400", "--eval-interval", "0", "--eval-episodes", "4", "--run-dir", str(run_dir),
            "--no-progress", "--no-tensorboard"]
    assert train_main(argv) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == "td3" and config["preset"] == "td3-pendulum" and config["ddpg"]["hidden"] == [64, 64]
    row = read_jsonl(run_dir / METRICS)[-1]
    for key in ("sps", "critic_loss", "actor_loss", "q_mean", "abs_td_mean", "updates", "ms_env", "ms_act",
                "ms_replay_add", "ms_sample", "ms_update", "eval_return_mean", "episode_return_mean"):
        assert key in row, key
    assert row["updates"] == 401  # one update per env step from step 400 on (and one at 400 itself)
    assert (run_dir / "learning_curve.png").exists()

    assert eval_main([str(run_dir), "--episodes", "6", "--json", str(tmp_path / "eval.json")]) == 0
    assert "Pendulum-v1: return" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["episodes"] == 6 and result["policy"] == "deterministic μ(s)"
    assert all(-2_000 < r <= 0 for r in result["returns"])
    assert eval_main([str(run_dir), "--epsilon", "0.1"]) == 2
    assert "--epsilon is for DQN" in capsys.readouterr().err


@pytest.mark.parametrize("algo, backend", [("td3", "envpool"), ("d4pg", "gymnasium"), ("ddpg", "auto")])
def test_train_on_halfcheetah_with_both_backends(tmp_path, algo, backend):
    from fastrl.train_cli import train_main

    run_dir = tmp_path / "run"
    argv = [algo, "--env", "HalfCheetah-v5", "--backend", backend, "--num-envs", "2", "--total-env-steps", "96",
            "--batch-size", "16", "--learning-starts", "64", "--hidden", "16", "16", "--log-interval", "48",
            "--eval-episodes", "1", "--torch-threads", "1", "--run-dir", str(run_dir), "--no-progress",
            "--no-tensorboard"]
    assert train_main(argv) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == algo and config["env"]["id"] == "HalfCheetah-v5"
    rows = read_jsonl(run_dir / METRICS)
    assert rows[-1]["env_steps"] == 96 and rows[-1]["updates"] == 33 and "eval_return_mean" in rows[-1]


def test_cli_help_lists_the_ddpg_and_replay_fields_and_hides_the_others(capsys):
    from fastrl.train_cli import train_main

    with pytest.raises(SystemExit) as exit_info:
        train_main(["td3", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(DDPGConfig):
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--n-step" in text and "--prioritized" in text
    assert "--epsilon-start" not in text and "--entropy-coef" not in text and "--workers" not in text
    assert "td3-mujoco" in text and "td3-pendulum" in text


@pytest.mark.parametrize("argv, message", [
    (["td3", "--env", "CartPole-v1"], "TD3 needs a flat continuous (Box) action space, but CartPole-v1 has "
                                      "Discrete(2); for discrete actions use dqn or ppo"),
    (["ddpg", "--env", "Pong-v5"], "DDPG needs a flat continuous (Box) action space"),
    (["d4pg", "--preset", "td3-pendulum"], "--preset td3-pendulum is a preset of td3, not of d4pg"),
    (["td3", "--preset", "td3-pendulum", "--v-min", "1", "--v-max", "0"], "the D4PG support needs v_min < v_max"),
    (["d4pg", "--preset", "d4pg-pendulum", "--learning-starts", "100"], "--learning-starts 100 is below 140"),
])
def test_cli_refuses_configs_that_do_not_fit(argv, message, tmp_path, capsys):
    from fastrl.train_cli import train_main

    try:
        code = train_main([*argv, "--run-dir", str(tmp_path / "run"), "--no-progress"])
    except SystemExit as exit_info:  # refused while parsing (tyro prints the error in a box)
        code = exit_info.code
    assert code == 2
    assert message in " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------------------
# On a GPU (skipped visibly without one)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["ddpg", "d4pg"])
def test_an_update_on_cuda_matches_the_cpu(variant):
    """The same weights and batch give the same update on CUDA (DDPG's and D4PG's updates draw no noise; D4PG's
    projection runs on the GPU's backend of ops.categorical_projection)."""
    from fastrl.algos.ddpg.learner import DDPG
    from fastrl.replay import Batch

    obs_space = gymnasium.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    action_space = gymnasium.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([3.0, 0.5], np.float32))
    config = DDPGConfig(hidden=(32, 32), v_min=-5.0, v_max=5.0, atoms=21)
    cpu = DDPG(config, variant, obs_space, action_space, "cpu", seed=0)
    gpu = DDPG(config, variant, obs_space, action_space, "cuda", seed=0)
    for name in ("actor", "critic", "actor_target", "critic_target"):
        getattr(gpu, name).load_state_dict(getattr(cpu, name).state_dict())
    g = torch.Generator().manual_seed(0)
    actions = torch.rand(64, 2, generator=g) * torch.tensor([4.0, 0.5]) - torch.tensor([1.0, 0.0])
    batch = Batch(torch.randn(64, 5, generator=g), actions, torch.randn(64, generator=g), torch.full((64,), 0.99),
                  torch.randn(64, 5, generator=g), torch.ones(64), torch.arange(64))
    for _ in range(3):
        cpu.update(batch)
        gpu.update(Batch(*(t.cuda() for t in batch)))
    for name in ("actor", "critic", "actor_target", "critic_target"):
        for p, q in zip(getattr(cpu, name).parameters(), getattr(gpu, name).parameters(), strict=True):
            assert torch.allclose(p, q.cpu(), atol=1e-4, rtol=1e-4), name


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["td3-pendulum", "d4pg-pendulum"])
def test_pendulum_trains_and_resumes_on_cuda(tmp_path, name):
    run_dir = tmp_path / "run"
    base = preset(name)
    config = dataclasses.replace(base, device="cuda", total_env_steps=2_400, log_interval=600,
                                 checkpoint_interval=1_200, eval_interval=0, eval_episodes=4, run_dir=run_dir,
                                 tensorboard=False, progress=False,
                                 replay=dataclasses.replace(base.replay, save_with_checkpoint=True))
    train(config, stop_at=1_200)
    train(resume=run_dir)
    rows = read_jsonl(run_dir / METRICS)
    assert [r["env_steps"] for r in rows] == [600, 1_200, 1_800, 2_400]
    assert rows[-1]["updates"] == 1_401 and math.isfinite(rows[-1]["critic_loss"]) and "eval_return_mean" in rows[-1]
