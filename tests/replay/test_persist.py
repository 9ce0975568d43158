"""Save -> load gives the same buffer: identical samples with the same generator, the same continuation;
a missing or corrupt shard, a tampered manifest or another config is refused with a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scripted_env import ScriptedEnvs

from fastrl.replay import BufferConfig, CheckpointError, ReplayBuffer, load, save

CONFIG = BufferConfig(capacity=3 * 20, num_envs=3, obs_shape=(4, 6, 6), obs_dtype="uint8", frame_stack=4,
                      n_step=3, prioritized=True, beta_steps=50)


def run(envs: ScriptedEnvs, buffer: ReplayBuffer, calls: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if buffer.steps == 0:
        buffer.add(envs.reset())
    for _ in range(calls):
        actions = rng.integers(0, 6, envs.num_envs)
        obs, reward, terminated, truncated = envs.step(actions)
        buffer.add(obs, torch.from_numpy(actions), reward, terminated, truncated)


def make_envs() -> ScriptedEnvs:
    return ScriptedEnvs([[1, 4, 9], [6, 2], [3]], [["term", "trunc", "term"], ["trunc", "term"], ["term"]])


def filled() -> tuple[ScriptedEnvs, ReplayBuffer]:
    envs, buffer = make_envs(), ReplayBuffer(CONFIG)
    run(envs, buffer, 45, seed=0)  # wraps the 20-slot rings twice, leaves n-step transitions pending
    batch = buffer.sample(16, torch.Generator().manual_seed(0))
    buffer.update_priorities(batch.indices, torch.rand(16, generator=torch.Generator().manual_seed(1)) * 3)
    return envs, buffer


def assert_same_batches(a: ReplayBuffer, b: ReplayBuffer, seed: int) -> None:
    ga, gb = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    for _ in range(3):
        x, y = a.sample(32, ga), b.sample(32, gb)
        for name, u, v in zip(x._fields, x, y, strict=True):
            assert torch.equal(u, v), name


def test_save_load_gives_identical_samples_and_continuation(tmp_path):
    envs, buffer = filled()
    save(buffer, tmp_path / "replay", shard_bytes=1000)  # small shards: several per field
    manifest = json.loads((tmp_path / "replay" / "manifest.json").read_text())
    assert len(manifest["fields"]["storage.frames"]["shards"]) > 1
    restored = load(tmp_path / "replay", expect=CONFIG)
    assert restored.steps == buffer.steps and len(restored) == len(buffer)
    assert restored.sampler.batches == buffer.sampler.batches
    assert torch.equal(restored.sampler.leaf_priorities(), buffer.sampler.leaf_priorities())
    assert_same_batches(buffer, restored, seed=7)
    # the pending n-step state came along: both continue identically with the same env steps
    twin = make_envs()
    run(twin, ReplayBuffer(CONFIG), 45, seed=0)  # replays the same env history to the same point
    run(envs, buffer, 10, seed=5)
    run(twin, restored, 10, seed=5)
    for name, t in buffer.storage.tensors.items():
        assert torch.equal(t[:-1] if name in ("reward", "discount", "horizon", "valid") else t,
                           restored.storage[name][:-1] if name in ("reward", "discount", "horizon", "valid")
                           else restored.storage[name]), name
    assert_same_batches(buffer, restored, seed=8)


def test_save_replaces_the_previous_save(tmp_path):
    envs, buffer = filled()
    save(buffer, tmp_path)
    first = set(p.name for p in tmp_path.glob("*.safetensors"))
    run(envs, buffer, 3, seed=1)
    save(buffer, tmp_path)
    second = set(p.name for p in tmp_path.glob("*.safetensors"))
    assert first.isdisjoint(second)  # the old save's shards are gone, the new manifest names only its own
    assert load(tmp_path).steps == buffer.steps


def test_corrupt_or_missing_shards_are_named(tmp_path):
    _, buffer = filled()
    save(buffer, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    shard = tmp_path / manifest["fields"]["storage.frames"]["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="storage.frames.*corrupt"):
        load(tmp_path)
    shard.unlink()
    with pytest.raises(CheckpointError, match="shard .* of field 'storage.frames' is missing"):
        load(tmp_path)


def test_manifest_mismatches_are_refused(tmp_path):
    _, buffer = filled()
    save(buffer, tmp_path)
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    with pytest.raises(CheckpointError, match="n_step \\(saved 3, expected 1\\)"):
        load(tmp_path, expect=BufferConfig(**{**CONFIG.to_json(), "n_step": 1}))
    tampered = json.loads(json.dumps(manifest))
    tampered["fields"]["storage.action"]["dtype"] = "int32"
    path.write_text(json.dumps(tampered))
    with pytest.raises(CheckpointError, match="'storage.action' is saved with shape .* dtype int32"):
        load(tmp_path)
    tampered = json.loads(json.dumps(manifest))
    tampered["config"]["capacity"] = 3 * 21  # a config whose buffer has other shapes than the shards
    path.write_text(json.dumps(tampered))
    with pytest.raises(CheckpointError, match="is saved with shape"):
        load(tmp_path)
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(tmp_path)
    path.unlink()
    with pytest.raises(CheckpointError, match="no manifest.json"):
        load(tmp_path)
