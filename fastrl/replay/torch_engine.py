"""The buffer's torch engine: ``add``, uniform draws and the batch gather as torch ops on any device.

This is the engine on CUDA: every op is launched asynchronously and none reads a device value, so an
``add`` or a ``sample`` never waits for the GPU. Masked writes (transitions not finished yet) go to the
storage's spare slot instead of being compacted, and the sampler's priorities are rewritten for a fixed set
of slots per call, for the same reason. On the CPU ``cpu.NumbaEngine`` does the same work in one compiled
call; the tests hold the two to identical results.
"""

from __future__ import annotations

import torch

from fastrl.replay.batch import Batch
from fastrl.replay.config import BufferConfig
from fastrl.replay.frames import gather_stacks
from fastrl.replay.nstep import Finished, NStepWriter
from fastrl.replay.storage import Storage


class TorchEngine:
    name = "torch"

    def __init__(self, config: BufferConfig, storage: Storage, writer: NStepWriter, sampler,
                 start_distance: torch.Tensor, num_valid: torch.Tensor):
        """The buffer's parts: its storage (and ring layout), n-step writer, sampler, and the two counters
        an ``add`` advances (each stream's distance from its episode's first frame; the valid transitions)."""
        self.storage, self.layout, self.writer, self.sampler = storage, storage.layout, writer, sampler
        self.start_distance, self.num_valid = start_distance, num_valid
        self.stack, self.start_fill = config.frame_stack, config.start_fill
        device = self.device = storage.device
        self.bases = self.layout.bases(device)
        self.dump = self.layout.num_slots  # the spare slot of masked writes
        self.behind = torch.arange(1, self.layout.pad + 1, dtype=torch.int64, device=device)

    def add(self, restart: bool, step: int, position: int, obs, action, reward, terminated, truncated) -> None:
        storage, layout = self.storage, self.layout
        if restart:
            finished = self.writer.restart(step)
        else:
            finished = self.writer.step(step, reward, terminated, truncated)
            storage["action"][self.bases + (position - 1) % layout.per_env] = action
        self._write(position, obs, finished)

    def _write(self, position: int, obs: torch.Tensor, finished: Finished) -> None:
        storage, layout, bases = self.storage, self.layout, self.bases
        valid = storage["valid"]
        # Finished transitions: written at their start slots; masked-out lanes land in the spare slot.
        lanes = bases[:, None] + torch.remainder(position - finished.age, layout.per_env)[None, :]
        target = torch.where(finished.closed, lanes, self.dump)
        storage["reward"][target] = finished.returns
        storage["discount"][target] = finished.discount
        storage["horizon"][target] = finished.age.to(torch.uint8).expand_as(target)
        valid.index_fill_(0, target.reshape(-1), True)  # a Scalar fill: `valid[target] = True` copies True to the GPU and waits
        # The new observation's slot (the ring's oldest) and, for stacks, the next stack - 1 positions,
        # whose stacks would now reach the newest frame, stop being valid transitions.
        fresh = bases + position
        cleared = fresh[:, None]
        if layout.pad:
            cleared = torch.cat((cleared, bases[:, None] + torch.remainder(position + self.behind, layout.per_env)), 1)
        cleared = cleared.reshape(-1)
        self.num_valid += finished.closed.sum() - valid[cleared].sum()
        valid.index_fill_(0, cleared, False)
        if self.stack:
            storage.write_position("frames", bases, position, obs[:, -1])
            storage.write_position("first", bases, position, finished.episode_start)
            distance = self.start_distance
            distance.copy_(torch.where(finished.episode_start, 0, torch.clamp(distance + 1, max=self.stack - 1)))
            storage["start_distance"][fresh] = distance
        else:
            storage["obs"][fresh] = obs
        if self.sampler.kind == "prioritized":
            # A fixed set of slots per call: unfinished lanes point at the new slot, which gets 0 anyway.
            slots = torch.cat((torch.where(finished.closed, lanes, fresh[:, None]).reshape(-1), cleared))
            is_new = torch.cat((finished.closed.reshape(-1), torch.zeros_like(cleared, dtype=torch.bool)))
            self.sampler.written(slots, is_new)

    def sample(self, batch: int, generator: torch.Generator | None, written: int) -> Batch:
        """A ``Batch`` drawn by the buffer's sampler (new tensors every call; ``written``: ring positions
        written per stream)."""
        if self.sampler.kind == "prioritized":
            slots, weights = self.sampler.sample(batch, generator)
        else:
            slots, weights = self.draw_uniform(batch, generator, written), None
        return self.gather(slots, weights)

    def draw_uniform(self, batch: int, generator: torch.Generator | None, written: int) -> torch.Tensor:
        """``batch`` valid slots, uniform over the valid transitions (rejection; see ``sampler.py``)."""
        layout, valid = self.layout, self.storage["valid"]
        total = written * layout.num_envs
        accepted, need = [], batch
        while need > 0:
            u = torch.rand(need + need // 8 + 16, generator=generator, dtype=torch.float64, device=self.device)
            r = (u * total).to(torch.int64)
            env = torch.div(r, written, rounding_mode="floor")
            candidates = env * layout.row + layout.pad + (r - env * written)
            keep = candidates[valid[candidates]][:need]  # counting the kept ones reads the device
            accepted.append(keep)
            need -= keep.numel()
        return accepted[0] if len(accepted) == 1 else torch.cat(accepted)

    def gather(self, slots: torch.Tensor, weights: torch.Tensor | None) -> Batch:
        """The transitions at ``slots``, with ``weights`` (1 where None)."""
        storage = self.storage
        horizon = storage["horizon"][slots].to(torch.int64)
        both = torch.cat((slots, self.layout.advance(slots, horizon)))
        if self.stack:
            stacks = gather_stacks(storage["frames"], storage["first"], storage["start_distance"], both,
                                   self.stack, self.start_fill)
        else:
            stacks = storage["obs"].index_select(0, both)
        batch = slots.numel()
        if weights is None:
            weights = torch.ones(batch, dtype=torch.float32, device=self.device)
        return Batch(stacks[:batch], storage["action"][slots], storage["reward"][slots], storage["discount"][slots],
                     stacks[batch:], weights, slots)
