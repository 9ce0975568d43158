"""The trained network of a run, and what it says about a state: its value, its action scores, its last hidden layer.

Every view of ``fastrl.viz`` asks the same three questions of a state, whatever learned it:

- the **value**: V(s) (PPO, A2C, A3C), max_a Q(s, a) (DQN, n-step Q), Q(s, μ(s)) (DDPG, TD3, D4PG);
- the **action scores**: P(a|s) (policy gradient), Q(s, a) (value based), or the action μ(s) (continuous);
- the **features**: the activations of the last hidden layer (what t-SNE embeds).

``load_agent(run_dir)`` builds the learner as ``fastrl eval`` does (the run's config, its checkpoint, a shape
check naming what differs) and wraps its network in one ``Agent`` with ``outputs(obs)``. Observations go in
as the env gives them, or as floats on the env's scale (0..255 for frames): saliency perturbs them there, and
``outputs`` scales them as the network's own input path would (a Nature CNN divides uint8 frames by 255).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import torch

from fastrl import checkpoint, rundir
from fastrl.config import check_fits_env


class VizError(ValueError):
    """A run, a path or an env that a view cannot use; the message says what, where and what was expected."""


@dataclass
class Outputs:
    """What the network says about a batch of B states."""

    value: torch.Tensor
    """[B] V(s), max_a Q(s, a) or Q(s, μ(s))"""
    scores: torch.Tensor
    """[B, A] P(a|s), Q(s, a), or the action μ(s)"""
    features: torch.Tensor
    """[B, H] the last hidden layer's activations"""


@dataclass
class Agent:
    """A run's trained network with its env's spaces, ready to be asked about states."""

    run_dir: Path
    config: object
    checkpoint: Path
    env_steps: int
    observation_space: gymnasium.Space
    action_space: gymnasium.Space
    device: torch.device
    value_name: str
    """what ``Outputs.value`` is, for labels: "V(s)", "max Q(s,a)", "Q(s,μ(s))\""""
    score_name: str
    """what ``Outputs.scores`` is, for labels: "P(a|s)", "Q(s,a)", "μ(s)\""""
    act: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    """the evaluation policy: ``act(obs, generator) -> actions`` (as ``fastrl eval`` plays it)"""
    policy_description: str
    _forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    _hidden: torch.nn.Module
    first_layer: torch.nn.Module
    """the network's first conv or linear layer (``fastrl.viz.filters`` draws its weights)"""

    @torch.no_grad()
    def outputs(self, obs: torch.Tensor) -> Outputs:
        """Value, action scores and last hidden features of a batch ``obs`` [B, *observation shape]."""
        captured: list[torch.Tensor] = []
        handle = self._hidden.register_forward_hook(lambda module, args, out: captured.append(out))
        try:
            value, scores = self._forward(self.network_input(obs))
        finally:
            handle.remove()
        features = captured[-1].float().reshape(obs.shape[0], -1)
        return Outputs(value.float().reshape(-1), scores.float().reshape(obs.shape[0], -1), features)

    def network_input(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs`` on the device, float, scaled as the network's input path scales the env's dtype."""
        obs = obs.to(self.device)
        if self.observation_space.dtype == "uint8":
            return obs.float() / 255.0
        return obs.float()

    @property
    def is_image(self) -> bool:
        """Observations with a spatial layout (stacked frames, a board): saliency blurs them, t-SNE and
        filters treat them as pictures; vectors (CartPole's state) get per-feature views instead."""
        return len(self.observation_space.shape) >= 2

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, gymnasium.spaces.Discrete)

    def make_env(self, num_envs: int, seed: int, backend: str | None = None, **options):
        """The run's env (its backend and options, on the agent's device), ``options`` replacing its own;
        ``backend``: another engine of the same env id (then the run's options are not passed)."""
        from fastrl.envs import make_env

        env = self.config.env
        if backend is not None and backend != env.backend:
            return make_env(env.id, num_envs, backend=backend, device=self.device, seed=seed, **options)
        return make_env(env.id, num_envs, backend=env.backend, device=self.device, seed=seed,
                        **{**env.make_options(), **options})


def load_agent(run_dir: str | Path, *, checkpoint_path: str | Path | None = None, device: str | None = None,
               epsilon: float | None = None) -> Agent:
    """The trained agent of ``run_dir`` (its newest checkpoint, or ``checkpoint_path``), on ``device``
    (default: the run's). ``epsilon``: DQN's evaluation ε (default: the run's)."""
    from fastrl.algos import algorithm
    from fastrl.runner import load_run_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VizError(f"run directory {run_dir} does not exist: expected a directory written by `fastrl train`")
    config = load_run_config(run_dir, device)
    algo = algorithm(config.algo)
    if algo.names[0] == "ppo" and config.ppo.bf16:
        # float32: the views want values as exact as they come, and under bfloat16 autocast the video's
        # one-state forward passes took twice as long (Pong on a loaded 2-core Xeon: 67 against 30 ms a step)
        config = dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, bf16=False))
    target = torch.device("cpu") if algo.names[0] == "a3c" else torch.device(config.resolved_device())
    ckpt = checkpoint.load(checkpoint_path or run_dir, device=target)
    envs = _make_spaces_env(config)
    try:
        observation_space, action_space = envs.single_observation_space, envs.single_action_space
        check_fits_env(config, observation_space, action_space)
    finally:
        envs.close()
    learner = algo.learner_for(config, observation_space, action_space, target)
    if hasattr(learner, "state_dict"):  # A3C's policy checks its flat parameters' size in load_state_dict
        rundir.check_learner_fits(None, config, ckpt.state["loop"]["learner"], learner.state_dict(), ckpt.path)
    learner.load_state_dict(ckpt.state["loop"]["learner"])
    parts = _FAMILIES[algo.names[0]](learner, config, algo, epsilon)
    return Agent(run_dir=run_dir, config=config, checkpoint=ckpt.path, env_steps=ckpt.step,
                 observation_space=observation_space, action_space=action_space, device=target, **parts)


