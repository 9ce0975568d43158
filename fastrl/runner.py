"""The plumbing of a training run, shared by every learner: ``train(config)`` and ``train(resume=RUN_DIR)``.

``train`` makes the run directory (resolved config, metadata), the envs, the logger; then hands a ``Run`` to
the learner's loop (``Algorithm.train`` of ``fastrl.algos.algorithm(config.algo)``; see ``fastrl.algos.base``
for what an algorithm declares), which calls back into it:

- ``run.make_replay(...)``: the replay buffer for this run's envs (off-policy learners; loaded from the
  checkpoint on resume);
- ``run.start(replay=None)``: the first observation (the envs' reset, or the checkpointed one on resume;
  None for async envs, whose first observations come through ``recv``);
- ``run.stopwatch``: per-stage host timers (the algorithm's ``stages``);
- ``run.after_step(info)``: counts the env steps of one step (or one async batch) and buffers episode
  statistics on the device;
- ``run.tick(learner, state, replay=None)``: at its intervals, writes a metrics row (the loop's only
  host-device sync), evaluates the evaluation policy, writes a checkpoint; returns False once the run should
  stop. An off-policy loop calls it after every env step, an on-policy one after every rollout's update
  (its rows and checkpoints then land on the first rollout boundary at or after each interval).

**Data parallel (torchrun).** Under ``torchrun --nproc-per-node K`` (``WORLD_SIZE`` > 1) ``train`` joins the
process group (NCCL on CUDA, gloo on the CPU) for learners that support it (``Algorithm.distributed``). Every rank
runs its own envs, seeded ``seed + rank * num_envs`` (so K ranks of N envs see the envs one process of K*N
would), and counts env steps over all ranks; only rank 0 writes the run directory, logs, evaluates and
checkpoints. The learner all-reduces its gradients.

A run directory holds ``config.json`` (the resolved ``RunConfig``), ``meta.json`` (git sha, hardware,
library versions), the logger's files (see ``fastrl.log``) and ``checkpoints/`` (see ``fastrl.checkpoint``).

**Resume.** A checkpoint holds the learner, the replay (with ``--save-with-checkpoint``), the envs' state
where the backend can snapshot it (native envs), the current observation, the step counters and the RNG
states. With all of these a resumed run continues bit for bit as if never interrupted (on the CPU; tested).
Without the replay it continues with an empty one; envs that cannot be snapshot (envpool, ale, gymnasium)
start new episodes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fastrl import checkpoint, rundir, signals
from fastrl.config import ConfigError, RunConfig, check_fits_env, from_dict
from fastrl.devices import with_index
from fastrl.hardware import resolve_run
from fastrl.log import CountBar, RunLogger
from fastrl.run.envs import env_state, load_env_state, make_env
from fastrl.run.episodes import EpisodeStats, rows_per_log
from fastrl.run.evaluation import EVAL_SEED_OFFSET, evaluate
from fastrl.run.intervals import next_multiple
from fastrl.run.stopwatch import Stopwatch
from fastrl.rundir import CONFIG


def train(config: RunConfig | None = None, *, resume: str | Path | None = None,
          stop_at: int | None = None, trace=None) -> Path:
    """Train as ``config`` says, or continue the run in ``resume`` (then ``config``, when given, replaces
    the stored one: e.g. a larger ``total_env_steps``). Returns the run directory.

    ``stop_at``: leave the loop once this many env steps are done, writing a checkpoint there but no final
    evaluation (a preemptible job's way to stop; ``train(resume=...)`` continues).
    ``trace``: a ``fastrl.trace.StepTrace`` that every iteration of the loop steps (``fastrl bench train
    --profile``).
    """
    from fastrl.algos import algorithm

    if resume is not None:
        run_dir = Path(resume)
        stored = load_run_config(run_dir)
        if config is None:
            config = stored
        rundir.check_resume(stored, config, run_dir)
    elif config is None:
        raise ValueError("train: give a config, or resume=RUN_DIR")
    else:
        run_dir = Path(config.run_dir or default_run_dir(config))
    writer = int(os.environ.get("RANK", "0")) == 0  # torchrun: rank 0 alone writes the run directory
    created = not run_dir.exists()
    lock = None
    try:
        try:
            lock = rundir.lock(run_dir) if writer else None
            return _train_locked(config, run_dir, resume is not None, stop_at, algorithm(config.algo), writer,
                                 trace)
        except OSError as err:  # a full or failing disk anywhere (the lock, the start's files, TensorBoard's)
            failed = checkpoint.write_failed(err, err.filename or run_dir, run_dir)
            if failed is None:
                raise
            raise failed from None
    except BaseException:
        if created and lock is not None:  # a start refused before it wrote anything leaves no directory behind
            rundir.remove_if_unused(run_dir)
        raise
    finally:
        if lock is not None:
            rundir.unlock(lock)


def _train_locked(config: RunConfig, run_dir: Path, resume: bool, stop_at: int | None, algo, writer: bool,
                  trace) -> Path:
    """``train`` once the run directory is this process's: clean it up, load the checkpoint, run the loop."""
    if writer:
        removed = checkpoint.remove_leftovers(run_dir)
        if removed:
            rundir.note(f"removed what an interrupted checkpoint write left in {checkpoint.checkpoint_dir(run_dir)}: "
                        f"{', '.join(removed)}")
    if resume:
        # Under torchrun every rank reads it onto the CPU (its GPU is not chosen yet); the learner copies it over.
        distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        ckpt = checkpoint.load(run_dir, device="cpu" if distributed else config.resolved_device())
    else:
        if checkpoint.list_checkpoints(run_dir):
            raise FileExistsError(f"{run_dir} already holds a run with checkpoints; continue it with "
                                  f"--resume {run_dir}, or choose another --run-dir")
        if writer:
            rundir.set_aside_stale(run_dir)
        ckpt = None
    if algo.supervise is not None:  # a learner that runs its own processes (A3C's Hogwild workers)
        algo.supervise(config, run_dir, ckpt, stop_at=stop_at)
        return run_dir
    joined = _join_process_group(config, algo)
    try:
        run = Run(config, run_dir, ckpt, stop_at=stop_at)
        run.trace = trace
        try:
            algo.train(run)
        finally:
            run.close()
    finally:
        if joined:
            torch.distributed.destroy_process_group()
    return run_dir


def _join_process_group(config: RunConfig, algo) -> bool:
    """Join torchrun's process group where ``WORLD_SIZE`` > 1 (and not joined yet); True if joined here."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    if not algo.distributed:
        raise ConfigError(f"{config.algo} does not train data-parallel: run it without torchrun "
                          f"(WORLD_SIZE={world})")
    device = torch.device(config.resolved_device())
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def default_run_dir(config: RunConfig) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.env.id}-{config.algo}-seed{config.seed}-{stamp}"


def _stored_config(run_dir: Path) -> RunConfig | None:
    """The config a run directory holds, or None where it cannot be read (then no field is named)."""
    try:
        return load_run_config(run_dir)
    except (ConfigError, OSError, ValueError):
        return None


def load_run_config(run_dir: str | Path, device: str | None = None) -> RunConfig:
    """The ``RunConfig`` stored in a run directory (on ``device`` instead of the stored one, where given)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {run_dir} a run directory written by `fastrl train`?")
    try:
        data = json.loads(path.read_bytes().decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err}): the run's config cannot be read") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object (the run's config), got {type(data).__name__}")
    if device is not None:
        data["device"] = device
    try:
        return from_dict(data)
    except (ConfigError, TypeError, ValueError) as err:  # a flag's name in the message means the file's field
        raise ConfigError(f"{path} holds a config that is not valid (the field named after its flag): {err}") from None


