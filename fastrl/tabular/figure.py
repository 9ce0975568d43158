"""The figure of Sutton & Barto Example 6.6 (Figure 6.4): the grid with each method's most common greedy
path, and the online sum of rewards per episode of each method, averaged over runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from fastrl.tabular.mdp import TabularMDP

COLOURS = {"sarsa": "tab:blue", "q-learning": "tab:red", "expected-sarsa": "tab:green"}


def plot_cliff(mdp: TabularMDP, curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
               paths: dict[str, list[list[int]]], path: Path, title: str) -> None:
    """``curves``: method -> (mean, low, high) per episode; ``paths``: method -> every run's greedy path, of
    which the most common one that reaches the goal is drawn (a method's runs differ in detail, and a greedy
    loop shows no route)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = mdp.grid_shape
    fig, (grid, returns) = plt.subplots(2, 1, figsize=(7.5, 7), gridspec_kw={"height_ratios": [1, 2]})
    # the cliff: the cells no move from another cell enters, the start aside
    moves_between = mdp.transitions.sum(1) * (1 - torch.eye(mdp.num_states, dtype=mdp.transitions.dtype))
    never_entered = (moves_between == 0).all(0) & (mdp.start == 0)
    grid.imshow(np.zeros((rows, columns)), cmap="Greys", vmin=0, vmax=1)
    for s in never_entered.nonzero().squeeze(1).tolist():
        row, column = mdp.cell(s)
        grid.add_patch(plt.Rectangle((column - 0.5, row - 0.5), 1, 1, color="0.6"))
    start, goal = mdp.cell(int(mdp.start.argmax())), mdp.cell(int(mdp.terminal.nonzero()[0, 0]))
    for (row, column), label in ((start, "S"), (goal, "G")):
        grid.text(column, row, label, ha="center", va="center", fontsize=12, weight="bold")
    grid.text((columns - 1) / 2, rows - 1, "The Cliff", ha="center", va="center", color="white")
    for k, (method, runs) in enumerate(paths.items()):
        to_goal = Counter(tuple(p) for p in runs if bool(mdp.terminal[p[-1]]))
        if not to_goal:
            continue
        common, count = to_goal.most_common(1)[0]
        cells = np.array([mdp.cell(s) for s in common], dtype=float) + 0.08 * (k - (len(paths) - 1) / 2)
        grid.plot(cells[:, 1], cells[:, 0], color=COLOURS.get(method), lw=2,
                  label=f"{method}: most common greedy path ({count} of {len(runs)} runs)")
    grid.set_xticks(np.arange(-0.5, columns), minor=True), grid.set_yticks(np.arange(-0.5, rows), minor=True)
    grid.grid(which="minor", color="0.85", lw=0.5)
    grid.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if grid.get_legend_handles_labels()[0]:
        grid.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=1)
    for method, (mean, low, high) in curves.items():
        episodes = np.arange(1, len(mean) + 1)
        returns.plot(episodes, mean, color=COLOURS.get(method), lw=1, label=method)
        returns.fill_between(episodes, low, high, color=COLOURS.get(method), alpha=0.2, lw=0)
    returns.set_ylim(-100, -15)
    returns.set_xlabel("episodes")
    returns.set_ylabel("sum of rewards during episode")
    returns.set_title(title, fontsize=9)
    returns.legend(title="mean over runs, 95% interval", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: the grids' moves as arrows, by action name (``fastrl.tabular.grids.MOVES``)
ARROWS = {"up": "↑", "down": "↓", "right": "→", "left": "←"}


def plot_values(mdp: TabularMDP, values: dict[str, torch.Tensor], q: torch.Tensor, path: Path,
                title: str) -> Path:
    """Each value function of ``values`` (title -> [S]) as a heat map over the grid, its number in every cell;
    the last panel also draws the greedy actions of ``q`` ([S, A] action values) as arrows, every tied best
    one (as S&B Figure 4.1). Terminal cells are marked T."""
    from fastrl.viz.figures import new_figure, save_png

    rows, columns = mdp.grid_shape
    fig = new_figure(2.6 * len(values), 3.0)
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    low = min(float(v.min()) for v in values.values())
    high = max(float(v.max()) for v in values.values())
    for k, (ax, (name, v)) in enumerate(zip(axes, values.items(), strict=True)):
        image = ax.imshow(v.reshape(rows, columns).numpy(), cmap="viridis", vmin=low, vmax=high)
        for s in range(mdp.num_states):
            row, column = mdp.cell(s)
            label = "T" if bool(mdp.terminal[s]) else f"{float(v[s]):.1f}"
            if k == len(values) - 1 and not bool(mdp.terminal[s]):
                best = (q[s] >= q[s].max() - 1e-9).nonzero().squeeze(1).tolist()
                label += "\n" + "".join(ARROWS[mdp.action_names[a]] for a in best)
            ax.text(column, row, label, ha="center", va="center", fontsize=7, color="white")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="value")
    fig.suptitle(title, fontsize=9)
    return save_png(fig, path)
