"""The supervisor of a Hogwild run (A3C, async Q-learning, UNREAL): the run's parts (run directory, metrics,
evaluation, checkpoints, resume) around the worker processes of a family's ``Spec``, which own the envs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from fastrl import checkpoint, hogwild, rundir, signals
from fastrl.algos.asynchronous.workers import (
    EVENTS,
    Policy,
    Shared,
    Spec,
    evaluate_policy,
    evaluator,
    make_shared,
)
from fastrl.config import check_fits_env
from fastrl.log import RunLogger
from fastrl.run.evaluation import EVAL_SEED_OFFSET
from fastrl.run.intervals import next_multiple


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run; its workers are stopped and its final checkpoint is written."""


def train_run(spec_for: Callable[..., Spec], config, run_dir: Path, ckpt: checkpoint.Checkpoint | None, *,
              stop_at: int | None = None) -> None:
    """Train as ``config`` says in ``run_dir``, from ``ckpt`` where given, with the workers of the family's
    ``spec_for(config, observation_shape, actions)`` (a family's ``supervise`` is this, bound to it).

    ``fastrl.runner.train`` calls this in place of a ``train(run)`` loop: the workers own the envs, so the
    supervisor does its own run plumbing (the same run directory, metrics, checkpoints and resume).
    ``stop_at``: stop once T reaches this many env steps (with a checkpoint, without the final
    evaluation). Ctrl-C or SIGTERM stops every worker, writes a checkpoint and raises ``RunInterrupted``; a
    worker that dies more than ``max_restarts`` times raises ``hogwild.WorkerFailed`` (after the same clean
    stop and checkpoint). With ``stop_return``, the run ends once an evaluation reaches it, and ends with
    the parameters that evaluation played (the workers kept learning while it played), evaluated once more
    by the supervisor on other seeds: the final metrics row.
    """
    Supervisor(spec_for, config, Path(run_dir), ckpt, stop_at).run()


