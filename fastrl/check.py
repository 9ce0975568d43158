"""``fastrl check``: what works on this machine, and what does not.

Each probe runs the real thing (imports, compiles a tiny kernel, makes and steps a real env) and reports
ok / missing / BROKEN with the reason. Required parts are the runtime dependencies; optional parts (CUDA,
Triton, CuPy) are reported but do not fail the check. Exits 1 when a required part is broken or missing.
"""

from __future__ import annotations

import importlib.metadata
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import tyro


@dataclass
class CheckConfig:
    """Probe devices, kernel backends and environment engines."""

    envs: bool = True
    """make and step one env of each engine (takes a few seconds)"""
    verbose: bool = False
    """print the full traceback of every failing probe"""


@dataclass
class Probe:
    part: str
    required: bool
    status: str = "ok"  # ok | missing | BROKEN
    detail: str = ""
    trace: str = ""


def _run(part: str, required: bool, fn: Callable[[], str]) -> Probe:
    probe = Probe(part, required)
    try:
        probe.detail = fn() or ""
    except ImportError as e:
        probe.status, probe.detail = "missing", str(e)
    except Exception as e:  # a probe reports any failure of the thing it probes
        probe.status, probe.detail, probe.trace = "BROKEN", f"{type(e).__name__}: {e}", traceback.format_exc()
    return probe


def _version(dist: str) -> str:
    return importlib.metadata.version(dist)


def _torch() -> str:
    import torch

    x = torch.arange(6.0).reshape(2, 3)  # [[0, 1, 2], [3, 4, 5]]: x @ x.T = [[5, 14], [14, 50]]
    assert (x @ x.T).tolist() == [[5.0, 14.0], [14.0, 50.0]]
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def _cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        raise ImportError("no CUDA device visible to torch (CPU-only build or no GPU)")
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    x = torch.ones(1024, device="cuda")
    assert float(x.sum()) == 1024.0
    return f"CUDA {torch.version.cuda}: {', '.join(names)}"


def _nvml() -> str:
    import pynvml  # noqa: F401  (ImportError -> missing)

    from fastrl.telemetry import gpu_info

    gpus = gpu_info()
    if not gpus:
        raise ImportError("pynvml imports but finds no NVIDIA GPU")
    g = gpus[0]
    return f"{g['name']}, {g['memory_total_bytes'] / 2**30:.0f} GiB, SM clock max {g.get('max_sm_clock_mhz', '?')} MHz"


def _numba() -> str:
    import numba
    import numpy as np

    @numba.njit(cache=False)
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    assert total(np.arange(10.0)) == 45.0
    return f"numba {numba.__version__} (njit compiled and ran)"


def _triton() -> str:
    import os

    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def add_one(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=mask) + 1, mask=mask)

    if torch.cuda.is_available():
        where = "cuda"
    elif os.environ.get("TRITON_INTERPRET") == "1":
        where = "cpu"
    else:
        return f"triton {triton.__version__} imports; no GPU, kernels run only with TRITON_INTERPRET=1"
    x = torch.zeros(100, device=where)
    add_one[(1,)](x, 100, BLOCK=128)
    assert float(x.sum()) == 100.0
    return f"triton {triton.__version__}: a kernel ran on {where}"


def _cupy() -> str:
    import cupy
    import torch

    if not torch.cuda.is_available():
        return f"cupy {cupy.__version__} imports; no GPU to compile for"
    kernel = cupy.RawKernel(r'extern "C" __global__ void twice(float* x) { x[threadIdx.x] *= 2.f; }', "twice")
    x = cupy.ones(32, dtype=cupy.float32)
    kernel((1,), (32,), (x,))
    assert float(x.sum()) == 64.0
    return f"cupy {cupy.__version__}, NVRTC {cupy.cuda.nvrtc.getVersion()}: a kernel compiled and ran"


def _engine(dist: str) -> Callable[[], str]:
    def probe() -> str:
        return f"{dist} {_version(dist)}"
    return probe


def _env(env_id: str, backend: str) -> Callable[[], str]:
    def probe() -> str:
        import torch

        from fastrl.envs import make_env

        start = time.perf_counter()
        with make_env(env_id, 2, backend=backend, seed=0) as env:
            obs = env.reset()
            space = env.single_action_space
            if hasattr(space, "n"):
                actions = torch.zeros(env.num_envs, dtype=torch.int64)
            else:
                actions = torch.zeros((env.num_envs, *space.shape), dtype=torch.float32)
            for _ in range(3):
                obs, *_ = env.step(actions)
        ms = (time.perf_counter() - start) * 1e3
        return f"{tuple(obs.shape)} {obs.dtype}, made and stepped in {ms:.0f} ms"
    return probe


def probes(config: CheckConfig) -> list[Probe]:
    found = [
        _run("torch", True, _torch),
        _run("CUDA device", False, _cuda),
        _run("pynvml (GPU telemetry)", False, _nvml),
        _run("numba (CPU kernels)", True, _numba),
        _run("triton (GPU kernels)", False, _triton),
        _run("cupy + NVRTC (CUDA C kernels)", False, _cupy),
        _run("envpool", True, _engine("envpool")),
        _run("ale-py", True, _engine("ale-py")),
        _run("mujoco", True, _engine("mujoco")),
        _run("gymnasium", True, _engine("gymnasium")),
    ]
    if config.envs:
        for env_id, backend in (("Pong-v5", "envpool"), ("HalfCheetah-v5", "envpool"), ("CartPole-v1", "envpool"),
                                ("Pong-v5", "ale"), ("HalfCheetah-v5", "gymnasium"), ("Catch-v0", "native"),
                                ("CartPole-v1", "native")):
            found.append(_run(f"env {env_id} [{backend}]", True, _env(env_id, backend)))
    return found


def _ops_lines() -> list[str]:
    import torch

    from fastrl.ops import _registry, import_all

    import_all()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = []
    for op in _registry.ops():
        for device in devices:
            lines.append(f"  {op:<24} {device:<5} auto={_registry.choose(op, device)}  "
                         f"available={_registry.available(op, device)}")
    return lines


def main(argv: list[str] | None = None, prog: str = "fastrl check") -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    config = tyro.cli(CheckConfig, args=argv, prog=prog)
    found = probes(config)
    table = Table(title="fastrl check")
    for col in ("part", "required", "status", "detail"):
        table.add_column(col)
    colors = {"ok": "green", "missing": "yellow", "BROKEN": "red"}
    for p in found:
        table.add_row(escape(p.part), "yes" if p.required else "no", f"[{colors[p.status]}]{p.status}[/]",
                      escape(p.detail))
    console = Console(width=max(Console().width, 160))  # a pipe gets 80 columns: too few
    console.print(table)
    try:
        console.print("ops backends (auto choice, available):\n" + "\n".join(_ops_lines()))
    except Exception as e:  # the ops summary is informative; a failure there is reported, not fatal
        console.print(f"[red]ops registry could not be listed: {type(e).__name__}: {e}[/]")
    if config.verbose:
        for p in found:
            if p.trace:
                console.print(f"--- {p.part}\n{p.trace}")
    failed = [p for p in found if p.required and p.status != "ok"]
    if failed:
        console.print(f"[red]{len(failed)} required part(s) not working: {', '.join(p.part for p in failed)}[/]")
        return 1
    console.print("[green]all required parts work[/]")
    return 0