def evaluate_run(run_dir: str | Path, *, episodes: int, epsilon: float | None = None, num_envs: int = 0,
                 checkpoint_path: str | Path | None = None, device: str | None = None,
                 seed: int = 12345) -> dict[str, Any]:
    """Play ``episodes`` episodes with a run's saved policy; mean and std of the full-game return."""
    from fastrl.algos import algorithm

    if episodes < 1:
        raise ValueError(f"--episodes {episodes}: expected at least 1")
    if epsilon is not None and not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"--epsilon {epsilon}: expected a probability in [0, 1]")
    config = load_run_config(run_dir, device)
    algo = algorithm(config.algo)
    if algo.evaluate_run is not None:  # a learner that evaluates its own way (A3C: shared-memory policies)
        return algo.evaluate_run(run_dir, episodes=episodes, epsilon=epsilon, num_envs=num_envs,
                                   checkpoint_path=checkpoint_path, device=device, seed=seed)
    ckpt = checkpoint.load(checkpoint_path or run_dir, device=config.resolved_device())
    envs = make_env(config, num_envs or min(episodes, config.env.num_envs), seed)
    try:
        check_fits_env(config, envs.single_observation_space, envs.single_action_space)
        learner = algo.learner_for(config, envs.single_observation_space, envs.single_action_space,
                                     config.resolved_device())
        rundir.check_learner_fits(None, config, ckpt.state["loop"]["learner"], learner.state_dict(), ckpt.path)
        learner.load_state_dict(ckpt.state["loop"]["learner"])
        act, policy = algo.evaluation_policy(learner, config, epsilon)
        with CountBar("episodes", episodes) as bar:
            returns = torch.tensor(evaluate(envs, act, episodes, seed=seed, device=learner.device,
                                            on_episode=lambda r: bar.advance(text=f"last return {r:.4g}")),
                                   dtype=torch.float64)
    finally:
        envs.close()
    return {"env": config.env.id, "run_dir": str(run_dir), "checkpoint": ckpt.path.name, "env_steps": ckpt.step,
            "episodes": len(returns), "policy": policy, "return_mean": float(returns.mean()),
            "return_std": float(returns.std(unbiased=False)), "returns": returns.tolist()}


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; its checkpoint is written (the message says where, and how to resume)."""


class Run:
    """One run's envs, counters, timers, episode statistics, logging, evaluation and checkpoints."""

    def __init__(self, config: RunConfig, run_dir: Path, ckpt: checkpoint.Checkpoint | None,
                 stop_at: int | None = None):
        from fastrl.algos import algorithm

        algo = algorithm(config.algo)
        self.config = config
        self.run_dir = run_dir
        self.rank, self.world_size = _rank_and_world()
        self.is_main = self.rank == 0  # the one rank that writes the run directory
        self.device = torch.device(config.resolved_device())
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = with_index(self.device)
        self.checkpoint = ckpt
        self.stop_at = stop_at
        self.env_steps = ckpt.step if ckpt else 0
        #: seed of this rank's envs (env i gets env_seed + i); ranks hold consecutive blocks of envs
        self.env_seed = config.seed + self.rank * config.env.num_envs
        env_options = algo.env_options(config)
        self.envs = make_env(config, config.env.num_envs, self.env_seed, **env_options)
        try:
            check_fits_env(config, self.envs.single_observation_space, self.envs.single_action_space)
        except BaseException:
            self.envs.close()
            raise
        self.observation_shape = tuple(self.envs.single_observation_space.shape)
        #: the learner's hardware options (``auto``) resolved for this machine: written into config.json, and
        #: with their reasons into meta.json
        self.config, self.hardware_choices = resolve_run(config, self.envs.single_observation_space,
                                                         self.envs.single_action_space)
        config = self.config
        self.action_space = self.envs.single_action_space
        self.actions = int(self.action_space.n) if hasattr(self.action_space, "n") else None  # discrete only
        self._eval_envs = None

        if ckpt is not None:  # before anything is written: the learner this config builds must fit the checkpoint
            try:
                fresh = algo.learner_for(config, self.envs.single_observation_space, self.action_space, "cpu")
                rundir.check_learner_fits(_stored_config(run_dir), config, ckpt.state["loop"]["learner"],
                                          fresh.state_dict(), ckpt.path)
            except BaseException:
                self.envs.close()
                raise
        if ckpt is None:
            torch.manual_seed(config.seed)  # network initialization (the same on every rank)
        else:
            checkpoint.set_rng_state(ckpt.state["rng"])
        self.logger = None
        if self.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            self.logger = RunLogger(run_dir, config.total_env_steps, tensorboard=config.tensorboard,
                                    progress=config.progress, resume_step=ckpt.step if ckpt else None)
        self.stopwatch = Stopwatch(algo.stages)
        self.episodes = EpisodeStats(self.envs.batch_size, rows_per_log(config, self.envs.batch_size), self.device)
        self._algo = algo
        self.envs_restored = False  # set by start(): the envs continue the checkpoint's episodes
        self._next_log = next_multiple(self.env_steps, config.log_interval)
        self._next_eval = next_multiple(self.env_steps, config.eval_interval) if config.eval_interval else None
        self._next_checkpoint = (next_multiple(self.env_steps, config.checkpoint_every())
                                 if config.checkpoint_every() else None)
        self._last_log = (time.perf_counter(), self.env_steps)
        self._finished = False
        self.trace = None  # a fastrl.trace.StepTrace, stepped by tick()
        self._threads_before = torch.get_num_threads()  # restored by close(): the setting is process-wide
        self._stop_signal: str | None = None  # SIGINT / SIGTERM received: tick() checkpoints and stops
        self._handlers = self._catch_stop_signals()
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)

    # -----------------------------------------------------------------------------------------------------
    # What the learner's loop calls
    # -----------------------------------------------------------------------------------------------------

    def make_replay(self, gamma: float, updates_total: int):
        """The replay buffer for these envs (loaded from the checkpoint where it holds one)."""
        from fastrl.replay import ReplayBuffer

        replay_config = replay_config_for(self.config, self.envs, gamma, updates_total)
        if self.checkpoint is None or not (self.checkpoint.path / "replay").exists():
            return ReplayBuffer(replay_config, self.device)
        replay = ReplayBuffer.load(self.checkpoint.path / "replay", self.device)
        expected = self.checkpoint.state.get("replay_steps", replay.steps)
        if replay.steps != expected:
            raise checkpoint.CheckpointError(
                f"{self.checkpoint.path / 'replay' / 'manifest.json'} is corrupt: its meta.steps {replay.steps} "
                f"differs from the {expected} add() calls the checkpoint's state.json counts: an edited replay")
        saved = replay.config
        if dataclasses.replace(saved, beta_steps=replay_config.beta_steps) != replay_config:
            differ = [f"{k} (saved {v!r}, now {getattr(replay_config, k)!r})" for k, v in saved.to_json().items()
                      if k != "beta_steps" and v != getattr(replay_config, k)]
            raise checkpoint.CheckpointError(f"{self.checkpoint.path / 'replay'}: the saved replay does not fit "
                                             f"this run's config: {', '.join(differ)}")
        if saved.beta_steps != replay_config.beta_steps:
            # A longer (or shorter) run stretches the importance-sampling schedule to its new length.
            replay.config = replay_config
            replay.sampler.beta_steps = replay_config.beta_steps
        return replay

    def start(self, replay=None) -> torch.Tensor | None:
        """The observation to act on first: the envs' reset (fresh run, or envs that cannot be snapshot), or
        the checkpointed one (``state()["obs"]``) with the envs' state restored; None from the reset of async
        envs. ``replay``: an off-policy learner's, which gets the reset observation (and without saved
        transitions, a resume starts new episodes rather than continue ones it has no start of)."""
        # The config is (re)written only now that the learner and the replay accepted it, so that a resume
        # refused for a config that does not fit leaves the run directory as it was.
        if self.is_main:
            rundir.write_config(self.run_dir, self.config, fresh=self.checkpoint is None,
                                hardware_choices=self.hardware_choices)
        state = self.checkpoint.state if self.checkpoint else None
        restorable = state is not None and state.get("envs") is not None and self.is_main
        self.envs_restored = restorable and (replay is None or replay.steps > 0)
        if self.envs_restored:
            load_env_state(self.envs, state["envs"])
            return state["loop"]["obs"].to(self.device)
        seed = self.env_seed if state is None else self.env_seed + self.env_steps
        obs = self.envs.reset(seed=seed)
        if replay is not None:
            replay.add(obs)
        return obs

    def after_step(self, info: dict[str, Any]) -> None:
        """Count one step of the envs that stepped (all, or an async batch; on every rank) and keep their
        finished episodes' statistics (on the device)."""
        self.env_steps += info["episode_end"].shape[0] * self.world_size
        if self.is_main:
            self.episodes.record(info, self.env_steps)

    def tick(self, learner, state: Callable[[], dict[str, Any]], replay=None) -> bool:
        """Log, evaluate and checkpoint where due; False once the run is over: its steps are spent, an
        evaluation reached ``stop_return``, or it reached ``stop_at``. Every rank calls it at the same env
        steps; only rank 0 logs, evaluates and checkpoints, and tells the others when an evaluation stops.

        ``state()`` gives what the loop itself must save (learner, current observation, its generators).
        """
        if self.trace is not None:
            self.trace.step()
        if self.logger is not None:
            self.logger.heartbeat(self.env_steps)
        done = self.env_steps >= self.config.total_env_steps
        stopping = self.stop_at is not None and self.env_steps >= self.stop_at
        eval_due = self._due("_next_eval", self.config.eval_interval) or done
        interrupted = self._stop_signal is not None and not done
        checkpoint_due = (self._due("_next_checkpoint", self.config.checkpoint_every()) or done or stopping
                          or interrupted)
        log_due = self._due("_next_log", self.config.log_interval) or eval_due or checkpoint_due
        reached = False
        if log_due and self.is_main:
            values = self._interval_metrics(learner)
            if eval_due:
                values.update(self.evaluate(learner))
                reached = (self.config.stop_return is not None
                           and values["eval_return_mean"] >= self.config.stop_return)
            self.logger.metrics(self.env_steps, values)
            self._check_finite(values)
        if eval_due and self.config.stop_return is not None and self.world_size > 1:
            reached = _rank0_says(reached, self.device)
        if reached:
            done = checkpoint_due = True
        if checkpoint_due and self.is_main:
            path = self.save_checkpoint(learner, state(), replay)
            if interrupted:
                raise RunInterrupted(f"received {self._stop_signal}: stopped at env step {self.env_steps:,}, "
                                     f"checkpoint written to {path}; continue with fastrl train --resume "
                                     f"{self.run_dir}")
        self._finished = done
        return not (done or stopping)

    # -----------------------------------------------------------------------------------------------------
    # Evaluation
    # -----------------------------------------------------------------------------------------------------

    def evaluate(self, learner) -> dict[str, float]:
        """Mean and std of the full-game return of the evaluation policy over ``eval_episodes`` episodes."""
        if self._eval_envs is None:
            count = min(self.config.eval_episodes, max(self.config.env.num_envs, 1))
            self._eval_envs = make_env(self.config, count, self.config.seed + EVAL_SEED_OFFSET)
        act, _ = self._algo.evaluation_policy(learner, self.config)
        returns = evaluate(self._eval_envs, act, self.config.eval_episodes,
                           seed=self.config.seed + EVAL_SEED_OFFSET + self.env_steps, device=learner.device)
        t = torch.tensor(returns, dtype=torch.float64)
        return {"eval_return_mean": float(t.mean()), "eval_return_std": float(t.std(unbiased=False)),
                "eval_episodes": len(returns)}

    # -----------------------------------------------------------------------------------------------------
    # Checkpoints
    # -----------------------------------------------------------------------------------------------------

    def save_checkpoint(self, learner, loop_state: dict[str, Any], replay=None) -> Path:
        bad = _first_non_finite(loop_state.get("learner"), "learner")
        if bad is not None:  # never save a diverged learner over the good checkpoints
            raise checkpoint.TrainingDiverged(
                f"training diverged: {bad} is not finite at env step {self.env_steps:,}; not checkpointed: "
                f"{checkpoint.last_good(self.run_dir)}; lower --lr, or bound the updates with --max-grad-norm")
        state = {"loop": loop_state, "envs": env_state(self.envs), "rng": checkpoint.rng_state(),
                 "env_steps": self.env_steps}
        extra = {"replay": replay.save} if replay is not None and self.config.replay.save_with_checkpoint else None
        if extra:
            state["replay_steps"] = replay.steps  # cross-checked against the replay's own manifest on resume
        try:
            return checkpoint.save(self.run_dir, self.env_steps, state, extra=extra,
                                   keep=self.config.keep_checkpoints)
        except OSError as err:
            failed = checkpoint.write_failed(err, checkpoint.checkpoint_dir(self.run_dir), self.run_dir)
            if failed is None:
                raise
            raise failed from None

    def close(self) -> None:
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        torch.set_num_threads(self._threads_before)
        if self.logger is not None:
            self.logger.close(plot=self._finished)
        self.envs.close()
        if self._eval_envs is not None:
            self._eval_envs.close()

    # -----------------------------------------------------------------------------------------------------
    # Internals
    # -----------------------------------------------------------------------------------------------------

    def _check_finite(self, values: dict[str, Any]) -> None:
        """Stop at the first log row whose losses (or Q values) are NaN or infinite: the learner diverged."""
        for name, value in values.items():
            watched = "loss" in name or name in ("q_mean", "abs_td_mean", "grad_norm")
            if watched and isinstance(value, float) and not math.isfinite(value):
                raise checkpoint.TrainingDiverged(
                    f"training diverged: {name} is {value} in the interval ending at env step {self.env_steps:,}; "
                    f"{checkpoint.last_good(self.run_dir)}; lower --lr, or bound the updates with "
                    f"--max-grad-norm")

    def _catch_stop_signals(self) -> dict:
        """SIGINT and SIGTERM only note that the run should stop: the loop finishes its step, and the next
        tick() writes a checkpoint and raises ``RunInterrupted``; signals during that write change nothing.
        (In the main thread of a single process; under torchrun the ranks keep the default handling.)"""
        if self.world_size > 1 or threading.current_thread() is not threading.main_thread():
            return {}

        def stop(signum, frame):
            if self._stop_signal is None:
                self._stop_signal = signal.Signals(signum).name

        if signals.received:  # noted since `fastrl train` started (fastrl.signals)
            self._stop_signal = signals.received[0]
        return {s: signal.signal(s, stop) for s in signals.STOP_SIGNALS}

    def _due(self, attr: str, interval: int) -> bool:
        """Whether the interval kept in ``attr`` has been reached (and if so, move it on)."""
        mark = getattr(self, attr)
        if mark is None or self.env_steps < mark:
            return False
        setattr(self, attr, next_multiple(self.env_steps, interval))
        return True

    def _interval_metrics(self, learner) -> dict[str, float]:
        now = time.perf_counter()
        last_time, last_steps = self._last_log
        self._last_log = (now, self.env_steps)
        values: dict[str, float] = {"sps": (self.env_steps - last_steps) / max(now - last_time, 1e-9)}
        values.update(learner.take_stats())
        steps, returns, lengths = self.episodes.drain()
        self.logger.episodes(steps, returns, lengths)
        if returns:
            values["episode_return_mean"] = sum(returns) / len(returns)
            values["episode_length_mean"] = sum(lengths) / len(lengths)
            values["episodes"] = len(returns)
        if self.logger.recent_returns:
            values["recent_return_mean"] = self.logger.recent_mean_return
        values.update(self.stopwatch.take())
        return values