class Supervisor:
    """The main process of a run: it starts the workers and the evaluator, logs, checkpoints and stops."""

    def __init__(self, spec_for: Callable[..., Spec], config, run_dir: Path, ckpt: checkpoint.Checkpoint | None,
                 stop_at: int | None):
        self.config, self.run_dir, self.ckpt, self.stop_at = config, run_dir, ckpt, stop_at
        probe = spec_for(config, (), 0).make_env(1, config.seed)  # the spaces, checked before anything starts
        try:
            check_fits_env(config, probe.single_observation_space, probe.single_action_space)
            shape, actions = tuple(probe.single_observation_space.shape), int(probe.single_action_space.n)
        finally:
            probe.close()
        self.spec = spec_for(config, shape, actions)
        self.shared = self._shared_state()
        self.stat_names = self.spec.stats

    def _shared_state(self) -> Shared:
        shared = make_shared(self.spec, self.config.seed)
        if self.ckpt is not None:
            _load_shared(shared, self.ckpt.state["loop"], self.ckpt.path)
        return shared

    # ---- the run ----------------------------------------------------------------------------------------

    def run(self) -> None:
        config, board = self.config, self.shared.board
        self.run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(self.run_dir, config, fresh=self.ckpt is None)
        start = board.total_steps()
        logger = RunLogger(self.run_dir, config.total_env_steps, tensorboard=config.tensorboard,
                           progress=config.progress, resume_step=self.ckpt.step if self.ckpt else None)
        threads_before = torch.get_num_threads()
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        pool = hogwild.WorkerPool(self.roles(), board, start_method=config.a3c.start_method,
                                  max_restarts=config.a3c.max_restarts, events=self.run_dir / EVENTS,
                                  preload=self.spec.preload)
        reader = board.reader()
        self._episodes: list[tuple[int, float, int]] = []  # read from the board, not yet logged
        finished, reached, outcome = False, False, None
        self._last = (time.monotonic(), start, board.total_updates(), board.stats.sum(0))
        next_log = next_multiple(start, config.log_interval)
        every = config.checkpoint_every()
        next_checkpoint = next_multiple(start, every) if every else None
        try:
            with signals.noted():
                try:
                    pool.start()
                    while True:
                        if signals.received:  # Ctrl-C or SIGTERM, now or before the run began
                            raise KeyboardInterrupt(f"received {signals.received[0]}")
                        pool.watch(0.1)
                        self._episodes += reader.new_episodes()  # often: the rings hold a few seconds' worth
                        steps = board.total_steps()
                        logger.heartbeat(steps, board.steps.tolist())  # and one bar per worker
                        evaluation = _latest_eval(reader)
                        if evaluation or steps >= next_log:
                            self._log(logger, reader, pool, steps, evaluation)
                            next_log = next_multiple(steps, config.log_interval)
                        reached = "eval_reached_stop_return" in evaluation
                        finished = reached or (steps >= config.total_env_steps
                                               and pool.all_done(self._worker_names()))
                        if finished or (self.stop_at is not None and steps >= self.stop_at):
                            break
                        if next_checkpoint is not None and steps >= next_checkpoint:
                            self._save(pool)
                            next_checkpoint = next_multiple(steps, every)
                except KeyboardInterrupt as interrupt:
                    outcome = interrupt
                except hogwild.WorkerFailed as failure:
                    outcome = failure
                finally:
                    pool.stop()
                    if reached:  # end with the parameters that reached the target (θ moved on since)
                        self.shared.params.copy_(self.shared.evaluated)
                    steps = board.total_steps()
                    played = evaluation["eval_env_steps"] if reached else steps  # the θ of that step
                    self._log(logger, reader, pool, steps, self._final_eval(played) if finished else {})
                    path = self._save(pool)
        finally:
            torch.set_num_threads(threads_before)
            logger.close(plot=finished)
        if isinstance(outcome, KeyboardInterrupt):
            raise RunInterrupted(f"{str(outcome) or 'interrupted'}: workers stopped at env step {steps:,}, "
                                 f"checkpoint written to {path}; continue with fastrl train --resume {self.run_dir}")
        if outcome is not None:
            raise outcome

    def roles(self) -> list[hogwild.Role]:
        target = self.spec.actor_learner()
        roles = [hogwild.Role(name, target, i, (self.spec, self.shared))
                 for i, name in enumerate(self._worker_names())]
        if self.config.eval_interval:
            roles.append(hogwild.Role("evaluator", evaluator, 0, (self.spec, self.shared)))
        return roles

    def _worker_names(self) -> list[str]:
        return [f"worker {i}" for i in range(self.config.a3c.workers)]

    # ---- metrics ----------------------------------------------------------------------------------------

    def _log(self, logger: RunLogger, reader: hogwild.BoardReader, pool: hogwild.WorkerPool, steps: int,
             extra: dict[str, float]) -> None:
        board = self.shared.board
        now, updates, stats = time.monotonic(), board.total_updates(), board.stats.sum(0)
        last_time, last_steps, last_updates, last_stats = self._last
        self._last = (now, steps, updates, stats)
        elapsed = max(now - last_time, 1e-9)
        values: dict[str, float] = {"sps": (steps - last_steps) / elapsed,
                                    "updates_per_s": (updates - last_updates) / elapsed, "updates": updates,
                                    "restarts": pool.restarts}
        delta = (stats - last_stats).tolist()
        if delta[-1] > 0:
            values.update({name: total / delta[-1] for name, total in zip(self.stat_names, delta, strict=False)})
        episodes = self._episodes + reader.new_episodes()
        self._episodes = []
        if episodes:
            logger.episodes(*zip(*episodes, strict=True))
            values["episode_return_mean"] = sum(e[1] for e in episodes) / len(episodes)
            values["episode_length_mean"] = sum(e[2] for e in episodes) / len(episodes)
            values["episodes"] = len(episodes)
        if reader.dropped:
            values["episodes_dropped"] = reader.dropped
        if logger.recent_returns:
            values["recent_return_mean"] = logger.recent_mean_return
        values.update(extra)
        logger.metrics(steps, values)

    def _final_eval(self, steps: int) -> dict[str, float]:
        """The greedy policy of the final θ (the workers are stopped; ``steps``: the global step it is of),
        evaluated here in the supervisor."""
        policy = Policy(self.spec)
        policy.load_state_dict({"params": self.shared.params})
        envs = self.spec.make_env(min(self.config.eval_episodes, 8), self.config.seed + EVAL_SEED_OFFSET)
        try:
            returns = evaluate_policy(policy.net, envs, self.config.eval_episodes,
                                      epsilon=self.config.a3c.eval_epsilon,
                                      seed=self.config.seed + EVAL_SEED_OFFSET + steps)
        finally:
            envs.close()
        t = torch.tensor(returns, dtype=torch.float64)
        return {"eval_return_mean": float(t.mean()), "eval_return_std": float(t.std(unbiased=False)),
                "eval_episodes": len(returns), "eval_env_steps": steps}

    # ---- checkpoints ------------------------------------------------------------------------------------

    def _save(self, pool: hogwild.WorkerPool) -> Path:
        """θ, θ⁻, the optimizer's statistics and the counters. Taken while workers may still write (periodic
        checkpoints): a Hogwild snapshot, each tensor copied at once; the final one is taken after they stop."""
        shared, board = self.shared, self.shared.board
        learner = {"params": shared.params.clone(), "optimizer": {k: v.clone() for k, v in
                                                                  shared.optimizer.state_dict().items()}}
        if shared.target is not None:
            learner["target"] = shared.target.clone()
        steps = board.total_steps()
        state = {"loop": {"learner": learner, "worker_steps": board.steps.clone(),
                          "worker_updates": board.updates.clone(),
                          "target_version": int(board.control[hogwild.TARGET_VERSION]), "restarts": pool.restarts},
                 "rng": checkpoint.rng_state(), "env_steps": steps}
        return checkpoint.save(self.run_dir, steps, state, keep=self.config.keep_checkpoints)


