"""A run directory survives its users' mistakes and its process's deaths (issue 20): resumes that do not fit
are refused before anything is written, torn logs are cut back, stale files set aside, one writer at a time,
signals end a run with a checkpoint, and every user's error is one line naming the file."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal

import pytest

from fastrl import checkpoint
from fastrl.config import ConfigError, preset
from fastrl.log import EPISODES, METRICS, read_jsonl
from fastrl.runner import train
from fastrl.train_cli import train_main

K = 400  # env steps of the first part of a run (50 steps of 8 Catch envs)


def catch(run_dir, **run_overrides):
    base = preset("dqn-catch")
    dqn = dataclasses.replace(base.dqn, learning_starts=200, **run_overrides.pop("dqn", {}))
    fields = dict(run_dir=run_dir, total_env_steps=2 * K, log_interval=100, checkpoint_interval=K, eval_interval=0,
                  eval_episodes=4, tensorboard=False, progress=False, dqn=dqn)
    return dataclasses.replace(base, **{**fields, **run_overrides})


def ppo_catch(run_dir, **ppo_overrides):
    base = preset("ppo-catch")
    return dataclasses.replace(base, run_dir=run_dir, total_env_steps=2048, log_interval=512, checkpoint_interval=1024,
                               eval_interval=0, eval_episodes=4, tensorboard=False, progress=False,
                               ppo=dataclasses.replace(base.ppo, **ppo_overrides))


def snapshot(run_dir):
    """Every file of a run directory with its bytes (what a refused resume must leave as it was)."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def one_line_error(capsys, code, *expected):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err, err
    err = err.splitlines()[-1]  # after any "resuming ... with ... changed" line
    assert ": error: " in err, err
    for text in expected:
        assert text in err, err
    return err


# ---- item 1: overrides on resume that change shapes ------------------------------------------------------


