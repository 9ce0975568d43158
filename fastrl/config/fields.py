"""The field checks every config section shares, and the one error they raise.

Every error is a ``ConfigError`` (a ``ValueError``) naming the field as its CLI flag spells it, the value given
and what was expected.
"""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field, the value and what was expected."""


def flag(name: str) -> str:
    """The CLI flag of a config field."""
    return "--" + ("env" if name == "id" else name.replace("_", "-"))


def require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{flag(name)} {value!r}: expected {expected}")


def require_int(obj: Any, name: str, *, least: int) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{flag(name)} {value!r}: expected an integer >= {least}")


def require_number(obj: Any, name: str, *, low: float | None = None, high: float | None = None,
                   low_open: bool = False, what: str | None = None) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{flag(name)} {value!r}: expected a finite number")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        raise ConfigError(f"{flag(name)} {value!r}: {what or 'expected a number ' + ' and '.join(bounds)}")


def require_replay_schedule(obj: Any) -> None:
    """The fields every replay-based learner section has: gamma, batch_size, replay_ratio, learning_starts."""
    require_number(obj, "gamma", low=0.0, high=1.0)
    require_int(obj, "batch_size", least=1)
    require_number(obj, "replay_ratio", low=0.0, low_open=True)
    require_int(obj, "learning_starts", least=0)


def require_support(obj: Any, learner: str) -> None:
    """A categorical return distribution's support (C51, D4PG): ``atoms`` on [``v_min``, ``v_max``]."""
    require_int(obj, "atoms", least=2)
    require_number(obj, "v_min")
    require_number(obj, "v_max")
    if not obj.v_min < obj.v_max:
        raise ConfigError(f"--v-min {obj.v_min} --v-max {obj.v_max}: the {learner} support needs v_min < v_max")


def require_widths(hidden: tuple[int, ...]) -> None:
    for i, width in enumerate(hidden):
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ConfigError(f"--hidden: width {i} is {width!r}; expected positive integers")


def resolve_device_name(device: str) -> str:
    """``device`` as torch names it, ``auto`` resolved (cuda where torch sees one, else cpu)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"--device {device!r}: not a torch device ({err}); expected cpu, cuda, cuda:N or auto") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device!r}: torch sees no CUDA device here; use --device cpu")
    return str(parsed)
