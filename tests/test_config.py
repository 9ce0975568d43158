"""Run configs: presets build, bad values are refused with the field named, the JSON form round-trips."""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import pytest

from fastrl.config import (
    PRESETS,
    ConfigError,
    DQNConfig,
    EnvConfig,
    ReplayConfig,
    RunConfig,
    check_fits_env,
    from_dict,
    network_for,
    preset,
    to_dict,
)

FRAMES = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
VECTOR = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_and_round_trip_through_json(name):
    config = preset(name)
    assert config.preset == name
    assert from_dict(to_dict(config)) == config


def test_rainbow_preset_turns_on_every_component():
    dqn, replay = preset("rainbow-atari").dqn, preset("rainbow-atari").replay
    assert dqn.double and dqn.dueling and dqn.distributional and replay.prioritized and replay.n_step == 3


def test_preset_on_another_env_keeps_the_rest():
    config = preset("dqn-atari", env="Breakout-v5")
    assert config.env.id == "Breakout-v5"
    assert config.dqn == preset("dqn-atari").dqn


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"'dqn-cartpol'.*did you mean 'dqn-cartpole'"):
        preset("dqn-cartpol")


@pytest.mark.parametrize("make, flag", [
    (lambda: DQNConfig(lr=-1e-3), "--lr -0.001: the learning rate must be > 0"),
    (lambda: DQNConfig(lr=0.0), "--lr 0.0"),
    (lambda: DQNConfig(lr=float("nan")), "--lr nan: expected a finite number"),
    (lambda: ReplayConfig(n_step=0), "--n-step 0: expected an integer >= 1"),
    (lambda: DQNConfig(v_min=5.0, v_max=5.0), "v_min < v_max"),
    (lambda: DQNConfig(v_min=10.0, v_max=-10.0), "--v-min 10.0 --v-max -10.0"),
    (lambda: DQNConfig(gamma=1.5), "--gamma 1.5"),
    (lambda: DQNConfig(atoms=1), "--atoms 1"),
    (lambda: DQNConfig(batch_size=0), "--batch-size 0"),
    (lambda: DQNConfig(replay_ratio=0.0), "--replay-ratio 0.0"),
    (lambda: DQNConfig(tau=0.0), "--tau 0.0"),
    (lambda: DQNConfig(epsilon_end=-0.1), "--epsilon-end -0.1"),
    (lambda: DQNConfig(hidden=(64, 0)), "--hidden: width 1 is 0"),
    (lambda: DQNConfig(target_period=2.5), "--target-period 2.5: expected an integer"),
    (lambda: ReplayConfig(alpha=2.0), "--alpha 2.0"),
    (lambda: ReplayConfig(capacity=0), "--capacity 0"),
    (lambda: EnvConfig(num_envs=0), "--num-envs 0"),
    (lambda: EnvConfig(id=""), "--env ''"),
    (lambda: EnvConfig(options=("episodic_life",)), "--options 'episodic_life': expected KEY=VALUE"),
    (lambda: RunConfig(total_env_steps=0), "--total-env-steps 0"),
    (lambda: RunConfig(log_interval=0), "--log-interval 0"),
    (lambda: RunConfig(device="tpu:0"), "--device 'tpu:0'"),
    (lambda: RunConfig(dqn=DQNConfig(batch_size=64, learning_starts=10)), "--learning-starts 10 is below"),
    (lambda: RunConfig(replay=ReplayConfig(capacity=16), dqn=DQNConfig(batch_size=32)), "--capacity 16"),
])
def test_bad_values_are_refused_with_the_flag_named(make, flag):
    with pytest.raises(ConfigError) as err:
        make()
    assert flag in str(err.value)


def test_replace_validates_too():
    with pytest.raises(ConfigError, match="--n-step -2"):
        dataclasses.replace(preset("rainbow-atari").replay, n_step=-2)


def test_options_parse_json_values_and_fall_back_to_text():
    env = EnvConfig(options=("episodic_life=true", "max_episode_steps=200", "repeat_action_probability=0.25",
                             "mode=hard"))
    assert env.make_options() == {"episodic_life": True, "max_episode_steps": 200,
                                  "repeat_action_probability": 0.25, "mode": "hard"}


def test_continuous_action_space_is_refused_for_dqn():
    box = gymnasium.spaces.Box(-1.0, 1.0, (6,), np.float32)
    config = preset("dqn-cartpole", env="HalfCheetah-v5")
    with pytest.raises(ConfigError, match=r"HalfCheetah-v5 with preset 'dqn-cartpole'.*discrete action space"):
        check_fits_env(config, gymnasium.spaces.Box(-1, 1, (17,), np.float32), box)


