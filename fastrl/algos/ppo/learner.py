"""Proximal policy optimization (Schulman et al. 2017) and A2C (Mnih et al. 2016), one learner chosen by config.

PPO: clipped surrogate objective, optional value clipping, entropy bonus, advantage normalization, several
epochs of minibatches per rollout, linearly annealed learning rate, gradient-norm clipping, optional early
stop on the approximate KL. A2C is the same learner configured as one epoch of one minibatch, no clipping
(``clip_coef=0``: the surrogate is the plain policy gradient) and RMSProp (the ``a2c-atari`` preset).
Discrete actions (categorical policy) and continuous ones (diagonal Gaussian, state-independent log std,
actions clipped to the space's bounds for the env but stored unclipped for the log-probability).

The algorithm (PPO, Algorithm 1), for N envs stepping together::

    for each rollout:
        run π_old for T steps in each of the N envs                  (fastrl.rollout: sync, or async halves)
        A_t, R_t = GAE(γ, λ) on the rollout                          (fastrl.ops.returns.gae)
        for epoch in 1..K, for each minibatch of the N·T transitions:
            r_t = π(a_t|s_t) / π_old(a_t|s_t)
            L = −E[min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t)]        (Â standardized per minibatch)
                + c_v · E[max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²)] / 2
                − c_e · E[entropy of π(·|s_t)]
            gradient step on L                                       (norm clipped; all-reduced under torchrun)
        stop the epochs early once E[(r − 1) − log r] > target_kl    (optional)

Every expectation is over the rollout's *valid* rows: with next-step autoreset, the row after an episode's
end (final observation -> first observation of the next, the env ignoring its action) is no transition of
the policy, and ``fastrl.rollout`` marks it invalid (see there, and ``fastrl.ops.returns`` for termination
vs truncation in GAE).

**Random draws.** The noise of a rollout's action samples (Gumbel for categorical, standard normal for the
Gaussian) is drawn at its start, one value per (step, env, action dim), from the learner's generator; the
action of env i at step t uses row [t, i]. So the actions depend on (t, env), not on which envs the policy
acts for together: async collection in halves takes the same actions as sync collection.

``train(run)`` below is the loop; ``PPO`` holds the network, the optimizer and the update; ``fastrl.runner.Run``
does the plumbing. The loop itself does not wait on the device except where a target KL is set (one read per
epoch); learner statistics accumulate in device tensors read at the log interval.
"""

from __future__ import annotations

import contextlib
import math

import gymnasium
import torch
from torch import nn

from fastrl.adaptive_threads import AdaptiveThreads
from fastrl.algos.common import (
    RunningMeanStd,
    load_net_learner_state,
    make_optimizer,
    net_learner_state,
    take_means,
)
from fastrl.algos.gradients import GradNormPeak
from fastrl.config import PPOConfig, network_for
from fastrl.hardware import resolve_ppo
from fastrl.nets import torso
from fastrl.ops.returns import gae
from fastrl.rollout import Rollout
from fastrl.run.stopwatch import untimed

#: learner statistics, averaged over minibatch updates between two log rows
STATS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
#: statistics averaged over rollouts
ROLLOUT_STATS = ("explained_variance", "epochs_run")
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: seed stride between ranks' generators (their action noise and minibatch draws differ)
RANK_SEED_STRIDE = 7_919


# ---------------------------------------------------------------------------------------------------------
# The network: policy and value
# ---------------------------------------------------------------------------------------------------------


