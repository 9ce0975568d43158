"""The hot kernels. One folder per op; ``reference.py`` in each is its specification.

See ``fastrl.ops._registry`` for how a backend is chosen and ``FASTRL_BACKEND`` for overriding it.
"""

from __future__ import annotations

import importlib
import importlib.util

#: The op packages under fastrl/ops/, in the order the profiler reports them.
OP_PACKAGES = ("sumtree", "returns", "td_loss", "categorical_projection", "frame_stack_gather", "mlp_q")


def import_all() -> list[str]:
    """Import every op package that exists (each declares its backends on import); the names imported.

    A package that is absent is skipped; one that exists and fails to import raises.
    """
    imported = []
    for name in OP_PACKAGES:
        if importlib.util.find_spec(f"fastrl.ops.{name}") is None:
            continue
        importlib.import_module(f"fastrl.ops.{name}")
        imported.append(name)
    return imported
