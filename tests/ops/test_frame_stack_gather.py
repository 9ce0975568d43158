"""frame_stack_gather: the reference against a plain per-sample definition and hand-made stacks, every fast
backend against the reference on fresh random rings, and the argument checks."""

from __future__ import annotations

import pytest
import torch

from fastrl.ops import _registry
from fastrl.ops.frame_stack_gather import OP, frame_stack_gather, reference

CUDA = torch.cuda.is_available()


def definition(frames, indices, mask, stack):
    """The op written as its sentence: walk back from the newest slot, stop after a marked one."""
    capacity = frames.shape[0]
    out = torch.zeros((len(indices), stack, *frames.shape[1:]), dtype=torch.uint8, device=frames.device)
    for b, newest in enumerate(indices.tolist()):
        for back in range(stack):
            slot = (newest - back) % capacity
            out[b, stack - 1 - back] = frames[slot]
            if mask[slot]:
                break
    return out


def random_ring(capacity, height, width, batch, start_rate, device, mask_dtype=torch.bool):
    # nonzero frames everywhere, so a zero-filled position can never pass for a copied one
    frames = torch.randint(1, 256, (capacity, height, width), dtype=torch.uint8)
    mask = (torch.rand(capacity) < start_rate).to(mask_dtype)
    indices = torch.randint(0, capacity, (batch,))
    # make sure some stacks wrap around the ring's start
    wrapping = max(1, batch // 4)
    indices[:wrapping] = torch.randint(0, min(3, capacity), (wrapping,))
    return frames.to(device), indices.to(device), mask.to(device)


def run(frames, indices, mask, stack, backend, **kw):
    out = frame_stack_gather(frames, indices, mask, stack, backend=backend, **kw)
    assert _registry.last_backend(OP) == backend
    return out


# ----------------------------------------------------------------------------- the reference is the definition

@pytest.mark.parametrize("batch,capacity,stack", [(1, 5, 4), (37, 11, 4), (256, 64, 4), (37, 9, 1), (20, 6, 6)])
@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.uint8])
def test_reference_matches_definition(batch, capacity, stack, mask_dtype):
    frames, indices, mask = random_ring(capacity, 3, 5, batch, 0.3, "cpu", mask_dtype)
    got = run(frames, indices, mask, stack, "reference")
    assert torch.equal(got, definition(frames, indices, mask, stack))


def test_start_inside_stack_zero_fills_older_frames():
    frames = torch.arange(1, 11, dtype=torch.uint8).view(10, 1, 1).expand(10, 2, 3).contiguous()
    mask = torch.zeros(10, dtype=torch.bool)
    mask[5] = True  # slot 5 starts an episode
    out = run(frames, torch.tensor([6, 7, 9, 5]), mask, 4, "reference")
    values = out[:, :, 0, 0].tolist()
    assert values == [[0, 0, 6, 7], [0, 6, 7, 8], [7, 8, 9, 10], [0, 0, 0, 6]]
    assert (out == out[:, :, :1, :1]).all()  # whole frames, not just their first byte


def test_start_at_newest_slot_keeps_only_the_newest_frame():
    frames = torch.arange(1, 9, dtype=torch.uint8).view(8, 1, 1).expand(8, 4, 4).contiguous()
    mask = torch.zeros(8, dtype=torch.uint8)
    mask[2] = 1
    out = run(frames, torch.tensor([2]), mask, 4, "reference")
    assert out[0, :, 0, 0].tolist() == [0, 0, 0, 3]


def test_wraps_around_the_ring_start():
    frames = torch.arange(1, 7, dtype=torch.uint8).view(6, 1, 1).contiguous()
    mask = torch.zeros(6, dtype=torch.bool)
    out = run(frames, torch.tensor([1]), mask, 4, "reference")
    assert out.flatten().tolist() == [5, 6, 1, 2]  # slots 4, 5, 0, 1
    mask[5] = True  # the write-head rule marks the oldest slot: the stack stops there
    out = run(frames, torch.tensor([1]), mask, 4, "reference")
    assert out.flatten().tolist() == [0, 6, 1, 2]


def test_out_is_filled_and_returned():
    frames, indices, mask = random_ring(16, 4, 4, 9, 0.3, "cpu")
    out = torch.full((9, 4, 4, 4), 77, dtype=torch.uint8)
    got = frame_stack_gather(frames, indices, mask, 4, out=out)
    assert got is out
    assert torch.equal(out, definition(frames, indices, mask, 4))


def test_empty_batch():
    frames, _, mask = random_ring(8, 2, 2, 1, 0.3, "cpu")
    out = frame_stack_gather(frames, torch.empty(0, dtype=torch.int64), mask, 4)
    assert out.shape == (0, 4, 2, 2)


def test_cpu_chooses_reference():
    frames, indices, mask = random_ring(8, 2, 2, 3, 0.3, "cpu")
    frame_stack_gather(frames, indices, mask)
    assert _registry.last_backend(OP) == "reference"


# ----------------------------------------------------------------------------- fast backends vs reference

def _check_backend(backend, device, batch, capacity, stack, height, width, start_rate):
    frames, indices, mask = random_ring(capacity, height, width, batch, start_rate, device)
    want = run(frames, indices, mask, stack, "reference")
    got = run(frames, indices, mask, stack, backend)
    assert got.dtype == torch.uint8 and got.shape == want.shape
    assert torch.equal(got, want), f"{backend}: {(got != want).sum().item()} bytes differ from the reference"
    out = torch.full_like(want, 255)  # a reused buffer with stale contents
    assert run(frames, indices, mask, stack, backend, out=out) is out
    assert torch.equal(out, want)


