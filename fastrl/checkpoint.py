"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically, verified on load.

A checkpoint is a directory ``<run_dir>/checkpoints/step_<env steps>/``::

    tensors.safetensors   every tensor of the saved state (network, target, optimizer moments, env state)
    state.json            the rest of the state as a JSON tree; each tensor appears as {"__tensor__": key}
    manifest.json         format version, env step, and the size and sha256 of the two files above
    <extra>/              optional parts written by their owners (the replay memory writes its own files)

Never pickle: a checkpoint is data only, so loading one cannot run code, and it reads back in any Python.
RNG states (Python's ``random``, numpy's global state, torch's CPU and CUDA generators, and any
``torch.Generator`` a learner owns) are stored as JSON-able data, the torch ones as base64 text.

**Atomic.** The directory is built under a temporary name beside its final one (each file written
through ``fastrl.io.atomic_write_bytes``: temp file, fsync, rename), then renamed into place and the
parent directory fsynced: a crash leaves either the previous checkpoints or the new one complete, never
a half-written ``step_*`` directory. Hence the newest ``step_*`` directory is the latest checkpoint.

**Verified.** ``load`` checks the manifest's sizes and sha256 digests before parsing, so a truncated or
corrupted file is reported as such (with the other checkpoints that exist) instead of as a parse error.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from fastrl.io import atomic_write_bytes, atomic_write_json

FORMAT = "fastrl-checkpoint/1"
TENSORS = "tensors.safetensors"
STATE = "state.json"
MANIFEST = "manifest.json"
_STEP_DIR = re.compile(r"^step_(\d+)$")


class CheckpointError(RuntimeError):
    """A checkpoint (a run's, or a saved replay buffer: ``fastrl.replay.persist``) that is missing, incomplete,
    corrupt or does not match what was asked for; the message says which file and what is wrong."""


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked (in use by another run, a log that cannot be read)."""


class TrainingDiverged(RuntimeError):
    """A loss or a parameter became NaN or infinite; the message names the step and the last good checkpoint."""


@dataclass
class Checkpoint:
    path: Path
    step: int
    state: dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Save and load
# ---------------------------------------------------------------------------------------------------------


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def save(run_dir: str | os.PathLike, step: int, state: dict[str, Any], *,
         extra: dict[str, Callable[[Path], None]] | None = None, keep: int | None = None) -> Path:
    """Write ``state`` (a tree of dicts, lists, tensors and JSON scalars) as the checkpoint of ``step``.

    ``extra`` maps a sub-directory name to a function that writes that part into the directory it is
    given (the replay memory's ``save``); it runs inside the temporary directory, so it is atomic too.
    With ``keep``, only the newest ``keep`` checkpoints remain afterwards.
    """
    parent = checkpoint_dir(run_dir)
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / f"step_{step:012d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=parent))
    try:
        tensors: dict[str, torch.Tensor] = {}
        tree = _flatten(state, tensors, "")
        tensor_bytes = safetensors.torch.save(tensors)
        atomic_write_bytes(tmp / TENSORS, tensor_bytes)
        state_bytes = (json.dumps(tree, indent=1) + "\n").encode()
        atomic_write_bytes(tmp / STATE, state_bytes)
        for name, write in (extra or {}).items():
            write(tmp / name)
        files = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                 for name, data in ((TENSORS, tensor_bytes), (STATE, state_bytes))}
        atomic_write_json(tmp / MANIFEST, {"format": FORMAT, "step": step, "files": files,
                                           "extra": sorted(extra or {})})
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep is not None:
        for old in list_checkpoints(run_dir)[:-keep]:
            _remove_dir(old)
    return final


def remove_leftovers(run_dir: str | os.PathLike) -> list[str]:
    """Delete what a killed save left in ``checkpoints/``: temporary ``.step_*.tmp`` and ``.step_*.old``
    directories, and ``step_*`` directories without a manifest (a delete cut short). The names removed."""
    parent = checkpoint_dir(run_dir)
    if not parent.is_dir():
        return []
    removed = []
    for p in sorted(parent.iterdir()):
        hidden = p.name.startswith(".step_") and p.name.endswith((".tmp", ".old", ".del"))
        broken = p.is_dir() and _STEP_DIR.match(p.name) and not (p / MANIFEST).is_file()
        if hidden or broken:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p.name)
    return removed


#: errors of a full, read-only or failing disk: reported as a user's error (one line), not a traceback
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG)


def write_failed(err: OSError, what: str | os.PathLike, run_dir: str | os.PathLike) -> RunDirError | None:
    """The one-line error for a write of ``what`` in ``run_dir`` that the disk refused (None for other
    errors): what could not be written, where, and which checkpoint is intact."""
    if err.errno not in DISK_ERRNOS:
        return None
    kept = last_good(run_dir)
    if list_checkpoints(run_dir):
        kept += f"; free space and continue with fastrl train --resume {run_dir}"
    return RunDirError(f"could not write {err.filename or what}: {err.strerror or err}; {kept}")


def last_good(run_dir: str | os.PathLike) -> str:
    """Where a run can continue from, in words: its newest checkpoint and its step, or that it has none."""
    found = list_checkpoints(run_dir)
    if not found:
        return "no checkpoint has been written yet"
    return f"the last checkpoint {found[-1]} (env step {int(_STEP_DIR.match(found[-1].name).group(1)):,}) is intact"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The complete checkpoints of a run, oldest first."""
    parent = checkpoint_dir(run_dir)
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir() if p.is_dir() and _STEP_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def latest(run_dir: str | os.PathLike) -> Path:
    """The newest checkpoint of ``run_dir``; ``CheckpointError`` where there is none."""
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"no checkpoint in {checkpoint_dir(run_dir)}: expected step_* directories "
                              f"written by `fastrl train` (is {run_dir} a run directory?)")
    return found[-1]


