"""The PPO / A2C learner's math on hand-made rollouts, and its rollout collection (sync, async, autoreset rows).

GAE and the losses are checked against numbers worked out by hand (termination vs truncation bootstrapping
with next-step autoreset, the clipped surrogate, the clipped value loss); the policy's log-probabilities and
entropies against torch.distributions; collection against the autoreset convention and, async, against
sync collection of the same envs.
"""

from __future__ import annotations

import dataclasses
import math

import gymnasium
import numpy as np
import pytest
import torch

from fastrl.algos.common import RunningMeanStd
from fastrl.algos.ppo.learner import (
    PPO,
    advantages_and_returns,
    log_prob_and_entropy,
    normalized_advantages,
    policy_loss,
    value_loss,
)
from fastrl.algos.ppo.loop import RewardScaler, async_env_threads, env_options
from fastrl.config import ConfigError, EnvConfig, PPOConfig, RunConfig, check_fits_env, preset
from fastrl.envs import make_env
from fastrl.ops import _registry
from fastrl.rollout import Collector, Rollout
from fastrl.run.stopwatch import Stopwatch

VECTOR = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)


def hand_rollout() -> Rollout:
    """T = 4 steps of 2 envs; both episodes end at step 1, env 0 by termination, env 1 by truncation; row 2 is
    their autoreset row (final observation -> first observation, reward 0, not a transition of the policy)."""
    r = Rollout(4, 2, (1,), torch.float32, (), torch.int64, torch.device("cpu"))
    r.rewards.copy_(torch.tensor([[1.0, 1.0], [2.0, 2.0], [0.0, 0.0], [4.0, 4.0]]))
    # V(s_2) of env 1 is the value of its final observation (6); env 0's final observation is worth 5.
    r.values.copy_(torch.tensor([[1.0, 1.0], [2.0, 2.0], [5.0, 6.0], [3.0, 3.0]]))
    r.terminated[1, 0] = True
    r.truncated[1, 1] = True
    r.valid.fill_(True)
    r.valid[2] = False
    return r


def test_gae_bootstraps_truncation_from_the_final_observation_and_not_termination():
    r = hand_rollout()
    advantages, returns = advantages_and_returns(r, r.rewards, torch.tensor([4.0, 4.0]), gamma=0.5, lam=1.0)
    # Step 3: 4 + 0.5 * 4 - 3 = 3 for both envs.
    # Env 0 (terminated at 1): A_1 = 2 + 0 - 2 = 0 (no bootstrap, trace cut); A_0 = 1 + 0.5 * 2 - 1 + 0.5 * 0 = 1.
    # Env 1 (truncated at 1): A_1 = 2 + 0.5 * V(final) 6 - 2 = 3; A_0 = 1 + 0.5 * 2 - 1 + 0.5 * 3 = 2.5.
    # Row 2 (autoreset): 0 + 0.5 * 3 - V + 0.5 * 3, meaningless, masked out by valid.
    torch.testing.assert_close(advantages[[0, 1, 3]], torch.tensor([[1.0, 2.5], [0.0, 3.0], [3.0, 3.0]]))
    torch.testing.assert_close(returns, advantages + r.values)
    assert _registry.last_backend("gae") in ("numba", "reference")


def test_gae_lambda_mixes_the_n_step_estimates():
    r = hand_rollout()
    a, _ = advantages_and_returns(r, r.rewards, torch.tensor([4.0, 4.0]), gamma=0.5, lam=0.5)
    # Env 1: A_1 = 3 (its trace is cut at the truncation); A_0 = delta_0 + 0.5 * 0.5 * A_1 = 1 + 0.75.
    assert a[0, 1].item() == pytest.approx(1.75)


