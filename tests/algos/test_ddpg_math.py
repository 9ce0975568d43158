"""DDPG / TD3 / D4PG on hand-made inputs: the targets (twin minimum, clipped smoothing noise, the n-step
distributional target), the update's schedule (delayed actor, Polyak targets), actions inside the bounds,
and the configs that are refused."""

from __future__ import annotations

import math
import re

import gymnasium
import numpy as np
import pytest
import torch

from fastrl.algos.ddpg.learner import DDPG, bootstrapped_target, smoothed_target_action
from fastrl.config import ConfigError, DDPGConfig, EnvConfig, ReplayConfig, RunConfig, check_fits_env
from fastrl.replay import Batch, BufferConfig, ReplayBuffer

OBS = gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float32)
#: asymmetric bounds: center (1, 0.25), half-range (2, 0.25)
ASYMMETRIC = gymnasium.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([3.0, 0.5], np.float32))


def learner(variant: str, action_space=ASYMMETRIC, **config) -> DDPG:
    config = {"hidden": (16, 16), "batch_size": 8, **config}
    return DDPG(DDPGConfig(**config), variant, OBS, action_space, "cpu", seed=0)


def constant_output(network: torch.nn.Module, bias: torch.Tensor) -> None:
    """Make the last layer of an actor or of the critics output ``bias`` whatever the input."""
    last = network.layers[-1] if hasattr(network, "layers") else network.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(bias.view_as(last.bias))


# ---------------------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------------------


def test_bootstrapped_target_takes_the_minimum_of_the_twins():
    reward = torch.tensor([1.0, -2.0, 0.5])
    discount = torch.tensor([0.99, 0.0, 0.9801])
    next_q = torch.tensor([[10.0, 3.0, -4.0], [7.0, 5.0, -1.0]])
    y = bootstrapped_target(reward, discount, next_q)
    assert torch.allclose(y, torch.tensor([1.0 + 0.99 * 7.0, -2.0, 0.5 + 0.9801 * -4.0]))
    assert torch.allclose(bootstrapped_target(reward, discount, next_q[:1]), reward + discount * next_q[0])


@pytest.mark.parametrize("variant, expected_q", [("td3", -3.0), ("ddpg", 5.0)])
def test_learner_target_uses_both_target_critics_for_td3_and_one_for_ddpg(variant, expected_q):
    agent = learner(variant)
    constant_output(agent.critic_target, torch.tensor([5.0, -3.0][:agent.critic_target.layers[-1].bias.shape[0]]))
    reward, discount = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.0])  # the second transition terminated
    y = agent.target(torch.randn(2, 3), reward, discount)
    assert torch.allclose(y, torch.tensor([1.0 + 0.5 * expected_q, 2.0]))


def test_smoothing_noise_is_clipped_in_half_ranges_and_the_action_stays_in_bounds():
    low, high = torch.as_tensor(ASYMMETRIC.low), torch.as_tensor(ASYMMETRIC.high)
    half = (high - low) / 2
    action = torch.tensor([[1.0, 0.25], [2.9, 0.49], [-1.0, 0.0]])
    noise = torch.tensor([[100.0, -100.0], [0.3, 0.3], [-0.2, 0.1]])
    out = smoothed_target_action(action, noise, 0.5, half, low, high)
    expected = torch.tensor([[1.0 + 0.5 * 2.0, 0.25 - 0.5 * 0.25],   # both clipped to ±0.5 half-ranges
                             [3.0, 0.5],                              # 2.9 + 0.6 and 0.49 + 0.075: at the bounds
                             [-1.0, 0.025]])                          # -1.4 -> low; 0.1 * 0.25 = 0.025
    assert torch.allclose(out, expected)


def test_td3_target_action_draws_clipped_noise_around_the_target_policy():
    agent = learner("td3", target_noise=10.0, target_noise_clip=0.5)
    constant_output(agent.actor_target, torch.zeros(2))  # tanh(0) = 0: the target policy's action is the center
    actions = agent.target_action(torch.randn(4_000, 3))
    # Noise of σ̃ = 10 half-ranges is almost always clipped: the actions are center ± 0.5 half-ranges.
    center, half = torch.tensor([1.0, 0.25]), torch.tensor([2.0, 0.25])
    offsets = (actions - center) / half
    assert offsets.abs().max() <= 0.5 + 1e-6
    assert (offsets.abs() > 0.5 - 1e-6).float().mean() > 0.9

    agent = learner("td3", target_noise=0.2, target_noise_clip=0.5)
    constant_output(agent.actor_target, torch.zeros(2))
    offsets = (agent.target_action(torch.randn(20_000, 3)) - center) / half
    # σ̃ = 0.2 half-ranges, clipped at 0.5 = 2.5 σ̃, which trims the std to 0.9887 σ̃ = 0.1977
    assert offsets.std(dim=0).sub(0.1977).abs().max() < 0.005
    assert offsets.abs().max() <= 0.5 + 1e-6


