"""mlp_q: the numba kernels against the torch reference on fresh random networks and batches (statistics, |td|,
and the parameters, moments and step count after the step), NaN propagation, greedy ties, and bad input."""

from __future__ import annotations

import pytest
import torch

from fastrl.ops import mlp_q
from fastrl.ops.mlp_q.cases import make_inputs

#: float32 results of the same arithmetic in another order (BLAS blocking, reassociated sums)
F32 = {"rtol": 1e-5, "atol": 1e-6}
ARGS = ("params", "target", "exp_avg", "exp_avg_sq", "step", "dims", "obs", "action", "reward", "discount",
        "next_obs", "weights")

VARIANTS = {
    "double-huber-weighted-clipped": {"double": True, "loss": "huber", "max_grad_norm": 0.05},
    "vanilla-mse": {"double": False, "loss": "mse", "max_grad_norm": 0.0},
    "huber-kappa-0.3-unweighted": {"huber_kappa": 0.3, "weights": None, "max_grad_norm": 10.0},
}


def shapes(seed: int) -> tuple[int, tuple[int, ...]]:
    """A random batch size and network: 0 to 3 hidden layers of 1 to 96 units, 1 to 12 features, 2 to 9
    actions."""
    gen = torch.Generator().manual_seed(1000 + seed)
    draw = lambda low, high: int(torch.randint(low, high + 1, (), generator=gen))  # noqa: E731
    hidden = tuple(draw(1, 96) for _ in range(draw(0, 3)))
    return draw(1, 70), (draw(1, 12), *hidden, draw(2, 9))


def step(backend: str, inputs: dict, options: dict):
    options = dict(options)
    weights = options.pop("weights", inputs["weights"])
    args = [inputs[k] for k in ARGS[:-1]] + [weights]
    return mlp_q.update(*args, lr=3e-3, backend=backend, **options)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("variant", VARIANTS)
def test_numba_update_equals_the_reference(seed, variant):
    batch, dims = shapes(seed)
    got_inputs, want_inputs = make_inputs(batch, dims, "cpu", seed), make_inputs(batch, dims, "cpu", seed)
    got, want = step("numba", got_inputs, VARIANTS[variant]), step("reference", want_inputs, VARIANTS[variant])
    torch.testing.assert_close(torch.tensor(got[:3]), torch.tensor(want[:3]), **F32)
    torch.testing.assert_close(got[3], want[3], **F32)
    for name in ("params", "exp_avg", "exp_avg_sq", "step"):
        torch.testing.assert_close(got_inputs[name], want_inputs[name], **F32, msg=name)
    assert not torch.equal(got_inputs["params"], make_inputs(batch, dims, "cpu", seed)["params"])


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_a_nan_reward_reaches_the_loss_and_the_gradient_norm(backend):
    inputs = make_inputs(8, (4, 16, 3), "cpu")
    inputs["reward"][5] = float("nan")
    loss, _, norm, abs_td = step(backend, inputs, {"max_grad_norm": 10.0})
    assert loss != loss and norm != norm and torch.isnan(abs_td[5]) and torch.isnan(inputs["params"]).all()


@pytest.mark.parametrize("seed", range(4))
def test_numba_greedy_equals_the_reference_with_ties_and_nan(seed):
    batch, dims = shapes(seed)
    inputs = make_inputs(batch, dims, "cpu", seed)
    params, obs = inputs["params"], inputs["obs"]
    assert torch.equal(mlp_q.greedy(params, dims, obs, backend="numba"),
                       mlp_q.greedy(params, dims, obs, backend="reference"))
    last_bias = params[-dims[-1]:]
    params[-dims[-1] - dims[-1] * dims[-2]:-dims[-1]] = 0.0  # the last layer ignores its input: Q = its bias
    last_bias.copy_(torch.tensor([1.0, 3.0] + [3.0] * (dims[-1] - 2)))  # a tie: the first largest is action 1
    assert mlp_q.greedy(params, dims, obs, backend="numba").eq(1).all()
    last_bias[-1] = float("nan")  # torch.argmax takes a NaN as the largest
    assert torch.equal(mlp_q.greedy(params, dims, obs, backend="numba"),
                       mlp_q.greedy(params, dims, obs, backend="reference"))


def test_an_action_out_of_range_is_refused_before_anything_changes():
    inputs = make_inputs(4, (4, 8, 2), "cpu")
    before = inputs["params"].clone()
    inputs["action"][2] = 2
    with pytest.raises(ValueError, match=r"outside \[0, A\)"):
        step("numba", inputs, {})
    assert torch.equal(inputs["params"], before) and inputs["step"].eq(3.0).all()


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(params=i["params"][:-1]), "params has shape"),
    (lambda i: i.update(action=i["action"].int()), "action has dtype"),
    (lambda i: i.update(obs=i["obs"][:, :3]), "obs has shape"),
    (lambda i: i.update(next_obs=i["next_obs"][:2]), "next_obs has shape"),
    (lambda i: i.update(step=torch.tensor(3.0)), "step has shape"),
    (lambda i: i.update(step=torch.tensor([3], dtype=torch.int64)), "step has shape"),
    (lambda i: i.update(dims=(4, 0, 2)), "dims="),
])
def test_bad_input_gets_one_line(change, message):
    inputs = make_inputs(4, (4, 8, 2), "cpu")
    change(inputs)
    with pytest.raises(ValueError, match=message):
        step("numba", inputs, {})


def test_a_bound_network_steps_as_the_function_and_still_checks_each_batch():
    bound_inputs, free_inputs = make_inputs(16, (4, 24, 3), "cpu"), make_inputs(16, (4, 24, 3), "cpu")
    bound = mlp_q.BoundNetwork(*(bound_inputs[k] for k in ARGS[:6]))
    options = {"double": True, "loss": "huber", "huber_kappa": 1.0, "lr": 3e-3, "betas": (0.9, 0.999),
               "eps": 1e-8, "max_grad_norm": 10.0}
    got = bound.update(*(bound_inputs[k] for k in ARGS[6:]), **options)
    want = step("numba", free_inputs, {"max_grad_norm": 10.0})
    assert got[:3] == want[:3] and torch.equal(bound_inputs["params"], free_inputs["params"])
    assert torch.equal(bound.greedy(bound_inputs["obs"]), mlp_q.greedy(free_inputs["params"], (4, 24, 3),
                                                                        free_inputs["obs"]))
    with pytest.raises(ValueError, match="next_obs has shape"):
        bound.update(*(bound_inputs[k] for k in ARGS[6:10]), bound_inputs["next_obs"][:3], None, **options)
    with pytest.raises(ValueError, match="exp_avg has shape"):
        mlp_q.BoundNetwork(*(bound_inputs[k] for k in ARGS[:2]), bound_inputs["exp_avg"][:5],
                           *(bound_inputs[k] for k in ARGS[3:6]))


def test_the_blas_that_numba_calls_runs_on_one_thread():
    import threadpoolctl

    from fastrl.ops.mlp_q.numba import scipys_blas_files  # the limit is set on import

    files = set(scipys_blas_files())
    threads = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["filepath"] in files]
    assert threads and all(n == 1 for n in threads)
