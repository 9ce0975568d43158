"""The buffer's CPU engine: ``add`` and ``sample`` as single numba calls over numpy views.

On the CPU a torch op costs a few microseconds whatever its size, and an ``add`` of the torch engine is
some forty of them (the n-step bookkeeping, the ring writes, the validity marks); a batch gather a dozen.
These kernels do the same work in one compiled call each, with the same results (the tests run both
engines on the same inputs and compare every byte): a uniform batch is drawn, checked for validity and
gathered in one call, a prioritized one descends the sum tree (its numba backend's own kernel), gets its
importance weights and is gathered in one call (a priority update is one call too: the sampler's, see
``priorities.update_tree``). Batches are gathered into preallocated outputs, reused every ``OUTPUT_RING`` batches. Atari stacks are the exception where torch
has several threads: the call lists the frames' rows and ``torch.index_select`` copies the megabytes on all
of them (``NumbaEngine._copy_frames``). On CUDA the torch engine runs: its ops are launched asynchronously
and none waits for the device.

The kernels follow ``buffer.py`` / ``nstep.py`` step for step; see there for what a slot holds and why.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from fastrl.ops.sumtree.numba import sample_nodes
from fastrl.replay.batch import Batch
from fastrl.replay.config import BufferConfig
from fastrl.replay.nstep import NStepWriter
from fastrl.replay.storage import Storage


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
def draw_valid(uniforms, written, num_envs, row, pad, valid, out, bases, start):
    """Fill ``out[start:]`` with the candidate slots (uniform over the written positions) that are valid,
    in draw order, and ``bases`` with their rings' first slots; return the new fill count."""
    k = start
    total = written * num_envs
    for u in uniforms:
        if k == out.shape[0]:
            break
        r = np.int64(u * total)
        env = r // written
        base = env * row + pad
        slot = base + (r - env * written)
        if valid[slot]:
            out[k] = slot
            bases[k] = base
            k += 1
    return k


@njit(cache=True, nogil=True)
def sample_uniform(uniforms, filled, written, num_envs, valid, out_slots, out_bases, out_weights, copy_here,
                   per_env, row, pad, stack, repeat, store_obs, store_first, store_action, store_reward,
                   store_discount, store_horizon, out_obs, out_next, out_action, out_reward, out_discount,
                   frame_rows, zeroed, counts):
    """A uniform batch in one call: ``draw_valid`` into ``out_slots[filled:]`` and, once the batch is full,
    its gather (``gather_batch``) and weights of 1. Returns the fill count: short of the batch only when too
    many candidates were invalid, and the caller draws more uniforms and calls again."""
    filled = draw_valid(uniforms, written, num_envs, row, pad, valid, out_slots, out_bases, filled)
    if filled == out_slots.shape[0]:
        gather_batch(out_slots, out_bases, copy_here, per_env, row, pad, stack, repeat, store_obs, store_first,
                     store_action, store_reward, store_discount, store_horizon, out_obs, out_next, out_action,
                     out_reward, out_discount, frame_rows, zeroed, counts)
        for b in range(filled):
            out_weights[b] = 1.0
    return filled


@njit(cache=True, nogil=True)
def sample_prioritized(nodes, leaf_offset, levels, uniforms, beta, out_slots, out_bases, out_priorities, out_weights,
                       copy_here, per_env, row, pad, stack, repeat, store_obs, store_first, store_action, store_reward,
                       store_discount, store_horizon, out_obs, out_next, out_action, out_reward, out_discount,
                       frame_rows, zeroed, counts):
    """A prioritized batch in one call: the sum tree's own descent (``ops.sumtree``'s numba kernel, so the
    draws are the tree's), the importance weights ``(p_min / p_i) ** beta`` (see ``sampler.py``) and the
    gather. Returns False, having drawn nothing, when the total priority is not positive."""
    if not nodes[1, 0] > 0.0:
        return False
    sample_nodes(nodes, leaf_offset, levels, uniforms, out_slots, out_priorities)
    smallest = nodes[1, 1]
    for b in range(out_slots.shape[0]):
        out_weights[b] = (smallest / out_priorities[b]) ** beta
    ring_bases(out_slots, row, pad, out_bases)
    gather_batch(out_slots, out_bases, copy_here, per_env, row, pad, stack, repeat, store_obs, store_first,
                 store_action, store_reward, store_discount, store_horizon, out_obs, out_next, out_action, out_reward,
                 out_discount, frame_rows, zeroed, counts)
    return True


