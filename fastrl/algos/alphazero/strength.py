"""``strength.png``: an AlphaZero run's win rates against its fixed opponents over training, with their exact
95% intervals, read from the match rows of its ``metrics.jsonl`` (``loop.play_matches`` writes them)."""

from __future__ import annotations

import io
from pathlib import Path

from fastrl.io import atomic_write_bytes
from fastrl.log import METRICS, read_jsonl

PLOT = "strength.png"
SUFFIX = "_win_rate"


def match_rows(run_dir: str | Path) -> list[dict]:
    """The metrics rows that hold match results, in order."""
    return [row for row in read_jsonl(Path(run_dir) / METRICS) if any(k.endswith(SUFFIX) for k in row)]


def plot_strength(run_dir: str | Path) -> Path | None:
    """Draw the win rate of every opponent against env steps (None where no match was played yet)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    rows = match_rows(run_dir)
    if not rows:
        return None
    opponents = list(dict.fromkeys(k[: -len(SUFFIX)] for row in rows for k in row if k.endswith(SUFFIX)))
    fig = Figure(figsize=(7, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.13, 0.87, 0.78))  # fixed margins: tight_layout costs seconds on a busy machine
    for name in opponents:
        points = [r for r in rows if name + SUFFIX in r]
        rate = [r[name + SUFFIX] for r in points]
        low = [w - r[name + "_win_ci_low"] for w, r in zip(rate, points, strict=True)]
        high = [r[name + "_win_ci_high"] - w for w, r in zip(rate, points, strict=True)]
        ax.errorbar([r["env_steps"] for r in points], rate, yerr=[low, high], marker="o", capsize=3,
                    label=f"{name.removeprefix('vs_')} ({int(points[-1][name + '_games'])} games)")
    ax.set_xlabel("env steps (moves, both sides)")
    ax.set_ylabel("win rate (exact 95% interval)")
    ax.set_ylim(0.0, 1.02)
    ax.set_title(f"{run_dir.name}: the agent against fixed opponents")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(run_dir / PLOT, buffer.getvalue())
