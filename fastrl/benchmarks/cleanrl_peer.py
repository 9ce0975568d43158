"""CleanRL's ``ppo_atari_envpool.py``, unmodified, run as a peer of fastrl's PPO, and its steady env steps/s.

The script is CleanRL's own file (``fastrl/benchmarks/cleanrl/ppo_atari_envpool.py``, MIT, copied byte for byte
from github.com/vwxyzjn/cleanrl at commit fe8d8a03; the file last changed in 35896b1f): the PyPI package
``cleanrl`` stops at 0.4.8 (2021), before that script existed, so it cannot come from an install.

The script imports the old ``gym`` (0.2x) API: ``reset()`` returns the observations, ``step()`` four values.
Without gym installed, envpool's ``env_type="gym"`` hands out its gymnasium-API pool, so a thin adapter stands
in for gym: a ``gym`` module (``Wrapper``, and gymnasium's ``spaces``), and ``envpool.make(env_type="gym")``
returning the pool in the old shape (``reset`` gives the observations; ``step`` four values, done = terminated
or truncated, as envpool's gym API returns them). Nothing else changes: its network, its loop, its thread count (torch's default) and its seeding
are CleanRL's.

It runs in a child process (``python -m fastrl.benchmarks.cleanrl_peer <its arguments>``) in a scratch folder
(its tensorboard logs go to ``runs/`` there), with the allocator settings fastrl's own CLI uses
(``fastrl.cli.keep_freed_memory``, and the OpenMP wait policy the parent set), so that both sides of a
comparison run under the same allocator. Its rate is taken from the ``SPS:`` lines it prints after each
iteration (global step over seconds since its start): the seconds of each iteration follow from two lines, and
the rate over all but the first iteration (its warm-up) is the steady rate, as fastrl's is taken after its
first log row.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import tempfile
import types
from pathlib import Path

#: CleanRL's file, as its repository has it
SCRIPT = Path(__file__).with_name("cleanrl") / "ppo_atari_envpool.py"
SOURCE = "github.com/vwxyzjn/cleanrl cleanrl/ppo_atari_envpool.py (commit fe8d8a03, MIT)"
_SPS_LINE = re.compile(r"^SPS: (\d+)$", re.MULTILINE)


class OldGymPool:
    """An envpool pool in gym 0.2x's API, as ``envpool.make(env_type="gym")`` gives it where gym is installed:
    ``reset`` returns the observations alone, ``step`` ``(obs, reward, done, info)`` with done = terminated |
    truncated. Other attributes pass through to the pool; new ones (the script sets ``num_envs`` and the
    ``single_*_space``) are this object's own."""

    def __init__(self, pool):
        self.pool = pool

    def __getattr__(self, name: str):
        if name == "pool":  # not set yet: no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.pool, name)

    def reset(self, **kwargs):
        obs, _info = self.pool.reset(**kwargs)
        return obs

    def step(self, action):
        obs, reward, terminated, truncated, info = self.pool.step(action)
        return obs, reward, terminated | truncated, info


class Wrapper:
    """gym 0.2x's ``gym.Wrapper``: ``reset`` and ``step`` go to the wrapped env, other attributes too."""

    def __init__(self, env):
        self.env = env

    def __getattr__(self, name: str):
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, **kwargs):
        return self.env.reset(**kwargs)

    def step(self, action):
        return self.env.step(action)


def supply_old_gym_api() -> None:
    """Stand in for gym 0.2x: a ``gym`` module with what the script uses (``Wrapper``, ``spaces``), and
    ``envpool.make(env_type="gym")`` returning its pools in gym's API."""
    import envpool
    import gymnasium

    gym = types.ModuleType("gym", "fastrl's stand-in for gym 0.2x's API (CleanRL's script imports it)")
    gym.Wrapper = Wrapper
    gym.spaces = gymnasium.spaces
    sys.modules["gym"] = gym
    make = envpool.make

    def make_in_old_gym_api(task_id: str, env_type: str, **kwargs):
        pool = make(task_id, env_type=env_type, **kwargs)
        return OldGymPool(pool) if env_type == "gym" else pool

    envpool.make = make_in_old_gym_api


def steady_rate(output: str, steps_per_iteration: int) -> float:
    """Env steps/s over every iteration but the first, from the script's ``SPS: n`` lines (one per iteration,
    n = global step / seconds since its start, rounded down)."""
    sps = [int(n) for n in _SPS_LINE.findall(output)]
    if len(sps) < 2 or 0 in sps:
        raise RuntimeError(f"CleanRL's script printed {len(sps)} usable SPS lines; expected 2 or more "
                           f"(more --total-timesteps?)")
    first, last = steps_per_iteration, steps_per_iteration * len(sps)
    return (last - first) / (last / sps[-1] - first / sps[0])


def cleanrl_rate(env_id: str, iterations: int, seed: int = 1, num_envs: int = 8, num_steps: int = 128) -> float:
    """Run the script at its own settings for ``iterations`` rollouts (+1 warm-up) on the CPU; its steady rate."""
    steps_per_iteration = num_envs * num_steps
    args = ["--env-id", env_id, "--total-timesteps", str(steps_per_iteration * (iterations + 1)), "--seed",
            str(seed), "--num-envs", str(num_envs), "--num-steps", str(num_steps), "--no-cuda"]
    with tempfile.TemporaryDirectory(prefix="cleanrl-") as scratch:
        done = subprocess.run([sys.executable, "-m", "fastrl.benchmarks.cleanrl_peer", *args], cwd=scratch,
                              capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"CleanRL's ppo_atari_envpool.py exited with code {done.returncode}: {tail[0]}")
    return steady_rate(done.stdout, steps_per_iteration)


def main(argv: list[str]) -> None:
    """Run CleanRL's script with ``argv`` as its command line, the old gym API supplied where gym is missing."""
    from fastrl.cli import keep_freed_memory

    keep_freed_memory()
    try:
        import gym  # noqa: F401  (a real gym 0.2x, if installed, is used as is)
    except ImportError:
        supply_old_gym_api()
    sys.argv = [str(SCRIPT), *argv]
    runpy.run_path(str(SCRIPT), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