@njit(cache=True, nogil=True)
def ring_bases(slots, row, pad, out):
    """out[b] = the first slot of the ring that slot ``slots[b]`` lies in (what ``draw_valid`` gives)."""
    for b in range(slots.shape[0]):
        out[b] = slots[b] // row * row + pad


@njit(cache=True, nogil=True)
def gather_batch(slots, bases, copy_here, per_env, row, pad, stack, repeat, store_obs, store_first, store_action,
                 store_reward, store_discount, store_horizon, out_obs, out_next, out_action, out_reward, out_discount,
                 frame_rows, zeroed, counts):
    """The transitions at ``slots`` (in the rings starting at ``bases``) into [B, ...] outputs.

    Whole observations (``stack`` == 0) are copied into the [B, D] rows ``out_obs`` / ``out_next``;
    ``counts[1]`` receives the values read ahead of the copies, folded into one integer, so that the compiler
    keeps those loads.

    Frames (``stack`` > 0; ``store_obs`` holds one frame per slot, ``store_first`` the episode starts): the
    source row of every output frame goes into ``frame_rows`` ([2 * B * stack]: the stacks of s, then those of
    s') and the output frames to zero into ``zeroed`` (``counts[0]`` of them). The stacks are megabytes, which
    one core copies at its own memory bandwidth, so with ``copy_here`` False the copy is left to
    ``torch.index_select`` on every core (``NumbaEngine._copy_frames``); with it True (one core) they are copied
    here into the [B, stack * D] rows, each transition's s then s' (their frames overlap: read once from
    memory), and zeroed (``counts[0]`` = 0 then)."""
    batch = slots.shape[0]
    if stack == 0:
        counts[1] = _gather_rows(slots, bases, per_env, store_obs, store_action, store_reward, store_discount,
                                 store_horizon, out_obs, out_next, out_action, out_reward, out_discount)
        return
    count = 0
    for b in range(batch):
        s = slots[b]
        before = count
        count = _stack_rows(frame_rows, zeroed, count, b * stack, store_first, s, stack, repeat)
        count = _stack_rows(frame_rows, zeroed, count, (batch + b) * stack, store_first,
                            _next_slot(s, bases[b], store_horizon[s], per_env), stack, repeat)
        if copy_here:
            _copy_stack(out_obs, b, store_obs, frame_rows, b * stack, stack)
            _copy_stack(out_next, b, store_obs, frame_rows, (batch + b) * stack, stack)
            for z in range(before, count):
                _zero_frame(out_obs, out_next, zeroed[z], batch, stack, store_obs.shape[1])
        _copy_row(out_action, b, store_action, s)
        out_reward[b] = store_reward[s]
        out_discount[b] = store_discount[s]
    counts[0] = 0 if copy_here else count


