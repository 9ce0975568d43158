"""fastrl: a hardware-focused, high-throughput deep reinforcement learning engine."""

__version__ = "0.1.0"
