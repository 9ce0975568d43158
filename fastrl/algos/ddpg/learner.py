"""Deterministic policy gradients for continuous control: DDPG, TD3 and D4PG, one learner chosen by the algo word.

- ``ddpg`` (Lillicrap et al. 2015): a deterministic actor μ(s), one critic Q(s, a), target networks;
- ``td3`` (Fujimoto et al. 2018): twin critics with the minimum in the target, target-policy smoothing
  (clipped noise on the target action), the actor and the targets updated every ``policy_delay`` critic updates;
- ``d4pg`` (Barth-Maron et al. 2018): a categorical critic Z(s, a) on a fixed support, its target projected
  by ``ops.categorical_projection``; with n-step returns and prioritized replay from the replay section.

``fastrl train ddpg | td3 | d4pg`` picks the variant (``RunConfig.algo``); ``DDPGConfig`` holds the settings of
all three, those marked "TD3:" or "D4PG:" read by that variant only. Actions always lie inside the env's bounds:
the actor's tanh is scaled to [low, high] and every action sent (exploration noise added, or uniformly random
during warm-up) is clipped to them. The replay stores the raw observations; with ``normalize_observations`` the
networks see them standardized by running statistics of every observation collected.

The algorithm (TD3, Algorithm 1; DDPG and D4PG differ where marked), for N envs stepping together::

    initialize actor μ(θ), critics Q_1, Q_2 (φ_1, φ_2)   (DDPG: one critic; D4PG: one categorical critic Z(φ))
    targets θ' = θ, φ'_i = φ_i; replay D
    for each env step (N transitions at once):
        a = clip(μ(s) + ε, low, high), ε ~ N(0, σ)          (or Ornstein-Uhlenbeck noise; σ in half-ranges)
            (uniformly random actions for the first learning_starts env steps)
        s', r, done = envs.step(a);  store (s, a, r, s') in D  (n-step: r = Σ γ^k r_k, γ^n, s_{t+n})
        replay_ratio updates per env step, after learning_starts:
            sample a minibatch from D                          (prioritized: P(i) ∝ p_i^α, weights w_i)
            ã = clip(μ'(s') + clip(ε̃, −c, c), low, high)       (TD3 smoothing, ε̃ ~ N(0, σ̃); else ã = μ'(s'))
            y = r + γ^n min_i Q'_i(s', ã)                      (DDPG: Q'(s', ã); D4PG: the distribution of
                                                               r + γ^n z under Z'(s', ã), projected on z)
            critic step on Σ_i E[w (y − Q_i(s, a))²]           (D4PG: E[w · cross-entropy(projection, Z(s, a))])
            every policy_delay updates (DDPG, D4PG: every update):
                actor step on −E[Q_1(s, μ(s))]                 (D4PG: −E[mean of Z(s, μ(s))])
                θ' ← τθ + (1 − τ)θ', φ' ← τφ + (1 − τ)φ'       (or a hard copy every target_period updates)
            prioritized: p_i = |y − Q_1(s, a)|                  (D4PG: the cross-entropy)

``fastrl.algos.offpolicy.train`` is that loop; ``DDPG`` holds the networks and the update (``behave`` and
``observe`` are its hooks in the loop); ``fastrl.runner.Run`` does the
plumbing (envs, replay, logging, evaluation, checkpoints). The loop itself does not wait on the device: the
noise is drawn on the device, learner statistics accumulate in device tensors read at the log interval.

**Twin critics in one network.** The critics are an ensemble whose layers hold the K critics' weights stacked
([K, in, out]) and run as one batched matrix product (``torch.baddbmm``), so TD3's two critics cost one set
of operations, not two (DDPG and D4PG: K = 1).
"""

from __future__ import annotations

import copy
import math

import gymnasium
import torch
from torch import nn

from fastrl import checkpoint
from fastrl.algos import offpolicy
from fastrl.algos.common import RunningMeanStd
from fastrl.algos.gradients import GradNormPeak
from fastrl.config import DDPGConfig
from fastrl.ops.categorical_projection import categorical_projection

