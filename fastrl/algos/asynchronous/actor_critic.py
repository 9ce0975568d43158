"""A3C's rollout and loss (the inner loop of the paper's Algorithm S3), which A3C's workers and UNREAL's base
agent run unchanged."""

from __future__ import annotations

import torch

from fastrl.algos.asynchronous.workers import Worker
from fastrl.config import A3CConfig


def act(c: A3CConfig, w: Worker, state):
    """Act with a ~ π(·|s; θ') until a terminal or t_max steps; returns the LSTM state after the last step."""
    with torch.no_grad():
        for t in range(c.t_max):
            logits, _, state = w.net(w.obs[t:t + 1], state)
            w.step(t, w.sample(logits.view(-1)))
            if w.done:
                break
    return state


def actor_critic_loss(c: A3CConfig, w: Worker, start_state) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The rollout's A3C loss, the rollout re-run with gradients from the LSTM state it started with::

        R = 0 if terminal else V(s_n);  R_i = r_i + γ R_{i+1}
        loss = Σ_i −log π(a_i|s_i) (R_i − V(s_i)) − β H(π(·|s_i)) + c_v (R_i − V(s_i))²

    and its statistics (policy loss, mean squared advantage, mean entropy)."""
    n = w.length
    logits, values, _ = w.net(w.obs[:n + 1], start_state)
    values = values.view(n + 1)
    returns = w.returns(0.0 if w.terminated else float(values[n].detach()))  # R = V(s_t), or 0 if terminal
    log_probs = logits[:n].view(n, -1).log_softmax(-1)
    log_prob_taken = log_probs.gather(1, w.actions[:n, None]).view(n)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    advantage = returns - values[:n]
    policy_loss = -(log_prob_taken * advantage.detach()).sum() - c.entropy_coef * entropy.sum()
    value_loss = advantage.pow(2).sum()
    return (policy_loss + c.value_coef * value_loss,
            (policy_loss.detach(), value_loss.detach() / n, entropy.detach().mean()))
