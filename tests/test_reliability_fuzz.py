"""Property tests (Hypothesis): whatever JSON a checkpoint's manifest, a replay's manifest or a run's config.json
holds, reading it either works or raises the one-line error of its kind, naming the file: never a traceback
of another type (KeyError, AttributeError, TypeError, a size mismatch)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastrl import checkpoint
from fastrl.config import ConfigError, preset
from fastrl.runner import load_run_config, train

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fuzz") / "run"
    base = preset("dqn-catch")
    config = dataclasses.replace(base, run_dir=run_dir, total_env_steps=400, log_interval=200, checkpoint_interval=200,
                                 eval_episodes=2, tensorboard=False, progress=False,
                                 replay=dataclasses.replace(base.replay, save_with_checkpoint=True),
                                 dqn=dataclasses.replace(base.dqn, learning_starts=200))
    train(config, stop_at=200)
    return run_dir


def _mutations(original):
    """Edits of a real manifest: a key dropped, a value replaced by any JSON, or the whole of it replaced."""
    keys = sorted(original) if isinstance(original, dict) else []
    replace = st.tuples(st.sampled_from(keys), JSON).map(lambda kv: {**original, kv[0]: kv[1]}) if keys else JSON
    drop = st.sampled_from(keys).map(lambda k: {key: v for key, v in original.items() if key != k}) if keys else JSON
    return st.one_of(JSON, replace, drop)


def _with_file(path, data, read):
    saved = path.read_bytes()
    try:
        path.write_text(json.dumps(data))
        read()
    finally:
        path.write_bytes(saved)


@FUZZ
@given(data=st.data())
def test_any_checkpoint_manifest_loads_or_is_a_checkpoint_error(saved_run, data):
    manifest = checkpoint.latest(saved_run) / "manifest.json"
    value = data.draw(_mutations(json.loads(manifest.read_text())))
    try:
        _with_file(manifest, value, lambda: checkpoint.load(saved_run))
    except checkpoint.CheckpointError as err:
        assert str(manifest) in str(err) or str(manifest.parent) in str(err)


@FUZZ
@given(data=st.data())
def test_any_replay_manifest_loads_or_is_a_replay_error(saved_run, data, tmp_path):
    from fastrl.replay import ReplayBuffer
    from fastrl.replay.persist import CheckpointError as ReplayError

    replay = tmp_path / "replay"
    if not replay.exists():
        shutil.copytree(checkpoint.latest(saved_run) / "replay", replay)
    manifest = replay / "manifest.json"
    value = data.draw(_mutations(json.loads(manifest.read_text())))
    try:
        _with_file(manifest, value, lambda: ReplayBuffer.load(replay))
    except ReplayError as err:
        assert str(replay) in str(err)


@FUZZ
@given(data=st.data())
def test_any_config_json_loads_or_is_a_config_error_naming_it(saved_run, data):
    path = saved_run / "config.json"
    value = data.draw(_mutations(json.loads(path.read_text())))
    try:
        _with_file(path, value, lambda: load_run_config(saved_run))
    except ConfigError as err:
        assert str(path) in str(err)
