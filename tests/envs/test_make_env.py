"""make_env: backend choice, shared defaults, devices (the CUDA path runs where a GPU is)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastrl.envs import BACKENDS, make_env
from fastrl.envs.atari import ATARI_DEFAULTS
from fastrl.envs.base import cpu_cores


@pytest.mark.parametrize(("env_id", "backend"), [("Catch-v0", "native"), ("CartPole-v1", "native"),
                                                 ("Pong-v5", "envpool"), ("HalfCheetah-v5", "envpool"),
                                                 ("Taxi-v4", "gymnasium")])
def test_auto_picks_native_then_envpool_then_gymnasium(env_id, backend):
    env = make_env(env_id, 2)
    assert env.backend == backend and env.env_id == env_id


def test_an_explicit_backend_wins_over_auto():
    assert make_env("CartPole-v1", 2, backend="envpool").backend == "envpool"
    assert make_env("Catch-v0", 2, backend="envpool").backend == "envpool"


def test_atari_defaults_are_the_same_on_envpool_and_ale():
    assert ATARI_DEFAULTS == {"frame_skip": 4, "frame_stack": 4, "img_size": 84, "noop_max": 30,
                              "max_episode_frames": 108_000, "repeat_action_probability": 0.0,
                              "episodic_life": False, "reward_clip": False, "fire_reset": True,
                              "full_action_space": False}
    pool = make_env("Pong-v5", 2, backend="envpool", repeat_action_probability=0.25, episodic_life=True,
                    noop_max=7, frame_skip=3)
    ale = make_env("Pong-v5", 2, backend="ale", repeat_action_probability=0.25, episodic_life=True,
                   noop_max=7, frame_skip=3)
    config = pool._pool.config
    assert (config["repeat_action_probability"], config["episodic_life"], config["noop_max"],
            config["frame_skip"], config["max_episode_steps"]) == (0.25, True, 7, 3, 108_000 // 3)
    kw = ale._make_kwargs
    assert (kw["repeat_action_probability"], kw["life_loss_info"], kw["noop_max"], kw["frameskip"],
            kw["max_num_frames_per_episode"]) == (0.25, True, 7, 3, 108_000)
    assert pool.reset().shape == ale.reset().shape == (2, 4, 84, 84)
    assert pool.single_action_space == ale.single_action_space


def test_threads_default_to_one_per_env_at_most_one_per_core_and_batch_size_makes_async():
    env = make_env("CartPole-v1", 64, backend="envpool")
    assert env._make_kwargs["num_threads"] == min(64, cpu_cores()) and not env.is_async
    assert make_env("CartPole-v1", 1, backend="envpool")._make_kwargs["num_threads"] == 1
    env = make_env("CartPole-v1", 8, backend="envpool", batch_size=4, num_threads=1)
    assert env.is_async and env.batch_size == 4 and "async batch 4" in repr(env)


def test_backends_listed():
    assert BACKENDS == ("auto", "envpool", "ale", "gymnasium", "native")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where there is no GPU")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="cuda"):
        make_env("CartPole-v1", 2, device="cuda")


# ---- CUDA: pinned staging, one copy per step, tensors valid through the next step ---------------------------


def paired_rollout(backend, env_id, steps, **options):
    """The same seeded rollout on the CPU and on CUDA; returns both lists of tensors."""
    runs = []
    for device in ("cpu", "cuda"):
        env = make_env(env_id, 3, backend=backend, device=device, seed=1, **options)
        rng = np.random.default_rng(0)
        out = [env.reset().cpu().clone()]
        for _ in range(steps):
            space = env.single_action_space
            actions = torch.as_tensor(rng.uniform(-1, 1, (3, *space.shape)) if space.shape
                                      else rng.integers(0, space.n, 3), device=device)
            step = env.step(actions)
            assert step.obs.device.type == "cuda" or device == "cpu"
            out += [t.cpu().clone() for t in (step.obs, step.reward, step.terminated, step.info["episode_return"])]
        runs.append(out)
        env.close()
    return runs


@pytest.mark.gpu
@pytest.mark.parametrize(("backend", "env_id"), [("envpool", "Pong-v5"), ("envpool", "HalfCheetah-v5"),
                                                 ("ale", "Breakout-v5"), ("gymnasium", "CartPole-v1")])
def test_cuda_matches_cpu(backend, env_id):
    cpu, cuda = paired_rollout(backend, env_id, 25)
    for a, b in zip(cpu, cuda, strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)


@pytest.mark.gpu
def test_cuda_tensors_stay_valid_through_the_next_step():
    env = make_env("Pong-v5", 4, device="cuda", seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    previous = env.step(torch.zeros(4, dtype=torch.int64, device="cuda"))
    for _ in range(30):
        kept = previous.obs.clone()
        step = env.step(torch.as_tensor(rng.integers(0, 6, 4), device="cuda"))
        torch.cuda.synchronize()
        assert torch.equal(previous.obs, kept)  # the copy for this step went to the other buffer
        assert step.obs.dtype == torch.uint8 and step.info["lives"].device.type == "cuda"
        previous = step


@pytest.mark.gpu
def test_cuda_async_send_recv():
    env = make_env("CartPole-v1", 6, backend="envpool", batch_size=3, device="cuda", seed=0)
    env.reset()
    seen = torch.zeros(6, dtype=torch.int64)
    for _ in range(20):
        step = env.recv()
        assert step.env_ids.device.type == "cuda" and step.obs.device.type == "cuda"
        seen[step.env_ids.cpu()] += 1
        env.send(torch.zeros(3, dtype=torch.int64, device="cuda"), step.env_ids)
    assert (seen > 0).all()


@pytest.mark.gpu
def test_cuda_out_of_range_action_is_refused():
    env = make_env("Pong-v5", 2, device="cuda")
    env.reset()
    with pytest.raises(ValueError, match="env 1"):
        env.step(torch.tensor([0, 6], device="cuda"))
