"""The DQN learner's math on hand-made batches: targets, C51 projection, dueling, target updates, acting.

Networks here are tables: with ``hidden=()`` the MLP torso is a flatten and the head one linear layer, so a
one-hot observation e_s reads row s of the weight matrix, and Q(s, ·) is whatever the test writes there.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from fastrl.algos.dqn.learner import DQN
from fastrl.algos.offpolicy import updates_due, updates_total
from fastrl.config import DQNConfig, RunConfig
from fastrl.nets import DuelingHead, dueling_combine, q_network
from fastrl.ops.categorical_projection import categorical_projection

STATES, ACTIONS = 4, 3
GAMMA = 0.9


def table_learner(online_q, target_q, **overrides) -> DQN:
    """A DQN whose online / target Q(s, ·) are the given [states, ACTIONS] tables (one-hot observations)."""
    fields = dict(network="mlp", hidden=(), gamma=GAMMA, lr=0.1, optimizer="adam", max_grad_norm=0.0,
                  learning_starts=0, batch_size=1)
    config = DQNConfig(**(fields | overrides))
    learner = DQN(config, (len(online_q),), ACTIONS, "cpu", seed=0)
    with torch.no_grad():
        for net, table in ((learner.online, online_q), (learner.target, target_q)):
            net.head.linear.weight.copy_(torch.as_tensor(table, dtype=torch.float32).T)
            net.head.linear.bias.zero_()
    return learner


def one_hot(states, count: int = STATES) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(states), count).float()


def make_batch(states, actions, rewards, discounts, next_states, weights=None):
    return SimpleNamespace(obs=one_hot(states), action=torch.as_tensor(actions),
                           reward=torch.as_tensor(rewards, dtype=torch.float32),
                           discount=torch.as_tensor(discounts, dtype=torch.float32),
                           next_obs=one_hot(next_states),
                           weights=None if weights is None else torch.as_tensor(weights, dtype=torch.float32))


# Online and target disagree on s' = 1 and s' = 2: the online net prefers action 0 there, the target net
# values action 0 low and action 2 high. Vanilla uses max_a Q̂(s', a); double uses Q̂(s', argmax_a Q(s', a)).
ONLINE = [[1.0, 2.0, 3.0], [5.0, 1.0, 0.0], [4.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
TARGET = [[0.5, 0.5, 0.5], [1.0, 2.0, 7.0], [-1.0, 3.0, 6.0], [2.0, 2.0, 2.0]]
BATCH = dict(states=[0, 0, 3], actions=[2, 1, 0], rewards=[1.0, -0.5, 0.25], discounts=[GAMMA, GAMMA ** 3, 0.0],
             next_states=[1, 2, 1])


def expected_priorities(double: bool) -> torch.Tensor:
    """|y - Q(s, a)| by hand from the tables above."""
    online, target = torch.tensor(ONLINE), torch.tensor(TARGET)
    out = []
    for s, a, r, d, s2 in zip(*BATCH.values(), strict=True):
        next_value = target[s2, online[s2].argmax()] if double else target[s2].max()
        out.append(abs(r + d * next_value - online[s, a]))
    return torch.tensor(out)


@pytest.mark.parametrize("double", [False, True])
def test_vanilla_and_double_targets(double):
    learner = table_learner(ONLINE, TARGET, double=double, loss="mse")
    priorities = learner.update(make_batch(**BATCH))
    expected = expected_priorities(double)
    torch.testing.assert_close(priorities, expected)
    # By hand, with Q(s, a) = 3, 2, 0: vanilla targets 1 + .9*7, -.5 + .729*6, .25 (terminal) give
    # |y - Q| = 4.3, 1.874, 0.25; double picks action 0 at s' = 1 and 2: 1 + .9*1, -.5 + .729*(-1), .25
    # give 1.1, 3.229, 0.25.
    hand = [4.3, 1.874, 0.25] if not double else [1.1, 3.229, 0.25]
    torch.testing.assert_close(priorities, torch.tensor(hand))
    stats = learner.take_stats()
    assert stats["loss"] == pytest.approx(float((expected ** 2).mean()), rel=1e-6)
    assert stats["abs_td_mean"] == pytest.approx(float(expected.mean()), rel=1e-6)
    assert stats["q_mean"] == pytest.approx((3.0 + 2.0 + 0.0) / 3)


def test_double_and_vanilla_agree_when_the_networks_agree():
    a = table_learner(TARGET, TARGET, double=True).update(make_batch(**BATCH))
    b = table_learner(TARGET, TARGET, double=False).update(make_batch(**BATCH))
    torch.testing.assert_close(a, b)


def test_gradient_step_moves_only_the_taken_action_toward_the_target():
    learner = table_learner(ONLINE, TARGET, double=False, loss="mse", optimizer="rmsprop", lr=0.01)
    before_online = learner.online.head.linear.weight.detach().clone()
    before_target = learner.target.head.linear.weight.detach().clone()
    batch = make_batch(states=[0], actions=[2], rewards=[10.0], discounts=[0.0], next_states=[1])
    learner.update(batch)
    after = learner.online.head.linear.weight.detach()
    changed = (after != before_online).nonzero().tolist()
    assert changed == [[2, 0]]  # weight[action 2, state 0]
    assert after[2, 0] > before_online[2, 0]  # Q(0, 2) = 3 moves toward y = 10
    assert torch.equal(learner.target.head.linear.weight, before_target)


def test_importance_weights_scale_the_loss():
    batch = dict(BATCH, weights=[1.0, 0.5, 0.0])
    learner = table_learner(ONLINE, TARGET, double=True, loss="mse")
    learner.update(make_batch(**batch))
    td = expected_priorities(double=True)
    assert learner.take_stats()["loss"] == pytest.approx(float((torch.tensor([1.0, 0.5, 0.0]) * td ** 2).mean()))


def test_huber_loss_is_linear_beyond_kappa():
    learner = table_learner(ONLINE, TARGET, double=True, loss="huber", huber_kappa=1.0)
    learner.update(make_batch(**BATCH))
    td = expected_priorities(double=True)
    huber = torch.where(td <= 1.0, 0.5 * td ** 2, td - 0.5)
    assert learner.take_stats()["loss"] == pytest.approx(float(huber.mean()), rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# n-step targets: the discount the replay hands over decides whether the target bootstraps
# ---------------------------------------------------------------------------------------------------------


def n_step_transition(rewards: list[float], terminated: bool, n: int) -> tuple[float, float]:
    """(Σ_k γ^k r_k, discount) of a transition that ran len(rewards) <= n steps before its episode ended
    (``terminated``: the discount is 0, no bootstrap) or was truncated / reached n (bootstrap with γ^k)."""
    assert len(rewards) <= n
    ret = sum(GAMMA ** k * r for k, r in enumerate(rewards))
    return ret, 0.0 if terminated else GAMMA ** len(rewards)


@pytest.mark.parametrize("rewards, terminated, bootstraps", [
    ([1.0, 1.0, 1.0], False, True),   # three full steps: bootstrap with γ^3
    ([1.0, 2.0], True, False),        # terminated after two steps: no bootstrap
    ([1.0, 2.0], False, True),        # truncated after two steps: bootstrap from s_{t+2} with γ^2
    ([5.0], True, False),             # terminated at once: y = r
])
def test_n_step_target_at_termination_and_truncation(rewards, terminated, bootstraps):
    ret, discount = n_step_transition(rewards, terminated, n=3)
    learner = table_learner(ONLINE, TARGET, double=False, loss="mse")
    priority = learner.update(make_batch(states=[0], actions=[0], rewards=[ret], discounts=[discount],
                                         next_states=[1]))
    bootstrap = GAMMA ** len(rewards) * max(TARGET[1]) if bootstraps else 0.0
    assert priority.item() == pytest.approx(abs(ret + bootstrap - ONLINE[0][0]), rel=1e-6)


def test_n_step_transitions_from_the_replay_end_at_termination_and_bootstrap_at_truncation():
    """A scripted episode pair through the real replay (n = 3, next-step autoreset), then the learner.

    Episode 1: s0 -r=1-> s1 -r=2-> s2 -r=3-> s3 (terminated). The env's autoreset step returns s4.
    Episode 2: s4 -r=1-> s5 -r=1-> s6 (truncated).
    """
    from fastrl.replay import BufferConfig, ReplayBuffer

    replay = ReplayBuffer(BufferConfig(capacity=32, num_envs=1, obs_shape=(7,), n_step=3, gamma=GAMMA))
    steps = [  # (obs after the step, action sent, reward, terminated, truncated)
        (1, 0, 1.0, False, False), (2, 1, 2.0, False, False), (3, 2, 3.0, True, False),
        (4, 1, 0.0, False, False),  # autoreset: action and reward ignored
        (5, 0, 1.0, False, False), (6, 2, 1.0, False, True),
    ]
    replay.add(one_hot([0], 7))
    for obs, action, reward, terminated, truncated in steps:
        replay.add(one_hot([obs], 7), torch.tensor([action]), torch.tensor([reward]), torch.tensor([terminated]),
                   torch.tensor([truncated]))
    slots = replay.storage["valid"][: -1].nonzero().flatten()
    batch = replay.get(slots)
    found = {int(s.argmax()): (float(r), float(d), int(n.argmax()), int(a))
             for s, r, d, n, a in zip(batch.obs, batch.reward, batch.discount, batch.next_obs, batch.action,
                                      strict=True)}
    expected = {
        0: (1 + GAMMA * 2 + GAMMA ** 2 * 3, 0.0, 3, 0),  # terminated within 3 steps: no bootstrap
        1: (2 + GAMMA * 3, 0.0, 3, 1),
        2: (3.0, 0.0, 3, 2),
        4: (1 + GAMMA * 1, GAMMA ** 2, 6, 0),           # truncated after 2 steps: bootstrap from s6 with γ²
        5: (1.0, GAMMA, 6, 2),
    }
    assert found.keys() == expected.keys()  # no transition starts at the terminal s3 or the truncation s6
    for state, (ret, discount, next_state, action) in expected.items():
        assert found[state] == (pytest.approx(ret), pytest.approx(discount), next_state, action), state

    online = torch.arange(7 * ACTIONS, dtype=torch.float32).view(7, ACTIONS) / 10
    target = torch.arange(7 * ACTIONS, dtype=torch.float32).flip(0).view(7, ACTIONS) / 5
    priorities = table_learner(online, target, double=False, loss="mse").update(batch)
    for i, s in enumerate(batch.obs.argmax(1).tolist()):
        ret, discount, next_state, action = expected[s]
        y = ret + discount * target[next_state].max()
        assert priorities[i].item() == pytest.approx(abs(y - online[s, action]).item(), rel=1e-5)


# ---------------------------------------------------------------------------------------------------------
# C51
# ---------------------------------------------------------------------------------------------------------


def c51_learner(double: bool) -> DQN:
    """C51 with support {-2, -1, 0, 1, 2}; logits chosen per (state, action) by the test."""
    config = DQNConfig(network="mlp", hidden=(), gamma=GAMMA, distributional=True, atoms=5, v_min=-2.0,
                       v_max=2.0, double=double, max_grad_norm=0.0, learning_starts=0, batch_size=1)
    return DQN(config, (STATES,), ACTIONS, "cpu", seed=0)


def set_distributions(net, probs):
    """probs [STATES, ACTIONS, atoms] -> logits in the head's weight (log p, zero bias)."""
    logits = torch.log(torch.as_tensor(probs, dtype=torch.float32).clamp_min(1e-12))
    with torch.no_grad():
        net.head.linear.weight.copy_(logits.reshape(STATES, -1).T)
        net.head.linear.bias.zero_()