def test_clipped_surrogate_by_hand():
    log_old = torch.zeros(4)
    ratio = torch.tensor([1.5, 0.5, 1.1, 3.0])
    log_new = ratio.log().requires_grad_()
    advantages = torch.tensor([1.0, -1.0, 2.0, 1.0])
    mask = torch.tensor([True, True, True, False])  # the last row is an autoreset row: its ratio must not count
    loss, approx_kl, clipped = policy_loss(log_new, log_old, advantages, mask, mask.sum(), clip_coef=0.2)
    # Row 0: min(1.5, 1.2) * 1 = 1.2; row 1: min(-0.5, -0.8) = -0.8; row 2: 1.1 * 2 = 2.2 (inside the clip).
    assert loss.item() == pytest.approx(-(1.2 - 0.8 + 2.2) / 3)
    assert clipped.item() == pytest.approx(2 / 3)
    kl = [(r - 1) - math.log(r) for r in (1.5, 0.5, 1.1)]
    assert approx_kl.item() == pytest.approx(sum(kl) / 3, rel=1e-6)
    loss.backward()
    # Clipped rows carry no gradient; row 2's is -A * r / count (d ratio / d log = ratio); the masked row none.
    torch.testing.assert_close(log_new.grad, torch.tensor([0.0, 0.0, -2.0 * 1.1 / 3, 0.0]))


def test_without_clipping_the_gradient_is_the_policy_gradient():
    """clip_coef 0 (A2C): at ratio 1 the surrogate's gradient is -E[A grad log pi]."""
    log_new = torch.tensor([-0.3, -1.2, -2.0]).requires_grad_()
    advantages = torch.tensor([0.5, -2.0, 1.5])
    mask = torch.ones(3, dtype=torch.bool)
    loss, _, clipped = policy_loss(log_new, log_new.detach(), advantages, mask, mask.sum(), clip_coef=0.0)
    loss.backward()
    torch.testing.assert_close(log_new.grad, -advantages / 3)
    assert clipped.item() == 0.0


def test_value_loss_clipped_by_hand():
    values = torch.tensor([2.0, 0.0, 1.0])
    old = torch.tensor([1.0, 1.0, 1.0])
    returns = torch.tensor([3.0, -1.0, 0.0])
    mask = torch.ones(3, dtype=torch.bool)
    # Unclipped: 0.5 * mean(1, 1, 1) = 0.5. Clipped at 0.2: V_clip = 1.2, 0.8, 1.0; squared errors 3.24, 3.24,
    # 1; the max with the unclipped ones: 3.24, 3.24, 1 -> 0.5 * 7.48 / 3.
    assert value_loss(values, old, returns, mask, mask.sum(), None).item() == pytest.approx(0.5)
    assert value_loss(values, old, returns, mask, mask.sum(), 0.2).item() == pytest.approx(0.5 * 7.48 / 3)


def test_advantage_normalization_ignores_invalid_rows():
    advantages = torch.tensor([1.0, 2.0, 3.0, 1000.0])
    mask = torch.tensor([True, True, True, False])
    out = normalized_advantages(advantages, mask, mask.sum())
    torch.testing.assert_close(out[:3], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-6, rtol=0)


def test_log_prob_and_entropy_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, generator=g)
    actions = torch.tensor([0, 2, 1, 1, 0])
    log_prob, entropy = log_prob_and_entropy(logits, None, actions)
    categorical = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(log_prob, categorical.log_prob(actions))
    torch.testing.assert_close(entropy, categorical.entropy())

    mean, log_std = torch.randn(5, 2, generator=g), torch.tensor([-0.5, 0.3])
    x = torch.randn(5, 2, generator=g)
    log_prob, entropy = log_prob_and_entropy(mean, log_std, x)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(log_prob, normal.log_prob(x).sum(-1))
    torch.testing.assert_close(entropy, normal.entropy().sum(-1))


def small_learner(action_space, **overrides) -> PPO:
    config = PPOConfig(**({"network": "mlp", "hidden": (8,)} | overrides))
    return PPO(config, VECTOR, action_space, "cpu", seed=0)


