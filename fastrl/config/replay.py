"""The replay section of the off-policy learners, and the check that spans it and the learner's section."""

from __future__ import annotations

from dataclasses import dataclass

from fastrl.config.fields import ConfigError, require_int, require_number


@dataclass(frozen=True)
class ReplayConfig:
    """The replay memory: its size, how it is sampled and what one stored transition spans."""

    capacity: int = 100_000
    """transitions kept (the oldest are overwritten)"""
    n_step: int = 1
    """steps summed into one transition's return before bootstrapping (1 = one-step Q-learning)"""
    prioritized: bool = False
    """sample in proportion to priority^alpha (prioritized replay, Schaul et al. 2016) instead of uniformly"""
    alpha: float = 0.5
    """prioritized replay: how strongly priorities shape sampling (0 = uniform)"""
    beta_start: float = 0.4
    """prioritized replay: importance-sampling exponent at the start, annealed linearly to beta_end"""
    beta_end: float = 1.0
    """prioritized replay: importance-sampling exponent reached at the end of the run"""
    priority_eps: float = 1e-6
    """prioritized replay: added to |TD| so that no transition gets priority 0"""
    save_with_checkpoint: bool = False
    """also write the replay memory into each checkpoint (needed for an exact resume; can be large)"""

    def __post_init__(self):
        require_int(self, "capacity", least=1)
        require_int(self, "n_step", least=1)
        require_number(self, "alpha", low=0.0, high=1.0)
        require_number(self, "beta_start", low=0.0, high=1.0)
        require_number(self, "beta_end", low=0.0, high=1.0)
        require_number(self, "priority_eps", low=0.0, low_open=True)


def check_replay_fits(config, learner) -> None:
    """The first update of an off-policy ``learner`` section (``batch_size``, ``learning_starts``) needs
    ``batch_size`` complete transitions in the replay; refuse what cannot give them."""
    replay = config.replay
    least = learner.batch_size + config.env.num_envs * replay.n_step
    if learner.learning_starts < least:
        raise ConfigError(f"--learning-starts {learner.learning_starts} is below {least}: the first update "
                          f"needs --batch-size {learner.batch_size} complete transitions, and the newest "
                          f"--n-step {replay.n_step} steps of each of the --num-envs {config.env.num_envs} "
                          f"envs are not complete yet")
    if replay.capacity < learner.batch_size:
        raise ConfigError(f"--capacity {replay.capacity} is below --batch-size {learner.batch_size}")
