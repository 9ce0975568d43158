"""What ``auto`` means on the machine a run finds: precision, memory format and compile, chosen from the hardware.

A setting tuned on one CPU can be ruinous on another: bfloat16 autocast speeds a Nature CNN update up on a CPU
with native bf16 (AVX-512 BF16, AMX) and slows it down badly where torch has to emulate it (AVX2 only; no
record yet: ``fastrl bench train --preset ppo-atari --compare bf16=true`` on such a CPU measures it). So the
learner options that depend on the hardware default to ``auto`` and are resolved here, at the start of a run,
from what the machine is:

- the device (a CUDA GPU with native bf16, or the CPU);
- the CPU's instruction sets, read from the kernel's flags (``avx512_bf16``, ``amx_bf16``) beside torch's own
  dispatch level (``torch.backends.cpu.get_cpu_capability()``);
- the network the learner builds (bf16 and channels-last pay for convolutions, not for small MLPs).

Each resolution is a ``Choice``: the field, what was asked, what it became, and why. The run writes the resolved
values into its ``config.json`` (a resumed run keeps them) and the choices into ``meta.json``; bench records
carry them too. An explicit ``bf16=True`` is obeyed even where the CPU emulates bf16, with a warning that says
so. ``detect`` is the one place that reads the machine, so tests fake a machine by patching it.

Measured effects of each choice on the CPUs seen so far are in ``profiles/``: the ``--compare`` rows of
``train-ppo-options.json`` and ``train-ppo.json`` (``fastrl bench train --preset ppo-atari --compare ...``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from dataclasses import dataclass
from typing import Any

#: CPU flags (as /proc/cpuinfo spells them) that give bfloat16 arithmetic in hardware
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
AUTO = "auto"
#: set in the environment where the ``fastrl`` command chose OpenMP's wait policy (``fastrl.cli``)
WAIT_POLICY_SET_BY_FASTRL = "FASTRL_SET_OMP_WAIT_POLICY"


@dataclass(frozen=True)
class Machine:
    """The facts a choice is made from."""

    device: str
    """"cpu" or "cuda" (the device type the learner runs on)"""
    cpu_flags: frozenset[str]
    """the CPU's instruction-set flags among those the choices look at"""
    cpu_capability: str
    """torch's CPU dispatch level: DEFAULT, AVX2, AVX512 (``torch.backends.cpu.get_cpu_capability()``)"""
    cuda_bf16: bool = False
    """the CUDA device computes bf16 natively (Ampere and later)"""

    @property
    def native_bf16(self) -> bool:
        if self.device == "cuda":
            return self.cuda_bf16
        return any(flag in self.cpu_flags for flag in NATIVE_BF16_FLAGS)

    def describe(self) -> str:
        if self.device == "cuda":
            return "this GPU" + (" (native bf16)" if self.cuda_bf16 else " (no native bf16)")
        bf16 = [f for f in NATIVE_BF16_FLAGS if f in self.cpu_flags]
        return f"this CPU ({self.cpu_capability}{', ' + ', '.join(bf16) if bf16 else ', no AVX-512 BF16 or AMX'})"


@dataclass(frozen=True)
class Choice:
    """One hardware-dependent setting as resolved: the field, what was asked, what it became, and why."""

    field: str
    requested: Any
    value: Any
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@functools.cache
def _cpu_flags() -> frozenset[str]:
    from fastrl.telemetry import cpu_info

    return frozenset(cpu_info()["simd"])