@pytest.mark.parametrize("variant", ["ddpg", "d4pg"])
def test_ddpg_and_d4pg_target_action_is_the_target_policy(variant):
    agent = learner(variant, target_noise=0.2)
    next_obs = torch.randn(16, 3)
    assert torch.equal(agent.target_action(next_obs), agent.clip(agent.actor_target(next_obs)))


def hand_projection(probs: list[float], reward: float, discount: float, v_min: float, v_max: float) -> list[float]:
    """Algorithm 1 of Bellemare et al. (2017) in plain Python (a target landing on an atom keeps its mass)."""
    atoms = len(probs)
    dz = (v_max - v_min) / (atoms - 1)
    out = [0.0] * atoms
    for j, p in enumerate(probs):
        tz = min(max(reward + discount * (v_min + j * dz), v_min), v_max)
        b = (tz - v_min) / dz
        lower, upper = math.floor(b), math.ceil(b)
        if lower == upper:
            out[lower] += p
        else:
            out[lower] += p * (upper - b)
            out[upper] += p * (b - lower)
    return out


def test_nstep_distributional_target_matches_a_hand_computation():
    """Transitions from a 3-step replay (one episode that terminates, then another), fed to a D4PG learner whose
    target critic outputs a fixed distribution: the target of each is the hand-projected r_t + γ r_{t+1} +
    γ² r_{t+2} + γ³ z (fewer terms, no bootstrap, where the episode terminated within the 3 steps)."""
    gamma, n, v_min, v_max, atoms = 0.9, 3, -4.0, 6.0, 11
    replay = ReplayBuffer(BufferConfig(capacity=64, num_envs=1, obs_shape=(3,), action_shape=(2,),
                                       action_dtype="float32", n_step=n, gamma=gamma))
    rewards = [0.5, -1.0, 2.0, 1.5, 0.25, -0.5, 1.0, 3.0, -2.0, 0.75]
    terminal_at = 5  # the step that returns observation 5 terminates; step 6 is the autoreset
    replay.add(torch.tensor([[0.0, 0.0, 0.0]]))
    for t, r in enumerate(rewards, start=1):
        replay.add(torch.tensor([[float(t), 0.0, 0.0]]), torch.zeros(1, 2), torch.tensor([r]),
                   torch.tensor([t == terminal_at]), torch.tensor([False]))
    batch = replay.get(replay.storage["valid"].nonzero().flatten())  # every complete transition

    agent = learner("d4pg", gamma=gamma, atoms=atoms, v_min=v_min, v_max=v_max)
    logits = torch.linspace(-1.0, 1.5, atoms)
    constant_output(agent.critic_target, logits)
    probs = logits.softmax(dim=0).tolist()
    target = agent.target(agent.normalized(batch.next_obs), batch.reward, batch.discount)

    for i, t in enumerate(batch.obs[:, 0].long().tolist()):
        # The episode of step t: 0..5 (terminates at 5), then 6..10 (the step to 6 is the autoreset: its reward
        # is ignored and observation 6 starts the new episode; the last transitions are not complete yet).
        end = terminal_at if t < terminal_at else len(rewards)
        steps = min(n, end - t)
        expected_reward = sum(gamma ** k * rewards[t + k] for k in range(steps))  # rewards[t] leads to t + 1
        terminated = t < terminal_at and t + steps == terminal_at
        expected_discount = 0.0 if terminated else gamma ** steps
        assert batch.reward[i].item() == pytest.approx(expected_reward, abs=1e-6)
        assert batch.discount[i].item() == pytest.approx(expected_discount, abs=1e-7)
        expected = hand_projection(probs, expected_reward, expected_discount, v_min, v_max)
        assert target[i].tolist() == pytest.approx(expected, abs=1e-6), f"transition from step {t}"
    assert sorted(int(t) for t in batch.obs[:, 0]) == [0, 1, 2, 3, 4, 6, 7]


def test_d4pg_q_value_is_the_mean_of_the_distribution():
    agent = learner("d4pg", atoms=5, v_min=-2.0, v_max=2.0)
    logits = torch.tensor([[[0.0, 1.0, 2.0, 0.5, -1.0]]])
    p = logits.softmax(dim=-1)
    assert torch.allclose(agent.q_values(logits), (p * torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])).sum(-1))


# ---------------------------------------------------------------------------------------------------------
# The update's schedule
# ---------------------------------------------------------------------------------------------------------


