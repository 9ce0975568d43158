"""The reference PUCT search: one game, one Python object per node, the specification of ``mcts.search``.

It is the search of ``mcts.py`` (read the algorithm there) written as plainly as possible: a node holds its
state, its children in a dict, its visit count and value as Python floats. The prior and the evaluator are
the same functions the batched search calls, on a batch of one, so the two searches see the same numbers and
do the same float64 arithmetic in the same order: they return the same visit counts
(tests/planning/test_mcts.py), and ``fastrl bench planning`` times one beside the other.
"""

from __future__ import annotations

import math

import torch

from fastrl.planning.puct import Evaluator, Rules, check_roots, priors, with_noise


class Node:
    def __init__(self, state: torch.Tensor, reward: float, finished: bool):
        self.state = state  # [*state_shape], canonical: the player to move is +1
        self.reward = reward  # r of the edge into this node, for the player who moved
        self.finished = finished
        self.prior: list[float] = []
        self.legal: list[bool] = []
        self.children: dict[int, Node] = {}
        self.visits = 0.0
        self.value = 0.0  # for the player to move here


def evaluate_node(node: Node, rules: Rules, evaluate: Evaluator) -> float:
    """Set the node's prior; return its value (0 for a finished game, which has no moves to weigh)."""
    logits, value = evaluate(node.state[None])
    legal = rules.legal(node.state[None])
    node.legal = legal[0].tolist()
    node.prior = priors(logits, legal)[0].tolist()
    return 0.0 if node.finished else float(value[0])


def puct_action(node: Node, c_puct: float) -> int:
    best, best_score = -1, -math.inf
    for a, legal in enumerate(node.legal):
        if not legal:
            continue
        child = node.children.get(a)
        q = child.reward - child.value if child else 0.0
        n = child.visits if child else 0.0
        score = q + c_puct * node.prior[a] * math.sqrt(node.visits) / (1 + n)
        if score > best_score:
            best, best_score = a, score
    return best


def search_one(rules: Rules, evaluate: Evaluator, root_state: torch.Tensor, num_simulations: int, *,
               c_puct: float, root_noise: torch.Tensor | None = None, noise_fraction: float = 0.25) -> Node:
    """Search from one root state; returns the root (``visit_counts(root)`` gives N(root, ·))."""
    check_roots(rules, root_state[None], "reference search")
    root = Node(root_state, 0.0, False)
    root.value = evaluate_node(root, rules, evaluate)
    root.visits = 1.0
    if root_noise is not None:
        prior = torch.tensor(root.prior, dtype=torch.float64)
        root.prior = with_noise(prior, root_noise.double(), noise_fraction).tolist()
    for _ in range(num_simulations):
        # select: down the tree while the chosen edge leads to an expanded, unfinished node
        node, path = root, [root]
        action = puct_action(node, c_puct)
        while action in node.children and not node.children[action].finished:
            node = node.children[action]
            path.append(node)
            action = puct_action(node, c_puct)
        # expand: a new node for a new edge; a finished game is a leaf of value 0
        if action in node.children:
            leaf = node.children[action]
            value = 0.0
        else:
            state, reward, done = rules.play(node.state[None], torch.tensor([action], device=node.state.device))
            leaf = Node(state[0], float(reward[0]), bool(done[0]))
            value = evaluate_node(leaf, rules, evaluate)
            node.children[action] = leaf
        path.append(leaf)
        # backup: each node's value for its own player to move; the sign flips at every ply
        for n in reversed(path):
            n.value = (n.value * n.visits + value) / (n.visits + 1)
            n.visits += 1
            value = n.reward - value
    return root


def visit_counts(root: Node, num_actions: int) -> list[int]:
    return [int(root.children[a].visits) if a in root.children else 0 for a in range(num_actions)]


def search(rules: Rules, evaluate: Evaluator, roots: torch.Tensor, num_simulations: int, *, c_puct: float,
           root_noise: torch.Tensor | None = None, noise_fraction: float = 0.25) -> torch.Tensor:
    """``search_one`` on each root in turn: N(root, a) [B, A] (int64), as ``mcts.search(...).visits``."""
    rows = []
    for i in range(roots.shape[0]):
        noise = None if root_noise is None else root_noise[i]
        root = search_one(rules, evaluate, roots[i], num_simulations, c_puct=c_puct, root_noise=noise,
                          noise_fraction=noise_fraction)
        rows.append(visit_counts(root, rules.num_actions))
    return torch.tensor(rows, dtype=torch.int64)
