"""Returns ops (GAE, n-step, V-trace): the reference against plain per-env loops and hand-worked rollouts,
every other backend against the reference.

Tolerance (float32 outputs): rtol = atol = 1e-5. Each output is a scan of up to T float32 multiply-adds;
the backends group them differently (Triton's tile scans reassociate, CUDA contracts to FMA), a few ulps
(~1e-7 relative) per step, with |outputs| up to ~20. bfloat16 inputs are widened exactly and accumulated in
float32, so the same tolerance applies to them against the reference on the same bfloat16 inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fastrl.ops import _registry, returns
from fastrl.ops.returns import reference

TOL = {"rtol": 1e-5, "atol": 1e-5}
_NO_CPU_TRITON = _registry.unavailable_reason("gae", "triton", "cpu")  # conftest sets TRITON_INTERPRET=1 without a GPU
CPU_BACKENDS = ["numba", pytest.param("triton", marks=pytest.mark.skipif(
    _NO_CPU_TRITON is not None, reason=f"{_NO_CPU_TRITON}; the gpu tests cover triton there"))]
RUNNABLE_HERE = ["reference", "numba"] + (["triton"] if _NO_CPU_TRITON is None else [])
SHAPES = [(1, 1), (1, 7), (6, 1), (37, 45), (70, 33)]  # T = 1; N = 1; N, T not multiples of any block


def rollout(T, N, seed, *, dtype=torch.float32, flags=torch.bool, final=False, device="cpu",
            p_term=0.08, p_trunc=0.05):
    g = torch.Generator().manual_seed(seed)
    x = {"rewards": torch.randn(T, N, generator=g), "values": torch.randn(T, N, generator=g),
         "terminated": torch.rand(T, N, generator=g) < p_term,
         "truncated": torch.rand(T, N, generator=g) < p_trunc,
         "next_value": torch.randn(N, generator=g)}
    if final:
        x["final_values"] = torch.randn(T, N, generator=g)
    return {k: v.to(device=device, dtype=flags if v.dtype == torch.bool else dtype) for k, v in x.items()}


def vtrace_inputs(T, N, seed, *, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    done = torch.rand(T, N, generator=g) < 0.08
    x = {"log_rhos": 0.7 * torch.randn(T, N, generator=g), "discounts": 0.97 * (~done).float(),
         "rewards": torch.randn(T, N, generator=g), "values": torch.randn(T, N, generator=g),
         "bootstrap_value": torch.randn(N, generator=g)}
    return {k: v.to(device=device, dtype=dtype) for k, v in x.items()}


def call(op, x, backend, **kw):
    if op == "gae":
        return returns.gae(**x, gamma=0.97, lam=0.9, backend=backend, **kw)
    if op == "nstep_returns":
        return returns.nstep_returns(**x, gamma=0.97, n=4, backend=backend, **kw)
    return returns.vtrace(**x, clip_rho=1.0, clip_pg_rho=1.2, lambda_=0.9, backend=backend, **kw)


def inputs_for(op, T, N, seed, **kw):
    if op == "vtrace":  # no flags: V-trace takes discounts
        return vtrace_inputs(T, N, seed, **{k: v for k, v in kw.items() if k in ("dtype", "device")})
    return rollout(T, N, seed, **kw)


# (final_values given, flag dtype): each flag dtype with and without final values, across the two runs
VARIANTS = {"gae": [(False, torch.bool), (True, torch.uint8)],
            "nstep_returns": [(False, torch.uint8), (True, torch.bool)], "vtrace": [(False, torch.bool)]}


# -----------------------------------------------------------------------------------------------------
# Plain loops, one env and one step at a time in float64: the reference is checked against these.
# -----------------------------------------------------------------------------------------------------

def _np64(x):
    return {k: (None if v is None else v.double().numpy() if v.is_floating_point() else v.numpy().astype(bool))
            for k, v in x.items()}


def _following(x, t, i, T):
    """V of the observation step t led to: the final observation's value where given and truncated."""
    if x.get("final_values") is not None and x["truncated"][t, i]:
        return x["final_values"][t, i]
    return x["next_value"][i] if t == T - 1 else x["values"][t + 1, i]


