"""The replay buffer: device storage, the n-step writer and a sampler, behind ``add`` / ``sample``.

Usage, with a ``VecEnv`` (next-step autoreset, see ``fastrl.envs.base``)::

    buffer = ReplayBuffer(BufferConfig(capacity=1_000_000, num_envs=16, obs_shape=(4, 84, 84),
                                       frame_stack=4, n_step=3, prioritized=True), device="cuda")
    obs = env.reset()
    buffer.add(obs)                                        # every stream starts an episode
    while training:
        action = policy(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        buffer.add(obs, action, reward, terminated, truncated)   # exactly what the env returned
        batch = buffer.sample(512, generator)
        ...
        buffer.update_priorities(batch.indices, abs_td)

What a slot is. Env stream ``i``'s observation of step t lives in one slot; the transition stored there is
the one that *starts* at that observation: ``(s_t, a_t, R_t, discount_t, s_{t+n'})`` (see ``nstep.py``).
``action`` and the rewards arrive with later ``add`` calls; the transition becomes valid (sampleable) once
the n-step writer finishes it. Not valid, ever: the terminal observation of an episode (the next step is
the env's autoreset, whose action is ignored: from a done step's observation there is no transition), and,
for frame storage, the oldest ``stack - 1`` positions of each ring, whose stacks would reach frames that
were just overwritten. So a stack never mixes two episodes or both sides of an overwrite.

Atari frames are stored once (``frame_stack > 0``): only the newest frame of each observation, ~7 KB per
transition instead of 56 KB for stacked s and s'; stacks are rebuilt by ``ops.frame_stack_gather``
(see ``frames.py`` for how episode starts are filled).

``checks=True`` (the default) validates every input and verifies that a batch fits the valid transitions;
on CUDA some of these checks read a device value (a sync): a hot GPU loop turns them off once it runs.

The buffer composes parts that know nothing of it: each engine (``cpu.NumbaEngine``, the CPU's;
``torch_engine.TorchEngine``) gets the storage (with its ring layout), the n-step writer, the sampler and
the two counters an ``add`` advances; the sampler owns the priorities (``priorities.py``); ``persist`` reads
and writes state. Imports go one way, from this module down: ``config``, ``batch``, ``storage``, ``nstep``,
``frames``, ``priorities`` < ``sampler`` < the engines, ``persist`` < ``buffer`` (``tests/replay/test_imports.py``
holds the package to no import circle).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from fastrl.devices import with_index
from fastrl.replay import persist
from fastrl.replay.batch import Batch
from fastrl.replay.config import BufferConfig, torch_dtype
from fastrl.replay.cpu import NumbaEngine
from fastrl.replay.memory import format_bytes
from fastrl.replay.nstep import NStepWriter
from fastrl.replay.sampler import PrioritizedSampler, UniformSampler
from fastrl.replay.storage import FieldSpec, RingLayout, Storage
from fastrl.replay.torch_engine import TorchEngine


class ReplayBuffer:
    """Transitions of ``num_envs`` env streams on one device; see the module docstring for the protocol."""

    def __init__(self, config: BufferConfig, device: torch.device | str = "cpu", backend: str | None = None,
                 engine: str | None = None):
        """``backend`` forces the sum tree's backend (prioritized only); ``engine`` the buffer's own engine:
        ``numba`` (the CPU default) or ``torch`` (any device; the CUDA one)."""
        self.config = config
        self.device = with_index(device)
        self.stack = config.frame_stack
        self.obs_dtype = torch_dtype(config.obs_dtype, "obs_dtype")
        self.action_dtype = torch_dtype(config.action_dtype, "action_dtype")
        self.layout = RingLayout(config.num_envs, config.per_env, max(self.stack - 1, 0))
        specs = _field_specs(config, self.obs_dtype, self.action_dtype)
        num_slots = self.layout.num_slots
        extra = self.bytes_needed(config) - Storage.bytes_needed(specs, self.layout)
        self.storage = Storage(specs, self.layout, self.device, extra_bytes=extra, debug=config.debug)
        if config.prioritized:
            self.sampler = PrioritizedSampler(self.storage["valid"], num_slots, config.alpha, config.beta_start,
                                              config.beta_end, config.beta_steps, config.priority_eps, backend)
        else:
            self.sampler = UniformSampler()
        self.writer = NStepWriter(config.num_envs, config.n_step, config.gamma, self.device)
        self.storage["valid"].zero_()  # nothing is sampleable yet (in debug mode too)
        if self.stack and not config.debug:
            self.storage["first"].zero_()
        #: per stream: steps since its episode's first frame, capped at stack - 1 (frame storage)
        self.start_distance = torch.zeros(config.num_envs, dtype=torch.uint8, device=self.device)
        self.num_valid = torch.zeros(1, dtype=torch.int64, device=self.device)  #: valid transitions (device)
        self.steps = 0  #: add calls so far; the next observation goes to ring position steps % per_env
        self.engine = self._make_engine(engine)

    def _make_engine(self, name: str | None):
        """numba on the CPU where the dtypes have numpy equivalents; torch otherwise (``engine`` in __init__)."""
        if name not in (None, "numba", "torch"):
            raise ValueError(f"engine must be 'numba', 'torch' or None (automatic), got {name!r}")
        numpy_dtypes = self.obs_dtype in _NUMBA_DTYPES and self.action_dtype in _NUMBA_DTYPES
        if name is None:
            name = "numba" if self.device.type == "cpu" and numpy_dtypes else "torch"
        parts = (self.config, self.storage, self.writer, self.sampler, self.start_distance, self.num_valid)
        if name == "torch":
            return TorchEngine(*parts)
        if self.device.type != "cpu" or not numpy_dtypes:
            raise ValueError(f"engine 'numba' needs a CPU buffer of dtypes {_NUMBA_DTYPES} (device {self.device}, "
                             f"obs {self.obs_dtype}, action {self.action_dtype})")
        return NumbaEngine(*parts)

    # ------------------------------------------------------------------------------------------- size
    @staticmethod
    def bytes_needed(config: BufferConfig) -> int:
        """Bytes a buffer of ``config`` allocates on its device (what the memory check asks for)."""
        layout = RingLayout(config.num_envs, config.per_env, max(config.frame_stack - 1, 0))
        specs = _field_specs(config, torch_dtype(config.obs_dtype, "obs_dtype"), torch_dtype(config.action_dtype, "action_dtype"))
        sampler = PrioritizedSampler.bytes_needed(layout.num_slots) if config.prioritized else 0
        return Storage.bytes_needed(specs, layout) + sampler + NStepWriter.bytes_needed(config.num_envs, config.n_step)

    @property
    def nbytes(self) -> int:
        """Bytes this buffer holds on its device (storage, sampler, n-step state)."""
        return self.storage.nbytes + self.sampler.nbytes + self.writer.nbytes

    @property
    def written(self) -> int:
        """Ring positions written per stream (all of them once the ring has wrapped)."""
        return min(self.steps, self.layout.per_env)

    def __len__(self) -> int:
        """Valid (sampleable) transitions. Reads a device value: a sync on CUDA."""
        return int(self.num_valid)

    def __repr__(self) -> str:
        kind = f"frames stored once (stack {self.stack})" if self.stack else f"obs {self.config.obs_shape}"
        return (f"ReplayBuffer(capacity={self.config.capacity:,}, num_envs={self.config.num_envs}, {kind}, "
                f"n_step={self.config.n_step}, {self.sampler.kind}, {format_bytes(self.nbytes)} on {self.device})")

    # ------------------------------------------------------------------------------------------- add
    def add(self, obs, action=None, reward=None, terminated=None, truncated=None) -> None:
        """Store one step of every env stream, exactly as the env returned it.

        Call it with ``obs`` alone after ``env.reset()`` (every stream starts an episode; transitions still
        pending are dropped), then after every ``env.step(action)`` with the action sent and what came back:
        ``obs`` [N, *obs_shape], ``action`` [N, *action_shape], ``reward`` [N] float, ``terminated`` and
        ``truncated`` [N] bool. Tensors on any device, or numpy arrays.

        Next-step autoreset is handled here: where a stream's previous step was done, this step is the env's
        autoreset: its action and reward are ignored and its observation starts a new episode. The done
        step's own observation (terminal or truncation observation) is kept as the s' of the transitions that
        end there, and never sampled as an s.
        """
        cfg = self.config
        obs = self._input("obs", obs, (cfg.num_envs, *cfg.obs_shape), (self.obs_dtype,))
        step, position = self.steps, self.steps % self.layout.per_env
        restart = action is None
        if restart:
            if any(x is not None for x in (reward, terminated, truncated)):
                raise ValueError("add: pass obs alone (after env.reset()) or all of obs, action, reward, "
                                 "terminated, truncated (after env.step())")
        else:
            if step == 0:
                raise ValueError("add: the first call after construction takes the observation of env.reset() "
                                 "alone (there is no action before it)")
            action = self._action(action)
            reward = self._input("reward", reward, (cfg.num_envs,), _FLOATS)
            if reward.dtype not in (torch.float32, torch.float64):
                reward = reward.to(torch.float32)
            terminated = self._input("terminated", terminated, (cfg.num_envs,), (torch.bool,))
            truncated = self._input("truncated", truncated, (cfg.num_envs,), (torch.bool,))
            if cfg.checks and cfg.debug:
                _check_finite("reward", reward)
        self.engine.add(restart, step, position, obs, action, reward, terminated, truncated)
        self.steps = step + 1

    # ------------------------------------------------------------------------------------------- sample
    def sample(self, batch: int, generator: torch.Generator | None = None) -> Batch:
        """A batch of ``batch`` transitions (with replacement), drawn by the buffer's sampler.

        ``generator`` (on the buffer's device) makes the draw reproducible. The batch's tensors may be reused
        by a later call: they stay intact until two more batches of the same size are drawn (the CPU engine
        gathers into preallocated outputs), so clone what must live longer.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"sample: batch must be a positive int, got {batch!r}")
        written = self.written * self.config.num_envs
        if batch > written or (self.config.checks and batch > int(self.num_valid)):
            raise ValueError(f"sample: batch {batch} is larger than the {int(self.num_valid)} valid transitions "
                             f"held ({self.steps} steps of {self.config.num_envs} envs added; a transition "
                             f"becomes valid once its {self.config.n_step}-step return is complete)")
        if generator is not None and with_index(generator.device) != self.device:
            raise ValueError(f"sample: the generator is on {generator.device}, the buffer on {self.device}")
        return self.engine.sample(batch, generator, self.written)

    def get(self, slots: torch.Tensor, weights: torch.Tensor | None = None) -> Batch:
        """The transitions stored at ``slots`` (valid ones: as drawn by ``sample``); weights 1 if not given."""
        if self.device.type == "cpu" and slots.numel():  # the CPU kernels read without bounds checks
            low, high = (int(v) for v in torch.aminmax(slots))
            if low < 0 or high >= self.layout.num_slots:
                k = int(torch.nonzero((slots < 0) | (slots >= self.layout.num_slots))[0, 0])
                raise ValueError(f"get: slots[{k}] = {int(slots[k])} is not a slot of this buffer "
                                 f"[0, {self.layout.num_slots})")
        return self.engine.gather(slots, weights)

    # ------------------------------------------------------------------------------------------- priorities
    def update_priorities(self, indices: torch.Tensor, abs_td: torch.Tensor) -> None:
        """Set the priorities of the transitions at ``indices`` (a batch's) from the learner's errors, in one call.

        ``abs_td``: the absolute TD errors |delta| [B], one per index (or whatever nonnegative error the
        learner ranks transitions by: the cross-entropy of a distributional learner). The replay turns them
        into priorities (``(abs_td + priority_eps) ** alpha``, see ``priorities.py``); a learner never does.
        NaN, infinite or negative values raise ``ValueError`` naming the entry (on CUDA only when ``checks``
        is on: the check waits for the device).
        """
        if self.sampler.kind != "prioritized":
            raise TypeError("update_priorities: this buffer samples uniformly (BufferConfig.prioritized=False)")
        if not isinstance(indices, torch.Tensor) or indices.dtype != torch.int64 or indices.dim() != 1:
            raise ValueError(f"update_priorities: indices must be an int64 [B] tensor (Batch.indices), got "
                             f"{_describe(indices)}")
        if not isinstance(abs_td, torch.Tensor):
            abs_td = torch.as_tensor(abs_td)
        if abs_td.shape != indices.shape or not abs_td.dtype.is_floating_point:
            raise ValueError(f"update_priorities: abs_td must be a float tensor of shape {tuple(indices.shape)} "
                             f"(one per index), got {_describe(abs_td)}")
        if abs_td.requires_grad:
            abs_td = abs_td.detach()
        if indices.device != self.device:
            indices = indices.to(self.device)
        if abs_td.device != self.device:
            abs_td = abs_td.to(self.device)
        if abs_td.dtype not in (torch.float32, torch.float64):
            abs_td = abs_td.to(torch.float32)
        if self.config.checks and indices.numel() and self.device.type != "cpu":  # the CPU path checks in its kernel
            low, high = torch.stack(torch.aminmax(indices)).tolist()  # one device sync for both
            if low < 0 or high >= self.layout.num_slots:
                k = int(torch.nonzero((indices < 0) | (indices >= self.layout.num_slots))[0, 0])
                raise ValueError(f"update_priorities: indices[{k}] = {int(indices[k])} is not a slot of this "
                                 f"buffer [0, {self.layout.num_slots})")
        self.sampler.update(indices, abs_td, self.config.checks)

    # ------------------------------------------------------------------------------------------- state
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, meta): everything a resumed run needs, for ``persist.save``."""
        tensors = {f"storage.{k}": v for k, v in self.storage.tensors.items()}
        tensors.update({f"writer.{k}": v for k, v in self.writer.state().items()})
        sampler_tensors, sampler_meta = self.sampler.state()
        tensors.update({f"sampler.{k}": v for k, v in sampler_tensors.items()})
        tensors["buffer.num_valid"] = self.num_valid
        tensors["buffer.start_distance"] = self.start_distance
        meta = {"steps": self.steps, "sampler": {"kind": self.sampler.kind, **sampler_meta}}
        return tensors, meta

    def save(self, path: str | os.PathLike, shard_bytes: int = 256 << 20):
        """Write the whole buffer to the directory ``path`` (see ``persist.py``)."""
        return persist.save(self, path, shard_bytes)

    @staticmethod
    def load(path: str | os.PathLike, device: torch.device | str = "cpu", expect: BufferConfig | None = None,
             backend: str | None = None) -> ReplayBuffer:
        """The buffer saved in ``path``, rebuilt on ``device`` (its memory checked first; see ``persist.py``).

        ``expect``: where given, the saved config must equal it (a resumed run's config), else
        ``persist.CheckpointError`` lists the fields that differ. ``backend``: the sum tree's, as at construction.
        """
        manifest, config = persist.read_manifest(path, expect)
        buffer = ReplayBuffer(config, device=device, backend=backend)
        targets, _ = buffer.state()
        buffer.load_state(persist.read_fields(path, manifest, targets), manifest["meta"])
        return buffer

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore what ``state`` returned (shapes and dtypes already verified by ``persist.read_fields``)."""
        for name, t in self.storage.tensors.items():
            source = tensors[f"storage.{name}"]
            if source is not t:  # persist.read_fields fills the storage tensors in place
                t.copy_(source)
        self.writer.load_state({k[len("writer."):]: v for k, v in tensors.items() if k.startswith("writer.")})
        self.sampler.load_state({k[len("sampler."):]: v for k, v in tensors.items() if k.startswith("sampler.")},
                                meta["sampler"])
        self.num_valid.copy_(tensors["buffer.num_valid"])
        self.start_distance.copy_(tensors["buffer.start_distance"])
        self.steps = int(meta["steps"])

    # ------------------------------------------------------------------------------------------- inputs
    def _input(self, name: str, value, shape: tuple[int, ...], dtypes: tuple[torch.dtype, ...]) -> torch.Tensor:
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        elif not isinstance(value, torch.Tensor):
            raise TypeError(f"add: {name} must be a torch tensor or numpy array, got {type(value).__name__}")
        if value.shape != shape:
            raise ValueError(f"add: {name} has shape {tuple(value.shape)}, expected {shape} "
                             f"(num_envs={self.config.num_envs}{_shape_hint(name, self.config)})")
        if value.dtype not in dtypes:
            want = " or ".join(str(d) for d in dtypes)
            raise TypeError(f"add: {name} has dtype {value.dtype}, expected {want}")
        return value if value.device == self.device else value.to(self.device, non_blocking=True)

    def _action(self, action) -> torch.Tensor:
        cfg = self.config
        if self.action_dtype.is_floating_point:
            allowed = _FLOATS
        else:
            allowed = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
        action = self._input("action", action, (cfg.num_envs, *cfg.action_shape), allowed)
        if cfg.checks and cfg.debug and action.dtype.is_floating_point:
            _check_finite("action", action)
        if action.dtype == self.action_dtype or (self.engine.name == "numba" and action.dtype in _NUMBA_DTYPES):
            return action  # the CPU kernel casts as it stores
        return action.to(self.action_dtype)


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: dtypes the CPU engine's kernels take (numpy equivalents that numba compiles for)
_NUMBA_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float32, torch.float64,
                 torch.bool)


