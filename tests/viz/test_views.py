"""t-SNE, first-layer filters and value heat maps, and ``fastrl viz`` writing them all."""

from __future__ import annotations

import numpy as np
import torch

from fastrl.cli import main
from fastrl.viz.agent import load_agent
from fastrl.viz.embedding import embed
from fastrl.viz.filters import filter_tiles, mosaic
from fastrl.viz.heatmap import cartpole_slice, catch_boards
from fastrl.viz.states import visit


def test_tsne_gives_one_point_per_state(catch_run):
    agent = load_agent(catch_run)
    played = visit(agent, 60, seed=2)
    points, values = embed(agent, played.obs)
    assert points.shape == (60, 2) and values.shape == (60,) and np.isfinite(points).all()


def test_filters_of_a_board_mlp_and_of_a_vector_mlp(catch_run, cartpole_run):
    tiles = filter_tiles(load_agent(catch_run))
    assert tiles.shape == (32, 1, 10, 5)  # the first 32 hidden units, each laid out as the board
    picture = mosaic(np.ones((3, 4, 8, 8)), columns=2)
    assert picture.shape == (2 * 10 - 2, 2 * (4 * 9 - 1 + 2) - 2) and np.nanmax(picture) == 1.0
    assert filter_tiles(load_agent(cartpole_run)).shape == (1, 1, 64, 4)  # the weight matrix itself


def test_catch_boards_are_every_falling_state_once():
    boards, index = catch_boards(10, 5)
    assert boards.shape == (5 * 9 * 5, 10, 5) and len({tuple(i) for i in index}) == len(index)
    assert torch.all(boards.sum(dim=(1, 2)) == 2) and torch.all(boards[:, 9].sum(-1) == 1)
    states, angles, velocities = cartpole_slice()
    assert states.shape == (len(angles) * len(velocities), 4) and torch.all(states[:, :2] == 0)


def test_fastrl_viz_writes_every_picture(cartpole_run, tmp_path, capsys):
    """(Catch's pictures are drawn by test_report's page.)"""
    run_dir = cartpole_run
    out = tmp_path / "viz"
    assert main(["viz", str(run_dir), "--out", str(out), "--states", "40", "--saliency-steps", "30"]) == 0
    names = {"saliency.png", "tsne.png", "filters.png", "heatmap.png"}
    assert {p.name for p in out.iterdir()} == names
    for name in names:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.count(str(out)) == 4


def test_fastrl_viz_refuses_a_run_without_a_checkpoint_in_one_line(tmp_path, catch_run, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_bytes((catch_run / "config.json").read_bytes())
    assert main(["viz", str(bare)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastrl viz: error: no checkpoint in") and "\n" not in err
