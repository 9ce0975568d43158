"""Deep Q-learning (Mnih et al. 2015) and its Rainbow-lite variants, one learner chosen by config.

Variants (``DQNConfig``): double Q (van Hasselt et al. 2016), dueling head (Wang et al. 2016), prioritized
replay (Schaul et al. 2016), n-step returns, distributional C51 (Bellemare et al. 2017), NoisyNet exploration
(Fortunato et al. 2018); Huber or squared TD loss; hard or Polyak target updates; Adam or RMSProp;
gradient-norm clipping. All six together are Rainbow (Hessel et al. 2018; the ``rainbow-atari`` preset).

NoisyNet (``exploration="noisy"``) replaces ε-greedy: every fully connected layer is a ``NoisyLinear``, the
behaviour policy is greedy on the noisy network (ε = 0), a new noise sample is drawn before every action, and
each update draws independent samples for the online network on s, the target network, and the online network
that picks the next action under double Q (NoisyNet-DQN, Algorithm 1). Evaluation acts on the mean weights.

The algorithm, as in the paper (Algorithm 1), for N envs stepping together::

    initialize replay D, online network Q(θ), target network Q̂(θ⁻ = θ)
    for each env step (N transitions at once):
        a = ε-greedy on Q(s, ·)                                  (batched on the device)
        s', r, done = envs.step(a);  store (s, a, r, s') in D    (n-step: r = Σ γ^k r_k, γ^n, s_{t+n})
        every 1 / replay_ratio env steps, after learning_starts:
            sample a minibatch from D                            (prioritized: P(i) ∝ p_i^α, weights w_i)
            y = r + γ^n max_a' Q̂(s', a')                        (double: Q̂(s', argmax_a' Q(s', a')))
                                                                 (C51: project r + γ^n z onto the support)
            gradient step on w · loss(y − Q(s, a))               (C51: cross-entropy to the projection)
            prioritized: p_i = |y − Q(s, a)|                     (C51: the cross-entropy, as Dopamine)
            every C updates: θ⁻ = θ                              (or Polyak: θ⁻ = τθ + (1 − τ)θ⁻)

``fastrl.algos.offpolicy.train`` is that loop; ``DQN`` holds the networks and the update (the target y and the
loss); ``fastrl.runner.Run`` does the plumbing (envs, replay, logging, evaluation, checkpoints). The loop itself does not wait on the device: ε
comes from the host's step counter, actions are drawn on the device, episode statistics and learner
statistics accumulate in device tensors, and the host reads them only at the log interval. (What remains
is outside it: a host env engine takes its actions on the host, and the uniform sampler counts its accepted
draws; see ``fastrl.replay.sampler``.)
"""

from __future__ import annotations

import copy

import torch

from fastrl import checkpoint
from fastrl.algos import offpolicy
from fastrl.algos.common import make_optimizer, take_means
from fastrl.algos.dqn.fused import FusedMLPQ, mlp_dims
from fastrl.algos.dqn.fusion import fused_choice
from fastrl.algos.gradients import GradNormPeak
from fastrl.config import DQNConfig, network_for
from fastrl.nets import q_network, reset_noise
from fastrl.ops.categorical_projection import categorical_projection
from fastrl.ops.td_loss import td_loss

#: learner statistics summed over updates between two log rows, in this order
STATS = ("loss", "q_mean", "abs_td_mean")


