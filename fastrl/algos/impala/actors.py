"""IMPALA's actors: processes that step their own envs with the parameters as they last read them, and hand each
unroll to the learner through shared memory.

**Unroll slots.** Every actor owns ``slots_per_actor`` slots of preallocated shared tensors (``Slots``): it takes
a free slot from its ``free`` queue, writes one unroll into it (``unroll + 1`` observations, the actions, the
behaviour policy's logits μ, rewards, flags, episode statistics, and the parameter version it acted with), and
puts the slot's index on the ``full`` queue. The learner copies the slot out and puts the index back on the
actor's ``free`` queue. Only small integers cross the queues; the unrolls never get pickled.

**Parameters without a lock.** The learner writes its parameters into one flat shared tensor after every update
and then bumps a shared version counter. An actor reads the version, then copies the flat tensor into its own
network before each unroll, with no lock: it may read a copy the learner is writing (some layers one update
newer than others) and then acts with parameters a little off the version it records. V-trace corrects any
behaviour policy it is given the logits of, so that is harmless; the recorded version only measures the lag.

**Autoreset.** As ``fastrl.rollout``: the step after an episode's end ignores its action and returns the next
episode's first observation; ``valid`` is False on that row, and the learner leaves it out of every loss.
"""

from __future__ import annotations

import queue

import torch

from fastrl.hogwild import bind_flat, parameter_count


class Slots:
    """The unroll buffers of every actor, in shared memory: slot s of actor i is index i * slots_per_actor + s."""

    def __init__(self, count: int, unroll: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 actions: int):
        T, N = unroll, num_envs

        def shared(*shape, dtype=torch.float32):
            return torch.zeros((count, *shape), dtype=dtype).share_memory_()

        self.obs = shared(T + 1, N, *obs_shape, dtype=obs_dtype)
        self.actions = shared(T, N, dtype=torch.int64)
        self.behaviour_logits = shared(T, N, actions)
        self.rewards = shared(T, N)
        self.terminated = shared(T, N, dtype=torch.bool)
        self.truncated = shared(T, N, dtype=torch.bool)
        self.valid = shared(T, N, dtype=torch.bool)
        self.episode_end = shared(T, N, dtype=torch.bool)
        self.episode_return = shared(T, N)
        self.episode_length = shared(T, N, dtype=torch.int32)
        self.version = shared(dtype=torch.int64)

    FIELDS = ("obs", "actions", "behaviour_logits", "rewards", "terminated", "truncated", "valid", "episode_end",
              "episode_return", "episode_length")


def unroll(net, envs, obs: torch.Tensor, pending: torch.Tensor, generator: torch.Generator, slots: Slots, slot: int,
           steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` steps of ``envs`` with actions sampled from ``net``'s policy, written into ``slots[slot]``; returns
    the observation and the pending autoresets to continue from."""
    for t in range(steps):
        with torch.no_grad():
            logits = net(obs)[0]
        noise = torch.rand(logits.shape, generator=generator).clamp_(min=1e-20).log_().neg_().log_()
        action = (logits - noise).argmax(dim=-1)  # Gumbel-max: a sample of the policy
        slots.obs[slot, t] = obs
        slots.actions[slot, t] = action
        slots.behaviour_logits[slot, t] = logits
        obs, reward, terminated, truncated, info = envs.step(action)
        slots.rewards[slot, t] = reward
        slots.terminated[slot, t] = terminated
        slots.truncated[slot, t] = truncated
        slots.valid[slot, t] = ~pending
        pending = terminated | truncated
        slots.episode_end[slot, t] = info["episode_end"]
        slots.episode_return[slot, t] = info["episode_return"]
        slots.episode_length[slot, t] = info["episode_length"]
    slots.obs[slot, steps] = obs
    return obs, pending


def run_actor(index: int, config, make_net, slots: Slots, params: torch.Tensor, version: torch.Tensor, free,
              full, stop) -> None:
    """Actor ``index``'s loop (the target of its process): unrolls until ``stop`` is set."""
    from fastrl.run.envs import make_env

    torch.set_num_threads(1)
    c, N = config.impala, config.env.num_envs
    seed = config.seed + (index + 1) * N  # env seeds seed + N, ...: apart from the evaluation's and each other's
    envs = make_env(config, N, seed)
    try:
        net = make_net()
        local = torch.zeros(parameter_count(net))
        bind_flat(net, local)
        generator = torch.Generator().manual_seed(seed)
        obs = envs.reset(seed=seed)
        pending = torch.zeros(N, dtype=torch.bool)
        while not stop.is_set():
            try:
                slot = free.get(timeout=0.1)
            except queue.Empty:
                continue
            slots.version[slot] = version[0]
            local.copy_(params)
            obs, pending = unroll(net, envs, obs, pending, generator, slots, slot, c.unroll)
            full.put(slot)
    finally:
        envs.close()
