"""Perturbation saliency: zero on a constant image, largest where the board changes, per feature for vectors."""

from __future__ import annotations

import numpy as np
import torch

from fastrl.viz.agent import load_agent
from fastrl.viz.saliency import overlay, saliency, sizes_for, vector_saliency
from fastrl.viz.states import visit


def test_the_paper_sizes_at_84_pixels_and_one_cell_on_a_board():
    assert sizes_for(84, 84) == (5.0, 3.0, 5)
    assert sizes_for(10, 5) == (1.0, 1.0, 1)


def test_a_constant_board_has_zero_saliency_and_a_ball_has_saliency_around_it(catch_run):
    agent = load_agent(catch_run)
    for level in (0.0, 0.5, 1.0):
        actor, critic = saliency(agent, torch.full((10, 5), level))
        assert actor.shape == critic.shape == (10, 5)
        assert np.all(actor == 0) and np.all(critic == 0)
    board = torch.zeros(10, 5)
    board[4, 1] = board[9, 3] = 1.0  # the ball in row 4, column 1; the paddle under column 3
    actor, critic = saliency(agent, board)
    for saliency_map in (actor, critic):
        assert saliency_map.max() > 0
        row, col = np.unravel_index(saliency_map.argmax(), saliency_map.shape)
        near_ball, near_paddle = abs(row - 4) <= 1 and abs(col - 1) <= 1, row >= 8 and abs(col - 3) <= 1
        assert near_ball or near_paddle, (row, col)
        assert saliency_map[0, 4] < saliency_map.max() / 10  # a far corner, blurred alike in every perturbation


def test_vector_saliency_has_one_row_per_state_and_one_column_per_feature(cartpole_run):
    agent = load_agent(cartpole_run)
    played = visit(agent, 50, seed=1)
    actor, critic = vector_saliency(agent, played.obs)
    assert actor.shape == critic.shape == (50, 4)
    assert np.all(actor >= 0) and actor.sum() > 0 and critic.sum() > 0


def test_overlay_paints_the_maps_on_the_frame():
    frame = np.zeros((40, 20, 3), np.uint8)
    actor, critic = np.zeros((10, 5)), np.zeros((10, 5))
    assert np.array_equal(overlay(frame, actor, critic), frame)  # nothing salient: the frame as it was
    actor[2, 2], critic[7, 1] = 1.0, 2.0
    painted = overlay(frame, actor, critic)
    assert painted[10, 10, 2] > 100 and painted[10, 10, 0] == 0  # actor: blue
    assert painted[30, 6, 0] > 100  # critic: red
