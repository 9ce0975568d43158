"""Which backend runs an op, and which one did.

Each op folder declares its backends once (``declare``) and calls ``dispatch`` on every call. The choice:

1. an explicit ``backend=`` argument, else
2. ``FASTRL_BACKEND``: a global name (``FASTRL_BACKEND=triton``), per-op names
   (``FASTRL_BACKEND=sumtree:numba,gae:cuda``), or both (``FASTRL_BACKEND=triton,sumtree:numba``), else
3. the op's preference order for the tensors' device, skipping backends that are not available here.

An explicit request (1 or 2) that cannot run raises ``BackendUnavailable`` with the reason: it never falls
back silently to a slower path. The backend that ran is recorded (``last_backend``) so that tests and
profiles can state what they measured.

Availability of a backend kind:

- ``reference``: always (plain torch).
- ``numba``: numba imports, tensors on the CPU.
- ``triton``: triton imports, and tensors on CUDA, or on the CPU with ``TRITON_INTERPRET=1`` (the
  interpreter; correct but slow, so it is never chosen automatically on the CPU).
- ``cuda``: CuPy imports, tensors on CUDA and a device is visible (kernels compiled by NVRTC).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

KINDS = ("reference", "numba", "triton", "cuda")


class BackendUnavailable(RuntimeError):
    """An explicitly requested backend cannot run here; the message says why."""


@dataclass
class _Op:
    name: str
    modules: dict[str, str]  # backend -> module path
    cpu_order: tuple[str, ...]
    cuda_order: tuple[str, ...]
    last: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


_OPS: dict[str, _Op] = {}


def declare(op: str, modules: dict[str, str], cpu_order: Sequence[str], cuda_order: Sequence[str]) -> None:
    """Declare an op's backends (backend name -> module path) and its automatic preference per device."""
    unknown = [k for k in modules if k not in KINDS]
    if unknown:
        raise ValueError(f"op {op!r}: unknown backend kinds {unknown}; known: {KINDS}")
    if "reference" not in modules:
        raise ValueError(f"op {op!r} must declare a reference backend")
    _OPS[op] = _Op(op, dict(modules), tuple(cpu_order), tuple(cuda_order))
    for key in [k for k in _CHOICES if k[0] == op]:
        del _CHOICES[key]


def ops() -> list[str]:
    return sorted(_OPS)


def backends(op: str) -> list[str]:
    return list(_get(op).modules)


def _get(op: str) -> _Op:
    try:
        return _OPS[op]
    except KeyError:
        raise ValueError(f"unknown op {op!r}; declared ops: {sorted(_OPS)}") from None


def requested_backend(op: str) -> str | None:
    """The backend FASTRL_BACKEND asks for this op, or None."""
    spec = os.environ.get("FASTRL_BACKEND", "").strip()
    if not spec:
        return None
    global_choice = None
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            name, choice = (s.strip() for s in part.split(":", 1))
            if name == op:
                return _check_kind(choice, f"FASTRL_BACKEND={spec!r}")
        else:
            global_choice = _check_kind(part, f"FASTRL_BACKEND={spec!r}")
    return global_choice


def _check_kind(choice: str, where: str) -> str:
    if choice not in KINDS:
        raise ValueError(f"{where}: unknown backend {choice!r}; expected one of {KINDS}")
    return choice


@functools.cache
def _module_probe(kind: str) -> str | None:
    """Why a backend kind cannot run at all in this process (None when it can)."""
    if kind == "numba":
        try:
            import numba  # noqa: F401
        except Exception as e:  # an import of a compiled extension can fail in many ways
            return f"numba does not import: {e}"
    elif kind == "triton":
        try:
            import triton  # noqa: F401
        except Exception as e:
            return f"triton does not import: {e}"
    elif kind == "cuda":
        try:
            import cupy  # noqa: F401
        except Exception as e:
            return f"cupy does not import ({e}); install the 'gpu' extra"
    return None


def unavailable_reason(op: str, backend: str, device: torch.device | str) -> str | None:
    """Why ``backend`` cannot run ``op`` on ``device`` here, or None if it can."""
    entry = _get(op)
    device = torch.device(device)
    if backend not in entry.modules:
        return f"op {op!r} has no {backend!r} backend; it has {list(entry.modules)}"
    reason = _module_probe(backend)
    if reason:
        return reason
    if backend == "numba" and device.type != "cpu":
        return f"numba runs on CPU tensors, these are on {device}"
    if backend == "triton" and device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return f"triton needs CUDA tensors, or TRITON_INTERPRET=1 for CPU tensors (these are on {device})"
    if backend == "cuda":
        if device.type != "cuda":
            return f"the cuda backend needs CUDA tensors, these are on {device}"
        if not torch.cuda.is_available():
            return "torch sees no CUDA device"
    return None


def available(op: str, device: torch.device | str) -> list[str]:
    return [b for b in _get(op).modules if unavailable_reason(op, b, device) is None]


_CHOICES: dict[tuple, str] = {}

#: CPython's mapping behind ``os.environ`` on POSIX (bytes keys, kept in step with it). ``choose`` runs on
#: every op call, and ``os.environ.get`` encodes the name and decodes the value each time, a visible share of
#: a prioritized replay round (timed by ``fastrl bench replay``); the settings only need to be told apart,
#: not decoded.
_ENVIRON_BYTES = os.environ._data if os.name == "posix" else None


def _setting(key_bytes: bytes, key: str):
    """The raw value of an environment variable (bytes on POSIX), or None."""
    if _ENVIRON_BYTES is not None:
        return _ENVIRON_BYTES.get(key_bytes)
    return os.environ.get(key)


def choose(op: str, device: torch.device | str, backend: str | None = None) -> str:
    """The backend that will run ``op`` for tensors on ``device`` (memoized per op, device and settings)."""
    key = (op, device, backend, _setting(b"FASTRL_BACKEND", "FASTRL_BACKEND"),
           _setting(b"TRITON_INTERPRET", "TRITON_INTERPRET"))
    name = _CHOICES.get(key)
    if name is None:
        name = _CHOICES[key] = _choose(op, torch.device(device), backend)
    return name


def _choose(op: str, device: torch.device, backend: str | None) -> str:
    entry = _get(op)
    explicit = backend if backend is not None else requested_backend(op)
    if explicit is not None:
        reason = unavailable_reason(op, explicit, device)
        if reason:
            raise BackendUnavailable(f"op {op!r}: backend {explicit!r} was requested but cannot run: {reason}")
        return explicit
    order = entry.cuda_order if device.type == "cuda" else entry.cpu_order
    for name in order:
        if name in entry.modules and unavailable_reason(op, name, device) is None:
            return name
    return "reference"


@functools.cache
def _load(module_path: str):
    return importlib.import_module(module_path)


def dispatch(op: str, fn: str, device: torch.device | str, backend: str | None = None) -> Callable:
    """The function ``fn`` of the chosen backend's module; records the choice as the op's last backend."""
    entry = _get(op)
    name = choose(op, device, backend)
    impl = getattr(_load(entry.modules[name]), fn)
    entry.last = name
    entry.counts[name] = entry.counts.get(name, 0) + 1
    return impl


def last_backend(op: str) -> str | None:
    """The backend that ran ``op`` most recently in this process (None if it never ran)."""
    return _get(op).last


def counts(op: str) -> dict[str, int]:
    """How many calls of ``op`` each backend served in this process."""
    return dict(_get(op).counts)
