"""n-step transitions against values computed by hand: termination, truncation, autoreset, pending ends."""

from __future__ import annotations

import pytest
import torch

from fastrl.replay import BufferConfig, ReplayBuffer

# env 0's script, one row per add() after the reset: (action, reward, terminated, truncated)
SCRIPT = [
    (1, 1.0, False, False),    # call 1
    (2, 2.0, False, False),    # call 2
    (3, 4.0, True, False),     # call 3: terminated -> obs 3 is terminal
    (9, 0.0, False, False),    # call 4: autoreset (action ignored), obs 4 starts episode 2
    (5, 8.0, False, False),    # call 5
    (6, 16.0, False, True),    # call 6: truncated -> obs 6 is the truncation observation
    (9, 0.0, False, False),    # call 7: autoreset, obs 7 starts episode 3
    (7, 32.0, False, False),   # call 8
    (8, 64.0, False, False),   # call 9
    (0, 128.0, False, False),  # call 10
    (1, 256.0, False, False),  # call 11
]

# gamma = 0.5, n = 3: transition starting at call t -> (action, R, discount, next call)
EXPECTED = {
    0: (1, 1 + 0.5 * 2 + 0.25 * 4, 0.0, 3),      # three steps, the last one terminal: no bootstrap
    1: (2, 2 + 0.5 * 4, 0.0, 3),                 # cut at the termination
    2: (3, 4.0, 0.0, 3),
    4: (5, 8 + 0.5 * 16, 0.25, 6),               # cut at the truncation: bootstraps from obs 6
    5: (6, 16.0, 0.5, 6),
    7: (7, 32 + 0.5 * 64 + 0.25 * 128, 0.125, 10),
    8: (8, 64 + 0.5 * 128 + 0.25 * 256, 0.125, 11),
}
NOT_TRANSITIONS = {3: "terminal observation", 6: "truncation observation", 9: "pending", 10: "pending",
                   11: "pending"}


def test_nstep_values_by_hand():
    per_env = 16
    buffer = ReplayBuffer(BufferConfig(capacity=2 * per_env, num_envs=2, obs_shape=(1,), n_step=3, gamma=0.5))
    buffer.add(torch.tensor([[0.0], [100.0]]))
    for call, (action, reward, terminated, truncated) in enumerate(SCRIPT, start=1):
        # env 1 runs alongside with reward 1 per step and no episode end
        buffer.add(torch.tensor([[float(call)], [100.0 + call]]), torch.tensor([action, 0]),
                   torch.tensor([reward, 1.0]), torch.tensor([terminated, False]), torch.tensor([truncated, False]))
    valid = buffer.storage["valid"]
    for call, why in NOT_TRANSITIONS.items():
        assert not valid[call], f"call {call} ({why}) must not be a transition"
    slots = torch.tensor(sorted(EXPECTED))
    assert valid[slots].all()
    batch = buffer.get(slots)
    for b, call in enumerate(sorted(EXPECTED)):
        action, reward, discount, next_call = EXPECTED[call]
        assert int(batch.action[b]) == action
        assert float(batch.reward[b]) == pytest.approx(reward, rel=1e-6)
        assert float(batch.discount[b]) == discount
        assert float(batch.obs[b, 0]) == call
        assert float(batch.next_obs[b, 0]) == next_call
    # env 1: every start up to call 8 is a full 3-step transition
    env1 = buffer.get(per_env + torch.arange(0, 9))
    torch.testing.assert_close(env1.reward, torch.full((9,), 1.75))
    torch.testing.assert_close(env1.discount, torch.full((9,), 0.125))
    torch.testing.assert_close(env1.next_obs[:, 0], 100.0 + torch.arange(3, 12, dtype=torch.float32))
    assert len(buffer) == len(EXPECTED) + 9


def test_one_step_termination_and_truncation():
    buffer = ReplayBuffer(BufferConfig(capacity=8, num_envs=2, obs_shape=(1,), n_step=1, gamma=0.9))
    buffer.add(torch.zeros(2, 1))
    buffer.add(torch.ones(2, 1), torch.tensor([0, 1]), torch.tensor([1.0, 2.0]), torch.tensor([True, False]),
               torch.tensor([False, True]))
    batch = buffer.get(torch.tensor([0, 4]))
    assert batch.discount.tolist() == [0.0, pytest.approx(0.9)]
    assert batch.reward.tolist() == [1.0, 2.0]
    assert batch.next_obs[:, 0].tolist() == [1.0, 1.0]
