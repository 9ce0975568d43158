"""AlphaZero declared once: presets, checks, and where the learner and its self-play loop live."""

from __future__ import annotations

from fastrl.algos.base import Algorithm, lazy
from fastrl.config import ConfigError, EnvConfig, RunConfig
from fastrl.config.alphazero import AlphaZeroConfig

#: the envs whose rules the search knows (fastrl.algos.alphazero.learner.GAMES, without importing torch here)
GAME_IDS = ("ConnectFour-v0",)


def _alphazero_connect4_ci() -> RunConfig:
    """Connect Four in CI's budget: 256 games at once, 12 simulations per move, a 128x128 MLP, 30k moves.
    Its test (tests/algos/test_alphazero.py) has the final agent beat random play in >= 95% of 200 games."""
    return RunConfig(
        algo="alphazero", env=EnvConfig(id="ConnectFour-v0", num_envs=256, backend="native"),
        alphazero=AlphaZeroConfig(simulations=12, temperature_moves=6, replay_capacity=20_000, batch_size=128,
                                  replay_ratio=6.0, learning_starts=500, lr=2e-3, hidden=(128, 128),
                                  eval_simulations=16, match_games=200, rollout_simulations=()),
        total_env_steps=30_000, log_interval=4_096, eval_episodes=10, torch_threads=1,
    )


def _alphazero_connect4() -> RunConfig:
    """Connect Four, longer, sized for a shared 2-core CPU: 256 games at once, 24 simulations per self-play
    move, a 256x256 MLP, 2M moves. Every 250k moves the agent (200 simulations, as many as its strongest
    opponent's) plays random play and pure MCTS at 50 and 200 simulations, 100 games each."""
    return RunConfig(
        algo="alphazero", env=EnvConfig(id="ConnectFour-v0", num_envs=256, backend="native"),
        alphazero=AlphaZeroConfig(simulations=24, temperature_moves=8, replay_capacity=100_000, batch_size=256,
                                  replay_ratio=4.0, learning_starts=5_000, lr=2e-3, hidden=(256, 256),
                                  eval_simulations=200, match_games=100, rollout_simulations=(50, 200),
                                  match_interval=250_000),
        total_env_steps=2_000_000, log_interval=25_600, checkpoint_interval=100_000, eval_episodes=50,
        torch_threads=1,
    )


def check_run(config: RunConfig) -> None:
    if config.env.id not in GAME_IDS:
        raise ConfigError(f"--env {config.env.id}: AlphaZero searches with the game's rules, which it has for "
                          f"{', '.join(GAME_IDS)} only")
    given = config.env.make_options()
    for name in ("opponent", "first"):
        if name in given:
            raise ConfigError(f"--options {name}={given[name]}: AlphaZero's training envs play both sides "
                              f"(opponent=self) and its evaluations play the env's random opponent; drop it")


def check_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ConfigError(f"{where}: AlphaZero's search needs a discrete action space, but {config.env.id} has "
                          f"{action_space}")


ALGORITHM = Algorithm(
    names=("alphazero",),
    sections=("alphazero",),
    presets={"alphazero-connect4-ci": _alphazero_connect4_ci, "alphazero-connect4": _alphazero_connect4},
    check_run=check_run,
    check_env=check_env,
    learner_for=lazy("fastrl.algos.alphazero.learner:learner_for"),
    evaluation_policy=lazy("fastrl.algos.alphazero.learner:evaluation_policy"),
    train=lazy("fastrl.algos.alphazero.loop:train"),
    stages=("search", "env", "store", "update", "matches"),
    env_options=lazy("fastrl.algos.alphazero.loop:env_options"),
    default_config=lambda env: RunConfig(algo="alphazero", env=EnvConfig(id=env or "ConnectFour-v0", num_envs=64,
                                                                          backend="auto")),
)