def _field_specs(config: BufferConfig, obs_dtype: torch.dtype, action_dtype: torch.dtype) -> list[FieldSpec]:
    specs = []
    if config.frame_stack:
        specs += [FieldSpec("frames", config.obs_shape[1:], torch.uint8, mirrored=True),
                  FieldSpec("first", (), torch.bool, mirrored=True),
                  FieldSpec("start_distance", (), torch.uint8)]
    else:
        specs.append(FieldSpec("obs", config.obs_shape, obs_dtype, packed=True))
    # what a draw reads of its transition shares one record (see storage.py); horizon and valid stay apart:
    # 1 byte a slot, they stay cached, and a draw reads them before it knows which records it needs
    specs += [FieldSpec("action", config.action_shape, action_dtype, packed=True),
              FieldSpec("reward", (), torch.float32, spare=True, packed=True),
              FieldSpec("discount", (), torch.float32, spare=True, packed=True),
              FieldSpec("horizon", (), torch.uint8, spare=True),
              FieldSpec("valid", (), torch.bool, spare=True)]
    return specs


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"dtype {x.dtype}, shape {tuple(x.shape)}"
    return type(x).__name__


def _shape_hint(name: str, config: BufferConfig) -> str:
    if name == "obs":
        return f", obs_shape={config.obs_shape}"
    if name == "action":
        return f", action_shape={config.action_shape}"
    return ""


def _check_finite(name: str, value: torch.Tensor) -> None:
    bad = ~torch.isfinite(value.reshape(value.shape[0], -1)).all(1)
    if bool(bad.any()):
        env = int(torch.nonzero(bad)[0, 0])
        raise ValueError(f"add: {name} of env {env} is not finite: {value[env].tolist()}")

