"""A run directory's safety rules: one writer at a time, no stale files, resumes that fit their checkpoint.

- **Lock.** ``lock(run_dir)`` takes an exclusive ``fcntl.flock`` on ``<run_dir>/.lock`` for as long as a
  run writes there; a second ``fastrl train`` on the same directory is refused (the lock goes with the
  process, so a killed run leaves nothing to clean up).
- **Fresh start.** ``set_aside_stale(run_dir)``: the files of an earlier run that never wrote a checkpoint
  (killed early) are moved into ``<run_dir>/previous-<date>/`` so that the new run's logs start clean.
- **Leftovers.** ``checkpoint.remove_leftovers`` (called at every start) deletes what a kill left behind.
- **Resume.** ``check_resume(stored, config)`` refuses overrides that change what the checkpoint's tensors
  are shaped by (the env, the number of envs); ``check_learner_fits`` compares the learner a config builds
  with the checkpoint's, tensor by tensor, before anything is written, and names the changed fields.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from fastrl.checkpoint import RunDirError
from fastrl.config import ALGO_FIELDS, ConfigError, RunConfig

LOCK = ".lock"
#: what a run writes into its directory (fastrl.runner, fastrl.log, A3C's worker events)
#: the run directory's resolved config and its metadata (git sha, hardware, library versions)
CONFIG = "config.json"
META = "meta.json"
RUN_FILES = ("config.json", "meta.json", "metrics.jsonl", "episodes.jsonl", "tb", "learning_curve.png",
             "checkpoints", "workers.jsonl")
#: fields a resume keeps: the checkpoint's env state, observations and replay are shaped by them
FIXED_ON_RESUME = ("algo", "env.id", "env.num_envs", "env.options")


def note(text: str) -> None:
    """Tell the user what was done to the run directory (one line on stderr)."""
    print(f"fastrl: {text}", file=sys.stderr, flush=True)


def lock(run_dir: Path) -> int:
    """Take the run directory's exclusive lock; the returned descriptor holds it (``unlock`` releases it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise RunDirError(f"{run_dir} is in use by another fastrl train (pid {holder or '?'}, holding "
                          f"{run_dir / LOCK}): wait for it to end, or choose another --run-dir") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # the holder's pid, for the message above
    except OSError:  # a full disk: release the lock, and leave the directory as it was
        os.close(fd)
        remove_if_unused(run_dir)
        raise
    return fd


def unlock(fd: int) -> None:
    os.close(fd)


def remove_if_unused(run_dir: Path) -> None:
    """Remove a run directory that holds nothing but its lock (a start refused before it wrote anything)."""
    if {p.name for p in run_dir.iterdir()} <= {LOCK}:
        (run_dir / LOCK).unlink(missing_ok=True)
        run_dir.rmdir()


def set_aside_stale(run_dir: Path) -> Path | None:
    """Move the files of an earlier run without checkpoints into ``previous-<date>/``; that folder, or None."""
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if not present:
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = run_dir / f"previous-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = run_dir / f"previous-{stamp}-{n}"
    aside.mkdir()
    for name in present:
        os.rename(run_dir / name, aside / name)
    note(f"{run_dir} held an earlier run without a checkpoint ({', '.join(present)}): moved it to {aside} "
         f"and starting clean")
    return aside


def config_changes(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted field name, old value, new value) of every field that differs between two configs."""
    out = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if dataclasses.is_dataclass(a):
            out += config_changes(a, b, f"{prefix}{f.name}.")
        elif a != b:
            out.append((f"{prefix}{f.name}", a, b))
    return out


def flag(name: str) -> str:
    """The CLI flag of a dotted field name (``env.num_envs`` -> ``--num-envs``)."""
    last = name.rsplit(".", 1)[-1]
    return "--env" if name == "env.id" else "--" + last.replace("_", "-")


def _show(value: Any) -> str:
    return json.dumps(value, default=str)


def check_resume(stored: RunConfig, config: RunConfig, run_dir: Path) -> None:
    """Refuse a resume whose config changes what the checkpoint's shapes depend on (before anything is written)."""
    for name, old, new in config_changes(stored, config):
        if name in FIXED_ON_RESUME:
            raise ConfigError(f"{flag(name)} {_show(new)}: {run_dir} was checkpointed with {name} {_show(old)}, "
                              f"which fixes the shapes of its saved envs, observations and replay; resume "
                              f"without changing it, or start a new run")


def check_learner_fits(stored: RunConfig | None, config: RunConfig, saved: dict[str, Any], fresh: dict[str, Any],
                       where: Path) -> None:
    """Refuse a resume whose learner (``fresh``, its state_dict) is shaped unlike the checkpoint's (``saved``)."""
    mismatch = _mismatch(saved, fresh, "learner")
    if mismatch is None:
        return
    sections = set(ALGO_FIELDS.get(config.algo, ())) | {"env"}
    changed = [(n, a, b) for n, a, b in (config_changes(stored, config) if stored is not None else [])
               if n.split(".")[0] in sections]
    if changed:
        what = ", ".join(f"{flag(n)} {_show(b)} (checkpointed with {_show(a)})" for n, a, b in changed)
        raise ConfigError(f"{what}: the learner would not fit the checkpoint {where} ({mismatch}); resume without "
                          f"changing the network's shape, or start a new run")
    raise ConfigError(f"the run's config ({where.parent.parent / 'config.json'}) does not fit its checkpoint "
                      f"{where}: {mismatch}")


def _mismatch(saved: Any, fresh: Any, path: str) -> str | None:
    """Where the tensors of two state trees differ in shape or structure (scalars are not compared)."""
    if isinstance(fresh, torch.Tensor):
        if not isinstance(saved, torch.Tensor):
            return f"{path} is not a tensor in the checkpoint"
        if tuple(saved.shape) != tuple(fresh.shape):
            return f"{path} is {list(saved.shape)} in the checkpoint, {list(fresh.shape)} here"
        return None
    if isinstance(fresh, dict):
        if not isinstance(saved, dict):
            return f"{path} is not a mapping in the checkpoint"
        if fresh and saved and set(fresh) != set(saved):
            only_saved = sorted(map(str, set(saved) - set(fresh)))[:3]
            only_fresh = sorted(map(str, set(fresh) - set(saved)))[:3]
            return (f"{path}: the checkpoint has {only_saved or 'no other'} entries, this config "
                    f"{only_fresh or 'no other'}")
        for key in sorted(set(fresh) & set(saved), key=str):
            found = _mismatch(saved[key], fresh[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(fresh, (list, tuple)):
        if not isinstance(saved, (list, tuple)):
            return f"{path} is not a list in the checkpoint"
        if len(saved) != len(fresh):
            return f"{path} has {len(saved)} entries in the checkpoint, {len(fresh)} here"
        for i, (a, b) in enumerate(zip(saved, fresh, strict=True)):
            found = _mismatch(a, b, f"{path}/{i}")
            if found:
                return found
    return None


def write_config(run_dir: Path, config: RunConfig, *, fresh: bool, hardware_choices=()) -> None:
    """Write the run's resolved ``config.json`` and, for a fresh run, ``meta.json`` (git sha, hardware,
    library versions, and the hardware choices with their reasons), both atomically."""
    from fastrl.config import to_dict
    from fastrl.io import atomic_write_json
    from fastrl.records import run_meta

    atomic_write_json(run_dir / CONFIG, to_dict(config))
    if fresh:
        meta = run_meta(to_dict(config))
        meta["hardware_choices"] = [choice.to_json() for choice in hardware_choices]
        atomic_write_json(run_dir / META, meta)
