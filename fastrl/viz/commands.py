"""``fastrl viz RUN_DIR``: every picture of what the run's agent learned, written into one folder.

    fastrl viz RUN_DIR [--out DIR] [--states N] [--saliency-steps T] [--saliency-frames K] [--checkpoint PATH]

writes ``saliency.png`` (Greydanus et al. perturbation saliency, actor and critic, on the env's frames),
``tsne.png`` (t-SNE of the last hidden layer over N visited states, coloured by value), ``filters.png`` (the
first layer's weights) and, for Catch and CartPole, ``heatmap.png`` (the value and the policy over the state
grid); the default folder is ``RUN_DIR/viz``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

from fastrl.viz.agent import Agent, load_agent
from fastrl.viz.video import writable_dir

#: envs with a state grid small enough to draw whole (fastrl.viz.heatmap)
GRID_ENVS = ("Catch-v0", "CartPole-v1")


@dataclass(frozen=True)
class AgentArgs:
    """Which trained agent a command looks at (``fastrl viz``, ``fastrl report``)."""

    run_dir: tyro.conf.Positional[Path]
    """the run directory written by fastrl train"""
    checkpoint: Path | None = None
    """checkpoint directory to look at (default: the run's newest)"""
    device: str | None = None
    """torch device (default: the run's)"""
    seed: int = 12345
    """seed of the envs and of the policy's draws"""


@dataclass(frozen=True)
class VizConfig(AgentArgs):
    """Draw what a trained run's agent learned: saliency, t-SNE, first-layer filters, value heat maps."""

    out: Path | None = None
    """folder for the pictures (default: RUN_DIR/viz)"""
    states: int = 1000
    """visited states embedded by t-SNE"""
    saliency_steps: int = 200
    """steps of play for the saliency pictures (one env; the frames are spread over them)"""
    saliency_frames: int = 4
    """frames with saliency maps (image observations)"""


def draw_all(agent: Agent, out: Path, *, states: int, saliency_steps: int, saliency_frames: int,
             seed: int) -> dict[str, Path]:
    """Every picture of ``fastrl viz`` for ``agent`` into ``out``; name -> path."""
    from fastrl.viz.embedding import embed, plot_embedding
    from fastrl.viz.filters import plot_filters
    from fastrl.viz.heatmap import value_heatmap
    from fastrl.viz.saliency import plot_saliency
    from fastrl.viz.states import visit

    writable_dir(out, "the pictures")
    # one env, so that the steps follow each other; its frames only where the maps are drawn on them
    played = visit(agent, saliency_steps, seed=seed, frames=agent.is_image, num_envs=1)
    pictures = {"saliency": plot_saliency(agent, played.obs, played.frames, out / "saliency.png",
                                          count=saliency_frames)}
    points, values = embed(agent, visit(agent, states, seed=seed + 1).obs, seed=seed)
    pictures["tsne"] = plot_embedding(points, values, agent, out / "tsne.png")
    pictures["filters"] = plot_filters(agent, out / "filters.png")
    if agent.config.env.id in GRID_ENVS:
        pictures["heatmap"] = value_heatmap(agent, out / "heatmap.png")
    return pictures


def main(argv: list[str], prog: str = "fastrl viz") -> int:
    args = tyro.cli(VizConfig, args=argv, prog=prog)
    agent = load_agent(args.run_dir, checkpoint_path=args.checkpoint, device=args.device)
    pictures = draw_all(agent, args.out or args.run_dir / "viz", states=args.states,
                        saliency_steps=args.saliency_steps, saliency_frames=args.saliency_frames, seed=args.seed)
    for name, path in pictures.items():
        print(f"{name}: {path}", file=sys.stdout)
    return 0
