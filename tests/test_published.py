"""The published-results table: every row is well formed, and the look-ups filter, sort and pick right."""

from __future__ import annotations

import math

import pytest

from fastrl.benchmarks.published import PUBLISHED, X_UNITS, Published, at, published_for

ALGOS = {"ppo", "dqn", "td3", "a3c"}


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda r: f"{r.algo}-{r.env_id}-{r.x}-{r.method}")
def test_every_row_is_well_formed(row: Published):
    assert row.algo in ALGOS
    assert row.method.strip() and row.env_id.strip()
    assert row.source.strip() and row.protocol.strip()
    assert row.x_unit in X_UNITS
    assert isinstance(row.x, int) and row.x > 0
    assert math.isfinite(row.score)
    assert row.score_std is None or (math.isfinite(row.score_std) and row.score_std >= 0)
    assert isinstance(row.read_off_figure, bool)
    if row.read_off_figure:
        assert "approx" in row.source.lower()


def test_rows_are_unique():
    keys = [(r.algo, r.method, r.env_id, r.x, r.x_unit) for r in PUBLISHED]
    assert len(keys) == len(set(keys))


def test_published_for_filters_and_sorts_by_x():
    rows = published_for("td3", "Hopper-v5")
    assert rows and all(r.algo == "td3" and r.env_id == "Hopper-v5" for r in rows)
    assert [r.x for r in rows] == sorted(r.x for r in rows)
    assert len(rows) == sum(1 for r in PUBLISHED if r.algo == "td3" and r.env_id == "Hopper-v5")
    assert published_for("ppo", "Hopper-v5") == []
    assert published_for("nope", "Pong-v5") == []


def _row(x: int, unit: str = "env_steps", method: str = "m") -> Published:
    return Published("ppo", method, "Pong-v5", x, unit, float(x), None, "src", "proto", False)


def test_at_prefers_the_largest_x_not_above():
    rows = [_row(100), _row(300), _row(1000), _row(400, "frames")]
    assert at(rows, 300, "env_steps").x == 300
    assert at(rows, 999, "env_steps").x == 300
    assert at(rows, 5000, "env_steps").x == 1000
    assert at(rows, 50, "env_steps").x == 100  # nothing at or below: the nearest above
    assert at(rows, 10_000, "frames").x == 400
    assert at(rows, 10, "frames").x == 400
    assert at([], 10, "frames") is None
    assert at([_row(100)], 100, "frames") is None


def test_at_keeps_table_order_on_ties():
    first, second = _row(100, method="a"), _row(100, method="b")
    assert at([first, second], 100, "env_steps") is first


def test_at_on_the_real_table():
    row = at(published_for("td3", "HalfCheetah-v5"), 350_000, "env_steps")
    assert row is not None and row.x == 300_000
    row = at(published_for("ppo", "Pong-v5"), 10_000_000, "env_steps")
    assert row is not None and row.score == pytest.approx(20.45)
