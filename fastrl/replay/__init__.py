"""Replay on the learner's device: ring storage per env stream, Atari frames stored once, an n-step writer,
uniform and prioritized samplers, and save/load of the whole buffer.

``ReplayBuffer(ReplayConfig(...), device)`` composes them (see ``buffer.py`` for the add/sample protocol).
"""

from fastrl.replay.buffer import Batch, ReplayBuffer, ReplayConfig
from fastrl.replay.memory import InsufficientMemoryError
from fastrl.replay.persist import CheckpointError, load, save

__all__ = ["Batch", "CheckpointError", "InsufficientMemoryError", "ReplayBuffer", "ReplayConfig", "load", "save"]
