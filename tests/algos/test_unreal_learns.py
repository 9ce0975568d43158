"""UNREAL learns with 2 Hogwild workers: unreal-catch, run to its end, is judged on the final evaluation the
supervisor makes of the parameters the workers left (see test_dqn_learns.py)."""

from __future__ import annotations

import pytest
from test_dqn_learns import SEEDS, assert_ends_solved


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_unreal_catch_ends_solved(tmp_path, seed):
    assert_ends_solved(tmp_path, "unreal-catch", seed, 0.9)
