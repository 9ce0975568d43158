"""Replay on the learner's device: ring storage per env stream, Atari frames stored once, an n-step writer,
uniform and prioritized samplers, and save/load of the whole buffer.

``ReplayBuffer(BufferConfig(...), device)`` composes them (see ``buffer.py`` for the add/sample protocol).
"""

from fastrl.replay.batch import Batch
from fastrl.replay.buffer import ReplayBuffer
from fastrl.replay.config import BufferConfig
from fastrl.replay.memory import InsufficientMemoryError
from fastrl.replay.persist import CheckpointError, save

load = ReplayBuffer.load

__all__ = ["Batch", "CheckpointError", "InsufficientMemoryError", "ReplayBuffer", "BufferConfig", "load", "save"]
