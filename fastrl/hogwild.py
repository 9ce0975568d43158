"""Hogwild plumbing: CPU worker processes that share parameters, optimizer statistics and counters, lock-free.

The asynchronous methods of Mnih et al. (2016) run many actor-learners that each apply their gradients
straight to one set of shared parameters, with no lock (Hogwild, Recht et al. 2011). This module holds
everything about that except the algorithm (``fastrl.algos.a3c``):

- **Flat shared tensors.** A network's parameters are rebound as views of one flat float32 tensor
  (``bind_flat``), so a worker syncs its local copy with one ``copy_``, its gradients land in one flat
  buffer, and the optimizer updates the shared parameters with a handful of whole-tensor ops instead of
  a loop over layers. Shared tensors live in shared memory with torch's ``file_descriptor`` strategy: the
  segment is unlinked as soon as it is mapped, so nothing is left in /dev/shm whatever kills a process.
- **Shared-statistics optimizers.** ``SharedRMSprop`` (the paper's shared RMSProp, its eq. 9) and
  ``SharedAdam`` keep their moment estimates in shared memory and update them, and the parameters, in
  place from whichever worker calls ``step`` — no lock, by design: concurrent updates may interleave,
  which Hogwild tolerates.
- **``Board``**: per-worker rows in shared memory (env steps, updates, loss sums, a ring of finished
  episodes) and a few control words (stop flag, target-network version). Each row has exactly one writer,
  its worker, so counting needs no lock and loses nothing; the global step counter T is the sum of the
  rows.
- **``WorkerPool``**: starts the processes (forkserver or spawn; one torch thread each; SIGINT ignored,
  so Ctrl-C reaches only the supervisor; killed with their parent through ``PR_SET_PDEATHSIG``), notices
  a dead one at once (it waits on the processes' sentinels) and restarts it, and gives up with a clear
  ``WorkerFailed`` after ``max_restarts`` restarts. ``stop`` raises the stop flag, joins, then terminates
  and kills what is left, and reaps every process: no zombies.

The supervisor notes SIGINT and SIGTERM (``fastrl.signals.noted``) and polls for them, so one cleanup path
(stop the workers, write the final checkpoint) serves both, and signals during it change nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# ---------------------------------------------------------------------------------------------------------
# Flat parameters
# ---------------------------------------------------------------------------------------------------------


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flatten_into(module: torch.nn.Module, flat: torch.Tensor) -> None:
    """Copy ``module``'s parameters, in ``parameters()`` order, into the flat tensor ``flat``."""
    offset = 0
    with torch.no_grad():
        for p in module.parameters():
            flat[offset:offset + p.numel()].copy_(p.reshape(-1))
            offset += p.numel()
    if offset != flat.numel():
        raise ValueError(f"flatten_into: the module has {offset} parameters, the flat tensor {flat.numel()}")


def bind_flat(module: torch.nn.Module, flat: torch.Tensor, grad: torch.Tensor | None = None) -> torch.nn.Module:
    """Make every parameter of ``module`` a view of ``flat`` (and its ``.grad`` a view of ``grad``).

    The module then reads ``flat`` directly: writing ``flat`` (a sync from the shared parameters, or a
    Hogwild update when ``flat`` is the shared tensor itself) changes the module at once. With ``grad``,
    backward accumulates in place into the flat buffer (autograd adds into an existing ``.grad``); zero
    it with ``grad.zero_()``, never ``zero_grad(set_to_none=True)``. ``check_grads_bound`` verifies that.
    """
    total = parameter_count(module)
    for name, t in (("flat", flat), ("grad", grad)):
        if t is not None and (t.numel() != total or t.dtype != torch.float32 or not t.is_contiguous()):
            raise ValueError(f"bind_flat: {name} must be a contiguous float32 tensor of {total} elements, got "
                             f"{t.dtype} of {t.numel()}")
    offset = 0
    for p in module.parameters():
        n = p.numel()
        p.data = flat[offset:offset + n].view_as(p)
        if grad is not None:
            p.grad = grad[offset:offset + n].view_as(p)
        offset += n
    return module