def loop_gae(x, gamma, lam):
    x = _np64(x)
    T, N = x["rewards"].shape
    adv = np.zeros((T, N))
    for i in range(N):
        later = 0.0
        for t in reversed(range(T)):
            if x["terminated"][t, i]:
                delta = x["rewards"][t, i] - x["values"][t, i]
                later = 0.0
            elif x["truncated"][t, i]:
                delta = x["rewards"][t, i] + gamma * _following(x, t, i, T) - x["values"][t, i]
                later = 0.0
            else:
                delta = x["rewards"][t, i] + gamma * _following(x, t, i, T) - x["values"][t, i]
            adv[t, i] = later = delta + gamma * lam * later
    return adv, adv + x["values"]


def loop_nstep(x, gamma, n):
    x = _np64(x)
    T, N = x["rewards"].shape
    ret, disc = np.zeros((T, N)), np.zeros((T, N))
    for i in range(N):
        for t in range(T):
            total = 0.0
            for k in range(n):
                j = t + k
                total += gamma**k * x["rewards"][j, i]
                if x["terminated"][j, i]:
                    ret[t, i], disc[t, i] = total, 0.0
                    break
                if x["truncated"][j, i] or k == n - 1 or j == T - 1:
                    ret[t, i] = total + gamma ** (k + 1) * _following(x, j, i, T)
                    disc[t, i] = gamma ** (k + 1)
                    break
    return ret, disc


def loop_vtrace(x, clip_rho, clip_pg_rho, lambda_):
    """The paper's definition as a sum (Espeholt et al. 2018, eq. 1), not the recursion the backends use."""
    x = _np64(x)
    T, N = x["rewards"].shape
    rho = np.exp(x["log_rhos"])
    v_ext = np.concatenate([x["values"], x["bootstrap_value"][None]])
    delta = np.minimum(clip_rho, rho) * (x["rewards"] + x["discounts"] * v_ext[1:] - x["values"])
    c = lambda_ * np.minimum(1.0, rho)
    vs = np.zeros((T + 1, N))
    for i in range(N):
        vs[T, i] = x["bootstrap_value"][i]
        for s in range(T):
            total, weight = 0.0, 1.0
            for t in range(s, T):
                total += weight * delta[t, i]
                weight *= x["discounts"][t, i] * c[t, i]
            vs[s, i] = x["values"][s, i] + total
    pg = np.minimum(clip_pg_rho, rho) * (x["rewards"] + x["discounts"] * vs[1:] - x["values"])
    return vs[:T], pg


def close(actual, expected):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=torch.float32), **TOL)


# -----------------------------------------------------------------------------------------------------
# The reference against the plain loops
# -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("final", [False, True])
@pytest.mark.parametrize("T,N", [(1, 3), (9, 4), (40, 6)])
def test_reference_gae_and_nstep_match_loops(T, N, final):
    x = rollout(T, N, seed=T * 31 + N, final=final)
    x.setdefault("final_values", None)
    adv, ret = reference.gae(**x, gamma=0.97, lam=0.9)
    want_adv, want_ret = loop_gae(x, 0.97, 0.9)
    close(adv, want_adv)
    close(ret, want_ret)
    for n in (1, 3, 50):
        got_ret, got_disc = reference.nstep_returns(**x, gamma=0.97, n=n)
        want_ret, want_disc = loop_nstep(x, 0.97, n)
        close(got_ret, want_ret)
        close(got_disc, want_disc)


@pytest.mark.parametrize("clips", [(1.0, 1.0), (0.6, 2.0), (math.inf, math.inf)])
@pytest.mark.parametrize("lambda_", [1.0, 0.8])
def test_reference_vtrace_matches_the_papers_sum(clips, lambda_):
    x = vtrace_inputs(25, 5, seed=7)
    vs, pg = reference.vtrace(**x, clip_rho=clips[0], clip_pg_rho=clips[1], lambda_=lambda_)
    want_vs, want_pg = loop_vtrace(x, *clips, lambda_)
    close(vs, want_vs)
    close(pg, want_pg)


