"""A ``RunConfig`` as JSON (the run directory's ``config.json``) and back; unknown keys are errors."""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from pathlib import Path
from typing import Any

from fastrl.config.fields import ConfigError
from fastrl.config.run import RunConfig


def to_dict(config: RunConfig) -> dict[str, Any]:
    """JSON-able dict of ``config`` (paths as text, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def from_dict(data: dict[str, Any]) -> RunConfig:
    """The ``RunConfig`` of ``to_dict``'s output (as stored in a run directory); unknown keys are errors."""
    def build(cls, values: dict[str, Any], where: str):
        if not isinstance(values, dict):
            raise ConfigError(f"config {where or 'root'}: expected an object, got {type(values).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"config {where or 'root'}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
        kwargs = {}
        for name, value in values.items():
            sub = _sections(cls).get(name)
            if sub is not None:
                kwargs[name] = build(sub, value, f"{where}.{name}".lstrip("."))
            elif isinstance(value, list):
                kwargs[name] = tuple(value)
            elif name == "run_dir" and value is not None:
                kwargs[name] = Path(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    return build(RunConfig, data, "")


@functools.cache
def _sections(cls) -> dict[str, type]:
    """The fields of ``cls`` that are dataclasses themselves (RunConfig's sections)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}