def point_mass(atom: int) -> list[float]:
    return [1.0 if i == atom else 0.0 for i in range(5)]


@pytest.mark.parametrize("reward, discount, next_atom, expected", [
    (1.0, 1.0, 2, point_mass(3)),                 # z = 0 -> 1: lands exactly on the atom at 1
    (0.5, 0.0, 2, [0, 0, 0.5, 0.5, 0]),            # terminal: all mass at r = 0.5, split between 0 and 1
    (0.0, 0.5, 1, [0, 0, 0.5, 0.5, 0][::-1]),      # z = -1 -> -0.5: split between -1 and 0
    (5.0, 1.0, 4, point_mass(4)),                  # beyond v_max: clamped to v_max
    (-3.0, 0.5, 0, point_mass(0)),                 # below v_min: clamped to v_min
])
def test_c51_projection_on_known_cases(reward, discount, next_atom, expected):
    expected = torch.tensor([expected], dtype=torch.float32)
    support = torch.linspace(-2, 2, 5)
    torch.testing.assert_close(categorical_projection(torch.tensor([point_mass(next_atom)]), torch.tensor([reward]),
                                                      torch.tensor([discount]), (-2.0, 2.0, 5)), expected)
    torch.testing.assert_close(project_by_hand(torch.tensor(point_mass(next_atom)), reward, discount, support),
                               expected[0])
    # Through the learner: its priority is the cross-entropy of the projected target to p(s, a).
    probs = torch.softmax(torch.randn(STATES, ACTIONS, 5, generator=torch.Generator().manual_seed(0)), -1)
    learner = c51_learner(double=False)
    set_distributions(learner.online, probs)
    set_distributions(learner.target, [[point_mass(next_atom)] * ACTIONS] * STATES)
    batch = make_batch(states=[0], actions=[1], rewards=[reward], discounts=[discount], next_states=[2])
    priority = learner.update(batch)
    torch.testing.assert_close(priority, -(expected * probs[0, 1].log()).sum(dim=1), rtol=1e-5, atol=1e-6)