# -----------------------------------------------------------------------------------------------------
# Hand-worked rollouts (the numbers in the docstrings): one env, gamma = 0.5, rewards [1, 2, 4],
# values [1, 2, 3], next_value [4]. Where step 1 ends an episode, row 2 is (with next-step autoreset) the
# autoreset row: its numbers are computed like any other row's and the learner masks them.
# -----------------------------------------------------------------------------------------------------

def col(xs, dtype=torch.float32):
    return torch.tensor(xs, dtype=dtype)[:, None]


def tiny(terminated=(0, 0, 0), truncated=(0, 0, 0), final_values=None):
    x = {"rewards": col([1.0, 2.0, 4.0]), "values": col([1.0, 2.0, 3.0]),
         "terminated": col(terminated, torch.bool), "truncated": col(truncated, torch.bool),
         "next_value": torch.tensor([4.0])}
    if final_values is not None:
        x["final_values"] = col(final_values)
    return x


# (rollout, advantages) with gamma = 0.5, lam = 1. Step 2 always: delta = 4 + 0.5 * 4 - 3 = 3 unless it ends.
HAND_GAE = [
    # no episode end: A_1 = (2 + 0.5 * 3 - 2) + 0.5 * 3 = 3; A_0 = (1 + 0.5 * 2 - 1) + 0.5 * 3 = 2.5
    (tiny(), [2.5, 3.0, 3.0]),
    # terminated at 1: A_1 = 2 - 2 = 0 (no bootstrap), trace cut; A_0 = 1 + 0.5 * 0 = 1
    (tiny(terminated=(0, 1, 0)), [1.0, 0.0, 3.0]),
    # truncated at 1, next-step autoreset: A_1 = 2 + 0.5 * values[2] - 2 = 1.5, trace cut; A_0 = 1 + 0.75
    (tiny(truncated=(0, 1, 0)), [1.75, 1.5, 3.0]),
    # truncated at 1 with final_values[1] = 6: A_1 = 2 + 3 - 2 = 3; A_0 = 1 + 1.5; entries elsewhere ignored
    (tiny(truncated=(0, 1, 0), final_values=[99.0, 6.0, 99.0]), [2.5, 3.0, 3.0]),
    # both flags at 1: termination wins
    (tiny(terminated=(0, 1, 0), truncated=(0, 1, 0), final_values=[0.0, 6.0, 0.0]), [1.0, 0.0, 3.0]),
    # terminated at the last step: next_value unused, A_2 = 4 - 3 = 1; A_1 = 1.5 + 0.5; A_0 = 1 + 0.5 * 2
    (tiny(terminated=(0, 0, 1)), [2.0, 2.0, 1.0]),
    # truncated at the last step, no final_values: bootstraps from next_value (the final observation's
    # value) and cuts a trace that has nothing after it: the same as no episode end
    (tiny(truncated=(0, 0, 1)), [2.5, 3.0, 3.0]),
]


@pytest.mark.parametrize("backend", ["reference", *CPU_BACKENDS])
@pytest.mark.parametrize("case", range(len(HAND_GAE)))
def test_gae_hand_worked(case, backend):
    x, want = HAND_GAE[case]
    adv, ret = returns.gae(**x, gamma=0.5, lam=1.0, backend=backend)
    assert _registry.last_backend("gae") == backend
    assert adv[:, 0].tolist() == want  # dyadic numbers: exact in float32 on every backend
    assert ret[:, 0].tolist() == [a + v for a, v in zip(want, [1.0, 2.0, 3.0], strict=True)]