class ActorCritic(nn.Module):
    """π(·|s) and V(s). Stacked frames: one Nature CNN torso shared by the policy and value heads (the PPO
    paper's Atari agent); MinAtar boards: one MinAtar torso shared the same way (as MinAtar's own actor-critic,
    examples/AC_lambda.py); vectors: separate MLP torsos for the actor and the critic (its MuJoCo agent).

    ``forward(obs) -> (policy, value)``: ``policy`` is the logits [B, A] (discrete) or the Gaussian's mean
    [B, A] (continuous, with the parameter ``log_std`` [A]); ``value`` is [B]. Orthogonal initialization as
    in the PPO implementations: gain √2 in the torsos, 0.01 for the policy head, 1 for the value head.
    """

    def __init__(self, observation_shape: tuple[int, ...], action_space: gymnasium.Space, config: PPOConfig):
        super().__init__()
        self.discrete = isinstance(action_space, gymnasium.spaces.Discrete)
        outputs = int(action_space.n) if self.discrete else int(action_space.shape[0])
        network = network_for(config, observation_shape)
        self.shared = network != "mlp"
        self.actor_torso = torso(network, observation_shape, config.hidden)
        self.critic_torso = None if self.shared else torso(network, observation_shape, config.hidden)
        features = self.actor_torso.out_features
        self.policy_head = nn.Linear(features, outputs)
        self.value_head = nn.Linear(features, 1)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((outputs,), float(config.init_log_std)))
        self.obs_norm = RunningMeanStd(observation_shape) if config.normalize_observations else None
        self.channels_last = config.channels_last and self.shared
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                nn.init.zeros_(module.bias)
        nn.init.orthogonal_(self.policy_head.weight, 0.01)
        nn.init.orthogonal_(self.value_head.weight, 1.0)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.obs_norm is not None:
            obs = self.obs_norm.normalize(obs)
        if self.channels_last:
            obs = obs.contiguous(memory_format=torch.channels_last)
        features = self.actor_torso(obs)
        critic_features = features if self.critic_torso is None else self.critic_torso(obs)
        return self.policy_head(features), self.value_head(critic_features).squeeze(-1)


