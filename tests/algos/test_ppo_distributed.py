"""Data-parallel PPO under torchrun on the CPU (gloo): the ranks keep bit-identical parameters while their
envs differ, and ``torchrun -m fastrl train ppo`` makes one run directory, written by rank 0 alone.

Both tests launch ``torch.distributed.run`` (torchrun) in a subprocess with two ranks, as a user would.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest
import safetensors.torch
import torch

from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl

RANKS = 2
ROLLOUTS = 4  # each a gradient update per epoch (ppo-cartpole: 20 epochs of one minibatch) on every rank

# Each rank trains, then saves its network and its envs' state: rank 0 must not be the only one to write.
WORKER = textwrap.dedent('''
    import dataclasses, os, sys
    from pathlib import Path
    import safetensors.torch, torch, torch.distributed as dist
    from fastrl.algos.ppo import loop as ppo
    from fastrl.config import preset
    from fastrl.runner import Run

    out, total = Path(sys.argv[1]), int(sys.argv[2])
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    config = dataclasses.replace(preset("ppo-cartpole"), total_env_steps=total, run_dir=out / "run",
                                 tensorboard=False, progress=False, log_interval=total)
    run = Run(config, out / "run", None)
    learner = ppo.train(run)
    run.close()
    tensors = {"net/" + k: v.contiguous() for k, v in learner.net.state_dict().items()}
    tensors["cart_state"] = run.envs.game.state.clone()
    tensors["env_seed"] = torch.tensor(run.env_seed)
    tensors["updates"] = torch.tensor(learner.updates)
    safetensors.torch.save_file(tensors, str(out / f"rank{rank}.safetensors"))
    dist.destroy_process_group()
''')


def torchrun(args: list[str], cwd, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc-per-node",
               str(RANKS), *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


@pytest.mark.slow
def test_two_gloo_ranks_keep_bit_identical_parameters(tmp_path):
    config = preset("ppo-cartpole")
    per_rollout = config.ppo.num_steps * config.env.num_envs * RANKS
    (tmp_path / "worker.py").write_text(WORKER)
    torchrun([str(tmp_path / "worker.py"), str(tmp_path), str(ROLLOUTS * per_rollout)], cwd=tmp_path)

    ranks = [safetensors.torch.load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(RANKS)]
    names = [k for k in ranks[0] if k.startswith("net/")]
    assert names and all(torch.equal(ranks[0][k], ranks[1][k]) for k in names)
    assert int(ranks[0]["updates"]) == ROLLOUTS * config.ppo.epochs == int(ranks[1]["updates"])
    # Each rank ran its own envs: seeds num_envs apart, and by now in other states.
    assert int(ranks[1]["env_seed"]) - int(ranks[0]["env_seed"]) == config.env.num_envs
    assert not torch.equal(ranks[0]["cart_state"], ranks[1]["cart_state"])
    # The parameters did move from the initialization (the same on every rank: seeded by the config).
    from fastrl.algos.ppo.learner import learner_for
    from fastrl.envs import make_env

    envs = make_env("CartPole-v1", 1, backend="native")
    torch.manual_seed(config.seed)
    initial = learner_for(config, envs.single_observation_space, envs.single_action_space, "cpu").net.state_dict()
    assert not torch.equal(initial["policy_head.weight"], ranks[0]["net/policy_head.weight"])
    # Only rank 0 wrote the run directory.
    assert (tmp_path / "run" / "config.json").exists() and (tmp_path / "run" / METRICS).exists()


@pytest.mark.slow
def test_torchrun_fastrl_train_ppo_writes_one_run_directory(tmp_path):
    config = dataclasses.replace(preset("ppo-catch"))
    per_rollout = config.ppo.num_steps * config.env.num_envs * RANKS  # 256 env steps over both ranks
    run_dir = tmp_path / "run"
    result = torchrun(["-m", "fastrl", "train", "ppo", "--preset", "ppo-catch", "--total-env-steps",
                       str(4 * per_rollout), "--log-interval", str(per_rollout), "--run-dir", str(run_dir),
                       "--eval-episodes", "8", "--checkpoint-interval", "0", "--no-progress", "--no-tensorboard"],
                      cwd=tmp_path)
    assert f"run directory: {run_dir}" in result.stdout
    rows = read_jsonl(run_dir / METRICS)
    assert [r["env_steps"] for r in rows] == [per_rollout * k for k in range(1, 5)]  # counted over both ranks
    assert "eval_return_mean" in rows[-1] and rows[-1]["updates"] == 4 * config.ppo.epochs * config.ppo.minibatches
    assert len(list((run_dir / "checkpoints").iterdir())) == 1
