"""The logged gradient norm: its peak, its clipping, and the run stopping at a non-finite one."""

import math

import pytest
import torch

from fastrl.algos.gradients import GradNormPeak


def _params_with_grads(*grads):
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        params.append(p)
    return params


def test_the_peak_is_the_largest_global_norm_before_clipping_and_take_resets_it():
    peak = GradNormPeak("cpu")
    first = _params_with_grads(torch.tensor([3.0, 0.0]), torch.tensor([4.0]))      # norm 5
    peak.clip(first, max_norm=1.0)
    assert torch.linalg.vector_norm(torch.cat([p.grad for p in first])).item() == pytest.approx(1.0, rel=1e-5)
    peak.clip(_params_with_grads(torch.tensor([2.0])), max_norm=1.0)               # norm 2, below the peak
    assert peak.take() == pytest.approx(5.0)
    assert peak.take() == 0.0


def test_without_clipping_the_norm_is_still_measured_and_the_grads_are_untouched():
    peak = GradNormPeak("cpu")
    params = _params_with_grads(torch.tensor([6.0, 8.0]))
    peak.clip(params, max_norm=0.0)
    assert params[0].grad.tolist() == [6.0, 8.0]
    assert peak.take() == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_one_non_finite_gradient_in_an_interval_shows_in_its_peak(bad):
    peak = GradNormPeak("cpu")
    peak.clip(_params_with_grads(torch.tensor([bad, 1.0])), max_norm=0.0)
    peak.clip(_params_with_grads(torch.tensor([1.0])), max_norm=0.0)
    assert not math.isfinite(peak.take())


def test_params_without_gradients_are_skipped():
    peak = GradNormPeak("cpu")
    params = _params_with_grads(torch.tensor([3.0, 4.0])) + [torch.nn.Parameter(torch.ones(2))]
    peak.clip(params, max_norm=1.0)
    assert peak.take() == pytest.approx(5.0)


@pytest.mark.parametrize("preset, algo", [("dqn-catch", "dqn"), ("ppo-catch", "ppo"), ("td3-pendulum", "td3")])
def test_every_learner_logs_its_gradient_norm(tmp_path, preset, algo):
    import dataclasses

    from fastrl.config import preset as make_preset
    from fastrl.log import METRICS, read_jsonl
    from fastrl.runner import train

    config = make_preset(preset)
    learning = {"dqn": dict(dqn=dataclasses.replace(config.dqn, learning_starts=100)),
                "td3": dict(ddpg=dataclasses.replace(config.ddpg, learning_starts=200))}.get(algo, {})
    config = dataclasses.replace(config, run_dir=tmp_path / "run", total_env_steps=1_024, log_interval=256,
                                 checkpoint_interval=0, tensorboard=False, progress=False, **learning)
    train(config)
    rows = [r for r in read_jsonl(tmp_path / "run" / METRICS) if "grad_norm" in r]
    assert rows and all(math.isfinite(r["grad_norm"]) and r["grad_norm"] > 0 for r in rows)


def test_a_non_finite_gradient_norm_stops_the_run_naming_the_step(tmp_path):
    import dataclasses

    from fastrl.checkpoint import TrainingDiverged
    from fastrl.config import preset as make_preset
    from fastrl.runner import Run

    run_dir = tmp_path / "run"
    config = dataclasses.replace(make_preset("dqn-catch"), run_dir=run_dir, tensorboard=False, progress=False)
    run = Run(config, run_dir, None)
    try:
        with pytest.raises(TrainingDiverged, match=r"grad_norm is inf .* env step 0"):
            run._check_finite({"loss": 0.5, "grad_norm": float("inf")})
    finally:
        run.close()


def test_a_norm_noted_from_elsewhere_keeps_the_peak_and_a_nan_sticks():
    peak = GradNormPeak("cpu")
    for norm in (2.0, 7.0, 3.0):
        peak.note(norm)
    assert peak.take() == 7.0
    for norm in (1.0, float("nan"), 9.0):
        peak.note(norm)
    assert math.isnan(peak.take())
