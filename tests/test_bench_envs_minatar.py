"""``fastrl bench envs`` on a native MinAtar env runs the ``minatar`` package beside it in the same run."""

from __future__ import annotations

from fastrl.benchmarks.envs import EnvBenchConfig, run


def test_the_package_is_the_baseline_and_the_ratio_per_core_is_reported():
    rows = run(EnvBenchConfig(env=("MinAtar/Breakout-v1",), backend=("native",), num_envs=(2,), seconds=0.05,
                              windows=1))
    by_backend = {row["backend"]: row for row in rows}
    assert set(by_backend) == {"minatar-package", "native"}
    package, native = by_backend["minatar-package"], by_backend["native"]
    assert package["value"] > 0 and native["value"] > 0 and native["threads"] >= 1
    assert native["ratio_vs_raw"] == native["value"] / package["value"]
    assert native["ratio_per_core"] == native["ratio_vs_raw"] / native["threads"]
    assert native["kernel"] == "numba" and "kernel" not in package  # numba imports here: the CPU's default


def test_the_package_baseline_steps_at_most_max_envs(monkeypatch):
    """Past MAX_ENVS the package's Python loop would only take longer to build, not step faster."""
    import numpy as np

    from fastrl.benchmarks import minatar_package

    monkeypatch.setattr(minatar_package, "MAX_ENVS", 3)
    actions = [np.zeros(10, dtype=np.int64)]
    body, close = minatar_package.package_loop("MinAtar/Breakout-v1", 10, actions)
    assert body(0) == 3
    close()