def test_rollout_actions_sample_the_policy_and_their_log_probs_are_its_own():
    learner = small_learner(gymnasium.spaces.Discrete(3))
    with torch.no_grad():  # a policy that ignores the observation: p = softmax(bias) = (0.1, 0.3, 0.6)
        learner.net.policy_head.weight.zero_()
        learner.net.policy_head.bias.copy_(torch.tensor([0.1, 0.3, 0.6]).log())
    T, N = 50, 400
    learner.begin_rollout(T, N)
    obs = torch.zeros(N, 4)
    counts = torch.zeros(3)
    for t in range(T):
        action, env_action, log_prob, _ = learner.act(obs, t, None)
        assert torch.equal(action, env_action)
        counts += torch.bincount(action, minlength=3)
        torch.testing.assert_close(log_prob, torch.tensor([0.1, 0.3, 0.6]).log()[action])
    # 20,000 draws: each frequency within 1.5% of its probability (> 4 standard deviations).
    torch.testing.assert_close(counts / (T * N), torch.tensor([0.1, 0.3, 0.6]), atol=0.015, rtol=0)


def test_gaussian_actions_are_clipped_for_the_env_but_stored_raw():
    box = gymnasium.spaces.Box(-0.5, 0.5, (2,), np.float32)
    learner = small_learner(box, init_log_std=0.5)
    learner.begin_rollout(1, 256)
    action, env_action, log_prob, _ = learner.act(torch.zeros(256, 4), 0, None)
    assert action.abs().max() > 0.5 and env_action.abs().max() <= 0.5
    torch.testing.assert_close(env_action, action.clamp(-0.5, 0.5))
    mean, _ = learner.forward(torch.zeros(256, 4))
    expected = torch.distributions.Normal(mean, learner.net.log_std.exp()).log_prob(action).sum(-1)
    torch.testing.assert_close(log_prob, expected)


def test_actions_depend_on_step_and_env_not_on_which_envs_act_together():
    learner = small_learner(gymnasium.spaces.Discrete(4))
    learner.begin_rollout(3, 6)
    obs = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    together = learner.act(obs, 2, None)
    ids = torch.tensor([4, 1, 5])
    apart = learner.act(obs[ids], 2, ids)
    for a, b in zip(together, apart, strict=True):
        torch.testing.assert_close(a[ids], b)


def test_running_mean_std_matches_the_statistics_of_the_valid_rows():
    g = torch.Generator().manual_seed(0)
    stats = RunningMeanStd((3,))
    kept = []
    for _ in range(4):
        x = torch.randn(50, 3, generator=g) * 3 + 1
        mask = torch.rand(50, generator=g) < 0.7
        stats.update(x, mask)
        kept.append(x[mask])
    every = torch.cat(kept).double()
    torch.testing.assert_close(stats.mean, every.mean(0), rtol=1e-3, atol=1e-3)  # the 1e-4 prior count
    torch.testing.assert_close(stats.var, every.var(0, unbiased=False), rtol=1e-3, atol=1e-3)


def test_reward_scaler_divides_by_the_std_of_the_discounted_return():
    r = Rollout(3, 1, (1,), torch.float32, (), torch.int64, torch.device("cpu"))
    r.rewards.copy_(torch.tensor([[1.0], [1.0], [0.0]]))
    r.terminated[1, 0] = True
    r.valid.copy_(torch.tensor([[True], [True], [False]]))
    scaler = RewardScaler(1, 0.5, torch.device("cpu"))
    scaled = scaler.scale(r)
    # G = 1, 1.5 (then the episode ends; row 2 is the autoreset row: G = 0, not counted): var of (1, 1.5).
    std = math.sqrt(0.0625)
    torch.testing.assert_close(scaled, r.rewards / std, rtol=1e-3, atol=0)
    assert scaler.returns.item() == 0.0


