"""REINFORCE (Williams 1992), with or without a learned baseline (Sutton & Barto 2018, section 13.4).

The algorithm, for N envs stepping together::

    initialize the policy π(a|s; θ) and, with a baseline, V(s; w)
    repeat:
        act a ~ π(·|s) in every env; keep each env's steps          (fastrl.algos.reinforce.episodes)
        once episodes_per_update episodes have ended:
            G_t = Σ_k γ^k r_{t+k} to each episode's end              (Monte-Carlo returns)
            δ_t = G_t − V(s_t)   (with a baseline; else δ_t = G_t)
            θ ← θ + α_θ ∇θ mean_t[δ_t log π(a_t|s_t; θ)]             (Adam, on the mean over the episodes' steps)
            w ← w − α_w ∇w mean_t[(G_t − V(s_t; w))² / 2]            (with a baseline)

Two choices, as most implementations make them: the γ^t factor of the discounted objective's gradient is left
out (every step's log-probability is weighted by its own return, Williams' episodic form), and the steps of an
update are averaged, not summed per episode. An env's unfinished episode goes on across an update: its steps
before the update were drawn from the policy one update older (REINFORCE has no correction for that lag; it is
at most one update on the first part of one episode per env).

``train(run)`` is the loop; ``Reinforce`` holds the networks, the optimizer and the update; ``fastrl.runner.Run``
does the plumbing (envs, logging, evaluation, checkpoints).
"""

from __future__ import annotations

import torch
from torch import nn

from fastrl import checkpoint
from fastrl.algos.common import take_means
from fastrl.algos.gradients import GradNormPeak
from fastrl.algos.reinforce.episodes import EpisodeBuffer
from fastrl.config import ReinforceConfig
from fastrl.envs.base import torch_dtype
from fastrl.nets import MLP

#: learner statistics averaged over updates between two log rows, in this order
STATS = ("policy_loss", "value_loss", "entropy", "return_mean", "episodes_per_update")


