"""``fastrl bench replay``: add and sample throughput of ``fastrl.replay`` beside its peers, in one run.

Cases: Atari observations ([4, 84, 84] uint8; fastrl stores each frame once) at 100k and 1M transitions,
and 17-float observations (MuJoCo-like, 6-float actions) at 1M. For each case and provider:

- ``add``: one ``add`` of ``num_envs`` envs' step (16 by default), as transitions per second;
- ``uniform_sample``: one uniformly drawn batch of ``batch`` transitions (s, a, r, discount, s'), in µs;
- ``prioritized_round``: one prioritized batch with importance weights plus the update of its ``batch``
  priorities, in µs.

Peers, where installed: Stable-Baselines3's ``ReplayBuffer`` (uniform), cpprb's ``ReplayBuffer`` and
``PrioritizedReplayBuffer`` (next_obs stored apart: its ``next_of`` sharing assumes one env stream, not 16
interleaved), torchrl's ``TensorDictPrioritizedReplayBuffer`` and its ``ReplayBuffer`` with a
``PrioritizedSampler``, over a ``LazyTensorStorage`` (its C++ sum tree must load: a torchrl wheel built
against another torch does not: ``rebuild_torchrl_extension`` rebuilds it from the C++ sources the wheel
ships). Every peer row carries ``fastrl_ratio``: how many times faster fastrl is (peer time / fastrl time,
or fastrl rate / peer rate).

What each returns per batch: fastrl a ``Batch`` of torch tensors (obs, action, n-step reward, discount,
next_obs, importance weights, indices); SB3 its ``ReplayBufferSamples`` of torch tensors (obs, action,
next_obs, done, reward; float32); cpprb a dict of numpy arrays wrapped as tensors here; torchrl a
``TensorDict`` (obs, action, next_obs, reward, done, index, priority weight). Every provider's batch is
held until its next call returns (see ``holding``).

Peers store whole stacked observations (56 KB per Atari transition), so Atari cases fill only
``atari_fill`` transitions, and the 1M Atari case runs without them (they would need 56 GB).

Threads: every provider runs with the process's torch intra-op threads (the machine's cores unless
``OMP_NUM_THREADS`` or ``torch.set_num_threads`` says otherwise; the records' ``torch_threads``): fastrl's CPU
engine copies Atari frames on them, and the peers' torch ops (SB3's and torchrl's copies) use them too.

fastrl and each peer are timed in alternating windows (fastrl, peer, fastrl, ...) so that the drift of a
shared VM hits both alike; each figure is the median over all windows' calls, with p20 / p80.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from fastrl import records
from fastrl.benchmarks import timing

SUITE = "replay"


@dataclass
class ReplayBenchConfig:
    """Replay add and sample throughput (fastrl beside SB3, cpprb and torchrl where installed)."""

    cases: tuple[str, ...] = ("atari-100k", "atari-1m", "vec17-1m")
    """atari-<capacity> ([4, 84, 84] uint8 frames) or vec17-<capacity> (17 floats); capacity like 100k, 1m"""
    num_envs: int = 16
    """envs per add call"""
    batch: int = 256
    """transitions per sampled batch (and priorities per update)"""
    n_step: int = 3
    """fastrl's n-step return (its writer's cost is part of add)"""
    atari_fill: int = 20_000
    """transitions written before sampling in Atari cases (vector cases are filled to capacity)"""
    repeats: int = 200
    """timed calls per window (add calls are 4x as many)"""
    windows: int = 3
    """alternating windows per provider"""
    peers: tuple[str, ...] = ("sb3", "cpprb", "torchrl")
    """peer libraries to measure where installed"""
    device: str = "cpu"
    """device of fastrl's buffer (and of the peers that support it)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/replay.json only with --save)"""
    save: bool = False
    """write the records to profiles/<hardware>/replay.json when --json is not given"""


@dataclass(frozen=True)
class Case:
    name: str
    atari: bool
    capacity: int

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return (4, 84, 84) if self.atari else (17,)

    @property
    def action_shape(self) -> tuple[int, ...]:
        return () if self.atari else (6,)