def load(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Read and verify one checkpoint directory (or the newest one of a run directory)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not _STEP_DIR.match(path.name):
        path = latest(path)
    others = [p.name for p in list_checkpoints(path.parent.parent) if p != path]
    hint = f" (other checkpoints of this run: {', '.join(others)})" if others else ""

    manifest = _read_json(path / MANIFEST, hint)
    problem = schema_problem(manifest, MANIFEST_SCHEMA)
    if problem:
        raise CheckpointError(f"{path / MANIFEST} is corrupt: {problem}{hint}")
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    named = int(_STEP_DIR.match(path.name).group(1))
    if manifest["step"] != named:
        raise CheckpointError(f"{path / MANIFEST} is corrupt: its step {manifest['step']} differs from its folder's "
                              f"name ({path.name}){hint}")
    for name in (TENSORS, STATE):
        if name not in manifest["files"]:
            raise CheckpointError(f"{path / MANIFEST} is corrupt: its files lack {name}{hint}")
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {path} lacks {name}{hint}")
        data = file.read_bytes()
        if len(data) != expected["bytes"]:
            raise CheckpointError(f"{file} is corrupt: {len(data)} bytes, the manifest says "
                                  f"{expected['bytes']}{hint}")
        if hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise CheckpointError(f"{file} is corrupt: its sha256 differs from the manifest's{hint}")
    for name in manifest.get("extra", []):
        if not (path / name).exists():
            raise CheckpointError(f"checkpoint {path} lacks its part {name}/{hint}")

    tensors = safetensors.torch.load_file(path / TENSORS, device=str(device))
    tree = _read_json(path / STATE, hint)
    try:
        state = _unflatten(tree, tensors)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path / STATE} does not match {path / TENSORS}: {err!r}{hint}") from None
    if isinstance(state, dict) and state.get("env_steps", named) != named:
        raise CheckpointError(f"{path}: its state says env step {state['env_steps']}, its folder and manifest "
                              f"{named}: an edited checkpoint{hint}")
    return Checkpoint(path=path, step=named, state=state)


#: what a checkpoint's manifest.json holds (see ``schema_problem``)
MANIFEST_SCHEMA = {"format": str, "step": int, "files": {str: {"bytes": int, "sha256": str}}, "?extra": [str]}