class DQN:
    """The online and target Q networks, the optimizer, ε-greedy acting and the gradient update."""

    def __init__(self, config: DQNConfig, observation_shape: tuple[int, ...], actions: int,
                 device: torch.device | str, *, seed: int, updates_total: int = 1):
        self.config = config
        self.updates_total = updates_total  # the run's gradient updates, over which anneal_lr falls to 0
        self.device = torch.device(device)
        self.actions = actions
        self.atoms = config.atoms if config.distributional else None
        self.noisy = config.exploration == "noisy"
        self.online = q_network(observation_shape, actions, network=network_for(config, observation_shape),
                                hidden=config.hidden, dueling=config.dueling, atoms=self.atoms,
                                noisy_sigma0=config.noisy_sigma0 if self.noisy else None).to(self.device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = make_optimizer(config.optimizer, self.online.parameters(), lr=config.lr,
                                        eps=config.optim_eps, rmsprop_alpha=config.rmsprop_alpha,
                                        rmsprop_centered=config.rmsprop_centered)
        self.support = (torch.linspace(config.v_min, config.v_max, config.atoms, device=self.device)
                        if self.atoms else None)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # exploration draws
        self.updates = 0
        self.stats = torch.zeros(len(STATS) + 1, device=self.device)  # STATS sums, then the update count
        self.grad_norm = GradNormPeak(self.device)
        fused = config.fused_update is not False and fused_choice(
            config, observation_shape, actions, self.device, _builder(observation_shape, actions)).value
        #: the fused CPU path (``fastrl.ops.mlp_q``), or None for eager torch
        self.fused = (FusedMLPQ(self.online, self.target, self.optimizer, mlp_dims(self.online, actions))
                      if fused else None)
        self._host_stats = self.stats.numpy() if self.fused else None  # the fused path adds to it in place

    # -----------------------------------------------------------------------------------------------------
    # Acting
    # -----------------------------------------------------------------------------------------------------

    def epsilon(self, env_steps: int) -> float:
        """Linear decay from epsilon_start to epsilon_end over epsilon_decay_steps env steps."""
        c = self.config
        if env_steps >= c.epsilon_decay_steps:
            return c.epsilon_end
        return c.epsilon_start + (c.epsilon_end - c.epsilon_start) * env_steps / c.epsilon_decay_steps

    def q_values(self, obs: torch.Tensor, network: torch.nn.Module | None = None) -> torch.Tensor:
        """Q(s, ·) [B, A] of ``network`` (the online one by default); C51: the mean of each distribution."""
        out = (network or self.online)(obs)
        if self.atoms is None:
            return out
        return (out.softmax(dim=-1) * self.support).sum(dim=-1)

    def act(self, obs: torch.Tensor, epsilon: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """ε-greedy actions [N] int64 on the device: a uniform action with probability ε, else argmax Q.

        The draws come from ``generator`` (default: the learner's own, part of its checkpointed state).
        """
        n = obs.shape[0]
        generator = generator or self.generator
        obs = obs.to(self.device, non_blocking=True)
        if self.fused:
            greedy = self.fused.greedy(obs)
        else:
            with torch.no_grad():
                greedy = self.q_values(obs).argmax(dim=1)
        uniform = torch.randint(0, self.actions, (n,), generator=generator, device=self.device)
        explore = torch.rand(n, generator=generator, device=self.device) < epsilon
        return torch.where(explore, uniform, greedy)

    def behave(self, obs: torch.Tensor, env_steps: int, learning: bool) -> torch.Tensor:
        """The behaviour policy of the off-policy loop: ε-greedy with the ε of this env step, before learning
        starts too (as the paper); NoisyNet: greedy on a new sample of the noisy network."""
        if self.noisy:
            self._resample(self.online)
            return self.act(obs, 0.0)
        return self.act(obs, self.epsilon(env_steps))

    @torch.no_grad()
    def act_eval(self, obs: torch.Tensor, epsilon: float, generator: torch.Generator) -> torch.Tensor:
        """ε-greedy on the mean weights (eval mode: a NoisyNet's noise off; plain layers are the same)."""
        self.online.eval()
        try:
            return self.act(obs, epsilon, generator=generator)
        finally:
            self.online.train()

    def _resample(self, network: torch.nn.Module) -> None:
        """A new noise sample in ``network``'s noisy layers (NoisyNet only), from the learner's generator."""
        if self.noisy:
            reset_noise(network, self.generator)

    def observe(self, obs: torch.Tensor, done: torch.Tensor | None) -> None:
        """DQN keeps no statistics of its observations (the off-policy loop's hook)."""

    # -----------------------------------------------------------------------------------------------------
    # Learning
    # -----------------------------------------------------------------------------------------------------

    def update(self, batch) -> torch.Tensor:
        """One gradient step on a minibatch; returns the absolute TD errors [B] (detached; C51: the
        cross-entropy), which the replay turns into priorities.

        ``batch`` is a ``fastrl.replay.Batch``: ``obs``, ``action`` [B] int64, ``reward`` [B] (n-step sums),
        ``discount`` [B] (γ^n, 0 where the episode terminated within the n steps), ``next_obs`` and
        ``weights`` [B] (importance weights; None for plain uniform replay).
        """
        if self.fused:
            return self._fused_update(batch)
        self._resample(self.online)
        loss, replay_error, q_taken, abs_td = (self._c51_loss if self.atoms else self._td_loss)(batch)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm.clip(self.online.parameters(), self.config.max_grad_norm)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        self.optimizer.step()
        self.updates += 1
        self._update_target()

        with torch.no_grad():
            self.stats += torch.stack([loss.detach(), q_taken.mean(), abs_td.mean(), self.stats.new_ones(())])
        return replay_error

    def _lr(self) -> float:
        """The learning rate of this update: annealed linearly to 0 over the run's updates where anneal_lr."""
        if not self.config.anneal_lr:
            return self.config.lr
        return self.config.lr * max(0.0, 1.0 - self.updates / self.updates_total)

    def _fused_update(self, batch) -> torch.Tensor:
        """The same step through the fused kernel (``fastrl.algos.dqn.fused``); statistics noted on the host."""
        loss, q_mean, norm, abs_td = self.fused.update(batch, self.config, self._lr())
        self.grad_norm.note(norm)
        self.updates += 1
        self._update_target()
        self._host_stats += (loss, q_mean, abs_td.numpy().mean(), 1.0)
        return abs_td

    def _td_loss(self, batch):
        """Huber / squared TD loss on y = r + γ^n Q̂(s', a*) through the fused ``ops.td_loss``."""
        q_taken = self.online(batch.obs).gather(1, batch.action[:, None]).squeeze(1)
        with torch.no_grad():
            self._resample(self.target)
            q_next_target = self.target(batch.next_obs)
            self._resample(self.online)  # the double-Q selector's own sample
            q_next_online = self.online(batch.next_obs) if self.config.double else None
        loss, abs_td = td_loss(q_taken, q_next_target, q_next_online, batch.reward, batch.discount,
                               batch.weights, double=self.config.double, loss=self.config.loss,
                               huber_kappa=self.config.huber_kappa)
        return loss, abs_td, q_taken.detach(), abs_td

    def _c51_loss(self, batch):
        """Cross-entropy between the projected target distribution and p(s, a) (C51, Algorithm 1)."""
        log_p = self.online(batch.obs).log_softmax(dim=-1)                      # [B, A, atoms]
        index = batch.action[:, None, None].expand(-1, 1, self.atoms)
        log_p_taken = log_p.gather(1, index).squeeze(1)                          # [B, atoms]
        with torch.no_grad():
            self._resample(self.target)
            next_probs = self.target(batch.next_obs).softmax(dim=-1)             # [B, A, atoms]
            chooser = self.online if self.config.double else self.target
            self._resample(self.online)  # the double-Q selector's own sample
            best = self.q_values(batch.next_obs, chooser).argmax(dim=1)
            next_probs = next_probs.gather(1, best[:, None, None].expand(-1, 1, self.atoms)).squeeze(1)
            target = categorical_projection(next_probs, batch.reward, batch.discount,
                                            (self.config.v_min, self.config.v_max, self.atoms))
        cross_entropy = -(target * log_p_taken).sum(dim=1)                       # [B]
        weighted = cross_entropy if batch.weights is None else batch.weights * cross_entropy
        with torch.no_grad():
            q_taken = (log_p_taken.exp() * self.support).sum(dim=1)
            abs_td = ((target * self.support).sum(dim=1) - q_taken).abs()
        return weighted.mean(), cross_entropy.detach(), q_taken, abs_td

    @torch.no_grad()
    def _update_target(self) -> None:
        c = self.config
        if c.target_update == "polyak":
            for t, o in zip(self.target.parameters(), self.online.parameters(), strict=True):
                t.lerp_(o, c.tau)
        elif self.updates % c.target_period == 0:
            for t, o in zip(self.target.parameters(), self.online.parameters(), strict=True):
                t.copy_(o)

    def take_stats(self) -> dict[str, float]:
        """Mean learner statistics since the last call (one host read), and reset them."""
        means = take_means(self.stats, STATS)
        if not means:
            return {}
        return means | {"grad_norm": self.grad_norm.take(), "updates": self.updates}

    # -----------------------------------------------------------------------------------------------------
    # Checkpointing
    # -----------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": checkpoint.generator_state(self.generator),
                "updates": self.updates, "stats": self.stats}

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.fused:
            self.fused.bind_optimizer()
        checkpoint.set_generator_state(self.generator, state["generator"])
        self.updates = int(state["updates"])
        self.stats.copy_(state["stats"])


def _builder(observation_shape: tuple[int, ...], actions: int):
    """DQN learners on the CPU for these shapes, for ``fused_update=auto`` to time."""
    return lambda dqn: DQN(dqn, observation_shape, actions, "cpu", seed=0)


def resolve_hardware(config, observation_space, action_space) -> tuple:
    """The DQN family's ``resolve_hardware`` (``fastrl.algos.base.Algorithm``): the ``fused_update`` choice,
    for ``meta.json``; the config is returned as asked (see ``fastrl.algos.dqn.fusion``)."""
    shape, actions = tuple(observation_space.shape), int(action_space.n)
    return config, [fused_choice(config.dqn, shape, actions, config.resolved_device(), _builder(shape, actions))]


def learner_for(config, observation_space, action_space, device) -> DQN:
    """The learner of a ``RunConfig`` (seeded by its seed) for envs with these (single-env) spaces."""
    return DQN(config.dqn, tuple(observation_space.shape), int(action_space.n), device, seed=config.seed,
               updates_total=offpolicy.updates_total(config, config.dqn))


def evaluation_policy(learner: DQN, config, epsilon: float | None = None):
    """ε-greedy with the run's eval_epsilon (or ``epsilon``) on the mean weights: ``(act(obs, generator),
    description)``."""
    epsilon = config.dqn.eval_epsilon if epsilon is None else epsilon
    return ((lambda obs, generator: learner.act_eval(obs, epsilon, generator)),
            f"epsilon {epsilon:g}" + (", mean weights" if learner.noisy else ""))


def train(run) -> DQN:
    """Train a DQN learner on ``run``'s envs until the run's step budget is spent (the loop is
    ``fastrl.algos.offpolicy``'s; the module docstring gives it in the paper's terms)."""
    learner = learner_for(run.config, run.envs.single_observation_space, run.envs.single_action_space, run.device)
    return offpolicy.train(run, learner, run.config.dqn)