#: the variants, as ``fastrl train <word>`` names them (``RunConfig.algo``)
VARIANTS = ("ddpg", "td3", "d4pg")
#: learner statistics summed over critic updates between two log rows, in this order
STATS = ("critic_loss", "q_mean", "abs_td_mean")


# ---------------------------------------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------------------------------------


class EnsembleLinear(nn.Module):
    """K independent linear layers run as one batched product: [K, B, in] -> [K, B, out].

    Initialized as K ``nn.Linear`` layers would be (weights and biases uniform in ±1/√in)."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """``x`` [K', B, in] (or [1, B, in], shared by all) with the first ``members`` K' layers (default all)."""
        weight, bias = (self.weight, self.bias) if members is None else (self.weight[:members], self.bias[:members])
        return torch.baddbmm(bias, x.expand(weight.shape[0], -1, -1), weight)


class Critics(nn.Module):
    """K critics on [s, a]: ReLU MLPs of widths ``hidden`` ending in ``outputs`` values each (1: Q(s, a);
    atoms: the logits of Z(s, a)). ``forward`` gives [K, B, outputs].

    The ReLUs (here and in ``Actor``) run in place on their layer's fresh output: one activation buffer a layer
    instead of two, a few percent of TD3's update at [400, 300] (profiles/*/td3-inplace-relu-ab.json)."""

    def __init__(self, members: int, in_features: int, hidden: tuple[int, ...], outputs: int):
        super().__init__()
        widths = (in_features, *hidden, outputs)
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(widths, widths[1:], strict=False))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: int | None = None) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1)[None]
        for i, layer in enumerate(self.layers):
            x = layer(x, members)
            if i < len(self.layers) - 1:
                x = torch.relu_(x)  # in place: the product's backward needs its inputs, not its output
        return x