# The interpreter runs Triton on CPU tensors: small frames (odd sizes, so masking of the row tail is tested)
# and one 84x84 case for the real frame size.
TRITON_SHAPES = [
    (1, 5, 4, 84, 84, 0.3),
    (37, 13, 4, 7, 5, 0.3),
    (37, 6, 1, 3, 3, 0.5),
    (256, 40, 4, 4, 4, 0.2),
    (256, 300, 1, 2, 3, 0.2),
]


@pytest.mark.parametrize("batch,capacity,stack,height,width,start_rate", TRITON_SHAPES)
def test_triton_matches_reference(batch, capacity, stack, height, width, start_rate):
    device = "cuda" if CUDA else "cpu"
    reason = _registry.unavailable_reason(OP, "triton", device)
    if reason:
        pytest.skip(reason)
    _check_backend("triton", device, batch, capacity, stack, height, width, start_rate)


def test_unavailable_backend_is_refused():
    frames, indices, mask = random_ring(8, 2, 2, 3, 0.3, "cpu")
    with pytest.raises(_registry.BackendUnavailable, match="cuda"):
        frame_stack_gather(frames, indices, mask, backend="cuda")


GPU_SHAPES = [
    (1, 5, 4, 84, 84, 0.3),       # 16-byte loads
    (37, 13, 4, 7, 5, 0.3),       # 35-byte frames: byte loads
    (256, 64, 1, 6, 6, 0.2),      # 36-byte frames: 4-byte loads
    (512, 10_000, 4, 84, 84, 0.01),
    (512, 50, 4, 84, 84, 0.2),
]


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
@pytest.mark.parametrize("batch,capacity,stack,height,width,start_rate", GPU_SHAPES)
def test_gpu_backend_matches_reference(backend, batch, capacity, stack, height, width, start_rate):
    reason = _registry.unavailable_reason(OP, backend, "cuda")
    if reason:
        pytest.skip(reason)
    _check_backend(backend, "cuda", batch, capacity, stack, height, width, start_rate)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
def test_gpu_backend_on_offset_frames(backend):
    """A ring that is a view starting one 36-byte frame into its storage: narrower loads, same result."""
    reason = _registry.unavailable_reason(OP, backend, "cuda")
    if reason:
        pytest.skip(reason)
    storage, indices, mask = random_ring(65, 6, 6, 512, 0.1, "cuda")
    frames = storage[1:]
    indices = indices.remainder(64)
    mask = mask[1:].contiguous()
    assert torch.equal(run(frames, indices, mask, 4, backend), run(frames, indices, mask, 4, "reference"))


@pytest.mark.gpu
def test_cuda_is_chosen_on_gpu():
    if _registry.unavailable_reason(OP, "cuda", "cuda"):
        pytest.skip(_registry.unavailable_reason(OP, "cuda", "cuda"))
    frames, indices, mask = random_ring(8, 2, 2, 3, 0.3, "cuda")
    frame_stack_gather(frames, indices, mask)
    assert _registry.last_backend(OP) == "cuda"


# ----------------------------------------------------------------------------- bad input

def _args(**change):
    frames, indices, mask = random_ring(8, 2, 2, 3, 0.3, "cpu")
    args = {"frames": frames, "indices": indices, "first_frame_mask": mask, "stack": 4}
    args.update(change)
    return args


@pytest.mark.parametrize("change,error,match", [
    ({"frames": torch.zeros(8, 2, 2)}, TypeError, "frames have dtype torch.float32, expected torch.uint8"),
    ({"frames": torch.zeros(8, 4, dtype=torch.uint8)}, ValueError, r"expected \[capacity, H, W\]"),
    ({"frames": torch.zeros(2, 8, 2, dtype=torch.uint8).transpose(0, 1)}, ValueError, "must be contiguous"),
    ({"indices": torch.zeros(3, dtype=torch.int32)}, TypeError, "indices have dtype torch.int32"),
    ({"indices": torch.zeros(3, 1, dtype=torch.int64)}, TypeError, r"expected int64 \[B\]"),
    ({"indices": torch.tensor([0, 8, 1])}, IndexError, r"indices\[1\] = 8 is outside the ring \[0, capacity=8\)"),
    ({"indices": torch.tensor([0, 1, -1])}, IndexError, r"indices\[2\] = -1"),
    ({"first_frame_mask": torch.zeros(7, dtype=torch.bool)}, ValueError, r"expected bool or uint8 \[capacity=8\]"),
    ({"first_frame_mask": torch.zeros(8)}, ValueError, "first_frame_mask has dtype torch.float32"),
    ({"stack": 0}, ValueError, r"stack=0, expected an int in \[1, capacity=8\]"),
    ({"stack": 9}, ValueError, "stack=9"),
    ({"out": torch.empty(3, 4, 2, 3, dtype=torch.uint8)}, ValueError, r"expected a contiguous uint8 tensor of shape \(3, 4, 2, 2\)"),
    ({"indices": [0, 1]}, TypeError, "indices must be a torch.Tensor, got list"),
])
def test_bad_input_is_explained(change, error, match):
    with pytest.raises(error, match=match):
        frame_stack_gather(**_args(**change))


@pytest.mark.parametrize("backend", ["reference", "triton", "cuda"])
def test_unchecked_indices_wrap_like_the_reference(backend):
    device = "cuda" if CUDA else "cpu"
    reason = _registry.unavailable_reason(OP, backend, device)
    if reason:
        pytest.skip(reason)
    frames, _, mask = random_ring(8, 2, 2, 1, 0.3, device)
    wild = torch.tensor([8, -1, 19, -17], device=device)
    got = run(frames, wild, mask, 4, backend, check_indices=False)
    assert torch.equal(got, frame_stack_gather(frames, wild.remainder(8), mask))
    assert torch.equal(got, reference.frame_stack_gather(frames, wild, mask, 4))
