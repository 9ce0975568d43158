"""IMPALA (Espeholt et al. 2018): decoupled actors, and a learner that corrects their policy lag with V-trace.

The algorithm, with K actor processes (``fastrl.algos.impala.actors``) and this process as the learner::

    every actor, on its own:                                        (never waits for the learner)
        read the shared parameters (no lock); act T steps in its N envs with that policy μ
        queue the unroll: s_0..s_T, a_t, μ's logits, r_t, done_t
    the learner:
        take batch_unrolls unrolls from the queue                   (whatever version each acted with)
        ρ_t = π(a_t|s_t) / μ(a_t|s_t)                               (π: the learner's current policy)
        v_s, A_t = V-trace(ρ, γ(1 − done), r, V(s), V(s_T))         (fastrl.ops.returns.vtrace)
        L = −mean[A_t log π(a_t|s_t)] + c_v mean[(v_s − V(s_t))²] / 2 − c_e mean[entropy of π(·|s_t)]
        one RMSProp step on L; write the parameters to the actors (they pick them up at their next unroll)

**The policy-gradient target for λ < 1.** ``fastrl.ops.vtrace`` follows the paper (section 4.2) and
deepmind/scalable_agent: A_t = min(ρ̄_pg, ρ_t)(r_t + γ v_{t+1} − V(x_t)), with the V-trace target v_{t+1}
whatever λ is. rlax's ``vtrace_td_error_and_advantage`` instead uses q_t = r_t + γ[(1 − λ) V(x_{t+1}) + λ v_{t+1}]
for λ < 1, so that the policy-gradient target is the same λ-mixture as the value target. We keep the paper's
form: it is what the paper's experiments (and its λ = 1 default, where both agree) ran, and it is the one op
the value and policy targets share here. With λ < 1 our A_t is the paper's, not rlax's.

``correction="none"`` drops the correction (every ρ = 1, so c = 1 too): the lagged unrolls are taken as the
learner's own, the n-step actor-critic targets of A2C, the baseline V-trace is measured against
(``fastrl.algos.impala.lagged``, ``fastrl bench lag``).

Truncations are treated as terminations (the op's discount 0 at any episode end, as scalable_agent); the
autoreset row after an end is masked out of every loss (``fastrl.rollout``'s convention).

``train(run)`` starts the actors and is the learner's loop on a ``fastrl.runner.Run`` (logging, evaluation,
checkpoints of the learner). The Run's own envs are not stepped; the actors own theirs. A resumed run
continues from the learner's checkpoint with new actors (their episodes start over), so it is not bit for bit
the run that was interrupted: the actors' timing never is.
"""

from __future__ import annotations

import functools
import queue

import torch
from torch import nn

from fastrl import hogwild
from fastrl.algos.common import load_net_learner_state, net_learner_state, take_means
from fastrl.algos.gradients import GradNormPeak
from fastrl.algos.impala.actors import Slots, run_actor
from fastrl.config import ImpalaConfig, network_for
from fastrl.envs.base import torch_dtype
from fastrl.nets import MLP, NatureCNN
from fastrl.ops.returns import vtrace

#: learner statistics averaged over updates between two log rows, in this order
STATS = ("policy_loss", "value_loss", "entropy", "policy_lag", "rho_mean")


