"""A toy algorithm: uniformly random actions that learn nothing, declared once like every learner."""

from __future__ import annotations

import gymnasium
import torch

from fastrl.algos.base import Algorithm
from fastrl.config import ConfigError, EnvConfig, RunConfig


class UniformPolicy:
    """Acts uniformly at random; its one piece of state is how often it acted (checkpointed and resumed)."""

    def __init__(self, actions: int, device):
        self.actions, self.device = actions, torch.device(device)
        self.acted = torch.zeros((), dtype=torch.int64)

    def draw(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(0, self.actions, (obs.shape[0],), generator=generator, device=self.device)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """A training step's actions (counted)."""
        self.acted += obs.shape[0]
        return self.draw(obs)

    def take_stats(self) -> dict[str, float]:
        return {"acted": float(self.acted)}

    def state_dict(self) -> dict:
        return {"acted": self.acted}

    def load_state_dict(self, state: dict) -> None:
        self.acted = state["acted"].clone()


def learner_for(config, observation_space, action_space, device) -> UniformPolicy:
    return UniformPolicy(int(action_space.n), device)


def evaluation_policy(learner: UniformPolicy, config, epsilon: float | None = None):
    return learner.draw, "uniform"


def train(run) -> None:
    """The smallest loop on a Run: act, step, count, tick."""
    learner = learner_for(run.config, run.envs.single_observation_space, run.action_space, run.device)
    if run.checkpoint is not None:
        learner.load_state_dict(run.checkpoint.state["loop"]["learner"])
    obs = run.start()

    def state() -> dict:
        return {"learner": learner.state_dict(), "obs": obs}

    running = run.env_steps < run.config.total_env_steps
    while running:
        obs, _, _, _, info = run.envs.step(learner.act(obs))
        run.after_step(info)
        running = run.tick(learner, state)


def check_env(config, observation_space, action_space, where: str) -> None:
    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ConfigError(f"{where}: the toy needs a discrete action space, but {config.env.id} has {action_space}")


def _toy_catch() -> RunConfig:
    """Uniform actions on Catch."""
    return RunConfig(algo="toy", env=EnvConfig(id="Catch-v0", num_envs=4, backend="native"),
                     total_env_steps=400, log_interval=100, eval_episodes=4, torch_threads=1)


ALGORITHM = Algorithm(
    names=("toy",),
    sections=(),
    presets={"toy-catch": _toy_catch},
    check_run=lambda config: None,
    check_env=check_env,
    learner_for=learner_for,
    evaluation_policy=evaluation_policy,
    train=train,
)
