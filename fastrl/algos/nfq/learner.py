"""Neural fitted Q iteration (Riedmiller 2005), the batch ancestor of DQN, with the paper's growing batch.

The algorithm (the paper's NFQ_main, with the growing batch of its section 3), for N envs stepping together::

    D ← {};  Q_0 ← an MLP on (s, a), weights uniform in [−0.5, 0.5]
    repeat:
        collect episodes_per_iteration episodes with the greedy policy argmin_a Q(s, a); add them to D
        repeat `iterations` times:                                          (a Q iteration)
            P = {((s, a), c(s, a, s') + γ min_b Q_k(s', b)) : (s, a, s') in D}   (the pattern set)
            Q_{k+1} ← Rprop_training(P): `epochs` batch Rprop steps on Σ_P (Q(s, a) − target)²

Q is a cost to go, minimized, as in the paper. Its ``failure`` costs are the pole task's: every transition costs
``step_cost`` (c_trans), a terminal state is a failure (a forbidden state of S⁻) whose target is ``failure_cost``
without bootstrapping, and a truncation (a time limit) is no failure: it bootstraps from s'. With a ``goal``
region (the paper's cart-pole regulator, its S⁺) a transition into the goal costs 0 instead of c_trans and
still bootstraps: the task is to reach the goal and stay there. The MLP has sigmoid units and a sigmoid output,
whose range [0, 1] holds every target. ``negative_reward`` costs read an env's reward instead (c = −r, a
terminal state adds nothing), with a linear output. With ``scale_inputs`` the observations enter Q as z-scores
over the states of D, the scale taken anew at each refit (the paper scales its inputs; raw CartPole has
positions in ±2.4 and angles in ±0.21, which small sigmoid units resolve badly).

Why a goal region on CartPole-v1: with c_trans on every step, Q(s, ·) is flat wherever a failure is far off, so
the greedy action there follows the fitting noise (the min over two noisy estimates also pulls every target
down by about half that noise, as much as c_trans itself), and the cart drifts into states D barely covers.
Costing nothing in the goal gives every state outside it an action gap and keeps the greedy policy near the
well-covered middle.

Rprop (Riedmiller & Braun 1993) steps each weight by its own step size, grown while its gradient keeps its sign
and shrunk when it flips: it needs the gradient of the whole pattern set, which is why NFQ trains in batch. Each
Q iteration is a fresh supervised problem, so its Rprop starts from the initial step sizes (a new optimizer);
the weights carry over from the last iteration.

``train(run)`` is the loop; ``NFQ`` holds the network, acting and the refit; ``fastrl.runner.Run`` does the
plumbing (envs, logging, evaluation, checkpoints).
"""

from __future__ import annotations

import torch
from torch import nn

from fastrl import checkpoint
from fastrl.algos.nfq.transitions import Transitions
from fastrl.config import NFQConfig
from fastrl.envs.base import torch_dtype

#: learner statistics of the last refit before a log row
STATS = ("loss", "q_mean", "patterns", "refits")


def q_network(inputs: int, hidden: tuple[int, ...], sigmoid_output: bool) -> nn.Sequential:
    """The paper's MLP: sigmoid hidden units, one output; weights and biases uniform in [−0.5, 0.5]."""
    layers: list[nn.Module] = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.Sigmoid()]
        width = h
    layers.append(nn.Linear(width, 1))
    if sigmoid_output:
        layers.append(nn.Sigmoid())
    net = nn.Sequential(*layers)
    for p in net.parameters():
        nn.init.uniform_(p, -0.5, 0.5)
    return net


