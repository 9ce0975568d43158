"""Batched PUCT Monte-Carlo tree search: B games searched at once, the trees held in preallocated tensors.

The search of AlphaGo Zero / AlphaZero (Silver et al. 2017, 2018), laid out as DeepMind's ``mctx`` lays out
its trees: every statistic is an array ``[B, nodes, ...]`` and a simulation advances all B trees together,
with loops over simulations and over depth only, never over games or nodes. ``reference.py`` is the same
search written plainly for one game; a test runs both on fixed networks and asserts the same visit counts.

One simulation, for every game at once::

    select:   from the root, a* = argmax_a Q(s, a) + c_puct P(s, a) √N(s) / (1 + N(s, a))  over legal a,
              while the chosen edge leads to an expanded, unfinished node
    expand:   s' = play(s, a*); (p, v) = f(s'), v = 0 if the game is over; a new node holds s', P = p, N = 0
    backup:   G = v at the leaf; at each node on the way up: N += 1, V += (G − V) / N, then G = r − G

Values are for the player to move at a node; Q(s, a) = r(s, a) − V(child) (the child's mover is the other
player), and Q = 0 for an unexpanded edge. N(s) counts the node's own evaluation, so the first selection at
a new node follows its prior. A simulation that ends on a finished game expands nothing: it backs up G = 0
from that leaf again. Ties in the argmax go to the lowest action.

Trees have ``num_simulations + 1`` nodes (the root, and at most one new node per simulation) and two more: a
scratch node, where games that expand nothing in a simulation write their (discarded) new node, and a null
node, never written, whose statistics are all 0: an unexpanded edge points to it, so Q = 0 and N = 0 come out
of the same gathers as the expanded edges' values. The writes stay unconditional, with no boolean indexing
and no host sync except one ``any()`` per depth of the selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastrl.planning.puct import Evaluator, Rules, check_roots, priors, with_noise

ROOT = 0


@dataclass
class Tree:
    """B search trees; node 0 is each root, the last two nodes the scratch and the null node."""

    states: torch.Tensor  # [B, M, *state_shape]
    prior: torch.Tensor  # [B, M, A] float64: P(s, a)
    legal: torch.Tensor  # [B, M, A] bool
    children: torch.Tensor  # [B, M, A] int64: the child's node index, the null node where not expanded
    visits: torch.Tensor  # [B, M] float64: N(s)
    value: torch.Tensor  # [B, M] float64: V(s), the mean of the backed-up values, for the player to move
    reward: torch.Tensor  # [B, M] float64: r of the edge into the node, for the player who moved
    finished: torch.Tensor  # [B, M] bool: the game is over at the node
    parent: torch.Tensor  # [B, M] int64
    size: torch.Tensor  # [B] int64: nodes in use

    @property
    def scratch(self) -> int:
        return self.visits.shape[1] - 2

    @property
    def null(self) -> int:
        return self.visits.shape[1] - 1

    def root_visits(self) -> torch.Tensor:
        """N(root, a) [B, A] (float64)."""
        return self.visits.gather(1, self.children[:, ROOT])


@dataclass
class SearchResult:
    visits: torch.Tensor
    """N(root, a) [B, A] (int64)"""
    value: torch.Tensor
    """V(root) [B] (float64): the mean of the values backed up through the root"""


def search(rules: Rules, evaluate: Evaluator, roots: torch.Tensor, num_simulations: int, *, c_puct: float,
           root_noise: torch.Tensor | None = None, noise_fraction: float = 0.25) -> SearchResult:
    """Search from each of the B ``roots`` (canonical states, games not finished) for ``num_simulations``.

    ``root_noise``: η [B, A] for the root prior (1 − ε) P + ε η (``puct.dirichlet_noise``), None for none.
    """
    if num_simulations < 1:
        raise ValueError(f"search: num_simulations={num_simulations}; expected at least 1")
    legal = check_roots(rules, roots, "search")
    tree = _new_tree(rules, roots, num_simulations + 3)
    logits, value = evaluate(roots)
    rows = _rows(tree.size)
    tree.legal[:, ROOT] = legal
    tree.prior[:, ROOT] = with_noise(priors(logits, legal), root_noise, noise_fraction)
    tree.visits[:, ROOT] = 1.0
    tree.value[:, ROOT] = value.double()
    for _ in range(num_simulations):
        node, action, depth = _select(tree, c_puct)
        leaf, leaf_value = _expand(tree, rules, evaluate, node, action)
        _backup(tree, leaf, leaf_value, depth)
    return SearchResult(tree.root_visits().long(), tree.value[rows, ROOT])


def _select(tree: Tree, c_puct: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Walk down every tree along a* until the chosen edge is unexpanded or ends the game: (node, a*) [B]
    and the depth walked (a bound on every leaf's depth)."""
    node = torch.zeros_like(tree.size)
    action = torch.zeros_like(tree.size)
    walking = torch.ones_like(tree.size, dtype=torch.bool)
    rows = _rows(node)
    depth = 0
    while True:
        depth += 1
        action = torch.where(walking, _puct_action(tree, node, c_puct), action)
        child = tree.children[rows, node, action]
        walking = walking & (child != tree.null) & ~tree.finished[rows, child]
        node = torch.where(walking, child, node)
        if not bool(walking.any()):
            return node, action, depth


