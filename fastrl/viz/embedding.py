"""t-SNE of the last hidden layer over many visited states, coloured by the value (as Mnih et al. 2015, Fig. 4).

States close in the map are states the network represents alike; the colour shows whether those groups are the
states of high or low value. The embedding is scikit-learn's ``TSNE`` (Barnes-Hut, PCA initialisation, so the
same states give the same map), on the features ``fastrl.viz.agent`` captures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fastrl.viz.agent import Agent, VizError
from fastrl.viz.figures import new_figure, save_png

#: scikit-learn's default perplexity, lowered for few states (it must stay below the number of states)
PERPLEXITY = 30.0


def tsne(features: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """[N, 2] t-SNE coordinates of ``features`` [N, H], one point per state."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n = features.shape[0]
    if n < 4:
        raise VizError(f"t-SNE of {n} states: expected at least 4 (--states)")
    perplexity = min(PERPLEXITY, (n - 1) / 3)
    # One OpenMP thread: where other processes hold the cores, TSNE's spinning threads made 1,000 states take
    # 75 s instead of 9 s (a loaded 2-core machine)
    with threadpool_limits(limits=1):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
            features.astype(np.float32))


@torch.no_grad()
def embed(agent: Agent, obs: torch.Tensor, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(t-SNE coordinates [N, 2], values [N]) of the observations ``obs``."""
    out = agent.outputs(obs)
    return tsne(out.features.cpu().numpy(), seed=seed), out.value.cpu().numpy()


def plot_embedding(points: np.ndarray, values: np.ndarray, agent: Agent, path: str | Path) -> Path:
    fig = new_figure(6.5, 5.5)
    ax = fig.add_subplot()
    scatter = ax.scatter(points[:, 0], points[:, 1], c=values, s=6, cmap="viridis")
    fig.colorbar(scatter, ax=ax, label=agent.value_name)
    ax.set_title(f"t-SNE of the last hidden layer, {len(points)} states\n{agent.config.env.id} {agent.config.algo}, "
                 f"env step {agent.env_steps:,}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return save_png(fig, path)
