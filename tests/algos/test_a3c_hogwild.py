"""Hogwild plumbing: updates from worker processes land in the shared tensors, no lock is taken on the way,
and the shared optimizers compute what they claim."""

from __future__ import annotations

import _multiprocessing
import multiprocessing
import multiprocessing.synchronize
import sys
import threading
import time

import pytest
import torch

from fastrl import hogwild
from fastrl.algos.a3c import workers as a3c
from fastrl.algos.asynchronous import workers as parts


def tiny_shared(workers: int = 2, alpha: float = 0.9) -> parts.Shared:
    """θ of a 2x2 linear layer (4 parameters) in shared memory, with the shared RMSProp."""
    net = torch.nn.Linear(2, 2, bias=False)
    params = hogwild.shared_zeros(4)
    hogwild.flatten_into(net, params)
    optimizer = hogwild.SharedRMSprop(params, alpha=alpha, eps=0.1)
    return parts.Shared(params, None, optimizer, hogwild.Board(workers, len(a3c.STATS["a3c"]) + 1))


def one_hot_gradients(index: int, steps: int) -> list[torch.Tensor]:
    """Worker ``index``'s gradients: they touch only elements ``index`` and ``index + 2``."""
    out = []
    for k in range(steps):
        g = torch.zeros(4)
        g[index] = 1.0 + 0.1 * k
        g[index + 2] = -0.5 + 0.01 * k
        out.append(g)
    return out


def apply_one_hot(index: int, shared: parts.Shared, steps: int, *, incarnation: int = 0) -> None:
    """A worker role: ``steps`` Hogwild updates through the same call the actor-learners use."""
    for grad in one_hot_gradients(index, steps):
        parts.apply_gradients(shared, grad, lr=0.01)
        shared.board.updates[index] += 1


def run_roles(roles: list[hogwild.Role], board: hogwild.Board, timeout: float = 60.0) -> None:
    pool = hogwild.WorkerPool(roles, board, max_restarts=0, preload=a3c.Spec.preload)
    try:
        pool.start()
        deadline = time.monotonic() + timeout
        while not pool.all_done():
            pool.watch(0.1)
            assert time.monotonic() < deadline, "the roles did not finish in time"
    finally:
        pool.stop()


def test_two_workers_updates_land_in_the_shared_tensors():
    """Two worker processes update disjoint elements of θ through the shared optimizer. With RMSProp's
    alpha = 1 its statistic stays 0, so each update is a plain step −lr/sqrt(eps)·g: the steps commute,
    and θ must equal a sequential replay of both workers' steps bit for bit; one lost step would show.
    (With alpha < 1 every update also decays the statistic of elements it does not touch, so the result
    would depend on how the workers interleaved.)"""
    steps = 50
    shared = tiny_shared(alpha=1.0)
    before = shared.params.clone()
    layer = hogwild.bind_flat(torch.nn.Linear(2, 2, bias=False), shared.params)  # a module reading θ in place
    run_roles([hogwild.Role(f"worker {i}", apply_one_hot, i, (shared, steps)) for i in range(2)], shared.board)

    expected = tiny_shared(alpha=1.0)
    expected.params.copy_(before)
    for i in range(2):
        for grad in one_hot_gradients(i, steps):
            parts.apply_gradients(expected, grad, lr=0.01)
    assert torch.equal(shared.params, expected.params)
    assert not torch.equal(shared.params[[0, 2]], before[[0, 2]]), "worker 0's updates are missing"
    assert not torch.equal(shared.params[[1, 3]], before[[1, 3]]), "worker 1's updates are missing"
    assert torch.equal(layer.weight.detach().reshape(-1), shared.params)
    assert shared.board.updates.tolist() == [steps, steps]


def test_workers_updating_the_same_elements_all_land():
    """Both workers update every element at once (Hogwild, no lock): θ and the shared RMSProp statistics
    move further than one worker's updates alone move them (with alpha 0.999 the statistic keeps growing
    over these 400 updates of a constant gradient, and θ keeps falling)."""
    steps = 200
    torch.manual_seed(0)
    shared = tiny_shared(alpha=0.999)
    alone = tiny_shared(1, alpha=0.999)
    alone.params.copy_(shared.params)
    start = shared.params.clone()
    run_roles([hogwild.Role(f"worker {i}", apply_all, i, (shared, steps)) for i in range(2)], shared.board)
    apply_all(0, alone, steps)
    assert shared.board.updates.tolist() == [steps, steps]
    assert bool((shared.optimizer.square_avg > alone.optimizer.square_avg).all())
    assert bool((shared.params < alone.params).all()) and bool((alone.params < start).all())


def apply_all(index: int, shared: parts.Shared, steps: int, *, incarnation: int = 0) -> None:
    grad = torch.full((4,), 0.5)
    for _ in range(steps):
        parts.apply_gradients(shared, grad, lr=1e-3)
        shared.board.updates[index] += 1


# ---------------------------------------------------------------------------------------------------------
# No lock in the update path
# ---------------------------------------------------------------------------------------------------------

LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()), _multiprocessing.SemLock)


