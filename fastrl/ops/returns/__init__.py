"""Returns over a rollout: GAE, n-step returns, V-trace; [T, N] tensors with the env index fastest.

Three registry ops, ``gae``, ``nstep_returns`` and ``vtrace``, share this folder and its backends
(reference, numba, triton, cuda). They are separate ops, not one op with three functions, because the
registry records the backend per op name: a learner that uses two of them, a ``FASTRL_BACKEND=gae:cuda``
override and a profile row all name the one they mean, and ``last_backend("gae")`` cannot be mistaken
for the backend of the last V-trace.

**The rollout convention.** Row t holds what one ``VecEnv.step`` produced: the reward r_t and the flags
``terminated[t]`` / ``truncated[t]`` of the step that action a_t (taken in s_t, whose value is
``values[t]``) caused. ``next_value`` [N] is V of the observation after the last step. At an episode end
the trace stops, and the two flags differ in what the target bootstraps from:

- terminated: the episode is over, the future is worth 0: no bootstrap;
- truncated (time limit): the episode was cut, not finished: bootstrap from V(final observation).

Where is V(final observation)? With next-step autoreset (envpool, gymnasium's default, this project's
``VecEnv``), the observation after a done step *is* the final one, so ``values[t + 1]`` (or
``next_value``) already holds it and nothing more is needed. With same-step autoreset (the observation
after a done step is already the next episode's first), pass ``final_values`` [T, N]: the value of the
final observation, read only where ``truncated`` is set (other entries are ignored and may hold anything).
Where both flags are set, termination wins.

With next-step autoreset the row after a done step is the autoreset transition (final observation ->
first observation, reward 0): its advantage and return are computed like any other row and mean nothing;
the learner masks that row out (the trace never leaks from it into the done step, which cuts it).

Peers: CleanRL's PPO keeps one ``dones`` flag per row meaning "s_t starts a new episode" (its
``nextnonterminal`` at t is our ``1 - (terminated[t] | truncated[t])``) and so treats a time limit as a
termination, a bias on time-limited tasks. torchrl's ``generalized_advantage_estimate`` takes ``done``
(stops the trace) and ``terminated`` (stops the bootstrap) with a full [T, N] ``next_state_value``; here
the next state's value comes from ``values`` itself, and only the rare truncated steps may need another.

**Dtypes.** Float inputs are float32 or bfloat16, all the same dtype; bfloat16 is widened to float32 on
load and every backend accumulates in float32. Flags are bool or uint8 (nonzero = set). Outputs are float32
[T, N], newly allocated or written into ``out``. Non-contiguous inputs are made contiguous (a copy).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from fastrl.ops import _registry

OPS = ("gae", "nstep_returns", "vtrace")
_MODULES = {kind: f"fastrl.ops.returns.{kind}" for kind in ("reference", "numba", "triton", "cuda")}
# On CUDA the CUDA C kernels come first, then Triton: an unmeasured choice (no GPU in the writing session).
for _op in OPS:
    _registry.declare(_op, _MODULES, cpu_order=("numba", "reference"), cuda_order=("cuda", "triton", "reference"))

FLOATS = (torch.float32, torch.bfloat16)
FLAGS = (torch.bool, torch.uint8)


class GAE(NamedTuple):
    advantages: torch.Tensor  #: [T, N] float32
    returns: torch.Tensor     #: [T, N] float32: advantages + values, the value targets


class NStep(NamedTuple):
    returns: torch.Tensor     #: [T, N] float32: the n-step targets, bootstrapped where the window allows
    discounts: torch.Tensor   #: [T, N] float32: gamma^m of each window (m steps), 0 where it terminated


class VTrace(NamedTuple):
    vs: torch.Tensor              #: [T, N] float32: the V-trace value targets
    pg_advantages: torch.Tensor   #: [T, N] float32: the advantages for the policy gradient


def gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
        next_value: torch.Tensor, *, gamma: float, lam: float, final_values: torch.Tensor | None = None,
        out: tuple[torch.Tensor, torch.Tensor] | None = None, backend: str | None = None) -> GAE:
    """Generalized advantage estimation (Schulman et al. 2016), a reverse scan over T for each env.

    delta_t = r_t + gamma * b_t - V(s_t), with b_t = 0 if terminated[t], else V(final observation) if
    truncated[t] and ``final_values`` is given, else V(s_{t+1}) (``values[t + 1]``, ``next_value`` at
    t = T - 1); A_t = delta_t + gamma * lam * A_{t+1}, the second term dropped where the step ended its
    episode (either flag). Returns (advantages, returns = advantages + values).

    Worked example, one env, T = 3, gamma = 0.5, lam = 1: rewards [1, 2, 4], values [1, 2, 3],
    next_value [4]. Step 2: delta = 4 + 0.5 * 4 - 3 = 3, A_2 = 3.

    - terminated = [0, 1, 0]: step 1 has no bootstrap: delta = 2 - 2 = 0, A_1 = 0 (the trace stops);
      step 0: delta = 1 + 0.5 * 2 - 1 = 1, A_0 = 1 + 0.5 * A_1 = 1. Advantages [1, 0, 3].
    - truncated = [0, 1, 0], next-step autoreset (values[2] = 3 is the final observation's value):
      delta_1 = 2 + 0.5 * 3 - 2 = 1.5 = A_1; A_0 = 1 + 0.5 * 1.5 = 1.75. Advantages [1.75, 1.5, 3].
    - the same with ``final_values[1] = 6`` (same-step autoreset): A_1 = 2 + 3 - 2 = 3, A_0 = 2.5.

    Shapes: rewards, values, terminated, truncated, final_values [T, N]; next_value [N].
    """
    op = "gae"
    T, N, device = _rollout_shape(op, rewards)
    tensors = _check_rollout(op, T, N, device, rewards=rewards, values=values, terminated=terminated,
                             truncated=truncated, next_value=next_value, final_values=final_values)
    _check_unit(op, gamma=gamma, lam=lam)
    out = _outputs(op, out, T, N, device, tensors)
    impl = _registry.dispatch(op, "gae", device, backend)
    return GAE(*impl(*tensors.values(), float(gamma), float(lam), out))


def nstep_returns(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor,
                  truncated: torch.Tensor, next_value: torch.Tensor, *, gamma: float, n: int,
                  final_values: torch.Tensor | None = None, out: tuple[torch.Tensor, torch.Tensor] | None = None,
                  backend: str | None = None) -> NStep:
    """n-step returns G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m b_{t+m-1}, and the discount gamma^m.

    The window of step t takes m <= n steps: it stops early at the first step that ends the episode and
    at the rollout's last step. b is GAE's bootstrap: 0 after termination (and the discount is 0), the
    final observation's value after truncation, else V(s_{t+m}) (``next_value`` past the rollout's end).
    A learner that bootstraps itself uses ``discounts`` with the state m steps on.

    Example, one env, gamma = 0.5, n = 2, rewards [1, 2, 4], values [1, 2, 3], next_value [4]:
    with terminated = [0, 1, 0]: G = [1 + 0.5 * 2, 2, 4 + 0.5 * 4] = [2, 2, 6], discounts [0, 0, 0.5];
    with truncated = [0, 1, 0] instead (next-step autoreset): G_0 = 1 + 0.5 * 2 + 0.25 * 3 = 2.75,
    G_1 = 2 + 0.5 * 3 = 3.5, G_2 = 6; discounts [0.25, 0.5, 0.5].

    Shapes as ``gae``; ``n`` >= 1 (n = 1 gives the one-step TD targets).
    """
    op = "nstep_returns"
    T, N, device = _rollout_shape(op, rewards)
    tensors = _check_rollout(op, T, N, device, rewards=rewards, values=values, terminated=terminated,
                             truncated=truncated, next_value=next_value, final_values=final_values)
    _check_unit(op, gamma=gamma)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{op}: n must be an int >= 1, got {n!r}")
    out = _outputs(op, out, T, N, device, tensors)
    impl = _registry.dispatch(op, "nstep_returns", device, backend)
    return NStep(*impl(*tensors.values(), float(gamma), n, out))


def vtrace(log_rhos: torch.Tensor, discounts: torch.Tensor, rewards: torch.Tensor, values: torch.Tensor,
           bootstrap_value: torch.Tensor, *, clip_rho: float | None = 1.0, clip_pg_rho: float | None = 1.0,
           lambda_: float = 1.0, out: tuple[torch.Tensor, torch.Tensor] | None = None,
           backend: str | None = None) -> VTrace:
    """V-trace (Espeholt et al. 2018), as in deepmind/scalable_agent's ``from_importance_weights``.

    log_rhos = log pi(a_t|s_t) - log mu(a_t|s_t); discounts = gamma * (1 - done_t); V_T = bootstrap_value.
    With rho_t = exp(log_rhos_t), c_t = lambda_ * min(1, rho_t) and
    delta_t = min(clip_rho, rho_t) * (r_t + discounts_t * V_{t+1} - V_t):

        vs_t = V_t + delta_t + discounts_t * c_t * (vs_{t+1} - V_{t+1})
        pg_advantages_t = min(clip_pg_rho, rho_t) * (r_t + discounts_t * vs_{t+1} - V_t), vs_T = V_T

    ``clip_rho`` / ``clip_pg_rho`` of None mean no clipping. On-policy (log_rhos = 0, lambda_ = 1) vs_t is the
    discounted return bootstrapped from V_T. As in scalable_agent a done step has discount 0, which
    treats a truncation as a termination: V-trace here has no final-observation bootstrap.

    Shapes: log_rhos, discounts, rewards, values [T, N]; bootstrap_value [N].
    """
    op = "vtrace"
    T, N, device = _rollout_shape(op, rewards)
    tensors = _check_rollout(op, T, N, device, log_rhos=log_rhos, discounts=discounts, rewards=rewards,
                             values=values, bootstrap_value=bootstrap_value)
    for name, clip in (("clip_rho", clip_rho), ("clip_pg_rho", clip_pg_rho)):
        if clip is not None and not (isinstance(clip, (int, float)) and clip > 0 and not math.isnan(clip)):
            raise ValueError(f"{op}: {name} must be a number > 0 or None (no clipping), got {clip!r}")
    _check_unit(op, lambda_=lambda_)
    out = _outputs(op, out, T, N, device, tensors)
    impl = _registry.dispatch(op, "vtrace", device, backend)
    return VTrace(*impl(*tensors.values(), _clip(clip_rho), _clip(clip_pg_rho), float(lambda_), out))


# ---------------------------------------------------------------------------------------------------------
# Validation: every message names the op, the argument, what it got and what was expected.
# ---------------------------------------------------------------------------------------------------------

def _clip(value: float | None) -> float:
    return math.inf if value is None else float(value)


def _rollout_shape(op: str, rewards) -> tuple[int, int, torch.device]:
    if not isinstance(rewards, torch.Tensor):
        raise TypeError(f"{op}: rewards must be a torch.Tensor [T, N], got {type(rewards).__name__}")
    if rewards.dim() != 2 or rewards.shape[0] < 1 or rewards.shape[1] < 1:
        raise ValueError(f"{op}: rewards has shape {tuple(rewards.shape)}; expected [T, N] with T >= 1, N >= 1 "
                         "(time first, env index fastest)")
    if rewards.dtype not in FLOATS:
        raise TypeError(f"{op}: rewards has dtype {rewards.dtype}; expected torch.float32 or torch.bfloat16")
    return rewards.shape[0], rewards.shape[1], rewards.device


def _check_rollout(op: str, T: int, N: int, device: torch.device, **tensors) -> dict[str, torch.Tensor | None]:
    """Check shapes, dtypes and devices (a name ending in _value is per env [N]; flags by name); contiguous."""
    float_dtype = tensors["rewards"].dtype
    checked = {}
    for name, t in tensors.items():
        if t is None and name == "final_values":
            checked[name] = None
            continue
        per_env = name.endswith("_value")
        shape, described = ((N,), f"[N] = ({N},)") if per_env else ((T, N), f"[T, N] = ({T}, {N})")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor {described}, got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise ValueError(f"{op}: {name} has shape {tuple(t.shape)}; expected {described} "
                             f"(T, N from rewards {tuple(tensors['rewards'].shape)})")
        if t.device != device:
            raise ValueError(f"{op}: {name} is on {t.device}; expected {device}, where rewards is")
        if name in ("terminated", "truncated"):
            if t.dtype not in FLAGS:
                raise TypeError(f"{op}: {name} has dtype {t.dtype}; expected torch.bool or torch.uint8 "
                                f"(convert with .bool())")
        elif t.dtype != float_dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype}; expected {float_dtype} like rewards "
                            "(all float inputs share one dtype: float32 or bfloat16)")
        checked[name] = t.contiguous()
    return checked


def _check_unit(op: str, **scalars: float) -> None:
    for name, value in scalars.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{op}: {name} must be a number in [0, 1], got {value!r}")


def _outputs(op: str, out, T: int, N: int, device: torch.device, inputs: dict) -> tuple[torch.Tensor, ...]:
    """``out`` checked (two contiguous float32 [T, N] tensors, not sharing memory with an input), or new ones."""
    if out is None:
        return (torch.empty((T, N), dtype=torch.float32, device=device),
                torch.empty((T, N), dtype=torch.float32, device=device))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{op}: out must be a pair of tensors, got {type(out).__name__}")
    for k, t in enumerate(out):
        where = f"{op}: out[{k}]"
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{where} must be a torch.Tensor, got {type(t).__name__}")
        if tuple(t.shape) != (T, N) or t.dtype != torch.float32 or t.device != device or not t.is_contiguous():
            raise ValueError(f"{where} is {t.dtype} {tuple(t.shape)} on {t.device} (contiguous: "
                             f"{t.is_contiguous()}); expected a contiguous torch.float32 ({T}, {N}) on {device}")
        for name, x in inputs.items():
            if x is not None and _overlap(t, x):
                raise ValueError(f"{where} overlaps the input {name} in memory; the backends read the inputs "
                                 "while they write the outputs, so out must be separate tensors")
    if _overlap(out[0], out[1]):
        raise ValueError(f"{op}: out[0] and out[1] overlap in memory; expected two separate tensors")
    return tuple(out)


def _overlap(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two contiguous tensors share any byte."""
    a0, b0 = a.data_ptr(), b.data_ptr()
    return a0 < b0 + b.numel() * b.element_size() and b0 < a0 + a.numel() * a.element_size()
