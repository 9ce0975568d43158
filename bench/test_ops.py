"""pytest-benchmark version of ``fastrl profile ops``: one benchmark per case and provider, from the same
cases (``fastrl/ops/<op>/cases.py``) and providers (``fastrl.benchmarks.ops.providers``).

Run ``pytest bench/test_ops.py`` (``-k frame_stack_gather`` for one op; ``--benchmark-save`` /
``--benchmark-compare`` to track regressions). Each round is one call plus a device synchronize, timed on
the wall clock; ``fastrl profile ops`` is the finer tool (CUDA events, L2 flush, GB/s, speedups). Every
provider's output is checked against the reference before it is timed; a provider that cannot run here is
skipped with the reason.
"""

from __future__ import annotations

import pytest
import torch

from fastrl.benchmarks import ops, timing
from fastrl.ops import _registry

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CASES = ops.discover_cases(DEVICE)


def _params():
    params = []
    for case in CASES:
        chosen, skipped = ops.providers(case, DEVICE)
        for provider in chosen:
            params.append(pytest.param(case, provider, id=f"{case.op}/{case.label}/{provider.name}"))
        for item in skipped:
            params.append(pytest.param(case, None, id=f"{item['case']}/{item['backend']}",
                                       marks=pytest.mark.skip(reason=item["reason"])))
    return params


@pytest.mark.parametrize("case,provider", _params())
def test_op(benchmark, case, provider):
    expected = case.run(ops.fresh_inputs(case, DEVICE), "reference")
    inputs = ops.fresh_inputs(case, DEVICE)
    try:
        got = provider.fn(inputs)
    except Exception as e:
        if provider.name == ops.COMPILE:
            pytest.skip(f"torch.compile of the reference fails here: {type(e).__name__}: {e}")
        raise
    ran = _registry.last_backend(case.op) if provider.registry else provider.name
    assert ops.mismatch(expected, got) is None, f"{ran} differs from the reference: {ops.mismatch(expected, got)}"
    benchmark.extra_info.update(backend=ran, bytes_moved=int(case.bytes_moved(inputs)), device=str(DEVICE))

    def call():
        provider.fn(inputs)
        timing.synchronize(DEVICE)

    benchmark(call)
    if provider.registry:
        assert _registry.last_backend(case.op) == ran