def mlp_head(observation_shape: tuple[int, ...], hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    """The ReLU MLP torso of ``fastrl.nets.MLP`` and one linear layer of ``outputs``."""
    torso = MLP(observation_shape, hidden)
    return nn.Sequential(torso, nn.Linear(torso.out_features, outputs))


class Reinforce:
    """The policy, the optional baseline, their optimizer, acting by sampling, and the episode update."""

    def __init__(self, config: ReinforceConfig, observation_shape: tuple[int, ...], actions: int,
                 device: torch.device | str, *, seed: int):
        self.config = config
        self.device = torch.device(device)
        self.policy = mlp_head(observation_shape, config.hidden, actions).to(self.device)
        self.baseline = mlp_head(observation_shape, config.hidden, 1).to(self.device) if config.baseline else None
        groups = [{"params": list(self.policy.parameters()), "lr": config.lr}]
        if self.baseline is not None:
            groups.append({"params": list(self.baseline.parameters()), "lr": config.baseline_lr})
        self.optimizer = torch.optim.Adam(groups, eps=config.optim_eps)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # action draws
        self.updates = 0
        self.stats = torch.zeros(len(STATS) + 1, device=self.device)  # STATS sums, then the update count
        self.grad_norm = GradNormPeak(self.device)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Actions sampled from π(·|s) [N] (Gumbel-max on the logits; draws from ``generator``, default the
        learner's own, which is checkpointed)."""
        logits = self.policy(obs)
        uniform = torch.rand(logits.shape, generator=generator or self.generator, device=self.device)
        return (logits - uniform.clamp_(min=1e-20).log_().neg_().log_()).argmax(dim=-1)

    @torch.no_grad()
    def act_greedy(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy(obs).argmax(dim=-1)

    def losses(self, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor):
        """(policy loss, baseline loss or None, entropy) of a batch of steps with their returns G_t."""
        log_p = self.policy(obs).log_softmax(dim=-1)
        log_prob = log_p.gather(1, actions[:, None]).squeeze(1)
        weight = returns
        value_loss = None
        if self.baseline is not None:
            values = self.baseline(obs).squeeze(1)
            weight = returns - values.detach()
            value_loss = 0.5 * (returns - values).square().mean()
        policy_loss = -(weight * log_prob).mean()
        entropy = -(log_p.exp() * log_p).sum(dim=1).mean()
        return policy_loss, value_loss, entropy.detach()

    def update(self, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor, episodes: int) -> None:
        """One gradient step on the steps of ``episodes`` complete episodes."""
        policy_loss, value_loss, entropy = self.losses(obs, actions, returns)
        loss = policy_loss if value_loss is None else policy_loss + value_loss  # separate parameters, own lrs
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.grad_norm.clip(params, self.config.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        with torch.no_grad():
            zero = self.stats.new_zeros(())
            self.stats += torch.stack([policy_loss.detach(), zero if value_loss is None else value_loss.detach(),
                                       entropy, returns.mean(), self.stats.new_tensor(float(episodes)),
                                       self.stats.new_ones(())])

    def take_stats(self) -> dict[str, float]:
        """Mean learner statistics since the last call (one host read), and reset them."""
        out = take_means(self.stats, STATS)
        if not out:
            return {}
        if self.baseline is None:
            del out["value_loss"]
        return out | {"grad_norm": self.grad_norm.take(), "updates": self.updates}

    def state_dict(self) -> dict:
        return {"policy": self.policy.state_dict(),
                "baseline": None if self.baseline is None else self.baseline.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": checkpoint.generator_state(self.generator),
                "updates": self.updates, "stats": self.stats}

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        if self.baseline is not None:
            self.baseline.load_state_dict(state["baseline"])
        self.optimizer.load_state_dict(state["optimizer"])
        checkpoint.set_generator_state(self.generator, state["generator"])
        self.updates = int(state["updates"])
        self.stats.copy_(state["stats"])


def learner_for(config, observation_space, action_space, device) -> Reinforce:
    """The learner of a ``RunConfig`` (seeded by its seed) for envs with these (single-env) spaces."""
    return Reinforce(config.reinforce, tuple(observation_space.shape), int(action_space.n), device,
                     seed=config.seed)


def evaluation_policy(learner: Reinforce, config, epsilon: float | None = None):
    """The most likely action (``eval_deterministic``) or a sample: ``(act(obs, generator), description)``."""
    if epsilon is not None:
        raise ValueError("--epsilon is for DQN's epsilon-greedy policy; a REINFORCE run evaluates its own policy "
                         "(the run's eval_deterministic says: most likely action, or a sample)")
    if config.reinforce.eval_deterministic:
        return (lambda obs, generator: learner.act_greedy(obs)), "most likely action"
    return learner.act, "sampled"


def train(run) -> Reinforce:
    """Train a REINFORCE learner on ``run``'s envs until the run's step budget is spent; returns the learner."""
    config, envs, clock = run.config.reinforce, run.envs, run.stopwatch
    learner = learner_for(run.config, envs.single_observation_space, envs.single_action_space, run.device)
    episodes = EpisodeBuffer(config.horizon, envs.num_envs, run.observation_shape,
                             torch_dtype(envs.single_observation_space), run.device)
    saved = run.checkpoint.state["loop"] if run.checkpoint is not None else None
    if saved is not None:
        learner.load_state_dict(saved["learner"])
    obs = run.start()
    if run.envs_restored:  # the envs continue their episodes: so do the kept steps
        episodes.load_state_dict(saved["episodes"])

    def state() -> dict:
        return {"learner": learner.state_dict(), "obs": obs, "episodes": episodes.state_dict()}

    running = run.env_steps < run.config.total_env_steps
    while running:
        with clock("act"):
            action = learner.act(obs)
        with clock("env"):
            next_obs, reward, terminated, truncated, info = envs.step(action)
        with clock("store"):
            episodes.add(obs, action, reward, terminated, truncated)
            obs = next_obs
        run.after_step(info)
        if episodes.ready(config.episodes_per_update):
            with clock("update"):
                learner.update(*episodes.take(config.gamma))
        running = run.tick(learner, state)
    return learner
