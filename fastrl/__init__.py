"""fastrl: a hardware-focused, high-throughput deep reinforcement learning engine."""

from fastrl import _numba_cache

_numba_cache.configure()

__version__ = "0.1.0"
