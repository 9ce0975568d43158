"""Read a curve off a published learning-curve figure by the colour of its line, for fastrl.benchmarks.published.

Used for CleanRL's PPO figures of ppo_atari_envpool.py (the blue curve: the mean over 3 seeds of the smoothed
training-episode return; github.com/vwxyzjn/cleanrl docs/rl-algorithms/ppo/<Game>.png, added in 2fff248d).
The axes are calibrated from the figure itself: the rows of its horizontal grid lines (top to bottom, given
their return values) and the columns of its x-axis ticks (given their step values), each fitted by a line. At
each x the curve's pixels within +-3 columns are taken and their median row is the score. The line is about
10 px thick, so a read is good to about a quarter of a grid step's 1% where the curve is flat, less where it is
steep; where the other curve is drawn over this one nothing is read.

    python read_curve.py Pong.png --grid 10 0 -10 -20 --ticks 2e6 4e6 6e6 8e6 > cleanrl-ppo-atari-envpool-Pong-v5.json
"""

import argparse
import json

import numpy as np
from PIL import Image

LINE_RGB = ((83, 135, 221), (96, 129, 206))  # ppo_atari_envpool.py's blue, alone and under the red band
GRID_RGB = (230, 230, 233)
LEGEND_SHARE = 0.18  # the top 18% of the figure holds the title and the legend, in the same blue


def clusters(indices: np.ndarray) -> list[float]:
    """Centres of runs of consecutive indices."""
    runs = np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)
    return [float(r.mean()) for r in runs if r.size]


def calibrate(image: np.ndarray, grid: list[float], ticks: list[float]) -> tuple[np.poly1d, np.poly1d]:
    """row -> score and step -> column, fitted to the figure's grid rows and tick columns."""
    height, width = image.shape[:2]
    is_grid = np.abs(image - np.array(GRID_RGB)).sum(-1) <= 3
    rows = clusters(np.flatnonzero(is_grid.sum(1) > width // 3))
    columns = clusters(np.flatnonzero(is_grid[int(height * 0.83):int(height * 0.87)].sum(0) > 20))
    if len(rows) != len(grid) or len(columns) != len(ticks):
        raise SystemExit(f"found grid rows {rows} and tick columns {columns}; expected {len(grid)} and {len(ticks)}")
    return np.poly1d(np.polyfit(rows, grid, 1)), np.poly1d(np.polyfit(ticks, columns, 1))


def read(path: str, grid: list[float], ticks: list[float], xs: list[int]) -> list[dict]:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    score_of_row, column_of_step = calibrate(image, grid, ticks)
    line = np.any([np.abs(image - np.array(rgb)).sum(-1) <= 20 for rgb in LINE_RGB], axis=0)
    line[: int(image.shape[0] * LEGEND_SHARE)] = False
    points = []
    for steps in xs:
        column = int(round(column_of_step(steps)))
        rows = [r for r in (np.flatnonzero(line[:, c]) for c in range(column - 3, column + 4)) if r.size]
        if rows:
            points.append({"env_steps": steps, "score": round(float(score_of_row(np.median(np.concatenate(rows)))), 1)})
    return points


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png")
    parser.add_argument("--grid", type=float, nargs="+", required=True, help="grid lines' returns, top to bottom")
    parser.add_argument("--ticks", type=float, nargs="+", required=True, help="x ticks' env steps, left to right")
    parser.add_argument("--every", type=int, default=500_000)
    parser.add_argument("--to", type=int, default=10_000_000)
    args = parser.parse_args()
    xs = list(range(args.every, args.to, args.every))
    print(json.dumps({"figure": args.png, "grid": args.grid, "ticks": args.ticks,
                      "points": read(args.png, args.grid, args.ticks, xs)}, indent=1))