class ActorCritic(nn.Module):
    """π(·|s) and V(s) on one torso (the Nature CNN for frames, an MLP for vectors)."""

    def __init__(self, observation_shape: tuple[int, ...], actions: int, config: ImpalaConfig):
        super().__init__()
        cnn = network_for(config, observation_shape) == "nature_cnn"
        self.torso = NatureCNN(observation_shape[0]) if cnn else MLP(observation_shape, config.hidden)
        self.policy = nn.Linear(self.torso.out_features, actions)
        self.value = nn.Linear(self.torso.out_features, 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.torso(obs)
        return self.policy(features), self.value(features).squeeze(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, 0.0).sum() / mask.sum().clamp(min=1)


class Impala:
    """The learner: its network, RMSProp, the V-trace loss and the update."""

    def __init__(self, config: ImpalaConfig, observation_shape: tuple[int, ...], actions: int,
                 device: torch.device | str, *, seed: int):
        self.config = config
        self.device = torch.device(device)
        self.observation_shape, self.actions = observation_shape, actions
        self.net = ActorCritic(observation_shape, actions, config).to(self.device)
        self.optimizer = torch.optim.RMSprop(self.net.parameters(), lr=config.lr, alpha=config.rmsprop_alpha,
                                             eps=config.optim_eps)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # evaluation samples
        self.updates = 0
        self.stats = torch.zeros(len(STATS) + 1, device=self.device)  # STATS sums, then the update count
        self.grad_norm = GradNormPeak(self.device)

    def targets(self, obs, actions, behaviour_logits, rewards, terminated, truncated):
        """The V-trace targets of a batch of unrolls (obs [T + 1, B, ...], the rest [T, B], behaviour_logits
        [T, B, A]): (v_s, policy-gradient advantages, log ρ, log π(·|s_t) [T, B, A], V(s_t) [T, B]).
        ``correction="none"``: the targets with every ρ = 1 (log ρ is still the measured one)."""
        c = self.config
        T, B = actions.shape
        logits, values = self.net(obs.flatten(0, 1))
        log_p, values = logits.view(T + 1, B, -1)[:T].log_softmax(dim=-1), values.view(T + 1, B)
        log_pi = log_p.gather(-1, actions[..., None]).squeeze(-1)
        log_mu = behaviour_logits.log_softmax(dim=-1).gather(-1, actions[..., None]).squeeze(-1)
        log_rhos = (log_pi - log_mu).detach()
        discounts = c.gamma * (~(terminated | truncated)).float()
        corrected = log_rhos if c.correction == "vtrace" else torch.zeros_like(log_rhos)  # none: rho = c = 1
        vs, pg_advantages = vtrace(corrected, discounts, rewards, values[:T].detach(), values[T].detach(),
                                   clip_rho=c.clip_rho, clip_pg_rho=c.clip_pg_rho, lambda_=c.vtrace_lambda)
        return vs, pg_advantages, log_rhos, log_p, values[:T]

    def losses(self, obs, actions, behaviour_logits, rewards, terminated, truncated, valid):
        """(loss, policy loss, value loss, entropy, mean ρ) of a batch of unrolls (shapes as ``targets``; the
        rows where ``valid`` is False, autoreset steps, are left out)."""
        c = self.config
        vs, pg_advantages, log_rhos, log_p, values = self.targets(obs, actions, behaviour_logits, rewards,
                                                                  terminated, truncated)
        log_pi = log_p.gather(-1, actions[..., None]).squeeze(-1)
        policy_loss = -masked_mean(pg_advantages * log_pi, valid)
        value_loss = 0.5 * masked_mean((vs - values).square(), valid)
        entropy = masked_mean(-(log_p.exp() * log_p).sum(-1), valid)
        loss = policy_loss + c.value_coef * value_loss - c.entropy_coef * entropy
        return loss, policy_loss, value_loss, entropy, masked_mean(log_rhos.exp(), valid)

    def learn(self, batch: dict[str, torch.Tensor], lag: float, progress: float) -> None:
        """One RMSProp step on a batch of unrolls; ``lag``: its mean policy lag in updates; ``progress``: the
        run's fraction done (for anneal_lr)."""
        c = self.config
        loss, policy_loss, value_loss, entropy, rho = self.losses(
            batch["obs"], batch["actions"], batch["behaviour_logits"], batch["rewards"], batch["terminated"],
            batch["truncated"], batch["valid"])
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr * max(0.0, 1.0 - progress) if c.anneal_lr else c.lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm.clip(self.net.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        with torch.no_grad():
            self.stats += torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach(),
                                       self.stats.new_tensor(lag), rho, self.stats.new_ones(())])

    @torch.no_grad()
    def act_eval(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        logits = self.net(obs)[0]
        if self.config.eval_deterministic:
            return logits.argmax(dim=-1)
        gumbel = torch.rand(logits.shape, generator=generator, device=self.device).clamp_(min=1e-20)
        return (logits - gumbel.log_().neg_().log_()).argmax(dim=-1)

    def take_stats(self) -> dict[str, float]:
        means = take_means(self.stats, STATS)
        if not means:
            return {}
        return means | {"grad_norm": self.grad_norm.take(), "updates": self.updates,
                        "lr": self.optimizer.param_groups[0]["lr"]}

    def state_dict(self) -> dict:
        return net_learner_state(self)

    def load_state_dict(self, state: dict) -> None:
        load_net_learner_state(self, state)


def learner_for(config, observation_space, action_space, device) -> Impala:
    """The learner of a ``RunConfig`` (seeded by its seed) for envs with these (single-env) spaces."""
    return Impala(config.impala, tuple(observation_space.shape), int(action_space.n), device, seed=config.seed)


def evaluation_policy(learner: Impala, config, epsilon: float | None = None):
    """The most likely action (``eval_deterministic``) or a sample: ``(act(obs, generator), description)``."""
    if epsilon is not None:
        raise ValueError("--epsilon is for DQN's epsilon-greedy policy; an IMPALA run evaluates its own policy")
    return learner.act_eval, "most likely action" if config.impala.eval_deterministic else "sampled"


class Actors:
    """The actor processes, their unroll slots and the shared parameters (see ``fastrl.algos.impala.actors``)."""

    def __init__(self, config, learner: Impala, obs_dtype: torch.dtype):
        c, N = config.impala, config.env.num_envs
        hogwild.use_fd_sharing()
        context = torch.multiprocessing.get_context(c.start_method)
        self.per_actor = c.slots_per_actor
        self.slots = Slots(c.actors * c.slots_per_actor, c.unroll, N, learner.observation_shape, obs_dtype,
                           learner.actions)
        self.params = hogwild.shared_zeros(hogwild.parameter_count(learner.net))
        self.version = hogwild.shared_zeros(1, dtype=torch.int64)
        self.publish(learner)
        self.free = [context.Queue() for _ in range(c.actors)]
        self.full = context.Queue()
        self.stop = context.Event()
        for i, free in enumerate(self.free):
            for s in range(c.slots_per_actor):
                free.put(i * c.slots_per_actor + s)
        make_net = functools.partial(ActorCritic, learner.observation_shape, learner.actions, c)
        self.processes = [context.Process(target=run_actor, args=(i, config, make_net, self.slots, self.params,
                                                                   self.version, self.free[i], self.full,
                                                                   self.stop),
                                          daemon=True, name=f"impala-actor-{i}") for i in range(c.actors)]
        for p in self.processes:
            p.start()

    def publish(self, learner: Impala) -> None:
        """The learner's parameters to the actors, then the new version (they read it first)."""
        hogwild.flatten_into(learner.net, self.params)
        self.version[0] = learner.updates

    def take(self, count: int) -> tuple[dict[str, torch.Tensor], list[int]]:
        """``count`` unrolls, concatenated along the env dimension, and the versions they acted with; their
        slots go back to their actors."""
        taken = []
        while len(taken) < count:
            try:
                taken.append(self.full.get(timeout=1.0))
            except queue.Empty:
                dead = [p.name for p in self.processes if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"IMPALA actor(s) {', '.join(dead)} died (exit codes "
                                       f"{[p.exitcode for p in self.processes]}); see the errors above") from None
        batch = {name: torch.cat([getattr(self.slots, name)[s] for s in taken], dim=1) for name in Slots.FIELDS}
        versions = [int(self.slots.version[s]) for s in taken]
        for s in taken:
            self.free[s // self.per_actor].put(s)
        return batch, versions

    def close(self) -> None:
        self.stop.set()
        for p in self.processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()


def train(run) -> Impala:
    """The learner's loop: take unrolls, learn, publish, tick; until the run's step budget is spent."""
    config = run.config
    envs = run.envs
    learner = learner_for(config, envs.single_observation_space, envs.single_action_space, run.device)
    if run.checkpoint is not None:
        learner.load_state_dict(run.checkpoint.state["loop"]["learner"])
    obs = run.start()  # writes the run's config; the Run's own envs are not stepped (the actors own theirs)
    actors = Actors(config, learner, torch_dtype(envs.single_observation_space))
    clock, c = run.stopwatch, config.impala

    def state() -> dict:
        return {"learner": learner.state_dict(), "obs": obs}

    try:
        running = run.env_steps < config.total_env_steps
        while running:
            with clock("wait"):
                batch, versions = actors.take(c.batch_unrolls)
            with clock("count"):
                for k in range(c.batch_unrolls):
                    envs_k = slice(k * config.env.num_envs, (k + 1) * config.env.num_envs)
                    for t in range(c.unroll):
                        run.after_step({"episode_end": batch["episode_end"][t, envs_k],
                                        "episode_return": batch["episode_return"][t, envs_k],
                                        "episode_length": batch["episode_length"][t, envs_k]})
            with clock("update"):
                lag = sum(learner.updates - v for v in versions) / len(versions)
                learner.learn({k: v.to(run.device) for k, v in batch.items()}, lag,
                              run.env_steps / config.total_env_steps)
                actors.publish(learner)
            running = run.tick(learner, state)
    finally:
        actors.close()
    return learner