def test_c51_loss_is_the_cross_entropy_to_the_projected_target():
    probs = torch.softmax(torch.randn(STATES, ACTIONS, 5, generator=torch.Generator().manual_seed(1)), -1)
    next_probs = torch.softmax(torch.randn(STATES, ACTIONS, 5, generator=torch.Generator().manual_seed(2)), -1)
    for double in (False, True):
        learner = c51_learner(double)
        set_distributions(learner.online, probs)
        set_distributions(learner.target, next_probs)
        batch = make_batch(states=[0, 3], actions=[2, 0], rewards=[0.3, -1.2], discounts=[GAMMA, 0.0],
                           next_states=[1, 2])
        priorities = learner.update(batch)
        support = torch.linspace(-2, 2, 5)
        expected = []
        for s, a, r, d, s2 in zip([0, 3], [2, 0], [0.3, -1.2], [GAMMA, 0.0], [1, 2], strict=True):
            chooser = probs if double else next_probs
            best = (chooser[s2] * support).sum(-1).argmax()
            target = project_by_hand(next_probs[s2, best], r, d, support)
            expected.append(-(target * probs[s, a].log()).sum())
        torch.testing.assert_close(priorities, torch.stack(expected), rtol=1e-5, atol=1e-6)


def project_by_hand(p: torch.Tensor, reward: float, discount: float, support: torch.Tensor) -> torch.Tensor:
    """Bellemare et al. (2017) Algorithm 1, one atom at a time, as a loop."""
    v_min, v_max, atoms = support[0].item(), support[-1].item(), len(support)
    dz = (v_max - v_min) / (atoms - 1)
    out = torch.zeros(atoms)
    for j in range(atoms):
        tz = min(max(reward + discount * support[j].item(), v_min), v_max)
        b = (tz - v_min) / dz
        lower, upper = int(b // 1), int(-(-b // 1))
        if lower == upper:
            out[lower] += p[j]
        else:
            out[lower] += p[j] * (upper - b)
            out[upper] += p[j] * (b - lower)
    return out


# ---------------------------------------------------------------------------------------------------------
# Dueling
# ---------------------------------------------------------------------------------------------------------


def test_dueling_combine_subtracts_the_mean_advantage():
    value = torch.tensor([[[2.0]], [[-1.0]]])                        # [B=2, 1, 1]
    advantage = torch.tensor([[[1.0], [2.0], [6.0]], [[0.0], [0.0], [3.0]]])
    q = dueling_combine(value, advantage).squeeze(-1)
    torch.testing.assert_close(q, torch.tensor([[2 + 1 - 3.0, 2 + 2 - 3.0, 2 + 6 - 3.0], [-2.0, -2.0, 1.0]]))
    torch.testing.assert_close(q.mean(dim=1), value.flatten())  # the mean Q over actions is V


@pytest.mark.parametrize("atoms", [None, 5])
def test_dueling_head_shapes_and_identity(atoms):
    torch.manual_seed(0)
    head = DuelingHead(8, ACTIONS, atoms)
    features = torch.randn(6, 8)
    out = head(features)
    assert out.shape == ((6, ACTIONS) if atoms is None else (6, ACTIONS, atoms))
    value = head.value(features).view(6, 1, atoms or 1)
    torch.testing.assert_close(out.reshape(6, ACTIONS, -1).mean(dim=1, keepdim=True), value)


def test_dueling_network_builds_for_frames():
    net = q_network((4, 84, 84), 6, network="nature_cnn", hidden=(), dueling=True, atoms=51)
    out = net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    assert out.shape == (2, 6, 51)


# ---------------------------------------------------------------------------------------------------------
# Target updates, exploration, the update schedule
# ---------------------------------------------------------------------------------------------------------


def test_hard_target_copy_every_period():
    learner = table_learner(ONLINE, TARGET, target_update="hard", target_period=3)
    batch = make_batch(**BATCH)
    for i in range(1, 7):
        learner.update(batch)
        same = torch.equal(learner.target.head.linear.weight, learner.online.head.linear.weight)
        assert same == (i % 3 == 0), i


def test_polyak_target_update():
    learner = table_learner(ONLINE, TARGET, target_update="polyak", tau=0.25)
    target_before = learner.target.head.linear.weight.detach().clone()
    learner.update(make_batch(**BATCH))
    online_after = learner.online.head.linear.weight.detach()
    torch.testing.assert_close(learner.target.head.linear.weight, 0.75 * target_before + 0.25 * online_after)


def test_annealed_learning_rate_falls_linearly_to_zero_over_the_run():
    learner = table_learner(ONLINE, TARGET, anneal_lr=True)
    learner.updates_total = 4
    batch, lrs = make_batch(**BATCH), []
    for _ in range(5):
        learner.update(batch)
        lrs.append(learner.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.1, 0.075, 0.05, 0.025, 0.0])
    weight = learner.online.head.linear.weight.detach().clone()
    learner.update(batch)  # past the run's updates: no step
    assert torch.equal(learner.online.head.linear.weight, weight)
    constant = table_learner(ONLINE, TARGET)
    constant.update(batch)
    assert constant.optimizer.param_groups[0]["lr"] == 0.1