def _puct_action(tree: Tree, node: torch.Tensor, c_puct: float) -> torch.Tensor:
    """argmax_a Q(s, a) + c_puct P(s, a) √N(s) / (1 + N(s, a)) over the legal actions of each ``node``."""
    rows = _rows(node)
    kids = tree.children[rows, node]
    q = tree.reward.gather(1, kids) - tree.value.gather(1, kids)
    child_visits = tree.visits.gather(1, kids)
    u = c_puct * tree.prior[rows, node] * tree.visits[rows, node].sqrt()[:, None] / (1 + child_visits)
    scores = (q + u).masked_fill_(~tree.legal[rows, node], float("-inf"))
    return scores.argmax(dim=1)


def _expand(tree: Tree, rules: Rules, evaluate: Evaluator, node: torch.Tensor,
            action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Add the node s' = play(s, a*) where the edge is new (elsewhere the write goes to the scratch node);
    returns the leaf of each simulation and its value G for the player to move there."""
    rows = _rows(node)
    child = tree.children[rows, node, action]
    new = child == tree.null
    index = torch.where(new, tree.size, tree.scratch)
    states, reward, done = rules.play(tree.states[rows, node], action)
    logits, value = evaluate(states)
    legal = rules.legal(states)
    tree.states[rows, index] = states
    tree.legal[rows, index] = legal
    tree.prior[rows, index] = priors(logits, legal)
    tree.reward[rows, index] = reward.double()
    tree.finished[rows, index] = done
    tree.parent[rows, index] = node
    tree.children[rows, node, action] = torch.where(new, index, child)
    tree.size += new
    leaf = torch.where(new, index, child)
    leaf_value = torch.where(new & ~done, value.double(), 0.0)
    return leaf, leaf_value


def _backup(tree: Tree, leaf: torch.Tensor, value: torch.Tensor, depth: int) -> None:
    """From each leaf up to its root: N += 1, V ← (V N + G) / (N + 1), then G ← r − G for the parent."""
    rows = _rows(leaf)
    node, climbing = leaf, torch.ones_like(leaf, dtype=torch.bool)
    for _ in range(depth + 1):  # a leaf lies at most ``depth`` edges below its root
        at = torch.where(climbing, node, tree.scratch)
        n = tree.visits[rows, at]
        tree.value[rows, at] = (tree.value[rows, at] * n + value) / (n + 1)
        tree.visits[rows, at] = n + 1
        value = tree.reward[rows, at] - value
        climbing = climbing & (node != ROOT)
        node = tree.parent[rows, node]


def _new_tree(rules: Rules, roots: torch.Tensor, nodes: int) -> Tree:
    batch, actions, device = roots.shape[0], rules.num_actions, roots.device
    states = torch.zeros((batch, nodes, *rules.state_shape), dtype=roots.dtype, device=device)
    states[:, ROOT] = roots
    f64 = dict(dtype=torch.float64, device=device)
    return Tree(states=states, prior=torch.zeros((batch, nodes, actions), **f64),
                legal=torch.zeros((batch, nodes, actions), dtype=torch.bool, device=device),
                children=torch.full((batch, nodes, actions), nodes - 1, dtype=torch.int64, device=device),
                visits=torch.zeros((batch, nodes), **f64), value=torch.zeros((batch, nodes), **f64),
                reward=torch.zeros((batch, nodes), **f64),
                finished=torch.zeros((batch, nodes), dtype=torch.bool, device=device),
                parent=torch.zeros((batch, nodes), dtype=torch.int64, device=device),
                size=torch.ones(batch, dtype=torch.int64, device=device))


def _rows(like: torch.Tensor) -> torch.Tensor:
    return torch.arange(like.shape[0], device=like.device)
