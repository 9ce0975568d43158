"""Does the device have room? Asked before a buffer allocates, so a too-large replay fails at once, clearly.

A 1M-transition Atari buffer is gigabytes: allocating it and failing half-way (or being killed by the OOM
killer minutes later, on the first touch of its pages) wastes a run. The buffer adds up the bytes it will
allocate and refuses up front where the device cannot hold them.
"""

from __future__ import annotations

from pathlib import Path

import torch


class InsufficientMemoryError(MemoryError):
    """The device lacks the free memory a replay buffer needs; the message gives both numbers."""


def free_bytes(device: torch.device | str) -> tuple[int, str]:
    """(bytes free on ``device``, where the figure comes from)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free), "torch.cuda.mem_get_info"
    if device.type == "cpu":
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
        raise RuntimeError("/proc/meminfo has no MemAvailable line; cannot check the replay's memory")
    raise ValueError(f"cannot tell the free memory of device {device}; expected cpu or cuda")


def ensure_fits(needed: int, device: torch.device | str, what: str) -> None:
    """Raise ``InsufficientMemoryError`` where ``needed`` bytes exceed what ``device`` has free."""
    free, source = free_bytes(device)
    if needed > free:
        raise InsufficientMemoryError(
            f"{what} needs {format_bytes(needed)} ({needed:,} bytes) on {device}, but only "
            f"{format_bytes(free)} ({free:,} bytes) are free ({source}); lower the capacity or the number "
            f"of envs, or store Atari observations as frames (frame_stack) rather than whole stacks")


def format_bytes(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"