class Actor(nn.Module):
    """μ(s) = center + half_range · tanh(MLP(s)): a ReLU MLP whose tanh output is scaled to [low, high]."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], low: torch.Tensor, high: torch.Tensor):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]  # Linear's backward keeps no output
            width = h
        layers.append(nn.Linear(width, low.numel()))
        self.net = nn.Sequential(*layers)
        self.register_buffer("center", (high + low) / 2)
        self.register_buffer("half_range", (high - low) / 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.center, self.half_range, torch.tanh(self.net(obs)))


# ---------------------------------------------------------------------------------------------------------
# The targets (pure functions of their inputs: tests compute them by hand)
# ---------------------------------------------------------------------------------------------------------


def smoothed_target_action(next_action: torch.Tensor, noise: torch.Tensor, noise_clip: float,
                           half_range: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """TD3's target-policy smoothing: clip(μ'(s') + clip(ε̃, −c, c) · half_range, low, high).

    ``noise`` is ε̃ ~ N(0, σ̃) in half-ranges (as the paper's σ̃ = 0.2, c = 0.5 for actions in [−1, 1])."""
    return torch.clamp(next_action + noise.clamp(-noise_clip, noise_clip) * half_range, low, high)


def bootstrapped_target(reward: torch.Tensor, discount: torch.Tensor, next_q: torch.Tensor) -> torch.Tensor:
    """y = r + γ^n · min_i Q'_i(s', ã): ``next_q`` [K, B] (K = 2: TD3's clipped double Q; K = 1: DDPG)."""
    return torch.addcmul(reward, discount, next_q.amin(dim=0))


class DDPG:
    """The actor, the critic(s), their targets and optimizers, exploration and the gradient update."""

    def __init__(self, config: DDPGConfig, variant: str, observation_space: gymnasium.Space,
                 action_space: gymnasium.spaces.Box, device: torch.device | str, *, seed: int, prioritized: bool = False):
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r}: expected one of {', '.join(VARIANTS)}")
        self.config = config
        self.variant = variant
        self.device = torch.device(device)
        self.prioritized = prioritized
        self.twin = variant == "td3"
        self.atoms = config.atoms if variant == "d4pg" else None
        self.policy_delay = config.policy_delay if variant == "td3" else 1
        obs_features = math.prod(observation_space.shape)
        self.action_shape = tuple(action_space.shape)
        self.low = torch.as_tensor(action_space.low, dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(action_space.high, dtype=torch.float32, device=self.device)
        self.half_range = (self.high - self.low) / 2

        self.actor = Actor(obs_features, config.hidden, self.low, self.high).to(self.device)
        self.critic = Critics(2 if self.twin else 1, obs_features + self.low.numel(), config.hidden,
                              self.atoms or 1).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.obs_norm = RunningMeanStd(tuple(observation_space.shape)).to(self.device) \
            if config.normalize_observations else None
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, eps=config.optim_eps,
                                                fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr,
                                                 eps=config.optim_eps, fused=True)
        self.support = (torch.linspace(config.v_min, config.v_max, config.atoms, device=self.device)
                        if self.atoms else None)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # exploration and smoothing noise
        self.ou_state: torch.Tensor | None = None  # Ornstein-Uhlenbeck noise per env [N, *action_shape]
        self.updates = 0  # critic updates
        # STATS sums and the critic-update count, then the actor-loss sum and the actor-update count
        self.stats = torch.zeros(len(STATS) + 3, device=self.device)
        self.grad_norm = GradNormPeak(self.device)  # over the critic's and the actor's steps

    # -----------------------------------------------------------------------------------------------------
    # Acting
    # -----------------------------------------------------------------------------------------------------

    def normalized(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations as the networks see them: flattened float32, standardized where configured."""
        obs = obs.to(self.device, non_blocking=True)
        if self.obs_norm is not None:
            obs = self.obs_norm.normalize(obs)
        return obs.float().flatten(1)

    @torch.no_grad()
    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        """μ(s) [N, *action_shape], inside [low, high] (the clamp guards against rounding at tanh = ±1)."""
        return self.clip(self.actor(self.normalized(obs))).view(-1, *self.action_shape)

    @torch.no_grad()
    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """μ(s) plus exploration noise (Gaussian, or Ornstein-Uhlenbeck per env), clipped to [low, high]."""
        c = self.config
        action = self.actor(self.normalized(obs))
        noise = torch.randn(action.shape, generator=self.generator, device=self.device)
        if c.exploration == "ou":  # x ← x − θ x + σ ε, per env, reset at episode ends (see observe)
            if self.ou_state is None or self.ou_state.shape != action.shape:
                self.ou_state = torch.zeros_like(action)
            noise = self.ou_state.mul_(1.0 - c.ou_theta).add_(noise, alpha=c.exploration_noise)
            action = action + noise * self.half_range
        else:
            action = action.add_(noise.mul_(self.half_range), alpha=c.exploration_noise)
        return self.clip(action).view(-1, *self.action_shape)

    @torch.no_grad()
    def behave(self, obs: torch.Tensor, env_steps: int, learning: bool) -> torch.Tensor:
        """The behaviour policy of the off-policy loop: uniformly random actions until learning starts (as the
        TD3 paper's first steps), then the actor with exploration noise."""
        return self.explore(obs) if learning else self.random_actions(obs.shape[0])

    def random_actions(self, n: int) -> torch.Tensor:
        """Uniformly random actions in [low, high] (the warm-up before learning starts)."""
        u = torch.rand((n, self.low.numel()), generator=self.generator, device=self.device)
        return self.clip(torch.addcmul(self.low, u, self.high - self.low)).view(-1, *self.action_shape)

    def clip(self, action: torch.Tensor) -> torch.Tensor:
        return torch.clamp(action, self.low, self.high)

    @torch.no_grad()
    def observe(self, obs: torch.Tensor, done: torch.Tensor | None) -> None:
        """After each env step: add the observations to the normalization statistics, and restart the
        Ornstein-Uhlenbeck noise of envs whose episode ended (``done`` None: every env starts one)."""
        if self.obs_norm is not None:
            obs = obs.to(self.device, non_blocking=True).flatten(1)
            self.obs_norm.update(obs, torch.ones(obs.shape[0], dtype=torch.bool, device=self.device))
        if self.ou_state is not None:
            if done is None:
                self.ou_state.zero_()
            else:
                self.ou_state.masked_fill_(done.to(self.device, non_blocking=True)[:, None], 0.0)

    # -----------------------------------------------------------------------------------------------------
    # Learning
    # -----------------------------------------------------------------------------------------------------

    def q_values(self, logits: torch.Tensor) -> torch.Tensor:
        """Q [K, B] from the critics' output [K, B, outputs] (D4PG: the mean of each distribution)."""
        if self.atoms is None:
            return logits.squeeze(-1)
        return (logits.softmax(dim=-1) * self.support).sum(dim=-1)

    @torch.no_grad()
    def target_action(self, next_obs: torch.Tensor) -> torch.Tensor:
        """ã: the target actor's action at s' (TD3: smoothed by clipped noise), inside [low, high]."""
        c = self.config
        action = self.actor_target(next_obs)
        if not self.twin or c.target_noise == 0:
            return self.clip(action)
        noise = torch.randn(action.shape, generator=self.generator, device=self.device).mul_(c.target_noise)
        return smoothed_target_action(action, noise, c.target_noise_clip, self.half_range, self.low, self.high)

    @torch.no_grad()
    def target(self, next_obs: torch.Tensor, reward: torch.Tensor, discount: torch.Tensor) -> torch.Tensor:
        """The critic's target: y [B] (DDPG, TD3), or the projected distribution [B, atoms] (D4PG).

        ``next_obs`` as the networks see it (``normalized``); ``reward`` the n-step sums, ``discount`` γ^n
        (0 where the episode terminated within the n steps)."""
        out = self.critic_target(next_obs, self.target_action(next_obs))
        if self.atoms is None:
            return bootstrapped_target(reward, discount, out.squeeze(-1))
        return categorical_projection(out[0].softmax(dim=-1), reward, discount,
                                      (self.config.v_min, self.config.v_max, self.atoms))

    def update(self, batch) -> torch.Tensor:
        """One critic update (and, every ``policy_delay`` of them, one actor update and the targets' update)
        on a minibatch; returns each transition's error [B] (detached: |y − Q_1(s, a)|, D4PG: the
        cross-entropy), which the replay turns into priorities.

        ``batch`` is a ``fastrl.replay.Batch``: ``obs``, ``action`` [B, *action_shape] float32, ``reward`` [B]
        (n-step sums), ``discount`` [B], ``next_obs``, ``weights`` [B] (importance weights, used where
        prioritized)."""
        c = self.config
        obs, next_obs = self.normalized(batch.obs), self.normalized(batch.next_obs)
        target = self.target(next_obs, batch.reward, batch.discount)
        weights = batch.weights if self.prioritized else None
        critic_loss = self._distributional_loss if self.atoms else self._squared_loss
        loss, replay_error, q_taken, abs_td = critic_loss(obs, batch.action.flatten(1), target, weights)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm.clip(self.critic.parameters(), c.max_grad_norm)
        self.critic_optimizer.step()
        self.updates += 1

        with torch.no_grad():
            self.stats[:4] += torch.stack([loss.detach(), q_taken.mean(), abs_td.mean(), self.stats.new_ones(())])
        if self.updates % self.policy_delay == 0:
            actor_loss = self._actor_step(obs)
            with torch.no_grad():
                self.stats[4:] += torch.stack([actor_loss, self.stats.new_ones(())])
            if c.target_update == "polyak":
                self._polyak()
        if c.target_update == "hard" and self.updates % c.target_period == 0:
            self._copy_targets()
        return replay_error

    def _squared_loss(self, obs, action, target, weights):
        """Σ_i E[w (y − Q_i(s, a))²] over the critics; the error for the replay: |y − Q_1(s, a)|."""
        q = self.critic(obs, action).squeeze(-1)                                 # [K, B]
        squared = (q - target).square()
        loss = (squared if weights is None else squared * weights).mean(dim=1).sum()
        with torch.no_grad():
            abs_td = (target - q[0]).abs()
        return loss, abs_td, q[0].detach(), abs_td

    def _distributional_loss(self, obs, action, target, weights):
        """E[w · cross-entropy(projected target, Z(s, a))]; the error for the replay: the cross-entropy (as in
        D4PG / C51)."""
        logits = self.critic(obs, action)[0]                                     # [B, atoms]
        log_p = logits.log_softmax(dim=-1)
        cross_entropy = -(target * log_p).sum(dim=-1)
        loss = (cross_entropy if weights is None else cross_entropy * weights).mean()
        with torch.no_grad():
            q_taken = (log_p.exp() * self.support).sum(dim=-1)
            abs_td = ((target * self.support).sum(dim=-1) - q_taken).abs()
        return loss, cross_entropy.detach(), q_taken, abs_td

    def _actor_step(self, obs: torch.Tensor) -> torch.Tensor:
        """Gradient ascent on Q_1(s, μ(s)) (D4PG: on the mean of Z(s, μ(s))); the critic's own parameters
        are frozen meanwhile, so the backward pass computes no gradient for them."""
        self.critic.requires_grad_(False)
        try:
            loss = -self.q_values(self.critic(obs, self.actor(obs), members=1))[0].mean()
            self.actor_optimizer.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.critic.requires_grad_(True)
        self.grad_norm.clip(self.actor.parameters(), self.config.max_grad_norm)
        self.actor_optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def _polyak(self) -> None:
        """θ' ← τθ + (1 − τ)θ' for the actor and the critics, one fused call each."""
        for target, online in ((self.actor_target, self.actor), (self.critic_target, self.critic)):
            torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), self.config.tau)

    @torch.no_grad()
    def _copy_targets(self) -> None:
        for target, online in ((self.actor_target, self.actor), (self.critic_target, self.critic)):
            torch._foreach_copy_(list(target.parameters()), list(online.parameters()))

    def take_stats(self) -> dict[str, float]:
        """Mean learner statistics since the last call (one host read), and reset them."""
        sums = self.stats.tolist()
        self.stats.zero_()
        count, actor_loss, actor_updates = sums[3], sums[4], sums[5]
        if count == 0:
            return {}
        out = {name: total / count for name, total in zip(STATS, sums, strict=False)}
        if actor_updates:
            out["actor_loss"] = actor_loss / actor_updates
        return out | {"grad_norm": self.grad_norm.take(), "updates": self.updates}

    # -----------------------------------------------------------------------------------------------------
    # Checkpointing
    # -----------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "obs_norm": None if self.obs_norm is None else self.obs_norm.state_dict(),
                "ou_state": self.ou_state, "generator": checkpoint.generator_state(self.generator),
                "updates": self.updates, "stats": self.stats}

    def load_state_dict(self, state: dict) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer"):
            getattr(self, name).load_state_dict(state[name])
        if self.obs_norm is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        ou_state = state.get("ou_state")
        self.ou_state = None if ou_state is None else ou_state.to(self.device).clone()
        checkpoint.set_generator_state(self.generator, state["generator"])
        self.updates = int(state["updates"])
        self.stats.copy_(state["stats"])