@njit(inline="always")
def _gather_rows(slots, bases, per_env, store_obs, store_action, store_reward, store_discount, store_horizon,
                 out_obs, out_next, out_action, out_reward, out_discount):
    """Whole observations for s and s'. Random slots of a large ring miss the cache on every field; a copy
    loop keeps few misses in flight (each row's copy waits for its lines), so passes of bare loads,
    independent of each other, first bring every line in (many misses overlapped): each transition's lines,
    then its s' lines, whose address needs the horizon. The copies then hit the cache. The loads are folded
    into an integer (one-cycle xors, not a chain of float adds) that is returned, so that the compiler keeps
    them."""
    batch, width, action_width = slots.shape[0], store_obs.shape[1], store_action.shape[1]
    touched = np.int64(0)
    for b in range(batch):
        s = slots[b]
        touched ^= (np.int64(store_obs[s, 0] != 0) ^ np.int64(store_obs[s, width - 1] != 0)
                    ^ np.int64(store_action[s, action_width - 1] != 0) ^ np.int64(store_discount[s] != 0)
                    ^ np.int64(store_horizon[s]))
    nxt = np.empty(batch, dtype=np.int64)
    for b in range(batch):
        n = _next_slot(slots[b], bases[b], store_horizon[slots[b]], per_env)
        nxt[b] = n
        touched ^= np.int64(store_obs[n, 0] != 0) ^ np.int64(store_obs[n, width - 1] != 0)
    for b in range(batch):
        s = slots[b]
        _copy_row(out_obs, b, store_obs, s)
        _copy_row(out_next, b, store_obs, nxt[b])
        _copy_row(out_action, b, store_action, s)
        out_reward[b] = store_reward[s]
        out_discount[b] = store_discount[s]
    return touched


@njit(inline="always")
def _next_slot(s, base, horizon, per_env):
    """The slot ``horizon`` (< per_env) positions after ``s`` in its ring starting at ``base``: a compare, not
    the division a modulo costs, which showed in a small batch's time (profiles/*/design-measurements.md)."""
    q = s - base + horizon
    if q >= per_env:
        q -= per_env
    return base + q


@njit(inline="always")
def _stack_rows(rows, zeroed, count, at, first, s, stack, repeat):
    """rows[at + k] = the storage row of frame k of the stack ending at slot s: positions older than the
    newest episode start within it hold that episode's first frame (``repeat``), or are listed in
    ``zeroed[count:]`` to be zeroed, as ``ops.frame_stack_gather`` / ``frames.py`` define. Returns the new
    count of ``zeroed``."""
    oldest = 0  # the oldest position that holds its own frame
    for back in range(stack - 1):
        if first[s - back]:
            oldest = stack - 1 - back
            break
    for k in range(stack):
        rows[at + k] = s - (stack - 1 - max(k, oldest))
        if k < oldest and not repeat:
            zeroed[count] = at + k
            count += 1
    return count


@njit(inline="always")
def _copy_stack(out, b, frames, rows, at, stack):
    """out[b] = the frames at rows[at], ..., rows[at + stack - 1], side by side."""
    width = frames.shape[1]
    for k in range(stack):
        j = rows[at + k]
        for p in range(width):
            out[b, k * width + p] = frames[j, p]


@njit(inline="always")
def _zero_frame(out_obs, out_next, r, batch, stack, width):
    """Zero output frame r of the [2 * B * stack] order of ``frame_rows`` (the stacks of s, then of s')."""
    out = out_obs if r < batch * stack else out_next
    r = r % (batch * stack)
    b, k = r // stack, r % stack
    for p in range(width):
        out[b, k * width + p] = 0


@njit(cache=True, nogil=True)
def zero_frames(out, zeroed, count):
    """out[zeroed[z]] = 0 for z < count (stack positions before an episode's start, ``start_fill='zero'``)."""
    for z in range(count):
        for p in range(out.shape[1]):
            out[zeroed[z], p] = 0


@njit(inline="always")
def _copy_row(dst, i, src, j):
    """dst[i, :] = src[j, :] as an explicit loop, which numba vectorizes (a slice assignment it does not)."""
    for p in range(dst.shape[1]):
        dst[i, p] = src[j, p]


