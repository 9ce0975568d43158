"""The device rollout (fastrl.device_rollout): the ordinary collector's transitions, no host reads in the loop,
and on CUDA the same transitions from a CUDA graph (the gpu tests run where a GPU is)."""

from __future__ import annotations

import dataclasses
import traceback

import pytest
import torch
from torch.overrides import TorchFunctionMode

from fastrl.algos.ppo.learner import PPO
from fastrl.algos.ppo.loop import env_options
from fastrl.config import preset
from fastrl.device_rollout import DeviceCollector
from fastrl.envs import make_env
from fastrl.log import METRICS, read_jsonl
from fastrl.rollout import Collector, Rollout
from fastrl.run.episodes import EpisodeStats
from fastrl.run.stopwatch import Stopwatch, untimed
from fastrl.runner import train

STAGES = ("env", "act", "store", "rollout")
FIELDS = ("obs", "actions", "logprobs", "values", "rewards", "terminated", "truncated", "valid", "next_obs",
          "pending")
INFO = ("episode_end", "episode_return", "episode_length")


class Loop:
    """A PPO learner on MinAtar Breakout as the PPO loop drives it: collect a rollout, learn from it; the
    ``info`` of every step kept (cloned) as ``after_step`` sees it."""

    def __init__(self, device: str, device_rollout: bool, graphs: bool = False, num_envs: int = 16,
                 num_steps: int = 8):
        config = preset("ppo-minatar").ppo
        # one update thread: two learners compared bit for bit must not adapt their thread counts apart
        self.config = dataclasses.replace(config, num_steps=num_steps, epochs=2, minibatches=2, update_threads=1)
        self.envs = make_env("MinAtar/Breakout-v1", num_envs, backend="native", device=device, seed=3,
                             check_actions=not device_rollout)
        space = self.envs.single_observation_space
        torch.manual_seed(0)  # the network's initial weights
        self.learner = PPO(self.config, space, self.envs.single_action_space, device, seed=5)
        self.rollout = Rollout(num_steps, num_envs, tuple(space.shape), torch.bool, (), torch.int64,
                               torch.device(device))
        self.infos: list[dict] = []
        clock = Stopwatch(STAGES)
        if device_rollout:
            self.collector = DeviceCollector(self.envs, self.rollout, self._keep, clock, graphs=graphs)
        else:
            self.collector = Collector(self.envs, self.rollout, self._keep, clock)
        self.collector.begin(self.envs.reset(seed=7))

    def _keep(self, info: dict) -> None:
        self.infos.append({k: info[k].clone() for k in INFO})

    def iterate(self) -> dict[str, torch.Tensor]:
        """One rollout and its update; the rollout's tensors (cloned)."""
        self.learner.begin_rollout(self.config.num_steps, self.envs.num_envs)
        with self.learner.acting():
            self.collector.collect(self.learner.act)
        out = {name: getattr(self.rollout, name).clone() for name in FIELDS}
        self.learner.learn(self.rollout, self.rollout.rewards, updates_total=10)
        return out


