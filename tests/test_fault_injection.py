"""Fault injection (slow): a DQN run on the native Catch env (CPU) killed 20+ times at random moments with
SIGKILL, SIGINT and SIGTERM, resumed after each, ends with no leftover folders, no duplicated or missing log
steps, and parameters bit-identical to the run never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from fastrl import checkpoint
from fastrl.log import EPISODES, METRICS, read_jsonl

TOTAL = 60_000  # long enough that 20 kills land before the end on a quiet machine
KILLS = 20
FLAGS = ["--total-env-steps", str(TOTAL), "--log-interval", "400", "--checkpoint-interval", "400",
         "--learning-starts", "400", "--eval-episodes", "4", "--no-tensorboard", "--no-progress",
         "--save-with-checkpoint", "--keep-checkpoints", "2"]


def _start(args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "fastrl", "train", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, text=True)


@pytest.mark.slow
def test_a_run_killed_twenty_times_ends_as_the_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    fresh = ["dqn", "--preset", "dqn-catch", *FLAGS]
    assert subprocess.run([sys.executable, "-m", "fastrl", "train", *fresh, "--run-dir", str(whole)],
                          capture_output=True).returncode == 0

    rng = random.Random(20)
    process = _start([*fresh, "--run-dir", str(split)])
    while not checkpoint.list_checkpoints(split):  # the first kill comes once there is a checkpoint
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    kills = 0
    while True:
        time.sleep(rng.uniform(0.5, 4.0))  # the start (imports) takes ~2 s here
        if process.poll() is None and kills < KILLS:  # after the 20th, the run is left to finish
            sig = rng.choice([signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
            process.send_signal(sig)
            kills += 1
        code = process.wait()
        err = process.stderr.read()
        assert code in (0, 130, -signal.SIGKILL, -signal.SIGTERM), err  # SIGTERM: default while importing
        assert "Traceback" not in err, err
        if code == 0 and kills >= KILLS:
            break
        if code == 0:  # finished before 20 kills: the test's timing was too slow to be meaningful here
            pytest.skip(f"the run finished after {kills} kills")
        process = _start(["--resume", str(split)])

    parent = checkpoint.checkpoint_dir(split)
    assert all(p.name.startswith("step_") and (p / "manifest.json").is_file() for p in parent.iterdir())
    steps = [r["env_steps"] for r in read_jsonl(split / METRICS)]
    assert steps == sorted(set(steps)) and steps[-1] == TOTAL
    assert {r["env_steps"] for r in read_jsonl(whole / METRICS)} <= set(steps)
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)
    a, b = (checkpoint.load(d).state["loop"]["learner"] for d in (whole, split))
    assert all(torch.equal(a["online"][k], b["online"][k]) for k in a["online"])
    assert all(torch.equal(a["target"][k], b["target"][k]) for k in a["target"])


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a3c_through_the_cli_stops_on_a_burst_of_signals_with_a_checkpoint_and_resumes(tmp_path, signum):
    """``fastrl train`` notes stop signals from its first line (``fastrl.signals``); A3C's supervisor must act
    on them: a burst of six stops the workers once, writes one checkpoint and prints how to resume."""
    run_dir = tmp_path / "a3c"
    process = _start(["a3c", "--preset", "a3c-catch", "--total-env-steps", "10000000", "--log-interval", "500",
                      "--no-tensorboard", "--no-progress", "--run-dir", str(run_dir)])
    while not (run_dir / METRICS).exists() or not read_jsonl(run_dir / METRICS):  # the workers are stepping
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    for _ in range(6):
        process.send_signal(signum)
        time.sleep(0.05)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"A3C kept training after six {signum.name}s")
    err = process.stderr.read().strip()
    assert code == 130, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"received {signum.name}" in err and f"--resume {run_dir}" in err, err
    stopped_at = checkpoint.load(run_dir).step
    resumed = subprocess.run([sys.executable, "-m", "fastrl", "train", "--resume", str(run_dir),
                              "--total-env-steps", str(stopped_at + 2_000), "--no-progress"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(run_dir).step >= stopped_at + 2_000