def _make_spaces_env(config):
    """One env of the run, for its spaces (an async-only learner's options are not needed for that)."""
    from fastrl.run.envs import make_env

    return make_env(config, 1, config.seed)


# ---------------------------------------------------------------------------------------------------------
# One adapter per learner family: (value, scores) of scaled inputs, the last hidden and the first layer
# ---------------------------------------------------------------------------------------------------------


def _dqn(learner, config, algo, epsilon) -> dict:
    act, description = algo.evaluation_policy(learner, config, epsilon)

    def forward(x):
        q = learner.q_values(x)
        return q.max(dim=1).values, q

    return dict(value_name="max Q(s,a)", score_name="Q(s,a)", act=act, policy_description=description,
                _forward=forward, _hidden=learner.online.torso, first_layer=_first_layer(learner.online))


def _ppo(learner, config, algo, epsilon) -> dict:
    act, description = algo.evaluation_policy(learner, config, epsilon)
    net = learner.net

    def forward(x):
        policy, value = learner.forward(x)
        return value, policy.softmax(dim=-1) if learner.discrete else policy

    return dict(value_name="V(s)", score_name="P(a|s)" if learner.discrete else "μ(s)", act=act,
                policy_description=description, _forward=forward, _hidden=net.actor_torso,
                first_layer=_first_layer(net.actor_torso))


def _a3c(learner, config, algo, epsilon) -> dict:
    net = learner.net
    if net.lstm is not None:
        raise VizError(f"{config.run_dir or 'this run'}: an A3C policy with an LSTM keeps a state between steps; "
                       f"the views of fastrl.viz ask the network about single states (train with --no-lstm)")
    actor_critic = net.value is not None
    epsilon = config.a3c.eval_epsilon if epsilon is None else epsilon

    def forward(x):
        out, value, _ = net(x[None])
        if actor_critic:
            return value[0], out[0].softmax(dim=-1)
        return out[0].max(dim=-1).values, out[0]

    def act(obs, generator):
        _, scores = forward(obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float())
        greedy = scores.argmax(dim=-1)
        explore = torch.rand(greedy.shape, generator=generator, device=greedy.device) < epsilon
        return torch.where(explore, torch.randint(0, scores.shape[-1], greedy.shape, generator=generator), greedy)

    return dict(value_name="V(s)" if actor_critic else "max Q(s,a)",
                score_name="P(a|s)" if actor_critic else "Q(s,a)", act=torch.no_grad()(act),
                policy_description=f"epsilon {epsilon:g}" if epsilon else "greedy", _forward=forward,
                _hidden=net.torso, first_layer=_first_layer(net.torso))


def _ddpg(learner, config, algo, epsilon) -> dict:
    act, description = algo.evaluation_policy(learner, config, epsilon)

    def forward(x):
        obs = learner.normalized(x)
        action = learner.clip(learner.actor(obs))
        return learner.q_values(learner.critic(obs, action, members=1))[0], action

    return dict(value_name="Q(s,μ(s))", score_name="μ(s)", act=act, policy_description=description,
                _forward=forward, _hidden=learner.actor.net[-2], first_layer=_first_layer(learner.actor))


_FAMILIES = {"dqn": _dqn, "ppo": _ppo, "a3c": _a3c, "ddpg": _ddpg}


def _first_layer(module: torch.nn.Module) -> torch.nn.Module:
    return next(m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