def locks_taken(fn) -> tuple[list[str], dict[str, int]]:
    """Run ``fn`` under a profiler; every lock acquisition it saw (threading and multiprocessing locks,
    semaphores, conditions; the multiprocessing ones also when taken with ``with``), and a count of the
    Python functions called by name."""
    seen: list[str] = []
    calls: dict[str, int] = {}
    synchronize_file = multiprocessing.synchronize.__file__

    def hook(frame, event, arg):
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, LOCK_TYPES) and arg.__name__ in ("acquire", "__enter__", "acquire_lock"):
                seen.append(f"{type(owner).__name__}.{arg.__name__}")
        elif event == "call":
            calls[frame.f_code.co_name] = calls.get(frame.f_code.co_name, 0) + 1
            if frame.f_code.co_filename == synchronize_file:
                seen.append(f"multiprocessing.synchronize: {frame.f_code.co_name}")

    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return seen, calls


def test_the_lock_detector_sees_locks():
    """The check below can fail: each kind of lock a shared update could use is detected."""
    context = multiprocessing.get_context("spawn")
    mp_lock, value, thread_lock = context.Lock(), context.Value("i", 0), threading.Lock()

    def with_mp_lock():
        with mp_lock:
            pass

    def mp_value():
        value.value += 1

    def thread_lock_acquire():
        thread_lock.acquire()
        thread_lock.release()

    for fn in (with_mp_lock, mp_value, thread_lock_acquire):
        assert locks_taken(fn)[0], f"{fn.__name__}: a lock was taken but not detected"


def catch_spec(method: str, t_max: int = 5, total: int = 300) -> a3c.Spec:
    config = a3c.A3CConfig(method=method, workers=1, t_max=t_max, network="mlp", hidden=(16,), lr=1e-3,
                           optim_eps=1e-5, target_period=50, epsilon_decay_steps=100)
    return a3c.Spec(a3c=config, env_id="Catch-v0", env_backend="native", env_options=(), seed=0,
                    total_env_steps=total, observation_shape=(10, 5), actions=3, eval_interval=0, eval_episodes=1)


@pytest.mark.parametrize("method", ["a3c", "nstep_q", "onestep_q"])
def test_no_lock_in_a_workers_loop(method):
    """A whole actor-learner, run in this process for 300 env steps (acting, gradients, Hogwild updates of
    the shared tensors, counters, target refreshes), takes no lock."""
    spec = catch_spec(method)
    shared = parts.make_shared(spec, seed=0)
    before = shared.params.clone()
    target = a3c.a3c_actor_learner if method == "a3c" else a3c.q_actor_learner
    seen, calls = locks_taken(lambda: target(0, spec, shared))
    assert calls.get("apply_gradients", 0) >= 300 // spec.a3c.t_max - 1, calls.get("apply_gradients")
    assert seen == []
    assert not torch.equal(shared.params, before)
    assert shared.board.total_steps() >= 300


# ---------------------------------------------------------------------------------------------------------
# The shared optimizers
# ---------------------------------------------------------------------------------------------------------


def test_shared_rmsprop_is_the_papers_rmsprop():
    torch.manual_seed(0)
    params = hogwild.shared_zeros(37).normal_()
    theta, g = params.clone(), torch.zeros(37)
    optimizer = hogwild.SharedRMSprop(params, alpha=0.99, eps=0.1)
    for _ in range(5):
        grad = torch.randn(37)
        optimizer.step(grad, 7e-4, 0)
        g = 0.99 * g + 0.01 * grad * grad
        theta = theta - 7e-4 * grad / torch.sqrt(g + 0.1)
    torch.testing.assert_close(params, theta, rtol=1e-6, atol=1e-7)


def test_shared_adam_matches_torch_adam():
    torch.manual_seed(0)
    params = hogwild.shared_zeros(53).normal_()
    reference = torch.nn.Parameter(params.clone())
    torch_adam = torch.optim.Adam([reference], lr=1e-3, eps=1e-8)
    optimizer = hogwild.SharedAdam(params, eps=1e-8)
    for t in range(20):
        grad = torch.randn(53)
        optimizer.step(grad, 1e-3, t)
        reference.grad = grad.clone()
        torch_adam.step()
    torch.testing.assert_close(params, reference.detach(), rtol=1e-5, atol=1e-7)


def test_gradients_accumulate_in_the_flat_buffer():
    net = a3c.Network((4,), 3, torso="mlp", hidden=(8,), lstm_size=6, actor_critic=True)
    n = hogwild.parameter_count(net)
    flat, grad = torch.zeros(n), torch.zeros(n)
    hogwild.flatten_into(net, flat)
    hogwild.bind_flat(net, flat, grad)
    out, value, _ = net(torch.randn(3, 1, 4), net.initial_state(1))
    (out.sum() + value.sum()).backward()
    hogwild.check_grads_bound(net, grad)
    assert float(grad.abs().sum()) > 0
    net.head.weight.grad = None  # what zero_grad(set_to_none=True) would do
    with pytest.raises(RuntimeError, match="head.weight"):
        hogwild.check_grads_bound(net, grad)
