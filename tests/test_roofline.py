"""The compute roofline of an update: FLOPs counted from the real update, the products' shapes from the networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fastrl.benchmarks.peers import _dqn_cartpole_at_sb3, update_against_roofline
from fastrl.benchmarks.roofline import gemms, layer_shapes, matmul_flop_rate, roofline, update_flops


class OneLayer:
    """A learner whose update is one linear layer's forward and backward: 3 products of 2·B·in·out FLOPs."""

    def __init__(self, fan_in: int, fan_out: int):
        self.net = nn.Linear(fan_in, fan_out, bias=False)

    def update(self, batch: torch.Tensor) -> None:
        batch = batch.requires_grad_(True)
        self.net(batch).sum().backward()


def test_update_flops_counts_forward_and_backward_products():
    learner = OneLayer(8, 16)
    batch = torch.randn(32, 8)
    assert update_flops(learner, batch) == 3 * 2 * 32 * 8 * 16
    assert update_flops(learner, batch, updates=4) == 3 * 2 * 32 * 8 * 16  # per call


def test_layer_shapes_see_linear_and_ensemble_layers_and_gemms_cover_the_backward_pass():
    from fastrl.algos.ddpg.learner import Critics

    critics = Critics(2, 5, (7,), 1)
    actor = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert layer_shapes(critics) == [(2, 5, 7), (2, 7, 1)]
    assert layer_shapes(actor) == [(1, 3, 4), (1, 4, 2)]
    assert gemms([(2, 5, 7)], 16) == [(16, 5, 7), (16, 7, 5), (5, 16, 7)] * 2


def test_the_matmul_rate_is_positive_and_the_roofline_divides_it_by_the_update():
    rate = matmul_flop_rate([(64, 32, 48)], seconds=0.05)
    assert rate > 1e6
    learner = OneLayer(8, 16)
    bound = roofline(learner, torch.randn(32, 8), [learner.net], 32, seconds=0.05)
    assert bound["flops_per_update"] == 3 * 2 * 32 * 8 * 16
    assert bound["roofline_updates_per_s"] == pytest.approx(bound["matmul_flops_per_s"] / bound["flops_per_update"])


def test_the_peers_bench_puts_the_update_beside_its_roofline():
    rows = update_against_roofline(_dqn_cartpole_at_sb3(), "dqn-cartpole/sb3-settings/cpu", {}, seconds=0.5)
    update, bound = rows
    assert update["backend"] == "fastrl-update" and bound["backend"] == "roofline"
    assert 0 < update["fraction_of_roofline"] == pytest.approx(update["value"] / bound["value"])
    assert bound["flops_per_update"] > 0 and update["torch_threads"] == 1
