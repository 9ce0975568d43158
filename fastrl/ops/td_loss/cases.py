"""Profile cases for ``td_loss`` (``fastrl profile ops``): B = 32, 512, 4096 at A = 18 (the full Atari set),
or the sizes given as labels, e.g. ``--op td_loss --sizes B=512,A=6``.

Two kinds per size, double-Q weighted Huber (the Rainbow / PER setting):

- ``fwd+bwd``: the loss, the priorities and the gradient with respect to q_taken (``torch.autograd.grad``),
  which is what a learner step pays; the reference then runs autograd through the eager (or compiled) graph.
- ``fwd``: loss and priorities only, with no gradient asked for.
"""

from __future__ import annotations

import torch

from fastrl.ops._cases import Case
from fastrl.ops.td_loss import reference as ref
from fastrl.ops.td_loss import td_loss

OP = "td_loss"
ACTIONS = 18
BATCHES = (32, 512, 4096)


def make_inputs(batch: int, device: torch.device, actions: int = ACTIONS, dtype=torch.float32,
                backward: bool = True, seed: int = 0) -> dict:
    """Q-values ~ N(0, 1), rewards ~ N(0, 1), discounts 0.99^3 with 10% terminations, weights in (0, 1]."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    inputs = {
        "q_taken": torch.randn(batch, generator=gen),
        "q_next_target": torch.randn(batch, actions, generator=gen),
        "q_next_online": torch.randn(batch, actions, generator=gen),
        "rewards": torch.randn(batch, generator=gen),
        "discounts": 0.99**3 * (torch.rand(batch, generator=gen) > 0.1).float(),
        "weights": 1.0 - torch.rand(batch, generator=gen),
    }
    inputs = {k: v.to(device=device, dtype=dtype) for k, v in inputs.items()}
    inputs["q_taken"].requires_grad_(backward)
    return inputs


def _args(inputs: dict) -> tuple:
    return (inputs["q_taken"], inputs["q_next_target"], inputs["q_next_online"], inputs["rewards"],
            inputs["discounts"], inputs["weights"])


def _with_grad(loss: torch.Tensor, abs_td: torch.Tensor, inputs: dict):
    if not inputs["q_taken"].requires_grad:
        return loss, abs_td
    (grad,) = torch.autograd.grad(loss, inputs["q_taken"])
    return loss, abs_td, grad


def run(inputs: dict, backend: str):
    return _with_grad(*td_loss(*_args(inputs), backend=backend), inputs)


def reference(inputs: dict):
    return _with_grad(*ref.td_loss(*_args(inputs)), inputs)


def bytes_moved(inputs: dict) -> int:
    """Read every input once; write |td| (float32), the loss and, with a backward, dloss/dq_taken."""
    read = sum(t.numel() * t.element_size() for t in inputs.values())
    q = inputs["q_taken"]
    grad = q.numel() * q.element_size() if q.requires_grad else 0
    return read + q.numel() * 4 + 4 + grad


def parse_size(size: str) -> tuple[int, int]:
    """(B, A) from a label such as "B=512" or "B=512,A=6" (A defaults to 18)."""
    fields = dict(part.split("=", 1) for part in size.replace(" ", "").split(",") if part)
    unknown = set(fields) - {"B", "A"}
    if "B" not in fields or unknown:
        raise ValueError(f"td_loss size {size!r}: expected B=<batch>[,A=<actions>]")
    return int(fields["B"]), int(fields.get("A", ACTIONS))


def cases(device: torch.device | None = None, sizes: list[str] | None = None) -> list[Case]:
    """Both kinds (fwd+bwd, fwd) at each size; ``device`` is unused (inputs are made per device later)."""
    shapes = [parse_size(s) for s in sizes] if sizes else [(batch, ACTIONS) for batch in BATCHES]
    return [
        Case(op=OP, label=f"B={batch},A={actions},{'fwd+bwd' if backward else 'fwd'}",
             make_inputs=lambda device, b=batch, a=actions, bw=backward: make_inputs(b, device, a, backward=bw),
             run=run, reference=reference, bytes_moved=bytes_moved)
        for batch, actions in shapes for backward in (True, False)
    ]
