"""pytest-benchmark version of ``fastrl bench replay``: add, uniform sample and prioritized round, for fastrl
and the peers installed here, on the same cases and providers (``fastrl.benchmarks.replay``).

Run ``pytest bench/test_replay.py`` (``-k vec17`` for one case; ``--benchmark-save`` / ``--benchmark-compare``
to track regressions). ``fastrl bench replay`` is the finer tool (alternating windows, ratios, records); the
cases here are smaller (100k transitions, Atari filled to 5k) so that the suite stays quick.
"""

from __future__ import annotations

import pytest
import torch

from fastrl.benchmarks import replay, timing

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CONFIG = replay.ReplayBenchConfig(cases=("vec17-100k", "atari-100k"), atari_fill=5_000, device=str(DEVICE))
PROVIDERS = ("fastrl", "sb3", "cpprb", "torchrl")
METRICS = ("add", "sample", "prioritized_round")

_built: dict[tuple[str, str], list[replay.Provider] | str] = {}


def providers(case_name: str, provider: str) -> list[replay.Provider] | str:
    """The providers of one library for one case (built once), or why there are none."""
    key = (case_name, provider)
    if key not in _built:
        case = replay.parse_case(case_name)
        steps = replay.Steps.draw(case, CONFIG.num_envs)
        if provider == "fastrl":
            _built[key] = [replay.fastrl_provider(case, CONFIG, steps, prioritized=p) for p in (False, True)]
        else:
            made, reason = replay.peer_providers(provider, case, CONFIG, steps)
            _built[key] = made or reason
    return _built[key]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("case_name", CONFIG.cases)
def test_replay(benchmark, case_name, provider, metric):
    made = providers(case_name, provider)
    if isinstance(made, str):
        pytest.skip(made)
    fns = [getattr(p, metric) for p in made if getattr(p, metric) is not None]
    if not fns:
        pytest.skip(f"{provider} has no {metric} here")
    fn = fns[0]
    if metric == "add":
        counter = iter(range(1 << 62))

        def call():
            fn(next(counter))
            timing.synchronize(DEVICE)
    else:
        held = replay.holding(fn)  # the previous batch lives while the next is drawn, as in a training loop

        def call():
            held()
            timing.synchronize(DEVICE)

    benchmark.extra_info.update(device=str(DEVICE), batch=CONFIG.batch, num_envs=CONFIG.num_envs)
    benchmark(call)