def _load_shared(shared: Shared, saved: dict, where: Path) -> None:
    learner = saved["learner"]
    if learner["params"].numel() != shared.params.numel():
        raise checkpoint.CheckpointError(f"{where}: the saved parameters have {learner['params'].numel()} elements, "
                                         f"the configured network {shared.params.numel()} (was the network changed?)")
    shared.params.copy_(learner["params"])
    if shared.target is not None:
        shared.target.copy_(learner.get("target", learner["params"]))
    saved_optimizer = learner["optimizer"]
    if set(saved_optimizer) == set(shared.optimizer.state_dict()):
        shared.optimizer.load_state_dict(saved_optimizer)  # else: another optimizer now; it starts fresh
    board = shared.board
    for name in ("steps", "updates"):
        saved_rows = saved[f"worker_{name}"]
        rows = getattr(board, name)
        if saved_rows.shape == rows.shape:
            rows.copy_(saved_rows)
        else:  # another number of workers: the totals carry over in row 0
            rows.zero_()
            rows[0] = saved_rows.sum()
    board.control[hogwild.TARGET_VERSION] = int(saved["target_version"])


def _latest_eval(reader: hogwild.BoardReader) -> dict[str, float]:
    """The evaluator's newest result since the last call, as metrics (empty if none); with
    ``eval_reached_stop_return`` where it reached (and confirmed) the run's target."""
    evals = reader.new_evals()
    if not evals:
        return {}
    steps, mean, std, episodes, reached = evals[-1]
    out = {"eval_return_mean": mean, "eval_return_std": std, "eval_episodes": episodes, "eval_env_steps": steps}
    return out | ({"eval_reached_stop_return": 1} if reached else {})