def log_prob_and_entropy(policy: torch.Tensor, log_std: torch.Tensor | None,
                         actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(a|s) [B] and the entropy of π(·|s) [B]; categorical (``log_std`` None) or diagonal Gaussian."""
    if log_std is None:
        log_p = policy.log_softmax(dim=-1)
        return log_p.gather(-1, actions[:, None]).squeeze(-1), -(log_p.exp() * log_p).sum(-1)
    z = (actions - policy) * torch.exp(-log_std)
    log_prob = (-0.5 * z.square() - log_std - HALF_LOG_2PI).sum(-1)
    entropy = (log_std + 0.5 + HALF_LOG_2PI).sum(-1).expand(policy.shape[0])
    return log_prob, entropy


# ---------------------------------------------------------------------------------------------------------
# The losses (on flat minibatches; ``mask`` marks the valid rows)
# ---------------------------------------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the rows where ``mask`` (bool) is True; ``count`` = mask.sum() clamped to >= 1.

    Selected with ``where``, not multiplied by 0/1: an invalid row's values (whatever they are, inf too)
    reach neither the result nor, through it, any gradient.
    """
    return torch.where(mask, x, 0.0).sum() / count


def normalized_advantages(advantages: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """(A − mean) / (std + 1e-8) with the mean and (unbiased) std of the valid rows."""
    mean = masked_mean(advantages, mask, count)
    var = masked_mean((advantages - mean).square(), mask, (count - 1).clamp(min=1.0))
    return (advantages - mean) / (var.sqrt() + 1e-8)


def policy_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                count: torch.Tensor, clip_coef: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, −E[min(r Â, clip(r, 1 − ε, 1 + ε) Â)] (``clip_coef`` 0: −E[r Â], whose
    gradient at r = 1 is A2C's −E[Â ∇log π]); with the approximate KL E[(r − 1) − log r] and the fraction
    of clipped ratios (both detached)."""
    log_ratio = torch.where(mask, log_prob - old_log_prob, 0.0)  # invalid rows: ratio 1, no overflow
    ratio = log_ratio.exp()
    surrogate = -advantages * ratio
    if clip_coef > 0:
        surrogate = torch.max(surrogate, -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef))
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask, count)
        clipped = masked_mean(((ratio - 1.0).abs() > clip_coef).float(), mask, count) if clip_coef > 0 \
            else torch.zeros((), device=ratio.device)
    return masked_mean(surrogate, mask, count), approx_kl, clipped


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               count: torch.Tensor, clip_coef: float | None) -> torch.Tensor:
    """E[(V − R)²] / 2, or with ``clip_coef`` PPO2's pessimistic E[max((V − R)², (V_clipped − R)²)] / 2 where
    V_clipped = V_old + clip(V − V_old, −ε, ε)."""
    squared = (values - returns).square()
    if clip_coef is not None:
        clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
        squared = torch.max(squared, (clipped - returns).square())
    return 0.5 * masked_mean(squared, mask, count)


def advantages_and_returns(rollout: Rollout, rewards: torch.Tensor, next_value: torch.Tensor, gamma: float,
                           lam: float, out: tuple[torch.Tensor, torch.Tensor] | None = None):
    """GAE over the rollout (``fastrl.ops.returns.gae``): (advantages, returns = advantages + values) [T, N].

    ``rewards`` are the rollout's (or scaled ones); ``next_value`` [N] is V(rollout.next_obs).
    """
    return gae(rewards, rollout.values, rollout.terminated, rollout.truncated, next_value, gamma=gamma, lam=lam,
               out=out)


# ---------------------------------------------------------------------------------------------------------
# The learner
# ---------------------------------------------------------------------------------------------------------


class PPO:
    """The actor-critic network, its optimizer, acting (rollouts and evaluation) and the update."""

    def __init__(self, config: PPOConfig, observation_space: gymnasium.Space, action_space: gymnasium.Space,
                 device: torch.device | str, *, seed: int, world_size: int = 1):
        self.device = torch.device(device)
        self.observation_shape = tuple(observation_space.shape)
        config, _ = resolve_ppo(config, network_for(config, self.observation_shape), self.device)
        self.config = config
        self.world_size = world_size
        self.net = ActorCritic(self.observation_shape, action_space, config).to(self.device)
        if self.net.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.discrete = self.net.discrete
        if self.discrete:
            self.action_shape, self.action_dtype = (), torch.int64
            self.action_low = self.action_high = None
        else:
            self.action_shape, self.action_dtype = tuple(action_space.shape), torch.float32
            self.action_low = torch.as_tensor(action_space.low, dtype=torch.float32, device=self.device)
            self.action_high = torch.as_tensor(action_space.high, dtype=torch.float32, device=self.device)
        self.params = list(self.net.parameters())
        self._flat_grad = self._grads_in_one_buffer() if world_size > 1 else None
        self.optimizer = make_optimizer(config.optimizer, self.params, lr=config.lr, eps=config.optim_eps,
                                        rmsprop_alpha=config.rmsprop_alpha)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # action noise, minibatches
        self.rollouts = 0  # rollouts learned from (the learning-rate schedule's clock)
        self.updates = 0  # gradient steps
        self.stats = torch.zeros(len(STATS) + 1, device=self.device)  # STATS sums, then the update count
        self.grad_norm = GradNormPeak(self.device)
        self.rollout_stats = torch.zeros(len(ROLLOUT_STATS) + 1, device=self.device)
        self._noise = None
        self._buffers = None
        #: stacked frames go to the update scaled once per rollout (``_network_inputs``), in this dtype
        self._frame_dtype = ((torch.bfloat16 if config.bf16 else torch.float32)
                             if self.net.shared and self.net.obs_norm is None else None)
        self._frames = None  # the rollout's scaled frames (and one minibatch's rows): made at the first update
        self._loss_of_minibatch = torch.compile(self._losses) if config.compile else self._losses
        self._update_threads = None  # made at the first update, when torch runs on the run's threads

    # -----------------------------------------------------------------------------------------------------
    # Acting
    # -----------------------------------------------------------------------------------------------------

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(policy, value) in float32, the network run under bfloat16 autocast where configured."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
            policy, value = self.net(obs)
        return policy.float(), value.float()

    @contextlib.contextmanager
    def acting(self):
        """The context to collect a rollout in.

        - With bf16, one autocast region around all its forward passes, so that the weights are cast to
          bfloat16 once per rollout (autocast caches the casts of parameters until its outermost region ends)
          instead of once per step: faster, with bitwise the same outputs
          (profiles/cpu-amd-epyc-2c/design-measurements.md). The parameters must not change inside (they do
          not: the update runs after the rollout).
        - With ``act_threads``, torch runs on that many CPU threads inside (the process-wide setting is
          restored on the way out, for the update): the env threads step while the policy acts.
        """
        threads = torch.get_num_threads()
        if self.config.act_threads and self.config.act_threads != threads:
            torch.set_num_threads(self.config.act_threads)
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
                yield
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)

    def begin_rollout(self, num_steps: int, num_envs: int) -> None:
        """Draw the rollout's action noise, one value per (step, env, action dim)."""
        width = self.net.policy_head.out_features
        if self._noise is None or self._noise.shape[:2] != (num_steps, num_envs):
            self._noise = torch.empty((num_steps, num_envs, width), device=self.device)
        if self.discrete:  # Gumbel noise: argmax(log p + g) is a sample of the categorical
            self._noise.uniform_(generator=self.generator).clamp_(min=1e-20).log_().neg_().log_().neg_()
        else:
            self._noise.normal_(generator=self.generator)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, t: int, env_ids: torch.Tensor | None):
        """The rollout policy at step t for the envs ``env_ids`` (None: all): (action to store, action for
        the env, log π(a|s), V(s)), with the rollout's noise row of each env (see the module docstring)."""
        policy, value = self.forward(obs)
        noise = self._noise[t] if env_ids is None else self._noise[t].index_select(0, env_ids)
        if self.discrete:
            log_p = policy.log_softmax(dim=-1)
            action = (log_p + noise).argmax(dim=-1)
            return action, action, log_p.gather(-1, action[:, None]).squeeze(-1), value
        log_std = self.net.log_std.float()
        action = policy + log_std.exp() * noise
        log_prob = (-0.5 * noise.square() - log_std - HALF_LOG_2PI).sum(-1)
        return action, self.clip_action(action), log_prob, value

    @torch.no_grad()
    def act_eval(self, obs: torch.Tensor, generator: torch.Generator, deterministic: bool) -> torch.Tensor:
        """Env actions of the evaluation policy: the most likely action (argmax / the mean), or a sample."""
        policy, _ = self.forward(obs)
        if self.discrete:
            if not deterministic:
                gumbel = torch.rand(policy.shape, generator=generator, device=self.device).clamp_(min=1e-20)
                policy = policy.log_softmax(dim=-1) - gumbel.log_().neg_().log_()
            return policy.argmax(dim=-1)
        if not deterministic:
            noise = torch.randn(policy.shape, generator=generator, device=self.device)
            policy = policy + self.net.log_std.float().exp() * noise
        return self.clip_action(policy)

    def clip_action(self, action: torch.Tensor) -> torch.Tensor:
        return torch.max(torch.min(action, self.action_high), self.action_low)

    # -----------------------------------------------------------------------------------------------------
    # Learning
    # -----------------------------------------------------------------------------------------------------

    def learn(self, rollout: Rollout, rewards: torch.Tensor, updates_total: int, clock=untimed) -> None:
        """Advantages by GAE, then the epochs of minibatch updates on the rollout; ``updates_total`` (rollouts
        over the run) sets the annealed learning rate; ``clock``: the run's stage timers."""
        c = self.config
        with clock("advantages"):
            if self._buffers is None or self._buffers[0].shape != rollout.values.shape:
                self._buffers = (torch.empty_like(rollout.values), torch.empty_like(rollout.values))
            with torch.no_grad():
                next_value = self.forward(rollout.next_obs)[1]
                advantages, returns = advantages_and_returns(rollout, rewards, next_value, c.gamma, c.gae_lambda,
                                                             out=self._buffers)
                mask = rollout.valid.flatten()
                self._explained_variance(rollout.values.flatten(), returns.flatten(), mask)
        with clock("update"):
            self._set_learning_rate(updates_total)
            epochs = self._epochs(rollout, advantages.flatten(), returns.flatten(), mask)
            with torch.no_grad():
                self.rollout_stats[1] += epochs
                self.rollout_stats[-1] += 1
            if self.net.obs_norm is not None:  # after the update: it saw the normalization the rollout saw
                flat_obs = rollout.obs.flatten(0, 1)
                self.net.obs_norm.update(flat_obs, rollout.valid.flatten(), all_reduce=self.world_size > 1)
            self.rollouts += 1

    def _epochs(self, rollout: Rollout, advantages, returns, mask) -> int:
        """The minibatch updates; returns the epochs run (fewer where the target KL stopped them)."""
        c = self.config
        batch = advantages.shape[0]
        size = batch // c.minibatches
        obs = self._network_inputs(rollout)
        actions = rollout.actions.flatten(0, 1)
        old_log_prob, old_values = rollout.logprobs.flatten(), rollout.values.flatten()
        for epoch in range(c.epochs):
            # One minibatch: the whole rollout as it lies (its order does not matter), without a gather.
            order = torch.randperm(batch, generator=self.generator, device=self.device) if c.minibatches > 1 else None
            kl_sum = torch.zeros((), device=self.device)
            for k in range(c.minibatches):
                rows = slice(None) if order is None else order[k * size:(k + 1) * size]
                with self.update_threads():
                    kl_sum += self._minibatch_step(self._minibatch_inputs(obs, rows), actions[rows],
                                                   old_log_prob[rows], old_values[rows], advantages[rows],
                                                   returns[rows], mask[rows])
            if c.target_kl is not None:
                kl = kl_sum / c.minibatches
                if self.world_size > 1:
                    torch.distributed.all_reduce(kl)
                    kl /= self.world_size
                if kl.item() > c.target_kl:
                    return epoch + 1
        return c.epochs

    def update_threads(self) -> contextlib.AbstractContextManager[int]:
        """The thread count of the next minibatch step (``update_threads``; 0: adapted on the CPU between 1 and
        the run's threads, by the time the steps take)."""
        if self._update_threads is None:
            threads = torch.get_num_threads()
            adapt = self.config.update_threads == 0 and self.device.type == "cpu" and threads > 1
            self._update_threads = AdaptiveThreads((threads, 1) if adapt else (self.config.update_threads or threads,))
        return self._update_threads()

    def _network_inputs(self, rollout: Rollout) -> torch.Tensor:
        """The rollout's observations [T·N, ...] as the update's forward passes take them.

        Stacked uint8 frames are scaled to [0, 1] here, once per rollout, in the network's compute dtype
        (bfloat16 under bf16) and memory layout (NHWC under channels_last), into a buffer made once; each
        minibatch then gathers its rows into another (``_minibatch_inputs``). Converting inside every forward
        (``x.float() / 255``, the channels-last copy, autocast's cast) made three fresh full-size tensors per
        minibatch, much of their cost first touches of new pages; scaled once, the update is faster
        (profiles/cpu-amd-epyc-2c/design-measurements.md). The values are bitwise the forward's own: uint8 -> bfloat16
        is exact (integers up to 256), and a bfloat16 division computes in float32 and rounds once, as
        autocast's cast of the float32 quotient does.
        """
        obs = rollout.obs.flatten(0, 1)
        if self._frame_dtype is None or obs.dtype != torch.uint8:
            return obs
        batch, (channels, height, width) = obs.shape[0], obs.shape[1:]
        if self._frames is None or self._frames[0].shape[0] != batch:
            shape = (height, width, channels) if self.net.channels_last else (channels, height, width)
            rows = (batch,) if self.config.minibatches == 1 else (batch, batch // self.config.minibatches)
            self._frames = tuple(torch.empty((n, *shape), dtype=self._frame_dtype, device=self.device) for n in rows)
        frames = self._frames[0]
        self._as_nchw(frames).copy_(obs)
        return frames.div_(255.0)

    def _minibatch_inputs(self, inputs: torch.Tensor, rows) -> torch.Tensor:
        """Rows ``rows`` (a slice or an index tensor) of ``_network_inputs``' result, [B, C, H, W] for the net."""
        if self._frames is None or inputs is not self._frames[0]:
            return inputs[rows]
        if isinstance(rows, slice):
            return self._as_nchw(inputs[rows])
        return self._as_nchw(torch.index_select(inputs, 0, rows, out=self._frames[1]))

    def _as_nchw(self, frames: torch.Tensor) -> torch.Tensor:
        """A [B, C, H, W] view of a frame buffer (stored [B, H, W, C] under channels_last)."""
        return frames.permute(0, 3, 1, 2) if self.net.channels_last else frames

    def _losses(self, obs, actions, old_log_prob, old_values, advantages, returns, mask):
        """The PPO loss of a minibatch and its parts: (loss, policy loss, value loss, entropy, approximate KL,
        clipped fraction). With ``compile``, ``torch.compile`` runs this (forward and backward)."""
        c = self.config
        policy, values = self.forward(obs)
        log_prob, entropy = log_prob_and_entropy(policy, None if self.discrete else self.net.log_std.float(),
                                                 actions)
        count = mask.sum().float().clamp(min=1.0)
        if c.normalize_advantages:
            advantages = normalized_advantages(advantages, mask, count)
        pg_loss, approx_kl, clipped = policy_loss(log_prob, old_log_prob, advantages, mask, count, c.clip_coef)
        v_loss = value_loss(values, old_values, returns, mask, count, c.clip_coef if c.clip_value_loss else None)
        entropy_mean = masked_mean(entropy, mask, count)
        loss = pg_loss + c.value_coef * v_loss - c.entropy_coef * entropy_mean
        return loss, pg_loss, v_loss, entropy_mean, approx_kl, clipped

    def _minibatch_step(self, obs, actions, old_log_prob, old_values, advantages, returns, mask) -> torch.Tensor:
        """One gradient step on the PPO loss of a minibatch; returns its approximate KL (detached)."""
        c = self.config
        loss, pg_loss, v_loss, entropy_mean, approx_kl, clipped = self._loss_of_minibatch(
            obs, actions, old_log_prob, old_values, advantages, returns, mask)

        self.optimizer.zero_grad(set_to_none=self._flat_grad is None)
        loss.backward()
        if self._flat_grad is not None:
            torch.distributed.all_reduce(self._flat_grad)
            self._flat_grad.div_(self.world_size)
        self.grad_norm.clip(self.params, c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        with torch.no_grad():
            self.stats += torch.stack([pg_loss.detach(), v_loss.detach(), entropy_mean.detach(), approx_kl, clipped,
                                       self.stats.new_ones(())])
        return approx_kl

    def _set_learning_rate(self, updates_total: int) -> None:
        lr = self.config.lr
        if self.config.anneal_lr:
            lr *= max(0.0, 1.0 - self.rollouts / max(updates_total, 1))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _explained_variance(self, values, returns, mask) -> None:
        """1 − Var[R − V] / Var[R] over the valid rows, summed into the rollout statistics."""
        count = mask.sum().float().clamp(min=1.0)
        mean_r = masked_mean(returns, mask, count)
        var_r = masked_mean((returns - mean_r).square(), mask, count)
        residual = returns - values
        mean_e = masked_mean(residual, mask, count)
        var_e = masked_mean((residual - mean_e).square(), mask, count)
        self.rollout_stats[0] += torch.where(var_r > 0, 1 - var_e / var_r, torch.zeros_like(var_r))

    def _grads_in_one_buffer(self) -> torch.Tensor:
        """Make every parameter's .grad a view into one flat buffer, so that one all-reduce covers them all."""
        flat = torch.zeros(sum(p.numel() for p in self.params), device=self.device)
        offset = 0
        for p in self.params:
            p.grad = flat[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return flat

    def broadcast_from_rank0(self) -> None:
        """Every rank takes rank 0's parameters and buffers (before training, or after loading a checkpoint)."""
        for tensor in self.net.state_dict().values():
            torch.distributed.broadcast(tensor, src=0)

    def take_stats(self) -> dict[str, float]:
        """Mean learner statistics since the last call (one host read), and reset them."""
        means = take_means(self.stats, STATS)
        out = means | take_means(self.rollout_stats, ROLLOUT_STATS)
        if means:
            out["grad_norm"] = self.grad_norm.take()
        if out:
            out |= {"updates": self.updates, "lr": self.optimizer.param_groups[0]["lr"]}
        if means and self._update_threads is not None:
            out["update_threads"] = self._update_threads.best
        return out

    # -----------------------------------------------------------------------------------------------------
    # Checkpointing
    # -----------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return net_learner_state(self) | {"rollouts": self.rollouts, "rollout_stats": self.rollout_stats}

    def load_state_dict(self, state: dict) -> None:
        load_net_learner_state(self, state)
        self.rollouts = int(state["rollouts"])
        self.rollout_stats.copy_(state["rollout_stats"])


# ---------------------------------------------------------------------------------------------------------
# The learner and evaluation policy of a run (the spec's learner_for, evaluation_policy)
# ---------------------------------------------------------------------------------------------------------


def learner_for(config, observation_space, action_space, device, *, rank: int = 0, world_size: int = 1) -> PPO:
    """The learner of a ``RunConfig`` (seeded by its seed and the rank) for envs with these spaces."""
    return PPO(config.ppo, observation_space, action_space, device, seed=config.seed + rank * RANK_SEED_STRIDE,
               world_size=world_size)


def evaluation_policy(learner: PPO, config, epsilon: float | None = None):
    """The argmax / mean action (``eval_deterministic``) or a sample: ``(act(obs, generator), description)``."""
    if epsilon is not None:
        raise ValueError("--epsilon is for DQN's ε-greedy policy; a PPO run evaluates its own policy (the run's "
                         "eval_deterministic says: most likely action, or a sample)")
    deterministic = config.ppo.eval_deterministic
    return ((lambda obs, generator: learner.act_eval(obs, generator, deterministic)),
            "most likely action" if deterministic else "sampled")
