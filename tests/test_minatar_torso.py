"""MinAtar's torso (``network="minatar"``): the network of Young & Tian (2019) in the DQN and PPO learners, and
the check that the env's observations fit it."""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import pytest
import torch

from fastrl.algos.ppo.learner import ActorCritic
from fastrl.config import ConfigError, check_fits_env, preset
from fastrl.envs import make_env
from fastrl.nets import MinAtarCNN, q_network


def test_minatar_q_network_is_the_papers():
    """kenjyoung/MinAtar examples/dqn.py: conv 16x3x3 stride 1 (no padding) -> 8x8x16 = 1024 -> 128 -> actions,
    ReLU after the conv and the hidden layer."""
    net = q_network((4, 10, 10), 3, network="minatar", hidden=(), dueling=False, atoms=None)
    assert isinstance(net.torso, MinAtarCNN)
    conv, fc, head = net.torso.conv[0], net.torso.fc[0], net.head.linear
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding) == (4, 16, (3, 3),
                                                                                                 (1, 1), (0, 0))
    assert (fc.in_features, fc.out_features, head.in_features, head.out_features) == (1024, 128, 128, 3)
    obs = make_env("MinAtar/Breakout-v1", 5, backend="native").reset()
    assert obs.dtype == torch.bool and net(obs).shape == (5, 3)


def test_ppo_shares_the_minatar_torso_between_policy_and_value():
    config = preset("ppo-minatar").ppo
    space = gymnasium.spaces.Box(0, 1, (10, 10, 10), bool)
    net = ActorCritic((10, 10, 10), gymnasium.spaces.Discrete(6), config)
    assert isinstance(net.actor_torso, MinAtarCNN) and net.critic_torso is None
    policy, value = net(torch.zeros((2, *space.shape), dtype=torch.bool))
    assert policy.shape == (2, 6) and value.shape == (2,)


@pytest.mark.parametrize("name", ["ppo-minatar", "dqn-minatar"])
def test_minatar_presets_fit_minatar_and_refuse_vectors(name):
    config = preset(name)
    env = make_env(config.env.id, 2, backend="native")
    check_fits_env(config, env.single_observation_space, env.single_action_space)
    vector = dataclasses.replace(config, env=dataclasses.replace(config.env, id="CartPole-v1"))
    with pytest.raises(ConfigError, match=r"MinAtar's torso \(--network minatar\) needs boards.*shape \(4,\); "
                                          r"use --network mlp"):
        check_fits_env(vector, gymnasium.spaces.Box(-1, 1, (4,), np.float32), gymnasium.spaces.Discrete(2))
