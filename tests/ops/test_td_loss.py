"""td_loss: every fused backend against the torch reference (values, priorities, gradients), known numbers,
and the input checks.

Without a GPU the Triton kernel runs in Triton's interpreter on CPU tensors (tests/conftest.py) and the CUDA
C backend is skipped visibly (``gpu`` mark); with one, both run on CUDA tensors.
"""

from __future__ import annotations

import pytest
import torch

from fastrl.ops import _registry
from fastrl.ops.td_loss import td_loss

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FUSED = [pytest.param("triton", id="triton"), pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]

# Every backend computes in float32 from the same input values, so the loss and |td| (float32 outputs) are
# compared at float32 precision whatever the input dtype. The gradient comes back in q_taken's dtype and is
# compared at that dtype's precision (one unit in the last place: 2^-23 float32, 2^-7 bfloat16, relative).
F32 = {"rtol": 1e-5, "atol": 1e-6}
GRAD_TOL = {torch.float32: F32, torch.bfloat16: {"rtol": 2**-7, "atol": 1e-6}}

VARIANTS = {
    "double-huber-w-mean": {},
    "vanilla": {"double": False},
    "mse": {"loss": "mse"},
    "no-weights": {"weights": None},
    "kappa-0.5-sum": {"huber_kappa": 0.5, "reduction": "sum"},
    "none": {"reduction": "none"},
}


def make_batch(batch: int, actions: int, dtype: torch.dtype, seed: int, device: str = DEVICE) -> dict:
    """Random inputs with TD errors on both sides of the Huber threshold and 20% terminations."""
    gen = torch.Generator().manual_seed(seed)
    inputs = {
        "q_taken": 2.0 * torch.randn(batch, generator=gen),
        "q_next_target": torch.randn(batch, actions, generator=gen),
        "q_next_online": torch.randn(batch, actions, generator=gen),
        "rewards": torch.randn(batch, generator=gen),
        "discounts": 0.97 * (torch.rand(batch, generator=gen) > 0.2).float(),
        "weights": 1.0 - torch.rand(batch, generator=gen),
    }
    inputs = {k: v.to(device=device, dtype=dtype) for k, v in inputs.items()}
    inputs["q_taken"].requires_grad_(True)
    return inputs


def call(inputs: dict, backend: str, **options):
    """td_loss on ``inputs`` (a ``weights`` key in options overrides the input's weights)."""
    weights = options.pop("weights", inputs["weights"])
    return td_loss(inputs["q_taken"], inputs["q_next_target"], inputs["q_next_online"], inputs["rewards"],
                   inputs["discounts"], weights, backend=backend, **options)


def loss_and_grad(inputs: dict, backend: str, grad_out: torch.Tensor, **options):
    loss, abs_td = call(inputs, backend, **options)
    (grad,) = torch.autograd.grad(loss, inputs["q_taken"], grad_out.expand_as(loss))
    return loss, abs_td, grad


def check_against_reference(backend: str, batch: int, dtype: torch.dtype, options: dict, seed: int,
                            actions: int = 18) -> None:
    inputs = make_batch(batch, actions, dtype, seed)
    grad_out = torch.rand((batch,) if options.get("reduction") == "none" else (), device=DEVICE) + 0.5
    want = loss_and_grad(inputs, "reference", grad_out, **options)
    got = loss_and_grad(inputs, backend, grad_out, **options)
    assert _registry.last_backend("td_loss") == backend
    assert got[0].dtype == torch.float32 and got[1].dtype == torch.float32
    assert got[2].dtype == dtype
    assert not got[1].requires_grad
    torch.testing.assert_close(got[0], want[0], **F32, msg=lambda m: f"loss: {m}")
    torch.testing.assert_close(got[1], want[1], **F32, msg=lambda m: f"abs_td: {m}")
    torch.testing.assert_close(got[2], want[2], **GRAD_TOL[dtype], msg=lambda m: f"dloss/dq: {m}")


