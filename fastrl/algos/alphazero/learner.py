"""AlphaZero's learner (Silver et al. 2018): the network (p, v) = f_θ(s), the replay of (s, π, z) and the loss

    l = (z − v)² − πᵀ log p + c‖θ‖²

where π is the search's visit-count distribution at s and z the game's outcome for the player to move at s.
``act`` is the search that plays (self-play: root noise, visit counts sampled for the first moves; evaluation:
no noise, the most visited move); the loop that plays the games and feeds the replay is ``loop.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from fastrl.algos.common import load_net_learner_state, net_learner_state, take_means
from fastrl.config.alphazero import AlphaZeroConfig
from fastrl.envs.connect_four import RULES
from fastrl.nets import MLP
from fastrl.planning import mcts
from fastrl.planning.puct import dirichlet_noise, network_evaluator, sample_actions, visit_policy

#: the games AlphaZero can plan in: env id -> its rules (canonical states, pure functions; fastrl.planning)
GAMES = {"ConnectFour-v0": RULES}
#: learner statistics, averaged over gradient steps between two log rows
STATS = ("loss", "value_loss", "policy_loss", "l2", "policy_entropy")


# ---------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------


class ResidualTower(nn.Module):
    """AlphaZero's torso, smaller: a 3x3 convolution, then residual blocks of two 3x3 convolutions (no batch
    norm: the search evaluates single positions and batches alike, so the network has one mode)."""

    def __init__(self, observation_shape: tuple[int, ...], channels: int, blocks: int):
        super().__init__()
        planes, rows, columns = observation_shape
        self.stem = nn.Conv2d(planes, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(channels, channels, 3, padding=1)) for _ in range(blocks))
        self.out_features = channels * rows * columns

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(obs))
        for block in self.blocks:
            x = torch.relu(x + block(x))
        return x.flatten(1)


class PolicyValueNet(nn.Module):
    """(p, v) = f_θ(s): ``forward(planes) -> (policy logits [B, A], value [B] in (-1, 1))``."""

    def __init__(self, observation_shape: tuple[int, ...], actions: int, config: AlphaZeroConfig):
        super().__init__()
        self.torso = (MLP(observation_shape, config.hidden) if config.network == "mlp"
                      else ResidualTower(observation_shape, config.channels, config.blocks))
        self.policy_head = nn.Linear(self.torso.out_features, actions)
        self.value_head = nn.Linear(self.torso.out_features, 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.torso(obs)
        return self.policy_head(features), torch.tanh(self.value_head(features)).squeeze(-1)


# ---------------------------------------------------------------------------------------------------------
# The replay of (s, π, z)
# ---------------------------------------------------------------------------------------------------------


class Replay:
    """A ring of the last ``capacity`` positions: canonical states, visit distributions π and outcomes z."""

    def __init__(self, capacity: int, state_shape: tuple[int, ...], actions: int, device: torch.device):
        self.states = torch.zeros((capacity, *state_shape), dtype=torch.int8, device=device)
        self.policies = torch.zeros((capacity, actions), device=device)
        self.outcomes = torch.zeros(capacity, device=device)
        self.added = 0  # positions ever added; the ring holds the last min(added, capacity)

    @property
    def size(self) -> int:
        return min(self.added, self.outcomes.shape[0])

    def add(self, states: torch.Tensor, policies: torch.Tensor, outcomes: torch.Tensor) -> None:
        capacity = self.outcomes.shape[0]
        at = (self.added + torch.arange(states.shape[0], device=states.device)) % capacity
        self.states[at], self.policies[at], self.outcomes[at] = states, policies, outcomes
        self.added += states.shape[0]

    def sample(self, batch: int, generator: torch.Generator, mirror: bool):
        """``batch`` positions drawn uniformly; with ``mirror``, each one left-right reflected with probability
        1/2 (board columns and π reversed together)."""
        rows = torch.randint(0, self.size, (batch,), generator=generator, device=self.outcomes.device)
        states, policies, outcomes = self.states[rows], self.policies[rows], self.outcomes[rows]
        if mirror:
            flip = torch.rand(batch, generator=generator, device=self.outcomes.device) < 0.5
            states = torch.where(flip[:, None, None], states.flip(-1), states)
            policies = torch.where(flip[:, None], policies.flip(-1), policies)
        return states, policies, outcomes

    def state_dict(self) -> dict:
        return {"states": self.states, "policies": self.policies, "outcomes": self.outcomes, "added": self.added}

    def load_state_dict(self, state: dict) -> None:
        self.states.copy_(state["states"])
        self.policies.copy_(state["policies"])
        self.outcomes.copy_(state["outcomes"])
        self.added = int(state["added"])


# ---------------------------------------------------------------------------------------------------------
# The learner
# ---------------------------------------------------------------------------------------------------------


def alphazero_loss(net: PolicyValueNet, planes: torch.Tensor, policies: torch.Tensor, outcomes: torch.Tensor,
                   c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """l = (z − v)² − πᵀ log p + c‖θ‖², averaged over the batch; with its parts (detached) for the log."""
    logits, value = net(planes)
    log_p = logits.log_softmax(dim=-1)
    value_loss = (outcomes - value).square().mean()
    policy_loss = -(policies * log_p).sum(dim=-1).mean()
    l2 = sum(p.square().sum() for p in net.parameters())
    loss = value_loss + policy_loss + c * l2
    entropy = -(log_p.exp() * log_p).sum(dim=-1).mean()
    return loss, torch.stack([loss, value_loss, policy_loss, l2, entropy]).detach()


class AlphaZero:
    """The network, its optimizer, the search that acts with it, and the gradient step on the replay."""

    def __init__(self, config: AlphaZeroConfig, observation_space, action_space, device: torch.device | str,
                 rules, *, seed: int):
        self.config, self.rules, self.device = config, rules, torch.device(device)
        self.observation_shape = tuple(observation_space.shape)
        self.net = PolicyValueNet(self.observation_shape, int(action_space.n), config).to(self.device)
        self.evaluate = network_evaluator(self.net, rules)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # actions, replay draws
        self.updates = 0
        self.stats = torch.zeros(len(STATS) + 1, device=self.device)  # STATS sums, then the step count
        self.reports: dict[str, float] = {}  # match results for the next metrics row (loop.play_matches)

    def act(self, states: torch.Tensor, simulations: int, *,
            explore: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Search from each state (canonical, game not over): (actions [B], π [B, A] the visit distribution).

        ``explore`` (bool [B], self-play): Dirichlet noise on every root, and where True the action is drawn
        from π (τ = 1), elsewhere the most visited (τ → 0). None (evaluation): no noise, the most visited.
        The noise and the draws come from the learner's generator.
        """
        c = self.config
        noise = None if explore is None else dirichlet_noise(self.rules.legal(states), c.dirichlet_alpha,
                                                             self.generator)
        result = mcts.search(self.rules, self.evaluate, states, simulations, c_puct=c.c_puct, root_noise=noise,
                             noise_fraction=c.noise_fraction)
        policy = visit_policy(result.visits, 1.0)
        greedy = result.visits.argmax(dim=1)
        if explore is None:
            return greedy, policy
        sampled = sample_actions(policy, self.generator)
        return torch.where(explore, sampled, greedy), policy

    def learn(self, replay: Replay, steps: int) -> None:
        """``steps`` gradient steps on batches of the replay."""
        c = self.config
        for _ in range(steps):
            states, policies, outcomes = replay.sample(c.batch_size, self.generator, c.mirror)
            loss, parts = alphazero_loss(self.net, self.rules.observe(states), policies, outcomes, c.weight_decay)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self._flush_denormals()
            self.stats[:-1] += parts
            self.stats[-1] += 1
            self.updates += 1

    @torch.no_grad()
    def _flush_denormals(self) -> None:
        """Set the weights (and Adam's moments) that have decayed below the smallest normal float to 0.

        The c‖θ‖² term shrinks the weights of dead units towards 0 until they are denormal floats, which x86
        multiplies in microcode: a trained network's layer then ran ~100x slower (profiles/HISTORY.md). This
        keeps the search's cost flat over training without torch.set_flush_denormal, which would change the
        floating-point mode of the whole process (and of everything else it runs)."""
        tiny = torch.finfo(torch.float32).tiny
        for p in self.net.parameters():
            for tensor in (p, *self.optimizer.state[p].values()):
                if tensor.is_floating_point() and tensor.dim():
                    tensor.masked_fill_(tensor.abs() < tiny, 0.0)

    def take_stats(self) -> dict[str, float]:
        """Mean learner statistics since the last call (one host read), and reset them."""
        out = {"updates": float(self.updates)} | take_means(self.stats, STATS)
        out.update(self.reports)
        self.reports.clear()
        return out

    def state_dict(self) -> dict:
        return net_learner_state(self)

    def load_state_dict(self, state: dict) -> None:
        load_net_learner_state(self, state)


def learner_for(config, observation_space, action_space, device) -> AlphaZero:
    return AlphaZero(config.alphazero, observation_space, action_space, device, GAMES[config.env.id],
                     seed=config.seed)


def playable(rules, states: torch.Tensor) -> torch.Tensor:
    """The states, with a new game in place of each finished one (after a game's last move, next-step
    autoreset ignores the action taken on its final board; the search needs a position with moves)."""
    over = rules.finished(states)
    fresh = rules.initial(states.shape[0], states.device)
    return torch.where(over.view(-1, *([1] * (states.dim() - 1))), fresh, states)


def evaluation_policy(learner: AlphaZero, config, epsilon: float | None = None):
    """The agent that evaluations play: ``eval_simulations`` of search, no noise, the most visited move."""
    if epsilon is not None:
        raise ValueError("--epsilon is for DQN's ε-greedy policy; an AlphaZero run evaluates its search (the "
                         "run's eval_simulations, the most visited move)")
    simulations = config.alphazero.eval_simulations

    def act(obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        states = playable(learner.rules, learner.rules.from_observation(obs.to(learner.device)))
        return learner.act(states, simulations)[0]

    return act, f"search {simulations} simulations"
