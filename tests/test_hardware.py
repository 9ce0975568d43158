"""Hardware-chosen defaults: ``auto`` resolves from the machine found (faked here by patching ``detect``)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch

from fastrl import hardware
from fastrl.config import ConfigError, PPOConfig, preset

AVX2 = hardware.Machine("cpu", frozenset({"avx2"}), "AVX2")
AVX512 = hardware.Machine("cpu", frozenset({"avx2", "avx512f"}), "AVX512")
AVX512_BF16 = hardware.Machine("cpu", frozenset({"avx2", "avx512f", "avx512_bf16"}), "AVX512")
AMX = hardware.Machine("cpu", frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}), "AVX512")
AMPERE = hardware.Machine("cuda", frozenset({"avx2"}), "AVX2", cuda_bf16=True)
TURING = hardware.Machine("cuda", frozenset({"avx2"}), "AVX2", cuda_bf16=False)


@pytest.fixture
def machine(monkeypatch):
    """Set the machine ``detect`` reports."""
    def fake(m: hardware.Machine):
        monkeypatch.setattr(hardware, "detect", lambda device: m)
    return fake


def resolved(ppo: PPOConfig, network: str = "nature_cnn", device: str = "cpu") -> dict:
    config, choices = hardware.resolve_ppo(ppo, network, device)
    assert [c.field for c in choices] == ["bf16", "channels_last", "compile"]
    assert all(c.reason for c in choices)
    return {c.field: c.value for c in choices} | {"config": config}


@pytest.mark.parametrize("m, bf16", [(AVX2, False), (AVX512, False), (AVX512_BF16, True), (AMX, True),
                                     (AMPERE, True), (TURING, False)])
def test_auto_bf16_only_where_the_device_computes_it_natively(machine, m, bf16):
    machine(m)
    got = resolved(PPOConfig(network="nature_cnn"), device=m.device)
    assert got["bf16"] is bf16 and got["channels_last"] is bf16 and got["compile"] is False
    assert got["config"].bf16 is bf16


def test_an_avx2_cpu_never_gets_bf16_by_default_for_any_preset(machine):
    machine(AVX2)
    for name in ("ppo-atari", "ppo-atari-fast", "a2c-atari", "ppo-cartpole", "ppo-mujoco"):
        ppo = preset(name).ppo
        for network in ("nature_cnn", "mlp"):
            assert resolved(ppo, network)["bf16"] is False, (name, network)


def test_mlps_stay_in_float32_even_with_native_bf16(machine):
    machine(AMX)
    got = resolved(PPOConfig(network="mlp"), network="mlp")
    assert got["bf16"] is False and got["channels_last"] is False


def test_explicit_bf16_is_obeyed_with_a_warning_where_it_is_emulated(machine, capsys, monkeypatch):
    monkeypatch.setattr(hardware, "_warned", set())
    machine(AVX2)
    got = resolved(PPOConfig(bf16=True, channels_last=False))
    assert got["bf16"] is True and got["channels_last"] is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fastrl: warning: bf16=True on this CPU (AVX2" in err and "emulates" in err
    resolved(PPOConfig(bf16=True))
    assert capsys.readouterr().err == ""  # once per process
    machine(AMX)
    resolved(PPOConfig(bf16=True))
    assert capsys.readouterr().err == ""  # native: nothing to warn about


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_hardware_option_is_auto_true_or_false(value):
    with pytest.raises(ConfigError, match=r"--bf16 .*expected auto, True or False"):
        PPOConfig(bf16=value)


def test_a_run_writes_the_resolved_values_and_why(machine, tmp_path):
    """config.json holds concrete values (a resumed run keeps them); meta.json the choices with reasons."""
    from fastrl.runner import train

    machine(AVX2)
    base = preset("ppo-catch")
    assert base.ppo.bf16 == "auto"
    config = dataclasses.replace(base, total_env_steps=256, log_interval=128, run_dir=tmp_path / "run",
                                 eval_episodes=2, tensorboard=False, progress=False)
    train(config)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["ppo"]
    assert (stored["bf16"], stored["channels_last"], stored["compile"]) == (False, False, False)
    choices = json.loads((tmp_path / "run" / "meta.json").read_text())["hardware_choices"]
    fields = {c["field"]: c for c in choices}
    assert list(fields) == ["omp_wait_policy", "bf16", "channels_last", "compile"]
    assert all(fields[f]["requested"] == "auto" for f in ("bf16", "channels_last", "compile"))
    assert "no native bfloat16" in fields["bf16"]["reason"]


def test_detect_reads_this_machine():
    m = hardware.detect("cpu")
    assert m.device == "cpu" and m.cpu_capability == torch.backends.cpu.get_cpu_capability()
    assert m.native_bf16 == bool({"avx512_bf16", "amx_bf16"} & m.cpu_flags)


@pytest.mark.parametrize("environ, value, who", [
    ({"OMP_WAIT_POLICY": "PASSIVE", hardware.WAIT_POLICY_SET_BY_FASTRL: "1"}, "PASSIVE", "stalling"),
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE", "set in the environment"),
    ({}, "libgomp's default (spin, then sleep)", "torch was loaded before")])
def test_the_wait_policy_is_recorded_with_who_chose_it(monkeypatch, environ, value, who):
    for name in ("OMP_WAIT_POLICY", hardware.WAIT_POLICY_SET_BY_FASTRL):
        monkeypatch.delenv(name, raising=False)
    for name, v in environ.items():
        monkeypatch.setenv(name, v)
    choice = hardware.wait_policy()
    assert choice.value == value and who in choice.reason


def test_the_fastrl_command_makes_waiting_threads_sleep_unless_the_user_chose():
    """Run in a fresh interpreter: the policy must be in the environment before torch loads."""
    code = ("import os, sys; from fastrl import cli; cli.sleep_when_waiting(); import torch; "
            "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('FASTRL_SET_OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "1"]
    out = subprocess.run([sys.executable, "-c", code], env=env | {"OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE", "None"]
