"""Supervision of the Hogwild workers: a killed worker is restarted and the run completes; too many deaths stop
the run with a clear error; SIGTERM stops every process, writes a checkpoint and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fastrl import checkpoint, hogwild
from fastrl.algos.asynchronous import workers as parts
from fastrl.config import preset
from fastrl.log import read_jsonl
from fastrl.runner import train


def catch_config(tmp_path: Path, **fields):
    base = preset("a3c-catch")
    return dataclasses.replace(base, run_dir=tmp_path / "run", progress=False, tensorboard=False, eval_interval=0,
                               **fields)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def started_pid(run_dir: Path, role: str, incarnation: int = 0) -> int | None:
    for row in read_jsonl(run_dir / parts.EVENTS):
        if row["event"] == "start" and row["role"] == role and row["incarnation"] == incarnation:
            return row["pid"]
    return None


def kill_when_running(run_dir: Path, role: str, after_s: float, killed: dict) -> None:
    """Background thread: SIGKILL ``role``'s first process ``after_s`` seconds after it started."""
    try:
        pid = wait_for(lambda: started_pid(run_dir, role), 60, f"{role} to start")
        time.sleep(after_s)
        killed["wall_time"] = time.time()
        os.kill(pid, signal.SIGKILL)
        killed["pid"] = pid
    except BaseException as err:  # reported by the test
        killed["error"] = err


# ---------------------------------------------------------------------------------------------------------
# The process table, read from /proc
# ---------------------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None where there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every process below ``root`` (pid -> start time, so that a reused pid is not mistaken for it)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[1], []).append(int(entry))
            starts[int(entry)] = stat[2]
    out, todo = {}, [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out[child] = starts[child]
            todo.append(child)
    return out


def still_there(processes: dict[int, int]) -> dict[int, str]:
    """The processes of ``processes`` that exist (running or zombie), with their state."""
    out = {}
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == start:
            out[pid] = stat[0]
    return out


def wait_gone(processes: dict[int, int], timeout: float) -> dict[int, str]:
    """Wait up to ``timeout`` s for the processes to be gone; those still there (zombies too)."""
    deadline = time.monotonic() + timeout
    while (left := still_there(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# ---------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_the_run_completes(tmp_path):
    config = catch_config(tmp_path, total_env_steps=40_000)
    killed: dict = {}
    killer = threading.Thread(target=kill_when_running, args=(config.run_dir, "worker 0", 1.0, killed))
    killer.start()
    train(config)
    killer.join()
    assert "error" not in killed, killed.get("error")

    events = read_jsonl(config.run_dir / parts.EVENTS)
    death = [e for e in events if e["event"] == "exit" and e["pid"] == killed["pid"]]
    assert death and death[0]["how"] == "was killed by SIGKILL", events
    assert death[0]["wall_time"] - killed["wall_time"] < 1.0, "the death was noticed late"
    restarts = [e for e in events if e["event"] == "restart" and e["role"] == "worker 0"]
    assert len(restarts) == 1 and restarts[0]["incarnation"] == 1
    ends = {(e["role"], e["incarnation"]): e["how"] for e in events if e["event"] == "exit"}
    assert ends[("worker 0", 1)] == ends[("worker 1", 0)] == "exited normally", ends
    last = checkpoint.load(config.run_dir)
    assert last.step >= config.total_env_steps
    assert last.state["loop"]["restarts"] == 1
    rows = read_jsonl(config.run_dir / "metrics.jsonl")
    assert rows[-1]["restarts"] == 1 and "eval_return_mean" in rows[-1]
    assert not still_there({pid: start for pid, start in descendants(os.getpid()).items()
                            if pid in {e["pid"] for e in events}})


def test_too_many_deaths_stop_the_run_with_a_clear_error(tmp_path):
    config = catch_config(tmp_path, total_env_steps=10**9)
    config = dataclasses.replace(config, a3c=dataclasses.replace(config.a3c, max_restarts=0))
    killed: dict = {}
    killer = threading.Thread(target=kill_when_running, args=(config.run_dir, "worker 1", 0.5, killed))
    killer.start()
    with pytest.raises(hogwild.WorkerFailed, match=r"worker 1 \(pid \d+\) was killed by SIGKILL; 0 restart\(s\) "
                                                   r"already spent \(max_restarts 0\)"):
        train(config)
    killer.join()
    assert checkpoint.load(config.run_dir).step > 0  # stopped cleanly, with a checkpoint
    events = read_jsonl(config.run_dir / parts.EVENTS)
    pids = {e["pid"] for e in events}
    assert not still_there({pid: start for pid, start in descendants(os.getpid()).items() if pid in pids})


def test_sigterm_stops_every_process_and_writes_a_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    script = (f"import dataclasses\n"
              f"from fastrl.runner import train\n"
              f"from fastrl.config import preset\n"
              f"config = dataclasses.replace(preset('a3c-catch'), total_env_steps=10**9, run_dir={str(run_dir)!r},\n"
              f"                             eval_interval=2_000, progress=False, tensorboard=False)\n"
              f"train(config)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(read_jsonl(run_dir / "metrics.jsonl")) >= 2, 120, "two metrics rows")
        tree = descendants(proc.pid)
        roles = {e["role"]: e["pid"] for e in read_jsonl(run_dir / parts.EVENTS) if e["event"] == "start"}
        assert {"worker 0", "worker 1", "evaluator"} <= set(roles) and set(roles.values()) <= set(tree)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "RunInterrupted" in stderr and "received SIGTERM" in stderr and "checkpoint written" in stderr, stderr
    saved = checkpoint.load(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert saved.step == rows[-1]["env_steps"] > 0
    # nothing left: every worker, the evaluator, the forkserver and the resource tracker are gone
    left = wait_gone(tree, 30.0)
    assert not left, {pid: (state, Path(f"/proc/{pid}/cmdline").read_bytes()[:80]) for pid, state in left.items()}
    leaked = [name for name in os.listdir("/dev/shm") if any(f"_{pid}_" in name for pid in [proc.pid, *tree])]
    assert not leaked, leaked
    exits = [e for e in read_jsonl(run_dir / parts.EVENTS) if e["event"] == "exit"]
    assert {e["how"] for e in exits} == {"exited normally"}, json.dumps(exits, indent=1)


def test_a_killed_supervisor_takes_its_workers_with_it(tmp_path):
    """SIGKILL leaves the supervisor no time to clean up: the workers still go (PR_SET_PDEATHSIG, through
    the forkserver), and their shared memory with them."""
    run_dir = tmp_path / "run"
    script = (f"import dataclasses\n"
              f"from fastrl.config import preset\n"
              f"from fastrl.runner import train\n"
              f"config = dataclasses.replace(preset('a3c-catch'), total_env_steps=10**9, run_dir={str(run_dir)!r},\n"
              f"                             eval_interval=2_000, progress=False, tensorboard=False)\n"
              f"train(config)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(read_jsonl(run_dir / "metrics.jsonl")) >= 1, 120, "a metrics row")
        tree = descendants(proc.pid)
        roles = {e["role"] for e in read_jsonl(run_dir / parts.EVENTS) if e["event"] == "start"}
        assert {"worker 0", "worker 1", "evaluator"} <= roles
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = wait_gone(tree, 30.0)
    assert not left, {pid: (state, Path(f"/proc/{pid}/cmdline").read_bytes()[:80]) for pid, state in left.items()}
    leaked = [name for name in os.listdir("/dev/shm") if any(f"_{pid}_" in name for pid in [proc.pid, *tree])]
    assert not leaked, leaked
