"""categorical_projection: every backend against the torch reference, the reference against two independent
formulations, known projections (exact shifts, clamping, integer positions), and the input checks.

Without a GPU the Triton kernel runs in Triton's interpreter on CPU tensors (tests/conftest.py) and the CUDA
C backend is skipped visibly (``gpu`` mark); with one, both run on CUDA tensors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fastrl.ops import _registry
from fastrl.ops.categorical_projection import cases as peers
from fastrl.ops.categorical_projection import categorical_projection

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FUSED = [pytest.param("triton", id="triton"), pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]
ALL = [pytest.param("reference", id="reference"), *FUSED]

# All backends compute in float32 from the same input values (bfloat16 inputs included), so outputs are
# compared at float32 precision: each output is a sum of up to `atoms` products, ~atoms * 2^-24 absolute.
F32 = {"rtol": 1e-5, "atol": 1e-5}
EXACT = {"rtol": 0.0, "atol": 1e-6}  # known cases on a dz = 1 support: every weight is exact
UNIT = (-5.0, 5.0, 11)  # z = -5, -4, ..., 5: dz = 1


def make_inputs(batch: int, support, dtype=torch.float32, seed: int = 0, device: str = DEVICE) -> dict:
    """Softmax rows (some very peaked), rewards reaching past both ends of the support, 20% terminations."""
    gen = torch.Generator().manual_seed(seed)
    v_min, v_max, atoms = support
    logits = torch.randn(batch, atoms, generator=gen) * (1.0 + 4.0 * torch.rand(batch, 1, generator=gen))
    span = v_max - v_min
    rewards = span * (torch.rand(batch, generator=gen) - 0.5) * 1.5
    discounts = 0.99 * (torch.rand(batch, generator=gen) > 0.2).float()
    return {"next_probs": torch.softmax(logits, dim=1).to(device, dtype), "rewards": rewards.to(device, dtype),
            "discounts": discounts.to(device, dtype), "support": support}


def project(inputs: dict, backend: str) -> torch.Tensor:
    return categorical_projection(inputs["next_probs"], inputs["rewards"], inputs["discounts"],
                                  inputs["support"], backend=backend)


def one_row(probs, reward: float, discount: float, support=UNIT) -> dict:
    t = lambda v: torch.tensor(v, dtype=torch.float32, device=DEVICE)  # noqa: E731
    return {"next_probs": t([probs]), "rewards": t([reward]), "discounts": t([discount]), "support": support}


def one_hot(index: int, atoms: int = 11) -> list[float]:
    return [1.0 if i == index else 0.0 for i in range(atoms)]


# ---------------------------------------------------------------------------------------------------------
# against the reference
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", FUSED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("batch", [1, 37, 512])
@pytest.mark.parametrize("support", [(-10.0, 10.0, 51), UNIT, (0.0, 1.0, 7)], ids=["51", "11", "7"])
def test_matches_reference(backend, dtype, batch, support):
    inputs = make_inputs(batch, support, dtype, seed=batch + support[2])
    got = project(inputs, backend)
    assert _registry.last_backend("categorical_projection") == backend
    want = project(inputs, "reference")
    assert got.dtype == torch.float32 and got.shape == (batch, support[2])
    torch.testing.assert_close(got, want, **F32)
    torch.testing.assert_close(got.sum(1), inputs["next_probs"].float().sum(1), **F32)


@pytest.mark.parametrize("backend", FUSED)
def test_many_atoms(backend):
    """101 atoms: more than one chunk of target atoms (Triton's BLOCK_J, the CUDA kernel's 32 lanes)."""
    inputs = make_inputs(19, (-20.0, 30.0, 101), seed=4)
    torch.testing.assert_close(project(inputs, backend), project(inputs, "reference"), **F32)


@pytest.mark.parametrize("backend", FUSED)
def test_strided_inputs(backend):
    inputs = make_inputs(23, (-10.0, 10.0, 51), seed=6)
    packed = torch.stack([inputs["rewards"], inputs["discounts"]], dim=1)  # stride 2
    transposed = inputs["next_probs"].t().contiguous().t()  # [B, atoms] with strides (1, B)
    strided = dict(inputs, next_probs=transposed, rewards=packed[:, 0], discounts=packed[:, 1])
    torch.testing.assert_close(project(strided, backend), project(inputs, "reference"), **F32)


@pytest.mark.parametrize("peer", ["python-loop", "dense-gather"])
def test_reference_agrees_with_independent_formulations(peer):
    """The index_add_ scatter (reference), the per-sample loop and the dense gather are three derivations."""
    inputs = make_inputs(29, (-10.0, 10.0, 51), seed=8, device="cpu")
    fn = {"python-loop": peers.python_loop, "dense-gather": peers.dense_gather}[peer]
    torch.testing.assert_close(fn(inputs), project(inputs, "reference"), **F32)


# ---------------------------------------------------------------------------------------------------------
# known projections on the unit support z = -5 .. 5
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ALL)
def test_mass_on_one_atom_shifts_exactly_onto_another(backend):
    # atom 3 (z = -2): -2 * 1 + 1 = -1 = atom 4
    out = project(one_row(one_hot(3), reward=1.0, discount=1.0), backend)
    torch.testing.assert_close(out[0], torch.tensor(one_hot(4), device=DEVICE), **EXACT)
    # atom 8 (z = 3): 3 * 0.5 - 1 = 0.5, halfway between atoms 5 and 6
    out = project(one_row(one_hot(8), reward=-1.0, discount=0.5), backend)
    want = [0.5 if i in (5, 6) else 0.0 for i in range(11)]
    torch.testing.assert_close(out[0], torch.tensor(want, device=DEVICE), **EXACT)


@pytest.mark.parametrize("backend", ALL)
def test_targets_beyond_the_support_clamp_to_its_ends(backend):
    out = project(one_row(one_hot(10), reward=3.0, discount=1.0), backend)  # 5 + 3 = 8 > v_max
    torch.testing.assert_close(out[0], torch.tensor(one_hot(10), device=DEVICE), **EXACT)
    out = project(one_row(one_hot(2), reward=-20.0, discount=0.9), backend)  # far below v_min
    torch.testing.assert_close(out[0], torch.tensor(one_hot(0), device=DEVICE), **EXACT)


@pytest.mark.parametrize("backend", ALL)
def test_positions_on_atoms_keep_all_their_mass(backend):
    probs = [float(i + 1) for i in range(11)]
    probs = [p / sum(probs) for p in probs]
    # r = 0, discount = 1: every atom maps onto itself, so the projection is the identity
    out = project(one_row(probs, reward=0.0, discount=1.0), backend)
    torch.testing.assert_close(out[0], torch.tensor(probs, device=DEVICE), **EXACT)
    # r = 2: a shift by two atoms; the top three land on (or past) v_max
    out = project(one_row(probs, reward=2.0, discount=1.0), backend)
    want = [0.0, 0.0, *probs[:8]]
    want.append(probs[8] + probs[9] + probs[10])
    torch.testing.assert_close(out[0], torch.tensor(want, device=DEVICE), **EXACT)


@pytest.mark.parametrize("backend", ALL)
def test_terminal_rows_put_all_mass_at_the_reward(backend):
    probs = [1.0 / 11] * 11
    out = project(one_row(probs, reward=1.5, discount=0.0), backend)  # every atom -> 1.5: atoms 6 and 7
    want = [0.5 if i in (6, 7) else 0.0 for i in range(11)]
    torch.testing.assert_close(out[0], torch.tensor(want, device=DEVICE), **EXACT)


@pytest.mark.parametrize("backend", ALL)
def test_rows_sum_to_one(backend):
    inputs = make_inputs(64, (-10.0, 10.0, 51), seed=10)
    out = project(inputs, backend)
    assert bool((out >= 0).all())
    torch.testing.assert_close(out.sum(1), torch.ones(64, device=DEVICE), **F32)


def test_the_identity_case_catches_the_classic_floor_ceil_bug():
    """The literal Algorithm 1 (u = ceil(b)) gives an atom-aligned target weight 0 to both neighbours; the
    identity case above would see that as lost mass. This keeps that test honest."""
    probs = [1.0 / 11] * 11
    v_min, v_max, atoms = UNIT
    dz = (v_max - v_min) / (atoms - 1)
    out = [0.0] * atoms
    for j, p in enumerate(probs):
        b = (min(v_max, max(v_min, 0.0 + 1.0 * (v_min + j * dz))) - v_min) / dz
        lower, upper = math.floor(b), math.ceil(b)
        out[lower] += p * (upper - b)
        out[upper] += p * (b - lower)
    assert sum(out) == 0.0
    assert float(project(one_row(probs, 0.0, 1.0), "reference").sum()) == pytest.approx(1.0)


def test_automatic_choice_on_cpu_is_the_reference():
    project(make_inputs(3, UNIT, device="cpu"), None)
    assert _registry.last_backend("categorical_projection") == "reference"


# ---------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------

def _bad(**changes) -> dict:
    inputs = make_inputs(4, UNIT, seed=1, device="cpu")
    inputs.update(changes)
    return inputs


BAD = {
    "atoms-mismatch": (_bad(support=(-5.0, 5.0, 12)), ValueError,
                       r"next_probs has shape \(4, 11\); expected \[B, atoms\] = \[4, 12\]"),
    "empty-range": (_bad(support=(5.0, 5.0, 11)), ValueError, "v_min < v_max"),
    "infinite-range": (_bad(support=(-math.inf, 5.0, 11)), ValueError, "finite numbers"),
    "one-atom": (_bad(support=(-5.0, 5.0, 1), next_probs=torch.ones(4, 1)), ValueError, "integer >= 2"),
    "float-atoms": (_bad(support=(-5.0, 5.0, 11.0)), ValueError, "integer >= 2"),
    "not-a-triple": (_bad(support=(-5.0, 5.0)), TypeError, r"support must be \(v_min, v_max, atoms\)"),
    "empty-batch": (_bad(next_probs=torch.zeros(0, 11), rewards=torch.zeros(0), discounts=torch.zeros(0)),
                    ValueError, "empty batch"),
    "probs-1d": (_bad(next_probs=torch.ones(11)), ValueError, r"next_probs has shape \(11,\); expected 2"),
    "rewards-shape": (_bad(rewards=torch.zeros(3)), ValueError, r"rewards has shape \(3,\); expected \[B\] = \[4\]"),
    "int-dtype": (_bad(discounts=torch.zeros(4, dtype=torch.int64)), TypeError,
                  "discounts has dtype torch.int64"),
    "other-device": (_bad(rewards=torch.zeros(4, device="meta")), ValueError,
                     "rewards is on meta but next_probs is on"),
}


def test_support_as_a_list_and_numpy_numbers_is_accepted():
    inputs = make_inputs(3, UNIT, seed=2, device="cpu")
    want = project(inputs, "reference")
    odd = dict(inputs, support=[np.float32(-5.0), 5, np.int64(11)])
    torch.testing.assert_close(project(odd, "reference"), want, **EXACT)


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_clearly(case):
    inputs, error, message = BAD[case]
    with pytest.raises(error, match=message):
        project(inputs, "reference")


def test_check_finite_names_the_element():
    inputs = make_inputs(4, UNIT, seed=1, device="cpu")
    inputs["next_probs"][1, 3] = float("nan")
    project(inputs, "reference")  # not checked by default: no device sync
    with pytest.raises(ValueError, match=r"next_probs\[\(1, 3\)\] is nan"):
        categorical_projection(inputs["next_probs"], inputs["rewards"], inputs["discounts"], UNIT,
                               check_finite=True, backend="reference")


# ---------------------------------------------------------------------------------------------------------
# on a GPU, at the profiled sizes
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["triton", "cuda"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("batch", [512, 4096])
def test_gpu_profiled_sizes(backend, dtype, batch):
    inputs = make_inputs(batch, (-10.0, 10.0, 51), dtype, seed=batch)
    got = project(inputs, backend)
    assert _registry.last_backend("categorical_projection") == backend
    torch.testing.assert_close(got, project(inputs, "reference"), **F32)
    assert torch.equal(got, project(inputs, backend))  # no atomics: the same bits every run


@pytest.mark.gpu
def test_gpu_automatic_choice_is_fused():
    project(make_inputs(64, UNIT), None)
    assert _registry.last_backend("categorical_projection") in ("triton", "cuda")
