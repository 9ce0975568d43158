"""What a replay buffer holds and how it samples: ``BufferConfig``, saved in every buffer checkpoint's manifest.

Its own module, below everything else in the package: the buffer, its engines and ``persist`` all read it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class BufferConfig:
    """What a replay buffer holds and how it samples. Saved in every buffer checkpoint's manifest."""

    capacity: int
    """transitions held in all, over all env streams (each stream's ring holds capacity / num_envs)"""
    num_envs: int
    """env streams: each ``add`` carries one step of each"""
    obs_shape: tuple[int, ...]
    """one env's observation shape as the env returns it, e.g. (4, 84, 84) or (17,)"""
    obs_dtype: str = "float32"
    """observation dtype (torch name): uint8 for Atari frames"""
    frame_stack: int = 0
    """> 0: observations are [frame_stack, H, W] uint8 stacks and only each newest frame is stored"""
    action_shape: tuple[int, ...] = ()
    """one env's action shape: () for discrete actions, (A,) for continuous"""
    action_dtype: str = "int64"
    """action dtype (torch name)"""
    n_step: int = 1
    """steps summed into one transition's return"""
    gamma: float = 0.99
    """discount of the n-step return"""
    prioritized: bool = False
    """proportional prioritized replay (sum tree) instead of uniform sampling"""
    alpha: float = 0.6
    """priority exponent: p = (|td| + eps) ** alpha"""
    beta_start: float = 0.4
    """importance-sampling exponent at the first batch"""
    beta_end: float = 1.0
    """importance-sampling exponent after beta_steps batches"""
    beta_steps: int = 0
    """batches over which beta goes linearly from beta_start to beta_end (0: beta_end throughout)"""
    priority_eps: float = 1e-6
    """added to |td| so that no transition gets priority 0"""
    start_fill: Literal["repeat", "zero"] = "repeat"
    """stack positions before an episode's first frame: repeat that frame (as envpool does) or zero"""
    checks: bool = True
    """validate inputs and batch sizes (on CUDA some checks wait for the device)"""
    debug: bool = False
    """poison-fill the storage at construction, so that reads of never-written memory show"""

    def __post_init__(self):
        def positive(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BufferConfig.{name} must be a positive int, got {value!r}")
        for name in ("capacity", "num_envs", "n_step"):
            positive(name)
        object.__setattr__(self, "obs_shape", tuple(int(d) for d in self.obs_shape))
        object.__setattr__(self, "action_shape", tuple(int(d) for d in self.action_shape))
        for name in ("obs_dtype", "action_dtype"):
            torch_dtype(getattr(self, name), f"BufferConfig.{name}")
        if self.frame_stack:
            if (len(self.obs_shape) != 3 or self.obs_shape[0] != self.frame_stack
                    or self.obs_dtype != "uint8"):
                raise ValueError(f"BufferConfig: frame_stack={self.frame_stack} needs uint8 observations of shape "
                                 f"[{self.frame_stack}, H, W]; got obs_shape={self.obs_shape}, "
                                 f"obs_dtype={self.obs_dtype}")
        if self.start_fill not in ("repeat", "zero"):
            raise ValueError(f"BufferConfig.start_fill must be 'repeat' or 'zero', got {self.start_fill!r}")
        if not (self.alpha >= 0 and self.priority_eps > 0 and self.beta_steps >= 0):
            raise ValueError(f"BufferConfig: need alpha >= 0, priority_eps > 0, beta_steps >= 0; got "
                             f"alpha={self.alpha}, priority_eps={self.priority_eps}, beta_steps={self.beta_steps}")
        if any(d < 1 for d in self.obs_shape + self.action_shape):
            raise ValueError(f"BufferConfig: obs_shape {self.obs_shape} and action_shape {self.action_shape} need "
                             f"positive dimensions")
        for name, low, high in (("gamma", 0.0, 1.0), ("alpha", 0.0, math.inf), ("beta_start", 0.0, 1.0),
                                ("beta_end", 0.0, 1.0), ("priority_eps", 0.0, math.inf)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                    or not math.isfinite(value):
                raise ValueError(f"BufferConfig.{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
        per_env, pad = self.per_env, max(self.frame_stack - 1, 0)
        least = self.n_step + pad + 2
        if per_env < least:
            raise ValueError(f"BufferConfig: capacity {self.capacity} gives each of the {self.num_envs} env streams "
                             f"{per_env} slots; n_step={self.n_step} and frame_stack={self.frame_stack} need at "
                             f"least {least} per stream (capacity >= {least * self.num_envs})")

    @property
    def per_env(self) -> int:
        return -(-self.capacity // self.num_envs)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> BufferConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"replay config has unknown fields {unknown}")
        return cls(**data)


def torch_dtype(name: str, what: str) -> torch.dtype:
    """The torch dtype named ``name`` (e.g. 'uint8'); ``ValueError`` naming ``what`` otherwise."""
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{what}: {name!r} is not a torch dtype name (e.g. 'uint8', 'float32', 'int64')")
    return dtype