# n = 2 on the same rollout: (rollout, returns, discounts)
HAND_NSTEP = [
    # G_0 = 1 + 0.5 * 2 + 0.25 * V_2; G_1 = 2 + 0.5 * 4 + 0.25 * next_value; G_2 = 4 + 0.5 * next_value
    (tiny(), [2.75, 5.0, 6.0], [0.25, 0.25, 0.5]),
    # terminated at 1: windows of 0 and 1 stop there without bootstrap, discount 0
    (tiny(terminated=(0, 1, 0)), [2.0, 2.0, 6.0], [0.0, 0.0, 0.5]),
    # truncated at 1: they stop there and bootstrap from V_2 (the final observation's value)
    (tiny(truncated=(0, 1, 0)), [2.75, 3.5, 6.0], [0.25, 0.5, 0.5]),
    (tiny(truncated=(0, 1, 0), final_values=[99.0, 6.0, 99.0]), [3.5, 5.0, 6.0], [0.25, 0.5, 0.5]),
]


@pytest.mark.parametrize("backend", ["reference", *CPU_BACKENDS])
@pytest.mark.parametrize("case", range(len(HAND_NSTEP)))
def test_nstep_hand_worked(case, backend):
    x, want_ret, want_disc = HAND_NSTEP[case]
    ret, disc = returns.nstep_returns(**x, gamma=0.5, n=2, backend=backend)
    assert _registry.last_backend("nstep_returns") == backend
    assert ret[:, 0].tolist() == want_ret
    assert disc[:, 0].tolist() == want_disc


@pytest.mark.parametrize("backend", ["reference", *CPU_BACKENDS])
def test_nstep_windows_cross_episode_and_rollout_ends(backend):
    # T = 5, n = 3, gamma = 0.5, rewards 1, values [10, 20, 30, 40, 50], next_value 60.
    ones = torch.ones(5, 1)
    base = {"rewards": ones, "values": torch.tensor([[10.0], [20.0], [30.0], [40.0], [50.0]]),
            "next_value": torch.tensor([60.0]), "truncated": torch.zeros(5, 1, dtype=torch.bool)}
    term = torch.tensor([[False], [True], [False], [False], [False]])
    ret, disc = returns.nstep_returns(**base, terminated=term, gamma=0.5, n=3, backend=backend)
    # t=0: 1 + 0.5 (ends at the termination at 1); t=1: 1; t=2: 1 + 0.5 + 0.25 + 0.125 * 60 (full window,
    # reaching the rollout end); t=3: 1 + 0.5 + 0.25 * 60; t=4: 1 + 0.5 * 60
    assert ret[:, 0].tolist() == [1.5, 1.0, 9.25, 16.5, 31.0]
    assert disc[:, 0].tolist() == [0.0, 0.0, 0.125, 0.25, 0.5]
    # n past the rollout: the same windows (each already stops at an episode or the rollout end)
    longer = returns.nstep_returns(**base, terminated=term, gamma=0.5, n=2**40, backend=backend)
    assert longer.returns[:, 0].tolist() == [1.5, 1.0, 9.25, 16.5, 31.0]
    trunc = dict(base, truncated=term, terminated=torch.zeros(5, 1, dtype=torch.bool))
    ret, disc = returns.nstep_returns(**trunc, gamma=0.5, n=3, backend=backend)
    assert ret[:2, 0].tolist() == [1.5 + 0.25 * 30, 1 + 0.5 * 30]  # bootstrap V_2 at the truncation
    assert disc[:2, 0].tolist() == [0.25, 0.5]
    final = torch.full((5, 1), float("nan"))  # read only where truncated
    final[1] = 100.0
    ret, disc = returns.nstep_returns(**trunc, final_values=final, gamma=0.5, n=3, backend=backend)
    assert ret[:, 0].tolist() == [26.5, 51.0, 9.25, 16.5, 31.0]
    assert _registry.last_backend("nstep_returns") == backend


@pytest.mark.parametrize("backend", ["reference", *CPU_BACKENDS])
def test_vtrace_on_policy_is_the_discounted_return(backend):
    """rho = 1, lambda = 1: vs_t = sum_k (prod discounts) r + (prod discounts) V_T, an n-step return to T."""
    x = vtrace_inputs(12, 3, seed=3)
    x["log_rhos"] = torch.zeros_like(x["log_rhos"])
    vs, pg = returns.vtrace(**x, backend=backend)
    assert _registry.last_backend("vtrace") == backend
    r, d = x["rewards"].double(), x["discounts"].double()
    want = torch.empty(13, 3, dtype=torch.float64)
    want[12] = x["bootstrap_value"].double()
    for t in reversed(range(12)):
        want[t] = r[t] + d[t] * want[t + 1]
    close(vs, want[:12])
    close(pg, r + d * want[1:] - x["values"].double())


