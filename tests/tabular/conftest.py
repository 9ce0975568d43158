"""The statistical check the sampled tabular methods share: R independent runs, each giving an estimate per
state, against the exact values from the linear solve."""

from __future__ import annotations

import pytest
import torch

from fastrl.tabular.intervals import sampling_tolerance

#: the chance that a correct method fails one such check (split over its states, Bonferroni)
FAMILY_ERROR = 1e-3


def assert_within_sampling_error(estimates: torch.Tensor, exact: torch.Tensor, label: str) -> None:
    """The mean of R runs' estimates [R, S] lies within t * sd / sqrt(R) of ``exact`` [S] at every state the
    runs estimate (sd > 0): Student's t with R - 1 degrees of freedom, two-sided, at FAMILY_ERROR over the
    states. Only the run count sets the tolerance; an estimator that is biased by more than its sampling
    error at this run count fails."""
    runs = estimates.shape[0]
    estimated = estimates.std(0) > 0
    tolerance = sampling_tolerance(estimates, FAMILY_ERROR)
    error = (estimates.mean(0) - exact).abs()
    worst = int(torch.where(estimated, error / tolerance, 0).argmax())
    assert bool((error[estimated] <= tolerance[estimated]).all()), (
        f"{label}: state {worst}: mean of {runs} runs {float(estimates.mean(0)[worst]):.3f}, exact "
        f"{float(exact[worst]):.3f}, tolerance {float(tolerance[worst]):.3f}")
    assert bool((estimates[:, ~estimated] == exact[~estimated]).all()), f"{label}: a constant estimate is wrong"


@pytest.fixture
def within_sampling_error():
    return assert_within_sampling_error