def assert_same_runs(a: Loop, b: Loop, rollouts: int) -> None:
    for k in range(rollouts):
        x, y = a.iterate(), b.iterate()
        for name in FIELDS:
            assert torch.equal(x[name], y[name]), f"rollout {k}: {name} differs"
    assert len(a.infos) == len(b.infos) == rollouts * a.config.num_steps
    for t, (x, y) in enumerate(zip(a.infos, b.infos, strict=True)):
        for name in INFO:
            assert torch.equal(x[name], y[name]), f"step {t}: {name} differs"
    assert any(bool(info["episode_end"].any()) for info in a.infos)  # episodes ended and restarted in there
    for p, q in zip(a.learner.net.parameters(), b.learner.net.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.slow
def test_device_rollout_collects_the_ordinary_collectors_transitions():
    """Same envs, same learner, same seeds: the device rollout (no action check, info kept in [T, N] rows and
    handed to the run after the rollout) gives the sync collector's rollouts, step statistics and updates."""
    assert_same_runs(Loop("cpu", device_rollout=False), Loop("cpu", device_rollout=True), rollouts=4)


# ---------------------------------------------------------------------------------------------------------
# No host reads inside the loop
# ---------------------------------------------------------------------------------------------------------

#: functions that bring a tensor's value to the host (a device sync on CUDA), and those whose output size
#: depends on the values
HOST_READS = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "__format__",
              "nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "repeat_interleave"}


class HostReads(TorchFunctionMode):
    """Notes every call that reads a tensor's value on the host, or indexes by a boolean mask.

    Skipped: the optimizer's own reads of its step counters, which torch keeps on the host even where the
    parameters are on CUDA (``capturable=False``), so on a GPU they read nothing from the device."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        masked = name == "__getitem__" and any(isinstance(a, torch.Tensor) and a.dtype == torch.bool
                                               for a in (args[1] if isinstance(args[1], tuple) else (args[1],)))
        if name in HOST_READS or masked:
            caller = traceback.extract_stack(limit=2)[0]  # the function that called this one
            if "torch/optim/" not in caller.filename:
                self.seen.append(f"{name} at {caller.filename}:{caller.lineno}")
        return func(*args, **(kwargs or {}))


def test_the_device_loop_reads_nothing_from_the_device_between_log_rows(monkeypatch):
    """Rollouts, updates and the run's episode rows, as the PPO loop runs them on native envs, call nothing that
    brings a value to the host (on the CPU these reads cost little, but each is a sync on CUDA); the log row
    reads the statistics afterwards. The ordinary collector's action check is such a read, and is seen.

    GAE runs its torch reference here: the CPU's own backend, numba, works on the host's memory by design, and
    on CUDA the GAE op runs a CUDA or Triton kernel (``fastrl.ops.returns``)."""
    monkeypatch.setenv("FASTRL_BACKEND", "gae:reference")
    loop = Loop("cpu", device_rollout=True)
    episodes = EpisodeStats(loop.envs.num_envs, 4 * loop.config.num_steps, torch.device("cpu"))
    loop.collector.after_step = lambda info: episodes.record(info, 0)
    loop.iterate()  # the first rollout and update make their buffers
    with HostReads() as reads:
        for _ in range(2):
            loop.iterate()
    assert reads.seen == []
    assert loop.learner.take_stats()["updates"] > 0 and episodes.drain()[1]

    checked = Loop("cpu", device_rollout=False)
    with HostReads() as reads:
        checked.iterate()
    assert any("__bool__" in seen and "checks.py" in seen for seen in reads.seen)


def test_ppo_asks_native_envs_for_no_action_check_unless_the_options_say():
    config = preset("ppo-minatar")
    assert env_options(config) == {"check_actions": False}
    explicit = dataclasses.replace(config, env=dataclasses.replace(config.env, options=("check_actions=true",)))
    assert env_options(explicit) == {}
    assert "check_actions" not in env_options(preset("ppo-atari"))  # envpool checks in its compiled pass


def test_a_graphed_rollout_is_refused_off_cuda_and_with_the_action_check():
    envs = make_env("MinAtar/Breakout-v1", 4, backend="native", check_actions=False)
    rollout = Rollout(2, 4, (4, 10, 10), torch.bool, (), torch.int64, torch.device("cpu"))
    with pytest.raises(ValueError, match="CUDA graph"):
        DeviceCollector(envs, rollout, lambda info: None, untimed, graphs=True)
    pool = make_env("CartPole-v1", 4, backend="envpool")
    with pytest.raises(ValueError, match="native envs"):
        DeviceCollector(pool, rollout, lambda info: None, untimed)


# ---------------------------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_a_graphed_rollout_on_cuda_collects_the_eager_transitions(monkeypatch):
    """The captured rollout, replayed (with updates between replays), gives the eager device rollout's
    transitions: the env's registered generator advances at every replay, the policy reads its new weights.
    cuDNN's deterministic convolutions keep the two learners' updates bitwise equal."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    assert_same_runs(Loop("cuda", device_rollout=True), Loop("cuda", device_rollout=True, graphs=True), rollouts=6)


@pytest.mark.gpu
def test_the_device_loop_on_cuda_does_not_sync():
    """With CUDA's sync debug mode set to error, graphed rollouts and the updates between them run through."""
    loop = Loop("cuda", device_rollout=True, graphs=True, num_envs=256, num_steps=16)
    for _ in range(2):  # the warm-up, then the capture
        loop.iterate()
    loop.infos.clear()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            loop.iterate()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(loop.infos) == 3 * 16 and loop.collector._graph is not None


@pytest.mark.gpu
def test_ppo_minatar_trains_on_cuda_with_a_graphed_rollout(tmp_path):
    """``fastrl train ppo --preset ppo-minatar --device cuda``, cut short: the rollouts are graph replays (their
    stage ``rollout`` is timed), and the run ends with its evaluation."""
    steps = 64 * 128
    config = dataclasses.replace(preset("ppo-minatar"), device="cuda", total_env_steps=4 * steps,
                                 log_interval=steps, eval_episodes=20, run_dir=tmp_path, tensorboard=False,
                                 progress=False)
    train(config)
    rows = read_jsonl(tmp_path / METRICS)
    assert [r["env_steps"] for r in rows] == [steps, 2 * steps, 3 * steps, 4 * steps]
    assert all("ms_rollout" in r for r in rows[2:]) and "eval_return_mean" in rows[-1]