# -----------------------------------------------------------------------------------------------------
# Every backend against the reference on fresh random inputs
# -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("op", returns.OPS)
@pytest.mark.parametrize("T,N", SHAPES)
def test_backend_matches_reference(backend, op, T, N):
    seed = int(torch.randint(0, 2**31, ()))  # fresh inputs each run; the seed is in the failure message
    for final, flags in VARIANTS[op]:
        x = inputs_for(op, T, N, seed, final=final, flags=flags)
        want = call(op, x, "reference")
        got = call(op, x, backend)
        assert _registry.last_backend(op) == backend
        for g, w in zip(got, want, strict=True):
            note = f"seed {seed}, final_values={final}, flags {flags}"
            torch.testing.assert_close(g, w, **TOL, msg=lambda m, note=note: f"{note}: {m}")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("op", returns.OPS)
def test_bfloat16_inputs_accumulate_in_float32(backend, op):
    x = inputs_for(op, 40, 37, seed=11, dtype=torch.bfloat16)
    want = call(op, x, "reference")
    got = call(op, x, backend)
    assert _registry.last_backend(op) == backend
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, w, **TOL)
    # and the reference on bfloat16 is the float32 computation on the widened inputs
    widened = call(op, {k: v.float() if v.is_floating_point() else v for k, v in x.items()}, "reference")
    for w, f in zip(want, widened, strict=True):
        assert torch.equal(w, f)


def test_automatic_choice_on_cpu_is_numba(monkeypatch):
    monkeypatch.delenv("FASTRL_BACKEND", raising=False)
    for op in returns.OPS:
        call(op, inputs_for(op, 8, 3, seed=1), None)
        assert _registry.last_backend(op) == "numba"


def test_out_is_written_in_place():
    x = rollout(10, 4, seed=2)
    out = (torch.full((10, 4), float("nan")), torch.full((10, 4), float("nan")))
    for backend in RUNNABLE_HERE:
        adv, ret = returns.gae(**x, gamma=0.9, lam=0.8, out=out, backend=backend)
        assert adv is out[0] and ret is out[1]
        want = returns.gae(**x, gamma=0.9, lam=0.8, backend="reference")
        torch.testing.assert_close(adv, want.advantages, **TOL)
        torch.testing.assert_close(ret, want.returns, **TOL)


def test_non_contiguous_inputs():
    x = rollout(9, 5, seed=4)
    strided = {k: v.t().contiguous().t() if v.dim() == 2 else v for k, v in x.items()}
    assert not strided["rewards"].is_contiguous()
    for backend in RUNNABLE_HERE:
        got = returns.gae(**strided, gamma=0.9, lam=0.8, backend=backend)
        want = returns.gae(**x, gamma=0.9, lam=0.8, backend="reference")
        torch.testing.assert_close(got.advantages, want.advantages, **TOL)


# -----------------------------------------------------------------------------------------------------
# Bad input: errors that say what, where and what was expected
# -----------------------------------------------------------------------------------------------------

def _bad(**change):
    x = rollout(6, 4, seed=5)
    x.update(change)
    return x


