"""NoisyNet (Fortunato et al. 2018) in the DQN family: the factorised noisy layer's form and statistics, its
deterministic eval mode, the learner's resampling, the rainbow-atari preset's Table 1 values, and the whole of
Rainbow learning Catch (rainbow-catch) with the noise as its only exploration.

**How a noisy network is evaluated.** The papers say how it explores, not how it is evaluated: NoisyNet-DQN
(Fortunato et al. 2018, Algorithm 1) acts greedily on a fresh sample of the noisy network, with no ε-greedy,
and Rainbow (Hessel et al. 2018, Table 1) sets its exploration ε to 0. For evaluation, the reference
implementations switch the noise off and act on the mean weights μ (Dopamine's ``eval_mode``, Kaixhin/Rainbow's
``eval()``, the latter with ε 0.001), and so does fastrl: μ is what the training has converged to (σ is free to
stay large where exploring pays), and it makes the evaluated policy deterministic, so an evaluation measures the
agent rather than one draw of its noise. rainbow-atari keeps ε 0.001 in evaluation, as Kaixhin/Rainbow;
rainbow-catch evaluates greedily (ε 0), as every Catch preset.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_dqn_learns import assert_ends_solved
from torch import nn

from fastrl.algos.dqn.learner import DQN, evaluation_policy
from fastrl.config import ConfigError, DQNConfig, preset
from fastrl.nets import NatureCNN, NoisyLinear, q_network, reset_noise


def unit_layer(p: int, q: int) -> NoisyLinear:
    """A noisy layer with μ = 0 and σ = 1, whose output is its noise: y(x) = εʷ x + εᵇ."""
    layer = NoisyLinear(p, q, sigma0=0.5)
    with torch.no_grad():
        for name, value in (("weight_mu", 0.0), ("bias_mu", 0.0), ("weight_sigma", 1.0), ("bias_sigma", 1.0)):
            getattr(layer, name).fill_(value)
    return layer


def test_the_noise_is_factorised():
    """εʷ = f(ε_out) f(ε_in)ᵀ, rank one, and εᵇ = f(ε_out), with f(x) = sgn(x) √|x| of standard normals."""
    layer = unit_layer(3, 4)
    generator = torch.Generator().manual_seed(7)
    layer.reset_noise(generator)
    raw = torch.randn(7, generator=torch.Generator().manual_seed(7))  # the same draws: inputs first, outputs next
    f = raw.sign() * raw.abs().sqrt()
    torch.testing.assert_close(layer.noise_in, f[:3])
    torch.testing.assert_close(layer.noise_out, f[3:])
    bias_noise = layer(torch.zeros(1, 3))[0]
    weight_noise = layer(torch.eye(3)).T - bias_noise[:, None]  # column i: the output to e_i, less the bias
    torch.testing.assert_close(bias_noise, f[3:])
    torch.testing.assert_close(weight_noise, torch.outer(f[3:], f[:3]))
    assert torch.linalg.matrix_rank(weight_noise) == 1


def test_noise_statistics():
    """Over many samples: f(ε) has mean 0 and variance E|ε| = √(2/π); a weight's noise f(ε_i) f(ε_j), a product
    of independent ones, has mean 0 and variance 2/π; resampling draws new noise every time."""
    layer = unit_layer(8, 8)
    generator = torch.Generator().manual_seed(0)
    weights, biases = [], []
    for _ in range(4_000):
        layer.reset_noise(generator)
        weights.append(torch.outer(layer.noise_out, layer.noise_in))
        biases.append(layer.noise_out)
    weights, biases = torch.stack(weights), torch.stack(biases)
    assert biases.mean().item() == pytest.approx(0.0, abs=0.02)
    assert biases.var().item() == pytest.approx(math.sqrt(2 / math.pi), rel=0.03)
    assert weights.mean().item() == pytest.approx(0.0, abs=0.01)
    assert weights.var().item() == pytest.approx(2 / math.pi, rel=0.03)
    assert not torch.equal(weights[0], weights[1])


def test_initialization_as_the_paper():
    layer = NoisyLinear(16, 5, sigma0=0.5)
    assert layer.weight_mu.abs().max() <= 1 / 4 and layer.bias_mu.abs().max() <= 1 / 4
    assert torch.all(layer.weight_sigma == 0.5 / 4) and torch.all(layer.bias_sigma == 0.5 / 4)


def test_eval_mode_is_deterministic_and_uses_the_mean_weights():
    layer = NoisyLinear(4, 3, sigma0=0.5)
    layer.reset_noise(torch.Generator().manual_seed(1))
    x = torch.randn(5, 4)
    noisy = layer(x)
    layer.eval()
    mean = nn.functional.linear(x, layer.weight_mu, layer.bias_mu)
    torch.testing.assert_close(layer(x), mean)
    layer.reset_noise(torch.Generator().manual_seed(2))
    torch.testing.assert_close(layer(x), mean)
    assert not torch.allclose(noisy, mean)


def test_a_loss_backpropagates_through_the_noise_it_was_computed_with():
    """Resampling after a forward pass (as the learner does for its target) leaves that pass's gradient alone:
    ∂L/∂σʷ = εʷ ⊙ ∂L/∂W with the noise of the forward pass."""
    layer = NoisyLinear(3, 2, sigma0=0.5)
    layer.reset_noise(torch.Generator().manual_seed(3))
    used = torch.outer(layer.noise_out, layer.noise_in)
    x = torch.randn(4, 3)
    loss = layer(x).sum()
    layer.reset_noise(torch.Generator().manual_seed(4))
    loss.backward()
    torch.testing.assert_close(layer.weight_sigma.grad, used * x.sum(0)[None, :].expand(2, 3))


def test_noisy_networks_make_every_fully_connected_layer_noisy():
    net = q_network((4, 84, 84), 6, network="nature_cnn", hidden=(), dueling=True, atoms=51, noisy_sigma0=0.5)
    assert not any(type(m) is nn.Linear for m in net.modules())
    assert sum(isinstance(m, NoisyLinear) for m in net.modules()) == 3  # the CNN's fc, value and advantage
    assert isinstance(net.torso, NatureCNN) and sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 3


def noisy_learner(**overrides) -> DQN:
    config = DQNConfig(**(dict(network="mlp", hidden=(8,), exploration="noisy", learning_starts=0, batch_size=4,
                                double=True) | overrides))
    return DQN(config, (3,), 2, "cpu", seed=0)


def noise(net) -> torch.Tensor:
    return torch.cat([m.noise_in for m in net.modules() if isinstance(m, NoisyLinear)])


def test_the_learner_resamples_before_every_action_and_acts_greedily_on_the_noisy_network():
    learner = noisy_learner(epsilon_start=1.0, epsilon_end=1.0)  # ε is not read under noisy exploration
    obs = torch.randn(64, 3)
    first = learner.behave(obs, env_steps=0, learning=True)
    drawn = noise(learner.online).clone()
    torch.testing.assert_close(first, learner.online(obs).argmax(dim=1))
    learner.behave(obs, env_steps=0, learning=True)
    assert not torch.equal(noise(learner.online), drawn)


def test_an_update_draws_independent_noise_for_the_online_and_target_networks():
    from types import SimpleNamespace

    learner = noisy_learner()
    batch = SimpleNamespace(obs=torch.randn(4, 3), action=torch.tensor([0, 1, 0, 1]), reward=torch.ones(4),
                            discount=torch.full((4,), 0.9), next_obs=torch.randn(4, 3), weights=None)
    before_online, before_target = noise(learner.online).clone(), noise(learner.target).clone()
    learner.update(batch)
    after_online, after_target = noise(learner.online), noise(learner.target)
    assert not torch.equal(after_online, before_online) and not torch.equal(after_target, before_target)
    assert not torch.equal(after_online, after_target)


def test_evaluation_acts_on_the_mean_weights():
    learner = noisy_learner()
    reset_noise(learner.online, torch.Generator().manual_seed(5))
    act, description = evaluation_policy(learner, type("C", (), {"dqn": learner.config})(), epsilon=0.0)
    obs = torch.randn(64, 3)
    learner.online.eval()
    mean_greedy = learner.online(obs).argmax(dim=1)
    learner.online.train()
    assert description == "epsilon 0, mean weights"
    torch.testing.assert_close(act(obs, torch.Generator()), mean_greedy)
    assert learner.online.training


def test_bad_exploration_values_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="--exploration 'boltzmann': expected epsilon or noisy"):
        DQNConfig(exploration="boltzmann")
    with pytest.raises(ConfigError, match="--noisy-sigma0 0"):
        DQNConfig(noisy_sigma0=0)


def test_rainbow_atari_is_the_papers_table_1():
    config = preset("rainbow-atari")
    dqn, replay = config.dqn, config.replay
    assert (dqn.double, dqn.dueling, dqn.distributional, replay.prioritized) == (True, True, True, True)
    assert dqn.exploration == "noisy" and dqn.noisy_sigma0 == 0.5
    assert (dqn.optimizer, dqn.lr, dqn.optim_eps) == ("adam", 6.25e-5, 1.5e-4)
    assert (replay.n_step, dqn.atoms, dqn.v_min, dqn.v_max) == (3, 51, -10.0, 10.0)
    assert (replay.alpha, replay.beta_start, replay.beta_end) == (0.5, 0.4, 1.0)
    frame_skip, updates_per_step = 4, dqn.replay_ratio
    assert dqn.target_period / updates_per_step * frame_skip == 32_000  # target period in frames
    assert dqn.learning_starts * frame_skip == 80_000                     # min history in frames
    assert (replay.capacity, dqn.batch_size) == (1_000_000, 32)
    assert preset("rainbow-lite-atari").dqn.exploration == "epsilon"


def test_rainbow_catch_explores_with_its_noise_alone():
    """rainbow-catch is the whole of Rainbow with ε 0 in training and evaluation: what explores is the noise.
    On Catch's observations its behaviour (greedy on a noise sample) leaves the mean weights' greedy action in
    some states, and evaluation (ε 0 on the mean weights) never does."""
    config = preset("rainbow-catch")
    dqn, replay = config.dqn, config.replay
    assert (dqn.double, dqn.dueling, dqn.distributional, replay.prioritized, replay.n_step) == (True,) * 4 + (3,)
    assert dqn.exploration == "noisy" and dqn.epsilon_start == dqn.epsilon_end == dqn.eval_epsilon == 0.0
    learner = DQN(dqn, (10, 5), 3, "cpu", seed=0)
    boards = torch.zeros(256, 10, 5)
    generator = torch.Generator().manual_seed(0)
    boards[torch.arange(256), torch.randint(0, 9, (256,), generator=generator),
           torch.randint(0, 5, (256,), generator=generator)] = 1.0  # the ball
    boards[torch.arange(256), 9, torch.randint(0, 5, (256,), generator=generator)] = 1.0  # the paddle
    act, description = evaluation_policy(learner, config)
    mean_greedy = act(boards, torch.Generator())
    assert description == "epsilon 0, mean weights"
    torch.testing.assert_close(act(boards, torch.Generator()), mean_greedy)
    behaviour = torch.stack([learner.behave(boards, env_steps=0, learning=True) for _ in range(8)])
    assert (behaviour != mean_greedy).any(dim=0).float().mean() > 0.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_rainbow_catch_ends_solved(tmp_path, seed):
    """The final policy of rainbow-catch, as ``fastrl train dqn --preset rainbow-catch`` runs it, catches the
    ball (>= 0.9 over its 50 evaluation episodes, on the mean weights)."""
    assert_ends_solved(tmp_path, "rainbow-catch", seed, 0.9)