# ---------------------------------------------------------------------------------------------------------
# What fastrl.runner asks of a learner module
# ---------------------------------------------------------------------------------------------------------


def learner_for(config, observation_space, action_space, device) -> DDPG:
    """The learner of a ``RunConfig`` (its variant ``config.algo``, seeded by its seed) for these spaces."""
    return DDPG(config.ddpg, config.algo, observation_space, action_space, device, seed=config.seed,
                prioritized=config.replay.prioritized)


def evaluation_policy(learner: DDPG, config, epsilon: float | None = None):
    """The deterministic policy μ(s): ``(act(obs, generator), description)``."""
    if epsilon is not None:
        raise ValueError(f"--epsilon is for DQN's ε-greedy policy; a {config.algo} run evaluates its deterministic "
                         f"policy μ(s)")
    return (lambda obs, generator: learner.policy(obs)), "deterministic μ(s)"


# ---------------------------------------------------------------------------------------------------------
# The training loop; the plumbing is fastrl.runner.Run
# ---------------------------------------------------------------------------------------------------------


def train(run) -> DDPG:
    """Train a DDPG / TD3 / D4PG learner on ``run``'s envs until the run's step budget is spent (the loop is
    ``fastrl.algos.offpolicy``'s)."""
    learner = learner_for(run.config, run.envs.single_observation_space, run.envs.single_action_space, run.device)
    return offpolicy.train(run, learner, run.config.ddpg)
