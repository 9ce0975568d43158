"""Save and load a whole replay buffer: safetensors shards plus a JSON manifest, never pickle.

A saved buffer is a directory::

    manifest.json                                  config, counters, sampler state, and per field: shape,
                                                   dtype and its shards (file, rows, sha256)
    storage.frames.000.<save id>.safetensors       one field's rows [r0, r1), at most ``shard_bytes`` each
    ...

Atomicity: the shards of a save carry its id in their names and are each written through ``fastrl.io``
(temporary file, fsync, rename, fsync of the directory); the manifest is written last, the same way, and is
the commit: a reader sees the previous save (its manifest still names its own shards, which are deleted
only after the new manifest is in place) or the new one, never a mix, and a crash mid-save leaves the old
save whole. Loading verifies everything before trusting it: the manifest's format, each field's shape and
dtype against the buffer its config builds, each shard's presence, size and sha256.

This module reads and writes; ``ReplayBuffer.load`` builds the buffer between ``read_manifest`` (the saved
config) and ``read_fields`` (its tensors), so that persistence needs nothing of the buffer but its state.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import safetensors.torch
import torch

from fastrl.checkpoint import CheckpointError, schema_problem
from fastrl.io import atomic_write_bytes, atomic_write_json
from fastrl.replay.config import BufferConfig

FORMAT = "fastrl.replay"
VERSION = 1
MANIFEST = "manifest.json"


def save(buffer, path: str | os.PathLike, shard_bytes: int = 256 << 20) -> Path:
    """Write ``buffer`` (a ``ReplayBuffer``: its ``state()``, ``config`` and ``nbytes``) to the directory ``path``
    (created; a previous save there is replaced atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_id = uuid.uuid4().hex[:12]
    tensors, meta = buffer.state()
    fields = {}
    for name, tensor in tensors.items():
        fields[name] = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch."),
                        "shards": _write_shards(path, name, tensor, save_id, shard_bytes)}
    manifest = {"format": FORMAT, "version": VERSION, "save_id": save_id, "config": buffer.config.to_json(),
                "meta": meta, "nbytes": buffer.nbytes, "fields": fields}
    atomic_write_json(path / MANIFEST, manifest)
    keep = {s["file"] for f in fields.values() for s in f["shards"]}
    for old in path.glob("*.safetensors"):
        if old.name not in keep:
            old.unlink()
    return path


