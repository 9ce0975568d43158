"""What ``fastrl profile ops`` measures: each op folder's ``cases.py`` returns a list of ``Case``.

A case is one op at one size: how to make fresh inputs, how to run the public op with a given backend, the
plain-torch reference (also compiled with torch.compile by the profiler, as a further provider), the bytes
one call must move at least (for GB/s against the device's copy bandwidth), and any further baselines
(``peers``: the per-sample Python loop public code uses, a peer library's implementation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Case:
    op: str                                         #: the registry name (``fastrl.ops._registry``)
    label: str                                      #: the size, e.g. "B=512,A=6"
    make_inputs: Callable[[torch.device], dict[str, Any]]
    run: Callable[[dict[str, Any], str], Any]       #: run(inputs, backend): the public op, explicit backend
    reference: Callable[[dict[str, Any]], Any]      #: the reference function alone (compilable)
    bytes_moved: Callable[[dict[str, Any]], int]
    peers: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    #: False where the peers cannot give the reference's output (a sampler drawing its own random numbers):
    #: they are timed, and their rows say ``checked: false``
    peers_comparable: bool = True
