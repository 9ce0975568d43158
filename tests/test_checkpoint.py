"""Checkpoints: state trees round-trip exactly, writes are atomic, damage is reported, RNG states restore."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from fastrl import checkpoint


def _optimizer_after_a_step():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, eps=1.5e-4)
    net(torch.randn(8, 5)).square().mean().backward()
    opt.step()
    return net, opt


def test_state_tree_round_trips_exactly(tmp_path):
    net, opt = _optimizer_after_a_step()
    state = {"net": net.state_dict(), "optimizer": opt.state_dict(), "counters": {"updates": 7, "eps": 0.25},
             "flags": [True, None, "text"], "frames": torch.arange(12, dtype=torch.uint8).view(3, 4)}
    path = checkpoint.save(tmp_path, 1234, state)
    assert path.name == "step_000000001234"
    loaded = checkpoint.load(tmp_path)
    assert loaded.step == 1234 and loaded.path == path
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state["net"][k], v)
    assert loaded.state["counters"] == {"updates": 7, "eps": 0.25}
    assert loaded.state["flags"] == [True, None, "text"]
    assert loaded.state["frames"].dtype == torch.uint8 and torch.equal(loaded.state["frames"], state["frames"])
    # Optimizer state is keyed by parameter index (int); the keys must come back as ints or
    # load_state_dict would silently drop the moments.
    assert set(loaded.state["optimizer"]["state"]) == {0, 1, 2, 3}


def test_restored_optimizer_continues_identically(tmp_path):
    net, opt = _optimizer_after_a_step()
    checkpoint.save(tmp_path, 1, {"net": net.state_dict(), "optimizer": opt.state_dict()})
    twin = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1.0)
    loaded = checkpoint.load(tmp_path).state
    twin.load_state_dict(loaded["net"])
    twin_opt.load_state_dict(loaded["optimizer"])
    x = torch.randn(8, 5)
    for model, optimizer in ((net, opt), (twin, twin_opt)):
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_rng_states_restore_every_stream(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(4)
    checkpoint.save(tmp_path, 5, {"rng": checkpoint.rng_state(), "gen": checkpoint.generator_state(generator)})
    json.dumps(checkpoint.rng_state())  # JSON-able as it stands
    expected = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=generator))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    loaded = checkpoint.load(tmp_path).state
    checkpoint.set_rng_state(loaded["rng"])
    checkpoint.set_generator_state(generator, loaded["gen"])
    got = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=generator))
    assert got[0] == expected[0] and got[1] == expected[1]
    assert torch.equal(got[2], expected[2]) and torch.equal(got[3], expected[3])


def test_extra_parts_are_written_inside_the_atomic_directory(tmp_path):
    def write_part(directory):
        directory.mkdir()
        (directory / "data.bin").write_bytes(b"abc")

    path = checkpoint.save(tmp_path, 10, {}, extra={"replay": write_part})
    assert (path / "replay" / "data.bin").read_bytes() == b"abc"


def test_failed_write_leaves_no_partial_checkpoint(tmp_path):
    checkpoint.save(tmp_path, 10, {"x": torch.ones(2)})

    def fail(directory):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(tmp_path, 20, {"x": torch.ones(2)}, extra={"replay": fail})
    assert [p.name for p in checkpoint.checkpoint_dir(tmp_path).iterdir()] == ["step_000000000010"]
    assert checkpoint.load(tmp_path).step == 10


def test_keep_deletes_the_oldest(tmp_path):
    for step in (1, 2, 3, 4):
        checkpoint.save(tmp_path, step, {"step": step}, keep=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_000000000003", "step_000000000004"]


def test_saving_the_same_step_again_replaces_it(tmp_path):
    checkpoint.save(tmp_path, 3, {"v": 1})
    checkpoint.save(tmp_path, 3, {"v": 2})
    assert checkpoint.load(tmp_path).state == {"v": 2}
    assert len(list(checkpoint.checkpoint_dir(tmp_path).iterdir())) == 1


def test_corrupt_tensor_file_is_reported_with_the_other_checkpoints(tmp_path):
    checkpoint.save(tmp_path, 1, {"x": torch.ones(4)})
    path = checkpoint.save(tmp_path, 2, {"x": torch.ones(4)})
    data = bytearray((path / checkpoint.TENSORS).read_bytes())
    data[-1] ^= 0xFF
    (path / checkpoint.TENSORS).write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"tensors.safetensors is corrupt: its sha256.*other checkpoints of this run: "
                             r"step_000000000001"):
        checkpoint.load(tmp_path)


def test_truncated_and_missing_files_are_reported(tmp_path):
    path = checkpoint.save(tmp_path, 1, {"x": torch.ones(4)})
    (path / checkpoint.STATE).write_bytes((path / checkpoint.STATE).read_bytes()[:5])
    with pytest.raises(checkpoint.CheckpointError, match=r"state.json is corrupt: \d+ bytes, the manifest says"):
        checkpoint.load(path)
    (path / checkpoint.TENSORS).unlink()
    with pytest.raises(checkpoint.CheckpointError, match="lacks tensors.safetensors"):
        checkpoint.load(path)
    (path / checkpoint.MANIFEST).write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="manifest.json is corrupt: not valid JSON"):
        checkpoint.load(path)


def test_missing_run_or_checkpoint_is_reported(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nope")
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in .*checkpoints"):
        checkpoint.load(tmp_path)


def test_objects_that_are_not_data_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"at 'a/b': cannot save a value of type object"):
        checkpoint.save(tmp_path, 1, {"a": {"b": object()}})
    assert checkpoint.list_checkpoints(tmp_path) == []