@pytest.mark.parametrize("backend", FUSED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("batch", [1, 37, 512])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_reference(backend, dtype, batch, variant):
    seed = 1000 * batch + list(VARIANTS).index(variant) + (7 if dtype == torch.bfloat16 else 0)
    check_against_reference(backend, batch, dtype, dict(VARIANTS[variant]), seed)


@pytest.mark.parametrize("backend", FUSED)
@pytest.mark.parametrize("actions", [1, 4, 33, 100])
def test_action_counts(backend, actions):
    """One action (argmax trivial), fewer than a lane group, and more than one tile column block."""
    check_against_reference(backend, 45, torch.float32, {}, seed=actions)
    check_against_reference(backend, 45, torch.float32, {"double": False}, seed=actions + 1)


@pytest.mark.parametrize("backend", FUSED)
def test_mixed_input_dtypes(backend):
    """A bfloat16 network output (autocast) with float32 replay data, and float16 target-net values."""
    inputs = make_batch(37, 18, torch.float32, seed=31)
    inputs["q_taken"] = inputs["q_taken"].detach().bfloat16().requires_grad_(True)
    inputs["q_next_target"] = inputs["q_next_target"].half()
    grad_out = torch.ones((), device=DEVICE)
    want = loss_and_grad(inputs, "reference", grad_out)
    got = loss_and_grad(inputs, backend, grad_out)
    torch.testing.assert_close(got[:2], want[:2], **F32)
    assert got[2].dtype == torch.bfloat16
    torch.testing.assert_close(got[2], want[2], **GRAD_TOL[torch.bfloat16])


@pytest.mark.parametrize("backend", FUSED)
def test_strided_inputs_and_nonleaf_q(backend):
    """Transposed [B, A] views, strided vectors, and q_taken gathered from a network's [B, A] output."""
    batch, actions = 50, 6
    gen = torch.Generator().manual_seed(3)
    q_all = torch.randn(batch, actions, generator=gen).to(DEVICE).requires_grad_(True)
    taken = torch.randint(0, actions, (batch, 1), generator=gen).to(DEVICE)
    q_next_target = torch.randn(actions, batch, generator=gen).to(DEVICE).t()
    q_next_online = torch.randn(actions, batch, generator=gen).to(DEVICE).t()
    packed = torch.randn(batch, 3, generator=gen).to(DEVICE)  # rewards, discounts, weights: stride 3
    rewards, discounts, weights = packed[:, 0], packed[:, 1].abs(), packed[:, 2].abs()
    grads = {}
    for name in ("reference", backend):
        loss, abs_td = td_loss(q_all.gather(1, taken).squeeze(1), q_next_target, q_next_online, rewards,
                               discounts, weights, backend=name)
        (grads[name],) = torch.autograd.grad(loss, q_all)
        grads[name + "-out"] = (loss, abs_td)
    torch.testing.assert_close(grads[backend + "-out"], grads["reference-out"], **F32)
    torch.testing.assert_close(grads[backend], grads["reference"], **F32)


@pytest.mark.parametrize("backend", ["reference", *FUSED])
def test_no_gradient_reaches_the_next_state_q(backend):
    inputs = make_batch(8, 3, torch.float32, seed=11)
    inputs["q_next_target"].requires_grad_(True)
    inputs["q_next_online"].requires_grad_(True)
    loss, _ = call(inputs, backend)
    grads = torch.autograd.grad(loss, [inputs["q_taken"], inputs["q_next_target"], inputs["q_next_online"]],
                                allow_unused=True)
    assert grads[0] is not None and grads[1] is None and grads[2] is None


@pytest.mark.parametrize("backend", ["reference", *FUSED])
def test_no_grad_mode(backend):
    inputs = make_batch(20, 5, torch.float32, seed=12)
    with torch.no_grad():
        loss, abs_td = call(inputs, backend)
    want, want_abs = call(inputs, "reference")
    assert not loss.requires_grad
    torch.testing.assert_close(loss, want.detach(), **F32)
    torch.testing.assert_close(abs_td, want_abs, **F32)


# ---------------------------------------------------------------------------------------------------------
# known numbers
# ---------------------------------------------------------------------------------------------------------

def hand_batch(device: str = DEVICE) -> dict:
    """Four samples. Row 2's online net ties actions 1 and 2: the first wins (target value 1, not 7), as in
    torch.argmax. Row 3 is terminal (discount 0): its target is its reward whatever its next-state values."""
    t = lambda *v: torch.tensor(v, dtype=torch.float32, device=device)  # noqa: E731
    return {
        "q_taken": t(2.0, -1.5, 0.5, 0.5).requires_grad_(True),
        "q_next_target": t([1.0, 5.0, 3.0], [2.0, 0.0, 4.0], [7.0, 1.0, 7.0], [9.0, 9.0, 9.0]),
        "q_next_online": t([4.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 2.0, 2.0], [1.0, 2.0, 3.0]),
        "rewards": t(1.0, -1.0, 0.5, 0.5),
        "discounts": t(0.9, 0.5, 0.5, 0.0),
        "weights": t(1.0, 0.5, 2.0, 1.0),
    }


@pytest.mark.parametrize("backend", ["reference", *FUSED])
def test_double_and_vanilla_targets_on_known_numbers(backend):
    inputs = hand_batch()
    # double: actions by the online net [0, 1, 1, 2] -> target-net values [1, 0, 1, 9];
    # targets [1.9, -1, 1, 0.5] (row 3 terminal)
    _, abs_td = call(inputs, backend, double=True, reduction="none")
    torch.testing.assert_close(abs_td, torch.tensor([0.1, 0.5, 0.5, 0.0], device=DEVICE), **F32)
    # vanilla: max of the target net [5, 4, 7, 9]; targets [5.5, 1, 4, 0.5]
    _, abs_td = call(inputs, backend, double=False, reduction="none")
    torch.testing.assert_close(abs_td, torch.tensor([3.5, 2.5, 3.5, 0.0], device=DEVICE), **F32)


@pytest.mark.parametrize("backend", ["reference", *FUSED])
def test_huber_and_mse_on_known_numbers(backend):
    inputs = hand_batch()
    # vanilla td = target - q = [3.5, 2.5, 3.5, 0]; weights [1, 0.5, 2, 1]
    huber = [1.0 * (3.5 - 0.5), 0.5 * (2.5 - 0.5), 2.0 * (3.5 - 0.5), 0.0]  # kappa 1: |td| - 1/2 beyond 1
    mse = [1.0 * 3.5**2, 0.5 * 2.5**2, 2.0 * 3.5**2, 0.0]
    cases = [("huber", huber, [-1.0, -0.5, -2.0, 0.0]), ("mse", mse, [-7.0, -2.5, -14.0, 0.0])]
    for loss_name, per_sample, grad in cases:  # grad: dloss/dq = -w * loss'(td) per sample, / B for the mean
        loss, _ = call(inputs, backend, double=False, loss=loss_name, reduction="none")
        torch.testing.assert_close(loss.detach(), torch.tensor(per_sample, device=DEVICE), **F32)
        mean, _ = call(inputs, backend, double=False, loss=loss_name)
        torch.testing.assert_close(mean.detach(), torch.tensor(sum(per_sample) / 4, device=DEVICE), **F32)
        (g,) = torch.autograd.grad(mean, inputs["q_taken"])
        torch.testing.assert_close(g, torch.tensor(grad, device=DEVICE) / 4, **F32)
    # Huber inside the threshold is td^2 / 2: double td = [-0.1, 0.5, 0.5, 0] with kappa 1, no weights
    loss, _ = call(inputs, backend, double=True, reduction="none", weights=None)
    torch.testing.assert_close(loss.detach(), torch.tensor([0.005, 0.125, 0.125, 0.0], device=DEVICE), **F32)


@pytest.mark.parametrize("backend", ["reference", *FUSED])
def test_terminal_target_is_the_reward(backend):
    inputs = make_batch(37, 18, torch.float32, seed=21)
    inputs["q_next_target"] = inputs["q_next_target"] * 1e6
    inputs["q_next_online"] = inputs["q_next_online"] * 1e6
    inputs["discounts"] = torch.zeros_like(inputs["discounts"])
    _, abs_td = call(inputs, backend)
    torch.testing.assert_close(abs_td, (inputs["rewards"] - inputs["q_taken"]).abs().detach(), **F32)


def test_automatic_choice_on_cpu_is_the_reference():
    call(make_batch(4, 3, torch.float32, seed=0, device="cpu"), None)
    assert _registry.last_backend("td_loss") == "reference"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on CPU tensors")
def test_cuda_backend_on_cpu_tensors_is_refused():
    with pytest.raises(_registry.BackendUnavailable, match="cuda"):
        call(make_batch(4, 3, torch.float32, seed=0, device="cpu"), "cuda")


# ---------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------

def _replace(**changes):
    def make():
        inputs = make_batch(6, 4, torch.float32, seed=5)
        inputs.update({k: v(inputs) if callable(v) else v for k, v in changes.items() if k in inputs})
        options = {k: v for k, v in changes.items() if k not in inputs}
        return inputs, options
    return make


BAD = {
    "unknown-loss": (_replace(loss="l1"), ValueError, "unknown loss 'l1'"),
    "unknown-reduction": (_replace(reduction="max"), ValueError, "unknown reduction"),
    "bad-kappa": (_replace(huber_kappa=0.0), ValueError, "huber_kappa"),
    "empty-batch": (_replace(q_taken=torch.zeros(0), q_next_target=torch.zeros(0, 4),
                             q_next_online=torch.zeros(0, 4), rewards=torch.zeros(0), discounts=torch.zeros(0),
                             weights=torch.zeros(0)), ValueError, "empty batch"),
    "q-taken-2d": (_replace(q_taken=lambda x: x["q_taken"].detach()[:, None]), ValueError,
                   r"q_taken has shape \(6, 1\); expected 1"),
    "target-batch": (_replace(q_next_target=lambda x: x["q_next_target"][:5]), ValueError,
                     r"q_next_target has shape \(5, 4\); expected \[B, A\] = \[6, A >= 1\]"),
    "online-shape": (_replace(q_next_online=lambda x: x["q_next_online"][:, :3]), ValueError,
                     r"q_next_online has shape \(6, 3\); expected the shape of q_next_target"),
    "no-online": (_replace(q_next_online=None), ValueError, "double=True needs q_next_online"),
    "rewards-shape": (_replace(rewards=lambda x: x["rewards"][:4]), ValueError,
                      r"rewards has shape \(4,\); expected \[B\] = \[6\]"),
    "weights-shape": (_replace(weights=lambda x: x["weights"][None]), ValueError, "weights has shape"),
    "int-dtype": (_replace(discounts=lambda x: x["discounts"].long()), TypeError,
                  "discounts has dtype torch.int64"),
    "float64": (_replace(rewards=lambda x: x["rewards"].double()), TypeError, "rewards has dtype torch.float64"),
    "not-a-tensor": (_replace(rewards=[0.0] * 6), TypeError, "rewards must be a torch.Tensor"),
    "other-device": (_replace(weights=torch.ones(6, device="meta")), ValueError,
                     "weights is on meta but q_taken is on"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_clearly(case):
    make, error, message = BAD[case]
    inputs, options = make()
    with pytest.raises(error, match=message):
        call(inputs, "reference", **options)


def test_check_finite_names_the_element():
    inputs = make_batch(6, 4, torch.float32, seed=5, device="cpu")
    inputs["rewards"][2] = float("nan")
    call(inputs, "reference")  # not checked by default: no device sync
    with pytest.raises(ValueError, match=r"rewards\[2\] is nan"):
        call(inputs, "reference", check_finite=True)
    inputs = make_batch(6, 4, torch.float32, seed=5, device="cpu")
    inputs["q_next_online"][4, 1] = float("inf")
    with pytest.raises(ValueError, match=r"q_next_online\[\(4, 1\)\] is inf"):
        call(inputs, "reference", check_finite=True)


# ---------------------------------------------------------------------------------------------------------
# on a GPU, at the profiled sizes
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["triton", "cuda"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("batch", [512, 4096])
def test_gpu_profiled_sizes(backend, dtype, batch):
    for seed, options in enumerate([{}, {"double": False, "loss": "mse"}, {"reduction": "none"}]):
        check_against_reference(backend, batch, dtype, options, seed=batch + seed)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["triton", "cuda"])
def test_gpu_results_are_deterministic(backend):
    inputs = make_batch(4096, 18, torch.float32, seed=9)
    first = loss_and_grad(inputs, backend, torch.ones((), device=DEVICE))
    second = loss_and_grad(inputs, backend, torch.ones((), device=DEVICE))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@pytest.mark.gpu
def test_gpu_automatic_choice_is_fused():
    call(make_batch(64, 18, torch.float32, seed=1), None)
    assert _registry.last_backend("td_loss") in ("triton", "cuda")
