"""Planning with a model of the game: PUCT Monte-Carlo tree search, batched over B games in tensors
(``mcts.search``) and its plain per-game specification (``reference.search``), with the pieces they share
(``puct``: priors, root noise, the visit-count policy, the network and random-rollout evaluators)."""

from fastrl.planning.mcts import SearchResult, search
from fastrl.planning.puct import (
                                  dirichlet_noise,
                                  network_evaluator,
                                  rollout_evaluator,
                                  sample_actions,
                                  visit_policy,
)

__all__ = ["SearchResult", "dirichlet_noise", "network_evaluator", "rollout_evaluator", "sample_actions", "search",
           "visit_policy"]