def replay_config_for(config: RunConfig, envs, gamma: float, updates_total: int):
    """The replay buffer's own config (``fastrl.replay.BufferConfig``) for ``config`` on these envs.

    ``updates_total``: the batches the run will draw, over which prioritized replay anneals beta.
    """
    from fastrl.envs.base import torch_dtype
    from fastrl.replay import BufferConfig

    space = envs.single_observation_space
    dtype = torch_dtype(space)
    shape = tuple(space.shape)
    # Stacked Atari frames ([stack, 84, 84] uint8): store each frame once, rebuild stacks at sampling.
    frames = dtype == torch.uint8 and len(shape) == 3 and shape[1:] == (84, 84)
    # Discrete actions are stored as int64 indices; continuous (Box) ones as float32 vectors.
    continuous = not hasattr(envs.single_action_space, "n")
    action_shape = tuple(envs.single_action_space.shape) if continuous else ()
    r = config.replay
    return BufferConfig(
        capacity=r.capacity, num_envs=envs.num_envs, obs_shape=shape, obs_dtype=str(dtype).removeprefix("torch."),
        action_shape=action_shape, action_dtype="float32" if continuous else "int64",
        frame_stack=shape[0] if frames else 0, n_step=r.n_step, gamma=gamma, prioritized=r.prioritized,
        alpha=r.alpha, beta_start=r.beta_start, beta_end=r.beta_end, beta_steps=max(updates_total, 1),
        priority_eps=r.priority_eps, checks=torch.device(config.resolved_device()).type == "cpu")


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of ranks (0, 1 outside torchrun's process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _rank0_says(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank (a broadcast; NCCL needs the tensor on the GPU, gloo on the CPU)."""
    import torch.distributed as dist

    where = device if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([int(flag)], device=where)
    dist.broadcast(t, src=0)
    return bool(t.item())


def _first_non_finite(node: Any, path: str) -> str | None:
    """The path of the first floating tensor in a state tree holding a NaN or an infinity (None: all finite)."""
    if isinstance(node, torch.Tensor):
        return path if node.is_floating_point() and not bool(torch.isfinite(node).all()) else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        found = _first_non_finite(value, f"{path}/{key}")
        if found is not None:
            return found
    return None
