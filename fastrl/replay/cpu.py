"""The buffer's CPU engine: ``add`` and the batch gather as single numba loops over numpy views.

On the CPU a torch op costs a few microseconds whatever its size, and an ``add`` of the torch engine is
some forty of them (the n-step bookkeeping, the ring writes, the validity marks); a batch gather a dozen.
These kernels do the same work in one compiled call each, with the same results (the tests run both
engines on the same inputs and compare every byte). On CUDA the torch engine runs: its ops are launched
asynchronously and none waits for the device.

The kernels follow ``buffer.py`` / ``nstep.py`` step for step; see there for what a slot holds and why.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit


@njit(cache=True, nogil=True)
def add_step(restart, step, position, per_env, row, pad, stack,
             obs, action, reward, terminated, truncated,
             store_obs, store_action, store_reward, store_discount, store_horizon, store_valid,
             store_first, store_distance,
             lane_open, partial, prev_done, distance,
             scale_row, discount_row, age_row, full_row,
             num_valid, touched, fresh):
    """Write one step of every stream (``restart``: obs alone, every stream starts an episode).

    ``obs`` is [N, D]: the whole observation, or the newest frame (H * W) when ``stack`` > 0. Returns how
    many entries of ``touched`` / ``fresh`` were filled: slots that became valid (fresh) or stopped being
    valid, i.e. the sampler's priorities to change.
    """
    num_envs, n = lane_open.shape
    count = 0
    lane = step % n
    for i in range(num_envs):
        base = i * row + pad
        starting = restart or prev_done[i]
        done = False
        if restart:
            for c in range(n):
                lane_open[i, c] = False
        else:
            if not prev_done[i]:
                term = terminated[i]
                done = term or truncated[i]
                r = reward[i]
                for c in range(n):
                    if lane_open[i, c]:
                        partial[i, c] += scale_row[c] * r
                        if full_row[c] or done:
                            slot = base + (position - age_row[c]) % per_env
                            store_reward[slot] = partial[i, c]
                            store_discount[slot] = 0.0 if term else discount_row[c]
                            store_horizon[slot] = age_row[c]
                            store_valid[slot] = True
                            lane_open[i, c] = False
                            num_valid[0] += 1
                            touched[count] = slot
                            fresh[count] = True
                            count += 1
            _copy_row(store_action, base + (position - 1) % per_env, action, i)
        slot = base + position
        for j in range(pad + 1):  # the new slot, and the stack - 1 after it (their stacks reach the new frame)
            cleared = base + (position + j) % per_env
            if store_valid[cleared]:
                store_valid[cleared] = False
                num_valid[0] -= 1
                touched[count] = cleared
                fresh[count] = False
                count += 1
        _copy_row(store_obs, slot, obs, i)
        if stack:
            store_first[slot] = starting
            if position >= per_env - pad:  # the mirror before the ring
                _copy_row(store_obs, slot - per_env, obs, i)
                store_first[slot - per_env] = starting
            distance[i] = 0 if starting else min(distance[i] + 1, stack - 1)
            store_distance[slot] = distance[i]
        lane_open[i, lane] = not done
        partial[i, lane] = 0.0
        prev_done[i] = done
    return count


@njit(cache=True, nogil=True)
def draw_valid(uniforms, written, num_envs, row, pad, valid, out, start):
    """Fill ``out[start:]`` with the candidate slots (uniform over the written positions) that are valid,
    in draw order; return the new fill count."""
    k = start
    total = written * num_envs
    for u in uniforms:
        if k == out.shape[0]:
            break
        r = np.int64(u * total)
        env = r // written
        slot = env * row + pad + (r - env * written)
        if valid[slot]:
            out[k] = slot
            k += 1
    return k


@njit(cache=True, nogil=True)
def gather(slots, per_env, row, pad, store_obs, store_action, store_reward, store_discount, store_horizon,
           out_obs, out_next, out_action, out_reward, out_discount):
    """The transitions at ``slots``: whole observations [B, D] for s and s'.

    Random slots of a large ring miss the cache on every field. Two passes of independent loads (each
    transition's lines, then its s' lines, whose address needs the horizon) overlap those misses before
    the copy; returns a sum of the touched values so that the compiler keeps the loads.
    """
    batch, width, action_width = slots.shape[0], store_obs.shape[1], store_action.shape[1]
    touched = 0.0
    for b in range(batch):
        s = slots[b]
        touched += (store_obs[s, 0] + store_obs[s, width - 1] + store_action[s, 0] + store_action[s, action_width - 1]
                    + store_reward[s] + store_discount[s] + store_horizon[s])
    nxt = np.empty(batch, dtype=np.int64)
    for b in range(batch):
        n = _next_slot(slots[b], store_horizon[slots[b]], per_env, row, pad)
        nxt[b] = n
        touched += store_obs[n, 0] + store_obs[n, width - 1]
    for b in range(batch):
        s = slots[b]
        _copy_row(out_obs, b, store_obs, s)
        _copy_row(out_next, b, store_obs, nxt[b])
        _copy_row(out_action, b, store_action, s)
        out_reward[b] = store_reward[s]
        out_discount[b] = store_discount[s]
    return touched


@njit(cache=True, nogil=True)
def gather_frames(slots, per_env, row, pad, frames, first, stack, repeat, store_action, store_reward,
                  store_discount, store_horizon, out_obs, out_next, out_action, out_reward, out_discount):
    """The transitions at ``slots``, their s and s' stacks [B, stack, H * W] rebuilt from single frames.

    A stack has the semantics of ``ops.frame_stack_gather`` (positions older than the newest episode start
    within it zeroed), and with ``repeat`` those positions take the episode's first frame instead.
    """
    for b in range(slots.shape[0]):
        s = slots[b]
        _stack_into(out_obs[b], frames, first, s, stack, repeat)
        _stack_into(out_next[b], frames, first, _next_slot(s, store_horizon[s], per_env, row, pad), stack, repeat)
        _copy_row(out_action, b, store_action, s)
        out_reward[b] = store_reward[s]
        out_discount[b] = store_discount[s]


@njit(inline="always")
def _next_slot(s, horizon, per_env, row, pad):
    base = (s // row) * row + pad
    return base + (s - base + horizon) % per_env


@njit(inline="always")
def _stack_into(out, frames, first, s, stack, repeat):
    oldest = 0  # the oldest position that holds its own frame
    for back in range(stack - 1):
        if first[s - back]:
            oldest = stack - 1 - back
            break
    for k in range(oldest, stack):
        _copy_row(out, k, frames, s - (stack - 1 - k))
    for k in range(oldest):
        if repeat:
            _copy_row(out, k, frames, s - (stack - 1 - oldest))
        else:
            for p in range(out.shape[1]):
                out[k, p] = 0


@njit(inline="always")
def _copy_row(dst, i, src, j):
    """dst[i, :] = src[j, :] as an explicit loop, which numba vectorizes (a slice assignment it does not)."""
    for p in range(dst.shape[1]):
        dst[i, p] = src[j, p]


class NumbaEngine:
    """The CPU engine: numpy views of the buffer's tensors, handed to the kernels above."""

    name = "numba"

    def __init__(self, buffer):
        self.buffer = buffer
        layout, storage, writer, cfg = buffer.layout, buffer.storage, buffer.writer, buffer.config
        self.layout = layout
        n, num_envs = cfg.n_step, cfg.num_envs
        flat = "frames" if buffer.stack else "obs"
        self.store_obs = storage[flat].numpy().reshape(storage[flat].shape[0], -1)
        self.store_action = storage["action"].numpy().reshape(storage["action"].shape[0], -1)
        self.store = {name: storage[name].numpy() for name in ("reward", "discount", "horizon", "valid")}
        if buffer.stack:
            self.store_first = storage["first"].numpy()
            self.store_distance = storage["start_distance"].numpy()
        else:  # unused by the kernel; typed placeholders
            self.store_first = np.zeros(1, dtype=np.bool_)
            self.store_distance = np.zeros(1, dtype=np.uint8)
        self.lane_open, self.partial = writer.open.numpy(), writer.partial.numpy()
        self.prev_done, self.distance = writer.prev_done.numpy(), buffer.start_distance.numpy()
        # per row (step - 1) % n: the writer's tables, as the four arrays the kernel takes
        tables = [t.numpy() for t in (writer._reward_scale, writer._discount, writer._age, writer._full)]
        self.rows = [tuple(t[r] for t in tables) for r in range(n)]
        self.num_valid = buffer.num_valid.numpy()
        self.touched = np.empty(num_envs * (n + layout.pad + 1), dtype=np.int64)
        self.fresh = np.empty_like(self.touched, dtype=np.bool_)
        self.no_action = np.zeros((num_envs, self.store_action.shape[1]), dtype=self.store_action.dtype)
        self.no_reward = np.zeros(num_envs, dtype=np.float32)
        self.no_flags = np.zeros(num_envs, dtype=np.bool_)

    def add(self, restart: bool, step: int, position: int, obs, action, reward, terminated, truncated) -> None:
        buffer, layout = self.buffer, self.layout
        num_envs = layout.num_envs
        obs_np = (obs[:, -1] if buffer.stack else obs).numpy().reshape(num_envs, -1)
        if restart:
            action_np, reward_np, term_np, trunc_np = self.no_action, self.no_reward, self.no_flags, self.no_flags
        else:
            action_np = action.numpy().reshape(num_envs, -1)
            reward_np, term_np, trunc_np = reward.numpy(), terminated.numpy(), truncated.numpy()
        scale, discount, age, full = self.rows[(step - 1) % len(self.rows)]
        count = add_step(restart, step, position, layout.per_env, layout.row, layout.pad, buffer.stack,
                         obs_np, action_np, reward_np, term_np, trunc_np,
                         self.store_obs, self.store_action, self.store["reward"], self.store["discount"],
                         self.store["horizon"], self.store["valid"], self.store_first, self.store_distance,
                         self.lane_open, self.partial, self.prev_done, self.distance,
                         scale, discount, age, full,
                         self.num_valid, self.touched, self.fresh)
        if count and buffer.sampler.kind == "prioritized":
            buffer.sampler.written(torch.from_numpy(self.touched[:count]), torch.from_numpy(self.fresh[:count]))

    def draw_uniform(self, batch: int, generator) -> torch.Tensor:
        layout, buffer = self.layout, self.buffer
        out = np.empty(batch, dtype=np.int64)
        filled = 0
        while filled < batch:
            need = batch - filled
            u = torch.rand(need + need // 8 + 16, generator=generator, dtype=torch.float64).numpy()
            filled = draw_valid(u, buffer.written, layout.num_envs, layout.row, layout.pad, self.store["valid"],
                                out, filled)
        return torch.from_numpy(out)

    def gather(self, slots: torch.Tensor):
        buffer, layout, cfg = self.buffer, self.layout, self.buffer.config
        batch = slots.shape[0]
        slots_np = slots.numpy()
        action = np.empty((batch, *cfg.action_shape), dtype=self.store_action.dtype)
        reward = np.empty(batch, dtype=np.float32)
        discount = np.empty(batch, dtype=np.float32)
        obs = np.empty((batch, *cfg.obs_shape), dtype=self.store_obs.dtype)
        next_obs = np.empty_like(obs)
        if buffer.stack:
            # frames copied as 8-byte words where their size allows (84 * 84 does)
            word = np.uint64 if self.store_obs.shape[1] % 8 == 0 else np.uint8
            gather_frames(slots_np, layout.per_env, layout.row, layout.pad, self.store_obs.view(word),
                          self.store_first, buffer.stack, cfg.start_fill == "repeat", self.store_action,
                          self.store["reward"], self.store["discount"], self.store["horizon"],
                          obs.reshape(batch, buffer.stack, -1).view(word),
                          next_obs.reshape(batch, buffer.stack, -1).view(word), action.reshape(batch, -1), reward,
                          discount)
        else:
            gather(slots_np, layout.per_env, layout.row, layout.pad, self.store_obs, self.store_action,
                   self.store["reward"], self.store["discount"], self.store["horizon"], obs.reshape(batch, -1),
                   next_obs.reshape(batch, -1), action.reshape(batch, -1), reward, discount)
        return tuple(torch.from_numpy(a) for a in (obs, next_obs, action, reward, discount))


@njit(cache=True, nogil=True)
def priorities_from_td(slots, abs_td, valid, num_slots, eps, alpha, out):
    """out[k] = (abs_td[k] + eps) ** alpha, or 0 where slot k is no longer a valid transition.

    Returns (first k whose slot is outside [0, num_slots) or whose |TD| is negative or not finite, or
    len(slots) when none; the largest priority written). Nothing is written when an entry is bad.
    """
    count = slots.shape[0]
    for k in range(count):
        x = abs_td[k]
        if slots[k] < 0 or slots[k] >= num_slots or not (x >= 0.0) or x == np.inf:
            return k, 0.0
    largest = 0.0
    for k in range(count):
        p = (np.float64(abs_td[k]) + eps) ** alpha if valid[slots[k]] else 0.0
        out[k] = p
        largest = max(largest, p)
    return count, largest


@njit(cache=True, nogil=True)
def entry_priorities(fresh, top, out):
    """out[k] = top where the slot became a valid transition, else 0 (it stopped being one)."""
    for k in range(fresh.shape[0]):
        out[k] = top if fresh[k] else 0.0