def check_grads_bound(module: torch.nn.Module, grad: torch.Tensor) -> None:
    """Raise where a backward pass replaced a bound ``.grad`` instead of adding into it."""
    offset = 0
    for name, p in module.named_parameters():
        expected = grad[offset:offset + p.numel()].data_ptr()
        if p.grad is None or p.grad.data_ptr() != expected:
            raise RuntimeError(f"parameter {name}: its gradient no longer lives in the flat gradient buffer "
                               f"(was .grad set to None or replaced?); the update would miss it")
        offset += p.numel()


def shared_zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A zero tensor in shared memory (visible to every worker the tensor is handed to)."""
    return torch.zeros(shape, dtype=dtype).share_memory_()


def use_fd_sharing() -> None:
    """Share tensors by file descriptor: the segment is unlinked once mapped, so none can leak in /dev/shm
    (torch's ``file_system`` strategy names files there that a killed process would leave behind)."""
    if "file_descriptor" not in torch.multiprocessing.get_all_sharing_strategies():
        raise RuntimeError("torch offers no file_descriptor sharing strategy on this platform; Hogwild workers "
                           "need it (Linux)")
    torch.multiprocessing.set_sharing_strategy("file_descriptor")


# ---------------------------------------------------------------------------------------------------------
# Optimizers with shared statistics
# ---------------------------------------------------------------------------------------------------------


class SharedRMSprop:
    """RMSProp whose squared-gradient average ``g`` is shared by all workers (Mnih et al. 2016, eq. 9)::

        g ← α g + (1 − α) Δθ²        θ ← θ − η Δθ / sqrt(g + ε)

    (ε inside the square root, as in the paper; the paper found sharing ``g`` more robust than per-worker
    statistics.) ``step`` writes the shared tensors in place from the calling worker, without a lock.
    """

    kind = "rmsprop"

    def __init__(self, params: torch.Tensor, *, alpha: float, eps: float):
        self.params = params
        self.alpha, self.eps = alpha, eps
        self.square_avg = shared_zeros(params.numel())
        self._denominator: torch.Tensor | None = None  # per process, made on first step

    def step(self, grad: torch.Tensor, lr: float, updates_done: int) -> None:
        """Apply the flat gradient ``grad`` to the shared parameters (``updates_done``: unused here)."""
        if self._denominator is None:
            self._denominator = torch.empty_like(grad)
        self.square_avg.mul_(self.alpha).addcmul_(grad, grad, value=1.0 - self.alpha)
        torch.add(self.square_avg, self.eps, out=self._denominator).sqrt_()
        self.params.addcdiv_(grad, self._denominator, value=-lr)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"square_avg": self.square_avg}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.square_avg.copy_(state["square_avg"])

    def __getstate__(self):
        return {**self.__dict__, "_denominator": None}


class SharedAdam:
    """Adam whose first and second moments are shared by all workers::

        m ← β1 m + (1 − β1) Δθ      v ← β2 v + (1 − β2) Δθ²      θ ← θ − η m̂ / (sqrt(v̂) + ε)

    with the bias corrections m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t) at t = the updates applied so far by
    all workers (read from the ``Board`` by the caller: lock-free, so it may lag by the updates in flight,
    which only matters in the first few updates).
    """

    kind = "adam"

    def __init__(self, params: torch.Tensor, *, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = params
        self.betas, self.eps = betas, eps
        self.exp_avg = shared_zeros(params.numel())
        self.exp_avg_sq = shared_zeros(params.numel())
        self._denominator: torch.Tensor | None = None

    def step(self, grad: torch.Tensor, lr: float, updates_done: int) -> None:
        if self._denominator is None:
            self._denominator = torch.empty_like(grad)
        beta1, beta2 = self.betas
        t = updates_done + 1
        self.exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        torch.div(self.exp_avg_sq, 1.0 - beta2 ** t, out=self._denominator).sqrt_().add_(self.eps)
        self.params.addcdiv_(self.exp_avg, self._denominator, value=-lr / (1.0 - beta1 ** t))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])

    def __getstate__(self):
        return {**self.__dict__, "_denominator": None}


