"""The algorithm registry: every family is declared once (``Algorithm``), and a new one is one folder and one
registry line: a toy family registered here trains, checkpoints, resumes and evaluates through the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fastrl import algos, checkpoint
from fastrl.algos.base import Algorithm
from fastrl.config import ALGO_FIELDS, PRESETS, ConfigError, RunConfig, preset
from fastrl.log import METRICS, read_jsonl
from fastrl.train_cli import eval_main, train_main

TOY = "toy_algo.spec"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setattr(algos, "SPECS", (*algos.SPECS, TOY))


def test_every_family_is_one_record_and_every_name_finds_it():
    found = algos.algorithms()
    assert set(found) == {"dqn", "ppo", "a3c", "ddpg", "td3", "d4pg", "alphazero", "reinforce", "nfq", "impala",
                          "unreal"}
    assert all(isinstance(a, Algorithm) for a in found.values())
    assert found["td3"] is found["ddpg"] is found["d4pg"]
    with pytest.raises(ConfigError, match="algo 'sac': unknown learner family; expected one of dqn, ppo"):
        algos.algorithm("sac")


def test_a_toy_family_is_one_folder_and_one_registry_line(toy, tmp_path, capsys):
    assert "toy-catch" in PRESETS and ALGO_FIELDS["toy"] == ()
    assert preset("toy-catch").algo == "toy"
    run_dir = tmp_path / "toy"
    assert train_main(["toy", "--preset", "toy-catch", "--total-env-steps", "200", "--run-dir", str(run_dir),
                       "--no-tensorboard", "--no-progress"]) == 0
    assert checkpoint.load(run_dir).step == 200
    assert train_main(["--resume", str(run_dir), "--total-env-steps", "400", "--no-progress"]) == 0
    rows = read_jsonl(run_dir / METRICS)
    assert rows[-1]["env_steps"] == 400 and rows[-1]["acted"] == 400  # the learner's state was resumed
    assert eval_main([str(run_dir), "--episodes", "4"]) == 0
    assert "uniform" in capsys.readouterr().out


def test_a_toy_spec_refuses_what_it_cannot_train(toy, capsys):
    assert train_main(["toy", "--env", "Pendulum-v1", "--no-progress"]) == 2
    assert "the toy needs a discrete action space" in capsys.readouterr().err


def test_a_registry_line_for_a_taken_name_is_refused(monkeypatch):
    monkeypatch.setattr(algos, "SPECS", (*algos.SPECS, "fastrl.algos.dqn.spec"))
    with pytest.raises(TypeError, match="algo name 'dqn' is taken by dqn"):
        algos.algorithms()


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_algorithm_imports_another_and_the_runner_imports_none():
    families = [p.name for p in (ROOT / "fastrl" / "algos").iterdir() if (p / "spec.py").exists()]
    for family in families:
        for path in (ROOT / "fastrl" / "algos" / family).rglob("*.py"):
            others = {m for m in _imports(path) for f in families
                      if f != family and m.startswith(f"fastrl.algos.{f}")}
            assert not others, f"{path} imports {others}"
    for layer in ("runner.py", "rundir.py", "log.py", "checkpoint.py", "config"):
        for path in ([ROOT / "fastrl" / layer] if layer.endswith(".py") else (ROOT / "fastrl" / layer).rglob("*.py")):
            families_imported = {m for m in _imports(path) for f in families if m.startswith(f"fastrl.algos.{f}")}
            assert not families_imported, f"{path} imports {families_imported}"


def test_run_config_checks_run_through_the_family():
    with pytest.raises(ConfigError, match="--learning-starts 10 is below"):
        RunConfig(algo="td3", ddpg=preset("td3-pendulum").ddpg.__class__(learning_starts=10))