class NumbaEngine:
    """The CPU engine: numpy views of the buffer's tensors, handed to the kernels above."""

    name = "numba"

    def __init__(self, config: BufferConfig, storage: Storage, writer: NStepWriter, sampler,
                 start_distance: torch.Tensor, num_valid: torch.Tensor):
        """The buffer's parts: its storage (and ring layout), n-step writer, sampler, and the two counters
        an ``add`` advances (each stream's distance from its episode's first frame; the valid transitions)."""
        layout = self.layout = storage.layout
        self.config, self.sampler = config, sampler
        self.stack = config.frame_stack
        n, num_envs = config.n_step, config.num_envs
        flat = "frames" if self.stack else "obs"
        self.store_obs = _rows(storage[flat])
        self.store_action = _rows(storage["action"])
        self.store = {name: storage[name].numpy() for name in ("reward", "discount", "horizon", "valid")}
        if self.stack:
            self.store_first = storage["first"].numpy()
            self.store_distance = storage["start_distance"].numpy()
        else:  # unused by the kernel; typed placeholders
            self.store_first = np.zeros(1, dtype=np.bool_)
            self.store_distance = np.zeros(1, dtype=np.uint8)
        self.lane_open, self.partial = writer.open.numpy(), writer.partial.numpy()
        self.prev_done, self.distance = writer.prev_done.numpy(), start_distance.numpy()
        # per row (step - 1) % n: the writer's tables, as the four arrays the kernel takes
        tables = [t.numpy() for t in writer.tables()]
        self.rows = [tuple(t[r] for t in tables) for r in range(n)]
        self.num_valid = num_valid.numpy()
        self.touched = np.empty(num_envs * (n + layout.pad + 1), dtype=np.int64)
        self.fresh = np.empty_like(self.touched, dtype=np.bool_)
        self.no_action = np.zeros((num_envs, self.store_action.shape[1]), dtype=self.store_action.dtype)
        self.no_reward = np.zeros(num_envs, dtype=np.float32)
        self.no_flags = np.zeros(num_envs, dtype=np.bool_)
        # frames are copied as 8-byte words where their size allows (84 * 84 does)
        self.word = np.uint64 if self.stack and self.store_obs.shape[1] % 8 == 0 else self.store_obs.dtype
        self.store_words = self.store_obs.view(self.word)
        self.gather_args = (layout.per_env, layout.row, layout.pad, self.stack, config.start_fill == "repeat",
                            self.store_words, self.store_first, self.store_action,
                            self.store["reward"], self.store["discount"], self.store["horizon"])
        #: frames as [rows, H * W] bytes, for torch.index_select (see ``_copy_frames``)
        self.frames_2d = storage["frames"].view(storage["frames"].shape[0], -1) if self.stack else None
        #: the sum tree's (nodes, leaf_offset, levels) where its numba backend runs: sampled in our kernel
        self.tree = sampler.numba_tree() if sampler.kind == "prioritized" else None
        self._rings: dict[int, list[_Outputs]] = {}  # batch size -> its output sets
        self._turns: dict[int, int] = {}  # batch size -> the set its last batch went to

    def add(self, restart: bool, step: int, position: int, obs, action, reward, terminated, truncated) -> None:
        layout = self.layout
        num_envs = layout.num_envs
        obs_np = (obs[:, -1] if self.stack else obs).numpy().reshape(num_envs, -1)
        if restart:
            action_np, reward_np, term_np, trunc_np = self.no_action, self.no_reward, self.no_flags, self.no_flags
        else:
            action_np = action.numpy().reshape(num_envs, -1)
            reward_np, term_np, trunc_np = reward.numpy(), terminated.numpy(), truncated.numpy()
        scale, discount, age, full = self.rows[(step - 1) % len(self.rows)]
        count = add_step(restart, step, position, layout.per_env, layout.row, layout.pad, self.stack,
                         obs_np, action_np, reward_np, term_np, trunc_np,
                         self.store_obs, self.store_action, self.store["reward"], self.store["discount"],
                         self.store["horizon"], self.store["valid"], self.store_first, self.store_distance,
                         self.lane_open, self.partial, self.prev_done, self.distance,
                         scale, discount, age, full,
                         self.num_valid, self.touched, self.fresh)
        if count and self.sampler.kind == "prioritized":
            self.sampler.written(torch.from_numpy(self.touched[:count]), torch.from_numpy(self.fresh[:count]))

    # ------------------------------------------------------------------------------------------- sample
    def sample(self, batch: int, generator, written: int) -> Batch:
        """A batch drawn by the buffer's sampler (``written``: ring positions written per stream) and
        gathered in one kernel call, into the next of ``OUTPUT_RING`` preallocated output sets (see
        ``_Outputs``)."""
        out = self._next_outputs(batch)
        sampler = self.sampler
        copy_here = self._copy_here()
        if sampler.kind == "uniform":
            self._sample_uniform(batch, generator, written, out, copy_here)
        elif self.tree is not None:
            self._sample_prioritized(sampler, generator, out, copy_here)
        else:  # a sum tree on another backend (requested explicitly): its own sample, then the gather
            slots, weights = sampler.sample(batch, generator)
            out.weights[:] = weights.numpy()
            self._gather_slots(slots, out, copy_here)
        if not copy_here:
            self._copy_frames(out)
        return out.batch

    def _sample_uniform(self, batch: int, generator, written: int, out: _Outputs, copy_here: bool) -> None:
        layout = self.layout
        out.uniforms.uniform_(generator=generator)  # the numbers torch.rand would give (the torch engine's)
        filled = sample_uniform(out.uniforms_np, 0, written, layout.num_envs, self.store["valid"], out.slots,
                                out.bases, out.weights, copy_here, *out.gather_args)
        while filled < batch:  # rare: too many invalid candidates; more numbers, as the torch engine draws them
            need = batch - filled
            more = torch.rand(need + need // 8 + 16, generator=generator, dtype=torch.float64).numpy()
            filled = sample_uniform(more, filled, written, layout.num_envs, self.store["valid"], out.slots,
                                    out.bases, out.weights, copy_here, *out.gather_args)

    def _sample_prioritized(self, sampler, generator, out: _Outputs, copy_here: bool) -> None:
        out.tree_uniforms.uniform_(generator=generator)  # as SumTree.sample draws them
        if not sample_prioritized(*self.tree, out.tree_uniforms_np, sampler.beta, out.slots, out.bases,
                                  out.priorities, out.weights, copy_here, *out.gather_args):
            raise ValueError(f"cannot sample: the total priority is {float(sampler.tree.total())} (no leaf has "
                             f"a positive priority)")
        sampler.batches += 1
        sampler.ran_numba_tree("sample")

    def _gather_slots(self, slots: torch.Tensor, out: _Outputs, copy_here: bool) -> None:
        """``gather_batch`` of given slots (not drawn by the kernels, so their ring bases are computed here)."""
        out.slots[:] = slots.numpy()
        ring_bases(out.slots, self.layout.row, self.layout.pad, out.bases)
        gather_batch(out.slots, out.bases, copy_here, *out.gather_args)

    def _copy_here(self) -> bool:
        """Whether the gather kernel copies everything itself: whole observations always; frames where torch
        has one thread (else ``_copy_frames`` copies them)."""
        return self.frames_2d is None or torch.get_num_threads() == 1

    def _copy_frames(self, out: _Outputs) -> None:
        """The frames of a gathered batch's stacks, whose rows the kernel listed (``gather_batch``): megabytes,
        which one core copies no faster than its own memory bandwidth, so ``torch.index_select`` copies them on
        torch's intra-op threads (the learner's, idle while it waits for the batch; the gain is in
        profiles/*/design-measurements.md). With one thread the kernel's own copy is faster (it reads the
        frame that s and s' share once)."""
        torch.index_select(self.frames_2d, 0, out.frame_rows_t, out=out.frames_2d)
        if out.counts[0]:
            zero_frames(out.frame_words, out.zeroed, out.counts[0])

    def _next_outputs(self, batch: int) -> _Outputs:
        """The output set of this batch size used least recently (each size has its own ring and turn)."""
        ring = self._rings.get(batch)
        if ring is None:
            ring = self._rings[batch] = [_Outputs(batch, self) for _ in range(OUTPUT_RING)]
        turn = self._turns[batch] = (self._turns.get(batch, -1) + 1) % OUTPUT_RING
        return ring[turn]

    # ------------------------------------------------------------------------------------------- gather
    def gather(self, slots: torch.Tensor, weights: torch.Tensor | None) -> Batch:
        """The transitions at ``slots`` in new tensors, with ``weights`` (1 where None)."""
        out = _Outputs(slots.shape[0], self, uniforms=False)
        copy_here = self._copy_here()
        self._gather_slots(slots, out, copy_here)
        if not copy_here:
            self._copy_frames(out)
        if weights is None:
            weights = torch.ones(slots.shape[0], dtype=torch.float32)
        return out.batch._replace(weights=weights, indices=slots)


def _rows(t: torch.Tensor) -> np.ndarray:
    """[rows, -1] numpy view of a (possibly strided: see the storage's records) field; never a copy, which
    the kernels' writes would miss (numpy refuses a shape it cannot give a view of in place)."""
    view = t.numpy().view()
    view.shape = (t.shape[0], -1)
    return view


#: output sets per batch size that ``NumbaEngine.sample`` cycles through: a batch's tensors stay intact
#: until this many more batches of its size are drawn
OUTPUT_RING = 2


class _Outputs:
    """One batch's output arrays, filled in place by the kernels, and the ``Batch`` of tensors over them.

    Allocated once and reused: fresh outputs cost a dozen allocations and tensor wrappers per call
    (microseconds each, in a call of tens), and a 7 MB Atari batch faults its pages in again wherever the
    allocator handed its last block back to the kernel.
    """

    def __init__(self, batch: int, engine: NumbaEngine, uniforms: bool = True):
        cfg, stack = engine.config, engine.stack
        self.slots = np.empty(batch, dtype=np.int64)
        self.bases = np.empty(batch, dtype=np.int64)  #: each slot's ring's first slot
        self.priorities = np.empty(batch, dtype=np.float64)  #: the sum tree's draws (prioritized)
        self.weights = np.empty(batch, dtype=np.float32)
        both = np.empty((2, batch, *cfg.obs_shape), dtype=engine.store_obs.dtype)  # s, then s'
        obs, next_obs = both
        action = np.empty((batch, *cfg.action_shape), dtype=engine.store_action.dtype)
        reward = np.empty(batch, dtype=np.float32)
        discount = np.empty(batch, dtype=np.float32)
        flat_obs, flat_next = (a.reshape(batch, -1).view(engine.word) for a in (obs, next_obs))
        #: frames (see gather_batch): each output frame's storage row, and the output frames to zero
        self.frame_rows = np.empty(2 * batch * stack, dtype=np.int64)
        self.zeroed = np.empty_like(self.frame_rows)
        self.counts = np.zeros(2, dtype=np.int64)  #: frames to zero; the folded loads (see gather_batch)
        if stack:
            self.frame_rows_t = torch.from_numpy(self.frame_rows)
            self.frames_2d = torch.from_numpy(both).view(2 * batch * stack, -1)
            self.frame_words = both.reshape(2 * batch * stack, -1).view(engine.word)
        #: gather_batch's arguments after the slots and bases: the storage's (engine.gather_args), then these
        self.gather_args = (*engine.gather_args, flat_obs, flat_next, action.reshape(batch, -1), reward, discount,
                            self.frame_rows, self.zeroed, self.counts)
        self.batch = Batch(*(torch.from_numpy(a) for a in (obs, action, reward, discount, next_obs, self.weights,
                                                           self.slots)))
        if uniforms:  # the first round of a uniform draw; the sum tree's draw
            self.uniforms = torch.empty(batch + batch // 8 + 16, dtype=torch.float64)
            self.tree_uniforms = torch.empty(batch, dtype=torch.float64)
            self.uniforms_np, self.tree_uniforms_np = self.uniforms.numpy(), self.tree_uniforms.numpy()

