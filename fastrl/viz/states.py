"""States the trained agent visits, played by its evaluation policy: the inputs of saliency and t-SNE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fastrl.viz.agent import Agent
from fastrl.viz.frames import RenderedEnv


@dataclass
class Visited:
    obs: torch.Tensor
    """[N, *observation shape] as the env gave them, in the order played (env by env for several envs)"""
    frames: list[np.ndarray] | None
    """the env's own picture of each state (one env only), or None"""


@torch.no_grad()
def visit(agent: Agent, states: int, *, seed: int, num_envs: int = 8, frames: bool = False) -> Visited:
    """``states`` observations of the evaluation policy's play: from ``num_envs`` envs stepping together, or
    with ``frames``, from one env that renders (its pictures kept beside the observations)."""
    generator = torch.Generator(device=agent.device).manual_seed(seed)
    if frames:
        env = RenderedEnv(agent, seed)
        pictures = []
        try:
            obs = env.reset(seed=seed)
            kept = []
            while len(kept) < states:
                kept.append(obs[0].clone())
                pictures.append(env.frame())
                obs = env.step(agent.act(obs, generator))[0]
        finally:
            env.close()
        return Visited(torch.stack(kept), pictures)
    envs = agent.make_env(min(num_envs, states), seed)
    try:
        obs = envs.reset(seed=seed)
        kept = []
        while sum(len(o) for o in kept) < states:
            kept.append(obs.clone())
            obs = envs.step(agent.act(obs, generator))[0]
    finally:
        envs.close()
    return Visited(torch.stack(kept, dim=1).flatten(0, 1)[:states], None)