def schema_problem(value: Any, schema: Any, where: str = "") -> str | None:
    """What in ``value`` (parsed JSON) does not fit ``schema``, or None. A schema is a type (``int`` takes no
    bool), ``[schema]`` (a list of those), ``{str: schema}`` (an object of any keys), or an object of named
    keys (``"?name"``: optional); keys not named are allowed."""
    at = where or "the top level"
    if isinstance(schema, type):
        ok = isinstance(value, schema) and not (schema in (int, float) and isinstance(value, bool))
        if schema is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{at}: expected {schema.__name__}, got {_json_type(value)}"
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{at}: expected a list, got {_json_type(value)}"
        return next((p for i, v in enumerate(value) if (p := schema_problem(v, schema[0], f"{where}[{i}]"))), None)
    if not isinstance(value, dict):
        return f"{at}: expected an object, got {_json_type(value)}"
    if set(schema) == {str}:
        return next((p for k, v in value.items() if (p := schema_problem(v, schema[str], f"{where}.{k}".lstrip(".")))),
                    None)
    for key, sub in schema.items():
        name = key.lstrip("?")
        if name not in value:
            if key.startswith("?"):
                continue
            return f"{at}: lacks {name!r}"
        problem = schema_problem(value[name], sub, f"{where}.{name}".lstrip("."))
        if problem:
            return problem
    return None


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------------------
# RNG states as JSON-able data
# ---------------------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The global RNG states of Python, numpy and torch (CPU and every CUDA device), as JSON-able data."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": b64_tensor(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = [b64_tensor(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensor_from_b64(state["torch"]))
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensor_from_b64(s) for s in state["torch_cuda"]])


def generator_state(generator: torch.Generator) -> str:
    """A ``torch.Generator``'s state as base64 text (for state.json)."""
    return b64_tensor(generator.get_state())


def set_generator_state(generator: torch.Generator, state: str) -> None:
    generator.set_state(tensor_from_b64(state))


def b64_tensor(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def tensor_from_b64(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


# ---------------------------------------------------------------------------------------------------------
# The state tree <-> (JSON tree, flat tensor dict)
# ---------------------------------------------------------------------------------------------------------


def _flatten(node: Any, tensors: dict[str, torch.Tensor], key: str) -> Any:
    """JSON tree of ``node``; its tensors move into ``tensors`` under their path in the tree.

    Dicts with non-text keys (an optimizer's state is keyed by parameter index) are kept as
    ``{"__items__": [[key, value], ...]}`` so that the keys come back with their type.
    """
    if isinstance(node, torch.Tensor):
        if key in tensors:
            raise ValueError(f"checkpoint state: two tensors at {key!r}")
        tensors[key] = node.detach().contiguous().clone()  # clone: safetensors refuses shared storage
        return {"__tensor__": key}
    if isinstance(node, dict):
        if all(isinstance(k, str) for k in node):
            return {k: _flatten(v, tensors, f"{key}/{k}".lstrip("/")) for k, v in node.items()}
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in node):
            raise TypeError(f"checkpoint state at {key!r}: dict keys must be all str or all int")
        return {"__items__": [[k, _flatten(v, tensors, f"{key}/{k}".lstrip("/"))] for k, v in node.items()]}
    if isinstance(node, (list, tuple)):
        return [_flatten(v, tensors, f"{key}/{i}".lstrip("/")) for i, v in enumerate(node)]
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, (np.integer, np.floating, np.bool_)):
        return node.item()
    raise TypeError(f"checkpoint state at {key!r}: cannot save a value of type {type(node).__name__} "
                    f"(expected tensors, dicts, lists and JSON scalars)")


def _unflatten(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"__tensor__"}:
            return tensors[node["__tensor__"]]
        if set(node) == {"__items__"}:
            return {k: _unflatten(v, tensors) for k, v in node["__items__"]}
        return {k: _unflatten(v, tensors) for k, v in node.items()}
    if isinstance(node, list):
        return [_unflatten(v, tensors) for v in node]
    return node


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def _read_json(file: Path, hint: str) -> Any:
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file.parent} lacks {file.name}{hint}")
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is corrupt: not valid JSON ({err}){hint}") from None


def _replace_dir(tmp: Path, final: Path) -> None:
    """Rename the finished ``tmp`` directory to ``final`` (replacing an older one of the same step)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
    os.rename(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    if old is not None:
        shutil.rmtree(old)


def _remove_dir(path: Path) -> None:
    """Delete a checkpoint directory: renamed aside first (one atomic step), so that a kill halfway through
    the delete leaves a hidden ``.step_*.del`` (removed at the next start) rather than a broken ``step_*``."""
    doomed = path.with_name(f".{path.name}.del")
    shutil.rmtree(doomed, ignore_errors=True)
    os.rename(path, doomed)
    shutil.rmtree(doomed)