def test_resume_refuses_overrides_that_change_shapes_and_leaves_the_run_as_it_was(tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = catch(run_dir)
    train(config, stop_at=K)
    before = snapshot(run_dir)
    changes = [(dataclasses.replace(config, env=dataclasses.replace(config.env, num_envs=16)), "--num-envs"),
               (dataclasses.replace(config, dqn=dataclasses.replace(config.dqn, hidden=(128,))), "--hidden"),
               (dataclasses.replace(config, dqn=dataclasses.replace(config.dqn, dueling=True)), "--dueling")]
    for changed, flag in changes:
        with pytest.raises(ConfigError, match=flag):
            train(changed, resume=run_dir)
        assert snapshot(run_dir) == before, flag
    for argv, flag in [(["--num-envs", "16"], "--num-envs 16"), (["--hidden", "128"], "--hidden [128]"),
                       (["--dueling"], "--dueling true")]:
        one_line_error(capsys, train_main(["--resume", str(run_dir), *argv]), flag, "checkpoint")
        assert snapshot(run_dir) == before, flag
    train(resume=run_dir)  # still resumable as it was
    assert checkpoint.load(run_dir).step == 2 * K


def test_ppo_resume_refuses_another_hidden(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(ppo_catch(run_dir), stop_at=1024)
    before = snapshot(run_dir)
    one_line_error(capsys, train_main(["--resume", str(run_dir), "--hidden", "32", "32"]), "--hidden [32, 32]")
    assert snapshot(run_dir) == before


# ---- item 7: SIGINT / SIGTERM end a run with a checkpoint, and a periodic checkpoint by default -----------


def _signal_at(monkeypatch, step, signum, during_save=0):
    """Send ``signum`` to this process once the run passes env step ``step`` (and ``during_save`` more
    while the checkpoint is written)."""
    from fastrl import runner

    after_step, save = runner.Run.after_step, checkpoint.save
    sent = []

    def after(self, info):
        after_step(self, info)
        if self.env_steps >= step and not sent:
            sent.append(self.env_steps)
            os.kill(os.getpid(), signum)

    def saving(*args, **kwargs):
        for _ in range(during_save if sent else 0):
            os.kill(os.getpid(), signum)
        return save(*args, **kwargs)

    monkeypatch.setattr(runner.Run, "after_step", after)
    monkeypatch.setattr(checkpoint, "save", saving)
    return sent


def test_sigint_finishes_the_step_writes_a_checkpoint_and_the_run_resumes_bit_for_bit(tmp_path, monkeypatch, capsys):
    whole, split = tmp_path / "whole", tmp_path / "split"
    config = catch(whole, checkpoint_interval=0)
    train(dataclasses.replace(config, replay=dataclasses.replace(config.replay, save_with_checkpoint=True)))
    with monkeypatch.context() as m:
        sent = _signal_at(m, 304, signal.SIGINT, during_save=5)  # not a log or checkpoint step
        code = train_main(["dqn", "--preset", "dqn-catch", "--run-dir", str(split), "--total-env-steps", str(2 * K),
                           "--log-interval", "100", "--checkpoint-interval", "0", "--learning-starts", "200",
                           "--eval-episodes", "4", "--no-tensorboard", "--no-progress",
                           "--save-with-checkpoint"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 130, err
    assert f"received SIGINT: stopped at env step {sent[0]}" in err and f"--resume {split}" in err, err
    assert checkpoint.load(split).step == sent[0]
    train(resume=split)
    a, b = (checkpoint.load(d).state["loop"]["learner"]["online"] for d in (whole, split))
    assert all((a[k] == b[k]).all() for k in a)
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)


def test_sigterm_stops_ppo_with_a_checkpoint(tmp_path, monkeypatch):
    from fastrl.runner import RunInterrupted

    run_dir = tmp_path / "run"
    config = ppo_catch(run_dir)
    rollout = config.ppo.num_steps * config.env.num_envs
    _signal_at(monkeypatch, rollout // 2, signal.SIGTERM)  # mid-rollout: it ends at the rollout's end
    with pytest.raises(RunInterrupted, match=rf"received SIGTERM: stopped at env step {rollout}, .*--resume"):
        train(config)
    assert checkpoint.load(run_dir).step == rollout
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the run's handlers are gone


def test_every_run_checkpoints_along_the_way_by_default():
    config = dataclasses.replace(preset("ppo-cartpole"), total_env_steps=3000)
    assert config.checkpoint_interval is None and config.checkpoint_every() == max(300, config.log_interval)
    assert dataclasses.replace(config, checkpoint_interval=0).checkpoint_every() == 0
    with pytest.raises(ConfigError, match="--checkpoint-interval -1"):
        dataclasses.replace(config, checkpoint_interval=-1)


# ---- items 4, 5, 6: stale files, one writer, leftovers of a kill ------------------------------------------


def test_a_fresh_start_sets_aside_the_files_of_a_run_killed_before_its_first_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / METRICS).write_text('{"env_steps": 100, "loss": 9.0}\n')
    (run_dir / EPISODES).write_text('{"env_steps": 50, "return": 1.0, "length": 9}\n')
    (run_dir / "notes.txt").write_text("mine")
    train(catch(run_dir, total_env_steps=K))
    assert "moved it to" in capsys.readouterr().err
    steps = [r["env_steps"] for r in read_jsonl(run_dir / METRICS)]
    assert steps[0] == 104 and steps[-1] == K and steps == sorted(set(steps))
    assert all(r.get("loss") != 9.0 for r in read_jsonl(run_dir / METRICS))
    aside = next(run_dir.glob("previous-*"))
    assert (aside / METRICS).read_text() == '{"env_steps": 100, "loss": 9.0}\n'
    assert (run_dir / "notes.txt").read_text() == "mine"  # not a run's file: left alone


def test_a_second_writer_of_a_run_directory_is_refused(tmp_path, capsys):
    from fastrl import rundir

    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    held = rundir.lock(run_dir)  # as another fastrl train would hold it
    try:
        one_line_error(capsys, train_main(["--resume", str(run_dir)]), "is in use by another fastrl train",
                       f"pid {os.getpid()}")
    finally:
        rundir.unlock(held)
    train(resume=run_dir)
    assert checkpoint.load(run_dir).step == 2 * K


def test_leftovers_of_a_killed_save_or_delete_are_removed_at_the_next_start(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    parent = checkpoint.checkpoint_dir(run_dir)
    (parent / ".step_000000000500.x1.tmp").mkdir()
    (parent / ".step_000000000500.x1.tmp" / "tensors.safetensors").write_bytes(b"half")
    (parent / "step_000000000200").mkdir()  # a delete cut short: its manifest went first
    (parent / "step_000000000200" / "tensors.safetensors").write_bytes(b"old")
    train(resume=run_dir)
    err = capsys.readouterr().err
    assert "removed what an interrupted checkpoint write left" in err and "step_000000000200" in err
    names = sorted(p.name for p in parent.iterdir())
    assert names == [f"step_{K:012d}", f"step_{2 * K:012d}"]


def test_old_checkpoints_are_renamed_aside_before_they_are_deleted(tmp_path, monkeypatch):
    import shutil

    run_dir = tmp_path / "run"
    deleted = []
    rmtree = shutil.rmtree
    monkeypatch.setattr(shutil, "rmtree", lambda path, *a, **k: (deleted.append(os.path.basename(path)),
                                                                  rmtree(path, *a, **k)))
    train(catch(run_dir, checkpoint_interval=200, keep_checkpoints=1, total_env_steps=K))
    gone = [n for n in deleted if "step_" in n and not n.endswith(".tmp")]
    assert gone and all(n.startswith(".step_") and n.endswith(".del") for n in gone), gone


# ---- item 2: torn log lines ------------------------------------------------------------------------------


def test_resume_cuts_a_torn_last_line_and_later_rows_and_says_so(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    episodes = (run_dir / EPISODES).read_text()
    with open(run_dir / EPISODES, "a") as f:
        f.write('{"env_steps": 999, "return": 1.0, "length": 9}\n{"env_steps": 2552, "')  # disk full mid-row
    with open(run_dir / METRICS, "a") as f:
        f.write('{"env_steps": 500, "loss": 1.0}\n{"env_steps": 6')
    capsys.readouterr()
    train(resume=run_dir)
    err = capsys.readouterr().err
    assert f"{run_dir / EPISODES}: dropped a torn last line" in err and "1 row(s) written after" in err, err
    assert f"{run_dir / METRICS}: dropped a torn last line" in err, err
    assert (run_dir / EPISODES).read_text().startswith(episodes)
    steps = [r["env_steps"] for r in read_jsonl(run_dir / METRICS)]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * K and 500 not in steps


def test_a_broken_log_line_is_an_error_naming_the_file_and_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    lines = (run_dir / METRICS).read_text().splitlines(keepends=True)
    (run_dir / METRICS).write_text("".join(lines[:1] + ['{"env_steps": 1\n'] + lines[1:]))
    one_line_error(capsys, train_main(["--resume", str(run_dir)]), f"{run_dir / METRICS}:2: not a JSON line")


# ---- item 3: a full disk ---------------------------------------------------------------------------------


def _full_disk(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_disk(tmp_path):
    """A directory on a 64 KiB tmpfs that is already full (root can mount one; else the test skips)."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with open(mount / "fill", "wb", buffering=0) as fill, contextlib.suppress(OSError):
            while True:
                fill.write(b"\0" * 4096)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("algo, preset, flags", [("dqn", "dqn-catch", []), ("ppo", "ppo-catch", ["--no-tensorboard"]),
                                                  ("a3c", "a3c-catch", [])])
def test_a_full_disk_at_the_start_is_one_line_without_a_thread_traceback(full_disk, algo, preset, flags):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fastrl", "train", algo, "--preset", preset, "--run-dir",
                           str(full_disk / "run"), "--no-progress", *flags], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception in thread" not in done.stderr, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert f"fastrl train {algo}: error: could not write {full_disk / 'run'}" in line, line
    assert "No space left on device; no checkpoint has been written yet" in line, line


def test_a_full_disk_while_checkpointing_is_one_line_naming_the_intact_checkpoint(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", _full_disk)
    err = one_line_error(capsys, train_main(["--resume", str(run_dir)]), "could not write",
                         "No space left on device", f"the last checkpoint {checkpoint.latest(run_dir)} (env step 400) "
                                                    f"is intact")
    assert str(checkpoint.checkpoint_dir(run_dir)) in err
    assert [p.name for p in checkpoint.checkpoint_dir(run_dir).iterdir()] == [f"step_{K:012d}"]  # no leftovers


def test_a_full_disk_while_logging_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    import io

    from fastrl import log

    class Full(io.StringIO):
        def flush(self):
            _full_disk()

    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    opened = open

    def full_open(path, mode="r", *args, **kwargs):
        return Full() if str(path).endswith(METRICS) and mode == "a" else opened(path, mode, *args, **kwargs)

    monkeypatch.setattr(log, "open", full_open, raising=False)
    one_line_error(capsys, train_main(["--resume", str(run_dir)]), f"could not write {run_dir / METRICS}",
                   "env step 400) is intact")


# ---- item 11: divergence ---------------------------------------------------------------------------------


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_keeps_its_good_checkpoints(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = train_main(["dqn", "--preset", "dqn-catch", "--run-dir", str(run_dir), "--total-env-steps", "4000",
                       "--log-interval", "200", "--checkpoint-interval", "200", "--learning-starts", "200",
                       "--lr", "1e30", "--max-grad-norm", "0", "--no-tensorboard", "--no-progress"])
    err = one_line_error(capsys, code, "training diverged", "at env step")
    assert "the last checkpoint" in err or "no checkpoint" in err
    for path in checkpoint.list_checkpoints(run_dir):
        learner = checkpoint.load(path).state["loop"]["learner"]
        assert all(t.isfinite().all() for t in learner["online"].values()), path


def test_a_learner_with_nan_parameters_is_never_checkpointed(tmp_path):
    import torch

    from fastrl.checkpoint import TrainingDiverged
    from fastrl.runner import Run

    run_dir = tmp_path / "run"
    config = catch(run_dir)
    run = Run(config, run_dir, None)
    try:
        with pytest.raises(TrainingDiverged, match=r"learner/online/w is not finite.*no checkpoint"):
            run.save_checkpoint(None, {"learner": {"online": {"w": torch.tensor([1.0, float("nan")])}}})
    finally:
        run.close()
    assert checkpoint.list_checkpoints(run_dir) == []


# ---- items 10, 12: errors name the file; smaller checks ---------------------------------------------------


@pytest.mark.parametrize("edit, expected", [
    (lambda text: text[: len(text) // 2], "is not valid JSON ("),
    (lambda text: text.replace('"lr"', '"lrr"'), "unknown field(s) lrr for DQNConfig"),
    (lambda text: text.replace('"lr": 0.001', '"lr": "abc"'), "--lr 'abc': expected a finite number"),
    (lambda text: "[1, 2]", "expected a JSON object"),
])
def test_a_broken_config_json_is_one_line_naming_the_file(tmp_path, capsys, edit, expected):
    run_dir = tmp_path / "run"
    train(catch(run_dir, dqn=dict(lr=0.001)), stop_at=K)
    config = run_dir / "config.json"
    config.write_text(edit(config.read_text()))
    for flags in ([], ["--total-env-steps", "2000"]):
        one_line_error(capsys, train_main(["--resume", str(run_dir), *flags]), f"{config}", expected)


def test_eval_refuses_a_config_that_does_not_fit_its_checkpoint_and_an_epsilon_above_one(tmp_path, capsys):
    from fastrl.train_cli import eval_main

    run_dir = tmp_path / "run"
    train(catch(run_dir, dqn=dict(hidden=(32,))), stop_at=K)
    one_line_error(capsys, eval_main([str(run_dir), "--epsilon", "2"]), "--epsilon 2.0: expected a probability")
    (run_dir / "config.json").write_text("{}")
    one_line_error(capsys, eval_main([str(run_dir), "--episodes", "2"]), "does not fit its checkpoint")


def test_resume_without_its_run_directory_is_a_clear_error(capsys):
    one_line_error(capsys, train_main(["--resume", "--no-progress"]), "--resume --no-progress: expected the run directory")


def test_replay_config_refuses_nan_out_of_range_and_negative_shapes():
    from fastrl.replay import BufferConfig

    for bad in (dict(gamma=float("nan")), dict(gamma=5.0), dict(beta_start=float("nan")), dict(obs_shape=(-3,)),
                dict(alpha=float("inf"))):
        with pytest.raises(ValueError, match="BufferConfig"):
            BufferConfig(**{"capacity": 100, "num_envs": 1, "obs_shape": (4,), **bad})


@pytest.mark.parametrize("env_id, backend", [("Catch-v0", "native"), ("CartPole-v1", "native"),
                                             ("CartPole-v1", "gymnasium")])
def test_an_env_refuses_to_step_after_close(env_id, backend):
    import torch

    from fastrl.envs import make_env

    envs = make_env(env_id, 2, backend=backend, seed=0)
    envs.reset(seed=0)
    envs.close()
    envs.close()  # twice is fine
    with pytest.raises(RuntimeError, match=r"step\(\) after close\(\)"):
        envs.step(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"reset\(\) after close\(\)"):
        envs.reset(seed=0)


def test_atomically_written_files_get_the_mode_of_the_logs(tmp_path):
    run_dir = tmp_path / "run"
    train(catch(run_dir, total_env_steps=K))
    mode = (run_dir / METRICS).stat().st_mode & 0o777
    for path in (run_dir / "config.json", run_dir / "meta.json", checkpoint.latest(run_dir) / "manifest.json"):
        assert path.stat().st_mode & 0o777 == mode, path


# ---- items 8, 9: corrupt or edited manifests ---------------------------------------------------------------


def _edit_json(path, change):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


@pytest.mark.parametrize("change, expected", [
    (lambda m: {k: v for k, v in m.items() if k != "files"}, "lacks 'files'"),
    (lambda m: [], "expected an object, got a list"),
    (lambda m: {**m, "files": {"tensors.safetensors": {"bytes": 1}}}, "files.tensors.safetensors: lacks 'sha256'"),
    (lambda m: {**m, "step": "400"}, "step: expected int, got text"),
    (lambda m: {**m, "step": m["step"] + 100}, "its step 500 differs from its folder's name"),
])
def test_a_corrupt_or_edited_checkpoint_manifest_is_one_line_naming_it(tmp_path, capsys, change, expected):
    from fastrl.train_cli import eval_main

    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    manifest = checkpoint.latest(run_dir) / "manifest.json"
    _edit_json(manifest, change)
    one_line_error(capsys, train_main(["--resume", str(run_dir)]), f"{manifest}", expected)
    one_line_error(capsys, eval_main([str(run_dir), "--episodes", "2"]), f"{manifest}", expected)


def test_a_renamed_checkpoint_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(catch(run_dir), stop_at=K)
    path = checkpoint.latest(run_dir)
    path.rename(path.with_name(f"step_{K + 100:012d}"))
    _edit_json(path.with_name(f"step_{K + 100:012d}") / "manifest.json", lambda m: {**m, "step": K + 100})
    one_line_error(capsys, train_main(["--resume", str(run_dir)]), "its state says env step 400")


@pytest.mark.parametrize("change, expected", [
    (lambda m: {**m, "meta": {**m["meta"], "steps": m["meta"]["steps"] + 7}}, "differs from the"),
    (lambda m: {**m, "fields": {k: {**v, "shape": "x"} for k, v in m["fields"].items()}}, "shape: expected a list"),
    (lambda m: {k: v for k, v in m.items() if k != "meta"}, "lacks 'meta'"),
])
def test_a_corrupt_or_edited_replay_manifest_is_one_line_naming_it(tmp_path, capsys, change, expected):
    run_dir = tmp_path / "run"
    config = catch(run_dir)
    train(dataclasses.replace(config, replay=dataclasses.replace(config.replay, save_with_checkpoint=True)), stop_at=K)
    manifest = checkpoint.latest(run_dir) / "replay" / "manifest.json"
    _edit_json(manifest, change)
    one_line_error(capsys, train_main(["--resume", str(run_dir)]), f"{manifest}", expected)


def test_a_signal_noted_while_fastrl_train_starts_stops_the_run_at_its_first_step(tmp_path, monkeypatch):
    from fastrl import cli, signals
    from fastrl.runner import RunInterrupted

    monkeypatch.setattr(signals, "received", ["SIGTERM"])  # as signals.defer() notes one during the imports
    with pytest.raises(RunInterrupted, match="received SIGTERM: stopped at env step 8,"):
        train(catch(tmp_path / "run"))
    assert checkpoint.load(tmp_path / "run").step == 8
    # `fastrl train` notes signals from its start and restores the handlers after
    before = signal.getsignal(signal.SIGINT)
    assert cli.main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert signal.getsignal(signal.SIGINT) is before