@pytest.mark.parametrize("change,kind,words", [
    ({"values": torch.zeros(6, 5)}, ValueError, r"gae: values has shape \(6, 5\); expected \[T, N\] = \(6, 4\)"),
    ({"next_value": torch.zeros(4, 1)}, ValueError, r"next_value has shape \(4, 1\); expected \[N\] = \(4,\)"),
    ({"rewards": torch.zeros(6)}, ValueError, r"rewards has shape \(6,\); expected \[T, N\]"),
    ({"terminated": torch.zeros(6, 4)}, TypeError, r"terminated has dtype torch.float32; expected torch.bool"),
    ({"rewards": torch.zeros(6, 4, dtype=torch.float64)}, TypeError, r"rewards has dtype torch.float64"),
    ({"values": torch.zeros(6, 4, dtype=torch.bfloat16)}, TypeError, r"values has dtype torch.bfloat16; "
                                                                      r"expected torch.float32 like rewards"),
    ({"final_values": torch.zeros(5, 4)}, ValueError, r"final_values has shape \(5, 4\)"),
    ({"next_value": torch.zeros(4, device="meta")}, ValueError, r"next_value is on meta; expected cpu"),
    ({"values": [[0.0] * 4] * 6}, TypeError, r"values must be a torch.Tensor"),
])
def test_gae_rejects_bad_input(change, kind, words):
    with pytest.raises(kind, match=words):
        returns.gae(**_bad(**change), gamma=0.99, lam=0.95)


def test_rejects_bad_scalars_and_outputs():
    x = rollout(6, 4, seed=5)
    with pytest.raises(ValueError, match=r"gae: gamma must be a number in \[0, 1\], got 1.5"):
        returns.gae(**x, gamma=1.5, lam=0.95)
    with pytest.raises(ValueError, match=r"nstep_returns: n must be an int >= 1, got 0"):
        returns.nstep_returns(**x, gamma=0.9, n=0)
    v = vtrace_inputs(6, 4, seed=5)
    with pytest.raises(ValueError, match=r"vtrace: clip_rho must be a number > 0 or None"):
        returns.vtrace(**v, clip_rho=0.0)
    with pytest.raises(ValueError, match=r"vtrace: bootstrap_value has shape \(6, 4\); expected \[N\]"):
        returns.vtrace(**dict(v, bootstrap_value=torch.zeros(6, 4)))
    with pytest.raises(ValueError, match=r"gae: out\[1\] is torch.float32 \(6, 3\)"):
        returns.gae(**x, gamma=0.9, lam=0.9, out=(torch.empty(6, 4), torch.empty(6, 3)))
    with pytest.raises(ValueError, match=r"gae: out\[0\] overlaps the input values"):
        returns.gae(**x, gamma=0.9, lam=0.9, out=(x["values"], torch.empty(6, 4)))
    with pytest.raises(_registry.BackendUnavailable, match=r"backend 'cuda' was requested but cannot run"):
        returns.gae(**x, gamma=0.9, lam=0.9, backend="cuda")


# -----------------------------------------------------------------------------------------------------
# On a GPU: the CUDA C and Triton kernels at the size of a PPO rollout
# -----------------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
@pytest.mark.parametrize("op", returns.OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_backend_matches_reference(backend, op, dtype):
    if _registry.unavailable_reason(op, backend, "cuda"):
        pytest.skip(_registry.unavailable_reason(op, backend, "cuda"))
    seed = int(torch.randint(0, 2**31, ()))
    for final, flags in VARIANTS[op]:
        x = inputs_for(op, 128, 4096, seed, dtype=dtype, final=final, flags=flags, device="cuda",
                       p_term=0.01, p_trunc=0.005)  # PPO-like: long traces, the hardest case for tolerance
        want = call(op, x, "reference")
        got = call(op, x, backend)
        assert _registry.last_backend(op) == backend
        for g, w in zip(got, want, strict=True):
            assert g.device.type == "cuda" and g.dtype == torch.float32
            note = f"seed {seed}, final_values={final}, flags {flags}"
            torch.testing.assert_close(g, w, **TOL, msg=lambda m, note=note: f"{note}: {m}")


@pytest.mark.gpu
def test_gpu_small_and_odd_shapes():
    for backend in ("cuda", "triton"):
        if _registry.unavailable_reason("gae", backend, "cuda"):
            continue
        for T, N in SHAPES:
            for op in returns.OPS:
                x = inputs_for(op, T, N, seed=T + N, device="cuda")
                for g, w in zip(call(op, x, backend), call(op, x, "reference"), strict=True):
                    torch.testing.assert_close(g, w, **TOL)