class NFQ:
    """Q(s, a) as one MLP on the observation and the one-hot action, acting greedily (argmin), and the refit."""

    def __init__(self, config: NFQConfig, observation_shape: tuple[int, ...], actions: int,
                 device: torch.device | str, *, seed: int):
        self.config = config
        self.device = torch.device(device)
        self.actions = actions
        features = int(torch.Size(observation_shape).numel())
        self.q = q_network(features + actions, config.hidden, config.costs == "failure").to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # exploration draws
        self.refits = 0
        self.last = torch.zeros(len(STATS), device=self.device)  # STATS of the last refit
        # z-scores of Q's inputs (identity until the first refit, and always without scale_inputs)
        self.input_mean = torch.zeros(features, device=self.device)
        self.input_std = torch.ones(features, device=self.device)
        # the goal region: |s'_i| < goal_i for every i, a 0 leaving dimension i free
        self.goal = torch.tensor([g if g > 0 else float("inf") for g in config.goal], device=self.device)

    def inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """Q's state input [B, d]: the flat observation, as z-scores with ``scale_inputs``."""
        return (obs.float().flatten(1) - self.input_mean) / self.input_std

    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """Q(s, ·) [B, A]: the network on each (s, a) pair."""
        flat = self.inputs(obs)
        batch = flat.shape[0]
        one_hot = torch.eye(self.actions, device=self.device).repeat(batch, 1)            # [B·A, A]
        pairs = torch.cat([flat.repeat_interleave(self.actions, dim=0), one_hot], dim=1)  # [B·A, d + A]
        return self.q(pairs).view(batch, self.actions)

    def q_taken(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q(s, a) [B] of the actions taken."""
        one_hot = nn.functional.one_hot(actions, self.actions).float()
        return self.q(torch.cat([self.inputs(obs), one_hot], dim=1)).squeeze(1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, epsilon: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """ε-greedy on the costs: a uniform action with probability ε, else argmin_a Q(s, a)."""
        generator = generator or self.generator
        n = obs.shape[0]
        greedy = self.q_values(obs).argmin(dim=1)
        uniform = torch.randint(0, self.actions, (n,), generator=generator, device=self.device)
        explore = torch.rand(n, generator=generator, device=self.device) < epsilon
        return torch.where(explore, uniform, greedy)

    @torch.no_grad()
    def targets(self, rewards, next_obs, terminated) -> torch.Tensor:
        """c(s, a, s') + γ min_b Q_k(s', b), without the bootstrap at a terminal state (see the module docstring)."""
        c = self.config
        next_cost = self.q_values(next_obs).min(dim=1).values
        if c.costs == "failure":
            cost = c.step_cost
            if c.goal:
                in_goal = (next_obs.float().flatten(1).abs() < self.goal).all(dim=1)
                cost = torch.where(in_goal, 0.0, c.step_cost)
            return torch.where(terminated, c.failure_cost, cost + c.gamma * next_cost)
        return -rewards + c.gamma * next_cost * (~terminated)

    def refit(self, obs, actions, rewards, next_obs, terminated) -> None:
        """``iterations`` Q iterations on the pattern set of these transitions (all of D)."""
        c = self.config
        if c.scale_inputs:
            flat = obs.float().flatten(1)
            self.input_mean, self.input_std = flat.mean(dim=0), flat.std(dim=0) + 1e-6
        for _ in range(c.iterations):
            target = self.targets(rewards, next_obs, terminated)
            rprop = torch.optim.Rprop(self.q.parameters(), lr=c.rprop_step)  # Rprop_training(P), from Delta_0
            for _ in range(c.epochs):
                loss = (self.q_taken(obs, actions) - target).square().mean()
                rprop.zero_grad(set_to_none=True)
                loss.backward()
                rprop.step()
        self.refits += 1
        with torch.no_grad():
            q = self.q_taken(obs, actions)
            self.last = torch.stack([(q - target).square().mean(), q.mean(), q.new_tensor(float(len(q))),
                                     q.new_tensor(float(self.refits))])

    def take_stats(self) -> dict[str, float]:
        """The last refit's statistics: its pattern set's final loss and mean Q, its size, the refits so far."""
        return dict(zip(STATS, self.last.tolist(), strict=True)) if self.refits else {}

    def state_dict(self) -> dict:
        return {"q": self.q.state_dict(), "generator": checkpoint.generator_state(self.generator),
                "refits": self.refits, "last": self.last, "input_mean": self.input_mean, "input_std": self.input_std}

    def load_state_dict(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        checkpoint.set_generator_state(self.generator, state["generator"])
        self.refits = int(state["refits"])
        self.last = state["last"].clone()
        self.input_mean, self.input_std = state["input_mean"].clone(), state["input_std"].clone()


def learner_for(config, observation_space, action_space, device) -> NFQ:
    """The learner of a ``RunConfig`` (seeded by its seed) for envs with these (single-env) spaces."""
    return NFQ(config.nfq, tuple(observation_space.shape), int(action_space.n), device, seed=config.seed)


def evaluation_policy(learner: NFQ, config, epsilon: float | None = None):
    """The greedy policy argmin_a Q(s, a) (or ε-greedy with ``epsilon``): ``(act(obs, generator), description)``."""
    epsilon = 0.0 if epsilon is None else epsilon
    return (lambda obs, generator: learner.act(obs, epsilon, generator=generator)), f"epsilon {epsilon:g}"


def train(run) -> NFQ:
    """Train NFQ on ``run``'s envs until the run's step budget is spent; returns the learner."""
    config, envs, clock = run.config.nfq, run.envs, run.stopwatch
    learner = learner_for(run.config, envs.single_observation_space, envs.single_action_space, run.device)
    capacity = -(-run.config.total_env_steps // envs.num_envs)
    data = Transitions(capacity, envs.num_envs, run.observation_shape, torch_dtype(envs.single_observation_space),
                       run.device)
    # episodes ended so far (the first random_episodes of them collected with uniform actions), and since the
    # last refit
    episodes = since_refit = 0
    saved = run.checkpoint.state["loop"] if run.checkpoint is not None else None
    if saved is not None:
        learner.load_state_dict(saved["learner"])
        episodes, since_refit = int(saved["episodes"]), int(saved["since_refit"])
    obs = run.start()
    if saved is not None:
        data.load_state_dict(saved["transitions"], envs_continue=run.envs_restored)

    def state() -> dict:
        return {"learner": learner.state_dict(), "obs": obs, "transitions": data.state_dict(), "episodes": episodes,
                "since_refit": since_refit}

    running = run.env_steps < run.config.total_env_steps
    while running:
        with clock("act"):
            action = learner.act(obs, 1.0 if episodes < config.random_episodes else config.epsilon)
        with clock("env"):
            next_obs, reward, terminated, truncated, info = envs.step(action)
        with clock("store"):
            data.add(obs, action, reward, next_obs, terminated, truncated)
            obs = next_obs
            ended = data.episodes_ended()
        run.after_step(info)
        episodes += ended
        since_refit += ended
        if episodes >= config.random_episodes and since_refit >= config.episodes_per_iteration:
            with clock("update"):
                learner.refit(*data.patterns())
            since_refit = 0
        running = run.tick(learner, state)
    return learner
