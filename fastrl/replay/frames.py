"""Frame stacks rebuilt at sample time from frames stored once, the way the env stacked them.

The storage keeps only the newest frame of each observation (obs[:, -1]); ``ops.frame_stack_gather`` rebuilds
a stack from the frames before it in the same stream and zero-fills positions older than an episode start.
Within an episode that is exactly the env's stack. At an episode's first ``stack - 1`` steps the env's stack
reaches back before the episode: envpool (and gymnasium's ``FrameStackObservation``) repeat the reset frame
there, so ``fill="repeat"`` copies the episode's first frame into the zeroed positions and the stacks equal
the env's stacks at every step. ``fill="zero"`` keeps the op's zeros (Dopamine's convention; one less pass).

Known difference: with envpool's ``episodic_life`` a life loss resets the episode without clearing the
env's stack, so its first ``stack - 1`` observations of a new life carry frames of the previous life, which
the buffer (that sees the life loss as an episode start) replaces by repeats of the first frame (or zeros).
"""

from __future__ import annotations

from typing import Literal

import torch

from fastrl.ops.frame_stack_gather import frame_stack_gather

Fill = Literal["repeat", "zero"]


def gather_stacks(frames: torch.Tensor, first_frame_mask: torch.Tensor, start_distance: torch.Tensor,
                  slots: torch.Tensor, stack: int, fill: Fill) -> torch.Tensor:
    """uint8 [B, stack, H, W]: the stacks whose newest frames are at ``slots``.

    ``start_distance[s]``: steps from slot ``s`` back to its episode's first frame, capped at ``stack - 1``
    (stacks whose distance is below ``stack - 1`` cross the episode start).
    """
    out = frame_stack_gather(frames, slots, first_frame_mask, stack=stack, check_indices=False)
    if fill == "repeat" and stack > 1:
        out = _repeat_first_frame(out, start_distance[slots].to(torch.int64), stack)
    return out


def _repeat_first_frame(out: torch.Tensor, distance: torch.Tensor, stack: int) -> torch.Tensor:
    """Replace the zero-filled positions (older than the episode start) by the episode's first frame.

    Position ``k`` (0 = oldest) of a stack at distance ``d`` from its episode start holds the frame of
    position ``max(k, stack - 1 - d)``. On the CPU only the stacks that cross a start are touched; on CUDA
    the whole batch goes through one gather, which needs no count of those stacks (no device sync).
    """
    first = stack - 1 - distance                                            # [B]
    positions = torch.arange(stack, device=out.device)
    if out.device.type == "cpu":
        rows = torch.nonzero(first > 0).squeeze(1)
        if rows.numel():
            source = torch.maximum(positions[None, :], first[rows, None])
            out[rows] = torch.take_along_dim(out[rows], source[:, :, None, None], dim=1)
        return out
    source = torch.maximum(positions[None, :], first[:, None])
    return torch.take_along_dim(out, source[:, :, None, None], dim=1)
