"""Profile cases for frame_stack_gather (``fastrl profile ops --op frame_stack_gather``).

A size is ``B=512`` or a bare ``512`` (the batch), optionally with more keys joined by ':' (the command line
splits on commas): ``B=512:cap=100000:stack=4:H=84:W=84``. Defaults: 84x84 frames, stack 4, a ring of
100 000 frames on CUDA (706 MB, far beyond L2, as a real replay) and 10 000 on the CPU. One slot in 100
starts an episode, so some stacks are cut short as in training.

Providers beside the backends: ``loop``, the per-sample Python loop that frame-stacking replay buffers
commonly use (indices and marks read on the host, one frame copy per position). The marks are handed to it
as a host list made once, which favours it.
"""

from __future__ import annotations

import torch

from fastrl.ops._cases import Case
from fastrl.ops.frame_stack_gather import OP, frame_stack_gather, reference

DEFAULT_SIZES = ("B=32", "B=256", "B=512")
EPISODE_START_RATE = 0.01
_KEYS = {"B": "batch", "cap": "capacity", "stack": "stack", "H": "height", "W": "width"}


def parse_size(text: str, device: torch.device) -> dict[str, int]:
    """``"B=512:cap=1000"`` (or ``"512"``) -> the case's dimensions, defaults filled in."""
    size = {"batch": 0, "capacity": 100_000 if device.type == "cuda" else 10_000, "stack": 4,
            "height": 84, "width": 84}
    for part in text.replace(",", ":").split(":"):
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "B", key
        if key.strip() not in _KEYS or not value.strip().isdigit():
            raise ValueError(f"{OP} size {text!r}: cannot read {part!r}; expected key=int with keys "
                             f"{sorted(_KEYS)} joined by ':' (e.g. B=512:cap=100000)")
        size[_KEYS[key.strip()]] = int(value)
    if min(size.values()) < 1 or size["stack"] > size["capacity"]:
        raise ValueError(f"{OP} size {text!r}: need every size >= 1 and stack <= cap, got {size}")
    return size


def cases(device, sizes=None) -> list[Case]:
    device = torch.device(device)
    return [_case(parse_size(text, device)) for text in (sizes or DEFAULT_SIZES)]


def _case(size: dict[str, int]) -> Case:
    batch, capacity, stack, height, width = (size[k] for k in ("batch", "capacity", "stack", "height", "width"))

    def make_inputs(device: torch.device) -> dict:
        g = torch.Generator(device=device).manual_seed(0)
        frames = torch.randint(0, 256, (capacity, height, width), dtype=torch.uint8, device=device, generator=g)
        mask = torch.rand(capacity, device=device, generator=g) < EPISODE_START_RATE
        indices = torch.randint(0, capacity, (batch,), device=device, generator=g)
        out = torch.empty((batch, stack, height, width), dtype=torch.uint8, device=device)
        return {"frames": frames, "indices": indices, "mask": mask, "out": out, "mask_host": mask.tolist()}

    def run(inputs: dict, backend: str) -> torch.Tensor:
        # The replay sampler draws its own indices, so it gathers unchecked: that is the call measured.
        return frame_stack_gather(inputs["frames"], inputs["indices"], inputs["mask"], stack, out=inputs["out"],
                                  backend=backend, check_indices=False)

    def reference_fn(inputs: dict) -> torch.Tensor:
        return reference.frame_stack_gather(inputs["frames"], inputs["indices"], inputs["mask"], stack)

    def bytes_moved(inputs: dict) -> int:
        slots = reference.stack_slots(inputs["indices"], capacity, stack)
        kept = int(reference.kept_positions(slots, inputs["mask"]).sum())
        frame = height * width
        # stacks written, kept frames read, the indices, and the marks of the newer positions
        return batch * stack * frame + kept * frame + batch * 8 + batch * (stack - 1)

    def loop(inputs: dict) -> torch.Tensor:
        frames, starts, out = inputs["frames"], inputs["mask_host"], inputs["out"]
        out.zero_()
        for b, newest in enumerate(inputs["indices"].tolist()):
            for back in range(stack):
                slot = (newest - back) % capacity
                out[b, stack - 1 - back] = frames[slot]
                if starts[slot]:
                    break
        return out

    label = f"B={batch},cap={capacity},stack={stack},{height}x{width}"
    return Case(op=OP, label=label, make_inputs=make_inputs, run=run, reference=reference_fn,
                bytes_moved=bytes_moved, peers={"loop": loop})
