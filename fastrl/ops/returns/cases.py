"""Profile cases of the returns ops (``fastrl profile ops``): GAE at three sizes, n-step and V-trace at one.

Inputs look like an Atari rollout: rewards and values N(0, 1), about one termination per 100 steps and
one truncation per 200 (so the done masks are exercised, not constant), gamma 0.99, lambda 0.95, n = 5.
Outputs are preallocated (``out=``), as in a learner's hot loop, for every provider alike. ``bytes_moved``
counts each input and output element once (the least any backend must move): float inputs at their
dtype's size, flags one byte, outputs float32; GAE and n-step read ``final_values`` only where a step was
truncated, and these cases pass none.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fastrl.ops import returns
from fastrl.ops._cases import Case
from fastrl.ops.returns import reference

GAMMA, LAM, N_STEP = 0.99, 0.95, 5
DEFAULT_SIZES = {"gae": ((128, 8), (128, 64), (128, 4096)), "nstep_returns": ((128, 4096),),
                 "vtrace": ((128, 4096),)}


def _rollout(T: int, N: int, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(T * 100003 + N)
    x = {"rewards": torch.randn(T, N, generator=g), "values": torch.randn(T, N, generator=g),
         "terminated": torch.rand(T, N, generator=g) < 0.01, "truncated": torch.rand(T, N, generator=g) < 0.005,
         "next_value": torch.randn(N, generator=g)}
    return {k: v.to(device) for k, v in x.items()}


def _outputs(T: int, N: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Preallocated, already touched outputs, as a learner's rollout storage holds them: a fresh
    allocation per call would time the page faults of its first touch (on a VM, microseconds per 4 KiB
    page), not the kernel.
    Top-level entries, so that the profiler's per-provider copy of the inputs copies them too."""
    return {"out0": torch.zeros(T, N, device=device), "out1": torch.zeros(T, N, device=device)}


def _split(x: dict) -> tuple[dict, tuple[torch.Tensor, torch.Tensor]]:
    """The op's arguments and its ``out`` pair."""
    return {k: v for k, v in x.items() if k not in ("out0", "out1")}, (x["out0"], x["out1"])


def _gae_inputs(T: int, N: int):
    return lambda device: {**_rollout(T, N, device), **_outputs(T, N, device)}


def _gae_run(x, backend):
    args, out = _split(x)
    return returns.gae(**args, gamma=GAMMA, lam=LAM, out=out, backend=backend)


def _gae_reference(x):
    args, out = _split(x)
    return reference.gae(**args, final_values=None, gamma=GAMMA, lam=LAM, out=out)


def _nstep_run(x, backend):
    args, out = _split(x)
    return returns.nstep_returns(**args, gamma=GAMMA, n=N_STEP, out=out, backend=backend)


def _nstep_reference(x):
    args, out = _split(x)
    return reference.nstep_returns(**args, final_values=None, gamma=GAMMA, n=N_STEP, out=out)


def _vtrace_run(x, backend):
    args, out = _split(x)
    return returns.vtrace(**args, out=out, backend=backend)


def _vtrace_reference(x):
    args, out = _split(x)
    return reference.vtrace(**args, clip_rho=1.0, clip_pg_rho=1.0, lambda_=1.0, out=out)


def _vtrace_inputs(T: int, N: int):
    def make(device):
        x = _rollout(T, N, device)
        g = torch.Generator(device="cpu").manual_seed(T + N)
        log_rhos = (0.3 * torch.randn(T, N, generator=g)).to(device)
        discounts = GAMMA * (~(x["terminated"] | x["truncated"])).float()
        return {"log_rhos": log_rhos, "discounts": discounts, "rewards": x["rewards"], "values": x["values"],
                "bootstrap_value": x["next_value"], **_outputs(T, N, device)}
    return make


def _bytes(x: dict) -> int:
    """Every input read once, both float32 outputs written once."""
    return sum(t.numel() * t.element_size() for t in x.values())


def _parse(size) -> tuple[int, int]:
    """A size as (T, N), from a pair or text "T=128:N=4096" (',' also separates, outside the CLI)."""
    if not isinstance(size, str):
        T, N = size
        return int(T), int(N)
    fields = {}
    for part in size.replace(",", ":").split(":"):
        key, _, value = part.partition("=")
        fields[key.strip()] = value.strip()
    if set(fields) - {"T", "N", "n"} or not all(fields.get(k, "").isdigit() for k in ("T", "N")):
        raise ValueError(f"returns size {size!r}: expected T=<int>:N=<int> (e.g. T=128:N=4096)")
    return int(fields["T"]), int(fields["N"])


def cases(device: torch.device | str, sizes: Sequence | None = None) -> list[Case]:
    """The cases to profile. The same sizes serve every device (each case makes its inputs on the device
    the profiler passes to ``make_inputs``); ``sizes`` ((T, N) pairs or "T=128:N=4096" texts, as in
    ``fastrl profile ops --op returns --sizes T=128:N=4096``) replaces the default sizes of all three ops."""
    chosen = {op: [_parse(s) for s in sizes] for op in DEFAULT_SIZES} if sizes else DEFAULT_SIZES
    out = []
    for T, N in chosen["gae"]:
        out.append(Case(
            op="gae", label=f"T={T},N={N}", make_inputs=_gae_inputs(T, N),
            run=_gae_run, reference=_gae_reference,
            bytes_moved=_bytes))
    for T, N in chosen["nstep_returns"]:
        out.append(Case(
            op="nstep_returns", label=f"T={T},N={N},n={N_STEP}", make_inputs=_gae_inputs(T, N),
            run=_nstep_run, reference=_nstep_reference,
            bytes_moved=_bytes))
    for T, N in chosen["vtrace"]:
        out.append(Case(
            op="vtrace", label=f"T={T},N={N}", make_inputs=_vtrace_inputs(T, N),
            run=_vtrace_run, reference=_vtrace_reference,
            bytes_moved=_bytes))
    return out