def random_batch(size: int = 8) -> Batch:
    g = torch.Generator().manual_seed(1)
    low, high = torch.as_tensor(ASYMMETRIC.low), torch.as_tensor(ASYMMETRIC.high)
    return Batch(torch.randn(size, 3, generator=g), low + (high - low) * torch.rand(size, 2, generator=g),
                 torch.randn(size, generator=g), torch.full((size,), 0.99), torch.randn(size, 3, generator=g),
                 torch.ones(size), torch.arange(size))


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return all(torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


def test_td3_updates_the_actor_and_the_targets_every_policy_delay_critic_updates():
    agent = learner("td3", policy_delay=2, tau=0.25)
    batch = random_batch()
    actor, critic = snapshot(agent.actor), snapshot(agent.critic)
    actor_target, critic_target = snapshot(agent.actor_target), snapshot(agent.critic_target)

    agent.update(batch)  # update 1: the critics only
    assert not same(agent.critic, critic)
    assert same(agent.actor, actor) and same(agent.actor_target, actor_target)
    assert same(agent.critic_target, critic_target)

    agent.update(batch)  # update 2: critics, then the actor, then both targets by Polyak averaging
    assert not same(agent.actor, actor)
    for target, online, before in ((agent.actor_target, agent.actor, actor_target),
                                   (agent.critic_target, agent.critic, critic_target)):
        for t, o, b in zip(target.parameters(), online.parameters(), before, strict=True):
            assert torch.allclose(t, b + 0.25 * (o - b), atol=1e-7)
    stats = agent.take_stats()
    assert stats["updates"] == 2 and {"critic_loss", "actor_loss", "q_mean", "abs_td_mean"} <= set(stats)


def test_ddpg_updates_the_actor_every_update_and_d4pg_copies_its_targets_every_target_period():
    agent = learner("ddpg", policy_delay=2)  # policy_delay is TD3's: DDPG ignores it
    actor = snapshot(agent.actor)
    agent.update(random_batch())
    assert not same(agent.actor, actor)

    agent = learner("d4pg", target_update="hard", target_period=3, v_min=-5.0, v_max=5.0)
    critic_target = snapshot(agent.critic_target)
    agent.update(random_batch())
    agent.update(random_batch())
    assert same(agent.critic_target, critic_target)
    agent.update(random_batch())
    assert all(torch.equal(t, o) for t, o in zip(agent.critic_target.parameters(), agent.critic.parameters(),
                                                 strict=True))
    assert all(torch.equal(t, o) for t, o in zip(agent.actor_target.parameters(), agent.actor.parameters(),
                                                 strict=True))


def test_the_actor_update_leaves_the_critic_alone():
    agent = learner("ddpg")
    batch = random_batch()
    agent.update(batch)  # leaves the critic's gradients of its own step in .grad
    critic, grads = snapshot(agent.critic), [p.grad.clone() for p in agent.critic.parameters()]
    actor = snapshot(agent.actor)
    agent._actor_step(agent.normalized(batch.obs))
    assert not same(agent.actor, actor) and same(agent.critic, critic)
    assert all(torch.equal(p.grad, g) for p, g in zip(agent.critic.parameters(), grads, strict=True))
    assert all(p.requires_grad for p in agent.critic.parameters())


@pytest.mark.parametrize("variant", ["ddpg", "td3", "d4pg"])
def test_prioritized_update_returns_one_finite_priority_per_transition(variant):
    agent = DDPG(DDPGConfig(hidden=(16,), v_min=-5.0, v_max=5.0), variant, OBS, ASYMMETRIC, "cpu", seed=0,
                 prioritized=True)
    batch = random_batch(12)
    priorities = agent.update(batch._replace(weights=torch.linspace(0.1, 1.0, 12)))
    assert priorities.shape == (12,) and torch.isfinite(priorities).all() and (priorities >= 0).all()
    assert not priorities.requires_grad


# ---------------------------------------------------------------------------------------------------------
# Actions inside the bounds
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exploration", ["gaussian", "ou"])
@pytest.mark.parametrize("variant", ["ddpg", "td3", "d4pg"])
def test_every_action_lies_inside_asymmetric_bounds(variant, exploration):
    agent = learner(variant, exploration=exploration, exploration_noise=3.0, normalize_observations=True,
                    v_min=-5.0, v_max=5.0)
    with torch.no_grad():  # saturate the actor's tanh: its output lands on the bounds themselves
        agent.actor.net[-1].weight.mul_(1e4)
    low, high = torch.as_tensor(ASYMMETRIC.low), torch.as_tensor(ASYMMETRIC.high)
    obs = torch.randn(256, 3) * 1e3
    agent.observe(obs, None)
    for _ in range(20):
        for actions in (agent.policy(obs), agent.explore(obs), agent.random_actions(256),
                        agent.target_action(agent.normalized(obs))):
            assert actions.shape == (256, 2) and actions.dtype == torch.float32
            assert ((actions >= low) & (actions <= high)).all()
        agent.observe(obs, torch.rand(256) < 0.1)
    hits = agent.explore(obs)
    assert (hits == low).any() and (hits == high).any()  # the noise really pushes past the bounds (clipped)


def test_exploration_noise_is_in_half_ranges():
    agent = learner("td3", exploration_noise=0.1)
    constant_output(agent.actor, torch.zeros(2))  # μ(s) = center: no action is clipped at 0.1 half-ranges x 5σ
    noise = (agent.explore(torch.randn(20_000, 3)) - torch.tensor([1.0, 0.25])) / torch.tensor([2.0, 0.25])
    assert noise.mean(dim=0).abs().max() < 0.005 and noise.std(dim=0).sub(0.1).abs().max() < 0.004


def test_ou_noise_is_correlated_in_time_and_restarts_at_episode_ends():
    agent = learner("ddpg", exploration="ou", exploration_noise=0.2, ou_theta=0.15)
    constant_output(agent.actor, torch.zeros(2))
    obs = torch.zeros(4_000, 3)
    agent.observe(obs, None)
    first = agent.explore(obs)
    second = agent.explore(obs)
    center = torch.tensor([1.0, 0.25])
    a, b = (first - center).flatten(), (second - center).flatten()
    correlation = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert correlation > 0.6  # x_1 = σ ε_1, x_2 = (1 - θ) x_1 + σ ε_2: correlation (1 - θ) / √(1 + (1 - θ)²) ≈ 0.65
    agent.observe(obs, torch.arange(4_000) < 2_000)
    assert agent.ou_state[:2_000].eq(0).all() and agent.ou_state[2_000:].ne(0).all()


# ---------------------------------------------------------------------------------------------------------
# Refused configs
# ---------------------------------------------------------------------------------------------------------


def ddpg_run(algo="td3", **ddpg) -> RunConfig:
    return RunConfig(algo=algo, env=EnvConfig(id="Pendulum-v1", num_envs=4), ddpg=DDPGConfig(**ddpg))


@pytest.mark.parametrize("algo", ["ddpg", "td3", "d4pg"])
@pytest.mark.parametrize("action_space, message", [
    (gymnasium.spaces.Discrete(2), "needs a flat continuous (Box) action space"),
    (gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32), "expected finite bounds with low < high"),
    (gymnasium.spaces.Box(np.zeros(2, np.float32), np.array([1.0, 0.0], np.float32)), "low < high"),
    (gymnasium.spaces.Box(-1.0, 1.0, (2, 2), np.float32), "needs a flat continuous (Box) action space"),
])
def test_action_spaces_that_do_not_fit_are_refused(algo, action_space, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        check_fits_env(ddpg_run(algo), OBS, action_space)
    assert algo.upper() in str(err.value) and "Pendulum-v1" in str(err.value)


def test_image_observations_are_refused():
    frames = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    with pytest.raises(ConfigError, match="MLPs on vector observations"):
        check_fits_env(ddpg_run(), frames, ASYMMETRIC)


@pytest.mark.parametrize("make, message", [
    (lambda: DDPGConfig(v_min=1.0, v_max=1.0), "--v-min 1.0 --v-max 1.0: the D4PG support needs v_min < v_max"),
    (lambda: DDPGConfig(policy_delay=0), "--policy-delay 0: expected an integer >= 1"),
    (lambda: DDPGConfig(tau=0.0), "--tau 0.0"),
    (lambda: DDPGConfig(actor_lr=0.0), "--actor-lr 0.0: the learning rate must be > 0"),
    (lambda: DDPGConfig(target_noise=-0.1), "--target-noise -0.1"),
    (lambda: DDPGConfig(exploration_noise=float("nan")), "--exploration-noise nan: expected a finite number"),
    (lambda: DDPGConfig(ou_theta=1.5), "--ou-theta 1.5"),
    (lambda: DDPGConfig(replay_ratio=0.0), "--replay-ratio 0.0"),
    (lambda: DDPGConfig(hidden=(64, 0)), "--hidden: width 1 is 0"),
    (lambda: ddpg_run(learning_starts=100, batch_size=256), "--learning-starts 100 is below 260"),
    (lambda: RunConfig(algo="d4pg", replay=ReplayConfig(capacity=64), ddpg=DDPGConfig(learning_starts=1_000)),
     "--capacity 64 is below --batch-size 256"),
])
def test_bad_values_are_refused_with_the_flag_named(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert message in str(err.value)