def parse_case(name: str) -> Case:
    kind, _, size = name.partition("-")
    scale = {"k": 1_000, "m": 1_000_000}
    try:
        capacity = int(float(size[:-1]) * scale[size[-1].lower()]) if size[-1:].lower() in scale else int(size)
    except (ValueError, IndexError):
        raise ValueError(f"case {name!r}: expected atari-<capacity> or vec17-<capacity>, e.g. atari-100k") from None
    if kind not in ("atari", "vec17"):
        raise ValueError(f"case {name!r}: unknown kind {kind!r}; expected atari or vec17")
    return Case(name, kind == "atari", capacity)


# ----------------------------------------------------------------------------------------------------------
# Step data: a pool of pre-drawn env steps, so that no provider pays for drawing them inside a timed call
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Steps:
    obs: list[np.ndarray]
    action: list[np.ndarray]
    reward: np.ndarray
    done: list[np.ndarray]

    @staticmethod
    def draw(case: Case, num_envs: int, pool: int = 8, seed: int = 0) -> Steps:
        rng = np.random.default_rng(seed)
        if case.atari:
            obs = [rng.integers(0, 256, (num_envs, *case.obs_shape), dtype=np.uint8) for _ in range(pool)]
            action = [rng.integers(0, 6, num_envs) for _ in range(pool)]
        else:
            obs = [rng.standard_normal((num_envs, *case.obs_shape), dtype=np.float32) for _ in range(pool)]
            action = [rng.uniform(-1, 1, (num_envs, 6)).astype(np.float32) for _ in range(pool)]
        done = [rng.random(num_envs) < 0.001 for _ in range(pool)]
        return Steps(obs, action, rng.standard_normal(num_envs).astype(np.float32), done)