def clip_grad_norm_(grad: torch.Tensor, max_norm: float) -> float:
    """Scale the flat gradient in place so that its L2 norm is at most ``max_norm``; the norm before."""
    norm = float(torch.linalg.vector_norm(grad))
    if max_norm > 0 and norm > max_norm:
        grad.mul_(max_norm / (norm + 1e-6))
    return norm


# ---------------------------------------------------------------------------------------------------------
# The board: per-worker counters in shared memory, one writer per row
# ---------------------------------------------------------------------------------------------------------

#: control words
STOP, TARGET_VERSION = 0, 1
#: columns of an episode record: sequence number + 1 (0 = never written), env steps T at its end, return, length
EPISODE_FIELDS = 4


class Board:
    """Counters that workers write and the supervisor reads, without locks.

    Row ``i`` of ``steps``, ``updates``, ``stats`` and ``episodes`` is written only by worker ``i`` (a
    restarted worker takes over its row), so no update is lost and no lock is needed; global sums are
    read as sums of rows. ``evals`` is the evaluator's row. A reader may see a row a moment before a
    concurrent write lands; it never sees a count go backwards.
    """

    def __init__(self, workers: int, stats: int, *, ring: int = 4096, eval_ring: int = 256):
        self.workers = workers
        self.steps = shared_zeros(workers, dtype=torch.int64)
        self.updates = shared_zeros(workers, dtype=torch.int64)
        self.stats = shared_zeros(workers, stats, dtype=torch.float64)
        self.episodes = shared_zeros(workers, ring, EPISODE_FIELDS, dtype=torch.float64)
        self.episodes_written = shared_zeros(workers, dtype=torch.int64)
        self.evals = shared_zeros(eval_ring, 5, dtype=torch.float64)  # T, mean, std, episodes, reached
        self.evals_written = shared_zeros(1, dtype=torch.int64)
        self.control = shared_zeros(4, dtype=torch.int64)

    # ---- written by the workers (each to its own row) ---------------------------------------------------

    def total_steps(self) -> int:
        return int(self.steps.sum())

    def total_updates(self) -> int:
        return int(self.updates.sum())

    def stopping(self) -> bool:
        return bool(self.control[STOP])

    def record_episode(self, worker: int, env_steps: int, episode_return: float, length: int) -> None:
        n = int(self.episodes_written[worker])
        row = self.episodes[worker, n % self.episodes.shape[1]]
        row[1], row[2], row[3] = env_steps, episode_return, length
        row[0] = n + 1  # last: a reader that sees the sequence number sees the fields
        self.episodes_written[worker] = n + 1

    def record_eval(self, env_steps: int, returns: list[float], reached: bool = False) -> None:
        """An evaluation's returns at global step ``env_steps``; ``reached``: it met the run's target."""
        n = int(self.evals_written[0])
        t = torch.tensor(returns, dtype=torch.float64)
        self.evals[n % self.evals.shape[0]] = torch.tensor(
            [env_steps, float(t.mean()), float(t.std(unbiased=False)), len(returns), float(reached)],
            dtype=torch.float64)
        self.evals_written[0] = n + 1

    # ---- read by the supervisor -------------------------------------------------------------------------

    def reader(self) -> BoardReader:
        return BoardReader(self)


