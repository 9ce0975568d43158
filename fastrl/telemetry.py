"""What the machine is: CPU model and cores, GPUs through pynvml, library versions.

Every bench and profile record carries these facts, so that a number is never read without its hardware.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

_LIBRARIES = (
    "torch", "numpy", "envpool", "ale-py", "mujoco", "gymnasium", "numba", "triton", "cupy-cuda12x",
    "cupy-cuda13x", "nvidia-ml-py", "torchrl", "stable-baselines3", "cpprb",
)


@functools.cache
def cpu_info() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            model = found.group(1).strip()
        flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flag_set = set(flags.group(1).split()) if flags else set()
    except OSError:
        flag_set = set()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flag_set]
    return {"model": model, "cores": cores, "simd": simd, "machine": platform.machine()}


def gpu_info() -> list[dict[str, Any]]:
    """One dict per NVIDIA GPU (name, memory, clocks, power limit); empty where pynvml finds none."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    gpus = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            gpu: dict[str, Any] = {
                "index": i,
                "name": name.decode() if isinstance(name, bytes) else name,
                "memory_total_bytes": int(mem.total),
                "memory_used_bytes": int(mem.used),
            }
            for key, clock in (("sm_clock_mhz", pynvml.NVML_CLOCK_SM), ("mem_clock_mhz", pynvml.NVML_CLOCK_MEM)):
                try:
                    gpu[key] = pynvml.nvmlDeviceGetClockInfo(h, clock)
                    gpu["max_" + key] = pynvml.nvmlDeviceGetMaxClockInfo(h, clock)
                except pynvml.NVMLError:
                    pass
            try:
                gpu["power_limit_w"] = pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0
            except pynvml.NVMLError:
                pass
            try:
                gpu["driver"] = pynvml.nvmlSystemGetDriverVersion()
            except pynvml.NVMLError:
                pass
            gpus.append(gpu)
    finally:
        pynvml.nvmlShutdown()
    return gpus


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


@functools.cache
def git_sha() -> str:
    """The commit the code runs from, with ``-dirty`` where tracked files differ from it; records under
    ``profiles/`` do not count (a recording session writes several, and each would mark the next dirty)."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)profiles"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if sha.returncode != 0:
        return "unknown"
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def hardware_slug() -> str:
    """Folder name under profiles/: the first GPU where there is one, else the CPU model and core count."""
    gpus = gpu_info()
    if gpus:
        return _slug(gpus[0]["name"].replace("NVIDIA", ""))
    cpu = cpu_info()
    return f"cpu-{_slug(cpu['model'])}-{cpu['cores']}c"
