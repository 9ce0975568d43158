"""Profile cases for ``mlp_q`` (``fastrl profile ops --op mlp_q``): one DQN step, and greedy acting, at the
shapes of SB3's CartPole DQN (batch 32, 64x64), fastrl's dqn-cartpole preset (batch 64, 128x128) and a
LunarLander-sized learner (batch 256, 256x256), or the sizes given as labels: ``--sizes B=128,H=64x64``.

An update case returns its statistics, |td| and the parameters after the step, so the profiler's check covers
the whole step (the inputs are made anew for each provider: the step writes in place).
"""

from __future__ import annotations

import torch

from fastrl.ops import mlp_q
from fastrl.ops._cases import Case
from fastrl.ops.mlp_q import reference as ref
from fastrl.ops.mlp_q.layout import parameter_count

#: (batch, hidden widths, observation features, actions)
DEFAULT_SIZES = ((32, (64, 64), 4, 2), (64, (128, 128), 4, 2), (256, (256, 256), 8, 4))


def make_inputs(batch: int, dims: tuple[int, ...], device, seed: int = 0) -> dict:
    """Parameters ~ N(0, 0.1²), a target a little apart, Adam three steps in, 20% terminations."""
    gen = torch.Generator().manual_seed(seed)
    size, features, actions = parameter_count(dims), dims[0], dims[-1]
    params = 0.1 * torch.randn(size, generator=gen)
    inputs = {
        "params": params, "target": params + 0.01 * torch.randn(size, generator=gen),
        "exp_avg": 1e-3 * torch.randn(size, generator=gen), "exp_avg_sq": 1e-6 * torch.rand(size, generator=gen),
        "step": torch.full((2 * (len(dims) - 1),), 3.0), "obs": torch.randn(batch, features, generator=gen),
        "action": torch.randint(0, actions, (batch,), generator=gen), "reward": torch.randn(batch, generator=gen),
        "discount": 0.99 * (torch.rand(batch, generator=gen) > 0.2).float(),
        "next_obs": torch.randn(batch, features, generator=gen), "weights": 1.0 - torch.rand(batch, generator=gen),
    }
    return {k: v.to(device) for k, v in inputs.items()} | {"dims": dims}


_ARGS = ("params", "target", "exp_avg", "exp_avg_sq", "step", "dims", "obs", "action", "reward", "discount",
         "next_obs", "weights")
_OPTIONS = {"double": True, "loss": "huber", "lr": 1e-3, "max_grad_norm": 10.0}


def _outputs(inputs: dict, result) -> tuple[torch.Tensor, ...]:
    loss, q_mean, norm, abs_td = result
    return torch.tensor([loss, q_mean, norm]), abs_td.clone(), inputs["params"]


def run_update(inputs: dict, backend: str):
    return _outputs(inputs, mlp_q.update(*(inputs[k] for k in _ARGS), backend=backend, **_OPTIONS))


def reference_update(inputs: dict):
    return _outputs(inputs, ref.update(*(inputs[k] for k in _ARGS), betas=(0.9, 0.999), eps=1e-8,
                                       huber_kappa=1.0, **_OPTIONS))


def update_bytes(inputs: dict) -> int:
    """Read the parameters, target and moments, write parameters and moments: the batch is small beside them."""
    return 7 * inputs["params"].numel() * 4


def parse_size(size: str) -> tuple[int, tuple[int, ...], int, int]:
    """(B, hidden, D, A) from a label such as "B=128,H=64x64" (D 4, A 2 unless given)."""
    fields = dict(part.split("=", 1) for part in size.replace(" ", "").split(",") if part)
    if "B" not in fields or set(fields) - {"B", "H", "D", "A"}:
        raise ValueError(f"mlp_q size {size!r}: expected B=<batch>[,H=<w1>x<w2>...][,D=<features>][,A=<actions>]")
    hidden = tuple(int(w) for w in fields.get("H", "64x64").split("x") if w)
    return int(fields["B"]), hidden, int(fields.get("D", 4)), int(fields.get("A", 2))


def cases(device: torch.device | None = None, sizes: list[str] | None = None) -> list[Case]:
    shapes = [parse_size(s) for s in sizes] if sizes else list(DEFAULT_SIZES)
    out = []
    for batch, hidden, features, actions in shapes:
        dims = (features, *hidden, actions)
        label = f"B={batch},H={'x'.join(map(str, hidden))},D={features},A={actions}"
        out.append(Case(op=mlp_q.OP_UPDATE, label=label,
                        make_inputs=lambda device, b=batch, d=dims: make_inputs(b, d, device),
                        run=run_update, reference=reference_update, bytes_moved=update_bytes))
        out.append(Case(op=mlp_q.OP_GREEDY, label=f"N=1,H={'x'.join(map(str, hidden))},D={features},A={actions}",
                        make_inputs=lambda device, d=dims: make_inputs(1, d, device),
                        run=lambda inputs, backend: mlp_q.greedy(inputs["params"], inputs["dims"], inputs["obs"],
                                                                 backend=backend).clone(),
                        reference=lambda inputs: ref.greedy(inputs["params"], inputs["dims"], inputs["obs"]),
                        bytes_moved=lambda inputs: inputs["params"].numel() * 4))
    return out
