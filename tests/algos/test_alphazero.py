"""AlphaZero: the outcomes z its games give their positions, the replay, the loss, a run that resumes bit for
bit, the CLI's refusals, and the CI-sized preset's final agent beating random play in >= 95% of 200 games
(where the same search with the untrained network does not)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from fastrl import checkpoint
from fastrl.algos.alphazero.learner import PolicyValueNet, Replay, alphazero_loss, learner_for
from fastrl.algos.alphazero.loop import Games, play_matches
from fastrl.algos.alphazero.strength import match_rows
from fastrl.config import preset
from fastrl.config.alphazero import AlphaZeroConfig
from fastrl.envs import make_env
from fastrl.envs.connect_four import RULES
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train
from fastrl.train_cli import eval_main, train_main


def test_a_finished_game_gives_each_position_the_outcome_for_its_player_to_move():
    games = Games(3, RULES, torch.device("cpu"))
    replay = Replay(100, RULES.state_shape, RULES.num_actions, torch.device("cpu"))
    for move in range(5):  # games 0 and 1 end after 5 moves, game 2 plays on
        states = torch.full((3, *RULES.state_shape), move, dtype=torch.int8)
        games.record(states, torch.full((3, 7), move / 10))
        ended = torch.tensor([move == 4, move == 4, False])
        assert games.finish(ended, torch.tensor([1.0, 0.0, 1.0]), replay) == (10 if move == 4 else 0)
    # game 0: the last mover (moves 4, 2, 0) won, the other player (moves 3, 1) lost; game 1: a draw
    assert replay.outcomes[:10].tolist() == [1.0, -1.0, 1.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert replay.states[:5, 0, 0].tolist() == [0, 1, 2, 3, 4] and replay.policies[4, 0].item() == pytest.approx(0.4)
    assert games.moves.tolist() == [0, 0, 5] and games.restart.tolist() == [True, True, False]
    games.record(torch.zeros(3, *RULES.state_shape, dtype=torch.int8), torch.zeros(3, 7))  # the restart step
    assert games.moves.tolist() == [0, 0, 6]  # a restarting env's ignored move is not a position of its game


def test_replay_ring_and_mirror_images():
    replay = Replay(4, RULES.state_shape, RULES.num_actions, torch.device("cpu"))
    states = torch.zeros(6, *RULES.state_shape, dtype=torch.int8)
    states[:, 5, 0] = 1  # a stone in the bottom-left corner
    policies = torch.zeros(6, 7)
    policies[:, 0] = 1.0
    replay.add(states, policies, torch.arange(6.0))
    assert replay.size == 4 and sorted(replay.outcomes.tolist()) == [2.0, 3.0, 4.0, 5.0]
    generator = torch.Generator().manual_seed(0)
    s, p, z = replay.sample(400, generator, mirror=True)
    flipped = s[:, 5, 6] == 1
    assert torch.equal(flipped, p[:, 6] == 1.0) and torch.equal(~flipped, s[:, 5, 0] == 1)
    assert 120 < int(flipped.sum()) < 280 and set(z.tolist()) == {2.0, 3.0, 4.0, 5.0}


@pytest.mark.parametrize("network", ["mlp", "resnet"])
def test_the_loss_is_value_error_plus_cross_entropy_plus_weight_decay(network):
    torch.manual_seed(0)
    net = PolicyValueNet((2, 6, 7), 7, AlphaZeroConfig(network=network, hidden=(16,), channels=8, blocks=2))
    planes = torch.rand(5, 2, 6, 7)
    policies = torch.rand(5, 7).softmax(dim=-1)
    outcomes = torch.tensor([1.0, -1.0, 0.0, 1.0, -1.0])
    loss, parts = alphazero_loss(net, planes, policies, outcomes, c=1e-3)
    with torch.no_grad():
        logits, v = net(planes)
    assert logits.shape == (5, 7) and v.shape == (5,) and (v.abs() < 1).all()
    l2 = sum(float(p.detach().square().sum()) for p in net.parameters())
    expected = float(((outcomes - v) ** 2).mean() - (policies * logits.log_softmax(-1)).sum(-1).mean()) + 1e-3 * l2
    assert loss.item() == pytest.approx(expected, rel=1e-6) and parts[3].item() == pytest.approx(l2, rel=1e-6)


def tiny(run_dir, **run):
    base = preset("alphazero-connect4-ci")
    az = dataclasses.replace(base.alphazero, simulations=4, eval_simulations=2, batch_size=16, learning_starts=32,
                             replay_ratio=4.0, match_games=2, rollout_simulations=(1,), hidden=(16,))
    return dataclasses.replace(base, env=dataclasses.replace(base.env, num_envs=8), alphazero=az, run_dir=run_dir,
                               total_env_steps=256, log_interval=64, checkpoint_interval=128, eval_episodes=2,
                               tensorboard=False, progress=False, **run)


def test_a_resumed_run_equals_the_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(tiny(whole))
    train(tiny(split), stop_at=128)
    train(resume=split)
    rows = [{k: v for k, v in r.items() if k != "sps" and not k.startswith("ms_")} for r in read_jsonl(whole / METRICS)]
    assert rows == [{k: v for k, v in r.items() if k != "sps" and not k.startswith("ms_")}
                    for r in read_jsonl(split / METRICS)]
    assert rows[-1]["updates"] > 0 and rows[-1]["vs_mcts1_games"] == 2 and "vs_random_win_ci_low" in rows[-1]
    assert (whole / "strength.png").stat().st_size > 0 and len(match_rows(whole)) == 1
    a, b = (checkpoint.load(d).state["loop"]["learner"]["net"] for d in (whole, split))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert eval_main([str(whole), "--episodes", "4", "--json", str(tmp_path / "eval.json")]) == 0  # vs random
    assert json.loads((tmp_path / "eval.json").read_text())["policy"] == "search 2 simulations"
    assert eval_main([str(whole), "--epsilon", "0.1"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--env", "CartPole-v1"], "AlphaZero searches with the game's rules, which it has for ConnectFour-v0 only"),
    (["--options", "opponent=random"], "--options opponent=random: AlphaZero's training envs play both sides"),
    (["--batch-size", "64", "--replay-capacity", "32"], "--batch-size 64 is above --replay-capacity 32"),
    (["--rollout-simulations", "0"], "--rollout-simulations: 0; expected positive integers"),
    (["--dirichlet-alpha", "0"], "--dirichlet-alpha 0.0: expected a number > 0"),
])
def test_cli_refuses_alphazero_configs_that_do_not_fit(argv, message, tmp_path, capsys):
    try:
        code = train_main(["alphazero", *argv, "--run-dir", str(tmp_path / "run")])
    except SystemExit as exit_info:  # refused while parsing (tyro prints the error in a box)
        code = exit_info.code
    assert code == 2
    assert message in " ".join(capsys.readouterr().err.replace("│", " ").split())


def test_the_ci_preset_beats_random_play(tmp_path):
    """The final agent of ``fastrl train alphazero --preset alphazero-connect4-ci`` (its own budget) against
    uniformly random play, 200 games, half of them moving first: >= 95% won. The same search (16 simulations)
    with the untrained network wins less often (the two 95% intervals do not meet): the learning, not the
    search alone, makes the grade."""
    run_dir = tmp_path / "ci"
    assert train_main(["alphazero", "--preset", "alphazero-connect4-ci", "--run-dir", str(run_dir),
                       "--no-tensorboard", "--no-progress"]) == 0
    final = read_jsonl(run_dir / METRICS)[-1]
    assert final["vs_random_games"] == 200
    assert final["vs_random_win_rate"] >= 0.95, final
    config = preset("alphazero-connect4-ci")
    envs = make_env("ConnectFour-v0", 1)
    torch.manual_seed(config.seed)
    untrained = learner_for(config, envs.single_observation_space, envs.single_action_space, "cpu")
    control = play_matches(untrained, config, seed=1)
    assert control["vs_random_win_ci_high"] < final["vs_random_win_ci_low"], control  # the intervals are apart