class BoardReader:
    """The supervisor's read position in each ring. A record is taken only where its sequence number shows
    it complete (a worker killed mid-write leaves one that is skipped); ``dropped`` counts the records a
    worker overwrote before they were read."""

    def __init__(self, board: Board):
        self.board = board
        self.episodes_read = board.episodes_written.clone()
        self.evals_read = int(board.evals_written[0])
        self.dropped = 0

    def new_episodes(self) -> list[tuple[int, float, int]]:
        """(T, return, length) of the episodes finished since the last call, by T."""
        b = self.board
        ring = b.episodes.shape[1]
        written = b.episodes_written.clone()
        out = []
        for w in range(b.workers):
            start, stop = int(self.episodes_read[w]), int(written[w])
            if stop - start > ring:  # the worker lapped the ring before we read it
                self.dropped += stop - start - ring
                start = stop - ring
            rows = b.episodes[w, [i % ring for i in range(start, stop)]].tolist()
            for seq, (s, t, ret, length) in zip(range(start, stop), rows, strict=True):
                if int(s) == seq + 1:
                    out.append((int(t), ret, int(length)))
            self.episodes_read[w] = stop
        out.sort(key=lambda e: e[0])
        return out

    def new_evals(self) -> list[tuple[int, float, float, int, bool]]:
        """(T, mean, std, episodes, reached) of the evaluations finished since the last call."""
        b = self.board
        written = int(b.evals_written[0])
        ring = b.evals.shape[0]
        out = [tuple(b.evals[i % ring].tolist()) for i in range(max(self.evals_read, written - ring), written)]
        self.evals_read = written
        return [(int(t), mean, std, int(n), bool(reached)) for t, mean, std, n, reached in out]


# ---------------------------------------------------------------------------------------------------------
# Worker processes and their supervision
# ---------------------------------------------------------------------------------------------------------


class WorkerFailed(RuntimeError):
    """A worker died more often than the run allows; the message names it, how it died and its last error."""


@dataclass
class Role:
    """One supervised process: ``target(index, *args)`` in a fresh process, restarted if it dies.

    ``target`` must be a module-level function (it is pickled by name). Returning from it (exit code 0)
    means the role is done: it is not restarted.
    """

    name: str
    target: Callable[..., None]
    index: int
    args: tuple


@dataclass
class _Slot:
    role: Role
    process: Any
    errors: Any  # the read end of the pipe the child reports its exception through
    incarnation: int
    done: bool = False


