"""The batched PUCT search against its per-game reference (the same visit counts on fixed networks, with and
without root noise), the search's sign conventions on positions with a known best move, the visit-count
policy, the root noise and the errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fastrl.envs.connect_four import RULES, new_boards, play, random_moves
from fastrl.planning import mcts, reference
from fastrl.planning.puct import (
    dirichlet_noise,
    network_evaluator,
    rollout_evaluator,
    standard_gamma,
    visit_policy,
)


class FixedNet(nn.Module):
    """A seeded random (p, v) network, its logits and value sharp enough that the search's choices vary."""

    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(84, 32), nn.Tanh(), nn.Linear(32, 8))

    def forward(self, x):
        out = self.body(x) * 3
        return out[:, :7], out[:, 7].tanh()


def positions(batch: int, moves: int, seed: int) -> torch.Tensor:
    """Boards after up to ``moves`` random moves (a game that ends stops at the position before its end)."""
    generator = torch.Generator().manual_seed(seed)
    boards = new_boards(batch)
    for _ in range(moves):
        after, _, done = play(boards, random_moves(boards, generator), check=False)
        boards = torch.where(done[:, None, None], boards, after)
    return boards


def board(*rows: str) -> torch.Tensor:
    value = {"x": 1, "o": -1, ".": 0}
    return torch.tensor([[[value[c] for c in r] for r in rows]], dtype=torch.int8)


@pytest.mark.parametrize("seed, moves, simulations, c_puct", [(1, 4, 64, 2.0), (2, 16, 64, 1.0), (3, 30, 48, 4.0)])
def test_batched_search_gives_the_reference_visit_counts(seed, moves, simulations, c_puct):
    roots = positions(10, moves, seed)
    evaluate = network_evaluator(FixedNet(seed), RULES)
    batched = mcts.search(RULES, evaluate, roots, simulations, c_puct=c_puct)
    expected = reference.search(RULES, evaluate, roots, simulations, c_puct=c_puct)
    assert torch.equal(batched.visits, expected)
    assert (batched.visits.sum(dim=1) == simulations).all()
    assert len(set(map(tuple, expected.tolist()))) > 6  # the trees differ from game to game


def test_batched_search_gives_the_reference_visit_counts_with_the_same_root_noise():
    roots = positions(8, 8, seed=4)
    evaluate = network_evaluator(FixedNet(4), RULES)
    noise = dirichlet_noise(RULES.legal(roots), alpha=1.0, generator=torch.Generator().manual_seed(5))
    batched = mcts.search(RULES, evaluate, roots, 48, c_puct=1.5, root_noise=noise, noise_fraction=0.25)
    expected = reference.search(RULES, evaluate, roots, 48, c_puct=1.5, root_noise=noise, noise_fraction=0.25)
    assert torch.equal(batched.visits, expected)
    quiet = mcts.search(RULES, evaluate, roots, 48, c_puct=1.5)
    assert not torch.equal(quiet.visits, batched.visits)  # the noise reached the search


def flat_evaluator(states):
    """A uniform prior and value 0 everywhere: what the search learns comes from finished games alone."""
    return torch.zeros(states.shape[0], 7), torch.zeros(states.shape[0])


def test_the_search_finds_the_winning_move_and_the_block():
    roots = torch.cat([board(".......", ".......", ".......", "...x...", "...x...", "..ox.oo"),  # win: column 3
                       board(".......", ".......", ".......", ".......", ".......", "xxooo.x")])  # block: column 5
    flat = mcts.search(RULES, flat_evaluator, roots, 200, c_puct=1.0)
    assert flat.visits.argmax(dim=1).tolist() == [3, 5]
    assert flat.value[0] > 0.5  # a won position, for the player to move


def test_random_rollouts_score_the_outcome_for_the_player_to_move():
    bottom = ("oxoxoxx", "oxoxoxo", "xoxoxox", "xoxoxox")  # full, no four: one column left to play in
    states = torch.cat([board("oxoxxx.", "xoxoxoo", *bottom),  # the mover's one move makes four
                        board("xoxoxo.", "xoxoxoo", *bottom),  # the mover's one move fills the board: a draw
                        board("xoxooo.", "xoxoxo.", *bottom)])  # the mover's move lets the other player win
    _, value = rollout_evaluator(RULES, torch.Generator().manual_seed(0))(states)
    assert value.tolist() == [1.0, 0.0, -1.0]


def test_visit_policy_and_root_noise():
    visits = torch.tensor([[0, 2, 6, 2], [5, 5, 0, 0]])
    assert torch.allclose(visit_policy(visits, 1.0), torch.tensor([[0, 0.2, 0.6, 0.2], [0.5, 0.5, 0, 0]],
                                                                  dtype=torch.float64))
    assert torch.allclose(visit_policy(visits, 0.5)[0], torch.tensor([0, 4, 36, 4], dtype=torch.float64) / 44)
    assert visit_policy(visits, 0.0).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    generator = torch.Generator().manual_seed(0)
    for alpha in (0.3, 1.0, 4.0):  # Gamma(α, 1) has mean α and variance α
        draws = standard_gamma(alpha, (20_000,), generator)
        assert abs(draws.mean().item() - alpha) < 0.05 * alpha and abs(draws.var().item() - alpha) < 0.1 * alpha
    legal = torch.tensor([[True, False, True, True]] * 1000)
    noise = dirichlet_noise(legal, alpha=0.3, generator=generator)
    assert torch.allclose(noise.sum(dim=1), torch.ones(1000, dtype=torch.float64)) and (noise[:, 1] == 0).all()
    assert abs(noise[:, 0].mean().item() - 1 / 3) < 0.03  # Dir(α) has mean 1/k on each of k legal actions


def test_bad_roots_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^search: roots have shape \(2, 7, 6\); expected \[B, 6, 7\] "
                                         r"ConnectFour states$"):
        mcts.search(RULES, flat_evaluator, torch.zeros(2, 7, 6, dtype=torch.int8), 4, c_puct=1.0)
    won = board(".......", ".......", "o......", "o......", "o......", "oxxx...")
    with pytest.raises(ValueError, match=r"^reference search: root 0 is a finished game; expected positions"):
        reference.search(RULES, flat_evaluator, won, 4, c_puct=1.0)
    with pytest.raises(ValueError, match="num_simulations=0; expected at least 1"):
        mcts.search(RULES, flat_evaluator, new_boards(1), 0, c_puct=1.0)
