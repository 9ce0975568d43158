"""On-policy rollouts of native envs that never leave the device: one fixed sequence of tensor ops per rollout,
replayed as one CUDA graph on CUDA.

A native env (``fastrl.envs.native``) lives on the learner's device, so policy, env step and rollout storage can
all run there. ``DeviceCollector`` fills a ``fastrl.rollout.Rollout`` from such envs with the transitions
``fastrl.rollout.Collector`` would collect (sync mode; a test holds the two equal), but nothing in it reads a
device value:

- the envs are made with ``check_actions=False`` (the PPO loop's ``env_options`` asks for it): the check reads
  one bool per step, and the policy's actions (an argmax over the action space's n logits) are in range by
  construction;
- each step's episode statistics (``info``) are copied into [T, N] device buffers, and the run counts them
  (``after_step``, which copies them on into its own device rows) once the rollout is done.

**CUDA graphs** (``graphs=True``, CUDA only). Launching a MinAtar step's few hundred small kernels one by one
costs more host time than the GPU spends on them at any batch that fits a rollout; a graph replays the whole
rollout (T policy passes, env steps and stores) with one launch. The first rollout runs eagerly on a side stream
(the warm-up CUDA graphs ask for: lazy buffers and library handles get made there), the second is captured and
then replayed, and every later one is replayed. Hence the rules a graphed rollout relies on:

- ``act`` is the same policy at every call, reading only tensors that stay where they are: its parameters
  (updated in place by the optimizer) and its noise buffer (``PPO.begin_rollout`` refills the same tensor);
- the env's generator is registered with the graph (``register_generator_state``), so every replay takes new
  draws; the learner's generator is used outside the graph (``begin_rollout``);
- host-side counters inside the env advance only while Python runs the body (the warm-up and the capture): the
  env's own step count (named in its error messages) stops there; the run's count (``after_step``) does not.

On the CPU the same body runs eagerly every time: the code path is the same, only the launch differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fastrl.rollout import Policy, Rollout, collect_sync
from fastrl.run.stopwatch import untimed

#: the episode statistics of a step's ``info`` (``fastrl.envs.base``), kept per step
INFO = {"episode_end": torch.bool, "episode_return": torch.float32, "episode_length": torch.int32}


class DeviceCollector:
    """Fills a ``Rollout`` from native ``envs`` without host reads; ``after_step(info)`` is called for each of
    the rollout's steps once it is done; ``clock`` times the stages ``act``, ``env`` and ``store`` as
    ``Collector`` does, and a graph's replay (policy, envs and stores in one launch) as ``rollout``.
    ``graphs``: capture the rollout as a CUDA graph (the envs on CUDA, made with ``check_actions=False``)."""

    def __init__(self, envs, rollout: Rollout, after_step: Callable[[dict[str, Any]], None], clock,
                 graphs: bool = False):
        if envs.backend != "native":
            raise ValueError(f"{envs.env_id}: a device rollout steps native envs, not the {envs.backend} backend")
        if graphs and (rollout.device.type != "cuda" or envs.check_actions):
            raise ValueError(f"{envs.env_id}: a CUDA graph of the rollout needs native envs on CUDA made with "
                             f"check_actions=False (the check reads the device); got {rollout.device}, "
                             f"check_actions={envs.check_actions}")
        self.envs, self.rollout, self.after_step, self.clock, self.graphs = envs, rollout, after_step, clock, graphs
        shape, device = (rollout.num_steps, rollout.num_envs), rollout.device
        rows = {name: torch.zeros(shape, dtype=dtype, device=device) for name, dtype in INFO.items()}
        #: step t's episode statistics, views of [T, N] buffers
        self._infos = [{name: rows[name][t] for name in INFO} for t in range(rollout.num_steps)]
        self._warmed_up = False
        self._graph: torch.cuda.CUDAGraph | None = None

    def begin(self, obs: torch.Tensor) -> None:
        """Start from the envs' reset observation ``obs``."""
        self.rollout.pending.zero_()
        self.rollout.next_obs.copy_(obs)

    def collect(self, act: Policy) -> None:
        """Fill every row of the rollout; afterwards ``rollout.next_obs`` holds the envs' current observations."""
        if not self.graphs:
            self._steps(act, self.clock)
        elif self._graph is not None:
            with self.clock("rollout"):
                self._graph.replay()
        elif self._warmed_up:
            self._graph = self._capture(act)
            with self.clock("rollout"):
                self._graph.replay()
        else:
            self._warm_up(act)
        with self.clock("store"):
            for info in self._infos:
                self.after_step(info)

    def _steps(self, act: Policy, clock) -> None:
        """The rollout's T steps as ``Collector``'s sync mode takes them, each step's ``info`` copied into its
        row of the [T, N] buffers."""
        collect_sync(self.envs, self.rollout, act, clock, self._keep_info)

    def _keep_info(self, t: int, info: dict[str, Any]) -> None:
        for name, rows in self._infos[t].items():
            rows.copy_(info[name])

    def _warm_up(self, act: Policy) -> None:
        """The first rollout, eagerly on a side stream (as ``torch.cuda.graphs`` asks before a capture)."""
        stream = torch.cuda.Stream(self.rollout.device)
        stream.wait_stream(torch.cuda.current_stream(self.rollout.device))
        with torch.cuda.stream(stream):
            self._steps(act, self.clock)
        torch.cuda.current_stream(self.rollout.device).wait_stream(stream)
        self._warmed_up = True

    def _capture(self, act: Policy) -> torch.cuda.CUDAGraph:
        """The rollout's ops recorded (not run) into a graph; the env's generator advances at every replay."""
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.envs.generator)
        with torch.cuda.graph(graph):
            self._steps(act, untimed)
        return graph

    # ---- checkpoints ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What continues these envs' episodes (with their own state): which envs are due an autoreset."""
        return {"pending": self.rollout.pending}

    def load_state_dict(self, state: dict[str, torch.Tensor], obs: torch.Tensor) -> None:
        """Continue from a checkpoint: the envs were restored and ``obs`` is their current observation."""
        self.rollout.pending.copy_(state["pending"])
        self.rollout.next_obs.copy_(obs)