def detect(device) -> Machine:
    """The machine a learner on ``device`` runs on (the one function that reads the hardware)."""
    import torch

    device_type = torch.device(device).type
    cuda_bf16 = device_type == "cuda" and torch.cuda.is_bf16_supported()
    return Machine(device=device_type, cpu_flags=_cpu_flags(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
                   cuda_bf16=cuda_bf16)


def resolve_ppo(ppo, network: str, device) -> tuple[Any, list[Choice]]:
    """``ppo`` (a ``PPOConfig``) with ``bf16``, ``channels_last`` and ``compile`` resolved for ``network``
    ("nature_cnn" or "mlp") on ``device``; the choices made, one per field. Concrete values pass through
    (an explicit bf16 without native support is obeyed, with a warning)."""
    machine = detect(device)
    convolutional = network == "nature_cnn"
    choices = [_bf16(ppo.bf16, machine, convolutional)]
    bf16 = choices[0].value
    choices.append(_channels_last(ppo.channels_last, machine, convolutional, bf16))
    choices.append(_compile(ppo.compile, machine))
    return dataclasses.replace(ppo, **{c.field: c.value for c in choices}), choices


def _bf16(requested, machine: Machine, convolutional: bool) -> Choice:
    where = machine.describe()
    if requested != AUTO:
        value = bool(requested)
        if value and not machine.native_bf16:
            warn_once(f"bf16=True on {where}: torch emulates bfloat16 here, which makes the network's passes "
                      f"slower than in float32 (bf16=auto would choose float32)")
        return Choice("bf16", requested, value, "set explicitly")
    if not machine.native_bf16:
        return Choice("bf16", requested, False, f"{where} has no native bfloat16: emulated bf16 is slower than fp32")
    if not convolutional:
        return Choice("bf16", requested, False, "an MLP's small matmuls gain less from bf16 than autocast's casts "
                                                "cost")
    return Choice("bf16", requested, True, f"{where} computes bfloat16 natively: the Nature CNN's convolutions "
                                           f"run faster than in fp32")


def _channels_last(requested, machine: Machine, convolutional: bool, bf16: bool) -> Choice:
    if requested != AUTO:
        return Choice("channels_last", requested, bool(requested), "set explicitly")
    if not convolutional:
        return Choice("channels_last", requested, False, "no convolutions")
    if bf16:
        return Choice("channels_last", requested, True, "bf16 convolutions (oneDNN on the CPU, tensor cores on "
                                                        "a GPU) run in NHWC; channels-last avoids a reorder per "
                                                        "layer")
    return Choice("channels_last", requested, False, "fp32 convolutions: the default NCHW layout")


def _compile(requested, machine: Machine) -> Choice:
    if requested != AUTO:
        return Choice("compile", requested, bool(requested), "set explicitly")
    if machine.device == "cpu":
        return Choice("compile", requested, False, "on the CPU torch.compile of the PPO loss measured slower than "
                                                   "eager (profiles/*/train-ppo-options.json)")
    return Choice("compile", requested, False, "not yet measured faster on a GPU; --compile True to try it")


def resolve_run(config, observation_space, action_space) -> tuple[Any, list[Choice]]:
    """``config`` (a ``RunConfig``) with its learner's hardware options resolved for envs of these (single-env)
    spaces, and the choices made: OpenMP's wait policy for every learner, then the learner's own (its spec's
    ``resolve_hardware``)."""
    from fastrl.algos import algorithm

    choices = [wait_policy()]
    resolve = algorithm(config.algo).resolve_hardware
    if resolve is None:
        return config, choices
    config, made = resolve(config, observation_space, action_space)
    return config, choices + made


def resolve_ppo_run(config, observation_space, action_space) -> tuple[Any, list[Choice]]:
    """PPO's ``resolve_hardware``: bf16, channels-last and compile for the network these observations get."""
    from fastrl.config import network_for

    ppo, made = resolve_ppo(config.ppo, network_for(config.ppo, tuple(observation_space.shape)),
                            config.resolved_device())
    return dataclasses.replace(config, ppo=ppo), made


def wait_policy() -> Choice:
    """How torch's OpenMP threads wait in this process, and who chose it."""
    value = os.environ.get("OMP_WAIT_POLICY")
    if value is None:
        return Choice("omp_wait_policy", AUTO, "libgomp's default (spin, then sleep)",
                      "torch was loaded before fastrl could choose (a Python call, not the fastrl command)")
    if os.environ.get(WAIT_POLICY_SET_BY_FASTRL):
        return Choice("omp_wait_policy", AUTO, value, "threads that sleep while waiting keep a two-thread update "
                                                      "from stalling where another process holds a core")
    return Choice("omp_wait_policy", value, value, "set in the environment")


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """``fastrl: warning: message`` on stderr, once per process (learners are built again for evaluation and
    benches)."""
    if message not in _warned:
        _warned.add(message)
        print(f"fastrl: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def torch_threads(count: int | None):
    """torch's intra-op threads set to ``count`` inside the block (None or 0: left as they are), the caller's
    count restored after (the setting is process-wide); yields the count the block runs on."""
    import torch

    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield count or before
    finally:
        torch.set_num_threads(before)