def fill_count(case: Case, config: ReplayBenchConfig) -> int:
    """Add calls made before sampling."""
    transitions = min(case.capacity, config.atari_fill) if case.atari else case.capacity
    return max(transitions // config.num_envs, 64)


# ----------------------------------------------------------------------------------------------------------
# Providers: each returns (add, sample, prioritized_round) callables, any of them None where not offered
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Provider:
    name: str
    add: Callable[[int], None] | None
    sample: Callable[[], object] | None
    prioritized_round: Callable[[], object] | None
    nbytes: int | None = None
    note: str = ""


def fastrl_provider(case: Case, config: ReplayBenchConfig, steps: Steps, prioritized: bool) -> Provider:
    from fastrl.replay import BufferConfig, ReplayBuffer

    device = torch.device(config.device)
    replay_config = BufferConfig(
        capacity=case.capacity, num_envs=config.num_envs, obs_shape=case.obs_shape,
        obs_dtype="uint8" if case.atari else "float32", frame_stack=4 if case.atari else 0,
        action_shape=case.action_shape, action_dtype="int64" if case.atari else "float32",
        n_step=config.n_step, prioritized=prioritized, checks=device.type == "cpu")
    buffer = ReplayBuffer(replay_config, device=device)
    obs = [torch.from_numpy(o).to(device) for o in steps.obs]
    action = [torch.from_numpy(a).to(device) for a in steps.action]
    reward = torch.from_numpy(steps.reward).to(device)
    done = [torch.from_numpy(d).to(device) for d in steps.done]
    no = torch.zeros(config.num_envs, dtype=torch.bool, device=device)
    buffer.add(obs[0])

    def add(i: int) -> None:
        k = i % len(obs)
        buffer.add(obs[k], action[k], reward, done[k], no)

    for i in range(fill_count(case, config)):
        add(i)
    generator = torch.Generator(device=device).manual_seed(0)
    td = torch.rand(config.batch, generator=generator, device=device)

    def sample():
        return buffer.sample(config.batch, generator)

    def prioritized_round():
        batch = buffer.sample(config.batch, generator)
        buffer.update_priorities(batch.indices, td)
        return batch

    return Provider("fastrl" + ("/prioritized" if prioritized else ""), add, None if prioritized else sample,
                    prioritized_round if prioritized else None, buffer.nbytes,
                    note=f"engine {buffer.engine.name}" + (f", sumtree {buffer.sampler.tree.backend}"
                                                            if prioritized else ""))


def sb3_provider(case: Case, config: ReplayBenchConfig, steps: Steps) -> Provider:
    import gymnasium as gym
    from stable_baselines3.common.buffers import ReplayBuffer

    if case.atari:
        obs_space = gym.spaces.Box(0, 255, case.obs_shape, np.uint8)
        act_space = gym.spaces.Discrete(6)
    else:
        obs_space = gym.spaces.Box(-np.inf, np.inf, case.obs_shape, np.float32)
        act_space = gym.spaces.Box(-1, 1, case.action_shape, np.float32)
    with warnings.catch_warnings():  # SB3 warns when the buffer exceeds free memory (pages are touched lazily)
        warnings.simplefilter("ignore")
        buffer = ReplayBuffer(case.capacity // config.num_envs, obs_space, act_space, device=config.device,
                              n_envs=config.num_envs)
    infos = [{} for _ in range(config.num_envs)]
    actions = [a.reshape(config.num_envs, -1) for a in steps.action]

    def add(i: int) -> None:
        k = i % len(steps.obs)
        buffer.add(steps.obs[k], steps.obs[(k + 1) % len(steps.obs)], actions[k], steps.reward, steps.done[k], infos)

    for i in range(fill_count(case, config)):
        add(i)
    return Provider("sb3", add, lambda: buffer.sample(config.batch), None)


def cpprb_providers(case: Case, config: ReplayBenchConfig, steps: Steps) -> list[Provider]:
    return [cpprb_provider(case, config, steps, prioritized) for prioritized in (False, True)]


def cpprb_provider(case: Case, config: ReplayBenchConfig, steps: Steps, prioritized: bool) -> Provider:
    import cpprb

    obs = {"shape": case.obs_shape, "dtype": np.uint8 if case.atari else np.float32}
    env = {"obs": obs, "next_obs": obs, "rew": {}, "done": {},
           "act": {"shape": case.action_shape or 1, "dtype": np.int64 if case.atari else np.float32}}
    # next_obs stored apart: cpprb's next_of sharing assumes one env stream, these adds hold 16
    buffer = (cpprb.PrioritizedReplayBuffer if prioritized else cpprb.ReplayBuffer)(case.capacity, env)

    def add(i: int) -> None:
        k = i % len(steps.obs)
        buffer.add(obs=steps.obs[k], act=steps.action[k], rew=steps.reward, done=steps.done[k],
                   next_obs=steps.obs[(k + 1) % len(steps.obs)])

    for i in range(fill_count(case, config)):
        add(i)
    td = np.random.default_rng(0).random(config.batch)

    def sample():
        return {k: torch.from_numpy(v) for k, v in buffer.sample(config.batch).items()}

    def prioritized_round():
        batch = buffer.sample(config.batch, beta=0.4)
        tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
        buffer.update_priorities(batch["indexes"], td)
        return tensors

    if prioritized:
        return Provider("cpprb/prioritized", None, None, prioritized_round)
    return Provider("cpprb", add, sample, None)


def torchrl_providers(case: Case, config: ReplayBenchConfig, steps: Steps) -> list[Provider]:
    """torchrl's two prioritized set-ups: ``TensorDictPrioritizedReplayBuffer`` (its TensorDict front door)
    and a plain ``ReplayBuffer`` with a ``PrioritizedSampler`` (a little less Python per call), both over
    a ``LazyTensorStorage`` and its C++ sum tree; fastrl's ratio is best read against the faster."""
    from tensordict import TensorDict
    from torchrl.data import (
        LazyTensorStorage,
        PrioritizedSampler,
        ReplayBuffer,
        TensorDictPrioritizedReplayBuffer,
    )

    n = config.num_envs
    rows = [TensorDict({"obs": torch.from_numpy(steps.obs[k]), "next_obs": torch.from_numpy(steps.obs[(k + 1) % 8]),
                        "action": torch.from_numpy(steps.action[k]), "reward": torch.from_numpy(steps.reward),
                        "done": torch.from_numpy(steps.done[k])}, batch_size=[n]) for k in range(len(steps.obs))]
    td = torch.rand(config.batch)
    dict_buffer = TensorDictPrioritizedReplayBuffer(alpha=0.6, beta=0.4, batch_size=config.batch,
                                                    storage=LazyTensorStorage(case.capacity, device=config.device))
    sampler_buffer = ReplayBuffer(storage=LazyTensorStorage(case.capacity, device=config.device),
                                  sampler=PrioritizedSampler(case.capacity, alpha=0.6, beta=0.4),
                                  batch_size=config.batch)

    def adder(buffer):
        def add(i: int) -> None:
            buffer.extend(rows[i % len(rows)])

        for i in range(fill_count(case, config)):
            add(i)
        return add

    def dict_round():
        batch = dict_buffer.sample()  # with its "priority_weight" (importance weights) and "index"
        dict_buffer.update_priority(batch["index"], td)
        return batch

    def sampler_round():
        batch, info = sampler_buffer.sample(return_info=True)  # info: "priority_weight", "index"
        sampler_buffer.update_priority(info["index"], td)
        return batch, info

    return [Provider("torchrl/prioritized", adder(dict_buffer), None, dict_round,
                     note="TensorDictPrioritizedReplayBuffer"),
            Provider("torchrl/sampler", adder(sampler_buffer), None, sampler_round,
                     note="ReplayBuffer + PrioritizedSampler")]


def rebuild_torchrl_extension() -> Path:
    """Rebuild torchrl's C++ extension (its segment trees) against the installed torch, from the C++ sources
    its wheel ships (``torchrl/csrc``), in place of the wheel's build, which loads only against the torch it
    was built for. Compiled as its release builds are (``-O3 -DNDEBUG``: with asserts on, a dtype mismatch
    aborts the process where a release build raises). Takes a minute or two; returns the extension's path.
    """
    import shutil

    import torchrl
    from torch.utils.cpp_extension import load

    package = Path(torchrl.__file__).parent
    (target,) = package.glob("_torchrl.*")
    built = load("_torchrl", [str(package / "csrc" / f) for f in ("pybind.cpp", "utils.cpp")],
                 extra_cflags=["-O3", "-DNDEBUG"], is_python_module=True)
    shutil.copy(built.__file__, target)
    return target


TORCHRL_REBUILD = 'python -c "from fastrl.benchmarks.replay import rebuild_torchrl_extension as r; r()"'


def peer_providers(name: str, case: Case, config: ReplayBenchConfig, steps: Steps) -> tuple[list[Provider], str]:
    """(providers, reason they are missing)."""
    if case.atari and case.capacity > 200_000:
        return [], f"{name} stores stacked observations: {case.capacity * 2 * 4 * 84 * 84 / 1e9:.0f} GB for this case"
    makers = {"sb3": lambda: [sb3_provider(case, config, steps)],
              "cpprb": lambda: cpprb_providers(case, config, steps),
              "torchrl": lambda: torchrl_providers(case, config, steps)}
    if name not in makers:
        return [], f"unknown peer {name!r}; known: {sorted(makers)}"
    try:
        return makers[name](), ""
    except Exception as e:  # not installed, or its compiled parts do not load against this torch
        reason = f"{name} unavailable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if name == "torchrl" and "SegmentTree" in str(e):
            reason += f" (its C++ extension does not load against this torch; rebuild it: {TORCHRL_REBUILD})"
        return [], reason


# ----------------------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------------------

def alternate(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int, windows: int
              ) -> dict[str, timing.Timing]:
    """Per-call timings of each fn (held: see ``holding``), measured in alternating windows."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    held = {k: holding(fn) for k, fn in fns.items()}
    for _ in range(windows):
        for name, fn in held.items():
            samples[name] += timing.time_calls(fn, device, repeats=repeats, warmup=max(repeats // 10, 2)).samples_us
    return {k: timing.Timing(tuple(v)) for k, v in samples.items()}


def holding(fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` whose result is kept until its next call has returned, as a training loop's
    ``batch = buffer.sample(...)`` keeps the previous batch while drawing the next.

    Dropping each result at once would let a provider that allocates per call get the same, still-cached
    memory back every time, which no training loop sees (and would favour it over one that reuses its own
    output buffers in turn); the release of the previous result is part of the timed call, as in a loop.
    """
    last: list[object] = [None]

    def call() -> None:
        last[0] = fn()

    return call


def _adder(add: Callable[[int], None]) -> Callable[[], None]:
    counter = iter(range(1 << 62))
    return lambda: add(next(counter))


def run(config: ReplayBenchConfig) -> tuple[list[dict], dict]:
    device = torch.device(config.device)
    rows, skipped = [], {}
    for case in (parse_case(name) for name in config.cases):
        rows += _measure_case(case, config, device, skipped)
        gc.collect()  # the case's buffers (gigabytes for Atari) are gone before the next case allocates
    return rows, skipped


def _measure_case(case: Case, config: ReplayBenchConfig, device: torch.device, skipped: dict) -> list[dict]:
    """The rows of one case; its buffers, fastrl's and the peers', live only as long as this call."""
    rows = []
    steps = Steps.draw(case, config.num_envs)
    uniform = fastrl_provider(case, config, steps, prioritized=False)
    prioritized = fastrl_provider(case, config, steps, prioritized=True)
    peers = []
    for name in config.peers:
        made, reason = peer_providers(name, case, config, steps)
        peers += made
        if reason:
            skipped[f"{case.name}/{name}"] = reason
    rows.append(records.record(SUITE, case.name, "fastrl", "bytes", uniform.nbytes, "B",
                               bytes_per_transition=uniform.nbytes / case.capacity,
                               prioritized_bytes=prioritized.nbytes))
    for metric, attr in (("add", "add"), ("uniform_sample", "sample"), ("prioritized_round", "prioritized_round")):
        ours = uniform if attr != "prioritized_round" else prioritized
        fns = {ours.name: _adder(ours.add) if attr == "add" else getattr(ours, attr)}
        notes = {ours.name: ours.note}
        for peer in peers:
            if getattr(peer, attr) is not None:
                fns[peer.name] = _adder(peer.add) if attr == "add" else getattr(peer, attr)
                notes[peer.name] = peer.note
        repeats = config.repeats * (4 if attr == "add" else 1)
        timings = alternate(fns, device, repeats, config.windows)
        ours_us = timings[ours.name].median_us
        for name, t in timings.items():
            low, high = (t.p80_us, t.p20_us) if metric == "add" else (t.p20_us, t.p80_us)  # rates invert
            extra = {"p20": _value(metric, low, config), "p80": _value(metric, high, config),
                     "device": str(device), "batch": config.batch, "num_envs": config.num_envs,
                     "note": notes[name]}
            if name != ours.name:
                extra["fastrl_ratio"] = t.median_us / ours_us
            value = _value(metric, t.median_us, config)
            unit = "transitions/s" if metric == "add" else "us"
            rows.append(records.record(SUITE, case.name, name, metric if metric != "add" else "add_per_s",
                                       value, unit, **extra))
    return rows


def _value(metric: str, us: float, config: ReplayBenchConfig) -> float:
    """add: transitions per second from the µs of one call; the others: µs per call."""
    return config.num_envs / (us * 1e-6) if metric == "add" else us


def main(argv: list[str] | None = None, prog: str = "fastrl bench replay") -> int:
    config = tyro.cli(ReplayBenchConfig, args=argv, prog=prog)
    rows, skipped = run(config)
    records.print_table(rows, title="fastrl bench replay", extra_columns=("fastrl_ratio",))
    for key, reason in skipped.items():
        print(f"skipped {key}: {reason}")
    path = config.json or (records.default_path(SUITE) if config.save else None)
    if path is not None:
        meta = records.run_meta(config)
        meta["skipped"] = skipped
        meta["allocator_env"] = timing.allocator_env()
        meta["torch_threads"] = torch.get_num_threads()  # fastrl copies Atari frames on them; peers' torch ops too
        records.write_records(path, rows, meta)
        print(f"records written to {path}")
    return 0