def test_updates_total_counts_the_run_s_updates():
    config = RunConfig(total_env_steps=1_000, dqn=DQNConfig(learning_starts=200, replay_ratio=0.25, batch_size=1))
    assert updates_total(config, config.dqn) == 200


def test_epsilon_schedule_is_linear_then_flat():
    learner = table_learner(ONLINE, TARGET, epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=100)
    assert [learner.epsilon(s) for s in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])


def test_greedy_and_uniform_acting():
    learner = table_learner(ONLINE, TARGET)
    obs = one_hot([0, 1, 2, 3] * 250)
    greedy = learner.act(obs, epsilon=0.0)
    assert torch.equal(greedy, torch.tensor([2, 0, 0, 0] * 250))
    uniform = learner.act(obs, epsilon=1.0)
    counts = torch.bincount(uniform, minlength=ACTIONS).float() / len(uniform)
    assert counts.min() > 0.28 and counts.max() < 0.39  # ~1/3 each over 1000 draws
    assert uniform.dtype == torch.int64


def test_updates_due_follow_the_replay_ratio():
    config = DQNConfig(replay_ratio=0.25, learning_starts=100, batch_size=1)
    done = 0
    for env_steps in range(8, 401, 8):  # 8 envs per iteration
        done += updates_due(env_steps, done, config, learning_from=100)
    assert updates_due(96, 0, config, learning_from=100) == 0
    assert done == (400 - 100) // 4 + 1
    assert updates_due(104, 0, dataclasses.replace(config, replay_ratio=2.0), learning_from=100) == 9
    # Counted from a later start (a resume with an empty replay), updates wait for it and then keep pace.
    assert updates_due(900, 0, config, learning_from=1000) == 0
    assert updates_due(1008, 0, config, learning_from=1000) == 3
