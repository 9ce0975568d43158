"""The NFQ section: neural fitted Q iteration on a growing batch, in the paper's cost terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastrl.config.fields import ConfigError, require_int, require_number, require_widths


@dataclass(frozen=True)
class NFQConfig:
    """Neural fitted Q iteration (Riedmiller 2005): collect episodes, then refit Q(s, a) on every transition
    gathered so far with batch Rprop, and again. Q estimates a cost to go (the greedy action minimizes it)."""

    gamma: float = 0.95
    """discount per env step of the costs"""
    costs: Literal["failure", "negative_reward"] = "failure"
    """failure: the paper's pole task: every transition costs step_cost, a terminal state is a failure whose
    target is failure_cost, and Q's output is a sigmoid in [0, 1] (the env's reward is not read); negative_reward:
    the cost of a transition is minus its reward, a terminal state costs nothing more, and Q's output is linear"""
    step_cost: float = 0.01
    """failure costs: the cost of every transition (the paper's c_trans)"""
    failure_cost: float = 1.0
    """failure costs: the target of a transition into a terminal state (the paper's forbidden states)"""
    episodes_per_iteration: int = 8
    """complete episodes (over all envs) collected between two refits"""
    iterations: int = 1
    """Q iterations per refit: each computes the targets with the last Q, then fits Q to them"""
    epochs: int = 100
    """Rprop epochs per Q iteration, each one step on the gradient of the whole pattern set"""
    rprop_step: float = 0.1
    """Rprop's initial step size (Riedmiller and Braun's Delta_0); torch's default increase/decrease factors
    1.2 / 0.5 and step bounds [1e-6, 50]"""
    epsilon: float = 0.0
    """collect with an epsilon-greedy policy (0: greedy, as the paper)"""
    random_episodes: int = 0
    """episodes of uniformly random actions collected before the first refit"""
    hidden: tuple[int, ...] = (5, 5)
    """hidden layer widths of the Q MLP (sigmoid units, as the paper's 5-5)"""
    goal: tuple[float, ...] = ()
    """failure costs: the goal region (the paper's S+ of its cart-pole regulator), one bound per observation
    dimension: a transition into a state with |s_i| < goal_i for every i costs 0 instead of step_cost (and still
    bootstraps); a bound of 0 leaves its dimension free; empty: no goal region"""
    scale_inputs: bool = False
    """feed Q the observation as z-scores over the states gathered so far, the scale taken anew at each refit"""

    def __post_init__(self):
        if self.costs not in ("failure", "negative_reward"):
            raise ConfigError(f"--costs {self.costs!r}: expected failure or negative_reward")
        require_number(self, "gamma", low=0.0, high=1.0)
        for name in ("step_cost", "failure_cost"):
            require_number(self, name, low=0.0, high=1.0, what="a cost in [0, 1], the range of Q's sigmoid output")
        for name in ("episodes_per_iteration", "iterations", "epochs"):
            require_int(self, name, least=1)
        require_number(self, "rprop_step", low=0.0, low_open=True)
        require_number(self, "epsilon", low=0.0, high=1.0)
        require_int(self, "random_episodes", least=0)
        require_widths(self.hidden)
        for i, bound in enumerate(self.goal):
            if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound >= 0:
                raise ConfigError(f"--goal: bound {i} is {bound!r}; expected numbers >= 0 (0: that dimension free)")
        if self.goal and self.costs != "failure":
            raise ConfigError(f"--goal {self.goal}: a goal region is a failure-costs notion; --costs is "
                              f"{self.costs!r}")
