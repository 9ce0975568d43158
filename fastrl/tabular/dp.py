"""Dynamic programming on a known MDP (Sutton & Barto, chapter 4): policy evaluation, policy iteration and
value iteration.

Each sweep updates every state at once from the previous sweep's values (the book's "two-array" version of
§4.1): one tensor expression per sweep, and its iterates v_k are the ones the book prints in Figure 4.1.
Policies are tables pi[s, a] = pi(a | s); a deterministic policy is a one-hot table.
"""

from __future__ import annotations

import torch

from fastrl.tabular.mdp import TabularMDP, uniform_policy
from fastrl.tabular.threads import on_one_thread


def action_values(mdp: TabularMDP, v: torch.Tensor, gamma: float) -> torch.Tensor:
    """q[s, a] = r(s, a) + gamma sum_s' p(s' | s, a) v(s'): one step of look-ahead from v."""
    return mdp.rewards + gamma * mdp.transitions @ v


@on_one_thread
def policy_evaluation(mdp: TabularMDP, policy: torch.Tensor, gamma: float, theta: float = 1e-10,
                      max_sweeps: int | None = None) -> tuple[torch.Tensor, int]:
    """(v_pi [S], sweeps): iterate v_{k+1}(s) = sum_a pi(a|s) q_k(s, a) from v_0 = 0 until no state changes by
    more than ``theta`` (or ``max_sweeps`` sweeps: the book's v_k)."""
    v = torch.zeros(mdp.num_states, dtype=torch.float64)
    sweeps = 0
    while max_sweeps is None or sweeps < max_sweeps:
        v_new = (policy * action_values(mdp, v, gamma)).sum(-1)
        delta = float((v_new - v).abs().max())
        v, sweeps = v_new, sweeps + 1
        if delta < theta:
            break
    return v, sweeps


def greedy_policy(q: torch.Tensor, keep: torch.Tensor | None = None, tolerance: float = 1e-9) -> torch.Tensor:
    """The one-hot policy of argmax_a q[s, a]. Where ``keep`` (a one-hot policy) already picks an action
    within ``tolerance`` of the maximum it stays: without this, policy iteration can switch forever between
    equally good actions (the flaw S&B Exercise 4.4 points out)."""
    best = q.argmax(-1)
    if keep is not None:
        kept = keep.argmax(-1)
        still_best = q.gather(-1, kept.unsqueeze(-1)).squeeze(-1) >= q.max(-1).values - tolerance
        best = torch.where(still_best, kept, best)
    return torch.nn.functional.one_hot(best, q.shape[-1]).to(q.dtype)


@on_one_thread
def policy_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10,
                     initial_policy: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(pi*, v*, improvements): evaluate, improve greedily, until the policy is stable (S&B §4.3).

    The initial policy (default: equiprobable random) must end its episodes when gamma = 1; each greedy
    improvement of such a policy does too. Its first evaluation needs about as many sweeps as its episodes
    are long: thousands for the random policy on the cliff with gamma = 1, where value iteration is quicker.
    """
    policy = initial_policy if initial_policy is not None else uniform_policy(mdp)
    improvements = 0
    while True:
        v, _ = policy_evaluation(mdp, policy, gamma, theta)
        improved = greedy_policy(action_values(mdp, v, gamma), keep=policy if improvements else None)
        improvements += 1
        if torch.equal(improved, policy):
            return policy, v, improvements
        policy = improved


@on_one_thread
def value_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(pi*, v*, sweeps): v_{k+1}(s) = max_a q_k(s, a) until no state changes by more than ``theta``, then the
    greedy policy of the last v (S&B §4.4)."""
    v = torch.zeros(mdp.num_states, dtype=torch.float64)
    sweeps = 0
    while True:
        v_new = action_values(mdp, v, gamma).max(-1).values
        delta = float((v_new - v).abs().max())
        v, sweeps = v_new, sweeps + 1
        if delta < theta:
            return greedy_policy(action_values(mdp, v, gamma)), v, sweeps
