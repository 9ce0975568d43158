"""AlphaZero's self-play loop on a ``fastrl.runner.Run``: num_envs games at once, both sides played by the search.

Per step, for every game: search from the position (root noise; the first ``temperature_moves`` moves drawn
from the visit counts, later ones the most visited), keep (s, π), play the move in the env (self-play mode:
the env has no opponent of its own). When a game ends, each of its positions gets its outcome z for the
player to move there (+1 won, −1 lost, 0 drawn) and (s, π, z) go to the replay; gradient steps follow, as
many as ``replay_ratio`` asks. At ``match_interval`` and at the end the agent plays matches against the fixed
opponents (``fastrl.planning.arena``): their win rates with 95% intervals go into the next metrics row.
"""

from __future__ import annotations

import torch

from fastrl.algos.alphazero.learner import GAMES, AlphaZero, Replay, learner_for, playable
from fastrl.algos.alphazero.strength import plot_strength
from fastrl.planning import arena
from fastrl.run.intervals import next_multiple

#: the env option that makes the training envs self-play: both sides' moves come from the loop
SELF_PLAY = {"opponent": "self"}


def env_options(config) -> dict:
    return dict(SELF_PLAY)


class Games:
    """The games in progress, one per env: their positions so far (s, π) and their move counts."""

    def __init__(self, num_envs: int, rules, device: torch.device):
        self.states = torch.zeros((num_envs, rules.max_moves, *rules.state_shape), dtype=torch.int8, device=device)
        self.policies = torch.zeros((num_envs, rules.max_moves, rules.num_actions), device=device)
        self.moves = torch.zeros(num_envs, dtype=torch.int64, device=device)
        #: the last step ended the game: this step's action is ignored and a new game starts (next-step autoreset)
        self.restart = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def record(self, states: torch.Tensor, policies: torch.Tensor) -> None:
        """Keep this move's (s, π) in each game (a restarting env's row is overwritten by its next game)."""
        rows = torch.arange(states.shape[0], device=states.device)
        self.states[rows, self.moves] = states
        self.policies[rows, self.moves] = policies.float()
        self.moves += ~self.restart

    def finish(self, ended: torch.Tensor, reward: torch.Tensor, replay: Replay) -> int:
        """Move the ended games' positions into the replay with their outcomes; returns how many.

        ``reward`` is the last mover's (1 won, 0 drawn). In a game of L moves the player to move at move t is
        the last mover when L − 1 − t is even, the other player when odd: z_t = r (−1)^(L − 1 − t).
        """
        t = torch.arange(self.states.shape[1], device=ended.device)
        keep = ended[:, None] & (t[None, :] < self.moves[:, None])
        game, ply = keep.nonzero(as_tuple=True)
        last = self.moves[game] - 1
        sign = 1.0 - 2.0 * ((last - ply) % 2).float()
        replay.add(self.states[game, ply], self.policies[game, ply], reward[game] * sign)
        self.moves.masked_fill_(ended, 0)
        self.restart.copy_(ended)
        return int(game.numel())

    def state_dict(self) -> dict:
        return {"states": self.states, "policies": self.policies, "moves": self.moves, "restart": self.restart}

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            getattr(self, name).copy_(value)


def play_matches(learner: AlphaZero, config, seed: int) -> dict[str, float]:
    """The agent (``eval_simulations`` of search, no noise) against random play and against pure MCTS at
    each of ``rollout_simulations``: win rates with their 95% intervals, as metrics."""
    c = config.alphazero
    rules, device = learner.rules, learner.device
    generator = torch.Generator(device=device).manual_seed(seed)
    agent = arena.search_player(rules, learner.evaluate, c.eval_simulations, c.c_puct)
    opponents = {"vs_random": arena.random_player(rules, generator)}
    for n in c.rollout_simulations:
        opponents[f"vs_mcts{n}"] = arena.pure_mcts_player(rules, n, c.c_puct, generator)
    out: dict[str, float] = {}
    for name, opponent in opponents.items():
        out.update(arena.match(rules, agent, opponent, c.match_games, device).metrics(name))
    return out


def train(run) -> AlphaZero:
    """Self-play, store, learn, until the run's env steps (moves, summed over the games) are spent."""
    config = run.config
    c = config.alphazero
    rules = GAMES[config.env.id]
    learner = learner_for(config, run.envs.single_observation_space, run.action_space, run.device)
    replay = Replay(c.replay_capacity, rules.state_shape, rules.num_actions, run.device)
    games = Games(run.envs.num_envs, rules, run.device)
    saved = run.checkpoint.state["loop"] if run.checkpoint is not None else None
    owed = 0.0  # gradient steps owed to the replay ratio, carried between steps
    if saved is not None:
        learner.load_state_dict(saved["learner"])
        replay.load_state_dict(saved["replay"])
        owed = float(saved["owed"])
    obs = run.start()
    if saved is not None and run.envs_restored:
        games.load_state_dict(saved["games"])
    next_match = next_multiple(run.env_steps, c.match_interval) if c.match_interval else None

    def state() -> dict:
        return {"learner": learner.state_dict(), "replay": replay.state_dict(), "games": games.state_dict(),
                "obs": obs, "owed": owed}

    running = run.env_steps < config.total_env_steps
    matches_to_plot = False
    while running:
        with run.stopwatch("search"):
            states = playable(rules, rules.from_observation(obs))
            actions, policies = learner.act(states, c.simulations, explore=games.moves < c.temperature_moves)
        games.record(states, policies)
        with run.stopwatch("env"):
            obs, reward, terminated, _, info = run.envs.step(actions)
        run.after_step(info)
        with run.stopwatch("store"):
            stored = games.finish(terminated, reward, replay)
        with run.stopwatch("update"):
            if replay.added >= c.learning_starts:
                owed += stored * c.replay_ratio / c.batch_size
                steps = int(owed)
                owed -= steps
                learner.learn(replay, steps)
        done = run.env_steps >= config.total_env_steps
        if done or (next_match is not None and run.env_steps >= next_match):
            with run.stopwatch("matches"):
                learner.reports.update(play_matches(learner, config, config.seed + run.env_steps))
            next_match = next_multiple(run.env_steps, c.match_interval) if c.match_interval else None
            matches_to_plot = True
        running = run.tick(learner, state)
        if matches_to_plot and not learner.reports:  # their metrics row is written: draw it
            plot_strength(run.run_dir)
            matches_to_plot = False
    return learner