class WorkerPool:
    """Starts the roles' processes and keeps them running; see the module docstring.

    ``events``: a JSONL file where each start, exit and restart is written (with pids and exit codes), so
    that a run directory tells what happened to its workers. ``board.control[STOP]`` is the stop flag the
    roles poll.
    """

    def __init__(self, roles: Iterable[Role], board: Board, *, start_method: str = "forkserver",
                 max_restarts: int = 3, threads: int = 1, events: str | Path | None = None,
                 preload: tuple[str, ...] = ()):
        if start_method not in ("forkserver", "spawn"):
            raise ValueError(f"start_method {start_method!r}: expected 'forkserver' or 'spawn' (fork would copy "
                             f"the parent's threads and locks into the workers)")
        use_fd_sharing()
        self.roles = list(roles)
        self.board = board
        self.max_restarts = max_restarts
        self.threads = threads
        self.restarts = 0
        self.context = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            self.context.set_forkserver_preload(list(preload))  # imports paid once, not per worker
        self._events = open(events, "a") if events is not None else None  # noqa: SIM115 (closed in stop)
        self._started = time.monotonic()
        self._slots: list[_Slot] = []

    # ---- life cycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        self.board.control[STOP] = 0
        for role in self.roles:  # one by one: if interrupted, stop() still finds those already started
            self._slots.append(self._launch(role, 0))

    def watch(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a process to end; restart any that died (``WorkerFailed``
        once ``max_restarts`` is spent). Returns early when one ends, so a death is handled at once."""
        live = [s for s in self._slots if not s.done]
        if live:
            multiprocessing.connection.wait([s.process.sentinel for s in live], timeout)
        else:
            time.sleep(timeout)
        for i, slot in enumerate(self._slots):
            if slot.done or slot.process.is_alive():
                continue
            slot.process.join()  # reap
            code = slot.process.exitcode
            error = _read_error(slot.errors)
            slot.errors.close()
            self._log("exit", slot, exitcode=code, how=describe_exit(code), error=error)
            if code == 0:
                slot.done = True
                continue
            if self.board.stopping():
                slot.done = True
                continue
            if self.restarts >= self.max_restarts:
                slot.done = True
                raise WorkerFailed(
                    f"{slot.role.name} (pid {slot.process.pid}) {describe_exit(code)}; {self.restarts} restart(s) "
                    f"already spent (max_restarts {self.max_restarts}), so the run stops"
                    + (f". Its error:\n{error}" if error else _NO_ERROR_HINT if code == 1 else ""))
            self.restarts += 1
            self._slots[i] = self._launch(slot.role, slot.incarnation + 1)
            self._log("restart", self._slots[i], restarts=self.restarts)

    def all_done(self, names: Iterable[str] | None = None) -> bool:
        """Whether the roles (those named, or all) have finished (exit code 0, or ended while stopping)."""
        wanted = None if names is None else set(names)
        return all(s.done for s in self._slots if wanted is None or s.role.name in wanted)

    def stop(self, timeout: float = 10.0) -> None:
        """Raise the stop flag, give the processes ``timeout`` seconds to finish, then SIGTERM, then SIGKILL
        what is left; every process is reaped."""
        self.board.control[STOP] = 1
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
        for action in ("terminate", "kill"):
            alive = [s for s in self._slots if s.process.is_alive()]
            for slot in alive:
                getattr(slot.process, action)()
            for slot in alive:
                slot.process.join(2.0)
        for slot in self._slots:
            if not slot.done:
                slot.done = True
                self._log("exit", slot, exitcode=slot.process.exitcode, how=describe_exit(slot.process.exitcode),
                          error=_read_error(slot.errors))
            slot.errors.close()
            with contextlib.suppress(ValueError):  # one that survived SIGKILL (uninterruptible sleep) stays open
                slot.process.close()
        self._slots = []
        if self._events is not None:
            self._events.close()
            self._events = None

    def pids(self) -> dict[str, int]:
        return {s.role.name: s.process.pid for s in self._slots if s.process.is_alive()}

    # ---- internals --------------------------------------------------------------------------------------

    def _launch(self, role: Role, incarnation: int) -> _Slot:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child_main, name=f"fastrl {role.name}", daemon=True,
                                       args=(role.target, role.index, role.args, incarnation, writer, self.threads))
        process.start()
        writer.close()  # the child holds its own copy; EOF on ours then means the child is gone
        slot = _Slot(role, process, reader, incarnation)
        self._log("start", slot)
        return slot

    def _log(self, event: str, slot: _Slot, **fields: Any) -> None:
        if self._events is None:
            return
        row = {"time_s": round(time.monotonic() - self._started, 4), "wall_time": time.time(), "event": event,
               "role": slot.role.name, "pid": slot.process.pid, "incarnation": slot.incarnation, **fields}
        self._events.write(json.dumps(row) + "\n")
        self._events.flush()


_NO_ERROR_HINT = (". It reported no error: it failed before its code ran, e.g. while Python started it (its stderr "
                  "says why). A script that starts a run must do so under `if __name__ == '__main__':`, because "
                  "each worker process imports the script's module first")


def describe_exit(code: int | None) -> str:
    """A process's exit code in words ("killed by SIGKILL", "exited with code 1")."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return "exited normally" if code == 0 else f"exited with code {code}"


def _read_error(reader) -> str | None:
    try:
        if reader.poll(0):
            return reader.recv()
    except (EOFError, OSError):
        pass
    return None


def _child_main(target, index, args, incarnation, errors, threads) -> None:
    """The first code of every worker process: signals, parent death, threads, then the role's target."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    _die_with_supervisor()
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set where the forkserver's preload ran torch code
        torch.set_num_interop_threads(1)
    try:
        target(index, *args, incarnation=incarnation)
    except BaseException:
        with contextlib.suppress(OSError):
            errors.send(traceback.format_exc())
        errors.close()
        raise SystemExit(1) from None
    errors.close()


def _die_with_supervisor() -> None:
    """A thread that SIGKILLs this process as soon as the supervisor is gone (its sentinel pipe closes).

    Under forkserver the workers' parent is the forkserver, and it outlives a killed supervisor for as long
    as any of its children lives (each holds the pipe whose closing tells the forkserver to exit), so
    ``PR_SET_PDEATHSIG`` alone would leave the workers running; the supervisor's sentinel does not wait."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="fastrl supervisor watch", daemon=True).start()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (the supervisor, or the forkserver, which
    itself exits when the supervisor does), so a killed supervisor leaves no worker running."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stop flag and terminate() remain
        pass
