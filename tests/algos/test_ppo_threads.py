"""PPO's update threads: adapted between 1 and the run's torch threads by default on the CPU, fixed when set;
the count in use is logged."""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import ConfigError, preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train


def catch_run(run_dir, torch_threads: int, update_threads: int):
    base = preset("ppo-catch")
    return dataclasses.replace(base, run_dir=run_dir, total_env_steps=2_048, log_interval=512, eval_interval=0,
                               tensorboard=False, progress=False, torch_threads=torch_threads,
                               ppo=dataclasses.replace(base.ppo, update_threads=update_threads))


@pytest.mark.slow
@pytest.mark.parametrize("torch_threads, update_threads, counts", [(2, 0, {1, 2}), (2, 1, {1}), (1, 0, {1})])
def test_the_update_runs_on_the_adapted_or_the_fixed_thread_count(tmp_path, torch_threads, update_threads, counts):
    train(catch_run(tmp_path, torch_threads, update_threads))
    logged = {row["update_threads"] for row in read_jsonl(tmp_path / METRICS) if "update_threads" in row}
    assert logged and logged <= counts


def test_a_negative_count_is_refused():
    with pytest.raises(ConfigError, match="--update-threads -1: expected an integer >= 0"):
        dataclasses.replace(preset("ppo-catch").ppo, update_threads=-1)