def test_invalid_rows_do_not_move_the_parameters():
    """An autoreset row's advantage, return and ratio enter no loss: changing them changes nothing."""
    results = []
    for junk in (0.0, 1e6):
        torch.manual_seed(0)  # the same initial network
        learner = small_learner(gymnasium.spaces.Discrete(2), minibatches=1, epochs=2, normalize_advantages=True)
        r = Rollout(4, 2, (4,), torch.float32, (), torch.int64, torch.device("cpu"))
        g = torch.Generator().manual_seed(3)
        r.obs.copy_(torch.randn(4, 2, 4, generator=g))
        r.next_obs.copy_(torch.randn(2, 4, generator=g))
        r.actions.copy_(torch.randint(0, 2, (4, 2), generator=g))
        r.rewards.copy_(torch.randn(4, 2, generator=g))
        r.terminated[1, 0] = True
        r.valid.fill_(True)
        r.valid[2, 0] = False
        r.rewards[2, 0] = junk  # the autoreset row of env 0
        r.logprobs[2, 0] = -junk
        learner.learn(r, r.rewards, updates_total=10)
        results.append([p.detach().clone() for p in learner.net.parameters()])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


FRAMES = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def frame_rollout(T: int = 4, N: int = 2) -> Rollout:
    r = Rollout(T, N, (4, 84, 84), torch.uint8, (), torch.int64, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    r.obs.copy_(torch.randint(0, 256, r.obs.shape, generator=g, dtype=torch.uint8))
    r.next_obs.copy_(torch.randint(0, 256, r.next_obs.shape, generator=g, dtype=torch.uint8))
    r.actions.copy_(torch.randint(0, 6, r.actions.shape, generator=g))
    r.rewards.normal_(generator=g)
    r.values.normal_(generator=g)
    r.logprobs.fill_(-math.log(6))
    r.valid.fill_(True)
    return r


@pytest.mark.parametrize("bf16, channels_last, minibatches", [(True, True, 2), (False, False, 1)])
def test_frames_scaled_once_per_rollout_train_exactly_as_frames_scaled_in_the_forward(bf16, channels_last,
                                                                                     minibatches):
    """The update takes stacked frames scaled once per rollout into its own buffers; the parameters it reaches
    are bitwise those of the forward's own conversion (uint8 frames into every minibatch's forward)."""
    config = PPOConfig(network="nature_cnn", bf16=bf16, channels_last=channels_last, minibatches=minibatches,
                       epochs=2, update_threads=1)  # fixed: learners compared bit for bit must not adapt apart
    params = []
    for scaled_once in (True, False):
        torch.manual_seed(0)
        learner = PPO(config, FRAMES, gymnasium.spaces.Discrete(6), "cpu", seed=0)
        if not scaled_once:
            learner._frame_dtype = None  # the uint8 frames go to the forward as they are
        r = frame_rollout()
        learner.learn(r, r.rewards, updates_total=10)
        assert (learner._frames is not None) == scaled_once
        if scaled_once:
            frames = learner._as_nchw(learner._frames[0])
            assert frames.dtype == (torch.bfloat16 if bf16 else torch.float32)
            assert frames.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        params.append([p.detach().clone() for p in learner.net.parameters()])
    for a, b in zip(*params, strict=True):
        assert torch.equal(a, b)


def test_acting_runs_on_act_threads_and_restores_the_update_threads():
    learner = PPO(PPOConfig(network="mlp", hidden=(8,), act_threads=1), VECTOR, gymnasium.spaces.Discrete(2), "cpu",
                  seed=0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with learner.acting():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="inside"), learner.acting():
            raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a2c_config_is_one_plain_gradient_step_with_rmsprop():
    config = preset("a2c-atari").ppo
    assert (config.epochs, config.minibatches, config.clip_coef, config.optimizer) == (1, 1, 0.0, "rmsprop")
    learner = small_learner(gymnasium.spaces.Discrete(2), **{f: getattr(config, f) for f in (
        "epochs", "minibatches", "clip_coef", "clip_value_loss", "optimizer", "normalize_advantages")})
    assert isinstance(learner.optimizer, torch.optim.RMSprop)


# ---------------------------------------------------------------------------------------------------------
# Collection
# ---------------------------------------------------------------------------------------------------------


def collect(envs, learner: PPO, rollouts: int, num_steps: int):
    """Run ``rollouts`` rollouts with a fixed policy; the stored tensors of each."""
    rollout = Rollout(num_steps, envs.num_envs, tuple(envs.single_observation_space.shape), torch.float32,
                      learner.action_shape, learner.action_dtype, torch.device("cpu"))
    ended = []  # per step (sync) or batch (async): episodes that ended (read now: the info tensors get reused)
    collector = Collector(envs, rollout, lambda info: ended.append(int(info["episode_end"].sum())),
                          Stopwatch(("env", "act", "store")))
    collector.begin(envs.reset())
    out = []
    for _ in range(rollouts):
        learner.begin_rollout(num_steps, envs.num_envs)
        collector.collect(learner.act)
        out.append({k: getattr(rollout, k).clone() for k in ("obs", "actions", "logprobs", "values", "rewards",
                                                              "terminated", "truncated", "valid", "next_obs")})
    return out, ended


def test_the_row_after_an_episode_end_is_marked_invalid_across_rollouts():
    envs = make_env("CartPole-v1", 3, backend="native", seed=0, max_episode_steps=5)  # truncates every 5 steps
    learner = small_learner(gymnasium.spaces.Discrete(2))
    rollouts, _ = collect(envs, learner, rollouts=3, num_steps=4)
    done = torch.cat([r["terminated"] | r["truncated"] for r in rollouts])
    valid = torch.cat([r["valid"] for r in rollouts])
    assert done.any() and (~valid).any()
    assert valid[0].all()
    assert torch.equal(valid[1:], ~done[:-1])  # also across the rollout boundaries (rows 4 and 8)
    # The invalid rows are autoreset steps: reward 0 (native CartPole pays 1 for every real step).
    rewards = torch.cat([r["rewards"] for r in rollouts])
    assert torch.equal(rewards == 0, ~valid)


def test_async_collection_yields_the_transitions_of_sync_collection():
    """envpool CartPole, 8 envs: sync (one batch) and async (two halves of 4) with the same policy and seeds."""
    learner = small_learner(gymnasium.spaces.Discrete(2))
    results = {}
    for mode, batch in (("sync", None), ("async", 4)):
        options = {} if batch is None else {"batch_size": batch}
        envs = make_env("CartPole-v1", 8, backend="envpool", seed=11, num_threads=2, **options)
        try:
            assert envs.is_async == (mode == "async")
            learner.generator.manual_seed(5)
            results[mode] = collect(envs, learner, rollouts=3, num_steps=40)
        finally:
            envs.close()
    (sync, sync_ended), (asyn, async_ended) = results["sync"], results["async"]
    for k, (a, b) in enumerate(zip(sync, asyn, strict=True)):
        for name in ("obs", "actions", "rewards", "terminated", "truncated", "valid", "next_obs"):
            assert torch.equal(a[name], b[name]), f"rollout {k}: {name} differ"
        for name in ("logprobs", "values"):  # the same network on other batch shapes: equal to float rounding
            torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert torch.cat([r["terminated"] for r in sync]).any()  # episodes ended (and autoreset) inside
    assert len(async_ended) == 2 * len(sync_ended)  # two batches of 4 per step of 8
    assert sum(sync_ended) > 0 and sum(sync_ended) == sum(async_ended)


# ---------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: PPOConfig(lr=-1.0), "--lr -1.0: the learning rate must be > 0"),
    (lambda: PPOConfig(epochs=0), "--epochs 0"),
    (lambda: PPOConfig(gae_lambda=1.5), "--gae-lambda 1.5"),
    (lambda: PPOConfig(clip_coef=0.0), "--clip-value-loss needs --clip-coef > 0"),
    (lambda: PPOConfig(target_kl=0.0), "--target-kl 0.0"),
    (lambda: RunConfig(algo="ppo", ppo=PPOConfig(num_steps=5, minibatches=3)), "--minibatches 3 does not divide"),
    (lambda: RunConfig(algo="ppo", env=EnvConfig(num_envs=7), ppo=PPOConfig(async_envs=True, minibatches=1)),
     "--num-envs 7 must be even"),
    (lambda: RunConfig(algo="sac"), "algo 'sac': unknown learner family"),
])
def test_bad_ppo_values_are_refused_with_the_flag_named(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert message in str(err.value)


def test_ppo_fits_discrete_and_bounded_continuous_spaces_only():
    check_fits_env(preset("ppo-cartpole"), VECTOR, gymnasium.spaces.Discrete(2))
    check_fits_env(preset("ppo-mujoco"), gymnasium.spaces.Box(-np.inf, np.inf, (17,)), gymnasium.spaces.Box(-1, 1, (6,)))
    with pytest.raises(ConfigError, match="unbounded actions"):
        check_fits_env(preset("ppo-mujoco"), VECTOR, gymnasium.spaces.Box(-np.inf, np.inf, (2,)))
    with pytest.raises(ConfigError, match="Nature CNN.*use --network mlp"):
        check_fits_env(preset("ppo-atari"), VECTOR, gymnasium.spaces.Discrete(2))


def test_async_collection_needs_an_engine_with_an_async_mode():
    config = dataclasses.replace(preset("ppo-cartpole"), ppo=dataclasses.replace(preset("ppo-cartpole").ppo,
                                                                                  async_envs=True))
    with pytest.raises(ConfigError, match="--async-envs needs an env engine with an async mode.*native"):
        env_options(config)
    assert env_options(preset("ppo-atari")) == {"batch_size": 4, "num_threads": async_env_threads(8)}
    atari = preset("ppo-atari")
    pinned = dataclasses.replace(atari, env=dataclasses.replace(atari.env, options=("num_threads=3",)))
    assert env_options(pinned) == {"batch_size": 4}  # the env options' own num_threads stands


@pytest.mark.parametrize("cores, num_envs, threads", [(2, 8, 1), (1, 8, 1), (16, 8, 4), (16, 64, 15)])
def test_async_env_threads_leave_the_acting_thread_a_core(monkeypatch, cores, num_envs, threads):
    import fastrl.envs.base

    monkeypatch.setattr(fastrl.envs.base, "cpu_cores", lambda: cores)
    assert async_env_threads(num_envs) == threads


@pytest.mark.slow
def test_compiled_loss_and_its_gradients_equal_the_eager_ones():
    """``compile=True`` runs the minibatch loss through torch.compile (inductor, C++ on the CPU): the loss, its
    parts and the gradients match the eager function's on the same minibatch, and a whole update runs."""
    torch.manual_seed(0)
    learner = PPO(PPOConfig(network="nature_cnn", minibatches=2, epochs=1, compile=True, bf16=False,
                            channels_last=False), FRAMES,
                  gymnasium.spaces.Discrete(6), "cpu", seed=0)
    assert learner._loss_of_minibatch is not learner._losses
    r = frame_rollout()
    g = torch.Generator().manual_seed(2)
    obs = r.obs.flatten(0, 1).float() / 255
    args = (obs, r.actions.flatten(), r.logprobs.flatten(), r.values.flatten(), torch.randn(8, generator=g),
            torch.randn(8, generator=g), r.valid.flatten())
    results = []
    for fn in (learner._losses, learner._loss_of_minibatch):
        learner.optimizer.zero_grad()
        parts = fn(*args)
        parts[0].backward()
        results.append(([p.detach() for p in parts], [q.grad.clone() for q in learner.params]))
    (eager_parts, eager_grads), (compiled_parts, compiled_grads) = results
    for a, b in zip(eager_parts, compiled_parts, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(eager_grads, compiled_grads, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
    before = [p.detach().clone() for p in learner.params]
    learner.learn(r, r.rewards, updates_total=10)
    assert learner.updates == 2
    assert all(torch.isfinite(p).all() and not torch.equal(p, q) for p, q in zip(learner.params, before, strict=True))
