"""The confidence statements the tabular experiments make, over independent runs."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval of a proportion."""
    interval = stats.binomtest(successes, trials).proportion_ci(confidence, method="exact")
    return float(interval.low), float(interval.high)


def difference_of_means(a: np.ndarray, b: np.ndarray, confidence: float, seed: int) -> tuple[float, float, float]:
    """mean(a) - mean(b) of two independent samples, and its BCa bootstrap interval."""
    result = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), n_resamples=10_000,
                             confidence_level=confidence, method="BCa", random_state=seed)
    return float(a.mean() - b.mean()), float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_intervals(samples: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over the first axis of ``samples`` [R, ...]: Student's t with R - 1 degrees of
    freedom (per episode of a learning curve, the runs' returns are many and independent)."""
    mean = samples.mean(0)
    half = stats.t.ppf(0.5 + confidence / 2, df=len(samples) - 1) * samples.std(0, ddof=1) / np.sqrt(len(samples))
    return mean, mean - half, mean + half


def sampling_tolerance(estimates: torch.Tensor, family_error: float = 1e-3) -> torch.Tensor:
    """[S] the half-width t * sd / sqrt(R) of the mean of R runs' estimates [R, S], two-sided, with the error
    ``family_error`` split over the states whose estimates vary (Bonferroni); 0 where they do not."""
    runs = estimates.shape[0]
    sd = estimates.std(0)
    varying = int((sd > 0).sum())
    t = stats.t.ppf(1 - family_error / (2 * max(varying, 1)), df=runs - 1)
    return t * sd / runs**0.5