def test_atari_preset_on_a_vector_env_is_refused():
    with pytest.raises(ConfigError, match=r"--preset dqn-atari is made for Atari games.*CartPole-v1 is not one"):
        preset("dqn-atari", env="CartPole-v1")
    config = dataclasses.replace(preset("dqn-cartpole"), dqn=DQNConfig(network="nature_cnn"))
    with pytest.raises(ConfigError, match=r"Nature CNN.*84x84.*shape \(4,\); use --network mlp"):
        check_fits_env(config, VECTOR, gymnasium.spaces.Discrete(2))


def test_fitting_configs_pass_and_auto_network_follows_the_observation():
    check_fits_env(preset("rainbow-atari"), FRAMES, gymnasium.spaces.Discrete(6))
    check_fits_env(preset("dqn-cartpole"), VECTOR, gymnasium.spaces.Discrete(2))
    auto = DQNConfig(network="auto")
    assert network_for(auto, (4, 84, 84)) == "nature_cnn"
    assert network_for(auto, (10, 5)) == "mlp"


def test_from_dict_names_unknown_fields():
    data = to_dict(preset("dqn-catch"))
    data["dqn"]["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match=r"config dqn: unknown field\(s\) learning_rate for DQNConfig"):
        from_dict(data)


# ---------------------------------------------------------------------------------------------------------
# The command line: `fastrl train dqn ...` parses into these configs and refuses bad ones before starting
# ---------------------------------------------------------------------------------------------------------


def test_cli_help_lists_every_field_with_its_meaning(capsys):
    from fastrl.train_cli import train_main

    with pytest.raises(SystemExit) as exit_info:
        train_main(["dqn", "--preset", "rainbow-atari", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for part in (EnvConfig, ReplayConfig, DQNConfig, RunConfig):
        for f in dataclasses.fields(part):
            if f.name in ("env", "replay", "dqn", "ppo", "a3c", "ddpg", "alphazero", "reinforce", "nfq",
                          "impala", "unreal", "algo"):  # sections and the command word
                continue
            flag = "--env" if f.name == "id" else "--" + f.name.replace("_", "-")
            assert flag in text, flag
    assert "importance-sampling exponent" in text and "(default: 3)" in text  # docstrings and preset values


def test_cli_flags_override_the_preset_wherever_they_stand(tmp_path, monkeypatch):
    import fastrl.runner
    from fastrl.train_cli import train_main

    seen = {}
    monkeypatch.setattr(fastrl.runner, "train", lambda config, resume=None: seen.setdefault("config", config))
    argv = ["dqn", "--lr", "3e-4", "--preset", "rainbow-atari", "--env", "Breakout-v5", "--hidden", "32,32",
            "--no-double", "--run-dir", str(tmp_path)]
    from fastrl.cli import split_commas

    assert train_main(split_commas(argv)) == 0
    config = seen["config"]
    assert config.preset == "rainbow-atari" and config.env.id == "Breakout-v5"
    assert config.dqn.lr == 3e-4 and config.dqn.hidden == (32, 32) and not config.dqn.double
    assert config.dqn.distributional and config.replay.n_step == 3  # the rest from the preset


@pytest.mark.parametrize("argv, message", [
    (["dqn", "--preset", "dqn-catch", "--lr", "-0.5"], "--lr -0.5: the learning rate must be > 0"),
    (["dqn", "--preset", "dqn-catch", "--n-step", "0"], "--n-step 0: expected an integer >= 1"),
    (["dqn", "--v-min", "3", "--v-max", "1"], "the C51 support needs v_min < v_max"),
])
def test_cli_bad_values_exit_with_the_flag_named(argv, message, capsys):
    from fastrl.train_cli import train_main

    with pytest.raises(SystemExit) as exit_info:
        train_main(argv)
    assert exit_info.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split()).replace("│", "").replace("  ", " ")


@pytest.mark.parametrize("argv, message", [
    (["dqn", "--preset", "dqn-catch", "--env", "HalfCheetah-v5"], "DQN needs a discrete action space"),
    (["dqn", "--preset", "dqn-atari", "--env", "CartPole-v1"], "is made for Atari games"),
    (["dqn", "--preset", "dqn-cartpol"], "did you mean 'dqn-cartpole'"),
    (["sac"], "expected an algorithm (dqn, ppo"),
])
def test_cli_configs_that_do_not_fit_are_refused_before_anything_runs(argv, message, tmp_path, capsys):
    from fastrl.train_cli import train_main

    assert train_main([*argv, "--run-dir", str(tmp_path / "run")] if argv != ["sac"] else argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
