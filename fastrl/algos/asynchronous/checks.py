"""The checks that the specs of the Hogwild learners share (light: no torch, for spec.py)."""

from __future__ import annotations

from fastrl.config import ConfigError
from fastrl.config.fields import resolve_device_name


def check_run(config) -> None:
    """One env per worker, on the CPU; an early stop needs the evaluator."""
    if config.env.num_envs != 1:
        raise ConfigError(f"--num-envs {config.env.num_envs}: each Hogwild worker steps one env; set the number of "
                          f"workers with --workers (and --num-envs 1)")
    if resolve_device_name(config.device) != "cpu":
        raise ConfigError(f"--device {config.device}: the Hogwild workers share parameters in CPU shared memory; "
                          f"{config.algo} runs on the CPU (for a GPU, use the synchronous A2C: fastrl train ppo "
                          f"--preset a2c-atari)")
    if config.stop_return is not None and not config.eval_interval:
        raise ConfigError("--stop-return needs --eval-interval > 0: the evaluator process's greedy returns "
                          "decide when to stop")
