"""Finished episodes' statistics kept on the device between log rows."""

from __future__ import annotations

import math
from typing import Any

import torch


class EpisodeStats:
    """Finished episodes' returns and lengths, copied into preallocated device rows each step and read by
    the host only at the log interval (one transfer), so the loop never waits for the device for them."""

    def __init__(self, num_envs: int, rows: int, device: torch.device):
        self.ended = torch.zeros(rows, num_envs, dtype=torch.bool, device=device)
        self.returns = torch.zeros(rows, num_envs, dtype=torch.float32, device=device)
        self.lengths = torch.zeros(rows, num_envs, dtype=torch.int32, device=device)
        self.steps: list[int] = []

    def record(self, info: dict[str, Any], env_steps: int) -> None:
        row = len(self.steps)
        if row == self.ended.shape[0]:  # more steps than a log interval holds (eval or checkpoint forced)
            self._grow()
        self.ended[row].copy_(torch.as_tensor(info["episode_end"]), non_blocking=True)
        self.returns[row].copy_(torch.as_tensor(info["episode_return"]), non_blocking=True)
        self.lengths[row].copy_(torch.as_tensor(info["episode_length"]), non_blocking=True)
        self.steps.append(env_steps)

    def drain(self) -> tuple[list[int], list[float], list[int]]:
        rows = len(self.steps)
        ended = self.ended[:rows].cpu()
        where = ended.nonzero().tolist()
        returns = self.returns[:rows].cpu()
        lengths = self.lengths[:rows].cpu()
        out = ([self.steps[r] for r, _ in where], [float(returns[r, i]) for r, i in where],
               [int(lengths[r, i]) for r, i in where])
        self.steps.clear()
        return out

    def _grow(self) -> None:
        for name in ("ended", "returns", "lengths"):
            t = getattr(self, name)
            setattr(self, name, torch.cat((t, torch.zeros_like(t))))


def rows_per_log(config, batch_size: int) -> int:
    """Rows of env steps between two log rows (one more for the step that crosses the interval)."""
    return math.ceil(config.log_interval / batch_size) + 1