def _write_shards(path: Path, name: str, tensor: torch.Tensor, save_id: str, shard_bytes: int) -> list[dict]:
    rows = tensor.shape[0] if tensor.dim() else 1
    row_bytes = max(1, tensor.numel() * tensor.element_size() // max(rows, 1))
    per_shard = max(1, shard_bytes // row_bytes)
    shards = []
    for k, r0 in enumerate(range(0, max(rows, 1), per_shard)):
        r1 = min(rows, r0 + per_shard)
        chunk = (tensor[r0:r1] if tensor.dim() else tensor).detach().cpu().contiguous()
        data = safetensors.torch.save({name: chunk})
        file = f"{name}.{k:03d}.{save_id}.safetensors"
        atomic_write_bytes(path / file, data)
        shards.append({"file": file, "rows": [r0, r1], "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})
    return shards


def read_manifest(path: str | os.PathLike, expect: BufferConfig | None = None) -> tuple[dict, BufferConfig]:
    """The verified manifest of the buffer saved in ``path`` and the config it was saved with
    (``ReplayBuffer.load`` builds the buffer from that config, then fills it through ``read_fields``).

    ``expect``: where given, the saved config must equal it (a resumed run's config), else
    ``CheckpointError`` lists the fields that differ.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    try:
        config = BufferConfig.from_json(manifest["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path / MANIFEST}: its replay config is not valid: {e}") from e
    if expect is not None and expect != config:
        diff = {k: (v, getattr(expect, k)) for k, v in config.to_json().items()
                if v != expect.to_json()[k]}
        raise CheckpointError(f"{path}: the saved buffer's config differs from the expected one in "
                              + ", ".join(f"{k} (saved {a!r}, expected {b!r})" for k, (a, b) in diff.items()))
    return manifest, config


def read_fields(path: str | os.PathLike, manifest: dict, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every field of the save in ``path``, checked against ``targets`` (what the buffer built from the saved
    config holds: ``ReplayBuffer.state()``) in name, shape and dtype; storage fields are read straight into
    their targets (no second copy of a multi-GB ring), the rest into new CPU tensors."""
    path = Path(path)
    fields = manifest["fields"]
    missing, extra = sorted(set(targets) - set(fields)), sorted(set(fields) - set(targets))
    if missing or extra:
        raise CheckpointError(f"{path / MANIFEST}: fields do not match this buffer's: missing {missing}, "
                              f"unexpected {extra}")
    loaded = {}
    for name, target in targets.items():
        entry = fields[name]
        want_dtype = str(target.dtype).removeprefix("torch.")
        if list(entry["shape"]) != list(target.shape) or entry["dtype"] != want_dtype:
            raise CheckpointError(f"{path / MANIFEST}: field {name!r} is saved with shape {entry['shape']} and dtype "
                                  f"{entry['dtype']}; the buffer its config builds has {list(target.shape)} and "
                                  f"{want_dtype}")
        into = target if name.startswith("storage.") else torch.empty_like(target, device="cpu")
        _read_shards(path, name, entry, into)
        loaded[name] = into
    return loaded


def _read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    if not file.is_file():
        raise CheckpointError(f"{path}: no {MANIFEST} (not a saved replay buffer, or the save never finished)")
    try:
        manifest = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{file} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{file}: format is {manifest.get('format') if isinstance(manifest, dict) else None!r}, "
                              f"expected {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{file}: version {manifest.get('version')!r}; this fastrl reads version {VERSION}")
    for key in ("config", "meta", "fields"):
        if key not in manifest:
            raise CheckpointError(f"{file} lacks {key!r}")
    problem = schema_problem(manifest, SCHEMA)
    if problem:
        raise CheckpointError(f"{file} is corrupt: {problem}")
    if manifest["meta"]["steps"] < 0:
        raise CheckpointError(f"{file} is corrupt: meta.steps {manifest['meta']['steps']} is negative")
    return manifest


#: what a saved buffer's manifest.json holds (``fastrl.checkpoint.schema_problem``)
SCHEMA = {"format": str, "version": int, "config": {}, "meta": {"steps": int, "sampler": {"kind": str}},
          "fields": {str: {"shape": [int], "dtype": str,
                           "shards": [{"file": str, "rows": [int], "bytes": int, "sha256": str}]}}}


def _read_shards(path: Path, name: str, entry: dict, into: torch.Tensor) -> None:
    rows = into.shape[0] if into.dim() else 1
    covered = 0
    for shard in entry["shards"]:
        file = path / shard["file"]
        if not file.is_file():
            raise CheckpointError(f"{path}: shard {shard['file']} of field {name!r} is missing")
        data = file.read_bytes()
        if len(data) != shard["bytes"] or hashlib.sha256(data).hexdigest() != shard["sha256"]:
            raise CheckpointError(f"{file}: shard of field {name!r} is corrupt ({len(data)} bytes, expected "
                                  f"{shard['bytes']}; sha256 mismatch)")
        try:
            chunk = safetensors.torch.load(data)[name]
        except Exception as e:  # safetensors raises its own error types for a bad header
            raise CheckpointError(f"{file}: cannot read field {name!r} from it: {e}") from e
        r0, r1 = shard["rows"]
        if r0 != covered or r1 > rows:
            raise CheckpointError(f"{path / MANIFEST}: shards of field {name!r} do not tile its {rows} rows "
                                  f"(shard {shard['file']} covers [{r0}, {r1}))")
        part = into[r0:r1] if into.dim() else into
        if chunk.shape != part.shape or chunk.dtype != part.dtype:
            raise CheckpointError(f"{file}: holds {name!r} with shape {tuple(chunk.shape)} and dtype {chunk.dtype}, "
                                  f"expected {tuple(part.shape)} and {part.dtype}")
        part.copy_(chunk)
        covered = r1
    if covered != rows:
        raise CheckpointError(f"{path / MANIFEST}: shards of field {name!r} cover {covered} of its {rows} rows")
